package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// TestConcurrentChargesHoldsAndCapturesKeepExactBalances runs many
// goroutines charging, holding, capturing and voiding over shared accounts
// (every payer is also a payee, and one supplier is hot), then checks every
// balance against the sum of what was acknowledged, and the invariants.
func TestConcurrentChargesHoldsAndCapturesKeepExactBalances(t *testing.T) {
	ctx := context.Background()
	const (
		accounts   = 16
		workers    = 32
		opsEach    = 150
		startFunds = 1_000_000
		feeBps     = 300
	)
	eng := openTest(t, engine.Options{FeeBps: feeBps})
	ids := make([]engine.AccountID, accounts)
	for i := range ids {
		ids[i] = engine.AccountID(fmt.Sprintf("acct-%02d", i))
		mustCreate(t, eng, ids[i])
		mustCredit(t, eng, engine.TransferID("fund-"+string(ids[i])), ids[i], startFunds)
	}
	// net[i] is the exact expected change of account i, accumulated from
	// acknowledged results only.
	var mu sync.Mutex
	net := make(map[engine.AccountID]int64)
	var fees atomic.Int64
	record := func(from, to engine.AccountID, amount, fee engine.Amount) {
		_, a := amount.Parts()
		_, f := fee.Parts()
		mu.Lock()
		net[from] -= int64(a)
		net[to] += int64(a - f)
		mu.Unlock()
		fees.Add(int64(f))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range opsEach {
				from := ids[rng.IntN(accounts)]
				to := ids[0] // the hot supplier, half the time
				if rng.IntN(2) == 0 {
					to = ids[rng.IntN(accounts)]
				}
				if to == from {
					continue
				}
				amount := engine.NewAmount(uint64(1 + rng.IntN(5000)))
				id := engine.TransferID(fmt.Sprintf("w%d-%d", w, i))
				switch rng.IntN(4) {
				case 0, 1:
					res, err := eng.Charge(ctx, engine.Charge{ID: id, From: from, To: to, Amount: amount})
					if err == nil {
						record(from, to, res.Amount, res.Fee)
					} else if !errors.Is(err, engine.ErrInsufficientFunds) {
						t.Errorf("Charge = %v", err)
					}
				case 2:
					if _, err := eng.Hold(ctx, engine.Hold{ID: id, From: from, To: to, Amount: amount, Timeout: time.Hour}); err != nil {
						if !errors.Is(err, engine.ErrInsufficientFunds) {
							t.Errorf("Hold = %v", err)
						}
						continue
					}
					_, capturedPart := amount.Parts()
					capture := engine.NewAmount(1 + uint64(rng.IntN(int(capturedPart))))
					res, err := eng.Capture(ctx, id, capture)
					if err != nil {
						t.Errorf("Capture = %v", err)
						continue
					}
					record(from, to, res.Captured, res.Fee)
				case 3:
					if _, err := eng.Hold(ctx, engine.Hold{ID: id, From: from, To: to, Amount: amount, Timeout: time.Hour}); err != nil {
						if !errors.Is(err, engine.ErrInsufficientFunds) {
							t.Errorf("Hold = %v", err)
						}
						continue
					}
					if err := eng.Void(ctx, id); err != nil {
						t.Errorf("Void = %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		want := int64(startFunds) + net[id]
		wantBalance(t, eng, id, uint64(want), 0)
	}
	wantBalance(t, eng, engine.FeesAccount(testLedger), uint64(fees.Load()), 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

// TestConcurrentBatchesToHotSupplier sends batches from many consumers to
// one supplier and checks that the supplier receives every charge exactly.
func TestConcurrentBatchesToHotSupplier(t *testing.T) {
	ctx := context.Background()
	const consumers, batches, perBatch = 64, 20, 50
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "supplier")
	for c := range consumers {
		id := engine.AccountID(fmt.Sprintf("consumer-%d", c))
		mustCreate(t, eng, id)
		mustCredit(t, eng, engine.TransferID("fund-"+string(id)), id, batches*perBatch*10)
	}
	var wg sync.WaitGroup
	for c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := engine.AccountID(fmt.Sprintf("consumer-%d", c))
			for b := range batches {
				charges := make([]engine.Charge, perBatch)
				for i := range charges {
					charges[i] = engine.Charge{ID: engine.TransferID(fmt.Sprintf("%s-%d-%d", from, b, i)), From: from, To: "supplier", Amount: engine.NewAmount(10)}
				}
				for i, r := range eng.ChargeBatch(ctx, charges) {
					if r.Err != nil {
						t.Errorf("batch item %d = %v", i, r.Err)
					}
				}
			}
		}()
	}
	wg.Wait()
	wantBalance(t, eng, "supplier", consumers*batches*perBatch*10, 0)
	for c := range consumers {
		wantBalance(t, eng, engine.AccountID(fmt.Sprintf("consumer-%d", c)), 0, 0)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

// TestBatchesSharingClientIDsNeverDeadlock runs batches that claim the same
// client ids in opposite orders: each id must apply exactly once, and no
// batch may wait on another's unsent operation.
func TestBatchesSharingClientIDsNeverDeadlock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng := openTest(t, engine.Options{})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	const ids = 200
	forward := make([]engine.Charge, ids)
	for i := range forward {
		forward[i] = engine.Charge{ID: engine.TransferID(fmt.Sprintf("shared-%d", i)), From: "alice", To: "bob", Amount: engine.NewAmount(1)}
	}
	backward := make([]engine.Charge, ids)
	for i := range backward {
		backward[i] = forward[ids-1-i]
	}
	var wg sync.WaitGroup
	for round := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := forward
			if round%2 == 1 {
				batch = backward
			}
			for i, r := range eng.ChargeBatch(ctx, batch) {
				if r.Err != nil {
					t.Errorf("item %d = %v", i, r.Err)
				}
			}
		}()
	}
	wg.Wait()
	wantBalance(t, eng, "alice", 1_000_000-ids, 0)
	wantBalance(t, eng, "bob", ids, 0)
}

// TestBatchLargerThanInFlightMaxWithARepeatedID runs batches larger than
// the admission limit, each naming one client id twice (its second item is
// retried inside the batch's own admission), from many goroutines at once:
// none may wait on itself, and each id applies once.
func TestBatchLargerThanInFlightMaxWithARepeatedID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng := openTest(t, engine.Options{InFlightMax: 4})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	const batches, size = 8, 10
	var wg sync.WaitGroup
	for b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]engine.Charge, size)
			for i := range batch {
				batch[i] = engine.Charge{ID: engine.TransferID(fmt.Sprintf("b%d-%d", b, i)), From: "alice", To: "bob", Amount: engine.NewAmount(1)}
			}
			batch[size-1].ID = batch[0].ID // the same charge again: a replay
			for i, r := range eng.ChargeBatch(ctx, batch) {
				if r.Err != nil {
					t.Errorf("batch %d item %d = %v", b, i, r.Err)
				}
			}
		}()
	}
	wg.Wait()
	const applied = batches * (size - 1)
	wantBalance(t, eng, "alice", 1_000_000-applied, 0)
	wantBalance(t, eng, "bob", applied, 0)
}
