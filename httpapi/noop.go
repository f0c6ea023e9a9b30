package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/actors/shardmap"
)

// ChargeFront is Server's charge path up to the engine: the same fasthttp
// settings, transport, router, request ids, error shape, bearer key lookup
// and request decoding, with replies its maker supplies where Server calls
// the engine. The load benchmark's no-op server (bench/noop) is built on
// it, so the ceiling every HTTP figure is divided by pays for everything but
// the ledger.
//
// It leaves out, on purpose, what only exists because of the engine or the
// access layer: the key actor (rate limit, revocation, scopes), the
// idempotency store and metrics. Server never builds one: a ChargeFront
// serves only POST /v1/charges and /v1/charges/batch, both key-authenticated,
// and the routes its maker adds (ChargeFrontConfig.Routes). Keys are given
// through AddKeys, a Go call, not a route.
type ChargeFront struct {
	config     ChargeFrontConfig
	logger     *slog.Logger
	hasher     secretHasher
	requestIDs *requestIDs
	// keys maps the hash of a key to it, in the same index as Server's
	// directory.
	keys      shardmap.Map[string, *frontKey]
	router    *router.Router
	transport *transport
	http      *fasthttp.Server
	shutdown  sync.Once
}

// ChargeFrontConfig says what a ChargeFront answers.
type ChargeFrontConfig struct {
	// Logger receives the transport's and the router's errors;
	// slog.Default() when nil.
	Logger *slog.Logger
	// Charge appends the 201 body answering an authenticated, valid
	// POST /v1/charges of payer to buf.
	Charge func(buf []byte, payer string) []byte
	// ChargeBatch appends the 200 body answering a valid batch of n charges.
	ChargeBatch func(buf []byte, payer string, n int) []byte
	// Routes are served beside the charge routes, through the same request
	// ids and error shape, and are the maker's to authenticate.
	Routes []FrontRoute
}

// FrontRoute is a route its maker adds to a ChargeFront.
type FrontRoute struct {
	Method, Path string
	// BigBody lets the route's bodies up to BodyBytesMax through, as the
	// batch route's (within the transport's body budget); otherwise
	// bodySmallBytesMax bounds them, as on every other route.
	BigBody bool
	// Handle answers the request. An error it returns is answered 400 in
	// the error shape: a *FrontError with its code, any other error as
	// validation_failed with the error's text.
	Handle func(ctx *fasthttp.RequestCtx) error
}

// FrontError is a FrontRoute's refusal with a code of its own.
type FrontError struct {
	Code, Message string
}

func (e *FrontError) Error() string { return e.Code + ": " + e.Message }

// frontKey is a key added to a ChargeFront: its hash, compared in constant
// time as Server compares a keyRecord's, and the account it pays from.
type frontKey struct {
	hash    []byte
	account string
}

// FrontKey is a key AddKeys adds and the account its charges pay from.
type FrontKey struct {
	Key     string `json:"key"`     // sk_test_ or sk_live_ and 40 base62 characters
	Account string `json:"account"` // acct_…
}

// NewChargeFront returns a ChargeFront with a pepper of its own.
func NewChargeFront(config ChargeFrontConfig) (*ChargeFront, error) {
	if config.Charge == nil || config.ChargeBatch == nil {
		return nil, errors.New("httpapi: a ChargeFront needs its Charge and ChargeBatch replies")
	}
	logger := config.Logger
	if logger == nil {
		logger = slog.Default()
	}
	f := &ChargeFront{
		config:     config,
		logger:     logger,
		hasher:     newSecretHasher(randomBytes(32)),
		requestIDs: newRequestIDs(),
	}
	f.keys.Init()
	bigBodyRoutes := []string{"POST /v1/charges/batch"}
	for _, r := range config.Routes {
		if r.BigBody {
			bigBodyRoutes = append(bigBodyRoutes, r.Method+" "+r.Path)
		}
	}
	f.router = f.routes()
	// Server's transport, without its connection limits: the benchmark
	// may open more connections from one address than a server would take.
	f.transport = newTransport(f.logger, transportConfig{
		connectionsMax: fasthttp.DefaultConcurrency, perIPMax: fasthttp.DefaultConcurrency,
		bigBodyRoutes: bigBodyRoutes,
	})
	f.http = f.transport.httpServer(f.router.Handler, f.requestIDs)
	return f, nil
}

// Serve answers requests on ln until Shutdown.
func (f *ChargeFront) Serve(ln net.Listener) error { return f.http.Serve(f.transport.listen(ln)) }

// Handler returns the request handler, for tests and embedding.
func (f *ChargeFront) Handler() fasthttp.RequestHandler { return f.router.Handler }

// Shutdown stops accepting connections and waits for requests in flight
// until ctx ends.
func (f *ChargeFront) Shutdown(ctx context.Context) error {
	var err error
	f.shutdown.Do(func() { err = f.http.ShutdownWithContext(ctx) })
	return err
}

// AddKeys checks every key and account, then adds them all, or none when
// one is malformed; a key added again pays from its new account. Keys are
// stored by their hash only, as Server stores them. It returns how many
// keys were new.
func (f *ChargeFront) AddKeys(keys []FrontKey) (added int, err error) {
	records := make([]frontKey, len(keys))
	for i, k := range keys {
		if len(k.Key) > len("sk_test_")+keySecretChars || !looksLikeKey([]byte(k.Key)) {
			return 0, fmt.Errorf("keys[%d].key: must be an API key (sk_test_ and 40 base62 characters)", i)
		}
		if len(k.Account) > 64 || !strings.HasPrefix(k.Account, prefixAccount) {
			return 0, fmt.Errorf("keys[%d].account: must be an account id (acct_…)", i)
		}
		records[i] = frontKey{hash: f.hasher.hash([]byte(k.Key)), account: k.Account}
	}
	for i := range records {
		if !f.keys.Store(string(records[i].hash), &records[i]) {
			added++
		}
	}
	return added, nil
}

// routes builds a router set up as Server's.
func (f *ChargeFront) routes() *router.Router {
	r := newRouter(f.logger, f.handle)
	add := func(method, path string, h handler) { r.Handle(method, path, f.handle(path, h)) }
	add("POST", "/v1/charges", f.charge)
	add("POST", "/v1/charges/batch", f.chargeBatch)
	for _, route := range f.config.Routes {
		add(route.Method, route.Path, func(ctx *fasthttp.RequestCtx, _ *call) *apiError {
			err := route.Handle(ctx)
			if err == nil {
				return nil
			}
			if fe := (*FrontError)(nil); errors.As(err, &fe) {
				return invalid(fe.Code, fe.Message)
			}
			return validation(map[string]string{"body": err.Error()})
		})
	}
	return r
}

// handle wraps a handler as Server.handle does, less the metrics and the
// idempotency store: a request id, and errors written in API.md's shape.
func (f *ChargeFront) handle(route string, h handler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		c := newCall(route, f.requestIDs)
		defer c.free()
		ctx.Response.Header.SetBytesV("X-Request-Id", c.requestID)
		if err := h(ctx, c); err != nil {
			writeError(f.logger, ctx, c, err)
		}
		f.transport.requestDone(ctx)
	}
}

// authenticate finds the request's key exactly as Server.authenticateKey
// does, up to where Server asks the key's actor: bearer token, shape,
// HMAC under the pepper, lock-free lookup, constant-time compare.
func (f *ChargeFront) authenticate(ctx *fasthttp.RequestCtx) (account string, apiErr *apiError) {
	token, ok := bearer(ctx)
	if !ok {
		return "", errMissingCredentials
	}
	if !looksLikeKey(token) {
		return "", errInvalidCredentials
	}
	hash := f.hasher.sum(token)
	key, ok := f.keys.LoadBytes(hash[:])
	if !ok {
		return "", errInvalidCredentials
	}
	if subtle.ConstantTimeCompare(key.hash, hash[:]) != 1 {
		return "", errInvalidCredentials
	}
	return key.account, nil
}

// charge is POST /v1/charges less the engine: authenticate, decode with
// Server's decoder, read the Idempotency-Key, reply with the maker's body.
func (f *ChargeFront) charge(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	payer, apiErr := f.authenticate(ctx)
	if apiErr != nil {
		return apiErr
	}
	if _, apiErr = decodeCharge(ctx.PostBody(), payer); apiErr != nil {
		return apiErr
	}
	if _, apiErr = idempotencyKeyBytes(ctx); apiErr != nil {
		return apiErr
	}
	writeAppended(ctx, fasthttp.StatusCreated, func(buf []byte) []byte { return f.config.Charge(buf, payer) })
	return nil
}

// chargeBatch is POST /v1/charges/batch less the engine.
func (f *ChargeFront) chargeBatch(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	payer, apiErr := f.authenticate(ctx)
	if apiErr != nil {
		return apiErr
	}
	requests, _, apiErr := decodeBatch(ctx.PostBody(), payer)
	if apiErr != nil {
		return apiErr
	}
	if _, apiErr = idempotencyKeyBytes(ctx); apiErr != nil {
		return apiErr
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return f.config.ChargeBatch(buf, payer, len(requests)) })
	return nil
}
