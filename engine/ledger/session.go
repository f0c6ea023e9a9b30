package ledger

import "fmt"

// A session meters time: a consumer (From) reserves Rate × MaxSeconds for a
// supplier (To), who accepts; either side starts it and ends it; the end
// posts Rate × the whole seconds it was live and releases the rest.
//
// Its money is a hold on the payer with no deadline (a session reservation,
// see Hold.IsSession): the payer's account places it when the session opens
// and releases it when the session closes, through the session's own
// events. Everything else (the state machine and its two timers, the start
// window and the maximum duration) is the session's, decided by
// DecideSession on the session's actor. Every session event carries the
// whole session, so the latest one tells its full story, as a hold's do.

// SessionState is where a session is in its life.
type SessionState uint8

const (
	SessionRequested SessionState = iota + 1 // opened by the consumer, its maximum reserved
	SessionAssigned                          // accepted by the supplier
	SessionLive                              // started: its seconds count
	SessionEnded                             // ended: charged for its whole seconds live
	SessionCancelled                         // cancelled by the consumer before it went live
	SessionExpired                           // not started within its start window
)

// String returns the state's name as the API spells it.
func (s SessionState) String() string {
	switch s {
	case SessionRequested:
		return "REQUESTED"
	case SessionAssigned:
		return "ASSIGNED"
	case SessionLive:
		return "LIVE"
	case SessionEnded:
		return "ENDED"
	case SessionCancelled:
		return "CANCELLED"
	case SessionExpired:
		return "EXPIRED"
	}
	return "UNKNOWN"
}

// IsOpen reports whether the session still reserves funds.
func (s SessionState) IsOpen() bool { return s >= SessionRequested && s <= SessionLive }

// Session limits, so that no session holds funds, or an actor, without end.
const (
	// SessionSecondsMax bounds a session's maximum duration: 30 days, as
	// HoldTimeoutMax bounds a hold.
	SessionSecondsMax = 30 * 24 * 60 * 60
	// SessionStartWithinMax bounds the start window, in nanoseconds: a day.
	SessionStartWithinMax = int64(24 * 60 * 60 * 1e9)
	// SessionStartWithinDefault is the start window when none is asked for:
	// 300 seconds, as API.md says.
	SessionStartWithinDefault = int64(300 * 1e9)
)

const secondNanos = int64(1e9)

// SessionTerms is what session events carry beyond a hold's fields: the
// rest of the session, so that any one of its events describes it whole.
type SessionTerms struct {
	Rate       Amount // per second, locked when the session opened
	MaxSeconds int64
	Created    int64 // Unix nanoseconds
	StartBy    int64 // a session not live by then expires
	Accepted   int64 // 0 until it happens
	Started    int64
	Ended      int64 // when it closed (ended, cancelled or expired)
}

// Session is one metered session: the state its actor owns.
type Session struct {
	ID      TransferID
	Ledger  LedgerID
	From    AccountID // the consumer, who pays
	To      AccountID // the supplier
	Fees    AccountID
	FeeBps  uint32    // the fee rate locked when it opened
	Spender SpenderID // whose budget the reservation counts against
	Memo    string
	State   SessionState
	Terms   SessionTerms
	// Reserved is Rate × MaxSeconds, held on From while the session is open.
	Reserved Amount
	// Charged and Fee are what the end posted (Fee of it to Fees).
	Charged, Fee Amount
}

// SessionCommandType names a transition someone asks of a session.
type SessionCommandType uint8

const (
	SessionAccept SessionCommandType = iota + 1 // the supplier takes it
	SessionStart                                // either side: it goes live
	SessionEnd                                  // either side: it ends, charged
	SessionCancel                               // the consumer, before it is live
)

// SessionCommand asks for a transition on behalf of By, one of the
// session's two accounts.
type SessionCommand struct {
	Type SessionCommandType
	By   AccountID
}

// ErrWrongParty refuses a transition asked by the session's other side
// (an accept by the consumer, a cancel by the supplier).
var ErrWrongParty = fmt.Errorf("%w: not this party's transition", ErrInvalidState)

// Deadline returns when the session's timer fires: the end of its start
// window before it is live, the end of its maximum duration while live;
// false once it is closed.
func (s *Session) Deadline() (int64, bool) {
	switch s.State {
	case SessionRequested, SessionAssigned:
		return s.Terms.StartBy, true
	case SessionLive:
		return s.liveUntil(), true
	}
	return 0, false
}

// liveUntil is when a live session reaches its maximum duration.
func (s *Session) liveUntil() int64 { return s.Terms.Started + s.Terms.MaxSeconds*secondNanos }

// Due returns the event of the session's timer if it has fired by now: an
// expiry (not started within its window) or the end of a live session at
// its maximum. Each is stamped with the moment the timer was due, not
// when it was noticed, so a session whose deadline passed while the engine
// was down closes as it would have at that moment, charged the same.
func (s *Session) Due(now int64) (Event, bool) {
	deadline, ok := s.Deadline()
	if !ok || deadline > now {
		return Event{}, false
	}
	if s.State == SessionLive {
		return s.endedAt(deadline, now), true
	}
	e := s.event(EventSessionExpired, now)
	e.Session.Ended = deadline
	return e, true
}

// DecideSession returns the event that c produces on s at now, or why it
// cannot. It does not change s. REQUIRES: s's due timer has fired first
// (Due), so nothing is decided on a session that should have closed.
func DecideSession(s *Session, c SessionCommand, now int64) (Event, error) {
	if c.By != s.From && c.By != s.To {
		return Event{}, ErrNotFound // not a party: no such session, as far as it knows
	}
	switch c.Type {
	case SessionAccept:
		if c.By != s.To {
			return Event{}, fmt.Errorf("%w: only the supplier accepts a session", ErrWrongParty)
		}
		if s.State != SessionRequested {
			return Event{}, stateError(s, "accepted")
		}
		e := s.event(EventSessionAccepted, now)
		e.Session.Accepted = now
		return e, nil
	case SessionStart:
		if s.State != SessionAssigned {
			return Event{}, stateError(s, "started")
		}
		e := s.event(EventSessionStarted, now)
		e.Session.Started = now
		return e, nil
	case SessionEnd:
		if s.State != SessionLive {
			return Event{}, stateError(s, "ended")
		}
		return s.endedAt(now, now), nil
	case SessionCancel:
		if c.By != s.From {
			return Event{}, fmt.Errorf("%w: only the consumer cancels a session", ErrWrongParty)
		}
		if s.State != SessionRequested && s.State != SessionAssigned {
			return Event{}, stateError(s, "cancelled")
		}
		e := s.event(EventSessionCancelled, now)
		e.Session.Ended = now
		return e, nil
	}
	return Event{}, fmt.Errorf("%w: unknown session command %d", ErrInvalid, c.Type)
}

func stateError(s *Session, want string) error {
	return fmt.Errorf("%w: a %v session cannot be %s", ErrInvalidState, s.State, want)
}

// endedAt returns the end of a live session at time end (decided at now):
// Rate × the whole seconds from its start to end, at most MaxSeconds.
func (s *Session) endedAt(end, now int64) Event {
	end = min(end, s.liveUntil())
	seconds := max(end-s.Terms.Started, 0) / secondNanos
	charged, ok := s.Terms.Rate.mulSmall(uint64(seconds))
	assert(ok && charged.Cmp(s.Reserved) <= 0, "session charge above its reservation")
	e := s.event(EventSessionEnded, now)
	e.Captured, e.Fee = charged, charged.FeeOf(s.FeeBps)
	e.Session.Ended = end
	return e
}

// CleanSeconds returns the whole seconds an ended session was live.
func (s *Session) CleanSeconds() int64 {
	if s.State != SessionEnded {
		return 0
	}
	return min(max(s.Terms.Ended-s.Terms.Started, 0)/secondNanos, s.Terms.MaxSeconds)
}

// event returns an event of type t for s, carrying all of it.
func (s *Session) event(t EventType, now int64) Event {
	terms := s.Terms
	return Event{
		Type: t, ID: s.ID, Ledger: s.Ledger, Time: now, From: s.From, To: s.To, Fees: s.Fees,
		Amount: s.Reserved, FeeBps: s.FeeBps, Spender: s.Spender, Memo: s.Memo, Session: &terms,
	}
}

// Apply moves s by one of its own events.
func (s *Session) Apply(e *Event) {
	assert(e.ID == s.ID && e.Session != nil, "session event of another session")
	s.Terms = *e.Session
	s.State = sessionStates[e.Type]
	if e.Type == EventSessionEnded {
		s.Charged, s.Fee = e.Captured, e.Fee
	}
}

var sessionStates = [...]SessionState{
	EventSessionOpened:    SessionRequested,
	EventSessionAccepted:  SessionAssigned,
	EventSessionStarted:   SessionLive,
	EventSessionEnded:     SessionEnded,
	EventSessionCancelled: SessionCancelled,
	EventSessionExpired:   SessionExpired,
}

// SessionOf returns the session that one of its events describes, as it
// stands right after that event.
func SessionOf(e *Event) Session {
	assert(e.Type.IsSession() && e.Session != nil, "not a session event")
	s := Session{
		ID: e.ID, Ledger: e.Ledger, From: e.From, To: e.To, Fees: e.Fees, FeeBps: e.FeeBps,
		Spender: e.Spender, Memo: e.Memo, Reserved: e.Amount,
	}
	s.Apply(e)
	return s
}

// decideSessionOpen reserves a new session's maximum on its payer a: the
// rules of a hold (funds, budget, the payer's open-hold limits, which
// sessions count against) on Rate × MaxSeconds.
func decideSessionOpen(a *Account, c *Command, now int64) (Event, error) {
	switch {
	case c.Rate.IsZero():
		return Event{}, fmt.Errorf("%w: rate per second must be positive", ErrInvalid)
	case c.MaxSeconds <= 0 || c.MaxSeconds > SessionSecondsMax:
		return Event{}, fmt.Errorf("%w: maximum duration must be 1-%d seconds", ErrInvalid, SessionSecondsMax)
	case c.Timeout < secondNanos || c.Timeout > SessionStartWithinMax:
		return Event{}, fmt.Errorf("%w: start window must be 1-%d seconds", ErrInvalid, SessionStartWithinMax/secondNanos)
	}
	reserved, ok := c.Rate.mulSmall(uint64(c.MaxSeconds))
	if !ok || reserved.Cmp(AmountPerOperationMax) > 0 {
		return Event{}, fmt.Errorf("%w: rate × maximum duration must be at most %s", ErrInvalid, AmountPerOperationMax)
	}
	debit := *c
	debit.Amount = reserved
	if err := checkDebit(a, &debit, now); err != nil {
		return Event{}, err
	}
	if err := checkHoldLimits(a, &debit); err != nil {
		return Event{}, err
	}
	if _, ok := a.DebitsPending.Add(reserved); !ok {
		return Event{}, ErrOverflow
	}
	return Event{
		Type: EventSessionOpened, ID: c.ID, Ledger: a.Ledger, Time: now,
		From: a.ID, To: c.To, Fees: c.Fees, Amount: reserved, FeeBps: c.FeeBps,
		Spender: c.Budget.Spender, Memo: c.Memo,
		Session: &SessionTerms{Rate: c.Rate, MaxSeconds: c.MaxSeconds, Created: now, StartBy: now + c.Timeout},
	}, nil
}

// CheckSessionClose checks, on the payer a, the closing event of one of
// its sessions that the session decided: its reservation must be open and
// the amount it posts must fit. The session's actor decided it against the
// session's state; the payer's actor checks the money before applying it.
func CheckSessionClose(a *Account, e *Event) error {
	h := a.holds[e.ID]
	switch {
	case !e.Type.IsSessionClose():
		return fmt.Errorf("%w: %v does not close a session", ErrInvalid, e.Type)
	case h == nil || !h.IsSession() || h.Amount != e.Amount:
		return fmt.Errorf("%w: session %q holds no reservation of %s", ErrInvalidState, e.ID, e.Amount)
	}
	if _, ok := a.DebitsPosted.Add(e.Captured); !ok {
		return ErrOverflow
	}
	return nil
}
