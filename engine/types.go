package engine

import (
	"errors"
	"time"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Amount is an unsigned 128-bit number of an asset's base units.
type Amount = ledger.Amount

// NewAmount returns v base units.
func NewAmount(v uint64) Amount { return ledger.NewAmount(v) }

// AmountFromParts returns the amount hi·2⁶⁴ + lo.
func AmountFromParts(hi, lo uint64) Amount { return ledger.AmountFromParts(hi, lo) }

// ParseAmount parses a decimal string of base units, such as "1500".
func ParseAmount(s string) (Amount, error) { return ledger.ParseAmount(s) }

// Identifiers. Untyped string constants convert implicitly.
type (
	AccountID  = ledger.AccountID
	LedgerID   = ledger.LedgerID
	TransferID = ledger.TransferID
	Kind       = ledger.Kind
	SpenderID  = ledger.SpenderID
)

// Budget caps what one spender (an API key) may debit from the account it
// spends from: each charge or hold, each UTC day, and in all. Zero caps are
// no caps; an empty Spender budgets nothing.
type Budget = ledger.Budget

// Spend is what a spender has debited, open holds included: in all, and on
// the UTC day Day (days since the Unix epoch).
type Spend = ledger.Spend

// MemoBytesMax bounds the memo of a charge or hold.
const MemoBytesMax = ledger.MemoBytesMax

// Per-account limits, which keep one account's snapshot record within one
// snapshot chunk (see engine/ledger/limits.go); past one, ErrLimitExceeded.
const (
	HoldsPerAccountMax         = ledger.HoldsPerAccountMax
	HoldMemoBytesPerAccountMax = ledger.HoldMemoBytesPerAccountMax
	SpendersPerAccountMax      = ledger.SpendersPerAccountMax
)

// Account kinds a user may open.
const (
	KindConsumer = ledger.KindConsumer
	KindSupplier = ledger.KindSupplier
	KindFees     = ledger.KindFees
	KindChain    = ledger.KindChain
)

// Errors. Match them with errors.Is.
var (
	ErrInsufficientFunds   = ledger.ErrInsufficientFunds
	ErrNotFound            = ledger.ErrNotFound
	ErrIdempotencyConflict = ledger.ErrIdempotencyConflict
	ErrInvalid             = ledger.ErrInvalid
	ErrInvalidState        = ledger.ErrInvalidState
	ErrAlreadyExists       = ledger.ErrAlreadyExists
	ErrLedgerMismatch      = ledger.ErrLedgerMismatch
	ErrOverflow            = ledger.ErrOverflow
	ErrBudgetExceeded      = ledger.ErrBudgetExceeded
	// ErrLimitExceeded refuses a hold or a new budgeted spender that would
	// take the paying account past HoldsPerAccountMax,
	// HoldMemoBytesPerAccountMax or SpendersPerAccountMax.
	ErrLimitExceeded = ledger.ErrLimitExceeded
	// ErrUnavailable means the engine cannot make changes durable (its log
	// failed, or it is closed). Nothing is acknowledged after it; reopen the
	// directory to recover. An operation answered with it may or may not
	// have been applied (its write may have reached the disk before the
	// failure): retry it with the same client id after reopening to learn.
	ErrUnavailable = errors.New("engine unavailable")
	// ErrTruncated means a log position is behind the latest snapshot.
	ErrTruncated = errors.New("log position truncated by a snapshot")
	// ErrLogLoss is Open's refusal of a data directory whose log ends before
	// the last position it acknowledged (a corrupted or truncated WAL):
	// Options.AllowLogLoss opens it anyway. ErrNoSpace is Open's failure on
	// a disk with no room to replay the log.
	ErrLogLoss = wal.ErrLogLoss
	ErrNoSpace = wal.ErrNoSpace
)

// LogLossError details ErrLogLoss (errors.As): the directory, the last
// position acknowledged (Marked) and the last one found (Recovered).
type LogLossError = wal.LogLossError

// Account names an account to open. Kind defaults to KindConsumer.
type Account struct {
	ID     AccountID
	Ledger LedgerID
	Kind   Kind
}

// Charge moves Amount from From to To: Amount minus the fee to To, the fee
// (Options.FeeBps of Amount, rounded down) to the ledger's fee account, both
// or neither. ID is the client id: retrying it is safe; a retry with
// another Memo is ErrIdempotencyConflict. Budget, when it names a spender,
// caps the charge (ErrBudgetExceeded).
type Charge struct {
	ID     TransferID
	From   AccountID
	To     AccountID
	Amount Amount
	Memo   string // an opaque note kept with the charge, at most MemoBytesMax bytes
	Budget Budget
}

// Hold reserves Amount of From for To until captured, voided, or Timeout
// passes.
type Hold struct {
	ID      TransferID
	From    AccountID
	To      AccountID
	Amount  Amount
	Timeout time.Duration
	Memo    string // an opaque note kept with the hold
	Budget  Budget // the hold counts against it until released
}

// Balance is an account's money as its owner sees it.
type Balance struct {
	Available Amount // what can be spent now
	Reserved  Amount // held by open holds and the withdrawal reservation
	Posted    Amount // credits posted - debits posted
	Pending   Amount // incoming pending credits net of outgoing pending debits, when positive
	// LowBalanceThreshold is the account's low-balance threshold (see
	// SetLowBalanceThreshold); zero when off.
	LowBalanceThreshold Amount
}

// TransferType says what a transfer is.
type TransferType string

const (
	TransferCredit TransferType = "credit"
	TransferCharge TransferType = "charge"
	TransferHold   TransferType = "hold"
	TransferPayout TransferType = "payout"
	// TransferWithdrawalReserved is a withdrawal requested on chain: Amount
	// of From reserved toward its chain account (To), Requested asked.
	TransferWithdrawalReserved TransferType = "withdrawal_reserved"
	// TransferWithdrawal is a withdrawal completed on chain: From's
	// reservation released, Amount paid out to its chain account (To).
	TransferWithdrawal TransferType = "withdrawal"
)

// HoldState is where a hold is in its life.
type HoldState string

const (
	HoldOpen     HoldState = "open"
	HoldCaptured HoldState = "captured"
	HoldVoided   HoldState = "voided"
	HoldExpired  HoldState = "expired"
)

// Transfer is the result of a credit, charge, hold, payout or withdrawal,
// and what a lookup by client id returns.
type Transfer struct {
	ID       TransferID
	Type     TransferType
	Ledger   LedgerID
	From     AccountID
	To       AccountID
	Amount   Amount // charged, credited, held, paid out or reserved for a withdrawal
	Fee      Amount // to the fee account
	ToAmount Amount // to To: the posted amount minus the fee
	Time     time.Time
	Memo     string    // charges and holds: the note given with them
	Spender  SpenderID // charges and holds: whose budget the debit counted against

	// Holds only. Time is the hold's latest event's (its capture, void or
	// expiry once closed); Created is when it was placed.
	State    HoldState
	Captured Amount
	Created  time.Time
	Deadline time.Time

	// Withdrawals only: what the chain asked for (a reservation's Amount
	// is the part of it that was available), and the earlier reservation
	// this one released, by client id (empty: none).
	Requested  Amount
	Released   Amount
	ReleasedID TransferID

	// Position is the log position of the event that produced this answer;
	// it is 0 when the answer is a replay or a lookup.
	Position uint64
	// Balance is the payer's balance right after the operation (the funded
	// account's for a credit); zero when the answer is a replay or a lookup.
	Balance Balance
	// Replayed reports that the client id had already been applied and this
	// is its recorded result.
	Replayed bool
}

// Result is one item's outcome in a batch call.
type Result struct {
	Transfer Transfer
	Err      error
}

// EventType names a committed event.
type EventType = ledger.EventType

// Event types.
const (
	EventAccountCreated = ledger.EventAccountCreated
	EventCredited       = ledger.EventCredited
	EventCharged        = ledger.EventCharged
	EventHeld           = ledger.EventHeld
	EventCaptured       = ledger.EventCaptured
	EventVoided         = ledger.EventVoided
	EventExpired        = ledger.EventExpired
	// Sessions: an opening reserves Amount; an end posts Captured of it
	// (Fee of that to Fees); the others move no money or release it all.
	EventSessionOpened    = ledger.EventSessionOpened
	EventSessionAccepted  = ledger.EventSessionAccepted
	EventSessionStarted   = ledger.EventSessionStarted
	EventSessionEnded     = ledger.EventSessionEnded
	EventSessionCancelled = ledger.EventSessionCancelled
	EventSessionExpired   = ledger.EventSessionExpired
	// EventPaidOut moves Amount of From out of the ledger to its chain
	// account (To): money that left on chain.
	EventPaidOut = ledger.EventPaidOut
	// Withdrawals (ReserveWithdrawal, CompleteWithdrawal) each release
	// From's withdrawal reservation (Released, client id ReleasedID), then
	// EventWithdrawalReserved reserves Amount of From toward its chain
	// account (To) for a withdrawal of Requested requested on chain, and
	// EventWithdrawn pays Amount out to it: money that left on chain.
	EventWithdrawalReserved = ledger.EventWithdrawalReserved
	EventWithdrawn          = ledger.EventWithdrawn
	// EventLowBalanceSet sets Account's low-balance threshold to Amount
	// (zero: off). It has no client id (ID is empty) and moves no money.
	EventLowBalanceSet = ledger.EventLowBalanceSet
)

// BudgetCap names the cap of a spender's budget that a debit exhausted:
// Event.BudgetCap. Its String is the API's name, "day" or "total".
type BudgetCap = ledger.BudgetCap

// Budget caps.
const (
	BudgetCapNone  = ledger.BudgetCapNone
	BudgetCapDay   = ledger.BudgetCapDay
	BudgetCapTotal = ledger.BudgetCapTotal
)

// Event is one committed change, as Subscribe delivers it, in log order.
type Event struct {
	Position uint64
	Type     EventType
	ID       TransferID // the operation's client id (the hold's for hold events)
	Ledger   LedgerID
	Time     time.Time
	Account  AccountID // EventAccountCreated, EventLowBalanceSet
	Kind     Kind      // EventAccountCreated
	From     AccountID
	To       AccountID
	Fees     AccountID
	Amount   Amount // EventLowBalanceSet: the threshold
	Fee      Amount
	Captured Amount
	Deadline time.Time // holds
	Spender  SpenderID // charges and holds
	Memo     string    // charges and holds

	Requested  Amount     // withdrawals: what the chain asked for
	Released   Amount     // withdrawals: the reservation released
	ReleasedID TransferID // withdrawals: its client id; empty when there was none

	// Markers of a debit (charges, holds, sessions opened, payouts,
	// withdrawals), decided with it, so each is in the log once:
	// LowBalance is the payer's low-balance threshold the debit took its
	// available amount below, from at or above it (zero: none crossed);
	// BudgetCap is the cap of the spender's budget (day or total, of value
	// BudgetLimit) that the debit left with less than its own amount, the
	// first time for that cap (that day, for the day's). See
	// engine/ledger/alerts.go.
	LowBalance  Amount
	BudgetCap   BudgetCap
	BudgetLimit Amount

	// Rows are EventRowsWritten's: the table write's rows under the
	// subscription's prefixes, in the write's order (a nil Value deletes
	// its Key). Copies, the receiver's to keep.
	Rows []Row
}

func eventOf(position uint64, e *ledger.Event) Event {
	ev := Event{
		Position: position, Type: e.Type, ID: e.ID, Ledger: e.Ledger, Time: time.Unix(0, e.Time).UTC(),
		Account: e.Account, Kind: e.Kind, From: e.From, To: e.To, Fees: e.Fees,
		Amount: e.Amount, Fee: e.Fee, Captured: e.Captured, Spender: e.Spender, Memo: e.Memo,
		LowBalance: e.LowBalance, BudgetCap: e.BudgetCap, BudgetLimit: e.BudgetLimit,
	}
	if e.Deadline != 0 {
		ev.Deadline = time.Unix(0, e.Deadline).UTC()
	}
	if w := e.Withdrawal; w != nil {
		ev.Requested, ev.Released, ev.ReleasedID = w.Requested, w.Released, w.ReleasedID
	}
	return ev
}

// transferOf describes the transfer whose latest event is e.
func transferOf(e *ledger.Event) Transfer {
	t := Transfer{
		ID: e.ID, Ledger: e.Ledger, From: e.From, To: e.To, Amount: e.Amount, Fee: e.Fee,
		Time: time.Unix(0, e.Time).UTC(), Memo: e.Memo, Spender: e.Spender,
	}
	switch e.Type {
	case ledger.EventCredited:
		t.Type, t.ToAmount = TransferCredit, e.Amount
	case ledger.EventCharged:
		t.Type, t.ToAmount = TransferCharge, e.ToAmount()
	case ledger.EventPaidOut:
		t.Type, t.ToAmount = TransferPayout, e.Amount
	case ledger.EventWithdrawalReserved, ledger.EventWithdrawn:
		t.Type, t.ToAmount = TransferWithdrawalReserved, Amount{}
		if e.Type == ledger.EventWithdrawn {
			t.Type, t.ToAmount = TransferWithdrawal, e.Amount
		}
		w := e.Withdrawal
		t.Requested, t.Released, t.ReleasedID = w.Requested, w.Released, w.ReleasedID
	default:
		t.Type, t.Deadline = TransferHold, time.Unix(0, e.Deadline).UTC()
		t.Created = time.Unix(0, e.Deadline-e.Timeout).UTC() // every hold event carries both
		t.State = holdStates[e.Type]
		if e.Type == ledger.EventCaptured {
			t.Captured, t.ToAmount = e.Captured, e.ToAmount()
		}
	}
	return t
}

var holdStates = map[ledger.EventType]HoldState{
	ledger.EventHeld:     HoldOpen,
	ledger.EventCaptured: HoldCaptured,
	ledger.EventVoided:   HoldVoided,
	ledger.EventExpired:  HoldExpired,
}
