package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/tollway/tollway/engine/registry"
)

const (
	testUSDC     = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
	testBaseUSDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
	testPayTo    = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
)

func withChain(c *Config) { c.Chain = &ChainInfo{USDC: testUSDC} }

// registryRows counts the registry's rows in the engine's table.
func (ts *testServer) registryRows() int {
	ts.t.Helper()
	n := 0
	if err := ts.engine.ScanRows([]byte("x402/"), func(_, _ []byte) error { n++; return nil }); err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// jsonOf decodes a response body into a generic value for exact comparison.
func jsonOf(t *testing.T, r response) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response %d is not JSON: %q", r.status, r.body)
	}
	return v
}

func wantJSON(t *testing.T, r response, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(t, r); !reflect.DeepEqual(got, w) {
		t.Fatalf("body = %s\nwant %s", r.body, want)
	}
}

// wantFields checks a validation error names exactly these fields.
func wantFields(t *testing.T, r response, fields ...string) {
	t.Helper()
	e := expect(t, r, 400, "invalid_request_error", "validation_failed")
	got, _ := e["fields"].(map[string]any)
	if len(got) != len(fields) {
		t.Fatalf("fields = %v, want %v", got, fields)
	}
	for _, f := range fields {
		if _, ok := got[f]; !ok {
			t.Fatalf("fields = %v, want %v", got, fields)
		}
	}
}

const chainNetworkJSON = `{"id":"eip155:1337","name":"Local chain 1337","chainId":1337,"caip2":"eip155:1337"}`
const chainUSDCJSON = `{"network":"eip155:1337","address":"` + testUSDC + `","symbol":"USDC","name":"USD Coin","decimals":6,"eip712":{"name":"USD Coin","version":"2"}}`

func TestTheChainInUseAndItsUSDCAreRegisteredAtStartOnce(t *testing.T) {
	ts := startServer(t, withChain)
	wantJSON(t, ts.do("GET", "/v1/networks", "", nil), 200, `{"data":[`+chainNetworkJSON+`]}`)
	wantJSON(t, ts.do("GET", "/v1/networks/eip155:1337", "", nil), 200, chainNetworkJSON)
	wantJSON(t, ts.do("GET", "/v1/networks/eip155%3A1337", "", nil), 200, chainNetworkJSON)
	wantJSON(t, ts.do("GET", "/v1/assets", "", nil), 200, `{"data":[`+chainUSDCJSON+`]}`)
	if n := ts.registryRows(); n != 2 {
		t.Fatalf("registry rows = %d, want 2", n)
	}
	// An admin's change survives restarts: the start does not write again.
	renamed := strings.Replace(chainUSDCJSON, `"name":"USD Coin","decimals"`, `"name":"Test USD","decimals"`, 1)
	body := map[string]any{"network": "eip155:1337", "address": strings.ToLower(testUSDC), "symbol": "USDC",
		"name": "Test USD", "decimals": 6, "eip712": map[string]string{"name": "USD Coin", "version": "2"}}
	wantJSON(t, ts.do("POST", "/v1/admin/assets", testAdminToken, body), 200, renamed)
	for range 2 {
		ts.restart(withChain)
		wantJSON(t, ts.do("GET", "/v1/networks", "", nil), 200, `{"data":[`+chainNetworkJSON+`]}`)
		wantJSON(t, ts.do("GET", "/v1/assets", "", nil), 200, `{"data":[`+renamed+`]}`)
		if n := ts.registryRows(); n != 2 {
			t.Fatalf("registry rows after a restart = %d, want 2", n)
		}
	}
}

func TestWithoutAChainNoNetworkIsRegistered(t *testing.T) {
	ts := startServer(t)
	wantJSON(t, ts.do("GET", "/v1/networks", "", nil), 200, `{"data":[]}`)
	wantJSON(t, ts.do("GET", "/v1/assets", "", nil), 200, `{"data":[]}`)
	expect(t, ts.do("GET", "/v1/networks/eip155:1337", "", nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/networks/solana:mainnet", "", nil), 404, "not_found_error", "not_found")
}

func TestAdminAssetsCreateOrUpdateAndRegisterTheirNetwork(t *testing.T) {
	ts := startServer(t, withChain)
	base := map[string]any{"network": "eip155:8453", "address": strings.ToLower(testBaseUSDC), "symbol": "USDC",
		"name": "USD Coin", "decimals": 6}
	expect(t, ts.do("POST", "/v1/admin/assets", "", base), 401, "authentication_error", "missing_credentials")
	expect(t, ts.do("POST", "/v1/admin/assets", "adm_wrong", base), 401, "authentication_error", "invalid_credentials")
	u := ts.signup("not-admin@example.com")
	expect(t, ts.do("POST", "/v1/admin/assets", u.access, base), 401, "authentication_error", "invalid_credentials")

	baseJSON := `{"network":"eip155:8453","address":"` + testBaseUSDC + `","symbol":"USDC","name":"USD Coin","decimals":6,"eip712":null}`
	wantJSON(t, ts.do("POST", "/v1/admin/assets", testAdminToken, base), 201, baseJSON)
	wantJSON(t, ts.do("GET", "/v1/networks/eip155:8453", "", nil), 200, `{"id":"eip155:8453","name":"Base","chainId":8453,"caip2":"eip155:8453"}`)
	wantJSON(t, ts.do("POST", "/v1/admin/assets", testAdminToken, base), 200, baseJSON)
	base["decimals"], base["eip712"] = 18, map[string]string{"name": "USDC", "version": "2"}
	updated := strings.Replace(baseJSON, `"decimals":6,"eip712":null`, `"decimals":18,"eip712":{"name":"USDC","version":"2"}`, 1)
	wantJSON(t, ts.do("POST", "/v1/admin/assets", testAdminToken, base), 200, updated)
	wantJSON(t, ts.do("GET", "/v1/assets?network=eip155:8453", "", nil), 200, `{"data":[`+updated+`]}`)
	wantJSON(t, ts.do("GET", "/v1/assets", "", nil), 200, `{"data":[`+chainUSDCJSON+`,`+updated+`]}`)
	wantJSON(t, ts.do("GET", "/v1/assets?network=eip155:10", "", nil), 200, `{"data":[]}`)
	wantFields(t, ts.do("GET", "/v1/assets?network=base", "", nil), "network")
	wantJSON(t, ts.do("GET", "/v1/networks", "", nil), 200, `{"data":[`+chainNetworkJSON+
		`,{"id":"eip155:8453","name":"Base","chainId":8453,"caip2":"eip155:8453"}]}`)

	with := func(field string, value any) map[string]any {
		body := map[string]any{"network": "eip155:10", "address": testBaseUSDC, "symbol": "USDC", "name": "USD Coin", "decimals": 6}
		if value == nil {
			delete(body, field)
		} else {
			body[field] = value
		}
		return body
	}
	for _, c := range []struct {
		body  any
		field string
	}{
		{with("network", "eip155:0"), "network"},
		{with("network", "eip155:01"), "network"},
		{with("network", "eip155:18446744073709551616"), "network"},
		{with("network", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"), "network"},
		{with("network", nil), "network"},
		{with("address", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA0291"), "address"},
		{with("address", "833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"), "address"},
		{with("decimals", 37), "decimals"},
		{with("decimals", -1), "decimals"},
		{with("decimals", "6"), "decimals"},
		{with("symbol", ""), "symbol"},
		{with("symbol", strings.Repeat("S", 17)), "symbol"},
		{with("name", strings.Repeat("n", 65)), "name"},
		{with("name", " padded"), "name"},
		{with("eip712", map[string]string{"name": "USD Coin"}), "eip712.version"},
		{with("eip712", "2"), "eip712"},
		{with("chainId", 10), "chainId"},
	} {
		wantFields(t, ts.do("POST", "/v1/admin/assets", testAdminToken, c.body), c.field)
	}
	expect(t, ts.do("POST", "/v1/admin/assets", testAdminToken, `{"network":`), 400, "invalid_request_error", "malformed_json")
	wantJSON(t, ts.do("GET", "/v1/assets?network=eip155:10", "", nil), 200, `{"data":[]}`)
	expect(t, ts.do("GET", "/v1/networks/eip155:10", "", nil), 404, "not_found_error", "not_found")

	// A network holds at most AssetsPerNetworkMax assets.
	for i := 1; i < registry.AssetsPerNetworkMax; i++ {
		body := with("address", fmt.Sprintf("0x%040x", i))
		body["network"] = "eip155:8453"
		expect(t, ts.do("POST", "/v1/admin/assets", testAdminToken, body), 201, "", "")
	}
	body := with("address", fmt.Sprintf("0x%040x", registry.AssetsPerNetworkMax))
	body["network"] = "eip155:8453"
	expect(t, ts.do("POST", "/v1/admin/assets", testAdminToken, body), 409, "conflict_error", "limit_exceeded")
	expect(t, ts.do("POST", "/v1/admin/assets", testAdminToken, base), 200, "", "")

	ts.restart(withChain)
	wantJSON(t, ts.do("GET", "/v1/networks/eip155:8453", "", nil), 200, `{"id":"eip155:8453","name":"Base","chainId":8453,"caip2":"eip155:8453"}`)
	if got := len(jsonOf(t, ts.do("GET", "/v1/assets?network=eip155:8453", "", nil)).(map[string]any)["data"].([]any)); got != registry.AssetsPerNetworkMax {
		t.Fatalf("assets after a restart = %d, want %d", got, registry.AssetsPerNetworkMax)
	}
}

// requirement is a valid PaymentRequirements on the test chain.
func requirement() map[string]any {
	return map[string]any{"scheme": "exact", "network": "eip155:1337", "amount": "10000",
		"asset": strings.ToLower(testUSDC), "payTo": strings.ToLower(testPayTo), "maxTimeoutSeconds": 60}
}

func TestResourcesBelongToTheirOwnerAndSurviveARestart(t *testing.T) {
	ts := startServer(t, withChain)
	ada, bob := ts.signup("ada@example.com"), ts.signup("bob@example.com")
	extra := requirement()
	extra["extra"] = map[string]any{"name": "USD Coin", "version": "2"}
	body := map[string]any{"url": "https://api.example.com/weather", "description": "Weather", "mimeType": "application/json",
		"accepts": []any{requirement(), extra}}
	expect(t, ts.do("POST", "/v1/resources", "", body), 401, "authentication_error", "missing_credentials")
	expect(t, ts.do("POST", "/v1/resources", testAdminToken, body), 401, "authentication_error", "invalid_credentials")
	created := expect(t, ts.do("POST", "/v1/resources", ada.access, body), 201, "", "")
	id, _ := created["id"].(string)
	now := timeJSON(ts.clock.Now())
	accept := `{"scheme":"exact","network":"eip155:1337","amount":"10000","asset":"` + testUSDC + `","payTo":"` + testPayTo + `","maxTimeoutSeconds":60}`
	acceptExtra := strings.TrimSuffix(accept, "}") + `,"extra":{"name":"USD Coin","version":"2"}}`
	resourceJSON := func(url, description, mimeType, accepts, updatedAt string) string {
		return `{"id":"` + id + `","owner":"` + ada.id + `","url":"` + url + `","description":"` + description + `","mimeType":"` + mimeType +
			`","accepts":[` + accepts + `],"createdAt":"` + now + `","updatedAt":"` + updatedAt + `"}`
	}
	first := resourceJSON("https://api.example.com/weather", "Weather", "application/json", accept+","+acceptExtra, now)
	if !strings.HasPrefix(id, "res_") {
		t.Fatalf("id = %q, want res_…", id)
	}
	wantJSON(t, ts.do("GET", "/v1/resources", ada.access, nil), 200, `{"data":[`+first+`],"hasMore":false,"nextStartingAfter":null}`)
	wantJSON(t, ts.do("GET", "/v1/resources", bob.access, nil), 200, `{"data":[],"hasMore":false,"nextStartingAfter":null}`)

	// PUT replaces; another owner's, or an unknown id, is not found.
	expect(t, ts.do("PUT", "/v1/resources/"+id, bob.access, body), 404, "not_found_error", "not_found")
	expect(t, ts.do("PUT", "/v1/resources/res_nosuchresource", ada.access, body), 404, "not_found_error", "not_found")
	ts.clock.Advance(90_000_000_000)
	later := timeJSON(ts.clock.Now())
	replaced := resourceJSON("http://localhost:8080/paid", "", "", accept, later)
	wantJSON(t, ts.do("PUT", "/v1/resources/"+id, ada.access, map[string]any{"url": "http://localhost:8080/paid", "accepts": []any{requirement()}}), 200, replaced)
	wantFields(t, ts.do("PUT", "/v1/resources/"+id, ada.access, map[string]any{"url": "http://localhost:8080/paid", "accepts": []any{}}), "accepts")

	// Pages of one, in creation order.
	second := expect(t, ts.do("POST", "/v1/resources", ada.access, body), 201, "", "")["id"].(string)
	page := jsonOf(t, ts.do("GET", "/v1/resources?limit=1", ada.access, nil)).(map[string]any)
	if page["hasMore"] != true || page["nextStartingAfter"] != id || len(page["data"].([]any)) != 1 {
		t.Fatalf("first page = %v", page)
	}
	page = jsonOf(t, ts.do("GET", "/v1/resources?limit=1&startingAfter="+id, ada.access, nil)).(map[string]any)
	if page["hasMore"] != false || page["nextStartingAfter"] != nil || page["data"].([]any)[0].(map[string]any)["id"] != second {
		t.Fatalf("second page = %v", page)
	}
	wantFields(t, ts.do("GET", "/v1/resources?startingAfter="+id, bob.access, nil), "startingAfter")
	wantFields(t, ts.do("GET", "/v1/resources?startingAfter=sess_x&limit=0", ada.access, nil), "startingAfter", "limit")
	wantFields(t, ts.do("GET", "/v1/resources?limit=101", ada.access, nil), "limit")
	expect(t, ts.do("GET", "/v1/resources", "", nil), 401, "authentication_error", "missing_credentials")

	ts.restart(withChain)
	page = jsonOf(t, ts.do("GET", "/v1/resources", ada.access, nil)).(map[string]any)
	data := page["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["id"] != id || data[1].(map[string]any)["id"] != second {
		t.Fatalf("after a restart = %v", page)
	}
	got, _ := json.Marshal(data[0])
	var want, have any
	json.Unmarshal([]byte(replaced), &want)
	json.Unmarshal(got, &have)
	if !reflect.DeepEqual(want, have) {
		t.Fatalf("after a restart = %s, want %s", got, replaced)
	}
}

func TestResourceRequirementsAreCheckedStrictly(t *testing.T) {
	ts := startServer(t, withChain)
	u := ts.signup("strict@example.com")
	// A network registered without this asset.
	expect(t, ts.do("POST", "/v1/admin/assets", testAdminToken, map[string]any{"network": "eip155:8453",
		"address": testBaseUSDC, "symbol": "USDC", "name": "USD Coin", "decimals": 6}), 201, "", "")
	uint256Max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	with := func(field string, value any) map[string]any {
		q := requirement()
		if value == nil {
			delete(q, field)
		} else {
			q[field] = value
		}
		return map[string]any{"url": "https://example.com/x", "accepts": []any{q}}
	}
	expect(t, ts.do("POST", "/v1/resources", u.access, with("amount", uint256Max.String())), 201, "", "")
	expect(t, ts.do("POST", "/v1/resources", u.access, with("maxTimeoutSeconds", 3600)), 201, "", "")
	bigExtra := map[string]any{"pad": strings.Repeat("x", registry.ExtraBytesMax)}
	tooMany := make([]any, registry.AcceptsMax+1)
	for i := range tooMany {
		tooMany[i] = requirement()
	}
	for _, c := range []struct {
		body   any
		fields []string
	}{
		{with("scheme", "upto"), []string{"accepts[0].scheme"}},
		{with("scheme", nil), []string{"accepts[0].scheme"}},
		{with("network", "eip155:10"), []string{"accepts[0].network"}},
		{with("network", "base"), []string{"accepts[0].network"}},
		{with("network", "eip155:8453"), []string{"accepts[0].asset"}},
		{with("asset", testBaseUSDC), []string{"accepts[0].asset"}},
		{with("asset", "0x1234"), []string{"accepts[0].asset"}},
		{with("amount", "0"), []string{"accepts[0].amount"}},
		{with("amount", "010"), []string{"accepts[0].amount"}},
		{with("amount", "-1"), []string{"accepts[0].amount"}},
		{with("amount", "1.5"), []string{"accepts[0].amount"}},
		{with("amount", 10000), []string{"accepts[0].amount"}},
		{with("amount", new(big.Int).Add(uint256Max, big.NewInt(1)).String()), []string{"accepts[0].amount"}},
		{with("payTo", "0xnope"), []string{"accepts[0].payTo"}},
		{with("maxTimeoutSeconds", 0), []string{"accepts[0].maxTimeoutSeconds"}},
		{with("maxTimeoutSeconds", 3601), []string{"accepts[0].maxTimeoutSeconds"}},
		{with("maxTimeoutSeconds", 1.5), []string{"accepts[0].maxTimeoutSeconds"}},
		{with("extra", "x"), []string{"accepts[0].extra"}},
		{with("extra", []any{}), []string{"accepts[0].extra"}},
		{with("extra", bigExtra), []string{"accepts[0].extra"}},
		{with("maxAmountRequired", "1"), []string{"accepts[0].maxAmountRequired"}},
		{map[string]any{"url": "ftp://example.com/x", "accepts": []any{requirement()}}, []string{"url"}},
		{map[string]any{"url": "/relative", "accepts": []any{requirement()}}, []string{"url"}},
		{map[string]any{"url": "https://user:pw@example.com/", "accepts": []any{requirement()}}, []string{"url"}},
		{map[string]any{"url": "https://example.com/" + strings.Repeat("a", registry.URLBytesMax), "accepts": []any{requirement()}}, []string{"url"}},
		{map[string]any{"accepts": []any{requirement()}}, []string{"url"}},
		{map[string]any{"url": "https://example.com/x"}, []string{"accepts"}},
		{map[string]any{"url": "https://example.com/x", "accepts": tooMany}, []string{"accepts"}},
		{map[string]any{"url": "https://example.com/x", "accepts": []any{"exact"}}, []string{"accepts[0]"}},
		{map[string]any{"url": "https://example.com/x", "description": strings.Repeat("d", registry.DescriptionBytesMax+1), "accepts": []any{requirement()}}, []string{"description"}},
		{map[string]any{"url": "https://example.com/x", "mimeType": "text/plain; charset=utf-8", "accepts": []any{requirement()}}, []string{"mimeType"}},
		{map[string]any{"url": "https://example.com/x", "owner": "usr_x", "accepts": []any{requirement()}}, []string{"owner"}},
	} {
		wantFields(t, ts.do("POST", "/v1/resources", u.access, c.body), c.fields...)
	}
	expect(t, ts.do("POST", "/v1/resources", u.access, `[]`), 400, "invalid_request_error", "malformed_json")
	if got := len(jsonOf(t, ts.do("GET", "/v1/resources", u.access, nil)).(map[string]any)["data"].([]any)); got != 2 {
		t.Fatalf("resources = %d, want the 2 valid ones", got)
	}
}

// TestRegisterChainIsIdempotent: the start's registration writes once.
func TestRegisterChainIsIdempotent(t *testing.T) {
	ts := startServer(t, withChain)
	config := Config{ChainID: 1337, Chain: &ChainInfo{USDC: testUSDC}}
	before := ts.engine.Position()
	if err := registerChain(context.Background(), ts.server.registry, &config); err != nil {
		t.Fatal(err)
	}
	if after := ts.engine.Position(); after != before {
		t.Fatalf("position = %d after registering the chain again, want %d (no write)", after, before)
	}
	config.Chain.USDC = "0xnot"
	if err := registerChain(context.Background(), ts.server.registry, &config); err == nil {
		t.Fatal("registerChain accepted a USDC address that is not one")
	}
}
