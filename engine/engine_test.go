package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

const testLedger = "test:USDC"

// fakeClock is a settable clock for hold expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openTest(t testing.TB, options engine.Options) *engine.Engine {
	t.Helper()
	if options.Dir == "" {
		options.Dir = t.TempDir()
	}
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func mustCreate(t testing.TB, eng *engine.Engine, ids ...engine.AccountID) {
	t.Helper()
	for _, id := range ids {
		if err := eng.CreateAccount(context.Background(), engine.Account{ID: id, Ledger: testLedger}); err != nil {
			t.Fatalf("CreateAccount(%s) = %v", id, err)
		}
	}
}

func mustCredit(t testing.TB, eng *engine.Engine, id engine.TransferID, account engine.AccountID, amount uint64) {
	t.Helper()
	if _, err := eng.Credit(context.Background(), id, account, engine.NewAmount(amount)); err != nil {
		t.Fatalf("Credit(%s, %s, %d) = %v", id, account, amount, err)
	}
}

func wantBalance(t testing.TB, eng *engine.Engine, account engine.AccountID, available, reserved uint64) {
	t.Helper()
	bal, err := eng.Balance(context.Background(), account)
	if err != nil {
		t.Fatalf("Balance(%s) = %v", account, err)
	}
	if bal.Available != engine.NewAmount(available) || bal.Reserved != engine.NewAmount(reserved) {
		t.Fatalf("Balance(%s) = available %s reserved %s, want %d %d", account, bal.Available, bal.Reserved, available, reserved)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}

func TestChargeMovesMoneyAndFeeExactly(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{FeeBps: 250}) // 2.5%
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)

	res, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(1500)})
	if err != nil {
		t.Fatalf("Charge = %v", err)
	}
	if res.Fee != engine.NewAmount(37) || res.ToAmount != engine.NewAmount(1463) || res.Position == 0 || res.Replayed {
		t.Fatalf("Charge = fee %s toAmount %s position %d replayed %v, want 37 1463 >0 false", res.Fee, res.ToAmount, res.Position, res.Replayed)
	}
	if res.Balance.Available != engine.NewAmount(998_500) {
		t.Fatalf("Charge balance = %s, want 998500", res.Balance.Available)
	}
	wantBalance(t, eng, "alice", 998_500, 0)
	wantBalance(t, eng, "bob", 1463, 0)
	wantBalance(t, eng, engine.FeesAccount(testLedger), 37, 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestChargeBeyondAvailableIsRejectedAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1000)

	_, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(1001)})
	wantErr(t, "Charge(1001 of 1000)", err, engine.ErrInsufficientFunds)
	wantBalance(t, eng, "alice", 1000, 0)
	wantBalance(t, eng, "bob", 0, 0)
	// The id was not consumed by the rejection: after funding it applies.
	mustCredit(t, eng, "dep-2", "alice", 1)
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(1001)}); err != nil {
		t.Fatalf("Charge after funding = %v", err)
	}
	wantBalance(t, eng, "alice", 0, 0)
}

func TestClientIDAppliesOnceAndConflictsOnOtherContent(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob", "carol")
	mustCredit(t, eng, "dep-1", "alice", 10_000)

	charge := engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(700)}
	first, err := eng.Charge(ctx, charge)
	if err != nil {
		t.Fatalf("Charge = %v", err)
	}
	again, err := eng.Charge(ctx, charge)
	if err != nil || !again.Replayed || again.Amount != first.Amount || again.To != "bob" {
		t.Fatalf("Charge replay = %+v, %v; want replayed original", again, err)
	}
	wantBalance(t, eng, "alice", 9300, 0)

	_, err = eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "carol", Amount: engine.NewAmount(700)})
	wantErr(t, "Charge(same id, other payee)", err, engine.ErrIdempotencyConflict)
	_, err = eng.Credit(ctx, "c-1", "alice", engine.NewAmount(700))
	wantErr(t, "Credit(charge's id)", err, engine.ErrIdempotencyConflict)
	_, err = eng.Credit(ctx, "dep-1", "alice", engine.NewAmount(10_000))
	if err != nil {
		t.Fatalf("Credit replay = %v", err)
	}
	wantBalance(t, eng, "alice", 9300, 0)
	wantBalance(t, eng, "carol", 0, 0)
}

func TestConcurrentSameClientIDAppliesOnce(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	var wg sync.WaitGroup
	replays := make(chan bool, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := eng.Charge(ctx, engine.Charge{ID: "same", From: "alice", To: "bob", Amount: engine.NewAmount(100)})
			if err != nil {
				t.Errorf("Charge = %v", err)
			}
			replays <- res.Replayed
		}()
	}
	wg.Wait()
	close(replays)
	fresh := 0
	for replayed := range replays {
		if !replayed {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d calls applied the charge, want exactly 1", fresh)
	}
	wantBalance(t, eng, "alice", 999_900, 0)
	wantBalance(t, eng, "bob", 100, 0)
}

func TestHoldReservesThenCapturePostsPartAndReleasesRest(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{FeeBps: 100})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 10_000)

	h, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "alice", To: "bob", Amount: engine.NewAmount(9000), Timeout: 30 * time.Second})
	if err != nil || h.State != engine.HoldOpen {
		t.Fatalf("Hold = %+v, %v", h, err)
	}
	wantBalance(t, eng, "alice", 1000, 9000)
	_, err = eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(1001)})
	wantErr(t, "Charge(above available beside a hold)", err, engine.ErrInsufficientFunds)

	captured, err := eng.Capture(ctx, "h-1", engine.NewAmount(4000))
	if err != nil || captured.State != engine.HoldCaptured || captured.Fee != engine.NewAmount(40) || captured.ToAmount != engine.NewAmount(3960) {
		t.Fatalf("Capture = %+v, %v", captured, err)
	}
	wantBalance(t, eng, "alice", 6000, 0)
	wantBalance(t, eng, "bob", 3960, 0)
	wantBalance(t, eng, engine.FeesAccount(testLedger), 40, 0)

	again, err := eng.Capture(ctx, "h-1", engine.NewAmount(4000))
	if err != nil || !again.Replayed {
		t.Fatalf("Capture replay = %+v, %v", again, err)
	}
	_, err = eng.Capture(ctx, "h-1", engine.NewAmount(5000))
	wantErr(t, "Capture(captured hold, other amount)", err, engine.ErrInvalidState)
	wantErr(t, "Void(captured hold)", eng.Void(ctx, "h-1"), engine.ErrInvalidState)
	wantBalance(t, eng, "alice", 6000, 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestVoidReleasesAndCaptureAfterVoidFails(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 500)
	if _, err := eng.Hold(ctx, engine.Hold{ID: "h-2", From: "alice", To: "bob", Amount: engine.NewAmount(500), Timeout: time.Minute}); err != nil {
		t.Fatalf("Hold = %v", err)
	}
	wantBalance(t, eng, "alice", 0, 500)
	if err := eng.Void(ctx, "h-2"); err != nil {
		t.Fatalf("Void = %v", err)
	}
	if err := eng.Void(ctx, "h-2"); err != nil {
		t.Fatalf("Void again = %v, want the recorded success", err)
	}
	wantBalance(t, eng, "alice", 500, 0)
	wantBalance(t, eng, "bob", 0, 0)
	_, err := eng.Capture(ctx, "h-2", engine.NewAmount(1))
	wantErr(t, "Capture(voided)", err, engine.ErrInvalidState)
	_, err = eng.Capture(ctx, "nope", engine.NewAmount(1))
	wantErr(t, "Capture(unknown)", err, engine.ErrNotFound)
	wantErr(t, "Void(a charge id)", eng.Void(ctx, "dep-1"), engine.ErrNotFound)
}

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob")
	if err := eng.CreateAccount(ctx, engine.Account{ID: "mallory", Ledger: "live:USDC"}); err != nil {
		t.Fatalf("CreateAccount(live) = %v", err)
	}
	mustCredit(t, eng, "dep-1", "alice", 100)
	for _, tc := range []struct {
		name   string
		charge engine.Charge
		want   error
	}{
		{"zero amount", engine.Charge{ID: "x1", From: "alice", To: "bob"}, engine.ErrInvalid},
		{"empty id", engine.Charge{From: "alice", To: "bob", Amount: engine.NewAmount(1)}, engine.ErrInvalid},
		{"unknown payer", engine.Charge{ID: "x2", From: "nobody", To: "bob", Amount: engine.NewAmount(1)}, engine.ErrNotFound},
		{"unknown payee", engine.Charge{ID: "x3", From: "alice", To: "nobody", Amount: engine.NewAmount(1)}, engine.ErrNotFound},
		{"other ledger", engine.Charge{ID: "x4", From: "alice", To: "mallory", Amount: engine.NewAmount(1)}, engine.ErrLedgerMismatch},
		{"self", engine.Charge{ID: "x5", From: "alice", To: "alice", Amount: engine.NewAmount(1)}, engine.ErrInvalid},
		{"to fees", engine.Charge{ID: "x6", From: "alice", To: engine.FeesAccount(testLedger), Amount: engine.NewAmount(1)}, engine.ErrInvalid},
	} {
		_, err := eng.Charge(ctx, tc.charge)
		wantErr(t, "Charge("+tc.name+")", err, tc.want)
	}
	wantErr(t, "CreateAccount(dup)", eng.CreateAccount(ctx, engine.Account{ID: "alice", Ledger: testLedger}), engine.ErrAlreadyExists)
	wantErr(t, "CreateAccount($)", eng.CreateAccount(ctx, engine.Account{ID: "$x", Ledger: testLedger}), engine.ErrInvalid)
	_, err := eng.Balance(ctx, "nobody")
	wantErr(t, "Balance(unknown)", err, engine.ErrNotFound)
	wantBalance(t, eng, "alice", 100, 0)
	wantBalance(t, eng, "bob", 0, 0)
}

func TestReopenRecoversStateFromLogAndSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: 100})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 100_000)
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(10_000)}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	if _, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "alice", To: "bob", Amount: engine.NewAmount(5000), Timeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-2", From: "alice", To: "bob", Amount: engine.NewAmount(1000)}); err != nil {
		t.Fatal(err)
	}
	position := eng.Position()
	if err := eng.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	eng = openTest(t, engine.Options{Dir: dir, FeeBps: 100})
	rec := eng.Recovered()
	if rec.SnapshotPosition == 0 || rec.Replayed != 2 || eng.Position() != position {
		t.Fatalf("Recovered = %+v position %d, want a snapshot, 2 replayed, position %d", rec, eng.Position(), position)
	}
	wantBalance(t, eng, "alice", 84_000, 5000)
	wantBalance(t, eng, "bob", 9900+990, 0)
	wantBalance(t, eng, engine.FeesAccount(testLedger), 110, 0)
	if _, err := eng.Capture(ctx, "h-1", engine.NewAmount(5000)); err != nil {
		t.Fatalf("Capture after reopen = %v", err)
	}
	again, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(10_000)})
	if err != nil || !again.Replayed {
		t.Fatalf("Charge replay after reopen = %+v, %v", again, err)
	}
	wantBalance(t, eng, "alice", 84_000, 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestSubscribeDeliversCommittedEventsInOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob")
	sub, err := eng.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	mustCredit(t, eng, "dep-1", "alice", 100)
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(60)}); err != nil {
		t.Fatal(err)
	}
	var got []engine.Event
	for len(got) < 6 {
		select {
		case ev := <-sub.C:
			got = append(got, ev)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d events, want 6", len(got))
		}
	}
	wantTypes := []engine.EventType{engine.EventAccountCreated, engine.EventAccountCreated, engine.EventAccountCreated, engine.EventAccountCreated, engine.EventCredited, engine.EventCharged}
	for i, ev := range got {
		if ev.Position != uint64(i+1) || ev.Type != wantTypes[i] {
			t.Fatalf("event %d = position %d type %v, want %d %v", i, ev.Position, ev.Type, i+1, wantTypes[i])
		}
	}
	if got[5].ID != "c-1" || got[5].Amount != engine.NewAmount(60) {
		t.Fatalf("charge event = %+v", got[5])
	}
}

func TestChargeBatchAppliesEachItemOnItsOwn(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob", "carol")
	mustCredit(t, eng, "dep-1", "alice", 250)
	results := eng.ChargeBatch(ctx, []engine.Charge{
		{ID: "b-1", From: "alice", To: "bob", Amount: engine.NewAmount(100)},
		{ID: "b-2", From: "alice", To: "carol", Amount: engine.NewAmount(100)},
		{ID: "b-3", From: "alice", To: "bob", Amount: engine.NewAmount(100)}, // only 50 left
		{ID: "b-1", From: "alice", To: "bob", Amount: engine.NewAmount(100)}, // same id again
		{ID: "b-4", From: "nobody", To: "bob", Amount: engine.NewAmount(1)},
	})
	if results[0].Err != nil || results[1].Err != nil {
		t.Fatalf("results = %+v", results)
	}
	wantErr(t, "batch item 3", results[2].Err, engine.ErrInsufficientFunds)
	if results[3].Err != nil || !results[3].Transfer.Replayed {
		t.Fatalf("batch item 4 = %+v, want a replay", results[3])
	}
	wantErr(t, "batch item 5", results[4].Err, engine.ErrNotFound)
	wantBalance(t, eng, "alice", 50, 0)
	wantBalance(t, eng, "bob", 100, 0)
	wantBalance(t, eng, "carol", 100, 0)
}

// TestSubscriptionsGetEveryEventOnceFromTheFeedOrTheLog: a subscription
// that keeps up takes commits from the live feed; one that lags past its
// inbox's bound reads the log instead; one that starts behind reads the
// log, then the feed. Each gets every event once, in log order, equal to
// what the log holds, table writes skipped.
func TestSubscriptionsGetEveryEventOnceFromTheFeedOrTheLog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := openTest(t, engine.WithFeedBacklogEvents(engine.Options{}, 8))
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	keeping, err := eng.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	lagging, err := eng.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	collect := func(sub *engine.Subscription, n int) []engine.Event {
		var got []engine.Event
		for len(got) < n {
			select {
			case ev := <-sub.C:
				got = append(got, ev)
			case <-time.After(10 * time.Second):
				t.Fatalf("got %d events, want %d (err %v)", len(got), n, sub.Err())
			}
		}
		return got
	}
	var kept []engine.Event
	done := make(chan struct{})
	go func() { defer close(done); kept = collect(keeping, 4+1+600) }() // creations, the credit, charges
	const charges = 600
	for i := range charges {
		if _, err := eng.Charge(ctx, engine.Charge{ID: engine.TransferID(fmt.Sprintf("c-%d", i)), From: "alice", To: "bob",
			Amount: engine.NewAmount(1)}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if _, err := eng.WriteRows(ctx, engine.Row{Key: []byte(fmt.Sprintf("row-%d", i)), Value: []byte("v")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-done
	lagged := collect(lagging, 4+1+charges) // its inbox overflowed long ago: read from the log
	late, err := eng.Subscribe(ctx, 3)      // starts behind
	if err != nil {
		t.Fatal(err)
	}
	fromThree := collect(late, 2+1+charges)
	for name, got := range map[string][]engine.Event{"keeping up": kept, "lagging": lagged, "late": fromThree} {
		position := got[0].Position
		charged := 0
		for i, ev := range got {
			if i > 0 && ev.Position <= got[i-1].Position {
				t.Fatalf("%s: event %d at position %d after %d", name, i, ev.Position, got[i-1].Position)
			}
			if ev.Type == engine.EventCharged {
				if want := engine.TransferID(fmt.Sprintf("c-%d", charged)); ev.ID != want || ev.From != "alice" || ev.Amount != engine.NewAmount(1) {
					t.Fatalf("%s: charge %d = %+v, want %s", name, charged, ev, want)
				}
				charged++
			}
		}
		if charged != charges || position > 3 {
			t.Fatalf("%s: %d charges from position %d, want %d", name, charged, position, charges)
		}
	}
	if fromThree[0].Position != 3 {
		t.Fatalf("late subscription starts at %d, want 3", fromThree[0].Position)
	}
	// The paths: the one keeping up read the log only for what was durable
	// before it subscribed (and, at worst, a few stretches it fell behind);
	// the lagging one read nearly all of it back.
	if n := keeping.ReadBack(); n > uint64(len(kept)/2) {
		t.Fatalf("keeping up read %d of %d events from the log, want most from the feed", n, len(kept))
	}
	if n := lagging.ReadBack(); n < charges/2 {
		t.Fatalf("lagging read %d of %d events from the log, want most: its inbox overflowed", n, len(lagged))
	}
}

// TestPayoutLeavesThroughTheChainAccount: a payout moves money out of a
// user or fee account to the ledger's chain account, exactly once per
// client id, never overdrawing, and the ledger stays balanced.
func TestPayoutLeavesThroughTheChainAccount(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{FeeBps: 1000})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1000)
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(500)}); err != nil {
		t.Fatal(err)
	}
	// bob earned 450, the fee account 50: both leave on chain.
	out, err := eng.Payout(ctx, "out-bob", "bob", engine.NewAmount(450))
	if err != nil || out.Type != engine.TransferPayout || out.To != engine.ChainAccount("test:USDC") || out.Amount != engine.NewAmount(450) {
		t.Fatalf("Payout(bob) = %+v, %v", out, err)
	}
	again, err := eng.Payout(ctx, "out-bob", "bob", engine.NewAmount(450))
	if err != nil || !again.Replayed {
		t.Fatalf("Payout(bob) again = %+v, %v, want a replay", again, err)
	}
	_, err = eng.Payout(ctx, "out-bob", "bob", engine.NewAmount(1))
	wantErr(t, "Payout with other content", err, engine.ErrIdempotencyConflict)
	fees := engine.FeesAccount("test:USDC")
	if _, err := eng.Payout(ctx, "out-fees", fees, engine.NewAmount(50)); err != nil {
		t.Fatal(err)
	}
	_, err = eng.Payout(ctx, "out-more", "bob", engine.NewAmount(1))
	wantErr(t, "Payout beyond the balance", err, engine.ErrInsufficientFunds)
	_, err = eng.Payout(ctx, "out-chain", engine.ChainAccount("test:USDC"), engine.NewAmount(1))
	wantErr(t, "Payout of the chain account", err, engine.ErrInvalid)
	_, err = eng.Payout(ctx, "out-zero", "alice", engine.Amount{})
	wantErr(t, "Payout of nothing", err, engine.ErrInvalid)
	wantBalance(t, eng, "bob", 0, 0)
	wantBalance(t, eng, "alice", 500, 0)
	if b, err := eng.Balance(ctx, fees); err != nil || !b.Available.IsZero() {
		t.Fatalf("fees = %+v %v, want 0", b, err)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
