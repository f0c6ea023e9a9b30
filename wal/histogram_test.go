package wal

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestHistogramCountsEachValueInTheFirstBucketAtOrAboveIt(t *testing.T) {
	for _, test := range []struct {
		values         []uint64
		wantCumulative []uint64 // at the bounds 1, 2, 4, 8
		wantCount      uint64
		wantSum        float64
	}{
		{nil, []uint64{0, 0, 0, 0}, 0, 0},
		{[]uint64{0, 1}, []uint64{2, 2, 2, 2}, 2, 1},
		{[]uint64{2, 3, 4}, []uint64{0, 1, 3, 3}, 3, 9},
		{[]uint64{8, 9, 1000}, []uint64{0, 0, 0, 1}, 3, 1017},
	} {
		h := newHistogram(1, 2, 4)
		for _, value := range test.values {
			h.observe(value)
		}
		got := h.snapshot(1)
		if !slices.Equal(got.UpperBounds, []float64{1, 2, 4, 8}) || !slices.Equal(got.Cumulative, test.wantCumulative) ||
			got.Count != test.wantCount || got.Sum != test.wantSum {
			t.Errorf("observe(%v) then snapshot = %+v, want cumulative %v, count %d, sum %v",
				test.values, got, test.wantCumulative, test.wantCount, test.wantSum)
		}
	}
}

func TestHistogramSnapshotDividesByItsUnit(t *testing.T) {
	h := newHistogram(10_000, 10, 3)
	h.observe(2_500_000)
	got := h.snapshot(1e9)
	if !slices.Equal(got.UpperBounds, []float64{1e-05, 1e-04, 1e-03}) || got.Sum != 0.0025 {
		t.Errorf("snapshot(1e9) = %+v, want bounds [1e-05 1e-04 1e-03] and sum 0.0025", got)
	}
}

func TestHistogramRefusesBoundsItCannotHold(t *testing.T) {
	for _, test := range []struct {
		first, factor uint64
		boundsCount   int
	}{
		{0, 2, 4}, {1, 1, 4}, {1, 2, 0}, {1, 2, histogramBoundsMax + 1}, {1 << 40, 1 << 20, 3},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("newHistogram(%d, %d, %d) did not panic", test.first, test.factor, test.boundsCount)
				}
			}()
			newHistogram(test.first, test.factor, test.boundsCount)
		}()
	}
	// The largest bound that fits is allowed.
	if h := newHistogram(1<<31, 2, 32); h.bounds[31] != 1<<62 {
		t.Errorf("newHistogram(1<<31, 2, 32) last bound = %d, want %d", h.bounds[31], uint64(1)<<62)
	}
}

func TestCommitRecordsBoundsCoverTheLargestGroup(t *testing.T) {
	records := newCommitHistograms().records
	if last := records.bounds[len(records.bounds)-1]; last < batchEntriesLimit {
		t.Errorf("last records bound = %d, want at least batchEntriesLimit (%d)", last, batchEntriesLimit)
	}
}

func TestHistogramObserveDoesNotAllocate(t *testing.T) {
	h := newCommitHistograms().duration
	value := uint64(0)
	if allocations := testing.AllocsPerRun(1000, func() {
		value += 7919
		h.observe(value)
	}); allocations != 0 {
		t.Errorf("observe allocates %v times, want 0", allocations)
	}
}

// TestHistogramSnapshotCountAgreesWithItsBuckets takes snapshots while
// observations run (and lets -race look at it): a snapshot's count is never
// below its last cumulative bucket, and the final one counts everything.
func TestHistogramSnapshotCountAgreesWithItsBuckets(t *testing.T) {
	const observers, perObserver = 4, 10_000
	h := newHistogram(1, 2, 8)
	var group sync.WaitGroup
	for observer := range observers {
		group.Go(func() {
			random := rand.New(rand.NewPCG(1, uint64(observer)))
			for range perObserver {
				h.observe(random.Uint64N(512))
			}
		})
	}
	done := make(chan struct{})
	go func() { group.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		snapshot := h.snapshot(1)
		if last := snapshot.Cumulative[len(snapshot.Cumulative)-1]; snapshot.Count < last {
			t.Fatalf("snapshot count %d below its last cumulative bucket %d", snapshot.Count, last)
		}
	}
	if got := h.snapshot(1).Count; got != observers*perObserver {
		t.Fatalf("count = %d after %d observations", got, observers*perObserver)
	}
}

func TestCommitHistogramsCountEveryGroupCommitWithRecords(t *testing.T) {
	const sequential, appenders, perAppender = 50, 16, 100
	seed := testSeed(t)
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)

	// One appender waiting for each acknowledgement: one group per entry.
	random := rand.New(rand.NewPCG(seed, 0))
	for sequence := range sequential {
		entry := newEntry(random, 0, sequence)
		l.Append(entry)
		if a := wait(t, entry); a.err != nil {
			t.Fatalf("append %d = %v", sequence, a.err)
		}
	}
	histograms := l.CommitHistograms()
	if histograms.DurationSeconds.Count != sequential || histograms.Records.Count != sequential ||
		histograms.Records.Sum != sequential || h.commits.Load() != sequential {
		t.Fatalf("after %d sequential appends: %d commits, histograms %+v", sequential, h.commits.Load(), histograms)
	}
	if histograms.Records.Cumulative[0] != sequential {
		t.Errorf("records per group = %+v, want every group at 1", histograms.Records)
	}

	// Concurrent appenders: groups of many entries.
	appendConcurrently(t, l, seed, appenders, perAppender, false)
	histograms = l.CommitHistograms()
	commits, entries := uint64(h.commits.Load()), h.entries.Load()
	if histograms.DurationSeconds.Count != commits || histograms.Records.Count != commits ||
		histograms.Records.Sum != float64(entries) || entries != sequential+appenders*perAppender {
		t.Fatalf("after concurrent appends: %d commits of %d entries, histograms %+v", commits, entries, histograms)
	}
	duration := histograms.DurationSeconds
	if duration.Sum <= 0 || duration.Sum < float64(duration.Count)*1e-9 {
		t.Errorf("commit durations sum to %v s over %d commits, want each positive", duration.Sum, duration.Count)
	}

	// A group of barriers only commits nothing: it is not measured.
	barrier := &Entry{Token: &tracked{acks: make(chan ack, 1)}}
	l.Append(barrier)
	if a := wait(t, barrier); a.err != nil {
		t.Fatalf("barrier = %v", a.err)
	}
	if got := l.CommitHistograms(); got.Records.Count != commits || uint64(h.commits.Load()) != commits+1 {
		t.Errorf("after a barrier: %d commits, histograms count %d, want %d and %d",
			h.commits.Load(), got.Records.Count, commits+1, commits)
	}
}
