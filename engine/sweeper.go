package engine

import (
	"container/heap"
	"sync"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
)

// sweeper expires holds at their deadline and fires sessions' timers.
// Accounts also expire their due holds before every decision (and sessions
// close when due before every transition), so the sweeper matters for
// those otherwise idle: it wakes at the earliest deadline and asks the
// payer's actor to expire what is due, or the session's actor to close.
// One goroutine.
//
// Deadlines are on the engine's clock (Options.Clock); the wait until the
// next one is a runtime timer of that length, capped at sweepWaitMax. With
// the default clock, time.Now, the two are the same clock: inside a
// testing/synctest bubble both are the bubble's fake time, so a test sees a
// hold expire exactly at its deadline without sleeping (sweeper_test.go). A
// Clock that is not time.Now (a test's settable clock, a stepped wall
// clock) is re-read at least every sweepWaitMax.
//
// It keeps one entry per open hold and per open session, keyed by its id:
// a hold's closing or a session's removes its entry, and a session's
// start replaces its entry's deadline. So the timers held are bounded by
// what is open (which per-account limits bound), not by how many holds
// and sessions came and went within their windows.
type sweeper struct {
	e        *Engine
	mu       sync.Mutex
	due      deadlineHeap
	entries  map[ledger.TransferID]*deadlineItem
	wake     chan struct{}
	stopping chan struct{}
	stopped  chan struct{}
}

func newSweeper(e *Engine) *sweeper {
	return &sweeper{e: e, entries: make(map[ledger.TransferID]*deadlineItem),
		wake: make(chan struct{}, 1), stopping: make(chan struct{}), stopped: make(chan struct{})}
}

func (s *sweeper) start() { go s.run() }

func (s *sweeper) stop() {
	close(s.stopping)
	<-s.stopped
}

// addHold schedules the expiry check of hold id, whose payer is account,
// at deadline (Unix nanoseconds).
func (s *sweeper) addHold(id ledger.TransferID, deadline int64, account ledger.AccountID) {
	s.set(deadlineItem{deadline: deadline, id: id, account: account})
}

// addSession schedules the timer of an open session in its current state:
// the end of its start window, or of its maximum duration once live (which
// replaces the former).
func (s *sweeper) addSession(session *ledger.Session) {
	if deadline, ok := session.Deadline(); ok {
		s.set(deadlineItem{deadline: deadline, id: session.ID, session: true})
	}
}

// openHold returns the payer of the hold a capture or void c names, if
// the hold is open and durable: its timer is set from its durable
// placing (onDurable) until its durable closing.
func (s *sweeper) openHold(c *ledger.Command) (payer ledger.AccountID, open bool) {
	if c.Type != ledger.CommandCapture && c.Type != ledger.CommandVoid {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	item := s.entries[c.ID]
	if item == nil || item.session {
		return "", false
	}
	return item.account, true
}

// remove drops the timer of a hold or session that closed.
func (s *sweeper) remove(id ledger.TransferID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if item := s.entries[id]; item != nil {
		heap.Remove(&s.due, item.index)
		delete(s.entries, id)
	}
}

func (s *sweeper) set(item deadlineItem) {
	s.mu.Lock()
	if existing := s.entries[item.id]; existing != nil {
		existing.deadline = item.deadline
		heap.Fix(&s.due, existing.index)
	} else {
		entry := &item
		s.entries[item.id] = entry
		heap.Push(&s.due, entry)
	}
	first := s.due[0].deadline == item.deadline
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *sweeper) run() {
	defer close(s.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		accounts, sessions, next := s.takeDue()
		for account := range accounts {
			if entry := s.e.registry.Entry(account); entry != nil {
				s.e.registry.Send(entry, &actors.Expire{})
			}
		}
		for _, id := range sessions {
			if entry := s.e.registry.Session(id); entry != nil { // nil: closed since
				s.e.registry.SendSession(entry, &actors.SessionTimeout{})
			}
		}
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-s.wake:
		case <-s.stopping:
			return
		}
	}
}

// sweepWaitMax bounds a sleep, so a clock that jumps is noticed.
const sweepWaitMax = time.Second

// takeDue pops every deadline that has passed and returns the accounts
// and sessions they name, and how long to sleep until the next. A popped
// entry is gone: the actor told closes what is due (a hold's or session's
// closing then finds no entry to remove).
func (s *sweeper) takeDue() (map[ledger.AccountID]struct{}, []ledger.TransferID, time.Duration) {
	now := s.e.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	accounts := make(map[ledger.AccountID]struct{})
	var sessions []ledger.TransferID
	for len(s.due) > 0 && s.due[0].deadline <= now {
		item := heap.Pop(&s.due).(*deadlineItem)
		delete(s.entries, item.id)
		if item.session {
			sessions = append(sessions, item.id)
		} else {
			accounts[item.account] = struct{}{}
		}
	}
	if len(s.due) == 0 {
		return accounts, sessions, sweepWaitMax
	}
	return accounts, sessions, min(time.Duration(s.due[0].deadline-now), sweepWaitMax)
}

// deadlineItem is a hold (id) whose payer (account) to ask for expiries,
// or a session (id) to ask to fire its timer, at deadline.
type deadlineItem struct {
	deadline int64
	id       ledger.TransferID
	account  ledger.AccountID
	session  bool
	index    int // in the heap, kept by Swap, Push and Pop
}

type deadlineHeap []*deadlineItem

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *deadlineHeap) Push(x any) {
	item := x.(*deadlineItem)
	item.index = len(*h)
	*h = append(*h, item)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	item := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return item
}
