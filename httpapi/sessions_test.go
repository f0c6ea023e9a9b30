package httpapi

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// openTestSession opens a session from m's consumer to its supplier at 10 a
// second for at most 60 seconds (600 reserved) and returns its id.
func openTestSession(t *testing.T, ts *testServer, m market, headers ...string) map[string]any {
	t.Helper()
	body := map[string]any{"to": m.payee, "ratePerSecond": "10", "maxDurationSeconds": 60}
	return expect(t, ts.do("POST", "/v1/sessions", m.key, body, headers...), 201, "", "")
}

func (ts *testServer) balanceOf(key string) (available, reserved string) {
	ts.t.Helper()
	v := expect(ts.t, ts.do("GET", "/v1/balance", key, nil), 200, "", "")
	return v["available"].(string), v["reserved"].(string)
}

func wantBalances(t *testing.T, ts *testServer, key, available, reserved string) {
	t.Helper()
	if a, r := ts.balanceOf(key); a != available || r != reserved {
		t.Fatalf("balance = %s available %s reserved, want %s %s", a, r, available, reserved)
	}
}

// TestSessionOverHTTPChargesItsWholeSecondsLive walks a session through
// open, accept, start and end over HTTP, with exact balances of both sides
// after each step and the fee (1% on this server) to the platform.
func TestSessionOverHTTPChargesItsWholeSecondsLive(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	s := openTestSession(t, ts, m, "Idempotency-Key", "stream-1")
	id := s["id"].(string)
	if s["state"] != "REQUESTED" || s["reserved"] != "600" || s["from"] != m.payer || s["to"] != m.payee ||
		s["ratePerSecond"] != "10" || s["acceptedAt"] != nil || s["position"].(float64) <= 0 {
		t.Fatalf("opened = %v", s)
	}
	wantBalances(t, ts, m.key, "400", "600")
	// Only the supplier accepts.
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/accept", m.key, nil), 409, "conflict_error", "invalid_state")
	a := expect(t, ts.do("POST", "/v1/sessions/"+id+"/accept", m.supplierKey, nil), 200, "", "")
	if a["state"] != "ASSIGNED" || a["acceptedAt"] == nil {
		t.Fatalf("accepted = %v", a)
	}
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/accept", m.supplierKey, nil), 409, "conflict_error", "invalid_state")
	started := expect(t, ts.do("POST", "/v1/sessions/"+id+"/start", m.key, "{}"), 200, "", "")
	if started["state"] != "LIVE" || started["startedAt"] == nil {
		t.Fatalf("started = %v", started)
	}
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/cancel", m.key, nil), 409, "conflict_error", "invalid_state")
	ts.clock.Advance(42*time.Second + 999*time.Millisecond)
	ended := expect(t, ts.do("POST", "/v1/sessions/"+id+"/end", m.supplierKey, nil), 200, "", "")
	if ended["state"] != "ENDED" || ended["cleanSeconds"].(float64) != 42 || ended["charged"] != "420" || ended["fee"] != "4" ||
		ended["reserved"] != "0" || ended["endedAt"] == nil {
		t.Fatalf("ended = %v, want 42 s charged 420 with a fee of 4", ended)
	}
	wantBalances(t, ts, m.key, "580", "0")
	wantBalances(t, ts, m.supplierKey, "416", "0")
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/end", m.key, nil), 409, "conflict_error", "invalid_state")
	// Both sides read it; nobody else does.
	for _, key := range []string{m.key, m.supplierKey} {
		got := expect(t, ts.do("GET", "/v1/sessions/"+id, key, nil), 200, "", "")
		if got["state"] != "ENDED" || got["charged"] != "420" || got["position"] != nil {
			t.Fatalf("GET = %v", got)
		}
	}
	other := ts.market("10")
	expect(t, ts.do("GET", "/v1/sessions/"+id, other.key, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/end", other.key, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/sessions/sess_nope", m.key, nil), 404, "not_found_error", "not_found")

	// Durable: the same after a restart, and the opening's key still names it.
	ts.restart()
	wantBalances(t, ts, m.key, "580", "0")
	again := openTestSession(t, ts, m, "Idempotency-Key", "stream-1")
	if again["id"] != id || again["state"] != "ENDED" {
		t.Fatalf("reopening with the same key after a restart = %v, want session %s as it stands", again, id)
	}
	wantBalances(t, ts, m.key, "580", "0")
}

// TestSessionTimersOverHTTP: a live session past its maximum is ended (at
// its maximum, charged once) by the first thing that looks at it; one not
// started within its window is expired.
func TestSessionTimersOverHTTP(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	live := openTestSession(t, ts, m)["id"].(string)
	expect(t, ts.do("POST", "/v1/sessions/"+live+"/accept", m.supplierKey, nil), 200, "", "")
	expect(t, ts.do("POST", "/v1/sessions/"+live+"/start", m.supplierKey, nil), 200, "", "")
	ts.clock.Advance(10 * time.Minute)
	expect(t, ts.do("POST", "/v1/sessions/"+live+"/end", m.key, nil), 409, "conflict_error", "invalid_state")
	got := expect(t, ts.do("GET", "/v1/sessions/"+live, m.key, nil), 200, "", "")
	if got["state"] != "ENDED" || got["cleanSeconds"].(float64) != 60 || got["charged"] != "600" {
		t.Fatalf("after its maximum = %v, want ENDED after 60 s charged 600", got)
	}
	wantBalances(t, ts, m.key, "400", "0")

	waiting := expect(t, ts.do("POST", "/v1/sessions", m.key,
		map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 100, "startWithinSeconds": 30}), 201, "", "")
	id := waiting["id"].(string)
	wantBalances(t, ts, m.key, "300", "100")
	ts.clock.Advance(31 * time.Second)
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/accept", m.supplierKey, nil), 409, "conflict_error", "invalid_state")
	if got := expect(t, ts.do("GET", "/v1/sessions/"+id, m.supplierKey, nil), 200, "", ""); got["state"] != "EXPIRED" {
		t.Fatalf("after its window = %v, want EXPIRED", got)
	}
	wantBalances(t, ts, m.key, "400", "0")
}

func TestSessionRequestErrors(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	live := ts.account(m.supplier, "live")
	for _, c := range []struct {
		name       string
		body       any
		status     int
		kind, code string
	}{
		{"insufficient funds", map[string]any{"to": m.payee, "ratePerSecond": "17", "maxDurationSeconds": 60}, 402, "payment_required", "insufficient_funds"},
		{"unknown to", map[string]any{"to": "acct_doesnotexist0000000000", "ratePerSecond": "1", "maxDurationSeconds": 1}, 404, "not_found_error", "not_found"},
		{"other environment", map[string]any{"to": live, "ratePerSecond": "1", "maxDurationSeconds": 1}, 403, "permission_error", "environment_mismatch"},
		{"to self", map[string]any{"to": m.payer, "ratePerSecond": "1", "maxDurationSeconds": 1}, 400, "invalid_request_error", "validation_failed"},
		{"zero rate", map[string]any{"to": m.payee, "ratePerSecond": "0", "maxDurationSeconds": 1}, 400, "invalid_request_error", "validation_failed"},
		{"rate as a number", map[string]any{"to": m.payee, "ratePerSecond": 1, "maxDurationSeconds": 1}, 400, "invalid_request_error", "validation_failed"},
		{"duration too long", map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 2592001}, 400, "invalid_request_error", "validation_failed"},
		{"duration zero", map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 0}, 400, "invalid_request_error", "validation_failed"},
		{"duration fraction", map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 1.5}, 400, "invalid_request_error", "validation_failed"},
		{"reservation overflows", map[string]any{"to": m.payee, "ratePerSecond": "18446744073709551615", "maxDurationSeconds": 2}, 400, "invalid_request_error", "validation_failed"},
		{"start window too long", map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 1, "startWithinSeconds": 86401}, 400, "invalid_request_error", "validation_failed"},
		{"unknown field", map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 1, "x": 1}, 400, "invalid_request_error", "validation_failed"},
		{"malformed", `{"to":`, 400, "invalid_request_error", "malformed_json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			expect(t, ts.do("POST", "/v1/sessions", m.key, c.body), c.status, c.kind, c.code)
		})
	}
	wantBalances(t, ts, m.key, "1000", "0")
	id := openTestSession(t, ts, m)["id"].(string)
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/accept", m.supplierKey, `{"x":1}`), 400, "invalid_request_error", "validation_failed")
	expect(t, ts.do("POST", "/v1/sessions/"+id+"/cancel", m.supplierKey, nil), 409, "conflict_error", "invalid_state")
	c := expect(t, ts.do("POST", "/v1/sessions/"+id+"/cancel", m.key, nil), 200, "", "")
	if c["state"] != "CANCELLED" || c["endedAt"] == nil {
		t.Fatalf("cancelled = %v", c)
	}
	wantBalances(t, ts, m.key, "1000", "0")
	// Scopes: a read-only key cannot open; a charges-only key cannot read.
	_, reader := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"sessions:read"}})
	expect(t, ts.do("POST", "/v1/sessions", reader, map[string]any{"to": m.payee, "ratePerSecond": "1", "maxDurationSeconds": 1}),
		403, "permission_error", "missing_scope")
	_, charger := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"charges:write"}})
	expect(t, ts.do("GET", "/v1/sessions/"+id, charger, nil), 403, "permission_error", "missing_scope")
	expect(t, ts.do("GET", "/v1/sessions/"+id, reader, nil), 200, "", "")
}

// TestSessionListPagesNewestFirst lists an account's sessions from both
// sides, filtered by state and page by page.
func TestSessionListPagesNewestFirst(t *testing.T) {
	ts := startServer(t)
	m := ts.market("100000")
	var ids []string
	for i := range 5 {
		ts.clock.Advance(time.Second)
		id := openTestSession(t, ts, m)["id"].(string)
		ids = append(ids, id)
		if i%2 == 0 {
			expect(t, ts.do("POST", "/v1/sessions/"+id+"/cancel", m.key, nil), 200, "", "")
		}
	}
	list := func(key, query string) (data []any, more bool, next any) {
		v := expect(t, ts.do("GET", "/v1/sessions"+query, key, nil), 200, "", "")
		return v["data"].([]any), v["hasMore"].(bool), v["nextStartingAfter"]
	}
	data, more, next := list(m.supplierKey, "")
	if len(data) != 5 || more || next != nil {
		t.Fatalf("list = %d sessions, more %v, next %v; want all 5", len(data), more, next)
	}
	for i, s := range data {
		if want := ids[4-i]; s.(map[string]any)["id"] != want {
			t.Fatalf("item %d = %v, want %s (newest first)", i, s, want)
		}
	}
	data, _, _ = list(m.key, "?state=CANCELLED")
	if len(data) != 3 {
		t.Fatalf("cancelled = %d, want 3", len(data))
	}
	data, more, next = list(m.key, "?limit=2")
	if len(data) != 2 || !more || next != ids[3] {
		t.Fatalf("first page = %d, more %v, next %v; want 2, more, next %s", len(data), more, next, ids[3])
	}
	data, more, _ = list(m.key, fmt.Sprintf("?limit=2&startingAfter=%s", next))
	if len(data) != 2 || !more || data[0].(map[string]any)["id"] != ids[2] {
		t.Fatalf("second page = %v, more %v", data, more)
	}
	other := ts.market("10")
	if data, _, _ := list(other.key, ""); len(data) != 0 {
		t.Fatalf("another account lists %d sessions, want none", len(data))
	}
	expect(t, ts.do("GET", "/v1/sessions?state=DONE", m.key, nil), 400, "invalid_request_error", "validation_failed")
	expect(t, ts.do("GET", "/v1/sessions?limit=101", m.key, nil), 400, "invalid_request_error", "validation_failed")
	expect(t, ts.do("GET", "/v1/sessions?startingAfter="+ids[0], other.key, nil), 400, "invalid_request_error", "validation_failed")
}

// TestSessionBudgetAdmitsExactlyWhatFitsOverHTTP opens 256 sessions at
// once with a key whose maxTotal fits exactly 7 reservations.
func TestSessionBudgetAdmitsExactlyWhatFitsOverHTTP(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000000")
	_, key := ts.key(m.consumer, m.payer, map[string]any{"budget": map[string]string{"maxTotal": "4200"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var unexpected error
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ts.do("POST", "/v1/sessions", key, map[string]any{"to": m.payee, "ratePerSecond": "10", "maxDurationSeconds": 60})
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == 402 {
				if e := r.json(t)["error"].(map[string]any); e["code"] != "budget_exceeded" && unexpected == nil {
					unexpected = errors.New(string(r.body))
				}
			}
		}()
	}
	wg.Wait()
	if unexpected != nil || statuses[201] != 7 || statuses[402] != 249 {
		t.Fatalf("statuses %v (%v), want 7 × 201 and 249 × 402 budget_exceeded", statuses, unexpected)
	}
	wantBalances(t, ts, m.key, "995800", "4200")
}
