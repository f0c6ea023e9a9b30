package engine

import (
	"context"
	"fmt"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Listing holds. Each hold's placing (its EventHeld) writes one row per
// party in the engine's table, in the same log entry as its record, so the
// rows and the hold are durable together and a crash keeps both or
// neither: the log writes an entry's table puts in the Pebble batch of its
// record (wal.Entry.Table), and a replay has nothing to rebuild. The rows
// are keyed so that a prefix scan lists an account's holds newest first:
//
//	holdsPrefix account "/" 16 hex digits of ^created id
//
// A page reads each listed hold's latest event from the index. Every hold
// is listed, whoever placed it: a client's (hld_…) and an approval's
// reservation (apr_…); which of them a caller shows is the caller's rule.
//
// NB: holds placed before this index existed have no rows and are not
// listed (there is no migration); they are still found by id (Transfer).
const (
	holdsPrefix = "holds/"
	// HoldsPageMax bounds one page of Holds.
	HoldsPageMax = 100
	// holdsScanMax bounds the rows one page reads when a state filter skips
	// most of them: the page then ends early, with more set.
	holdsScanMax = 1000
)

func holdRows(dst *[2]wal.Put, e *ledger.Event) []wal.Put {
	created := e.Deadline - e.Timeout // as transferOf's Created
	return listRows(dst, holdsPrefix, e.From, e.To, created, e.ID)
}

// HoldQuery selects a page of an account's holds.
type HoldQuery struct {
	Account AccountID
	// State keeps the holds in this state only; "" keeps every state. A
	// hold still open at or past its deadline counts as HoldExpired here:
	// its expiry is due (the sweeper logs it moments later, and any
	// decision on its payer's account first), so a filter on HoldOpen never
	// lists a hold that can no longer be captured. It is listed as of its
	// latest durable event all the same.
	State HoldState
	// StartingAfter is the id of the hold the previous page ended with (its
	// Next); empty for the first page.
	StartingAfter TransferID
	Limit         int // 1-HoldsPageMax
}

// HoldPage is one page of holds, newest first. More reports that holds may
// follow: ask again with StartingAfter set to Next.
type HoldPage struct {
	Holds []Transfer
	More  bool
	Next  TransferID
}

// Holds lists the holds Account takes part in, as payer or payee, newest
// first, each as of its latest durable event.
func (e *Engine) Holds(ctx context.Context, q HoldQuery) (HoldPage, error) {
	switch {
	case q.Limit < 1 || q.Limit > HoldsPageMax:
		return HoldPage{}, fmt.Errorf("%w: limit must be 1-%d", ErrInvalid, HoldsPageMax)
	case q.State != "" && q.State != HoldOpen && q.State != HoldCaptured && q.State != HoldVoided && q.State != HoldExpired:
		return HoldPage{}, fmt.Errorf("%w: no hold state %q", ErrInvalid, q.State)
	}
	var start []byte
	if q.StartingAfter != "" {
		after, err := e.Transfer(ctx, q.StartingAfter)
		if err != nil || after.Type != TransferHold || (after.From != q.Account && after.To != q.Account) {
			return HoldPage{}, fmt.Errorf("%w: starting after an unknown hold", ErrInvalid)
		}
		start = listRowKey(holdsPrefix, q.Account, after.Created.UnixNano(), q.StartingAfter)
	}
	now := e.now()
	var page HoldPage
	full := func() bool { return len(page.Holds) == q.Limit }
	more, next, err := e.scanPage(holdsPrefix, q.Account, start, holdsScanMax, full, func(last *ledger.Event) error {
		if _, ok := holdStates[last.Type]; !ok {
			return fmt.Errorf("%w: hold %q listed but not indexed as one", ErrUnavailable, last.ID)
		}
		t := transferOf(last)
		state := t.State
		if state == HoldOpen && now >= last.Deadline {
			state = HoldExpired // due: see HoldQuery.State
		}
		if q.State == "" || state == q.State {
			page.Holds = append(page.Holds, t)
		}
		return nil
	})
	if err != nil {
		return HoldPage{}, err
	}
	page.More, page.Next = more, next
	return page, nil
}
