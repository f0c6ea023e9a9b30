package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/valyala/fasthttp"
)

// ---- helpers

// addr is the server's host:port.
func (ts *testServer) addr() string { return strings.TrimPrefix(ts.url, "http://") }

// dialFrom opens a TCP connection to the server from the loopback address
// local (127.0.0.x: Linux routes all of 127/8 to lo), so tests can act as
// several clients.
func (ts *testServer) dialFrom(local string) net.Conn {
	ts.t.Helper()
	dialer := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := dialer.Dial("tcp", ts.addr())
	if err != nil {
		ts.t.Fatalf("dial from %s: %v", local, err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// readResponse reads one HTTP response from c, failing the test if none
// comes within 5 s.
func readResponse(t *testing.T, c net.Conn) response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a response body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// waitFor polls cond until it holds, for events the test cannot observe
// otherwise (a connection admitted, a reservation taken by the server's
// goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// ---- connection limits

func TestConnectionsOverTheLimitsAreRefusedAtAccept(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ConnectionsMax, c.ConnectionsPerIPMax, c.FileLimit = 4, 2, 300 })
	transport := ts.server.transport
	open := func(n int64) func() bool { return func() bool { return transport.open.Load() == n } }

	first := ts.dialFrom("127.0.0.1")
	waitFor(t, "1 connection", open(1))
	ts.dialFrom("127.0.0.1")
	waitFor(t, "2 connections", open(2))
	// A third from the same address: over the per-address limit.
	r := readResponse(t, ts.dialFrom("127.0.0.1"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || !strings.Contains(string(r.body), `"code":"too_many_connections"`) {
		t.Fatalf("third connection from one address = %d %q, want 429 too_many_connections", r.status, r.body)
	}
	ts.dialFrom("127.0.0.2")
	ts.dialFrom("127.0.0.2")
	waitFor(t, "4 connections", open(4))
	// A fifth from a new address: over the server's limit.
	r = readResponse(t, ts.dialFrom("127.0.0.3"))
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"code":"too_many_connections"`) {
		t.Fatalf("fifth connection = %d %q, want 503 too_many_connections", r.status, r.body)
	}
	for reason, want := range map[string]float64{"too_many_connections_address": 1, "too_many_connections_server": 1} {
		if got := refusalsCounted(t, ts, reason); got != want {
			t.Errorf("tollway_http_transport_refusals_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	// The admitted connections are served.
	fmt.Fprintf(first, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
	r = readResponse(t, first)
	connections := expect(t, r, 200, "", "")["connections"].(map[string]any)
	want := map[string]any{"open": 4.0, "max": 4.0, "perIPMax": 2.0, "fileLimit": 300.0}
	for name, value := range want {
		if connections[name] != value {
			t.Errorf("status connections.%s = %v, want %v (%v)", name, connections[name], value, connections)
		}
	}
	// A closed connection frees its place.
	first.Close()
	waitFor(t, "3 connections", open(3))
	c := ts.dialFrom("127.0.0.3")
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	expect(t, readResponse(t, c), 200, "", "")
}

func TestConnectionLimitsDeriveFromTheFileLimit(t *testing.T) {
	for _, c := range []struct {
		fileLimit          uint64
		connections, perIP int
	}{
		{0, 768, 384}, // unknown: as under 1,024
		{256, 128, 64},
		{1024, 768, 384},
		{20_000, 19_744, 9_872},
	} {
		connections := ConnectionsMaxFor(c.fileLimit)
		if perIP := ConnectionsPerIPMaxFor(connections); connections != c.connections || perIP != c.perIP {
			t.Errorf("file limit %d: %d connections, %d per address, want %d, %d", c.fileLimit, connections, perIP, c.connections, c.perIP)
		}
	}
}

// fakeListener fails its first accepts with errs, then returns conns.
type fakeListener struct {
	errs    []error
	conns   []net.Conn
	accepts int
	closed  chan struct{}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.accepts++
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	if len(l.conns) > 0 {
		c := l.conns[0]
		l.conns = l.conns[1:]
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *fakeListener) Close() error   { close(l.closed); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

func acceptError(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func TestAcceptRetriesRunningOutOfDescriptors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		tr := newTransport(slog.New(slog.NewTextHandler(&logs, nil)), transportConfig{connectionsMax: 10})
		server, client := net.Pipe()
		defer client.Close()
		fake := &fakeListener{closed: make(chan struct{}), conns: []net.Conn{server}}
		for range 18 {
			fake.errs = append(fake.errs, acceptError(syscall.EMFILE))
		}
		fake.errs = append(fake.errs, acceptError(syscall.ENFILE), acceptError(syscall.ECONNABORTED))
		ln := tr.listen(fake)
		start := time.Now()
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("Accept = %v, want the connection after the failures", err)
		}
		if _, ok := c.(*conn); !ok || tr.open.Load() != 1 {
			t.Fatalf("Accept = %T, open %d: want an admitted *conn", c, tr.open.Load())
		}
		// 5, 10, 20, ... 640 ms, then 1 s for each failure after the 8th.
		var want time.Duration
		for i, backoff := 0, acceptBackoffMin; i < 20; i, backoff = i+1, min(2*backoff, acceptBackoffMax) {
			want += backoff
		}
		if waited := time.Since(start); waited != want {
			t.Errorf("waited %v over 20 failures, want %v", waited, want)
		}
		if tr.acceptErrors.Load() != 20 {
			t.Errorf("accept errors = %d, want 20", tr.acceptErrors.Load())
		}
		// Rate-limited: one line at the first failure and one 10 s later
		// (of 13.3 s), which counts the 17 since the first (this one included).
		if lines := strings.Count(logs.String(), "accepting connections failed"); lines != 2 || !strings.Contains(logs.String(), "failures_since_last_log=17") {
			t.Errorf("%d log lines for 20 failures in %v, want 2:\n%s", lines, want, logs.String())
		}
		c.Close()
		if tr.open.Load() != 0 {
			t.Errorf("open = %d after Close, want 0", tr.open.Load())
		}

		// Other errors end Serve, as before.
		fake.errs = []error{errors.New("accept: something else")}
		if _, err := ln.Accept(); err == nil || !strings.Contains(err.Error(), "something else") {
			t.Errorf("Accept = %v, want the permanent error", err)
		}
		// Closing the listener ends a pause at once.
		fake.errs = []error{acceptError(syscall.EMFILE)}
		go ln.Close()
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
	})
}

// ---- request bodies

// TestLargeDeclaredBodiesAreRefusedBeforeRead: requests declaring a body of
// 1,000,000 bytes to a route whose limit is RouteBodyBytesMax, and sending
// one byte of it, are answered 400 body_too_large at once, and the server allocates
// nothing for them (it used to allocate the declared length and wait).
func TestLargeDeclaredBodiesAreRefusedBeforeRead(t *testing.T) {
	ts := startServer(t)
	const connections = 200
	before := heapInUse()
	conns := make([]net.Conn, connections)
	for i := range conns {
		conns[i] = ts.dialFrom("127.0.0.1")
		fmt.Fprintf(conns[i], "POST /v1/charges HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
	}
	for _, c := range conns {
		r := readResponse(t, c)
		e := expect(t, r, http.StatusBadRequest, typeInvalidRequest, "body_too_large")
		if want := fmt.Sprintf("the body exceeds %d bytes, this route's limit", RouteBodyBytesMax); e["message"] != want {
			t.Fatalf("message = %q, want %q", e["message"], want)
		}
	}
	if grown := int64(heapInUse()) - int64(before); grown > connections*bodyUnreservedBytesMax {
		t.Errorf("heap grew %d bytes for %d refused bodies, want under %d", grown, connections, connections*bodyUnreservedBytesMax)
	}
	// The same body declared to the batch route passes the route limit.
	c := ts.dialFrom("127.0.0.1")
	fmt.Fprintf(c, "POST /v1/charges/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{")
	e := expect(t, readResponse(t, c), http.StatusBadRequest, typeInvalidRequest, "body_too_large")
	if want := fmt.Sprintf("the body exceeds %d bytes, this route's limit", BodyBytesMax); e["message"] != want {
		t.Fatalf("message = %q, want %q", e["message"], want)
	}
}

// TestLargeBodiesShareABudget: batch requests declaring 1,000,000 bytes
// each take the budget (4,000,000 here) in turn; the fifth and later are
// answered 503 with Retry-After before any allocation, and the budget is
// whole again once the admitted ones are answered.
func TestLargeBodiesShareABudget(t *testing.T) {
	const budget, size, connections = 4_000_000, 1_000_000, 32
	ts := startServer(t, func(c *Config) { c.BodyBudgetBytes = budget })
	tr := ts.server.transport
	before := heapInUse()
	var held []net.Conn
	for i := range connections {
		c := ts.dialFrom("127.0.0.1")
		fmt.Fprintf(c, "POST /v1/charges/batch HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", size)
		if i < budget/size {
			held = append(held, c)
			waitFor(t, fmt.Sprintf("reservation %d", i+1), func() bool { return tr.budget.inUse() == int64(i+1)*size })
			continue
		}
		r := readResponse(t, c)
		expect(t, r, http.StatusServiceUnavailable, typeAPI, "server_busy")
		if r.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
		}
	}
	if grown := int64(heapInUse()) - int64(before); grown > budget+budget/2 {
		t.Errorf("heap grew %d bytes with a budget of %d, want at most the budget and a half", grown, budget)
	}
	// The admitted ones send the rest of their body and are answered (401:
	// they carry no key); each answer gives its reservation back.
	rest := bytes.Repeat([]byte(" "), size-1)
	for _, c := range held {
		if _, err := c.Write(rest); err != nil {
			t.Fatal(err)
		}
		expect(t, readResponse(t, c), http.StatusUnauthorized, typeAuthentication, "missing_credentials")
	}
	if tr.budget.inUse() != 0 || tr.budget.pending.Load() != 0 {
		t.Fatalf("budget in use = %d, %d reservations, want none", tr.budget.inUse(), tr.budget.pending.Load())
	}
	// Their connections stay open, idle, without their bodies' buffers
	// (rest, the test's own, is one of the two sizes allowed).
	if grown := int64(heapInUse()) - int64(before); grown > 2*size {
		t.Errorf("heap grew %d bytes after the large bodies were answered, want under %d: buffers kept", grown, 2*size)
	}
	c := ts.dialFrom("127.0.0.1")
	fmt.Fprintf(c, "POST /v1/charges/batch HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{%s", size, rest)
	expect(t, readResponse(t, c), http.StatusUnauthorized, typeAuthentication, "missing_credentials")
	// A chunked body reserves its route's limit while it is read.
	fmt.Fprintf(c, "POST /v1/charges/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n")
	waitFor(t, "the chunked body's reservation", func() bool { return tr.budget.inUse() == BodyBytesMax })
	fmt.Fprintf(c, "0\r\n\r\n")
	expect(t, readResponse(t, c), http.StatusUnauthorized, typeAuthentication, "missing_credentials")
	if tr.budget.inUse() != 0 {
		t.Fatalf("budget in use = %d after the chunked body, want 0", tr.budget.inUse())
	}
}

func TestBodyReservationsExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget := bodyBudget{max: 10, held: map[*fasthttp.RequestHeader]reservation{}}
		ha, hb, hc := new(fasthttp.RequestHeader), new(fasthttp.RequestHeader), new(fasthttp.RequestHeader)
		if !budget.reserve(ha, 6) || budget.reserve(hb, 6) {
			t.Fatal("want the first reservation taken and the second refused")
		}
		if !budget.release(hb) || budget.release(ha) {
			t.Fatal("release reports the refusal only")
		}
		budget.reserve(ha, 6) // leaked: never released
		time.Sleep(bodyReservationLifetimeMax + time.Second)
		if !budget.reserve(hc, 6) || budget.inUse() != 6 {
			t.Fatalf("after the lifetime, reserve = refused, in use %d: want the leaked one reclaimed", budget.inUse())
		}
	})
}

// ---- closing connections

// TestIdleNewConnectionIsClosedSilently: a connection that sends nothing
// within the read timeout is closed without an answer (it used to get an
// unasked-for 400, which a client pool would read as the answer to the
// next request it sent on it).
func TestIdleNewConnectionIsClosedSilently(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RequestReadTimeout = 50 * time.Millisecond })
	c := ts.dialFrom("127.0.0.1")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 0 {
		t.Fatalf("idle connection read %q, %v: want EOF and nothing", got, err)
	}
	// A request that trickles past the timeout still gets its answer.
	c = ts.dialFrom("127.0.0.1")
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\n")
	expect(t, readResponse(t, c), http.StatusBadRequest, typeInvalidRequest, "malformed_request")
}

// TestNetHTTPClientReadsTheAnswerToATooLargeBody: Go's client sending a
// 2 MiB body reads the 400, not a connection reset: the server drains
// what the client still sends before it closes.
func TestNetHTTPClientReadsTheAnswerToATooLargeBody(t *testing.T) {
	ts := startServer(t)
	body := bytes.Repeat([]byte("x"), 2<<20)
	for _, path := range []string{"/v1/charges", "/v1/charges/batch"} {
		for try := range 100 {
			resp, err := http.Post(ts.url+path, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s try %d: %v", path, try, err)
			}
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s try %d: reading the body: %v", path, try, err)
			}
			expect(t, response{status: resp.StatusCode, header: resp.Header, body: data},
				http.StatusBadRequest, typeInvalidRequest, "body_too_large")
		}
	}
}

// ---- metrics and logs

func TestMetricsNeedTheAdminToken(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.FileLimit = 4096 })
	expect(t, ts.do("GET", "/metrics", "", nil), http.StatusUnauthorized, typeAuthentication, "missing_credentials")
	expect(t, ts.do("GET", "/metrics", "adm_wrong", nil), http.StatusUnauthorized, typeAuthentication, "invalid_credentials")
	r := ts.do("GET", "/metrics", testAdminToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("/metrics with the admin token = %d", r.status)
	}
	for _, want := range []string{"tollway_http_connections_open 1", "tollway_http_connections_max 3840",
		"tollway_http_connections_per_ip_max 1920", "tollway_file_limit 4096", "tollway_http_body_budget_bytes_max 6.7108864e+07"} {
		if !strings.Contains(string(r.body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	public := startServer(t, func(c *Config) { c.MetricsPublic = true })
	if r := public.do("GET", "/metrics", "", nil); r.status != http.StatusOK {
		t.Fatalf("/metrics with --metrics-public = %d, want 200", r.status)
	}
}

// TestDebugLogsCarryNoCredentials: at debug level fasthttp's errors used to
// quote the raw request, Authorization header included.
func TestDebugLogsCarryNoCredentials(t *testing.T) {
	ts := startServer(t)
	const secret = "sk_test_SECRETsecretSECRETsecretSECRETsecret12"
	c := ts.dialFrom("127.0.0.1")
	fmt.Fprintf(c, "POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nno colon here %s\r\n\r\n", secret, secret)
	expect(t, readResponse(t, c), http.StatusBadRequest, typeInvalidRequest, "malformed_request")
	// The server logs the error before it closes the connection.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
	logs := ts.logs.String()
	if !strings.Contains(logs, "request not read") {
		t.Fatalf("no debug line for the malformed request:\n%s", logs)
	}
	if strings.Contains(logs, "SECRET") {
		t.Fatalf("the log carries the secret:\n%s", logs)
	}
}

func TestRedactSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"contents: \"GET / HTTP/1.1\\r\\nAuthorization: Bearer abc\\r\\nHost: x\"": "contents: \"GET / HTTP/1.1\\r\\nAuthorization: [redacted]\\r\\nHost: x\"",
		"authorization:basic dXNlcjpwYXNz\r\nX: y":                                 "authorization: [redacted]\r\nX: y",
		"token bearer eyJhbGciOi.x.y end":                                          "token [redacted] end",
		"key sk_live_0123456789abcdefghij and rt_family then adm_token":            "key [redacted] and [redacted] then [redacted]",
		"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig":                             "jwt [redacted]",
		"nothing secret here":                                                      "nothing secret here",
	} {
		if got := redactSecrets(in); got != want {
			t.Errorf("redactSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}

// The metrics label requests with their method (made-up methods as
// "other", so they cannot grow the series), and count what the transport
// refuses before any route, by reason.
func TestMetricsHaveTheMethodAndTheTransportRefusals(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RequestReadTimeout = 50 * time.Millisecond })
	expect(t, ts.do("GET", "/healthz", "", nil), 200, "", "")
	ts.do("DELETE", "/healthz", "", nil)
	ts.do("BREW", "/nowhere", "", nil)
	expect(t, ts.do("POST", "/v1/accounts", "", strings.Repeat("x", RouteBodyBytesMax+1)), 400, typeInvalidRequest, "body_too_large")
	c := ts.dialFrom("127.0.0.1")
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\n") // never finished
	expect(t, readResponse(t, c), http.StatusBadRequest, typeInvalidRequest, "malformed_request")
	idle := ts.dialFrom("127.0.0.1")
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(idle); err != nil || len(got) != 0 {
		t.Fatalf("idle connection read %q, %v: want EOF", got, err)
	}
	body := string(ts.do("GET", "/metrics", testAdminToken, nil).body)
	for _, want := range []string{
		`tollway_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`tollway_http_requests_total{method="DELETE",route="method_not_allowed",status="405"} 1`,
		`tollway_http_requests_total{method="other",route="not_found",status="404"} 1`,
		`tollway_http_request_duration_seconds_count{method="GET",route="/healthz"} 1`,
		`tollway_http_transport_refusals_total{reason="body_too_large"} 1`,
		`tollway_http_transport_refusals_total{reason="malformed_request"} 1`,
		`tollway_http_transport_refusals_total{reason="closed_unanswered"} 1`,
		`tollway_http_transport_refusals_total{reason="server_busy"} 0`,
		`tollway_http_transport_refusals_total{reason="too_many_connections_address"} 0`,
		`tollway_http_transport_refusals_total{reason="too_many_connections_server"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// refusalsCounted reads tollway_http_transport_refusals_total{reason} from
// the server's registry.
func refusalsCounted(t *testing.T, ts *testServer, reason string) float64 {
	t.Helper()
	families, err := ts.server.prometheusRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "tollway_http_transport_refusals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no tollway_http_transport_refusals_total{reason=%q}", reason)
	return 0
}
