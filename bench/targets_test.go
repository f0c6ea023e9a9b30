package bench

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

const (
	targetTestConsumers = 20
	targetTestSuppliers = 3
	targetTestWorkers   = 4
	targetTestCalls     = 75 // per worker: 300 in all
	// targetTestFunding is what PrepareHTTP credits each consumer.
	targetTestFunding = 1_000_000_000_000
)

// buildTollway builds cmd/tollway and cmd/tollway-bench into dir/bin and
// returns the server's executable and the benchmark's (whose noop-server
// command is the no-op server).
func buildTollway(t *testing.T, dir string) (tollway, benchExe string) {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "bin") + string(filepath.Separator)
	build := exec.Command("go", "build", "-o", bin, "./cmd/tollway", "./cmd/tollway-bench")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tollway ./cmd/tollway-bench: %v\n%s", err, out)
	}
	return filepath.Join(bin, "tollway"), filepath.Join(bin, "tollway-bench")
}

// doConcurrently calls target.Do calls times from each of workers
// goroutines and returns the operations and the failures by label.
func doConcurrently(t *testing.T, target Target, workers, calls int) (operations int, failures map[string]int) {
	t.Helper()
	var mu sync.Mutex
	failures = map[string]int{}
	var wg sync.WaitGroup
	for worker := range workers {
		wg.Go(func() {
			mine, failed := 0, map[string]int{}
			for range calls {
				n, failure := target.Do(t.Context(), worker)
				if failure != "" {
					failed[failure]++
					continue
				}
				mine += n
			}
			mu.Lock()
			defer mu.Unlock()
			operations += mine
			for label, n := range failed {
				failures[label] += n
			}
		})
	}
	wg.Wait()
	return operations, failures
}

// checkStopped fails unless proc has exited and its pid is gone.
func checkStopped(t *testing.T, proc *Process) {
	t.Helper()
	select {
	case <-proc.Exited():
	case <-time.After(tollwayStopTimeout):
		t.Fatalf("process %d still runs after Close", proc.PID())
	}
	if err := syscall.Kill(proc.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill(%d, 0) after Close = %v, want ESRCH", proc.PID(), err)
	}
}

// supplierTotal sums the available balances of suppliers in eng.
func supplierTotal(t *testing.T, eng *engine.Engine, suppliers []engine.AccountID) uint64 {
	t.Helper()
	var total uint64
	for _, id := range suppliers {
		b, err := eng.Balance(t.Context(), id)
		if err != nil {
			t.Fatalf("Balance(%s) = %v", id, err)
		}
		hi, lo := b.Available.Parts()
		if hi != 0 {
			t.Fatalf("Balance(%s) = %v, too large", id, b.Available)
		}
		total += lo
	}
	return total
}

func TestTollwayAndNoopTargetsCountEveryOperationOnce(t *testing.T) {
	work := t.TempDir()
	tollway, benchExe := buildTollway(t, work)
	t.Run("Tollway", func(t *testing.T) { testTollwayTargets(t, tollway, filepath.Join(work, "tollway")) })
	t.Run("Noop", func(t *testing.T) { testNoopTarget(t, benchExe) })
}

// testTollwayTargets runs http-charge, http-batch and mixed against one
// server, then stops it and reads the ledger the server left: each
// target's suppliers hold exactly the charges it counted.
func testTollwayTargets(t *testing.T, exe, dir string) {
	ctx := t.Context()
	proc, url, adminToken, err := StartTollway(ctx, exe, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	const readEvery = 4
	cases := []struct {
		scenario  Scenario
		batch     int
		perCall   int // operations a successful call counts
		charged   int // charges landed per worker
		suppliers int
	}{
		{ScenarioHTTPCharge, 0, 1, targetTestCalls, targetTestSuppliers},
		{ScenarioHTTPBatch, 10, 10, targetTestCalls * 10, targetTestSuppliers},
		{ScenarioMixed, 0, 1, targetTestCalls - targetTestCalls/readEvery, targetTestSuppliers},
		{ScenarioHotSupplier, 0, 1, targetTestCalls, 1},
	}
	targets := make([]*httpTarget, len(cases))
	for i, c := range cases {
		target, err := NewHTTPTarget(ctx, HTTPTargetConfig{Scenario: c.scenario, URL: url, AdminToken: adminToken,
			Consumers: targetTestConsumers, Suppliers: targetTestSuppliers, BatchSize: c.batch, ReadEvery: readEvery,
			Connections: targetTestWorkers, Process: proc})
		if err != nil {
			t.Fatalf("NewHTTPTarget(%s) = %v", c.scenario, err)
		}
		targets[i] = target.(*httpTarget)
		if target.Name() != "tollway" || len(targets[i].suppliers) != c.suppliers {
			t.Fatalf("%s: name %q, %d suppliers, want tollway and %d", c.scenario, target.Name(), len(targets[i].suppliers), c.suppliers)
		}
		operations, failures := doConcurrently(t, target, targetTestWorkers, targetTestCalls)
		if want := targetTestWorkers * targetTestCalls * c.perCall; operations != want || len(failures) > 0 {
			t.Fatalf("%s: %d operations, failures %v; want %d and none", c.scenario, operations, failures, want)
		}
	}
	if cpu, err := targets[0].ServerCPU(); err != nil || cpu <= 0 {
		t.Fatalf("ServerCPU() = %v, %v; want a positive time", cpu, err)
	}
	for _, target := range targets {
		if err := target.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	checkStopped(t, proc)

	eng, err := engine.Open(engine.Options{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for i, c := range cases {
		suppliers := make([]engine.AccountID, len(targets[i].suppliers))
		for j, id := range targets[i].suppliers {
			suppliers[j] = engine.AccountID(id)
		}
		if got, want := supplierTotal(t, eng, suppliers), uint64(targetTestWorkers*c.charged); got != want {
			t.Errorf("%s: suppliers hold %d, want %d charges of 1", c.scenario, got, want)
		}
	}
}

func testNoopTarget(t *testing.T, exe string) {
	ctx := t.Context()
	proc, url, err := StartNoop(ctx, exe)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	for _, batch := range []int{0, 10} {
		target, err := NewNoopTarget(ctx, url, proc, targetTestConsumers, batch, targetTestWorkers)
		if err != nil {
			t.Fatalf("NewNoopTarget(batch %d) = %v", batch, err)
		}
		operations, failures := doConcurrently(t, target, targetTestWorkers, targetTestCalls)
		if want := targetTestWorkers * targetTestCalls * max(batch, 1); operations != want || len(failures) > 0 {
			t.Fatalf("batch %d: %d operations, failures %v; want %d and none", batch, operations, failures, want)
		}
	}
	// A key the server does not know is refused as Tollway refuses it.
	stranger := newHTTPTarget("noop-http", url, []string{"sk_test_" + randomBase62(40)}, []string{"acct_" + randomBase62(22)},
		nil, 1, 0, 1, proc)
	if n, failure := stranger.Do(ctx, 0); n != 0 || failure != "401" {
		t.Fatalf("Do with an unknown key = %d, %q; want 0, 401", n, failure)
	}
	// The no-op server starts fast and spends little: work until a clock
	// tick (10 ms) of its CPU shows, for a few seconds at most.
	deadline := time.Now().Add(10 * time.Second)
	target, err := NewNoopTarget(ctx, url, proc, targetTestConsumers, 0, targetTestWorkers)
	if err != nil {
		t.Fatal(err)
	}
	for {
		cpu, err := target.ServerCPU()
		if err != nil {
			t.Fatal(err)
		}
		if cpu > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the no-op server's CPU time stayed 0")
		}
		doConcurrently(t, target, targetTestWorkers, targetTestCalls)
	}
	if err := target.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	checkStopped(t, proc)
	if n, failure := stranger.Do(ctx, 0); n != 0 || !strings.HasPrefix(failure, "error: ") {
		t.Fatalf("Do after Close = %d, %q; want 0 and an error label", n, failure)
	}
}

func TestEmbeddedTargetChargesExactlyOnceEach(t *testing.T) {
	dir := t.TempDir()
	const consumers, suppliers = 10, 3
	target, err := NewEmbeddedTarget(t.Context(), dir, consumers, suppliers, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, err := target.ServerCPU()
	if err != nil {
		t.Fatal(err)
	}
	operations, failures := doConcurrently(t, target, targetTestWorkers, targetTestCalls)
	const charges = targetTestWorkers * targetTestCalls // 300: 30 per consumer, 100 per supplier
	if operations != charges || len(failures) > 0 {
		t.Fatalf("%d operations, failures %v; want %d and none", operations, failures, charges)
	}
	if after, err := target.ServerCPU(); err != nil || after <= before {
		t.Fatalf("ServerCPU() = %v, %v after %v; want it to grow", after, err, before)
	}
	eng := reopenCharged(t, target, dir, consumers, charges)
	defer eng.Close()
	for i := range suppliers {
		if got := supplierTotal(t, eng, []engine.AccountID{supplierID(i)}); got != charges/suppliers {
			t.Errorf("supplier %d holds %d, want %d", i, got, charges/suppliers)
		}
	}
}

func TestBaselineTargetDebitsOnceAndLabelsRefusals(t *testing.T) {
	ctx := t.Context()
	baseline, err := NewRedisBaseline(ctx, t.TempDir(), RedisFsyncAlways, targetTestWorkers, 0)
	if errors.Is(err, ErrServerNotInstalled) {
		t.Skip(err) // .ci/run installs it (bench/install-baselines.sh)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer baseline.Close()
	const consumers, suppliers, funding = 5, 2, 50
	if _, err := NewBaselineTarget(ctx, baseline, consumers, suppliers); !errors.Is(err, engine.ErrInvalidState) {
		t.Fatalf("NewBaselineTarget before Setup = %v, want ErrInvalidState", err)
	}
	if err := baseline.Setup(ctx, consumers, suppliers, funding); err != nil {
		t.Fatal(err)
	}
	target, err := NewBaselineTarget(ctx, baseline, consumers, suppliers)
	if err != nil {
		t.Fatal(err)
	}
	if target.Name() != "redis-aof-always" {
		t.Fatalf("Name() = %q", target.Name())
	}
	// 300 debits of 1 over 5 consumers of 50 each: 250 paid, 50 refused.
	operations, failures := doConcurrently(t, target, targetTestWorkers, targetTestCalls)
	if operations != consumers*funding || len(failures) != 1 || failures["402"] != targetTestWorkers*targetTestCalls-consumers*funding {
		t.Fatalf("%d operations, failures %v; want %d and 50 402s", operations, failures, consumers*funding)
	}
	paid, received, _, debits, err := baseline.Totals(ctx)
	if err != nil || paid != 0 || received != consumers*funding || debits != consumers*funding {
		t.Fatalf("Totals() = %d, %d, _, %d, %v; want 0, 250, 250", paid, received, debits, err)
	}
	if cpu, err := target.ServerCPU(); err != nil || cpu <= 0 {
		t.Fatalf("ServerCPU() = %v, %v; want a positive time", cpu, err)
	}
	if err := target.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := baseline.Totals(ctx); err != nil {
		t.Fatalf("the baseline after its target's Close: %v, want it still open", err)
	}
}

// TestTollwayTargetRefusesWhatItCannotRun checks the configuration before
// any request.
func TestTollwayTargetRefusesWhatItCannotRun(t *testing.T) {
	for _, cfg := range []HTTPTargetConfig{
		{Scenario: ScenarioEmbeddedCharge, Consumers: 1, Suppliers: 1, Connections: 1},
		{Scenario: ScenarioHTTPCharge, Consumers: 0, Suppliers: 1, Connections: 1},
		{Scenario: ScenarioHTTPBatch, Consumers: 1, Suppliers: 1, Connections: 1, BatchSize: 1001},
		{Scenario: ScenarioMixed, Consumers: 1, Suppliers: 1, Connections: 1, ReadEvery: 1},
	} {
		if _, err := NewHTTPTarget(t.Context(), cfg); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("NewHTTPTarget(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
	if _, err := NewNoopTarget(t.Context(), "http://127.0.0.1:1", nil, 0, 0, 1); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("NewNoopTarget with no consumers = %v, want ErrInvalid", err)
	}
}

// TestEmbeddedTargetBatchesChargeExactlyOnceEach checks the embedded
// target's ChargeBatch calls: each batch paid by one consumer, every charge
// applied once, each call counting its charges.
func TestEmbeddedTargetBatchesChargeExactlyOnceEach(t *testing.T) {
	dir := t.TempDir()
	const consumers, suppliers, batch, calls = 10, 3, 10, 5
	target, err := NewEmbeddedTarget(t.Context(), dir, consumers, suppliers, batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	operations, failures := doConcurrently(t, target, targetTestWorkers, calls)
	const charges = targetTestWorkers * calls * batch // 200: batches 0-19, two per consumer
	if operations != charges || len(failures) > 0 {
		t.Fatalf("%d operations, failures %v; want %d and none", operations, failures, charges)
	}
	eng := reopenCharged(t, target, dir, consumers, charges)
	defer eng.Close()
	for i, want := range []uint64{67, 67, 66} { // charge n goes to supplier n % 3
		if got := supplierTotal(t, eng, []engine.AccountID{supplierID(i)}); got != want {
			t.Errorf("supplier %d holds %d, want %d", i, got, want)
		}
	}
	if _, err := NewEmbeddedTarget(t.Context(), t.TempDir(), consumers, suppliers, 1001, 0); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("NewEmbeddedTarget with batches of 1001 = %v, want ErrInvalid", err)
	}
}

// reopenCharged closes target, reopens its data directory and checks that
// each of its consumers paid charges/consumers of PrepareEmbedded's funding,
// (Charges/Consumers + 2) * 1000. The caller closes the engine.
func reopenCharged(t *testing.T, target Target, dir string, consumers, charges int) *engine.Engine {
	t.Helper()
	if err := target.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	funding := uint64(embeddedFundingCharges/1000+2) * 1000
	for i := range consumers {
		b, err := eng.Balance(t.Context(), consumerID(i))
		if err != nil {
			eng.Close()
			t.Fatal(err)
		}
		if want := engine.NewAmount(funding - uint64(charges/consumers)); b.Available.Cmp(want) != 0 {
			t.Errorf("consumer %d holds %v, want %v", i, b.Available, want)
		}
	}
	return eng
}

func TestRandomIDsAreDistinctAndOfOneLength(t *testing.T) {
	const ids = 100_000
	seen := make(map[string]bool, ids)
	for n := range uint64(ids) {
		id := randomID("p-", n)
		if len(id) != len("p-")+randomIDChars || id[:2] != "p-" {
			t.Fatalf("randomID(%d) = %q, want p- and %d base62 digits", n, id, randomIDChars)
		}
		if seen[id] {
			t.Fatalf("randomID(%d) = %q again", n, id)
		}
		seen[id] = true
	}
	if first, second := randomID("", 0), randomID("", 1); first[0] == second[0] && first[1] == second[1] {
		t.Errorf("consecutive ids %q and %q share their first digits: not scattered", first, second)
	}
}
