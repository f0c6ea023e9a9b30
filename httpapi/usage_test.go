package httpapi

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// usageJSON is a usage report's bucket as the tests read it.
type usageJSON struct {
	start                   string
	spentCount, earnedCount float64
	spent, earned, fees     string
}

func usageBucketOf(t *testing.T, v any) usageJSON {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("bucket = %v", v)
	}
	spent, earned := m["spent"].(map[string]any), m["earned"].(map[string]any)
	return usageJSON{start: m["start"].(string), spentCount: spent["count"].(float64), spent: spent["amount"].(string),
		earnedCount: earned["count"].(float64), earned: earned["amount"].(string), fees: m["fees"].(string)}
}

func (ts *testServer) usage(key, query string) (buckets []usageJSON, total usageJSON) {
	ts.t.Helper()
	v := expect(ts.t, ts.do("GET", "/v1/usage?"+query, key, nil), 200, "", "")
	for _, b := range v["buckets"].([]any) {
		buckets = append(buckets, usageBucketOf(ts.t, b))
	}
	return buckets, usageBucketOf(ts.t, v["total"])
}

func TestUsageRejectsBadQueriesAndMissingScope(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	for query, field := range map[string]string{
		"to=2026-12-01":                                    "from",
		"from=2026-12-01":                                  "to",
		"from=2026-13-01&to=2026-12-01":                    "from",
		"from=2026-12-01&to=12/02/2026":                    "to",
		"from=2026-12-02&to=2026-12-01":                    "to",
		"from=2025-11-30&to=2026-12-01":                    "to", // 367 days
		"from=2026-12-01&to=2026-12-01&granularity=week":   "granularity",
		"from=2026-12-01&to=2026-12-01&acct=acct_x":        "acct",
		"from=2026-12-01&from=2026-12-02&to=2026-12-03":    "from",
		"from=2026-12-01T00:00:00Z&to=2026-12-01T00:00:00": "from",
	} {
		e := expect(t, ts.do("GET", "/v1/usage?"+query, m.key, nil), 400, "invalid_request_error", "validation_failed")
		if fields, _ := e["fields"].(map[string]any); fields[field] == nil {
			t.Fatalf("GET /v1/usage?%s = %v, want field %s named", query, e, field)
		}
	}
	// 366 days, to inclusive: accepted.
	if buckets, _ := ts.usage(m.key, "from=2025-12-01&to=2026-12-01"); len(buckets) != 0 {
		t.Fatalf("buckets of an account without usage = %v", buckets)
	}
	_, balanceOnly := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"balance:read"}})
	expect(t, ts.do("GET", "/v1/usage?from=2026-12-01&to=2026-12-01", balanceOnly, nil), 403, "permission_error", "missing_scope")
	expect(t, ts.do("GET", "/v1/usage?from=2026-12-01&to=2026-12-01", "", nil), 401, "authentication_error", "missing_credentials")
	_, reader := ts.key(m.consumer, m.payer, map[string]any{"kind": "publishable", "scopes": []string{"usage:read"}})
	ts.usage(reader, "from=2026-12-01&to=2026-12-01")
}

// Totals equal the sum of the charges, captured holds and ended sessions
// made over HTTP, on their UTC days, per day and per month, and
// stay so across restarts of the server on the same data.
func TestUsageTotalsEqualTheChargesAndCapturesAcrossRestarts(t *testing.T) {
	ts := startServer(t)
	ts.clock.mu.Lock()
	ts.clock.now = time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)
	ts.clock.mu.Unlock()
	m := ts.market("1000000")
	charge := func(amount int) {
		t.Helper()
		expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": strconv.Itoa(amount)}), 201, "", "")
	}
	charge(1000) // November 30: fee 10
	ts.clock.Advance(time.Second)
	charge(2000) // December 1: fee 20
	charge(50)   // fee 0
	// A hold captured in part, and one voided, which counts nothing.
	held := expect(t, ts.do("POST", "/v1/holds", m.key, map[string]any{"to": m.payee, "amount": "5000", "expiresInSeconds": 3600}), 201, "", "")
	expect(t, ts.do("POST", "/v1/holds/"+held["id"].(string)+"/capture", m.key, map[string]string{"amount": "3000"}), 200, "", "") // fee 30
	voided := expect(t, ts.do("POST", "/v1/holds", m.key, map[string]any{"to": m.payee, "amount": "5000", "expiresInSeconds": 3600}), 201, "", "")
	expect(t, ts.do("POST", "/v1/holds/"+voided["id"].(string)+"/void", m.key, nil), 200, "", "")
	// A session live 20 seconds at 5 a second (100, fee 1), and one
	// cancelled, which counts nothing.
	session := expect(t, ts.do("POST", "/v1/sessions", m.key, map[string]any{"to": m.payee, "ratePerSecond": "5", "maxDurationSeconds": 60}), 201, "", "")
	path := "/v1/sessions/" + session["id"].(string)
	expect(t, ts.do("POST", path+"/accept", m.supplierKey, nil), 200, "", "")
	expect(t, ts.do("POST", path+"/start", m.key, nil), 200, "", "")
	ts.clock.Advance(20 * time.Second)
	expect(t, ts.do("POST", path+"/end", m.supplierKey, nil), 200, "", "")
	cancelled := expect(t, ts.do("POST", "/v1/sessions", m.key, map[string]any{"to": m.payee, "ratePerSecond": "5", "maxDurationSeconds": 60}), 201, "", "")
	expect(t, ts.do("POST", "/v1/sessions/"+cancelled["id"].(string)+"/cancel", m.key, nil), 200, "", "")
	ctx := context.Background()
	// A refused charge counts nothing.
	expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "999999999"}), 402, "payment_required", "insufficient_funds")

	wantPayer := []usageJSON{
		{start: "2026-11-30", spentCount: 1, spent: "1000", earned: "0", fees: "10"},
		{start: "2026-12-01", spentCount: 4, spent: "5150", earned: "0", fees: "51"},
	}
	wantPayee := []usageJSON{
		{start: "2026-11-30", earnedCount: 1, earned: "990", spent: "0", fees: "0"},
		{start: "2026-12-01", earnedCount: 4, earned: "5099", spent: "0", fees: "0"},
	}
	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			key  string
			want []usageJSON
		}{{m.key, wantPayer}, {m.supplierKey, wantPayee}} {
			buckets, total := ts.usage(c.key, "from=2026-11-01&to=2026-12-31")
			if fmt.Sprint(buckets) != fmt.Sprint(c.want) {
				t.Fatalf("%s: days = %+v, want %+v", when, buckets, c.want)
			}
			wantTotal := sumUsage(t, "2026-11-01", c.want)
			if total != wantTotal {
				t.Fatalf("%s: total = %+v, want %+v", when, total, wantTotal)
			}
			months, monthTotal := ts.usage(c.key, "from=2026-11-15&to=2026-12-01&granularity=month")
			if len(months) != 2 || months[0].start != "2026-11-01" || months[1].start != "2026-12-01" ||
				fmt.Sprint(months[1]) != fmt.Sprint(usageJSON{start: "2026-12-01", spentCount: c.want[1].spentCount, spent: c.want[1].spent,
					earnedCount: c.want[1].earnedCount, earned: c.want[1].earned, fees: c.want[1].fees}) ||
				monthTotal != sumUsage(t, "2026-11-15", c.want) {
				t.Fatalf("%s: months = %+v total %+v", when, months, monthTotal)
			}
			if only, _ := ts.usage(c.key, "from=2026-12-01&to=2026-12-01"); len(only) != 1 || only[0] != c.want[1] {
				t.Fatalf("%s: December 1 alone = %+v, want %+v", when, only, c.want[1])
			}
		}
	}
	check("before a restart")
	ts.restart()
	check("after a restart")
	ts.clock.Advance(time.Hour)
	charge(100) // fee 1
	wantPayer[1] = usageJSON{start: "2026-12-01", spentCount: 5, spent: "5250", earned: "0", fees: "52"}
	wantPayee[1] = usageJSON{start: "2026-12-01", earnedCount: 5, earned: "5198", spent: "0", fees: "0"}
	check("after a charge after a restart")
	ts.restart()
	check("after a second restart")
	if err := ts.engine.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func sumUsage(t *testing.T, start string, buckets []usageJSON) usageJSON {
	total := usageJSON{start: start}
	var spent, earned, fees uint64
	for _, b := range buckets {
		total.spentCount += b.spentCount
		total.earnedCount += b.earnedCount
		for _, p := range []struct {
			sum *uint64
			s   string
		}{{&spent, b.spent}, {&earned, b.earned}, {&fees, b.fees}} {
			v, err := strconv.ParseUint(p.s, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			*p.sum += v
		}
	}
	total.spent, total.earned, total.fees = strconv.FormatUint(spent, 10), strconv.FormatUint(earned, 10), strconv.FormatUint(fees, 10)
	return total
}
