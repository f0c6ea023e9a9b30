package wal

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

const (
	// pipelineAppenders append concurrently in the pipeline tests.
	pipelineAppenders = 64
	// pipelineBatchEntriesMax keeps groups small, so that there are many and
	// the pipeline is full most of the time.
	pipelineBatchEntriesMax = 16
)

// report is one OnDurable call.
type report struct {
	first     uint64
	positions []uint64 // entries[i].Position
	barriers  []bool   // entries[i] is a barrier
	err       error
}

// reports records the OnDurable calls, in call order, and fails the test if
// two calls overlap.
type reports struct {
	t       testing.TB
	calling atomic.Bool
	mutex   sync.Mutex
	calls   []report
}

// wrap returns an OnDurable that records each call, then calls next.
func (r *reports) wrap(next func([]*Entry, uint64, error)) func([]*Entry, uint64, error) {
	return func(entries []*Entry, first uint64, err error) {
		if !r.calling.CompareAndSwap(false, true) {
			r.t.Errorf("OnDurable called while another call runs")
		}
		call := report{first: first, err: err}
		for _, entry := range entries {
			call.positions = append(call.positions, entry.Position)
			call.barriers = append(call.barriers, entry.isBarrier())
		}
		r.mutex.Lock()
		r.calls = append(r.calls, call)
		r.mutex.Unlock()
		r.calling.Store(false)
		next(entries, first, err)
	}
}

func (r *reports) copy() []report {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return slices.Clone(r.calls)
}

// checkOrder checks the calls report the log in strictly increasing position
// order from position next on: each durable group starts right after the
// previous one, a group of barriers only reports the next position (it
// overtook nothing), and once a group failed every later one fails too,
// each written one at the position after the groups written before it. It
// returns the position after the last durable record.
func checkOrder(t *testing.T, calls []report, next uint64) uint64 {
	t.Helper()
	durableNext, failed := next, false
	for i, call := range calls {
		records := uint64(0)
		for _, barrier := range call.barriers {
			if !barrier {
				records++
			}
		}
		if call.err != nil {
			if !errors.Is(call.err, ErrFailed) {
				t.Fatalf("call %d: err = %v, want ErrFailed", i, call.err)
			}
			failed = true
			if call.first != 0 && (call.first != next || records == 0) {
				t.Fatalf("call %d: failed group of %d records written at %d, want %d",
					i, records, call.first, next)
			}
			if call.first != 0 {
				next += records
			}
			continue
		}
		if failed {
			t.Fatalf("call %d: group at %d acknowledged after a failed one", i, call.first)
		}
		if call.first != next {
			t.Fatalf("call %d: group at %d reported when %d is next: out of order", i, call.first, next)
		}
		position := call.first
		for j, barrier := range call.barriers {
			if !barrier && call.positions[j] != position {
				t.Fatalf("call %d: entry %d at %d, want %d", i, j, call.positions[j], position)
			}
			if !barrier {
				position++
			}
		}
		next = position
		durableNext = next
	}
	return durableNext
}

func TestOnDurableReportsInStrictPositionOrder(t *testing.T) {
	const perAppender = 150
	seed := testSeed(t)
	h := &harness{t: t}
	recorded := &reports{t: t}
	options := h.options(vfs.Default) // real fsyncs, so that groups wait in the pipeline
	options.BatchEntriesMax = pipelineBatchEntriesMax
	options.OnDurable = recorded.wrap(h.onDurable)
	l, err := Open(t.TempDir(), options)
	if err != nil {
		t.Fatal(err)
	}
	h.log.Store(l)

	var group sync.WaitGroup
	for appender := range pipelineAppenders {
		group.Go(func() {
			appendWithBarriers(t, l, rand.New(rand.NewPCG(seed, uint64(appender))), appender, perAppender)
		})
	}
	group.Wait()
	closeLog(t, l)

	calls := recorded.copy()
	next := checkOrder(t, calls, 1)
	if total := uint64(pipelineAppenders * perAppender); next != total+1 || l.Durable() != total {
		t.Fatalf("reported up to %d, Durable() = %d, want %d", next-1, l.Durable(), total)
	}
	t.Logf("%d records in %d OnDurable calls", next-1, len(calls))
}

// appendWithBarriers appends count records, a few at a time with Append or
// AppendBatch and sometimes a barrier alone, and checks the appender's
// acknowledgements come in its order.
func appendWithBarriers(t *testing.T, l *Log, random *rand.Rand, appender, count int) {
	var previous uint64
	for sequence := 0; sequence < count; {
		var entries []*Entry
		for range 1 + random.IntN(4) {
			if random.IntN(8) == 0 {
				entries = append(entries, &Entry{Token: &tracked{appender: appender, acks: make(chan ack, 1)}})
			} else if sequence < count {
				entries = append(entries, newEntry(random, appender, sequence))
				sequence++
			}
		}
		if len(entries) == 1 {
			l.Append(entries[0])
		} else {
			l.AppendBatch(entries)
		}
		for _, entry := range entries {
			a := wait(t, entry)
			switch {
			case a.err != nil:
				t.Errorf("appender %d: append = %v", appender, a.err)
				return
			case entry.isBarrier() && a.position != 0:
				t.Errorf("appender %d: barrier at %d", appender, a.position)
			case !entry.isBarrier() && a.position <= previous:
				t.Errorf("appender %d: record at %d after %d", appender, a.position, previous)
			case !entry.isBarrier():
				previous = a.position
			}
		}
	}
}

// TestFailedSyncFailsTheRestInOrderAndNothingIsWrittenBehindIt fails the
// WAL fsync for good after a seeded number of successful ones, under many
// concurrent appenders: everything from the failing group on is reported
// failed, in order; no group is written to Pebble behind the failing fsync
// (a write after a failed fsync can make Pebble panic with its locks held);
// and every acknowledged entry survives a crash.
func TestFailedSyncFailsTheRestInOrderAndNothingIsWrittenBehindIt(t *testing.T) {
	seed := testSeed(t)
	random := rand.New(rand.NewPCG(seed, 0))
	syncsBeforeFailure := int64(5 + random.IntN(40))
	t.Logf("the WAL fsync fails after %d successful ones", syncsBeforeFailure)

	h := &harness{t: t}
	var (
		counting atomic.Bool  // count WAL fsyncs from now on
		syncs    atomic.Int64 // WAL fsyncs counted
	)
	injector := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !isWALSync(op) || !counting.Load() {
			return nil
		}
		if syncs.Add(1) <= syncsBeforeFailure {
			return nil
		}
		return errorfs.ErrInjected // the disk is gone for good
	})
	mem := vfs.NewCrashableMem()
	recorded := &reports{t: t}
	options := h.options(errorfs.Wrap(mem, injector))
	options.BatchEntriesMax = pipelineBatchEntriesMax
	options.OnDurable = recorded.wrap(h.onDurable)
	l, err := Open(testDir, options)
	if err != nil {
		t.Fatal(err)
	}
	h.log.Store(l)
	counting.Store(true)

	acknowledged := appendUntilFailed(t, l, seed)
	durable := l.Durable()
	if err := l.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Err() = %v, want ErrFailed caused by the injected error", err)
	}
	image := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	closeWithin(t, l, ackTimeout)

	calls := recorded.copy()
	if next := checkOrder(t, calls, 1); next != durable+1 {
		t.Fatalf("acknowledged up to %d, Durable() = %d", next-1, durable)
	}
	failedWritten := 0
	for _, call := range calls {
		if call.err != nil && call.first != 0 {
			failedWritten++
		}
	}
	want := acknowledged.copy()
	t.Logf("%d entries acknowledged (durable %d) in %d calls; %d failed groups had been written",
		len(want), durable, len(calls), failedWritten)
	if failedWritten != 1 {
		t.Errorf("%d failed groups had been written to Pebble, want only the one whose fsync failed", failedWritten)
	}
	checkRecovery(t, image, want)
}

// appendUntilFailed has pipelineAppenders goroutines append windows of
// entries without waiting for each one, until the log fails. Each checks
// that once one of its entries failed, every later one failed too. It
// returns the entries acknowledged durable.
func appendUntilFailed(t *testing.T, l *Log, seed uint64) *acknowledged {
	const window = 8
	acknowledged := newAcknowledged()
	var group sync.WaitGroup
	for appender := range pipelineAppenders {
		group.Go(func() {
			random := rand.New(rand.NewPCG(seed, uint64(appender)+1))
			failed := false
			for sequence := 0; !failed; sequence += window {
				entries := make([]*Entry, window)
				for i := range entries {
					entries[i] = newEntry(random, appender, sequence+i)
					l.Append(entries[i])
				}
				for _, entry := range entries {
					a := wait(t, entry)
					switch {
					case a.err != nil && !errors.Is(a.err, ErrFailed):
						t.Errorf("append = %v, want ErrFailed", a.err)
					case a.err != nil:
						failed = true
					case failed:
						t.Errorf("appender %d: entry acknowledged after an earlier one failed", appender)
					default:
						acknowledged.add(t, a.position, entry)
					}
				}
			}
		})
	}
	group.Wait()
	return acknowledged
}

// isWALSync reports an fsync of one of Pebble's WAL files.
func isWALSync(op errorfs.Op) bool {
	isSync := op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo
	return isSync && strings.HasSuffix(op.Path, ".log")
}

func TestBarrierAloneWaitsForTheGroupInFlight(t *testing.T) {
	var holding atomic.Bool
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	injector := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if isWALSync(op) && holding.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return nil
	})
	h := &harness{t: t}
	recorded := &reports{t: t}
	options := h.options(errorfs.Wrap(vfs.NewMem(), injector))
	options.OnDurable = recorded.wrap(h.onDurable)
	l, err := Open(testDir, options)
	if err != nil {
		t.Fatal(err)
	}
	h.log.Store(l)
	defer closeLog(t, l)

	holding.Store(true)
	record := newEntry(rand.New(rand.NewPCG(17, 18)), 0, 0)
	l.Append(record)
	select {
	case <-entered:
	case <-time.After(ackTimeout):
		t.Fatal("the record's fsync never started")
	}
	barrier := &Entry{Token: &tracked{sequence: 1, acks: make(chan ack, 1)}}
	l.Append(barrier) // a group of its own: the record's is in flight
	select {
	case a := <-barrier.Token.(*tracked).acks:
		t.Fatalf("barrier acknowledged (%v) while the record before it waits for its fsync", a.err)
	case <-time.After(20 * time.Millisecond):
	}
	holding.Store(false)
	close(release)
	if a := wait(t, record); a.err != nil || a.position != 1 {
		t.Fatalf("record = %d, %v, want 1, nil", a.position, a.err)
	}
	if a := wait(t, barrier); a.err != nil || a.position != 0 {
		t.Fatalf("barrier = %d, %v, want 0, nil", a.position, a.err)
	}
	calls := recorded.copy()
	checkOrder(t, calls, 1)
	if len(calls) != 2 || !slices.Equal(calls[1].barriers, []bool{true}) {
		t.Fatalf("OnDurable calls %+v, want the record's group, then the barrier alone", calls)
	}
}
