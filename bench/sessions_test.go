package bench

import (
	"context"
	"testing"
)

// BenchmarkHTTPSessions measures whole sessions per second over HTTP (the
// http-session scenario: open, accept, start, end, each durable) against a
// server in this process, at 64 connections.
//
//	go test -run '^$' -bench HTTPSessions -benchtime 1x ./bench/
func BenchmarkHTTPSessions(b *testing.B) {
	url, _ := startHTTP(b)
	target, err := NewSessionTarget(context.Background(), SessionTargetConfig{URL: url, AdminToken: benchAdminToken,
		Consumers: 1000, Suppliers: 10, Connections: 64, InProcess: true})
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	for range b.N {
		run, err := Measure(context.Background(), ScenarioHTTPSession, target, Load{Connections: 64, Duration: *httpDuration}, 1, nil)
		if err != nil || run.Failed() {
			b.Fatalf("Measure = %+v, %v", run.Failures, err)
		}
		b.ReportMetric(run.Throughput, "sessions/s")
		b.ReportMetric(run.Throughput*4, "requests/s")
		b.ReportMetric(run.Latency.P99, "p99-µs")
	}
}

// TestSessionScenarioRunsWholeSessions checks the scenario itself: every
// operation is a session that ended, and the server agrees.
func TestSessionScenarioRunsWholeSessions(t *testing.T) {
	url, eng := startHTTP(t)
	target, err := NewSessionTarget(t.Context(), SessionTargetConfig{URL: url, AdminToken: benchAdminToken,
		Consumers: 4, Suppliers: 2, Connections: 4, InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	ops := 0
	for worker := range 4 {
		for range 3 {
			n, failure := target.Do(t.Context(), worker)
			if failure != "" {
				t.Fatalf("Do = %q", failure)
			}
			ops += n
		}
	}
	if ops != 12 || eng.Stats().Sessions != 0 {
		t.Fatalf("%d sessions run, %d still open; want 12 run and none open", ops, eng.Stats().Sessions)
	}
}
