package relay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tollway/tollway/engine"
)

// Store reads the settlements the relayer wrote, for the HTTP API. It
// needs no relayer: the rows are in the engine's table.
type Store struct{ Engine *engine.Engine }

// ListMax bounds one page of List.
const ListMax = 100

// Get returns a settlement by id (ErrNotFound if none).
func (s Store) Get(id string) (*Settlement, error) {
	seq, ok := ParseSettlementID(id)
	if !ok {
		return nil, fmt.Errorf("%w: settlement %q", engine.ErrNotFound, id)
	}
	return loadSettlement(s.Engine, seq)
}

// List returns an account's settlements, newest first, limit at a time
// from after (a settlement id from the previous page, or "" for the
// newest); next is the last id returned when more may follow.
func (s Store) List(account engine.AccountID, after string, limit int) (page []*Settlement, next string, err error) {
	limit = min(max(limit, 1), ListMax)
	prefix := []byte(accountPrefix + string(account) + "\x00")
	var start []byte
	if after != "" {
		seq, ok := ParseSettlementID(after)
		if !ok {
			return nil, "", fmt.Errorf("%w: cursor %q", engine.ErrInvalid, after)
		}
		start = append(accountKey(account, seq), 0) // the key after it
	}
	var seqs []uint64
	err = s.Engine.ScanRowsFrom(prefix, start, func(key, _ []byte) error {
		var inverted uint64
		if _, err := fmt.Sscanf(string(key[len(prefix):]), "%016x", &inverted); err != nil {
			return fmt.Errorf("relay: corrupt row %q", key)
		}
		seqs = append(seqs, ^inverted)
		if len(seqs) > limit {
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, "", err
	}
	more := len(seqs) > limit
	if more {
		seqs = seqs[:limit]
	}
	for _, seq := range seqs {
		settlement, err := loadSettlement(s.Engine, seq)
		if err != nil {
			return nil, "", err
		}
		page = append(page, settlement)
	}
	if more {
		next = SettlementID(seqs[len(seqs)-1])
	}
	return page, next, nil
}

var errPageFull = errors.New("page full")

// Of returns the id of the settlement that settles a debit from payer to
// payee made at time at (a charge's, a capture's, a session's end): the
// first batch of the pair whose latest debit is not older. False until one
// is cut (or when the payer has no wallet, or its batch failed and the
// next has not been cut).
func (s Store) Of(payer, payee engine.AccountID, at time.Time) (string, bool, error) {
	prefix := []byte(pairPrefix + string(payer) + "\x00" + string(payee) + "\x00")
	start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(at.UnixNano()))
	var id string
	err := s.Engine.ScanRowsFrom(prefix, start, func(key, _ []byte) error {
		rest := key[len(prefix):]
		if len(rest) != 16 {
			return fmt.Errorf("relay: corrupt row %q", key)
		}
		id = SettlementID(binary.BigEndian.Uint64(rest[8:]))
		return errPageFull
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return "", false, err
	}
	return id, id != "", nil
}

// Involves reports whether account pays or is paid in the settlement.
func (s *Settlement) Involves(account engine.AccountID) bool {
	for _, e := range s.Entries {
		if e.Payer == account || e.Payee == account {
			return true
		}
	}
	return false
}
