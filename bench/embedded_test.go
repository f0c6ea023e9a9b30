package bench

import (
	"context"
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

var quietLogger = slog.New(slog.DiscardHandler)

var embeddedDuration = flag.Duration("embedded-duration", 5*time.Second, "measured time of each embedded benchmark")

var embeddedSequentialIDs = flag.Bool("embedded-sequential-ids", false,
	"embedded benchmarks use sequential client ids (prefix + counter) instead of scattered ones, as real clients' random ids are")

// The go test benchmarks run the scenarios of `tollway bench` through the
// same runner (Measure) and targets, one closed-loop run each, ignoring
// b.N: run them with -benchtime 1x. They report what the runner measured
// and, from the engine's counters, its group commits over the run.

// measured reports run's figures on b and logs them with the engine's
// commits between before and after.
func measured(b *testing.B, run Run, before, after engine.Stats) {
	b.Helper()
	if run.Failed() {
		b.Fatalf("failed requests: %v", run.Failures)
	}
	b.ReportMetric(run.Throughput, "charges/s")
	b.ReportMetric(run.Latency.P50, "p50-µs")
	b.ReportMetric(run.Latency.P99, "p99-µs")
	b.ReportMetric(run.ServerCPUPerOperation, "cpu-µs/charge")
	commits := after.Commits - before.Commits
	entriesPerCommit := 0.0
	if commits > 0 {
		entriesPerCommit = float64(after.CommitsEntries-before.CommitsEntries) / float64(commits)
	}
	var commitMean time.Duration
	if timed := after.CommitDurationSeconds.Count - before.CommitDurationSeconds.Count; timed > 0 {
		sum := after.CommitDurationSeconds.Sum - before.CommitDurationSeconds.Sum
		commitMean = time.Duration(sum / float64(timed) * float64(time.Second))
	}
	b.Logf("%d charges in %v: %.0f/s, p50 %.0f µs p99 %.0f µs p99.9 %.0f µs max %.0f µs per request; "+
		"%d commits of %.1f entries, %v each on average; %.1f µs CPU per charge (this process: server and load)",
		run.Operations, run.Elapsed, run.Throughput, run.Latency.P50, run.Latency.P99, run.Latency.P999, run.Latency.Max,
		commits, entriesPerCommit, commitMean.Round(time.Microsecond), run.ServerCPUPerOperation)
}

// BenchmarkEmbeddedCharge measures durable charges per second in-process
// (the embedded-charge scenario) with 1, 64 and 1024 concurrent callers
// over 10,000 consumers and 100 suppliers, with one hot supplier, and in
// ChargeBatch calls of 100 (latency per call).
func BenchmarkEmbeddedCharge(b *testing.B) {
	for _, tc := range []struct {
		name                        string
		callers, suppliers, batchOf int
	}{
		{"callers=1", 1, 100, 0},
		{"callers=64", 64, 100, 0},
		{"callers=1024", 1024, 100, 0},
		{"hot-supplier/callers=1024", 1024, 1, 0},
		{"batch=100/callers=64", 64, 100, 100},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			target, err := NewEmbeddedTarget(ctx, b.TempDir(), 10_000, tc.suppliers, tc.batchOf, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer target.Close()
			engine := target.(*embeddedTarget)
			engine.sequentialIDs = *embeddedSequentialIDs
			b.ResetTimer()
			before := engine.Stats()
			run, err := Measure(ctx, ScenarioEmbeddedCharge, target, Load{Connections: tc.callers, Duration: *embeddedDuration}, 1, nil)
			after := engine.Stats()
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			measured(b, run, before, after)
		})
	}
}
