package httpapi

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine/x402metrics"
)

// countX402 writes the delta rows of transitions for owner, as the
// facilitator writes them with its records.
func (ts *testServer) countX402(owner, network string, kind x402metrics.Kind, at time.Time, amounts ...int64) {
	ts.t.Helper()
	for i, amount := range amounts {
		row, ok := x402metrics.DeltaRow(owner, network, fmt.Appendf(nil, "%s/%d/%d/%c", network, at.UnixNano(), i, kind),
			kind, big.NewInt(amount), at)
		if !ok {
			ts.t.Fatalf("DeltaRow(%q) not ok", owner)
		}
		if _, err := ts.engine.WriteRows(context.Background(), row); err != nil {
			ts.t.Fatal(err)
		}
	}
}

// renderX402 prints a report's or summary's networks compactly.
func renderX402(v any) string {
	out := []string{}
	for _, n := range v.([]any) {
		m := n.(map[string]any)
		tally := func(name string) string {
			t := m[name].(map[string]any)
			return fmt.Sprintf("%v/%v", t["count"], t["amount"])
		}
		out = append(out, fmt.Sprintf("%v v%s s%s f%s", m["network"], tally("verified"), tally("settled"), tally("failed")))
	}
	return strings.Join(out, ", ")
}

func renderX402Report(v map[string]any) string {
	out := ""
	for _, b := range v["buckets"].([]any) {
		m := b.(map[string]any)
		out += fmt.Sprintf("%v: %s; ", m["start"], renderX402(m["networks"]))
	}
	total := v["total"].(map[string]any)
	return out + fmt.Sprintf("total %v: %s", total["start"], renderX402(total["networks"]))
}

// TestX402MetricsReportTheOwnersCountsExactly: daily, monthly and summary
// answer exactly the owner's counts (another user's are not there),
// filtered by network, the same after a restart and after compaction.
func TestX402MetricsReportTheOwnersCountsExactly(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.signup("alice@example.com"), ts.signup("bob@example.com")
	nov30 := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	dec1 := time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	ts.countX402(alice.id, "eip155:1", x402metrics.KindVerified, nov30, 100, 200)
	ts.countX402(alice.id, "eip155:1", x402metrics.KindSettled, nov30, 100)
	ts.countX402(alice.id, "eip155:8453", x402metrics.KindVerified, dec1, 5)
	ts.countX402(alice.id, "eip155:8453", x402metrics.KindFailed, dec1, 5)
	ts.countX402(alice.id, "eip155:1", x402metrics.KindVerified, dec1, 1000)
	ts.countX402(bob.id, "eip155:1", x402metrics.KindVerified, dec1, 999)
	for _, c := range []struct{ path, want string }{
		{"/v1/x402-metrics/daily?from=2026-11-30&to=2026-12-01",
			"2026-11-30: eip155:1 v2/300 s1/100 f0/0; 2026-12-01: eip155:1 v1/1000 s0/0 f0/0, eip155:8453 v1/5 s0/0 f1/5; " +
				"total 2026-11-30: eip155:1 v3/1300 s1/100 f0/0, eip155:8453 v1/5 s0/0 f1/5"},
		{"/v1/x402-metrics/daily?from=2026-12-01&to=2026-12-01&network=eip155:8453",
			"2026-12-01: eip155:8453 v1/5 s0/0 f1/5; total 2026-12-01: eip155:8453 v1/5 s0/0 f1/5"},
		{"/v1/x402-metrics/daily?from=2026-12-02&to=2026-12-31", "total 2026-12-02: "},
		{"/v1/x402-metrics/monthly?from=2026-11-01&to=2026-12-31",
			"2026-11-01: eip155:1 v2/300 s1/100 f0/0; 2026-12-01: eip155:1 v1/1000 s0/0 f0/0, eip155:8453 v1/5 s0/0 f1/5; " +
				"total 2026-11-01: eip155:1 v3/1300 s1/100 f0/0, eip155:8453 v1/5 s0/0 f1/5"},
	} {
		check := func(when string) {
			t.Helper()
			v := expect(t, ts.do("GET", c.path, alice.access, nil), 200, "", "")
			if got := renderX402Report(v); got != c.want || v["userId"] != alice.id {
				t.Fatalf("%s: GET %s = %q (%v), want %q", when, c.path, got, v["userId"], c.want)
			}
		}
		check("deltas")
		ts.restart()
		check("after a restart")
		if _, err := ts.server.x402Metrics.Compact(context.Background()); err != nil {
			t.Fatal(err)
		}
		check("compacted")
	}
	summary := func(u user, query string) string {
		v := expect(t, ts.do("GET", "/v1/x402-metrics/summary"+query, u.access, nil), 200, "", "")
		return renderX402(v["networks"])
	}
	if got, want := summary(alice, ""), "eip155:1 v3/1300 s1/100 f0/0, eip155:8453 v1/5 s0/0 f1/5"; got != want {
		t.Fatalf("alice's summary %q, want %q", got, want)
	}
	if got, want := summary(alice, "?network=eip155:1"), "eip155:1 v3/1300 s1/100 f0/0"; got != want {
		t.Fatalf("alice's summary on one network %q, want %q", got, want)
	}
	if got, want := summary(bob, ""), "eip155:1 v1/999 s0/0 f0/0"; got != want {
		t.Fatalf("bob's summary %q, want %q", got, want)
	}
}

func TestX402MetricsRejectBadQueriesAndKeys(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	u := ts.signup("reader@example.com")
	for query, field := range map[string]string{
		"daily?to=2026-12-01":                                "from",
		"daily?from=2026-12-01":                              "to",
		"daily?from=2026-12-02&to=2026-12-01":                "to",
		"monthly?from=2025-11-30&to=2026-12-01":              "to", // 367 days
		"daily?from=2026-12-01&to=2026-12-01&network=base":   "network",
		"daily?from=2026-12-01&to=2026-12-01&network=":       "network",
		"daily?from=2026-12-01&to=2026-12-01&account=acct_x": "account",
		"summary?from=2026-12-01":                            "from",
		"summary?network=eip155:01":                          "network",
		"summary?network=eip155:1&network=eip155:2":          "network",
	} {
		e := expect(t, ts.do("GET", "/v1/x402-metrics/"+query, u.access, nil), 400, "invalid_request_error", "validation_failed")
		if fields, _ := e["fields"].(map[string]any); fields[field] == nil {
			t.Fatalf("GET /v1/x402-metrics/%s = %v, want field %s named", query, e, field)
		}
	}
	for _, path := range []string{"daily?from=2026-12-01&to=2026-12-01", "monthly?from=2026-12-01&to=2026-12-01", "summary"} {
		expect(t, ts.do("GET", "/v1/x402-metrics/"+path, "", nil), 401, "authentication_error", "missing_credentials")
		expect(t, ts.do("GET", "/v1/x402-metrics/"+path, m.key, nil), 401, "authentication_error", "invalid_credentials")
	}
	// 366 days, to inclusive: accepted.
	v := expect(t, ts.do("GET", "/v1/x402-metrics/daily?from=2025-12-01&to=2026-12-01", u.access, nil), 200, "", "")
	if got := renderX402Report(v); got != "total 2025-12-01: " || v["network"] != nil || v["granularity"] != "day" {
		t.Fatalf("an empty report: %q %v", got, v)
	}
}

// TestX402OwnerIsTheKeysOwnerOrThePayTosOwner: a facilitator call counts
// for the owner of the calling key's account; without a key, for the owner
// of the test account bound to payTo; else for nobody.
func TestX402OwnerIsTheKeysOwnerOrThePayTosOwner(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	owner, wallet, _ := ts.siweUser()
	ts.account(owner, "test")
	bound := expect(t, ts.do("POST", "/v1/accounts", owner.access,
		map[string]string{"name": "merchant", "environment": "test", "walletAddress": wallet}), 201, "", "")
	payTo := func(address string) *x402.Request {
		return &x402.Request{V2: &x402.VerifyRequest{PaymentRequirements: x402.PaymentRequirements{PayTo: address, Amount: "1"}}}
	}
	for _, c := range []struct {
		name, principal, payTo, want string
	}{
		{"a key's account", m.payer, wallet, m.consumer.id},
		{"the key wins over payTo", m.payee, wallet, m.supplier.id},
		{"anonymous, payTo bound", principalAnonymous, wallet, owner.id},
		{"anonymous, payTo lower case", principalAnonymous, strings.ToLower(wallet), owner.id},
		{"anonymous, payTo unbound", principalAnonymous, "0x00000000000000000000000000000000000000fe", ""},
		{"anonymous, payTo no address", principalAnonymous, "merchant", ""},
		{"an unknown account", "acct_gone", wallet, ""},
	} {
		if got := ts.server.x402Owner(c.principal, payTo(c.payTo)); got != c.want {
			t.Errorf("%s: x402Owner = %q, want %q", c.name, got, c.want)
		}
	}
	if bound["walletAddress"] != wallet || owner.id == "" {
		t.Fatalf("bound = %v", bound)
	}
}
