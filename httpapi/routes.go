package httpapi

import (
	"bytes"
	"log/slog"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/httpapi/console"
	"github.com/tollway/tollway/httpapi/gateway"

	_ "embed"
)

//go:embed openapi.json
var openAPIDocument []byte

// routes builds the router: every route of API.md this server implements,
// each wrapped by handle under its pattern as the metrics label.
func (s *Server) routes() *router.Router {
	r := newRouter(s.logger, s.handle)
	add := func(method, path string, h handler) { r.Handle(method, path, s.handleMethod(method, path, h)) }

	add("GET", "/healthz", s.healthz)
	add("GET", "/readyz", s.readyz)
	add("GET", "/v1/status", s.status)
	add("GET", "/v1/config", s.configuration)
	add("GET", "/metrics", s.metricsPage)
	add("GET", "/openapi.json", s.openAPI)
	add("GET", "/console", s.console)
	add("GET", "/console/{path:*}", s.console)

	add("POST", "/v1/auth/signup", s.signup)
	add("POST", "/v1/auth/login", s.login)
	add("POST", "/v1/auth/refresh", s.refresh)
	add("POST", "/v1/auth/logout", s.logout)
	add("POST", "/v1/auth/logout-all", s.logoutAll)
	add("GET", "/v1/auth/me", s.me)
	add("POST", "/v1/auth/siwe/challenge", s.siweChallenge)
	add("POST", "/v1/auth/siwe/login", s.siweLogin)

	add("POST", "/v1/accounts", s.createAccount)
	add("GET", "/v1/accounts", s.listAccounts)
	add("GET", "/v1/accounts/{id}", s.getAccount)
	add("PATCH", "/v1/accounts/{id}", s.updateAccount)
	add("POST", "/v1/admin/accounts/{id}/credit", s.credit)
	add("POST", "/v1/admin/chain/faucet", s.faucet)

	add("POST", "/v1/accounts/{id}/keys", s.createKey)
	add("GET", "/v1/accounts/{id}/keys", s.listKeys)
	add("GET", "/v1/keys/{id}", s.getKey)
	add("POST", "/v1/keys/{id}/rotate", s.rotateKey)
	add("DELETE", "/v1/keys/{id}", s.revokeKey)

	add("GET", "/v1/balance", s.balance)
	add("POST", "/v1/charges", s.charge)
	add("POST", "/v1/charges/batch", s.chargeBatch)
	add("GET", "/v1/charges/{id}", s.getCharge)

	add("POST", "/v1/holds", s.createHold)
	add("GET", "/v1/holds", s.listHolds)
	add("GET", "/v1/holds/{id}", s.getHold)
	add("POST", "/v1/holds/{id}/capture", s.captureHold)
	add("POST", "/v1/holds/{id}/void", s.voidHold)

	add("GET", "/v1/approvals", s.listApprovals)
	add("GET", "/v1/approvals/{id}", s.getApproval)
	add("POST", "/v1/approvals/{id}/approve", s.decideApproval(true))
	add("POST", "/v1/approvals/{id}/reject", s.decideApproval(false))

	add("POST", "/v1/sessions", s.openSession)
	add("GET", "/v1/sessions", s.listSessions)
	add("GET", "/v1/sessions/{id}", s.getSession)
	add("POST", "/v1/sessions/{id}/accept", s.sessionTransition((*engine.Engine).AcceptSession))
	add("POST", "/v1/sessions/{id}/start", s.sessionTransition((*engine.Engine).StartSession))
	add("POST", "/v1/sessions/{id}/end", s.sessionTransition((*engine.Engine).EndSession))
	add("POST", "/v1/sessions/{id}/cancel", s.sessionTransition((*engine.Engine).CancelSession))

	add("GET", "/v1/usage", s.usageReport)
	add("GET", "/v1/settlements", s.listSettlements)
	add("GET", "/v1/settlements/{id}", s.getSettlement)
	add("POST", "/x402/verify", s.x402Verify)
	add("POST", "/x402/settle", s.x402Settle)
	add("GET", "/x402/supported", s.x402Supported)
	add("GET", "/v1/x402-metrics/daily", s.x402MetricsDaily)
	add("GET", "/v1/x402-metrics/monthly", s.x402MetricsMonthly)
	add("GET", "/v1/x402-metrics/summary", s.x402MetricsSummary)

	add("GET", "/v1/networks", s.listNetworks)
	add("GET", "/v1/networks/{id}", s.getNetwork)
	add("GET", "/v1/assets", s.listAssets)
	add("POST", "/v1/admin/assets", s.putAsset)
	add("POST", "/v1/resources", s.createResource)
	add("GET", "/v1/resources", s.listResources)
	add("PUT", "/v1/resources/{id}", s.replaceResource)

	add("POST", "/v1/routes", s.createRoute)
	add("GET", "/v1/routes", s.listRoutes)
	add("GET", "/v1/routes/{slug}", s.getRoute)
	add("PUT", "/v1/routes/{slug}", s.replaceRoute)
	add("DELETE", "/v1/routes/{slug}", s.deleteRoute)
	// Every method a route may forward; the route's own methods decide.
	for _, method := range gateway.Methods {
		add(method, "/gw/{slug}/{path:*}", s.gatewayCall)
	}

	add("POST", "/v1/webhooks", s.createWebhook)
	add("GET", "/v1/webhooks", s.listWebhooks)
	add("GET", "/v1/webhooks/{id}", s.getWebhook)
	add("DELETE", "/v1/webhooks/{id}", s.deleteWebhook)
	add("GET", "/v1/webhooks/{id}/deliveries", s.listDeliveries)
	return r
}

// newRouter returns a router without redirects or automatic OPTIONS, whose
// unknown routes, wrong methods and panics are answered in API.md's error
// shape through handle: the Server's and the no-op server's setup.
func newRouter(logger *slog.Logger, handle func(route string, h handler) fasthttp.RequestHandler) *router.Router {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.NotFound = handle("not_found", func(*fasthttp.RequestCtx, *call) *apiError { return errRouteNotFound })
	r.MethodNotAllowed = handle("method_not_allowed", func(ctx *fasthttp.RequestCtx, _ *call) *apiError {
		dropOptionsFromAllow(ctx)
		return errMethodNotAllowed
	})
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, reason any) {
		logger.Error("router panicked", "panic", reason)
		writeBody(ctx, fasthttp.StatusInternalServerError, []byte(`{"error":{"type":"api_error","code":"internal","message":"internal error"}}`))
	}
	return r
}

// dropOptionsFromAllow removes OPTIONS from the Allow header the router set
// on a 405: fasthttp/router always lists it, even with HandleOPTIONS off,
// and this server answers OPTIONS (as HEAD) with 405 like any method a
// route does not have. The router sorts the list and joins it with ", ".
func dropOptionsFromAllow(ctx *fasthttp.RequestCtx) {
	allow := ctx.Response.Header.Peek(fasthttp.HeaderAllow)
	for _, options := range []string{", OPTIONS", "OPTIONS, "} {
		if i := bytes.Index(allow, []byte(options)); i >= 0 {
			fixed := append(allow[:i:i], allow[i+len(options):]...)
			ctx.Response.Header.SetBytesV(fasthttp.HeaderAllow, fixed)
			return
		}
	}
}

// pathID returns the {id} path parameter.
func pathID(ctx *fasthttp.RequestCtx) string {
	id, _ := ctx.UserValue("id").(string)
	return id
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	writeBody(ctx, fasthttp.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	if !s.ready.Load() || s.engine.Err() != nil {
		return &apiError{status: fasthttp.StatusServiceUnavailable, kind: typeAPI, code: "unavailable", message: "not ready"}
	}
	writeBody(ctx, fasthttp.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

func (s *Server) status(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"version":       s.config.Version,
		"uptimeSeconds": int64(s.now().Sub(s.started).Seconds()),
		"position":      s.engine.Position(),
		"ready":         s.ready.Load() && s.engine.Err() == nil,
		"chain":         nil,
		"connections":   s.transport.stats(),
	})
	return nil
}

// configuration answers /v1/config. chainId is the chain Sign-In with
// Ethereum messages must name (Config.ChainID), so a wallet that reads it
// signs for the chain the server checks.
func (s *Server) configuration(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	usdc := map[string]any{"symbol": "USDC", "address": nil, "decimals": 6, "name": "USD Coin", "version": "2"}
	config := map[string]any{
		"chainId": s.config.ChainID, "environment": "test", "feeBps": s.config.FeeBps,
		"rpcUrl": nil, "settlementAddress": nil, "relayer": nil, "feeRecipient": nil,
		"withdrawalDelaySeconds": nil, "confirmations": nil, "x402BatcherAddress": nil, "assets": []map[string]any{usdc},
	}
	if c := s.config.Chain; c != nil {
		usdc["address"] = c.USDC
		config["settlementAddress"], config["relayer"], config["feeRecipient"] = c.Pool, c.Relayer, c.FeeRecipient
		config["withdrawalDelaySeconds"], config["confirmations"] = int64(c.WithdrawalDelay/time.Second), c.Confirmations
		if c.RPCURL != "" {
			config["rpcUrl"] = c.RPCURL
		}
		if c.X402Batcher != "" {
			config["x402BatcherAddress"] = c.X402Batcher
		}
	}
	s.writeJSON(ctx, fasthttp.StatusOK, config)
	return nil
}

// metricsPage serves the Prometheus metrics to the admin token (a
// scraper's bearer token), or to anyone with Config.MetricsPublic: they
// tell account counts and load.
func (s *Server) metricsPage(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	if !s.config.MetricsPublic {
		if apiErr := s.authenticateAdmin(ctx); apiErr != nil {
			return apiErr
		}
	}
	s.metrics.handler(ctx)
	return nil
}

func (s *Server) openAPI(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	writeBody(ctx, fasthttp.StatusOK, openAPIDocument)
	return nil
}

// console serves the web console's page and assets (httpapi/console): not
// API operations, but routed here so they share request ids, metrics and
// the error shape of an unknown path.
func (s *Server) console(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	name, _ := ctx.UserValue("path").(string)
	if !console.Serve(ctx, name) {
		return errRouteNotFound
	}
	return nil
}
