package ledger

// EventType names what an event did.
type EventType uint8

const (
	EventAccountCreated     EventType = iota + 1 // Account opened in Ledger with Kind
	EventCredited                                // Amount from the chain account (From) to To
	EventCharged                                 // Amount from From: Amount-Fee to To, Fee to Fees
	EventHeld                                    // Amount of From reserved for To until Deadline
	EventCaptured                                // hold ID posted: Captured of Amount, Fee of it to Fees
	EventVoided                                  // hold ID released by request
	EventExpired                                 // hold ID released at its deadline
	EventSessionOpened                           // session ID opened: Amount of From reserved for To
	EventSessionAccepted                         // session ID accepted by its supplier
	EventSessionStarted                          // session ID live
	EventSessionEnded                            // session ID ended: Captured of Amount posted, Fee of it to Fees
	EventSessionCancelled                        // session ID cancelled by its consumer, released
	EventSessionExpired                          // session ID not started in time, released
	EventPaidOut                                 // Amount of From out of the ledger, to its chain account (To)
	EventWithdrawalReserved                      // Amount of From reserved toward its chain account (To) for a withdrawal requested on chain
	EventWithdrawn                               // From's withdrawal reservation released, Amount of From paid out to its chain account (To)
	EventLowBalanceSet                           // Account's low-balance threshold set to Amount (zero: off)
	eventTypeEnd
)

// IsSession reports whether events of this type are a session's.
func (t EventType) IsSession() bool { return t >= EventSessionOpened && t <= EventSessionExpired }

// IsSessionClose reports whether the event closes a session, releasing
// its reservation (posting part of it, for an end).
func (t EventType) IsSessionClose() bool { return t >= EventSessionEnded && t <= EventSessionExpired }

// IsWithdrawal reports whether events of this type are a withdrawal's:
// they carry WithdrawalTerms and move the payer's one withdrawal
// reservation (Account.Withdrawal).
func (t EventType) IsWithdrawal() bool { return t == EventWithdrawalReserved || t == EventWithdrawn }

// String returns the event type's name.
func (t EventType) String() string {
	switch t {
	case EventAccountCreated:
		return "account_created"
	case EventCredited:
		return "credited"
	case EventCharged:
		return "charged"
	case EventHeld:
		return "held"
	case EventCaptured:
		return "captured"
	case EventVoided:
		return "voided"
	case EventExpired:
		return "expired"
	case EventSessionOpened:
		return "session_opened"
	case EventSessionAccepted:
		return "session_accepted"
	case EventSessionStarted:
		return "session_started"
	case EventSessionEnded:
		return "session_ended"
	case EventSessionCancelled:
		return "session_cancelled"
	case EventSessionExpired:
		return "session_expired"
	case EventPaidOut:
		return "paid_out"
	case EventWithdrawalReserved:
		return "withdrawal_reserved"
	case EventWithdrawn:
		return "withdrawn"
	case EventLowBalanceSet:
		return "low_balance_set"
	}
	return "unknown"
}

// Event is one decided, self-contained change of the ledger: what the log
// stores and replay applies. Every hold event carries the whole hold, so the
// latest event of a transfer id tells its full story.
type Event struct {
	Type   EventType
	ID     TransferID // the operation's client id; for hold events, the hold's
	Ledger LedgerID
	Time   int64 // Unix nanoseconds when it was decided

	Account AccountID // EventAccountCreated and EventLowBalanceSet only
	Kind    Kind      // EventAccountCreated only

	From AccountID
	To   AccountID
	Fees AccountID

	Amount   Amount // charged, credited or held; EventLowBalanceSet: the threshold
	Fee      Amount // the part of Amount (or of Captured) that went to Fees
	Captured Amount // EventCaptured: the part of the held Amount that was posted
	FeeBps   uint32 // holds: the fee rate locked when the hold was placed

	Timeout  int64 // holds: nanoseconds requested
	Deadline int64 // holds: Unix nanoseconds at which it expires

	Spender SpenderID // charges, holds and sessions: whose budget the debit counted against
	Memo    string    // charges, holds and sessions: the client's opaque note (its metadata)

	// Session is the rest of the session a session event belongs to (its
	// money is in the hold fields above: Amount reserved, Captured posted
	// by its end); nil for every other event.
	Session *SessionTerms
	// Withdrawal is the rest of a withdrawal event (IsWithdrawal): what was
	// requested and the reservation it released; nil for every other event.
	Withdrawal *WithdrawalTerms

	// Markers of a debit (alerts.go), decided with it so that replaying
	// the log tells the same story: LowBalance is the payer's low-balance
	// threshold that this debit took its available amount below (zero: it
	// crossed none); BudgetCap is the spender's cap it exhausted, whose
	// value is BudgetLimit (BudgetCapNone: none).
	LowBalance  Amount
	BudgetCap   BudgetCap
	BudgetLimit Amount
}

// WithdrawalTerms is what withdrawal events carry beyond Amount. Each
// event releases the payer's previous withdrawal reservation whole (the
// chain keeps one pending withdrawal per wallet, a new request replacing
// the old), so applying it needs nothing but the event.
type WithdrawalTerms struct {
	// Requested is what the chain asked for: for a reservation, Amount is
	// the part of it the payer had available; for a withdrawal, Amount.
	Requested Amount
	// Released is the reservation this event released, and ReleasedID its
	// client id; zero and empty when the payer had none.
	Released   Amount
	ReleasedID TransferID
}

// MemoBytesMax bounds an operation's memo.
const MemoBytesMax = 16 << 10

// ToAmount returns what the payee receives: the amount posted minus the fee.
func (e *Event) ToAmount() Amount {
	posted := e.Amount
	if e.Type == EventCaptured || e.Type == EventSessionEnded {
		posted = e.Captured
	}
	rest, ok := posted.Sub(e.Fee)
	assert(ok, "fee above amount")
	return rest
}

// Involves reports whether the event changes account id.
func (e *Event) Involves(id AccountID) bool {
	switch e.Type {
	case EventAccountCreated, EventLowBalanceSet:
		return e.Account == id
	case EventCredited, EventHeld, EventVoided, EventExpired,
		EventSessionOpened, EventSessionCancelled, EventSessionExpired:
		return e.From == id || e.To == id
	case EventSessionAccepted, EventSessionStarted:
		return false
	}
	return e.From == id || e.To == id || (e.Fees == id && !e.Fee.IsZero())
}

// Apply changes a by its part in e: as payer (From), payee (To) or fee
// account (Fees). It cannot fail: Decide checked the payer, and a credit
// overflowing 128 bits would take more than 2^128 base units flowing through
// one account, so it is asserted rather than handled.
func (a *Account) Apply(e *Event) {
	switch e.Type {
	case EventAccountCreated:
	case EventLowBalanceSet:
		if a.ID == e.Account {
			a.LowBalance = e.Amount
		}
	case EventCredited, EventCharged, EventPaidOut:
		if a.ID == e.From {
			a.DebitsPosted = add(a.DebitsPosted, e.Amount)
			a.spend(e.Spender, e.Amount, e.Time)
			a.reported(e)
		}
		if a.ID == e.To {
			a.CreditsPosted = add(a.CreditsPosted, e.ToAmount())
		}
		if a.ID == e.Fees && e.Type == EventCharged {
			a.CreditsPosted = add(a.CreditsPosted, e.Fee)
		}
	case EventHeld, EventSessionOpened:
		if a.ID == e.From {
			a.DebitsPending = add(a.DebitsPending, e.Amount)
			if a.holds == nil {
				a.holds = make(map[TransferID]*Hold)
			}
			assert(a.holds[e.ID] == nil, "hold placed twice")
			a.holds[e.ID] = holdOf(e)
			a.holdMemoBytes += len(e.Memo)
			a.spend(e.Spender, e.Amount, e.Time)
			a.reported(e)
		}
		if a.ID == e.To {
			a.CreditsPending = add(a.CreditsPending, e.Amount)
		}
	case EventCaptured, EventSessionEnded:
		if a.ID == e.From {
			a.DebitsPending = sub(a.DebitsPending, e.Amount)
			a.DebitsPosted = add(a.DebitsPosted, e.Captured)
			a.closeHold(e.ID)
			a.refund(e.Spender, sub(e.Amount, e.Captured), e.heldAt())
		}
		if a.ID == e.To {
			a.CreditsPending = sub(a.CreditsPending, e.Amount)
			a.CreditsPosted = add(a.CreditsPosted, e.ToAmount())
		}
		if a.ID == e.Fees {
			a.CreditsPosted = add(a.CreditsPosted, e.Fee)
		}
	case EventVoided, EventExpired, EventSessionCancelled, EventSessionExpired:
		if a.ID == e.From {
			a.DebitsPending = sub(a.DebitsPending, e.Amount)
			a.closeHold(e.ID)
			a.refund(e.Spender, e.Amount, e.heldAt())
		}
		if a.ID == e.To {
			a.CreditsPending = sub(a.CreditsPending, e.Amount)
		}
	case EventWithdrawalReserved, EventWithdrawn:
		a.applyWithdrawal(e)
	case EventSessionAccepted, EventSessionStarted:
	default:
		assert(false, "unknown event type")
	}
}

// applyWithdrawal releases the payer's withdrawal reservation that e
// names, then reserves (EventWithdrawalReserved) or posts (EventWithdrawn)
// Amount: on the payer as a debit, on the chain account as a credit.
func (a *Account) applyWithdrawal(e *Event) {
	w := e.Withdrawal
	if a.ID == e.From {
		old := a.withdrawal
		assert((old == nil && w.ReleasedID == "" && w.Released.IsZero()) ||
			(old != nil && old.ID == w.ReleasedID && old.Amount == w.Released), "withdrawal released is not the one reserved")
		a.DebitsPending = sub(a.DebitsPending, w.Released)
		a.withdrawal = nil
		if e.Type == EventWithdrawalReserved {
			a.DebitsPending = add(a.DebitsPending, e.Amount)
			a.withdrawal = &Withdrawal{ID: e.ID, Amount: e.Amount, Requested: w.Requested, Created: e.Time}
		} else {
			a.DebitsPosted = add(a.DebitsPosted, e.Amount)
		}
	}
	if a.ID == e.To {
		a.CreditsPending = sub(a.CreditsPending, w.Released)
		if e.Type == EventWithdrawalReserved {
			a.CreditsPending = add(a.CreditsPending, e.Amount)
		} else {
			a.CreditsPosted = add(a.CreditsPosted, e.Amount)
		}
	}
}

// heldAt returns when the hold a closing event releases was placed: a
// session's reservation when the session opened.
func (e *Event) heldAt() int64 {
	if e.Session != nil {
		return e.Session.Created
	}
	return e.Deadline - e.Timeout
}

func (a *Account) closeHold(id TransferID) {
	h := a.holds[id]
	assert(h != nil, "closing a hold that is not open")
	a.holdMemoBytes -= len(h.Memo)
	delete(a.holds, id)
	if len(a.holds) == 0 {
		a.holds = nil
	}
}

// holdOf returns the hold an EventHeld places, or the reservation of an
// EventSessionOpened: a hold with no deadline (Hold.IsSession).
func holdOf(e *Event) *Hold {
	return &Hold{
		ID: e.ID, From: e.From, To: e.To, Fees: e.Fees, Amount: e.Amount,
		FeeBps: e.FeeBps, Created: e.Time, Timeout: e.Timeout, Deadline: e.Deadline, // both 0 for a session
		Spender: e.Spender, Memo: e.Memo,
	}
}

func add(a, b Amount) Amount {
	sum, ok := a.Add(b)
	assert(ok, "128-bit overflow applying an event")
	return sum
}

func sub(a, b Amount) Amount {
	difference, ok := a.Sub(b)
	assert(ok, "underflow applying an event")
	return difference
}
