package actors

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tollway/tollway/actors/shardmap"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Log is what the actors need of the write-ahead log.
type Log interface {
	Append(e *wal.Entry)
	AppendBatch(es []*wal.Entry)
}

// Config wires the registry's actors to the rest of the engine.
type Config struct {
	Log Log
	// Now returns the current time in Unix nanoseconds: the ledger's only clock.
	Now func() int64
	// Reply answers an op that logged nothing (a rejection or a read) once
	// nothing of its account is still waiting for the disk.
	Reply func(Op)
	// Expired returns the log entry of a due hold's expiry, which the actor
	// of decider (the hold's payer) has applied.
	Expired func(decider *Entry, event *ledger.Event) *wal.Entry
	// SessionClosed returns the op that carries a session's closing by its
	// timer (an expiry, or the end at its maximum duration) to the payer's
	// actor, which applies and logs it. Nobody waits for it.
	SessionClosed func(session *SessionEntry, event *ledger.Event) Op
	// Failed reports an actor that panicked: its state can no longer be
	// trusted, so the engine must fail closed and recover from the log.
	// who names it: "account <id>", or "session actor <pid>".
	Failed func(who string, reason any)
	Logger *slog.Logger
}

// Registry knows every account and finds or spawns its actor. Accounts are
// addressed by id, never by pointer, so a cluster could place them later.
type Registry struct {
	config   Config
	system   *actor.ActorSystem
	root     *actor.RootContext
	accounts shardmap.Map[ledger.AccountID, *Entry]
	sessions shardmap.Map[ledger.TransferID, *SessionEntry] // the open ones
	count    atomic.Int64
	open     atomic.Int64 // sessions

	sessionActors atomic.Int64
	spawnMu       sync.Mutex // serializes spawning, so an account or a session gets one actor

	// sessionProps spawns every session actor, with one supervisor: a
	// strategy per spawn would give each session a guardian actor of its
	// own, which protoactor keeps for good. Its producers take the
	// session being spawned from spawning, set under spawnMu (Spawn calls
	// them before it returns).
	sessionProps *actor.Props
	spawning     struct {
		entry   *SessionEntry
		mailbox *mailbox
	}
	stopped atomic.Bool
	actors  atomic.Int64
}

// Entry is one account's place in the registry: its state, owned by its
// actor once spawned, and the counters that tell whether any of its events
// still waits for the disk.
type Entry struct {
	account ledger.Account
	fees    ledger.AccountID // the fee account of its ledger, built once
	pid     atomic.Pointer[actor.PID]
	mailbox atomic.Pointer[mailbox] // its actor's, set once spawned

	appended uint64        // events this account's actor appended; actor-only
	durable  atomic.Uint64 // of those, how many are durable; the commit path adds
}

// ID returns the account's id.
func (e *Entry) ID() ledger.AccountID { return e.account.ID }

// Ledger returns the account's ledger. Immutable, so safe from any goroutine.
func (e *Entry) Ledger() ledger.LedgerID { return e.account.Ledger }

// Kind returns the account's kind. Immutable, so safe from any goroutine.
func (e *Entry) Kind() ledger.Kind { return e.account.Kind }

// Known returns what ledger.ResolveKnown needs of the account; a nil entry
// is an account that does not exist. Safe from any goroutine.
func (e *Entry) Known() ledger.Known {
	if e == nil {
		return ledger.Known{}
	}
	return ledger.Known{OK: true, Ledger: e.account.Ledger, Kind: e.account.Kind, Fees: e.fees}
}

// MarkDurable records that one more of the account's events is durable.
// Called by the commit path, in log order.
func (e *Entry) MarkDurable() { e.durable.Add(1) }

// NewRegistry starts an actor system for the engine's accounts.
func NewRegistry(config Config) *Registry {
	logger := config.Logger
	if logger == nil {
		logger = slog.Default()
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("component", "actors")
	}))
	r := &Registry{config: config, system: system, root: system.Root}
	r.accounts.Init()
	r.sessions.Init()
	r.sessionProps = actor.PropsFromProducer(
		func() actor.Actor {
			a := &sessionActor{entry: r.spawning.entry, registry: r}
			r.spawning.mailbox.incarnate(a)
			return a
		},
		actor.WithMailbox(func() actor.Mailbox { return r.spawning.mailbox }),
		actor.WithGuardian(sessionSupervisor{r}),
	)
	return r
}

// Insert adds an account, from recovery or once its creation is durable.
// REQUIRES: no account with the same id exists.
func (r *Registry) Insert(a *ledger.Account) {
	e := &Entry{fees: ledger.FeesAccountID(a.Ledger)}
	e.account = *a.Clone()
	if _, taken := r.accounts.LoadOrStore(a.ID, e); taken {
		panic("actors: account inserted twice: " + string(a.ID))
	}
	r.count.Add(1)
}

// Entry returns the account's entry, or nil if it does not exist.
func (r *Registry) Entry(id ledger.AccountID) *Entry {
	e, _ := r.accounts.Load(id)
	return e
}

// Lookup implements ledger.Directory.
func (r *Registry) Lookup(id ledger.AccountID) (ledger.LedgerID, ledger.Kind, bool) {
	e := r.Entry(id)
	if e == nil {
		return "", 0, false
	}
	return e.account.Ledger, e.account.Kind, true
}

// Len returns the number of accounts.
func (r *Registry) Len() int { return int(r.count.Load()) }

// Send delivers msg to the account's actor, spawning it on first use.
// After Shutdown it drops msg: the actors' state is no longer needed, since
// everything they acknowledged is in the log.
func (r *Registry) Send(e *Entry, msg any) {
	if r.stopped.Load() {
		return
	}
	mb := e.mailbox.Load()
	if mb == nil {
		if mb = r.spawn(e); mb == nil {
			return // shut down meanwhile
		}
	}
	// Straight into the actor's mailbox, as RootContext.Send would (the
	// root has no sender middleware) but without resolving the PID to its
	// process at each send. A stopped actor's mailbox drops the message.
	mb.PostUserMessage(msg)
}

func (r *Registry) spawn(e *Entry) *mailbox {
	r.spawnMu.Lock()
	defer r.spawnMu.Unlock()
	if mb := e.mailbox.Load(); mb != nil || r.stopped.Load() {
		return mb
	}
	id := e.account.ID
	mb := newMailbox()
	props := actor.PropsFromProducer(
		func() actor.Actor {
			a := &accountActor{entry: e, config: &r.config}
			mb.incarnate(a)
			return a
		},
		actor.WithMailbox(func() actor.Mailbox { return mb }),
		actor.WithGuardian(actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
			r.config.Failed("account "+string(id), reason)
			return actor.StopDirective
		})),
	)
	e.pid.Store(r.root.Spawn(props))
	e.mailbox.Store(mb)
	r.actors.Add(1)
	return mb
}

// InsertSession adds an open session, from recovery or once its opening is
// durable; payer is its consumer's entry.
// REQUIRES: no open session with the same id exists.
func (r *Registry) InsertSession(s *ledger.Session, payer *Entry) *SessionEntry {
	e := &SessionEntry{session: *s, payer: payer}
	if _, taken := r.sessions.LoadOrStore(s.ID, e); taken {
		panic("actors: session inserted twice: " + string(s.ID))
	}
	r.open.Add(1)
	return e
}

// Session returns the open session's entry, or nil.
func (r *Registry) Session(id ledger.TransferID) *SessionEntry {
	e, _ := r.sessions.Load(id)
	return e
}

// RemoveSession drops a session once its closing is durable, and stops its
// actor after the messages already in its mailbox (each finds the session
// closed). Later lookups find it in the log's index instead.
func (r *Registry) RemoveSession(e *SessionEntry) {
	if !r.sessions.CompareAndDelete(e.session.ID, e) {
		return
	}
	r.open.Add(-1)
	if pid := e.pid.Load(); pid != nil {
		r.root.Poison(pid)
		r.sessionActors.Add(-1)
	}
}

// Sessions returns how many sessions are open.
func (r *Registry) Sessions() int { return int(r.open.Load()) }

// SendSession delivers msg to the session's actor, spawning it on first
// use. After Shutdown it drops msg.
func (r *Registry) SendSession(e *SessionEntry, msg any) {
	if r.stopped.Load() {
		return
	}
	mb := e.mailbox.Load()
	if mb == nil {
		if mb = r.spawnSession(e); mb == nil {
			return
		}
	}
	mb.PostUserMessage(msg)
}

func (r *Registry) spawnSession(e *SessionEntry) *mailbox {
	r.spawnMu.Lock()
	defer r.spawnMu.Unlock()
	if mb := e.mailbox.Load(); mb != nil || r.stopped.Load() {
		return mb
	}
	mb := newMailbox()
	r.spawning.entry, r.spawning.mailbox = e, mb
	e.pid.Store(r.root.Spawn(r.sessionProps))
	r.spawning.entry, r.spawning.mailbox = nil, nil
	e.mailbox.Store(mb)
	r.sessionActors.Add(1)
	return mb
}

// sessionSupervisor is the supervisor strategy of every session actor: a
// panic stops the actor (it is never restarted with state it cannot
// trust) and fails the engine through Config.Failed.
type sessionSupervisor struct{ r *Registry }

func (s sessionSupervisor) HandleFailure(_ *actor.ActorSystem, supervisor actor.Supervisor, child *actor.PID,
	_ *actor.RestartStatistics, reason, _ any) {
	s.r.config.Failed("session actor "+child.Id, reason)
	supervisor.StopChildren(child)
}

// SessionActors returns how many session actors are alive: open sessions
// that have received a message.
func (r *Registry) SessionActors() int { return int(r.sessionActors.Load()) }

// Actors returns how many account actors are alive.
func (r *Registry) Actors() int { return int(r.actors.Load()) }

// Shutdown stops every actor, each after the messages already in its
// mailbox; later sends are dropped.
func (r *Registry) Shutdown() {
	r.spawnMu.Lock()
	r.stopped.Store(true)
	r.spawnMu.Unlock()
	var stopping []*actor.Future
	r.accounts.Range(func(_ ledger.AccountID, e *Entry) bool {
		if pid := e.pid.Load(); pid != nil {
			stopping = append(stopping, r.root.PoisonFuture(pid))
		}
		return true
	})
	r.sessions.Range(func(_ ledger.TransferID, e *SessionEntry) bool {
		if pid := e.pid.Load(); pid != nil {
			stopping = append(stopping, r.root.PoisonFuture(pid))
		}
		return true
	})
	for _, f := range stopping {
		f.Wait()
	}
	r.system.Shutdown()
}
