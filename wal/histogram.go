package wal

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// histogramBoundsMax bounds the buckets of a histogram, so a snapshot stays
// small enough to take on every metrics scrape.
const histogramBoundsMax = 32

// histogram counts observations of a non-negative integer quantity
// (nanoseconds, records) in buckets whose upper bounds grow exponentially.
// It exists so the committer can record every group commit on its hot path:
// an observation is a binary search over the fixed bounds and two atomic
// adds, with no lock, no allocation and no clock reading of its own. Any
// goroutine may take a snapshot meanwhile.
//
// There is no count of its own: a snapshot's count is the sum of the buckets
// it read, so the two always agree (Prometheus requires it). A snapshot taken
// during an observation may see its bucket and not yet its sum, which is off
// by that one observation until the next snapshot.
type histogram struct {
	bounds []uint64        // upper bounds, increasing; fixed at construction
	counts []atomic.Uint64 // counts[i]: values in (bounds[i-1], bounds[i]]; the last: above every bound
	sum    atomic.Uint64
}

// newHistogram returns a histogram with the upper bounds first,
// first*factor, first*factor², ..., boundsCount of them.
//
// REQUIRES: first >= 1, factor >= 2, 1 <= boundsCount <= histogramBoundsMax,
// and the last bound fits in a uint64.
func newHistogram(first, factor uint64, boundsCount int) *histogram {
	if first < 1 || factor < 2 || boundsCount < 1 || boundsCount > histogramBoundsMax {
		panic(fmt.Sprintf("wal: histogram of %d bounds from %d by %d", boundsCount, first, factor))
	}
	h := &histogram{bounds: make([]uint64, boundsCount), counts: make([]atomic.Uint64, boundsCount+1)}
	bound := first
	for i := range h.bounds {
		h.bounds[i] = bound
		if i+1 < boundsCount && bound > math.MaxUint64/factor {
			panic(fmt.Sprintf("wal: histogram bound %d of %d overflows", i+1, boundsCount))
		}
		bound *= factor
	}
	return h
}

// observe counts value in its bucket and adds it to the sum.
func (h *histogram) observe(value uint64) {
	// The first bound >= value, or len(h.bounds) (the overflow bucket) if none.
	bucket, _ := slices.BinarySearch(h.bounds, value)
	h.counts[bucket].Add(1)
	h.sum.Add(value)
}

// snapshot returns the histogram's bounds and sum divided by unit (1 for
// records, 1e9 for nanoseconds read as seconds) and its cumulative counts.
// Dividing, rather than multiplying by 1/unit, gives the float64 nearest the
// exact quotient: a bound of 10000 ns is 1e-05 s, not 1.0000000000000001e-05.
func (h *histogram) snapshot(unit float64) HistogramSnapshot {
	snapshot := HistogramSnapshot{
		UpperBounds: make([]float64, len(h.bounds)),
		Cumulative:  make([]uint64, len(h.bounds)),
	}
	for i, bound := range h.bounds {
		snapshot.UpperBounds[i] = float64(bound) / unit
		snapshot.Count += h.counts[i].Load()
		snapshot.Cumulative[i] = snapshot.Count
	}
	snapshot.Count += h.counts[len(h.bounds)].Load()
	snapshot.Sum = float64(h.sum.Load()) / unit
	return snapshot
}

// HistogramSnapshot is a histogram of the log read at one moment: plain
// values, in the form Prometheus histograms take (cumulative buckets, a
// count and a sum).
type HistogramSnapshot struct {
	UpperBounds []float64 // increasing; bucket i holds observations <= UpperBounds[i]
	Cumulative  []uint64  // Cumulative[i]: observations <= UpperBounds[i]
	Count       uint64    // every observation, also those above the last bound
	Sum         float64   // of every observation
}
