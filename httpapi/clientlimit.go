package httpapi

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine/access"
)

// Per-client limits of the routes that check credentials. They bound what
// one client can cost the server (bcrypt, rows, memory) and how fast it can
// guess, without one client's abuse reaching anyone else: every limit is
// per client IP, per email or per address, never a pool shared by all.
//
// The client is the TCP peer, ctx.RemoteIP(). X-Forwarded-For and similar
// headers are not read: they say whatever the client writes, so trusting
// them would let each request name a fresh client. Behind a reverse proxy,
// then, every request shares the proxy's bucket; reading a forwarding header
// would need a setting naming the trusted proxies, which Tollway does not
// have.
const (
	// clientShards splits each table so that clients on different shards
	// never wait for one another's lock; 64 is several times the cores a
	// server has, and small enough that a full sweep stays cheap.
	clientShards = 64
	// clientsMax bounds each per-IP table (auth buckets, failed key
	// authentications). Entries hold 16 bytes of key and 32 of state, so a
	// full table is a few MB. An IPv6 client counts by its /64 (see
	// clientOf), so filling a table takes 65,536 /64s: a /48's worth.
	clientsMax = 65_536
	// emailsMax bounds the failed-login table (keys up to emailBytesMax,
	// so at most ~25 MB) and addressesMax the per-address challenge
	// buckets. A full table evicts its idle entries, else its least
	// recently seen one, so cycling names can never grow it.
	emailsMax    = 65_536
	addressesMax = 65_536

	// AuthRateLimitDefault is each client IP's bucket over signup, login,
	// refresh and the two SIWE routes together: a burst of 60, then one a
	// second. A person signing in needs a handful; a script a few per
	// minute. At cost 10 a login is ~50 ms of one core, so one IP at the
	// sustained rate keeps 5% of a core busy, and the bcrypt slots (see
	// passwordHashesDefault) bound all IPs together.
	AuthRateLimitDefault = "60/1m"
	// KeyFailureLimitDefault is each client IP's bucket of failed API key
	// authentications (malformed or unknown keys): 20,
	// then one every 3 s. A misconfigured client exhausts it in seconds and
	// then gets 429 with Retry-After instead of a stream of 401s; a guesser
	// of the 238-bit keys gets nowhere either way, but now without a
	// lookup per guess.
	KeyFailureLimitDefault = "20/1m"
	// addressChallengeLimit is each address's bucket of SIWE challenges: a
	// wallet that fails to sign retries a few times; anyone asking for more
	// challenges for an address is replacing its owner's (see
	// challengesPerAddressMax).
	addressChallengeRequests = 10
	addressChallengeSeconds  = 60

	// loginFailuresFree is how many failed logins an email gets before
	// each further one locks it for loginLockoutBase, doubled per failure
	// up to loginLockoutMax: 5 typos pass; a guesser is held to about one
	// guess per loginLockoutMax. loginFailureMemory is how long a count is
	// kept without a new attempt.
	//
	// NB: the lockout holds whatever the password and wherever the
	// attempt comes from; it is counted per email whether or not the
	// email has a user, so a 429 does not tell which emails exist. It lets
	// anyone delay an email's logins by up to loginLockoutMax at a time,
	// the usual price of stopping online guessing.
	loginFailuresFree  = 5
	loginLockoutBase   = time.Second
	loginLockoutMax    = 15 * time.Minute
	loginFailureMemory = 24 * time.Hour
)

// clientKey is a client's IP as 16 bytes: an IPv4 address mapped into
// IPv6, or an IPv6 address's /64 prefix.
//
// NB: one IPv6 subscriber is routed at least a /64 (RFC 6177) and can
// pick any address in it, so per-address buckets would be as many as
// the client likes: the /64 is the client.
type clientKey [16]byte

// clientOf returns the key of the request's TCP peer, without allocating.
func clientOf(ctx *fasthttp.RequestCtx) clientKey {
	var k clientKey
	ip := ctx.RemoteIP()
	if v4 := ip.To4(); v4 != nil {
		k[10], k[11] = 0xff, 0xff
		copy(k[12:], v4)
		return k
	}
	copy(k[:8], ip)
	return k
}

func hashClient(seed maphash.Seed, k clientKey) uint64 { return maphash.Bytes(seed, k[:]) }

func hashName(seed maphash.Seed, name string) uint64 { return maphash.String(seed, name) }

// clientEntry is one client's state in a clientTable.
type clientEntry struct {
	bucket access.Bucket
	// until ends a penalty or a lockout, in Unix nanoseconds.
	until    int64
	failures uint32
	// seen is the last update, Unix nanoseconds, for eviction.
	seen int64
}

// clientTable is a bounded map from a client (an IP, an email, an address)
// to its limiter state, sharded by a seeded hash so that clients choosing
// their keys cannot pile onto one shard's lock. A shard at its bound makes
// room by dropping its idle entries (untouched for idleAfter and not
// penalized: a token bucket refills completely within its period, so such
// an entry is the same as none), or, if none is idle, the least recently
// seen one.
type clientTable[K comparable] struct {
	seed            maphash.Seed
	hash            func(maphash.Seed, K) uint64
	shardEntriesMax int
	idleAfter       int64 // nanoseconds
	shards          [clientShards]clientShard[K]
}

type clientShard[K comparable] struct {
	mu      sync.Mutex
	entries map[K]clientEntry
	_       [64 - 16]byte // one shard per cache line: no false sharing of locks
}

func newClientTable[K comparable](hash func(maphash.Seed, K) uint64, entriesMax int, idleAfter time.Duration) *clientTable[K] {
	t := &clientTable[K]{seed: maphash.MakeSeed(), hash: hash,
		shardEntriesMax: max(1, entriesMax/clientShards), idleAfter: int64(idleAfter)}
	for i := range t.shards {
		t.shards[i].entries = map[K]clientEntry{}
	}
	return t
}

func (t *clientTable[K]) shard(key K) *clientShard[K] {
	return &t.shards[t.hash(t.seed, key)%clientShards]
}

// get returns key's entry.
func (t *clientTable[K]) get(key K) (clientEntry, bool) {
	sh := t.shard(key)
	sh.mu.Lock()
	e, ok := sh.entries[key]
	sh.mu.Unlock()
	return e, ok
}

// update applies change to key's entry (a zero one if it has none) under
// the shard's lock, and stamps it seen at now.
func (t *clientTable[K]) update(key K, now int64, change func(e *clientEntry)) {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.entries[key]
	if !ok && len(sh.entries) >= t.shardEntriesMax {
		sh.makeRoom(now, t.idleAfter)
	}
	change(&e)
	e.seen = now
	sh.entries[key] = e
}

// remove forgets key.
func (t *clientTable[K]) remove(key K) {
	sh := t.shard(key)
	sh.mu.Lock()
	delete(sh.entries, key)
	sh.mu.Unlock()
}

// len counts the entries, for tests and metrics.
func (t *clientTable[K]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// makeRoom drops the idle entries, or the least recently seen one.
// REQUIRES: sh.mu held.
func (sh *clientShard[K]) makeRoom(now, idleAfter int64) {
	var oldestKey K
	oldest, dropped := int64(math.MaxInt64), false
	for k, e := range sh.entries {
		if now-e.seen >= idleAfter && e.until <= now {
			delete(sh.entries, k)
			dropped = true
		} else if e.seen < oldest {
			oldest, oldestKey = e.seen, k
		}
	}
	if !dropped {
		delete(sh.entries, oldestKey)
	}
}

// rateLimited is the 429 of API.md, with Retry-After at least a second.
func rateLimited(message string, retryAfter uint32) *apiError {
	return &apiError{status: fasthttp.StatusTooManyRequests, kind: typeRateLimit, code: "rate_limited",
		message: message, retryAfter: max(retryAfter, 1)}
}

// authGuard holds the per-client limits of the credential routes, the
// bcrypt slots and the SIWE challenges.
type authGuard struct {
	authLimit       access.RateLimit
	keyFailureLimit access.RateLimit
	// clients are the per-IP buckets of the auth routes.
	clients *clientTable[clientKey]
	// keyFailures are the per-IP buckets of failed key authentications;
	// an entry's until is the end of its penalty.
	keyFailures *clientTable[clientKey]
	// penaltyUntil is the latest end of any key-failure penalty, Unix
	// nanoseconds: before it, a key request looks its client up; after it,
	// no client is penalized and the lookup is skipped.
	penaltyUntil atomic.Int64
	// emails count failed logins; an entry's until ends its lockout.
	emails *clientTable[string]
	// addresses are the per-address buckets of SIWE challenges.
	addresses  *clientTable[string]
	challenges *challengeStore
	passwords  *passwordHasher
}

func newAuthGuard(config *Config) (*authGuard, error) {
	passwords, err := newPasswordHasher(config.PasswordCost, config.PasswordHashesMax)
	if err != nil {
		return nil, err
	}
	period := func(r access.RateLimit) time.Duration { return time.Duration(r.PerSeconds) * time.Second }
	return &authGuard{
		authLimit: config.AuthRateLimit, keyFailureLimit: config.KeyFailureLimit,
		clients:     newClientTable(hashClient, clientsMax, period(config.AuthRateLimit)),
		keyFailures: newClientTable(hashClient, clientsMax, period(config.KeyFailureLimit)),
		emails:      newClientTable(hashName, emailsMax, loginFailureMemory),
		addresses:   newClientTable(hashName, addressesMax, addressChallengeSeconds*time.Second),
		challenges:  newChallengeStore(),
		passwords:   passwords,
	}, nil
}

// defaultAuthLimits fills the zero auth limits with their defaults and
// checks them.
func (c *Config) defaultAuthLimits() error {
	for _, limit := range []struct {
		value    *access.RateLimit
		fallback string
		name     string
	}{{&c.AuthRateLimit, AuthRateLimitDefault, "auth"}, {&c.KeyFailureLimit, KeyFailureLimitDefault, "key failure"}} {
		if *limit.value == (access.RateLimit{}) {
			parsed, err := access.ParseRateLimit(limit.fallback)
			if err != nil {
				return fmt.Errorf("httpapi: default %s rate limit: %w", limit.name, err)
			}
			*limit.value = parsed
		}
		if err := limit.value.Validate(); err != nil {
			return fmt.Errorf("httpapi: %s rate limit: %w", limit.name, err)
		}
	}
	if c.PasswordHashesMax < 0 {
		return fmt.Errorf("httpapi: %d concurrent password hashes, want 0 (default) or more", c.PasswordHashesMax)
	}
	return nil
}

// admitClient spends one request of the client's auth-route bucket.
func (g *authGuard) admitClient(ctx *fasthttp.RequestCtx, now time.Time) *apiError {
	allowed, retryAfter := take(g.clients, clientOf(ctx), g.authLimit, now.UnixNano())
	if !allowed {
		return rateLimited("too many sign-in requests from this client; retry after Retry-After seconds", retryAfter)
	}
	return nil
}

// admitAddress spends one challenge of address's bucket.
func (g *authGuard) admitAddress(address string, now time.Time) *apiError {
	limit := access.RateLimit{Requests: addressChallengeRequests, PerSeconds: addressChallengeSeconds}
	allowed, retryAfter := take(g.addresses, address, limit, now.UnixNano())
	if !allowed {
		return rateLimited("too many sign-in challenges for this address; retry after Retry-After seconds", retryAfter)
	}
	return nil
}

// take spends one request of key's bucket in t.
func take[K comparable](t *clientTable[K], key K, limit access.RateLimit, now int64) (allowed bool, retryAfter uint32) {
	t.update(key, now, func(e *clientEntry) {
		var status access.RateStatus
		allowed, status = e.bucket.Take(limit, now)
		retryAfter = status.RetryAfterSeconds
	})
	return allowed, retryAfter
}

// keyPenalty returns the 429 of a client penalized for failed key
// authentications, or nil.
//
// NB: this is on every key-authenticated request. While no client is
// penalized it costs one atomic load; while one is, a shard lookup that
// does not allocate.
func (g *authGuard) keyPenalty(ctx *fasthttp.RequestCtx, now int64) *apiError {
	if now >= g.penaltyUntil.Load() {
		return nil
	}
	return g.clientPenalty(ctx, now)
}

// clientPenalty is keyPenalty's lookup, apart so that keyPenalty inlines.
func (g *authGuard) clientPenalty(ctx *fasthttp.RequestCtx, now int64) *apiError {
	e, ok := g.keyFailures.get(clientOf(ctx))
	if !ok || now >= e.until {
		return nil
	}
	return errKeyFailures(seconds(e.until - now))
}

// keyFailed counts a failed key authentication of the client: it returns
// failure while the client's bucket allows, and after that a 429 that
// starts the client's penalty.
func (g *authGuard) keyFailed(ctx *fasthttp.RequestCtx, now int64, failure *apiError) *apiError {
	var allowed bool
	var until int64
	g.keyFailures.update(clientOf(ctx), now, func(e *clientEntry) {
		var status access.RateStatus
		allowed, status = e.bucket.Take(g.keyFailureLimit, now)
		if !allowed {
			e.until = now + int64(status.RetryAfterSeconds)*int64(time.Second)
			until = e.until
		}
	})
	if allowed {
		return failure
	}
	for {
		latest := g.penaltyUntil.Load()
		if until <= latest || g.penaltyUntil.CompareAndSwap(latest, until) {
			break
		}
	}
	return errKeyFailures(seconds(until - now))
}

func errKeyFailures(retryAfter uint32) *apiError {
	return rateLimited("too many invalid API keys from this client; retry after Retry-After seconds", retryAfter)
}

// beginLogin counts a login attempt for email before its password is
// checked, or refuses it while the email is locked. Counting first means
// concurrent guesses cannot all slip past the count; a success forgets it
// (loginSucceeded).
func (g *authGuard) beginLogin(email string, now int64) *apiError {
	var locked int64
	g.emails.update(email, now, func(e *clientEntry) {
		if now < e.until {
			locked = e.until - now
			return
		}
		if e.seen != 0 && now-e.seen >= int64(loginFailureMemory) {
			e.failures = 0
		}
		e.failures = min(e.failures+1, math.MaxUint32-1)
		if e.failures >= loginFailuresFree {
			e.until = now + int64(loginLockout(e.failures-loginFailuresFree))
		}
	})
	if locked > 0 {
		return rateLimited("too many failed logins for this email; retry after Retry-After seconds", seconds(locked))
	}
	return nil
}

// loginSucceeded forgets email's failed logins.
func (g *authGuard) loginSucceeded(email string) { g.emails.remove(email) }

// loginLockout is loginLockoutBase doubled beyond times, at most
// loginLockoutMax.
func loginLockout(beyond uint32) time.Duration {
	if beyond >= 20 { // 2^20 s is far past loginLockoutMax; a larger shift overflows
		return loginLockoutMax
	}
	return min(loginLockoutBase<<beyond, loginLockoutMax)
}

// seconds rounds nanoseconds up to whole seconds.
func seconds(nanoseconds int64) uint32 {
	return uint32(min((nanoseconds+int64(time.Second)-1)/int64(time.Second), math.MaxUint32))
}
