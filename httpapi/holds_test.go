package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

// placeHold places a hold of amount from m's payer to its payee through
// key, expiring after seconds, and returns its answer (201).
func (ts *testServer) placeHold(m market, key, amount string, seconds int, headers ...string) map[string]any {
	ts.t.Helper()
	body := map[string]any{"to": m.payee, "amount": amount, "expiresInSeconds": seconds}
	return expect(ts.t, ts.do("POST", "/v1/holds", key, body, headers...), 201, "", "")
}

// wantBalance checks the balance of key's account.
func (ts *testServer) wantBalance(key, available, reserved string) {
	ts.t.Helper()
	v := expect(ts.t, ts.do("GET", "/v1/balance", key, nil), 200, "", "")
	if v["available"] != available || v["reserved"] != reserved {
		ts.t.Fatalf("balance = %v, want available %s reserved %s", v, available, reserved)
	}
}

// feesPosted returns what the fee account of account's ledger has received.
func (ts *testServer) feesPosted(account string) string {
	ts.t.Helper()
	info, err := ts.engine.Account(engine.AccountID(account))
	if err != nil {
		ts.t.Fatal(err)
	}
	b, err := ts.engine.Balance(context.Background(), engine.FeesAccount(info.Ledger))
	if err != nil {
		ts.t.Fatal(err)
	}
	return b.Posted.String()
}

// verify checks the engine's invariants (money conserved, no overdraft,
// open holds equal pending debits).
func (ts *testServer) verify() {
	ts.t.Helper()
	if err := ts.engine.Verify(context.Background()); err != nil {
		ts.t.Fatalf("engine.Verify: %v", err)
	}
}

func wantHold(t *testing.T, v map[string]any, state, amount, captured, fee, toAmount string) {
	t.Helper()
	if v["state"] != state || v["amount"] != amount || v["captured"] != captured || v["fee"] != fee || v["toAmount"] != toAmount {
		t.Fatalf("hold = %v, want %s amount %s captured %s fee %s toAmount %s", v, state, amount, captured, fee, toAmount)
	}
}

func holdTime(t *testing.T, v map[string]any, field string) time.Time {
	t.Helper()
	s, _ := v[field].(string)
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("hold %s = %v: %v", field, v[field], err)
	}
	return at
}

func TestHoldPartialCaptureMovesExactAmountsWithFee(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	feesBefore := ts.feesPosted(m.payer)
	body := `{"to":"` + m.payee + `","amount":"1000","expiresInSeconds":60,"metadata":{"job":"j-1"}}`
	v := expect(t, ts.do("POST", "/v1/holds", m.key, body), 201, "", "")
	wantHold(t, v, "PENDING", "1000", "0", "0", "0")
	id := v["id"].(string)
	if !strings.HasPrefix(id, "hold_") || v["from"] != m.payer || v["to"] != m.payee || v["closedAt"] != nil ||
		v["replayed"] != false || v["position"].(float64) <= 0 || !jsonEqual(v["metadata"], map[string]any{"job": "j-1"}) {
		t.Fatalf("hold = %s", body)
	}
	if _, ok := v["settlementId"]; !ok || v["settlementId"] != nil {
		t.Fatalf("settlementId = %v (present %v), want null", v["settlementId"], ok)
	}
	if d := holdTime(t, v, "expiresAt").Sub(holdTime(t, v, "createdAt")); d != time.Minute {
		t.Fatalf("expiresAt - createdAt = %v, want 60s", d)
	}
	if b := v["balance"].(map[string]any); b["available"] != "9000" || b["reserved"] != "1000" {
		t.Fatalf("balance after hold = %v, want 9000 available, 1000 reserved", b)
	}
	ts.wantBalance(m.key, "9000", "1000")
	got := expect(t, ts.do("GET", "/v1/holds/"+id, m.supplierKey, nil), 200, "", "")
	wantHold(t, got, "PENDING", "1000", "0", "0", "0")
	if got["balance"] != nil || got["position"] != nil {
		t.Fatalf("GET hold = %v, want no balance or position", got)
	}

	// Capture 600 of 1000: 1% fee (6) to the platform, 594 to the payee,
	// 400 released to the payer.
	c := expect(t, ts.do("POST", "/v1/holds/"+id+"/capture", m.key, map[string]string{"amount": "600"}), 200, "", "")
	wantHold(t, c, "CAPTURED", "1000", "600", "6", "594")
	if b := c["balance"].(map[string]any); b["available"] != "9400" || b["reserved"] != "0" {
		t.Fatalf("payer balance in the capture = %v, want 9400 available, 0 reserved", b)
	}
	if holdTime(t, c, "closedAt").Before(holdTime(t, c, "createdAt")) || c["createdAt"] != v["createdAt"] {
		t.Fatalf("capture times = %v, want createdAt kept and closedAt after it", c)
	}
	ts.wantBalance(m.key, "9400", "0")
	ts.wantBalance(m.supplierKey, "594", "0")
	if got := ts.feesPosted(m.payer); got != addAmounts(t, feesBefore, "6") {
		t.Fatalf("fees posted = %s, want %s + 6", got, feesBefore)
	}
	ts.verify()

	// The payee captures a second hold whole (no body): the answer shows
	// the payee's balance, not the payer's.
	h2 := ts.placeHold(m, m.key, "2000", 3600)
	c2 := expect(t, ts.do("POST", "/v1/holds/"+h2["id"].(string)+"/capture", m.supplierKey, nil), 200, "", "")
	wantHold(t, c2, "CAPTURED", "2000", "2000", "20", "1980")
	if b := c2["balance"].(map[string]any); b["available"] != "2574" || b["reserved"] != "0" {
		t.Fatalf("balance in the payee's capture = %v, want the payee's: 2574 available", b)
	}
	ts.wantBalance(m.key, "7400", "0")

	ts.restart()
	after := expect(t, ts.do("GET", "/v1/holds/"+id, m.key, nil), 200, "", "")
	wantHold(t, after, "CAPTURED", "1000", "600", "6", "594")
	if after["createdAt"] != v["createdAt"] || after["closedAt"] != c["closedAt"] || !jsonEqual(after["metadata"], v["metadata"]) {
		t.Fatalf("hold after restart = %v, want the times and metadata of %v", after, c)
	}
	ts.wantBalance(m.key, "7400", "0")
	ts.wantBalance(m.supplierKey, "2574", "0")
	if got := ts.feesPosted(m.payer); got != addAmounts(t, feesBefore, "26") {
		t.Fatalf("fees posted after restart = %s, want %s + 26", got, feesBefore)
	}
	ts.verify()
}

func addAmounts(t *testing.T, a, b string) string {
	t.Helper()
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("amounts %q %q", a, b)
	}
	return strconv.FormatUint(x+y, 10)
}

// TestHoldClosesOnce: capture above the held amount is a 400 naming
// amount; a hold closes once, and every later capture or void, the same
// request again included, is 409 invalid_state, unless it repeats an
// Idempotency-Key, whose stored answer is replayed.
func TestHoldClosesOnce(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	id := ts.placeHold(m, m.key, "1000", 600)["id"].(string)
	capture := func(key string, body any, headers ...string) response {
		return ts.do("POST", "/v1/holds/"+id+"/capture", key, body, headers...)
	}
	e := expect(t, capture(m.key, map[string]string{"amount": "1001"}), 400, "invalid_request_error", "validation_failed")
	if fields, _ := e["fields"].(map[string]any); fields["amount"] == nil {
		t.Fatalf("capture above the held amount: fields = %v, want amount named", e["fields"])
	}
	for _, body := range []string{`{"amount":"0"}`, `{"amount":5}`, `{"amount":"5","x":1}`, `{"amount":`} {
		r := capture(m.key, body)
		if r.status != 400 {
			t.Fatalf("capture %s = %d %s, want 400", body, r.status, r.body)
		}
	}
	ts.wantBalance(m.key, "9000", "1000") // nothing happened

	first := capture(m.key, map[string]string{"amount": "250"}, "Idempotency-Key", "cap-1")
	wantHold(t, expect(t, first, 200, "", ""), "CAPTURED", "1000", "250", "2", "248")
	replay := capture(m.key, map[string]string{"amount": "250"}, "Idempotency-Key", "cap-1")
	if replay.status != 200 || string(replay.body) != string(first.body) || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed capture = %d %s, want the first answer replayed", replay.status, replay.body)
	}
	expect(t, capture(m.key, map[string]string{"amount": "250"}), 409, "conflict_error", "invalid_state")
	expect(t, capture(m.supplierKey, map[string]string{"amount": "250"}, "Idempotency-Key", "cap-1"), 409, "conflict_error", "invalid_state")
	expect(t, capture(m.key, map[string]string{"amount": "100"}), 409, "conflict_error", "invalid_state")
	expect(t, capture(m.key, nil), 409, "conflict_error", "invalid_state")
	expect(t, ts.do("POST", "/v1/holds/"+id+"/void", m.key, nil), 409, "conflict_error", "invalid_state")
	ts.wantBalance(m.key, "9750", "0")
	ts.wantBalance(m.supplierKey, "248", "0")

	// Void: all released; a second void, or a capture, is 409.
	other := ts.placeHold(m, m.key, "3000", 600)["id"].(string)
	ts.wantBalance(m.key, "6750", "3000")
	voidOf := func(key string, headers ...string) response {
		return ts.do("POST", "/v1/holds/"+other+"/void", key, nil, headers...)
	}
	first = voidOf(m.supplierKey, "Idempotency-Key", "void-1")
	v := expect(t, first, 200, "", "")
	wantHold(t, v, "VOIDED", "3000", "0", "0", "0")
	if b := v["balance"].(map[string]any); b["available"] != "248" {
		t.Fatalf("balance in the payee's void = %v, want the payee's", b)
	}
	if replay := voidOf(m.supplierKey, "Idempotency-Key", "void-1"); string(replay.body) != string(first.body) || replay.status != 200 {
		t.Fatalf("replayed void = %d %s, want the first answer", replay.status, replay.body)
	}
	expect(t, voidOf(m.supplierKey), 409, "conflict_error", "invalid_state")
	expect(t, voidOf(m.key), 409, "conflict_error", "invalid_state")
	expect(t, ts.do("POST", "/v1/holds/"+other+"/capture", m.key, nil), 409, "conflict_error", "invalid_state")
	expect(t, ts.do("POST", "/v1/holds/"+other+"/void", m.key, `{"x":1}`), 400, "invalid_request_error", "validation_failed")
	ts.wantBalance(m.key, "9750", "0")
	ts.verify()
}

// TestConcurrentClosesOfOneHoldSucceedOnce: of many captures (of the
// whole amount) and voids of one hold at once, from both parties' keys,
// exactly one is 200 and the rest 409 invalid_state. The engine alone
// would answer several 200: it treats an identical capture, and a void of a
// voided hold, as replays of the first. Run with -race.
func TestConcurrentClosesOfOneHoldSucceedOnce(t *testing.T) {
	const (
		rounds   = 8
		requests = 32
	)
	ts := startServer(t)
	m := ts.market("100000")
	transport := &http.Transport{MaxIdleConnsPerHost: requests}
	defer transport.CloseIdleConnections()
	concurrent := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	captured := 0
	for round := range rounds {
		id := ts.placeHold(m, m.key, "100", 600)["id"].(string)
		statuses := make([]int, requests)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i := range statuses {
			ready.Add(1)
			done.Go(func() {
				key, action := m.key, "/void"
				if i%2 == 1 {
					key = m.supplierKey
				}
				if i%4 >= 2 {
					action = "/capture"
				}
				crashDo(concurrent, ts.url, "GET", "/healthz", "", nil) // a connection of its own, open
				ready.Done()
				<-start
				status, body, err := crashDo(concurrent, ts.url, "POST", "/v1/holds/"+id+action, key, nil)
				if err != nil || (status != 200 && !(status == 409 && strings.Contains(string(body), `"invalid_state"`))) {
					t.Errorf("round %d: %s = %d %s %v", round, action, status, body, err)
				}
				if status == 200 && action == "/capture" {
					captured++ // one goroutine at most, checked below
				}
				statuses[i] = status
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		closed := 0
		for _, s := range statuses {
			if s == 200 {
				closed++
			}
		}
		if closed != 1 {
			t.Fatalf("round %d: %d of %d closes answered 200 (%v), want exactly 1", round, closed, requests, statuses)
		}
	}
	ts.wantBalance(m.key, strconv.Itoa(100000-100*captured), "0")
	ts.verify()
}

// TestHoldExpiresAtItsDeadline drives the server's clock (the engine's
// too): a hold is PENDING until just before its deadline, EXPIRED at it,
// with everything released, and cannot be captured or voided then.
func TestHoldExpiresAtItsDeadline(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	v := ts.placeHold(m, m.key, "4000", 60)
	id := v["id"].(string)
	ts.clock.Advance(59 * time.Second)
	wantHold(t, expect(t, ts.do("GET", "/v1/holds/"+id, m.key, nil), 200, "", ""), "PENDING", "4000", "0", "0", "0")
	ts.wantBalance(m.key, "6000", "4000")
	// The deadline: a hold is open strictly before it. The payee's owner
	// reads it, by JWT.
	ts.clock.Advance(time.Second)
	got := expect(t, ts.do("GET", "/v1/holds/"+id, m.supplier.access, nil), 200, "", "")
	wantHold(t, got, "EXPIRED", "4000", "0", "0", "0")
	if got["closedAt"] != v["expiresAt"] {
		t.Fatalf("expired hold closedAt = %v, want its expiresAt %v", got["closedAt"], v["expiresAt"])
	}
	ts.wantBalance(m.key, "10000", "0")
	expect(t, ts.do("POST", "/v1/holds/"+id+"/capture", m.key, nil), 409, "conflict_error", "invalid_state")
	expect(t, ts.do("POST", "/v1/holds/"+id+"/void", m.key, nil), 409, "conflict_error", "invalid_state")
	// A capture at the deadline of a hold nobody looked at is refused too:
	// the engine expires it first.
	late := ts.placeHold(m, m.key, "500", 1)["id"].(string)
	ts.clock.Advance(time.Second)
	expect(t, ts.do("POST", "/v1/holds/"+late+"/capture", m.key, nil), 409, "conflict_error", "invalid_state")
	wantHold(t, expect(t, ts.do("GET", "/v1/holds/"+late, m.key, nil), 200, "", ""), "EXPIRED", "500", "0", "0", "0")
	ts.wantBalance(m.key, "10000", "0")
	ts.verify()
}

func TestHoldAccess(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	other := ts.market("10000")
	id := ts.placeHold(m, m.key, "100", 600)["id"].(string)
	_, chargesOnly := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"charges:write", "balance:read"}})
	_, payeeReader := ts.key(m.supplier, m.payee, map[string]any{"scopes": []string{"balance:read"}})
	hold := map[string]any{"to": m.payee, "amount": "1", "expiresInSeconds": 60}
	expect(t, ts.do("POST", "/v1/holds", chargesOnly, hold), 403, "permission_error", "missing_scope")
	for _, key := range []string{chargesOnly, payeeReader} {
		expect(t, ts.do("GET", "/v1/holds/"+id, key, nil), 403, "permission_error", "missing_scope")
		expect(t, ts.do("POST", "/v1/holds/"+id+"/capture", key, nil), 403, "permission_error", "missing_scope")
		expect(t, ts.do("POST", "/v1/holds/"+id+"/void", key, nil), 403, "permission_error", "missing_scope")
	}
	// Another account's key, or another user's JWT: the hold does not exist.
	for _, token := range []string{other.key, other.supplierKey} {
		expect(t, ts.do("GET", "/v1/holds/"+id, token, nil), 404, "not_found_error", "not_found")
		expect(t, ts.do("POST", "/v1/holds/"+id+"/capture", token, nil), 404, "not_found_error", "not_found")
		expect(t, ts.do("POST", "/v1/holds/"+id+"/void", token, nil), 404, "not_found_error", "not_found")
	}
	expect(t, ts.do("GET", "/v1/holds/"+id, other.consumer.access, nil), 404, "not_found_error", "not_found")
	for _, u := range []user{m.consumer, m.supplier} {
		expect(t, ts.do("GET", "/v1/holds/"+id, u.access, nil), 200, "", "")
	}
	// Unknown ids, and ids of other things.
	charge := expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}), 201, "", "")
	for _, unknown := range []string{"hold_" + strings.Repeat("x", 22), charge["id"].(string), "hold_", "x"} {
		expect(t, ts.do("GET", "/v1/holds/"+unknown, m.key, nil), 404, "not_found_error", "not_found")
		expect(t, ts.do("POST", "/v1/holds/"+unknown+"/capture", m.key, nil), 404, "not_found_error", "not_found")
		expect(t, ts.do("POST", "/v1/holds/"+unknown+"/void", m.key, nil), 404, "not_found_error", "not_found")
	}
	expect(t, ts.do("GET", "/v1/holds/"+id, "", nil), 401, "authentication_error", "missing_credentials")
	expect(t, ts.do("GET", "/v1/holds/"+id, "not-a-jwt", nil), 401, "authentication_error", "invalid_credentials")
	ts.wantBalance(m.key, "9899", "100") // the charge of 1 and the hold only
}

func TestHoldRequestErrors(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	live := ts.account(m.supplier, "live")
	hold := func(fields map[string]any) map[string]any {
		body := map[string]any{"to": m.payee, "amount": "10", "expiresInSeconds": 60}
		for k, v := range fields {
			if v == nil {
				delete(body, k)
				continue
			}
			body[k] = v
		}
		return body
	}
	for _, c := range []struct {
		name       string
		body       any
		status     int
		kind, code string
		field      string
	}{
		{"insufficient funds", hold(map[string]any{"amount": "1001"}), 402, "payment_required", "insufficient_funds", ""},
		{"unknown to", hold(map[string]any{"to": "acct_doesnotexist0000000000"}), 404, "not_found_error", "not_found", ""},
		{"other environment", hold(map[string]any{"to": live}), 403, "permission_error", "environment_mismatch", ""},
		{"to self", hold(map[string]any{"to": m.payer}), 400, "invalid_request_error", "validation_failed", "to"},
		{"no expiry", hold(map[string]any{"expiresInSeconds": nil}), 400, "invalid_request_error", "validation_failed", "expiresInSeconds"},
		{"zero expiry", hold(map[string]any{"expiresInSeconds": 0}), 400, "invalid_request_error", "validation_failed", "expiresInSeconds"},
		{"negative expiry", hold(map[string]any{"expiresInSeconds": -1}), 400, "invalid_request_error", "validation_failed", "expiresInSeconds"},
		{"expiry past the maximum", hold(map[string]any{"expiresInSeconds": HoldExpiresInSecondsMax + 1}), 400, "invalid_request_error", "validation_failed", "expiresInSeconds"},
		{"fractional expiry", hold(map[string]any{"expiresInSeconds": 1.5}), 400, "invalid_request_error", "validation_failed", "expiresInSeconds"},
		{"string expiry", hold(map[string]any{"expiresInSeconds": "60"}), 400, "invalid_request_error", "validation_failed", "expiresInSeconds"},
		{"number amount", hold(map[string]any{"amount": 10}), 400, "invalid_request_error", "validation_failed", "amount"},
		{"zero amount", hold(map[string]any{"amount": "0"}), 400, "invalid_request_error", "validation_failed", "amount"},
		{"bad metadata", hold(map[string]any{"metadata": map[string]any{"k": 1}}), 400, "invalid_request_error", "validation_failed", "metadata.k"},
		{"unknown field", hold(map[string]any{"extra": "x"}), 400, "invalid_request_error", "validation_failed", "extra"},
		{"malformed", `{"to":`, 400, "invalid_request_error", "malformed_json", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := expect(t, ts.do("POST", "/v1/holds", m.key, c.body), c.status, c.kind, c.code)
			if fields, _ := e["fields"].(map[string]any); c.field != "" && fields[c.field] == nil {
				t.Fatalf("fields = %v, want %s named", e["fields"], c.field)
			}
		})
	}
	// The longest expiry is accepted; nothing else was reserved.
	ts.placeHold(m, m.key, "10", HoldExpiresInSecondsMax)
	ts.wantBalance(m.key, "990", "10")
}

func TestHoldExpiresInSecondsMaxIsTheEnginesBound(t *testing.T) {
	if got := int64(HoldExpiresInSecondsMax) * int64(time.Second); got != ledger.HoldTimeoutMax {
		t.Fatalf("HoldExpiresInSecondsMax = %d s, the engine's HoldTimeoutMax is %d ns", HoldExpiresInSecondsMax, ledger.HoldTimeoutMax)
	}
}

// TestIdempotentHoldReservesOnce: the same Idempotency-Key and body answer
// the same hold, reserved once, before a restart (the stored answer) and
// after it (the ledger's record, in its state now); another body is 409.
func TestIdempotentHoldReservesOnce(t *testing.T) {
	ts := startServer(t)
	m := ts.market("10000")
	body := map[string]any{"to": m.payee, "amount": "700", "expiresInSeconds": 600}
	first := ts.do("POST", "/v1/holds", m.key, body, "Idempotency-Key", "hold-1")
	v := expect(t, first, 201, "", "")
	again := ts.do("POST", "/v1/holds", m.key, body, "Idempotency-Key", "hold-1")
	if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d %s, want %s", again.status, again.body, first.body)
	}
	if v["id"] != string(holdID(m.payer, "hold-1")) {
		t.Fatalf("hold id = %v, want the one derived from the payer and the key", v["id"])
	}
	expect(t, ts.do("POST", "/v1/holds", m.key, map[string]any{"to": m.payee, "amount": "701", "expiresInSeconds": 600}, "Idempotency-Key", "hold-1"),
		409, "conflict_error", "idempotency_key_reused")
	ts.wantBalance(m.key, "9300", "700")

	ts.restart() // the stored answers are gone; the durable client id is not
	replayed := expect(t, ts.do("POST", "/v1/holds", m.key, body, "Idempotency-Key", "hold-1"), 201, "", "")
	if replayed["id"] != v["id"] || replayed["replayed"] != true || replayed["state"] != "PENDING" || replayed["createdAt"] != v["createdAt"] {
		t.Fatalf("replay after restart = %v, want hold %v replayed", replayed, v["id"])
	}
	expect(t, ts.do("POST", "/v1/holds", m.key, map[string]any{"to": m.payee, "amount": "700", "expiresInSeconds": 601}, "Idempotency-Key", "hold-1"),
		409, "conflict_error", "idempotency_key_reused")
	ts.wantBalance(m.key, "9300", "700")
	// Once captured, a replay shows the hold as it is now, and moves nothing.
	expect(t, ts.do("POST", "/v1/holds/"+v["id"].(string)+"/capture", m.key, nil), 200, "", "")
	ts.restart()
	replayed = expect(t, ts.do("POST", "/v1/holds", m.key, body, "Idempotency-Key", "hold-1"), 201, "", "")
	wantHold(t, replayed, "CAPTURED", "700", "700", "7", "693")
	ts.wantBalance(m.key, "9300", "0")
	ts.verify()
}

// TestConcurrentHoldsStopAtTheKeysBudget sends 256 holds at once through a
// key whose budget fits exactly 100 of them: exactly 100 are placed, the
// rest refused 402 budget_exceeded, and exactly 100 × amount is reserved.
// Run with -race.
func TestConcurrentHoldsStopAtTheKeysBudget(t *testing.T) {
	const (
		requests = 256
		fit      = 100
		amount   = 7
	)
	ts := startServer(t)
	m := ts.market("1000000")
	keyID, key := ts.key(m.consumer, m.payer, map[string]any{"budget": map[string]string{"maxTotal": strconv.Itoa(fit * amount)}})
	body, _ := json.Marshal(map[string]any{"to": m.payee, "amount": strconv.Itoa(amount), "expiresInSeconds": 3600})
	transport := &http.Transport{MaxIdleConnsPerHost: requests}
	defer transport.CloseIdleConnections()
	concurrent := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	statuses := make([]int, requests)
	codes := make([]string, requests)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range requests {
		wg.Go(func() {
			<-start
			status, answer, err := crashDo(concurrent, ts.url, "POST", "/v1/holds", key, body)
			if err != nil {
				t.Errorf("hold %d: %v", i, err)
				return
			}
			statuses[i] = status
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			if json.Unmarshal(answer, &e) == nil {
				codes[i] = e.Error.Code
			}
		})
	}
	close(start)
	wg.Wait()
	placed, refused := 0, 0
	for i, status := range statuses {
		switch {
		case status == 201:
			placed++
		case status == 402 && codes[i] == "budget_exceeded":
			refused++
		default:
			t.Errorf("hold %d = %d %s", i, status, codes[i])
		}
	}
	if placed != fit || refused != requests-fit {
		t.Fatalf("%d placed, %d refused budget_exceeded; want %d and %d", placed, refused, fit, requests-fit)
	}
	ts.wantBalance(m.key, strconv.Itoa(1000000-fit*amount), strconv.Itoa(fit*amount))
	b := expect(t, ts.do("GET", "/v1/keys/"+keyID, m.consumer.access, nil), 200, "", "")["budget"].(map[string]any)
	if b["spent"] != strconv.Itoa(fit*amount) {
		t.Fatalf("budget = %v, want spent %d", b, fit*amount)
	}
	ts.verify()
}

// TestHoldsStopAtThePerAccountLimit: a payer with engine.HoldsPerAccountMax
// open holds is refused 409 limit_exceeded; releasing one makes room.
func TestHoldsStopAtThePerAccountLimit(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000000")
	ctx := context.Background()
	var wg sync.WaitGroup
	const workers = 32
	for w := range workers {
		wg.Go(func() {
			for i := w; i < engine.HoldsPerAccountMax; i += workers {
				_, err := ts.engine.Hold(ctx, engine.Hold{ID: engine.TransferID(fmt.Sprintf("hold_limit%d", i)),
					From: engine.AccountID(m.payer), To: engine.AccountID(m.payee), Amount: engine.NewAmount(1), Timeout: time.Hour})
				if err != nil {
					t.Errorf("engine.Hold %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	hold := map[string]any{"to": m.payee, "amount": "1", "expiresInSeconds": 60}
	expect(t, ts.do("POST", "/v1/holds", m.key, hold), 409, "conflict_error", "limit_exceeded")
	expect(t, ts.do("POST", "/v1/holds/hold_limit0/void", m.key, nil), 200, "", "")
	expect(t, ts.do("POST", "/v1/holds", m.key, hold), 201, "", "")
	expect(t, ts.do("POST", "/v1/holds", m.key, hold), 409, "conflict_error", "limit_exceeded")
	reserved := strconv.Itoa(engine.HoldsPerAccountMax)
	ts.wantBalance(m.key, strconv.Itoa(1000000-engine.HoldsPerAccountMax), reserved)
	ts.verify()
}

// holdJSON is the reference shape of a hold, encoded by encoding/json:
// appendHold must write the same bytes.
type holdJSON struct {
	ID           string       `json:"id"`
	From         string       `json:"from"`
	To           string       `json:"to"`
	Amount       string       `json:"amount"`
	Captured     string       `json:"captured"`
	Fee          string       `json:"fee"`
	ToAmount     string       `json:"toAmount"`
	State        string       `json:"state"`
	CreatedAt    string       `json:"createdAt"`
	ExpiresAt    string       `json:"expiresAt"`
	ClosedAt     *string      `json:"closedAt"`
	SettlementID *string      `json:"settlementId"`
	Metadata     metadataJSON `json:"metadata,omitempty"`
	Balance      *balanceJSON `json:"balance,omitempty"`
	Position     *uint64      `json:"position,omitempty"`
	Replayed     *bool        `json:"replayed,omitempty"`
}

func holdOf(t *engine.Transfer, withBalance bool) holdJSON {
	j := holdJSON{ID: string(t.ID), From: string(t.From), To: string(t.To), Amount: t.Amount.String(),
		Captured: t.Captured.String(), Fee: t.Fee.String(), ToAmount: t.ToAmount.String(),
		State: map[engine.HoldState]string{engine.HoldOpen: "PENDING", engine.HoldCaptured: "CAPTURED",
			engine.HoldVoided: "VOIDED", engine.HoldExpired: "EXPIRED"}[t.State],
		CreatedAt: timeJSON(t.Created), ExpiresAt: timeJSON(t.Deadline), Metadata: metadataJSON(t.Memo)}
	if t.State != engine.HoldOpen {
		closed := timeJSON(t.Time)
		j.ClosedAt = &closed
	}
	if withBalance {
		b, position, replayed := balanceOf(t.Balance), t.Position, t.Replayed
		j.Balance, j.Position, j.Replayed = &b, &position, &replayed
	}
	return j
}

func TestAppendHoldWritesWhatEncodingJSONWrites(t *testing.T) {
	for i, tr := range sampleTransfers() {
		tr.ID, tr.Type = engine.TransferID(strings.Replace(string(tr.ID), "ch_", "hold_", 1)), engine.TransferHold
		tr.Created = tr.Time.Add(-time.Minute)
		tr.Deadline = tr.Created.Add(time.Hour)
		tr.State = []engine.HoldState{engine.HoldOpen, engine.HoldCaptured, engine.HoldVoided, engine.HoldExpired}[i%4]
		if tr.State == engine.HoldCaptured {
			tr.Captured = tr.Amount
		}
		for _, withBalance := range []bool{true, false} {
			want, err := json.Marshal(holdOf(&tr, withBalance))
			if err != nil {
				t.Fatal(err)
			}
			if got := appendHold(nil, &tr, withBalance, ""); string(got) != string(want) {
				t.Errorf("appendHold(%+v, %v) =\n%s\nwant\n%s", tr, withBalance, got, want)
			}
		}
	}
}

// (The exact moment of an expiry without any request is proven on the
// engine, under testing/synctest: engine/sweeper_test.go. A server in a
// synctest bubble would put channels made in the bubble into the
// package's pools, which a later test outside it then uses: a fatal
// error of the runtime.)
