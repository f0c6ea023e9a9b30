package httpapi

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/directory"
)

// keyLabelBytesMax bounds a key's label.
const keyLabelBytesMax = 100

type keyJSON struct {
	ID          string              `json:"id"`
	Key         string              `json:"key,omitempty"` // the plaintext: in the creating response only
	AccountID   string              `json:"accountId"`
	Label       string              `json:"label"`
	Kind        string              `json:"kind"`
	Prefix      string              `json:"prefix"`
	Last4       string              `json:"last4"`
	Scopes      []string            `json:"scopes"`
	Environment string              `json:"environment"`
	CreatedAt   string              `json:"createdAt"`
	ExpiresAt   *string             `json:"expiresAt"`
	RevokedAt   *string             `json:"revokedAt"`
	RateLimit   access.RateLimit    `json:"rateLimit"`
	Budget      *budgetJSON         `json:"budget"`
	Approval    *approvalPolicyJSON `json:"approval"` // null: nothing the key does waits for people
	Role        string              `json:"role"`     // "standard" or "arbiter"
}

// keyRoleStandard is how the API spells access.KeyRoleStandard, which is
// stored as "" so that records from before roles read unchanged.
const keyRoleStandard = "standard"

func keyRoleJSON(role access.KeyRole) string {
	if role == access.KeyRoleStandard {
		return keyRoleStandard
	}
	return string(role)
}

// approvalPolicyJSON is a key's approval policy.
type approvalPolicyJSON struct {
	Above            string   `json:"above"`
	Approvers        []string `json:"approvers"`
	ExpiresInSeconds int64    `json:"expiresInSeconds"`
}

func approvalJSONOf(p *access.ApprovalPolicy) *approvalPolicyJSON {
	if p == nil {
		return nil
	}
	return &approvalPolicyJSON{Above: p.Above, Approvers: p.Approvers, ExpiresInSeconds: p.ExpiresInSeconds}
}

// budgetJSON is a key's caps (null: none) and, when the key is read on its
// own, what it has spent against them: in all and on the current UTC day.
type budgetJSON struct {
	MaxPerCharge *string `json:"maxPerCharge"`
	MaxPerDay    *string `json:"maxPerDay"`
	MaxTotal     *string `json:"maxTotal"`
	Spent        *string `json:"spent,omitempty"`
	SpentToday   *string `json:"spentToday,omitempty"`
}

func budgetJSONOf(b *access.Budget) *budgetJSON {
	if b == nil {
		return nil
	}
	orNull := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return &budgetJSON{MaxPerCharge: orNull(b.MaxPerCharge), MaxPerDay: orNull(b.MaxPerDay), MaxTotal: orNull(b.MaxTotal)}
}

func keyOf(k *access.Key, plaintext string) keyJSON {
	j := keyJSON{ID: k.ID, Key: plaintext, AccountID: k.Account, Label: k.Label, Kind: string(k.Kind),
		Prefix: k.Prefix, Last4: k.Last4, Scopes: k.Scopes.Names(), Environment: string(k.Environment),
		CreatedAt: timeJSON(k.CreatedAt), RateLimit: k.RateLimit, Budget: budgetJSONOf(k.Budget),
		Approval: approvalJSONOf(k.Approval), Role: keyRoleJSON(k.Role)}
	if !k.ExpiresAt.IsZero() {
		t := timeJSON(k.ExpiresAt)
		j.ExpiresAt = &t
	}
	if !k.RevokedAt.IsZero() {
		t := timeJSON(k.RevokedAt)
		j.RevokedAt = &t
	}
	return j
}

// mintKey makes a new key's plaintext and its stored form from template
// (account, owner, label, kind, environment, scopes, limits).
func (s *Server) mintKey(template access.Key, now time.Time) (access.Key, string) {
	kind := "sk_"
	if template.Kind == access.KeyPublishable {
		kind = "pk_"
	}
	secret := randomBase62(keySecretChars)
	plaintext := kind + string(template.Environment) + "_" + secret
	k := template
	k.ID = newID(prefixKey)
	k.Hash = s.hasher.hash([]byte(plaintext))
	k.Prefix = plaintext[:len(plaintext)-keySecretChars+4]
	k.Last4 = secret[len(secret)-4:]
	k.CreatedAt = now.UTC()
	k.RevokedAt, k.ReplacedBy = time.Time{}, ""
	if k.Budget != nil {
		budget := *k.Budget
		if budget.Spender == "" {
			budget.Spender = k.ID // a new line of keys; a rotation keeps its first key's
		}
		k.Budget = &budget
	}
	if k.Approval != nil { // a rotation keeps it (and Role): a copy, so the records share nothing
		approval := *k.Approval
		approval.Approvers = slices.Clone(approval.Approvers)
		k.Approval = &approval
	}
	return k, plaintext
}

func (s *Server) createKey(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, p, apiErr := s.ownedAccount(ctx)
	if apiErr != nil {
		return apiErr
	}
	now := s.now()
	template, apiErr := s.readKeyRequest(ctx.PostBody(), now)
	if apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	template.Account, template.Owner, template.Environment = p.ID, u.ID, p.Environment
	k, plaintext := s.mintKey(template, now)
	if err := s.directory.CreateKey(ctxOf(ctx), k); err != nil {
		var field *access.FieldError
		if errors.As(err, &field) { // readKeyRequest checks the same rules: this is a backstop
			return validation(map[string]string{field.Field: field.Reason})
		}
		return errorOf(err, "key")
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, keyOf(&k, plaintext))
	return nil
}

// readKeyRequest reads {"label","kind","scopes","expiresAt"?,"rateLimit"?,
// "budget"?,"approval"?,"role"?}.
func (s *Server) readKeyRequest(body []byte, now time.Time) (access.Key, *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return access.Key{}, apiErr
	}
	defer r.release()
	k := access.Key{RateLimit: s.config.RateLimit}
	k.Label, _ = r.string("label", false, keyLabelBytesMax)
	kind, okKind := r.string("kind", true, 16)
	k.Kind = access.KeyKind(kind)
	if okKind && k.Kind != access.KeySecret && k.Kind != access.KeyPublishable {
		r.fail("kind", `must be "secret" or "publishable"`)
	}
	if names, ok := r.strings("scopes", true, access.ScopesMax, 32); ok {
		scopes, err := access.ParseScopes(names)
		switch {
		case err != nil:
			r.fail("scopes", "must name known scopes: "+strings.Join(access.ScopeNames(), ", ")+" or *")
		case k.Kind == access.KeyPublishable && !access.ScopesRead.Has(scopes):
			r.fail("scopes", "a publishable key may hold only read scopes")
		}
		k.Scopes = scopes
	}
	if expires, ok := r.string("expiresAt", false, 64); ok {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil || !t.After(now) {
			r.fail("expiresAt", "must be an RFC 3339 time in the future")
		}
		k.ExpiresAt = t.UTC()
	}
	if limit := r.nested("rateLimit", false); limit != nil {
		requests, okRequests := limit.integer("requests", true, 1, access.RateRequestsMax)
		per, okPer := limit.integer("perSeconds", true, 1, access.RatePerSecondsMax)
		if okRequests && okPer {
			k.RateLimit = access.RateLimit{Requests: uint32(requests), PerSeconds: uint32(per)}
		}
	}
	if budget := r.nested("budget", false); budget != nil {
		k.Budget = readBudget(r, budget)
		if k.Kind == access.KeyPublishable {
			r.fail("budget", "a publishable key cannot spend")
		}
	}
	if approval := r.nested("approval", false); approval != nil {
		k.Approval = readApproval(approval)
	}
	if role, ok := r.string("role", false, 16); ok {
		switch role {
		case string(access.KeyRoleArbiter):
			k.Role = access.KeyRoleArbiter
		case keyRoleStandard:
		default:
			r.fail("role", `must be "arbiter" or "standard"`)
		}
	}
	if !r.failed() { // the fields parsed: check how they fit together
		var field *access.FieldError
		if err := k.ValidateRole(); errors.As(err, &field) {
			r.fail(field.Field, field.Reason)
		} else if err != nil { // ValidateRole returns only FieldErrors
			r.fail("role", err.Error())
		}
	}
	return k, r.finish()
}

// readApproval reads {"above","approvers","expiresInSeconds"}, each
// required, by access's rules.
func readApproval(r *reader) *access.ApprovalPolicy {
	var p access.ApprovalPolicy
	if above, ok := r.amount("above", true); ok {
		p.Above = above.String()
	}
	if approvers, ok := r.strings("approvers", true, 2, 16); ok {
		if err := access.ValidateApprovers(approvers); err != nil {
			r.fail("approvers", `must be ["owner"] or ["owner","arbiter"]`)
		}
		p.Approvers = approvers
	}
	if seconds, ok := r.integer("expiresInSeconds", true, access.ApprovalExpiresInSecondsMin, access.ApprovalExpiresInSecondsMax); ok {
		p.ExpiresInSeconds = int64(seconds)
	}
	return &p
}

// readBudget reads {"maxPerCharge"?,"maxPerDay"?,"maxTotal"?}: at least one
// positive amount.
func readBudget(parent, r *reader) *access.Budget {
	var b access.Budget
	set := 0
	for _, field := range []struct {
		name string
		dst  *string
	}{{"maxPerCharge", &b.MaxPerCharge}, {"maxPerDay", &b.MaxPerDay}, {"maxTotal", &b.MaxTotal}} {
		if amount, ok := r.amount(field.name, false); ok {
			*field.dst = amount.String()
			set++
		}
	}
	if set == 0 && r.object.Len() == 0 {
		parent.fail("budget", "must set maxPerCharge, maxPerDay or maxTotal")
	}
	return &b
}

func (s *Server) listKeys(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	_, p, apiErr := s.ownedAccount(ctx)
	if apiErr != nil {
		return apiErr
	}
	keys := s.directory.Keys(p.ID)
	data := make([]keyJSON, len(keys))
	for i := range keys {
		data[i] = keyOf(&keys[i], "")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data})
	return nil
}

// ownedKey authenticates the user and finds the path's key among theirs.
func (s *Server) ownedKey(ctx *fasthttp.RequestCtx) (access.User, *directory.Key, *apiError) {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return u, nil, apiErr
	}
	r, err := s.directory.Key(pathID(ctx), u.ID)
	if err != nil {
		return u, nil, errorOf(err, "key")
	}
	return u, r, nil
}

func (s *Server) getKey(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	_, r, apiErr := s.ownedKey(ctx)
	if apiErr != nil {
		return apiErr
	}
	k := r.Record()
	j := keyOf(&k, "")
	if j.Budget != nil {
		spend, err := s.engine.Spent(ctxOf(ctx), engine.AccountID(k.Account), r.Budget().Spender)
		if err != nil {
			return errorOf(err, "account")
		}
		spent, today := spend.Total.String(), spend.DayTotal.String()
		j.Budget.Spent, j.Budget.SpentToday = &spent, &today
	}
	s.writeJSON(ctx, fasthttp.StatusOK, j)
	return nil
}

func (s *Server) rotateKey(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, r, apiErr := s.ownedKey(ctx)
	if apiErr != nil {
		return apiErr
	}
	if apiErr := readEmpty(ctx.PostBody()); apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	now := s.now()
	successor, plaintext := s.mintKey(r.Record(), now)
	if err := s.directory.RotateKey(ctxOf(ctx), r, successor, now.UTC()); err != nil {
		return errorOf(err, "key")
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, keyOf(&successor, plaintext))
	return nil
}

func (s *Server) revokeKey(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	_, r, apiErr := s.ownedKey(ctx)
	if apiErr != nil {
		return apiErr
	}
	k, err := s.directory.RevokeKey(ctxOf(ctx), r, s.now().UTC())
	if err != nil {
		return errorOf(err, "key")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, keyOf(&k, ""))
	return nil
}
