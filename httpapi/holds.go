package httpapi

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/approvals"
)

// Holds over HTTP: POST /v1/holds reserves an amount of the key's account
// for a payee; capture posts up to that amount (less the fee) and releases
// the rest; void releases all; the engine expires a hold at its deadline by
// itself, also across a restart. The engine decides every state change; this
// file adds who may ask (the payer's or the payee's key with holds:write, or
// the owner's JWT to read) and one rule of API.md's the engine leaves to its
// callers: a capture or void of a hold that is no longer PENDING is 409
// invalid_state, even when it asks for what already happened (the engine
// answers an identical capture, and a second void, as replays of the first).
// A retry that must get the first answer sends the same Idempotency-Key: its
// stored response is replayed. After a restart the stored response is gone
// and the retry is 409; GET /v1/holds/{id} then tells how the hold closed.

// HoldExpiresInSecondsMax bounds a hold's expiresInSeconds: 30 days, the
// engine's own bound on a hold's timeout (ledger.HoldTimeoutMax; a test
// checks they agree), so the engine never refuses what passed here. A hold
// pins the payer's money until it closes: a month covers a billing period,
// and nothing a client sends pins it longer.
const HoldExpiresInSecondsMax = 30 * 24 * 60 * 60

// holdRequest is a decoded POST /v1/holds: a charge's fields and the
// hold's lifetime.
type holdRequest struct {
	chargeRequest
	expiresIn time.Duration
}

// decodeHold reads the body of POST /v1/holds.
func decodeHold(body []byte, payer string) (holdRequest, *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return holdRequest{}, apiErr
	}
	defer r.release()
	request := holdRequest{chargeRequest: readCharge(r, payer, false)}
	seconds, _ := r.integer("expiresInSeconds", true, 1, HoldExpiresInSecondsMax)
	request.expiresIn = time.Duration(seconds) * time.Second
	return request, r.finish()
}

// holdID is the durable client id of a hold (clientID).
func holdID(payer, key string) engine.TransferID { return clientID(prefixHold, payer, key) }

func (s *Server) createHold(ctx *fasthttp.RequestCtx, c *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeHoldsWrite)
	if apiErr != nil {
		return apiErr
	}
	request, apiErr := decodeHold(ctx.PostBody(), grant.account)
	if apiErr != nil {
		return apiErr
	}
	done, key, apiErr := s.idempotentKey(ctx, c, grant.account)
	if done || apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.spendAwaitingApproval(ctx, grant, approvals.KindHold, key, request.to, request.amount, request.memo, request.expiresIn); done || apiErr != nil {
		return apiErr
	}
	t, err := s.engine.Hold(ctxOf(ctx), engine.Hold{
		ID: holdID(grant.account, key), From: engine.AccountID(grant.account), To: engine.AccountID(request.to),
		Amount: request.amount, Timeout: request.expiresIn, Memo: request.memo, Budget: grant.key.Budget(),
	})
	if err != nil {
		return errorOf(err, "account "+request.to)
	}
	if t.Replayed { // placed by an earlier request with this key: its state now
		if apiErr := s.fillReplayed(ctx, grant.account, &t); apiErr != nil {
			return apiErr
		}
	}
	writeAppended(ctx, fasthttp.StatusCreated, func(buf []byte) []byte { return appendHold(buf, &t, true, "") })
	return nil
}

var errHoldNotFound = notFound("hold")

// partyHold returns the path's hold if account is its payer or payee; to
// anyone else it does not exist. A hold still PENDING past its deadline is
// expired first (expireDue), so no answer shows it open when it cannot be
// captured any more.
func (s *Server) partyHold(ctx *fasthttp.RequestCtx, party func(t *engine.Transfer) bool) (engine.Transfer, *apiError) {
	id := pathID(ctx)
	if !s.clientHold(id) {
		return engine.Transfer{}, errHoldNotFound
	}
	t, err := s.engine.Transfer(ctxOf(ctx), engine.TransferID(id))
	if err != nil {
		return t, errorOf(err, "hold")
	}
	if t.Type != engine.TransferHold || !party(&t) {
		return engine.Transfer{}, errHoldNotFound
	}
	return s.expireDue(ctx, t)
}

// clientHold reports whether the engine hold id is a client's hold: one
// placed through POST /v1/holds, or by an approval that executed it as a
// hold. Until an approval executes, its hold is the approval's reservation,
// which no one captures or voids but the approvals (and an approved charge
// is a charge): to a client it is no hold.
func (s *Server) clientHold(id string) bool {
	if strings.HasPrefix(id, approvals.IDPrefix) {
		a, err := s.approvals.Get(engine.TransferID(id))
		return err == nil && a.Kind == approvals.KindHold && a.State == approvals.StateExecuted
	}
	return len(id) > len(prefixHold) && id[:len(prefixHold)] == prefixHold
}

// expireDue returns t as it stands once its deadline is honoured. The
// engine expires a hold at its deadline by itself (its sweeper), a moment
// after it, and before any decision on the payer's account: a balance read
// of the payer is such a decision, so after it the hold's expiry, if due,
// is durable and t is read again. It costs a call only for a hold found
// PENDING at or past its deadline.
func (s *Server) expireDue(ctx *fasthttp.RequestCtx, t engine.Transfer) (engine.Transfer, *apiError) {
	if t.State != engine.HoldOpen || s.now().Before(t.Deadline) {
		return t, nil
	}
	if _, err := s.engine.Balance(ctxOf(ctx), t.From); err != nil {
		return t, errorOf(err, "hold")
	}
	t, err := s.engine.Transfer(ctxOf(ctx), t.ID)
	if err != nil {
		return t, errorOf(err, "hold")
	}
	return t, nil
}

// keyParty reports whether the key's account is a party to the hold.
func keyParty(grant keyGrant) func(t *engine.Transfer) bool {
	return func(t *engine.Transfer) bool {
		return string(t.From) == grant.account || string(t.To) == grant.account
	}
}

func (s *Server) getHold(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	party, apiErr := s.holdReader(ctx)
	if apiErr != nil {
		return apiErr
	}
	t, apiErr := s.partyHold(ctx, party)
	if apiErr != nil {
		return apiErr
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendHold(buf, &t, false, s.holdSettlement(&t)) })
	return nil
}

// HoldsPageDefault is the page size of GET /v1/holds without a limit;
// engine.HoldsPageMax is the most one page holds.
const HoldsPageDefault = 20

// holdStateNames are the states a list may filter on, as the API spells
// them (holdStates inverted).
var holdStateNames = func() map[string]engine.HoldState {
	names := make(map[string]engine.HoldState, len(holdStates))
	for state, name := range holdStates {
		names[name] = state
	}
	return names
}()

// listHolds is GET /v1/holds: the holds an account is payer or payee of,
// newest first, each as GET /v1/holds/{id} shows it. A key with
// holds:write reads its own account's (`account` may name it); a user's
// JWT names one of the user's accounts (accountReader). Holds placed
// before the engine indexed them (engine.Holds) are not listed. A page may
// hold fewer than limit while hasMore: the engine's page also reads
// approvals' reservations, which are no client's holds (clientHold).
func (s *Server) listHolds(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.accountReaderOf(ctx, access.ScopeHoldsWrite)
	if apiErr != nil {
		return apiErr
	}
	fields := map[string]string{}
	args := ctx.QueryArgs()
	q := engine.HoldQuery{Account: reader.account(args, fields), Limit: HoldsPageDefault}
	if state := args.Peek("state"); state != nil {
		if q.State = holdStateNames[string(state)]; q.State == "" {
			fields["state"] = "must be one of PENDING, CAPTURED, VOIDED, EXPIRED"
		}
	}
	q.Limit = readPageLimit(args, fields, q.Limit, engine.HoldsPageMax)
	q.StartingAfter = engine.TransferID(readStartingAfter(args, fields, "a hold", prefixHold, approvals.IDPrefix))
	if len(fields) > 0 {
		return validation(fields)
	}
	if apiErr := reader.checkAccount(q.Account); apiErr != nil {
		return apiErr
	}
	page, err := s.engine.Holds(ctxOf(ctx), q)
	if errors.Is(err, engine.ErrInvalid) {
		return validation(map[string]string{"startingAfter": "must be one of this account's holds"})
	}
	if err != nil {
		return errorOf(err, "hold")
	}
	holds := page.Holds[:0]
	for _, t := range page.Holds {
		if !s.clientHold(string(t.ID)) {
			continue
		}
		t, apiErr := s.expireDue(ctx, t)
		if apiErr != nil {
			return apiErr
		}
		if q.State != "" && t.State != q.State {
			continue // expired as it was read: the engine listed it as due
		}
		holds = append(holds, t)
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte {
		buf = append(buf, `{"data":[`...)
		for i := range holds {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendHold(buf, &holds[i], false, s.holdSettlement(&holds[i]))
		}
		return appendPageEnd(buf, page.More, string(page.Next))
	})
	return nil
}

// holdSettlement returns the batch that settles a captured hold ("").
func (s *Server) holdSettlement(t *engine.Transfer) string {
	if t.State != engine.HoldCaptured || t.Captured.IsZero() {
		return ""
	}
	return s.settlementOf(t.From, t.To, t.Time)
}

// holdReader authenticates a reader of a hold: an API key with holds:write,
// or a user's access JWT (accountReaderOf). It returns who counts as a
// party: the key's account, or any account the user owns.
func (s *Server) holdReader(ctx *fasthttp.RequestCtx) (func(t *engine.Transfer) bool, *apiError) {
	reader, apiErr := s.accountReaderOf(ctx, access.ScopeHoldsWrite)
	if apiErr != nil {
		return nil, apiErr
	}
	return func(t *engine.Transfer) bool { return reader.reads(t.From) || reader.reads(t.To) }, nil
}

// decodeCapture reads the body of a capture: an optional amount; an empty
// body captures everything.
func decodeCapture(body []byte) (amount engine.Amount, given bool, apiErr *apiError) {
	if len(body) == 0 {
		return amount, false, nil
	}
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return amount, false, apiErr
	}
	defer r.release()
	amount, given = r.amount("amount", false)
	return amount, given, r.finish()
}

func (s *Server) captureHold(ctx *fasthttp.RequestCtx, c *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeHoldsWrite)
	if apiErr != nil {
		return apiErr
	}
	amount, given, apiErr := decodeCapture(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	t, apiErr := s.partyHold(ctx, keyParty(grant))
	if apiErr != nil {
		return apiErr
	}
	switch {
	case !given:
		amount = t.Amount
	case amount.Cmp(t.Amount) > 0:
		return validation(map[string]string{"amount": "must be at most the held amount, " + t.Amount.String()})
	}
	if done, apiErr := s.idempotent(ctx, c, grant.account); done || apiErr != nil {
		return apiErr
	}
	if t.State != engine.HoldOpen {
		return errInvalidState
	}
	captured, err := s.engine.Capture(ctxOf(ctx), t.ID, amount)
	if err != nil {
		return errorOf(err, "hold")
	}
	if captured.Replayed { // another request captured it first, with this amount
		return errInvalidState
	}
	if string(captured.From) != grant.account { // the payee: its own balance, not the payer's
		if apiErr := s.fillBalance(ctx, grant.account, &captured); apiErr != nil {
			return apiErr
		}
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendHold(buf, &captured, true, "") })
	return nil
}

func (s *Server) voidHold(ctx *fasthttp.RequestCtx, c *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeHoldsWrite)
	if apiErr != nil {
		return apiErr
	}
	if apiErr := readEmpty(ctx.PostBody()); apiErr != nil {
		return apiErr
	}
	t, apiErr := s.partyHold(ctx, keyParty(grant))
	if apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, grant.account); done || apiErr != nil {
		return apiErr
	}
	// The engine answers a void of a voided hold as a replay, success
	// again: under the hold's lock, the state read here is the one the void
	// changes, so only the request that voided it answers 200.
	unlock := s.holdVoids.lock(string(t.ID))
	defer unlock()
	t, err := s.engine.Transfer(ctxOf(ctx), t.ID)
	if err != nil {
		return errorOf(err, "hold")
	}
	if t.State != engine.HoldOpen {
		return errInvalidState
	}
	if err := s.engine.Void(ctxOf(ctx), t.ID); err != nil {
		return errorOf(err, "hold")
	}
	voided, err := s.engine.Transfer(ctxOf(ctx), t.ID)
	if err != nil {
		return errorOf(err, "hold")
	}
	if voided.State != engine.HoldVoided {
		return errInternal // a closed hold never changes again
	}
	if apiErr := s.fillBalance(ctx, grant.account, &voided); apiErr != nil {
		return apiErr
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendHold(buf, &voided, true, "") })
	return nil
}

// fillBalance gives the answer to a capture or void the balance of the
// calling key's account and a log position, read after the operation: the
// engine answers it only once it is durable and its effects are on their
// way to the payee (sent before any answer), so the balance reflects it and
// the position is at or after its event. The position is read first, as
// fillReplayed does: the balance reflects at least that position.
func (s *Server) fillBalance(ctx *fasthttp.RequestCtx, account string, t *engine.Transfer) *apiError {
	position := s.engine.Position()
	b, err := s.engine.Balance(ctxOf(ctx), engine.AccountID(account))
	if err != nil {
		return errorOf(err, "account")
	}
	t.Balance, t.Position = b, position
	return nil
}

// holdVoidStripes is how many locks the voids of all holds share: voids of
// different holds rarely wait for each other, at a fixed cost.
const holdVoidStripes = 64

// holdVoidLocks serializes the voids of one hold (of every hold that hashes
// to its stripe) in this process, the only one that serves the data
// directory. The zero value is ready.
//
// Rejected alternative: an engine call that reports whether a void was a
// replay. It would change the engine's API for one HTTP rule; captures
// need no lock, since Capture reports Replayed.
type holdVoidLocks [holdVoidStripes]sync.Mutex

// lock takes id's stripe and returns its unlock.
func (l *holdVoidLocks) lock(id string) func() {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	m := &l[h%holdVoidStripes]
	m.Lock()
	return m.Unlock
}
