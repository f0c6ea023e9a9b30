package ledger

// EventType names what an event did.
type EventType uint8

const (
	EventAccountCreated EventType = iota + 1 // Account opened in Ledger with Kind
	EventCredited                            // Amount from the chain account (From) to To
	EventCharged                             // Amount from From: Amount-Fee to To, Fee to Fees
	EventHeld                                // Amount of From reserved for To until Deadline
	EventCaptured                            // hold ID posted: Captured of Amount, Fee of it to Fees
	EventVoided                              // hold ID released by request
	EventExpired                             // hold ID released at its deadline
	eventTypeEnd
)

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

	Account AccountID // EventAccountCreated only
	Kind    Kind      // EventAccountCreated only

	From AccountID
	To   AccountID
	Fees AccountID

	Amount   Amount // charged, credited or held
	Fee      Amount // the part of Amount (or of Captured) that went to Fees
	Captured Amount // EventCaptured: the part of the held Amount that was posted
	FeeBps   uint32 // holds: the fee rate locked when the hold was placed

	Timeout  int64 // holds: nanoseconds requested
	Deadline int64 // holds: Unix nanoseconds at which it expires

	Spender SpenderID // charges and holds: whose budget the debit counted against
	Memo    string    // charges and holds: the client's opaque note (its metadata)
}

// MemoBytesMax bounds an operation's memo.
const MemoBytesMax = 16 << 10

// ToAmount returns what the payee receives: the amount posted minus the fee.
func (e *Event) ToAmount() Amount {
	posted := e.Amount
	if e.Type == EventCaptured {
		posted = e.Captured
	}
	rest, ok := posted.Sub(e.Fee)
	assert(ok, "fee above amount")
	return rest
}

// Involves reports whether the event changes account id.
func (e *Event) Involves(id AccountID) bool {
	switch e.Type {
	case EventAccountCreated:
		return e.Account == id
	case EventCredited, EventHeld, EventVoided, EventExpired:
		return e.From == id || e.To == id
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
	case EventCredited, EventCharged:
		if a.ID == e.From {
			a.DebitsPosted = add(a.DebitsPosted, e.Amount)
			a.spend(e.Spender, e.Amount, e.Time)
		}
		if a.ID == e.To {
			a.CreditsPosted = add(a.CreditsPosted, e.ToAmount())
		}
		if a.ID == e.Fees && e.Type == EventCharged {
			a.CreditsPosted = add(a.CreditsPosted, e.Fee)
		}
	case EventHeld:
		if a.ID == e.From {
			a.DebitsPending = add(a.DebitsPending, e.Amount)
			if a.holds == nil {
				a.holds = make(map[TransferID]*Hold)
			}
			assert(a.holds[e.ID] == nil, "hold placed twice")
			a.holds[e.ID] = holdOf(e)
			a.holdMemoBytes += len(e.Memo)
			a.spend(e.Spender, e.Amount, e.Time)
		}
		if a.ID == e.To {
			a.CreditsPending = add(a.CreditsPending, e.Amount)
		}
	case EventCaptured:
		if a.ID == e.From {
			a.DebitsPending = sub(a.DebitsPending, e.Amount)
			a.DebitsPosted = add(a.DebitsPosted, e.Captured)
			a.closeHold(e.ID)
			a.refund(e.Spender, sub(e.Amount, e.Captured), e.Deadline-e.Timeout)
		}
		if a.ID == e.To {
			a.CreditsPending = sub(a.CreditsPending, e.Amount)
			a.CreditsPosted = add(a.CreditsPosted, e.ToAmount())
		}
		if a.ID == e.Fees {
			a.CreditsPosted = add(a.CreditsPosted, e.Fee)
		}
	case EventVoided, EventExpired:
		if a.ID == e.From {
			a.DebitsPending = sub(a.DebitsPending, e.Amount)
			a.closeHold(e.ID)
			a.refund(e.Spender, e.Amount, e.Deadline-e.Timeout)
		}
		if a.ID == e.To {
			a.CreditsPending = sub(a.CreditsPending, e.Amount)
		}
	default:
		assert(false, "unknown event type")
	}
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

func holdOf(e *Event) *Hold {
	return &Hold{
		ID: e.ID, From: e.From, To: e.To, Fees: e.Fees, Amount: e.Amount,
		FeeBps: e.FeeBps, Created: e.Time, Timeout: e.Timeout, Deadline: e.Deadline,
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
