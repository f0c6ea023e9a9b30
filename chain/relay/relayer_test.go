package relay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/engine"
)

// TestRelayerSettlesNetted: charges and a captured hold between two pairs
// settle in one transaction whose entries are the pairs' nets; afterwards
// each party's on-chain money equals the off-chain ledger exactly, the
// settlement is CONFIRMED and found from a charge, and a restart settles
// nothing again.
func TestRelayerSettlesNetted(t *testing.T) {
	var alice, bob, sup party
	w := newWorld(t, &alice, &bob, &sup)
	ctx := context.Background()
	w.deposit(alice, 1_000_000)
	w.deposit(bob, 500_000)
	for _, id := range []engine.AccountID{"alice", "bob", "sup"} {
		w.account(id)
	}
	w.bindWallet("alice", alice.address)
	w.bindWallet("bob", bob.address)
	w.bindWallet("sup", sup.address)
	w.credit("alice", 1_000_000, "dep:a")
	w.credit("bob", 500_000, "dep:b")
	w.openRelayer()

	var aliceSpent, bobSpent, fees uint64
	var first engine.Transfer
	for i := range 40 {
		amount := uint64(1_000 + 37*i)
		tr := w.charge(fmt.Sprintf("a%d", i), "alice", "sup", amount)
		if i == 0 {
			first = tr
		}
		aliceSpent += amount
		fees += amount * testFeeBps / 10_000
	}
	for i := range 10 {
		w.charge(fmt.Sprintf("b%d", i), "bob", "sup", 2_500)
		bobSpent += 2_500
		fees += 2_500 * testFeeBps / 10_000
	}
	if _, err := w.eng.Hold(ctx, engine.Hold{ID: "h1", From: "bob", To: "sup", Amount: amountOf(10_000), Timeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	captured, err := w.eng.Capture(ctx, "h1", amountOf(7_000))
	if err != nil {
		t.Fatal(err)
	}
	bobSpent += 7_000
	fees += 7_000 * testFeeBps / 10_000
	w.settle(captured.Position)

	if got, want := w.poolBalance(alice.address), 1_000_000-aliceSpent; got != want {
		t.Errorf("alice's pool balance %d, want %d", got, want)
	}
	if got, want := w.poolBalance(bob.address), 500_000-bobSpent; got != want {
		t.Errorf("bob's pool balance %d, want %d", got, want)
	}
	if got, want := w.usdcBalance(sup.address), aliceSpent+bobSpent-fees; got != want {
		t.Errorf("supplier's USDC %d, want %d", got, want)
	}
	if got := w.usdcBalance(w.feeTo.address); got != fees {
		t.Errorf("fee recipient's USDC %d, want %d", got, fees)
	}
	w.checkReconciled(map[engine.AccountID]uint64{"alice": 1_000_000 - aliceSpent, "bob": 500_000 - bobSpent, "sup": 0})
	stats := w.r.Stats()
	if stats.Confirmed != 1 || stats.Entries != 2 || stats.GasUsed == 0 {
		t.Errorf("stats %+v, want one confirmed batch of 2 entries", stats)
	}

	store := Store{Engine: w.eng}
	id, ok, err := store.Of("alice", "sup", first.Position)
	if err != nil || !ok {
		t.Fatalf("settlement of the first charge: %q %v %v", id, ok, err)
	}
	s, err := store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != Confirmed || s.TxHash == (common.Hash{}) || s.BlockNumber == 0 || len(s.Entries) != 2 {
		t.Fatalf("settlement %+v", s)
	}
	page, next, err := store.List("bob", "", 10)
	if err != nil || len(page) != 1 || page[0].ID != id || next != "" {
		t.Fatalf("bob's settlements %v next %q err %v", page, next, err)
	}

	// A restart, then more rounds: nothing settles again.
	w.restart()
	w.advance(time.Minute)
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)
	if got, want := w.usdcBalance(sup.address), aliceSpent+bobSpent-fees; got != want {
		t.Errorf("after a restart the supplier's USDC is %d, want %d", got, want)
	}
	if s := w.r.Stats(); s.Cut != 0 || s.InFlight != 0 {
		t.Errorf("after a restart: %+v, want nothing cut", s)
	}
	w.checkReconciled(map[engine.AccountID]uint64{"alice": 1_000_000 - aliceSpent, "bob": 500_000 - bobSpent, "sup": 0})
}

// checkReconciled checks the off-chain balances and the invariants.
func (w *world) checkReconciled(want map[engine.AccountID]uint64) {
	w.t.Helper()
	for id, v := range want {
		b := w.balance(id)
		if b.Posted != amountOf(v) || b.Available != amountOf(v) {
			w.t.Errorf("%s's balance %+v, want %d posted and available", id, b, v)
		}
	}
	if b := w.balance(engine.FeesAccount(testLedger)); !b.Posted.IsZero() {
		w.t.Errorf("fee account holds %s after settlement, want 0", b.Posted)
	}
	w.verify()
}
