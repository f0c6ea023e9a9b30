package httpapi

import (
	"encoding/json"
	"slices"
	"testing"
)

// compactJSON renders a decoded JSON value again, for exact comparisons.
func compactJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeysCarryTheirApprovalPolicyAndRoleThroughRotationAndRestart: a key
// created with an approval policy or as an arbiter shows it on every read,
// and its successor and a restarted server keep it.
func TestKeysCarryTheirApprovalPolicyAndRoleThroughRotationAndRestart(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	const policy = `{"above":"100000","approvers":["owner","arbiter"],"expiresInSeconds":3600}`
	create := func(body map[string]any) map[string]any {
		t.Helper()
		body["label"] = "l"
		return expect(t, ts.do("POST", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, body), 201, "", "")
	}
	agent := create(map[string]any{"kind": "secret", "scopes": []string{"charges:write", "holds:write"},
		"approval": map[string]any{"above": "100000", "approvers": []string{"owner", "arbiter"}, "expiresInSeconds": 3600}})
	arbiter := create(map[string]any{"kind": "secret", "scopes": []string{"approvals:write", "approvals:read"}, "role": "arbiter"})
	owner := create(map[string]any{"kind": "secret", "scopes": []string{"*"}, "role": "standard",
		"approval": map[string]any{"above": "1", "approvers": []string{"owner"}, "expiresInSeconds": 60}})
	reader := create(map[string]any{"kind": "publishable", "scopes": []string{"approvals:read", "balance:read"}})

	type want struct{ approval, role, scopes string }
	wants := map[string]want{
		agent["id"].(string):   {policy, "standard", `["charges:write","holds:write"]`},
		arbiter["id"].(string): {"null", "arbiter", `["approvals:read","approvals:write"]`},
		owner["id"].(string):   {`{"above":"1","approvers":["owner"],"expiresInSeconds":60}`, "standard", `["*"]`},
		reader["id"].(string):  {"null", "standard", `["balance:read","approvals:read"]`},
		m.keyID:                {"null", "standard", `["*"]`},
	}
	check := func(when string, v map[string]any, w want) {
		t.Helper()
		if got := compactJSON(t, v["approval"]); got != w.approval || v["role"] != w.role || compactJSON(t, v["scopes"]) != w.scopes {
			t.Errorf("%s: key %s approval %s, role %v, scopes %s; want %s, %s, %s", when, v["id"], got, v["role"], compactJSON(t, v["scopes"]),
				w.approval, w.role, w.scopes)
		}
	}
	for _, v := range []map[string]any{agent, arbiter, owner, reader} {
		check("created", v, wants[v["id"].(string)])
	}
	for _, v := range []map[string]any{agent, arbiter} {
		rotated := expect(t, ts.do("POST", "/v1/keys/"+v["id"].(string)+"/rotate", m.consumer.access, nil), 201, "", "")
		wants[rotated["id"].(string)] = wants[v["id"].(string)]
		check("rotated", rotated, wants[v["id"].(string)])
	}
	checkAll := func(when string) {
		t.Helper()
		list := expect(t, ts.do("GET", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, nil), 200, "", "")
		data := list["data"].([]any)
		if len(data) != len(wants) {
			t.Fatalf("%s: %d keys, want %d", when, len(data), len(wants))
		}
		for _, item := range data {
			v := item.(map[string]any)
			check(when+" (list)", v, wants[v["id"].(string)])
			got := expect(t, ts.do("GET", "/v1/keys/"+v["id"].(string), m.consumer.access, nil), 200, "", "")
			check(when+" (get)", got, wants[v["id"].(string)])
		}
	}
	checkAll("before restart")
	ts.restart()
	checkAll("after restart")
}

// TestKeyApprovalAndRoleRequestErrorsNameTheFieldAndCreateNothing.
func TestKeyApprovalAndRoleRequestErrorsNameTheFieldAndCreateNothing(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1")
	good := func() map[string]any {
		return map[string]any{"above": "100000", "approvers": []string{"owner"}, "expiresInSeconds": 3600}
	}
	with := func(name string, value any) map[string]any {
		p := good()
		if value == nil {
			delete(p, name)
		} else {
			p[name] = value
		}
		return map[string]any{"approval": p}
	}
	arbiter := func(fields map[string]any) map[string]any {
		body := map[string]any{"scopes": []string{"approvals:write"}, "role": "arbiter"}
		for k, v := range fields {
			body[k] = v
		}
		return body
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"above zero", with("above", "0"), "approval.above"},
		{"above a number", with("above", 100000), "approval.above"},
		{"above not decimal", with("above", "1e5"), "approval.above"},
		{"above missing", with("above", nil), "approval.above"},
		{"approvers arbiter alone", with("approvers", []string{"arbiter"}), "approval.approvers"},
		{"approvers reversed", with("approvers", []string{"arbiter", "owner"}), "approval.approvers"},
		{"approvers owner twice", with("approvers", []string{"owner", "owner"}), "approval.approvers"},
		{"approvers empty", with("approvers", []string{}), "approval.approvers"},
		{"approvers three", with("approvers", []string{"owner", "arbiter", "arbiter"}), "approval.approvers"},
		{"expiry below a minute", with("expiresInSeconds", 59), "approval.expiresInSeconds"},
		{"expiry past a week", with("expiresInSeconds", 604801), "approval.expiresInSeconds"},
		{"expiry a string", with("expiresInSeconds", "3600"), "approval.expiresInSeconds"},
		{"expiry missing", with("expiresInSeconds", nil), "approval.expiresInSeconds"},
		{"unknown policy field", with("minimum", "1"), "approval.minimum"},
		{"policy not an object", map[string]any{"approval": "100000"}, "approval"},
		{"policy on a publishable key", map[string]any{"kind": "publishable", "scopes": []string{"balance:read"}, "approval": good()}, "approval"},
		{"unknown role", map[string]any{"role": "owner"}, "role"},
		{"role not a string", map[string]any{"role": true}, "role"},
		{"publishable arbiter", arbiter(map[string]any{"kind": "publishable", "scopes": []string{"approvals:read"}}), "kind"},
		{"arbiter without approvals:write", arbiter(map[string]any{"scopes": []string{"approvals:read"}}), "scopes"},
		{"arbiter that charges", arbiter(map[string]any{"scopes": []string{"approvals:write", "charges:write"}}), "scopes"},
		{"arbiter with *", arbiter(map[string]any{"scopes": []string{"*"}}), "scopes"},
		{"arbiter with a policy", arbiter(map[string]any{"approval": good()}), "approval"},
		{"arbiter with a budget", arbiter(map[string]any{"budget": map[string]any{"maxTotal": "10"}}), "budget"},
		{"publishable key writing approvals", map[string]any{"kind": "publishable", "scopes": []string{"approvals:write"}}, "scopes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"label": "b", "kind": "secret", "scopes": []string{"*"}}
			for k, v := range c.body {
				body[k] = v
			}
			e := expect(t, ts.do("POST", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, body), 400, "invalid_request_error", "validation_failed")
			fields, _ := e["fields"].(map[string]any)
			if len(fields) != 1 || fields[c.field] == nil {
				t.Fatalf("fields = %v, want %s named alone", e["fields"], c.field)
			}
		})
	}
	list := expect(t, ts.do("GET", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, nil), 200, "", "")
	var ids []string
	for _, item := range list["data"].([]any) {
		ids = append(ids, item.(map[string]any)["id"].(string))
	}
	if !slices.Equal(ids, []string{m.keyID}) {
		t.Fatalf("keys after refused requests = %q, want only %s", ids, m.keyID)
	}
}
