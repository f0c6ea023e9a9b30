package ledger

import (
	"cmp"
	"errors"
	"math/bits"
	"slices"
)

// The reference model's sessions: the state machine, its two timers and
// their money, kept by the test from its own reading of the rules.

type modelSession struct {
	id                                         TransferID
	spender                                    SpenderID
	ledger                                     LedgerID
	from, to                                   AccountID
	rate, reserved                             uint64
	maxSeconds                                 int64
	feeBps                                     uint32
	state                                      SessionState
	created, startBy, accepted, started, ended int64
}

// deadline is when the session's timer fires: the end of its start window
// until it is live, then the end of its maximum duration.
func (s *modelSession) deadline() int64 {
	if s.state == SessionLive {
		return s.started + s.maxSeconds*1e9
	}
	return s.startBy
}

func (s *modelSession) event(t EventType, now int64) Event {
	return Event{Type: t, ID: s.id, Ledger: s.ledger, Time: now, From: s.from, To: s.to, Fees: FeesAccountID(s.ledger),
		Amount: NewAmount(s.reserved), FeeBps: s.feeBps, Spender: s.spender,
		Session: &SessionTerms{Rate: NewAmount(s.rate), MaxSeconds: s.maxSeconds, Created: s.created, StartBy: s.startBy,
			Accepted: s.accepted, Started: s.started, Ended: s.ended}}
}

// end is the session's end at time at, decided at now: the rate for each
// whole second live, at most its maximum, the fee a share of that.
func (s *modelSession) end(at, now int64) Event {
	seconds := min((at-s.started)/1e9, s.maxSeconds)
	charged := s.rate * uint64(seconds)
	e := s.event(EventSessionEnded, now)
	e.Captured, e.Fee = NewAmount(charged), NewAmount(fee(charged, s.feeBps))
	e.Session.Ended = at
	return e
}

// timer is the event of the session's timer noticed at now: an end at the
// maximum, or an expiry at the end of the start window; either is dated
// (Ended) at the deadline, whenever it is noticed.
func (s *modelSession) timer(now int64) Event {
	if s.state == SessionLive {
		return s.end(s.deadline(), now)
	}
	e := s.event(EventSessionExpired, now)
	e.Session.Ended = s.startBy
	return e
}

// reservation returns rate × maxSeconds, and false if it is above what one
// operation may move (2^64-1).
func reservation(rate Amount, maxSeconds int64) (uint64, bool) {
	hi, lo := rate.Parts()
	if hi != 0 || maxSeconds <= 0 {
		return 0, hi == 0
	}
	high, low := bits.Mul64(lo, uint64(maxSeconds))
	return low, high == 0
}

// predictSessionOpen is predict's part for CommandSessionOpen on its
// payer a, once the client id is new and the accounts resolve.
func (m *model) predictSessionOpen(p prediction, a *modelAccount, c Command, available uint64, now int64) prediction {
	if c.Rate.IsZero() || c.MaxSeconds <= 0 || c.MaxSeconds > SessionSecondsMax ||
		c.Timeout < 1e9 || c.Timeout > SessionStartWithinMax || c.FeeBps > BasisPointsMax {
		p.errs = append(p.errs, ErrInvalid)
	}
	reserved, fits := reservation(c.Rate, c.MaxSeconds)
	if !fits {
		p.errs = append(p.errs, ErrInvalid)
	} else if reserved > available && !a.kind.MayOverdraw() {
		p.errs = append(p.errs, ErrInsufficientFunds)
	}
	if fits && a.overBudget(c.Budget, reserved, now) {
		p.errs = append(p.errs, ErrBudgetExceeded)
	}
	if len(p.errs) > 0 {
		return p
	}
	opened := modelSession{id: c.ID, spender: c.Budget.Spender, ledger: a.ledger, from: c.From, to: c.To, rate: amountUint64(c.Rate), reserved: reserved,
		maxSeconds: c.MaxSeconds, feeBps: c.FeeBps, created: now, startBy: now + c.Timeout}
	p.result = opened.event(EventSessionOpened, now)
	p.applied = append(p.applied, p.result)
	return p
}

// predictSession is what ExecuteSession(id, c, now) returns: the session's
// timer first if it is due, then the transition or why not.
func (m *model) predictSession(id TransferID, c SessionCommand, now int64) prediction {
	var p prediction
	s := m.sessions[id]
	open := s != nil && m.openSessions[id] != nil
	if open && s.deadline() <= now {
		p.applied = append(p.applied, s.timer(now))
		open = false
	}
	switch {
	case s == nil || (c.By != s.from && c.By != s.to):
		p.errs = []error{ErrNotFound} // not a session, or not one of its parties'
	case !open:
		p.errs = []error{ErrInvalidState}
	case (c.Type == SessionAccept && c.By != s.to) || (c.Type == SessionCancel && c.By != s.from):
		p.errs = []error{ErrWrongParty}
	case c.Type == SessionAccept && s.state == SessionRequested:
		p.result = s.event(EventSessionAccepted, now)
		p.result.Session.Accepted = now
	case c.Type == SessionStart && s.state == SessionAssigned:
		p.result = s.event(EventSessionStarted, now)
		p.result.Session.Started = now
	case c.Type == SessionEnd && s.state == SessionLive:
		p.result = s.end(now, now)
	case c.Type == SessionCancel && (s.state == SessionRequested || s.state == SessionAssigned):
		p.result = s.event(EventSessionCancelled, now)
		p.result.Session.Ended = now
	case c.Type < SessionAccept || c.Type > SessionCancel:
		p.errs = []error{ErrInvalid}
	default:
		p.errs = []error{ErrInvalidState}
	}
	if len(p.errs) == 0 {
		p.applied = append(p.applied, p.result)
	}
	return p
}

// dueSessions returns the events of every open session's timer due by
// now, by deadline then id, each noticed at now.
func (m *model) dueSessions(now int64) []Event {
	var due []*modelSession
	for _, s := range m.openSessions {
		if s.deadline() <= now {
			due = append(due, s)
		}
	}
	slices.SortFunc(due, func(x, y *modelSession) int {
		return cmp.Or(cmp.Compare(x.deadline(), y.deadline()), cmp.Compare(x.id, y.id))
	})
	var events []Event
	for _, s := range due {
		events = append(events, s.timer(now))
	}
	return events
}

// applySession changes the model by a session event, by the model's own
// arithmetic: the opening reserves the maximum on the payer (pending on
// both sides), the end posts the charge (its fee to the fee account) and
// releases the reservation, a cancel or expiry releases it.
func (m *model) applySession(e Event, sent Command, minus func(*uint64, uint64)) {
	from, to, fees := m.accounts[e.From], m.accounts[e.To], m.accounts[e.Fees]
	if e.Type == EventSessionOpened {
		reserved, _ := reservation(sent.Rate, sent.MaxSeconds)
		s := &modelSession{id: e.ID, spender: sent.Budget.Spender, ledger: from.ledger, from: sent.From, to: sent.To, rate: amountUint64(sent.Rate),
			reserved: reserved, maxSeconds: sent.MaxSeconds, feeBps: sent.FeeBps, state: SessionRequested,
			created: e.Time, startBy: e.Time + sent.Timeout}
		m.sessions[e.ID], m.openSessions[e.ID] = s, s
		from.debitsPending += reserved
		to.creditsPending += reserved
		from.spend(s.spender, reserved, e.Time)
		switch e.BudgetCap {
		case BudgetCapDay:
			from.spends[s.spender].dayReported = amountUint64(e.BudgetLimit)
		case BudgetCapTotal:
			from.spends[s.spender].totalReported = amountUint64(e.BudgetLimit)
		}
		return
	}
	s := m.openSessions[e.ID]
	switch e.Type {
	case EventSessionAccepted:
		s.state, s.accepted = SessionAssigned, e.Time
		return
	case EventSessionStarted:
		s.state, s.started = SessionLive, e.Time
		return
	case EventSessionEnded:
		charged, feeAmount := amountUint64(e.Captured), amountUint64(e.Fee)
		from.debitsPosted += charged
		to.creditsPosted += charged - feeAmount
		fees.creditsPosted += feeAmount
		s.state = SessionEnded
		from.refund(s.spender, s.reserved-charged, s.created, minus)
	case EventSessionCancelled:
		s.state = SessionCancelled
		from.refund(s.spender, s.reserved, s.created, minus)
	case EventSessionExpired:
		s.state = SessionExpired
		from.refund(s.spender, s.reserved, s.created, minus)
	}
	minus(&from.debitsPending, s.reserved)
	minus(&to.creditsPending, s.reserved)
	s.ended = e.Session.Ended
	delete(m.openSessions, e.ID)
}

// openSessionList returns the model's open sessions as the book keeps them.
func (m *model) openSessionList() []Session {
	var sessions []Session
	for _, s := range m.openSessions {
		terms := s.event(EventSessionOpened, 0).Session
		sessions = append(sessions, Session{ID: s.id, Ledger: s.ledger, From: s.from, To: s.to, Fees: FeesAccountID(s.ledger),
			FeeBps: s.feeBps, Spender: s.spender, State: s.state, Terms: *terms, Reserved: NewAmount(s.reserved)})
	}
	return sessions
}

// The simulation's sessions: openings go through Execute (command), the
// transitions through ExecuteSession, the timers through CloseDueSessions
// when time advances (sweep) or through the transition that finds one due.

// sessionOpen returns a random session opening: mostly affordable, some
// at exactly the payer's available amount or one unit more, some with
// terms out of bounds.
func (s *simulation) sessionOpen(id TransferID) Command {
	from := s.account()
	c := Command{Type: CommandSessionOpen, ID: id, From: from, To: s.payee(from), Rate: NewAmount(uint64(1 + s.r.IntN(50))),
		MaxSeconds: int64(1 + s.r.IntN(30)), Timeout: 1e9 + s.r.Int64N(20e9), FeeBps: s.feeBps()}
	if s.r.IntN(3) == 0 {
		c.Budget = s.budget(from, amountUint64(c.Rate)*uint64(c.MaxSeconds))
	}
	switch n := s.r.IntN(100); {
	case n < 3:
		c.Rate = Amount{}
	case n < 5:
		c.Rate, c.MaxSeconds = NewAmount(1<<63), 2 // 2^64: above what one operation may move
	case n < 15:
		if a := s.model.accounts[from]; a != nil {
			c.Rate, c.MaxSeconds = NewAmount(a.available()+uint64(s.r.IntN(2))), 1
		}
	case n < 17:
		c.MaxSeconds = []int64{0, -1, SessionSecondsMax, SessionSecondsMax + 1}[s.r.IntN(4)]
	case n < 19:
		c.Timeout = []int64{0, 1e9 - 1, 1e9, SessionStartWithinMax, SessionStartWithinMax + 1}[s.r.IntN(5)]
	}
	return c
}

// sessionCommand returns a random transition: mostly of an open session,
// by one of its parties, the step that moves it on; sometimes any step,
// by anyone, of any session or of an id that is none.
func (s *simulation) sessionCommand() (TransferID, SessionCommand) {
	var id TransferID
	switch n := s.r.IntN(10); {
	case n < 7 && len(s.model.openSessions) > 0:
		open := make([]TransferID, 0, len(s.model.openSessions))
		for id := range s.model.openSessions {
			open = append(open, id)
		}
		slices.Sort(open)
		id = open[s.r.IntN(len(open))]
	case n < 9 && len(s.sessions) > 0:
		id = s.sessions[s.r.IntN(len(s.sessions))]
	default:
		id = s.clientID()
	}
	c := SessionCommand{Type: SessionCommandType(1 + s.r.IntN(4)), By: s.account()}
	if s.r.IntN(20) == 0 {
		c.Type = SessionCommandType(5 + s.r.IntN(250)) // no such transition
	}
	session := s.model.sessions[id]
	if session == nil {
		return id, c
	}
	if n := s.r.IntN(20); n < 10 {
		c.By = session.from
	} else if n < 19 {
		c.By = session.to
	}
	if s.r.IntN(10) < 7 && c.Type <= SessionCancel {
		switch session.state {
		case SessionRequested:
			c = SessionCommand{Type: SessionAccept, By: session.to}
		case SessionAssigned:
			c.Type = SessionStart
			if s.r.IntN(5) == 0 {
				c = SessionCommand{Type: SessionCancel, By: session.from}
			}
		case SessionLive:
			c.Type = SessionEnd
		}
	}
	return id, c
}

// executeSession runs one transition on the book and checks it against
// the model's prediction.
func (s *simulation) executeSession(id TransferID, c SessionCommand) {
	s.t.Helper()
	want := s.model.predictSession(id, c, s.now)
	applied, result, err := s.book.ExecuteSession(id, c, s.now)
	switch {
	case len(want.errs) > 0:
		s.outcomes["session "+errorClass(err)]++
		if errors.Is(err, ErrWrongParty) {
			s.outcomes["session wrong party"]++
		}
		if !slices.ContainsFunc(want.errs, func(w error) bool { return errors.Is(err, w) }) {
			s.t.Fatalf("ExecuteSession(%q, %+v) at %d = %s, %v, want error in %v", id, c, s.now, eventsText(applied), err, want.errs)
		}
		if !sameEvents(applied, want.applied) {
			s.t.Fatalf("ExecuteSession(%q, %+v) failed with %v and applied %s, want %s", id, c, err, eventsText(applied), eventsText(want.applied))
		}
	default:
		s.outcomes["session ok"]++
		if err != nil || !sameEvent(result, want.result) || !sameEvents(applied, want.applied) {
			s.t.Fatalf("ExecuteSession(%q, %+v) at %d = %s, %s, %v, want %s, %s", id, c, s.now,
				eventsText(applied), eventText(result), err, eventsText(want.applied), eventText(want.result))
		}
	}
	s.record(applied, Command{})
}

// sweep fires the session timers due by now as the engine's sweeper does,
// each at its deadline (one overdue since an earlier step at that step's
// time, before, the earliest this sweep may act). One step in ten it does
// not sweep, so timers also fire late: from a transition that finds one
// due, or a later sweep.
func (s *simulation) sweep(before int64) {
	s.t.Helper()
	if s.r.IntN(10) == 0 {
		return
	}
	for {
		next, found := int64(0), false
		for _, session := range s.model.openSessions {
			if d := session.deadline(); d <= s.now && (!found || d < next) {
				next, found = d, true
			}
		}
		if !found {
			return
		}
		at := max(next, before)
		want := s.model.dueSessions(at)
		got := s.book.CloseDueSessions(at)
		if !sameEvents(got, want) {
			s.t.Fatalf("CloseDueSessions(%d) = %s, want %s", at, eventsText(got), eventsText(want))
		}
		s.record(got, Command{})
	}
}

// checkSessions compares the book's open sessions with the model's.
func (s *simulation) checkSessions(step int) {
	s.t.Helper()
	want := s.model.openSessionList()
	if got := s.book.Sessions(); got != len(want) {
		s.t.Fatalf("step %d: Sessions() = %d, want %d", step, got, len(want))
	}
	for _, w := range want {
		if got := s.book.Session(w.ID); got == nil || *got != w {
			s.t.Fatalf("step %d: Session(%q) = %+v, want %+v", step, w.ID, got, w)
		}
	}
}

// countSession counts how a session closed, so the simulation can show it
// reached each way: timers noticed at their deadline and after it, ends
// before the maximum (charged nothing, some seconds) and at it.
func (s *simulation) countSession(e Event) {
	if !e.Type.IsSessionClose() {
		return
	}
	t := e.Session
	if e.Spender != "" {
		s.outcomes["session budget refunded"]++
		if dayOf(t.Created) != dayOf(e.Time) {
			s.outcomes["session budget refunded a day later"]++
		}
	}
	if e.Type == EventSessionExpired || (e.Type == EventSessionEnded && t.Ended == t.Started+t.MaxSeconds*1e9) {
		if e.Time == t.Ended {
			s.outcomes["session timer at its deadline"]++
		} else {
			s.outcomes["session timer late"]++
		}
	}
	if e.Type != EventSessionEnded {
		return
	}
	switch {
	case t.Ended-t.Started < 1e9:
		s.outcomes["session ended within its first second"]++
	case t.Ended-t.Started < t.MaxSeconds*1e9:
		s.outcomes["session ended before its maximum"]++
	default:
		s.outcomes["session ended at its maximum"]++
	}
}

// The model's budgets, for the sessions that count against one: what each
// spender of an account has reserved or spent, in all and on its day.

type modelSpend struct {
	total, day, dayTotal       uint64
	dayReported, totalReported uint64 // the caps reported exhausted: the day's on day
}

func dayOf(nanos int64) uint64 { return uint64(nanos / (24 * 3600 * 1e9)) } // the simulation's times are positive

// overBudget reports whether debiting amount at now would take budget's
// spender past one of its caps.
func (a *modelAccount) overBudget(budget Budget, amount uint64, now int64) bool {
	if budget.Spender == "" {
		return false
	}
	var spent modelSpend
	if s := a.spends[budget.Spender]; s != nil {
		spent = *s
	}
	today := uint64(0)
	if spent.day == dayOf(now) {
		today = spent.dayTotal
	}
	over := func(spent uint64, limit Amount) bool { return !limit.IsZero() && spent+amount > amountUint64(limit) }
	return over(0, budget.PerDebit) || over(today, budget.PerDay) || over(spent.total, budget.Total)
}

// spend counts a debit of amount at time at against spender.
func (a *modelAccount) spend(spender SpenderID, amount uint64, at int64) {
	if spender == "" {
		return
	}
	if a.spends == nil {
		a.spends = make(map[SpenderID]*modelSpend)
	}
	s := a.spends[spender]
	if s == nil {
		s = &modelSpend{}
		a.spends[spender] = s
	}
	if s.day != dayOf(at) {
		s.day, s.dayTotal, s.dayReported = dayOf(at), 0, 0
	}
	s.total += amount
	s.dayTotal += amount
}

// refund gives back amount of a reservation made at heldAt: to the total,
// and to the day's total if that day is still the one counted.
func (a *modelAccount) refund(spender SpenderID, amount uint64, heldAt int64, minus func(*uint64, uint64)) {
	if spender == "" {
		return
	}
	s := a.spends[spender]
	minus(&s.total, amount)
	if s.day == dayOf(heldAt) {
		minus(&s.dayTotal, amount)
	}
}

// spendsOf returns the model's spends of a as the account keeps them.
func (a *modelAccount) spendsOf() map[SpenderID]spending {
	if len(a.spends) == 0 {
		return nil
	}
	spends := make(map[SpenderID]spending)
	for id, s := range a.spends {
		spends[id] = spending{Spend: Spend{Total: NewAmount(s.total), Day: int64(s.day), DayTotal: NewAmount(s.dayTotal)},
			dayReported: NewAmount(s.dayReported), totalReported: NewAmount(s.totalReported)}
	}
	return spends
}

// budget returns one of three spenders' budgets for a session paid by
// payer reserving amount, with caps or without. Half the caps set leave
// room for the amount but not for it twice, so that caps are reached and
// reported exhausted in every run, not only set.
func (s *simulation) budget(payer AccountID, amount uint64) Budget {
	b := Budget{Spender: SpenderID([]string{"key_0", "key_1", "key_2"}[s.r.IntN(3)])}
	var spent modelSpend
	if a := s.model.accounts[payer]; a != nil && a.spends[b.Spender] != nil {
		spent = *a.spends[b.Spender]
	}
	capAt := func(spent uint64, upTo int) Amount {
		if s.r.IntN(2) == 0 {
			return NewAmount(spent + amount + s.r.Uint64N(amount))
		}
		return NewAmount(uint64(1 + s.r.IntN(upTo)))
	}
	if s.r.IntN(2) == 0 {
		b.Total = capAt(spent.total, 20_000)
	}
	if s.r.IntN(2) == 0 {
		b.PerDay = capAt(spent.dayTotal, 5_000)
	}
	if s.r.IntN(4) == 0 {
		b.PerDebit = NewAmount(uint64(1 + s.r.IntN(1_000)))
	}
	return b
}
