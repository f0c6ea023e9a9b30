package httpapi

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Session limits of the API, beyond the engine's (engine.SessionSecondsMax,
// engine.SessionStartWithinMax, and the payer's open holds, which sessions
// count against).
const (
	// SessionsPageDefault is the page size of GET /v1/sessions without a
	// limit; engine.SessionsPageMax is the most one page holds.
	SessionsPageDefault = 20
	// sessionStartWithinSecondsMax is engine.SessionStartWithinMax in the
	// API's unit.
	sessionStartWithinSecondsMax = uint64(engine.SessionStartWithinMax / time.Second)
)

// sessionRequest is a decoded POST /v1/sessions.
type sessionRequest struct {
	to          string
	rate        engine.Amount
	maxSeconds  int64
	startWithin time.Duration
	memo        string
}

func decodeSession(body []byte, payer string) (sessionRequest, *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return sessionRequest{}, apiErr
	}
	defer r.release()
	request := sessionRequest{to: readPayee(r, payer)}
	rate, rateOK := r.amount("ratePerSecond", true)
	maxSeconds, maxOK := r.integer("maxDurationSeconds", true, 1, engine.SessionSecondsMax)
	if rateOK && maxOK {
		if _, fits := engine.SessionReservation(rate, int64(maxSeconds)); !fits {
			r.fail("ratePerSecond", "times maxDurationSeconds must fit one operation's amount (2^64-1 base units)")
		}
	}
	request.rate, request.maxSeconds = rate, int64(maxSeconds)
	if within, ok := r.integer("startWithinSeconds", false, 1, sessionStartWithinSecondsMax); ok {
		request.startWithin = time.Duration(within) * time.Second
	}
	request.memo = readMetadata(r)
	return request, r.finish()
}

// sessionID is the durable client id of a session's opening (clientID).
func sessionID(payer, key string) engine.TransferID { return clientID(prefixSession, payer, key) }

func (s *Server) openSession(ctx *fasthttp.RequestCtx, c *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeSessionsWrite)
	if apiErr != nil {
		return apiErr
	}
	request, apiErr := decodeSession(ctx.PostBody(), grant.account)
	if apiErr != nil {
		return apiErr
	}
	// A session above the key's approval threshold cannot wait for one.
	if reserved, ok := engine.SessionReservation(request.rate, request.maxSeconds); ok && aboveApproval(grant, reserved) {
		return errApprovalRequired
	}
	done, key, apiErr := s.idempotentKey(ctx, c, grant.account)
	if done || apiErr != nil {
		return apiErr
	}
	session, err := s.engine.OpenSession(ctxOf(ctx), engine.OpenSession{
		ID: sessionID(grant.account, key), From: engine.AccountID(grant.account), To: engine.AccountID(request.to),
		Rate: request.rate, MaxSeconds: request.maxSeconds, StartWithin: request.startWithin,
		Memo: request.memo, Budget: grant.key.Budget(),
	})
	if err != nil {
		return sessionError(err, "account "+request.to)
	}
	writeAppended(ctx, fasthttp.StatusCreated, func(buf []byte) []byte { return appendSession(buf, &session, "") })
	return nil
}

// sessionTransition returns the handler of POST /v1/sessions/{id}/<name>,
// which asks the engine for one transition on behalf of the key's account.
func (s *Server) sessionTransition(do func(*engine.Engine, context.Context, engine.TransferID, engine.AccountID) (engine.Session, error)) handler {
	return func(ctx *fasthttp.RequestCtx, c *call) *apiError {
		grant, apiErr := s.authenticateKey(ctx, access.ScopeSessionsWrite)
		if apiErr != nil {
			return apiErr
		}
		if apiErr := decodeEmpty(ctx.PostBody()); apiErr != nil {
			return apiErr
		}
		done, apiErr := s.idempotent(ctx, c, grant.account)
		if done || apiErr != nil {
			return apiErr
		}
		id := pathID(ctx)
		if !strings.HasPrefix(id, prefixSession) {
			return notFound("session")
		}
		session, err := do(s.engine, ctxOf(ctx), engine.TransferID(id), engine.AccountID(grant.account))
		if err != nil {
			return sessionError(err, "session")
		}
		writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendSession(buf, &session, "") })
		return nil
	}
}

// decodeEmpty accepts an empty body or an empty JSON object: transitions
// take no fields.
func decodeEmpty(body []byte) *apiError {
	if len(body) == 0 {
		return nil
	}
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return apiErr
	}
	defer r.release()
	return r.finish()
}

// errWrongParty is API.md's 409 invalid_state for a transition that only
// the other side makes, with a message that says so.
var errWrongParty = conflict("invalid_state", "the other side of the session makes this transition: the supplier accepts, the consumer cancels")

// sessionError maps the engine's session errors: the other side's
// transition is 409 invalid_state saying whose it is; the rest as
// everywhere.
func sessionError(err error, what string) *apiError {
	if errors.Is(err, engine.ErrWrongParty) {
		return errWrongParty
	}
	return errorOf(err, what)
}

func (s *Server) getSession(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	grant, apiErr := s.authenticateKey(ctx, access.ScopeSessionsRead)
	if apiErr != nil {
		return apiErr
	}
	id := pathID(ctx)
	if !strings.HasPrefix(id, prefixSession) {
		return notFound("session")
	}
	session, err := s.engine.Session(ctxOf(ctx), engine.TransferID(id))
	if err != nil {
		return errorOf(err, "session")
	}
	// Another account's session does not exist, as far as this key knows.
	if string(session.From) != grant.account && string(session.To) != grant.account {
		return notFound("session")
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte { return appendSession(buf, &session, s.sessionSettlement(&session)) })
	return nil
}

// sessionSettlement returns the batch that settles an ended session ("").
func (s *Server) sessionSettlement(session *engine.Session) string {
	if session.State != engine.SessionEnded || session.Charged.IsZero() {
		return ""
	}
	return s.settlementOf(session.From, session.To, session.Ended)
}

// sessionStates are the states a list may filter on, as the API spells them.
var sessionStates = map[string]engine.SessionState{
	"REQUESTED": engine.SessionRequested, "ASSIGNED": engine.SessionAssigned, "LIVE": engine.SessionLive,
	"ENDED": engine.SessionEnded, "CANCELLED": engine.SessionCancelled, "EXPIRED": engine.SessionExpired,
}

// listSessions is GET /v1/sessions: the sessions an account takes part in,
// newest first. A key reads its own account's (`account` may name it); a
// user's JWT names one of the user's accounts (accountReader).
func (s *Server) listSessions(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.accountReaderOf(ctx, access.ScopeSessionsRead)
	if apiErr != nil {
		return apiErr
	}
	fields := map[string]string{}
	args := ctx.QueryArgs()
	q := engine.SessionQuery{Account: reader.account(args, fields), Limit: SessionsPageDefault}
	if state := args.Peek("state"); state != nil {
		if q.State = sessionStates[string(state)]; q.State == 0 {
			fields["state"] = "must be one of REQUESTED, ASSIGNED, LIVE, ENDED, CANCELLED, EXPIRED"
		}
	}
	q.Limit = readPageLimit(args, fields, q.Limit, engine.SessionsPageMax)
	q.StartingAfter = engine.TransferID(readStartingAfter(args, fields, "a session", prefixSession))
	if len(fields) > 0 {
		return validation(fields)
	}
	if apiErr := reader.checkAccount(q.Account); apiErr != nil {
		return apiErr
	}
	page, err := s.engine.Sessions(ctxOf(ctx), q)
	if errors.Is(err, engine.ErrInvalid) {
		return validation(map[string]string{"startingAfter": "must be one of this account's sessions"})
	}
	if err != nil {
		return errorOf(err, "session")
	}
	writeAppended(ctx, fasthttp.StatusOK, func(buf []byte) []byte {
		buf = append(buf, `{"data":[`...)
		for i := range page.Sessions {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendSession(buf, &page.Sessions[i], s.sessionSettlement(&page.Sessions[i]))
		}
		return appendPageEnd(buf, page.More, string(page.Next))
	})
	return nil
}

// appendSession appends the JSON of a session, as API.md describes it;
// settlementID is the batch that settles an ended one ("" is null).
func appendSession(buf []byte, s *engine.Session, settlementID string) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendString(buf, string(s.ID))
	buf = append(buf, `,"from":`...)
	buf = appendString(buf, string(s.From))
	buf = append(buf, `,"to":`...)
	buf = appendString(buf, string(s.To))
	buf = appendAmountField(buf, `,"ratePerSecond":`, s.Rate)
	buf = append(buf, `,"maxDurationSeconds":`...)
	buf = strconv.AppendInt(buf, s.MaxSeconds, 10)
	buf = append(buf, `,"state":`...)
	buf = appendString(buf, s.State.String())
	reserved := engine.Amount{}
	if s.State.IsOpen() {
		reserved = s.Reserved
	}
	buf = appendAmountField(buf, `,"reserved":`, reserved)
	buf = append(buf, `,"cleanSeconds":`...)
	buf = strconv.AppendInt(buf, s.CleanSeconds, 10)
	buf = appendAmountField(buf, `,"charged":`, s.Charged)
	buf = appendAmountField(buf, `,"fee":`, s.Fee)
	buf = appendPreciseTime(buf, `,"createdAt":`, s.Created)
	buf = appendPreciseTime(buf, `,"startBy":`, s.StartBy)
	buf = appendPreciseTime(buf, `,"acceptedAt":`, s.Accepted)
	buf = appendPreciseTime(buf, `,"startedAt":`, s.Started)
	buf = appendPreciseTime(buf, `,"endedAt":`, s.Ended)
	buf = append(buf, `,"settlementId":`...)
	buf = appendNullable(buf, settlementID)
	if s.Memo != "" {
		buf = append(buf, `,"metadata":`...)
		buf = append(buf, s.Memo...) // canonical JSON made by readMetadata
	}
	if s.Position != 0 {
		buf = append(buf, `,"position":`...)
		buf = appendUint(buf, s.Position)
	}
	return append(buf, '}')
}

// appendPreciseTime appends an RFC 3339 time to the nanosecond, or null for
// the zero time: a session's times carry their fractions, since its charge
// counts the whole seconds between two of them.
func appendPreciseTime(buf []byte, prefix string, t time.Time) []byte {
	buf = append(buf, prefix...)
	if t.IsZero() {
		return append(buf, "null"...)
	}
	buf = append(buf, '"')
	buf = t.UTC().AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

func appendNullable(buf []byte, s string) []byte {
	if s == "" {
		return append(buf, "null"...)
	}
	return appendString(buf, s)
}
