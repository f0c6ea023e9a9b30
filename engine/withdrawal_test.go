package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// TestAWithdrawalReservationCapsSpendingAcrossARestart: a withdrawal
// requested on chain reserves what the account has available toward the
// chain account, so it can no longer be spent; a second request replaces
// it; the reservation survives a snapshot and a restart, retries replay,
// hold expiry leaves it alone, and the completion releases it and pays
// out exactly what the chain paid.
func TestAWithdrawalReservationCapsSpendingAcrossARestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	options := engine.Options{Dir: dir, Clock: clock.Now}
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatal(err)
	}
	chain := engine.ChainAccount(testLedger)
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1000)

	first, err := eng.ReserveWithdrawal(ctx, "wdr-1", "alice", engine.NewAmount(600))
	if err != nil || first.Type != engine.TransferWithdrawalReserved || first.From != "alice" || first.To != chain ||
		first.Amount != engine.NewAmount(600) || first.Requested != engine.NewAmount(600) || !first.Released.IsZero() || first.ReleasedID != "" ||
		first.Balance.Available != engine.NewAmount(400) || first.Balance.Reserved != engine.NewAmount(600) {
		t.Fatalf("ReserveWithdrawal(600) = %+v, %v, want 600 reserved toward %s, 400 left", first, err, chain)
	}
	if _, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "alice", To: "bob", Amount: engine.NewAmount(300), Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	_, err = eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(101)})
	wantErr(t, "Charge(101) with 100 left", err, engine.ErrInsufficientFunds)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	// The second request replaces the first: 600 released, then as much of
	// 900 as is available (100 + 600).
	second, err := eng.ReserveWithdrawal(ctx, "wdr-2", "alice", engine.NewAmount(900))
	if err != nil || second.Amount != engine.NewAmount(700) || second.Requested != engine.NewAmount(900) ||
		second.Released != engine.NewAmount(600) || second.ReleasedID != "wdr-1" {
		t.Fatalf("ReserveWithdrawal(900) = %+v, %v, want 700 reserved, wdr-1's 600 released", second, err)
	}
	wantBalance(t, eng, "alice", 0, 1000)
	if b, err := eng.Balance(ctx, chain); err != nil || b.Pending != engine.NewAmount(700) {
		t.Fatalf("Balance(%s) = %+v, %v, want 700 pending", chain, b, err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	eng = openTest(t, options)
	if rec := eng.Recovered(); rec.SnapshotPosition == 0 || rec.Replayed != 1 {
		t.Fatalf("Recovered = %+v, want a snapshot with the first reservation and the second replayed", rec)
	}
	wantBalance(t, eng, "alice", 0, 1000)
	again, err := eng.ReserveWithdrawal(ctx, "wdr-1", "alice", engine.NewAmount(600))
	if err != nil || !again.Replayed || again.Amount != engine.NewAmount(600) {
		t.Fatalf("ReserveWithdrawal(wdr-1) again = %+v, %v, want a replay of its 600", again, err)
	}
	_, err = eng.ReserveWithdrawal(ctx, "wdr-1", "alice", engine.NewAmount(601))
	wantErr(t, "ReserveWithdrawal(wdr-1) with another amount", err, engine.ErrIdempotencyConflict)
	wantBalance(t, eng, "alice", 0, 1000)

	// The hold expires; the reservation stays.
	clock.Advance(time.Minute)
	wantBalance(t, eng, "alice", 300, 700)
	subscribed, cancel := context.WithCancel(ctx)
	defer cancel()
	from := eng.Position() + 1 // after the expiry, which the balance read made durable
	sub, err := eng.Subscribe(subscribed, from)
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.CompleteWithdrawal(ctx, "wd-2", "alice", engine.NewAmount(1001))
	wantErr(t, "CompleteWithdrawal(1001) of 1000", err, engine.ErrInsufficientFunds)
	wantBalance(t, eng, "alice", 300, 700)
	done, err := eng.CompleteWithdrawal(ctx, "wd-2", "alice", engine.NewAmount(650))
	if err != nil || done.Type != engine.TransferWithdrawal || done.Amount != engine.NewAmount(650) || done.ToAmount != engine.NewAmount(650) ||
		done.Released != engine.NewAmount(700) || done.ReleasedID != "wdr-2" || done.Balance.Available != engine.NewAmount(350) || !done.Balance.Reserved.IsZero() {
		t.Fatalf("CompleteWithdrawal(650) = %+v, %v, want wdr-2's 700 released and 650 paid out", done, err)
	}
	wantBalance(t, eng, "alice", 350, 0)
	if b, err := eng.Balance(ctx, chain); err != nil || !b.Pending.IsZero() {
		t.Fatalf("Balance(%s) = %+v, %v, want nothing pending", chain, b, err)
	}
	if got, err := eng.Transfer(ctx, "wd-2"); err != nil || got.Type != engine.TransferWithdrawal || got.Amount != engine.NewAmount(650) {
		t.Fatalf("Transfer(wd-2) = %+v, %v", got, err)
	}
	// The subscription sees the withdrawal whole.
	select {
	case ev := <-sub.C:
		if ev.Position != from || ev.Type != engine.EventWithdrawn || ev.ID != "wd-2" || ev.From != "alice" || ev.To != chain ||
			ev.Amount != engine.NewAmount(650) || ev.Requested != engine.NewAmount(650) || ev.Released != engine.NewAmount(700) || ev.ReleasedID != "wdr-2" {
			t.Fatalf("event = %+v, want wd-2 at %d paying 650 and releasing wdr-2's 700", ev, from)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event at position %d", from)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOnlyAUserAccountReservesAWithdrawal(t *testing.T) {
	ctx := context.Background()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice")
	_, err := eng.ReserveWithdrawal(ctx, "w-1", engine.FeesAccount(testLedger), engine.NewAmount(1))
	wantErr(t, "ReserveWithdrawal(the fee account)", err, engine.ErrInvalid)
	_, err = eng.CompleteWithdrawal(ctx, "w-2", engine.ChainAccount(testLedger), engine.NewAmount(1))
	wantErr(t, "CompleteWithdrawal(the chain account)", err, engine.ErrInvalid)
	_, err = eng.ReserveWithdrawal(ctx, "w-3", "nobody", engine.NewAmount(1))
	wantErr(t, "ReserveWithdrawal(an unknown account)", err, engine.ErrNotFound)
	_, err = eng.ReserveWithdrawal(ctx, "w-4", "alice", engine.Amount{})
	wantErr(t, "ReserveWithdrawal(0)", err, engine.ErrInvalid)
	// Nothing available: it reserves nothing and records the request.
	empty, err := eng.ReserveWithdrawal(ctx, "w-5", "alice", engine.NewAmount(10))
	if err != nil || !empty.Amount.IsZero() || empty.Requested != engine.NewAmount(10) {
		t.Fatalf("ReserveWithdrawal(10) of nothing = %+v, %v, want 0 reserved of 10 requested", empty, err)
	}
	wantBalance(t, eng, "alice", 0, 0)
}
