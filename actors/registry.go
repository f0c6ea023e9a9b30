package actors

import (
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

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
	// Complete publishes an op that needs no log entry (a rejection or a read)
	// once nothing of its account is still waiting for the disk.
	Complete func(*Op)
	// Failed reports an actor that panicked: its state can no longer be
	// trusted, so the engine must fail closed and recover from the log.
	Failed func(account ledger.AccountID, reason any)
	Logger *slog.Logger
}

// registryShardCount spreads the account map over independent locks, so
// lookups on the hot path do not contend.
const registryShardCount = 256

// Registry knows every account and finds or spawns its actor. Accounts are
// addressed by id, never by pointer, so a cluster could place them later.
type Registry struct {
	config Config
	system *actor.ActorSystem
	root   *actor.RootContext
	seed   maphash.Seed
	shards [registryShardCount]registryShard
}

type registryShard struct {
	mu       sync.RWMutex
	accounts map[ledger.AccountID]*Entry
}

// Entry is one account's place in the registry: its state, owned by its
// actor once spawned, and the counters that tell whether any of its events
// still waits for the disk.
type Entry struct {
	account ledger.Account
	pid     atomic.Pointer[actor.PID]

	appended uint64        // events this account's actor appended; actor-only
	durable  atomic.Uint64 // of those, how many are durable; the commit path adds
}

// ID returns the account's id.
func (e *Entry) ID() ledger.AccountID { return e.account.ID }

// Ledger returns the account's ledger. Immutable, so safe from any goroutine.
func (e *Entry) Ledger() ledger.LedgerID { return e.account.Ledger }

// Kind returns the account's kind. Immutable, so safe from any goroutine.
func (e *Entry) Kind() ledger.Kind { return e.account.Kind }

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
	r := &Registry{config: config, system: system, root: system.Root, seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].accounts = make(map[ledger.AccountID]*Entry)
	}
	return r
}

func (r *Registry) shard(id ledger.AccountID) *registryShard {
	return &r.shards[maphash.String(r.seed, string(id))%registryShardCount]
}

// Insert adds an account, from recovery or once its creation is durable.
// REQUIRES: no account with the same id exists.
func (r *Registry) Insert(a *ledger.Account) {
	s := r.shard(a.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts[a.ID] != nil {
		panic("actors: account inserted twice: " + string(a.ID))
	}
	e := &Entry{}
	e.account = *a.Clone()
	s.accounts[a.ID] = e
}

// Entry returns the account's entry, or nil if it does not exist.
func (r *Registry) Entry(id ledger.AccountID) *Entry {
	s := r.shard(id)
	s.mu.RLock()
	e := s.accounts[id]
	s.mu.RUnlock()
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
func (r *Registry) Len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		n += len(s.accounts)
		s.mu.RUnlock()
	}
	return n
}

// Send delivers msg to the account's actor, spawning it on first use.
func (r *Registry) Send(e *Entry, msg any) {
	pid := e.pid.Load()
	if pid == nil {
		pid = r.spawn(e)
	}
	r.root.Send(pid, msg)
}

func (r *Registry) spawn(e *Entry) *actor.PID {
	s := r.shard(e.account.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if pid := e.pid.Load(); pid != nil {
		return pid
	}
	id := e.account.ID
	props := actor.PropsFromProducer(
		func() actor.Actor { return &accountActor{entry: e, config: &r.config} },
		actor.WithGuardian(actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
			r.config.Failed(id, reason)
			return actor.StopDirective
		})),
	)
	pid := r.root.Spawn(props)
	e.pid.Store(pid)
	return pid
}

// Actors returns how many account actors are alive.
func (r *Registry) Actors() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, e := range s.accounts {
			if e.pid.Load() != nil {
				n++
			}
		}
		s.mu.RUnlock()
	}
	return n
}

// Shutdown stops every actor. REQUIRES: no more sends.
func (r *Registry) Shutdown() {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for _, e := range s.accounts {
			if pid := e.pid.Load(); pid != nil {
				r.root.StopFuture(pid).Wait()
				e.pid.Store(nil)
			}
		}
		s.mu.Unlock()
	}
	r.system.Shutdown()
}
