package approvals

import (
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/internal/deadline"
)

// expiryWaitMax bounds the expirer's sleep, so a clock that is not the
// runtime's (Options.Now set to a stepped or settable clock) is re-read.
const expiryWaitMax = time.Second

// expirer expires PENDING approvals at their ExpiresAt: one goroutine
// sleeping until the earliest, as the engine's sweeper does for holds.
// With Options.Now = time.Now its sleep and the clock agree, also inside a
// testing/synctest bubble, so an approval expires exactly at ExpiresAt.
// One entry per PENDING approval, removed when it leaves memory.
type expirer struct {
	s        *Service
	mu       sync.Mutex
	due      *deadline.Set[engine.TransferID, struct{}] // ExpiresAt in Unix nanoseconds
	wake     chan struct{}
	stopping chan struct{}
	stopped  chan struct{}
}

func newExpirer(s *Service) *expirer {
	return &expirer{s: s, due: deadline.New[engine.TransferID, struct{}](),
		wake: make(chan struct{}, 1), stopping: make(chan struct{}), stopped: make(chan struct{})}
}

func (x *expirer) start() { go x.run() }

func (x *expirer) stop() {
	close(x.stopping)
	<-x.stopped
}

// add arms (or re-arms) id's expiry at at.
func (x *expirer) add(id engine.TransferID, at time.Time) {
	x.mu.Lock()
	first := x.due.Put(id, at.UnixNano(), struct{}{})
	x.mu.Unlock()
	if first {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

func (x *expirer) remove(id engine.TransferID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.due.Remove(id)
}

func (x *expirer) run() {
	defer close(x.stopped)
	timer := time.NewTimer(expiryWaitMax)
	defer timer.Stop()
	for {
		ids, next := x.takeDue()
		for _, id := range ids {
			x.s.expireDue(id)
		}
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-x.wake:
		case <-x.stopping:
			return
		}
	}
}

// takeDue pops the approvals due by now and returns how long to sleep
// until the next.
func (x *expirer) takeDue() ([]engine.TransferID, time.Duration) {
	now := x.s.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	var ids []engine.TransferID
	next, ok := x.due.PopDue(now.UnixNano(), func(id engine.TransferID, _ struct{}) { ids = append(ids, id) })
	if !ok {
		return ids, expiryWaitMax
	}
	return ids, min(time.Duration(next-now.UnixNano()), expiryWaitMax)
}
