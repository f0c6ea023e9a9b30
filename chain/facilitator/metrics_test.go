package facilitator

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine/usage"
	"github.com/tollway/tollway/engine/x402metrics"
)

// spendElsewhere pays request's authorization on chain, past the
// facilitator (from the signer's key, before the facilitator signs
// anything), so a settle of another authorization finds the balance gone.
func (w *world) spendElsewhere(request *x402.Request) {
	w.t.Helper()
	_, token, a, ok := w.f.config.Verifier.Identify(request)
	if !ok {
		w.t.Fatal("unidentifiable request")
	}
	client := w.sim.Client()
	ctx := context.Background()
	nonce, err := client.PendingNonceAt(ctx, w.f.config.Signer.Address())
	if err != nil {
		w.t.Fatal(err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	gas, err := client.EstimateGas(ctx, ethereum.CallMsg{From: w.f.config.Signer.Address(), To: &token, Data: x402.SettleCallData(a)})
	if err != nil {
		w.t.Fatal(err)
	}
	tx, err := types.SignNewTx(w.signer, types.LatestSignerForChainID(simChainID), &types.DynamicFeeTx{ChainID: simChainID,
		Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: new(big.Int).Add(big.NewInt(1e9), new(big.Int).Mul(head.BaseFee, big.NewInt(2))),
		Gas: gas + gas/5, To: &token, Data: x402.SettleCallData(a)})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		w.t.Fatal(err)
	}
	w.sim.Commit()
	if r, err := bind.WaitMined(ctx, client, tx.Hash()); err != nil || r.Status != 1 {
		w.t.Fatalf("spend elsewhere: %v %v", r, err)
	}
}

// today renders the owner's metrics of the world's day, and all time.
func (w *world) metricsOf(m *x402metrics.Metrics, owner string) string {
	w.t.Helper()
	day := usage.DayOf(w.clock())
	buckets, err := m.Days(owner, day, day, "")
	if err != nil {
		w.t.Fatal(err)
	}
	all, err := m.Summary(owner, "")
	if err != nil {
		w.t.Fatal(err)
	}
	out := ""
	for _, b := range buckets {
		out += b.Start.Format(time.DateOnly) + renderTotals(b.Networks) + "; "
	}
	return out + "all:" + renderTotals(all)
}

func renderTotals(networks []x402metrics.NetworkTotals) string {
	out := ""
	for _, n := range networks {
		out += fmt.Sprintf(" %s v%d/%s s%d/%s f%d/%s", n.Network, n.Verified.Count, n.Verified.Amount,
			n.Settled.Count, n.Settled.Amount, n.Failed.Count, n.Failed.Amount)
	}
	return out
}

// TestMetricsCountEachTransitionOnce: valid verifications, settlements and
// failed settlements are counted once each for the caller's owner, with
// their values; invalid verifications, retries and unattributed calls
// count nothing; compaction and restarts change nothing.
func TestMetricsCountEachTransitionOnce(t *testing.T) {
	w := newWorld(t)
	ctx := x402metrics.WithOwner(context.Background(), "usr_alice")
	failing := w.pay(900_000, 600)
	if r, err := w.f.Verify(ctx, failing); err != nil || !r.IsValid {
		t.Fatalf("verify: %+v %v", r, err)
	}
	if r, err := w.f.Verify(ctx, failing); err != nil || r.IsValid {
		t.Fatalf("verify again: %+v %v, want refused", r, err)
	}
	if r, err := w.f.Verify(ctx, w.pay(aliceUSDC, 600)); err != nil || r.IsValid {
		t.Fatalf("verify over what is reserved: %+v %v, want refused", r, err)
	}
	w.spendElsewhere(w.pay(900_000, 600))
	if r, err := w.f.Settle(ctx, failing); err != nil || r.Success || r.ErrorReason != x402.ReasonTransactionFailed {
		t.Fatalf("settle without the balance: %+v %v, want %s", r, err, x402.ReasonTransactionFailed)
	}
	w.mine()
	paid := w.pay(50_000, 600)
	if r, err := w.f.Settle(ctx, paid); err != nil || !r.Success {
		t.Fatalf("settle: %+v %v", r, err)
	}
	if r, err := w.f.Settle(ctx, paid); err != nil || !r.Success {
		t.Fatalf("settle retried: %+v %v", r, err)
	}
	if r := w.settle(w.pay(10_000, 600)); !r.Success { // no owner
		t.Fatalf("unattributed settle: %+v", r)
	}
	if r, err := w.f.Settle(x402metrics.WithOwner(context.Background(), "usr_bob"), w.pay(5_000, 600)); err != nil || !r.Success {
		t.Fatalf("bob's settle: %+v %v", r, err)
	}
	day := w.clock().UTC().Format(time.DateOnly)
	want := day + " eip155:1337 v2/950000 s1/50000 f1/900000; all: eip155:1337 v2/950000 s1/50000 f1/900000"
	wantBob := day + " eip155:1337 v1/5000 s1/5000 f0/0; all: eip155:1337 v1/5000 s1/5000 f0/0"
	m := x402metrics.Open(w.eng, x402metrics.Options{NoCompactor: true, Now: w.clock})
	check := func(when string) {
		t.Helper()
		if got := w.metricsOf(m, "usr_alice"); got != want {
			t.Fatalf("%s: alice's metrics %q, want %q", when, got, want)
		}
		if got := w.metricsOf(m, "usr_bob"); got != wantBob {
			t.Fatalf("%s: bob's metrics %q, want %q", when, got, wantBob)
		}
	}
	defer func() { m.Close() }()
	restart := func() {
		m.Close()
		w.restart()
		m = x402metrics.Open(w.eng, x402metrics.Options{NoCompactor: true, Now: w.clock})
	}
	check("deltas")
	restart()
	check("after a restart")
	w.advance(2 * time.Minute)
	if folded, err := m.Compact(context.Background()); err != nil || folded != 6 {
		t.Fatalf("Compact = %d, %v; want alice's 4 and bob's 2 deltas", folded, err)
	}
	check("folded")
	w.mine()
	if r, err := w.f.Settle(ctx, failing); err != nil || r.Success {
		t.Fatalf("the failed settle retried: %+v %v", r, err)
	}
	restart()
	check("folded, retried and restarted")
}

// TestMetricsCountBatchedOutcomes: in batch mode a settlement counts when
// its batch's outcome is recorded, success and failure alike, once.
func TestMetricsCountBatchedOutcomes(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	w.mine()
	ctx := x402metrics.WithOwner(context.Background(), "usr_alice")
	requests := []*x402.Request{w.pay(10_000, 600), w.pay(20_000, 600)}
	for _, request := range requests {
		if r, err := w.f.Settle(ctx, request); err != nil || !r.Success {
			t.Fatalf("queued settle: %+v %v", r, err)
		}
	}
	// The second is paid directly meanwhile: it fails in its batch.
	_, _, a, _ := w.f.config.Verifier.Identify(requests[1])
	tx, err := bind.Transact(contracts.NewTestUSDC().Instance(w.sim.Client(), w.usdc), w.admin, x402.SettleCallData(a))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := bind.WaitMined(context.Background(), w.sim.Client(), tx.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("the direct transfer: %v %v", r, err)
	}
	w.f.flush()
	if first, second := w.final(requests[0]), w.final(requests[1]); !first.Success || second.Success {
		t.Fatalf("outcomes %+v, %+v; want the first settled, the second failed", first, second)
	}
	m := x402metrics.Open(w.eng, x402metrics.Options{NoCompactor: true, Now: w.clock})
	defer m.Close()
	day := w.clock().UTC().Format(time.DateOnly)
	want := day + " eip155:1337 v2/30000 s1/10000 f1/20000; all: eip155:1337 v2/30000 s1/10000 f1/20000"
	if got := w.metricsOf(m, "usr_alice"); got != want {
		t.Fatalf("alice's metrics %q, want %q", got, want)
	}
}
