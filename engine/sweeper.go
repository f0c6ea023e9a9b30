package engine

import (
	"sync"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/internal/deadline"
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
	due      *deadline.Set[ledger.TransferID, dueWhat] // Unix nanoseconds on the engine's clock
	wake     chan struct{}
	stopping chan struct{}
	stopped  chan struct{}
}

func newSweeper(e *Engine) *sweeper {
	return &sweeper{e: e, due: deadline.New[ledger.TransferID, dueWhat](),
		wake: make(chan struct{}, 1), stopping: make(chan struct{}), stopped: make(chan struct{})}
}

func (s *sweeper) start() { go s.run() }

func (s *sweeper) stop() {
	close(s.stopping)
	<-s.stopped
}

// addHold schedules the expiry check of hold id, whose payer is account,
// at deadline (Unix nanoseconds).
func (s *sweeper) addHold(id ledger.TransferID, at int64, account ledger.AccountID) {
	s.set(id, at, dueWhat{account: account})
}

// addSession schedules the timer of an open session in its current state:
// the end of its start window, or of its maximum duration once live (which
// replaces the former).
func (s *sweeper) addSession(session *ledger.Session) {
	if at, ok := session.Deadline(); ok {
		s.set(session.ID, at, dueWhat{session: true})
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
	what, ok := s.due.Get(c.ID)
	if !ok || what.session {
		return "", false
	}
	return what.account, true
}

// remove drops the timer of a hold or session that closed.
func (s *sweeper) remove(id ledger.TransferID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.due.Remove(id)
}

func (s *sweeper) set(id ledger.TransferID, at int64, what dueWhat) {
	s.mu.Lock()
	first := s.due.Put(id, at, what)
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
	next, ok := s.due.PopDue(now, func(id ledger.TransferID, what dueWhat) {
		if what.session {
			sessions = append(sessions, id)
		} else {
			accounts[what.account] = struct{}{}
		}
	})
	if !ok {
		return accounts, sessions, sweepWaitMax
	}
	return accounts, sessions, min(time.Duration(next-now), sweepWaitMax)
}

// dueWhat is what a deadline asks for: the payer (account) of a hold to
// expire what is due, or a session to fire its timer.
type dueWhat struct {
	account ledger.AccountID
	session bool
}
