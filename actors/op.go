package actors

import (
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Op is one operation on its way through an account actor and the log. The
// caller fills Command, sends the Op, and waits on Done; the completion
// callback fills the result fields before closing Done.
//
// NB: an Op is also the wal.Entry token of its event, so it costs one
// allocation from request to reply.
type Op struct {
	Command ledger.Command

	// Results, valid after Done is closed.
	Event    ledger.Event
	Balance  Balance      // the decider's balance right after the event
	Spend    ledger.Spend // reads of a spender: what it has spent
	Position uint64       // the event's log position (0 for reads and rejections)
	Err      error

	decider *Entry
	logged  bool // the op appended an event (not a read or a rejection)
	entry   wal.Entry
	index   [1]wal.Put
	done    chan struct{}
}

// Balance is an account's spendable and reserved amounts.
type Balance struct {
	Available ledger.Amount
	Reserved  ledger.Amount
	Posted    ledger.Amount // credits posted - debits posted
	Pending   ledger.Amount // credits pending - debits pending, when positive
}

// NewOp returns an op that a caller will wait on.
func NewOp(c ledger.Command) *Op {
	return &Op{Command: c, done: make(chan struct{})}
}

// NewOps returns n ops for a batch, in one allocation; the caller fills
// each one's Command. One op keeps all of them alive, so they suit ops
// that are answered together.
func NewOps(n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i].done = make(chan struct{})
	}
	return ops
}

// Done is closed when the op's result is final.
func (o *Op) Done() <-chan struct{} { return o.done }

// Logged reports whether the op appended an event to the log (as opposed to
// a read, a rejection or an internal expiry nobody waits for).
func (o *Op) Logged() bool { return o.logged }

// Decider returns the entry of the account that decided the op.
func (o *Op) Decider() *Entry { return o.decider }

// Finish publishes the op's result to its waiter. Called once, by the
// completion path. Internal ops (expiries) have no waiter.
func (o *Op) Finish() {
	if o.done != nil {
		close(o.done)
	}
}

// OpOf returns the op that entry e carries.
func OpOf(e *wal.Entry) *Op { return e.Token.(*Op) }

func balanceOf(a *ledger.Account) Balance {
	b := Balance{Available: a.Available(), Reserved: a.Reserved()}
	if posted, ok := a.CreditsPosted.Sub(a.DebitsPosted); ok {
		b.Posted = posted
	}
	if pending, ok := a.CreditsPending.Sub(a.DebitsPending); ok {
		b.Pending = pending
	}
	return b
}

// NewCreation returns an op that logs the creation of an account. No actor
// decides it: the engine appends it directly.
func NewCreation(event ledger.Event) *Op {
	op := &Op{Event: event, logged: true, done: make(chan struct{})}
	record := ledger.AppendEvent(make([]byte, 0, recordBytesTypical), &op.Event)
	op.entry = wal.Entry{Record: record, Token: op}
	return op
}

// EntryOf returns the log entry an op carries.
func EntryOf(op *Op) *wal.Entry { return &op.entry }

// Route names the account whose actor will decide op.
func Route(op *Op, decider *Entry) { op.decider = decider }
