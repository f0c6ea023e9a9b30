package bench

import (
	"context"
	"flag"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

var (
	httpConsumers = flag.Int("http-consumers", 10_000, "consumer accounts and keys of the HTTP benchmarks")
	httpDuration  = flag.Duration("http-duration", 5*time.Second, "measured time of each HTTP benchmark")
)

const benchAdminToken = "adm_bench_token_0123456789"

// startHTTP runs a real server (engine and HTTP API) on 127.0.0.1 in this
// process, so the load generator shares the machine's cores with it, as the
// no-op ceiling in BENCHMARKS.md was measured.
func startHTTP(tb testing.TB) (url string, eng *engine.Engine) {
	tb.Helper()
	dir := tb.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	secrets, _, err := httpapi.LoadSecrets(context.Background(), eng, dir, benchAdminToken, "")
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	server, err := httpapi.New(httpapi.Config{
		Engine: eng, AdminTokenHash: secrets.AdminTokenHash, JWTSecret: secrets.JWTSecret, Pepper: secrets.Pepper,
		RateLimit: access.RateLimit{Requests: 1000, PerSeconds: 1}, Domain: ln.Addr().String(), PasswordCost: bcrypt.MinCost,
	})
	if err != nil {
		tb.Fatal(err)
	}
	go server.Serve(ln)
	tb.Cleanup(func() {
		server.Shutdown(context.Background())
		eng.Close()
	})
	return "http://" + ln.Addr().String(), eng
}

// BenchmarkHTTPCharge measures durable charges per second over HTTP (the
// http-charge and http-batch scenarios) against a server in this process:
// 64 and 256 connections, and batches of 100 at 64.
func BenchmarkHTTPCharge(b *testing.B) {
	for _, c := range []struct {
		connections, batch int
	}{{64, 0}, {256, 0}, {64, 100}} {
		b.Run(fmt.Sprintf("connections=%d/batch=%d", c.connections, c.batch), func(b *testing.B) {
			url, eng := startHTTP(b)
			scenario := ScenarioHTTPCharge
			if c.batch > 0 {
				scenario = ScenarioHTTPBatch
			}
			setup := time.Now()
			target, err := NewHTTPTarget(context.Background(), HTTPTargetConfig{Scenario: scenario, URL: url, AdminToken: benchAdminToken,
				Consumers: *httpConsumers, Suppliers: 100, BatchSize: c.batch, Connections: c.connections, InProcess: true})
			if err != nil {
				b.Fatal(err)
			}
			defer target.Close()
			b.Logf("set up %d consumers with keys in %v", *httpConsumers, time.Since(setup).Round(time.Millisecond))
			b.ResetTimer()
			before := eng.Stats()
			run, err := Measure(context.Background(), scenario, target, Load{Connections: c.connections, Duration: *httpDuration}, 1, nil)
			after := eng.Stats()
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			measured(b, run, before, after)
		})
	}
}

// TestMeasureHTTPChargesInProcess runs the HTTP benchmark's path briefly,
// single and batched: every counted charge reached the supplier, and at
// most the requests in flight at the window's end were applied uncounted.
func TestMeasureHTTPChargesInProcess(t *testing.T) {
	url, eng := startHTTP(t)
	const connections = 8
	for _, batch := range []int{0, 10} {
		scenario := ScenarioHTTPCharge
		if batch > 0 {
			scenario = ScenarioHTTPBatch
		}
		target, err := NewHTTPTarget(t.Context(), HTTPTargetConfig{Scenario: scenario, URL: url, AdminToken: benchAdminToken,
			Consumers: 20, Suppliers: 1, BatchSize: batch, Connections: connections, InProcess: true})
		if err != nil {
			t.Fatal(err)
		}
		run, err := Measure(t.Context(), scenario, target, Load{Connections: connections, Duration: 300 * time.Millisecond}, 1, nil)
		if err != nil || run.Failed() || run.Operations == 0 {
			t.Fatalf("%s: Measure = %d operations, failures %v, %v; want charges and no failure", scenario, run.Operations, run.Failures, err)
		}
		if cpu := run.ServerCPUPerOperation; cpu <= 0 {
			t.Errorf("%s: CPU per charge %v, want this process's, positive", scenario, cpu)
		}
		balance, err := eng.Balance(t.Context(), engine.AccountID(target.(*httpTarget).suppliers[0]))
		if err != nil {
			t.Fatal(err)
		}
		// Each target has a supplier of its own (PrepareHTTP).
		_, held := balance.Available.Parts()
		counted := run.Operations
		inFlight := uint64(connections * max(batch, 1))
		if held < uint64(counted) || held > uint64(counted)+inFlight {
			t.Fatalf("%s: supplier holds %d, want the %d counted charges and at most %d more in flight at the end",
				scenario, held, counted, inFlight)
		}
		target.Close()
	}
}
