package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi/gateway"
)

// The metering gateway over HTTP: owners register routes (/v1/routes) and
// consumers call them through ANY /gw/{slug}/{path...} with a key holding
// gateway:call. One call's life is here, start to end: hold the price,
// forward, stream the answer back, then capture (the upstream answered
// below 500 and the whole answer was written to the client) or void
// (anything else), without making the client wait for that write. The hold's own deadline (gateway.HoldTimeout) covers a process
// that dies mid-call: the engine expires it and the consumer pays nothing.

// Limits of a gateway call. Its request body is bounded by the transport
// (RouteBodyBytesMax), its duration by the route's timeoutMs.
const (
	// gatewaySettleTimeout bounds the capture or void after a call.
	gatewaySettleTimeout = 10 * time.Second
)

// ---- routes

type routeJSON struct {
	gateway.Route
	Secret    string   `json:"secret,omitempty"` // shown at creation only
	Methods   []string `json:"methods"`          // [] when every method is allowed
	CreatedAt string   `json:"createdAt"`
	UpdatedAt string   `json:"updatedAt"`
}

func routeOf(r gateway.Route, withSecret bool) routeJSON {
	out := routeJSON{Route: r, Methods: r.Methods, CreatedAt: timeJSON(r.CreatedAt), UpdatedAt: timeJSON(r.UpdatedAt)}
	if out.Methods == nil {
		out.Methods = []string{}
	}
	if withSecret {
		out.Secret = r.Secret
	}
	return out
}

// decodeRoute reads a route's body: its types here, its rules in
// httpapi/gateway. A PUT names no slug: the path does.
func decodeRoute(body []byte, withSlug bool) (gateway.Route, *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return gateway.Route{}, apiErr
	}
	defer r.release()
	var route gateway.Route
	if withSlug {
		route.Slug, _ = r.string("slug", true, gateway.SlugBytesMax)
	}
	route.AccountID, _ = r.string("accountId", true, 64)
	route.Upstream, _ = r.string("upstream", true, 2048)
	route.PricePerCall, _ = r.string("pricePerCall", true, 80)
	if methods, ok := r.strings("methods", false, len(gateway.Methods), 16); ok {
		route.Methods = append([]string{}, methods...)
	}
	timeout, _ := r.integer("timeoutMs", false, gateway.TimeoutMsMin, gateway.TimeoutMsMax)
	route.TimeoutMs = int(timeout)
	return route, r.finish()
}

// gatewayError maps httpapi/gateway's errors; others go to errorOf.
func gatewayError(err error) *apiError {
	var fields *gateway.FieldsError
	switch {
	case errors.As(err, &fields):
		return validation(fields.Fields)
	case errors.Is(err, gateway.ErrNotFound):
		return notFound("route")
	case errors.Is(err, gateway.ErrSlugTaken):
		return conflict("already_exists", "the slug is taken")
	case errors.Is(err, gateway.ErrLimit):
		return limitExceeded(fmt.Sprintf("a user may own at most %d routes", gateway.RoutesPerOwnerMax))
	}
	return errorOf(err, "route")
}

// routeAccount refuses a route whose account is not the user's.
func (s *Server) routeAccount(account, owner string) *apiError {
	if _, err := s.directory.Account(account, owner); err != nil {
		return validation(map[string]string{"accountId": "must be one of your accounts"})
	}
	return nil
}

func (s *Server) createRoute(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	route, apiErr := decodeRoute(ctx.PostBody(), true)
	if apiErr != nil {
		return apiErr
	}
	if apiErr := s.routeAccount(route.AccountID, u.ID); apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	route.Owner = u.ID
	created, err := s.gateway.Create(ctxOf(ctx), route, s.now())
	if err != nil {
		return gatewayError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, routeOf(created, true))
	return nil
}

func (s *Server) listRoutes(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	routes := s.gateway.Routes(u.ID)
	data := make([]routeJSON, len(routes))
	for i := range routes {
		data[i] = routeOf(routes[i], false)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data})
	return nil
}

func pathSlug(ctx *fasthttp.RequestCtx) string {
	slug, _ := ctx.UserValue("slug").(string)
	return slug
}

func (s *Server) getRoute(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	route, err := s.gateway.Route(u.ID, pathSlug(ctx))
	if err != nil {
		return gatewayError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, routeOf(route, false))
	return nil
}

func (s *Server) replaceRoute(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	route, apiErr := decodeRoute(ctx.PostBody(), false)
	if apiErr != nil {
		return apiErr
	}
	if _, err := s.gateway.Route(u.ID, pathSlug(ctx)); err != nil {
		return gatewayError(err)
	}
	if apiErr := s.routeAccount(route.AccountID, u.ID); apiErr != nil {
		return apiErr
	}
	replaced, err := s.gateway.Replace(ctxOf(ctx), u.ID, pathSlug(ctx), route, s.now())
	if err != nil {
		return gatewayError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, routeOf(replaced, false))
	return nil
}

func (s *Server) deleteRoute(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	if err := s.gateway.Delete(ctxOf(ctx), u.ID, pathSlug(ctx)); err != nil {
		return gatewayError(err)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// ---- calls

var (
	errUpstreamTimeout = &apiError{status: fasthttp.StatusGatewayTimeout, kind: typeAPI, code: "upstream_timeout",
		message: "the upstream did not answer within the route's timeout; nothing was charged"}
	errUpstreamFailed = &apiError{status: fasthttp.StatusBadGateway, kind: typeAPI, code: "upstream_unavailable",
		message: "the upstream could not be reached; nothing was charged"}
)

// gatewayCall forwards a call to its route's upstream, paid by the key's
// account: see the top of this file.
func (s *Server) gatewayCall(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeGatewayCall)
	if apiErr != nil {
		return apiErr
	}
	target, ok := s.gateway.Target(pathSlug(ctx))
	if !ok {
		return notFound("route")
	}
	if !target.Route.Allows(string(ctx.Method())) {
		return errMethodNotAllowed
	}
	if aboveApproval(grant, target.Route.Price()) {
		return errApprovalRequired
	}
	raw, _ := ctx.UserValue("path").(string)
	path, err := gateway.ForwardPath(raw)
	if err != nil {
		return invalid("invalid_path", "the path has an invalid %-escape")
	}
	// Every call is its own hold, under a fresh id: the consumer's
	// Idempotency-Key, if any, is the upstream's to honour. The memo is
	// the hold's metadata, a JSON object; a slug needs no escaping.
	id := engine.TransferID(newID(prefixHold))
	if _, err := s.engine.Hold(ctxOf(ctx), engine.Hold{
		ID: id, From: engine.AccountID(grant.account), To: engine.AccountID(target.Route.AccountID),
		Amount: target.Route.Price(), Timeout: gateway.HoldTimeout, Budget: grant.key.Budget(),
		Memo: `{"gatewayRoute":"` + target.Route.Slug + `"}`,
	}); err != nil {
		return errorOf(err, "account "+target.Route.AccountID)
	}
	request, response := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	target.PrepareRequest(request, &ctx.Request, gateway.Call{Path: path, ChargeID: string(id), ClientIP: ctx.RemoteIP(), TLS: ctx.IsTLS(), Now: s.now()})
	err = target.Client.DoTimeout(request, response, target.Route.Timeout())
	fasthttp.ReleaseRequest(request)
	if err != nil {
		fasthttp.ReleaseResponse(response)
		s.settleCall(id, target.Route.Price(), false)
		s.logger.Warn("gateway call failed", "route", target.Route.Slug, "hold", string(id), "error", err)
		if errors.Is(err, fasthttp.ErrTimeout) {
			return errUpstreamTimeout
		}
		return errUpstreamFailed
	}
	gateway.CopyResponseHeader(&ctx.Response.Header, &response.Header)
	ctx.Response.Header.Set(gateway.HeaderChargeID, string(id))
	call := gatewayCallEnd{server: s, id: id, price: target.Route.Price(), answered: response.StatusCode() < fasthttp.StatusInternalServerError}
	stream := response.BodyStream()
	if stream == nil { // no body (HEAD, 204, 304): nothing more to deliver
		fasthttp.ReleaseResponse(response)
		call.settle(true)
		return nil
	}
	// The body streams after this handler returns, straight from the
	// upstream's connection to the client's: fasthttp closes the body
	// when the last byte is written or the copy failed, and the close
	// settles the call.
	ctx.SetBodyStream(&gatewayBody{gatewayCallEnd: call, response: response, stream: stream}, response.Header.ContentLength())
	return nil
}

// gatewayCallEnd is what settles a call once its answer is delivered.
type gatewayCallEnd struct {
	server   *Server
	id       engine.TransferID
	price    engine.Amount
	answered bool // the upstream answered below 500
}

// settle captures the call's hold in full when the upstream answered and
// the answer was delivered (delivered), and voids it otherwise.
//
// It does not wait for the capture to be durable: the client has its
// answer already, and the capture is the one write of the call that no
// one is told about. The hold was durable before the call was forwarded;
// a crash before the capture is durable leaves it to expire at its
// deadline, unpaid: the consumer is never charged for a call whose
// capture Tollway has not recorded. Shutdown waits for the settles in
// flight (Server.settling), so a clean stop loses none; a call whose
// answer ends after Shutdown gave up on its connection is not settled
// (its hold expires, unpaid), as after a crash.
func (c *gatewayCallEnd) settle(delivered bool) {
	s, id, price, succeeded := c.server, c.id, c.price, c.answered && delivered
	if !s.settling.begin() {
		s.logger.Warn("gateway call ended after shutdown: not settled, its hold expires unpaid", "hold", string(id))
		return
	}
	go func() {
		defer s.settling.end()
		s.settleCall(id, price, succeeded)
	}()
}

// gatewayBody is the upstream's answer body as the client's response
// body: reads go to the upstream's connection, and fasthttp's close after
// the last write (or the first failure) settles the call, delivered when
// the upstream's body was read to its end and every byte was written.
type gatewayBody struct {
	gatewayCallEnd
	response *fasthttp.Response
	stream   io.Reader
	ended    bool // the upstream's body was read to its end
	closed   bool
}

func (b *gatewayBody) Read(p []byte) (int, error) {
	n, err := b.stream.Read(p)
	if err == io.EOF {
		b.ended = true
	}
	return n, err
}

// Close is for fasthttp's closes that carry no error (a reset).
func (b *gatewayBody) Close() error { return nil }

// CloseWithError ends the call: err is the copy's failure (the client's
// connection or the upstream's), nil when every byte went out. fasthttp
// may close a stream more than once (a reset after the write); the first
// close settles.
func (b *gatewayBody) CloseWithError(err error) error {
	if b.closed {
		return nil
	}
	b.closed = true
	closeErr := b.response.CloseBodyStream()
	fasthttp.ReleaseResponse(b.response)
	b.settle(err == nil && b.ended && closeErr == nil)
	if err != nil {
		b.server.logger.Info("gateway answer not delivered", "hold", string(b.id), "error", err)
	}
	return nil
}

// settleCall captures a call's hold in full when it succeeded and voids
// it otherwise. A failure is logged: the hold then expires by itself at
// its deadline, unpaid.
func (s *Server) settleCall(id engine.TransferID, price engine.Amount, succeeded bool) {
	ctx, cancel := context.WithTimeout(context.Background(), gatewaySettleTimeout)
	defer cancel()
	var err error
	if succeeded {
		_, err = s.engine.Capture(ctx, id, price)
	} else {
		err = s.engine.Void(ctx, id)
	}
	if err != nil {
		s.logger.Error("settle a gateway call", "hold", string(id), "capture", succeeded, "error", err)
	}
}
