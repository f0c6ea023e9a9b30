package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

const (
	recoveryEntries  = 1_000_000
	recoveryAccounts = 1_000_000
)

// fillLog applies n charges from 10,000 consumers to 100 suppliers in
// ChargeBatch calls of 500 from 64 goroutines, each batch paid by one
// consumer. The engine was opened with snapshots disabled, so every entry
// stays in the log.
func fillLog(b *testing.B, eng *engine.Engine, n int) {
	ctx := context.Background()
	const callers, batch = 64, 500
	cfg := EmbeddedConfig{Consumers: 10_000, Suppliers: 100, Charges: n, BatchSize: batch}
	if err := PrepareEmbedded(ctx, eng, cfg); err != nil {
		b.Fatal(err)
	}
	consumers, suppliers := accountIDs(consumerID, cfg.Consumers), accountIDs(supplierID, cfg.Suppliers)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			charges := make([]engine.Charge, batch)
			for {
				first := next.Add(batch) - batch
				if first >= int64(n) {
					return
				}
				count := min(batch, int64(n)-first)
				for i := range count {
					charges[i] = engine.Charge{ID: engine.TransferID(fmt.Sprintf("fill-%d", first+i)),
						From: consumers[int(first/batch)%len(consumers)], To: suppliers[int(first+i)%len(suppliers)],
						Amount: engine.NewAmount(1000)}
				}
				for _, r := range eng.ChargeBatch(ctx, charges[:count]) {
					if r.Err != nil {
						failed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d charges failed while filling the log", failed.Load())
	}
}

// BenchmarkRecoveryReplay measures how fast Open replays a log of
// 1,000,000 entries with no snapshot (entries replayed per second).
func BenchmarkRecoveryReplay(b *testing.B) {
	dir := b.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir, SnapshotEvery: -1, Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	fillLog(b, eng, recoveryEntries)
	if err := eng.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var rec engine.Recovery
	for range b.N {
		eng, err := engine.Open(engine.Options{Dir: dir, SnapshotEvery: -1, Logger: quietLogger})
		if err != nil {
			b.Fatal(err)
		}
		rec = eng.Recovered()
		b.StopTimer()
		eng.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rec.Replayed)/rec.Duration.Seconds(), "entries/s")
	b.ReportMetric(float64(rec.Replayed), "entries")
	b.ReportMetric(rec.Duration.Seconds(), "open-s")
	b.Logf("replayed %d entries (%d client ids) in %v: %.0f entries/s", rec.Replayed, rec.ClientIDs, rec.Duration,
		float64(rec.Replayed)/rec.Duration.Seconds())
}

// BenchmarkOpenAfterSnapshotAccounts measures Open with 1,000,000 accounts
// in the latest snapshot, and the heap each idle account costs while open.
func BenchmarkOpenAfterSnapshotAccounts(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	runtime.GC()
	before := heapInUse()
	eng, err := engine.Open(engine.Options{Dir: dir, Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	createAccounts(b, eng, recoveryAccounts)
	if err := eng.Snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	perAccount := float64(heapInUse()-before) / recoveryAccounts
	if err := eng.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var opened time.Duration
	for range b.N {
		started := time.Now()
		eng, err := engine.Open(engine.Options{Dir: dir, Logger: quietLogger})
		if err != nil {
			b.Fatal(err)
		}
		opened = time.Since(started)
		b.StopTimer()
		if got := eng.Stats().Accounts; got < recoveryAccounts {
			b.Fatalf("reopened with %d accounts, want %d", got, recoveryAccounts)
		}
		eng.Close()
		b.StartTimer()
	}
	b.ReportMetric(opened.Seconds(), "open-s")
	b.ReportMetric(perAccount, "heap-bytes/account")
	b.Logf("open with %d accounts after a snapshot: %v; heap per idle account while open: %.0f bytes", recoveryAccounts, opened, perAccount)
}

func createAccounts(b *testing.B, eng *engine.Engine, n int) {
	ctx := context.Background()
	const chunk = 10_000
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			accounts := make([]engine.Account, 0, chunk)
			for start := range work {
				accounts = accounts[:0]
				for i := start; i < min(start+chunk, n); i++ {
					accounts = append(accounts, engine.Account{ID: engine.AccountID(fmt.Sprintf("acct-%07d", i)), Ledger: "bench:USDC"})
				}
				for _, err := range eng.CreateAccounts(ctx, accounts) {
					if err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	for start := 0; start < n; start += chunk {
		work <- start
	}
	close(work)
	wg.Wait()
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
