package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/directory"
)

// Token settings.
const (
	jwtIssuer       = "tollway"
	jwtAudience     = "tollway-api"
	refreshTokenTTL = 30 * 24 * time.Hour
	// keySecretChars is the length of an API key's random part (API.md).
	keySecretChars = 40
	// refreshSecretChars is the length of a refresh token's random part.
	refreshSecretChars = 40
	// PasswordBytesMax is bcrypt's limit: longer passwords would be cut.
	PasswordBytesMax = 72
	PasswordBytesMin = 8
	// authorizeTimeout bounds the wait for a key actor's answer.
	authorizeTimeout = 5 * time.Second
)

// secretHasher hashes API keys and refresh tokens with HMAC-SHA256 under a
// server secret (a pepper): the store holds only these hashes, and without
// the pepper they cannot even be checked against guesses.
//
// Hand-written for the hot path (every API key request hashes its key): the
// HMACs are pooled and Reset, which restores their keyed state, instead of
// made per request. hmac.New cost 5 allocations and the two SHA-256 blocks
// of its key schedule per request, and Sum(nil) a sixth allocation; with
// the pool sum allocates nothing (BenchmarkChargeAllocs: 46 -> 40 allocs
// per HTTP charge). The hashes are HMAC-SHA256's, unchanged
// (TestSecretHasherMatchesHMAC).
type secretHasher struct {
	pepper []byte
	macs   *sync.Pool // of *pooledMAC under pepper
}

// pooledMAC is an HMAC and the buffer it sums into (a local array would
// escape through the hash.Hash interface).
type pooledMAC struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func newSecretHasher(pepper []byte) secretHasher {
	return secretHasher{pepper: pepper, macs: &sync.Pool{New: func() any {
		return &pooledMAC{mac: hmac.New(sha256.New, pepper)}
	}}}
}

// sum returns secret's HMAC, allocating nothing.
func (h secretHasher) sum(secret []byte) [sha256.Size]byte {
	p := h.macs.Get().(*pooledMAC)
	p.mac.Write(secret)
	p.mac.Sum(p.sum[:0])
	p.mac.Reset()
	sum := p.sum
	h.macs.Put(p)
	return sum
}

// hash returns secret's HMAC in a slice of its own, to store.
func (h secretHasher) hash(secret []byte) []byte {
	sum := h.sum(secret)
	return sum[:]
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(ctx *fasthttp.RequestCtx) ([]byte, bool) {
	header := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const scheme = "Bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(string(header[:len(scheme)]), scheme) {
		return nil, false
	}
	return bytes.TrimSpace(header[len(scheme):]), true
}

// ---- access JWTs

type accessClaims struct {
	jwt.RegisteredClaims
}

func (s *Server) issueAccessToken(user string, now time.Time) (string, error) {
	claims := accessClaims{jwt.RegisteredClaims{
		Issuer:    jwtIssuer,
		Audience:  jwt.ClaimStrings{jwtAudience},
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(s.config.AccessTokenTTL)),
		ID:        randomBase62(16),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.config.JWTSecret)
}

// authenticateUser checks the request's access JWT and returns its user.
// The algorithm is pinned to HS256: "none" and every other alg are refused
// before any key is used.
func (s *Server) authenticateUser(ctx *fasthttp.RequestCtx) (access.User, *apiError) {
	token, ok := bearer(ctx)
	if !ok {
		return access.User{}, errMissingCredentials
	}
	now := s.now()
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(jwtIssuer), jwt.WithAudience(jwtAudience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var claims accessClaims
	_, err := parser.ParseWithClaims(string(token), &claims, func(*jwt.Token) (any, error) { return s.config.JWTSecret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return access.User{}, errTokenExpired
	case err != nil || claims.IssuedAt == nil:
		return access.User{}, errInvalidCredentials
	}
	user, err := s.directory.User(claims.Subject)
	if err != nil { // the token's user is gone
		return access.User{}, errInvalidCredentials
	}
	// NB: iat has one-second resolution; a token from the same second as a
	// sign-out everywhere is refused too.
	if !user.SignedOutAt.IsZero() && !claims.IssuedAt.After(user.SignedOutAt.Truncate(time.Second)) {
		return access.User{}, errInvalidCredentials
	}
	return user, nil
}

// ---- refresh tokens: "rt_" + family id + secret

func (s *Server) newRefreshToken() (family, token string) {
	family = randomBase62(idChars)
	return family, prefixFamily + family + randomBase62(refreshSecretChars)
}

// parseRefreshToken returns the family a refresh token names.
func parseRefreshToken(token string) (family string, ok bool) {
	if len(token) != len(prefixFamily)+idChars+refreshSecretChars || !strings.HasPrefix(token, prefixFamily) {
		return "", false
	}
	return token[len(prefixFamily) : len(prefixFamily)+idChars], true
}

// ---- passwords

// passwordWaitMax bounds the wait for a bcrypt slot. At cost 10 a hash
// takes ~50 ms of a core, so within a second a slot serves ~20 requests:
// a waiter that gets none by then is behind a backlog it is better told
// about (429, Retry-After) than left to time out.
const passwordWaitMax = time.Second

// passwordHashesDefault is how many bcrypt computations run at once unless
// configured: half the cores, at least one. bcrypt is pure CPU and
// unauthenticated routes can ask for it; capping it at half of GOMAXPROCS
// leaves the other half to charges however many logins arrive.
func passwordHashesDefault() int { return max(1, runtime.GOMAXPROCS(0)/2) }

var errPasswordsBusy = rateLimited("too many sign-ins are being checked right now; retry shortly", 1)

// passwordHasher runs bcrypt at the configured cost in at most cap(slots)
// goroutines at once, and keeps a dummy hash of that same cost for logins
// of unknown emails.
type passwordHasher struct {
	cost  int
	slots chan struct{}
	// dummy is compared against when an email is unknown: its cost is the
	// configured one, so an unknown email takes as long as a wrong
	// password and timing does not tell which emails exist.
	dummy []byte
	// waitMax is passwordWaitMax in nanoseconds; hook, when set, runs
	// while a slot is held. Tests change both on a running server.
	waitMax atomic.Int64
	hook    atomic.Pointer[func()]
}

func newPasswordHasher(cost, slots int) (*passwordHasher, error) {
	if slots <= 0 {
		slots = passwordHashesDefault()
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomBase62(24)), cost)
	if err != nil {
		return nil, fmt.Errorf("httpapi: dummy password hash at cost %d: %w", cost, err)
	}
	p := &passwordHasher{cost: cost, slots: make(chan struct{}, slots), dummy: dummy}
	p.waitMax.Store(int64(passwordWaitMax))
	return p, nil
}

// acquire takes a bcrypt slot, waiting at most passwordWaitMax.
func (p *passwordHasher) acquire() bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	timer := time.NewTimer(time.Duration(p.waitMax.Load()))
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	}
}

func (p *passwordHasher) release() { <-p.slots }

func (p *passwordHasher) run(work func()) *apiError {
	if !p.acquire() {
		return errPasswordsBusy
	}
	defer p.release()
	if hook := p.hook.Load(); hook != nil {
		(*hook)()
	}
	work()
	return nil
}

// hash returns password's bcrypt hash.
func (p *passwordHasher) hash(password string) ([]byte, *apiError) {
	var hash []byte
	var err error
	if busy := p.run(func() { hash, err = bcrypt.GenerateFromPassword([]byte(password), p.cost) }); busy != nil {
		return nil, busy
	}
	if err != nil {
		return nil, errInternal
	}
	return hash, nil
}

// matches reports whether password is hash's, or the dummy's when hash is
// nil.
//
// NB: bcrypt compares in constant time, and the dummy costs what a real
// hash does, so only the answer tells a wrong password from an unknown
// email.
func (p *passwordHasher) matches(hash []byte, password string) (bool, *apiError) {
	if hash == nil {
		hash = p.dummy
	}
	var err error
	if busy := p.run(func() { err = bcrypt.CompareHashAndPassword(hash, []byte(password)) }); busy != nil {
		return false, busy
	}
	return err == nil, nil
}

// ---- admin token

func (s *Server) authenticateAdmin(ctx *fasthttp.RequestCtx) *apiError {
	token, ok := bearer(ctx)
	if !ok {
		return errMissingCredentials
	}
	sum := sha256.Sum256(token)
	if subtle.ConstantTimeCompare(sum[:], s.config.AdminTokenHash) != 1 {
		return errInvalidCredentials
	}
	return nil
}

// ---- API keys

// keyGrant is an authorized API key request: the key, its account, and the
// bucket state for the RateLimit-* headers.
type keyGrant struct {
	key     *directory.Key
	account string
	env     access.Environment
}

// authenticateKey finds the request's API key by the hash of its bearer
// token and asks the key's actor to authorize scope. It sets the rate limit
// headers whenever a key was found.
func (s *Server) authenticateKey(ctx *fasthttp.RequestCtx, scope access.Scope) (keyGrant, *apiError) {
	token, ok := bearer(ctx)
	if !ok {
		return keyGrant{}, errMissingCredentials
	}
	now := s.now().UnixNano()
	// A client that sent too many invalid keys is refused before any
	// lookup; otherwise this costs one atomic load (clientlimit.go).
	if apiErr := s.guard.keyPenalty(ctx, now); apiErr != nil {
		return keyGrant{}, apiErr
	}
	if !looksLikeKey(token) {
		return keyGrant{}, s.guard.keyFailed(ctx, now, errInvalidCredentials)
	}
	hash := s.hasher.sum(token)
	record := s.directory.KeyByHash(hash[:])
	if record == nil || subtle.ConstantTimeCompare(record.Hash(), hash[:]) != 1 {
		return keyGrant{}, s.guard.keyFailed(ctx, now, errInvalidCredentials)
	}
	ask := authorizations.Get().(*actors.Authorize)
	ask.Scope, ask.Now = scope, now
	if !s.keyActors.Send(record.Actor(), ask) {
		return keyGrant{}, errUnavailable
	}
	answer, ok := awaitAuthorization(ask)
	if !ok {
		return keyGrant{}, errUnavailable // the late answer lands in the abandoned channel
	}
	if answer.Rate.Limit > 0 {
		setRateHeaders(ctx, answer.Rate)
	}
	if answer.Err != nil {
		if errors.Is(answer.Err, access.ErrRateLimited) {
			return keyGrant{}, &apiError{status: fasthttp.StatusTooManyRequests, kind: typeRateLimit, code: "rate_limited",
				message: "the API key's rate limit is exhausted", retryAfter: answer.Rate.RetryAfterSeconds}
		}
		return keyGrant{}, errorOf(answer.Err, "key")
	}
	return keyGrant{key: record, account: answer.Account, env: answer.Environment}, nil
}

// awaitAuthorization returns the answer to ask, or false after
// authorizeTimeout. ask, with its reply channel, goes back to its pool only
// once answered: the actor is done with it then. Pooling the message saves
// the one allocation per request it cost (BenchmarkChargeAllocs: 29 -> 28).
//
// NB: the actor usually ran on the sending goroutine (its mailbox was
// idle), so the answer is already there: only a busy key pays for a timer.
func awaitAuthorization(ask *actors.Authorize) (actors.Authorization, bool) {
	var answer actors.Authorization
	select {
	case answer = <-ask.Reply:
	default:
		timer := time.NewTimer(authorizeTimeout)
		defer timer.Stop()
		select {
		case answer = <-ask.Reply:
		case <-timer.C:
			return actors.Authorization{}, false
		}
	}
	authorizations.Put(ask)
	return answer, true
}

// looksLikeKey checks the shape of an API key before hashing it: sk_ or pk_,
// test or live, then keySecretChars base62 characters.
func looksLikeKey(token []byte) bool {
	const stem = len("sk_test_")
	if len(token) != stem+keySecretChars {
		return false
	}
	kind, env := string(token[:3]), string(token[3:8])
	if (kind != "sk_" && kind != "pk_") || (env != "test_" && env != "live_") {
		return false
	}
	for _, c := range token[stem:] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// setRateHeaders writes the key's bucket. The numbers are formatted into a
// stack buffer that fasthttp copies: uitoa allocated a string for each
// number above 99 (strconv keeps the smaller ones), one or two per request.
func setRateHeaders(ctx *fasthttp.RequestCtx, rate access.RateStatus) {
	h := &ctx.Response.Header
	var buf [20]byte
	h.SetBytesV("RateLimit-Limit", strconv.AppendUint(buf[:0], uint64(rate.Limit), 10))
	h.SetBytesV("RateLimit-Remaining", strconv.AppendUint(buf[:0], uint64(rate.Remaining), 10))
	h.SetBytesV("RateLimit-Reset", strconv.AppendUint(buf[:0], uint64(rate.ResetSeconds), 10))
}

// ctxOf returns a context for engine calls of a request: fasthttp's
// RequestCtx is a context.Context whose Done closes at server shutdown.
func ctxOf(ctx *fasthttp.RequestCtx) context.Context { return ctx }
