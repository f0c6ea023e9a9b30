// Package bench generates load against Tollway and reports throughput and
// latency percentiles from HDR histograms. The embedded generator drives an
// engine in-process; the HTTP generators and baselines arrive with the load
// benchmark issue.
//
// Goroutines: a run starts one goroutine per concurrent caller and stops
// them all before it returns.
package bench
