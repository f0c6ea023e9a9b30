package access

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestApprovalScopesKeepTheOldBitsAndApprovalsReadIsARead(t *testing.T) {
	// Stored keys hold scope sets as numbers: the scopes before these two
	// must keep their bits.
	if ScopeGatewayCall != 1<<8 || ScopeApprovalsRead != 1<<9 || ScopeApprovalsWrite != 1<<10 || ScopeAll != 1<<11-1 {
		t.Fatalf("scope bits = %d, %d, %d, all %d", ScopeGatewayCall, ScopeApprovalsRead, ScopeApprovalsWrite, ScopeAll)
	}
	s, err := ParseScopes([]string{"approvals:write", "approvals:read"})
	if err != nil || s != ScopesArbiter || !slices.Equal(s.Names(), []string{"approvals:read", "approvals:write"}) {
		t.Fatalf("ParseScopes(approvals) = %v (%q), %v", s, s.Names(), err)
	}
	if all, _ := ParseScopes([]string{"*"}); !all.Has(ScopesArbiter) {
		t.Fatal(`"*" lacks the approvals scopes`)
	}
	if !ScopesRead.Has(ScopeApprovalsRead) || ScopesRead.Has(ScopeApprovalsWrite) {
		t.Fatal("approvals:read must be a read scope and approvals:write must not")
	}
	want := []string{"charges:write", "holds:write", "sessions:write", "sessions:read", "balance:read", "usage:read",
		"settlements:read", "x402:facilitate", "gateway:call", "approvals:read", "approvals:write"}
	if got := ScopeNames(); !slices.Equal(got, want) {
		t.Fatalf("ScopeNames = %q, want %q", got, want)
	}
}

func TestApprovalPolicyValidateNamesTheField(t *testing.T) {
	good := ApprovalPolicy{Above: "100000", Approvers: []string{"owner"}, ExpiresInSeconds: 3600}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", good, err)
	}
	both := good
	both.Approvers = []string{"owner", "arbiter"}
	edges := []ApprovalPolicy{both, good, good}
	edges[1].ExpiresInSeconds, edges[2].ExpiresInSeconds = 60, 604800
	edges[2].Above = "340282366920938463463374607431768211455" // 2^128-1: 39 digits
	for _, p := range edges {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", p, err)
		}
	}
	for _, c := range []struct {
		mutate func(*ApprovalPolicy)
		field  string
	}{
		{func(p *ApprovalPolicy) { p.Above = "" }, "approval.above"},
		{func(p *ApprovalPolicy) { p.Above = "0" }, "approval.above"},
		{func(p *ApprovalPolicy) { p.Above = "0100" }, "approval.above"},
		{func(p *ApprovalPolicy) { p.Above = "-1" }, "approval.above"},
		{func(p *ApprovalPolicy) { p.Above = "1.5" }, "approval.above"},
		{func(p *ApprovalPolicy) { p.Above = "1000000000000000000000000000000000000000" }, "approval.above"}, // 40 digits
		{func(p *ApprovalPolicy) { p.Approvers = nil }, "approval.approvers"},
		{func(p *ApprovalPolicy) { p.Approvers = []string{"arbiter"} }, "approval.approvers"},
		{func(p *ApprovalPolicy) { p.Approvers = []string{"arbiter", "owner"} }, "approval.approvers"},
		{func(p *ApprovalPolicy) { p.Approvers = []string{"owner", "owner"} }, "approval.approvers"},
		{func(p *ApprovalPolicy) { p.Approvers = []string{"owner", "arbiter", "arbiter"} }, "approval.approvers"},
		{func(p *ApprovalPolicy) { p.Approvers = []string{"Owner"} }, "approval.approvers"},
		{func(p *ApprovalPolicy) { p.ExpiresInSeconds = 59 }, "approval.expiresInSeconds"},
		{func(p *ApprovalPolicy) { p.ExpiresInSeconds = 604801 }, "approval.expiresInSeconds"},
		{func(p *ApprovalPolicy) { p.ExpiresInSeconds = -3600 }, "approval.expiresInSeconds"},
	} {
		p := good
		p.Approvers = slices.Clone(good.Approvers)
		c.mutate(&p)
		err := p.Validate()
		var field *FieldError
		if !errors.As(err, &field) || field.Field != c.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want an ErrInvalid naming %s", p, err, c.field)
		}
	}
}

func TestAnArbiterKeyOnlyDecidesAndAPolicyKeyIsSecret(t *testing.T) {
	policy := &ApprovalPolicy{Above: "100000", Approvers: []string{"owner", "arbiter"}, ExpiresInSeconds: 3600}
	arbiter := Key{Kind: KeySecret, Scopes: ScopeApprovalsWrite, Role: KeyRoleArbiter}
	agent := Key{Kind: KeySecret, Scopes: ScopeAll, Approval: policy, Budget: &Budget{Spender: "key_1", MaxTotal: "5"}}
	reader := Key{Kind: KeyPublishable, Scopes: ScopeApprovalsRead | ScopeBalanceRead}
	both := arbiter
	both.Scopes = ScopesArbiter
	for _, k := range []Key{arbiter, both, agent, reader, {Kind: KeySecret, Scopes: ScopeAll}} {
		if err := k.ValidateApprovalRules(); err != nil {
			t.Errorf("ValidateApprovalRules(%+v) = %v, want nil", k, err)
		}
	}
	badPolicy := agent
	badPolicy.Approval = &ApprovalPolicy{Above: "100000", Approvers: []string{"arbiter"}, ExpiresInSeconds: 3600}
	for _, c := range []struct {
		name   string
		mutate func(*Key)
		field  string
	}{
		{"an unknown role", func(k *Key) { k.Role = "admin" }, "role"},
		{"a publishable arbiter", func(k *Key) { k.Kind = KeyPublishable }, "kind"},
		{"an arbiter without approvals:write", func(k *Key) { k.Scopes = ScopeApprovalsRead }, "scopes"},
		{"an arbiter that charges", func(k *Key) { k.Scopes |= ScopeChargesWrite }, "scopes"},
		{"an arbiter with *", func(k *Key) { k.Scopes = ScopeAll }, "scopes"},
		{"an arbiter with a policy", func(k *Key) { k.Approval = policy }, "approval"},
		{"an arbiter with a budget", func(k *Key) { k.Budget = &Budget{Spender: "key_1", MaxTotal: "5"} }, "budget"},
		{"a publishable key with a policy", func(k *Key) { *k = reader; k.Approval = policy }, "approval"},
		{"a policy of its own invalid", func(k *Key) { *k = badPolicy }, "approval.approvers"},
	} {
		k := arbiter
		c.mutate(&k)
		err := k.ValidateApprovalRules()
		var field *FieldError
		if !errors.As(err, &field) || field.Field != c.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: ValidateApprovalRules = %v, want an ErrInvalid naming %s", c.name, err, c.field)
		}
	}
}

func TestAKeysRoleAndPolicyRoundTripAndOldRowsReadAsStandard(t *testing.T) {
	key := Key{ID: "key_1", Account: "acct_1", Kind: KeySecret, Scopes: ScopeChargesWrite, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Approval: &ApprovalPolicy{Above: "100000", Approvers: []string{"owner", "arbiter"}, ExpiresInSeconds: 3600}}
	_, value := Row(&key)
	const stored = `"approval":{"above":"100000","approvers":["owner","arbiter"],"expiresInSeconds":3600}}`
	if !strings.HasSuffix(string(value), stored) || strings.Contains(string(value), `"role"`) {
		t.Fatalf("stored row = %s, want it to end in %s and a standard key to store no role", value, stored)
	}
	if got, err := Decode[Key](value); err != nil || !reflect.DeepEqual(got, key) {
		t.Fatalf("Decode = %+v, %v, want %+v", got, err, key)
	}
	arbiter := Key{ID: "key_2", Kind: KeySecret, Scopes: ScopeApprovalsWrite, Role: KeyRoleArbiter}
	_, value = Row(&arbiter)
	if !strings.HasSuffix(string(value), `"role":"arbiter"}`) || strings.Contains(string(value), `"approval"`) {
		t.Fatalf("stored arbiter row = %s", value)
	}
	if got, err := Decode[Key](value); err != nil || got.Role != KeyRoleArbiter || got.Approval != nil {
		t.Fatalf("Decode(arbiter) = %+v, %v", got, err)
	}
	old, err := Decode[Key]([]byte(`{"id":"key_3","kind":"secret","scopes":1}`)) // a row from before approvals
	if err != nil || old.Role != KeyRoleStandard || old.Approval != nil || old.ValidateApprovalRules() != nil {
		t.Fatalf("Decode(old row) = %+v, %v", old, err)
	}
}
