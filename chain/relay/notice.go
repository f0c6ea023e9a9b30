package relay

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/engine"
)

// SettlementPrefix leads the keys of the relayer's settlement records: a
// subscription with it (engine.SubscribeOptions.RowPrefixes) sees every
// state each batch is written in, in log order, and SettlementEvent tells
// which of those writes end a batch.
const SettlementPrefix = batchPrefix

// settlementErrorBytesMax bounds the failure reason a notice carries (a
// node's error text has no bound of its own).
const settlementErrorBytesMax = 200

// SettlementNotice is a batch reaching its end, CONFIRMED or FAILED, for
// the accounts it settles: each account's part of it, so that one told of
// it learns its own amounts and never another pair's (as the settlements
// API shows each reader only its entries).
type SettlementNotice struct {
	ID          string // stl_…
	State       State  // Confirmed or Failed
	BatchID     common.Hash
	TxHash      common.Hash // the transaction mined, or else the latest signed; zero if none was
	BlockNumber uint64      // Confirmed only; zero when only the pool's settled() vouched for it
	At          time.Time   // when it was confirmed or recorded failed
	Error       string      // Failed only: why, at most settlementErrorBytesMax bytes
	Parts       []SettlementPart
}

// SettlementPart is one account's entries in a batch, summed: payers and
// payees alike, each once, in the order of its first entry.
type SettlementPart struct {
	Account engine.AccountID
	Entries int           // the account's entries
	Amount  engine.Amount // the entries' amounts
	Fee     engine.Amount // the entries' fees
	// Paid is what the account pays (its entries as payer: amount, fee
	// included); Received what it is paid (its entries as payee: amount
	// less fee).
	Paid, Received engine.Amount
}

// EventKey names the notice's event for one account: the same whenever
// the batch's end is read again (a restart, a terminal record written
// twice), so receivers drop repeats by it.
func (n *SettlementNotice) EventKey(account engine.AccountID) string {
	state := "confirmed"
	if n.State == Failed {
		state = "failed"
	}
	return n.ID + "." + state + "." + string(account)
}

// SettlementEvent reads one row of the relayer's table (its key and value,
// as a table write carries it): ok when it records a settlement in a
// terminal state. Other rows, deletes and states are not notices; a
// settlement record that does not decode is an error.
//
// The relayer writes a batch's terminal state once, in the write that
// closes it (confirm, failBatch, which delete its open row, so no restart
// resumes it); only a write whose answer was lost (a round's deadline
// passing as it committed) is done again, with the same entries and a
// later time, and EventKey names both alike.
func SettlementEvent(key, value []byte) (SettlementNotice, bool, error) {
	if !bytes.HasPrefix(key, []byte(batchPrefix)) || value == nil {
		return SettlementNotice{}, false, nil
	}
	s, err := decodeSettlement(value)
	if err != nil {
		return SettlementNotice{}, false, fmt.Errorf("%w (row %q)", err, key)
	}
	if string(key) != string(batchKey(s.Seq)) || s.ID != SettlementID(s.Seq) {
		return SettlementNotice{}, false, fmt.Errorf("relay: corrupt settlement row %q: settlement %q, seq %d", key, s.ID, s.Seq)
	}
	if !s.State.Terminal() {
		return SettlementNotice{}, false, nil
	}
	n := SettlementNotice{ID: s.ID, State: s.State, BatchID: s.BatchID, TxHash: s.TxHash}
	if n.TxHash == (common.Hash{}) && len(s.TxHashes) > 0 {
		n.TxHash = s.TxHashes[len(s.TxHashes)-1]
	}
	switch s.State {
	case Confirmed:
		n.BlockNumber, n.At = s.BlockNumber, s.ConfirmedAt
	default:
		n.At, n.Error = s.FailedAt, s.Error
		if n.At.IsZero() {
			n.At = s.CreatedAt // a record from before FailedAt was kept
		}
		if len(n.Error) > settlementErrorBytesMax {
			n.Error = n.Error[:settlementErrorBytesMax]
		}
	}
	parts, err := partsOf(s)
	if err != nil {
		return SettlementNotice{}, false, fmt.Errorf("relay: settlement row %q: %w", key, err)
	}
	n.Parts = parts
	return n, true, nil
}

// partsOf sums a batch's entries per account.
func partsOf(s *Settlement) ([]SettlementPart, error) {
	index := make(map[engine.AccountID]int)
	var parts []SettlementPart
	part := func(account engine.AccountID) *SettlementPart {
		i, ok := index[account]
		if !ok {
			i = len(parts)
			index[account] = i
			parts = append(parts, SettlementPart{Account: account})
		}
		return &parts[i]
	}
	for _, e := range s.Entries {
		share, ok := e.Amount.Sub(e.Fee)
		if !ok {
			return nil, fmt.Errorf("entry %s→%s: fee %s exceeds amount %s", e.Payer, e.Payee, e.Fee, e.Amount)
		}
		payer := part(e.Payer)
		if err := payer.add(e); err != nil {
			return nil, err
		}
		if payer.Paid, ok = payer.Paid.Add(e.Amount); !ok {
			return nil, fmt.Errorf("account %s pays more than an Amount holds", e.Payer)
		}
		payee := part(e.Payee)
		if e.Payee != e.Payer {
			if err := payee.add(e); err != nil {
				return nil, err
			}
		}
		if payee.Received, ok = payee.Received.Add(share); !ok {
			return nil, fmt.Errorf("account %s is paid more than an Amount holds", e.Payee)
		}
	}
	return parts, nil
}

// add counts one entry of the account's, as payer or payee.
func (p *SettlementPart) add(e Entry) error {
	amount, ok := p.Amount.Add(e.Amount)
	fee, feeOK := p.Fee.Add(e.Fee)
	if !ok || !feeOK {
		return fmt.Errorf("account %s's entries sum to more than an Amount holds", p.Account)
	}
	p.Entries, p.Amount, p.Fee = p.Entries+1, amount, fee
	return nil
}
