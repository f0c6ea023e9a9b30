package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// admission bounds the operations in flight: admitted and not yet answered.
// It is the engine's only backpressure: the log's queue never blocks, since
// account actors append from whatever goroutine runs them, the log's own
// among them, so every entry in it must belong to an admitted operation.
//
// NB: the fast path is one compare-and-swap; only a call that finds the
// engine full takes the mutex, to wait for a release. A CAS rather than an
// add-then-undo: an undone add would be a moment of phantom load, and two
// of them can make each other wait with nothing in flight to wake them.
type admission struct {
	limit    int64
	inFlight atomic.Int64
	waiters  atomic.Int64
	mu       sync.Mutex
	released chan struct{} // closed by a release that finds waiters; then replaced
}

func newAdmission(limit int) *admission {
	return &admission{limit: int64(limit), released: make(chan struct{})}
}

// acquire admits n operations, waiting while the engine holds limit; n above
// the limit is admitted as the limit (alone, once everything else left).
// It returns the weight to release.
func (a *admission) acquire(ctx context.Context, n int) (int64, error) {
	weight := min(int64(n), a.limit)
	if a.tryAcquire(weight) {
		return weight, nil
	}
	a.waiters.Add(1)
	defer a.waiters.Add(-1)
	for {
		a.mu.Lock()
		released := a.released
		a.mu.Unlock()
		// Retried after registering as a waiter, so a release in between
		// either shows here or closes released.
		if a.tryAcquire(weight) {
			return weight, nil
		}
		select {
		case <-released:
		case <-ctx.Done():
			return 0, fmt.Errorf("engine: gave up waiting for room (%d operations in flight): %w", a.limit, ctx.Err())
		}
	}
}

func (a *admission) tryAcquire(weight int64) bool {
	for {
		inFlight := a.inFlight.Load()
		if inFlight+weight > a.limit {
			return false
		}
		if a.inFlight.CompareAndSwap(inFlight, inFlight+weight) {
			return true
		}
	}
}

// release gives back weight; waiters, if any, retry.
func (a *admission) release(weight int64) {
	if weight == 0 {
		return
	}
	a.inFlight.Add(-weight)
	if a.waiters.Load() > 0 {
		a.mu.Lock()
		close(a.released)
		a.released = make(chan struct{})
		a.mu.Unlock()
	}
}
