//go:build !race

package engine_test

import (
	"math"
	"testing"
)

// The race detector's instrumentation allocates (and changes what escapes),
// so the budget is checked only in builds without it: `make test` runs this
// test once more without -race.

// allocBudgetEmbeddedCharge covers one engine.Charge with a new client id
// and its log commit (chargeRig: one caller, background work included).
// Measured 24.0 with `go test -run '^$' -bench ChargeAllocs -benchmem
// ./engine/` before issue 18's changes; 22.0 with the actors' own mailbox,
// 7.0 with the index in its own store (no Pebble snapshot per group).
const allocBudgetEmbeddedCharge = 7

// allocTolerance is what a measurement may exceed its budget by. Counts are
// deterministic per charge; what is not (sync.Pool refills after a GC,
// Pebble's memtable rotations) adds a fraction per charge, averaged over
// the rounds' charges. One new allocation per charge (+1.0) fails.
const allocTolerance = 0.5

// TestAllocationBudgetEmbeddedCharge holds allocations per embedded charge
// at their budget. One sequential caller, warmed up; the least of three
// rounds, so a round that met background work (a Pebble flush) does not
// count.
func TestAllocationBudgetEmbeddedCharge(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 3,000 charges")
	}
	r := newChargeRig(t)
	least := math.Inf(1)
	for round := range 3 {
		warmup := 0
		if round == 0 {
			warmup = 200
		}
		allocs, _ := r.allocsPerCharge(t, warmup, 1000)
		least = min(least, allocs)
	}
	switch {
	case least > allocBudgetEmbeddedCharge+allocTolerance:
		t.Errorf("allocations per embedded charge rose from %d to %.2f: find the new allocation with "+
			"`go test -run '^$' -bench ChargeAllocs -benchmem -memprofile mem.out ./engine/` and "+
			"`go tool pprof -sample_index=alloc_objects`, or raise the budget in allocs_budget_test.go with the reason",
			allocBudgetEmbeddedCharge, least)
	case least < allocBudgetEmbeddedCharge-1+allocTolerance:
		t.Logf("allocations per embedded charge fell from %d to %.2f: lower the budget in allocs_budget_test.go", allocBudgetEmbeddedCharge, least)
	default:
		t.Logf("allocations per embedded charge: %.2f (budget %d)", least, allocBudgetEmbeddedCharge)
	}
}
