package engine_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Allocations per embedded charge (issue 18): one sequential caller of
// engine.Charge on an engine over a temporary directory, each charge with a
// fresh random client id (as an HTTP charge without an Idempotency-Key),
// from one funded account to another. Every allocation of the process
// counts, background work included (the log's committer, Pebble): with one
// caller it runs once per charge, so it is the charge's. The ids are made
// before the measurement.
//
// The budget that CI checks is in allocs_budget_test.go.

// chargeRig is an engine with a payer and a payee.
type chargeRig struct {
	eng *engine.Engine
}

func newChargeRig(tb testing.TB) *chargeRig {
	tb.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	eng := openTest(tb, engine.Options{FeeBps: 100, Logger: logger})
	mustCreate(tb, eng, "payer", "payee")
	mustCredit(tb, eng, "dep-1", "payer", 1<<62)
	return &chargeRig{eng: eng}
}

// ids returns n random charge ids, made before a measurement.
func chargeIDs(n int) []engine.TransferID {
	ids := make([]engine.TransferID, n)
	for i := range ids {
		ids[i] = engine.TransferID("ch_" + access.RandomBase62(22))
	}
	return ids
}

func (r *chargeRig) charge(tb testing.TB, id engine.TransferID) {
	_, err := r.eng.Charge(context.Background(), engine.Charge{ID: id, From: "payer", To: "payee", Amount: engine.NewAmount(1)})
	if err != nil {
		tb.Fatalf("Charge(%s) = %v", id, err)
	}
}

// allocsPerCharge runs warmup charges, then n, and returns the heap
// allocations and bytes per charge (runtime.MemStats, the whole process).
func (r *chargeRig) allocsPerCharge(tb testing.TB, warmup, n int) (allocs, bytes float64) {
	tb.Helper()
	ids := chargeIDs(warmup + n)
	for _, id := range ids[:warmup] {
		r.charge(tb, id)
	}
	ids = ids[warmup:]
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, id := range ids {
		r.charge(tb, id)
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// BenchmarkChargeAllocs reports allocs/op and B/op of one embedded charge,
// with its fsync (time per op is one caller's latency, not a throughput).
//
//	go test -run '^$' -bench ChargeAllocs -benchmem ./httpapi/ ./engine/
func BenchmarkChargeAllocs(b *testing.B) {
	r := newChargeRig(b)
	ids := chargeIDs(200 + b.N)
	for _, id := range ids[:200] {
		r.charge(b, id)
	}
	ids = ids[200:]
	b.ReportAllocs()
	b.ResetTimer()
	for _, id := range ids {
		r.charge(b, id)
	}
}
