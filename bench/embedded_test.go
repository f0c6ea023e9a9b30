package bench

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/tollway/tollway/engine"
)

var quietLogger = slog.New(slog.DiscardHandler)

func openBench(b *testing.B) *engine.Engine {
	eng, err := engine.Open(engine.Options{Dir: b.TempDir(), Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	return eng
}

// BenchmarkEmbeddedCharge measures durable charges per second with 1, 64
// and 1024 concurrent callers over 10,000 consumers and 100 suppliers, and
// with one hot supplier. Each b.N is one charge.
func BenchmarkEmbeddedCharge(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  EmbeddedConfig
	}{
		{"callers=1", EmbeddedConfig{Callers: 1, Consumers: 10_000, Suppliers: 100}},
		{"callers=64", EmbeddedConfig{Callers: 64, Consumers: 10_000, Suppliers: 100}},
		{"callers=1024", EmbeddedConfig{Callers: 1024, Consumers: 10_000, Suppliers: 100}},
		{"hot-supplier/callers=1024", EmbeddedConfig{Callers: 1024, Consumers: 10_000, Suppliers: 1}},
		{"batch=100/callers=64", EmbeddedConfig{Callers: 64, Consumers: 10_000, Suppliers: 100, BatchSize: 100}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			eng := openBench(b)
			cfg := tc.cfg
			cfg.Charges = max(b.N, cfg.Callers)
			if err := PrepareEmbedded(ctx, eng, cfg); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			r := RunEmbedded(ctx, eng, cfg, fmt.Sprintf("run-%d", b.N))
			b.StopTimer()
			if r.Errors > 0 {
				b.Fatalf("%d charges failed", r.Errors)
			}
			b.ReportMetric(r.PerSecond, "charges/s")
			b.ReportMetric(float64(r.LatencyP50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(r.LatencyP99.Microseconds()), "p99-µs")
			b.Logf("%s: %v", tc.name, r)
		})
	}
}
