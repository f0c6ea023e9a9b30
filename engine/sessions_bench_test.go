package engine_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

var liveSessions = flag.Int("live-sessions", 100_000, "sessions live at once in BenchmarkLiveSessions")

// settableClock is an engine clock a benchmark moves by hand.
type settableClock struct{ nanos atomic.Int64 }

func (c *settableClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()) }
func (c *settableClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// BenchmarkLiveSessions opens, accepts and starts -live-sessions sessions
// (100,000 by default) at one moment, and reports what each costs in memory
// while live: the heap after a GC, with them, minus before (B/session),
// actors, timers and the payers' reservations included. Then it moves the
// clock to their common maximum, so that every one of them ends by itself
// in the same sweep, while 64 callers charge other accounts, and reports
// the charges' p99 latency before and during that burst, and how long the
// engine took to end them all.
//
//	go test -run '^$' -bench LiveSessions -benchtime 1x ./engine/
func BenchmarkLiveSessions(b *testing.B) {
	for range b.N {
		benchmarkLiveSessions(b, *liveSessions)
	}
}

func benchmarkLiveSessions(b *testing.B, n int) {
	ctx := context.Background()
	clock := &settableClock{}
	clock.nanos.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	eng, err := engine.Open(engine.Options{Dir: b.TempDir(), Clock: clock.Now, SnapshotEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	// Sessions count against their payer's open holds (4096): spread them.
	const perPayer = 1000
	payers := (n + perPayer - 1) / perPayer
	ids := []engine.AccountID{"supplier"}
	for p := range payers {
		ids = append(ids, engine.AccountID(fmt.Sprintf("payer-%d", p)))
	}
	for c := range 64 {
		ids = append(ids, engine.AccountID(fmt.Sprintf("charger-%d", c)), engine.AccountID(fmt.Sprintf("charged-%d", c)))
	}
	for i, err := range eng.CreateAccounts(ctx, accountsOf(ids)) {
		if err != nil {
			b.Fatalf("CreateAccount(%s) = %v", ids[i], err)
		}
	}
	for _, id := range ids[1:] {
		if _, err := eng.Credit(ctx, engine.TransferID("fund-"+id), id, engine.NewAmount(1<<50)); err != nil {
			b.Fatal(err)
		}
	}
	before := heapAfterGC()
	parallel(n, func(i int) {
		id := engine.TransferID(fmt.Sprintf("sess-%d", i))
		payer := engine.AccountID(fmt.Sprintf("payer-%d", i/perPayer))
		if _, err := eng.OpenSession(ctx, engine.OpenSession{ID: id, From: payer, To: "supplier",
			Rate: engine.NewAmount(1), MaxSeconds: 60}); err != nil {
			b.Fatal(err)
		}
		if _, err := eng.AcceptSession(ctx, id, "supplier"); err != nil {
			b.Fatal(err)
		}
		if _, err := eng.StartSession(ctx, id, payer); err != nil {
			b.Fatal(err)
		}
	})
	live := heapAfterGC()
	if path := os.Getenv("LIVE_SESSIONS_HEAP"); path != "" {
		f, _ := os.Create(path)
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	b.ReportMetric(float64(live-before)/float64(n), "B/session")

	// Charges on accounts no session touches, before and during the burst.
	var (
		stop      atomic.Bool
		mu        sync.Mutex
		latencies [2][]time.Duration // before, during
		phase     atomic.Int32
		wg        sync.WaitGroup
	)
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from, to := engine.AccountID(fmt.Sprintf("charger-%d", c)), engine.AccountID(fmt.Sprintf("charged-%d", c))
			var mine [2][]time.Duration
			for i := 0; !stop.Load(); i++ {
				p := phase.Load()
				start := time.Now()
				if _, err := eng.Charge(ctx, engine.Charge{ID: engine.TransferID(fmt.Sprintf("c-%d-%d", c, i)), From: from, To: to,
					Amount: engine.NewAmount(1)}); err != nil {
					b.Error(err)
					return
				}
				mine[p] = append(mine[p], time.Since(start))
			}
			mu.Lock()
			latencies[0] = append(latencies[0], mine[0]...)
			latencies[1] = append(latencies[1], mine[1]...)
			mu.Unlock()
		}()
	}
	const alone = time.Second
	time.Sleep(alone) // charges alone: the baseline
	phase.Store(1)
	burst := time.Now()
	clock.Advance(60 * time.Second) // every session reaches its maximum
	for eng.Stats().Sessions > 0 {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(burst)
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(took.Seconds(), "s-to-end-all")
	b.ReportMetric(float64(p99(latencies[0]).Microseconds()), "charge-p99-before-µs")
	b.ReportMetric(float64(p99(latencies[1]).Microseconds()), "charge-p99-during-µs")
	b.ReportMetric(float64(len(latencies[0]))/alone.Seconds(), "charges/s-before")
	b.ReportMetric(float64(len(latencies[1]))/took.Seconds(), "charges/s-during")
	b.ReportMetric(float64(slices.Max(latencies[1]).Microseconds()), "charge-max-during-µs")
	supplier, err := eng.Balance(ctx, "supplier")
	if err != nil || supplier.Available != engine.NewAmount(uint64(n)*60) {
		b.Fatalf("supplier = %+v %v, want every session charged 60 once", supplier, err)
	}
	if err := eng.Verify(ctx); err != nil {
		b.Fatal(err)
	}
}

func accountsOf(ids []engine.AccountID) []engine.Account {
	accounts := make([]engine.Account, len(ids))
	for i, id := range ids {
		accounts[i] = engine.Account{ID: id, Ledger: "test:USDC"}
	}
	return accounts
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// parallel runs fn for 0..n-1 on 64 goroutines.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}
