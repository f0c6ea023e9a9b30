package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// runBench runs one repetition of `tollway bench args…` with 50 consumers
// and 5 suppliers into a temporary directory, and returns its results.json
// and the directory.
func runBench(t *testing.T, args ...string) (report *bench.Report, out string) {
	t.Helper()
	out = t.TempDir()
	args = append(args, "--repetitions", "1", "--consumers", "50", "--suppliers", "5", "--quiet", "--out", out)
	if err := benchCommand(args); err != nil {
		t.Fatalf("tollway bench = %v", err)
	}
	report, err := bench.ReadJSON(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v", err)
	}
	return report, out
}

// TestBenchSmoke runs a short bench of http-charge (against a server it
// starts as a child process) and embedded-charge, and checks that the
// result file parses, has both runs, and counts no failure.
func TestBenchSmoke(t *testing.T) {
	t.Setenv(beMain, "1")
	report, out := runBench(t, "--tollway", buildTollway(t),
		"--scenarios", "http-charge,embedded-charge", "--connections", "8", "--callers", "32",
		"--duration", "1s", "--warmup", "200ms")
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

func TestParseBenchCallers(t *testing.T) {
	c, err := parseBench(nil)
	if err != nil {
		t.Fatalf("parseBench() = %v", err)
	}
	if !slices.Equal(c.callers, []int{64, 1024}) || !slices.Equal(c.connections, []int{64, 256}) {
		t.Errorf("parseBench() callers %v, connections %v; want [64 1024] and [64 256]", c.callers, c.connections)
	}
	for _, tc := range []struct {
		args []string
		want []int
	}{
		{[]string{"--callers", "32"}, []int{32}},
		{[]string{"--callers", "1024, 64"}, []int{1024, 64}},
		{[]string{"--callers=8,16,65536"}, []int{8, 16, 65_536}},
	} {
		c, err := parseBench(tc.args)
		if err != nil || !slices.Equal(c.callers, tc.want) {
			t.Errorf("parseBench(%q) = callers %v, %v; want %v", tc.args, c.callers, err, tc.want)
		}
	}
	for _, args := range [][]string{
		{"--callers", ""}, {"--callers", "0"}, {"--callers", "64,x"}, {"--callers", "65537"}, {"--callers", "64,64"},
	} {
		if c, err := parseBench(args); err == nil {
			t.Errorf("parseBench(%q) = callers %v, want an error", args, c.callers)
		}
	}
}

// TestBenchEmbeddedRunsAtEveryCallerCount runs embedded-charge alone (no
// server to build) at two caller counts, and checks that results.json has
// a run at each, with work, no failure and this process's memory.
func TestBenchEmbeddedRunsAtEveryCallerCount(t *testing.T) {
	report, out := runBench(t, "--scenarios", "embedded-charge", "--callers", "4,16",
		"--duration", "1s", "--warmup", "100ms")
	var callers []int
	for i := range report.Runs {
		run := &report.Runs[i]
		callers = append(callers, run.Load.Connections)
		if run.Scenario != bench.ScenarioEmbeddedCharge || run.Failed() || run.Operations == 0 {
			t.Errorf("run %s at %d callers = %d operations, failures %v; want embedded-charge work and no failure",
				run.Scenario, run.Load.Connections, run.Operations, run.Failures)
		}
		if run.ServerRSSStart <= 0 || run.ServerRSSEnd <= 0 || run.ServerRSSPeak < run.ServerRSSEnd/2 {
			t.Errorf("run at %d callers: RSS %d at the start, %d at the end, peak %d; want this process's memory",
				run.Load.Connections, run.ServerRSSStart, run.ServerRSSEnd, run.ServerRSSPeak)
		}
	}
	if !slices.Equal(callers, []int{4, 16}) {
		t.Errorf("runs at %v callers, want [4 16]", callers)
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| embedded-charge | tollway | 4 callers |", "| embedded-charge | tollway | 16 callers |"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, summary)
		}
	}
}
