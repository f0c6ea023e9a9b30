package httpapi

import (
	"context"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func TestEveryRouteIsInTheOpenAPIDocumentAndViceVersa(t *testing.T) {
	ts := startServer(t)
	documented := openAPIOperations(t)
	routed := ts.server.router.List()
	for method, paths := range routed {
		for _, path := range paths {
			// The router's catch-all is an ordinary parameter in OpenAPI.
			path = strings.Replace(path, "{path:*}", "{path}", 1)
			if !slices.Contains(documented[path], method) {
				t.Errorf("route %s %s is not in openapi.json", method, path)
			}
		}
	}
	for path, methods := range documented {
		for _, method := range methods {
			if !slices.Contains(routed[method], strings.Replace(path, "{path}", "{path:*}", 1)) && !slices.Contains(routed[method], path) {
				t.Errorf("openapi.json documents %s %s, which is not routed", method, path)
			}
		}
	}
	served := ts.do("GET", "/openapi.json", "", nil)
	if served.status != 200 || !strings.Contains(string(served.body), `"openapi": "3.1.0"`) && !strings.Contains(string(served.body), `"openapi":"3.1.0"`) {
		t.Fatalf("GET /openapi.json = %d", served.status)
	}
}

func TestHealthStatusConfigAndMetrics(t *testing.T) {
	ts := startServer(t)
	if v := expect(t, ts.do("GET", "/healthz", "", nil), 200, "", ""); v["status"] != "ok" {
		t.Fatalf("healthz = %v", v)
	}
	expect(t, ts.do("GET", "/readyz", "", nil), 200, "", "")
	m := ts.market("50")
	status := expect(t, ts.do("GET", "/v1/status", "", nil), 200, "", "")
	if status["version"] != "test" || status["ready"] != true || status["position"].(float64) < 1 {
		t.Fatalf("status = %v", status)
	}
	config := expect(t, ts.do("GET", "/v1/config", "", nil), 200, "", "")
	assets := config["assets"].([]any)
	if config["chainId"] != float64(ChainIDDefault) || config["settlementAddress"] != nil || config["feeBps"].(float64) != 100 ||
		config["x402BatcherAddress"] != nil ||
		len(assets) != 1 || assets[0].(map[string]any)["symbol"] != "USDC" || assets[0].(map[string]any)["decimals"].(float64) != 6 {
		t.Fatalf("config = %v", config)
	}
	expect(t, ts.do("GET", "/v1/balance", m.key, nil), 200, "", "")
	metrics := ts.do("GET", "/metrics", testAdminToken, nil)
	for _, want := range []string{
		`tollway_http_requests_total{method="GET",route="/v1/balance",status="200"} 1`,
		`tollway_http_request_duration_seconds_bucket{method="GET",route="/v1/balance"`,
		"tollway_log_commits_total", "tollway_account_actors", "tollway_key_actors 1",
	} {
		if !strings.Contains(string(metrics.body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	ts.server.ready.Store(false)
	expect(t, ts.do("GET", "/readyz", "", nil), 503, "api_error", "unavailable")
}

func TestMetricsHaveTheLogCommitHistogramsAfterCharges(t *testing.T) {
	const charges = 3
	ts := startServer(t)
	m := ts.market("100")
	for range charges {
		expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}), 201, "", "")
	}
	body := string(ts.do("GET", "/metrics", testAdminToken, nil).body)
	for _, name := range []string{"tollway_log_commit_duration_seconds", "tollway_log_commit_entries"} {
		if !strings.Contains(body, "# TYPE "+name+" histogram\n") {
			t.Errorf("/metrics lacks the histogram %s", name)
		}
		count, sum, infinite := metricValue(body, name+"_count"), metricValue(body, name+"_sum"), metricValue(body, name+`_bucket{le="+Inf"}`)
		if count < 1 || sum <= 0 || infinite != count {
			t.Errorf("%s: count %v, sum %v, +Inf bucket %v; want a count of at least 1 equal to the +Inf bucket and a positive sum",
				name, count, sum, infinite)
		}
	}
	// Each charge writes one record; the market's setup wrote more.
	if records := metricValue(body, "tollway_log_commit_entries_sum"); records < charges {
		t.Errorf("tollway_log_commit_entries_sum = %v, want at least %d", records, charges)
	}
	if commits := metricValue(body, "tollway_log_commits_total"); commits < metricValue(body, "tollway_log_commit_entries_count") {
		t.Errorf("tollway_log_commits_total = %v, below the commits the histograms count", commits)
	}
	// Every group commit wrote its records to the WAL: at least a record's
	// bytes per commit. Nothing was flushed yet (the memtables hold it all).
	if written, commits := metricValue(body, "tollway_storage_wal_bytes_written_total"), metricValue(body, "tollway_log_commit_entries_count"); written < 32*commits {
		t.Errorf("tollway_storage_wal_bytes_written_total = %v after %v group commits, want at least 32 bytes each", written, commits)
	}
	for _, name := range []string{"tollway_storage_flushed_bytes_total", "tollway_storage_compacted_bytes_total",
		"tollway_storage_flushes_total", "tollway_storage_compactions_total", "tollway_storage_l0_tables"} {
		if v := metricValue(body, name); v != 0 {
			t.Errorf("%s = %v before any flush, want 0", name, v)
		}
	}
	if v := metricValue(body, "tollway_storage_table_bytes"); v < 0 {
		t.Errorf("/metrics lacks tollway_storage_table_bytes")
	}
}

// metricValue returns the value of the sample named series (with its
// labels, as exposed) in a Prometheus text page, -1 if there is none.
func metricValue(page, series string) float64 {
	for line := range strings.Lines(page) {
		if value, ok := strings.CutPrefix(line, series+" "); ok {
			parsed, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return -1
			}
			return parsed
		}
	}
	return -1
}

func TestAccountsBelongToTheirOwner(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.signup("alice@example.com"), ts.signup("bob@example.com")
	wallet := "0x52908400098527886E0F7030069857D2E4169EE7"
	// Not the address alice signed in with (she signed in with an email).
	expect(t, ts.do("POST", "/v1/accounts", alice.access, map[string]string{"name": "main", "environment": "live", "walletAddress": strings.ToLower(wallet)}),
		403, "permission_error", "not_owner")
	v := expect(t, ts.do("POST", "/v1/accounts", alice.access, map[string]string{"name": "main", "environment": "live"}), 201, "", "")
	if v["environment"] != "live" || v["asset"] != "USDC" || v["walletAddress"] != nil || v["balance"].(map[string]any)["available"] != "0" {
		t.Fatalf("account = %v", v)
	}
	id := v["id"].(string)
	ts.credit(id, "25")
	got := expect(t, ts.do("GET", "/v1/accounts/"+id, alice.access, nil), 200, "", "")
	if got["balance"].(map[string]any)["available"] != "25" {
		t.Fatalf("account = %v", got)
	}
	expect(t, ts.do("GET", "/v1/accounts/"+id, bob.access, nil), 404, "not_found_error", "not_found")
	if list := expect(t, ts.do("GET", "/v1/accounts", bob.access, nil), 200, "", ""); len(list["data"].([]any)) != 0 {
		t.Fatalf("bob lists %v", list)
	}
	if list := expect(t, ts.do("GET", "/v1/accounts", alice.access, nil), 200, "", ""); len(list["data"].([]any)) != 1 {
		t.Fatalf("alice lists %v", list)
	}
	for _, body := range []map[string]string{
		{"name": "x", "environment": "prod"}, {"name": "", "environment": "test"}, {"environment": "test"},
		{"name": "x", "environment": "test", "walletAddress": "0x12"},
	} {
		expect(t, ts.do("POST", "/v1/accounts", alice.access, body), 400, "invalid_request_error", "validation_failed")
	}
	expect(t, ts.do("POST", "/v1/accounts", "", map[string]string{"name": "x", "environment": "test"}), 401, "authentication_error", "missing_credentials")
	expect(t, ts.do("POST", "/v1/admin/accounts/"+id+"/credit", alice.access, map[string]string{"amount": "1"}), 401, "authentication_error", "invalid_credentials")
	expect(t, ts.do("POST", "/v1/admin/accounts/acct_none/credit", testAdminToken, map[string]string{"amount": "1"}), 404, "not_found_error", "not_found")
	// An idempotent credit applies once, across restarts.
	expect(t, ts.do("POST", "/v1/admin/accounts/"+id+"/credit", testAdminToken, map[string]string{"amount": "5"}, "Idempotency-Key", "deposit-1"), 200, "", "")
	ts.restart()
	expect(t, ts.do("POST", "/v1/admin/accounts/"+id+"/credit", testAdminToken, map[string]string{"amount": "5"}, "Idempotency-Key", "deposit-1"), 200, "", "")
	expect(t, ts.do("POST", "/v1/admin/accounts/"+id+"/credit", testAdminToken, map[string]string{"amount": "6"}, "Idempotency-Key", "deposit-1"), 409, "conflict_error", "idempotency_key_reused")
	got = expect(t, ts.do("GET", "/v1/accounts/"+id, alice.access, nil), 200, "", "")
	if got["balance"].(map[string]any)["available"] != "30" {
		t.Fatalf("balance after an idempotent credit twice = %v, want 30", got["balance"])
	}
	// Same key, same body: the stored response replays, status and body.
	body := map[string]string{"name": "second", "environment": "test"}
	first := ts.do("POST", "/v1/accounts", alice.access, body, "Idempotency-Key", "make-second")
	again := ts.do("POST", "/v1/accounts", alice.access, body, "Idempotency-Key", "make-second")
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) {
		t.Fatalf("replay = %d %s, want %d %s", again.status, again.body, first.status, first.body)
	}
	expect(t, ts.do("POST", "/v1/accounts", alice.access, map[string]string{"name": "third", "environment": "test"}, "Idempotency-Key", "make-second"),
		409, "conflict_error", "idempotency_key_reused")
}

// A method a route does not have, HEAD and OPTIONS included (the router
// answers neither by itself), is 405 with an Allow that lists only the
// route's methods.
func TestWrongMethodIs405WithTheRoutesMethodsInAllow(t *testing.T) {
	ts := startServer(t)
	for _, c := range []struct{ method, path, allow string }{
		{"OPTIONS", "/v1/charges", "POST"},
		{"HEAD", "/healthz", "GET"},
		{"PUT", "/v1/keys/key_x", "DELETE, GET"},
		{"OPTIONS", "/v1/accounts", "GET, POST"},
	} {
		r := ts.do(c.method, c.path, "", nil)
		if r.status != 405 || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s = %d Allow %q, want 405 Allow %q", c.method, c.path, r.status, r.header.Get("Allow"), c.allow)
		}
		if c.method != "HEAD" {
			expect(t, r, 405, "invalid_request_error", "method_not_allowed")
		}
	}
}

// TestConfigDescribesTheChainInUse: /v1/config publishes the chain's RPC
// URL, contracts and terms when one is attached (nulls otherwise, above).
func TestConfigDescribesTheChainInUse(t *testing.T) {
	chain := &ChainInfo{RPCURL: "http://127.0.0.1:8545", USDC: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
		Pool: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", Relayer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
		FeeRecipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", WithdrawalDelay: 2 * time.Hour, Confirmations: 2,
		X402Batcher: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"}
	ts := startServer(t, func(c *Config) { c.Chain = chain })
	config := expect(t, ts.do("GET", "/v1/config", "", nil), 200, "", "")
	usdc := config["assets"].([]any)[0].(map[string]any)
	if config["rpcUrl"] != chain.RPCURL || config["settlementAddress"] != chain.Pool || config["relayer"] != chain.Relayer ||
		config["feeRecipient"] != chain.FeeRecipient || config["withdrawalDelaySeconds"] != float64(7200) ||
		config["confirmations"] != float64(2) || config["environment"] != "test" || config["x402BatcherAddress"] != chain.X402Batcher ||
		usdc["address"] != chain.USDC || usdc["name"] != "USD Coin" || usdc["version"] != "2" {
		t.Fatalf("config = %v", config)
	}
}

// TestFaucetNeedsTheEmbeddedChain: without one the faucet is 409; its
// requests are checked first (the funded path runs against a real chain
// in cmd/tollway's TestServeRunsTheEmbeddedChain).
func TestFaucetNeedsTheEmbeddedChain(t *testing.T) {
	ts := startServer(t)
	body := map[string]string{"address": "0x52908400098527886E0F7030069857D2E4169EE7"}
	expect(t, ts.do("POST", "/v1/admin/chain/faucet", "", body), 401, "authentication_error", "missing_credentials")
	expect(t, ts.do("POST", "/v1/admin/chain/faucet", testAdminToken, body), 409, "conflict_error", "invalid_state")
	limited := startServer(t, func(c *Config) {
		c.Faucet = func(context.Context, common.Address, *big.Int, *big.Int) ([]common.Hash, error) {
			t.Error("the faucet was called with a request that should be refused")
			return nil, nil
		}
		c.FaucetLimits = FaucetLimits{WeiDefault: big.NewInt(1), WeiMax: big.NewInt(10), USDCDefault: big.NewInt(1), USDCMax: big.NewInt(10)}
	})
	for _, bad := range []map[string]string{
		{"address": "0x12"}, {}, {"address": body["address"], "eth": "11"}, {"address": body["address"], "usdc": "11"},
		{"address": body["address"], "eth": "-1"},
	} {
		expect(t, limited.do("POST", "/v1/admin/chain/faucet", testAdminToken, bad), 400, "invalid_request_error", "validation_failed")
	}
}
