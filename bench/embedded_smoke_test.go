package bench

import (
	"context"
	"testing"

	"github.com/tollway/tollway/engine"
)

// TestRunEmbeddedAppliesEveryChargeExactly runs the generator briefly, single
// and batched, and checks the suppliers received exactly every charge.
func TestRunEmbeddedAppliesEveryChargeExactly(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.Open(engine.Options{Dir: t.TempDir(), Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cfg := EmbeddedConfig{Callers: 16, Consumers: 50, Suppliers: 3, Charges: 900, BatchSize: 30}
	if err := PrepareEmbedded(ctx, eng, cfg); err != nil { // funds enough for both runs
		t.Fatal(err)
	}
	single := cfg
	single.BatchSize = 0
	if r := RunEmbedded(ctx, eng, single, "single"); r.Errors != 0 || r.Operations != 900 || r.LatencyP50 <= 0 {
		t.Fatalf("RunEmbedded(single) = %v", r)
	}
	if r := RunEmbedded(ctx, eng, cfg, "batch"); r.Errors != 0 || r.Operations != 900 {
		t.Fatalf("RunEmbedded(batch) = %v", r)
	}
	var received uint64
	for i := range cfg.Suppliers {
		bal, err := eng.Balance(ctx, supplierID(i))
		if err != nil {
			t.Fatal(err)
		}
		_, lo := bal.Available.Parts()
		received += lo
	}
	if received != 2*900*1000 {
		t.Fatalf("suppliers received %d, want %d", received, 2*900*1000)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}
