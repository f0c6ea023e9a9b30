package bench

import (
	"path/filepath"
	"testing"

	"github.com/tollway/tollway/engine"
)

// TestGatewayTargetsChargeEachCallOnce runs gateway and gateway-direct
// briefly against real processes: every call succeeds, and once the
// server stopped, its ledger shows the consumers paid exactly the calls
// counted times the price, all to the route's account, nothing held.
func TestGatewayTargetsChargeEachCallOnce(t *testing.T) {
	ctx := t.Context()
	work := t.TempDir()
	tollway, benchExe := buildTollway(t, work)
	upstream, upstreamURL, err := StartNoopUpstream(ctx, benchExe)
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Stop()
	dir := filepath.Join(work, "gateway")
	proc, url, adminToken, err := StartTollwayGateway(ctx, tollway, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()

	direct, err := NewGatewayDirectTarget(GatewayTargetConfig{Upstream: upstreamURL, Connections: targetTestWorkers})
	if err != nil {
		t.Fatal(err)
	}
	operations, failures := doConcurrently(t, direct, targetTestWorkers, targetTestCalls)
	if want := targetTestWorkers * targetTestCalls; direct.Name() != "upstream" || operations != want || len(failures) > 0 {
		t.Fatalf("gateway-direct %q: %d operations, failures %v; want upstream, %d and none", direct.Name(), operations, failures, want)
	}
	if err := direct.Close(); err != nil {
		t.Fatalf("gateway-direct Close() = %v", err)
	}

	target, err := NewGatewayTarget(ctx, GatewayTargetConfig{URL: url, AdminToken: adminToken, Upstream: upstreamURL,
		Consumers: targetTestConsumers, Connections: targetTestWorkers, Process: proc, UpstreamProcess: upstream})
	if err != nil {
		t.Fatal(err)
	}
	gateway := target.(*gatewayTarget)
	operations, failures = doConcurrently(t, target, targetTestWorkers, targetTestCalls)
	if want := targetTestWorkers * targetTestCalls; target.Name() != "tollway" || operations != want || len(failures) > 0 {
		t.Fatalf("gateway %q: %d operations, failures %v; want tollway, %d and none", target.Name(), operations, failures, want)
	}
	// A call without a gateway:call key is refused and not counted.
	gateway.keys = []string{"sk_test_" + randomBase62(40)}
	if n, failure := target.Do(ctx, 0); n != 0 || failure != "401" {
		t.Fatalf("Do with an unknown key = %d, %q; want 0, 401", n, failure)
	}
	if cpu, err := target.ServerCPU(); err != nil || cpu <= 0 {
		t.Fatalf("ServerCPU() = %v, %v; want a positive time", cpu, err)
	}
	// Close drains the server: every call's capture is in the log first.
	if err := target.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	checkStopped(t, proc)
	checkStopped(t, upstream)

	eng, err := engine.Open(engine.Options{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	payers := make([]engine.AccountID, len(gateway.payers))
	for i, id := range gateway.payers {
		payers[i] = engine.AccountID(id)
	}
	charged := uint64(operations * GatewayPrice)
	if got, want := supplierTotal(t, eng, payers), uint64(targetTestConsumers)*targetTestFunding-charged; got != want {
		t.Errorf("consumers hold %d available, want %d: %d calls of %d paid", got, want, operations, GatewayPrice)
	}
	if got := supplierTotal(t, eng, []engine.AccountID{engine.AccountID(gateway.route)}); got != charged {
		t.Errorf("the route's account holds %d, want %d", got, charged)
	}
}
