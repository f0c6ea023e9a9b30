package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// SessionOp is one of the engine's session transitions as a session's actor
// sees it. The actor first closes the session if its timer is due, then
// lets the op decide against the session. An opening or a closing event
// changes money, so the payer's account applies it: a closing op goes on to
// the payer's actor as an Op, whose Decide checks the reservation and
// returns the event the session decided. A transition that changes only
// the session (accept, start) is logged by the session's actor itself.
type SessionOp interface {
	Op
	// DecideSession judges the op against s at now and returns the event
	// to apply, or nil when the op logs nothing (a rejection): it has then
	// recorded its answer. It runs on the session's actor, reads s and
	// must neither change it nor block.
	DecideSession(s *ledger.Session, now int64) *ledger.Event
	// LoggedSession returns the log entry of the event DecideSession
	// returned, which does not close the session, once s has applied it.
	LoggedSession(s *ledger.Session) *wal.Entry
}

// SessionTimeout asks a session's actor to close it if its timer is due.
type SessionTimeout struct{}

// SessionEntry is one open session's place in the registry: its state,
// owned by its actor once spawned, its payer's entry, and the counters
// that tell whether any of its events still waits for the disk.
type SessionEntry struct {
	session ledger.Session
	payer   *Entry
	pid     atomic.Pointer[actor.PID]
	mailbox atomic.Pointer[mailbox]

	appended uint64        // events of this session sent to the log (or to the payer); actor-only
	durable  atomic.Uint64 // of those, how many are durable; the commit path adds
}

// Payer returns the entry of the session's consumer, whose actor applies
// its openings and closings.
func (s *SessionEntry) Payer() *Entry { return s.payer }

// MarkDurable records that one more of the session's events is durable.
// Called by the commit path, in log order.
func (s *SessionEntry) MarkDurable() { s.durable.Add(1) }

// sessionActor owns one open session: it serializes the session's
// transitions, decides them (ledger.DecideSession, through the op) and
// fires its timers. Receive never blocks on the disk.
type sessionActor struct {
	entry    *SessionEntry
	registry *Registry
}

func (a *sessionActor) Receive(ctx actor.Context) { a.handle(ctx.Message()) }

func (a *sessionActor) handle(msg any) bool {
	now := a.registry.config.Now()
	switch m := msg.(type) {
	case SessionOp:
		a.closeDue(now)
		a.execute(m, now)
	case *SessionTimeout:
		a.closeDue(now)
	default:
		return false
	}
	return true
}

// closeDue closes the session if its timer has fired by now, whoever
// noticed first: the sweeper's timeout, or a transition asked for after
// the deadline (which then finds the session closed).
func (a *sessionActor) closeDue(now int64) {
	event, due := a.entry.session.Due(now)
	if !due {
		return
	}
	a.close(a.registry.config.SessionClosed(a.entry, &event), &event)
}

func (a *sessionActor) execute(op SessionOp, now int64) {
	event := op.DecideSession(&a.entry.session, now)
	switch {
	case event == nil:
		a.replyWhenDurable(op)
	case event.Type.IsSessionClose():
		a.close(op, event)
	default:
		a.entry.session.Apply(event)
		a.entry.appended++
		a.registry.config.Log.Append(op.LoggedSession(&a.entry.session))
	}
}

// close applies the closing event to the session and hands it to the
// payer's actor, which applies its money and logs it: one event for both.
// Every later transition finds the session closed; the engine drops it
// from the registry once the event is durable.
func (a *sessionActor) close(op Op, event *ledger.Event) {
	a.entry.session.Apply(event)
	a.entry.appended++
	a.registry.Send(a.entry.payer, op)
}

// replyWhenDurable answers an op that logs nothing once every event of the
// session it may have seen is durable: at once if none is on its way; else
// behind them, as a barrier. A closing event is on its way through the
// payer's actor, so the barrier follows it there (the op, which decided
// nothing, decides nothing there either).
func (a *sessionActor) replyWhenDurable(op SessionOp) {
	switch {
	case a.entry.appended == a.entry.durable.Load():
		a.registry.config.Reply(op)
	case !a.entry.session.State.IsOpen():
		a.registry.Send(a.entry.payer, op)
	default:
		a.registry.config.Log.Append(op.Barrier())
	}
}
