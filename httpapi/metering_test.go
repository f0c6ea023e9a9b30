package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestChargeMovesExactAmountsWithFeeAndIsDurable(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	r := ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1500"})
	v := expect(t, r, 201, "", "")
	// feeBps 100: 1% of 1500 is 15 to the platform, 1485 to the supplier.
	if v["amount"] != "1500" || v["fee"] != "15" || v["toAmount"] != "1485" || v["from"] != m.payer || v["to"] != m.payee ||
		!strings.HasPrefix(v["id"].(string), "ch_") || v["position"].(float64) <= 0 {
		t.Fatalf("charge = %s", r.body)
	}
	if b := v["balance"].(map[string]any); b["available"] != "8500" || b["reserved"] != "0" {
		t.Fatalf("balance after charge = %v, want 8500 available", b)
	}
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if r.header.Get(h) == "" {
			t.Errorf("charge response lacks %s", h)
		}
	}
	if got := ts.available(m.supplierKey); got != "1485" {
		t.Fatalf("supplier available = %s, want 1485", got)
	}
	got := expect(t, ts.do("GET", "/v1/charges/"+v["id"].(string), m.supplierKey, nil), 200, "", "")
	if got["amount"] != "1500" || got["toAmount"] != "1485" || got["balance"] != nil {
		t.Fatalf("GET charge = %v", got)
	}
	ts.restart()
	if got := ts.available(m.key); got != "8500" {
		t.Fatalf("payer available after restart = %s, want 8500", got)
	}
}

func TestChargeErrors(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	live := ts.account(m.supplier, "live")
	other := ts.market("10")
	for _, c := range []struct {
		name       string
		body       any
		status     int
		kind, code string
	}{
		{"insufficient funds", map[string]string{"to": m.payee, "amount": "1001"}, 402, "payment_required", "insufficient_funds"},
		{"unknown to", map[string]string{"to": "acct_doesnotexist0000000000", "amount": "1"}, 404, "not_found_error", "not_found"},
		{"other environment", map[string]string{"to": live, "amount": "1"}, 403, "permission_error", "environment_mismatch"},
		{"to self", map[string]string{"to": m.payer, "amount": "1"}, 400, "invalid_request_error", "validation_failed"},
		{"number amount", `{"to":"` + m.payee + `","amount":1500}`, 400, "invalid_request_error", "validation_failed"},
		{"negative amount", map[string]string{"to": m.payee, "amount": "-1"}, 400, "invalid_request_error", "validation_failed"},
		{"fraction", map[string]string{"to": m.payee, "amount": "1.5"}, 400, "invalid_request_error", "validation_failed"},
		{"overflow", map[string]string{"to": m.payee, "amount": "340282366920938463463374607431768211456"}, 400, "invalid_request_error", "validation_failed"},
		{"zero", map[string]string{"to": m.payee, "amount": "0"}, 400, "invalid_request_error", "validation_failed"},
		{"malformed", `{"to":`, 400, "invalid_request_error", "malformed_json"},
		{"not an object", `[1]`, 400, "invalid_request_error", "malformed_json"},
		{"unknown field", map[string]string{"to": m.payee, "amount": "1", "extra": "x"}, 400, "invalid_request_error", "validation_failed"},
		{"missing fields", `{}`, 400, "invalid_request_error", "validation_failed"},
		{"duplicate field", `{"to":"` + m.payee + `","amount":"1","amount":"2"}`, 400, "invalid_request_error", "validation_failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			expect(t, ts.do("POST", "/v1/charges", m.key, c.body), c.status, c.kind, c.code)
		})
	}
	e := expect(t, ts.do("POST", "/v1/charges", m.key, `{"amount":1,"to":5,"x":null}`), 400, "invalid_request_error", "validation_failed")
	fields := e["fields"].(map[string]any)
	if len(fields) != 3 || fields["amount"] == nil || fields["to"] == nil || fields["x"] == nil {
		t.Fatalf("fields = %v, want amount, to and x named", fields)
	}
	// Nothing moved.
	if got := ts.available(m.key); got != "1000" {
		t.Fatalf("payer available after rejected charges = %s, want 1000", got)
	}
	// Another account's charge is not found.
	v := expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}), 201, "", "")
	expect(t, ts.do("GET", "/v1/charges/"+v["id"].(string), other.key, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/charges/ch_nope", m.key, nil), 404, "not_found_error", "not_found")
}

func TestIdempotentChargeReplaysAndConflicts(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	body := map[string]string{"to": m.payee, "amount": "700"}
	first := ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", "order-1")
	expect(t, first, 201, "", "")
	again := ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", "order-1")
	if again.status != first.status || string(again.body) != string(first.body) {
		t.Fatalf("replay = %d %s, want %d %s", again.status, again.body, first.status, first.body)
	}
	expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "701"}, "Idempotency-Key", "order-1"),
		409, "conflict_error", "idempotency_key_reused")
	if got := ts.available(m.key); got != "9300" {
		t.Fatalf("available = %s, want 9300: charged once", got)
	}
	id := first.json(t)["id"].(string)
	ts.restart() // the in-memory responses are gone; the durable client id is not
	replayed := expect(t, ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", "order-1"), 201, "", "")
	if replayed["id"] != id || replayed["replayed"] != true || replayed["amount"] != "700" {
		t.Fatalf("replay after restart = %v, want charge %s replayed", replayed, id)
	}
	expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}, "Idempotency-Key", "order-1"),
		409, "conflict_error", "idempotency_key_reused")
	if got := ts.available(m.key); got != "9300" {
		t.Fatalf("available after restart = %s, want 9300", got)
	}
	expect(t, ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", strings.Repeat("k", 256)), 400, "invalid_request_error", "validation_failed")
}

func TestBatchChargesAnswerEachItemInOrder(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	body := map[string]any{"charges": []map[string]string{
		{"to": m.payee, "amount": "400", "idempotencyKey": "a"},
		{"to": m.payee, "amount": "700"}, // only 600 left
		{"to": "acct_unknown00000000000000", "amount": "1"},
		{"to": m.payee, "amount": "600"},
	}}
	v := expect(t, ts.do("POST", "/v1/charges/batch", m.key, body), 200, "", "")
	results := v["results"].([]any)
	if len(results) != 4 {
		t.Fatalf("results = %v", results)
	}
	code := func(i int) any {
		if e, ok := results[i].(map[string]any)["error"].(map[string]any); ok {
			return e["code"]
		}
		return nil
	}
	if code(0) != nil || code(1) != "insufficient_funds" || code(2) != "not_found" || code(3) != nil {
		t.Fatalf("results = %v", results)
	}
	if got := ts.available(m.key); got != "0" {
		t.Fatalf("available = %s, want 0", got)
	}
	// An item's idempotencyKey is the same operation as a single charge's key.
	single := expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "400"}, "Idempotency-Key", "a"), 201, "", "")
	if single["id"] != results[0].(map[string]any)["id"] || single["replayed"] != true {
		t.Fatalf("single charge with the batch item's key = %v, want a replay of %v", single, results[0])
	}
	expect(t, ts.do("POST", "/v1/charges/batch", m.key, map[string]any{"charges": []any{}}), 400, "invalid_request_error", "validation_failed")
	e := expect(t, ts.do("POST", "/v1/charges/batch", m.key, map[string]any{"charges": []any{map[string]string{"to": m.payee}}}),
		400, "invalid_request_error", "validation_failed")
	if e["fields"].(map[string]any)["charges[0].amount"] == nil {
		t.Fatalf("fields = %v, want charges[0].amount", e["fields"])
	}
}

func TestRateLimitHeadersThen429ThenRefill(t *testing.T) {
	ts := startServer(t)
	m := ts.market("100")
	_, key := ts.key(m.consumer, m.payer, map[string]any{"rateLimit": map[string]int{"requests": 2, "perSeconds": 10}})
	for i, remaining := range []string{"1", "0"} {
		r := ts.do("GET", "/v1/balance", key, nil)
		expect(t, r, 200, "", "")
		if r.header.Get("RateLimit-Limit") != "2" || r.header.Get("RateLimit-Remaining") != remaining {
			t.Fatalf("request %d: RateLimit-Limit %q Remaining %q, want 2 and %s", i, r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Remaining"), remaining)
		}
	}
	r := ts.do("GET", "/v1/balance", key, nil)
	expect(t, r, 429, "rate_limit_error", "rate_limited")
	if r.header.Get("Retry-After") != "5" || r.header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers: Retry-After %q Remaining %q, want 5 and 0", r.header.Get("Retry-After"), r.header.Get("RateLimit-Remaining"))
	}
	ts.clock.Advance(5 * time.Second)
	expect(t, ts.do("GET", "/v1/balance", key, nil), 200, "", "")
}

func TestKeyScopesEnvironmentsAndLifecycle(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	_, readOnly := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"balance:read"}})
	expect(t, ts.do("POST", "/v1/charges", readOnly, map[string]string{"to": m.payee, "amount": "1"}), 403, "permission_error", "missing_scope")
	_, publishable := ts.key(m.consumer, m.payer, map[string]any{"kind": "publishable", "scopes": []string{"balance:read"}})
	if !strings.HasPrefix(publishable, "pk_test_") || len(publishable) != len("pk_test_")+40 {
		t.Fatalf("publishable key = %q", publishable)
	}
	expect(t, ts.do("POST", "/v1/charges", publishable, map[string]string{"to": m.payee, "amount": "1"}), 403, "permission_error", "missing_scope")
	expect(t, ts.do("POST", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, map[string]any{"kind": "publishable", "scopes": []string{"charges:write"}}),
		400, "invalid_request_error", "validation_failed")

	// Revoked.
	revokedID, revoked := ts.key(m.consumer, m.payer, nil)
	v := expect(t, ts.do("DELETE", "/v1/keys/"+revokedID, m.consumer.access, nil), 200, "", "")
	if v["revokedAt"] == nil || v["key"] != nil {
		t.Fatalf("revoked key = %v", v)
	}
	expect(t, ts.do("GET", "/v1/balance", revoked, nil), 401, "authentication_error", "key_revoked")
	// Rotated away: the old key is revoked, the new one works.
	v = expect(t, ts.do("POST", "/v1/keys/"+m.keyID+"/rotate", m.consumer.access, nil), 201, "", "")
	rotated := v["key"].(string)
	expect(t, ts.do("GET", "/v1/balance", m.key, nil), 401, "authentication_error", "key_revoked")
	expect(t, ts.do("GET", "/v1/balance", rotated, nil), 200, "", "")
	expect(t, ts.do("POST", "/v1/keys/"+m.keyID+"/rotate", m.consumer.access, nil), 409, "conflict_error", "invalid_state")
	// Expired.
	_, expiring := ts.key(m.consumer, m.payer, map[string]any{"expiresAt": ts.clock.Now().Add(time.Minute).Format(time.RFC3339)})
	expect(t, ts.do("GET", "/v1/balance", expiring, nil), 200, "", "")
	ts.clock.Advance(2 * time.Minute)
	expect(t, ts.do("GET", "/v1/balance", expiring, nil), 401, "authentication_error", "key_expired")
	// A test key cannot pay a live account.
	live := ts.account(m.supplier, "live")
	expect(t, ts.do("POST", "/v1/charges", rotated, map[string]string{"to": live, "amount": "1"}), 403, "permission_error", "environment_mismatch")
	// Unknown and malformed keys.
	expect(t, ts.do("GET", "/v1/balance", "sk_test_"+strings.Repeat("A", 40), nil), 401, "authentication_error", "invalid_credentials")
	expect(t, ts.do("GET", "/v1/balance", "garbage", nil), 401, "authentication_error", "invalid_credentials")
	expect(t, ts.do("GET", "/v1/balance", "", nil), 401, "authentication_error", "missing_credentials")
	// Lists show no plaintext; survive a restart with revocations intact.
	ts.restart()
	list := expect(t, ts.do("GET", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, nil), 200, "", "")
	if n := len(list["data"].([]any)); n != 6 {
		t.Fatalf("keys listed = %d, want 6", n)
	}
	if strings.Contains(string(ts.do("GET", "/v1/accounts/"+m.payer+"/keys", m.consumer.access, nil).body), `"key":`) {
		t.Fatal("key list shows a plaintext key")
	}
	expect(t, ts.do("GET", "/v1/balance", revoked, nil), 401, "authentication_error", "key_revoked")
	expect(t, ts.do("GET", "/v1/balance", rotated, nil), 200, "", "")
	// Another user's key and account are not found.
	expect(t, ts.do("GET", "/v1/keys/"+m.supplierKeyID, m.consumer.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("DELETE", "/v1/keys/"+m.supplierKeyID, m.consumer.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/accounts/"+m.payee, m.consumer.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("POST", "/v1/accounts/"+m.payee+"/keys", m.consumer.access, map[string]any{"kind": "secret", "scopes": []string{"*"}}), 404, "not_found_error", "not_found")
	if r := ts.do("GET", "/v1/balance", rotated, nil); r.status != http.StatusOK {
		t.Fatalf("balance = %d", r.status)
	}
}

// A charge's answer has one shape, first or replayed, before a restart and
// after it (when the stored response is gone and the ledger answers):
// balance, position and replayed are always there.
func TestChargeAnswersHaveOneShapeAcrossReplaysAndRestarts(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	body := map[string]string{"to": m.payee, "amount": "700"}
	keys := func(v map[string]any) []string {
		var k []string
		for name := range v {
			k = append(k, name)
		}
		slices.Sort(k)
		return k
	}
	first := expect(t, ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", "shape-1"), 201, "", "")
	if first["replayed"] != false || first["position"] == nil || first["balance"] == nil {
		t.Fatalf("first answer = %v, want balance, position and replayed false", first)
	}
	batch := map[string]any{"charges": []map[string]string{{"to": m.payee, "amount": "5", "idempotencyKey": "shape-item"}}}
	firstItem := expect(t, ts.do("POST", "/v1/charges/batch", m.key, batch), 200, "", "")["results"].([]any)[0].(map[string]any)
	ts.restart()
	ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}) // moves the balance on
	replayed := expect(t, ts.do("POST", "/v1/charges", m.key, body, "Idempotency-Key", "shape-1"), 201, "", "")
	if !slices.Equal(keys(replayed), keys(first)) || replayed["replayed"] != true {
		t.Fatalf("replay after restart = %v, want the fields of %v, replayed", replayed, first)
	}
	if b := replayed["balance"].(map[string]any); b["available"] != "9294" {
		t.Fatalf("replayed balance = %v, want the payer's balance now (available 9294)", b)
	}
	if replayed["position"].(float64) <= first["position"].(float64) {
		t.Fatalf("replayed position %v, want after the charge's %v", replayed["position"], first["position"])
	}
	item := expect(t, ts.do("POST", "/v1/charges/batch", m.key, batch), 200, "", "")["results"].([]any)[0].(map[string]any)
	if !slices.Equal(keys(item), keys(firstItem)) || item["replayed"] != true || firstItem["replayed"] != false {
		t.Fatalf("batch item replayed after restart = %v, want the fields of %v", item, firstItem)
	}
}

// A batch's error items carry the request's id, as every error does.
func TestBatchErrorItemsCarryTheRequestID(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10")
	r := ts.do("POST", "/v1/charges/batch", m.key, map[string]any{"charges": []map[string]string{
		{"to": m.payee, "amount": "5"}, {"to": m.payee, "amount": "50"},
	}})
	results := expect(t, r, 200, "", "")["results"].([]any)
	e := results[1].(map[string]any)["error"].(map[string]any)
	if e["code"] != "insufficient_funds" || e["request_id"] != r.header.Get("X-Request-Id") {
		t.Fatalf("error item = %v, want insufficient_funds with request_id %s", e, r.header.Get("X-Request-Id"))
	}
}

// TestPooledAuthorizationsKeepEachRequestsScope sends requests with two
// keys of different scopes from several goroutines at once: the pooled
// Authorize messages (one is reused only after its answer) must never lend
// one request's scope to another's. Run with -race.
func TestPooledAuthorizationsKeepEachRequestsScope(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	_, reader := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"balance:read"}})
	_, charger := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"charges:write"}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				key, want := reader, 200
				if (g+i)%2 == 1 {
					key, want = charger, 403
				}
				if r := ts.do("GET", "/v1/balance", key, nil); r.status != want {
					t.Errorf("GET /v1/balance with the %d key = %d %s, want %d", want, r.status, r.body, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
