package actors

import (
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Op is one of the engine's operations as an account actor sees it: the
// engine owns the type and its kinds (commands, reads), the actor only
// serializes them on its account. For each op the actor expires the
// account's due holds, lets the op decide, applies the event decided, if
// any, and appends the op's log entry; an op that logs nothing is answered
// through Config.Reply as soon as every event of the account it saw is
// durable. A logged op is answered by the log's commit callback.
//
// An Op is sent to its account's actor as the message itself (Registry.Send)
// or in a Batch.
type Op interface {
	// Decide judges the op against account at now and returns the event
	// to apply and log, or nil when the op logs nothing (a read, or a
	// rejection): Decide has then recorded its answer. It runs on the
	// actor; it reads account and must neither change it nor block.
	Decide(account *ledger.Account, now int64) *ledger.Event
	// Logged returns the log entry that carries the event Decide returned,
	// once the actor has applied it: account is the state right after it.
	Logged(account *ledger.Account) *wal.Entry
	// Barrier returns an entry with no record that carries an op that
	// logged nothing, appended behind its account's events still on their
	// way to the disk, so that its answer leaves after them.
	Barrier() *wal.Entry
}
