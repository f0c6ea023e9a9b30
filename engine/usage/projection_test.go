package usage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/usage"
)

const (
	testLedger = "test:USDC"
	testFeeBps = 100
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// world is an engine, its projection, and the usage its test expects,
// computed from the transfers the engine acknowledged.
type world struct {
	t        *testing.T
	options  engine.Options
	project  usage.Options
	clock    *fakeClock
	eng      *engine.Engine
	p        *usage.Projection
	expected map[engine.AccountID]map[usage.Day]usage.Totals
	seq      int
}

func newWorld(t *testing.T, options engine.Options, project usage.Options) *world {
	w := &world{t: t, options: options, project: project,
		clock:    &fakeClock{now: time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)},
		expected: make(map[engine.AccountID]map[usage.Day]usage.Totals)}
	w.options.Clock, w.options.FeeBps = w.clock.Now, testFeeBps
	if w.options.Dir == "" {
		w.options.Dir = t.TempDir()
	}
	w.open()
	t.Cleanup(w.close)
	for _, id := range []engine.AccountID{"alice", "bob", "carol"} {
		if err := w.eng.CreateAccount(context.Background(), engine.Account{ID: id, Ledger: testLedger}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.eng.Credit(context.Background(), "dep", "alice", engine.NewAmount(10_000_000)); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) open() {
	w.t.Helper()
	var err error
	if w.eng, err = engine.Open(w.options); err != nil {
		w.t.Fatalf("engine.Open = %v", err)
	}
	if w.p, err = usage.Open(w.eng, w.project); err != nil {
		w.t.Fatalf("usage.Open = %v", err)
	}
}

func (w *world) close() {
	if w.p != nil {
		if err := w.p.Close(); err != nil {
			w.t.Errorf("projection Close = %v", err)
		}
	}
	if w.eng != nil {
		if err := w.eng.Close(); err != nil {
			w.t.Errorf("engine Close = %v", err)
		}
	}
	w.p, w.eng = nil, nil
}

func (w *world) add(account engine.AccountID, at time.Time, delta usage.Totals) {
	days := w.expected[account]
	if days == nil {
		days = make(map[usage.Day]usage.Totals)
		w.expected[account] = days
	}
	totals := days[usage.DayOf(at)]
	if err := totals.Add(delta); err != nil {
		w.t.Fatal(err)
	}
	days[usage.DayOf(at)] = totals
}

// counted records what an acknowledged charge or capture adds.
func (w *world) counted(from, to engine.AccountID, posted, fee engine.Amount) {
	earned, _ := posted.Sub(fee)
	now := w.clock.Now()
	w.add(from, now, usage.Totals{SpentCount: 1, Spent: posted, Fees: fee})
	w.add(to, now, usage.Totals{EarnedCount: 1, Earned: earned})
}

func (w *world) nextID(kind string) engine.TransferID {
	w.seq++
	return engine.TransferID(fmt.Sprintf("%s-%d", kind, w.seq))
}

func (w *world) charge(from, to engine.AccountID, amount uint64) {
	w.t.Helper()
	tr, err := w.eng.Charge(context.Background(), engine.Charge{ID: w.nextID("c"), From: from, To: to, Amount: engine.NewAmount(amount)})
	if err != nil {
		w.t.Fatalf("Charge(%s, %s, %d) = %v", from, to, amount, err)
	}
	w.counted(from, to, tr.Amount, tr.Fee)
}

// holdAndCapture holds amount and captures part of it; a second hold is voided.
func (w *world) holdAndCapture(from, to engine.AccountID, amount, part uint64) {
	w.t.Helper()
	ctx := context.Background()
	id := w.nextID("h")
	if _, err := w.eng.Hold(ctx, engine.Hold{ID: id, From: from, To: to, Amount: engine.NewAmount(amount), Timeout: time.Hour}); err != nil {
		w.t.Fatalf("Hold = %v", err)
	}
	tr, err := w.eng.Capture(ctx, id, engine.NewAmount(part))
	if err != nil {
		w.t.Fatalf("Capture = %v", err)
	}
	w.counted(from, to, tr.Captured, tr.Fee)
	voided := w.nextID("h")
	if _, err := w.eng.Hold(ctx, engine.Hold{ID: voided, From: from, To: to, Amount: engine.NewAmount(amount), Timeout: time.Hour}); err != nil {
		w.t.Fatalf("Hold = %v", err)
	}
	if err := w.eng.Void(ctx, voided); err != nil {
		w.t.Fatalf("Void = %v", err)
	}
}

// session runs a session from -> to at rate for seconds (its end counts),
// and opens and cancels another (it does not); the clock ends where it began.
func (w *world) session(from, to engine.AccountID, rate uint64, seconds time.Duration) {
	w.t.Helper()
	ctx := context.Background()
	start := w.clock.Now()
	id := w.nextID("s")
	if _, err := w.eng.OpenSession(ctx, engine.OpenSession{ID: id, From: from, To: to, Rate: engine.NewAmount(rate), MaxSeconds: 3600}); err != nil {
		w.t.Fatalf("OpenSession = %v", err)
	}
	for _, step := range []func(context.Context, engine.TransferID, engine.AccountID) (engine.Session, error){
		w.eng.AcceptSession, w.eng.StartSession} {
		if _, err := step(ctx, id, to); err != nil {
			w.t.Fatalf("session step = %v", err)
		}
	}
	w.clock.Set(start.Add(seconds))
	ended, err := w.eng.EndSession(ctx, id, from)
	if err != nil {
		w.t.Fatalf("EndSession = %v", err)
	}
	w.counted(from, to, ended.Charged, ended.Fee)
	cancelled := w.nextID("s")
	if _, err := w.eng.OpenSession(ctx, engine.OpenSession{ID: cancelled, From: from, To: to, Rate: engine.NewAmount(rate), MaxSeconds: 60}); err != nil {
		w.t.Fatalf("OpenSession = %v", err)
	}
	if _, err := w.eng.CancelSession(ctx, cancelled, from); err != nil {
		w.t.Fatalf("CancelSession = %v", err)
	}
	w.clock.Set(start)
}

// check compares every account's days from..to with what the test expects.
func (w *world) check(from, to usage.Day) {
	w.t.Helper()
	if err := w.p.Wait(context.Background(), w.eng.Position()); err != nil {
		w.t.Fatalf("Wait(%d) = %v", w.eng.Position(), err)
	}
	for _, account := range []engine.AccountID{"alice", "bob", "carol", engine.FeesAccount(testLedger)} {
		got, err := w.p.Days(account, from, to)
		if err != nil {
			w.t.Fatalf("Days(%s) = %v", account, err)
		}
		want := w.expected[account]
		inRange := 0
		for day := range want {
			if day >= from && day <= to {
				inRange++
			}
		}
		if len(got) != inRange {
			w.t.Fatalf("Days(%s, %d, %d) = %d buckets %+v, want %d %+v", account, from, to, len(got), got, inRange, want)
		}
		for i, bucket := range got {
			day := usage.DayOf(bucket.Start)
			if bucket.Totals != want[day] || (i > 0 && !got[i-1].Start.Before(bucket.Start)) {
				w.t.Fatalf("Days(%s) day %s = %+v, want %+v (in order)", account, bucket.Start.Format(time.DateOnly), bucket.Totals, want[day])
			}
		}
	}
}

func day(s string) usage.Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return usage.DayOf(t)
}

func TestDayTotalsAreExactOnTheirUTCDayAndMergeIntoMonths(t *testing.T) {
	w := newWorld(t, engine.Options{SnapshotEvery: -1}, usage.Options{DirtyMax: 2})
	lastNanosecond := time.Date(2026, 11, 30, 23, 59, 59, 999_999_999, time.UTC)
	w.clock.Set(lastNanosecond)
	w.charge("alice", "bob", 1000)
	w.holdAndCapture("alice", "carol", 700, 300)
	w.clock.Set(lastNanosecond.Add(time.Nanosecond))
	w.charge("alice", "bob", 2500)
	w.charge("bob", "carol", 99) // fee rounds down to 0
	w.holdAndCapture("alice", "bob", 5000, 5000)
	w.session("alice", "carol", 30, 40*time.Second) // 1200 charged, 12 of it the fee
	// A refused charge is not usage.
	if _, err := w.eng.Charge(context.Background(), engine.Charge{ID: "too-much", From: "carol", To: "bob", Amount: engine.NewAmount(1 << 40)}); !errors.Is(err, engine.ErrInsufficientFunds) {
		t.Fatalf("Charge beyond funds = %v", err)
	}
	w.check(day("2026-11-30"), day("2026-12-01"))
	w.check(day("2026-12-01"), day("2026-12-01"))

	days, err := w.p.Days("alice", day("2026-11-01"), day("2026-12-31"))
	if err != nil {
		t.Fatal(err)
	}
	months, err := usage.ByMonth(days)
	if err != nil {
		t.Fatal(err)
	}
	november := usage.Totals{SpentCount: 2, Spent: engine.NewAmount(1300), Fees: engine.NewAmount(10 + 3)}
	december := usage.Totals{SpentCount: 3, Spent: engine.NewAmount(7500 + 1200), Fees: engine.NewAmount(25 + 50 + 12)}
	if len(months) != 2 || months[0].Totals != november || months[1].Totals != december ||
		!months[1].Start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("ByMonth(alice) = %+v, want November %+v and December %+v", months, november, december)
	}
	if n := w.p.DirtyLen(); n > 2 {
		t.Fatalf("DirtyLen() = %d, want at most DirtyMax 2", n)
	}
}

// Many accounts-days with a small DirtyMax: memory stays bounded, and the
// totals are exact across the flushes it forces.
func TestDirtyDaysStayBoundedAndFlushesKeepTotalsExact(t *testing.T) {
	w := newWorld(t, engine.Options{SnapshotEvery: 7}, usage.Options{DirtyMax: 5})
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 40 {
		w.clock.Set(start.Add(time.Duration(i) * 24 * time.Hour))
		w.charge("alice", "bob", uint64(100+i))
		if n := w.p.DirtyLen(); n > 5 {
			t.Fatalf("DirtyLen() = %d after %d charges, want at most 5", n, i+1)
		}
	}
	w.check(day("2026-01-01"), day("2026-02-15"))
	w.check(day("2026-01-10"), day("2026-01-20"))
	if err := w.eng.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Close and reopen: nothing lost, nothing counted twice, and new events add
// on top.
func TestRestartResumesExactly(t *testing.T) {
	w := newWorld(t, engine.Options{SnapshotEvery: 3}, usage.Options{})
	w.clock.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	for range 5 {
		w.charge("alice", "bob", 1000)
		w.holdAndCapture("alice", "carol", 400, 100)
	}
	w.check(day("2026-12-01"), day("2026-12-01"))
	w.close()
	w.open()
	w.check(day("2026-12-01"), day("2026-12-01"))
	w.charge("alice", "bob", 1)
	w.check(day("2026-12-01"), day("2026-12-01"))
	w.close()
	w.open()
	w.check(day("2026-12-01"), day("2026-12-01"))
}

// A crash image taken while folded events are not yet persisted, after
// snapshots: the reopened projection folds them again from
// its cursor, which its retention kept in the log, exactly once.
func TestCrashImageResumesWithoutLossOrDoubleCount(t *testing.T) {
	mem := vfs.NewCrashableMem()
	// Snapshots only when asked, so that the one below truncates exactly
	// up to the retention (an automatic one may have chosen its point
	// before the retention last moved; truncation then lags, safely).
	w := newWorld(t, engine.Options{Dir: "/data", FS: mem, SnapshotEvery: -1},
		usage.Options{DirtyMax: 4, FlushInterval: time.Hour})
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range 12 {
		w.clock.Set(start.Add(time.Duration(i) * 24 * time.Hour))
		w.charge("alice", "bob", uint64(1000+i))
		w.holdAndCapture("alice", "carol", 900, uint64(100+i))
	}
	w.check(day("2026-12-01"), day("2026-12-31"))
	if err := w.eng.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.charge("bob", "carol", 1) // folded, not persisted: FlushInterval is an hour
	w.check(day("2026-12-01"), day("2026-12-31"))
	// A snapshot of everything: only the retention keeps the records the
	// projection has not persisted.
	if err := w.eng.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	retained := w.eng.Retained()[usage.RetentionName]
	if retained == 0 || retained >= w.eng.Position() || w.eng.FirstPosition() != retained+1 {
		t.Fatalf("retained %d, position %d, first %d: want a persisted cursor behind the log's end, the first position kept",
			retained, w.eng.Position(), w.eng.FirstPosition())
	}
	image := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	w.close()
	w.options.FS = image
	w.open()
	w.check(day("2026-12-01"), day("2026-12-31"))
	w.charge("bob", "carol", 10)
	w.check(day("2026-12-01"), day("2026-12-31"))
	if err := w.eng.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDayOfIsTheUTCDay(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "2026-12-01"},
		{time.Date(2026, 11, 30, 23, 59, 59, 999_999_999, time.UTC), "2026-11-30"},
		{time.Date(2026, 12, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "2026-12-01"},
		{time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "2026-11-30"},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "1969-12-31"},
	} {
		if got := usage.DayOf(c.at).Time().Format(time.DateOnly); got != c.want {
			t.Fatalf("DayOf(%v) = %s, want %s", c.at, got, c.want)
		}
	}
}

// TestRowsSkipWhatTheyCountWhenFoldedAgain: a flush may take several
// writes, its cursor in the last; after a crash between them the days
// already written count events that the log after the older cursor holds
// again. Simulated here by moving the cursor back after a flush: folding
// that stretch again must change nothing.
func TestRowsSkipWhatTheyCountWhenFoldedAgain(t *testing.T) {
	w := newWorld(t, engine.Options{SnapshotEvery: -1}, usage.Options{})
	w.charge("alice", "bob", 1000)
	back := w.eng.Position()
	w.charge("alice", "bob", 2000)
	w.holdAndCapture("alice", "carol", 700, 300)
	w.session("alice", "carol", 3, 7*time.Second)
	w.check(day("2026-11-30"), day("2026-12-01"))
	w.close() // flushes every day and the cursor
	w.open()
	if _, err := w.eng.WriteRows(context.Background(), usage.CursorRow(back)); err != nil {
		t.Fatal(err)
	}
	w.close()
	w.open() // resumes after back: the charges, capture and session after it come again
	w.check(day("2026-11-30"), day("2026-12-01"))
	w.charge("bob", "carol", 10) // and new events still count
	w.check(day("2026-11-30"), day("2026-12-01"))
}
