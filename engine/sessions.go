package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// SessionState is where a metered session is in its life.
type SessionState = ledger.SessionState

// Session states.
const (
	SessionRequested = ledger.SessionRequested
	SessionAssigned  = ledger.SessionAssigned
	SessionLive      = ledger.SessionLive
	SessionEnded     = ledger.SessionEnded
	SessionCancelled = ledger.SessionCancelled
	SessionExpired   = ledger.SessionExpired
)

// Session limits.
const (
	// SessionSecondsMax bounds a session's maximum duration, in seconds.
	SessionSecondsMax = ledger.SessionSecondsMax
	// SessionStartWithinMax bounds the window in which a session must
	// start; SessionStartWithinDefault is the window when none is given.
	SessionStartWithinMax     = time.Duration(ledger.SessionStartWithinMax)
	SessionStartWithinDefault = time.Duration(ledger.SessionStartWithinDefault)
)

// ErrWrongParty refuses a transition asked by the session's other side: an
// accept by the consumer, a cancel by the supplier. It is an
// ErrInvalidState.
var ErrWrongParty = ledger.ErrWrongParty

// OpenSession asks to open a metered session: From (the consumer) reserves
// Rate × MaxSeconds for To (the supplier), who must accept it; it must go
// live within StartWithin (SessionStartWithinDefault if zero) or it
// expires. ID is the client id, as a hold's: retrying it is safe.
type OpenSession struct {
	ID          TransferID
	From        AccountID
	To          AccountID
	Rate        Amount // per second, locked for the session's life
	MaxSeconds  int64
	StartWithin time.Duration
	Memo        string
	Budget      Budget // the reservation counts against it until released
}

// Session is a metered session as of its latest durable event.
type Session struct {
	ID           TransferID
	Ledger       LedgerID
	From         AccountID
	To           AccountID
	Rate         Amount
	MaxSeconds   int64
	State        SessionState
	Reserved     Amount // Rate × MaxSeconds, held on From while the session is open
	Charged      Amount // once ENDED: Rate × CleanSeconds
	Fee          Amount // the part of Charged that went to the fee account
	CleanSeconds int64  // once ENDED: the whole seconds it was live, at most MaxSeconds
	Memo         string
	Spender      SpenderID
	// When each step happened; zero until it does. Ended is when it
	// closed: ended, cancelled or expired (for an expiry, the end of its
	// start window; for an end at the maximum, the maximum).
	Created, StartBy, Accepted, Started, Ended time.Time

	// Position is the log position of the event that produced this answer;
	// 0 for a lookup or a replay.
	Position uint64
	// Balance is the payer's balance right after an opening or a closing
	// it answers (zero otherwise).
	Balance Balance
	// Replayed reports that an opening's client id had been used and this
	// is the session it opened, as it stands now.
	Replayed bool
}

func sessionOf(e *ledger.Event) Session {
	s := ledger.SessionOf(e)
	return Session{
		ID: s.ID, Ledger: s.Ledger, From: s.From, To: s.To, Rate: s.Terms.Rate, MaxSeconds: s.Terms.MaxSeconds,
		State: s.State, Reserved: s.Reserved, Charged: s.Charged, Fee: s.Fee, CleanSeconds: s.CleanSeconds(),
		Memo: s.Memo, Spender: s.Spender,
		Created: timeOf(s.Terms.Created), StartBy: timeOf(s.Terms.StartBy), Accepted: timeOf(s.Terms.Accepted),
		Started: timeOf(s.Terms.Started), Ended: timeOf(s.Terms.Ended),
	}
}

// timeOf returns a time in Unix nanoseconds, with 0 as "not yet".
func timeOf(nanos int64) time.Time {
	if nanos == 0 {
		return time.Time{}
	}
	return time.Unix(0, nanos).UTC()
}

// OpenSession opens a session in state SessionRequested, reserving its
// maximum on the consumer: ErrInsufficientFunds, ErrBudgetExceeded or
// ErrLimitExceeded (sessions count as open holds) otherwise. Once it
// returns, the session's actor exists and its start window runs.
func (e *Engine) OpenSession(ctx context.Context, s OpenSession) (Session, error) {
	if s.StartWithin == 0 {
		s.StartWithin = SessionStartWithinDefault
	}
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return Session{}, err
	}
	defer e.leaveWith(weight)
	o := newOp(ledger.Command{
		Type: ledger.CommandSessionOpen, ID: s.ID, From: s.From, To: s.To, Rate: s.Rate, MaxSeconds: s.MaxSeconds,
		Timeout: int64(s.StartWithin), FeeBps: e.options.FeeBps, Memo: s.Memo, Budget: s.Budget,
	})
	replay, err := e.prepare(ctx, o, e.accountsOf(&o.command, commandAccounts{}), claimWaiting)
	switch {
	case err != nil:
		return Session{}, err
	case replay.Replayed:
		session := sessionOf(&o.event)
		session.Replayed = true
		return session, nil
	}
	e.registry.Send(o.decider, o)
	if err := wait(ctx, o); err != nil {
		return Session{}, err
	}
	if o.err != nil {
		return Session{}, o.err
	}
	return o.sessionResult(), nil
}

// AcceptSession moves a requested session to SessionAssigned. by is the
// account asking: only the supplier (To) may (ErrWrongParty).
func (e *Engine) AcceptSession(ctx context.Context, id TransferID, by AccountID) (Session, error) {
	return e.transition(ctx, id, ledger.SessionCommand{Type: ledger.SessionAccept, By: by})
}

// StartSession makes an assigned session live: either side may.
func (e *Engine) StartSession(ctx context.Context, id TransferID, by AccountID) (Session, error) {
	return e.transition(ctx, id, ledger.SessionCommand{Type: ledger.SessionStart, By: by})
}

// EndSession ends a live session: either side may. It posts Rate × the
// whole seconds it was live (at most its maximum) to the supplier, less
// the fee, and releases the rest, in one durable event.
func (e *Engine) EndSession(ctx context.Context, id TransferID, by AccountID) (Session, error) {
	return e.transition(ctx, id, ledger.SessionCommand{Type: ledger.SessionEnd, By: by})
}

// CancelSession releases a session that is not live yet: only the consumer
// (From) may.
func (e *Engine) CancelSession(ctx context.Context, id TransferID, by AccountID) (Session, error) {
	return e.transition(ctx, id, ledger.SessionCommand{Type: ledger.SessionCancel, By: by})
}

// transition asks an open session's actor for c. A session that is not
// open is ErrInvalidState for its parties and ErrNotFound for anyone else,
// as is one that does not exist.
func (e *Engine) transition(ctx context.Context, id TransferID, c ledger.SessionCommand) (Session, error) {
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return Session{}, err
	}
	defer e.leaveWith(weight)
	entry := e.registry.Session(id)
	if entry == nil {
		closed, err := e.Session(ctx, id)
		switch {
		case err != nil:
			return Session{}, err
		case c.By != closed.From && c.By != closed.To:
			return Session{}, fmt.Errorf("%w: session %q", ErrNotFound, id)
		}
		return Session{}, fmt.Errorf("%w: the session is %v", ErrInvalidState, closed.State)
	}
	o := &op{sessionCommand: c, session: entry, done: make(chan struct{})}
	e.registry.SendSession(entry, o)
	if err := wait(ctx, o); err != nil {
		return Session{}, err
	}
	if o.err != nil {
		return Session{}, o.err
	}
	return o.sessionResult(), nil
}

// Session returns a session as of its latest durable event.
func (e *Engine) Session(ctx context.Context, id TransferID) (Session, error) {
	if err := e.enter(); err != nil {
		return Session{}, err
	}
	defer e.leave()
	last, found, err := e.lookup(id)
	if err != nil {
		return Session{}, err
	}
	if !found || !last.Type.IsSession() {
		return Session{}, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	return sessionOf(&last), nil
}

// SessionReservation returns what a session of rate per second for at most
// maxSeconds reserves, and false if that is above what one operation may
// move (ledger.AmountPerOperationMax): OpenSession refuses such a session.
func SessionReservation(rate Amount, maxSeconds int64) (Amount, bool) {
	if maxSeconds < 0 {
		return Amount{}, false
	}
	reserved, ok := rate.MulUint64(uint64(maxSeconds))
	return reserved, ok && reserved.Cmp(ledger.AmountPerOperationMax) <= 0
}

// sessionResult is a transition's answer from its completed op.
func (o *op) sessionResult() Session {
	s := sessionOf(&o.event)
	s.Position, s.Balance = o.position, o.balance
	return s
}

// DecideSession implements actors.SessionOp: it runs on the session's actor.
func (o *op) DecideSession(s *ledger.Session, now int64) *ledger.Event {
	event, err := ledger.DecideSession(s, o.sessionCommand, now)
	if err != nil {
		o.err = err
		return nil
	}
	o.event = event
	if event.Type.IsSessionClose() {
		o.decider = o.session.Payer()
	}
	return &o.event
}

// LoggedSession implements actors.SessionOp: a transition that changes
// only the session (accept, start).
func (o *op) LoggedSession(*ledger.Session) *wal.Entry { return o.encode() }

// decideClosing is Decide for a session op on its payer's actor: the
// session's closing, which the payer checks against its reservation and
// applies, or (having decided nothing) a rejection that waits there for
// the closing before it to be durable.
func (o *op) decideClosing(account *ledger.Account) *ledger.Event {
	if o.err != nil {
		return nil
	}
	if err := ledger.CheckSessionClose(account, &o.event); err != nil {
		// The session's actor and the payer's reservation disagree: a
		// broken invariant, which stops the actor and fails the engine.
		panic(fmt.Sprintf("engine: session %q closed on a payer that cannot: %v", o.event.ID, err))
	}
	return &o.event
}

// newSessionClosing is the actors' Config.SessionClosed: the op of a
// session's closing by its timer. Nobody waits for it.
func newSessionClosing(session *actors.SessionEntry, event *ledger.Event) actors.Op {
	o := &op{session: session, decider: session.Payer()}
	o.event = *event
	return o
}

// Listing sessions. Each opening's log entry writes one row per party in
// the engine's table (atomically with its record), keyed so that a prefix
// scan lists an account's sessions newest first:
//
//	sessionsPrefix account "/" 16 hex digits of ^created id
//
// A page reads each listed session's latest event from the index.
const (
	sessionsPrefix = "sessions/"
	// SessionsPageMax bounds one page of Sessions.
	SessionsPageMax = 100
	// sessionsScanMax bounds the rows one page reads when a state filter
	// skips most of them: the page then ends early, with more set.
	sessionsScanMax = 1000
)

func sessionRows(dst *[2]wal.Put, e *ledger.Event) []wal.Put {
	return listRows(dst, sessionsPrefix, e.From, e.To, e.Session.Created, e.ID)
}

// listRows fills dst with the rows of a list under prefix (sessions,
// holds) that name id for both its parties, keys in one allocation: a
// hold's placing writes them on its hot path.
func listRows(dst *[2]wal.Put, prefix string, from, to AccountID, created int64, id TransferID) []wal.Put {
	size := func(a AccountID) int { return len(prefix) + len(a) + 1 + 16 + len(id) }
	buffer := make([]byte, 0, size(from)+size(to))
	buffer = appendListRowKey(buffer, prefix, from, created, id)
	split := len(buffer)
	buffer = appendListRowKey(buffer, prefix, to, created, id)
	dst[0] = wal.Put{Key: buffer[:split:split], Value: []byte{}}
	dst[1] = wal.Put{Key: buffer[split:], Value: []byte{}}
	return dst[:]
}

// listRowKey is the key of an account's row in a list under prefix
// (sessions, holds): newest first, then by id.
func listRowKey(prefix string, account AccountID, created int64, id TransferID) []byte {
	return appendListRowKey(make([]byte, 0, len(prefix)+len(account)+1+16+len(id)), prefix, account, created, id)
}

func appendListRowKey(key []byte, prefix string, account AccountID, created int64, id TransferID) []byte {
	key = append(key, prefix...)
	key = append(key, account...)
	key = append(key, '/')
	const digits = "0123456789abcdef"
	newestFirst := ^uint64(created)
	for shift := 60; shift >= 0; shift -= 4 { // 16 hex digits, zero-padded
		key = append(key, digits[newestFirst>>uint(shift)&0xf])
	}
	return append(key, id...)
}

// SessionQuery selects a page of an account's sessions.
type SessionQuery struct {
	Account AccountID
	State   SessionState // 0: every state
	// StartingAfter is the id of the session the previous page ended with
	// (its Next); empty for the first page.
	StartingAfter TransferID
	Limit         int // 1-SessionsPageMax
}

// SessionPage is one page of sessions, newest first. More reports that
// sessions may follow: ask again with StartingAfter set to Next.
type SessionPage struct {
	Sessions []Session
	More     bool
	Next     TransferID
}

// Sessions lists the sessions Account takes part in, as consumer or
// supplier, newest first, as of their latest durable events.
func (e *Engine) Sessions(ctx context.Context, q SessionQuery) (SessionPage, error) {
	if q.Limit < 1 || q.Limit > SessionsPageMax {
		return SessionPage{}, fmt.Errorf("%w: limit must be 1-%d", ErrInvalid, SessionsPageMax)
	}
	var start []byte
	if q.StartingAfter != "" {
		after, err := e.Session(ctx, q.StartingAfter)
		if err != nil || (after.From != q.Account && after.To != q.Account) {
			return SessionPage{}, fmt.Errorf("%w: starting after an unknown session", ErrInvalid)
		}
		start = listRowKey(sessionsPrefix, q.Account, after.Created.UnixNano(), q.StartingAfter)
	}
	var page SessionPage
	full := func() bool { return len(page.Sessions) == q.Limit }
	more, next, err := e.scanPage(sessionsPrefix, q.Account, start, sessionsScanMax, full, func(last *ledger.Event) error {
		if !last.Type.IsSession() {
			return fmt.Errorf("%w: session %q listed but not indexed as one", ErrUnavailable, last.ID)
		}
		if s := sessionOf(last); q.State == 0 || s.State == q.State {
			page.Sessions = append(page.Sessions, s)
		}
		return nil
	})
	if err != nil {
		return SessionPage{}, err
	}
	page.More, page.Next = more, next
	return page, nil
}

// scanPage reads one page of account's list under prefix (sessions,
// holds): from the row after start (nil: from the first), in key order, it
// calls take with the latest durable event of each row's id, until full
// reports the page full or scanMax rows were read. more reports that rows
// remain; next is then the id of the last row taken, where the next page
// starts after.
func (e *Engine) scanPage(prefix string, account AccountID, start []byte, scanMax int, full func() bool,
	take func(last *ledger.Event) error) (more bool, next TransferID, err error) {
	listPrefix := append(append([]byte(prefix), account...), '/')
	if start != nil {
		start = append(start, 0) // the first key after start's
	}
	if err := e.enter(); err != nil {
		return false, "", err
	}
	defer e.leave()
	scanned := 0
	err = e.log.ScanTableFrom(listPrefix, start, func(key, _ []byte) error {
		if full() || scanned == scanMax {
			more = true
			return errPageFull
		}
		scanned++
		id := TransferID(key[len(listPrefix)+16:])
		last, found, err := e.lookup(id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q listed but not indexed", ErrUnavailable, id)
		}
		next = id
		return take(&last)
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return false, "", err
	}
	if !more {
		next = ""
	}
	return more, next, nil
}

var errPageFull = errors.New("page full")
