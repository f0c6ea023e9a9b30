package contracts

import (
	"context"
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

// gasPayersMax is how many distinct funded payers the gas test creates:
// more than the largest batch that fits under the transaction gas cap.
const gasPayersMax = 600

// fundPayers gives `count` fresh addresses a pool balance of `each` through
// depositFor from one funder, many transactions per block.
func (w *world) fundPayers(count int, each int64) []common.Address {
	w.t.Helper()
	ctx := context.Background()
	total := big.NewInt(each * int64(count))
	w.mint(w.bob.address, total.Int64())
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackApprove(w.pool.Address(), total))
	nonce, err := w.client.PendingNonceAt(ctx, w.bob.address)
	if err != nil {
		w.t.Fatalf("PendingNonceAt: %v", err)
	}
	payers := make([]common.Address, count)
	var last *types.Transaction
	for i := range payers {
		payers[i] = derivedAddress("payer", i)
		opts := *w.bob.opts
		opts.Nonce = new(big.Int).SetUint64(nonce + uint64(i))
		opts.GasLimit = 500_000
		if last, err = bind.Transact(w.pool, &opts, w.poolBinding.PackDepositFor(payers[i], big.NewInt(each))); err != nil {
			w.t.Fatalf("depositFor %d: %v", i, err)
		}
		if i%300 == 299 {
			w.sim.Commit()
		}
	}
	w.sim.Commit()
	r := w.receipt(last)
	if r.Status != types.ReceiptStatusSuccessful {
		w.t.Fatalf("last depositFor failed: gas used %d of %d, block %d", r.GasUsed, last.Gas(), r.BlockNumber)
	}
	w.t.Logf("depositFor to a new pool account: gas used %d", r.GasUsed)
	w.requireBalance("the last payer's pool balance", w.poolBalance(payers[count-1]), each)
	return payers
}

// derivedAddress is a deterministic address nobody holds a key for.
func derivedAddress(kind string, i int) common.Address {
	return common.BytesToAddress(crypto.Keccak256([]byte(fmt.Sprintf("%s-%d", kind, i))))
}

// worstCaseBatch is n entries from distinct payers to distinct payees that
// hold no USDC yet: each entry then pays for a cold payer balance and a
// new token balance (a zero-to-nonzero store), the most an entry costs.
func worstCaseBatch(payers []common.Address, payeeOffset, n int) []SettlementPoolEntry {
	entries := make([]SettlementPoolEntry, n)
	for i := range entries {
		entries[i] = entry(payers[i], derivedAddress("payee", payeeOffset+i), 1_000, 10)
	}
	return entries
}

// estimateSettle is the gas a settleBatch needs as its gas limit (before
// refunds), or an error when it cannot fit the transaction gas cap.
func (w *world) estimateSettle(id [32]byte, entries []SettlementPoolEntry) (uint64, error) {
	pool := w.pool.Address()
	return w.client.EstimateGas(context.Background(), ethereum.CallMsg{
		From: w.relayer.address, To: &pool, Data: w.poolBinding.PackSettleBatch(id, entries),
	})
}

// TestSettleBatchGas measures settleBatch's gas per entry, finds the largest
// worst-case batch under the per-transaction gas cap (EIP-7825, 2^24 on
// Osaka chains; go-ethereum 1.17's dev chain runs Osaka), and checks that
// SettleBatchEntriesMax fits with its margin. The figures are logged (-v).
func TestSettleBatchGas(t *testing.T) {
	w := newWorld(t)
	payers := w.fundPayers(gasPayersMax, 1_000_000)
	payeeOffset := 0
	paidPayees := 0 // the payees of the batch of 100, which then hold USDC
	var estimates = map[int]uint64{}
	for _, n := range []int{1, 10, 100, 500} {
		entries := worstCaseBatch(payers, payeeOffset, n)
		if n == 100 {
			paidPayees = payeeOffset
		}
		payeeOffset += n
		id := batchID(fmt.Sprintf("gas-%d", n))
		estimate, err := w.estimateSettle(id, entries)
		if err != nil {
			t.Logf("settleBatch, %d worst-case entries: does not fit the %d gas cap (%v)", n, params.MaxTxGas, err)
			continue
		}
		estimates[n] = estimate
		opts := *w.relayer.opts
		opts.GasLimit = estimate
		tx, err := bind.Transact(w.pool, &opts, w.poolBinding.PackSettleBatch(id, entries))
		if err != nil {
			t.Fatalf("settleBatch of %d: %v", n, err)
		}
		w.sim.Commit()
		receipt := w.mustSucceed(tx)
		t.Logf("settleBatch, %d worst-case entries: gas limit needed %d, gas used %d, %d per entry",
			n, estimate, receipt.GasUsed, receipt.GasUsed/uint64(n))
	}
	if estimates[1] == 0 || estimates[100] == 0 {
		t.Fatalf("batches of 1 and 100 must fit the gas cap: %v", estimates)
	}
	perEntry := (estimates[100] - estimates[1]) / 99
	base := estimates[1] - perEntry
	t.Logf("worst case: %d gas per entry over a base of %d", perEntry, base)

	// The largest worst-case batch that fits: binary search on estimates
	// (which fail above the cap), from the linear prediction.
	low, high := 100, gasPayersMax // fits, does not fit (checked below)
	if _, err := w.estimateSettle(batchID("max"), worstCaseBatch(payers, payeeOffset, high)); err == nil {
		t.Fatalf("a batch of %d worst-case entries fits the gas cap: raise gasPayersMax", high)
	}
	for high-low > 1 {
		mid := (low + high) / 2
		if _, err := w.estimateSettle(batchID("max"), worstCaseBatch(payers, payeeOffset, mid)); err == nil {
			low = mid
		} else {
			high = mid
		}
	}
	t.Logf("largest worst-case batch under the %d gas cap: %d entries (linear prediction %d); SettleBatchEntriesMax = %d",
		params.MaxTxGas, low, (params.MaxTxGas-base)/perEntry, SettleBatchEntriesMax)
	if SettleBatchEntriesMax > low*9/10 {
		t.Fatalf("SettleBatchEntriesMax = %d leaves less than a 10%% margin under the %d that fit", SettleBatchEntriesMax, low)
	}

	// The cap itself, at SettleBatchEntriesMax: settled on chain, all paid.
	entries := worstCaseBatch(payers, payeeOffset, SettleBatchEntriesMax)
	receipt := w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("at max"), entries))
	t.Logf("settleBatch, %d worst-case entries: gas used %d", SettleBatchEntriesMax, receipt.GasUsed)
	w.requireBalance("the last payee's USDC", w.usdcBalance(entries[len(entries)-1].To), 990)
	w.requirePoolSolvent()

	// The common shape: many payers, one payee (a supplier) already paid.
	supplierBatch := make([]SettlementPoolEntry, 100)
	for i := range supplierBatch {
		supplierBatch[i] = entry(payers[i], w.supplier.address, 1_000, 10)
	}
	w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("supplier warm-up"), supplierBatch[:1]))
	receipt = w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("supplier"), supplierBatch))
	t.Logf("settleBatch, 100 entries to one payee: gas used %d, %d per entry", receipt.GasUsed, receipt.GasUsed/100)

	// Distinct payers and payees, the payees already holding USDC (paid in
	// an earlier batch): a steady state between many pairs.
	receipt = w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("paid payees"), worstCaseBatch(payers, paidPayees, 100)))
	t.Logf("settleBatch, 100 entries to distinct payees holding USDC: gas used %d, %d per entry", receipt.GasUsed, receipt.GasUsed/100)
}
