package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/approvals"
	"github.com/tollway/tollway/engine/webhooks"
)

// Approvals over HTTP: a charge or hold by a key whose approval policy
// applies answers 202 with the approval (requestApproval); the payer
// account's owner (by JWT, or by their wallet's signature) and the owner's
// arbiter keys decide it (/v1/approvals/{id}/approve, …/reject); the
// service in engine/approvals does the rest.

// Headers of a decision by the owner's wallet (API.md).
const (
	headerEthereumAddress   = "X-Ethereum-Address"
	headerEthereumSignature = "X-Ethereum-Signature"
)

type decisionJSON struct {
	Role     approvals.Role `json:"role"`
	By       string         `json:"by"`
	Approved bool           `json:"approved"`
	Reason   *string        `json:"reason"`
	At       string         `json:"at"`
}

type approvalJSON struct {
	ID         string           `json:"id"`
	Kind       approvals.Kind   `json:"kind"`
	KeyID      string           `json:"keyId"`
	From       string           `json:"from"`
	To         string           `json:"to"`
	Amount     string           `json:"amount"`
	Metadata   json.RawMessage  `json:"metadata"`
	State      approvals.State  `json:"state"`
	Required   []approvals.Role `json:"required"`
	Decisions  []decisionJSON   `json:"decisions"`
	TransferID *string          `json:"transferId"`
	Error      *string          `json:"error,omitempty"`
	CreatedAt  string           `json:"createdAt"`
	ExpiresAt  string           `json:"expiresAt"`
	DecidedAt  *string          `json:"decidedAt"`
}

func approvalOf(a *approvals.Approval) approvalJSON {
	out := approvalJSON{
		ID: string(a.ID), Kind: a.Kind, KeyID: a.KeyID, From: string(a.From), To: string(a.To), Amount: a.Amount.String(),
		Metadata: json.RawMessage("null"), State: a.State, Required: a.Required, Decisions: make([]decisionJSON, len(a.Decisions)),
		CreatedAt: timeJSON(a.CreatedAt), ExpiresAt: timeJSON(a.ExpiresAt),
	}
	if a.Memo != "" {
		out.Metadata = json.RawMessage(a.Memo)
	}
	for i, d := range a.Decisions {
		out.Decisions[i] = decisionJSON{Role: d.Role, By: d.By, Approved: d.Approved, At: timeJSON(d.At)}
		if d.Reason != "" {
			out.Decisions[i].Reason = &d.Reason
		}
	}
	if a.TransferID != "" {
		id := string(a.TransferID)
		out.TransferID = &id
	}
	if a.Error != "" {
		out.Error = &a.Error
	}
	if !a.DecidedAt.IsZero() {
		at := timeJSON(a.DecidedAt)
		out.DecidedAt = &at
	}
	return out
}

// approvalWaiting is the 202 answer of a spend held back.
type approvalWaiting struct {
	Approval approvalJSON `json:"approval"`
	Replayed bool         `json:"replayed,omitempty"`
}

// spendAwaitingApproval holds back a charge or hold of amount by the key
// of grant if its approval policy applies: it answers 202 with the
// approval (done true), or an error. done is false when the spend goes on
// at once.
func (s *Server) spendAwaitingApproval(ctx *fasthttp.RequestCtx, grant keyGrant, kind approvals.Kind, idempotencyKey string,
	to string, amount engine.Amount, memo string, holdTimeout time.Duration) (done bool, apiErr *apiError) {
	policy, ok := grant.key.Approval()
	if !ok || !policy.Applies(amount) {
		return false, nil
	}
	record := grant.key.Record()
	a, replayed, err := s.approvals.Request(ctxOf(ctx), approvals.Request{
		ID: clientID(approvals.IDPrefix, grant.account, idempotencyKey), Kind: kind, KeyID: record.ID, Owner: record.Owner,
		From: engine.AccountID(grant.account), To: engine.AccountID(to), Amount: amount, Memo: memo,
		Budget: grant.key.Budget(), HoldTimeout: holdTimeout, Policy: policy,
	})
	if err != nil {
		return true, approvalError(err, "account "+to)
	}
	s.writeJSON(ctx, fasthttp.StatusAccepted, approvalWaiting{Approval: approvalOf(&a), Replayed: replayed})
	return true, nil
}

// errApprovalRequired refuses a spend above a key's approval threshold on
// a route that cannot wait for one (a batch item, a session, a gateway
// call): a charge or a hold can.
var errApprovalRequired = forbidden("approval_required",
	"the amount is above the API key's approval threshold: make it a charge (POST /v1/charges) or a hold (POST /v1/holds), which wait for the approval")

// aboveApproval reports whether grant's key may not spend amount without
// an approval.
func aboveApproval(grant keyGrant, amount engine.Amount) bool {
	policy, ok := grant.key.Approval()
	return ok && policy.Applies(amount)
}

var (
	errApprovalDecided = conflict("already_decided", "this role has decided this approval already")
	errApprovalClosed  = conflict("invalid_state", "the approval is not pending any more (decided or expired)")
	errApprovalRole    = forbidden("role_not_required", "the approval does not wait for this role")
	errApprovalOwnKey  = forbidden("own_key", "the key whose spend waits cannot decide it")
	errApprovalLimit   = conflict("limit_exceeded", "too many approvals pending for the account or the key: decide some first")
	errApprovalNotKey  = forbidden("not_arbiter", "an API key decides only as an arbiter: a key of the owner created with role arbiter and approvals:write")
)

// approvalError maps the approvals service's errors; the engine's pass to
// errorOf (what names the payee for not-found).
func approvalError(err error, what string) *apiError {
	switch {
	case errors.Is(err, approvals.ErrNotFound):
		return notFound("approval")
	case errors.Is(err, approvals.ErrDecided):
		return errApprovalDecided
	case errors.Is(err, approvals.ErrNotPending):
		return errApprovalClosed
	case errors.Is(err, approvals.ErrNotRequired):
		return errApprovalRole
	case errors.Is(err, approvals.ErrOwnKey):
		return errApprovalOwnKey
	case errors.Is(err, approvals.ErrLimit):
		return errApprovalLimit
	case errors.Is(err, approvals.ErrIDConflict):
		return errIdempotencyReused
	case errors.Is(err, approvals.ErrInvalid):
		return invalid("validation_failed", err.Error())
	case errors.Is(err, approvals.ErrUnavailable):
		return errUnavailable
	}
	return errorOf(err, what)
}

// ---- reading

// approvalReader is who reads approvals: the owner by JWT (every account
// of theirs), or a key of the payer account with approvals:read.
type approvalReader struct {
	owner   string // set for a JWT
	account string // set for a key
}

func (s *Server) approvalReader(ctx *fasthttp.RequestCtx) (approvalReader, *apiError) {
	if token, ok := bearer(ctx); ok && looksLikeKey(token) {
		grant, apiErr := s.authenticateKey(ctx, access.ScopeApprovalsRead)
		return approvalReader{account: grant.account}, apiErr
	}
	u, apiErr := s.authenticateUser(ctx)
	return approvalReader{owner: u.ID}, apiErr
}

func (r approvalReader) reads(a *approvals.Approval) bool {
	return r.owner != "" && a.Owner == r.owner || r.account != "" && string(a.From) == r.account
}

func (s *Server) getApproval(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.approvalReader(ctx)
	if apiErr != nil {
		return apiErr
	}
	a, err := s.approvals.Get(engine.TransferID(pathID(ctx)))
	if err != nil || !reader.reads(&a) {
		return notFound("approval")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, approvalOf(&a))
	return nil
}

// approvalListJSON is a page of approvals, shaped as the other lists
// (data, hasMore, nextStartingAfter). nextCursor repeats nextStartingAfter
// for the clients of the first version, which paged with cursor.
type approvalListJSON struct {
	Data       []approvalJSON `json:"data"`
	HasMore    bool           `json:"hasMore"`
	Next       *string        `json:"nextStartingAfter"`
	NextCursor *string        `json:"nextCursor"`
}

func (s *Server) listApprovals(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.approvalReader(ctx)
	if apiErr != nil {
		return apiErr
	}
	args := ctx.QueryArgs()
	after, cursor := args.Peek("startingAfter"), args.Peek("cursor") // cursor: the first version's name
	q := approvals.Query{Owner: reader.owner, Account: engine.AccountID(reader.account),
		State: approvals.State(args.Peek("state")), After: engine.TransferID(after)}
	fields := map[string]string{}
	switch {
	case after == nil:
		q.After = engine.TransferID(cursor)
	case cursor != nil && !bytes.Equal(after, cursor):
		fields["cursor"] = "names another approval than startingAfter: give one of them"
	}
	if q.State != "" && !q.State.Valid() {
		fields["state"] = "must be PENDING, APPROVED, EXECUTED, REJECTED, EXPIRED or FAILED"
	}
	q.Limit = readPageLimit(args, fields, 0, approvals.ListLimitMax) // 0: the service's default
	if len(fields) > 0 {
		return validation(fields)
	}
	page, err := s.approvals.List(q)
	if err != nil {
		return approvalError(err, "approval")
	}
	out := approvalListJSON{Data: make([]approvalJSON, len(page.Approvals)), HasMore: page.Next != ""}
	for i := range page.Approvals {
		out.Data[i] = approvalOf(&page.Approvals[i])
	}
	if page.Next != "" {
		next := string(page.Next)
		out.Next, out.NextCursor = &next, &next
	}
	s.writeJSON(ctx, fasthttp.StatusOK, out)
	return nil
}

// ---- deciding

// decideApproval is POST /v1/approvals/{id}/approve (approve true) and
// …/reject: as the owner, by JWT or by a signature of the owner's wallet,
// or as an arbiter, by an arbiter key of the owner.
func (s *Server) decideApproval(approve bool) handler {
	decision := "reject"
	if approve {
		decision = "approve"
	}
	return func(ctx *fasthttp.RequestCtx, c *call) *apiError {
		id := engine.TransferID(pathID(ctx))
		reason, apiErr := decodeDecision(ctx.PostBody())
		if apiErr != nil {
			return apiErr
		}
		d, owner, apiErr := s.decider(ctx, id, decision)
		if apiErr != nil {
			return apiErr
		}
		a, err := s.approvals.Get(id)
		if err != nil || a.Owner != owner {
			return notFound("approval") // another owner's approval does not exist for this one
		}
		// A retry with the Idempotency-Key of a decision whose answer was
		// lost gets that answer, not 409 already_decided: from the stored
		// responses, or after a restart from the decision's fingerprint.
		done, key, apiErr := s.idempotentKey(ctx, c, d.By)
		if done || apiErr != nil {
			return apiErr
		}
		d.Approved, d.Reason, d.At = approve, reason, s.now()
		if key != "" {
			d.Request = decisionFingerprint(ctx, key)
		}
		a, err = s.approvals.Decide(ctxOf(ctx), id, d)
		if errors.Is(err, approvals.ErrDecided) && d.Request != "" && slices.ContainsFunc(a.Decisions, func(prior approvals.Decision) bool {
			return prior.Role == d.Role && prior.By == d.By && prior.Request == d.Request
		}) {
			ctx.Response.Header.Set("Idempotent-Replayed", "true")
			s.writeJSON(ctx, fasthttp.StatusOK, approvalOf(&a)) // the approval in its state now
			return nil
		}
		if err != nil {
			return approvalError(err, "approval")
		}
		s.writeJSON(ctx, fasthttp.StatusOK, approvalOf(&a))
		return nil
	}
}

// decisionFingerprint is a decision's Request: the hash of its
// Idempotency-Key and of the request (method, path, body), so that only a
// retry of the same request under the same key matches it.
func decisionFingerprint(ctx *fasthttp.RequestCtx, key string) string {
	var request [sha256.Size]byte
	hashRequest(&request, ctx)
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(request[:])
	return hex.EncodeToString(h.Sum(nil))
}

// decider authenticates who decides approval id and returns their
// decision's role and name, and the owner they act for. A wallet signs
// "Tollway approval <id>: approve|reject", so a signature decides only
// the approval and the decision it names.
func (s *Server) decider(ctx *fasthttp.RequestCtx, id engine.TransferID, decision string) (approvals.Decision, string, *apiError) {
	if address := ctx.Request.Header.Peek(headerEthereumAddress); address != nil {
		// Unauthenticated until the signature is checked, and checking
		// costs a key recovery: the sign-in routes' per-client bucket
		// bounds it.
		if apiErr := s.guard.admitClient(ctx, s.now()); apiErr != nil {
			return approvals.Decision{}, "", apiErr
		}
		a, err := s.approvals.Get(id)
		if err != nil {
			return approvals.Decision{}, "", notFound("approval")
		}
		u, err := s.directory.User(a.Owner)
		if err != nil || u.Address == "" {
			return approvals.Decision{}, "", errWalletNotOwner
		}
		if !strings.EqualFold(string(address), u.Address) {
			return approvals.Decision{}, "", errWalletNotOwner
		}
		signature := string(ctx.Request.Header.Peek(headerEthereumSignature))
		if err := verifyApprovalSignature(string(address), signature, string(id), decision); err != nil {
			return approvals.Decision{}, "", errWalletSignature(err)
		}
		return approvals.Decision{Role: approvals.RoleOwner, By: u.Address}, u.ID, nil
	}
	token, ok := bearer(ctx)
	if ok && looksLikeKey(token) {
		grant, apiErr := s.authenticateKey(ctx, access.ScopeApprovalsWrite)
		if apiErr != nil {
			return approvals.Decision{}, "", apiErr
		}
		record := grant.key.Record()
		if record.Role != access.KeyRoleArbiter {
			return approvals.Decision{}, "", errApprovalNotKey
		}
		return approvals.Decision{Role: approvals.RoleArbiter, By: record.ID}, record.Owner, nil
	}
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return approvals.Decision{}, "", apiErr
	}
	return approvals.Decision{Role: approvals.RoleOwner, By: u.ID}, u.ID, nil
}

var errWalletNotOwner = forbidden("not_owner", "X-Ethereum-Address must be the wallet the approval's owner signs in with (Sign-In with Ethereum)")

func errWalletSignature(err error) *apiError {
	return &apiError{status: fasthttp.StatusUnauthorized, kind: typeAuthentication, code: "invalid_signature",
		message: "X-Ethereum-Signature is not the owner's wallet's signature of this decision on this approval: " + err.Error()}
}

// decodeDecision reads the optional body of a decision: {"reason"?}.
func decodeDecision(body []byte) (string, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return "", apiErr
	}
	reason, _ := r.string("reason", false, approvals.ReasonBytesMax)
	apiErr = r.finish()
	r.release()
	return reason, apiErr
}

// approvalWebhooks maps the approvals' records to approval.requested and
// approval.decided, to the payer account's owner.
func approvalWebhooks() webhooks.Rows {
	return webhooks.Rows{
		Prefixes: [][]byte{[]byte(approvals.RowPrefix)},
		Map: func(key, value []byte) ([]webhooks.RowEvent, error) {
			a, ok, err := approvals.Decode(key, value)
			if err != nil || !ok {
				return nil, err
			}
			kind, ok := approvals.EventOf(a)
			if !ok {
				return nil, nil
			}
			at := a.CreatedAt
			fact := "requested"
			if kind == approvals.EventDecided {
				at, fact = a.DecidedAt, "decided"
			}
			return []webhooks.RowEvent{{Type: kind, Account: a.From, Key: string(a.ID) + "." + fact, Time: at, Data: approvalOf(&a)}}, nil
		},
	}
}

// joinRows delivers the rows of both a and b: their prefixes must not
// overlap (each row is mapped by the one whose prefix it has).
func joinRows(a, b webhooks.Rows) webhooks.Rows {
	if a.Map == nil {
		return b
	}
	prefixes := append(append([][]byte(nil), a.Prefixes...), b.Prefixes...)
	return webhooks.Rows{Prefixes: prefixes, Map: func(key, value []byte) ([]webhooks.RowEvent, error) {
		for _, p := range a.Prefixes {
			if bytes.HasPrefix(key, p) {
				return a.Map(key, value)
			}
		}
		return b.Map(key, value)
	}}
}
