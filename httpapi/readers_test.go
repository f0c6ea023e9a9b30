package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// The lists of an account's records (sessions, usage, holds) read one
// account through accountReader: a key its own (`account` may name it),
// the owner's JWT the one `account` names; another's is 404.

// wantAccountField checks that r is 400 validation_failed naming account.
func wantAccountField(t *testing.T, r response) {
	t.Helper()
	e := expect(t, r, 400, "invalid_request_error", "validation_failed")
	if fields, _ := e["fields"].(map[string]any); fields["account"] == nil || len(fields) != 1 {
		t.Fatalf("error = %v, want fields naming account only", e)
	}
}

// wantSameBody checks that a JWT's answer is, byte for byte, the key's.
func wantSameBody(t *testing.T, what string, byJWT, byKey response) {
	t.Helper()
	if byJWT.status != 200 || byKey.status != 200 || !bytes.Equal(byJWT.body, byKey.body) {
		t.Fatalf("%s: by JWT %d %s, by key %d %s; want the same 200", what, byJWT.status, byJWT.body, byKey.status, byKey.body)
	}
}

// checkAccountRules checks the reader rules of one list at path (query
// has its other parameters, "" or ending in '&'): both parties' JWTs with
// their accounts read what their keys read, a JWT without account is 400,
// another's account is 404 by JWT and by key, and a key naming its own
// account reads what it reads without.
func checkAccountRules(t *testing.T, ts *testServer, m market, path, query string) {
	t.Helper()
	stranger := ts.market("1")
	for _, side := range []struct {
		name    string
		owner   user
		account string
		key     string
	}{{"payer", m.consumer, m.payer, m.key}, {"payee", m.supplier, m.payee, m.supplierKey}} {
		byKey := ts.do("GET", path+"?"+query, side.key, nil)
		wantSameBody(t, side.name+" JWT", ts.do("GET", path+"?"+query+"account="+side.account, side.owner.access, nil), byKey)
		wantSameBody(t, side.name+" key naming its account", ts.do("GET", path+"?"+query+"account="+side.account, side.key, nil), byKey)
		wantAccountField(t, ts.do("GET", path+"?"+query, side.owner.access, nil))
		expect(t, ts.do("GET", path+"?"+query+"account="+stranger.payer, side.owner.access, nil), 404, "not_found_error", "not_found")
		expect(t, ts.do("GET", path+"?"+query+"account="+stranger.payer, side.key, nil), 404, "not_found_error", "not_found")
		expect(t, ts.do("GET", path+"?"+query+"account=acct_nope", side.owner.access, nil), 404, "not_found_error", "not_found")
	}
	// The counterparty's account is not the reader's either.
	expect(t, ts.do("GET", path+"?"+query+"account="+m.payee, m.consumer.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", path+"?"+query+"account="+m.payee, m.key, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", path+"?"+query+"account="+m.payer, "", nil), 401, "authentication_error", "missing_credentials")
}

func listIDs(t *testing.T, r response) (ids []string, more bool, next any) {
	t.Helper()
	v := expect(t, r, 200, "", "")
	for _, item := range v["data"].([]any) {
		ids = append(ids, item.(map[string]any)["id"].(string))
	}
	return ids, v["hasMore"].(bool), v["nextStartingAfter"]
}

func TestSessionListReadsTheOwnersAccountByJWT(t *testing.T) {
	ts := startServer(t)
	m := ts.market("100000")
	var ids []string
	for range 3 {
		ts.clock.Advance(time.Second)
		ids = append(ids, openTestSession(t, ts, m)["id"].(string))
	}
	expect(t, ts.do("POST", "/v1/sessions/"+ids[1]+"/cancel", m.key, nil), 200, "", "")
	for _, c := range []struct {
		owner   user
		account string
	}{{m.consumer, m.payer}, {m.supplier, m.payee}} {
		got, more, next := listIDs(t, ts.do("GET", "/v1/sessions?account="+c.account, c.owner.access, nil))
		if fmt.Sprint(got) != fmt.Sprint([]string{ids[2], ids[1], ids[0]}) || more || next != nil {
			t.Fatalf("sessions of %s by JWT = %v more %v next %v, want %v newest first", c.account, got, more, next, ids)
		}
	}
	got, more, next := listIDs(t, ts.do("GET", "/v1/sessions?account="+m.payer+"&limit=1&startingAfter="+ids[2], m.consumer.access, nil))
	if fmt.Sprint(got) != fmt.Sprint([]string{ids[1]}) || !more || next != ids[1] {
		t.Fatalf("second page by JWT = %v more %v next %v, want [%s] more", got, more, next, ids[1])
	}
	got, _, _ = listIDs(t, ts.do("GET", "/v1/sessions?account="+m.payee+"&state=CANCELLED", m.supplier.access, nil))
	if fmt.Sprint(got) != fmt.Sprint([]string{ids[1]}) {
		t.Fatalf("cancelled by JWT = %v, want [%s]", got, ids[1])
	}
	checkAccountRules(t, ts, m, "/v1/sessions", "")
	checkAccountRules(t, ts, m, "/v1/sessions", "state=REQUESTED&limit=1&")
	// A JWT without account is refused with the other fields it got wrong.
	e := expect(t, ts.do("GET", "/v1/sessions?state=DONE", m.consumer.access, nil), 400, "invalid_request_error", "validation_failed")
	if fields, _ := e["fields"].(map[string]any); fields["account"] == nil || fields["state"] == nil {
		t.Fatalf("error = %v, want account and state named", e)
	}
}

func TestUsageReadsTheOwnersAccountByJWT(t *testing.T) {
	ts := startServer(t)
	ts.clock.mu.Lock()
	ts.clock.now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ts.clock.mu.Unlock()
	m := ts.market("100000")
	for _, amount := range []int{1000, 250} {
		expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": strconv.Itoa(amount)}), 201, "", "")
	}
	const query = "from=2026-11-01&to=2026-12-31&"
	for _, c := range []struct {
		owner   user
		account string
		want    usageJSON
	}{
		{m.consumer, m.payer, usageJSON{start: "2026-12-01", spentCount: 2, spent: "1250", earned: "0", fees: "12"}},
		{m.supplier, m.payee, usageJSON{start: "2026-12-01", earnedCount: 2, earned: "1238", spent: "0", fees: "0"}},
	} {
		v := expect(t, ts.do("GET", "/v1/usage?"+query+"account="+c.account, c.owner.access, nil), 200, "", "")
		buckets := v["buckets"].([]any)
		if v["accountId"] != c.account || len(buckets) != 1 || usageBucketOf(t, buckets[0]) != c.want {
			t.Fatalf("usage of %s by JWT = %v, want one bucket %+v", c.account, v, c.want)
		}
	}
	checkAccountRules(t, ts, m, "/v1/usage", query)
	checkAccountRules(t, ts, m, "/v1/usage", query+"granularity=month&")
	e := expect(t, ts.do("GET", "/v1/usage?from=2026-12-01", m.consumer.access, nil), 400, "invalid_request_error", "validation_failed")
	if fields, _ := e["fields"].(map[string]any); fields["account"] == nil || fields["to"] == nil {
		t.Fatalf("error = %v, want account and to named", e)
	}
}

// listedHolds returns the raw items of a GET /v1/holds page.
func listedHolds(t *testing.T, r response) (items []json.RawMessage, more bool, next any) {
	t.Helper()
	expect(t, r, 200, "", "")
	var page struct {
		Data              []json.RawMessage `json:"data"`
		HasMore           bool              `json:"hasMore"`
		NextStartingAfter any               `json:"nextStartingAfter"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatalf("holds page %s: %v", r.body, err)
	}
	return page.Data, page.HasMore, page.NextStartingAfter
}

// wantHoldsListed checks a page's holds, in order, each byte for byte as
// GET /v1/holds/{id} shows it to the same token, and its paging.
func wantHoldsListed(t *testing.T, ts *testServer, token, query string, ids []string, more bool, next any) {
	t.Helper()
	items, gotMore, gotNext := listedHolds(t, ts.do("GET", "/v1/holds?"+query, token, nil))
	var got []string
	for _, item := range items {
		var h struct{ ID string }
		if err := json.Unmarshal(item, &h); err != nil {
			t.Fatal(err)
		}
		got = append(got, h.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) || gotMore != more || gotNext != next {
		t.Fatalf("GET /v1/holds?%s = %v more %v next %v, want %v more %v next %v", query, got, gotMore, gotNext, ids, more, next)
	}
	for i, item := range items {
		one := expect(t, ts.do("GET", "/v1/holds/"+ids[i], token, nil), 200, "", "")
		var listed map[string]any
		if err := json.Unmarshal(item, &listed); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(listed, one) {
			t.Fatalf("listed %s = %v, want GET's %v", ids[i], listed, one)
		}
	}
}

// TestHoldListReadsEitherPartysHoldsByKeyOrJWT: the payer's and the
// payee's lists, by key and by the owner's JWT, newest first, each hold as
// GET /v1/holds/{id} shows it; state filters, pages, a hold past its
// deadline listed EXPIRED, and the reader rules.
func TestHoldListReadsEitherPartysHoldsByKeyOrJWT(t *testing.T) {
	ts := startServer(t)
	m := ts.market("100000")
	var ids []string // newest last
	for _, amount := range []string{"100", "200", "300", "400"} {
		ts.clock.Advance(time.Second)
		ids = append(ids, ts.placeHold(m, m.key, amount, 3600)["id"].(string))
	}
	expect(t, ts.do("POST", "/v1/holds/"+ids[0]+"/capture", m.supplierKey, map[string]string{"amount": "60"}), 200, "", "")
	expect(t, ts.do("POST", "/v1/holds/"+ids[2]+"/void", m.key, nil), 200, "", "")
	newest := []string{ids[3], ids[2], ids[1], ids[0]}
	for _, reader := range []struct{ token, account string }{
		{m.key, ""}, {m.key, m.payer}, {m.consumer.access, m.payer}, {m.supplierKey, ""}, {m.supplier.access, m.payee},
	} {
		query := "account=" + reader.account + "&"
		if reader.account == "" {
			query = ""
		}
		wantHoldsListed(t, ts, reader.token, query, newest, false, nil)
		wantHoldsListed(t, ts, reader.token, query+"state=PENDING", []string{ids[3], ids[1]}, false, nil)
		wantHoldsListed(t, ts, reader.token, query+"state=CAPTURED", []string{ids[0]}, false, nil)
		wantHoldsListed(t, ts, reader.token, query+"state=VOIDED", []string{ids[2]}, false, nil)
		wantHoldsListed(t, ts, reader.token, query+"state=EXPIRED", nil, false, nil)
		wantHoldsListed(t, ts, reader.token, query+"limit=3", newest[:3], true, ids[1])
		wantHoldsListed(t, ts, reader.token, query+"limit=3&startingAfter="+ids[1], newest[3:], false, nil)
		wantHoldsListed(t, ts, reader.token, query+"state=PENDING&limit=1", []string{ids[3]}, true, ids[3])
		wantHoldsListed(t, ts, reader.token, query+"state=PENDING&limit=1&startingAfter="+ids[3], []string{ids[1]}, true, ids[1])
		wantHoldsListed(t, ts, reader.token, query+"state=PENDING&limit=1&startingAfter="+ids[1], nil, false, nil)
	}
	checkAccountRules(t, ts, m, "/v1/holds", "")
	checkAccountRules(t, ts, m, "/v1/holds", "state=PENDING&limit=1&")

	// A hold past its deadline is never listed PENDING.
	ts.clock.Advance(time.Second)
	short := ts.placeHold(m, m.key, "7", 60)["id"].(string)
	ts.clock.Advance(61 * time.Second)
	wantHoldsListed(t, ts, m.supplierKey, "state=PENDING", []string{ids[3], ids[1]}, false, nil)
	wantHoldsListed(t, ts, m.supplier.access, "account="+m.payee+"&state=EXPIRED", []string{short}, false, nil)
	wantHoldsListed(t, ts, m.key, "limit=1", []string{short}, true, short)
	if state := expect(t, ts.do("GET", "/v1/holds/"+short, m.key, nil), 200, "", "")["state"]; state != "EXPIRED" {
		t.Fatalf("hold past its deadline = %v, want EXPIRED", state)
	}

	for query, field := range map[string]string{
		"state=OPEN":                    "state",
		"state=":                        "state",
		"limit=0":                       "limit",
		"limit=101":                     "limit",
		"startingAfter=sess_1":          "startingAfter",
		"startingAfter=":                "startingAfter",
		"startingAfter=hold_unknown":    "startingAfter",
		"startingAfter=" + ids[0] + "x": "startingAfter",
	} {
		e := expect(t, ts.do("GET", "/v1/holds?"+query, m.key, nil), 400, "invalid_request_error", "validation_failed")
		if fields, _ := e["fields"].(map[string]any); fields[field] == nil || len(fields) != 1 {
			t.Fatalf("GET /v1/holds?%s = %v, want field %s named", query, e, field)
		}
	}
	// Another account's hold is no place to start this account's list from.
	other := ts.market("1000")
	otherHold := ts.placeHold(other, other.key, "1", 60)["id"].(string)
	e := expect(t, ts.do("GET", "/v1/holds?startingAfter="+otherHold, m.key, nil), 400, "invalid_request_error", "validation_failed")
	if fields, _ := e["fields"].(map[string]any); fields["startingAfter"] == nil {
		t.Fatalf("startingAfter another's hold = %v, want startingAfter named", e)
	}
	_, balanceOnly := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"balance:read"}})
	expect(t, ts.do("GET", "/v1/holds", balanceOnly, nil), 403, "permission_error", "missing_scope")
}

// TestHoldListShowsApprovalsHoldsOnceExecuted: a hold awaiting approval
// and a charge's reservation are not listed; a hold its approval executed
// is, under the approval's id.
func TestHoldListShowsApprovalsHoldsOnceExecuted(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("100000", "owner")
	body := func(amount string) map[string]any {
		return map[string]any{"to": m.payee, "amount": amount, "expiresInSeconds": 600}
	}
	approvalOf := func(r response) string {
		t.Helper()
		return expect(t, r, 202, "", "")["approval"].(map[string]any)["id"].(string)
	}
	ts.clock.Advance(time.Second)
	plain := ts.placeHold(m.market, m.key, "100", 600)["id"].(string)
	ts.clock.Advance(time.Second)
	executed := approvalOf(ts.do("POST", "/v1/holds", m.agent, body("5000")))
	ts.clock.Advance(time.Second)
	pending := approvalOf(ts.do("POST", "/v1/holds", m.agent, body("6000")))
	ts.clock.Advance(time.Second)
	approvalOf(ts.do("POST", "/v1/charges", m.agent, map[string]string{"to": m.payee, "amount": "7000"}))
	expect(t, ts.do("POST", "/v1/approvals/"+executed+"/approve", m.consumer.access, nil), 200, "", "")
	wantHoldsListed(t, ts, m.key, "", []string{executed, plain}, false, nil)
	wantHoldsListed(t, ts, m.supplier.access, "account="+m.payee, []string{executed, plain}, false, nil)
	// A page reads the two reservations too: it may hold fewer than limit.
	wantHoldsListed(t, ts, m.key, "limit=2", nil, true, pending)
	wantHoldsListed(t, ts, m.key, "limit=2&startingAfter="+pending, []string{executed, plain}, false, nil)
}
