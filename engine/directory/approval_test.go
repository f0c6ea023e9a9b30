package directory

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/approvals"
)

// TestAccessSpellsApprovalsAsTheApprovalsPackageDoes: access imports only
// the standard library, so it repeats these names and bounds.
func TestAccessSpellsApprovalsAsTheApprovalsPackageDoes(t *testing.T) {
	if access.ApproverOwner != string(approvals.RoleOwner) || access.ApproverArbiter != string(approvals.RoleArbiter) ||
		string(access.KeyRoleArbiter) != string(approvals.RoleArbiter) {
		t.Fatal("access's approver names differ from engine/approvals' roles")
	}
	if access.ApprovalExpiresInSecondsMin*time.Second != approvals.ExpiresInMin ||
		access.ApprovalExpiresInSecondsMax*time.Second != approvals.ExpiresInMax {
		t.Fatal("access's expiry bounds differ from engine/approvals'")
	}
}

func policyKey(p access.Profile, id string, at time.Time) access.Key {
	k := newKey(p, id, at)
	k.Approval = &access.ApprovalPolicy{Above: "100000", Approvers: []string{"owner", "arbiter"}, ExpiresInSeconds: 3600}
	return k
}

func arbiterKey(p access.Profile, id string, at time.Time) access.Key {
	k := newKey(p, id, at)
	k.Scopes, k.Budget, k.Role = access.ScopesArbiter, nil, access.KeyRoleArbiter
	return k
}

// successorOf is what the HTTP layer makes on rotation, but without the
// role and policy: the directory carries them over itself.
func successorOf(k access.Key, id string, at time.Time) access.Key {
	s := newKey(access.Profile{ID: k.Account, Owner: k.Owner, Environment: k.Environment}, id, at)
	s.Scopes, s.Budget = k.Scopes, k.Budget
	return s
}

var wantPolicy = approvals.Policy{Above: engine.NewAmount(100000), Approvers: []approvals.Role{approvals.RoleOwner, approvals.RoleArbiter},
	ExpiresIn: time.Hour}

// TestAKeysApprovalPolicyAndRoleSurviveRotationAndRestart: the policy is
// parsed once for the engine, and a rotated key and a reloaded directory
// have the same policy and role.
func TestAKeysApprovalPolicyAndRoleSurviveRotationAndRestart(t *testing.T) {
	eng := openEngine(t)
	d := open(t, eng, 0, 0)
	alice := newFixture(t, d, "alice")
	agent, arbiter := policyKey(alice.account, "agent-1", t0), arbiterKey(alice.account, "arbiter-1", t0)
	for _, k := range []access.Key{agent, arbiter} {
		if err := d.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey(%s): %v", k.ID, err)
		}
	}
	if plain := d.KeyByHash(alice.key.Hash); plain == nil {
		t.Fatal("the fixture's key is missing")
	} else if p, ok := plain.Approval(); ok || !reflect.DeepEqual(p, approvals.Policy{}) {
		t.Fatalf("Approval() of a key without a policy = %+v, %v", p, ok)
	}
	at := t0.Add(time.Second)
	for _, rotate := range []struct{ from, to access.Key }{
		{agent, successorOf(agent, "agent-2", at)},
		{arbiter, successorOf(arbiter, "arbiter-2", at)},
	} {
		r := d.KeyByHash(rotate.from.Hash)
		if err := d.RotateKey(ctx, r, rotate.to, at); err != nil {
			t.Fatalf("RotateKey(%s): %v", rotate.from.ID, err)
		}
	}
	check := func(d *Directory, when string) {
		t.Helper()
		for _, id := range []string{"agent-1", "agent-2"} {
			r := d.KeyByHash(hashOf(id))
			record := r.Record()
			if p, ok := r.Approval(); !ok || !reflect.DeepEqual(p, wantPolicy) {
				t.Errorf("%s: key_%s Approval() = %+v, %v, want %+v", when, id, p, ok, wantPolicy)
			}
			if !reflect.DeepEqual(record.Approval, agent.Approval) || record.Role != access.KeyRoleStandard {
				t.Errorf("%s: key_%s record approval = %+v, role %q, want %+v, standard", when, id, record.Approval, record.Role, agent.Approval)
			}
		}
		for _, id := range []string{"arbiter-1", "arbiter-2"} {
			r := d.KeyByHash(hashOf(id))
			if record := r.Record(); record.Role != access.KeyRoleArbiter || record.Approval != nil || record.Scopes != access.ScopesArbiter {
				t.Errorf("%s: key_%s = role %q, approval %+v, scopes %v, want an arbiter", when, id, record.Role, record.Approval, record.Scopes)
			}
			if _, ok := r.Approval(); ok {
				t.Errorf("%s: key_%s Approval() reports a policy on an arbiter", when, id)
			}
		}
	}
	check(d, "after rotation")
	check(open(t, eng, 0, 0), "after Load")
}

// TestAKeyBreakingTheApprovalRulesIsRefusedAndNothingIsWritten.
func TestAKeyBreakingTheApprovalRulesIsRefusedAndNothingIsWritten(t *testing.T) {
	eng := openEngine(t)
	d := open(t, eng, 0, 0)
	alice := newFixture(t, d, "alice")
	for _, c := range []struct {
		name   string
		mutate func(*access.Key)
		field  string
	}{
		{"above past 128 bits", func(k *access.Key) { k.Approval.Above = "340282366920938463463374607431768211456" }, "approval.above"},
		{"above zero", func(k *access.Key) { k.Approval.Above = "0" }, "approval.above"},
		{"approvers arbiter alone", func(k *access.Key) { k.Approval.Approvers = []string{"arbiter"} }, "approval.approvers"},
		{"an expiry past a week", func(k *access.Key) { k.Approval.ExpiresInSeconds = 604801 }, "approval.expiresInSeconds"},
		{"a publishable key with a policy", func(k *access.Key) { k.Kind, k.Scopes, k.Budget = access.KeyPublishable, access.ScopesRead, nil }, "approval"},
		{"an arbiter with a policy", func(k *access.Key) { k.Role, k.Scopes, k.Budget = access.KeyRoleArbiter, access.ScopesArbiter, nil }, "approval"},
		{"an arbiter that charges", func(k *access.Key) {
			*k = arbiterKey(alice.account, "bad", t0)
			k.Scopes |= access.ScopeChargesWrite
		}, "scopes"},
		{"an unknown role", func(k *access.Key) { k.Role = "owner" }, "role"},
	} {
		k := policyKey(alice.account, "bad", t0)
		c.mutate(&k)
		err := d.CreateKey(ctx, k)
		var field *access.FieldError
		if !errors.As(err, &field) || field.Field != c.field || !errors.Is(err, access.ErrInvalid) {
			t.Errorf("%s: CreateKey = %v, want an access.FieldError naming %s", c.name, err, c.field)
		}
	}
	want := []string{alice.key.ID}
	for when, d := range map[string]*Directory{"in memory": d, "after Load": open(t, eng, 0, 0)} {
		var ids []string
		for _, k := range d.Keys(alice.account.ID) {
			ids = append(ids, k.ID)
		}
		if !slices.Equal(ids, want) || d.KeyByHash(hashOf("bad")) != nil {
			t.Errorf("%s: keys = %q, want %q: a refused key was stored", when, ids, want)
		}
	}
}
