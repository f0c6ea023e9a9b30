package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Allocations per HTTP charge (issue 18): a real Server on a 127.0.0.1
// listener over a real engine on a temporary directory, charged by one
// sequential caller in the same process through a fasthttp client that
// reuses its request and response. The client and the TCP transport are
// taken out by subtracting the same client against a bare fasthttp server
// that answers a body of the same size (the baseline). What is left is the
// server's charge path: transport wrapper, router, request id, key lookup
// and actor, decoding, idempotency, the engine's charge and its log
// commit, the answer, metrics. Background work counts too (the log's
// committer, Pebble): with one caller it runs once per charge, so it is
// the charge's.
//
// The budgets that CI checks are in allocs_budget_test.go.

// allocRig is the server, its consumer and the client of the measurement.
type allocRig struct {
	engine  *engine.Engine
	server  *Server
	client  *fasthttp.HostClient
	request *fasthttp.Request
	answer  *fasthttp.Response

	noop        *fasthttp.Server
	noopClient  *fasthttp.HostClient
	noopRequest *fasthttp.Request

	// idempotencyKeys numbers the Idempotency-Keys of chargeIdempotent.
	idempotencyKeys uint64
	// batch is a POST /v1/charges/batch of batchCharges charges.
	batch *fasthttp.Request
}

// batchCharges is the size of chargeBatch's batches.
const batchCharges = 100

// newAllocRig starts the server with a logger at Info, as in production
// (the tests' Debug logger writes a line per request), and makes one
// consumer through the public API: a funded account and a secret key with
// charges:write and a rate limit that a benchmark does not exhaust, as the
// load benchmark's consumers (bench.PrepareHTTP).
func newAllocRig(tb testing.TB) *allocRig {
	tb.Helper()
	dir := tb.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: 100, Logger: logger})
	if err != nil {
		tb.Fatalf("engine.Open: %v", err)
	}
	secrets, _, err := LoadSecrets(context.Background(), eng, dir, testAdminToken, "")
	if err != nil {
		tb.Fatalf("LoadSecrets: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	server, err := New(Config{
		Engine: eng, Logger: logger, AdminTokenHash: secrets.AdminTokenHash, JWTSecret: secrets.JWTSecret,
		Pepper: secrets.Pepper, FeeBps: 100, Domain: ln.Addr().String(), PasswordCost: 4, Version: "test",
		RateLimit: access.RateLimit{Requests: 1000, PerSeconds: 1},
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	go server.Serve(ln)
	r := &allocRig{engine: eng, server: server}
	tb.Cleanup(r.close)
	r.client = &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 1}

	email, password := fmt.Sprintf("allocs-%d@example.com", time.Now().UnixNano()), "allocs password"
	r.call(tb, "/v1/auth/signup", "", map[string]string{"email": email, "password": password}, 201)
	access := r.call(tb, "/v1/auth/login", "", map[string]string{"email": email, "password": password}, 200)["accessToken"].(string)
	payer := r.call(tb, "/v1/accounts", access, map[string]string{"name": "payer", "environment": "test"}, 201)["id"].(string)
	payee := r.call(tb, "/v1/accounts", access, map[string]string{"name": "payee", "environment": "test"}, 201)["id"].(string)
	r.call(tb, "/v1/admin/accounts/"+payer+"/credit", testAdminToken, map[string]string{"amount": "1000000000000"}, 200)
	key := r.call(tb, "/v1/accounts/"+payer+"/keys", access, map[string]any{
		"label": "allocs", "kind": "secret", "scopes": []string{"charges:write"},
		"rateLimit": map[string]int{"requests": 1_000_000, "perSeconds": 1},
	}, 201)["key"].(string)

	r.request, r.answer = fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	r.request.SetRequestURI("http://" + r.client.Addr + "/v1/charges")
	r.request.Header.SetMethod("POST")
	r.request.Header.SetContentType("application/json")
	r.request.Header.Set("Authorization", "Bearer "+key)
	r.request.SetBodyString(`{"to":"` + payee + `","amount":"1"}`)
	r.charge(tb)
	r.batch = fasthttp.AcquireRequest()
	r.request.CopyTo(r.batch)
	r.batch.SetRequestURI("http://" + r.client.Addr + "/v1/charges/batch")
	batch := []byte(`{"charges":[`)
	for i := range batchCharges {
		if i > 0 {
			batch = append(batch, ',')
		}
		batch = append(batch, r.request.Body()...)
	}
	r.batch.SetBody(append(batch, "]}"...))

	// The baseline: the same client, connection and request against a
	// server that answers at once with a body as long as a charge's.
	noopBody := append([]byte(nil), r.answer.Body()...)
	noopLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r.noop = &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(fasthttp.StatusCreated)
		ctx.SetContentType("application/json")
		ctx.SetBody(noopBody)
	}}
	go r.noop.Serve(noopLn)
	r.noopClient = &fasthttp.HostClient{Addr: noopLn.Addr().String(), MaxConns: 1}
	r.noopRequest = fasthttp.AcquireRequest()
	r.request.CopyTo(r.noopRequest)
	r.noopRequest.SetRequestURI("http://" + r.noopClient.Addr + "/v1/charges")
	r.noopCall(tb)
	return r
}

func (r *allocRig) close() {
	r.client.CloseIdleConnections()
	if r.noopClient != nil {
		r.noopClient.CloseIdleConnections()
		r.noop.Shutdown()
	}
	r.server.Shutdown(context.Background())
	r.engine.Close()
}

// call POSTs body as JSON during setup and decodes the answer.
func (r *allocRig) call(tb testing.TB, path, token string, body any, want int) map[string]any {
	tb.Helper()
	request, response := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(request)
	defer fasthttp.ReleaseResponse(response)
	request.SetRequestURI("http://" + r.client.Addr + path)
	request.Header.SetMethod("POST")
	request.Header.SetContentType("application/json")
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	encoded, _ := json.Marshal(body)
	request.SetBody(encoded)
	if err := r.client.DoTimeout(request, response, 10*time.Second); err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	if response.StatusCode() != want {
		tb.Fatalf("POST %s = %d %s, want %d", path, response.StatusCode(), response.Body(), want)
	}
	var v map[string]any
	if err := json.Unmarshal(response.Body(), &v); err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	return v
}

// charge sends one POST /v1/charges and checks it was answered 201.
func (r *allocRig) charge(tb testing.TB) {
	if err := r.client.Do(r.request, r.answer); err != nil {
		tb.Fatalf("POST /v1/charges: %v", err)
	}
	if r.answer.StatusCode() != fasthttp.StatusCreated {
		tb.Fatalf("POST /v1/charges = %d %s, want 201", r.answer.StatusCode(), r.answer.Body())
	}
}

// chargeIdempotent sends one POST /v1/charges with a new Idempotency-Key
// and checks it was answered 201.
func (r *allocRig) chargeIdempotent(tb testing.TB) {
	r.idempotencyKeys++
	var key [24]byte
	r.request.Header.SetBytesV("Idempotency-Key", strconv.AppendUint(append(key[:0], "k-"...), r.idempotencyKeys, 10))
	r.charge(tb)
	r.request.Header.Del("Idempotency-Key")
}

// chargeBatch sends one POST /v1/charges/batch of batchCharges charges and
// checks it was answered 200.
func (r *allocRig) chargeBatch(tb testing.TB) {
	if err := r.client.Do(r.batch, r.answer); err != nil {
		tb.Fatalf("POST /v1/charges/batch: %v", err)
	}
	if r.answer.StatusCode() != fasthttp.StatusOK {
		tb.Fatalf("POST /v1/charges/batch = %d %s, want 200", r.answer.StatusCode(), r.answer.Body())
	}
}

// noopCall sends the same request to the baseline server.
func (r *allocRig) noopCall(tb testing.TB) {
	if err := r.noopClient.Do(r.noopRequest, r.answer); err != nil {
		tb.Fatalf("baseline POST: %v", err)
	}
}

// processCPU returns the process's user and system CPU time so far: the
// server's, the client's and the engine's together (one process).
func processCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// allocation is what n calls allocated, per call.
type allocation struct{ allocs, bytes float64 }

// measureAllocs runs f n times and returns the heap allocations per call
// (runtime.MemStats, the whole process).
func measureAllocs(n int, f func()) allocation {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return allocation{
		allocs: float64(after.Mallocs-before.Mallocs) / float64(n),
		bytes:  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
	}
}

// serverAllocs measures n charges (charge or chargeIdempotent) and n
// baseline requests, after warmup of each, and returns the difference per
// charge: the server's.
func (r *allocRig) serverAllocs(tb testing.TB, charge func(testing.TB), warmup, n int) allocation {
	tb.Helper()
	for range warmup {
		charge(tb)
		r.noopCall(tb)
	}
	charges := measureAllocs(n, func() { charge(tb) })
	baseline := measureAllocs(n, func() { r.noopCall(tb) })
	return allocation{allocs: charges.allocs - baseline.allocs, bytes: charges.bytes - baseline.bytes}
}

// BenchmarkChargeAllocs reports the server's allocations per HTTP charge
// (server-allocs/op, server-B/op: the baseline subtracted) beside the
// whole process's (allocs/op, B/op, client included). Time per op is one
// sequential caller's round trip with its fsync, not a throughput figure.
//
//	go test -run '^$' -bench ChargeAllocs -benchmem ./httpapi/ ./engine/
//
// The sub-benchmarks: a charge without an Idempotency-Key, and with a new
// one each (the key read, the request hashed, the response stored), and a
// batch of batchCharges charges (its figures are per batch).
func BenchmarkChargeAllocs(b *testing.B) {
	r := newAllocRig(b)
	for _, c := range []struct {
		name   string
		charge func(testing.TB)
	}{{"plain", r.charge}, {"idempotency-key", r.chargeIdempotent}, {"batch-of-100", r.chargeBatch}} {
		b.Run(c.name, func(b *testing.B) {
			for range 200 {
				c.charge(b)
				r.noopCall(b)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			charges := measureAllocs(b.N, func() { c.charge(b) })
			cpu = processCPU() - cpu
			b.StopTimer()
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			baseline := measureAllocs(b.N, func() { r.noopCall(b) })
			b.ReportMetric(charges.allocs-baseline.allocs, "server-allocs/op")
			b.ReportMetric(charges.bytes-baseline.bytes, "server-B/op")
		})
	}
}

// BenchmarkSecretHash compares hashing an API key with a new HMAC per call
// (before issue 18) and with the pooled one (secretHasher.sum).
func BenchmarkSecretHash(b *testing.B) {
	pepper := make([]byte, pepperBytes)
	key := []byte("sk_test_" + strings.Repeat("k", keySecretChars))
	b.Run("hmac.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mac := hmac.New(sha256.New, pepper)
			mac.Write(key)
			mac.Sum(nil)
		}
	})
	b.Run("pooled", func(b *testing.B) {
		h := newSecretHasher(pepper)
		b.ReportAllocs()
		for b.Loop() {
			h.sum(key)
		}
	})
}

// BenchmarkChargeFront times the HTTP layer of a charge alone, CPU-bound:
// ChargeFront's handler (router, request id, the key's HMAC and lookup,
// decoding, the Idempotency-Key check, the answer) on a prepared request,
// without network, key actor or engine.
func BenchmarkChargeFront(b *testing.B) {
	front, err := NewChargeFront(ChargeFrontConfig{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Charge:      func(buf []byte, payer string) []byte { return append(buf, `{"id":"ch_0"}`...) },
		ChargeBatch: func(buf []byte, payer string, n int) []byte { return append(buf, `{"results":[]}`...) },
	})
	if err != nil {
		b.Fatal(err)
	}
	key := "sk_test_" + randomBase62(keySecretChars)
	if _, err := front.AddKeys([]FrontKey{{Key: key, Account: "acct_" + randomBase62(idChars)}}); err != nil {
		b.Fatal(err)
	}
	var request fasthttp.Request
	request.SetRequestURI("/v1/charges")
	request.Header.SetMethod("POST")
	request.Header.SetContentType("application/json")
	request.Header.Set("Authorization", "Bearer "+key)
	request.SetBodyString(`{"to":"acct_` + randomBase62(idChars) + `","amount":"1"}`)
	var ctx fasthttp.RequestCtx
	ctx.Init(&request, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	handler := front.Handler()
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != fasthttp.StatusCreated {
			b.Fatalf("POST /v1/charges = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
