package httpapi

import (
	"encoding/json"
	"testing"
	"time"
)

// TestKeyBudgetCapsChargesAndShowsWhatWasSpent drives a budgeted key over
// HTTP: each cap refuses with 402 budget_exceeded and moves nothing, GET
// /v1/keys/{id} reports the spend, and a rotated key and a restart keep it.
func TestKeyBudgetCapsChargesAndShowsWhatWasSpent(t *testing.T) {
	ts := startServer(t)
	m := ts.market("100000")
	keyID, key := ts.key(m.consumer, m.payer, map[string]any{
		"budget": map[string]string{"maxPerCharge": "500", "maxPerDay": "1000", "maxTotal": "1500"},
	})
	charge := func(key, amount string) response {
		return ts.do("POST", "/v1/charges", key, map[string]string{"to": m.payee, "amount": amount})
	}
	budgetOf := func(keyID string) map[string]any {
		t.Helper()
		v := expect(t, ts.do("GET", "/v1/keys/"+keyID, m.consumer.access, nil), 200, "", "")
		b, _ := v["budget"].(map[string]any)
		if b == nil {
			t.Fatalf("GET key = %v, want a budget", v)
		}
		return b
	}
	wantSpent := func(keyID, spent, today string) {
		t.Helper()
		b := budgetOf(keyID)
		if b["spent"] != spent || b["spentToday"] != today || b["maxPerCharge"] != "500" || b["maxPerDay"] != "1000" || b["maxTotal"] != "1500" {
			t.Fatalf("budget = %v, want spent %s, %s today", b, spent, today)
		}
	}
	wantSpent(keyID, "0", "0")
	expect(t, charge(key, "501"), 402, "payment_required", "budget_exceeded")
	expect(t, charge(key, "500"), 201, "", "")
	expect(t, charge(key, "400"), 201, "", "")
	expect(t, charge(key, "101"), 402, "payment_required", "budget_exceeded")
	wantSpent(keyID, "900", "900")
	// The account's other key has no budget: it is not capped by this one's.
	expect(t, charge(m.key, "5000"), 201, "", "")
	if got := ts.available(m.key); got != "94100" {
		t.Fatalf("available = %s, want 94100: refused charges move nothing", got)
	}

	// A rotated key spends against the same budget.
	rotated := expect(t, ts.do("POST", "/v1/keys/"+keyID+"/rotate", m.consumer.access, nil), 201, "", "")
	newID, newKey := rotated["id"].(string), rotated["key"].(string)
	expect(t, charge(newKey, "101"), 402, "payment_required", "budget_exceeded")
	expect(t, charge(newKey, "100"), 201, "", "")
	wantSpent(newID, "1000", "1000")

	// A batch is capped item by item.
	r := ts.do("POST", "/v1/charges/batch", newKey, map[string]any{"charges": []map[string]string{
		{"to": m.payee, "amount": "1"}, {"to": m.payee, "amount": "1"},
	}})
	v := expect(t, r, 200, "", "")
	for i, item := range v["results"].([]any) {
		if e, _ := item.(map[string]any)["error"].(map[string]any); e == nil || e["code"] != "budget_exceeded" {
			t.Fatalf("batch item %d = %v, want budget_exceeded", i, item)
		}
	}

	// The next UTC day the day's cap starts over; the total still holds.
	ts.clock.Advance(24 * time.Hour)
	ts.restart()
	pair := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": m.consumer.email, "password": m.consumer.password}), 200, "", "")
	m.consumer.access = pair["accessToken"].(string) // the old one expired overnight
	wantSpent(newID, "1000", "0")
	expect(t, charge(newKey, "500"), 201, "", "")
	expect(t, charge(newKey, "1"), 402, "payment_required", "budget_exceeded")
	wantSpent(newID, "1500", "500")
	if got := ts.available(m.key); got != "93500" {
		t.Fatalf("available = %s, want 93500", got)
	}
}

func TestKeyBudgetRequestErrors(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1")
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"empty", map[string]any{"budget": map[string]any{}}, "budget"},
		{"zero cap", map[string]any{"budget": map[string]any{"maxTotal": "0"}}, "budget.maxTotal"},
		{"number cap", map[string]any{"budget": map[string]any{"maxPerDay": 10}}, "budget.maxPerDay"},
		{"unknown cap", map[string]any{"budget": map[string]any{"maxPerWeek": "10"}}, "budget.maxPerWeek"},
		{"not an object", map[string]any{"budget": "10"}, "budget"},
		{"publishable", map[string]any{"kind": "publishable", "scopes": []string{"balance:read"}, "budget": map[string]any{"maxTotal": "10"}}, "budget"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"label": "b", "kind": "secret", "scopes": []string{"*"}}
			for k, v := range c.body {
				body[k] = v
			}
			e := expect(t, ts.do("POST", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, body), 400, "invalid_request_error", "validation_failed")
			if fields, _ := e["fields"].(map[string]any); fields[c.field] == nil {
				t.Fatalf("fields = %v, want %s named", e["fields"], c.field)
			}
		})
	}
	// A key without a budget shows budget null.
	v := expect(t, ts.do("GET", "/v1/keys/"+m.keyID, m.consumer.access, nil), 200, "", "")
	if b, ok := v["budget"]; !ok || b != nil {
		t.Fatalf("budget of an unbudgeted key = %v (present %v), want null", b, ok)
	}
}

// TestChargeMetadataIsKeptReturnedAndPartOfTheRequest checks that a
// charge's metadata is stored durably with it, returned by every read, and
// that replaying its Idempotency-Key with other metadata is a conflict, also
// after a restart (when the request store is gone and the engine decides).
func TestChargeMetadataIsKeptReturnedAndPartOfTheRequest(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	body := `{"to":"` + m.payee + `","amount":"10","metadata":{"route":"/v1/chat","model":"m-1"}}`
	v := expect(t, ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", "meta-1"), 201, "", "")
	want := map[string]any{"model": "m-1", "route": "/v1/chat"}
	if !jsonEqual(v["metadata"], want) {
		t.Fatalf("charge metadata = %v, want %v", v["metadata"], want)
	}
	id := v["id"].(string)
	ts.restart()
	got := expect(t, ts.do("GET", "/v1/charges/"+id, m.key, nil), 200, "", "")
	if !jsonEqual(got["metadata"], want) {
		t.Fatalf("GET charge metadata after restart = %v, want %v", got["metadata"], want)
	}
	// The same metadata in another order is the same request.
	same := `{"to":"` + m.payee + `","amount":"10","metadata":{"model":"m-1","route":"/v1/chat"}}`
	replay := expect(t, ts.do("POST", "/v1/charges", m.key, same, "Idempotency-Key", "meta-1"), 201, "", "")
	if replay["id"] != id || replay["replayed"] != true {
		t.Fatalf("replay = %v, want charge %s replayed", replay, id)
	}
	other := `{"to":"` + m.payee + `","amount":"10","metadata":{"model":"m-2","route":"/v1/chat"}}`
	expect(t, ts.do("POST", "/v1/charges", m.key, other, "Idempotency-Key", "meta-1"), 409, "conflict_error", "idempotency_key_reused")
	// A charge without metadata has none.
	plain := expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}), 201, "", "")
	if _, ok := plain["metadata"]; ok {
		t.Fatalf("charge without metadata = %v, want no metadata field", plain)
	}
	if got := ts.available(m.key); got != "989" {
		t.Fatalf("available = %s, want 989", got)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
