package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// markersOf subscribes to eng from the start and returns, as text, every
// marker of its events up to its current position, in log order.
func markersOf(t *testing.T, eng *engine.Engine) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := eng.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := eng.Position()
	var markers []string
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if !ev.LowBalance.IsZero() {
				markers = append(markers, fmt.Sprintf("%s low %s", ev.ID, ev.LowBalance))
			}
			if ev.BudgetCap != engine.BudgetCapNone {
				markers = append(markers, fmt.Sprintf("%s %s %s %s", ev.ID, ev.Spender, ev.BudgetCap, ev.BudgetLimit))
			}
			if ev.Position == last {
				return markers
			}
		case <-deadline:
			t.Fatalf("subscription did not reach position %d", last)
		}
	}
}

func wantMarkers(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: markers %q, want %q", what, got, want)
	}
}

// chargeMarked charges amount from alice to bob under budget.
func chargeMarked(t *testing.T, eng *engine.Engine, id engine.TransferID, amount uint64, budget engine.Budget) {
	t.Helper()
	if _, err := eng.Charge(context.Background(), engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(amount), Budget: budget}); err != nil {
		t.Fatalf("Charge(%s) = %v", id, err)
	}
}

func wantThreshold(t *testing.T, eng *engine.Engine, account engine.AccountID, want uint64) {
	t.Helper()
	b, err := eng.Balance(context.Background(), account)
	if err != nil || b.LowBalanceThreshold != engine.NewAmount(want) {
		t.Fatalf("Balance(%s) = threshold %v, %v; want %d", account, b.LowBalanceThreshold, err, want)
	}
}

func TestAlertMarkersAreLoggedOnceAndSurviveReopenFromTheLogAndASnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	options := engine.Options{Dir: dir, Clock: clock.Now}
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1000)
	if err := eng.SetLowBalanceThreshold(ctx, "alice", engine.NewAmount(500)); err != nil {
		t.Fatalf("SetLowBalanceThreshold = %v", err)
	}
	wantThreshold(t, eng, "alice", 500)
	total := engine.Budget{Spender: "key_1", Total: engine.NewAmount(250)}
	chargeMarked(t, eng, "c-1", 300, engine.Budget{}) // 700
	chargeMarked(t, eng, "c-2", 300, engine.Budget{}) // 400: crossed
	chargeMarked(t, eng, "c-3", 100, total)           // 300; key_1 150 left
	chargeMarked(t, eng, "c-4", 100, total)           // 200; key_1 50 left < 100: exhausted
	want := []string{"c-2 low 500", "c-4 key_1 total 250"}
	wantMarkers(t, "before reopen", markersOf(t, eng), want...)
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	// Replayed from the log: the same markers, the threshold and what was
	// reported kept (a debit that exhausts key_1's total again is not marked).
	eng = openTest(t, options)
	if rec := eng.Recovered(); rec.SnapshotPosition != 0 {
		t.Fatalf("Recovered = %+v, want a replay from the log alone", rec)
	}
	wantThreshold(t, eng, "alice", 500)
	wantMarkers(t, "replayed from the log", markersOf(t, eng), want...)
	chargeMarked(t, eng, "c-5", 50, total)                                                          // 150; key_1 0 left: reported already
	mustCredit(t, eng, "dep-2", "alice", 400)                                                       // 550: re-armed
	chargeMarked(t, eng, "c-6", 60, engine.Budget{Spender: "key_2", PerDay: engine.NewAmount(100)}) // 490: crossed; key_2 40 left < 60
	want = append(want, "c-6 low 500", "c-6 key_2 day 100")
	wantMarkers(t, "after the replay", markersOf(t, eng), want...)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	// Loaded from the snapshot: the threshold and the caps reported are the
	// account record's.
	eng = openTest(t, options)
	if rec := eng.Recovered(); rec.SnapshotPosition == 0 || rec.Replayed != 0 {
		t.Fatalf("Recovered = %+v, want a snapshot and nothing replayed", rec)
	}
	wantThreshold(t, eng, "alice", 500)
	chargeMarked(t, eng, "c-7", 30, engine.Budget{Spender: "key_2", PerDay: engine.NewAmount(100)}) // 10 left < 30: reported today
	mustCredit(t, eng, "dep-3", "alice", 100)                                                       // 560: re-armed
	chargeMarked(t, eng, "c-8", 61, engine.Budget{})                                                // 499: crossed
	clock.Advance(24 * time.Hour)
	chargeMarked(t, eng, "c-9", 60, engine.Budget{Spender: "key_2", PerDay: engine.NewAmount(100)}) // a new day: 40 left < 60
	if err := eng.SetLowBalanceThreshold(ctx, "alice", engine.Amount{}); err != nil {
		t.Fatal(err)
	}
	mustCredit(t, eng, "dep-4", "alice", 1000)
	chargeMarked(t, eng, "c-10", 1400, engine.Budget{}) // off: nothing
	wantThreshold(t, eng, "alice", 0)
	subscribed := markersOf(t, eng) // the log behind the snapshot is truncated: only what followed it
	wantMarkers(t, "after the snapshot", subscribed, "c-8 low 500", "c-9 key_2 day 100")
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestSetLowBalanceThresholdRefusesUnknownAndSystemAccounts(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice")
	for _, tt := range []struct {
		account engine.AccountID
		want    error
	}{
		{"ghost", engine.ErrNotFound},
		{engine.FeesAccount(testLedger), engine.ErrInvalid},
		{engine.ChainAccount(testLedger), engine.ErrInvalid},
	} {
		if err := eng.SetLowBalanceThreshold(ctx, tt.account, engine.NewAmount(1)); !errors.Is(err, tt.want) {
			t.Errorf("SetLowBalanceThreshold(%s) = %v, want %v", tt.account, err, tt.want)
		}
	}
	wantThreshold(t, eng, "alice", 0)
}
