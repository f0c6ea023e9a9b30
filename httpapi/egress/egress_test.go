package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The dialers fit fasthttp's dial types, so the gateway's HostClient and
// the webhook deliverer can take them as they are.
var (
	_ fasthttp.DialFuncWithTimeout = (&Policy{}).DialTimeout
	_ fasthttp.DialFunc            = (&Policy{}).DialFunc(time.Second)
	_                              = net.Dialer{Control: (&Policy{}).Control}
)

func TestCheckAddrTellsPublicFromNot(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		// IPv4: public, and the edges of blocked ranges.
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"0.0.0.0", false},
		{"0.255.255.255", false},
		{"1.0.0.0", true},
		{"9.255.255.255", true},
		{"10.0.0.0", false},
		{"10.255.255.255", false},
		{"11.0.0.0", true},
		{"100.63.255.255", true},
		{"100.64.0.0", false},
		{"100.127.255.255", false},
		{"100.128.0.0", true},
		{"126.255.255.255", true},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"128.0.0.0", true},
		{"169.254.169.254", false},
		{"169.254.0.1", false},
		{"169.255.0.1", true},
		{"172.15.255.255", true},
		{"172.16.0.0", false},
		{"172.31.255.255", false},
		{"172.32.0.0", true},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.167.255.255", true},
		{"192.168.0.1", false},
		{"192.168.255.255", false},
		{"192.169.0.0", true},
		{"198.17.255.255", true},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.20.0.0", true},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"223.255.255.255", true},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		// IPv6.
		{"2606:4700:4700::1111", true},
		{"2001:4860:4860::8888", true},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"febf:ffff::1", false},
		{"fec0::1", false},
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		{"fbff:ffff::1", true},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"100::1", false},
		{"64:ff9b:1::1", false},
		// IPv6 forms of IPv4 addresses, judged by the IPv4 address.
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.1.2.3", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:8.8.8.8", true},
		{"::127.0.0.1", false},
		{"::8.8.8.8", false}, // IPv4-compatible: deprecated, refused whatever it embeds
		{"64:ff9b::7f00:1", false},
		{"64:ff9b::a9fe:a9fe", false},
		{"64:ff9b::808:808", true},
		{"2002:7f00:1::1", false},
		{"2002:c0a8:101::1", false},
		{"2002:808:808::1", true},
		// Scoped addresses name a local interface.
		{"fe80::1%eth0", false},
		{"2606:4700:4700::1111%eth0", false},
	}
	for _, tt := range tests {
		err := CheckAddr(netip.MustParseAddr(tt.addr))
		if tt.public && err != nil {
			t.Errorf("CheckAddr(%s) = %v, want nil", tt.addr, err)
		}
		if !tt.public && !errors.Is(err, ErrNotPublic) {
			t.Errorf("CheckAddr(%s) = %v, want %v", tt.addr, err, ErrNotPublic)
		}
	}
	if err := CheckAddr(netip.Addr{}); !errors.Is(err, ErrNotPublic) {
		t.Errorf("CheckAddr(zero Addr) = %v, want %v", err, ErrNotPublic)
	}
}

func TestCheckAddrNamesTheRange(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"169.254.169.254", "egress: address is not public: 169.254.169.254 is link-local (169.254.0.0/16, cloud metadata)"},
		{"::ffff:127.0.0.1", "egress: address is not public: ::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, loopback (127.0.0.0/8)"},
		{"fd00::1", "egress: address is not public: fd00::1 is unique local (fc00::/7)"},
	}
	for _, tt := range tests {
		if err := CheckAddr(netip.MustParseAddr(tt.addr)); err == nil || err.Error() != tt.want {
			t.Errorf("CheckAddr(%s) = %v, want %q", tt.addr, err, tt.want)
		}
	}
}

// fakeResolver answers from a table; answers lists successive answers
// for a host (the last one repeats), so a test can rebind a name.
type fakeResolver struct {
	answers map[string][][]netip.Addr
	lookups atomic.Int64
}

func (f *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	n := f.lookups.Add(1) - 1
	answers, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	answer := answers[min(int(n), len(answers)-1)]
	var filtered []netip.Addr
	for _, a := range answer {
		if network == "ip" || (network == "ip4") == a.Is4() {
			filtered = append(filtered, a)
		}
	}
	return filtered, nil
}

func addrs(list ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestCheckURL(t *testing.T) {
	resolver := &fakeResolver{answers: map[string][][]netip.Addr{
		"api.example.com":      {addrs("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")},
		"internal.example.com": {addrs("10.0.0.5")},
		"mixed.example.com":    {addrs("93.184.216.34", "192.168.1.1")},
		"metadata.example.com": {addrs("::ffff:169.254.169.254")},
		"empty.example.com":    {nil},
	}}
	tests := []struct {
		raw  string
		want error // nil: accepted
	}{
		{"https://api.example.com/v1", nil},
		{"http://api.example.com:8080/v1?x=1", nil},
		{"HTTPS://api.example.com", nil},
		{"https://93.184.216.34/", nil},
		{"https://[2606:4700:4700::1111]:443/", nil},
		{"https://internal.example.com/", ErrNotPublic},
		{"https://mixed.example.com/", ErrNotPublic},
		{"https://metadata.example.com/", ErrNotPublic},
		{"http://127.0.0.1:8080/", ErrNotPublic},
		{"http://[::1]/", ErrNotPublic},
		{"http://[::ffff:7f00:1]/", ErrNotPublic},
		{"http://169.254.169.254/latest/meta-data/", ErrNotPublic},
		{"http://[fe80::1%25eth0]/", ErrNotPublic},
		{"https://nowhere.example.com/", ErrResolve},
		{"https://empty.example.com/", ErrResolve},
		{"ftp://api.example.com/", ErrURL},
		{"file:///etc/passwd", ErrURL},
		{"gopher://api.example.com/", ErrURL},
		{"api.example.com/v1", ErrURL},
		{"//api.example.com/v1", ErrURL},
		{"https:api.example.com", ErrURL},
		{"https://", ErrURL},
		{"https://:443/", ErrURL},
		{"https://user:pass@api.example.com/", ErrURL},
		{"https://user@api.example.com/", ErrURL},
		{"https://api.example.com:0/", ErrURL},
		{"https://api.example.com:65536/", ErrURL},
		{"https://api.example.com:99999999999999999999/", ErrURL},
		{"https://api.example.com/" + strings.Repeat("a", URLLengthMax), ErrURL},
		{"https://api.example.com/\x00", ErrURL},
	}
	policy := &Policy{Resolver: resolver}
	for _, tt := range tests {
		u, err := policy.CheckURL(context.Background(), tt.raw)
		if tt.want == nil {
			if err != nil || u == nil {
				t.Errorf("CheckURL(%q) = %v, %v, want the URL, nil", tt.raw, u, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) || u != nil {
			t.Errorf("CheckURL(%q) = %v, %v, want nil, %v", tt.raw, u, err, tt.want)
		}
	}
}

func TestCheckURLDoesNotResolveIPLiterals(t *testing.T) {
	resolver := &fakeResolver{}
	policy := &Policy{Resolver: resolver}
	for _, raw := range []string{"https://8.8.8.8/", "http://10.0.0.1/", "http://[2606:4700:4700::1111]/"} {
		_, _ = policy.CheckURL(context.Background(), raw)
	}
	if n := resolver.lookups.Load(); n != 0 {
		t.Errorf("CheckURL of IP literals made %d lookups, want 0", n)
	}
}

func TestAllowPrivateSkipsOnlyTheAddressCheck(t *testing.T) {
	policy := &Policy{AllowPrivate: true, Resolver: &fakeResolver{}}
	for _, raw := range []string{"http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/"} {
		if _, err := policy.CheckURL(context.Background(), raw); err != nil {
			t.Errorf("CheckURL(%q) with AllowPrivate = %v, want nil", raw, err)
		}
	}
	for _, raw := range []string{"ftp://127.0.0.1/", "http://u:p@127.0.0.1/", "http://127.0.0.1:0/"} {
		if _, err := policy.CheckURL(context.Background(), raw); !errors.Is(err, ErrURL) {
			t.Errorf("CheckURL(%q) with AllowPrivate = %v, want %v", raw, err, ErrURL)
		}
	}
}

// listen starts a TCP listener on 127.0.0.1, closed when the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// assertFirstAcceptIs accepts one connection on ln and checks it is the
// one from client: connections queue in the order the kernel completed
// them, so a refused dial that had reached ln would come out first.
func assertFirstAcceptIs(t *testing.T, ln net.Listener, client net.Conn) {
	t.Helper()
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept = %v, want the allowed connection", err)
	}
	defer server.Close()
	if got, want := server.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Errorf("the listener's first connection came from %s, want %s (the allowed dial): a refused dial reached it", got, want)
	}
}

func TestControlRefusesALoopbackDialBeforeConnecting(t *testing.T) {
	ln := listen(t)
	refusing := net.Dialer{Control: (&Policy{}).Control}
	conn, err := refusing.Dial("tcp", ln.Addr().String())
	if !errors.Is(err, ErrNotPublic) {
		if conn != nil {
			conn.Close()
		}
		// Keep going: the accept below shows whether the dial reached ln.
		t.Errorf("Dial(%s) with Control = %v, want %v", ln.Addr(), err, ErrNotPublic)
	}

	allowing := net.Dialer{Control: (&Policy{AllowPrivate: true}).Control}
	client, err := allowing.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial(%s) with AllowPrivate = %v, want a connection", ln.Addr(), err)
	}
	defer client.Close()
	assertFirstAcceptIs(t, ln, client)
}

func TestControlRefusesWhatItCannotParse(t *testing.T) {
	if err := (&Policy{}).Control("unix", "/run/docker.sock", nil); !errors.Is(err, ErrNotPublic) {
		t.Errorf("Control(unix socket) = %v, want %v", err, ErrNotPublic)
	}
}

func TestDialRefusesANameRebindingToLoopback(t *testing.T) {
	ln := listen(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// The first lookup (CheckURL, at registration) says public, the next
	// ones (at connect) say loopback.
	resolver := &fakeResolver{answers: map[string][][]netip.Addr{
		"rebind.example.com": {addrs("93.184.216.34"), addrs("127.0.0.1")},
	}}
	policy := &Policy{Resolver: resolver}
	if _, err := policy.CheckURL(context.Background(), "http://rebind.example.com:"+port+"/"); err != nil {
		t.Fatalf("CheckURL at registration = %v, want nil", err)
	}
	dials := map[string]func() (net.Conn, error){
		"DialContext": func() (net.Conn, error) {
			return policy.DialContext(context.Background(), "tcp", "rebind.example.com:"+port)
		},
		"DialTimeout": func() (net.Conn, error) { return policy.DialTimeout("rebind.example.com:"+port, time.Second) },
		"DialFunc":    func() (net.Conn, error) { return policy.DialFunc(time.Second)("rebind.example.com:" + port) },
		"IP literal":  func() (net.Conn, error) { return policy.DialTimeout(ln.Addr().String(), time.Second) },
	}
	for name, dial := range dials {
		conn, err := dial()
		if !errors.Is(err, ErrNotPublic) {
			if conn != nil {
				conn.Close()
			}
			t.Errorf("%s after the name rebound to 127.0.0.1 = %v, want %v", name, err, ErrNotPublic)
		}
	}

	allowing := &Policy{AllowPrivate: true, Resolver: resolver}
	client, err := allowing.DialTimeout("rebind.example.com:"+port, 5*time.Second)
	if err != nil {
		t.Fatalf("DialTimeout with AllowPrivate = %v, want a connection", err)
	}
	defer client.Close()
	assertFirstAcceptIs(t, ln, client)
}

func TestDialContextRefusesOtherNetworks(t *testing.T) {
	for _, network := range []string{"udp", "unix", "ip4:icmp"} {
		if _, err := (&Policy{AllowPrivate: true}).DialContext(context.Background(), network, "127.0.0.1:53"); err == nil {
			t.Errorf("DialContext(%s) = nil error, want network not supported", network)
		}
	}
}

// TestFasthttpClientDialsThroughThePolicy is the gateway's use: a
// HostClient whose DialTimeout is the policy's reaches a server on
// 127.0.0.1 only with AllowPrivate.
func TestFasthttpClientDialsThroughThePolicy(t *testing.T) {
	var served atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		fmt.Fprint(w, "ok")
	}))
	defer upstream.Close()
	addr := strings.TrimPrefix(upstream.URL, "http://")

	for _, tt := range []struct {
		allowPrivate bool
		wantServed   int64
	}{{false, 0}, {true, 1}} {
		client := &fasthttp.HostClient{Addr: addr, DialTimeout: (&Policy{AllowPrivate: tt.allowPrivate}).DialTimeout}
		status, body, err := client.Get(nil, upstream.URL+"/")
		if tt.allowPrivate && (err != nil || status != http.StatusOK || string(body) != "ok") {
			t.Errorf("Get with AllowPrivate = %d %q %v, want 200 \"ok\"", status, body, err)
		}
		if !tt.allowPrivate && !errors.Is(err, ErrNotPublic) {
			t.Errorf("Get without AllowPrivate = %d %v, want %v", status, err, ErrNotPublic)
		}
		if got := served.Load(); got != tt.wantServed {
			t.Errorf("after Get (AllowPrivate %v) the upstream served %d requests, want %d", tt.allowPrivate, got, tt.wantServed)
		}
		client.CloseIdleConnections()
	}
}

func FuzzCheckURL(f *testing.F) {
	f.Add("https://api.example.com:8443/v1?x=1")
	f.Add("http://[::ffff:127.0.0.1]/")
	f.Add("http://[fe80::1%25eth0]:80/")
	f.Add("https://u@h:/")
	resolver := &fakeResolver{answers: map[string][][]netip.Addr{"api.example.com": {addrs("93.184.216.34")}}}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, policy := range []*Policy{{Resolver: resolver}, {AllowPrivate: true, Resolver: resolver}} {
			u, err := policy.CheckURL(context.Background(), raw)
			if err != nil {
				continue
			}
			if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
				t.Fatalf("CheckURL(%q) accepted %#v", raw, u)
			}
			if literal, err := netip.ParseAddr(u.Hostname()); err == nil && !policy.AllowPrivate && CheckAddr(literal) != nil {
				t.Fatalf("CheckURL(%q) accepted the non-public literal %v", raw, literal)
			}
		}
	})
}

func TestAttemptTimeoutSharesTheRemainingTime(t *testing.T) {
	tests := []struct {
		remaining     time.Duration
		addressesLeft int
		want          time.Duration
	}{
		{10 * time.Second, 1, 10 * time.Second},
		{10 * time.Second, 2, 5 * time.Second},
		{30 * time.Second, 3, 10 * time.Second},
		{6 * time.Second, 4, 2 * time.Second}, // the floor
		{time.Second, 4, time.Second},         // never more than remains
		{0, 3, 0},
	}
	for _, tt := range tests {
		if got := attemptTimeout(tt.remaining, tt.addressesLeft); got != tt.want {
			t.Errorf("attemptTimeout(%v, %d) = %v, want %v", tt.remaining, tt.addressesLeft, got, tt.want)
		}
	}
}

func TestDialTriesTheNextAddressWhenOneRefuses(t *testing.T) {
	ln := listen(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// Nothing listens on 127.0.0.2 (the listener is bound to 127.0.0.1
	// only), so the first address refuses the connection.
	resolver := &fakeResolver{answers: map[string][][]netip.Addr{
		"two.example.com": {addrs("127.0.0.2", "127.0.0.1")},
	}}
	policy := &Policy{AllowPrivate: true, Resolver: resolver}
	client, err := policy.DialTimeout("two.example.com:"+port, 5*time.Second)
	if err != nil {
		t.Fatalf("DialTimeout(two.example.com) = %v, want a connection to the second address", err)
	}
	defer client.Close()
	if got, want := client.RemoteAddr().String(), ln.Addr().String(); got != want {
		t.Errorf("connected to %s, want %s", got, want)
	}
	assertFirstAcceptIs(t, ln, client)
}
