package facilitator

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
)

func (w *world) settle(request *x402.Request) x402.SettleResponse {
	w.t.Helper()
	response, err := w.f.Settle(context.Background(), request)
	if err != nil {
		w.t.Fatalf("Settle: %v", err)
	}
	return response
}

func (w *world) usdcOf(account common.Address) int64 {
	w.t.Helper()
	usdc := contracts.NewTestUSDC()
	v, err := bind.Call(usdc.Instance(w.sim.Client(), w.usdc), nil, usdc.PackBalanceOf(account), usdc.UnpackBalanceOf)
	if err != nil {
		w.t.Fatal(err)
	}
	return v.Int64()
}

// TestSettleOnce: a verified payment settles once; every later settle, also
// after a restart, answers the first outcome, and the payee was paid once.
func TestSettleOnce(t *testing.T) {
	w := newWorld(t)
	w.mine()
	request := w.pay(100_000, 600)
	if r := w.verify(request); !r.IsValid {
		t.Fatalf("verify: %+v", r)
	}
	first := w.settle(request)
	if !first.Success || first.Transaction == "" || first.Network != "eip155:1337" || first.Amount != "100000" {
		t.Fatalf("settle: %+v", first)
	}
	if got := w.usdcOf(w.payee); got != 100_000 {
		t.Fatalf("payee holds %d, want 100000", got)
	}
	if again := w.settle(request); again != first {
		t.Fatalf("a second settle: %+v, want the first %+v", again, first)
	}
	if got := w.reserved(); got != 0 {
		t.Fatalf("reserved %d after settlement, want 0", got)
	}
	w.restart()
	w.mine()
	if again := w.settle(request); again != first {
		t.Fatalf("a settle after a restart: %+v, want the first %+v", again, first)
	}
	if got := w.usdcOf(w.payee); got != 100_000 {
		t.Fatalf("payee holds %d, want 100000", got)
	}
}

// TestSettleConcurrently: eight settles of one unverified payment at once
// give one transaction, and every caller its outcome.
func TestSettleConcurrently(t *testing.T) {
	w := newWorld(t)
	w.mine()
	request := w.pay(50_000, 600)
	var wg sync.WaitGroup
	responses := make([]x402.SettleResponse, 8)
	for i := range responses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.f.Settle(context.Background(), request)
			if err != nil {
				t.Error(err)
			}
			responses[i] = r
		}()
	}
	wg.Wait()
	for _, r := range responses {
		if !r.Success || r.Transaction != responses[0].Transaction {
			t.Fatalf("responses %+v: want one transaction for all", responses)
		}
	}
	if got := w.usdcOf(w.payee); got != 50_000 {
		t.Fatalf("payee holds %d, want 50000", got)
	}
}

// TestSettleRefusesInvalid: a payment that does not verify is answered
// with its reason, and nothing is sent.
func TestSettleRefusesInvalid(t *testing.T) {
	w := newWorld(t)
	w.mine()
	r := w.settle(w.pay(aliceUSDC+1, 600))
	if r.Success || r.ErrorReason != x402.ReasonInsufficientBalance || r.Transaction != "" {
		t.Fatalf("settle over the balance: %+v", r)
	}
	if got := w.usdcOf(w.payee); got != 0 {
		t.Fatalf("payee holds %d, want 0", got)
	}
}

// TestSettleResumesAfterRestart: a settlement signed, recorded and sent but
// not mined when the facilitator stops (its caller told settlement_pending)
// is sent again at the next start and settles once; the retry gets it.
func TestSettleResumesAfterRestart(t *testing.T) {
	w := newWorld(t)
	w.wait = 100 * time.Millisecond
	w.restart() // with the short wait
	request := w.pay(70_000, 600)
	pending := w.settle(request) // nothing mines
	if pending.Success || pending.ErrorReason != ReasonSettlementPending || pending.Transaction == "" {
		t.Fatalf("unmined settle: %+v", pending)
	}
	w.wait = 10 * time.Second
	w.restart()
	w.mine()
	done := w.settle(request)
	if !done.Success || done.Transaction != pending.Transaction {
		t.Fatalf("after the restart: %+v, want success by %s", done, pending.Transaction)
	}
	if got := w.usdcOf(w.payee); got != 70_000 {
		t.Fatalf("payee holds %d, want 70000", got)
	}
}

// TestSettleSignsAgainWhenItsNonceIsTaken: a settlement whose transaction
// never reached the node, and whose nonce another transaction of the
// signer's key then took, can never be mined; a later settle sees that
// (the nonce passed, no receipt, the authorization unused), signs the call
// again with a fresh nonce, records it and settles: the payee paid once.
func TestSettleSignsAgainWhenItsNonceIsTaken(t *testing.T) {
	w := newWorld(t)
	w.wait = 300 * time.Millisecond
	w.restart()
	w.mine()
	request := w.pay(40_000, 600)
	w.drop.Store(true) // the settlement's send is lost
	pending := w.settle(request)
	w.drop.Store(false)
	if pending.Success || pending.ErrorReason != ReasonSettlementPending || pending.Transaction == "" {
		t.Fatalf("a lost settlement: %+v, want %s", pending, ReasonSettlementPending)
	}
	// Another transaction of the signer's key takes the nonce.
	ctx := context.Background()
	client := w.sim.Client()
	signer := crypto.PubkeyToAddress(w.signer.PublicKey)
	nonce, err := client.PendingNonceAt(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fee := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	other, err := types.SignNewTx(w.signer, types.LatestSignerForChainID(simChainID), &types.DynamicFeeTx{
		ChainID: simChainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: fee, Gas: 21_000, To: &signer})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SendTransaction(ctx, other); err != nil {
		t.Fatal(err)
	}
	if r, err := bind.WaitMined(ctx, client, other.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("the other transaction: %v %v", r, err)
	}
	w.wait = 10 * time.Second
	w.restart() // also: the restart resends the dead transaction, refused as nonce too low
	w.mine()
	done := w.settle(request)
	if !done.Success || done.Transaction == pending.Transaction || done.Transaction == "" {
		t.Fatalf("after the nonce was taken: %+v, want success by a new transaction (not %s)", done, pending.Transaction)
	}
	if again := w.settle(request); again != done {
		t.Fatalf("a retry: %+v, want %+v", again, done)
	}
	if got := w.usdcOf(w.payee); got != 40_000 {
		t.Fatalf("payee holds %d, want 40000", got)
	}
	if got := w.reserved(); got != 0 {
		t.Fatalf("reserved %d, want 0", got)
	}
}
