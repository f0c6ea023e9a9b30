package httpapi

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/approvals"
)

// BatchChargesMax bounds the charges of one batch request (API.md).
const BatchChargesMax = 1000

func (s *Server) balance(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeBalanceRead)
	if apiErr != nil {
		return apiErr
	}
	b, err := s.engine.Balance(ctxOf(ctx), engine.AccountID(grant.account))
	if err != nil {
		return errorOf(err, "account")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]string{
		"accountId": grant.account, "available": b.Available.String(), "reserved": b.Reserved.String(),
		"posted": b.Posted.String(), "pending": b.Pending.String(),
	})
	return nil
}

// chargeRequest is one decoded charge.
type chargeRequest struct {
	to             string
	amount         engine.Amount
	memo           string // the metadata object, canonical: keys sorted
	idempotencyKey string // batch items only
}

// readCharge reads the fields of one charge from r.
func readCharge(r *reader, payer string, batchItem bool) chargeRequest {
	c := chargeRequest{to: readPayee(r, payer)}
	c.amount, _ = r.amount("amount", true)
	c.memo = readMetadata(r)
	if batchItem {
		key, ok := r.string("idempotencyKey", false, IdempotencyKeyBytesMax)
		if ok && !printableASCII(key) {
			r.fail("idempotencyKey", "must be 1-255 printable ASCII characters")
		}
		c.idempotencyKey = key
	}
	return c
}

// Metadata limits, as Stripe's.
const (
	metadataKeysMax       = 20
	metadataKeyBytesMax   = 40
	metadataValueBytesMax = 500
)

// readMetadata checks a metadata object, up to 20 keys of 1-40 bytes with
// string values of at most 500 bytes, and returns it in canonical form
// (keys sorted), so that the same metadata is the same memo however it was
// written. An absent or empty object is no memo.
func readMetadata(parent *reader) string {
	r := parent.nested("metadata", false)
	if r == nil || r.object.Len() == 0 {
		return ""
	}
	tooMany := r.object.Len() > metadataKeysMax
	if tooMany {
		parent.fail("metadata", "must have at most 20 keys")
	}
	metadata := make(map[string]string, r.object.Len())
	r.object.Visit(func(key []byte, _ *fastjson.Value) {
		name := string(key)
		switch {
		case tooMany:
			r.markSeen(name)
		case len(name) == 0 || len(name) > metadataKeyBytesMax:
			r.fail(name, "metadata keys must be 1-40 bytes")
			r.markSeen(name)
		default:
			if value, ok := r.string(name, true, metadataValueBytesMax); ok {
				metadata[name] = value
			}
		}
	})
	memo, err := json.Marshal(metadata) // sorts the keys; cannot fail on strings
	if err != nil || len(memo) > engine.MemoBytesMax {
		parent.fail("metadata", "must encode to at most 16384 bytes")
		return ""
	}
	return string(memo)
}

func printableASCII(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// chargeID is the durable client id of a charge (clientID).
func chargeID(payer, key string) engine.TransferID { return clientID(prefixCharge, payer, key) }

// clientID is the durable client id of a charge, hold or session opened
// by payer, with its type's prefix: derived from the payer and the
// Idempotency-Key, so a retry names the same operation even after a
// restart, or random when there is no key.
func clientID(prefix, payer, key string) engine.TransferID {
	if key == "" {
		return engine.TransferID(newID(prefix))
	}
	return engine.TransferID(derivedID(prefix, payer, key))
}

// readPayee reads the "to" field of an operation payer makes: another
// account's id.
func readPayee(r *reader, payer string) string {
	to, ok := r.string("to", true, 64)
	switch {
	case ok && to == payer:
		r.fail("to", "must differ from the paying account")
	case ok && !strings.HasPrefix(to, prefixAccount):
		r.fail("to", "must be an account id (acct_…)")
	}
	return to
}

// beginCharging authenticates a request that charges, decodes its body with
// decode (given the paying account), and reads its Idempotency-Key. done
// reports that the response was replayed from the idempotency store.
func (s *Server) beginCharging(ctx *fasthttp.RequestCtx, c *call, decode func(body []byte, payer string) *apiError) (grant keyGrant, key string, done bool, apiErr *apiError) {
	if grant, apiErr = s.authenticateKey(ctx, access.ScopeChargesWrite); apiErr != nil {
		return grant, "", false, apiErr
	}
	if apiErr = decode(ctx.PostBody(), grant.account); apiErr != nil {
		return grant, "", false, apiErr
	}
	done, key, apiErr = s.idempotentKey(ctx, c, grant.account)
	return grant, key, done, apiErr
}

// decodeCharge reads the body of POST /v1/charges.
func decodeCharge(body []byte, payer string) (chargeRequest, *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return chargeRequest{}, apiErr
	}
	defer r.release()
	request := readCharge(r, payer, false)
	return request, r.finish()
}

// decodeBatch reads the body of POST /v1/charges/batch. items is the number
// of items the body holds, decodable or not.
func decodeBatch(body []byte, payer string) (requests []chargeRequest, items int, apiErr *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return nil, 0, apiErr
	}
	defer r.release()
	values := r.array("charges", true, BatchChargesMax)
	requests = make([]chargeRequest, 0, len(values))
	readers := make([]reader, len(values)) // the items', in one allocation
	r.children = slices.Grow(r.children, len(values))
	for i, item := range values {
		if ir := r.item(&readers[i], "charges", i, item); ir != nil {
			requests = append(requests, readCharge(ir, payer, true))
		}
	}
	return requests, len(values), r.finish()
}

func (s *Server) charge(ctx *fasthttp.RequestCtx, c *call) *apiError {
	var request chargeRequest
	grant, key, done, apiErr := s.beginCharging(ctx, c, func(body []byte, payer string) (apiErr *apiError) {
		request, apiErr = decodeCharge(body, payer)
		return apiErr
	})
	if done || apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.spendAwaitingApproval(ctx, grant, approvals.KindCharge, key, request.to, request.amount, request.memo, 0); done || apiErr != nil {
		return apiErr
	}
	t, err := s.engine.Charge(ctxOf(ctx), engine.Charge{
		ID: chargeID(grant.account, key), From: engine.AccountID(grant.account),
		To: engine.AccountID(request.to), Amount: request.amount, Memo: request.memo, Budget: grant.key.Budget(),
	})
	if err != nil {
		return errorOf(err, "account "+request.to)
	}
	if t.Replayed {
		if apiErr := s.fillReplayed(ctx, grant.account, &t); apiErr != nil {
			return apiErr
		}
	}
	writeAppended(ctx, fasthttp.StatusCreated, func(buf []byte) []byte { return appendCharge(buf, &t, true, "") })
	return nil
}

func (s *Server) chargeBatch(ctx *fasthttp.RequestCtx, c *call) *apiError {
	var requests []chargeRequest
	grant, key, done, apiErr := s.beginCharging(ctx, c, func(body []byte, payer string) (apiErr *apiError) {
		requests, _, apiErr = decodeBatch(body, payer)
		return apiErr
	})
	if done || apiErr != nil {
		return apiErr
	}
	for _, request := range requests {
		if aboveApproval(grant, request.amount) { // refused whole: nothing charged
			return errApprovalRequired
		}
	}
	charges := make([]engine.Charge, len(requests))
	for i, request := range requests {
		id := chargeID(grant.account, request.idempotencyKey)
		if request.idempotencyKey == "" && key != "" {
			id = engine.TransferID(derivedID(prefixCharge, grant.account, key, uitoa(i)))
		}
		charges[i] = engine.Charge{ID: id, From: engine.AccountID(grant.account), To: engine.AccountID(request.to),
			Amount: request.amount, Memo: request.memo, Budget: grant.key.Budget()}
	}
	results := s.engine.ChargeBatch(ctxOf(ctx), charges)
	errs := make([]*apiError, len(results))
	failed := 0
	var replayed *engine.Transfer // the first replayed item, whose balance the others copy
	for i := range results {
		if err := results[i].Err; err != nil {
			errs[i] = errorOf(err, "account "+requests[i].to)
			if errs[i] == errUnavailable {
				return errUnavailable // nothing after a failure of the log is trustworthy
			}
			failed++
			continue
		}
		t := &results[i].Transfer
		if !t.Replayed {
			continue
		}
		if replayed == nil {
			if apiErr := s.fillReplayed(ctx, grant.account, t); apiErr != nil {
				return apiErr
			}
			replayed = t
		}
		t.Balance, t.Position = replayed.Balance, replayed.Position
	}
	if failed == len(results) {
		// Nothing happened: not worth memory, as a single charge's error is
		// not stored either. A retry tries every item again.
		s.forgetIdempotent(c)
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendBatchResults(buf, results, errs, c.requestID) })
	return nil
}

// fillReplayed gives a charge the ledger replayed (its client id was used
// before, and the stored response is gone: after a restart, past
// idempotencyTTL, or a batch item's own key) the shape of a first answer:
// the ledger keeps no balance or position per charge, so they are the
// payer's balance and the log position now. Replays only: never on the
// path of a new charge.
func (s *Server) fillReplayed(ctx *fasthttp.RequestCtx, payer string, t *engine.Transfer) *apiError {
	position := s.engine.Position() // before the balance: the balance reflects at least this position
	b, err := s.engine.Balance(ctxOf(ctx), engine.AccountID(payer))
	if err != nil {
		return errorOf(err, "account")
	}
	t.Balance, t.Position = b, position
	return nil
}

// chargeReadScopes are the scopes that may read a charge, either one: the
// payer's charges:write (the key that made it checks on it, as holds:write
// reads a hold), or balance:read (a read scope, which publishable keys and
// payees' read-only keys hold: a charge is a movement of the balance).
const chargeReadScopes = access.ScopeChargesWrite | access.ScopeBalanceRead

var errChargeReadScope = forbidden("missing_scope", "reading a charge needs an API key with charges:write or balance:read")

func (s *Server) getCharge(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, 0) // either of two scopes: checked below
	if apiErr != nil {
		return apiErr
	}
	scopes := grant.key.Scopes()
	if scopes&chargeReadScopes == 0 {
		return errChargeReadScope
	}
	id := pathID(ctx)
	kind := engine.TransferCharge
	switch {
	case strings.HasPrefix(id, approvals.IDPrefix):
		// A charge an approval executed: its reservation, captured in
		// full (the fee locked when it was reserved).
		a, err := s.approvals.Get(engine.TransferID(id))
		if err != nil || a.Kind != approvals.KindCharge || a.State != approvals.StateExecuted {
			return notFound("charge")
		}
		kind = engine.TransferHold
	case !strings.HasPrefix(id, prefixCharge):
		return notFound("charge")
	}
	t, err := s.engine.Transfer(ctxOf(ctx), engine.TransferID(id))
	if err != nil {
		return errorOf(err, "charge")
	}
	// Another account's charge does not exist, as far as this key knows.
	if t.Type != kind || (string(t.From) != grant.account && string(t.To) != grant.account) {
		return notFound("charge")
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendCharge(buf, &t, false, s.settlementOf(t.From, t.To, t.Time)) })
	return nil
}
