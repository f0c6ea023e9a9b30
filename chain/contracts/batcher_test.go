package contracts

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// deployBatcher deploys an AuthorizationBatcher.
func (w *world) deployBatcher() *bind.BoundContract {
	w.t.Helper()
	return NewAuthorizationBatcher().Instance(w.client, w.deploy(AuthorizationBatcherMetaData.Bin, nil))
}

// batchEntry is a's batcher entry with its signature.
func batchEntry(a authorization, signature []byte) AuthorizationBatcherAuthorization {
	return AuthorizationBatcherAuthorization{From: a.from, To: a.to, Value: big.NewInt(a.value),
		ValidAfter: big.NewInt(a.validAfter), ValidBefore: big.NewInt(a.validBefore), Nonce: a.nonce, Signature: signature}
}

// outcomes reads a settle receipt's events: per (from, nonce), true for
// AuthorizationSettled, false for AuthorizationFailed; a second event for
// one entry fails the test.
func (w *world) outcomes(receipt *types.Receipt, token common.Address) map[common.Hash]bool {
	w.t.Helper()
	binding := NewAuthorizationBatcher()
	got := map[common.Hash]bool{}
	record := func(from common.Address, nonce common.Hash, eventToken common.Address, settled bool) {
		key := crypto.Keccak256Hash(from[:], nonce[:])
		if _, twice := got[key]; twice || eventToken != token {
			w.t.Fatalf("entry %s/%s: a second event, or the token %s, not %s", from, nonce, eventToken, token)
		}
		got[key] = settled
	}
	for _, log := range receipt.Logs {
		if e, err := binding.UnpackAuthorizationSettledEvent(log); err == nil {
			record(e.From, e.Nonce, e.Token, true)
		} else if e, err := binding.UnpackAuthorizationFailedEvent(log); err == nil {
			record(e.From, e.Nonce, e.Token, false)
		}
	}
	return got
}

func outcomeKey(from common.Address, nonce common.Hash) common.Hash {
	return crypto.Keccak256Hash(from[:], nonce[:])
}

// TestAuthorizationBatcherSettlesEachEntryAlone: a batch of good entries
// and bad ones (a nonce already used on chain, an expired authorization,
// a forged signature, a value above the payer's balance) moves exactly the
// good ones' values; each entry has exactly one event naming its outcome,
// and the bytes-signature overload serves a signature given with v 0/1.
func TestAuthorizationBatcherSettlesEachEntryAlone(t *testing.T) {
	w := newWorld(t)
	batcher := w.deployBatcher()
	binding := NewAuthorizationBatcher()
	w.mint(w.alice.address, 1_000_000)
	now := int64(w.blockTime())
	sign := func(a authorization) []byte { return w.signAuthorization(w.alice.key, "TransferWithAuthorization", a) }
	good := func(value int64) authorization {
		return authorization{from: w.alice.address, to: w.supplier.address, value: value, validBefore: now + 3600, nonce: randomNonce(t)}
	}
	first, second, third := good(100_000), good(200_000), good(300_000)
	used := good(50_000)
	w.mustSend(w.bob, w.usdc, w.packTransfer(used, sign(used))) // used on chain before the batch
	expired := good(1_000)
	expired.validBefore = now
	forged := good(1_000)
	tooMuch := good(1_000_000)
	lowV := sign(third)
	lowV[64] -= 27 // as some wallets sign: the batcher raises it

	entries := []AuthorizationBatcherAuthorization{
		batchEntry(first, sign(first)),
		batchEntry(used, sign(used)),
		batchEntry(second, sign(second)),
		batchEntry(expired, sign(expired)),
		batchEntry(forged, w.signAuthorization(w.bob.key, "TransferWithAuthorization", forged)),
		batchEntry(tooMuch, sign(tooMuch)),
		batchEntry(third, lowV),
	}
	receipt := w.mustSend(w.bob, batcher, binding.PackSettle(w.usdc.Address(), entries))
	got := w.outcomes(receipt, w.usdc.Address())
	want := map[common.Hash]bool{}
	for _, a := range []authorization{first, second, third} {
		want[outcomeKey(a.from, a.nonce)] = true
	}
	for _, a := range []authorization{used, expired, forged, tooMuch} {
		want[outcomeKey(a.from, a.nonce)] = false
	}
	if len(got) != len(want) {
		t.Fatalf("%d entry events, want %d", len(got), len(want))
	}
	for key, settled := range want {
		if got[key] != settled {
			t.Fatalf("entry %s settled = %v, want %v", key, got[key], settled)
		}
	}
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 50_000+600_000)
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 1_000_000-650_000)
	for _, a := range []authorization{expired, forged, tooMuch} {
		if w.authorizationUsed(a.from, a.nonce) {
			t.Fatalf("a failed entry's nonce %s is marked used", a.nonce)
		}
	}
	// The failure reason is the token's revert data.
	for _, log := range receipt.Logs {
		if e, err := binding.UnpackAuthorizationFailedEvent(log); err == nil && e.Nonce == used.nonce {
			want := w.usdcABI.Errors["AuthorizationAlreadyUsed"].ID
			if len(e.Reason) < 4 || [4]byte(e.Reason[:4]) != [4]byte(want[:4]) {
				t.Fatalf("the used entry's reason %x, want AuthorizationAlreadyUsed", e.Reason)
			}
		}
	}
}

// TestAuthorizationBatcherGasLimitIsHonest: at the gas limit
// eth_estimateGas returns, every entry runs with its full gas (the
// batcher reverts rather than let an entry fail out of gas), and below
// it the batch reverts as a whole.
func TestAuthorizationBatcherGasLimitIsHonest(t *testing.T) {
	w := newWorld(t)
	batcher := w.deployBatcher()
	payers := w.fundSigners(5, 10_000)
	entries := worstCaseAuthorizations(w, payers, 0, 5)
	data := NewAuthorizationBatcher().PackSettle(w.usdc.Address(), entries)
	to := batcher.Address()
	estimate, err := w.client.EstimateGas(context.Background(), ethereum.CallMsg{From: w.bob.address, To: &to, Data: data})
	if err != nil {
		t.Fatalf("EstimateGas: %v", err)
	}
	low := *w.bob.opts
	low.GasLimit = estimate - 30_000
	tx, err := bind.Transact(batcher, &low, data)
	if err != nil {
		t.Fatalf("settle below the estimate: %v", err)
	}
	w.sim.Commit()
	if r := w.receipt(tx); r.Status != types.ReceiptStatusFailed {
		t.Fatalf("settle with %d gas (estimate %d): status %d, want a revert as a whole", low.GasLimit, estimate, r.Status)
	}
	at := *w.bob.opts
	at.GasLimit = estimate
	if tx, err = bind.Transact(batcher, &at, data); err != nil {
		t.Fatalf("settle at the estimate: %v", err)
	}
	w.sim.Commit()
	got := w.outcomes(w.mustSucceed(tx), w.usdc.Address())
	for _, e := range entries {
		if !got[outcomeKey(e.From, e.Nonce)] {
			t.Fatalf("at the estimated gas limit, entry %s/%s did not settle", e.From, common.Hash(e.Nonce))
		}
	}
}

// signer is a key and its address.
type signer struct {
	key     *ecdsa.PrivateKey
	address common.Address
}

// fundSigners mints `each` test USDC to `count` derived keys, many mints
// per block.
func (w *world) fundSigners(count int, each int64) []signer {
	w.t.Helper()
	ctx := context.Background()
	nonce, err := w.client.PendingNonceAt(ctx, w.admin.address)
	if err != nil {
		w.t.Fatalf("PendingNonceAt: %v", err)
	}
	signers := make([]signer, count)
	var last *types.Transaction
	for i := range signers {
		key, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("batch-payer-%d", i))))
		if err != nil {
			w.t.Fatalf("ToECDSA: %v", err)
		}
		signers[i] = signer{key: key, address: crypto.PubkeyToAddress(key.PublicKey)}
		opts := *w.admin.opts
		opts.Nonce = new(big.Int).SetUint64(nonce + uint64(i))
		opts.GasLimit = 500_000
		if last, err = bind.Transact(w.usdc, &opts, w.usdcBinding.PackMint(signers[i].address, big.NewInt(each))); err != nil {
			w.t.Fatalf("mint %d: %v", i, err)
		}
		if i%200 == 199 {
			w.sim.Commit()
		}
	}
	w.sim.Commit()
	w.mustSucceed(last)
	return signers
}

// worstCaseAuthorizations is n authorizations from distinct payers to
// distinct payees holding no USDC yet: each entry writes a new nonce slot
// and a new balance, the most an entry costs.
func worstCaseAuthorizations(w *world, payers []signer, payeeOffset, n int) []AuthorizationBatcherAuthorization {
	entries := make([]AuthorizationBatcherAuthorization, n)
	for i := range entries {
		a := authorization{from: payers[i].address, to: derivedAddress("batch-payee", payeeOffset+i), value: 1_000,
			validBefore: int64(w.blockTime()) + 3600, nonce: crypto.Keccak256Hash([]byte(fmt.Sprintf("nonce-%d-%d", payeeOffset, i)))}
		entries[i] = batchEntry(a, w.signAuthorization(payers[i].key, "TransferWithAuthorization", a))
	}
	return entries
}

// TestAuthorizationBatcherGas measures settle's gas per entry, finds the
// largest worst-case batch under the per-transaction gas cap (EIP-7825),
// and checks that X402BatchEntriesMax fits with its margin and that a
// batch at the cap settles every entry. The figures are logged (-v).
func TestAuthorizationBatcherGas(t *testing.T) {
	w := newWorld(t)
	batcher := w.deployBatcher()
	binding := NewAuthorizationBatcher()
	const payersMax = 300
	payers := w.fundSigners(payersMax, 1_000_000)
	to := batcher.Address()
	estimate := func(entries []AuthorizationBatcherAuthorization) (uint64, error) {
		return w.client.EstimateGas(context.Background(), ethereum.CallMsg{From: w.bob.address, To: &to,
			Data: binding.PackSettle(w.usdc.Address(), entries)})
	}
	offset := 0
	estimates := map[int]uint64{}
	for _, n := range []int{1, 10, 50} {
		entries := worstCaseAuthorizations(w, payers, offset, n)
		offset += n
		e, err := estimate(entries)
		if err != nil {
			t.Fatalf("settle of %d worst-case entries: %v", n, err)
		}
		estimates[n] = e
		opts := *w.bob.opts
		opts.GasLimit = e
		tx, err := bind.Transact(batcher, &opts, binding.PackSettle(w.usdc.Address(), entries))
		if err != nil {
			t.Fatalf("settle of %d: %v", n, err)
		}
		w.sim.Commit()
		receipt := w.mustSucceed(tx)
		if got := w.outcomes(receipt, w.usdc.Address()); len(got) != n {
			t.Fatalf("settle of %d: %d events", n, len(got))
		}
		t.Logf("settle, %d worst-case entries: gas limit needed %d, gas used %d, %d per entry", n, e, receipt.GasUsed, receipt.GasUsed/uint64(n))
	}
	perEntry := (estimates[50] - estimates[1]) / 49
	t.Logf("worst case: %d gas per entry over a base of %d", perEntry, estimates[1]-perEntry)

	low, high := 50, payersMax
	if _, err := estimate(worstCaseAuthorizations(w, payers, offset, high)); err == nil {
		t.Fatalf("a batch of %d worst-case entries fits the gas cap: raise payersMax", high)
	}
	for high-low > 1 {
		mid := (low + high) / 2
		if _, err := estimate(worstCaseAuthorizations(w, payers, offset, mid)); err == nil {
			low = mid
		} else {
			high = mid
		}
	}
	t.Logf("largest worst-case batch under the %d gas cap: %d entries; X402BatchEntriesMax = %d", params.MaxTxGas, low, X402BatchEntriesMax)
	if X402BatchEntriesMax > low*9/10 {
		t.Fatalf("X402BatchEntriesMax = %d leaves less than a 10%% margin under the %d that fit", X402BatchEntriesMax, low)
	}

	entries := worstCaseAuthorizations(w, payers, offset, X402BatchEntriesMax)
	receipt := w.mustSend(w.bob, batcher, binding.PackSettle(w.usdc.Address(), entries))
	got := w.outcomes(receipt, w.usdc.Address())
	for _, e := range entries {
		if !got[outcomeKey(e.From, e.Nonce)] {
			t.Fatalf("at the cap, entry %s did not settle", e.From)
		}
	}
	t.Logf("settle, %d worst-case entries: gas used %d", X402BatchEntriesMax, receipt.GasUsed)

	// The common shape: many payers, one payee already paid.
	same := make([]AuthorizationBatcherAuthorization, X402BatchEntriesMax)
	for i := range same {
		a := authorization{from: payers[i].address, to: w.supplier.address, value: 1_000, validBefore: int64(w.blockTime()) + 3600,
			nonce: crypto.Keccak256Hash([]byte(fmt.Sprintf("supplier-%d", i)))}
		same[i] = batchEntry(a, w.signAuthorization(payers[i].key, "TransferWithAuthorization", a))
	}
	receipt = w.mustSend(w.bob, batcher, binding.PackSettle(w.usdc.Address(), same))
	t.Logf("settle, %d entries to one payee: gas used %d, %d per entry", len(same), receipt.GasUsed, receipt.GasUsed/uint64(len(same)))
}
