package httpapi

import (
	"context"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/chain/facilitator"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/x402metrics"
)

var errNoFacilitator = conflict("invalid_state", "the x402 facilitator needs a chain, and this server runs with none")

// x402Caller authenticates a facilitator call: an API key with
// x402:facilitate, or nobody with --x402-open. It returns who calls, the
// principal of Idempotency-Keys.
func (s *Server) x402Caller(ctx *fasthttp.RequestCtx) (string, *apiError) {
	if s.config.Facilitator == nil {
		return "", errNoFacilitator
	}
	if s.config.X402Open {
		return principalAnonymous, nil
	}
	grant, apiErr := s.authenticateKey(ctx, access.ScopeX402Facilitate)
	if apiErr != nil {
		return "", apiErr
	}
	return grant.account, nil
}

// x402Verify is POST /x402/verify: the x402 verify request, v2 or v1.
// A payment that fails verification is a 200 with isValid false and the
// reference's reason, as x402 says; a body that is no verify request is a
// 400. With an Idempotency-Key, a retry gets the first answer (a valid
// verification stays valid for its retry, where a new verification of the
// same authorization is refused as used).
func (s *Server) x402Verify(ctx *fasthttp.RequestCtx, c *call) *apiError {
	return s.x402Call(ctx, c, "verify", func(callCtx context.Context, request *x402.Request) (any, error) {
		return s.config.Facilitator.Verify(callCtx, request)
	})
}

// x402Settle is POST /x402/settle: settles a payment once. A payment that
// does not verify is a 200 with success false and the reason; a retry of
// a settled one answers its outcome; one not mined in time answers
// success false, errorReason settlement_pending, and its transaction (a
// retry gets the outcome). In batch mode the answer comes once the
// authorization is queued; ?wait=final (a Tollway extension) waits for
// the outcome on chain instead, as per-payment settlement always does.
func (s *Server) x402Settle(ctx *fasthttp.RequestCtx, c *call) *apiError {
	final := false
	switch wait := ctx.QueryArgs().Peek("wait"); {
	case wait == nil:
	case string(wait) == "final":
		final = true
	default:
		return validation(map[string]string{"wait": "must be final, or absent"})
	}
	return s.x402Call(ctx, c, "settle", func(callCtx context.Context, request *x402.Request) (any, error) {
		if final {
			return s.config.Facilitator.SettleFinal(callCtx, request)
		}
		return s.config.Facilitator.Settle(callCtx, request)
	})
}

// x402Call is a verify or settle: the caller authenticated, the body
// parsed (400 if it is no x402 request), an Idempotency-Key honoured, then
// do's answer as JSON. do's context names whom the call's metrics count
// for (x402Owner).
func (s *Server) x402Call(ctx *fasthttp.RequestCtx, c *call, what string, do func(context.Context, *x402.Request) (any, error)) *apiError {
	principal, apiErr := s.x402Caller(ctx)
	if apiErr != nil {
		return apiErr
	}
	request, err := x402.ParseRequest(ctx.PostBody())
	if err != nil {
		return invalid("invalid_payment_request", err.Error())
	}
	if done, apiErr := s.idempotent(ctx, c, principal); done || apiErr != nil {
		return apiErr
	}
	response, err := do(x402metrics.WithOwner(ctxOf(ctx), s.x402Owner(principal, request)), request)
	switch {
	case errors.Is(err, facilitator.ErrNoSigner):
		return conflict("invalid_state", "this facilitator verifies but does not settle: it has no signer")
	case errors.Is(err, facilitator.ErrLimit):
		return limitExceeded(err.Error())
	case errors.Is(err, x402.ErrChainRead):
		// The chain did not answer: x402's answer is a verification that
		// failed for that reason (the response names it).
		s.logger.Warn("x402 "+what+": chain read", "error", err)
	case err != nil:
		return errorOf(err, "authorization")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, response)
	return nil
}

// x402Supported is GET /x402/supported: the kinds this facilitator serves.
func (s *Server) x402Supported(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	if _, apiErr := s.x402Caller(ctx); apiErr != nil {
		return apiErr
	}
	s.writeJSON(ctx, fasthttp.StatusOK, s.config.Facilitator.Supported())
	return nil
}
