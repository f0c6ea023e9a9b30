package engine

import (
	"container/heap"
	"sync"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
)

// sweeper expires holds at their deadline. Accounts also expire their due
// holds before every decision, so the sweeper matters only for accounts that
// are otherwise idle: it wakes at the earliest deadline and asks the payer's
// actor to expire what is due. One goroutine.
//
// Deadlines are on the engine's clock (Options.Clock); the wait until the
// next one is a runtime timer of that length, capped at sweepWaitMax. With
// the default clock, time.Now, the two are the same clock: inside a
// testing/synctest bubble both are the bubble's fake time, so a test sees a
// hold expire exactly at its deadline without sleeping (sweeper_test.go). A
// Clock that is not time.Now (a test's settable clock, a stepped wall
// clock) is re-read at least every sweepWaitMax.
type sweeper struct {
	e        *Engine
	mu       sync.Mutex
	due      deadlineHeap
	wake     chan struct{}
	stopping chan struct{}
	stopped  chan struct{}
}

func newSweeper(e *Engine) *sweeper {
	return &sweeper{e: e, wake: make(chan struct{}, 1), stopping: make(chan struct{}), stopped: make(chan struct{})}
}

func (s *sweeper) start() { go s.run() }

func (s *sweeper) stop() {
	close(s.stopping)
	<-s.stopped
}

// add schedules account's expiry check at deadline (Unix nanoseconds).
func (s *sweeper) add(deadline int64, account ledger.AccountID) {
	s.push(deadlineItem{deadline: deadline, account: account})
}

// addSession schedules the timer of an open session in its current state:
// the end of its start window, or of its maximum duration once live. The
// earlier one is left in the heap: when it fires, the session's actor
// finds nothing due (ledger.Session.Due).
func (s *sweeper) addSession(session *ledger.Session) {
	if deadline, ok := session.Deadline(); ok {
		s.push(deadlineItem{deadline: deadline, session: session.ID})
	}
}

func (s *sweeper) push(item deadlineItem) {
	deadline := item.deadline
	s.mu.Lock()
	heap.Push(&s.due, item)
	first := s.due[0].deadline == deadline
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

// takeDue pops every deadline that has passed and returns their accounts
// and sessions and how long to sleep until the next.
func (s *sweeper) takeDue() (map[ledger.AccountID]struct{}, []ledger.TransferID, time.Duration) {
	now := s.e.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	accounts := make(map[ledger.AccountID]struct{})
	var sessions []ledger.TransferID
	for len(s.due) > 0 && s.due[0].deadline <= now {
		item := heap.Pop(&s.due).(deadlineItem)
		if item.session != "" {
			sessions = append(sessions, item.session)
		} else {
			accounts[item.account] = struct{}{}
		}
	}
	if len(s.due) == 0 {
		return accounts, sessions, sweepWaitMax
	}
	return accounts, sessions, min(time.Duration(s.due[0].deadline-now), sweepWaitMax)
}

// deadlineItem is a hold's payer to check for expiries, or a session to
// check for its timer.
type deadlineItem struct {
	deadline int64
	account  ledger.AccountID
	session  ledger.TransferID
}

type deadlineHeap []deadlineItem

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadlineItem)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	item := old[len(old)-1]
	*h = old[:len(old)-1]
	return item
}
