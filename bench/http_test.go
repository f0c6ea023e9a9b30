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

func BenchmarkHTTPCharge(b *testing.B) {
	for _, c := range []struct {
		connections, batch int
	}{{64, 0}, {256, 0}, {64, 100}} {
		b.Run(fmt.Sprintf("connections=%d/batch=%d", c.connections, c.batch), func(b *testing.B) {
			url, eng := startHTTP(b)
			cfg := HTTPConfig{Target: url, AdminToken: benchAdminToken, Connections: c.connections,
				Consumers: *httpConsumers, Suppliers: 100, Duration: *httpDuration, BatchSize: c.batch}
			setup := time.Now()
			fixture, err := PrepareHTTP(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("set up %d consumers with keys in %v", cfg.Consumers, time.Since(setup).Round(time.Millisecond))
			b.ResetTimer()
			before := eng.Stats()
			cpuBefore, cpuErr := ProcessCPU()
			result := RunHTTP(context.Background(), cfg, fixture)
			cpuAfter, cpuAfterErr := ProcessCPU()
			after := eng.Stats()
			b.StopTimer()
			if commits := after.Commits - before.Commits; commits > 0 {
				result.CommitBatchMean = float64(after.CommitsEntries-before.CommitsEntries) / float64(commits)
				b.Logf("%d commits, %.0f/s", commits, float64(commits)/result.Elapsed.Seconds())
			}
			if result.Errors > 0 {
				b.Fatalf("%d requests failed", result.Errors)
			}
			b.Logf("%s", result)
			if cpuErr == nil && cpuAfterErr == nil && result.Operations > 0 {
				// Server and load generator together: this process is both.
				b.ReportMetric(float64((cpuAfter-cpuBefore).Microseconds())/float64(result.Operations), "cpu-µs/charge")
			}
			b.ReportMetric(result.PerSecond, "charges/s")
			b.ReportMetric(float64(result.LatencyP50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(result.LatencyP99.Microseconds())/1000, "p99-ms")
		})
	}
}

func TestRunHTTPChargesEveryRequestOnce(t *testing.T) {
	url, eng := startHTTP(t)
	cfg := HTTPConfig{Target: url, AdminToken: benchAdminToken, Connections: 8, Consumers: 20, Suppliers: 1, Duration: 300 * time.Millisecond}
	fixture, err := PrepareHTTP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	result := RunHTTP(context.Background(), cfg, fixture)
	cfg.BatchSize = 10
	batched := RunHTTP(context.Background(), cfg, fixture)
	if result.Errors != 0 || batched.Errors != 0 || result.Operations == 0 || batched.Operations == 0 {
		t.Fatalf("single %v, batched %v: want charges and no errors", result, batched)
	}
	balance, err := eng.Balance(context.Background(), engine.AccountID(fixture.Suppliers[0]))
	if err != nil {
		t.Fatal(err)
	}
	if want := engine.NewAmount(uint64(result.Operations + batched.Operations)); balance.Available != want {
		t.Fatalf("supplier holds %v, want %v: one unit per acknowledged charge", balance.Available, want)
	}
}
