package engine_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
)

// sweepWaitMax is the engine's bound on a sweeper's wait (sweeper.go).
const sweepWaitMax = time.Second

// openFunded opens an engine in memory with alice (800 credited) and bob;
// the caller closes it, inside its synctest bubble.
func openFunded(t *testing.T) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(engine.Options{Dir: "/data", FS: vfs.NewMem()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 800)
	return eng
}

// TestHoldExpiresAtDeadlineWithoutAnyCall runs the engine in a synctest
// bubble, whose clock is fake: time.Now, the engine's default Clock, and
// its timers advance only when every goroutine of the bubble is blocked.
// The sweeper alone (nothing touches the payer's account) must log the
// expiry exactly at the deadline: not one nanosecond before.
func TestHoldExpiresAtDeadlineWithoutAnyCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		const timeout = 30 * time.Second
		held, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "alice", To: "bob", Amount: engine.NewAmount(800), Timeout: timeout})
		if err != nil {
			t.Fatalf("Hold = %v", err)
		}
		if want := held.Time.Add(timeout); !held.Deadline.Equal(want) {
			t.Fatalf("Hold deadline = %v, want %v", held.Deadline, want)
		}
		time.Sleep(time.Until(held.Deadline) - time.Nanosecond)
		synctest.Wait()
		if tr, err := eng.Transfer(ctx, "h-1"); err != nil || tr.State != engine.HoldOpen {
			t.Fatalf("Transfer(h-1) a nanosecond before its deadline = %v %v, want state %v", tr.State, err, engine.HoldOpen)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		tr, err := eng.Transfer(ctx, "h-1")
		if err != nil || tr.State != engine.HoldExpired {
			t.Fatalf("Transfer(h-1) at its deadline = %v %v, want state %v", tr.State, err, engine.HoldExpired)
		}
		if !tr.Time.Equal(held.Deadline) {
			t.Fatalf("expiry stamped %v, want the deadline %v", tr.Time, held.Deadline)
		}
		wantBalance(t, eng, "alice", 800, 0)
		_, err = eng.Capture(ctx, "h-1", engine.NewAmount(1))
		wantErr(t, "Capture(expired)", err, engine.ErrInvalidState)
	})
}

// TestEarlierHoldWakesTheSweeper checks that a hold placed while the
// sweeper waits (for a later deadline, or at most sweepWaitMax) is expired
// at its own, earlier deadline: placing it wakes the sweeper.
func TestEarlierHoldWakesTheSweeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		if _, err := eng.Hold(ctx, engine.Hold{ID: "late", From: "alice", To: "bob", Amount: engine.NewAmount(500), Timeout: time.Hour}); err != nil {
			t.Fatalf("Hold(late) = %v", err)
		}
		early, err := eng.Hold(ctx, engine.Hold{ID: "early", From: "alice", To: "bob", Amount: engine.NewAmount(300), Timeout: sweepWaitMax / 2}) // before the sweeper would look again
		if err != nil {
			t.Fatalf("Hold(early) = %v", err)
		}
		time.Sleep(time.Until(early.Deadline))
		synctest.Wait()
		for id, want := range map[engine.TransferID]engine.HoldState{"early": engine.HoldExpired, "late": engine.HoldOpen} {
			if tr, err := eng.Transfer(ctx, id); err != nil || tr.State != want {
				t.Fatalf("Transfer(%s) at the early deadline = %v %v, want %v", id, tr.State, err, want)
			}
		}
		wantBalance(t, eng, "alice", 300, 500)
	})
}

// TestTimersAreBoundedByWhatIsOpen: a hold's or session's timer goes when
// it closes, so the sweeper keeps one per open hold and session, however
// many came and went within their windows (a client sets those: up to 30
// days for a hold, a day to start a session).
func TestTimersAreBoundedByWhatIsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		for i := range 50 {
			id := engine.TransferID("h-" + itoa(i))
			if _, err := eng.Hold(ctx, engine.Hold{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(1), Timeout: 24 * time.Hour}); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				_, err := eng.Capture(ctx, id, engine.NewAmount(1))
				wantErr(t, "Capture", err, nil)
			} else if err := eng.Void(ctx, id); err != nil {
				t.Fatal(err)
			}
			sid := engine.TransferID("s-" + itoa(i))
			if _, err := eng.OpenSession(ctx, engine.OpenSession{ID: sid, From: "alice", To: "bob", Rate: engine.NewAmount(1),
				MaxSeconds: 10, StartWithin: engine.SessionStartWithinMax}); err != nil {
				t.Fatal(err)
			}
			mustTransition(t, eng.AcceptSession, sid, "bob")
			mustTransition(t, eng.StartSession, sid, "bob")
			mustTransition(t, eng.EndSession, sid, "bob")
		}
		if n := eng.Timers(); n != 0 {
			t.Fatalf("%d timers with nothing open, want 0", n)
		}
		if _, err := eng.Hold(ctx, engine.Hold{ID: "open", From: "alice", To: "bob", Amount: engine.NewAmount(1), Timeout: time.Hour}); err != nil {
			t.Fatal(err)
		}
		openSession(t, eng, "open-s", 0)
		if n := eng.Timers(); n != 2 {
			t.Fatalf("%d timers with a hold and a session open, want 2", n)
		}
		mustTransition(t, eng.AcceptSession, "open-s", "bob")
		mustTransition(t, eng.StartSession, "open-s", "bob") // replaces its start window's timer
		if n := eng.Timers(); n != 2 {
			t.Fatalf("%d timers after the session started, want 2", n)
		}
	})
}
