package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

func mustCharge(t testing.TB, eng *engine.Engine, id engine.TransferID, amount uint64) {
	t.Helper()
	if _, err := eng.Charge(context.Background(), engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(amount)}); err != nil {
		t.Fatalf("Charge(%s) = %v", id, err)
	}
}

// A lagging retention keeps its records through snapshots and across a
// reopen; Subscribe from it works behind the snapshot; advancing and then
// releasing it lets truncation proceed.
func TestRetentionKeepsTheLogBehindSnapshotsUntilReleased(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir, SnapshotEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep", "alice", 1000)
	retained := eng.Position()
	if _, err := eng.WriteRows(ctx, engine.RetainRow("lagging", retained)); err != nil {
		t.Fatalf("WriteRows(RetainRow) = %v", err)
	}
	for i := range 5 {
		mustCharge(t, eng, engine.TransferID(fmt.Sprint("c-", i)), 10)
	}
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	if first := eng.FirstPosition(); first != retained+1 {
		t.Fatalf("FirstPosition() after a snapshot = %d, want %d (retained)", first, retained+1)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	eng = openTest(t, engine.Options{Dir: dir, SnapshotEvery: -1})
	if got := eng.Retained(); got["lagging"] != retained || eng.FirstPosition() != retained+1 {
		t.Fatalf("after reopen Retained() = %v, FirstPosition() = %d, want lagging=%d, %d", got, eng.FirstPosition(), retained, retained+1)
	}
	if rec := eng.Recovered(); rec.SnapshotPosition <= retained || rec.Replayed != 0 {
		t.Fatalf("Recovered = %+v, want a snapshot past %d and nothing replayed", rec, retained)
	}
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := eng.Subscribe(subCtx, retained+1)
	if err != nil {
		t.Fatalf("Subscribe(%d) behind the snapshot = %v", retained+1, err)
	}
	for i := range 5 {
		select {
		case ev := <-sub.C:
			if ev.Type != engine.EventCharged || ev.ID != engine.TransferID(fmt.Sprint("c-", i)) {
				t.Fatalf("event %d = %v %s, want charge c-%d", i, ev.Type, ev.ID, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %d from a retained position", i)
		}
	}
	cancel()

	// Advance it: the next snapshot truncates up to it.
	advanced := retained + 3
	if _, err := eng.WriteRows(ctx, engine.RetainRow("lagging", advanced)); err != nil {
		t.Fatal(err)
	}
	mustCharge(t, eng, "c-advance", 10)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if first := eng.FirstPosition(); first != advanced+1 {
		t.Fatalf("FirstPosition() after advancing = %d, want %d", first, advanced+1)
	}
	if _, err := eng.Subscribe(ctx, advanced); !errors.Is(err, engine.ErrTruncated) {
		t.Fatalf("Subscribe(%d) below the retention = %v, want ErrTruncated", advanced, err)
	}
	// Release it: the next snapshot truncates up to itself.
	if _, err := eng.WriteRows(ctx, engine.ReleaseRow("lagging")); err != nil {
		t.Fatal(err)
	}
	mustCharge(t, eng, "c-release", 10)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if first := eng.FirstPosition(); first != eng.Position()+1 {
		t.Fatalf("FirstPosition() after release = %d, want %d (all truncated)", first, eng.Position()+1)
	}
	if len(eng.Retained()) != 0 {
		t.Fatalf("Retained() after release = %v", eng.Retained())
	}
}

func TestRetainRowsAreChecked(t *testing.T) {
	eng := openTest(t, engine.Options{})
	bad := []engine.Row{
		{Key: []byte(engine.RetainPrefix), Value: make([]byte, 8)},
		{Key: []byte(engine.RetainPrefix + "x"), Value: []byte("short")},
	}
	for _, row := range bad {
		if _, err := eng.WriteRows(context.Background(), row); !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("WriteRows(%q, %q) = %v, want ErrInvalid", row.Key, row.Value, err)
		}
	}
}
