package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/directory"
)

// apiError is every error a client sees: a status, a type and a code from
// API.md's table, a message safe to show, and for validation errors the
// failing fields. Internal error texts never reach it.
type apiError struct {
	status  int
	kind    string // the "type" field
	code    string
	message string
	fields  map[string]string
	// retryAfter is the Retry-After header of a 429, in seconds.
	retryAfter uint32
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// Error types of API.md.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typePayment        = "payment_required"
	typePermission     = "permission_error"
	typeNotFound       = "not_found_error"
	typeConflict       = "conflict_error"
	typeRateLimit      = "rate_limit_error"
	typeAPI            = "api_error"
)

func invalid(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, kind: typeInvalidRequest, code: code, message: message}
}

// validation reports failing fields, each with what it must be.
func validation(fields map[string]string) *apiError {
	return &apiError{status: http.StatusBadRequest, kind: typeInvalidRequest, code: "validation_failed",
		message: "the request has invalid fields", fields: fields}
}

func unauthenticated(code, message string) *apiError {
	return &apiError{status: http.StatusUnauthorized, kind: typeAuthentication, code: code, message: message}
}

func forbidden(code, message string) *apiError {
	return &apiError{status: http.StatusForbidden, kind: typePermission, code: code, message: message}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, kind: typeNotFound, code: "not_found", message: what + " not found"}
}

func conflict(code, message string) *apiError {
	return &apiError{status: http.StatusConflict, kind: typeConflict, code: code, message: message}
}

// limitExceeded refuses a creation past a cap (accounts per user, keys per
// account): the request is valid, the owner's state does not allow it.
func limitExceeded(message string) *apiError { return conflict("limit_exceeded", message) }

// capExceeded says which of the directory's caps a creation hit.
func capExceeded(limit *directory.LimitError) *apiError {
	switch limit.Cap {
	case directory.CapAccountsPerUser:
		return limitExceeded(fmt.Sprintf("a user may own at most %d accounts", limit.Max))
	case directory.CapKeysPerAccount:
		return limitExceeded(fmt.Sprintf("an account may have at most %d keys, revoked ones included", limit.Max))
	}
	return limitExceeded(fmt.Sprintf("at most %d may be created", limit.Max))
}

var (
	errMissingCredentials = unauthenticated("missing_credentials", "send Authorization: Bearer <token>")
	errInvalidCredentials = unauthenticated("invalid_credentials", "the credentials are not valid")
	errTokenExpired       = unauthenticated("token_expired", "the access token has expired; refresh it")
	errKeyRevoked         = unauthenticated("key_revoked", "the API key has been revoked")
	errKeyExpired         = unauthenticated("key_expired", "the API key has expired")
	errInternal           = &apiError{status: http.StatusInternalServerError, kind: typeAPI, code: "internal", message: "internal error"}
	errUnavailable        = &apiError{status: http.StatusServiceUnavailable, kind: typeAPI, code: "unavailable",
		message: "the server cannot make changes durable right now; retry with the same Idempotency-Key"}
	errIdempotencyReused = conflict("idempotency_key_reused", "the Idempotency-Key was used with a different request")
	errIdempotencyInUse  = conflict("idempotency_key_in_use", "a request with this Idempotency-Key is in progress")
	errInvalidState      = conflict("invalid_state", "the object is not in a state that allows this")
	errMethodNotAllowed  = &apiError{status: http.StatusMethodNotAllowed, kind: typeInvalidRequest, code: "method_not_allowed", message: "method not allowed"}
	errRouteNotFound     = &apiError{status: http.StatusNotFound, kind: typeNotFound, code: "not_found", message: "no such route"}
)

// errorOf maps an engine, access or directory error to what the client
// sees, in one place. what names the object for not-found errors. An error
// it does not know is internal: logged by the caller, shown as a bare 500.
func errorOf(err error, what string) *apiError {
	var (
		api   *apiError
		limit *directory.LimitError
	)
	switch {
	case errors.As(err, &api):
		return api
	case errors.As(err, &limit):
		return capExceeded(limit)
	case errors.Is(err, directory.ErrNotFound):
		return notFound(what)
	case errors.Is(err, directory.ErrAlreadyExists):
		return conflict("already_exists", what+" already exists")
	case errors.Is(err, directory.ErrWalletBound):
		return conflict("already_exists", "the wallet binds another account of this environment, or the account has another wallet")
	case errors.Is(err, directory.ErrKeyRevoked):
		return errInvalidState
	case errors.Is(err, directory.ErrInvalidToken), errors.Is(err, directory.ErrTokenReused):
		return errInvalidCredentials
	case errors.Is(err, engine.ErrInsufficientFunds):
		return &apiError{status: http.StatusPaymentRequired, kind: typePayment, code: "insufficient_funds",
			message: "the account's available balance does not cover the amount"}
	case errors.Is(err, engine.ErrBudgetExceeded):
		return &apiError{status: http.StatusPaymentRequired, kind: typePayment, code: "budget_exceeded",
			message: "the charge or hold would exceed the API key's budget"}
	case errors.Is(err, engine.ErrLimitExceeded):
		return conflict("limit_exceeded", "the account has reached a per-account limit (open holds, their memo bytes, or budgeted keys); release some first")
	case errors.Is(err, engine.ErrNotFound):
		return notFound(what)
	case errors.Is(err, engine.ErrLedgerMismatch):
		return forbidden("environment_mismatch", "the accounts are in different environments")
	case errors.Is(err, engine.ErrIdempotencyConflict):
		return errIdempotencyReused
	case errors.Is(err, engine.ErrInvalidState):
		return errInvalidState
	case errors.Is(err, engine.ErrAlreadyExists):
		return conflict("already_exists", what+" already exists")
	case errors.Is(err, engine.ErrOverflow):
		return validation(map[string]string{"amount": "too large for the account"})
	case errors.Is(err, engine.ErrUnavailable):
		return errUnavailable
	case errors.Is(err, engine.ErrInvalid):
		return invalid("validation_failed", "the request is not valid")
	case errors.Is(err, access.ErrKeyRevoked):
		return errKeyRevoked
	case errors.Is(err, access.ErrKeyExpired):
		return errKeyExpired
	case errors.Is(err, access.ErrMissingScope):
		return forbidden("missing_scope", "the API key lacks the scope this route needs")
	}
	return errInternal
}
