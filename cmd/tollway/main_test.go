package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tollway/tollway/bench"
)

// beMain makes this test binary act as the tollway command when a test
// starts it as a child (the bench starts servers from its own executable).
const beMain = "TOLLWAY_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestBenchSmoke runs a short `tollway bench` of http-charge (against a
// server it starts as a child process) and embedded-charge, and checks that
// the result file parses, has both runs, and counts no failure.
func TestBenchSmoke(t *testing.T) {
	t.Setenv(beMain, "1")
	out := t.TempDir()
	err := benchCommand([]string{
		"--scenarios", "http-charge,embedded-charge", "--connections", "8", "--callers", "32",
		"--duration", "1s", "--warmup", "200ms", "--repetitions", "1", "--consumers", "50", "--suppliers", "5",
		"--quiet", "--out", out,
	})
	if err != nil {
		t.Fatalf("tollway bench = %v", err)
	}
	report, err := bench.ReadJSON(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v", err)
	}
	seen := map[bench.Scenario]bool{}
	for i := range report.Runs {
		run := &report.Runs[i]
		seen[run.Scenario] = true
		if run.Failed() || run.Operations == 0 || run.Throughput <= 0 || run.Latency.P50 <= 0 {
			t.Errorf("run %s/%s = %d operations, %.0f/s, p50 %.0f µs, failures %v: want work and no failure",
				run.Scenario, run.Target, run.Operations, run.Throughput, run.Latency.P50, run.Failures)
		}
	}
	if !seen[bench.ScenarioHTTPCharge] || !seen[bench.ScenarioEmbeddedCharge] {
		t.Fatalf("results have scenarios %v, want http-charge and embedded-charge", seen)
	}
	for _, name := range []string{"summary.md", filepath.Join("plots", "http-charge-c8-throughput.svg")} {
		if info, err := os.Stat(filepath.Join(out, name)); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v, want a non-empty file", name, err)
		}
	}
}
