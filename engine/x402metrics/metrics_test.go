package x402metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/usage"
	"github.com/tollway/tollway/engine/x402metrics"
)

var day0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func openEngine(t *testing.T, fs vfs.FS) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(engine.Options{Dir: "/data", FS: fs, SnapshotEvery: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// clock is a settable Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// write writes the deltas of one transition each (of another
// authorization each), as the facilitator does with its records, up to
// 256 in a write.
func write(t *testing.T, eng *engine.Engine, owner, network string, kind x402metrics.Kind, amounts []int64, at time.Time) {
	t.Helper()
	var rows []engine.Row
	flush := func() {
		if len(rows) > 0 {
			if _, err := eng.WriteRows(context.Background(), rows...); err != nil {
				t.Fatal(err)
			}
		}
		rows = rows[:0]
	}
	for i, amount := range amounts {
		authorization := fmt.Appendf(nil, "%s/%c/%d/%d", network, kind, at.UnixNano(), i)
		row, ok := x402metrics.DeltaRow(owner, network, authorization, kind, big.NewInt(amount), at)
		if !ok {
			t.Fatalf("DeltaRow(%q, %q) not ok", owner, network)
		}
		if rows = append(rows, row); len(rows) == 256 {
			flush()
		}
	}
	flush()
}

// render prints buckets exactly, for comparisons.
func render(buckets []x402metrics.Bucket) string {
	out := ""
	for _, b := range buckets {
		out += b.Start.Format(time.DateOnly) + renderNetworks(b.Networks) + ";"
	}
	return out
}

func renderNetworks(networks []x402metrics.NetworkTotals) string {
	out := ""
	for _, n := range networks {
		out += fmt.Sprintf(" %s v%d/%s s%d/%s f%d/%s", n.Network, n.Verified.Count, n.Verified.Amount,
			n.Settled.Count, n.Settled.Amount, n.Failed.Count, n.Failed.Amount)
	}
	return out
}

func days(t *testing.T, m *x402metrics.Metrics, owner string, network string) string {
	t.Helper()
	buckets, err := m.Days(owner, usage.DayOf(day0), usage.DayOf(day0.Add(48*time.Hour)), network)
	if err != nil {
		t.Fatal(err)
	}
	return render(buckets)
}

func summary(t *testing.T, m *x402metrics.Metrics, owner string) string {
	t.Helper()
	s, err := m.Summary(owner, "")
	if err != nil {
		t.Fatal(err)
	}
	return renderNetworks(s)
}

// fixture writes a known set of deltas: alice on two networks and two
// days, bob once.
func fixture(t *testing.T, eng *engine.Engine) {
	write(t, eng, "usr_alice", "eip155:1", x402metrics.KindVerified, []int64{100, 250}, day0)
	write(t, eng, "usr_alice", "eip155:1", x402metrics.KindSettled, []int64{100}, day0.Add(time.Second))
	write(t, eng, "usr_alice", "eip155:1", x402metrics.KindFailed, []int64{250}, day0.Add(2*time.Second))
	write(t, eng, "usr_alice", "eip155:8453", x402metrics.KindVerified, []int64{7}, day0.Add(3*time.Second))
	write(t, eng, "usr_alice", "eip155:1", x402metrics.KindVerified, []int64{1000}, day0.Add(24*time.Hour))
	write(t, eng, "usr_bob", "eip155:1", x402metrics.KindVerified, []int64{5}, day0)
}

const (
	wantAliceDays = "2026-12-01 eip155:1 v2/350 s1/100 f1/250 eip155:8453 v1/7 s0/0 f0/0;" +
		"2026-12-02 eip155:1 v1/1000 s0/0 f0/0;"
	wantAliceSummary = " eip155:1 v3/1350 s1/100 f1/250 eip155:8453 v1/7 s0/0 f0/0"
)

// TestCompactionPreservesTotalsExactly: the same totals before any fold,
// after each partial fold, and after all, per day and all-time, filtered
// by network or not.
func TestCompactionPreservesTotalsExactly(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	defer eng.Close()
	c := &clock{now: day0.Add(24 * time.Hour)}
	m := x402metrics.Open(eng, x402metrics.Options{NoCompactor: true, Now: c.Now})
	defer m.Close()
	fixture(t, eng)
	check := func(when string) {
		t.Helper()
		if got := days(t, m, "usr_alice", ""); got != wantAliceDays {
			t.Fatalf("%s: days %q, want %q", when, got, wantAliceDays)
		}
		if got := summary(t, m, "usr_alice"); got != wantAliceSummary {
			t.Fatalf("%s: summary %q, want %q", when, got, wantAliceSummary)
		}
		if got, want := days(t, m, "usr_alice", "eip155:8453"), "2026-12-01 eip155:8453 v1/7 s0/0 f0/0;"; got != want {
			t.Fatalf("%s: days on one network %q, want %q", when, got, want)
		}
		if got, want := days(t, m, "usr_bob", ""), "2026-12-01 eip155:1 v1/5 s0/0 f0/0;"; got != want {
			t.Fatalf("%s: bob's days %q, want %q", when, got, want)
		}
	}
	check("deltas only")
	// Only the first day's deltas are older than CompactAfter.
	folded, err := m.Compact(context.Background())
	if err != nil || folded != 6 {
		t.Fatalf("Compact = %d, %v; want the first day's 6 deltas", folded, err)
	}
	check("after folding the first day")
	c.set(day0.Add(72 * time.Hour))
	if folded, err = m.Compact(context.Background()); err != nil || folded != 1 {
		t.Fatalf("Compact = %d, %v; want the second day's 1 delta", folded, err)
	}
	check("after folding all")
	if folded, err = m.Compact(context.Background()); err != nil || folded != 0 {
		t.Fatalf("Compact with nothing left = %d, %v", folded, err)
	}
	// New deltas over folded totals add up.
	write(t, eng, "usr_alice", "eip155:8453", x402metrics.KindSettled, []int64{7}, day0.Add(time.Hour))
	want := " eip155:1 v3/1350 s1/100 f1/250 eip155:8453 v1/7 s1/7 f0/0"
	if got := summary(t, m, "usr_alice"); got != want {
		t.Fatalf("summary with a new delta %q, want %q", got, want)
	}
	if _, err := m.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := summary(t, m, "usr_alice"); got != want {
		t.Fatalf("summary after folding it %q, want %q", got, want)
	}
}

// TestCompactionFoldsInBoundedBatches: more deltas than one fold takes are
// folded over several, each within CompactDeltasMax, and the total is
// exact.
func TestCompactionFoldsInBoundedBatches(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	defer eng.Close()
	c := &clock{now: day0.Add(time.Hour)}
	m := x402metrics.Open(eng, x402metrics.Options{NoCompactor: true, Now: c.Now})
	defer m.Close()
	n := x402metrics.CompactDeltasMax + 100
	amounts := make([]int64, n)
	for i := range amounts {
		amounts[i] = int64(i + 1)
	}
	write(t, eng, "usr_alice", "eip155:1", x402metrics.KindVerified, amounts, day0)
	want := fmt.Sprintf(" eip155:1 v%d/%d s0/0 f0/0", n, n*(n+1)/2)
	for _, wantFolded := range []int{x402metrics.CompactDeltasMax, 100, 0} {
		folded, err := m.Compact(context.Background())
		if err != nil || folded != wantFolded {
			t.Fatalf("Compact = %d, %v; want %d", folded, err, wantFolded)
		}
		if got := summary(t, m, "usr_alice"); got != want {
			t.Fatalf("summary %q, want %q", got, want)
		}
	}
}

// TestCrashBetweenDeltaAndCompactionLosesAndDoublesNothing: an image of
// the disk as a crash leaves it, taken with deltas written and not
// folded, and again after a fold, reopens to the same totals, and folds
// to them.
func TestCrashBetweenDeltaAndCompactionLosesAndDoublesNothing(t *testing.T) {
	mem := vfs.NewCrashableMem()
	eng := openEngine(t, mem)
	c := &clock{now: day0.Add(24 * time.Hour)}
	m := x402metrics.Open(eng, x402metrics.Options{NoCompactor: true, Now: c.Now})
	fixture(t, eng)
	unfolded := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	if _, err := m.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	partlyFolded := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	m.Close()
	eng.Close()
	for name, image := range map[string]*vfs.MemFS{"unfolded": unfolded, "partly folded": partlyFolded} {
		eng := openEngine(t, image)
		m := x402metrics.Open(eng, x402metrics.Options{NoCompactor: true, Now: c.Now})
		for _, step := range []string{"reopened", "folded after the crash"} {
			if got := days(t, m, "usr_alice", ""); got != wantAliceDays {
				t.Fatalf("%s, %s: days %q, want %q", name, step, got, wantAliceDays)
			}
			if got := summary(t, m, "usr_alice"); got != wantAliceSummary {
				t.Fatalf("%s, %s: summary %q, want %q", name, step, got, wantAliceSummary)
			}
			c.set(day0.Add(72 * time.Hour))
			if _, err := m.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		c.set(day0.Add(24 * time.Hour))
		m.Close()
		eng.Close()
	}
}

// TestQueriesDuringCompactionAreExact: queries running while folds write
// answer the exact totals, under the race detector. (The window it guards
// is small: TestAFoldNeverLandsBetweenAQuerysScans checks the exclusion
// deterministically.)
func TestQueriesDuringCompactionAreExact(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	defer eng.Close()
	c := &clock{now: day0.Add(time.Hour)}
	m := x402metrics.Open(eng, x402metrics.Options{NoCompactor: true, Now: c.Now})
	defer m.Close()
	n := 8*x402metrics.CompactDeltasMax + 1
	amounts := make([]int64, n)
	for i := range amounts {
		amounts[i] = 10
	}
	write(t, eng, "usr_alice", "eip155:1", x402metrics.KindSettled, amounts, day0)
	want := fmt.Sprintf(" eip155:1 v0/0 s%d/%d f0/0", n, 10*n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			folded, err := m.Compact(context.Background())
			if err != nil || folded == 0 {
				return
			}
		}
	}()
	for queries := 0; ; queries++ {
		select {
		case <-done:
			if got := summary(t, m, "usr_alice"); got != want {
				t.Fatalf("summary at the end %q, want %q", got, want)
			}
			return
		default:
		}
		if got := summary(t, m, "usr_alice"); got != want {
			t.Fatalf("query %d during compaction: %q, want %q", queries, got, want)
		}
	}
}

// TestAFoldNeverLandsBetweenAQuerysScans: a query holds what excludes a
// fold's write from reading its totals to reading its deltas, and a fold
// holds what excludes queries while it writes: so no query counts a delta
// twice (folded and present) or never (folded after its totals were read,
// deleted before its deltas were).
func TestAFoldNeverLandsBetweenAQuerysScans(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	defer eng.Close()
	c := &clock{now: day0.Add(24 * time.Hour)}
	m := x402metrics.Open(eng, x402metrics.Options{NoCompactor: true, Now: c.Now})
	defer m.Close()
	seen := map[string]int{}
	x402metrics.SetHook(m, func(stage string) {
		seen[stage]++
		switch {
		case stage == "between-scans" && !x402metrics.FoldsExcluded(m):
			t.Error("between a query's scans, a fold could write")
		case stage == "written" && !x402metrics.QueriesExcluded(m):
			t.Error("while a fold writes, a query could read")
		}
	})
	fixture(t, eng)
	days(t, m, "usr_alice", "")
	summary(t, m, "usr_alice")
	if _, err := m.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen["between-scans"] != 2 || seen["written"] != 1 {
		t.Fatalf("hook stages %v, want 2 between-scans and 1 written", seen)
	}
}

// TestTheCompactorFoldsOnItsInterval: Open's goroutine folds deltas at
// its first CompactInterval tick once they are CompactAfter old (to the
// second), not before; Close joins it.
func TestTheCompactorFoldsOnItsInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eng := openEngine(t, vfs.NewMem())
		defer eng.Close()
		m := x402metrics.Open(eng, x402metrics.Options{CompactAfter: time.Minute, CompactInterval: 10 * time.Second})
		defer m.Close()
		write(t, eng, "usr_alice", "eip155:1", x402metrics.KindVerified, []int64{1, 2, 3}, time.Now())
		deltas := func() int {
			n := 0
			if err := eng.ScanRows([]byte("x402/metrics/d/"), func(_, _ []byte) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			return n
		}
		time.Sleep(time.Minute - time.Second) // five ticks, the deltas younger than a minute
		synctest.Wait()
		if n := deltas(); n != 3 {
			t.Fatalf("%d deltas before they are a minute old, want 3 (not folded)", n)
		}
		time.Sleep(time.Second) // the sixth tick: a minute old
		synctest.Wait()
		if n := deltas(); n != 0 {
			t.Fatalf("%d deltas at the tick after they are a minute old, want 0", n)
		}
		if got, want := summary(t, m, "usr_alice"), " eip155:1 v3/6 s0/0 f0/0"; got != want {
			t.Fatalf("summary %q, want %q", got, want)
		}
	})
}

// TestDeltaRowRefusesWhatItCannotKey: no owner, a slash, an amount past
// 256 bits: nothing to count.
func TestDeltaRowRefusesWhatItCannotKey(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), 256)
	for _, tc := range []struct {
		owner, network string
		amount         *big.Int
	}{
		{"", "eip155:1", big.NewInt(1)},
		{"usr/a", "eip155:1", big.NewInt(1)},
		{"usr_a", "", big.NewInt(1)},
		{"usr_a", "eip155:1", huge},
		{"usr_a", "eip155:1", big.NewInt(-1)},
	} {
		if _, ok := x402metrics.DeltaRow(tc.owner, tc.network, []byte("a"), x402metrics.KindVerified, tc.amount, day0); ok {
			t.Errorf("DeltaRow(%q, %q, %v) ok, want refused", tc.owner, tc.network, tc.amount)
		}
	}
}
