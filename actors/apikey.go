package actors

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tollway/tollway/engine/access"
)

// Messages an API key actor receives.
type (
	// Authorize asks whether a request with the key may go on with Scope at
	// Now (Unix nanoseconds): the key must be valid, its bucket must hold a
	// token, and it must carry the scope. The answer goes to Reply, which
	// must have room for it.
	Authorize struct {
		Scope access.Scope
		Now   int64
		Reply chan Authorization
	}
)

// Authorization is a key actor's answer.
type Authorization struct {
	// Err is nil, or access.ErrKeyRevoked, ErrKeyExpired, ErrRateLimited or
	// ErrMissingScope.
	Err error
	// Account is the account the key acts for: the payer of its charges.
	Account     string
	Environment access.Environment
	// Rate is the state of the key's bucket after this request; zero when
	// the key is revoked or expired (no bucket is consulted).
	Rate access.RateStatus
}

// KeyRef is the address of one API key's actor, spawned on first use.
//
// Who owns what: the key's record is not here. Its owner (the access
// directory) keeps the one current version behind the atomic pointer it
// gives NewKeyRef, publishing a new, never again modified access.Key once a
// change is durable; the actor reads that pointer at each request, so a
// request it answers after a publication sees the change. The actor owns
// only what is per key and mutable: its token bucket.
type KeyRef struct {
	key *atomic.Pointer[access.Key]
	mu  sync.Mutex              // serializes spawning
	mb  atomic.Pointer[mailbox] // the actor's, set once spawned
}

// NewKeyRef returns the address of the actor of the key whose current
// record key points to; key must hold one before the first Send. Nothing is
// spawned yet.
func NewKeyRef(key *atomic.Pointer[access.Key]) *KeyRef { return &KeyRef{key: key} }

// keyActor owns one API key's token bucket, so requests with one key are
// checked in order with no lock, and different keys never contend.
type keyActor struct {
	key    *atomic.Pointer[access.Key] // the owner's record (see KeyRef)
	bucket access.Bucket
}

// Receive takes protoactor's own messages; the mailbox hands requests to
// handle.
func (a *keyActor) Receive(ctx actor.Context) { a.handle(ctx.Message()) }

func (a *keyActor) handle(msg any) bool {
	m, ok := msg.(*Authorize)
	if ok {
		m.Reply <- a.authorize(m.Scope, m.Now)
	}
	return ok
}

func (a *keyActor) authorize(scope access.Scope, now int64) Authorization {
	key := a.key.Load()
	answer := Authorization{Account: key.Account, Environment: key.Environment}
	// A dead key is refused before its bucket is touched: its requests must
	// not drain a rate limit a rotated successor might share nothing with.
	if err := key.Authorize(0, time.Unix(0, now)); err != nil {
		answer.Err = err
		return answer
	}
	allowed, rate := a.bucket.Take(key.RateLimit, now)
	answer.Rate = rate
	switch {
	case !allowed:
		answer.Err = access.ErrRateLimited
	case !key.Scopes.Has(scope):
		answer.Err = key.Authorize(scope, time.Unix(0, now))
	}
	return answer
}

// Keys finds or spawns API key actors. The HTTP layer owns one, beside the
// engine's account registry: keys never touch the ledger themselves.
type Keys struct {
	logger  *slog.Logger
	system  *actor.ActorSystem
	root    *actor.RootContext
	spawnMu sync.Mutex // serializes spawning against Shutdown
	stopped atomic.Bool
	pids    []*actor.PID // guarded by spawnMu
}

// NewKeys starts an actor system for API keys.
func NewKeys(logger *slog.Logger) *Keys {
	if logger == nil {
		logger = slog.Default()
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("component", "key-actors")
	}))
	return &Keys{logger: logger, system: system, root: system.Root}
}

// Send delivers msg to the key's actor, spawning it on first use. It
// reports false after Shutdown, when msg is dropped.
func (k *Keys) Send(ref *KeyRef, msg any) bool {
	if k.stopped.Load() {
		return false
	}
	mb := ref.mb.Load()
	if mb == nil {
		if mb = k.spawn(ref); mb == nil {
			return false
		}
	}
	// As Registry.Send: into the mailbox, which drops msg once the actor
	// has stopped.
	mb.PostUserMessage(msg)
	return true
}

func (k *Keys) spawn(ref *KeyRef) *mailbox {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	if mb := ref.mb.Load(); mb != nil {
		return mb
	}
	k.spawnMu.Lock()
	defer k.spawnMu.Unlock()
	if k.stopped.Load() {
		return nil
	}
	key := ref.key
	mb := newMailbox() // runs Receive on the sender: it never blocks, Reply has room
	props := actor.PropsFromProducer(
		func() actor.Actor {
			a := &keyActor{key: key}
			mb.incarnate(a)
			return a
		},
		actor.WithMailbox(func() actor.Mailbox { return mb }),
		actor.WithGuardian(actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
			k.logger.Error("API key actor failed; its requests now time out", "key", key.Load().ID, "reason", reason)
			return actor.StopDirective
		})),
	)
	k.pids = append(k.pids, k.root.Spawn(props))
	ref.mb.Store(mb)
	return mb
}

// Alive returns how many key actors were spawned.
func (k *Keys) Alive() int {
	k.spawnMu.Lock()
	defer k.spawnMu.Unlock()
	return len(k.pids)
}

// Shutdown stops every key actor after the messages in its mailbox; later
// sends are dropped.
func (k *Keys) Shutdown() {
	k.spawnMu.Lock()
	k.stopped.Store(true)
	pids := k.pids
	k.spawnMu.Unlock()
	stopping := make([]*actor.Future, len(pids))
	for i, pid := range pids {
		stopping[i] = k.root.PoisonFuture(pid)
	}
	for _, f := range stopping {
		f.Wait()
	}
	k.system.Shutdown()
}
