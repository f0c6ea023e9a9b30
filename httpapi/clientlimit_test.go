package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi/siwe"
)

// clientFrom returns an HTTP client whose connections come from ip, a
// loopback address other than 127.0.0.1: another client to the server.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
}

func withAuthLimit(requests, perSeconds uint32) serverOption {
	return func(c *Config) { c.AuthRateLimit = access.RateLimit{Requests: requests, PerSeconds: perSeconds} }
}

// expectRateLimited checks a 429 rate_limited with Retry-After retryAfter.
func expectRateLimited(t *testing.T, r response, retryAfter string) {
	t.Helper()
	expect(t, r, 429, "rate_limit_error", "rate_limited")
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After = %q, want %q", got, retryAfter)
	}
}

func TestAuthRoutesShareOneBucketPerClientIP(t *testing.T) {
	ts := startServer(t, withAuthLimit(5, 60)) // 5, then one per 12 s
	login := func(c *http.Client, i int) response {
		return ts.doWith(c, "POST", "/v1/auth/login", "", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "wrong password"})
	}
	for i := range 5 {
		expect(t, login(client, i), 401, "authentication_error", "invalid_credentials")
	}
	expectRateLimited(t, login(client, 5), "12")
	for path, body := range map[string]any{
		"/v1/auth/signup":         map[string]string{"email": "new@example.com", "password": "a long password"},
		"/v1/auth/refresh":        map[string]string{"refreshToken": "rt_garbage"},
		"/v1/auth/siwe/challenge": map[string]string{"address": "0x" + strings.Repeat("ab", 20)},
		"/v1/auth/siwe/login":     map[string]string{"message": "hello", "signature": "0x00"},
	} {
		expectRateLimited(t, ts.doWith(client, "POST", path, "", body), "12")
	}
	// Another client is not affected.
	other := clientFrom("127.0.0.2")
	expect(t, login(other, 6), 401, "authentication_error", "invalid_credentials")
	// The bucket refills one request per 12 s of the server's clock.
	ts.clock.Advance(12 * time.Second)
	expect(t, login(client, 7), 401, "authentication_error", "invalid_credentials")
	expectRateLimited(t, login(client, 8), "12")
}

func TestFailedLoginsLockTheEmailFromEveryClient(t *testing.T) {
	ts := startServer(t, withAuthLimit(1000, 1))
	u := ts.signup("locked@example.com")
	other := clientFrom("127.0.0.2")
	attempt := func(c *http.Client, password string) response {
		return ts.doWith(c, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": password})
	}
	for range loginFailuresFree {
		expect(t, attempt(client, "wrong password"), 401, "authentication_error", "invalid_credentials")
	}
	// Locked for a second, whichever client, whatever the password.
	expectRateLimited(t, attempt(other, u.password), "1")
	expectRateLimited(t, attempt(client, "wrong password"), "1")
	// Each further failure doubles the lockout.
	ts.clock.Advance(time.Second)
	expect(t, attempt(other, "wrong password"), 401, "authentication_error", "invalid_credentials")
	expectRateLimited(t, attempt(other, u.password), "2")
	ts.clock.Advance(2 * time.Second)
	expect(t, attempt(other, "wrong password"), 401, "authentication_error", "invalid_credentials")
	expectRateLimited(t, attempt(client, u.password), "4")
	// A success after the lockout forgets the failures.
	ts.clock.Advance(4 * time.Second)
	expect(t, attempt(client, u.password), 200, "", "")
	for range loginFailuresFree {
		expect(t, attempt(client, "wrong password"), 401, "authentication_error", "invalid_credentials")
	}
	expectRateLimited(t, attempt(client, u.password), "1")
	// An unknown email locks alike: a 429 does not tell that an email exists.
	for range loginFailuresFree {
		r := ts.do("POST", "/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong password"})
		expect(t, r, 401, "authentication_error", "invalid_credentials")
	}
	expectRateLimited(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "x"}), "1")
}

func TestLoginLockoutDoublesUpToItsBound(t *testing.T) {
	for beyond, want := range map[uint32]time.Duration{0: time.Second, 1: 2 * time.Second, 9: 512 * time.Second,
		10: loginLockoutMax, 19: loginLockoutMax, 20: loginLockoutMax, 1 << 31: loginLockoutMax} {
		if got := loginLockout(beyond); got != want {
			t.Errorf("loginLockout(%d) = %v, want %v", beyond, got, want)
		}
	}
}

func TestDummyPasswordHashHasTheConfiguredCost(t *testing.T) {
	const cost = bcrypt.MinCost + 1
	ts := startServer(t, func(c *Config) { c.PasswordCost = cost })
	got, err := bcrypt.Cost(ts.server.guard.passwords.dummy)
	if err != nil || got != cost {
		t.Fatalf("bcrypt.Cost(dummy) = %d, %v; want %d", got, err, cost)
	}
	u := ts.signup("cost@example.com")
	stored, err := ts.server.directory.UserByEmail(u.email)
	if err != nil {
		t.Fatalf("no user %s: %v", u.email, err)
	}
	if got, _ := bcrypt.Cost(stored.PasswordHash); got != cost {
		t.Fatalf("bcrypt.Cost(stored hash) = %d, want %d", got, cost)
	}
}

func TestConcurrentLoginsRunAtMostTheBoundOfBcrypts(t *testing.T) {
	const bound, logins = 2, 6
	ts := startServer(t, withAuthLimit(1000, 1), func(c *Config) { c.PasswordHashesMax = bound })
	var running, peak, entered atomic.Int32
	gate := make(chan struct{})
	hook := func() {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		entered.Add(1)
		<-gate
		running.Add(-1)
	}
	ts.server.guard.passwords.hook.Store(&hook)
	ts.server.guard.passwords.waitMax.Store(int64(time.Minute)) // a loaded machine must not time the waiters out
	var wg sync.WaitGroup
	statuses := make([]int, logins)
	for i := range logins {
		wg.Go(func() {
			r := ts.do("POST", "/v1/auth/login", "", map[string]string{"email": fmt.Sprintf("c%d@example.com", i), "password": "wrong password"})
			statuses[i] = r.status
		})
	}
	// Every login has counted its email and is past every check but the
	// bcrypt slot; the first two hold the slots.
	deadline := time.Now().Add(10 * time.Second)
	for ts.server.guard.emails.len() < logins || entered.Load() < bound {
		if time.Now().After(deadline) {
			t.Fatalf("%d logins counted, %d in bcrypt", ts.server.guard.emails.len(), entered.Load())
		}
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	for i, status := range statuses {
		if status != 401 {
			t.Errorf("login %d: status %d, want 401", i, status)
		}
	}
	if peak.Load() != bound || entered.Load() != logins {
		t.Fatalf("peak %d bcrypts at once over %d, want %d over %d", peak.Load(), entered.Load(), bound, logins)
	}
}

func TestPasswordSlotsRefuseAfterTheirWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := newPasswordHasher(bcrypt.MinCost, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !p.acquire() {
			t.Fatal("acquire() on a free slot = false")
		}
		start := time.Now()
		if _, apiErr := p.matches(nil, "password"); apiErr != errPasswordsBusy {
			t.Fatalf("matches() with every slot taken = %v, want errPasswordsBusy", apiErr)
		}
		if waited := time.Since(start); waited != passwordWaitMax {
			t.Fatalf("waited %v, want %v", waited, passwordWaitMax)
		}
		// A slot freed within the wait is taken.
		go func() {
			time.Sleep(passwordWaitMax / 2) // the bubble's clock: no real wait
			p.release()
		}()
		if ok, apiErr := p.matches(nil, "password"); ok || apiErr != nil {
			t.Fatalf("matches() = %v, %v; want false, nil", ok, apiErr)
		}
	})
}

func withKeyFailureLimit(requests, perSeconds uint32) serverOption {
	return func(c *Config) { c.KeyFailureLimit = access.RateLimit{Requests: requests, PerSeconds: perSeconds} }
}

func TestInvalidKeysPenalizeTheirClient(t *testing.T) {
	ts := startServer(t, withKeyFailureLimit(3, 60)) // 3, then one per 20 s
	m := ts.market("1000")
	unknown := "sk_test_" + strings.Repeat("x", keySecretChars)
	for _, token := range []string{unknown, "sk_test_short", "not a key"} {
		expect(t, ts.do("GET", "/v1/balance", token, nil), 401, "authentication_error", "invalid_credentials")
	}
	expectRateLimited(t, ts.do("GET", "/v1/balance", unknown, nil), "20")
	// Now even a valid key from this client is refused, before its lookup.
	expectRateLimited(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}), "20")
	ts.clock.Advance(10 * time.Second)
	expectRateLimited(t, ts.do("GET", "/v1/balance", m.key, nil), "10")
	// Another client is not affected.
	expect(t, ts.doWith(clientFrom("127.0.0.2"), "GET", "/v1/balance", m.key, nil), 200, "", "")
	ts.clock.Advance(10 * time.Second)
	expect(t, ts.do("GET", "/v1/balance", m.key, nil), 200, "", "")
	// The refilled token allows one more failure, then the penalty again.
	expect(t, ts.do("GET", "/v1/balance", unknown, nil), 401, "authentication_error", "invalid_credentials")
	expectRateLimited(t, ts.do("GET", "/v1/balance", unknown, nil), "20")
}

func TestKeyPenaltyCheckDoesNotAllocate(t *testing.T) {
	g, err := newAuthGuard(&Config{PasswordCost: bcrypt.MinCost,
		AuthRateLimit: access.RateLimit{Requests: 1, PerSeconds: 1}, KeyFailureLimit: access.RateLimit{Requests: 1, PerSeconds: 60}})
	if err != nil {
		t.Fatal(err)
	}
	requestFrom := func(ip string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}, nil)
		return &ctx
	}
	penalized, innocent := requestFrom("192.0.2.1"), requestFrom("2001:db8::1")
	now := time.Now().UnixNano()
	if allocs := testing.AllocsPerRun(100, func() { g.keyPenalty(innocent, now) }); allocs != 0 {
		t.Fatalf("keyPenalty with no client penalized: %v allocations, want 0", allocs)
	}
	g.keyFailed(penalized, now, errInvalidCredentials)
	if g.keyFailed(penalized, now, errInvalidCredentials) == errInvalidCredentials || g.keyPenalty(penalized, now) == nil {
		t.Fatal("the second failure did not penalize the client")
	}
	if allocs := testing.AllocsPerRun(100, func() {
		if g.keyPenalty(innocent, now) != nil {
			t.Fatal("an innocent client is penalized")
		}
	}); allocs != 0 {
		t.Fatalf("keyPenalty while another client is penalized: %v allocations, want 0", allocs)
	}
}

func TestClientKeysGroupIPv6By64(t *testing.T) {
	key := func(ip string) clientKey {
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP(ip)}, nil)
		return clientOf(&ctx)
	}
	if key("2001:db8:1:2::1") != key("2001:db8:1:2:ffff::9") {
		t.Error("two addresses of one /64 are different clients")
	}
	if key("2001:db8:1:2::1") == key("2001:db8:1:3::1") {
		t.Error("two /64s are one client")
	}
	if key("192.0.2.1") != key("::ffff:192.0.2.1") || key("192.0.2.1") == key("192.0.2.2") {
		t.Error("IPv4 clients are not told apart by address")
	}
}

func TestClientTablesStayBounded(t *testing.T) {
	table := newClientTable(hashName, clientShards*4, time.Minute)
	limit := access.RateLimit{Requests: 1, PerSeconds: 60}
	now := int64(0)
	for i := range 10_000 {
		now += int64(time.Millisecond)
		take(table, fmt.Sprint(i), limit, now)
		if n := table.len(); n > clientShards*4 {
			t.Fatalf("after %d clients the table holds %d, want at most %d", i+1, n, clientShards*4)
		}
	}
	// The clients seen last are kept; the first are evicted.
	if _, ok := table.get("9999"); !ok {
		t.Error("the last client was evicted")
	}
	if _, ok := table.get("0"); ok {
		t.Error("the first client is still there")
	}
	// Once idle, entries make room all at once.
	now += int64(time.Minute)
	take(table, "new", limit, now)
	if n, want := table.len(), (clientShards-1)*4+1; n != want {
		t.Errorf("after idling the table holds %d, want %d: one shard emptied but for the new client", n, want)
	}
}

func TestChallengeStoreBoundsAddressesAndTheWhole(t *testing.T) {
	c := newChallengeStore()
	ttl := int64(challengeTTL)
	for i := range challengesPerAddressMax + 1 {
		c.add(fmt.Sprint("n", i), "A", ttl, 0)
	}
	if _, ok := c.take("n0", 1); ok {
		t.Error("the address's oldest challenge was not replaced")
	}
	if address, ok := c.take("n1", 1); !ok || address != "A" {
		t.Errorf("take(n1) = %q, %v; want A, true", address, ok)
	}
	if _, ok := c.take("n1", 1); ok {
		t.Error("a nonce worked twice")
	}
	// A full store evicts its oldest instead of refusing.
	c = newChallengeStore()
	for i := range challengesMax + 1 {
		c.add(fmt.Sprint("m", i), fmt.Sprint("address", i), ttl, 0)
	}
	if c.len() != challengesMax {
		t.Fatalf("store holds %d, want %d", c.len(), challengesMax)
	}
	if _, ok := c.take("m0", 1); ok {
		t.Error("the oldest challenge of a full store was not evicted")
	}
	if _, ok := c.take(fmt.Sprint("m", challengesMax), 1); !ok {
		t.Error("the newest challenge is missing")
	}
	// Expired challenges are dropped by the next add, and never taken.
	c.add("late", "B", 2*ttl, ttl)
	if c.len() != 1 {
		t.Fatalf("after expiry the store holds %d, want 1", c.len())
	}
	if _, ok := c.take("late", 2*ttl); ok {
		t.Error("an expired challenge was taken")
	}
}

func TestChallengesAreLimitedPerClientAndPerAddress(t *testing.T) {
	ts := startServer(t, withAuthLimit(addressChallengeRequests+2, 60))
	challenge := func(c *http.Client, address string) response {
		return ts.doWith(c, "POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address})
	}
	a, b := "0x"+strings.Repeat("a1", 20), "0x"+strings.Repeat("b2", 20)
	for range addressChallengeRequests {
		expect(t, challenge(client, a), 200, "", "")
	}
	expectRateLimited(t, challenge(client, a), "6")
	expect(t, challenge(client, b), 200, "", "")
	// This client's bucket is now empty; another's is not.
	expectRateLimited(t, challenge(client, b), "5")
	expect(t, challenge(clientFrom("127.0.0.2"), b), 200, "", "")
	if n := ts.server.guard.challenges.len(); n != challengesPerAddressMax+2 {
		t.Fatalf("%d challenges outstanding, want %d (%d for a, 2 for b)", n, challengesPerAddressMax+2, challengesPerAddressMax)
	}
}

func TestSignInWithEthereumChecksTheURI(t *testing.T) {
	ts := startServer(t)
	key, _ := crypto.GenerateKey()
	address := crypto.PubkeyToAddress(key.PublicKey).Hex()
	message := expect(t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}), 200, "", "")["message"].(string)
	wrong := strings.Replace(message, "URI: http://"+ts.server.config.Domain+"\n", "URI: http://evil.example\n", 1)
	if wrong == message {
		t.Fatalf("the challenge has no URI line for %s:\n%s", ts.server.config.Domain, message)
	}
	signature, err := siwe.Sign(wrong, key)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": wrong, "signature": signature}), 401, "authentication_error", "invalid_credentials")
}

func TestChallengesDoNotOutliveARestart(t *testing.T) {
	ts := startServer(t)
	// A row as earlier versions stored challenges: the upgrade deletes it.
	legacy := access.Nonce{Value: "legacyNonce0123456789a", Address: "0x" + strings.Repeat("ab", 20), ExpiresAt: ts.clock.Now().Add(time.Hour)}
	rowKey, rowValue := access.Row(&legacy)
	if _, err := ts.engine.WriteRows(context.Background(), engine.Row{Key: rowKey, Value: rowValue}); err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	address := crypto.PubkeyToAddress(key.PublicKey).Hex()
	message := expect(t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}), 200, "", "")["message"].(string)
	signature, err := siwe.Sign(message, key)
	if err != nil {
		t.Fatal(err)
	}
	domain := ts.server.config.Domain // the message names it: keep it, so only the restart can refuse the login
	ts.restart(func(c *Config) { c.Domain = domain })
	expect(t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": message, "signature": signature}), 401, "authentication_error", "invalid_credentials")
	rows := 0
	if err := ts.engine.ScanRows([]byte(access.PrefixNonce), func(_, _ []byte) error { rows++; return nil }); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("%d challenge rows after a restart, want 0", rows)
	}
}

// BenchmarkKeyPenalty measures what the key-failure penalty adds to a valid
// key's request: while no client is penalized, and while another is.
func BenchmarkKeyPenalty(b *testing.B) {
	g, err := newAuthGuard(&Config{PasswordCost: bcrypt.MinCost,
		AuthRateLimit: access.RateLimit{Requests: 1, PerSeconds: 1}, KeyFailureLimit: access.RateLimit{Requests: 1, PerSeconds: 60}})
	if err != nil {
		b.Fatal(err)
	}
	var ctx, other fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP("192.0.2.1")}, nil)
	other.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP("192.0.2.2")}, nil)
	now := time.Now().UnixNano()
	b.Run("none penalized", func(b *testing.B) {
		for b.Loop() {
			g.keyPenalty(&ctx, now)
		}
	})
	g.keyFailed(&other, now, errInvalidCredentials)
	g.keyFailed(&other, now, errInvalidCredentials)
	b.Run("another penalized", func(b *testing.B) {
		for b.Loop() {
			g.keyPenalty(&ctx, now)
		}
	})
}

// A wallet may sign the challenge without its Expiration Time line (EIP-4361
// makes it optional): the login works while the challenge's nonce lives,
// and not after challengeTTL, which bounds such a message instead.
func TestSignInWithEthereumWithoutExpirationTime(t *testing.T) {
	ts := startServer(t)
	signIn := func() (message, signature string) {
		key, _ := crypto.GenerateKey()
		address := crypto.PubkeyToAddress(key.PublicKey).Hex()
		challenge := expect(t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}), 200, "", "")["message"].(string)
		lines := strings.Split(challenge, "\n")
		kept := lines[:0]
		for _, line := range lines {
			if !strings.HasPrefix(line, "Expiration Time: ") {
				kept = append(kept, line)
			}
		}
		message = strings.Join(kept, "\n")
		if message == challenge {
			t.Fatalf("the challenge has no Expiration Time line:\n%s", challenge)
		}
		signature, err := siwe.Sign(message, key)
		if err != nil {
			t.Fatal(err)
		}
		return message, signature
	}
	message, signature := signIn()
	expect(t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": message, "signature": signature}), 200, "", "")

	message, signature = signIn()
	ts.clock.Advance(challengeTTL)
	expect(t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": message, "signature": signature}), 401, "authentication_error", "invalid_credentials")
}
