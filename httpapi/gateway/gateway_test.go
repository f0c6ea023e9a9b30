package gateway

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/httpapi/egress"
	"github.com/tollway/tollway/httpapi/signature"
)

// memoryTable is the engine's table in memory: rows by key, a nil value
// deletes.
type memoryTable struct {
	mu     sync.Mutex
	rows   map[string][]byte
	writes int
}

func (m *memoryTable) WriteRows(_ context.Context, rows ...engine.Row) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	for _, r := range rows {
		if r.Value == nil {
			delete(m.rows, string(r.Key))
		} else {
			m.rows[string(r.Key)] = append([]byte(nil), r.Value...)
		}
	}
	return uint64(m.writes), nil
}

func (m *memoryTable) ScanRows(prefix []byte, fn func(key, value []byte) error) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	m.mu.Unlock()
	for _, k := range keys {
		if err := fn([]byte(k), m.rows[k]); err != nil {
			return err
		}
	}
	return nil
}

// fakeResolver answers every name with one address.
type fakeResolver struct{ addr netip.Addr }

func (f fakeResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{f.addr}, nil
}

var now = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

func publicPolicy() *egress.Policy {
	return &egress.Policy{Resolver: fakeResolver{netip.MustParseAddr("93.184.216.34")}}
}

func validRoute() Route {
	return Route{Slug: "weather-api", Owner: "usr_1", AccountID: "acct_1", Upstream: "https://api.example.com/v2", PricePerCall: "1500"}
}

func TestCreateChecksEveryFieldAndNamesIt(t *testing.T) {
	cases := []struct {
		field  string
		change func(r *Route)
	}{
		{"slug", func(r *Route) { r.Slug = "ab" }},
		{"slug", func(r *Route) { r.Slug = "Weather" }},
		{"slug", func(r *Route) { r.Slug = "-weather" }},
		{"slug", func(r *Route) { r.Slug = strings.Repeat("a", SlugBytesMax+1) }},
		{"slug", func(r *Route) { r.Slug = "a/b/c" }},
		{"accountId", func(r *Route) { r.AccountID = "" }},
		{"upstream", func(r *Route) { r.Upstream = "ftp://api.example.com" }},
		{"upstream", func(r *Route) { r.Upstream = "http://user:pw@api.example.com" }},
		{"upstream", func(r *Route) { r.Upstream = "https://api.example.com/?key=1" }},
		{"upstream", func(r *Route) { r.Upstream = "http://127.0.0.1:8080" }},
		{"upstream", func(r *Route) { r.Upstream = "http://10.0.0.1" }},
		{"upstream", func(r *Route) { r.Upstream = "http://169.254.169.254/latest" }},
		{"pricePerCall", func(r *Route) { r.PricePerCall = "0" }},
		{"pricePerCall", func(r *Route) { r.PricePerCall = "-1" }},
		{"pricePerCall", func(r *Route) { r.PricePerCall = "1.5" }},
		{"pricePerCall", func(r *Route) { r.PricePerCall = "01" }},
		{"pricePerCall", func(r *Route) { r.PricePerCall = "340282366920938463463374607431768211456" }}, // 2^128
		{"methods", func(r *Route) { r.Methods = []string{"GET", "TRACE"} }},
		{"methods", func(r *Route) { r.Methods = []string{"get"} }},
		{"timeoutMs", func(r *Route) { r.TimeoutMs = TimeoutMsMin - 1 }},
		{"timeoutMs", func(r *Route) { r.TimeoutMs = TimeoutMsMax + 1 }},
	}
	for _, c := range cases {
		table := &memoryTable{rows: map[string][]byte{}}
		g := New(table, publicPolicy())
		r := validRoute()
		c.change(&r)
		_, err := g.Create(context.Background(), r, now)
		var fields *FieldsError
		if !errors.As(err, &fields) || len(fields.Fields) != 1 || fields.Fields[c.field] == "" {
			t.Errorf("Create(%+v) = %v, want exactly field %s", r, err, c.field)
		}
		if table.writes != 0 {
			t.Errorf("Create(%+v) wrote %d times, want none", r, table.writes)
		}
	}
}

func TestAPrivateNameIsRefusedAtRegistrationUnlessAllowed(t *testing.T) {
	r := validRoute()
	private := &egress.Policy{Resolver: fakeResolver{netip.MustParseAddr("192.168.1.5")}}
	_, err := New(&memoryTable{rows: map[string][]byte{}}, private).Create(context.Background(), r, now)
	var fields *FieldsError
	if !errors.As(err, &fields) || fields.Fields["upstream"] == "" {
		t.Fatalf("Create with a name resolving to 192.168.1.5 = %v, want an upstream field error", err)
	}
	allowed := &egress.Policy{AllowPrivate: true, Resolver: private.Resolver}
	r.Upstream = "http://127.0.0.1:9"
	if _, err := New(&memoryTable{rows: map[string][]byte{}}, allowed).Create(context.Background(), r, now); err != nil {
		t.Fatalf("Create with AllowPrivate = %v, want it registered", err)
	}
}

func TestRoutesAreDurableAndKeepTheirSecret(t *testing.T) {
	table := &memoryTable{rows: map[string][]byte{}}
	g := New(table, publicPolicy())
	r := validRoute()
	r.Methods = []string{"POST", "GET", "GET"}
	created, err := g.Create(context.Background(), r, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Secret, SecretPrefix) || len(created.Secret) != len(SecretPrefix)+2*secretBytes {
		t.Fatalf("secret = %q, want %s and %d hex digits", created.Secret, SecretPrefix, 2*secretBytes)
	}
	if got := strings.Join(created.Methods, ","); got != "GET,POST" || created.TimeoutMs != TimeoutMsDefault {
		t.Fatalf("methods %s timeout %d, want GET,POST and %d", got, created.TimeoutMs, TimeoutMsDefault)
	}
	if _, err := g.Create(context.Background(), r, now); !errors.Is(err, ErrSlugTaken) {
		t.Fatalf("second Create = %v, want ErrSlugTaken", err)
	}
	again := New(table, publicPolicy())
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	loaded, ok := again.Target("weather-api")
	if !ok || loaded.Route.Secret != created.Secret || loaded.Route.Price().String() != "1500" || loaded.Client.Addr != "api.example.com:443" || !loaded.Client.IsTLS {
		t.Fatalf("loaded %+v, want the created route with its secret, on api.example.com:443 over TLS", loaded)
	}
	if _, err := again.Route("usr_2", "weather-api"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another owner's Route = %v, want ErrNotFound", err)
	}
	replacement := validRoute()
	replacement.PricePerCall, replacement.Upstream = "7", "http://api.example.com:8080"
	replaced, err := again.Replace(context.Background(), "usr_1", "weather-api", replacement, now.Add(time.Hour))
	if err != nil || replaced.Secret != created.Secret || replaced.PricePerCall != "7" || !replaced.CreatedAt.Equal(now) {
		t.Fatalf("Replace = %+v, %v; want price 7, the same secret and creation time", replaced, err)
	}
	if err := again.Delete(context.Background(), "usr_2", "weather-api"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another owner's Delete = %v, want ErrNotFound", err)
	}
	if err := again.Delete(context.Background(), "usr_1", "weather-api"); err != nil {
		t.Fatal(err)
	}
	third := New(table, publicPolicy())
	if err := third.Load(); err != nil || len(third.Routes("usr_1")) != 0 {
		t.Fatalf("after Delete, Load = %v with %d routes, want none", err, len(third.Routes("usr_1")))
	}
}

func TestRoutesPerOwnerAreBounded(t *testing.T) {
	g := New(&memoryTable{rows: map[string][]byte{}}, publicPolicy())
	for i := 0; i < RoutesPerOwnerMax; i++ {
		r := validRoute()
		r.Slug = "route-" + strings.Repeat("x", i%5) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
		if _, err := g.Create(context.Background(), r, now); err != nil {
			t.Fatalf("route %d (%s): %v", i, r.Slug, err)
		}
	}
	r := validRoute()
	r.Slug = "one-too-many"
	if _, err := g.Create(context.Background(), r, now); !errors.Is(err, ErrLimit) {
		t.Fatalf("route %d = %v, want ErrLimit", RoutesPerOwnerMax+1, err)
	}
	r.Owner = "usr_2"
	if _, err := g.Create(context.Background(), r, now); err != nil {
		t.Fatalf("another owner's route = %v, want it registered", err)
	}
}

func TestPrepareRequestDropsCredentialsAndHopByHopAndSigns(t *testing.T) {
	g := New(&memoryTable{rows: map[string][]byte{}}, publicPolicy())
	created, err := g.Create(context.Background(), validRoute(), now)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := g.Target(created.Slug)
	in := fasthttp.AcquireRequest()
	in.SetRequestURI("http://tollway.local/gw/weather-api/forecast/today?city=Oslo&days=2")
	in.Header.SetMethod("POST")
	for _, h := range [][2]string{
		{"Authorization", "Bearer sk_test_secret"}, {"Tollway-Signature", "t=1,v1=forged"}, {"Tollway-Charge-Id", "hold_forged"},
		{"Connection", "keep-alive, X-Hop"}, {"X-Hop", "1"}, {"Keep-Alive", "timeout=5"}, {"Proxy-Authorization", "Basic x"},
		{"TE", "trailers"}, {"Trailer", "X-T"}, {"Upgrade", "websocket"}, {"X-Custom", "kept"}, {"Accept", "application/json"},
		{"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "forged.example"},
	} {
		in.Header.Set(h[0], h[1])
	}
	in.SetBodyString(`{"q":1}`)
	out := fasthttp.AcquireRequest()
	target.PrepareRequest(out, in, Call{Path: "/forecast/today", ChargeID: "hold_abc", ClientIP: net.ParseIP("203.0.113.7"), Now: now})
	if got := string(out.URI().FullURI()); got != "https://api.example.com/v2/forecast/today?city=Oslo&days=2" {
		t.Errorf("URI = %s", got)
	}
	if string(out.Header.Method()) != "POST" || string(out.Body()) != `{"q":1}` {
		t.Errorf("method %s body %s", out.Header.Method(), out.Body())
	}
	for _, gone := range []string{"Authorization", "Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization", "TE", "Trailer", "Upgrade"} {
		if v := out.Header.Peek(gone); v != nil {
			t.Errorf("header %s = %q crossed the gateway", gone, v)
		}
	}
	for name, want := range map[string]string{
		"X-Custom": "kept", "Accept": "application/json", HeaderChargeID: "hold_abc", "Host": "api.example.com",
		// The address Tollway saw comes last; the proto and host are how
		// the consumer reached Tollway, whatever the request claimed.
		"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "tollway.local",
	} {
		if got := string(out.Header.Peek(name)); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if n := bytes.Count(out.Header.Header(), []byte("Tollway-Signature")); n != 1 {
		t.Errorf("%d Tollway-Signature headers, want 1", n)
	}
	header := string(out.Header.Peek(HeaderSignature))
	if err := signature.Verify(header, out.Body(), []byte(created.Secret), time.Minute, now); err != nil {
		t.Errorf("signature %q does not verify: %v", header, err)
	}
}

func TestCopyResponseHeaderKeepsTollwaysOwnAndDropsHopByHop(t *testing.T) {
	in, out := &fasthttp.ResponseHeader{}, &fasthttp.ResponseHeader{}
	in.SetStatusCode(201)
	in.Set("Connection", "X-Hop")
	in.Set("X-Hop", "1")
	in.Set("Keep-Alive", "timeout=5")
	in.Set("X-Request-Id", "upstream's")
	in.Set("RateLimit-Remaining", "0")
	in.Set("Tollway-Charge-Id", "hold_forged")
	in.Set("Content-Type", "text/csv")
	in.Add("Set-Cookie", "a=1")
	in.Add("Set-Cookie", "b=2")
	in.Set("X-Kept", "yes")
	out.Set("X-Request-Id", "req_ours")
	CopyResponseHeader(out, in)
	if out.StatusCode() != 201 || string(out.ContentType()) != "text/csv" || string(out.Peek("X-Kept")) != "yes" {
		t.Fatalf("copied %q", out.Header())
	}
	for _, gone := range []string{"X-Hop", "Keep-Alive", "RateLimit-Remaining", "Tollway-Charge-Id"} {
		if v := out.Peek(gone); v != nil {
			t.Errorf("header %s = %q crossed the gateway", gone, v)
		}
	}
	if ids := bytes.Count(out.Header(), []byte("X-Request-Id")); ids != 1 || string(out.Peek("X-Request-Id")) != "req_ours" {
		t.Errorf("%d X-Request-Id, %q; want ours only", ids, out.Peek("X-Request-Id"))
	}
	if cookies := bytes.Count(out.Header(), []byte("Set-Cookie")); cookies != 2 {
		t.Errorf("%d Set-Cookie headers, want 2", cookies)
	}
}

// switchingResolver answers with whatever address it holds now: a name
// that rebinds between registration and connection.
type switchingResolver struct{ addr atomic.Pointer[netip.Addr] }

func (s *switchingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{*s.addr.Load()}, nil
}

func TestAnUpstreamThatRebindsToAPrivateAddressIsRefusedAtConnectTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	resolver := &switchingResolver{}
	public := netip.MustParseAddr("93.184.216.34")
	resolver.addr.Store(&public)
	g := New(&memoryTable{rows: map[string][]byte{}}, &egress.Policy{Resolver: resolver})
	r := validRoute()
	r.Upstream = "http://rebind.example.com:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if _, err := g.Create(context.Background(), r, now); err != nil {
		t.Fatalf("Create while the name is public: %v", err)
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	resolver.addr.Store(&loopback)
	target, _ := g.Target(r.Slug)
	in, request, response := fasthttp.AcquireRequest(), fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	in.Header.SetMethod("GET")
	target.PrepareRequest(request, in, Call{Path: "/x", ChargeID: "hold_1", Now: now})
	err = target.Client.DoTimeout(request, response, 5*time.Second)
	if !errors.Is(err, egress.ErrNotPublic) {
		t.Fatalf("call after the name rebound to 127.0.0.1 = %v, want egress.ErrNotPublic", err)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the private listener accepted %d connections, want none", n)
	}
}

func TestAHoldOutlivesTheLongestCall(t *testing.T) {
	if longest := time.Duration(TimeoutMsMax) * time.Millisecond; HoldTimeout < 2*longest {
		t.Fatalf("HoldTimeout %v leaves too little beyond the longest call, %v, to capture before the hold expires", HoldTimeout, longest)
	}
}

func TestForwardPathStaysUnderTheRoot(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "a/b": "/a/b", "a/b/": "/a/b/", "../../etc/passwd": "/etc/passwd", "%2e%2e/%2E%2E/admin": "/admin",
		"x/..%2f..%2fadmin": "/admin", "a/../../b/": "/b/", "./a//b": "/a/b", "..": "/", "../": "/",
		"b%20c/%3Fd": "/b%20c/%3Fd", "100%25": "/100%25", "caf%C3%A9": "/caf%C3%A9",
	} {
		if got, err := ForwardPath(in); err != nil || got != want {
			t.Errorf("ForwardPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ForwardPath("a%zz"); !errors.Is(err, ErrPath) {
		t.Errorf("ForwardPath of a bad escape = %v, want ErrPath", err)
	}
}
