package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// fakeTarget is a Target whose Do and ServerCPU are a test's functions. It
// stands in for nothing a user runs: it lets the runner's counting and
// timing be checked against known answers.
type fakeTarget struct {
	do  func(ctx context.Context, worker int) (operations int, failure string)
	cpu func() (time.Duration, error) // nil: always zero
}

func (f *fakeTarget) Name() string { return "fake" }

func (f *fakeTarget) Do(ctx context.Context, worker int) (int, string) { return f.do(ctx, worker) }

func (f *fakeTarget) ServerCPU() (time.Duration, error) {
	if f.cpu == nil {
		return 0, nil
	}
	return f.cpu()
}

func (f *fakeTarget) Close() error { return nil }

// sleep waits for d or until ctx is done, as a target honouring ctx does.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// outcome is one answer of the fake target.
type outcome struct {
	operations int
	failure    string
}

// fakeOutcome is the fake's deterministic answer to a worker's n-th call.
func fakeOutcome(n int) outcome {
	switch {
	case n%5 == 4:
		return outcome{0, "402"}
	case n%7 == 6:
		return outcome{0, "error: timeout"}
	default:
		return outcome{1 + n%3, ""}
	}
}

func sumPerSecond(r Run) float64 {
	var sum float64
	for _, n := range r.PerSecond {
		sum += n
	}
	return sum
}

func TestMeasureClosedLoopCountsEveryRequestAnsweredInTheWindowExactly(t *testing.T) {
	const connections = 4
	// Each worker's answers, appended by that worker's goroutine only.
	answers := make([][]outcome, connections)
	var cpuReads atomic.Int64
	target := &fakeTarget{
		do: func(ctx context.Context, worker int) (int, string) {
			sleep(ctx, time.Millisecond)
			o := fakeOutcome(len(answers[worker]))
			answers[worker] = append(answers[worker], o)
			return o.operations, o.failure
		},
		// 0 at the start of the window, 3 ms at its end.
		cpu: func() (time.Duration, error) { return time.Duration(cpuReads.Add(1)-1) * 3 * time.Millisecond, nil },
	}
	load := Load{Connections: connections, Duration: time.Second}
	run, err := Measure(context.Background(), ScenarioEmbeddedCharge, target, load, 2, nil)
	if err != nil {
		t.Fatalf("Measure = %v", err)
	}

	// A worker sends its next request when the previous one is answered,
	// until that answer comes at or after the end; so every answer but each
	// worker's last is inside the window (no warmup here), and the last is
	// outside.
	var wantRequests, wantOperations int64
	wantFailures := map[string]int64{}
	for worker, list := range answers {
		if len(list) < 2 {
			t.Fatalf("worker %d answered %d requests, want several", worker, len(list))
		}
		for _, o := range list[:len(list)-1] {
			wantRequests++
			if o.failure != "" {
				wantFailures[o.failure]++
				continue
			}
			wantOperations += int64(o.operations)
		}
	}
	if run.Requests != wantRequests || run.Operations != wantOperations {
		t.Errorf("Measure requests, operations = %d, %d, want %d, %d", run.Requests, run.Operations, wantRequests, wantOperations)
	}
	if len(run.Failures) != len(wantFailures) || run.Failures["402"] != wantFailures["402"] ||
		run.Failures["error: timeout"] != wantFailures["error: timeout"] {
		t.Errorf("Measure failures = %v, want %v", run.Failures, wantFailures)
	}
	if !run.Failed() {
		t.Errorf("Failed() = false with failures %v", run.Failures)
	}
	// A one-second window has one whole second: every operation is in it.
	if len(run.PerSecond) != 1 || sumPerSecond(run) != float64(run.Operations) {
		t.Errorf("PerSecond = %v, want one second summing to %d", run.PerSecond, run.Operations)
	}
	if run.Throughput != float64(run.Operations) {
		t.Errorf("Throughput = %v, want %d per second", run.Throughput, run.Operations)
	}
	if want := 3000 / float64(run.Operations); math.Abs(run.ServerCPUPerOperation-want) > 1e-9 {
		t.Errorf("ServerCPUPerOperation = %v µs, want %v", run.ServerCPUPerOperation, want)
	}
	if run.Latency.P50 < 1000 || run.Latency.Max < run.Latency.P999 || run.Latency.P999 < run.Latency.P99 ||
		run.Latency.P99 < run.Latency.P90 || run.Latency.P90 < run.Latency.P50 {
		t.Errorf("Latency = %+v, want ordered percentiles of at least 1 ms", run.Latency)
	}
	if run.Scenario != ScenarioEmbeddedCharge || run.Target != "fake" || run.Repetition != 2 || run.Load != load || run.Elapsed != time.Second {
		t.Errorf("Measure labels = %v %v %v %+v %v", run.Scenario, run.Target, run.Repetition, run.Load, run.Elapsed)
	}
}

func TestMeasureLeavesFailuresEmptyWhenEveryRequestSucceeds(t *testing.T) {
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
		sleep(ctx, time.Millisecond)
		return 1, ""
	}}
	run, err := Measure(context.Background(), ScenarioNoopHTTP, target, Load{Connections: 2, Duration: 200 * time.Millisecond}, 1, nil)
	if err != nil {
		t.Fatalf("Measure = %v", err)
	}
	if run.Failures != nil || run.Failed() || run.Requests == 0 || run.Operations != run.Requests {
		t.Errorf("Measure = %d requests, %d operations, failures %v; want as many operations as requests and no failures",
			run.Requests, run.Operations, run.Failures)
	}
	// 200 ms has no whole second; its operations are in Operations only.
	if len(run.PerSecond) != 0 {
		t.Errorf("PerSecond = %v, want none for a 200 ms window", run.PerSecond)
	}
}

func TestMeasureDoesNotCountTheWarmup(t *testing.T) {
	const connections = 2
	const warmup = 300 * time.Millisecond
	began := time.Now()
	var calls, answeredInWarmup atomic.Int64
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
		sleep(ctx, time.Millisecond)
		calls.Add(1)
		// The runner began after began, so this answer is in its warmup.
		if time.Since(began) < warmup {
			answeredInWarmup.Add(1)
		}
		return 1, ""
	}}
	run, err := Measure(context.Background(), ScenarioEmbeddedCharge, target, Load{Connections: connections, Duration: warmup, Warmup: warmup}, 1, nil)
	if err != nil {
		t.Fatalf("Measure = %v", err)
	}
	// Each worker's last answer is after the window.
	if most := calls.Load() - answeredInWarmup.Load() - connections; run.Requests <= 0 || run.Requests > most || answeredInWarmup.Load() == 0 {
		t.Errorf("Measure requests = %d of %d calls (%d answered in warmup), want 1 to %d",
			run.Requests, calls.Load(), answeredInWarmup.Load(), most)
	}
}

func TestMeasureOpenLoopOffersTheRate(t *testing.T) {
	const rate = 400
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
		sleep(ctx, time.Millisecond)
		return 1, ""
	}}
	load := Load{Connections: 4, Rate: rate, Duration: time.Second, Warmup: 200 * time.Millisecond}
	run, err := Measure(context.Background(), ScenarioHTTPCharge, target, load, 1, nil)
	if err != nil {
		t.Fatalf("Measure = %v", err)
	}
	// rate×duration are due in the window; a loaded machine answers a few
	// late (they count in the next run's latency, not here), never many more.
	if run.Requests < rate*7/10 || run.Requests > rate*11/10 {
		t.Errorf("Measure requests = %d at %d per second for 1 s, want about %d", run.Requests, rate, rate)
	}
	if sumPerSecond(run) != float64(run.Operations) {
		t.Errorf("PerSecond = %v, want it to sum to %d", run.PerSecond, run.Operations)
	}
}

// A target that stalls once for 200 ms: a generator that waits for each
// answer before sending the next (coordinated omission) would record one
// slow request among hundreds, and its p90 would stay near zero. Measured
// from when each request was due, every request queued behind the stall
// shows its wait.
func TestMeasureOpenLoopCountsTheWaitBehindAStall(t *testing.T) {
	const rate = 200
	const stall = 200 * time.Millisecond
	var calls atomic.Int64
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
		if calls.Add(1) == 60 { // due at 295 ms
			sleep(ctx, stall)
		}
		return 1, ""
	}}
	load := Load{Connections: 1, Rate: rate, Duration: time.Second}
	run, err := Measure(context.Background(), ScenarioHTTPCharge, target, load, 1, nil)
	if err != nil {
		t.Fatalf("Measure = %v", err)
	}
	t.Logf("%d requests, latency %+v", run.Requests, run.Latency)
	const slow = 150 * time.Millisecond
	if run.Latency.Max < float64(slow.Microseconds()) || run.Latency.P999 < float64(slow.Microseconds()) {
		t.Errorf("Latency = %+v, want p99.9 and max of at least %v after a %v stall", run.Latency, slow, stall)
	}
	// About 40 requests (20%) fall due during the stall, 30 of them at
	// least 50 ms before it ends.
	if run.Latency.P90 < float64((50 * time.Millisecond).Microseconds()) {
		t.Errorf("Latency = %+v, want p90 of at least 50 ms: the requests queued behind the stall", run.Latency)
	}
	// The backlog is served, not dropped.
	if run.Requests < rate*7/10 {
		t.Errorf("Measure requests = %d, want about %d", run.Requests, rate)
	}
}

func TestMeasureStopsWhenTheContextIsCancelled(t *testing.T) {
	for _, tc := range []struct {
		name string
		load Load
	}{
		{"closed loop in the window", Load{Connections: 4, Duration: 10 * time.Second}},
		{"closed loop in the warmup", Load{Connections: 4, Duration: 10 * time.Second, Warmup: 10 * time.Second}},
		{"open loop in the window", Load{Connections: 4, Rate: 1000, Duration: 10 * time.Second}},
		{"open loop with a stalled target", Load{Connections: 1, Rate: 10_000, Duration: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
				pause := time.Millisecond
				if tc.load.Rate > 5000 {
					pause = time.Hour // honours ctx only
				}
				if !sleep(ctx, pause) {
					return 0, "error: cancelled"
				}
				return 1, ""
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			began := time.Now()
			_, err := Measure(ctx, ScenarioEmbeddedCharge, target, tc.load, 1, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Measure = %v, want %v", err, context.DeadlineExceeded)
			}
			if elapsed := time.Since(began); elapsed > 2*time.Second {
				t.Errorf("Measure returned %v after it began, want promptly after the 100 ms deadline", elapsed)
			}
		})
	}
}

func TestMeasureFailsWhenServerCPUFails(t *testing.T) {
	unreadable := errors.New("no such process")
	target := &fakeTarget{
		do:  func(ctx context.Context, worker int) (int, string) { sleep(ctx, time.Millisecond); return 1, "" },
		cpu: func() (time.Duration, error) { return 0, unreadable },
	}
	_, err := Measure(context.Background(), ScenarioHTTPCharge, target, Load{Connections: 2, Duration: time.Second}, 1, nil)
	if !errors.Is(err, unreadable) {
		t.Errorf("Measure = %v, want %v", err, unreadable)
	}
}

func TestMeasureRejectsAnInvalidLoad(t *testing.T) {
	target := &fakeTarget{do: func(context.Context, int) (int, string) { return 1, "" }}
	for _, load := range []Load{
		{Connections: 0, Duration: time.Second},
		{Connections: connectionsMax + 1, Duration: time.Second},
		{Connections: 1, Duration: 0},
		{Connections: 1, Duration: time.Second, Warmup: -time.Second},
		{Connections: 1, Duration: runDurationMax + 1},
		{Connections: 1, Duration: time.Second, Rate: -1},
		{Connections: 1, Duration: time.Second, Rate: math.NaN()},
		{Connections: 1, Duration: time.Second, Rate: math.Inf(1)},
	} {
		if _, err := Measure(context.Background(), ScenarioHTTPCharge, target, load, 1, nil); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("Measure(%+v) = %v, want %v", load, err, engine.ErrInvalid)
		}
	}
}

func TestMeasureBoundsTheFailureLabels(t *testing.T) {
	var calls atomic.Int64
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
		sleep(ctx, 100*time.Microsecond)
		return 0, "error: " + strconv.FormatInt(calls.Add(1), 10)
	}}
	run, err := Measure(context.Background(), ScenarioHTTPCharge, target, Load{Connections: 1, Duration: 200 * time.Millisecond}, 1, nil)
	if err != nil {
		t.Fatalf("Measure = %v", err)
	}
	var failures int64
	for _, n := range run.Failures {
		failures += n
	}
	if run.Requests <= failureLabelsMax || len(run.Failures) != failureLabelsMax+1 || run.Failures[failureLabelOther] == 0 || failures != run.Requests {
		t.Errorf("Measure = %d requests, %d labels (%d other), %d failures; want %d labels and every request failed",
			run.Requests, len(run.Failures), run.Failures[failureLabelOther], failures, failureLabelsMax+1)
	}
}

func TestMeasureDrawsProgressToAWriter(t *testing.T) {
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
		sleep(ctx, time.Millisecond)
		return 1, ""
	}}
	var out bytes.Buffer
	if _, err := Measure(context.Background(), ScenarioEmbeddedCharge, target, Load{Connections: 2, Duration: 1500 * time.Millisecond}, 1, &out); err != nil {
		t.Fatalf("Measure = %v", err)
	}
	text := out.String()
	t.Logf("progress: %q", text)
	if !strings.Contains(text, "embedded-charge fake c=2") || !strings.Contains(text, " ops/s") ||
		!strings.Contains(text, "100%") || !strings.HasSuffix(text, "\n") {
		t.Errorf("progress = %q, want the run's description, its rate, a full bar and a final newline", text)
	}
}

func TestProcessCPUGrowsWithWork(t *testing.T) {
	before, err := ProcessCPU()
	if err != nil {
		t.Fatalf("ProcessCPU() = %v", err)
	}
	// Spin until 10 ms of CPU is used; a loaded machine only makes it slower.
	deadline := time.Now().Add(5 * time.Second)
	used := time.Duration(0)
	for x := 1.0; used < 10*time.Millisecond && time.Now().Before(deadline); {
		for range 100_000 {
			x = math.Sqrt(x + 1)
		}
		now, err := ProcessCPU()
		if err != nil {
			t.Fatalf("ProcessCPU() = %v", err)
		}
		used = now - before
		if used < 0 {
			t.Fatalf("ProcessCPU() went from %v to %v", before, now)
		}
	}
	if used < 10*time.Millisecond {
		t.Errorf("ProcessCPU() grew %v while spinning, want at least 10 ms", used)
	}
}

func TestDescribeMachineReadsThisMachine(t *testing.T) {
	m := DescribeMachine()
	if m.CPUs != runtime.NumCPU() || m.GoVersion != runtime.Version() {
		t.Errorf("DescribeMachine() = %+v, want %d CPUs and %s", m, runtime.NumCPU(), runtime.Version())
	}
	if runtime.GOOS == "linux" && (m.MemoryMiB <= 0 || !strings.HasPrefix(m.Kernel, "Linux ")) {
		t.Errorf("DescribeMachine() = %+v, want the memory and the Linux kernel", m)
	}
}

func TestCPUModelTakesTheFirstModelName(t *testing.T) {
	for _, tc := range []struct{ cpuinfo, want string }{
		{"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n",
			"Intel(R) Xeon(R) CPU @ 2.20GHz"},
		{"processor\t: 0\nBogoMIPS\t: 50.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n", "Raspberry Pi 4 Model B Rev 1.4"},
		{"processor\t: 0\nHardware\t: BCM2835\n", "BCM2835"},
		{"processor\t: 0\nmodel name\t:\n", ""},
		{"", ""},
	} {
		if got := cpuModel([]byte(tc.cpuinfo)); got != tc.want {
			t.Errorf("cpuModel(%q) = %q, want %q", tc.cpuinfo, got, tc.want)
		}
	}
}

func TestMemoryMiBReadsMemTotal(t *testing.T) {
	for _, tc := range []struct {
		meminfo string
		want    int64
	}{
		{"MemTotal:        8141140 kB\nMemFree:          123456 kB\n", 7950},
		{"MemFree:          123456 kB\nMemTotal:       2097152 kB\n", 2048},
		{"MemTotal:       lots kB\n", 0},
		{"", 0},
	} {
		if got := memoryMiB([]byte(tc.meminfo)); got != tc.want {
			t.Errorf("memoryMiB(%q) = %d, want %d", tc.meminfo, got, tc.want)
		}
	}
}

// memoryTarget is a fakeTarget that also reads memory through a test's
// function.
type memoryTarget struct {
	fakeTarget
	memory func(resetPeak bool) (Memory, bool, error)
}

func (m *memoryTarget) ServerMemory(resetPeak bool) (Memory, bool, error) { return m.memory(resetPeak) }

func TestMeasureRecordsServerMemoryAtTheWindowsEnds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		peakReset bool
		wantPeak  int64
	}{
		{"peak reset at the start", true, 300 << 20},
		{"peak not reset: unknown", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Readings, in order: the start (which asks for the reset), the end.
			var resets []bool
			readings := []Memory{{RSS: 100 << 20, Peak: 999 << 20}, {RSS: 200 << 20, Peak: 300 << 20}}
			target := &memoryTarget{
				fakeTarget: fakeTarget{do: func(ctx context.Context, worker int) (int, string) {
					sleep(ctx, time.Millisecond)
					return 1, ""
				}},
				memory: func(resetPeak bool) (Memory, bool, error) {
					resets = append(resets, resetPeak) // the watcher's goroutine only
					m := readings[len(resets)-1]
					return m, resetPeak && tc.peakReset, nil
				},
			}
			run, err := Measure(context.Background(), ScenarioHTTPCharge, target, Load{Connections: 2, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond}, 1, nil)
			if err != nil {
				t.Fatalf("Measure = %v", err)
			}
			if len(resets) != 2 || !resets[0] || resets[1] {
				t.Errorf("ServerMemory calls reset the peak %v, want at the start only: [true false]", resets)
			}
			if run.ServerRSSStart != 100<<20 || run.ServerRSSEnd != 200<<20 || run.ServerRSSPeak != tc.wantPeak {
				t.Errorf("Measure memory = %d, %d, peak %d; want %d, %d, peak %d", run.ServerRSSStart, run.ServerRSSEnd,
					run.ServerRSSPeak, 100<<20, 200<<20, tc.wantPeak)
			}
		})
	}
}

func TestMeasureFailsWhenServerMemoryFails(t *testing.T) {
	unreadable := errors.New("no such process")
	target := &memoryTarget{
		fakeTarget: fakeTarget{do: func(ctx context.Context, worker int) (int, string) { sleep(ctx, time.Millisecond); return 1, "" }},
		memory:     func(bool) (Memory, bool, error) { return Memory{}, false, unreadable },
	}
	_, err := Measure(context.Background(), ScenarioHTTPCharge, target, Load{Connections: 2, Duration: 100 * time.Millisecond}, 1, nil)
	if !errors.Is(err, unreadable) {
		t.Errorf("Measure = %v, want %v", err, unreadable)
	}
}

func TestMeasureLeavesMemoryUnknownForATargetWithoutIt(t *testing.T) {
	target := &fakeTarget{do: func(ctx context.Context, worker int) (int, string) { sleep(ctx, time.Millisecond); return 1, "" }}
	run, err := Measure(context.Background(), ScenarioHTTPCharge, target, Load{Connections: 1, Duration: 100 * time.Millisecond}, 1, nil)
	if err != nil || run.ServerRSSStart != 0 || run.ServerRSSEnd != 0 || run.ServerRSSPeak != 0 {
		t.Errorf("Measure = %+v, %v; want no memory figures", run, err)
	}
}
