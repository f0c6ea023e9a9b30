package engine

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// TestIndexOfDerivesTheIndexPutsOfEveryEventsEntry makes an event of every
// type through the engine, then checks, for each record of the log, that
// indexOf (what the log derives after a crash) equals the index puts of
// the entry encode makes for its event (what the log was given), and that
// the log's index holds the record of each id's latest event.
func TestIndexOfDerivesTheIndexPutsOfEveryEventsEntry(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC).UnixNano())
	e, err := Open(Options{Dir: t.TempDir(), FeeBps: 100, Logger: slog.New(slog.DiscardHandler),
		Clock: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, id := range []AccountID{"alice", "bob"} {
		if err := e.CreateAccount(ctx, Account{ID: id, Ledger: "test:USDC"}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []error{
		func() error { _, err := e.Credit(ctx, "dep-1", "alice", NewAmount(10_000)); return err }(),
		func() error {
			_, err := e.Charge(ctx, Charge{ID: "ch-1", From: "alice", To: "bob", Amount: NewAmount(100)})
			return err
		}(),
		func() error {
			_, err := e.Hold(ctx, Hold{ID: "h-capture", From: "alice", To: "bob", Amount: NewAmount(100), Timeout: time.Minute})
			return err
		}(),
		func() error { _, err := e.Capture(ctx, "h-capture", NewAmount(50)); return err }(),
		func() error {
			_, err := e.Hold(ctx, Hold{ID: "h-void", From: "alice", To: "bob", Amount: NewAmount(100), Timeout: time.Minute})
			return err
		}(),
		e.Void(ctx, "h-void"),
		func() error {
			_, err := e.Hold(ctx, Hold{ID: "h-expire", From: "alice", To: "bob", Amount: NewAmount(100), Timeout: time.Second})
			return err
		}(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d = %v", i, err)
		}
	}
	// The next op on alice's account expires the due hold first.
	now.Add(int64(time.Minute))
	if _, err := e.Charge(ctx, Charge{ID: "ch-2", From: "alice", To: "bob", Amount: NewAmount(1)}); err != nil {
		t.Fatal(err)
	}
	latest := make(map[string][]byte)
	seen := make(map[ledger.EventType]bool)
	err = e.log.Read(1, func(position uint64, record []byte) error {
		event, err := ledger.DecodeEvent(record)
		if err != nil {
			t.Fatalf("record %d: %v", position, err)
		}
		seen[event.Type] = true
		o := &op{event: event}
		entry := o.encode()
		if !bytes.Equal(entry.Record, record) {
			t.Fatalf("record %d encodes again as %q, want %q", position, entry.Record, record)
		}
		derived := indexOf(record, nil)
		if !slices.EqualFunc(derived, entry.Index, func(a, b wal.Put) bool {
			return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
		}) {
			t.Fatalf("record %d (%v): indexOf = %q, the entry's index puts %q", position, event.Type, derived, entry.Index)
		}
		if (len(derived) == 0) != (event.Type == ledger.EventAccountCreated) {
			t.Fatalf("record %d (%v) has %d index puts; want none for a creation only", position, event.Type, len(derived))
		}
		for _, put := range derived {
			latest[string(put.Key)] = bytes.Clone(put.Value)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for typ := ledger.EventAccountCreated; typ <= ledger.EventExpired; typ++ {
		if !seen[typ] {
			t.Errorf("no %v event in the log", typ)
		}
	}
	for id, record := range latest {
		if got, err := e.log.Get([]byte(id)); err != nil || !bytes.Equal(got, record) {
			t.Errorf("index of %q = %q, %v, want its latest record %q", id, got, err, record)
		}
	}
}
