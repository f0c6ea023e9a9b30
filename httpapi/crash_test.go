package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// The HTTP crash test runs the server in a child process (this test binary,
// re-executed), drives charges at it over HTTP from many goroutines, kills
// it with SIGKILL while requests are in flight, and restarts it on the same
// directory, a few times. Then it checks, over HTTP, that every charge that
// was answered 201 is there exactly once, that the charges whose answer was
// lost are either wholly applied or not at all (a retry with the same
// Idempotency-Key tells which, and applies the missing ones once), that the
// balances are exactly what the applied charges imply, and that users and
// keys survived.

const (
	httpCrashChildEnv = "TOLLWAY_HTTP_CRASH_CHILD_DIR"
	// httpCrashAheadEnv sets the child's clock (engine and server) ahead of
	// the wall clock by a duration: a restart "later", with no wait.
	httpCrashAheadEnv = "TOLLWAY_HTTP_CRASH_CHILD_AHEAD"
	httpCrashRounds   = 3
	httpCrashWorkers  = 16
	httpCrashFunds    = 1_000_000_000_000 // credited to the consumer: never runs out
	httpCrashAmount   = 10_000            // charges are 1..httpCrashAmount
	httpCrashFeeBps   = 100               // as the child's engine and server
)

// httpCrashPrivateEnv, set, lets the child connect to private targets
// (Config.AllowPrivateTargets): a test's webhook receiver on 127.0.0.1.
const httpCrashPrivateEnv = "TOLLWAY_HTTP_CRASH_CHILD_PRIVATE_TARGETS"

func TestHTTPCrashChild(t *testing.T) {
	dir := os.Getenv(httpCrashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestHTTPServerSurvivesKill9")
	}
	runHTTPCrashChild(dir)
}

// runHTTPCrashChild serves the API on dir until it is killed.
func runHTTPCrashChild(dir string) {
	fatal := func(what string, err error) {
		fmt.Printf("FATAL %s: %v\n", what, err)
		os.Exit(3)
	}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clock := time.Now
	if ahead, err := time.ParseDuration(os.Getenv(httpCrashAheadEnv)); err == nil {
		clock = func() time.Time { return time.Now().Add(ahead) }
	}
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: httpCrashFeeBps, Logger: logger, Clock: clock})
	if err != nil {
		fatal("engine.Open", err)
	}
	secrets, _, err := LoadSecrets(ctx, eng, dir, testAdminToken, "")
	if err != nil {
		fatal("LoadSecrets", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal("listen", err)
	}
	addr := ln.Addr().String()
	server, err := New(Config{
		Engine: eng, Logger: logger, AdminTokenHash: secrets.AdminTokenHash, JWTSecret: secrets.JWTSecret,
		Pepper: secrets.Pepper, FeeBps: httpCrashFeeBps, RateLimit: access.RateLimit{Requests: 1_000_000, PerSeconds: 1},
		Domain: addr, PasswordCost: bcrypt.MinCost, Version: "crash-child", Clock: clock,
		AllowPrivateTargets: os.Getenv(httpCrashPrivateEnv) != "",
	})
	if err != nil {
		fatal("New", err)
	}
	go func() {
		fatal("Serve", server.Serve(ln))
	}()
	fmt.Printf("LISTENING http://%s\n", addr)
	select {} // until SIGKILL
}

// crashChild is one server process.
type crashChild struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed once the process is reaped
}

// listenWatcher is the child's stdout: it keeps everything and sends the
// URL of the first "LISTENING <url>" line.
type listenWatcher struct {
	out     *syncBuffer
	mu      sync.Mutex
	partial []byte
	url     chan string
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.out.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.url == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimSpace(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
		if url, ok := strings.CutPrefix(line, "LISTENING "); ok {
			w.url <- url // buffered
			w.url, w.partial = nil, nil
			return len(p), nil
		}
	}
}

// startCrashChild starts a server process on dir and waits until it listens.
func startCrashChild(t *testing.T, dir string) *crashChild {
	t.Helper()
	return startCrashChildAhead(t, dir, 0)
}

// startCrashChildAhead is startCrashChild with the child's clock ahead of
// the wall clock by ahead.
func startCrashChildAhead(t *testing.T, dir string, ahead time.Duration) *crashChild {
	t.Helper()
	c := &crashChild{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	urls := make(chan string, 1)
	// -test.timeout ends an orphaned child should the parent die first.
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestHTTPCrashChild$", "-test.count=1", "-test.timeout=3m")
	c.cmd.Env = append(os.Environ(), httpCrashChildEnv+"="+dir, httpCrashAheadEnv+"="+ahead.String())
	c.cmd.Stdout = &listenWatcher{out: c.stdout, url: urls}
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("child %d stdout:\n%s\nstderr:\n%s", c.cmd.Process.Pid, c.stdout, c.stderr)
		}
	})
	select {
	case c.url = <-urls:
	case <-c.exited:
		t.Fatalf("the server process exited before listening: %v\nstdout:\n%s\nstderr:\n%s", c.cmd.ProcessState, c.stdout, c.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("the server process did not listen within 15s\nstdout:\n%s\nstderr:\n%s", c.stdout, c.stderr)
	}
	return c
}

// kill sends SIGKILL (if the process still runs) and reaps the process.
func (c *crashChild) kill() {
	c.cmd.Process.Kill() // SIGKILL; an error only says it is gone already
	<-c.exited
}

// alive reports whether the process still runs.
func (c *crashChild) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// crashCharge is one charge the parent sent: its Idempotency-Key and the
// exact body, so a retry is the same request.
type crashCharge struct {
	key    string
	body   []byte
	amount uint64
	round  int
}

func crashFee(amount uint64) uint64 { return amount * httpCrashFeeBps / 10000 }

// rawDo sends one request without a *testing.T, for other goroutines.
func crashDo(c *http.Client, url, method, path, token string, body []byte, headers ...string) (int, []byte, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	request, err := http.NewRequest(method, url+path, reader)
	if err != nil {
		return 0, nil, err
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
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// crashChargeJSON is the part of a charge response the test checks.
type crashChargeJSON struct {
	ID       string `json:"id"`
	From     string `json:"from"`
	To       string `json:"to"`
	Amount   string `json:"amount"`
	Fee      string `json:"fee"`
	ToAmount string `json:"toAmount"`
	Replayed bool   `json:"replayed"`
	Balance  *struct {
		Available string `json:"available"`
	} `json:"balance"`
}

// checkChargeJSON checks a charge response against what was sent.
func checkChargeJSON(body []byte, m market, c crashCharge) (crashChargeJSON, error) {
	var v crashChargeJSON
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("charge response %q: %v", body, err)
	}
	want := crashChargeJSON{ID: string(chargeID(m.payer, c.key)), From: m.payer, To: m.payee,
		Amount: strconv.FormatUint(c.amount, 10), Fee: strconv.FormatUint(crashFee(c.amount), 10),
		ToAmount: strconv.FormatUint(c.amount-crashFee(c.amount), 10)}
	got := v
	got.Replayed, got.Balance = false, nil
	if got != want {
		return v, fmt.Errorf("charge %s answered %s, want %+v", c.key, body, want)
	}
	return v, nil
}

// crashRound drives charges at child until it kills it: after runFor, or
// once more than ackedMax charges were acknowledged. It returns the charges
// answered 201 and those whose answer was lost.
func crashRound(t *testing.T, child *crashChild, m market, round int, runFor time.Duration, ackedMax int64) (acked, unknown []crashCharge) {
	t.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: httpCrashWorkers * 2}
	defer transport.CloseIdleConnections()
	httpClient := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	var (
		mu         sync.Mutex
		failures   []string
		ackedCount atomic.Int64
		stop       atomic.Bool
		wg         sync.WaitGroup
	)
	for w := range httpCrashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for i := 0; !stop.Load(); i++ {
				c := crashCharge{key: fmt.Sprintf("crash-r%d-w%d-%d", round, w, i), amount: 1 + rng.Uint64N(httpCrashAmount), round: round}
				c.body, _ = json.Marshal(map[string]string{"to": m.payee, "amount": strconv.FormatUint(c.amount, 10)})
				status, body, err := crashDo(httpClient, child.url, "POST", "/v1/charges", m.key, c.body, "Idempotency-Key", c.key)
				mu.Lock()
				switch {
				case err != nil:
					// The process died with the request in flight (or before
					// it was sent): it may or may not have been applied.
					// (net/http retries a POST with an Idempotency-Key on a
					// new connection when its reused one broke, so even
					// "connection refused" may follow a request the server
					// received.)
					unknown = append(unknown, c)
				case status != http.StatusCreated:
					failures = append(failures, fmt.Sprintf("%s: %d %s", c.key, status, body))
				default:
					if v, err := checkChargeJSON(body, m, c); err != nil {
						failures = append(failures, err.Error())
					} else if v.Replayed || v.Balance == nil {
						failures = append(failures, fmt.Sprintf("first answer to %s is a replay or lacks the balance: %s", c.key, body))
					}
					acked = append(acked, c)
					ackedCount.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	started := time.Now()
	deadline := started.Add(runFor)
	for time.Now().Before(deadline) && ackedCount.Load() <= ackedMax && child.alive() {
		time.Sleep(2 * time.Millisecond)
	}
	if !child.alive() {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("round %d: the server process died by itself: %v\nstderr:\n%s", round, child.cmd.ProcessState, child.stderr)
	}
	child.cmd.Process.Kill() // SIGKILL, while the workers' requests are in flight
	stop.Store(true)
	<-child.exited
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("round %d: %d unexpected answers, e.g. %q", round, len(failures), failures[:min(len(failures), 5)])
	}
	t.Logf("round %d: killed after %v (limit %v or %d acknowledged): %d acknowledged, %d answers lost",
		round, time.Since(started).Round(time.Millisecond), runFor, ackedMax, len(acked), len(unknown))
	return acked, unknown
}

// parallel runs fn over n items with a few goroutines.
func crashParallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func crashAvailable(ts *testServer, key string) uint64 {
	ts.t.Helper()
	s := ts.available(key)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		ts.t.Fatalf("available %q: %v", s, err)
	}
	return v
}

func TestHTTPServerSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns server processes")
	}
	start := time.Now()
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))

	child := startCrashChild(t, dir)
	ts := &testServer{t: t, url: child.url}
	m := ts.market(strconv.FormatUint(httpCrashFunds, 10))

	var acked, unknown []crashCharge
	for round := range httpCrashRounds {
		runFor := time.Duration(300+rng.IntN(200)) * time.Millisecond
		ackedMax := int64(200 + rng.IntN(200))
		a, u := crashRound(t, child, m, round, runFor, ackedMax)
		acked, unknown = append(acked, a...), append(unknown, u...)
		client.CloseIdleConnections() // those of the dead process
		restarted := time.Now()
		child = startCrashChild(t, dir)
		ts.url = child.url
		t.Logf("round %d: restarted in %v; %d acknowledged and %d lost so far",
			round, time.Since(restarted).Round(time.Millisecond), len(acked), len(unknown))
	}
	if len(acked) < httpCrashRounds*10 {
		t.Fatalf("only %d charges acknowledged over %d rounds: too few to prove anything", len(acked), httpCrashRounds)
	}
	if len(unknown) == 0 {
		t.Logf("no charge was in flight at any kill: the in-flight path went untested this run")
	}

	// The server is ready, users can log in with their passwords, and the
	// keys made before the first kill still work.
	expect(t, ts.do("GET", "/readyz", "", nil), 200, "", "")
	for _, u := range []user{m.consumer, m.supplier} {
		pair := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200, "", "")
		if pair["user"].(map[string]any)["id"] != u.id {
			t.Fatalf("login of %s after the kills = %v, want user %s", u.email, pair, u.id)
		}
	}
	consumerBefore := crashAvailable(ts, m.key)
	supplierBefore := crashAvailable(ts, m.supplierKey)
	// Usage counts what was applied, once, whatever the kills interrupted.
	usageRange := "from=" + start.UTC().AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	_, spent := ts.usage(m.key, usageRange)
	_, earned := ts.usage(m.supplierKey, usageRange)
	if spent.spent != strconv.FormatUint(httpCrashFunds-consumerBefore, 10) || earned.earned != strconv.FormatUint(supplierBefore, 10) {
		t.Fatalf("usage after the kills: spent %+v, earned %+v; want spent %d, earned %d (the balances)",
			spent, earned, httpCrashFunds-consumerBefore, supplierBefore)
	}

	var sumAcked, sumUnknown, supplierAcked uint64
	for _, c := range acked {
		sumAcked += c.amount
		supplierAcked += c.amount - crashFee(c.amount)
	}
	for _, c := range unknown {
		sumUnknown += c.amount
	}
	if low, high := httpCrashFunds-sumAcked-sumUnknown, httpCrashFunds-sumAcked; consumerBefore < low || consumerBefore > high {
		t.Fatalf("consumer available = %d, want within [%d, %d] (credited %d, acknowledged %d, in flight %d)",
			consumerBefore, low, high, uint64(httpCrashFunds), sumAcked, sumUnknown)
	}

	// Every acknowledged charge is there, once, with its amount; a retry
	// replays it.
	keyClient := &http.Client{Timeout: 10 * time.Second}
	var reported atomic.Int64
	report := func(format string, args ...any) {
		if reported.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	crashParallel(len(acked), func(i int) {
		c := acked[i]
		id := string(chargeID(m.payer, c.key))
		status, body, err := crashDo(keyClient, ts.url, "GET", "/v1/charges/"+id, m.key, nil)
		if err != nil || status != http.StatusOK {
			report("acknowledged charge %s (%s, round %d) after the kills: GET = %d %s %v", c.key, id, c.round, status, body, err)
			return
		}
		if _, err := checkChargeJSON(body, m, c); err != nil {
			report("GET of acknowledged %s: %v", c.key, err)
		}
		status, body, err = crashDo(keyClient, ts.url, "POST", "/v1/charges", m.key, c.body, "Idempotency-Key", c.key)
		if err != nil || status != http.StatusCreated {
			report("retry of acknowledged %s = %d %s %v", c.key, status, body, err)
			return
		}
		if v, err := checkChargeJSON(body, m, c); err != nil {
			report("retry of acknowledged %s: %v", c.key, err)
		} else if !v.Replayed {
			report("retry of acknowledged %s applied it again: %s", c.key, body)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	if got := crashAvailable(ts, m.key); got != consumerBefore {
		t.Fatalf("consumer available after retrying acknowledged charges = %d, was %d", got, consumerBefore)
	}
	if got := crashAvailable(ts, m.supplierKey); got != supplierBefore {
		t.Fatalf("supplier available after retrying acknowledged charges = %d, was %d", got, supplierBefore)
	}

	// The charges lost in flight: a retry tells whether each had been
	// applied (a replay) or not (applied now, once).
	replayed := make([]bool, len(unknown))
	crashParallel(len(unknown), func(i int) {
		c := unknown[i]
		id := string(chargeID(m.payer, c.key))
		getStatus, body, err := crashDo(keyClient, ts.url, "GET", "/v1/charges/"+id, m.key, nil)
		if err != nil || (getStatus != http.StatusOK && getStatus != http.StatusNotFound) {
			report("lost charge %s: GET = %d %s %v", c.key, getStatus, body, err)
			return
		}
		status, body, err := crashDo(keyClient, ts.url, "POST", "/v1/charges", m.key, c.body, "Idempotency-Key", c.key)
		if err != nil || status != http.StatusCreated {
			report("retry of lost %s = %d %s %v", c.key, status, body, err)
			return
		}
		v, err := checkChargeJSON(body, m, c)
		if err != nil {
			report("retry of lost %s: %v", c.key, err)
			return
		}
		replayed[i] = v.Replayed
		if v.Replayed != (getStatus == http.StatusOK) {
			report("lost charge %s: GET said %d but the retry replayed = %v", c.key, getStatus, v.Replayed)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	var sumApplied, supplierApplied, sumNew, supplierNew uint64
	appliedCount := 0
	for i, c := range unknown {
		if replayed[i] {
			appliedCount++
			sumApplied += c.amount
			supplierApplied += c.amount - crashFee(c.amount)
		} else {
			sumNew += c.amount
			supplierNew += c.amount - crashFee(c.amount)
		}
	}
	t.Logf("%d acknowledged charges; of %d lost in flight, %d had been applied before the kill and %d were applied by the retry",
		len(acked), len(unknown), appliedCount, len(unknown)-appliedCount)
	if want := httpCrashFunds - sumAcked - sumApplied; consumerBefore != want {
		t.Fatalf("consumer available after the kills = %d, want %d = %d credited - %d acknowledged - %d applied in flight",
			consumerBefore, want, uint64(httpCrashFunds), sumAcked, sumApplied)
	}
	if want := supplierAcked + supplierApplied; supplierBefore != want {
		t.Fatalf("supplier available after the kills = %d, want %d", supplierBefore, want)
	}
	if got, want := crashAvailable(ts, m.key), httpCrashFunds-sumAcked-sumApplied-sumNew; got != want {
		t.Fatalf("consumer available after the retries = %d, want %d", got, want)
	}
	if got, want := crashAvailable(ts, m.supplierKey), supplierAcked+supplierApplied+supplierNew; got != want {
		t.Fatalf("supplier available after the retries = %d, want %d", got, want)
	}
	// Every charge is applied once now: usage counts each, also after one
	// more kill.
	var fees uint64
	for _, c := range append(acked, unknown...) {
		fees += crashFee(c.amount)
	}
	want := usageJSON{start: usageRange[len("from="):len("from=YYYY-MM-DD")], spentCount: float64(len(acked) + len(unknown)),
		spent: strconv.FormatUint(sumAcked+sumApplied+sumNew, 10), earned: "0", fees: strconv.FormatUint(fees, 10)}
	for _, when := range []string{"after the retries", "after one more kill"} {
		if _, total := ts.usage(m.key, usageRange); total != want {
			t.Fatalf("consumer usage %s = %+v, want %+v", when, total, want)
		}
		_, total := ts.usage(m.supplierKey, usageRange)
		if total.earnedCount != want.spentCount || total.earned != strconv.FormatUint(supplierAcked+supplierApplied+supplierNew, 10) {
			t.Fatalf("supplier usage %s = %+v, want %v charges earning %d", when, total, want.spentCount, supplierAcked+supplierApplied+supplierNew)
		}
		child.kill()
		client.CloseIdleConnections()
		child = startCrashChild(t, dir)
		ts.url = child.url
	}
	expect(t, ts.do("GET", "/readyz", "", nil), 200, "", "")
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
