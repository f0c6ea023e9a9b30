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
	// KeyChanged replaces the actor's copy of the key's record once the
	// change is durable; Done is closed once later requests see it.
	KeyChanged struct {
		Key  access.Key
		Done chan struct{}
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

// KeyRef is the address of one API key's actor: spawned on first use, from
// the latest record the registry was given.
type KeyRef struct {
	mu  sync.Mutex // guards key until the actor is spawned, and spawning
	key access.Key
	pid atomic.Pointer[actor.PID]
}

// NewKeyRef returns the address of key's actor. Nothing is spawned yet.
func NewKeyRef(key access.Key) *KeyRef { return &KeyRef{key: key} }

// keyActor owns one API key's authorization state and its token bucket, so
// requests with one key are checked in order with no lock, and different
// keys never contend.
type keyActor struct {
	key    access.Key
	bucket access.Bucket
}

func (a *keyActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Authorize:
		m.Reply <- a.authorize(m.Scope, m.Now)
	case *KeyChanged:
		a.key = m.Key
		close(m.Done)
	}
}

func (a *keyActor) authorize(scope access.Scope, now int64) Authorization {
	answer := Authorization{Account: a.key.Account, Environment: a.key.Environment}
	// A dead key is refused before its bucket is touched: its requests must
	// not drain a rate limit a rotated successor might share nothing with.
	if err := a.key.Authorize(0, time.Unix(0, now)); err != nil {
		answer.Err = err
		return answer
	}
	allowed, rate := a.bucket.Take(a.key.RateLimit, now)
	answer.Rate = rate
	switch {
	case !allowed:
		answer.Err = access.ErrRateLimited
	case !a.key.Scopes.Has(scope):
		answer.Err = a.key.Authorize(scope, time.Unix(0, now))
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
	pid := ref.pid.Load()
	if pid == nil {
		if pid = k.spawn(ref); pid == nil {
			return false
		}
	}
	k.root.Send(pid, msg)
	return true
}

// Update hands a key's actor the key's new durable record and waits until
// requests after it see the change.
func (k *Keys) Update(ref *KeyRef, key access.Key) {
	ref.mu.Lock()
	if ref.pid.Load() == nil {
		ref.key = key // not spawned: the actor will start from this record
		ref.mu.Unlock()
		return
	}
	ref.mu.Unlock()
	done := make(chan struct{})
	if k.Send(ref, &KeyChanged{Key: key, Done: done}) {
		<-done
	}
}

func (k *Keys) spawn(ref *KeyRef) *actor.PID {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	if pid := ref.pid.Load(); pid != nil {
		return pid
	}
	k.spawnMu.Lock()
	defer k.spawnMu.Unlock()
	if k.stopped.Load() {
		return nil
	}
	key := ref.key
	props := actor.PropsFromProducer(
		func() actor.Actor { return &keyActor{key: key} },
		actor.WithDispatcher(inline), // Receive never blocks: Reply has room
		actor.WithGuardian(actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
			k.logger.Error("API key actor failed; its requests now time out", "key", key.ID, "reason", reason)
			return actor.StopDirective
		})),
	)
	pid := k.root.Spawn(props)
	ref.pid.Store(pid)
	k.pids = append(k.pids, pid)
	return pid
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
