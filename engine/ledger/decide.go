package ledger

import "fmt"

// CommandType names what a command asks for.
type CommandType uint8

const (
	CommandCredit             CommandType = iota + 1 // fund To from the chain account From
	CommandCharge                                    // move Amount from From to To, fee to Fees
	CommandHold                                      // reserve Amount of From for To for Timeout
	CommandCapture                                   // post Amount (<= held) of hold ID, release the rest
	CommandVoid                                      // release hold ID
	CommandSessionOpen                               // open session ID: reserve Rate × MaxSeconds of From for To
	CommandPayout                                    // move Amount of From out of the ledger, to its chain account
	CommandReserveWithdrawal                         // reserve up to Amount of From toward its chain account, replacing its reservation
	CommandCompleteWithdrawal                        // release From's withdrawal reservation, pay Amount out to its chain account
	CommandSetLowBalance                             // set From's low-balance threshold to Amount (zero: off); no client id
)

// AmountPerOperationMax bounds the amount of one credit, charge or hold, so
// that a 128-bit counter can only overflow after 2^64 operations: the
// counterparts' counters, which Decide cannot see, then never overflow.
var AmountPerOperationMax = AmountFromParts(0, ^uint64(0))

// HoldTimeoutMax bounds how long a hold may reserve funds.
const HoldTimeoutMax = int64(30 * 24 * 60 * 60 * 1e9) // 30 days in nanoseconds

// Command is a request to change the ledger. The caller resolves the
// accounts it names (existence, same ledger, kinds) before asking the payer
// to Decide; Decide checks what only the payer's state can tell.
type Command struct {
	Type    CommandType
	ID      TransferID
	Ledger  LedgerID
	From    AccountID
	To      AccountID
	Fees    AccountID
	Amount  Amount
	FeeBps  uint32
	Timeout int64 // CommandHold: nanoseconds; CommandSessionOpen: the start window

	Rate       Amount // CommandSessionOpen: per second
	MaxSeconds int64  // CommandSessionOpen: the maximum duration

	Budget Budget // charges and holds: the spender's caps; zero for none
	Memo   string // charges and holds: an opaque note kept with the event
}

// Decider returns the id of the account whose state decides c: the payer,
// or for a credit the funded account (the chain side may go negative).
func (c *Command) Decider() AccountID {
	if c.Type == CommandCredit {
		return c.To
	}
	return c.From
}

// Decide returns the event that c produces on the deciding account a at
// time now (Unix nanoseconds), or why it cannot. It does not change a; the
// caller applies the event once it has handed it to the log.
//
// A debit's event carries its markers (alerts.go).
//
// REQUIRES: a.ID == c.Decider(); due holds were expired first (ExpireDue).
func Decide(a *Account, c *Command, now int64) (Event, error) {
	assert(a.ID == c.Decider(), "command decided by the wrong account")
	e, err := decide(a, c, now)
	if err == nil {
		markDebit(a, c, &e)
	}
	return e, err
}

func decide(a *Account, c *Command, now int64) (Event, error) {
	switch c.Type {
	case CommandCredit:
		return decideCredit(a, c, now)
	case CommandCharge:
		return decideCharge(a, c, now)
	case CommandHold:
		return decideHold(a, c, now)
	case CommandCapture:
		return decideCapture(a, c, now)
	case CommandVoid:
		return decideVoid(a, c, now)
	case CommandSessionOpen:
		return decideSessionOpen(a, c, now)
	case CommandPayout:
		return decidePayout(a, c, now)
	case CommandReserveWithdrawal:
		return decideReserveWithdrawal(a, c, now)
	case CommandCompleteWithdrawal:
		return decideCompleteWithdrawal(a, c, now)
	case CommandSetLowBalance:
		return decideLowBalance(a, c, now)
	}
	return Event{}, fmt.Errorf("%w: unknown command type %d", ErrInvalid, c.Type)
}

func decideCredit(a *Account, c *Command, now int64) (Event, error) {
	if c.Amount.IsZero() || c.Amount.Cmp(AmountPerOperationMax) > 0 {
		return Event{}, fmt.Errorf("%w: amount must be in [1, %s]", ErrInvalid, AmountPerOperationMax)
	}
	if _, ok := a.CreditsPosted.Add(c.Amount); !ok {
		return Event{}, ErrOverflow
	}
	return Event{
		Type: EventCredited, ID: c.ID, Ledger: a.Ledger, Time: now,
		From: c.From, To: a.ID, Amount: c.Amount,
	}, nil
}

func decideCharge(a *Account, c *Command, now int64) (Event, error) {
	if err := checkDebit(a, c, now); err != nil {
		return Event{}, err
	}
	if _, ok := a.DebitsPosted.Add(c.Amount); !ok {
		return Event{}, ErrOverflow
	}
	return Event{
		Type: EventCharged, ID: c.ID, Ledger: a.Ledger, Time: now,
		From: a.ID, To: c.To, Fees: c.Fees, Amount: c.Amount, Fee: c.Amount.FeeOf(c.FeeBps),
		Spender: c.Budget.Spender, Memo: c.Memo,
	}, nil
}

func decideHold(a *Account, c *Command, now int64) (Event, error) {
	if c.Timeout <= 0 || c.Timeout > HoldTimeoutMax {
		return Event{}, fmt.Errorf("%w: hold timeout must be in (0, %d] ns", ErrInvalid, HoldTimeoutMax)
	}
	if err := checkDebit(a, c, now); err != nil {
		return Event{}, err
	}
	if err := checkHoldLimits(a, c); err != nil {
		return Event{}, err
	}
	if _, ok := a.DebitsPending.Add(c.Amount); !ok {
		return Event{}, ErrOverflow
	}
	return Event{
		Type: EventHeld, ID: c.ID, Ledger: a.Ledger, Time: now,
		From: a.ID, To: c.To, Fees: c.Fees, Amount: c.Amount, FeeBps: c.FeeBps,
		Timeout: c.Timeout, Deadline: now + c.Timeout, Spender: c.Budget.Spender, Memo: c.Memo,
	}, nil
}

// decidePayout moves money that has left the ledger on chain (a settlement
// paid to a supplier's wallet, the fees it paid, a withdrawal from the
// pool) out of its account, to the ledger's chain account, so that the
// chain account mirrors what the chain holds. Like a debit, it never
// overdraws.
func decidePayout(a *Account, c *Command, now int64) (Event, error) {
	switch {
	case c.Amount.IsZero() || c.Amount.Cmp(AmountPerOperationMax) > 0:
		return Event{}, fmt.Errorf("%w: amount must be in [1, %s]", ErrInvalid, AmountPerOperationMax)
	case a.Kind == KindChain || c.To != ChainAccountID(a.Ledger):
		return Event{}, fmt.Errorf("%w: a payout goes from an account to its ledger's chain account", ErrInvalid)
	case a.Available().Cmp(c.Amount) < 0:
		return Event{}, ErrInsufficientFunds
	}
	if _, ok := a.DebitsPosted.Add(c.Amount); !ok {
		return Event{}, ErrOverflow
	}
	return Event{Type: EventPaidOut, ID: c.ID, Ledger: a.Ledger, Time: now, From: a.ID, To: c.To, Amount: c.Amount}, nil
}

// decideReserveWithdrawal reserves, toward the chain account, what a
// withdrawal requested on chain may take: Amount, or as much of it as a
// has available once its previous reservation is released (the request
// replaces it, as on chain). It never overdraws, so a payer with nothing
// available reserves zero: the request is still recorded, and its
// completion releases nothing.
func decideReserveWithdrawal(a *Account, c *Command, now int64) (Event, error) {
	if err := checkWithdrawal(a, c, 1); err != nil {
		return Event{}, err
	}
	terms := releasedWithdrawal(a)
	terms.Requested = c.Amount
	reserved := c.Amount
	if available := availableAfter(a, terms); available.Cmp(reserved) < 0 {
		reserved = available
	}
	return Event{
		Type: EventWithdrawalReserved, ID: c.ID, Ledger: a.Ledger, Time: now, From: a.ID, To: c.To, Amount: reserved,
		Withdrawal: terms,
	}, nil
}

// decideCompleteWithdrawal releases a's withdrawal reservation and pays
// Amount out to the chain account, as a payout does: what the chain paid
// when the withdrawal completed, possibly zero (then it only releases).
// Like a payout, it never overdraws: Amount above what a has available
// once the reservation is released is ErrInsufficientFunds, and changes
// nothing.
func decideCompleteWithdrawal(a *Account, c *Command, now int64) (Event, error) {
	if err := checkWithdrawal(a, c, 0); err != nil {
		return Event{}, err
	}
	terms := releasedWithdrawal(a)
	terms.Requested = c.Amount
	if availableAfter(a, terms).Cmp(c.Amount) < 0 {
		return Event{}, ErrInsufficientFunds
	}
	if _, ok := a.DebitsPosted.Add(c.Amount); !ok {
		return Event{}, ErrOverflow
	}
	return Event{
		Type: EventWithdrawn, ID: c.ID, Ledger: a.Ledger, Time: now, From: a.ID, To: c.To, Amount: c.Amount,
		Withdrawal: terms,
	}, nil
}

// checkWithdrawal applies the rules both withdrawal commands share: an
// amount of at least least and at most AmountPerOperationMax, from a user
// account to its ledger's chain account.
func checkWithdrawal(a *Account, c *Command, least uint64) error {
	switch {
	case c.Amount.Cmp(NewAmount(least)) < 0 || c.Amount.Cmp(AmountPerOperationMax) > 0:
		return fmt.Errorf("%w: amount must be in [%d, %s]", ErrInvalid, least, AmountPerOperationMax)
	case a.Kind.IsSystem() || c.To != ChainAccountID(a.Ledger):
		return fmt.Errorf("%w: a withdrawal goes from a user account to its ledger's chain account", ErrInvalid)
	}
	return nil
}

// releasedWithdrawal returns the terms of an event that releases a's
// withdrawal reservation, if it has one.
func releasedWithdrawal(a *Account) *WithdrawalTerms {
	if w := a.withdrawal; w != nil {
		return &WithdrawalTerms{Released: w.Amount, ReleasedID: w.ID}
	}
	return &WithdrawalTerms{}
}

// availableAfter returns what a has available once the reservation that
// terms releases is released.
func availableAfter(a *Account, terms *WithdrawalTerms) Amount {
	available, ok := a.Available().Add(terms.Released)
	assert(ok, "a reservation above the credits")
	return available
}

// checkDebit applies the rules every debit of a shares: a positive amount,
// a payee other than the payer, a known fee, a memo within bounds, no
// overdraft, and the spender's budget.
func checkDebit(a *Account, c *Command, now int64) error {
	switch {
	case len(c.Memo) > MemoBytesMax:
		return errInvalidMemo
	case c.Amount.IsZero() || c.Amount.Cmp(AmountPerOperationMax) > 0:
		return fmt.Errorf("%w: amount must be in [1, %s]", ErrInvalid, AmountPerOperationMax)
	case c.To == a.ID:
		return fmt.Errorf("%w: an account cannot pay itself", ErrInvalid)
	case c.FeeBps > BasisPointsMax:
		return fmt.Errorf("%w: fee above 10000 basis points", ErrInvalid)
	}
	if !a.Kind.MayOverdraw() && a.Available().Cmp(c.Amount) < 0 {
		return ErrInsufficientFunds
	}
	return checkBudget(a, &c.Budget, c.Amount, now)
}

// checkHoldLimits refuses a hold that would take the payer past its open
// holds or their memo bytes (limits.go), so its snapshot record stays
// within AccountRecordBytesMax.
func checkHoldLimits(a *Account, c *Command) error {
	switch {
	case len(a.holds) >= HoldsPerAccountMax:
		return errTooManyHolds
	case a.holdMemoBytes+len(c.Memo) > HoldMemoBytesPerAccountMax:
		return errHoldMemosTooLong
	}
	return nil
}

func decideCapture(a *Account, c *Command, now int64) (Event, error) {
	h := a.holds[c.ID]
	if h == nil || h.IsSession() {
		return Event{}, ErrInvalidState
	}
	if c.Amount.IsZero() || c.Amount.Cmp(h.Amount) > 0 {
		return Event{}, fmt.Errorf("%w: capture must be positive and at most the held %s", ErrInvalid, h.Amount)
	}
	if _, ok := a.DebitsPosted.Add(c.Amount); !ok {
		return Event{}, ErrOverflow
	}
	e := closingEvent(EventCaptured, a.Ledger, h, now)
	e.Captured = c.Amount
	e.Fee = c.Amount.FeeOf(h.FeeBps)
	return e, nil
}

func decideVoid(a *Account, c *Command, now int64) (Event, error) {
	h := a.holds[c.ID]
	if h == nil || h.IsSession() {
		return Event{}, ErrInvalidState
	}
	return closingEvent(EventVoided, a.Ledger, h, now), nil
}

func closingEvent(t EventType, ledger LedgerID, h *Hold, now int64) Event {
	return Event{
		Type: t, ID: h.ID, Ledger: ledger, Time: now, From: h.From, To: h.To, Fees: h.Fees,
		Amount: h.Amount, FeeBps: h.FeeBps, Timeout: h.Timeout, Deadline: h.Deadline,
		Spender: h.Spender, Memo: h.Memo,
	}
}

// ExpireDue returns an expiry event for every open hold of a whose deadline
// is at or before now, in deadline order. A hold is open strictly before its
// deadline. Session reservations have none: their sessions close them.
func ExpireDue(a *Account, now int64) []Event {
	var events []Event
	for _, h := range a.holds {
		if h.Deadline <= now && !h.IsSession() {
			events = append(events, closingEvent(EventExpired, a.Ledger, h, now))
		}
	}
	sortEvents(events)
	return events
}

func sortEvents(events []Event) {
	for i := 1; i < len(events); i++ {
		for j := i; j > 0 && lessDeadline(&events[j], &events[j-1]); j-- {
			events[j], events[j-1] = events[j-1], events[j]
		}
	}
}

func lessDeadline(x, y *Event) bool {
	return x.Deadline < y.Deadline || (x.Deadline == y.Deadline && x.ID < y.ID)
}

// Outcome is what the record of an earlier operation with the same client
// id means for a new command.
type Outcome uint8

const (
	OutcomeReplay  Outcome = iota + 1 // same request: answer with the recorded event
	OutcomeProceed                    // the hold is still open: let the payer decide
)

// Recall compares command c with last, the latest recorded event of the same
// client id, and says whether c replays it, proceeds, or fails. Holds move
// through several events, so the latest tells the state: a capture repeated
// with the same amount replays, any other change of a closed hold is
// ErrInvalidState. Pure: the engine calls it with the event it stored.
func Recall(last *Event, c *Command) (Outcome, error) {
	switch c.Type {
	case CommandCredit, CommandCharge, CommandHold, CommandSessionOpen, CommandPayout,
		CommandReserveWithdrawal, CommandCompleteWithdrawal:
		if !sameRequest(last, c) {
			return 0, ErrIdempotencyConflict
		}
		return OutcomeReplay, nil
	case CommandCapture, CommandVoid:
		return recallClose(last, c)
	}
	return 0, fmt.Errorf("%w: unknown command type %d", ErrInvalid, c.Type)
}

func recallClose(last *Event, c *Command) (Outcome, error) {
	switch last.Type {
	case EventHeld:
		return OutcomeProceed, nil
	case EventCaptured:
		if c.Type == CommandCapture && c.Amount == last.Captured {
			return OutcomeReplay, nil
		}
	case EventVoided:
		if c.Type == CommandVoid {
			return OutcomeReplay, nil
		}
	case EventCredited, EventCharged, EventPaidOut, EventWithdrawalReserved, EventWithdrawn:
		return 0, ErrNotFound // a client id of another kind of operation: no such hold
	}
	if last.Type.IsSession() {
		return 0, ErrNotFound // a session's reservation is no hold of the client's
	}
	return 0, ErrInvalidState
}

// sameRequest reports whether the first event of a client id was made by a
// command with the same content as c. The spender is not content: a retry
// through the key that replaced a rotated one is the same request.
func sameRequest(e *Event, c *Command) bool {
	switch c.Type {
	case CommandCredit:
		return e.Type == EventCredited && e.To == c.To && e.Amount == c.Amount
	case CommandCharge:
		return e.Type == EventCharged && e.From == c.From && e.To == c.To && e.Amount == c.Amount && e.Memo == c.Memo
	case CommandPayout:
		return e.Type == EventPaidOut && e.From == c.From && e.Amount == c.Amount
	case CommandReserveWithdrawal:
		return e.Type == EventWithdrawalReserved && e.From == c.From && e.Withdrawal.Requested == c.Amount
	case CommandCompleteWithdrawal:
		return e.Type == EventWithdrawn && e.From == c.From && e.Amount == c.Amount
	case CommandHold:
		switch e.Type {
		case EventHeld, EventCaptured, EventVoided, EventExpired:
			return e.From == c.From && e.To == c.To && e.Amount == c.Amount && e.Timeout == c.Timeout && e.Memo == c.Memo
		}
	case CommandSessionOpen:
		if t := e.Session; e.Type.IsSession() && t != nil {
			return e.From == c.From && e.To == c.To && t.Rate == c.Rate && t.MaxSeconds == c.MaxSeconds &&
				t.StartBy-t.Created == c.Timeout && e.Memo == c.Memo
		}
	}
	return false
}
