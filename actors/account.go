package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Messages an account actor receives, besides an Op.
type (
	// Batch asks the account to decide many ops, in order, with one append.
	Batch struct{ Ops []Op }
	// Effects carries durable events in which the account is a counterparty
	// (payee, fee or chain account), in log order.
	Effects struct{ Events []*ledger.Event }
	// Expire asks the account to expire its due holds.
	Expire struct{}
)

// accountActor owns one account's state. Receive never blocks on the disk.
type accountActor struct {
	entry   *Entry
	config  *Config
	pending []*wal.Entry // appends of the message being handled
}

// Receive takes protoactor's own messages (started, stopping, stopped),
// which need nothing; the mailbox hands the account's messages to handle.
func (a *accountActor) Receive(ctx actor.Context) { a.handle(ctx.Message()) }

func (a *accountActor) handle(msg any) bool {
	switch m := msg.(type) {
	case Op:
		a.execute(m, a.config.Now())
	case *Batch:
		now := a.config.Now()
		for _, op := range m.Ops {
			a.execute(op, now)
		}
	case *Effects:
		for _, e := range m.Events {
			a.entry.account.Apply(e)
		}
	case *Expire:
		a.expireDue(a.config.Now())
	default:
		return false
	}
	a.flush()
	return true
}

// execute lets one op decide, applies its event in memory and queues it for
// the log; an op that logs nothing is answered once the state it was judged
// on is durable.
func (a *accountActor) execute(op Op, now int64) {
	a.expireDue(now)
	event := op.Decide(&a.entry.account, now)
	if event == nil {
		a.replyWhenDurable(op)
		return
	}
	a.entry.account.Apply(event)
	a.append(op.Logged(&a.entry.account))
}

func (a *accountActor) expireDue(now int64) {
	for _, event := range ledger.ExpireDue(&a.entry.account, now) {
		a.entry.account.Apply(&event)
		a.append(a.config.Expired(a.entry, &event))
	}
}

// append queues an entry with the record of one of the account's events.
func (a *accountActor) append(entry *wal.Entry) {
	a.entry.appended++
	a.pending = append(a.pending, entry)
}

// replyWhenDurable answers an op that logs nothing. If some event of this
// account is still on its way to the disk, the answer rides behind it as a
// barrier, so no reply reveals state that a crash could undo.
func (a *accountActor) replyWhenDurable(op Op) {
	if len(a.pending) == 0 && a.entry.appended == a.entry.durable.Load() {
		a.config.Reply(op)
		return
	}
	a.pending = append(a.pending, op.Barrier())
}

func (a *accountActor) flush() {
	switch len(a.pending) {
	case 0:
		return
	case 1:
		a.config.Log.Append(a.pending[0])
	default:
		a.config.Log.AppendBatch(a.pending)
	}
	clear(a.pending)
	a.pending = a.pending[:0]
}
