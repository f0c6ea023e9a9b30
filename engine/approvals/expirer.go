package approvals

import (
	"container/heap"
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
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
	due      expiryHeap
	items    map[engine.TransferID]*expiryItem
	wake     chan struct{}
	stopping chan struct{}
	stopped  chan struct{}
}

type expiryItem struct {
	at    time.Time
	id    engine.TransferID
	index int
}

func newExpirer(s *Service) *expirer {
	return &expirer{s: s, items: make(map[engine.TransferID]*expiryItem),
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
	if item := x.items[id]; item != nil {
		item.at = at
		heap.Fix(&x.due, item.index)
	} else {
		item = &expiryItem{at: at, id: id}
		x.items[id] = item
		heap.Push(&x.due, item)
	}
	first := x.due[0].id == id
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
	if item := x.items[id]; item != nil {
		heap.Remove(&x.due, item.index)
		delete(x.items, id)
	}
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
	for len(x.due) > 0 && !now.Before(x.due[0].at) {
		item := heap.Pop(&x.due).(*expiryItem)
		delete(x.items, item.id)
		ids = append(ids, item.id)
	}
	if len(x.due) == 0 {
		return ids, expiryWaitMax
	}
	return ids, min(x.due[0].at.Sub(now), expiryWaitMax)
}

type expiryHeap []*expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiryHeap) Push(v any) {
	item := v.(*expiryItem)
	item.index = len(*h)
	*h = append(*h, item)
}
func (h *expiryHeap) Pop() any {
	old := *h
	item := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return item
}
