package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// TestBudgetsAndMemosSurviveSnapshotAndReopen checks that a spender's
// spend and a charge's memo are durable: rebuilt from a snapshot plus the
// log after it, they cap and replay exactly as before.
func TestBudgetsAndMemosSurviveSnapshotAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	options := engine.Options{Dir: dir, Clock: clock.Now}
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 100_000)
	budget := engine.Budget{Spender: "key_1", PerDebit: engine.NewAmount(500), PerDay: engine.NewAmount(1000), Total: engine.NewAmount(1500)}
	charge := func(eng *engine.Engine, id engine.TransferID, amount uint64, memo string) (engine.Transfer, error) {
		return eng.Charge(ctx, engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(amount), Memo: memo, Budget: budget})
	}
	if _, err := charge(eng, "c-1", 400, `{"call":1}`); err != nil {
		t.Fatal(err)
	}
	_, err = charge(eng, "c-big", 501, "")
	wantErr(t, "Charge above the per-charge cap", err, engine.ErrBudgetExceeded)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "alice", To: "bob", Amount: engine.NewAmount(500), Timeout: time.Hour, Budget: budget}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	eng = openTest(t, options)
	spend, err := eng.Spent(ctx, "alice", "key_1")
	if err != nil || spend.Total != engine.NewAmount(900) || spend.DayTotal != engine.NewAmount(900) {
		t.Fatalf("Spent after reopen = %+v, %v, want 900 in all and today", spend, err)
	}
	_, err = charge(eng, "c-2", 101, "")
	wantErr(t, "Charge past the day's cap after reopen", err, engine.ErrBudgetExceeded)
	replay, err := charge(eng, "c-1", 400, `{"call":1}`)
	if err != nil || !replay.Replayed || replay.Memo != `{"call":1}` || replay.Spender != "key_1" {
		t.Fatalf("Charge replay after reopen = %+v, %v, want the recorded memo and spender", replay, err)
	}
	_, err = charge(eng, "c-1", 400, `{"call":2}`)
	wantErr(t, "Charge replay with another memo", err, engine.ErrIdempotencyConflict)
	if err := eng.Void(ctx, "h-1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(24 * time.Hour)
	if _, err := charge(eng, "c-3", 500, ""); err != nil {
		t.Fatalf("Charge the next day = %v, want success", err)
	}
	_, err = charge(eng, "c-4", 601, "")
	wantErr(t, "Charge past the total", err, engine.ErrBudgetExceeded)
	spend, err = eng.Spent(ctx, "alice", "key_1")
	if err != nil || spend.Total != engine.NewAmount(900) || spend.DayTotal != engine.NewAmount(500) {
		t.Fatalf("Spent = %+v, %v, want 900 in all, 500 today", spend, err)
	}
	if none, err := eng.Spent(ctx, "alice", "key_unused"); err != nil || !none.Total.IsZero() {
		t.Fatalf("Spent(unused spender) = %+v, %v, want zero", none, err)
	}
	wantBalance(t, eng, "alice", 100_000-900, 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}
