package ledger

import (
	"cmp"
	"fmt"
	"slices"
)

// Directory answers what the engine knows of an account before any actor
// is asked: its ledger and kind. Resolve and OpenAccount take one so that the
// engine (sharded maps) and Book (one map) share the same rules.
type Directory interface {
	Lookup(id AccountID) (ledger LedgerID, kind Kind, ok bool)
}

// Resolve checks the accounts a command names and fills in its ledger and fee
// account: From and To exist, are user accounts of one ledger, and differ.
// Capture and void name only the hold, so they resolve through Recall; a
// payout names its payer (a user or fee account), and goes to the chain,
// as withdrawals do (from a user account).
func Resolve(d Directory, c *Command) error {
	var from, to Known
	if c.Type != CommandCredit {
		from = lookup(d, c.From)
	}
	switch c.Type {
	case CommandCapture, CommandVoid, CommandPayout, CommandReserveWithdrawal, CommandCompleteWithdrawal:
	default:
		to = lookup(d, c.To)
	}
	return ResolveKnown(c, from, to)
}

// Known is what a directory knows of one account, for ResolveKnown.
type Known struct {
	OK     bool // the account exists; the other fields are set only then
	Ledger LedgerID
	Kind   Kind
	// Fees is the fee account of Ledger, if the directory keeps it (so a
	// hot path need not build the id); empty means FeesAccountID(Ledger).
	Fees AccountID
}

func lookup(d Directory, id AccountID) Known {
	ledger, kind, ok := d.Lookup(id)
	return Known{OK: ok, Ledger: ledger, Kind: kind}
}

// ResolveKnown is Resolve given what is known of the command's payer and
// payee (ignored where the command does not name them): for callers that
// looked the accounts up themselves.
func ResolveKnown(c *Command, from, to Known) error {
	switch c.Type {
	case CommandCapture, CommandVoid:
		return nil
	case CommandCredit:
		if !to.OK {
			return fmt.Errorf("%w: account %q", ErrNotFound, c.To)
		}
		if to.Kind.IsSystem() {
			return fmt.Errorf("%w: cannot credit a system account", ErrInvalid)
		}
		c.Ledger, c.From = to.Ledger, ChainAccountID(to.Ledger)
		return nil
	case CommandPayout:
		switch {
		case !from.OK:
			return fmt.Errorf("%w: account %q", ErrNotFound, c.From)
		case from.Kind == KindChain:
			return fmt.Errorf("%w: the chain account pays nothing out", ErrInvalid)
		}
		c.Ledger, c.To = from.Ledger, ChainAccountID(from.Ledger)
		return nil
	case CommandReserveWithdrawal, CommandCompleteWithdrawal:
		switch {
		case !from.OK:
			return fmt.Errorf("%w: account %q", ErrNotFound, c.From)
		case from.Kind.IsSystem():
			return fmt.Errorf("%w: only a user account withdraws", ErrInvalid)
		}
		c.Ledger, c.To = from.Ledger, ChainAccountID(from.Ledger)
		return nil
	}
	switch {
	case !from.OK:
		return fmt.Errorf("%w: account %q", ErrNotFound, c.From)
	case !to.OK:
		return fmt.Errorf("%w: account %q", ErrNotFound, c.To)
	case from.Kind.IsSystem() || to.Kind.IsSystem():
		return fmt.Errorf("%w: system accounts cannot pay or be paid directly", ErrInvalid)
	case from.Ledger != to.Ledger:
		return ErrLedgerMismatch
	case c.From == c.To:
		return fmt.Errorf("%w: an account cannot pay itself", ErrInvalid)
	}
	c.Ledger, c.Fees = from.Ledger, from.Fees
	if c.Fees == "" {
		c.Fees = FeesAccountID(from.Ledger)
	}
	return nil
}

// OpenAccount returns the events that open a user account: the ledger's fee
// and chain accounts first if the ledger is new, then the account.
func OpenAccount(d Directory, id AccountID, ledger LedgerID, kind Kind, now int64) ([]Event, error) {
	switch {
	case !ValidAccountID(id):
		return nil, fmt.Errorf("%w: account id must be 1-%d printable bytes not starting with %q", ErrInvalid, AccountIDBytesMax, SystemPrefix)
	case !ValidLedgerID(ledger):
		return nil, fmt.Errorf("%w: ledger must be 1-%d printable bytes", ErrInvalid, LedgerIDBytesMax)
	case kind != KindConsumer && kind != KindSupplier:
		return nil, fmt.Errorf("%w: only consumer and supplier accounts can be opened", ErrInvalid)
	}
	if existing, _, ok := d.Lookup(id); ok {
		if existing != ledger {
			return nil, fmt.Errorf("%w: account %q in ledger %q", ErrAlreadyExists, id, existing)
		}
		return nil, fmt.Errorf("%w: account %q", ErrAlreadyExists, id)
	}
	var events []Event
	for _, system := range []struct {
		id   AccountID
		kind Kind
	}{{FeesAccountID(ledger), KindFees}, {ChainAccountID(ledger), KindChain}} {
		if _, _, ok := d.Lookup(system.id); !ok {
			events = append(events, Event{Type: EventAccountCreated, Ledger: ledger, Time: now, Account: system.id, Kind: system.kind})
		}
	}
	return append(events, Event{Type: EventAccountCreated, Ledger: ledger, Time: now, Account: id, Kind: kind}), nil
}

// Book is the whole ledger in one place: every account and, when it tracks
// them, the latest event of every client id. Replay rebuilds one from the
// log; the engine keeps one as the state its snapshots are taken from; tests
// use one as the reference model. Not safe for concurrent use.
type Book struct {
	accounts  map[AccountID]*Account
	sessions  map[TransferID]*Session // the open ones
	transfers map[TransferID]Event    // nil unless tracking
}

// NewBook returns an empty book. With trackTransfers it also remembers the
// latest event of each client id, so Execute enforces idempotency by itself.
func NewBook(trackTransfers bool) *Book {
	b := &Book{accounts: make(map[AccountID]*Account), sessions: make(map[TransferID]*Session)}
	if trackTransfers {
		b.transfers = make(map[TransferID]Event)
	}
	return b
}

// Lookup implements Directory.
func (b *Book) Lookup(id AccountID) (LedgerID, Kind, bool) {
	a := b.accounts[id]
	if a == nil {
		return "", 0, false
	}
	return a.Ledger, a.Kind, true
}

// Account returns the account with this id, or nil.
func (b *Book) Account(id AccountID) *Account { return b.accounts[id] }

// Len returns the number of accounts.
func (b *Book) Len() int { return len(b.accounts) }

// Accounts returns every account, ordered by id.
func (b *Book) Accounts() []*Account {
	accounts := make([]*Account, 0, len(b.accounts))
	for _, a := range b.accounts {
		accounts = append(accounts, a)
	}
	slices.SortFunc(accounts, func(x, y *Account) int {
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	return accounts
}

// Range calls fn for every account, in no particular order, until fn
// returns false. Cheaper than Accounts for a whole pass (no sort).
func (b *Book) Range(fn func(*Account) bool) {
	for _, a := range b.accounts {
		if !fn(a) {
			return
		}
	}
}

// Transfer returns the latest event of a client id, when tracking.
func (b *Book) Transfer(id TransferID) (Event, bool) {
	e, ok := b.transfers[id]
	return e, ok
}

// Insert adds an account restored from a snapshot.
// REQUIRES: no account with its id exists.
func (b *Book) Insert(a *Account) {
	assert(b.accounts[a.ID] == nil, "account inserted twice")
	b.accounts[a.ID] = a
}

// Session returns the open session with this id, or nil.
func (b *Book) Session(id TransferID) *Session { return b.sessions[id] }

// Sessions returns how many sessions are open.
func (b *Book) Sessions() int { return len(b.sessions) }

// RangeSessions calls fn for every open session, in no particular order,
// until fn returns false.
func (b *Book) RangeSessions(fn func(*Session) bool) {
	for _, s := range b.sessions {
		if !fn(s) {
			return
		}
	}
}

// InsertSession adds an open session restored from a snapshot.
// REQUIRES: no session with its id is open.
func (b *Book) InsertSession(s *Session) {
	assert(b.sessions[s.ID] == nil, "session inserted twice")
	b.sessions[s.ID] = s
}

// Apply changes the book by a decided event. It cannot fail.
func (b *Book) Apply(e *Event) {
	if e.Type == EventAccountCreated {
		assert(b.accounts[e.Account] == nil, "account created twice")
		b.accounts[e.Account] = &Account{ID: e.Account, Ledger: e.Ledger, Kind: e.Kind}
		return
	}
	if e.Type == EventLowBalanceSet { // a setting: no client id, no counterparty
		a := b.accounts[e.Account]
		assert(a != nil, "event names an unknown account")
		a.Apply(e)
		return
	}
	if e.Type.IsSession() {
		b.applySession(e)
	}
	for _, id := range [...]AccountID{e.From, e.To, e.Fees} {
		if id == "" || !e.Involves(id) {
			continue
		}
		a := b.accounts[id]
		assert(a != nil, "event names an unknown account")
		a.Apply(e)
	}
	if b.transfers != nil {
		b.transfers[e.ID] = *e
	}
}

// applySession keeps the open sessions: an opening adds one, a closing
// removes it, the rest move it.
func (b *Book) applySession(e *Event) {
	s := b.sessions[e.ID]
	switch {
	case e.Type == EventSessionOpened:
		assert(s == nil, "session opened twice")
		opened := SessionOf(e)
		b.sessions[e.ID] = &opened
	case s == nil:
		assert(false, "event of a session that is not open")
	case e.Type.IsSessionClose():
		delete(b.sessions, e.ID)
	default:
		s.Apply(e)
	}
}

// Execute runs the whole rule pipeline for one command at time now: check
// the client id, resolve accounts, expire the payer's due holds, decide,
// apply. It returns every event applied (expiries first) and the command's
// result event. Used by the reference model and the simulation.
func (b *Book) Execute(c *Command, now int64) (applied []Event, result Event, err error) {
	assert(b.transfers != nil, "Execute needs a book that tracks transfers")
	if c.Type == CommandSetLowBalance {
		return b.executeSetting(c, now)
	}
	if !ValidTransferID(c.ID) {
		return nil, Event{}, fmt.Errorf("%w: client id must be 1-%d printable bytes", ErrInvalid, TransferIDBytesMax)
	}
	if last, ok := b.transfers[c.ID]; ok {
		outcome, err := Recall(&last, c)
		if err != nil || outcome == OutcomeReplay {
			return nil, last, err
		}
		c.From = last.From // proceed: an open hold, decided by its payer
	} else if c.Type == CommandCapture || c.Type == CommandVoid {
		return nil, Event{}, ErrNotFound
	}
	if err := Resolve(b, c); err != nil {
		return nil, Event{}, err
	}
	decider := b.accounts[c.Decider()]
	for _, e := range ExpireDue(decider, now) {
		b.Apply(&e)
		applied = append(applied, e)
	}
	e, err := Decide(decider, c, now)
	if err != nil {
		return applied, Event{}, err
	}
	b.Apply(&e)
	return append(applied, e), e, nil
}

// executeSetting runs a command that changes an account's settings: no
// client id, no counterparty, no expiries (they change no setting).
func (b *Book) executeSetting(c *Command, now int64) (applied []Event, result Event, err error) {
	a := b.accounts[c.From]
	if a == nil {
		return nil, Event{}, fmt.Errorf("%w: account %q", ErrNotFound, c.From)
	}
	e, err := Decide(a, c, now)
	if err != nil {
		return nil, Event{}, err
	}
	b.Apply(&e)
	return []Event{e}, e, nil
}

// ExecuteSession runs one transition of session id at time now, as the
// session's actor does: its timer first, if due by now (Session.Due),
// then DecideSession. It returns every event applied (the timer's first)
// and the transition's event. A session that is not open (closed, or
// closed just now by its timer) refuses with ErrInvalidState its parties
// and with ErrNotFound anyone else, as does an id that never opened a
// session: the engine's answers. Used by the reference model and the
// simulation; the engine runs the same steps on the session's actor.
func (b *Book) ExecuteSession(id TransferID, c SessionCommand, now int64) (applied []Event, result Event, err error) {
	assert(b.transfers != nil, "ExecuteSession needs a book that tracks transfers")
	s := b.sessions[id]
	if s != nil {
		if e, due := s.Due(now); due {
			b.Apply(&e)
			applied = append(applied, e)
			s = nil
		}
	}
	if s == nil {
		last, ok := b.transfers[id]
		if !ok || !last.Type.IsSession() || (c.By != last.From && c.By != last.To) {
			return applied, Event{}, fmt.Errorf("%w: session %q", ErrNotFound, id)
		}
		return applied, Event{}, fmt.Errorf("%w: the session is %v", ErrInvalidState, sessionStates[last.Type])
	}
	e, err := DecideSession(s, c, now)
	if err != nil {
		return applied, Event{}, err
	}
	if e.Type.IsSessionClose() {
		err := CheckSessionClose(b.accounts[s.From], &e)
		assert(err == nil, "session closed on a payer that cannot")
	}
	b.Apply(&e)
	return append(applied, e), e, nil
}

// CloseDueSessions fires the timer of every open session due by now, as
// the engine's sweeper does: each closes as Session.Due says (an expiry,
// or the end at the maximum), in deadline order, then by id. It returns
// the events applied.
func (b *Book) CloseDueSessions(now int64) []Event {
	var due []*Session
	for _, s := range b.sessions {
		if deadline, ok := s.Deadline(); ok && deadline <= now {
			due = append(due, s)
		}
	}
	slices.SortFunc(due, func(x, y *Session) int {
		dx, _ := x.Deadline()
		dy, _ := y.Deadline()
		return cmp.Or(cmp.Compare(dx, dy), cmp.Compare(x.ID, y.ID))
	})
	events := make([]Event, 0, len(due))
	for _, s := range due {
		e, _ := s.Due(now)
		b.Apply(&e)
		events = append(events, e)
	}
	return events
}

// ledgerTotals sums one ledger's debits and credits.
type ledgerTotals struct {
	debitsPosted, creditsPosted, debitsPending, creditsPending Amount
	carries                                                    [4]uint64 // overflows of each sum
}

// Check verifies the invariants of the design: per ledger, Σ debits = Σ
// credits for posted and pending alike; no account that may not overdraw
// has debits above its credits; each open hold is reserved by its payer;
// an account's pending debits are its open holds and its withdrawal
// reservation, no more.
func (b *Book) Check() error {
	totals := make(map[LedgerID]*ledgerTotals)
	for _, a := range b.Accounts() {
		t := totals[a.Ledger]
		if t == nil {
			t = &ledgerTotals{}
			totals[a.Ledger] = t
		}
		var ok [4]bool
		t.debitsPosted, ok[0] = t.debitsPosted.Add(a.DebitsPosted)
		t.creditsPosted, ok[1] = t.creditsPosted.Add(a.CreditsPosted)
		t.debitsPending, ok[2] = t.debitsPending.Add(a.DebitsPending)
		t.creditsPending, ok[3] = t.creditsPending.Add(a.CreditsPending)
		for i, fits := range ok {
			if !fits {
				t.carries[i]++
			}
		}
		if err := checkAccount(a); err != nil {
			return err
		}
	}
	if err := b.checkSessions(); err != nil {
		return err
	}
	for ledger, t := range totals {
		if t.debitsPosted != t.creditsPosted || t.carries[0] != t.carries[1] {
			return fmt.Errorf("ledger %q: posted debits %s != credits %s", ledger, t.debitsPosted, t.creditsPosted)
		}
		if t.debitsPending != t.creditsPending || t.carries[2] != t.carries[3] {
			return fmt.Errorf("ledger %q: pending debits %s != credits %s", ledger, t.debitsPending, t.creditsPending)
		}
	}
	return nil
}

// checkSessions verifies that the open sessions and the payers'
// reservations match one to one: each open session is reserved by its
// payer, for its maximum, and each reservation belongs to an open session.
func (b *Book) checkSessions() error {
	for id, s := range b.sessions {
		payer := b.accounts[s.From]
		if payer == nil {
			return fmt.Errorf("session %q: unknown payer %q", id, s.From)
		}
		h := payer.holds[id]
		if h == nil || !h.IsSession() || h.Amount != s.Reserved {
			return fmt.Errorf("session %q: payer %q does not reserve its %s", id, s.From, s.Reserved)
		}
		if !s.State.IsOpen() {
			return fmt.Errorf("session %q: kept open in state %v", id, s.State)
		}
	}
	for _, a := range b.accounts {
		for id, h := range a.holds {
			if h.IsSession() && b.sessions[id] == nil {
				return fmt.Errorf("account %q reserves %s for session %q, which is not open", a.ID, h.Amount, id)
			}
		}
	}
	return nil
}

func checkAccount(a *Account) error {
	debits, ok := a.DebitsPosted.Add(a.DebitsPending)
	if !ok {
		return fmt.Errorf("account %q: debits %s+%s overflow", a.ID, a.DebitsPosted, a.DebitsPending)
	}
	if !a.Kind.MayOverdraw() {
		if debits.Cmp(a.CreditsPosted) > 0 {
			return fmt.Errorf("account %q overdrawn: debits %s+%s > credits %s", a.ID, a.DebitsPosted, a.DebitsPending, a.CreditsPosted)
		}
	}
	var held Amount
	for _, h := range a.holds {
		var ok bool
		if held, ok = held.Add(h.Amount); !ok {
			return fmt.Errorf("account %q: held amounts overflow", a.ID)
		}
	}
	if w := a.withdrawal; w != nil {
		var ok bool
		switch held, ok = held.Add(w.Amount); {
		case !ok:
			return fmt.Errorf("account %q: held amounts and its withdrawal reservation overflow", a.ID)
		case a.Kind.IsSystem():
			return fmt.Errorf("account %q: a %v account reserves a withdrawal", a.ID, a.Kind)
		case w.Amount.Cmp(w.Requested) > 0:
			return fmt.Errorf("account %q: withdrawal reservation %s above the %s requested", a.ID, w.Amount, w.Requested)
		}
	}
	if held != a.DebitsPending {
		if w := a.withdrawal; w != nil {
			return fmt.Errorf("account %q: open holds %s (its withdrawal reservation of %s included) != pending debits %s", a.ID, held, w.Amount, a.DebitsPending)
		}
		return fmt.Errorf("account %q: open holds %s != pending debits %s", a.ID, held, a.DebitsPending)
	}
	return nil
}
