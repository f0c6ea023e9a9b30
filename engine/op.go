package engine

import (
	"context"
	"fmt"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// op is one operation on its way from a call through its account's actor
// and the log to its answer: a command, a read, an account's creation or an
// expiry. Its life has three owners, one after the other: the call fills
// and routes it (prepare), the decider's actor decides it (actors.Op), and
// the log's commit callback answers it (complete), unless the call or the
// actor answered it first because it logs nothing.
//
// NB: an op is also the wal.Entry token of its event, so it costs one
// allocation from request to reply (the record's buffer is the other).
type op struct {
	command ledger.Command
	read    bool // answers the decider's balance (and spend) instead of deciding command

	// Results, valid after done is closed.
	event    ledger.Event
	balance  Balance      // the decider's balance right after the event
	spend    ledger.Spend // reads of a spender: what it has spent
	position uint64       // the event's log position (0 for reads and rejections)
	err      error

	decider *actors.Entry // the account whose actor decides it; nil for creations and ops answered early
	logged  bool          // the op appended an event (not a read or a rejection)

	// Session transitions: the session's actor decides sessionCommand
	// (DecideSession); a closing then goes on to the payer's actor.
	session        *actors.SessionEntry
	sessionCommand ledger.SessionCommand

	entry wal.Entry
	index [1]wal.Put
	rows  [2]wal.Put    // the list rows of a session's opening or a hold's placing
	done  chan struct{} // nil for expiries, which nobody waits for
}

// recordBytesLogged sizes a new log record's buffer to avoid regrowth.
const recordBytesLogged = 128

// newOp returns an op that a call will wait on.
func newOp(c ledger.Command) *op {
	return &op{command: c, done: make(chan struct{})}
}

// newOps returns n ops for a batch, in one allocation; the caller fills
// each one's command. One op keeps all of them alive, so they suit ops
// that are answered together.
func newOps(n int) []op {
	ops := make([]op, n)
	for i := range ops {
		ops[i].done = make(chan struct{})
	}
	return ops
}

// newRead returns an op that reads decider's balance, and the spend of
// spender if it is not empty.
func newRead(decider *actors.Entry, spender ledger.SpenderID) *op {
	o := newOp(ledger.Command{Budget: ledger.Budget{Spender: spender}})
	o.read, o.decider = true, decider
	return o
}

// newCreation returns an op that logs the creation of an account.
//
// NB: creations do not go through an account actor, because there is no
// actor to send them to: an account's actor exists once its creation is
// durable (onDurable inserts it), and one creation may also create its
// ledger's fee and chain accounts, which must reach the log before it.
// The engine's creation lock (appendCreations) serializes them instead.
func newCreation(event ledger.Event) *op {
	o := &op{event: event, done: make(chan struct{})}
	o.encode() // an account's creation has no index put (indexKey)
	return o
}

// newExpiry is the actors' Config.Expired: it returns the log entry of an
// expiry that decider's actor applied. Nobody waits for it.
func newExpiry(decider *actors.Entry, event *ledger.Event) *wal.Entry {
	o := &op{decider: decider}
	o.event = *event
	return o.encode()
}

// Decide implements actors.Op. It runs on the decider's actor.
func (o *op) Decide(account *ledger.Account, now int64) *ledger.Event {
	if o.session != nil {
		return o.decideClosing(account)
	}
	if o.read {
		o.balance = balanceOf(account)
		if spender := o.command.Budget.Spender; spender != "" {
			o.spend = account.Spent(spender, now)
		}
		return nil
	}
	event, err := ledger.Decide(account, &o.command, now)
	if err != nil {
		o.err = err
		return nil
	}
	o.event = event
	return &o.event
}

// Logged implements actors.Op: account has applied the op's event.
func (o *op) Logged(account *ledger.Account) *wal.Entry {
	o.balance = balanceOf(account)
	return o.encode()
}

// Barrier implements actors.Op.
func (o *op) Barrier() *wal.Entry {
	o.entry = wal.Entry{Token: o}
	return &o.entry
}

// encode makes the op's log entry: its event's record, the transfer index
// entry of its client id, if it has one (indexKey), and the list rows of a
// session's opening or a hold's placing (sessionRows, holdRows).
func (o *op) encode() *wal.Entry {
	o.logged = true
	id, indexed := indexKey(&o.event)
	if !indexed {
		record := ledger.AppendEvent(make([]byte, 0, recordBytesLogged), &o.event)
		o.entry = wal.Entry{Record: record, Token: o}
		return &o.entry
	}
	// One allocation holds the index key (the client id) and the record.
	buffer := append(make([]byte, 0, len(id)+recordBytesLogged), id...)
	record := ledger.AppendEvent(buffer[len(id):], &o.event)
	o.index[0] = wal.Put{Key: buffer[:len(id):len(id)], Value: record}
	o.entry = wal.Entry{Record: record, Index: o.index[:], Token: o}
	switch o.event.Type {
	case ledger.EventSessionOpened:
		o.entry.Table = sessionRows(&o.rows, &o.event)
	case ledger.EventHeld:
		o.entry.Table = holdRows(&o.rows, &o.event)
	}
	return &o.entry
}

// indexKey says whether an event's log entry has a transfer index put, and
// its key: every event but an account's own (its creation, a change of its
// settings), which have no client id, puts its client id (a hold's events,
// the hold's id) -> its record, so that the latest event of an id answers
// its retries. encode (appends) and indexOf (the log's
// derivation after a crash) both follow it, so they cannot drift.
func indexKey(event *ledger.Event) (key ledger.TransferID, indexed bool) {
	return event.ID, event.Type != ledger.EventAccountCreated && event.Type != ledger.EventLowBalanceSet
}

// indexOf is the log's Options.IndexOf: the index puts of a record, those
// encode gave its entry. A record that does not decode has none here; the
// replay that follows Open reports it as corrupt.
func indexOf(record []byte, dst []wal.Put) []wal.Put {
	event, err := ledger.DecodeEvent(record)
	if err != nil {
		return dst
	}
	id, indexed := indexKey(&event)
	if !indexed {
		return dst
	}
	return append(dst, wal.Put{Key: []byte(id), Value: record})
}

func balanceOf(a *ledger.Account) Balance {
	b := Balance{Available: a.Available(), Reserved: a.Reserved(), LowBalanceThreshold: a.LowBalance}
	if posted, ok := a.CreditsPosted.Sub(a.DebitsPosted); ok {
		b.Posted = posted
	}
	if pending, ok := a.CreditsPending.Sub(a.DebitsPending); ok {
		b.Pending = pending
	}
	return b
}

// complete answers an op: it releases the op's client id, if the op holds
// its claim, and wakes its caller. Every answer goes through here (a call's
// early answer, an actor's reply to an op that logged nothing, the commit
// callback's), so the claim taken in prepare is released in this one place,
// once the op's outcome is final (durable, for a logged op: the next
// claimant finds it in the index).
func (e *Engine) complete(o *op) {
	e.inflight.release(o)
	if o.done != nil {
		close(o.done)
	}
}

// reply is the actors' Config.Reply: an op that logged nothing is answered.
func (e *Engine) reply(o actors.Op) { e.complete(o.(*op)) }

// wait blocks until o is answered or ctx ends.
func wait(ctx context.Context, o *op) error {
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine: gave up waiting (the operation may still apply; retry with the same id): %w", ctx.Err())
	}
}

// result is the call's answer from a completed op.
func (o *op) result() (Transfer, error) {
	if o.err != nil {
		return Transfer{}, o.err
	}
	t := transferOf(&o.event)
	t.Position = o.position
	t.Balance = o.balance
	return t, nil
}
