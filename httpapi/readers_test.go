package httpapi

import (
	"bytes"
	"fmt"
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
