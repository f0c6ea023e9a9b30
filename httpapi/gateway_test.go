package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/httpapi/gateway"
	"github.com/tollway/tollway/httpapi/signature"
)

// upstream is a supplier's API started by a test on 127.0.0.1: it records
// what reached it and answers by path.
type upstream struct {
	t       *testing.T
	server  *httptest.Server
	secret  atomic.Pointer[string] // the route's, once registered
	hits    atomic.Int64
	mu      sync.Mutex
	seen    []seenRequest
	release chan struct{} // closed at the end: frees /slow and /drip
}

type seenRequest struct {
	method, path, query, body string
	header                    http.Header
	signatureErr              error
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{t: t, release: make(chan struct{})}
	u.server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(func() { close(u.release); u.server.Close() })
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	var secret []byte
	if s := u.secret.Load(); s != nil {
		secret = []byte(*s)
	}
	body, err := signature.VerifyRequest(r, secret, signature.DefaultTolerance)
	if errors.Is(err, signature.ErrNoSignature) || errors.Is(err, signature.ErrMismatch) || errors.Is(err, signature.ErrMalformed) || err == nil {
		if body == nil {
			body, _ = io.ReadAll(r.Body)
		}
	}
	u.mu.Lock()
	u.seen = append(u.seen, seenRequest{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, body: string(body), header: r.Header.Clone(), signatureErr: err})
	u.mu.Unlock()
	switch r.URL.Path {
	case "/api/empty":
		w.WriteHeader(http.StatusNoContent)
	case "/api/fail":
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"upstream broke"}`)
	case "/api/slow":
		select {
		case <-r.Context().Done():
		case <-u.release:
		}
	case "/api/big": // 100 MB in 64 KiB pieces
		piece := make([]byte, 64<<10)
		for i := range piece {
			piece[i] = byte('a' + i%26)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		for sent := 0; sent < 100<<20; sent += len(piece) {
			if _, err := w.Write(piece); err != nil {
				return
			}
		}
	case "/api/drip": // 64 KiB, then more once released, until the write fails
		piece := make([]byte, 64<<10)
		w.Write(piece)
		w.(http.Flusher).Flush()
		<-u.release
		for i := 0; i < 1600; i++ { // 100 MB at most
			if _, err := w.Write(piece); err != nil {
				return
			}
		}
	default:
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s %s?%s %s", r.Method, r.URL.Path, r.URL.RawQuery, body)
	}
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// gatewayFixture is a server that lets upstreams be on 127.0.0.1, a market
// (consumer funded with funds, supplier) and a route "weather" of the
// supplier at price 1500 to an upstream.
type gatewayFixture struct {
	ts       *testServer
	m        market
	upstream *upstream
	secret   string
	gwKey    string // the consumer's key with gateway:call only
}

const gatewayPrice = 1500

func startGateway(t *testing.T, funds string, timeoutMs int) *gatewayFixture {
	ts := startServer(t, func(c *Config) { c.AllowPrivateTargets = true })
	f := &gatewayFixture{ts: ts, m: ts.market(funds), upstream: startUpstream(t)}
	_, f.gwKey = ts.key(f.m.consumer, f.m.payer, map[string]any{"scopes": []string{"gateway:call"}})
	body := map[string]any{
		"slug": "weather", "accountId": f.m.payee, "upstream": f.upstream.server.URL + "/api",
		"pricePerCall": strconv.Itoa(gatewayPrice),
	}
	if timeoutMs != 0 {
		body["timeoutMs"] = timeoutMs
	}
	v := expect(t, ts.do("POST", "/v1/routes", f.m.supplier.access, body), 201, "", "")
	f.secret = v["secret"].(string)
	f.upstream.secret.Store(&f.secret)
	return f
}

// call sends a gateway call with the consumer's key, outside the OpenAPI
// conformance check (the answer is the upstream's).
func (f *gatewayFixture) call(method, path, body string, headers ...string) response {
	f.ts.t.Helper()
	request, err := http.NewRequest(method, f.ts.url+path, strings.NewReader(body))
	if err != nil {
		f.ts.t.Fatal(err)
	}
	request.Header.Set("Authorization", "Bearer "+f.gwKey)
	for i := 0; i+1 < len(headers); i += 2 {
		request.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(request)
	if err != nil {
		f.ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// settled waits until no call's hold is open: the gateway settles a call
// after its answer is written, without the client waiting for it.
func (f *gatewayFixture) settled() {
	f.ts.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := expect(f.ts.t, f.ts.do("GET", "/v1/balance", f.m.key, nil), 200, "", "")
		if v["reserved"] == "0" {
			return
		}
		if time.Now().After(deadline) {
			f.ts.t.Fatalf("balance = %v: a call's hold is still open after 10 s", v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantBalances checks the consumer's and the supplier's available balances
// and that nothing is left reserved.
func (f *gatewayFixture) wantBalances(consumer, supplier string) {
	f.ts.t.Helper()
	f.settled()
	f.ts.wantBalance(f.m.key, consumer, "0")
	f.ts.wantBalance(f.m.supplierKey, supplier, "0")
	f.ts.verify()
}

func TestGatewayChargesASuccessfulCallOnceAndForwardsItSigned(t *testing.T) {
	f := startGateway(t, "10000", 0)
	r := f.call("POST", "/gw/weather/forecast/today?city=Oslo&days=2", `{"q":1}`,
		"X-Custom", "kept", "Tollway-Charge-Id", "hold_forged", "Tollway-Signature", "t=1,v1=00", "Connection", "X-Hop", "X-Hop", "dropped")
	if r.status != 200 || string(r.body) != `hello POST /api/forecast/today?city=Oslo&days=2 {"q":1}` || r.header.Get("X-Upstream") != "yes" {
		t.Fatalf("call = %d %q %v", r.status, r.body, r.header)
	}
	chargeID := r.header.Get(gateway.HeaderChargeID)
	// 1500 paid; the supplier gets it less the 1% fee.
	f.wantBalances("8500", "1485")
	seen := f.upstream.requests()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	s := seen[0]
	if s.signatureErr != nil {
		t.Errorf("the upstream's signature check: %v", s.signatureErr)
	}
	if s.header.Get("Authorization") != "" || s.header.Get("X-Hop") != "" || s.header.Get("X-Custom") != "kept" {
		t.Errorf("upstream headers %v: want no Authorization, no X-Hop, X-Custom kept", s.header)
	}
	if s.header.Get("X-Forwarded-For") != "127.0.0.1" || s.header.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("upstream headers %v: want X-Forwarded-For 127.0.0.1 (the test's address) and X-Forwarded-Proto http", s.header)
	}
	if got := s.header.Values(gateway.HeaderChargeID); len(got) != 1 || got[0] != chargeID || !strings.HasPrefix(chargeID, "hold_") {
		t.Errorf("upstream's Tollway-Charge-Id %v, the answer's %q: want one hold id, the same", got, chargeID)
	}
	if strings.Contains(fmt.Sprint(s.header), f.gwKey) {
		t.Errorf("the consumer's key reached the upstream: %v", s.header)
	}
	f.settled()
	hold := expect(t, f.ts.do("GET", "/v1/holds/"+chargeID, f.m.key, nil), 200, "", "")
	wantHold(t, hold, "CAPTURED", "1500", "1500", "15", "1485")
}

func TestGatewayForwardsOnlyUnderTheUpstreamsPath(t *testing.T) {
	f := startGateway(t, "10000", 0)
	// net/http will not send a bad escape: write the request by hand.
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /gw/weather/a%%zz HTTP/1.1\r\nHost: tollway\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", f.gwKey)
	bad, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(bad.Body)
	conn.Close()
	expect(t, response{status: bad.StatusCode, header: bad.Header, body: body}, 400, typeInvalidRequest, "invalid_path")
	for _, path := range []string{"/gw/weather/x/%2e%2e/%2e%2e/admin", "/gw/weather/x/%2E%2E%2F%2e%2e%2Fadmin", "/gw/weather/b%20c/%3Fd/"} {
		if r := f.call("GET", path, ""); r.status != 200 {
			t.Fatalf("%s = %d %s", path, r.status, r.body)
		}
	}
	seen := f.upstream.requests()
	if len(seen) != 3 || seen[0].path != "/api/admin" || seen[1].path != "/api/admin" || seen[2].path != "/api/b c/?d/" || seen[2].query != "" {
		t.Fatalf("upstream saw %+v, want /api/admin twice, then /api/b c/?d/ without a query", seen)
	}
	f.wantBalances("5500", "4455")
}

func TestGatewayChargesAnswersWithoutABody(t *testing.T) {
	f := startGateway(t, "10000", 0)
	if r := f.call("HEAD", "/gw/weather/ok", ""); r.status != 200 || len(r.body) != 0 || r.header.Get("X-Upstream") != "yes" {
		t.Fatalf("HEAD = %d %q %v", r.status, r.body, r.header)
	}
	if r := f.call("DELETE", "/gw/weather/empty", ""); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("DELETE answered 204 = %d %q", r.status, r.body)
	}
	if seen := f.upstream.requests(); len(seen) != 2 || seen[0].method != "HEAD" || seen[1].method != "DELETE" {
		t.Fatalf("upstream saw %v, want HEAD then DELETE", seen)
	}
	f.wantBalances("7000", "2970")
}

func TestGatewayChargesNothingForAFailedCall(t *testing.T) {
	f := startGateway(t, "10000", 200)
	r := f.call("GET", "/gw/weather/fail", "")
	if r.status != 500 || string(r.body) != `{"error":"upstream broke"}` {
		t.Fatalf("upstream 500: %d %q", r.status, r.body)
	}
	f.settled()
	hold := expect(t, f.ts.do("GET", "/v1/holds/"+r.header.Get(gateway.HeaderChargeID), f.m.key, nil), 200, "", "")
	if hold["state"] != "VOIDED" {
		t.Fatalf("hold of an upstream 500 = %v, want VOIDED", hold)
	}
	expect(t, f.call("GET", "/gw/weather/slow", ""), 504, typeAPI, "upstream_timeout")

	// Connection refused: a route to a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	expect(t, f.ts.do("POST", "/v1/routes", f.m.supplier.access, map[string]any{
		"slug": "closed", "accountId": f.m.payee, "upstream": "http://" + closed, "pricePerCall": "1500",
	}), 201, "", "")
	expect(t, f.call("GET", "/gw/closed/x", ""), 502, typeAPI, "upstream_unavailable")
	f.wantBalances("10000", "0")
}

func TestGatewayWithoutFundsIs402AndForwardsNothing(t *testing.T) {
	f := startGateway(t, "1499", 0)
	expect(t, f.call("GET", "/gw/weather/ok", ""), 402, typePayment, "insufficient_funds")
	if n := f.upstream.hits.Load(); n != 0 {
		t.Fatalf("the upstream saw %d requests, want none", n)
	}
	f.wantBalances("1499", "0")
}

func TestGatewayRefusesABodyOverTheLimitBeforeHoldingAnything(t *testing.T) {
	f := startGateway(t, "10000", 0)
	r := f.call("POST", "/gw/weather/ok", strings.Repeat("x", RouteBodyBytesMax+1))
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("a body of %d bytes = %d %s, want a 4xx", RouteBodyBytesMax+1, r.status, r.body)
	}
	if n := f.upstream.hits.Load(); n != 0 {
		t.Fatalf("the upstream saw %d requests, want none", n)
	}
	if r := f.call("POST", "/gw/weather/ok", strings.Repeat("x", RouteBodyBytesMax)); r.status != 200 || len(r.body) != len("hello POST /api/ok? ")+RouteBodyBytesMax {
		t.Fatalf("a body of exactly %d bytes = %d, %d bytes back", RouteBodyBytesMax, r.status, len(r.body))
	}
	f.wantBalances("8500", "1485")
}

func TestGatewayRefusesKeysWithoutTheScopeUnknownRoutesAndOtherMethods(t *testing.T) {
	f := startGateway(t, "10000", 0)
	_, chargesKey := f.ts.key(f.m.consumer, f.m.payer, map[string]any{"scopes": []string{"charges:write"}})
	f.gwKey, chargesKey = chargesKey, f.gwKey
	expect(t, f.call("GET", "/gw/weather/ok", ""), 403, typePermission, "missing_scope")
	f.gwKey = chargesKey
	expect(t, f.call("GET", "/gw/nosuch/ok", ""), 404, typeNotFound, "not_found")
	expect(t, f.ts.do("PUT", "/v1/routes/weather", f.m.supplier.access, map[string]any{
		"accountId": f.m.payee, "upstream": f.upstream.server.URL + "/api", "pricePerCall": "1500", "methods": []string{"GET"},
	}), 200, "", "")
	expect(t, f.call("POST", "/gw/weather/ok", "{}"), 405, typeInvalidRequest, "method_not_allowed")
	if n := f.upstream.hits.Load(); n != 0 {
		t.Fatalf("the upstream saw %d requests, want none", n)
	}
	f.wantBalances("10000", "0")
}

func TestGatewayRoutesBelongToTheirOwnerAndSurviveARestart(t *testing.T) {
	f := startGateway(t, "10000", 0)
	other := f.ts.signup("other@example.com")
	expect(t, f.ts.do("GET", "/v1/routes/weather", other.access, nil), 404, typeNotFound, "not_found")
	expect(t, f.ts.do("DELETE", "/v1/routes/weather", other.access, nil), 404, typeNotFound, "not_found")
	e := expect(t, f.ts.do("POST", "/v1/routes", other.access, map[string]any{
		"slug": "theirs", "accountId": f.m.payee, "upstream": "http://127.0.0.1:1", "pricePerCall": "1",
	}), 400, typeInvalidRequest, "validation_failed")
	if e["fields"].(map[string]any)["accountId"] == nil {
		t.Fatalf("a route on another user's account: %v, want an accountId field error", e)
	}
	expect(t, f.ts.do("POST", "/v1/routes", f.m.supplier.access, map[string]any{
		"slug": "weather", "accountId": f.m.payee, "upstream": "http://127.0.0.1:1", "pricePerCall": "1",
	}), 409, typeConflict, "already_exists")
	f.ts.restart(func(c *Config) { c.AllowPrivateTargets = true })
	v := expect(t, f.ts.do("GET", "/v1/routes", f.m.supplier.access, nil), 200, "", "")
	data := v["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["slug"] != "weather" || data[0].(map[string]any)["secret"] != nil {
		t.Fatalf("routes after a restart = %v, want weather without its secret", v)
	}
	if r := f.call("GET", "/gw/weather/ok", ""); r.status != 200 {
		t.Fatalf("call after a restart = %d %s", r.status, r.body)
	}
	if err := f.upstream.requests()[0].signatureErr; err != nil {
		t.Fatalf("signature after a restart: %v", err)
	}
	f.wantBalances("8500", "1485")
	expect(t, f.ts.do("DELETE", "/v1/routes/weather", f.m.supplier.access, nil), 204, "", "")
	expect(t, f.call("GET", "/gw/weather/ok", ""), 404, typeNotFound, "not_found")
}

func TestGatewayRefusesAPrivateUpstreamWithoutAllowPrivateTargets(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1")
	for _, upstream := range []string{"http://127.0.0.1:8080", "http://10.1.2.3", "http://[::1]:80", "http://169.254.169.254", "http://localhost:9"} {
		e := expect(t, ts.do("POST", "/v1/routes", m.supplier.access, map[string]any{
			"slug": "private", "accountId": m.payee, "upstream": upstream, "pricePerCall": "1",
		}), 400, typeInvalidRequest, "validation_failed")
		if fields := e["fields"].(map[string]any); len(fields) != 1 || fields["upstream"] == nil {
			t.Errorf("upstream %s: %v, want exactly an upstream field error", upstream, e)
		}
	}
}

func TestGatewayConcurrentCallsChargeExactlyTheSuccessfulOnes(t *testing.T) {
	const calls, affordable = 256, 200
	f := startGateway(t, strconv.Itoa(affordable*gatewayPrice), 0)
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			request, _ := http.NewRequest("GET", f.ts.url+"/gw/weather/ok?i="+strconv.Itoa(i), nil)
			request.Header.Set("Authorization", "Bearer "+f.gwKey)
			resp, err := client.Do(request)
			if err != nil {
				other.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 402:
				refused.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != affordable || refused.Load() != calls-affordable || other.Load() != 0 {
		t.Fatalf("%d ok, %d refused, %d other; want %d, %d, 0", ok.Load(), refused.Load(), other.Load(), affordable, calls-affordable)
	}
	if n := f.upstream.hits.Load(); n != affordable {
		t.Fatalf("the upstream saw %d calls, want %d", n, affordable)
	}
	f.wantBalances("0", strconv.Itoa(affordable*(gatewayPrice-gatewayPrice/100)))
}

func TestGatewayStreamsA100MBAnswerInBoundedMemory(t *testing.T) {
	f := startGateway(t, "10000", 60_000)
	request, _ := http.NewRequest("GET", f.ts.url+"/gw/weather/big", nil)
	request.Header.Set("Authorization", "Bearer "+f.gwKey)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(request)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != 100<<20 || resp.StatusCode != 200 {
		t.Fatalf("streamed %d bytes, status %d, error %v; want %d, 200", n, resp.StatusCode, err, 100<<20)
	}
	// Everything allocated in the process while 100 MB went through the
	// upstream, the gateway and the client: well below the body, which a
	// buffering gateway would allocate whole (under 1 MB without -race,
	// whose sync.Pool drops objects at random, about 35 MB with it).
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MB allocated while streaming 100 MB", allocated>>20)
	if allocated > 64<<20 {
		t.Fatalf("%d MB allocated while streaming 100 MB, want at most 64", allocated>>20)
	}
	f.wantBalances("8500", "1485")
}

func TestGatewayVoidsACallWhoseClientWentAwayMidAnswer(t *testing.T) {
	f := startGateway(t, "10000", 60_000)
	ctx, cancel := context.WithCancel(context.Background())
	request, _ := http.NewRequestWithContext(ctx, "GET", f.ts.url+"/gw/weather/drip", nil)
	request.Header.Set("Authorization", "Bearer "+f.gwKey)
	resp, err := client.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	chargeID := resp.Header.Get(gateway.HeaderChargeID)
	cancel() // the client goes away mid-answer
	resp.Body.Close()
	f.upstream.release <- struct{}{} // the upstream goes on writing
	// The gateway learns it on a write to the closed connection, later,
	// and settles after that: wait until the hold is closed.
	f.settled()
	deadline := time.Now().Add(20 * time.Second)
	for {
		hold := expect(t, f.ts.do("GET", "/v1/holds/"+chargeID, f.m.key, nil), 200, "", "")
		if hold["state"] == "VOIDED" {
			break
		}
		if hold["state"] != "PENDING" || time.Now().After(deadline) {
			t.Fatalf("hold of a call whose client went away = %v, want VOIDED", hold)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.wantBalances("10000", "0")
}
