package usage_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/usage"
)

// openBubbled opens an engine in memory with alice (funded) and bob, and a
// projection over it, inside the caller's synctest bubble; the caller
// closes both.
func openBubbled(t *testing.T, options usage.Options) (*engine.Engine, *usage.Projection) {
	t.Helper()
	eng, err := engine.Open(engine.Options{Dir: "/data", FS: vfs.NewMem(), SnapshotEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := usage.Open(eng, options)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []engine.AccountID{"alice", "bob"} {
		if err := eng.CreateAccount(ctx, engine.Account{ID: id, Ledger: testLedger}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eng.Credit(ctx, "dep", "alice", engine.NewAmount(1000)); err != nil {
		t.Fatal(err)
	}
	return eng, p
}

// The projection persists what it folded (cursor and retention) once
// FlushInterval passes, not before, even with no more events.
func TestFlushPersistsAfterTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eng, p := openBubbled(t, usage.Options{FlushInterval: time.Minute})
		defer eng.Close()
		defer p.Close()
		charged, err := eng.Charge(context.Background(), engine.Charge{ID: "c", From: "alice", To: "bob", Amount: engine.NewAmount(10)})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		if got := eng.Retained()[usage.RetentionName]; got != 0 {
			t.Fatalf("retained %d before FlushInterval, want 0 (as registered)", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := eng.Retained()[usage.RetentionName]; got != charged.Position {
			t.Fatalf("retained %d after FlushInterval, want %d (the charge)", got, charged.Position)
		}
	})
}

// FlushEventsMax bounds the events folded and not persisted, whatever the time.
func TestFlushPersistsEveryFlushEventsMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eng, p := openBubbled(t, usage.Options{FlushInterval: time.Hour, FlushEventsMax: 1})
		defer eng.Close()
		defer p.Close()
		charged, err := eng.Charge(context.Background(), engine.Charge{ID: "c", From: "alice", To: "bob", Amount: engine.NewAmount(10)})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := eng.Retained()[usage.RetentionName]; got != charged.Position {
			t.Fatalf("retained %d, want %d: each event flushed", got, charged.Position)
		}
	})
}
