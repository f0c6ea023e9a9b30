package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
)

// Sessions in these tests: alice (the consumer, 800 credited) opens to bob
// (the supplier) at 10 a second for at most 60 seconds, so 600 reserved.
const (
	sessionRate = 10
	sessionMax  = 60
)

func openSession(t *testing.T, eng *engine.Engine, id engine.TransferID, startWithin time.Duration) engine.Session {
	t.Helper()
	s, err := eng.OpenSession(context.Background(), engine.OpenSession{
		ID: id, From: "alice", To: "bob", Rate: engine.NewAmount(sessionRate), MaxSeconds: sessionMax, StartWithin: startWithin,
	})
	if err != nil {
		t.Fatalf("OpenSession(%s) = %v", id, err)
	}
	return s
}

// wantSession checks a session's state and, once closed, what it charged.
func wantSession(t *testing.T, eng *engine.Engine, id engine.TransferID, state engine.SessionState, charged uint64) engine.Session {
	t.Helper()
	s, err := eng.Session(context.Background(), id)
	if err != nil {
		t.Fatalf("Session(%s) = %v", id, err)
	}
	if s.State != state || s.Charged != engine.NewAmount(charged) {
		t.Fatalf("Session(%s) = %v charged %s, want %v charged %d", id, s.State, s.Charged, state, charged)
	}
	return s
}

func wantVerified(t *testing.T, eng *engine.Engine) {
	t.Helper()
	if err := eng.Verify(context.Background()); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

// TestSessionLifecycleMovesExactAmounts walks one session through every
// legal step, checking both parties' available and reserved balances after
// each, and that the end charges the whole seconds live only.
func TestSessionLifecycleMovesExactAmounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()

		opened := openSession(t, eng, "s-1", 0)
		if opened.State != engine.SessionRequested || opened.Reserved != engine.NewAmount(600) || opened.Position == 0 {
			t.Fatalf("opened = %+v, want REQUESTED reserving 600 at a log position", opened)
		}
		if want := opened.Created.Add(engine.SessionStartWithinDefault); !opened.StartBy.Equal(want) {
			t.Fatalf("StartBy = %v, want %v (default window)", opened.StartBy, want)
		}
		wantBalance(t, eng, "alice", 200, 600)
		wantBalance(t, eng, "bob", 0, 0)
		if st := eng.Stats(); st.Sessions != 1 || st.SessionActors != 0 {
			t.Fatalf("opened: %d sessions open, %d session actors; want 1 and none yet", st.Sessions, st.SessionActors)
		}

		accepted, err := eng.AcceptSession(ctx, "s-1", "bob")
		if err != nil || accepted.State != engine.SessionAssigned || accepted.Accepted.IsZero() {
			t.Fatalf("AcceptSession = %+v, %v", accepted, err)
		}
		wantBalance(t, eng, "alice", 200, 600)

		time.Sleep(3 * time.Second)
		started, err := eng.StartSession(ctx, "s-1", "alice")
		if err != nil || started.State != engine.SessionLive {
			t.Fatalf("StartSession = %+v, %v", started, err)
		}
		wantBalance(t, eng, "alice", 200, 600)

		time.Sleep(12*time.Second + 900*time.Millisecond) // 12 whole seconds
		ended, err := eng.EndSession(ctx, "s-1", "bob")
		if err != nil {
			t.Fatalf("EndSession = %v", err)
		}
		if ended.State != engine.SessionEnded || ended.CleanSeconds != 12 || ended.Charged != engine.NewAmount(120) {
			t.Fatalf("ended = %v after %d s charged %s, want ENDED after 12 s charged 120", ended.State, ended.CleanSeconds, ended.Charged)
		}
		if ended.Balance.Available != engine.NewAmount(680) || ended.Balance.Reserved != (engine.Amount{}) {
			t.Fatalf("payer's balance in the answer = %+v, want 680 available, none reserved", ended.Balance)
		}
		wantBalance(t, eng, "alice", 680, 0)
		wantBalance(t, eng, "bob", 120, 0)
		got := wantSession(t, eng, "s-1", engine.SessionEnded, 120)
		if got.CleanSeconds != 12 || !got.Ended.Equal(ended.Ended) {
			t.Fatalf("Session(s-1) = %+v, want what EndSession answered", got)
		}
		if st := eng.Stats(); st.Sessions != 0 || st.SessionActors != 0 {
			t.Fatalf("after the end: %d sessions open, %d session actors; want its actor gone", st.Sessions, st.SessionActors)
		}
		wantVerified(t, eng)
	})
}

// TestSessionRefusesEveryIllegalTransition tries every transition from
// every state, by both parties and by a stranger: exactly the legal ones
// pass, the rest are ErrInvalidState (ErrWrongParty for the other side's
// transitions, ErrNotFound for a stranger) and change nothing.
func TestSessionRefusesEveryIllegalTransition(t *testing.T) {
	type transition func(context.Context, engine.TransferID, engine.AccountID) (engine.Session, error)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		mustCreate(t, eng, "carol")
		transitions := map[string]transition{
			"accept": eng.AcceptSession, "start": eng.StartSession, "end": eng.EndSession, "cancel": eng.CancelSession,
		}
		// legal[state][name] is the party allowed to, if any.
		legal := map[engine.SessionState]map[string]engine.AccountID{
			engine.SessionRequested: {"accept": "bob", "cancel": "alice"},
			engine.SessionAssigned:  {"start": "*", "cancel": "alice"},
			engine.SessionLive:      {"end": "*"},
		}
		// reach opens a fresh session and brings it to state.
		n := 0
		reach := func(state engine.SessionState) engine.TransferID {
			n++
			id := engine.TransferID("s-" + itoa(n))
			openSession(t, eng, id, 0)
			steps := map[engine.SessionState][]string{
				engine.SessionAssigned: {"accept"}, engine.SessionLive: {"accept", "start"},
				engine.SessionEnded: {"accept", "start", "end"}, engine.SessionCancelled: {"cancel"},
			}[state]
			for _, step := range steps {
				by := engine.AccountID("bob")
				if step == "cancel" {
					by = "alice"
				}
				if _, err := transitions[step](ctx, id, by); err != nil {
					t.Fatalf("%s(%s) by %s = %v", step, id, by, err)
				}
			}
			return id
		}
		for _, state := range []engine.SessionState{engine.SessionRequested, engine.SessionAssigned, engine.SessionLive,
			engine.SessionEnded, engine.SessionCancelled} {
			for name, do := range transitions {
				for _, by := range []engine.AccountID{"alice", "bob", "carol"} {
					id := reach(state)
					before, _ := eng.Balance(ctx, "alice")
					_, err := do(ctx, id, by)
					allowed := legal[state][name]
					switch {
					case by == "carol":
						wantErr(t, name+" by a stranger in "+state.String(), err, engine.ErrNotFound)
					case allowed == "*" || allowed == by:
						if err != nil {
							t.Fatalf("%s by %s in %v = %v, want it allowed", name, by, state, err)
						}
					case allowed != "" && state.IsOpen():
						wantErr(t, name+" by "+string(by)+" in "+state.String(), err, engine.ErrWrongParty)
					default:
						wantErr(t, name+" by "+string(by)+" in "+state.String(), err, engine.ErrInvalidState)
						after, _ := eng.Balance(ctx, "alice")
						if after != before {
							t.Fatalf("refused %s in %v changed alice's balance %+v -> %+v", name, state, before, after)
						}
						if s, _ := eng.Session(ctx, id); s.State != state {
							t.Fatalf("refused %s moved the session %v -> %v", name, state, s.State)
						}
					}
					// Close what is open, so alice's funds last the test.
					if s, _ := eng.Session(ctx, id); s.State == engine.SessionLive {
						_, _ = eng.EndSession(ctx, id, "bob")
					} else if s.State.IsOpen() {
						_, _ = eng.CancelSession(ctx, id, "alice")
					}
				}
			}
		}
		wantVerified(t, eng)
	})
}

// TestLiveSessionEndsByItselfAtItsMaximum: nobody ends it; at exactly its
// maximum duration it ends, charging the whole reservation once.
func TestLiveSessionEndsByItselfAtItsMaximum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		openSession(t, eng, "s-1", 0)
		mustTransition(t, eng.AcceptSession, "s-1", "bob")
		started := mustTransition(t, eng.StartSession, "s-1", "bob")
		time.Sleep(time.Until(started.Started.Add(sessionMax*time.Second)) - time.Nanosecond)
		synctest.Wait()
		wantSession(t, eng, "s-1", engine.SessionLive, 0)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		s := wantSession(t, eng, "s-1", engine.SessionEnded, 600)
		if s.CleanSeconds != sessionMax || !s.Ended.Equal(started.Started.Add(sessionMax*time.Second)) {
			t.Fatalf("auto-ended after %d s at %v, want %d s at its maximum", s.CleanSeconds, s.Ended, sessionMax)
		}
		wantBalance(t, eng, "alice", 200, 0)
		wantBalance(t, eng, "bob", 600, 0)
		_, err := eng.EndSession(ctx, "s-1", "alice")
		wantErr(t, "EndSession after the automatic end", err, engine.ErrInvalidState)
		wantVerified(t, eng)
	})
}

// TestSessionNotStartedInTimeExpires: accepted but never started, it
// expires at the end of its window, releasing everything; starting it
// afterwards is refused.
func TestSessionNotStartedInTimeExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		opened := openSession(t, eng, "s-1", 20*time.Second)
		mustTransition(t, eng.AcceptSession, "s-1", "bob")
		time.Sleep(time.Until(opened.StartBy) - time.Nanosecond)
		synctest.Wait()
		wantSession(t, eng, "s-1", engine.SessionAssigned, 0)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		s := wantSession(t, eng, "s-1", engine.SessionExpired, 0)
		if !s.Ended.Equal(opened.StartBy) {
			t.Fatalf("expired at %v, want the end of its window %v", s.Ended, opened.StartBy)
		}
		wantBalance(t, eng, "alice", 800, 0)
		_, err := eng.StartSession(ctx, "s-1", "alice")
		wantErr(t, "StartSession after expiry", err, engine.ErrInvalidState)
		wantVerified(t, eng)
	})
}

func mustTransition(t *testing.T, do func(context.Context, engine.TransferID, engine.AccountID) (engine.Session, error),
	id engine.TransferID, by engine.AccountID) engine.Session {
	t.Helper()
	s, err := do(context.Background(), id, by)
	if err != nil {
		t.Fatalf("transition of %s by %s = %v", id, by, err)
	}
	return s
}

// TestSessionOpeningIsRefusedWithoutFunds, and beyond the limits.
func TestSessionOpeningIsRefusedWithoutFunds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		_, err := eng.OpenSession(ctx, engine.OpenSession{ID: "big", From: "alice", To: "bob", Rate: engine.NewAmount(14), MaxSeconds: 60})
		wantErr(t, "OpenSession above the balance", err, engine.ErrInsufficientFunds)
		for _, bad := range []engine.OpenSession{
			{ID: "zero-rate", From: "alice", To: "bob", MaxSeconds: 60},
			{ID: "no-max", From: "alice", To: "bob", Rate: engine.NewAmount(1)},
			{ID: "long", From: "alice", To: "bob", Rate: engine.NewAmount(1), MaxSeconds: engine.SessionSecondsMax + 1},
			{ID: "late", From: "alice", To: "bob", Rate: engine.NewAmount(1), MaxSeconds: 1, StartWithin: engine.SessionStartWithinMax + 1},
			{ID: "self", From: "alice", To: "alice", Rate: engine.NewAmount(1), MaxSeconds: 1},
		} {
			_, err := eng.OpenSession(ctx, bad)
			wantErr(t, "OpenSession("+string(bad.ID)+")", err, engine.ErrInvalid)
		}
		_, err = eng.OpenSession(ctx, engine.OpenSession{ID: "nobody", From: "alice", To: "nobody", Rate: engine.NewAmount(1), MaxSeconds: 1})
		wantErr(t, "OpenSession to an unknown account", err, engine.ErrNotFound)
		wantBalance(t, eng, "alice", 800, 0)
		wantVerified(t, eng)
	})
}

// TestSessionOpeningIsIdempotent: the same client id opens once; other
// terms under it conflict.
func TestSessionOpeningIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng := openFunded(t)
		defer eng.Close()
		first := openSession(t, eng, "s-1", 0)
		again := openSession(t, eng, "s-1", 0)
		if !again.Replayed || again.ID != first.ID || again.State != engine.SessionRequested {
			t.Fatalf("reopen = %+v, want the same session replayed", again)
		}
		wantBalance(t, eng, "alice", 200, 600)
		_, err := eng.OpenSession(ctx, engine.OpenSession{ID: "s-1", From: "alice", To: "bob", Rate: engine.NewAmount(11), MaxSeconds: sessionMax})
		wantErr(t, "OpenSession with other terms", err, engine.ErrIdempotencyConflict)
		_, err = eng.Capture(ctx, "s-1", engine.NewAmount(1))
		wantErr(t, "Capture of a session", err, engine.ErrNotFound)
		_, err = eng.Transfer(ctx, "s-1")
		wantErr(t, "Transfer of a session", err, engine.ErrNotFound)
		wantBalance(t, eng, "alice", 200, 600)
	})
}

// TestSessionTimersSurviveARestart closes the engine with one session live
// and one waiting to start, lets both deadlines pass while it is down, and
// reopens it (from the log, then again from a snapshot): each closes once,
// stamped at its deadline, charged exactly as if the engine had stayed up.
func TestSessionTimersSurviveARestart(t *testing.T) {
	for _, snapshot := range []bool{false, true} {
		name := map[bool]string{false: "from the log", true: "from a snapshot"}[snapshot]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				fs := vfs.NewMem()
				eng, err := engine.Open(engine.Options{Dir: "/data", FS: fs})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				mustCreate(t, eng, "alice", "bob")
				mustCredit(t, eng, "dep-1", "alice", 1400)
				live := openSession(t, eng, "live", 0)
				mustTransition(t, eng.AcceptSession, "live", "bob")
				started := mustTransition(t, eng.StartSession, "live", "alice")
				waiting := openSession(t, eng, "waiting", 10*time.Second)
				if snapshot {
					if err := eng.Snapshot(ctx); err != nil {
						t.Fatalf("Snapshot: %v", err)
					}
				}
				if err := eng.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				time.Sleep(2 * sessionMax * time.Second) // down past both deadlines

				eng, err = engine.Open(engine.Options{Dir: "/data", FS: fs})
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				defer eng.Close()
				synctest.Wait()
				s := wantSession(t, eng, "live", engine.SessionEnded, 600)
				if want := started.Started.Add(sessionMax * time.Second); !s.Ended.Equal(want) {
					t.Fatalf("live session ended at %v, want its maximum %v", s.Ended, want)
				}
				w := wantSession(t, eng, "waiting", engine.SessionExpired, 0)
				if !w.Ended.Equal(waiting.StartBy) {
					t.Fatalf("waiting session expired at %v, want %v", w.Ended, waiting.StartBy)
				}
				wantBalance(t, eng, "alice", 800, 0)
				wantBalance(t, eng, "bob", 600, 0)
				wantVerified(t, eng)
				if live.ID != "live" {
					t.Fatalf("opened %q", live.ID)
				}
			})
		})
	}
}

// TestSessionBudgetAdmitsExactlyWhatFits opens 256 sessions at once under
// one spender whose total cap fits exactly 10 reservations.
func TestSessionBudgetAdmitsExactlyWhatFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		eng, err := engine.Open(engine.Options{Dir: "/data", FS: vfs.NewMem()})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer eng.Close()
		mustCreate(t, eng, "alice", "bob")
		mustCredit(t, eng, "dep-1", "alice", 1_000_000)
		budget := engine.Budget{Spender: "key-1", Total: engine.NewAmount(10 * 600)}
		errs := make(chan error, 256)
		for i := range 256 {
			go func() {
				_, err := eng.OpenSession(ctx, engine.OpenSession{
					ID: engine.TransferID("s-" + itoa(i)), From: "alice", To: "bob",
					Rate: engine.NewAmount(sessionRate), MaxSeconds: sessionMax, Budget: budget,
				})
				errs <- err
			}()
		}
		opened := 0
		for range 256 {
			switch err := <-errs; {
			case err == nil:
				opened++
			case !errors.Is(err, engine.ErrBudgetExceeded):
				t.Fatalf("OpenSession = %v, want nil or ErrBudgetExceeded", err)
			}
		}
		if opened != 10 {
			t.Fatalf("%d sessions opened, want exactly the 10 that fit the budget", opened)
		}
		wantBalance(t, eng, "alice", 1_000_000-6000, 6000)
		wantVerified(t, eng)
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestOneAccountsSessionsCannotStopSnapshotsForAll: sessions count against
// their payer's open holds and memo bytes, so an account that opens
// sessions with the largest memos (mixed with holds) is refused past its
// limits with ErrLimitExceeded, while snapshots (which now carry each open
// session's record too) keep working, and so do other accounts.
func TestOneAccountsSessionsCannotStopSnapshotsForAll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "hoarder", "payee", "other")
	mustCredit(t, eng, "dep-1", "hoarder", 1_000_000)
	mustCredit(t, eng, "dep-2", "other", 1_000)
	memo := strings.Repeat("m", engine.MemoBytesMax)
	placed, refused := 0, 0
	for i := range 300 {
		var err error
		if i%2 == 0 {
			_, err = eng.OpenSession(ctx, engine.OpenSession{ID: engine.TransferID("s-" + itoa(i)), From: "hoarder", To: "payee",
				Rate: engine.NewAmount(1), MaxSeconds: 10, Memo: memo})
		} else {
			_, err = eng.Hold(ctx, engine.Hold{ID: engine.TransferID("h-" + itoa(i)), From: "hoarder", To: "payee",
				Amount: engine.NewAmount(1), Timeout: time.Hour, Memo: memo})
		}
		switch {
		case err == nil:
			placed++
		case errors.Is(err, engine.ErrLimitExceeded):
			refused++
		default:
			t.Fatalf("opening %d = %v, want success or ErrLimitExceeded", i, err)
		}
	}
	if want := engine.HoldMemoBytesPerAccountMax / engine.MemoBytesMax; placed != want || refused != 300-want {
		t.Fatalf("placed %d, refused %d, want %d and %d: sessions and holds share the payer's limits", placed, refused, want, 300-want)
	}
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot with an account at its limits = %v, want success", err)
	}
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-other", From: "other", To: "payee", Amount: engine.NewAmount(10)}); err != nil {
		t.Fatalf("Charge of another account = %v, want success", err)
	}
	if _, err := eng.CancelSession(ctx, "s-0", "hoarder"); err != nil {
		t.Fatalf("CancelSession = %v", err)
	}
	if _, err := eng.OpenSession(ctx, engine.OpenSession{ID: "s-again", From: "hoarder", To: "payee",
		Rate: engine.NewAmount(1), MaxSeconds: 10, Memo: memo}); err != nil {
		t.Fatalf("OpenSession once one closed = %v, want room for it", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng = openTest(t, engine.Options{Dir: dir})
	if s, err := eng.Session(ctx, "s-2"); err != nil || s.State != engine.SessionRequested || s.Memo != memo {
		t.Fatalf("Session(s-2) after reopening from the snapshot = %v %v, want it open with its memo", s.State, err)
	}
	wantBalance(t, eng, "other", 990, 0)
	wantVerified(t, eng)
}
