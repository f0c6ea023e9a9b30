package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// Noop is the ceiling of the load benchmark: the same fasthttp server
// settings, router, bearer key lookup and request decoding as Server, with
// a fixed reply where Server calls the engine. Every HTTP figure of
// `tollway bench` is divided by this one's, so the ratio is what the
// ledger costs over doing nothing at all.
//
// It leaves out, on purpose, what only exists because of the engine or the
// access layer: the key actor (rate limit, revocation, scopes), the
// idempotency store and metrics. Keys are registered through
// POST /v1/noop/keys, unauthenticated: the server holds no money, and
// cmd/tollway starts it only for the benchmark.
type Noop struct {
	logger     *slog.Logger
	hasher     secretHasher
	requestIDs *requestIDs
	// keys maps the hash of a key to it, in the same map as Server's
	// directory.
	keys      byHash[*noopKey]
	keyCount  atomic.Int64
	router    *router.Router
	transport *transport
	http      *fasthttp.Server
	shutdown  sync.Once
}

// noopKey is a registered key: its hash, compared in constant time as
// Server compares a keyRecord's, and the account it pays from.
type noopKey struct {
	hash    []byte
	account string
}

// Limits of key registration: the body limit bounds one request, these
// bound the map.
const (
	// NoopKeysPerRequestMax bounds the keys of one POST /v1/noop/keys; a
	// key and account take about 110 bytes of JSON, so a full request fits
	// BodyBytesMax.
	NoopKeysPerRequestMax = 5000
	// NoopKeysMax bounds the keys a no-op server holds (about 200 bytes of
	// memory each).
	NoopKeysMax = 1_000_000
)

// Fixed replies, shaped like Server's, of about the same size.
const (
	noopCharge = `{"id":"ch_0000000000000000000000","from":"acct_0000000000000000000000",` +
		`"to":"acct_0000000000000000000001","amount":"1","fee":"0","toAmount":"1",` +
		`"createdAt":"2025-01-01T00:00:00Z","balance":{"available":"999999999999",` +
		`"reserved":"0","posted":"999999999999","pending":"0"},"position":1,"replayed":false}`
	noopRegistered = `{"registered":true}`
)

// NewNoop returns a no-op server with a pepper of its own, logging to
// slog.Default().
func NewNoop() *Noop {
	n := &Noop{
		logger:     slog.Default(),
		hasher:     secretHasher{pepper: randomBytes(32)},
		requestIDs: newRequestIDs(),
	}
	n.router = n.routes()
	// Server's transport, without its connection limits: the benchmark
	// may open more connections from one address than a server would take.
	n.transport = newTransport(n.logger, transportConfig{
		connectionsMax: fasthttp.DefaultConcurrency, perIPMax: fasthttp.DefaultConcurrency,
		bigBodyRoutes: []string{"POST /v1/charges/batch", "POST /v1/noop/keys"},
	})
	n.http = n.transport.httpServer(n.router.Handler, n.requestIDs)
	return n
}

// Serve answers requests on ln until Shutdown.
func (n *Noop) Serve(ln net.Listener) error { return n.http.Serve(n.transport.listen(ln)) }

// Handler returns the request handler, for tests and embedding.
func (n *Noop) Handler() fasthttp.RequestHandler { return n.router.Handler }

// Shutdown stops accepting connections and waits for requests in flight
// until ctx ends.
func (n *Noop) Shutdown(ctx context.Context) error {
	var err error
	n.shutdown.Do(func() { err = n.http.ShutdownWithContext(ctx) })
	return err
}

// routes builds a router set up as Server's.
func (n *Noop) routes() *router.Router {
	r := newRouter(n.logger, n.handle)
	add := func(method, path string, h handler) { r.Handle(method, path, n.handle(path, h)) }

	add("POST", "/v1/noop/keys", n.register)
	add("POST", "/v1/charges", n.charge)
	add("POST", "/v1/charges/batch", n.chargeBatch)
	return r
}

// handle wraps a handler as Server.handle does, less the metrics and the
// idempotency store: a request id, and errors written in API.md's shape.
func (n *Noop) handle(route string, h handler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		c := call{route: route}
		var buf [40]byte
		c.requestID = n.requestIDs.next(buf[:0])
		ctx.Response.Header.SetBytesV("X-Request-Id", c.requestID)
		if err := h(ctx, &c); err != nil {
			n.writeError(ctx, &c, err)
		}
		n.transport.requestDone(ctx)
	}
}

func (n *Noop) writeError(ctx *fasthttp.RequestCtx, c *call, err *apiError) {
	writeError(n.logger, ctx, c, err)
}

// authenticate finds the request's key exactly as Server.authenticateKey
// does, up to where Server asks the key's actor: bearer token, shape,
// HMAC under the pepper, lock-free lookup, constant-time compare.
func (n *Noop) authenticate(ctx *fasthttp.RequestCtx) (account string, apiErr *apiError) {
	token, ok := bearer(ctx)
	if !ok {
		return "", errMissingCredentials
	}
	if !looksLikeKey(token) {
		return "", errInvalidCredentials
	}
	hash := n.hasher.hash(token)
	key, ok := n.keys.load(hash)
	if !ok {
		return "", errInvalidCredentials
	}
	if subtle.ConstantTimeCompare(key.hash, hash) != 1 {
		return "", errInvalidCredentials
	}
	return key.account, nil
}

// charge is POST /v1/charges less the engine: authenticate, decode with
// Server's decoder, read the Idempotency-Key, reply with a fixed charge.
func (n *Noop) charge(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	payer, apiErr := n.authenticate(ctx)
	if apiErr != nil {
		return apiErr
	}
	if _, apiErr = decodeCharge(ctx.PostBody(), payer); apiErr != nil {
		return apiErr
	}
	if _, apiErr = idempotencyKeyOf(ctx); apiErr != nil {
		return apiErr
	}
	writeBody(ctx, fasthttp.StatusCreated, []byte(noopCharge))
	return nil
}

// chargeBatch is POST /v1/charges/batch less the engine: the reply holds
// the fixed charge once per item, as many bytes as Server would write.
func (n *Noop) chargeBatch(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	payer, apiErr := n.authenticate(ctx)
	if apiErr != nil {
		return apiErr
	}
	requests, _, apiErr := decodeBatch(ctx.PostBody(), payer)
	if apiErr != nil {
		return apiErr
	}
	if _, apiErr = idempotencyKeyOf(ctx); apiErr != nil {
		return apiErr
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte {
		buf = append(buf, `{"results":[`...)
		for i := range requests {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, noopCharge...)
		}
		return append(buf, "]}"...)
	})
	return nil
}

// register is POST /v1/noop/keys: {"keys":[{"key":"sk_test_…","account":
// "acct_…"},…]}. Keys are stored by their hash only, as Server stores
// them; registering a key again points it at the new account.
func (n *Noop) register(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	r, release, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	defer release()
	values := r.array("keys", true, NoopKeysPerRequestMax)
	keys := make([]noopKey, 0, len(values))
	for i, item := range values {
		ir := r.item("keys", i, item)
		if ir == nil {
			continue
		}
		key, ok := ir.string("key", true, len("sk_test_")+keySecretChars)
		if ok && !looksLikeKey([]byte(key)) {
			ir.fail("key", "must be an API key (sk_test_ and 40 base62 characters)")
		}
		account, ok := ir.string("account", true, 64)
		if ok && !strings.HasPrefix(account, prefixAccount) {
			ir.fail("account", "must be an account id (acct_…)")
		}
		keys = append(keys, noopKey{hash: n.hasher.hash([]byte(key)), account: account})
	}
	if apiErr := r.finish(); apiErr != nil {
		return apiErr
	}
	if n.keyCount.Add(int64(len(keys))) > NoopKeysMax {
		n.keyCount.Add(-int64(len(keys)))
		return invalid("too_many_keys", fmt.Sprintf("a no-op server holds at most %d keys", NoopKeysMax))
	}
	for i := range keys {
		if n.keys.store(keys[i].hash, &keys[i]) {
			n.keyCount.Add(-1) // replaced, not added
		}
	}
	writeBody(ctx, fasthttp.StatusOK, []byte(noopRegistered))
	return nil
}
