package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
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
	id, ok, err := store.Of("alice", "sup", first.Time)
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

// flaky is a backend whose gas estimates fail (as a node that does not
// answer) while down is set.
type flaky struct {
	Backend
	down *atomicBool
}

type atomicBool struct {
	mu sync.Mutex
	v  bool
}

func (b *atomicBool) set(v bool) { b.mu.Lock(); b.v = v; b.mu.Unlock() }
func (b *atomicBool) get() bool  { b.mu.Lock(); defer b.mu.Unlock(); return b.v }

func (f flaky) EstimateGas(ctx context.Context, msg ethereum.CallMsg) (uint64, error) {
	if f.down.get() {
		return 0, errors.New("connection refused")
	}
	return f.Backend.EstimateGas(ctx, msg)
}

// TestRelayerResumesAfterCrash: a batch written PENDING whose transaction
// was never signed (the node did not answer), and a batch whose
// transaction was sent but whose receipt was not seen, each settle exactly
// once after a restart: the payouts replay, the recorded transaction is
// sent again or found mined.
func TestRelayerResumesAfterCrash(t *testing.T) {
	w, alice, sup := newPairWorld(t, 1_000_000)
	down := &atomicBool{}
	w.backend = flaky{Backend: w.client, down: down}
	w.openRelayer()

	// 1. Written PENDING, then the node stops answering: nothing signed.
	tr := w.charge("c1", "alice", "sup", 100_000)
	w.r.waitFolded(t, tr.Position)
	down.set(true)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	if s := w.r.Stats(); s.InFlight != 1 || s.Cut != 1 {
		t.Fatalf("after the cut: %+v, want one batch in flight", s)
	}
	if got := w.balance("sup"); !got.Posted.IsZero() {
		t.Fatalf("the supplier's earnings were not paid out at the cut: %+v", got)
	}
	w.restart()
	down.set(false)
	w.r.roundNow(t) // resumes the PENDING batch: payouts replay, then signs and sends
	w.mine()
	w.r.roundNow(t)
	if got, want := w.usdcBalance(sup.address), uint64(99_000); got != want {
		t.Fatalf("supplier's USDC %d, want %d", got, want)
	}

	// 2. Sent, mined, but the relayer stops before it sees the receipt.
	tr = w.charge("c2", "alice", "sup", 50_000)
	w.r.waitFolded(t, tr.Position)
	w.advance(2 * time.Second)
	w.r.roundNow(t) // cut, signed, recorded, sent
	w.mine()
	w.restart()
	w.r.roundNow(t) // finds the receipt
	w.mine()
	w.r.roundNow(t)

	// 3. Sent, not mined, and the node forgets it: the restart resends the
	// recorded bytes.
	tr = w.charge("c3", "alice", "sup", 25_000)
	w.r.waitFolded(t, tr.Position)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	w.restart()
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)

	if got, want := w.usdcBalance(sup.address), uint64(99_000+49_500+24_750); got != want {
		t.Errorf("supplier's USDC %d, want %d", got, want)
	}
	if got, want := w.usdcBalance(w.feeTo.address), uint64(1_000+500+250); got != want {
		t.Errorf("fee recipient's USDC %d, want %d", got, want)
	}
	if got, want := w.poolBalance(alice.address), uint64(1_000_000-175_000); got != want {
		t.Errorf("alice's pool balance %d, want %d", got, want)
	}
	if s := w.r.Stats(); s.InFlight != 0 {
		t.Errorf("in flight after everything was mined: %+v", s)
	}
	w.checkReconciled(map[engine.AccountID]uint64{"alice": 1_000_000 - 175_000, "sup": 0})
	for seq := uint64(1); seq <= 3; seq++ {
		s, err := Store{Engine: w.eng}.Get(SettlementID(seq))
		if err != nil || s.State != Confirmed {
			t.Errorf("settlement %d: %+v %v", seq, s, err)
		}
	}
}

// TestRelayerReplacesStuckTransaction: a transaction not mined within
// ReplaceAfter is signed again with the same nonce and a higher fee; the
// batch settles once, by the replacement.
func TestRelayerReplacesStuckTransaction(t *testing.T) {
	w, _, sup := newPairWorld(t, 1_000_000)
	w.openRelayer()
	tr := w.charge("c1", "alice", "sup", 10_000)
	w.r.waitFolded(t, tr.Position)
	w.advance(2 * time.Second)
	w.r.roundNow(t) // sent; not mined
	w.advance(2 * time.Minute)
	w.r.roundNow(t) // stuck: replaced
	w.mine()
	w.r.roundNow(t)
	s, err := Store{Engine: w.eng}.Get(SettlementID(1))
	if err != nil {
		t.Fatal(err)
	}
	if s.State != Confirmed || len(s.TxHashes) != 2 || s.TxHash != s.TxHashes[1] {
		t.Fatalf("settlement %+v: want CONFIRMED by the second of two transactions", s)
	}
	if w.r.Stats().Replaced != 1 {
		t.Errorf("stats %+v, want one replacement", w.r.Stats())
	}
	if got := w.usdcBalance(sup.address); got != 9_900 {
		t.Errorf("supplier's USDC %d, want 9900", got)
	}
	w.checkReconciled(map[engine.AccountID]uint64{"alice": 990_000, "sup": 0})
}

// TestRelayerFailedBatchGoesBack: a batch the pool refuses (paused) fails;
// the payee's payout is undone exactly, and the debits settle in a later
// batch once the pool takes them.
func TestRelayerFailedBatchGoesBack(t *testing.T) {
	w, _, sup := newPairWorld(t, 1_000_000)
	w.openRelayer()
	w.setPaused(true)
	tr := w.charge("c1", "alice", "sup", 10_000)
	w.r.waitFolded(t, tr.Position)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	s, err := Store{Engine: w.eng}.Get(SettlementID(1))
	if err != nil || s.State != Failed || s.Error == "" {
		t.Fatalf("settlement 1: %+v %v, want FAILED with a reason", s, err)
	}
	if got := w.balance("sup"); got.Posted != amountOf(9_900) || got.Available != amountOf(9_900) {
		t.Fatalf("supplier's balance after the failure %+v, want its 9900 back", got)
	}
	if _, ok, _ := (Store{Engine: w.eng}).Of("alice", "sup", tr.Time); ok {
		t.Error("a failed batch still settles the charge")
	}
	w.verify()
	w.setPaused(false)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)
	if got := w.usdcBalance(sup.address); got != 9_900 {
		t.Errorf("supplier's USDC %d, want 9900", got)
	}
	if id, ok, _ := (Store{Engine: w.eng}).Of("alice", "sup", tr.Time); !ok || id != SettlementID(2) {
		t.Errorf("charge settled by %q, want %s", id, SettlementID(2))
	}
	w.checkReconciled(map[engine.AccountID]uint64{"alice": 990_000, "sup": 0})
}

// TestRelayerCaps: debits beyond the payer's pool balance (an account also
// funded off chain) wait; a payee without a wallet accumulates until it
// binds one; a payer without a wallet is never settled on chain.
func TestRelayerCaps(t *testing.T) {
	var alice, sup party
	w := newWorld(t, &alice, &sup)
	w.deposit(alice, 100_000)
	for _, id := range []engine.AccountID{"alice", "sup", "walletless"} {
		w.account(id)
	}
	w.bindWallet("alice", alice.address)
	w.credit("alice", 100_000, "dep:a")
	w.credit("alice", 50_000, "admin:extra") // off chain only
	w.credit("walletless", 10_000, "admin:w")
	w.openRelayer()
	w.charge("c1", "alice", "sup", 120_000)
	tr := w.charge("w1", "walletless", "sup", 10_000)
	w.settle(tr.Position)
	if got := w.r.Stats(); got.Cut != 0 {
		t.Fatalf("cut %+v before the payee has a wallet", got)
	}
	w.bindWallet("sup", sup.address)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)
	// alice's pool holds 100,000: the batch takes that much (fee scaled:
	// 1,200 × 100,000 / 120,000), 20,000 waits for a deposit.
	if got := w.poolBalance(alice.address); got != 0 {
		t.Errorf("alice's pool balance %d, want 0", got)
	}
	if got := w.usdcBalance(sup.address); got != 99_000 {
		t.Errorf("supplier's USDC %d, want 99000", got)
	}
	net, _ := w.r.netting.Get(Pair{"alice", "sup"})
	if net.Amount != amountOf(20_000) || net.Fee != amountOf(200) {
		t.Errorf("alice→sup carries %+v, want 20000 with a fee of 200", net)
	}
	if net, ok := w.r.netting.Get(Pair{"walletless", "sup"}); ok && !net.IsZero() {
		t.Errorf("walletless→sup carries %+v, want nothing", net)
	}
	// The carry survives a restart, and settles after a deposit.
	w.restart()
	w.deposit(alice, 20_000)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)
	if got := w.usdcBalance(sup.address); got != 99_000+19_800 {
		t.Errorf("supplier's USDC %d, want %d", got, 99_000+19_800)
	}
	if got := w.usdcBalance(w.feeTo.address); got != 1_200 {
		t.Errorf("fee recipient's USDC %d, want 1200", got)
	}
	w.verify()
}

// TestSettlementOfLaterCharge: a charge made after a pair's batch was cut
// is not reported as settled by it.
func TestSettlementOfLaterCharge(t *testing.T) {
	w, _, _ := newPairWorld(t, 100_000)
	w.openRelayer()
	first := w.charge("c1", "alice", "sup", 1_000)
	w.settle(first.Position)
	later := w.charge("c2", "alice", "sup", 1_000)
	store := Store{Engine: w.eng}
	if id, ok, err := store.Of("alice", "sup", first.Time); !ok || err != nil || id != SettlementID(1) {
		t.Fatalf("first charge settled by %q %v %v, want %s", id, ok, err, SettlementID(1))
	}
	if id, ok, _ := store.Of("alice", "sup", later.Time); ok {
		t.Fatalf("a charge after the batch is reported settled by %s", id)
	}
	w.settle(later.Position)
	if id, ok, _ := store.Of("alice", "sup", later.Time); !ok || id != SettlementID(2) {
		t.Fatalf("later charge settled by %q, want %s", id, SettlementID(2))
	}
}

// TestRelayerHurry: a hurried relayer (a payer asked to withdraw) cuts at
// its next round, before its window ends.
func TestRelayerHurry(t *testing.T) {
	w, _, sup := newPairWorld(t, 100_000)
	w.openRelayer()
	w.r.roundNow(t) // the window starts
	tr := w.charge("c1", "alice", "sup", 1_000)
	w.r.waitFolded(t, tr.Position)
	w.r.roundNow(t)
	if s := w.r.Stats(); s.Cut != 0 {
		t.Fatalf("cut %+v before the window ended", s)
	}
	w.r.Hurry()
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)
	if s := w.r.Stats(); s.Cut != 1 || s.Confirmed != 1 {
		t.Fatalf("after Hurry: %+v, want one batch confirmed", s)
	}
	if got := w.usdcBalance(sup.address); got != 990 {
		t.Errorf("supplier's USDC %d, want 990", got)
	}
}

// newPairWorld is a world where alice, funded with deposit in the pool and
// credited it, pays sup; both are bound to their wallets.
func newPairWorld(t *testing.T, deposit uint64) (w *world, alice, sup party) {
	t.Helper()
	w = newWorld(t, &alice, &sup)
	w.deposit(alice, int64(deposit))
	w.account("alice")
	w.account("sup")
	w.bindWallet("alice", alice.address)
	w.bindWallet("sup", sup.address)
	w.credit("alice", deposit, "dep:a")
	return w, alice, sup
}
