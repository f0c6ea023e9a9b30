package ledger

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedFlag replays a simulation: go test ./engine/ledger/ -run Simulation -seed=N
var seedFlag = flag.Int64("seed", 0, "seed of the ledger simulation tests; 0 picks one from the clock")

// simulationSteps is how many random commands one simulation runs.
const simulationSteps = 25_000

func simulationSeed(t *testing.T) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with -seed=%d)", seed, seed)
	return seed
}

// The reference model: balances, holds and client ids kept by the test in
// plain uint64s, from its own reading of the rules, independent of Account.

type modelAccount struct {
	ledger                                                     LedgerID
	kind                                                       Kind
	debitsPosted, creditsPosted, debitsPending, creditsPending uint64
	spends                                                     map[SpenderID]*modelSpend // budgeted sessions' spenders
	lowBalance                                                 uint64                    // the low-balance threshold; 0: off
	withdrawal                                                 *modelWithdrawal          // the reservation of a withdrawal requested, or nil
}

func (a *modelAccount) available() uint64 {
	spent := a.debitsPosted + a.debitsPending
	if spent > a.creditsPosted {
		return 0
	}
	return a.creditsPosted - spent
}

type holdState uint8

const (
	holdOpen holdState = iota
	holdCaptured
	holdVoided
	holdExpired
)

type modelHold struct {
	id, ledger                 string
	from, to                   AccountID
	amount, captured           uint64
	feeBps                     uint32
	created, timeout, deadline int64
	state                      holdState
}

// modelOperation is the first successful command of a client id, as sent,
// and the latest event of that id.
type modelOperation struct {
	command Command
	last    Event
}

type model struct {
	accounts   map[AccountID]*modelAccount
	holds      map[TransferID]*modelHold
	open       map[TransferID]*modelHold // the holds still open
	operations map[TransferID]*modelOperation
	// sessions are every session opened, by id; openSessions those open.
	sessions, openSessions map[TransferID]*modelSession
	// events counts the events of each client id by type, to check that an
	// id opens (credit, charge, hold) at most once and closes at most once.
	events map[TransferID]*[eventTypeEnd]int
}

func newModel() *model {
	return &model{
		accounts:     make(map[AccountID]*modelAccount),
		holds:        make(map[TransferID]*modelHold),
		open:         make(map[TransferID]*modelHold),
		operations:   make(map[TransferID]*modelOperation),
		sessions:     make(map[TransferID]*modelSession),
		openSessions: make(map[TransferID]*modelSession),
		events:       make(map[TransferID]*[eventTypeEnd]int),
	}
}

// prediction is what the model expects Execute to return.
type prediction struct {
	replay  bool
	errs    []error // any of these; none means success
	applied []Event // expiries, then the result on success
	result  Event
}

func fee(amount uint64, feeBps uint32) uint64 { return amount * uint64(feeBps) / BasisPointsMax }

// sameContent is the model's reading of "the same request": the same kind of
// operation between the same accounts for the same amount (and timeout);
// for a session, the same rate, maximum and start window (its amount is
// no part of the command). The fee rate is the engine's configuration, not
// the client's content, so it takes no part (as in Recall).
func sameContent(first, c Command) bool {
	if first.Type != c.Type || first.To != c.To {
		return false
	}
	if c.Type == CommandSessionOpen {
		return first.From == c.From && first.Rate == c.Rate && first.MaxSeconds == c.MaxSeconds && first.Timeout == c.Timeout
	}
	if first.Amount != c.Amount {
		return false
	}
	switch c.Type {
	case CommandCharge, CommandPayout, CommandReserveWithdrawal, CommandCompleteWithdrawal:
		return first.From == c.From
	case CommandHold:
		return first.From == c.From && first.Timeout == c.Timeout
	}
	return true
}

func (m *model) predict(c Command, now int64) prediction {
	if c.Type == CommandSetLowBalance {
		a := m.accounts[c.From]
		switch {
		case a == nil:
			return prediction{errs: []error{ErrNotFound}}
		case a.kind.IsSystem():
			return prediction{errs: []error{ErrInvalid}}
		}
		e := Event{Type: EventLowBalanceSet, Ledger: a.ledger, Time: now, Account: c.From, Amount: c.Amount}
		return prediction{applied: []Event{e}, result: e}
	}
	if !ValidID(string(c.ID), TransferIDBytesMax) {
		return prediction{errs: []error{ErrInvalid}}
	}
	var decider AccountID
	operation := m.operations[c.ID]
	switch {
	case operation != nil && (c.Type == CommandCredit || c.Type == CommandCharge || c.Type == CommandHold || c.Type == CommandSessionOpen || c.Type == CommandPayout ||
		c.Type == CommandReserveWithdrawal || c.Type == CommandCompleteWithdrawal):
		if sameContent(operation.command, c) {
			return prediction{replay: true, result: operation.last}
		}
		return prediction{errs: []error{ErrIdempotencyConflict}}
	case operation != nil:
		h := m.holds[c.ID]
		if h == nil {
			return prediction{errs: []error{ErrNotFound}}
		}
		switch {
		case h.state == holdCaptured && c.Type == CommandCapture && c.Amount == NewAmount(h.captured):
			return prediction{replay: true, result: operation.last}
		case h.state == holdVoided && c.Type == CommandVoid:
			return prediction{replay: true, result: operation.last}
		case h.state != holdOpen:
			return prediction{errs: []error{ErrInvalidState}}
		}
		decider = h.from
	case c.Type == CommandCapture || c.Type == CommandVoid:
		return prediction{errs: []error{ErrNotFound}}
	case c.Type == CommandCredit:
		to := m.accounts[c.To]
		switch {
		case to == nil:
			return prediction{errs: []error{ErrNotFound}}
		case to.kind.IsSystem():
			return prediction{errs: []error{ErrInvalid}}
		}
		decider = c.To
	case c.Type == CommandReserveWithdrawal || c.Type == CommandCompleteWithdrawal:
		from := m.accounts[c.From]
		switch {
		case from == nil:
			return prediction{errs: []error{ErrNotFound}}
		case from.kind.IsSystem():
			return prediction{errs: []error{ErrInvalid}}
		}
		decider = c.From
	case c.Type == CommandPayout:
		from := m.accounts[c.From]
		switch {
		case from == nil:
			return prediction{errs: []error{ErrNotFound}}
		case from.kind == KindChain:
			return prediction{errs: []error{ErrInvalid}}
		}
		decider = c.From
	default:
		if errs := m.resolveErrors(c); len(errs) > 0 {
			return prediction{errs: errs}
		}
		decider = c.From
	}
	p := prediction{applied: m.expiries(decider, now)}
	expired := make(map[TransferID]bool)
	released := uint64(0)
	for _, e := range p.applied {
		expired[e.ID] = true
		released += m.holds[e.ID].amount
	}
	a := m.accounts[decider]
	available := (&modelAccount{creditsPosted: a.creditsPosted, debitsPosted: a.debitsPosted, debitsPending: a.debitsPending - released}).available()
	amount := amountUint64(c.Amount)
	switch c.Type {
	case CommandSessionOpen:
		return a.marked(m.predictSessionOpen(p, a, c, available, now), c, available, now)
	case CommandReserveWithdrawal, CommandCompleteWithdrawal:
		return a.marked(m.predictWithdrawal(p, a, c, available, now), c, available, now)
	case CommandCredit:
		if amount == 0 {
			p.errs = []error{ErrInvalid}
			return p
		}
		p.result = Event{Type: EventCredited, ID: c.ID, Ledger: a.ledger, Time: now, From: ChainAccountID(a.ledger), To: c.To, Amount: c.Amount}
	case CommandPayout:
		switch {
		case amount == 0:
			p.errs = []error{ErrInvalid}
			return p
		case amount > available:
			p.errs = []error{ErrInsufficientFunds}
			return p
		}
		p.result = Event{Type: EventPaidOut, ID: c.ID, Ledger: a.ledger, Time: now, From: c.From, To: ChainAccountID(a.ledger), Amount: c.Amount}
	case CommandCharge, CommandHold:
		if c.Type == CommandHold && (c.Timeout <= 0 || c.Timeout > HoldTimeoutMax) {
			p.errs = append(p.errs, ErrInvalid)
		}
		if amount == 0 || c.FeeBps > BasisPointsMax {
			p.errs = append(p.errs, ErrInvalid)
		}
		if amount > available && !a.kind.MayOverdraw() {
			p.errs = append(p.errs, ErrInsufficientFunds)
		}
		if len(p.errs) > 0 {
			return p
		}
		p.result = Event{Type: EventCharged, ID: c.ID, Ledger: a.ledger, Time: now, From: c.From, To: c.To,
			Fees: FeesAccountID(a.ledger), Amount: c.Amount, Fee: NewAmount(fee(amount, c.FeeBps))}
		if c.Type == CommandHold {
			p.result.Type, p.result.Fee = EventHeld, Amount{}
			p.result.FeeBps, p.result.Timeout, p.result.Deadline = c.FeeBps, c.Timeout, now+c.Timeout
		}
	case CommandCapture, CommandVoid:
		h := m.holds[c.ID]
		if expired[c.ID] {
			p.errs = []error{ErrInvalidState}
			return p
		}
		p.result = h.event(EventVoided, now)
		if c.Type == CommandCapture {
			if amount == 0 || amount > h.amount {
				p.errs = []error{ErrInvalid}
				return p
			}
			p.result.Type, p.result.Captured, p.result.Fee = EventCaptured, c.Amount, NewAmount(fee(amount, h.feeBps))
		}
	}
	p.applied = append(p.applied, p.result)
	return a.marked(p, c, available, now)
}

// marked returns p with the markers the model expects on its result, a
// successful debit of a decided with available before it: the threshold
// crossed from at or above to below, and the cap of c's budget left with
// less than the debit's amount, not reported before (the total's first).
func (a *modelAccount) marked(p prediction, c Command, available uint64, now int64) prediction {
	if len(p.errs) > 0 || p.replay {
		return p
	}
	e := &p.result
	switch e.Type {
	case EventCharged, EventHeld, EventSessionOpened, EventPaidOut, EventWithdrawalReserved, EventWithdrawn:
	default:
		return p
	}
	amount := amountUint64(e.Amount)
	after := available - amount
	if e.Withdrawal != nil {
		after = available + amountUint64(e.Withdrawal.Released) - amount
	}
	if a.lowBalance > 0 && available >= a.lowBalance && after < a.lowBalance {
		e.LowBalance = NewAmount(a.lowBalance)
	}
	if b := c.Budget; b.Spender != "" && e.Type != EventPaidOut && !e.Type.IsWithdrawal() {
		var spent modelSpend
		if s := a.spends[b.Spender]; s != nil {
			spent = *s
		}
		if spent.day != dayOf(now) {
			spent.dayTotal, spent.dayReported = 0, 0
		}
		exhausted := func(spent, reported uint64, limit Amount) bool {
			return !limit.IsZero() && reported != amountUint64(limit) && spent+2*amount > amountUint64(limit)
		}
		switch {
		case exhausted(spent.total, spent.totalReported, b.Total):
			e.BudgetCap, e.BudgetLimit = BudgetCapTotal, b.Total
		case exhausted(spent.dayTotal, spent.dayReported, b.PerDay):
			e.BudgetCap, e.BudgetLimit = BudgetCapDay, b.PerDay
		}
	}
	p.applied[len(p.applied)-1] = *e
	return p
}

// resolveErrors returns every rule a charge or hold breaks in the accounts
// it names: Resolve may report any one of them.
func (m *model) resolveErrors(c Command) []error {
	from, to := m.accounts[c.From], m.accounts[c.To]
	if from == nil || to == nil {
		return []error{ErrNotFound}
	}
	var errs []error
	if from.kind.IsSystem() || to.kind.IsSystem() || c.From == c.To {
		errs = append(errs, ErrInvalid)
	}
	if from.ledger != to.ledger {
		errs = append(errs, ErrLedgerMismatch)
	}
	return errs
}

// expiries returns the expiry events of payer's holds due at now, by
// deadline then id.
func (m *model) expiries(payer AccountID, now int64) []Event {
	var due []*modelHold
	for _, h := range m.open {
		if h.from == payer && h.deadline <= now {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(x, y *modelHold) int {
		return cmp.Or(cmp.Compare(x.deadline, y.deadline), cmp.Compare(x.id, y.id))
	})
	var events []Event
	for _, h := range due {
		events = append(events, h.event(EventExpired, now))
	}
	return events
}

func (h *modelHold) event(t EventType, now int64) Event {
	return Event{Type: t, ID: TransferID(h.id), Ledger: LedgerID(h.ledger), Time: now, From: h.from, To: h.to,
		Fees: FeesAccountID(LedgerID(h.ledger)), Amount: NewAmount(h.amount), FeeBps: h.feeBps, Timeout: h.timeout, Deadline: h.deadline}
}

func amountUint64(a Amount) uint64 {
	hi, lo := a.Parts()
	if hi != 0 {
		panic("model amounts fit 64 bits")
	}
	return lo
}

// apply changes the model by an event Execute returned, by the model's own
// arithmetic, and counts what each client id did.
func (m *model) apply(t *testing.T, e Event, sent Command) {
	t.Helper()
	if e.Type == EventAccountCreated {
		m.accounts[e.Account] = &modelAccount{ledger: e.Ledger, kind: e.Kind}
		return
	}
	if e.Type == EventLowBalanceSet {
		m.accounts[e.Account].lowBalance = amountUint64(e.Amount)
		return
	}
	from, to, fees := m.accounts[e.From], m.accounts[e.To], m.accounts[e.Fees]
	amount, feeAmount := amountUint64(e.Amount), amountUint64(e.Fee)
	minus := func(x *uint64, y uint64) {
		if *x < y {
			t.Fatalf("model: %v of %q takes %d from %d", e.Type, e.ID, y, *x)
		}
		*x -= y
	}
	counts := m.events[e.ID]
	if counts == nil {
		counts = new([eventTypeEnd]int)
		m.events[e.ID] = counts
	}
	counts[e.Type]++
	opened := counts[EventCredited] + counts[EventCharged] + counts[EventHeld] + counts[EventSessionOpened] + counts[EventPaidOut] +
		counts[EventWithdrawalReserved] + counts[EventWithdrawn]
	closed := counts[EventCaptured] + counts[EventVoided] + counts[EventExpired] +
		counts[EventSessionEnded] + counts[EventSessionCancelled] + counts[EventSessionExpired]
	if opened > 1 || closed > 1 || (closed == 1 && counts[EventHeld]+counts[EventSessionOpened] != 1) ||
		counts[EventSessionAccepted] > counts[EventSessionOpened] || counts[EventSessionStarted] > counts[EventSessionAccepted] {
		t.Fatalf("client id %q applied more than once: events by type %v, the latest %s", e.ID, counts, eventText(e))
	}
	operation := m.operations[e.ID]
	switch {
	case e.Type == EventCredited || e.Type == EventCharged || e.Type == EventHeld || e.Type == EventSessionOpened || e.Type == EventPaidOut ||
		e.Type.IsWithdrawal():
		operation = &modelOperation{command: sent}
		m.operations[e.ID] = operation
	case e.Type.IsSession():
		if m.openSessions[e.ID] == nil {
			t.Fatalf("client id %q: %v of a session that is not open", e.ID, e.Type)
		}
	default:
		if h := m.holds[e.ID]; h == nil || h.state != holdOpen {
			t.Fatalf("client id %q: %v of a hold that is not open", e.ID, e.Type)
		}
		delete(m.open, e.ID)
	}
	operation.last = e
	if e.Type.IsSession() {
		m.applySession(e, sent, minus)
		return
	}
	if e.Type.IsWithdrawal() {
		m.applyWithdrawal(t, e, minus)
		return
	}
	switch e.Type {
	case EventCredited, EventPaidOut:
		from.debitsPosted += amount
		to.creditsPosted += amount
	case EventCharged:
		from.debitsPosted += amount
		to.creditsPosted += amount - feeAmount
		fees.creditsPosted += feeAmount
	case EventHeld:
		from.debitsPending += amount
		to.creditsPending += amount
		h := &modelHold{id: string(e.ID), ledger: string(e.Ledger), from: e.From, to: e.To, amount: amount,
			feeBps: e.FeeBps, created: e.Time, timeout: e.Timeout, deadline: e.Deadline}
		m.holds[e.ID], m.open[e.ID] = h, h
	case EventCaptured:
		h := m.holds[e.ID]
		captured := amountUint64(e.Captured)
		minus(&from.debitsPending, h.amount)
		from.debitsPosted += captured
		minus(&to.creditsPending, h.amount)
		to.creditsPosted += captured - feeAmount
		fees.creditsPosted += feeAmount
		h.state, h.captured = holdCaptured, captured
	case EventVoided, EventExpired:
		h := m.holds[e.ID]
		minus(&from.debitsPending, h.amount)
		minus(&to.creditsPending, h.amount)
		h.state = holdVoided
		if e.Type == EventExpired {
			h.state = holdExpired
		}
	}
}

// simulation drives a tracking Book with random commands and checks it
// against the model after every step.
type simulation struct {
	t     *testing.T
	r     *rand.Rand
	book  *Book
	model *model
	now   int64
	log   []Event // every event applied, account openings included, in order

	ledgers  []LedgerID
	accounts []AccountID  // user accounts
	used     []TransferID // every valid client id tried
	usedSet  map[TransferID]bool
	holds    []TransferID           // every client id that held
	sessions []TransferID           // every client id that opened a session
	sent     map[TransferID]Command // first successful command of an id
	closes   map[TransferID]Command // successful capture or void of a hold
	opened   int
	touched  map[AccountID]bool // accounts changed by this step
	last     int                // the last step
	counts   map[EventType]int
	outcomes map[string]int
}

func newSimulation(t *testing.T, seed int64) *simulation {
	s := &simulation{
		t: t, r: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		book: NewBook(true), model: newModel(), now: now0,
		ledgers: []LedgerID{"test:USDC", "live:USDC", "test:EURC"},
		sent:    make(map[TransferID]Command), closes: make(map[TransferID]Command), usedSet: make(map[TransferID]bool),
		counts: make(map[EventType]int), outcomes: make(map[string]int), touched: make(map[AccountID]bool),
	}
	for _, ledger := range s.ledgers {
		for i := range 5 {
			kind := KindConsumer
			if i >= 3 {
				kind = KindSupplier
			}
			s.open(AccountID(fmt.Sprintf("%s/%s%d", ledger, kind, i)), ledger, kind)
		}
	}
	return s
}

// open opens an account through OpenAccount and checks what it returns.
func (s *simulation) open(id AccountID, ledger LedgerID, kind Kind) {
	s.t.Helper()
	var want []Event
	var wantErr error
	switch existing := s.model.accounts[id]; {
	case kind != KindConsumer && kind != KindSupplier:
		wantErr = ErrInvalid
	case existing != nil:
		wantErr = ErrAlreadyExists
	default:
		for _, system := range []struct {
			id   AccountID
			kind Kind
		}{{FeesAccountID(ledger), KindFees}, {ChainAccountID(ledger), KindChain}} {
			if s.model.accounts[system.id] == nil {
				want = append(want, Event{Type: EventAccountCreated, Ledger: ledger, Time: s.now, Account: system.id, Kind: system.kind})
			}
		}
		want = append(want, Event{Type: EventAccountCreated, Ledger: ledger, Time: s.now, Account: id, Kind: kind})
	}
	got, err := OpenAccount(s.book, id, ledger, kind, s.now)
	if !errors.Is(err, wantErr) || !slices.Equal(got, want) {
		s.t.Fatalf("OpenAccount(%q, %q, %v) = %+v, %v, want %+v, %v", id, ledger, kind, got, err, want, wantErr)
	}
	for _, e := range got {
		s.counts[e.Type]++
		s.touched[e.Account] = true
		s.book.Apply(&e)
		s.model.apply(s.t, e, Command{})
		s.log = append(s.log, e)
		if !e.Kind.IsSystem() {
			s.accounts = append(s.accounts, e.Account)
		}
	}
}

func (s *simulation) run(steps int) {
	s.t.Helper()
	s.last = steps - 1
	for step := range steps {
		before := s.now
		s.advance()
		s.sweep(before)
		switch n := s.r.IntN(1000); {
		case n < 3:
			s.openRandom()
		case n < 150:
			s.executeSession(s.sessionCommand())
		case n < 170:
			s.execute(s.setLowBalance())
		default:
			s.execute(s.command())
		}
		s.checkSessions(step)
		s.check(step)
		if s.t.Failed() {
			s.t.FailNow()
		}
	}
}

// advance moves time forward, sometimes to exactly an open hold's or
// session's deadline or one nanosecond before it, so holds expire and
// session timers fire on their boundary.
func (s *simulation) advance() {
	switch n := s.r.IntN(1000); {
	case n < 5: // to just before the next UTC midnight, so budgets' days turn with sessions open
		const day = int64(24 * 3600 * 1e9)
		s.now = max(s.now, (s.now/day+1)*day-s.r.Int64N(10e9))
	case n < 100:
		return
	case n < 200:
		var next int64
		for _, h := range s.model.open {
			if h.deadline > s.now && (next == 0 || h.deadline < next) {
				next = h.deadline
			}
		}
		for _, session := range s.model.openSessions {
			if d := session.deadline(); d > s.now && (next == 0 || d < next) {
				next = d
			}
		}
		if next != 0 {
			s.now = next - int64(s.r.IntN(2))
		}
	default:
		s.now += s.r.Int64N(1e9)
	}
}

// setLowBalance returns a command that sets an account's low-balance
// threshold: off, or around what it has available, so debits cross it.
func (s *simulation) setLowBalance() Command {
	c := Command{Type: CommandSetLowBalance, From: s.account()}
	if a := s.model.accounts[c.From]; a != nil && s.r.IntN(10) > 0 {
		c.Amount = NewAmount(uint64(s.r.Int64N(int64(2*a.available() + 2))))
	}
	return c
}

func (s *simulation) openRandom() {
	ledger := s.ledgers[s.r.IntN(len(s.ledgers))]
	if s.r.IntN(4) == 0 {
		ledger = "live:EURC" // new until its first account
	}
	id := AccountID(fmt.Sprintf("%s/new%d", ledger, s.opened))
	s.opened++
	if s.r.IntN(4) == 0 {
		id = s.accounts[s.r.IntN(len(s.accounts))]
	}
	kind := Kind(s.r.IntN(2)) // consumer or supplier
	if s.r.IntN(4) == 0 {
		kind = Kind(2 + s.r.IntN(int(kindCount))) // fees, chain or unknown: invalid
	}
	s.open(id, ledger, kind)
}

func (s *simulation) account() AccountID {
	switch n := s.r.IntN(100); {
	case n < 3:
		ledger := s.ledgers[s.r.IntN(len(s.ledgers))]
		if n%2 == 0 {
			return FeesAccountID(ledger)
		}
		return ChainAccountID(ledger)
	case n < 5:
		return AccountID(fmt.Sprintf("ghost%d", n))
	}
	return s.accounts[s.r.IntN(len(s.accounts))]
}

// payee returns an account, of the payer's ledger most of the time.
func (s *simulation) payee(from AccountID) AccountID {
	if a := s.model.accounts[from]; a != nil && s.r.IntN(100) < 85 {
		var same []AccountID
		for _, id := range s.accounts {
			if s.model.accounts[id].ledger == a.ledger && id != from {
				same = append(same, id)
			}
		}
		if len(same) > 0 && s.r.IntN(50) > 0 {
			return same[s.r.IntN(len(same))]
		}
		return from
	}
	return s.account()
}

// amount returns a random amount up to max, sometimes zero, sometimes
// exactly the payer's available amount or one unit more.
func (s *simulation) amount(payer AccountID, max int64) Amount {
	switch n := s.r.IntN(100); {
	case n < 3:
		return Amount{}
	case n < 13:
		if a := s.model.accounts[payer]; a != nil {
			return NewAmount(a.available() + uint64(s.r.IntN(2)))
		}
	}
	return NewAmount(uint64(1 + s.r.Int64N(max)))
}

func (s *simulation) feeBps() uint32 {
	switch n := s.r.IntN(100); {
	case n < 2:
		return BasisPointsMax + 1
	case n < 20:
		return []uint32{0, 1, 9999, BasisPointsMax}[n%4]
	}
	return uint32(s.r.IntN(500))
}

func (s *simulation) timeout() int64 {
	switch n := s.r.IntN(100); {
	case n < 2:
		return 0
	case n < 3:
		return -1e9
	case n < 4:
		return HoldTimeoutMax
	case n < 5:
		return HoldTimeoutMax + 1
	case n < 10:
		return 1
	}
	return 1 + s.r.Int64N(20e9)
}

// payoutFrom returns the payer of a payout: mostly a user account, some
// times a ledger's fee account (fees are paid out too), rarely its chain
// account (refused) or an unknown one.
func (s *simulation) payoutFrom() AccountID {
	ledger := s.ledgers[s.r.IntN(len(s.ledgers))]
	switch n := s.r.IntN(100); {
	case n < 3:
		return ChainAccountID(ledger)
	case n < 5:
		return "nobody"
	case n < 25:
		return FeesAccountID(ledger)
	}
	return s.account()
}

func (s *simulation) clientID() TransferID {
	switch n := s.r.IntN(100); {
	case n < 2:
		return []TransferID{"", "with space", TransferID(strings.Repeat("x", TransferIDBytesMax+1))}[n%3+s.r.IntN(2)]
	case n < 22 && len(s.used) > 0:
		return s.used[s.r.IntN(len(s.used))]
	}
	return TransferID(fmt.Sprintf("t%d", len(s.used)))
}

// command returns a random command: a fresh one, an exact retry of an
// earlier one, or an earlier client id with other content.
func (s *simulation) command() Command {
	if n := s.r.IntN(100); n < 12 && len(s.used) > 0 {
		id := s.used[s.r.IntN(len(s.used))]
		if c, ok := s.closes[id]; ok && n%2 == 0 {
			return c
		}
		if c, ok := s.sent[id]; ok {
			if n < 9 {
				return c
			}
			if c.Type == CommandSessionOpen {
				c.Rate, _ = c.Rate.Add(NewAmount(1)) // the same id at one unit more a second
				return c
			}
			c.Amount, _ = c.Amount.Add(NewAmount(1)) // the same id with one unit more
			return c
		}
	}
	id := s.clientID()
	var c Command
	switch n := s.r.IntN(125); {
	case n >= 115:
		c = s.withdrawal(id)
	case n >= 110:
		c = Command{Type: CommandPayout, ID: id, From: s.payoutFrom(), Amount: s.amount("", 3_000)}
	case n >= 100:
		c = s.sessionOpen(id)
	case n < 20:
		to := s.account()
		c = Command{Type: CommandCredit, ID: id, To: to, Amount: s.amount("", 50_000)}
	case n < 50:
		from := s.account()
		c = Command{Type: CommandCharge, ID: id, From: from, To: s.payee(from), Amount: s.amount(from, 5_000), FeeBps: s.feeBps()}
	case n < 75:
		from := s.account()
		c = Command{Type: CommandHold, ID: id, From: from, To: s.payee(from), Amount: s.amount(from, 5_000), FeeBps: s.feeBps(), Timeout: s.timeout()}
	default:
		switch n := s.r.IntN(10); {
		case n < 6 && len(s.model.open) > 0:
			open := make([]TransferID, 0, len(s.model.open))
			for id := range s.model.open {
				open = append(open, id)
			}
			slices.Sort(open) // map order would make the run depend on more than the seed
			id = open[s.r.IntN(len(open))]
		case n < 9 && len(s.holds) > 0:
			id = s.holds[s.r.IntN(len(s.holds))]
		}
		c = Command{Type: CommandVoid, ID: id}
		if n < 90 {
			c.Type = CommandCapture
			c.Amount = NewAmount(uint64(s.r.IntN(3000)))
			if h := s.model.holds[id]; h != nil && s.r.IntN(2) == 0 {
				c.Amount = NewAmount(h.amount + uint64(s.r.IntN(3)) - 1) // around the held amount
			}
		}
	}
	return c
}

func (s *simulation) execute(sent Command) {
	s.t.Helper()
	if !s.usedSet[sent.ID] && ValidTransferID(sent.ID) {
		s.used = append(s.used, sent.ID)
		s.usedSet[sent.ID] = true
	}
	want := s.model.predict(sent, s.now)
	c := sent
	applied, result, err := s.book.Execute(&c, s.now)
	name := commandName(sent.Type)
	switch {
	case want.replay:
		s.outcomes["replay"]++
		if err != nil || len(applied) != 0 || !sameEvent(result, want.result) {
			s.t.Fatalf("%s(%+v) = %s, %s, %v, want a replay of %s", name, sent, eventsText(applied), eventText(result), err, eventText(want.result))
		}
	case len(want.errs) > 0:
		s.outcomes[errorClass(err)]++
		if !slices.ContainsFunc(want.errs, func(w error) bool { return errors.Is(err, w) }) {
			s.t.Fatalf("%s(%+v) at %d = %+v, %v, want error in %v", name, sent, s.now, applied, err, want.errs)
		}
		if !sameEvents(applied, want.applied) {
			s.t.Fatalf("%s(%+v) failed with %v and applied %s, want expiries %s", name, sent, err, eventsText(applied), eventsText(want.applied))
		}
	default:
		s.outcomes["ok"]++
		if err != nil || !sameEvent(result, want.result) || !sameEvents(applied, want.applied) {
			s.t.Fatalf("%s(%+v) at %d = %s, %s, %v, want %s, %s", name, sent, s.now,
				eventsText(applied), eventText(result), err, eventsText(want.applied), eventText(want.result))
		}
		switch sent.Type {
		case CommandSetLowBalance: // no client id
		case CommandCapture, CommandVoid:
			s.closes[sent.ID] = sent
		default:
			s.sent[sent.ID] = sent
		}
		switch sent.Type {
		case CommandHold:
			s.holds = append(s.holds, sent.ID)
		case CommandSessionOpen:
			s.sessions = append(s.sessions, sent.ID)
		}
	}
	s.record(applied, sent)
}

// record applies to the model the events the book applied, in order.
func (s *simulation) record(applied []Event, sent Command) {
	s.t.Helper()
	for _, e := range applied {
		s.touched[e.From], s.touched[e.To], s.touched[e.Fees], s.touched[e.Account] = true, true, true, true
		if !e.LowBalance.IsZero() {
			s.outcomes["low balance crossed"]++
		}
		if e.BudgetCap != BudgetCapNone {
			s.outcomes["budget exhausted "+e.BudgetCap.String()]++
		}
		s.model.apply(s.t, e, sent)
		s.log = append(s.log, e)
		s.counts[e.Type]++
		s.countSession(e)
	}
}

// errorClass returns the sentinel err wraps, as text.
func errorClass(err error) string {
	for _, sentinel := range []error{ErrInvalid, ErrInsufficientFunds, ErrOverflow, ErrNotFound, ErrAlreadyExists,
		ErrLedgerMismatch, ErrInvalidState, ErrIdempotencyConflict, ErrBudgetExceeded} {
		if errors.Is(err, sentinel) {
			return sentinel.Error()
		}
	}
	return fmt.Sprint(err)
}

// check compares the book with the model and checks the invariants, by
// Book.Check and independently.
func (s *simulation) check(step int) {
	s.t.Helper()
	defer clear(s.touched)
	if err := s.book.Check(); err != nil {
		s.t.Fatalf("step %d: Check() = %v, want nil", step, err)
	}
	if err := checkInvariants(s.book); err != nil {
		s.t.Fatalf("step %d: invariants: %v", step, err)
	}
	if s.book.Len() != len(s.model.accounts) {
		s.t.Fatalf("step %d: Len() = %d, want %d", step, s.book.Len(), len(s.model.accounts))
	}
	openHolds := make(map[AccountID][]Hold)
	for _, h := range s.model.open {
		openHolds[h.from] = append(openHolds[h.from], Hold{ID: TransferID(h.id), From: h.from, To: h.to,
			Fees: FeesAccountID(LedgerID(h.ledger)), Amount: NewAmount(h.amount), FeeBps: h.feeBps,
			Created: h.created, Timeout: h.timeout, Deadline: h.deadline})
	}
	for _, session := range s.model.openSessions { // reservations: holds without a deadline
		openHolds[session.from] = append(openHolds[session.from], Hold{ID: session.id, From: session.from, To: session.to,
			Fees: FeesAccountID(session.ledger), Amount: NewAmount(session.reserved), FeeBps: session.feeBps, Created: session.created, Spender: session.spender})
	}
	for id, m := range s.model.accounts {
		if !s.touched[id] && step%256 != 0 && step != s.last {
			continue
		}
		a := s.book.Account(id)
		if a == nil {
			s.t.Fatalf("step %d: Account(%q) = nil, want it", step, id)
		}
		want := accountSnapshot{Fields: accountFields{ID: id, Ledger: m.ledger, Kind: m.kind,
			DebitsPosted: NewAmount(m.debitsPosted), CreditsPosted: NewAmount(m.creditsPosted),
			DebitsPending: NewAmount(m.debitsPending), CreditsPending: NewAmount(m.creditsPending), LowBalance: NewAmount(m.lowBalance)}}
		want.Holds, want.Spends = openHolds[id], m.spendsOf()
		if w := m.withdrawal; w != nil {
			want.Withdrawal = Withdrawal{ID: w.id, Amount: NewAmount(w.amount), Requested: NewAmount(w.requested), Created: w.created}
		}
		slices.SortFunc(want.Holds, func(x, y Hold) int { return compareHolds(&x, &y) })
		if got := snapshotOf(a); !got.equal(want) {
			s.t.Fatalf("step %d: account %q = %+v, want %+v", step, id, got, want)
		}
		if !m.kind.MayOverdraw() && a.Available() != NewAmount(m.available()) {
			s.t.Fatalf("step %d: Available(%q) = %v, want %d", step, id, a.Available(), m.available())
		}
	}
}

// wide is an unsigned integer of 192 bits: a sum of Amounts that cannot
// overflow, so the test's own check needs no 128-bit limit.
type wide struct {
	carries uint64
	low     Amount
}

func (w *wide) add(a Amount) {
	sum, ok := w.low.Add(a)
	if !ok {
		w.carries++
	}
	w.low = sum
}

func (w wide) String() string {
	v := new(big.Int).SetUint64(w.carries)
	return v.Lsh(v, 128).Add(v, bigOf(w.low)).String()
}

// checkInvariants checks the design's invariants on b without Book.Check,
// and without a 128-bit limit on sums: per ledger Σ debits = Σ credits
// posted and pending, no overdraft where the kind forbids it, and open holds
// = pending debits.
func checkInvariants(b *Book) error {
	type sums struct{ debitsPosted, creditsPosted, debitsPending, creditsPending wide }
	ledgers := make(map[LedgerID]*sums)
	for _, a := range b.accounts {
		s := ledgers[a.Ledger]
		if s == nil {
			s = new(sums)
			ledgers[a.Ledger] = s
		}
		s.debitsPosted.add(a.DebitsPosted)
		s.creditsPosted.add(a.CreditsPosted)
		s.debitsPending.add(a.DebitsPending)
		s.creditsPending.add(a.CreditsPending)
		var debits wide
		debits.add(a.DebitsPosted)
		debits.add(a.DebitsPending)
		if !a.Kind.MayOverdraw() && (debits.carries > 0 || debits.low.Cmp(a.CreditsPosted) > 0) {
			return fmt.Errorf("account %q (%v) overdrawn: debits %v > credits %v", a.ID, a.Kind, debits, a.CreditsPosted)
		}
		var held wide
		for _, h := range a.holds {
			if h.From != a.ID {
				return fmt.Errorf("account %q holds %q of %q", a.ID, h.ID, h.From)
			}
			held.add(h.Amount)
		}
		if w := a.withdrawal; w != nil {
			if a.Kind.IsSystem() || w.Amount.Cmp(w.Requested) > 0 {
				return fmt.Errorf("account %q (%v) reserves %v for a withdrawal of %v", a.ID, a.Kind, w.Amount, w.Requested)
			}
			held.add(w.Amount)
		}
		if held != (wide{low: a.DebitsPending}) {
			return fmt.Errorf("account %q: holds %v != pending debits %v", a.ID, held, a.DebitsPending)
		}
	}
	for ledger, s := range ledgers {
		if s.debitsPosted != s.creditsPosted || s.debitsPending != s.creditsPending {
			return fmt.Errorf("ledger %q: posted %v/%v, pending %v/%v", ledger, s.debitsPosted, s.creditsPosted, s.debitsPending, s.creditsPending)
		}
	}
	return nil
}

func TestSimulationKeepsInvariantsModelAndAtMostOncePerClientID(t *testing.T) {
	s := newSimulation(t, simulationSeed(t))
	s.run(simulationSteps)
	t.Logf("events %v; outcomes %v", s.counts, s.outcomes)
	// The simulation must reach every kind of event and outcome, or it
	// proves less than it seems to.
	for typ := EventAccountCreated; typ < eventTypeEnd; typ++ {
		if s.counts[typ] == 0 {
			t.Errorf("simulation produced no %v event, want some", typ)
		}
	}
	for _, outcome := range []string{"ok", "replay", ErrInvalid.Error(), ErrInsufficientFunds.Error(), ErrIdempotencyConflict.Error(),
		ErrLedgerMismatch.Error(), ErrNotFound.Error(), ErrInvalidState.Error(), ErrBudgetExceeded.Error(), "session ok", "session wrong party",
		"session " + ErrNotFound.Error(), "session " + ErrInvalidState.Error(), "session " + ErrInvalid.Error(),
		"session timer at its deadline", "session timer late", "session ended before its maximum", "session ended at its maximum",
		"session ended within its first second", "session budget refunded", "session budget refunded a day later",
		"low balance crossed", "budget exhausted day", "budget exhausted total"} {
		if s.outcomes[outcome] == 0 {
			t.Errorf("simulation never returned %q, want some", outcome)
		}
	}
}

// assertSameBooks fails unless got and want hold the same accounts, every
// field and hold included.
func assertSameBooks(t *testing.T, got, want *Book) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("Len() = %d, want %d", got.Len(), want.Len())
	}
	for _, w := range want.Accounts() {
		g := got.Account(w.ID)
		if g == nil {
			t.Fatalf("Account(%q) = nil, want %+v", w.ID, snapshotOf(w))
		}
		if !snapshotOf(g).equal(snapshotOf(w)) {
			t.Fatalf("Account(%q) = %+v, want %+v", w.ID, snapshotOf(g), snapshotOf(w))
		}
		gotDeadline, gotOK := g.NextDeadline()
		if wantDeadline, wantOK := w.NextDeadline(); gotDeadline != wantDeadline || gotOK != wantOK {
			t.Fatalf("NextDeadline(%q) = %d, %v, want %d, %v", w.ID, gotDeadline, gotOK, wantDeadline, wantOK)
		}
	}
	if got.Sessions() != want.Sessions() {
		t.Fatalf("Sessions() = %d, want %d", got.Sessions(), want.Sessions())
	}
	want.RangeSessions(func(w *Session) bool {
		if g := got.Session(w.ID); g == nil || *g != *w {
			t.Fatalf("Session(%q) = %+v, want %+v", w.ID, g, *w)
		}
		return true
	})
}

func TestReplayOfEveryReturnedEventRebuildsTheSameBook(t *testing.T) {
	s := newSimulation(t, simulationSeed(t))
	s.run(simulationSteps / 5)

	t.Run("apply", func(t *testing.T) {
		replayed := NewBook(false)
		for i := range s.log {
			replayed.Apply(&s.log[i])
		}
		assertSameBooks(t, replayed, s.book)
		if err := replayed.Check(); err != nil {
			t.Errorf("Check() after replay = %v, want nil", err)
		}
	})
	t.Run("through the codec, tracking client ids", func(t *testing.T) {
		replayed := NewBook(true)
		var buf []byte
		for i := range s.log {
			buf = AppendEvent(buf[:0], &s.log[i])
			e, err := DecodeEvent(buf)
			if err != nil || !sameEvent(e, s.log[i]) {
				t.Fatalf("DecodeEvent(AppendEvent(%s)) = %s, %v, want it back", eventText(s.log[i]), eventText(e), err)
			}
			replayed.Apply(&e)
		}
		assertSameBooks(t, replayed, s.book)
		for id, operation := range s.model.operations {
			if got, ok := replayed.Transfer(id); !ok || !sameEvent(got, operation.last) {
				t.Fatalf("Transfer(%q) after replay = %s, %v, want %s", id, eventText(got), ok, eventText(operation.last))
			}
		}
	})
	t.Run("from a snapshot taken midway, then the rest of the log", func(t *testing.T) {
		half := len(s.log) / 2
		before := NewBook(false)
		for i := range s.log[:half] {
			before.Apply(&s.log[i])
		}
		restored := NewBook(false)
		for _, a := range before.Accounts() {
			decoded, err := DecodeAccount(AppendAccount(nil, a))
			if err != nil {
				t.Fatalf("DecodeAccount(AppendAccount(%q)) = %v, want success", a.ID, err)
			}
			restored.Insert(decoded)
		}
		before.RangeSessions(func(session *Session) bool {
			decoded, err := DecodeSession(AppendSession(nil, session))
			if err != nil {
				t.Fatalf("DecodeSession(AppendSession(%q)) = %v, want success", session.ID, err)
			}
			restored.InsertSession(decoded)
			return true
		})
		if restored.Sessions() != before.Sessions() {
			t.Fatalf("restored %d open sessions, want %d", restored.Sessions(), before.Sessions())
		}
		for i := range s.log[half:] {
			restored.Apply(&s.log[half+i])
		}
		assertSameBooks(t, restored, s.book)
	})
}

func TestExecuteRefusesInvalidClientIDsAndUnknownHolds(t *testing.T) {
	tests := []struct {
		command Command
		wantErr error
	}{
		{Command{Type: CommandCredit, ID: "", To: alice, Amount: NewAmount(1)}, ErrInvalid},
		{Command{Type: CommandCredit, ID: "a b", To: alice, Amount: NewAmount(1)}, ErrInvalid},
		{Command{Type: CommandCredit, ID: TransferID(strings.Repeat("x", TransferIDBytesMax+1)), To: alice, Amount: NewAmount(1)}, ErrInvalid},
		{Command{Type: CommandCredit, ID: TransferID(strings.Repeat("x", TransferIDBytesMax)), To: alice, Amount: NewAmount(1)}, nil},
		{Command{Type: CommandCapture, ID: "never-held", Amount: NewAmount(1)}, ErrNotFound},
		{Command{Type: CommandVoid, ID: "never-held"}, ErrNotFound},
		{Command{Type: CommandCapture, ID: "fund-alice", Amount: NewAmount(1)}, ErrNotFound},
	}
	for _, tt := range tests {
		b := newTestBook(t, 100)
		c := tt.command
		_, _, err := b.Execute(&c, now0)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s(%+v) = %v, want %v", commandName(c.Type), tt.command, err, tt.wantErr)
		}
	}
}

func TestExecuteAppliesAClientIDOnceAndReplaysItsLatestEvent(t *testing.T) {
	b := newTestBook(t, 1000)
	charge := Command{Type: CommandCharge, ID: "k", From: alice, To: bob, Amount: NewAmount(100), FeeBps: 100}
	first := mustExecute(t, b, charge, now0)
	c := charge
	applied, again, err := b.Execute(&c, now0+5)
	if err != nil || len(applied) != 0 || again != first {
		t.Errorf("Charge(%+v) again = %+v, %+v, %v, want a replay of %+v", charge, applied, again, err, first)
	}
	if got := b.Account(alice).DebitsPosted; got != NewAmount(100) {
		t.Errorf("Charge(%+v) twice: alice debits = %v, want 100", charge, got)
	}
	c = charge
	c.Amount = NewAmount(101)
	if _, _, err := b.Execute(&c, now0+6); !errors.Is(err, ErrIdempotencyConflict) {
		t.Errorf("Charge(%+v) = %v, want %v", c, err, ErrIdempotencyConflict)
	}
	// A refused command records nothing: the id stays free.
	big := Command{Type: CommandCharge, ID: "free", From: alice, To: bob, Amount: NewAmount(5000)}
	c = big
	if _, _, err := b.Execute(&c, now0); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("Charge(%+v) = %v, want %v", big, err, ErrInsufficientFunds)
	}
	if _, ok := b.Transfer("free"); ok {
		t.Errorf("Transfer(free) after a refused charge = _, true, want false")
	}
	small := big
	small.Amount = NewAmount(10)
	mustExecute(t, b, small, now0)

	hold := Command{Type: CommandHold, ID: "h", From: alice, To: bob, Amount: NewAmount(300), FeeBps: 100, Timeout: 1e9}
	mustExecute(t, b, hold, now0)
	capture := Command{Type: CommandCapture, ID: "h", Amount: NewAmount(200)}
	captured := mustExecute(t, b, capture, now0+1)
	c = capture
	if applied, got, err := b.Execute(&c, now0+2); err != nil || len(applied) != 0 || got != captured {
		t.Errorf("Capture(%+v) again = %+v, %+v, %v, want a replay of %+v", capture, applied, got, err, captured)
	}
	c = hold
	if applied, got, err := b.Execute(&c, now0+3); err != nil || len(applied) != 0 || got != captured {
		t.Errorf("Hold(%+v) again after capture = %+v, %+v, %v, want the latest event %+v", hold, applied, got, err, captured)
	}
	c = Command{Type: CommandVoid, ID: "h"}
	if _, _, err := b.Execute(&c, now0+4); !errors.Is(err, ErrInvalidState) {
		t.Errorf("Void(h) after capture = %v, want %v", err, ErrInvalidState)
	}
	if err := b.Check(); err != nil {
		t.Errorf("Check() = %v, want nil", err)
	}
}

func TestCheckFailsOnACorruptedBook(t *testing.T) {
	account := func(id AccountID, ledger LedgerID, kind Kind, debits, credits, debitsPending, creditsPending uint64) *Account {
		return &Account{ID: id, Ledger: ledger, Kind: kind, DebitsPosted: NewAmount(debits), CreditsPosted: NewAmount(credits),
			DebitsPending: NewAmount(debitsPending), CreditsPending: NewAmount(creditsPending)}
	}
	withHold := func(a *Account, amount uint64) *Account {
		a.Apply(&Event{Type: EventHeld, ID: "h", From: a.ID, To: "other", Amount: NewAmount(amount), Timeout: 1, Deadline: 1})
		return a
	}
	tests := []struct {
		name     string
		accounts []*Account
		wantText string // "" when the book is sound
	}{
		{
			name:     "a sound book passes, the chain account overdrawn",
			accounts: []*Account{account(testChain, testLedger, KindChain, 100, 0, 0, 0), account(alice, testLedger, KindConsumer, 0, 100, 0, 0)},
		},
		{
			name: "a sound book with a hold passes",
			accounts: []*Account{account(testChain, testLedger, KindChain, 100, 0, 0, 0),
				withHold(account(alice, testLedger, KindConsumer, 0, 100, 0, 0), 60), account(bob, testLedger, KindSupplier, 0, 0, 0, 60)},
		},
		{
			name:     "credits posted without debits",
			accounts: []*Account{account(alice, testLedger, KindConsumer, 0, 10, 0, 0)},
			wantText: "posted debits 0 != credits 10",
		},
		{
			name:     "debits posted without credits",
			accounts: []*Account{account(testChain, testLedger, KindChain, 10, 0, 0, 0)},
			wantText: "posted debits 10 != credits 0",
		},
		{
			name: "balanced across ledgers but not within each",
			accounts: []*Account{account(testChain, testLedger, KindChain, 10, 0, 0, 0),
				account(carol, liveLedger, KindConsumer, 0, 10, 0, 0)},
			wantText: "posted debits",
		},
		{
			name: "pending debits without pending credits",
			accounts: []*Account{account(testChain, testLedger, KindChain, 100, 0, 0, 0),
				withHold(account(alice, testLedger, KindConsumer, 0, 100, 0, 0), 60)},
			wantText: "pending debits 60 != credits 0",
		},
		{
			name: "a consumer overdrawn",
			accounts: []*Account{account(alice, testLedger, KindConsumer, 10, 0, 0, 0),
				account(bob, testLedger, KindSupplier, 0, 10, 0, 0)},
			wantText: `account "alice" overdrawn`,
		},
		{
			name: "a consumer overdrawn by its holds",
			accounts: []*Account{account(testChain, testLedger, KindChain, 50, 0, 0, 0),
				withHold(account(alice, testLedger, KindConsumer, 0, 50, 0, 0), 60), account(bob, testLedger, KindSupplier, 0, 0, 0, 60)},
			wantText: `account "alice" overdrawn`,
		},
		{
			name: "a supplier overdrawn",
			accounts: []*Account{account(bob, testLedger, KindSupplier, 10, 0, 0, 0),
				account(alice, testLedger, KindConsumer, 0, 10, 0, 0)},
			wantText: `account "bob" overdrawn`,
		},
		{
			name: "the fees account overdrawn",
			accounts: []*Account{account(testFees, testLedger, KindFees, 10, 0, 0, 0),
				account(alice, testLedger, KindConsumer, 0, 10, 0, 0)},
			wantText: "overdrawn",
		},
		{
			name: "pending debits without open holds",
			accounts: []*Account{account(testChain, testLedger, KindChain, 100, 0, 0, 0),
				account(alice, testLedger, KindConsumer, 0, 100, 60, 0), account(bob, testLedger, KindSupplier, 0, 0, 0, 60)},
			wantText: "open holds 0 != pending debits 60",
		},
		{
			name: "totals above 2^128-1",
			accounts: []*Account{
				{ID: "x", Ledger: testLedger, Kind: KindChain, CreditsPosted: MaxAmount()},
				{ID: "y", Ledger: testLedger, Kind: KindChain, CreditsPosted: MaxAmount()},
			},
			wantText: `ledger "test:USDC"`,
		},
	}
	for _, tt := range tests {
		b := NewBook(false)
		for _, a := range tt.accounts {
			b.Insert(a)
		}
		err := b.Check()
		switch {
		case tt.wantText == "" && err != nil:
			t.Errorf("%s: Check() = %v, want nil", tt.name, err)
		case tt.wantText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantText)):
			t.Errorf("%s: Check() = %v, want an error containing %q", tt.name, err, tt.wantText)
		}
		if got, want := err == nil, checkInvariants(b) == nil; got != want {
			t.Errorf("%s: Check() = %v but the test's own check = %v, want them to agree", tt.name, err, checkInvariants(b))
		}
	}
}

func TestCheckFailsAfterApplyingAnUnbalancedEvent(t *testing.T) {
	b := newTestBook(t, 100)
	// A credit whose fee goes nowhere: Decide never makes one, but Apply
	// takes what it is given, and Check must notice.
	b.Apply(&Event{Type: EventCredited, ID: "forged", Ledger: testLedger, From: testChain, To: alice, Amount: NewAmount(10), Fee: NewAmount(3)})
	if err := b.Check(); err == nil {
		t.Errorf("Check() after an unbalanced credit = nil, want an error")
	}
}

func TestInsertAndApplyPanicOnDuplicateAccounts(t *testing.T) {
	for name, f := range map[string]func(b *Book){
		"Insert twice": func(b *Book) { b.Insert(&Account{ID: alice}) },
		"create twice": func(b *Book) { b.Apply(&Event{Type: EventAccountCreated, Account: alice, Ledger: testLedger}) },
		"unknown account": func(b *Book) {
			b.Apply(&Event{Type: EventCredited, ID: "x", From: testChain, To: "nobody", Amount: NewAmount(1)})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic, want an assertion failure", name)
				}
			}()
			f(newTestBook(t, 0))
		}()
	}
}

// executeWithoutPanic runs c and turns a panic into an error, so one broken
// rule fails its test instead of the whole run.
func executeWithoutPanic(b *Book, c Command, now int64) (panicked any, err error) {
	defer func() { panicked = recover() }()
	_, _, err = b.Execute(&c, now)
	return nil, err
}

// TestCountersOfTheOtherSideCannotOverflow: Decide checks only the deciding
// account's counters; the chain account of a credit and the payee of a
// charge or capture are not asked, and Apply asserts on their overflow.
// Amounts come from clients (up to 2^128-1), so Execute must refuse (with
// ErrOverflow, or ErrInvalid for an amount above a per-operation limit)
// rather than panic after deciding.
func TestCountersOfTheOtherSideCannotOverflow(t *testing.T) {
	half := AmountFromParts(1<<63, 0) // 2^127
	tests := []struct {
		name     string
		commands []Command
	}{
		{
			name: "chain account's debits posted on a second credit",
			commands: []Command{
				{Type: CommandCredit, ID: "c1", To: alice, Amount: half},
				{Type: CommandCredit, ID: "c2", To: bob, Amount: half},
			},
		},
		{
			name: "payee's credits posted on a charge",
			commands: []Command{
				{Type: CommandCredit, ID: "c1", To: alice, Amount: half},
				{Type: CommandCharge, ID: "k1", From: alice, To: bob, Amount: half},
				{Type: CommandCharge, ID: "k2", From: bob, To: alice, Amount: half},
			},
		},
		{
			name: "payee's credits posted on a capture",
			commands: []Command{
				{Type: CommandCredit, ID: "c1", To: alice, Amount: half},
				{Type: CommandCharge, ID: "k1", From: alice, To: bob, Amount: half},
				{Type: CommandHold, ID: "h1", From: bob, To: alice, Amount: half, Timeout: 1e9},
				{Type: CommandCapture, ID: "h1", Amount: half},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook(true)
			for _, open := range []AccountID{alice, bob} {
				events, err := OpenAccount(b, open, testLedger, KindConsumer, now0)
				if err != nil {
					t.Fatal(err)
				}
				for i := range events {
					b.Apply(&events[i])
				}
			}
			for _, c := range tt.commands {
				panicked, err := executeWithoutPanic(b, c, now0)
				if panicked != nil {
					t.Fatalf("BUG: %s(%+v) panicked: %v; want ErrOverflow", commandName(c.Type), c, panicked)
				}
				if err := checkInvariants(b); err != nil {
					t.Fatalf("%s(%+v): invariants: %v", commandName(c.Type), c, err)
				}
				if err != nil {
					if !errors.Is(err, ErrOverflow) && !errors.Is(err, ErrInvalid) {
						t.Fatalf("%s(%+v) = %v, want success, %v, or %v for an amount above a limit", commandName(c.Type), c, err, ErrOverflow, ErrInvalid)
					}
					return // refused: what follows depended on it
				}
			}
		})
	}
}

// TestCheckAcceptsABalancedBookWhoseTotalsPass2To128: Check sums a ledger's
// counters in 128 bits, so a sound book in which no account overflows but
// the cumulative counters of all accounts add up past 2^128-1 is reported
// as broken.
func TestCheckAcceptsABalancedBookWhoseTotalsPass2To128(t *testing.T) {
	half := AmountFromParts(1<<63, 0) // 2^127
	b := NewBook(false)
	// 2^127 deposited to alice, who paid it all to bob.
	b.Insert(&Account{ID: testChain, Ledger: testLedger, Kind: KindChain, DebitsPosted: half})
	b.Insert(&Account{ID: alice, Ledger: testLedger, Kind: KindConsumer, CreditsPosted: half, DebitsPosted: half})
	b.Insert(&Account{ID: bob, Ledger: testLedger, Kind: KindSupplier, CreditsPosted: half})
	if err := checkInvariants(b); err != nil {
		t.Fatalf("the test's own check = %v, want nil: the book is sound", err)
	}
	if err := b.Check(); err != nil {
		t.Errorf("BUG: Check() = %v, want nil: every account fits 128 bits and each ledger balances", err)
	}
}
