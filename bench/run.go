package bench

import (
	"context"
	"time"
)

// The load benchmark (`tollway bench`): scenarios run against targets by
// one runner, each run recorded as a Run, a whole invocation as a Report.

// Scenario names what a run does per operation.
type Scenario string

const (
	ScenarioHTTPCharge     Scenario = "http-charge"     // POST /v1/charges, N consumer keys, M suppliers
	ScenarioHTTPBatch      Scenario = "http-batch"      // POST /v1/charges/batch, 100 charges per request
	ScenarioEmbeddedCharge Scenario = "embedded-charge" // engine.Charge in-process
	ScenarioHotSupplier    Scenario = "hot-supplier"    // POST /v1/charges, every charge to one supplier
	ScenarioMixed          Scenario = "mixed"           // charges and GET /v1/balance reads
	ScenarioNoopHTTP       Scenario = "noop-http"       // the same request to a server that does nothing
	ScenarioHTTPSession    Scenario = "http-session"    // a session opened, accepted, started and ended: 4 requests
	ScenarioX402Verify     Scenario = "x402-verify"     // POST /x402/verify of a signed payment, on the embedded chain
	ScenarioGateway        Scenario = "gateway"         // GET /gw/{slug}/ping through the metering gateway to a no-op upstream
	ScenarioGatewayDirect  Scenario = "gateway-direct"  // the same GET straight to the upstream
)

// Target is what a scenario runs against: a Tollway server over HTTP, the
// no-op HTTP server, the embedded engine, or a baseline. It is prepared
// (accounts, keys, funding) before the runner calls Do.
type Target interface {
	// Name labels the target in results, e.g. "tollway", "noop-http",
	// "redis-aof-always".
	Name() string
	// Do performs one request of worker (0 <= worker < workers) and returns
	// how many operations it carried (charges: 1, or a batch's size) and,
	// when it failed, a short label of the failure (an HTTP status such as
	// "402", or "error: <class>"); "" on success.
	Do(ctx context.Context, worker int) (operations int, failure string)
	// ServerCPU returns the CPU time (user+sys) the serving process(es) have
	// used so far; the runner takes the difference over the measured window.
	ServerCPU() (time.Duration, error)
	// Close releases the target, stopping any server it started.
	Close() error
}

// Load says how requests are offered.
type Load struct {
	// Connections is the number of concurrent workers (closed loop: each
	// with one request in flight; open loop: the most in flight at once).
	Connections int `json:"connections"`
	// Rate, when positive, makes the loop open: requests are started at
	// this many per second whatever the answers, and latency is measured
	// from when each was due, so a stall shows (no coordinated omission).
	Rate float64 `json:"rate,omitempty"`
	// Duration is the measured window; Warmup runs before it, unmeasured.
	Duration time.Duration `json:"duration"`
	Warmup   time.Duration `json:"warmup"`
}

// Latency holds percentiles of one run, in microseconds.
type Latency struct {
	P50  float64 `json:"p50Micros"`
	P90  float64 `json:"p90Micros"`
	P99  float64 `json:"p99Micros"`
	P999 float64 `json:"p999Micros"`
	Max  float64 `json:"maxMicros"`
}

// Run is one measured run of a scenario against a target.
type Run struct {
	Scenario   Scenario `json:"scenario"`
	Target     string   `json:"target"`
	Durable    bool     `json:"durable"` // false for references that do not fsync per operation
	Repetition int      `json:"repetition"`
	Load       Load     `json:"load"`

	Requests   int64            `json:"requests"`
	Operations int64            `json:"operations"` // charges (a batch request counts its items)
	Failures   map[string]int64 `json:"failures"`   // by label; empty when every request succeeded
	Elapsed    time.Duration    `json:"elapsedNanos"`
	Throughput float64          `json:"operationsPerSecond"`
	Latency    Latency          `json:"latency"` // per request
	// PerSecond is the operations completed in each second of the window.
	PerSecond []float64 `json:"perSecond"`
	// ServerCPUPerOperation is the serving process's CPU time over the
	// window divided by the operations, in microseconds.
	ServerCPUPerOperation float64 `json:"serverCpuMicrosPerOperation"`
	// Server memory, in bytes, from /proc/PID/status of the serving process
	// tree (this process's for a target that runs in it, such as the
	// embedded engine: load generator and every prepared target included);
	// 0 when unknown (a --target server, a target that cannot say). RSS at
	// the start and at the end of the window, and the peak (VmHWM) over the
	// window: 0 when the kernel refused to reset the peak at its start.
	ServerRSSStart int64 `json:"serverRssBytesAtStart"`
	ServerRSSEnd   int64 `json:"serverRssBytesAtEnd"`
	ServerRSSPeak  int64 `json:"serverPeakRssBytes"`
}

// Failed reports whether any request of the run failed.
func (r *Run) Failed() bool {
	for _, n := range r.Failures {
		if n > 0 {
			return true
		}
	}
	return false
}

// Machine describes where a report was measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	MemoryMiB int64  `json:"memoryMiB"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"goVersion"`
}

// Report is every run of one `tollway bench` invocation.
type Report struct {
	Started time.Time `json:"started"`
	Command string    `json:"command"`
	Machine Machine   `json:"machine"`
	Runs    []Run     `json:"runs"`
}
