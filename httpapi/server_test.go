package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

const testAdminToken = "adm_test_admin_token_0123456789"

// testServer is a real server on 127.0.0.1 with its engine, driven over
// HTTP by the tests, with its log captured so tests can search it.
type testServer struct {
	t      *testing.T
	url    string
	dir    string
	engine *engine.Engine
	server *Server
	clock  *testClock
	logs   *syncBuffer
	// notTheAPI: the server is a ChargeFront, whose answers are its
	// maker's, not openapi.json's.
	notTheAPI bool
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type serverOption func(*Config)

func startServer(t *testing.T, options ...serverOption) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir(), clock: &testClock{now: time.Now().UTC()}, logs: &syncBuffer{}}
	ts.start(options...)
	return ts
}

func (ts *testServer) start(options ...serverOption) {
	t := ts.t
	logger := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := engine.Open(engine.Options{Dir: ts.dir, FeeBps: 100, Logger: logger, Clock: ts.clock.Now})
	if err != nil {
		t.Fatalf("engine.Open: %v", err)
	}
	secrets, _, err := LoadSecrets(context.Background(), eng, ts.dir, testAdminToken, "")
	if err != nil {
		t.Fatalf("LoadSecrets: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	config := Config{
		Engine: eng, Logger: logger, AdminTokenHash: secrets.AdminTokenHash, JWTSecret: secrets.JWTSecret,
		Pepper: secrets.Pepper, FeeBps: 100, RateLimit: access.RateLimit{Requests: 1000, PerSeconds: 1},
		Domain: ln.Addr().String(), PasswordCost: bcrypt.MinCost, Clock: ts.clock.Now, Version: "test",
	}
	for _, option := range options {
		option(&config)
	}
	server, err := New(config)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	go server.Serve(ln)
	ts.url, ts.engine, ts.server = "http://"+ln.Addr().String(), eng, server
	t.Cleanup(ts.stop)
}

func (ts *testServer) stop() {
	if ts.server == nil {
		return
	}
	ts.server.Shutdown(context.Background())
	ts.engine.Close()
	ts.server = nil
}

// restart stops the server cleanly and starts it again on the same data.
func (ts *testServer) restart(options ...serverOption) {
	ts.stop()
	ts.start(options...)
}

// response is one HTTP exchange's result.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response %d is not a JSON object: %q", r.status, r.body)
	}
	return v
}

var client = &http.Client{Timeout: 10 * time.Second}

// do sends a request; headers alternate names and values.
func (ts *testServer) do(method, path, token string, body any, headers ...string) response {
	ts.t.Helper()
	return ts.doWith(client, method, path, token, body, headers...)
}

// doWith is do through c (e.g. a client from another address, clientFrom).
func (ts *testServer) doWith(c *http.Client, method, path, token string, body any, headers ...string) response {
	ts.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		encoded, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		reader = bytes.NewReader(encoded)
	}
	request, err := http.NewRequest(method, ts.url+path, reader)
	if err != nil {
		ts.t.Fatal(err)
	}
	request.Header.Set("Content-Type", "application/json")
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		request.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(request)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if id := resp.Header.Get("X-Request-Id"); !strings.HasPrefix(id, "req_") {
		ts.t.Errorf("%s %s: X-Request-Id = %q, want req_…", method, path, id)
	}
	if !ts.notTheAPI {
		reportOpenAPI(ts.t, request, resp.StatusCode, resp.Header, data)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// expect checks status and, for errors, type and code.
func expect(t *testing.T, r response, status int, kind, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if status == http.StatusNoContent {
		return nil
	}
	v := r.json(t)
	if kind == "" {
		return v
	}
	e, ok := v["error"].(map[string]any)
	if !ok || e["type"] != kind || e["code"] != code || !strings.HasPrefix(fmt.Sprint(e["request_id"]), "req_") {
		t.Fatalf("error = %s, want type %s code %s with a request_id", r.body, kind, code)
	}
	return e
}

// ---- fixtures

type user struct {
	id, email, password, access, refresh string
}

func (ts *testServer) signup(email string) user {
	ts.t.Helper()
	u := user{email: email, password: "correct horse " + email}
	v := expect(ts.t, ts.do("POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": u.password}), 201, "", "")
	u.id = v["user"].(map[string]any)["id"].(string)
	pair := expect(ts.t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": u.password}), 200, "", "")
	u.access, u.refresh = pair["accessToken"].(string), pair["refreshToken"].(string)
	return u
}

func (ts *testServer) account(u user, environment string) string {
	ts.t.Helper()
	v := expect(ts.t, ts.do("POST", "/v1/accounts", u.access, map[string]string{"name": "acct", "environment": environment}), 201, "", "")
	return v["id"].(string)
}

func (ts *testServer) credit(account string, amount string) {
	ts.t.Helper()
	expect(ts.t, ts.do("POST", "/v1/admin/accounts/"+account+"/credit", testAdminToken, map[string]string{"amount": amount}), 200, "", "")
}

// key creates a key on account with body's fields (kind secret, scopes *
// unless given) and returns its id and plaintext.
func (ts *testServer) key(u user, account string, body map[string]any) (id, plaintext string) {
	ts.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if body["kind"] == nil {
		body["kind"] = "secret"
	}
	if body["scopes"] == nil {
		body["scopes"] = []string{"*"}
	}
	body["label"] = "test"
	v := expect(ts.t, ts.do("POST", "/v1/accounts/"+account+"/keys", u.access, body), 201, "", "")
	return v["id"].(string), v["key"].(string)
}

func (ts *testServer) available(key string) string {
	ts.t.Helper()
	return expect(ts.t, ts.do("GET", "/v1/balance", key, nil), 200, "", "")["available"].(string)
}

// market is one consumer with a funded account and a key, and a supplier.
type market struct {
	consumer, supplier         user
	payer, payee               string
	key, keyID                 string
	supplierKey, supplierKeyID string
}

func (ts *testServer) market(funds string) market {
	ts.t.Helper()
	m := market{consumer: ts.signup(fmt.Sprintf("consumer-%d@example.com", time.Now().UnixNano())),
		supplier: ts.signup(fmt.Sprintf("supplier-%d@example.com", time.Now().UnixNano()))}
	m.payer, m.payee = ts.account(m.consumer, "test"), ts.account(m.supplier, "test")
	ts.credit(m.payer, funds)
	m.keyID, m.key = ts.key(m.consumer, m.payer, nil)
	m.supplierKeyID, m.supplierKey = ts.key(m.supplier, m.payee, nil)
	return m
}

func sha(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }
