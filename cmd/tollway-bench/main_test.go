package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollway/tollway/bench"
)

// beMain makes this test binary act as the tollway-bench command when a
// test starts it as a child (the bench starts the no-op server from its own
// executable).
const beMain = "TOLLWAY_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		if err := run(os.Args[1:]); err != nil {
			os.Stderr.WriteString("tollway-bench: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// buildTollway builds the server, cmd/tollway, into a temporary directory.
func buildTollway(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool on PATH to build cmd/tollway")
	}
	exe := filepath.Join(t.TempDir(), "tollway")
	if out, err := exec.Command("go", "build", "-o", exe, "../tollway").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tollway: %v\n%s", err, out)
	}
	return exe
}

// TestBenchSmoke runs a short bench of http-charge (against a server it
// starts as a child process) and embedded-charge, and checks that the
// result file parses, has both runs, and counts no failure.
func TestBenchSmoke(t *testing.T) {
	t.Setenv(beMain, "1")
	out := t.TempDir()
	err := benchCommand([]string{"--tollway", buildTollway(t),
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

func TestCommandArgsLeaveOutTheServerExecutable(t *testing.T) {
	got := strings.Join(commandArgs([]string{"--tollway", "/bin/tollway", "--scenarios", "http-charge", "-tollway=/x", "--quiet"}), " ")
	if want := "--scenarios http-charge --quiet"; got != want {
		t.Fatalf("commandArgs = %q, want %q", got, want)
	}
}
