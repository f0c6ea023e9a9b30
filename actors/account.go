package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Messages an account actor receives.
type (
	// Batch asks the account to decide many ops, in order, with one append.
	Batch struct{ Ops []*Op }
	// Effects carries durable events in which the account is a counterparty
	// (payee, fee or chain account), in log order.
	Effects struct{ Events []*ledger.Event }
	// Read asks for the account's balance, and the spend of the spender its
	// op's command budgets if any, answered through Complete once every
	// event of the account it reflects is durable.
	Read struct{ Op *Op }
	// Expire asks the account to expire its due holds.
	Expire struct{}
)

// recordBytesTypical sizes a new log record's buffer to avoid regrowth.
const recordBytesTypical = 128

// accountActor owns one account's state. Receive never blocks on the disk.
type accountActor struct {
	entry   *Entry
	config  *Config
	pending []*wal.Entry // appends of the message being handled
}

func (a *accountActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Op:
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
	case *Read:
		now := a.config.Now()
		a.expireDue(now)
		m.Op.Balance = balanceOf(&a.entry.account)
		if spender := m.Op.Command.Budget.Spender; spender != "" {
			m.Op.Spend = a.entry.account.Spent(spender, now)
		}
		a.replyWhenDurable(m.Op)
	case *Expire:
		a.expireDue(a.config.Now())
	}
	a.flush()
}

// execute decides one op, applies its event in memory and queues it for the
// log; a rejection is answered once the state it was judged on is durable.
func (a *accountActor) execute(op *Op, now int64) {
	a.expireDue(now)
	event, err := ledger.Decide(&a.entry.account, &op.Command, now)
	if err != nil {
		op.Err = err
		a.replyWhenDurable(op)
		return
	}
	a.log(op, event)
	op.Balance = balanceOf(&a.entry.account)
}

func (a *accountActor) expireDue(now int64) {
	for _, event := range ledger.ExpireDue(&a.entry.account, now) {
		a.log(&Op{}, event)
	}
}

// log applies event to the account and queues it, with its transfer index
// entry, for the log.
func (a *accountActor) log(op *Op, event ledger.Event) {
	a.entry.account.Apply(&event)
	op.Event = event
	op.decider = a.entry
	op.logged = true
	// One allocation holds the index key (the client id) and the record.
	id := len(event.ID)
	buffer := append(make([]byte, 0, id+recordBytesTypical), event.ID...)
	record := ledger.AppendEvent(buffer[id:], &op.Event)
	op.index[0] = wal.Put{Key: buffer[:id:id], Value: record}
	op.entry = wal.Entry{Record: record, Index: op.index[:], Token: op}
	a.entry.appended++
	a.pending = append(a.pending, &op.entry)
}

// replyWhenDurable answers an op that logs nothing. If some event of this
// account is still on its way to the disk, the answer rides behind it as a
// barrier, so no reply reveals state that a crash could undo.
func (a *accountActor) replyWhenDurable(op *Op) {
	op.decider = a.entry
	if len(a.pending) == 0 && a.entry.appended == a.entry.durable.Load() {
		a.config.Complete(op)
		return
	}
	op.entry = wal.Entry{Token: op}
	a.pending = append(a.pending, &op.entry)
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
