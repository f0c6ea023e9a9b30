// Package bench is Tollway's load benchmark: the scenarios of
// `tollway bench` (Scenario) run against targets (Target: a Tollway server
// over HTTP, the no-op server of bench/noop, the embedded engine, Redis and
// PostgreSQL baselines) by one runner, Measure, which records throughput and
// HDR-histogram latency percentiles per run; report.go and plot.go turn a
// Report into results.json, summary.md and SVG plots.
//
// # One harness
//
// Measure is the only load loop. The go test benchmarks
// (BenchmarkEmbeddedCharge, BenchmarkHTTPCharge) are the embedded-charge,
// http-charge and http-batch scenarios run through it against an engine or
// a server in the test process, one timed run each: there used to be a
// second generator (RunEmbedded, RunHTTP) for them, counting a fixed number
// of charges, which measured the same thing a second way and needed its
// own tests. BENCHMARKS.md says which command produced each figure.
//
// # Why a binary of its own
//
// The benchmark links what a server must not: the PostgreSQL and Redis
// clients of the baselines (pgx, go-redis), the plotting library (gonum
// plot) and the no-op server, whose key registration is unauthenticated.
// So the benchmark is cmd/tollway-bench, and cmd/tollway links none of this
// package (a test in cmd/tollway reads `go list -deps`).
//
// `tollway bench` stays the documented command: the server binary runs the
// tollway-bench beside it (else the one on PATH) with --tollway naming
// itself, and without one says how to build it (`make bench-tool`). The
// other way considered kept the flags and the plan in the tollway binary and
// ran only the baselines' clients and the plotting in a helper binary: it
// would split one command across two processes talking a protocol of their
// own (results and baseline calls crossing a pipe, the helper's servers
// stopped by the other's signals), for the same outcome as running the
// whole benchmark from the helper. What one binary cannot do without the
// other: tollway-bench starts `tollway serve` from the executable it is
// given (--tollway, or the tollway beside it, or on PATH) and the no-op
// server and the gateway scenarios' no-op upstream from itself
// (`tollway-bench noop-server`, `tollway-bench noop-upstream`).
//
// Goroutines: a run starts one goroutine per concurrent caller (and one
// dispatcher in an open loop) and stops them all before it returns.
package bench
