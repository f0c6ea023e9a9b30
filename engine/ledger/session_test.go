package ledger

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

const (
	stranger AccountID = "mallory" // a party to no session
	startBy  int64     = now0 + 60e9
	started  int64     = now0 + 10e9
)

// sessionIn returns alice's session "s" for bob in state: 3 a second for
// at most 100 seconds (300 reserved) at 250 basis points, opened at now0,
// to start by now0+60s, accepted at now0+5s and started at now0+10s as its
// state says, closed at now0+20s if it is closed.
func sessionIn(state SessionState) *Session {
	s := &Session{ID: "s", Ledger: testLedger, From: alice, To: bob, Fees: testFees, FeeBps: 250, State: state,
		Terms:    SessionTerms{Rate: NewAmount(3), MaxSeconds: 100, Created: now0, StartBy: startBy},
		Reserved: NewAmount(300)}
	if state >= SessionAssigned && state != SessionCancelled && state != SessionExpired {
		s.Terms.Accepted = now0 + 5e9
	}
	if state == SessionLive || state == SessionEnded {
		s.Terms.Started = started
	}
	if !state.IsOpen() {
		s.Terms.Ended = now0 + 20e9
	}
	return s
}

var sessionStatesAll = []SessionState{SessionRequested, SessionAssigned, SessionLive, SessionEnded, SessionCancelled, SessionExpired}

func sessionCommandName(t SessionCommandType) string {
	switch t {
	case SessionAccept:
		return "Accept"
	case SessionStart:
		return "Start"
	case SessionEnd:
		return "End"
	case SessionCancel:
		return "Cancel"
	}
	return fmt.Sprintf("SessionCommand%d", t)
}

// TestDecideSessionAllowsEachTransitionOnlyFromItsStateAndToItsParty walks
// every state × transition × asker: accept by the supplier from
// REQUESTED; start by either from ASSIGNED; end by either from LIVE;
// cancel by the consumer from REQUESTED or ASSIGNED. An accept by the
// consumer or a cancel by the supplier is ErrWrongParty in any state;
// anyone else is ErrNotFound; every other pair is ErrInvalidState.
func TestDecideSessionAllowsEachTransitionOnlyFromItsStateAndToItsParty(t *testing.T) {
	type rule struct {
		from  []SessionState
		by    []AccountID
		event EventType
	}
	rules := map[SessionCommandType]rule{
		SessionAccept: {[]SessionState{SessionRequested}, []AccountID{bob}, EventSessionAccepted},
		SessionStart:  {[]SessionState{SessionAssigned}, []AccountID{alice, bob}, EventSessionStarted},
		SessionEnd:    {[]SessionState{SessionLive}, []AccountID{alice, bob}, EventSessionEnded},
		SessionCancel: {[]SessionState{SessionRequested, SessionAssigned}, []AccountID{alice}, EventSessionCancelled},
	}
	at := now0 + 30e9
	allowed := 0
	for _, state := range sessionStatesAll {
		for typ := SessionAccept; typ <= SessionCancel; typ++ {
			for _, by := range []AccountID{alice, bob, stranger} {
				s := sessionIn(state)
				before := *s
				e, err := DecideSession(s, SessionCommand{Type: typ, By: by}, at)
				name := fmt.Sprintf("%s by %s of a %v session", sessionCommandName(typ), by, state)
				if *s != before {
					t.Errorf("%s: DecideSession changed the session to %+v, want it unchanged", name, *s)
				}
				r := rules[typ]
				wrongParty := (typ == SessionAccept && by == alice) || (typ == SessionCancel && by == bob)
				switch {
				case by == stranger:
					if !errors.Is(err, ErrNotFound) {
						t.Errorf("%s = %s, %v, want %v", name, eventText(e), err, ErrNotFound)
					}
				case wrongParty:
					if !errors.Is(err, ErrWrongParty) || !errors.Is(err, ErrInvalidState) {
						t.Errorf("%s = %s, %v, want %v (an %v)", name, eventText(e), err, ErrWrongParty, ErrInvalidState)
					}
				case slices.Contains(r.from, state):
					allowed++
					if err != nil || e.Type != r.event {
						t.Errorf("%s = %s, %v, want a %v event", name, eventText(e), err, r.event)
						continue
					}
					s.Apply(&e)
					if want := sessionStates[r.event]; s.State != want {
						t.Errorf("%s: Apply left it %v, want %v", name, s.State, want)
					}
				default:
					if !errors.Is(err, ErrInvalidState) || errors.Is(err, ErrWrongParty) {
						t.Errorf("%s = %s, %v, want %v (not %v)", name, eventText(e), err, ErrInvalidState, ErrWrongParty)
					}
				}
			}
		}
	}
	if allowed != 7 { // accept 1, start 2, end 2, cancel 2
		t.Errorf("%d transitions allowed, want 7", allowed)
	}
	for _, typ := range []SessionCommandType{0, SessionCancel + 1, 255} {
		if e, err := DecideSession(sessionIn(SessionRequested), SessionCommand{Type: typ, By: alice}, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s by alice = %s, %v, want %v", sessionCommandName(typ), eventText(e), err, ErrInvalid)
		}
	}
}

// TestSessionEventsCarryTheWholeSessionAndTheirMoment checks each
// transition's event field by field: the session's fields, the reserved
// amount, and the terms with only the step's own time set.
func TestSessionEventsCarryTheWholeSessionAndTheirMoment(t *testing.T) {
	at := now0 + 30e9
	base := func(s *Session, typ EventType) Event {
		terms := s.Terms
		return Event{Type: typ, ID: "s", Ledger: testLedger, Time: at, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(300), FeeBps: 250, Session: &terms}
	}
	tests := []struct {
		state SessionState
		c     SessionCommand
		event EventType
		want  func(Event) Event
	}{
		{SessionRequested, SessionCommand{SessionAccept, bob}, EventSessionAccepted, func(e Event) Event { e.Session.Accepted = at; return e }},
		{SessionAssigned, SessionCommand{SessionStart, alice}, EventSessionStarted, func(e Event) Event { e.Session.Started = at; return e }},
		{SessionAssigned, SessionCommand{SessionCancel, alice}, EventSessionCancelled, func(e Event) Event { e.Session.Ended = at; return e }},
		{SessionRequested, SessionCommand{SessionCancel, alice}, EventSessionCancelled, func(e Event) Event { e.Session.Ended = at; return e }},
		{SessionLive, SessionCommand{SessionEnd, bob}, EventSessionEnded, func(e Event) Event {
			e.Captured, e.Fee, e.Session.Ended = NewAmount(60), NewAmount(1), at // 20 s × 3; 250 bps of 60 is 1.5, floored
			return e
		}},
	}
	for _, tt := range tests {
		s := sessionIn(tt.state)
		got, err := DecideSession(s, tt.c, at)
		want := tt.want(base(s, tt.event))
		if err != nil || !sameEvent(got, want) {
			t.Errorf("%s of a %v session = %s, %v, want %s", sessionCommandName(tt.c.Type), tt.state, eventText(got), err, eventText(want))
			continue
		}
		if got.Session == &s.Terms {
			t.Errorf("%s: the event shares the session's terms, want a copy", sessionCommandName(tt.c.Type))
		}
		// The event alone tells the session: SessionOf rebuilds what Apply leaves.
		s.Apply(&got)
		if rebuilt := SessionOf(&got); rebuilt != *s {
			t.Errorf("SessionOf(%s) = %+v, want %+v", eventText(got), rebuilt, *s)
		}
	}
}

func TestSessionDueFiresExactlyAtItsDeadlineStampedWithIt(t *testing.T) {
	liveUntil := started + 100e9
	for _, state := range []SessionState{SessionRequested, SessionAssigned} {
		s := sessionIn(state)
		if d, ok := s.Deadline(); !ok || d != startBy {
			t.Errorf("Deadline(%v) = %d, %v, want %d, true", state, d, ok, startBy)
		}
		if e, due := s.Due(startBy - 1); due {
			t.Errorf("Due(%v, its deadline - 1ns) = %s, want nothing", state, eventText(e))
		}
		for _, now := range []int64{startBy, startBy + 1, startBy + 3600e9} {
			e, due := s.Due(now)
			want := s.event(EventSessionExpired, now)
			want.Session.Ended = startBy
			if !due || !sameEvent(e, want) {
				t.Errorf("Due(%v, deadline+%d) = %s, %v, want %s", state, now-startBy, eventText(e), due, eventText(want))
			}
		}
	}
	s := sessionIn(SessionLive)
	if d, ok := s.Deadline(); !ok || d != liveUntil {
		t.Errorf("Deadline(LIVE) = %d, %v, want %d, true", d, ok, liveUntil)
	}
	if e, due := s.Due(liveUntil - 1); due {
		t.Errorf("Due(LIVE, its maximum - 1ns) = %s, want nothing", eventText(e))
	}
	for _, now := range []int64{liveUntil, liveUntil + 1, liveUntil + 7*dayNanos} {
		e, due := s.Due(now)
		want := s.event(EventSessionEnded, now)
		want.Captured, want.Fee, want.Session.Ended = NewAmount(300), NewAmount(7), liveUntil // 250 bps of 300 is 7.5
		if !due || !sameEvent(e, want) {
			t.Errorf("Due(LIVE, maximum+%d) = %s, %v, want %s", now-liveUntil, eventText(e), due, eventText(want))
		}
	}
	for _, state := range []SessionState{SessionEnded, SessionCancelled, SessionExpired} {
		s := sessionIn(state)
		if d, ok := s.Deadline(); ok {
			t.Errorf("Deadline(%v) = %d, true, want none", state, d)
		}
		if e, due := s.Due(math.MaxInt64); due {
			t.Errorf("Due(%v, forever) = %s, want nothing: a closed session has no timer", state, eventText(e))
		}
	}
}

// TestSessionEndChargesWholeSecondsLiveCappedAtItsMaximum: the end posts
// rate × the whole seconds from start to end, never a part second, never
// past the maximum, nothing for an end before its start.
func TestSessionEndChargesWholeSecondsLiveCappedAtItsMaximum(t *testing.T) {
	tests := []struct {
		live    int64 // nanoseconds from start to end
		seconds int64
	}{
		{0, 0}, {1, 0}, {999_999_999, 0}, {1e9, 1}, {1_500_000_000, 1}, {2e9 - 1, 1}, {42e9, 42},
		{100e9 - 1, 99}, {-5e9, 0},
	}
	for _, tt := range tests {
		s := sessionIn(SessionLive)
		e, err := DecideSession(s, SessionCommand{Type: SessionEnd, By: alice}, started+tt.live)
		charged := NewAmount(uint64(3 * tt.seconds))
		if err != nil || e.Captured != charged || e.Fee != charged.FeeOf(250) || e.Session.Ended != started+tt.live {
			t.Errorf("End after %d ns live = %s, %v, want %v charged at %d", tt.live, eventText(e), err, charged, started+tt.live)
			continue
		}
		s.Apply(&e)
		if got := s.CleanSeconds(); got != tt.seconds || s.Charged != charged || s.Fee != e.Fee {
			t.Errorf("CleanSeconds() after %d ns live = %d (charged %v, fee %v), want %d", tt.live, got, s.Charged, s.Fee, tt.seconds)
		}
	}
	// The end, at any time, is capped at the maximum (endedAt), as its timer's.
	s := sessionIn(SessionLive)
	e := s.endedAt(math.MaxInt64, math.MaxInt64)
	if e.Captured != NewAmount(300) || e.Session.Ended != started+100e9 {
		t.Errorf("endedAt(forever) = %s, want 300 charged at the maximum", eventText(e))
	}
	// CleanSeconds counts only an ended session, and never past its maximum.
	for _, state := range sessionStatesAll {
		s := sessionIn(state)
		s.Terms.Started, s.Terms.Ended = started, started+500e9
		want := int64(0)
		if state == SessionEnded {
			want = 100
		}
		if got := s.CleanSeconds(); got != want {
			t.Errorf("CleanSeconds(%v, 500 s after its start) = %d, want %d", state, got, want)
		}
	}
}

// openSession opens "s" on b for alice (funded on b) to bob.
func openSession(t *testing.T, b *Book, c Command, now int64) Event {
	t.Helper()
	c.Type, c.From, c.To = CommandSessionOpen, alice, bob
	if c.ID == "" {
		c.ID = "s"
	}
	_, e, err := b.Execute(&c, now)
	if err != nil {
		t.Fatalf("SessionOpen(%+v) = %v, want success", c, err)
	}
	return e
}

func TestSessionOpenReservesRateTimesMaximumOrRefuses(t *testing.T) {
	terms := Command{Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9, FeeBps: 250}
	with := func(change func(*Command)) Command {
		c := terms
		c.Type, c.ID, c.Ledger, c.From, c.To, c.Fees = CommandSessionOpen, "s", testLedger, alice, bob, testFees
		change(&c)
		return c
	}
	tests := []struct {
		name    string
		c       Command
		wantErr error
	}{
		{"zero rate", with(func(c *Command) { c.Rate = Amount{} }), ErrInvalid},
		{"zero maximum", with(func(c *Command) { c.MaxSeconds = 0 }), ErrInvalid},
		{"negative maximum", with(func(c *Command) { c.MaxSeconds = -1 }), ErrInvalid},
		{"maximum above 30 days", with(func(c *Command) { c.Rate, c.MaxSeconds = NewAmount(1), SessionSecondsMax+1 }), ErrInvalid},
		{"start window under a second", with(func(c *Command) { c.Timeout = 1e9 - 1 }), ErrInvalid},
		{"no start window", with(func(c *Command) { c.Timeout = 0 }), ErrInvalid},
		{"start window above a day", with(func(c *Command) { c.Timeout = SessionStartWithinMax + 1 }), ErrInvalid},
		{"rate × maximum past 2^128", with(func(c *Command) { c.Rate, c.MaxSeconds = MaxAmount(), 2 }), ErrInvalid},
		{"rate × maximum past one operation's 2^64-1", with(func(c *Command) { c.Rate, c.MaxSeconds = NewAmount(1<<63), 2 }), ErrInvalid},
		{"fee above 10000 basis points", with(func(c *Command) { c.FeeBps = BasisPointsMax + 1 }), ErrInvalid},
		{"to its payer", with(func(c *Command) { c.To = alice }), ErrInvalid},
		{"one unit above the funds", with(func(c *Command) { c.Rate, c.MaxSeconds = NewAmount(1001), 1 }), ErrInsufficientFunds},
		{"above the spender's total", with(func(c *Command) { c.Budget = Budget{Spender: "key_1", Total: NewAmount(299)} }), ErrBudgetExceeded},
		{"above the spender's per-debit cap", with(func(c *Command) { c.Budget = Budget{Spender: "key_1", PerDebit: NewAmount(299)} }), ErrBudgetExceeded},
		{"memo above its limit", with(func(c *Command) { c.Memo = string(make([]byte, MemoBytesMax+1)) }), ErrInvalid},
	}
	for _, tt := range tests {
		a := funded(1000, 0)
		if e, err := Decide(a, &tt.c, now0); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: SessionOpen(%+v) = %s, %v, want %v", tt.name, tt.c, eventText(e), err, tt.wantErr)
		}
	}
	for _, c := range []Command{
		with(func(c *Command) { c.Rate, c.MaxSeconds = NewAmount(1000), 1 }), // exactly the funds
		with(func(c *Command) { c.Rate, c.MaxSeconds, c.Timeout = NewAmount(1), 1000, SessionStartWithinMax }),
		with(func(c *Command) { c.Timeout = 1e9 }),
	} {
		a := funded(1000, 0)
		e, err := Decide(a, &c, now0)
		reserved, _ := c.Rate.mulSmall(uint64(c.MaxSeconds))
		want := Event{Type: EventSessionOpened, ID: "s", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
			Amount: reserved, FeeBps: 250, Session: &SessionTerms{Rate: c.Rate, MaxSeconds: c.MaxSeconds, Created: now0, StartBy: now0 + c.Timeout}}
		if err != nil || !sameEvent(e, want) {
			t.Errorf("SessionOpen(%+v) = %s, %v, want %s", c, eventText(e), err, eventText(want))
			continue
		}
		a.Apply(&e)
		if a.DebitsPending != reserved || a.Holds()[0].Amount != reserved || !a.Holds()[0].IsSession() {
			t.Errorf("after SessionOpen(%+v): pending %v, holds %+v, want %v reserved by a session", c, a.DebitsPending, a.Holds(), reserved)
		}
	}
}

// TestSessionsCountAgainstTheOpenHoldLimit: a session's reservation is an
// open hold of its payer, for HoldsPerAccountMax.
func TestSessionsCountAgainstTheOpenHoldLimit(t *testing.T) {
	a := funded(1_000_000, 0)
	for i := range HoldsPerAccountMax {
		c := Command{Type: CommandSessionOpen, ID: TransferID(fmt.Sprintf("s%d", i)), Ledger: testLedger, From: alice, To: bob,
			Fees: testFees, Rate: NewAmount(1), MaxSeconds: 1, Timeout: 1e9}
		mustDecide(t, a, c, now0)
	}
	for _, c := range []Command{
		{Type: CommandSessionOpen, ID: "one more", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Rate: NewAmount(1), MaxSeconds: 1, Timeout: 1e9},
		holdCommand(a, "a hold", 1, 0, 1e9),
	} {
		if e, err := Decide(a, &c, now0); !errors.Is(err, ErrLimitExceeded) {
			t.Errorf("%s past %d open sessions = %s, %v, want %v", commandName(c.Type), HoldsPerAccountMax, eventText(e), err, ErrLimitExceeded)
		}
	}
}

// TestSessionReservationsAreNoPlainHolds: a reservation has no deadline
// of its own and only its session's events close it: ExpireDue and
// NextDeadline pass it by, a capture or void of its id is refused, and a
// client's capture or void naming a session's id finds no hold.
func TestSessionReservationsAreNoPlainHolds(t *testing.T) {
	b := newTestBook(t, 1000)
	opened := openSession(t, b, Command{Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9}, now0)
	a := b.Account(alice)
	if due := ExpireDue(a, math.MaxInt64); len(due) != 0 {
		t.Errorf("ExpireDue(a session's payer, forever) = %s, want none", eventsText(due))
	}
	if d, ok := a.NextDeadline(); ok {
		t.Errorf("NextDeadline(a session's payer) = %d, true, want none", d)
	}
	mustExecute(t, b, holdCommand(a, "h", 50, 0, 5e9), now0)
	if d, ok := a.NextDeadline(); !ok || d != now0+5e9 {
		t.Errorf("NextDeadline(with a hold too) = %d, %v, want the hold's %d", d, ok, now0+5e9)
	}
	if due := ExpireDue(a, math.MaxInt64); len(due) != 1 || due[0].ID != "h" {
		t.Errorf("ExpireDue(with a hold too, forever) = %s, want the hold's expiry alone", eventsText(due))
	}
	for _, c := range []Command{
		{Type: CommandCapture, ID: "s", From: alice, Amount: NewAmount(1)},
		{Type: CommandVoid, ID: "s", From: alice},
	} {
		if e, err := Decide(a, &c, now0); !errors.Is(err, ErrInvalidState) {
			t.Errorf("Decide(%s of a session's id) = %s, %v, want %v", commandName(c.Type), eventText(e), err, ErrInvalidState)
		}
		for _, last := range append(sampleSessionEvents(t, newTestBook(t, 1_000_000)), opened) {
			c := c
			if outcome, err := Recall(&last, &c); !errors.Is(err, ErrNotFound) {
				t.Errorf("Recall(%v, %s) = %v, %v, want %v", last.Type, commandName(c.Type), outcome, err, ErrNotFound)
			}
		}
		c.From = ""
		if applied, e, err := b.Execute(&c, now0+1); !errors.Is(err, ErrNotFound) || len(applied) != 0 {
			t.Errorf("Execute(%s of a session's id) = %s, %s, %v, want %v", commandName(c.Type), eventsText(applied), eventText(e), err, ErrNotFound)
		}
	}
	if a.DebitsPending != NewAmount(350) || b.Session("s") == nil {
		t.Errorf("after the refusals: pending %v, session %v, want 350 and the session open", a.DebitsPending, b.Session("s"))
	}
}

func TestCheckSessionCloseRefusesWhatThePayerDoesNotReserve(t *testing.T) {
	b := newTestBook(t, 1000)
	openSession(t, b, Command{Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9}, now0)
	mustExecute(t, b, holdCommand(b.Account(alice), "h", 300, 0, 5e9), now0)
	a := b.Account(alice)
	s := b.Session("s")
	closing := func(typ EventType, change func(*Event)) Event {
		e := s.event(typ, now0+1)
		change(&e)
		return e
	}
	same := func(*Event) {}
	for _, typ := range []EventType{EventSessionEnded, EventSessionCancelled, EventSessionExpired} {
		if e := closing(typ, same); CheckSessionClose(a, &e) != nil {
			t.Errorf("CheckSessionClose(%v of an open session) = %v, want nil", typ, CheckSessionClose(a, &e))
		}
	}
	tests := []struct {
		name    string
		event   Event
		wantErr error
	}{
		{"an opening", closing(EventSessionOpened, same), ErrInvalid},
		{"an accept", closing(EventSessionAccepted, same), ErrInvalid},
		{"a start", closing(EventSessionStarted, same), ErrInvalid},
		{"a hold's capture", closing(EventCaptured, same), ErrInvalid},
		{"another session's end", closing(EventSessionEnded, func(e *Event) { e.ID = "t" }), ErrInvalidState},
		{"a plain hold's id", closing(EventSessionCancelled, func(e *Event) { e.ID = "h" }), ErrInvalidState},
		{"another reservation", closing(EventSessionExpired, func(e *Event) { e.Amount = NewAmount(299) }), ErrInvalidState},
	}
	for _, tt := range tests {
		if err := CheckSessionClose(a, &tt.event); !errors.Is(err, tt.wantErr) {
			t.Errorf("CheckSessionClose(%s) = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	a.DebitsPosted = maxMinus(0) // as if 2^128-1 had been posted: a charge of 1 cannot
	end := closing(EventSessionEnded, func(e *Event) { e.Captured = NewAmount(1) })
	if err := CheckSessionClose(a, &end); !errors.Is(err, ErrOverflow) {
		t.Errorf("CheckSessionClose(an end past 2^128-1 posted) = %v, want %v", err, ErrOverflow)
	}
}

// TestSessionCloseReleasesTheReservationAndRefundsTheBudget follows the
// money: the end posts the charge (its fee to the fee account) and gives
// the rest back to the payer and its spender's budget; a cancel or an
// expiry gives all of it back.
func TestSessionCloseReleasesTheReservationAndRefundsTheBudget(t *testing.T) {
	budget := Budget{Spender: "key_1", Total: NewAmount(1000)}
	tests := []struct {
		name    string
		close   func(b *Book) []Event
		charged uint64
	}{
		{"end after 42.5 s", func(b *Book) []Event {
			b.ExecuteSession("s", SessionCommand{SessionAccept, bob}, now0+1e9)
			b.ExecuteSession("s", SessionCommand{SessionStart, bob}, now0+2e9)
			applied, _, _ := b.ExecuteSession("s", SessionCommand{SessionEnd, alice}, now0+44_500_000_000)
			return applied
		}, 126},
		{"end at the maximum by its timer", func(b *Book) []Event {
			b.ExecuteSession("s", SessionCommand{SessionAccept, bob}, now0+1e9)
			b.ExecuteSession("s", SessionCommand{SessionStart, alice}, now0+2e9)
			return b.CloseDueSessions(now0 + 102e9)
		}, 300},
		{"cancel", func(b *Book) []Event {
			applied, _, _ := b.ExecuteSession("s", SessionCommand{SessionCancel, alice}, now0+1e9)
			return applied
		}, 0},
		{"expiry", func(b *Book) []Event { return b.CloseDueSessions(now0 + 60e9) }, 0},
	}
	for _, tt := range tests {
		b := newTestBook(t, 1000)
		openSession(t, b, Command{Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9, FeeBps: 250, Budget: budget}, now0)
		if got := b.Account(alice).Spent("key_1", now0).Total; got != NewAmount(300) {
			t.Fatalf("%s: spent %v after the opening, want 300", tt.name, got)
		}
		closed := tt.close(b)
		if len(closed) != 1 || !closed[0].Type.IsSessionClose() {
			t.Fatalf("%s: closing applied %s, want one closing event", tt.name, eventsText(closed))
		}
		fee := tt.charged * 250 / 10000
		wantBalances := map[AccountID]balances{
			alice:    {creditsPosted: 1000, debitsPosted: tt.charged},
			bob:      {creditsPosted: tt.charged - fee},
			testFees: {creditsPosted: fee},
		}
		for id, want := range wantBalances {
			if got := balancesOf(t, b.Account(id)); got != want {
				t.Errorf("%s: %s = %+v, want %+v", tt.name, id, got, want)
			}
		}
		if got := b.Account(alice).Spent("key_1", now0).Total; got != NewAmount(tt.charged) {
			t.Errorf("%s: spent %v after the close, want the %d charged", tt.name, got, tt.charged)
		}
		if b.Session("s") != nil || b.Sessions() != 0 || len(b.Account(alice).Holds()) != 0 {
			t.Errorf("%s: session %+v still open (%d), holds %+v, want none", tt.name, b.Session("s"), b.Sessions(), b.Account(alice).Holds())
		}
		if err := b.Check(); err != nil {
			t.Errorf("%s: Check() = %v, want nil", tt.name, err)
		}
	}
}

// TestExecuteSessionFiresTheDueTimerFirstAndAnswersAsTheEngine: a closed
// session is ErrInvalidState to its parties and ErrNotFound to anyone
// else, as is an id that opened none; a transition asked at or after the
// deadline finds the session closed by its timer, applied first.
func TestExecuteSessionFiresTheDueTimerFirstAndAnswersAsTheEngine(t *testing.T) {
	b := newTestBook(t, 1000)
	mustExecute(t, b, Command{Type: CommandCharge, ID: "k", From: alice, To: bob, Amount: NewAmount(1)}, now0)
	openSession(t, b, Command{Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9}, now0)
	for _, id := range []TransferID{"never", "k", "fund-alice"} {
		for _, by := range []AccountID{alice, bob, stranger} {
			if applied, e, err := b.ExecuteSession(id, SessionCommand{SessionAccept, by}, now0); !errors.Is(err, ErrNotFound) || len(applied) != 0 {
				t.Errorf("ExecuteSession(%q, accept by %s) = %s, %s, %v, want %v", id, by, eventsText(applied), eventText(e), err, ErrNotFound)
			}
		}
	}
	if applied, _, err := b.ExecuteSession("s", SessionCommand{SessionAccept, bob}, startBy-1); err != nil || len(applied) != 1 {
		t.Fatalf("accept 1 ns before the start window ends = %s, %v, want it accepted", eventsText(applied), err)
	}
	applied, e, err := b.ExecuteSession("s", SessionCommand{SessionStart, bob}, startBy)
	if !errors.Is(err, ErrInvalidState) || len(applied) != 1 || applied[0].Type != EventSessionExpired ||
		applied[0].Time != startBy || applied[0].Session.Ended != startBy {
		t.Fatalf("start at the end of the start window = %s, %s, %v, want its expiry applied and %v", eventsText(applied), eventText(e), err, ErrInvalidState)
	}
	for _, c := range []SessionCommand{{SessionAccept, alice}, {SessionStart, bob}, {SessionEnd, alice}, {SessionCancel, alice}, {SessionCancel, bob}} {
		if applied, e, err := b.ExecuteSession("s", c, startBy+1); !errors.Is(err, ErrInvalidState) || len(applied) != 0 {
			t.Errorf("ExecuteSession(expired, %s by %s) = %s, %s, %v, want %v", sessionCommandName(c.Type), c.By, eventsText(applied), eventText(e), err, ErrInvalidState)
		}
	}
	if _, _, err := b.ExecuteSession("s", SessionCommand{SessionStart, stranger}, startBy+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("ExecuteSession(expired, start by a stranger) = %v, want %v", err, ErrNotFound)
	}
	if got := balancesOf(t, b.Account(alice)); got != (balances{creditsPosted: 1000, debitsPosted: 1}) {
		t.Errorf("alice after the expiry = %+v, want the reservation released", got)
	}
}

func TestCloseDueSessionsFiresEachAtItsDeadlineInDeadlineOrder(t *testing.T) {
	b := newTestBook(t, 10_000)
	for _, s := range []struct {
		id     TransferID
		window int64
	}{{"c", 5e9}, {"a", 5e9}, {"b", 3e9}, {"d", 9e9}} {
		openSession(t, b, Command{ID: s.id, Rate: NewAmount(1), MaxSeconds: 10, Timeout: s.window}, now0)
	}
	if due := b.CloseDueSessions(now0 + 3e9 - 1); len(due) != 0 {
		t.Errorf("CloseDueSessions(1 ns before the first deadline) = %s, want none", eventsText(due))
	}
	due := b.CloseDueSessions(now0 + 5e9)
	var ids []TransferID
	for _, e := range due {
		ids = append(ids, e.ID)
		if e.Type != EventSessionExpired || e.Time != now0+5e9 || e.Session.Ended != e.Session.StartBy {
			t.Errorf("CloseDueSessions(now0+5s): %s, want an expiry at now0+5s dated at its start window's end", eventText(e))
		}
	}
	if fmt.Sprint(ids) != "[b a c]" {
		t.Errorf("CloseDueSessions(now0+5s) closed %v, want [b a c]: by deadline, then id", ids)
	}
	if b.Sessions() != 1 || b.Session("d") == nil {
		t.Errorf("open sessions after = %d, want d alone", b.Sessions())
	}
	if err := b.Check(); err != nil {
		t.Errorf("Check() = %v, want nil", err)
	}
}

// TestSessionOpenIsIdempotentByClientID: the same opening replays the
// session's latest event; other terms under its id are a conflict, as is
// any other operation under it.
func TestSessionOpenIsIdempotentByClientID(t *testing.T) {
	b := newTestBook(t, 1000)
	first := Command{Type: CommandSessionOpen, ID: "s", From: alice, To: bob, Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9, Memo: "m"}
	c := first
	mustExecute(t, b, c, now0)
	_, accepted, _ := b.ExecuteSession("s", SessionCommand{SessionAccept, bob}, now0+1)
	c = first
	c.Budget = Budget{Spender: "rotated key"} // not content
	if applied, e, err := b.Execute(&c, now0+2); err != nil || len(applied) != 0 || !sameEvent(e, accepted) {
		t.Errorf("SessionOpen retried = %s, %s, %v, want a replay of %s", eventsText(applied), eventText(e), err, eventText(accepted))
	}
	for _, change := range []func(*Command){
		func(c *Command) { c.Rate = NewAmount(4) },
		func(c *Command) { c.MaxSeconds = 99 },
		func(c *Command) { c.Timeout = 61e9 },
		func(c *Command) { c.Memo = "n" },
		func(c *Command) { c.To = carol },
		func(c *Command) { c.Type, c.Amount, c.Timeout = CommandHold, NewAmount(300), 60e9 },
		func(c *Command) { c.Type, c.Amount = CommandCharge, NewAmount(300) },
	} {
		c := first
		change(&c)
		if applied, e, err := b.Execute(&c, now0+2); !errors.Is(err, ErrIdempotencyConflict) || len(applied) != 0 {
			t.Errorf("Execute(%+v) under an opened session's id = %s, %s, %v, want %v", c, eventsText(applied), eventText(e), err, ErrIdempotencyConflict)
		}
	}
	c = Command{Type: CommandSessionOpen, ID: "fund-alice", From: alice, To: bob, Rate: NewAmount(1), MaxSeconds: 1, Timeout: 1e9}
	if _, _, err := b.Execute(&c, now0+2); !errors.Is(err, ErrIdempotencyConflict) {
		t.Errorf("SessionOpen under a credit's id = %v, want %v", err, ErrIdempotencyConflict)
	}
}

func TestSessionStateNames(t *testing.T) {
	for state, want := range map[SessionState]string{
		SessionRequested: "REQUESTED", SessionAssigned: "ASSIGNED", SessionLive: "LIVE",
		SessionEnded: "ENDED", SessionCancelled: "CANCELLED", SessionExpired: "EXPIRED", 0: "UNKNOWN", 7: "UNKNOWN",
	} {
		if got := state.String(); got != want {
			t.Errorf("SessionState(%d).String() = %q, want %q", state, got, want)
		}
		if got, wantOpen := state.IsOpen(), state >= SessionRequested && state <= SessionLive; got != wantOpen {
			t.Errorf("%v.IsOpen() = %v, want %v", state, got, wantOpen)
		}
	}
}
