package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/chain/facilitator"
	"github.com/tollway/tollway/chain/relay"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/approvals"
	"github.com/tollway/tollway/engine/directory"
	"github.com/tollway/tollway/engine/registry"
	"github.com/tollway/tollway/engine/usage"
	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/engine/x402metrics"
	"github.com/tollway/tollway/httpapi/egress"
	"github.com/tollway/tollway/httpapi/gateway"
)

// Server settings; the transport's limits and timeouts are in transport.go.
const (
	// AccessTokenTTLDefault is how long an access JWT lives.
	AccessTokenTTLDefault = 15 * time.Minute
	// ChainIDDefault is the chain id of Sign-In with Ethereum messages until
	// a chain is configured: the in-process chain's.
	ChainIDDefault = 1337
)

// Config wires a Server. cmd/tollway fills it from flags and environment.
type Config struct {
	Engine *engine.Engine
	Logger *slog.Logger
	// AdminTokenHash is the SHA-256 of the admin token; JWTSecret signs
	// access tokens; Pepper keys the hashes of API keys and refresh tokens.
	// LoadSecrets provides all three.
	AdminTokenHash []byte
	JWTSecret      []byte
	Pepper         []byte
	FeeBps         uint32
	// RateLimit is the bucket of keys created without their own.
	RateLimit access.RateLimit
	// Domain and ChainID are what Sign-In with Ethereum messages must name.
	Domain  string
	ChainID uint64
	// Chain describes the chain settlements go to, for /v1/config; nil
	// when none is attached (its fields are then null).
	Chain *ChainInfo
	// Faucet funds a test wallet on the embedded chain (POST
	// /v1/admin/chain/faucet): wei of ETH and usdc base units of the test
	// USDC, each when positive. Nil when the chain is not embedded.
	Faucet       func(ctx context.Context, to common.Address, wei, usdc *big.Int) ([]common.Hash, error)
	FaucetLimits FaucetLimits
	// Origin is the URI the challenges name, e.g. https://pay.example.com;
	// its authority must be Domain. Empty: http:// and Domain.
	Origin string
	// AccessTokenTTL defaults to AccessTokenTTLDefault.
	AccessTokenTTL time.Duration
	// PasswordCost is bcrypt's cost, bcrypt.DefaultCost unless set (tests
	// lower it).
	PasswordCost int
	// AuthRateLimit is each client IP's bucket over the sign-in routes,
	// KeyFailureLimit its bucket of failed API key authentications, and
	// PasswordHashesMax how many bcrypt computations run at once (see
	// clientlimit.go; zero values take the defaults).
	AuthRateLimit     access.RateLimit
	KeyFailureLimit   access.RateLimit
	PasswordHashesMax int
	// Clock defaults to time.Now.
	Clock   func() time.Time
	Version string
	// IdempotencyStoreBytes bounds the stored idempotent responses;
	// IdempotencyStoreBytesDefault unless set.
	IdempotencyStoreBytes int
	// AccountsPerUser and KeysPerAccount are the creation caps;
	// AccountsPerUserMax and KeysPerAccountMax unless set (tests lower them).
	AccountsPerUser, KeysPerAccount int

	// Transport limits (transport.go); zero means the default. FileLimit is
	// the process's file descriptor limit, reported and used to derive
	// ConnectionsMax (ConnectionsMaxFor); ConnectionsPerIPMax defaults to
	// ConnectionsPerIPMaxFor(ConnectionsMax).
	FileLimit           uint64
	ConnectionsMax      int
	ConnectionsPerIPMax int
	// BodyBudgetBytes defaults to BodyBudgetBytesDefault.
	BodyBudgetBytes int64
	// RequestReadTimeout defaults to RequestReadTimeoutDefault (tests
	// shorten it).
	RequestReadTimeout time.Duration
	// MetricsPublic serves /metrics without the admin token.
	MetricsPublic bool
	// Settlements reads the relayer's batches (GET /v1/settlements, the
	// settlementId of charges, holds and sessions); nil without a chain.
	Settlements *relay.Store
	// RelayerStats reports the relayer's progress for /metrics; nil
	// without one.
	RelayerStats func() relay.Stats
	// WebhookRows maps table rows other components write to webhook
	// events (the relayer's settlements: settlement.confirmed and
	// settlement.failed); zero: none.
	WebhookRows webhooks.Rows
	// Facilitator serves /x402/*; nil without a chain. X402Open serves it
	// without an API key (--x402-open).
	Facilitator *facilitator.Facilitator
	X402Open    bool
	// AllowPrivateTargets lets gateway upstreams and webhook URLs be on
	// loopback, private or link-local addresses (--allow-private-targets):
	// local development and tests.
	AllowPrivateTargets bool
}

// ChainInfo is what clients learn of the chain in use (GET /v1/config):
// where its JSON-RPC is, the contracts, and the relayer's terms.
type ChainInfo struct {
	RPCURL          string // as clients reach it; empty: not published
	USDC            string // the token's address, EIP-55
	Pool            string // the settlement pool's address
	Relayer         string // the relayer's address
	FeeRecipient    string
	WithdrawalDelay time.Duration
	Confirmations   uint64
	X402Batcher     string // the x402 AuthorizationBatcher's address; empty: none
}

// Server is Tollway's HTTP API: fasthttp and a router in front of the
// engine, with the access layer (users, keys, tokens) in engine/directory.
type Server struct {
	config      Config
	logger      *slog.Logger
	engine      *engine.Engine
	directory   *directory.Directory
	registry    *registry.Registry   // x402 networks, assets and resources
	gateway     *gateway.Registry    // the metering gateway's routes
	usage       *usage.Projection    // usage reports; the server opens and closes it
	x402Metrics *x402metrics.Metrics // x402 facilitator metrics; opened and closed likewise
	webhooks    *webhooks.Service    // endpoints and deliveries; opened and closed likewise
	egress      *egress.Policy       // what gateway upstreams and webhook URLs may connect to
	settling    inflight             // gateway calls' captures and voids in flight
	approvals   *approvals.Service   // spends waiting for their approvers
	keyActors   *actors.Keys
	hasher      secretHasher
	guard       *authGuard
	idempotency *idempotencyStore
	holdVoids   holdVoidLocks
	requestIDs  *requestIDs
	metrics     *metrics
	router      *router.Router
	transport   *transport
	http        *fasthttp.Server
	started     time.Time
	ready       atomic.Bool
	shutdown    sync.Once
}

// New builds a server over an open engine, loading the access directory
// from the engine's table.
func New(config Config) (*Server, error) {
	if config.Engine == nil || len(config.AdminTokenHash) != sha256.Size || len(config.JWTSecret) < 32 || len(config.Pepper) < 32 {
		return nil, errors.New("httpapi: config needs an engine, an admin token hash, a JWT secret and a pepper of 32+ bytes")
	}
	if err := config.RateLimit.Validate(); err != nil {
		return nil, fmt.Errorf("httpapi: default rate limit: %w", err)
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.AccessTokenTTL == 0 {
		config.AccessTokenTTL = AccessTokenTTLDefault
	}
	if config.PasswordCost == 0 {
		config.PasswordCost = bcrypt.DefaultCost
	}
	if config.Clock == nil {
		config.Clock = time.Now
	}
	if config.ChainID == 0 {
		config.ChainID = ChainIDDefault
	}
	if config.IdempotencyStoreBytes == 0 {
		config.IdempotencyStoreBytes = IdempotencyStoreBytesDefault
	}
	if err := validateIdempotencyStoreBytes(config.IdempotencyStoreBytes); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	if err := config.defaultAuthLimits(); err != nil {
		return nil, err
	}
	s := &Server{
		config: config, logger: config.Logger, engine: config.Engine,
		keyActors:   actors.NewKeys(config.Logger),
		hasher:      newSecretHasher(config.Pepper),
		idempotency: newIdempotencyStore(config.IdempotencyStoreBytes, config.Clock),
		requestIDs:  newRequestIDs(),
		started:     config.Clock(),
	}
	s.directory = directory.New(config.Engine, config.AccountsPerUser, config.KeysPerAccount)
	var err error
	if s.guard, err = newAuthGuard(&config); err == nil {
		err = purgeStoredNonces(context.Background(), config.Engine)
	}
	if err == nil {
		err = s.directory.Load()
	}
	if err == nil {
		s.registry = registry.New(config.Engine)
		if err = s.registry.Load(); err == nil {
			err = registerChain(context.Background(), s.registry, &s.config)
		}
	}
	// One policy for every connection out: gateway upstreams and webhook
	// endpoints.
	s.egress = &egress.Policy{AllowPrivate: config.AllowPrivateTargets}
	if err == nil {
		s.gateway = gateway.New(config.Engine, s.egress)
		err = s.gateway.Load()
	}
	if err == nil {
		s.usage, err = usage.Open(config.Engine, usage.Options{Logger: config.Logger})
	}
	if err == nil {
		s.x402Metrics = x402metrics.Open(config.Engine, x402metrics.Options{Logger: config.Logger, Now: config.Clock})
		s.webhooks, err = webhooks.Open(config.Engine, webhooks.Options{Logger: config.Logger, OwnerOf: s.accountOwner,
			DialContext: s.egress.DialContext, Now: config.Clock, Rows: joinRows(config.WebhookRows, approvalWebhooks())})
		if err != nil {
			s.x402Metrics.Close()
			s.usage.Close()
		}
	}
	if err == nil {
		s.approvals, err = approvals.Open(config.Engine, approvals.Options{Logger: config.Logger, Now: config.Clock})
		if err != nil {
			s.webhooks.Close()
			s.x402Metrics.Close()
			s.usage.Close()
		}
	}
	if err != nil {
		s.keyActors.Shutdown()
		return nil, err
	}
	s.transport = newTransport(s.logger, transportConfig{
		connectionsMax: config.ConnectionsMax, perIPMax: config.ConnectionsPerIPMax, fileLimit: config.FileLimit,
		bodyBudgetBytes: config.BodyBudgetBytes, requestReadTimeout: config.RequestReadTimeout,
		bigBodyRoutes: []string{"POST /v1/charges/batch"},
	})
	s.metrics = newMetrics(s)
	s.router = s.routes()
	s.http = s.transport.httpServer(s.router.Handler, s.requestIDs)
	s.ready.Store(true)
	return s, nil
}

// Serve answers requests on ln until Shutdown, within the transport's
// connection limits.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(s.transport.listen(ln)) }

// Handler returns the server's request handler, for embedding it in
// another fasthttp server.
func (s *Server) Handler() fasthttp.RequestHandler { return s.router.Handler }

// Shutdown stops accepting connections, waits for requests in flight (until
// ctx ends), stops the key actors and closes the usage projection (which
// persists what it folded). The engine stays open: its owner closes it
// after, so every answered write is durable and every accepted one is
// finished first.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdown.Do(func() {
		s.ready.Store(false)
		err = s.http.ShutdownWithContext(ctx)
		s.settling.close() // every call answered is settled: its capture is durable
		s.keyActors.Shutdown()
		if approvalsErr := s.approvals.Close(); approvalsErr != nil {
			s.logger.Error("close the approvals", "error", approvalsErr)
			err = errors.Join(err, approvalsErr)
		}
		s.x402Metrics.Close()
		if webhooksErr := s.webhooks.Close(); webhooksErr != nil {
			s.logger.Error("close the webhooks", "error", webhooksErr)
			err = errors.Join(err, webhooksErr)
		}
		if usageErr := s.usage.Close(); usageErr != nil {
			s.logger.Error("close the usage projection", "error", usageErr)
			err = errors.Join(err, usageErr)
		}
	})
	return err
}

func (s *Server) now() time.Time { return s.config.Clock() }

// call is one request's state, passed from the wrapper to its handler.
// Calls are pooled (newCall, free): a handler must not keep its *call, or
// c.requestID, past its return. Hand-written for the hot path: the call and
// its request id's buffer escaped to the heap, 2 allocations per request
// (BenchmarkChargeAllocs: 40 -> 38 per HTTP charge).
type call struct {
	route     string
	requestID []byte // in idBuffer
	// idempotencyKey is set by a handler that began an idempotent request:
	// the wrapper stores a 2xx response under it, or releases it.
	idempotencyKey string
	idBuffer       [40]byte
}

var calls = sync.Pool{New: func() any { return new(call) }}

// newCall returns a call of route with a new request id.
func newCall(route string, ids *requestIDs) *call {
	c := calls.Get().(*call)
	c.route = route
	c.requestID = ids.next(c.idBuffer[:0])
	return c
}

// free returns c to the pool once its request is answered.
func (c *call) free() {
	*c = call{}
	calls.Put(c)
}

type handler func(ctx *fasthttp.RequestCtx, c *call) *apiError

// handle wraps a handler for any method: the router's answers to unknown
// routes and wrong methods.
func (s *Server) handle(route string, h handler) fasthttp.RequestHandler {
	return s.handleMethod("", route, h)
}

// handleMethod wraps the handler of method's route: request id, panic
// recovery, error writing, idempotent response storing, metrics and logs.
// The metrics label requests with method, or with the request's own method
// when it is "".
func (s *Server) handleMethod(method, route string, h handler) fasthttp.RequestHandler {
	observe := s.metrics.route(method, route)
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		c := newCall(route, s.requestIDs)
		defer c.free()
		ctx.Response.Header.SetBytesV("X-Request-Id", c.requestID)
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.logger.Error("handler panicked", "request_id", string(c.requestID), "route", route, "panic", fmt.Sprint(r))
					s.writeError(ctx, c, errInternal)
				}
			}()
			if err := h(ctx, c); err != nil {
				s.writeError(ctx, c, err)
			}
		}()
		s.transport.requestDone(ctx)
		status := ctx.Response.StatusCode()
		if c.idempotencyKey != "" {
			s.idempotency.finish(c.idempotencyKey, status, ctx.Response.Body(), contentTypeOf(ctx))
		}
		elapsed := time.Since(start)
		observe(ctx, status, elapsed)
		if s.logger.Enabled(ctx, slog.LevelDebug) {
			s.logger.Debug("request", "request_id", string(c.requestID), "method", string(ctx.Method()),
				"route", route, "status", status, "duration", elapsed)
		}
	}
}

func contentTypeOf(ctx *fasthttp.RequestCtx) []byte { return ctx.Response.Header.ContentType() }

// writeError writes err in the error shape of API.md.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, c *call, err *apiError) {
	writeError(s.logger, ctx, c, err)
}

// writeError writes err in API.md's error shape; the Server's and the no-op
// server's answers share it.
func writeError(logger *slog.Logger, ctx *fasthttp.RequestCtx, c *call, err *apiError) {
	if err.status >= 500 {
		logger.Error("request failed", "request_id", string(c.requestID), "route", c.route, "code", err.code)
	}
	if err.retryAfter > 0 {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, uitoa(err.retryAfter))
	}
	body := struct {
		Error errorBody `json:"error"`
	}{errorBody{Type: err.kind, Code: err.code, Message: err.message, RequestID: string(c.requestID), Fields: err.fields}}
	writeJSON(logger, ctx, err.status, &body)
}

type errorBody struct {
	Type      string            `json:"type"`
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	RequestID string            `json:"request_id,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// writeJSON writes v as the response body with status.
func (s *Server) writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	writeJSON(s.logger, ctx, status, v)
}

func writeJSON(logger *slog.Logger, ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		logger.Error("encode response", "error", err)
		status, body = fasthttp.StatusInternalServerError, []byte(`{"error":{"type":"api_error","code":"internal","message":"internal error"}}`)
	}
	writeBody(ctx, status, body)
}

func writeBody(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

func uitoa[T uint32 | uint64 | int](v T) string { return strconv.FormatUint(uint64(v), 10) }

// prometheusRegistry exists so tests can read metrics without a scrape.
func (s *Server) prometheusRegistry() *prometheus.Registry { return s.metrics.registry }

// AccountWallet returns the wallet bound to an account, for the relayer:
// where the account's debits are settled from, or its earnings paid to.
func (s *Server) AccountWallet(account engine.AccountID) (common.Address, bool) {
	p, err := s.directory.AnyAccount(string(account))
	if err != nil || p.WalletAddress == "" {
		return common.Address{}, false
	}
	return common.HexToAddress(p.WalletAddress), true
}

// accountOwner names the user who owns an account, for the webhooks: whose
// endpoints receive its events.
func (s *Server) accountOwner(account engine.AccountID) (string, bool) {
	p, err := s.directory.AnyAccount(string(account))
	return p.Owner, err == nil
}

// TestWalletAccount returns the account of the test environment that the
// wallet binds (its owner's SIWE address), for the embedded chain's deposit
// watcher: a deposit from the wallet credits that account.
func (s *Server) TestWalletAccount(wallet common.Address) (engine.AccountID, bool) {
	p, ok := s.directory.AccountByWallet(access.EnvironmentTest, wallet.Hex())
	return engine.AccountID(p.ID), ok
}
