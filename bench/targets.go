package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/bench/noop"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

// The targets a scenario runs against: a Tollway server over HTTP, the
// no-op server, the embedded engine and the baselines, each behind Target.

const (
	// targetConsumersMax bounds the consumer accounts of a target.
	targetConsumersMax = 10_000_000
	// BatchSizeDefault is http-batch's charges per request.
	BatchSizeDefault = 100
	// ReadEveryDefault makes one request in ReadEveryDefault of the mixed
	// scenario a balance read when HTTPTargetConfig.ReadEvery is zero.
	ReadEveryDefault = 10
	// mixedReadersMax bounds the accounts whose balances mixed reads.
	mixedReadersMax = 100
	// noopSuppliers is how many supplier ids the no-op target's charges
	// name: the no-op server only checks their shape.
	noopSuppliers = 100
	// tollwayStopTimeout covers the server's drain (15 s) and engine close.
	tollwayStopTimeout = 30 * time.Second
	// embeddedFundingCharges is how many charges of 1 base unit each
	// embedded consumer is funded for: as many as 1e12, the funding of
	// PrepareHTTP, pays for.
	embeddedFundingCharges = 1_000_000_000
)

// StartTollway starts `exe serve` on a free port of 127.0.0.1, with its data
// in dir/data, its log in dir/tollway.log and a random admin token, and
// waits until it accepts connections. It returns the process, the base URL
// and the admin token.
func StartTollway(ctx context.Context, exe, dir string) (proc *Process, url, adminToken string, err error) {
	return startTollway(ctx, exe, dir, "--chain", "none") // the benchmark measures charges, not the chain
}

// StartTollwayX402 is StartTollway for x402-verify: the server on its
// embedded chain (JSON-RPC on a free port), serving /x402/* without keys.
func StartTollwayX402(ctx context.Context, exe, dir string) (proc *Process, url, adminToken string, err error) {
	return startTollway(ctx, exe, dir, "--chain-listen", "127.0.0.1:0", "--x402-open")
}

// startTollway starts `exe serve` with the benchmark's flags and extra.
func startTollway(ctx context.Context, exe, dir string, extra ...string) (proc *Process, url, adminToken string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", "", fmt.Errorf("start tollway: %w", err)
	}
	adminToken = "adm_" + randomBase62(40)
	proc, port, err := startOnFreePort(ctx, func(port int) ProcessConfig {
		return ProcessConfig{
			Name: "tollway",
			Path: exe,
			Args: append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--data", filepath.Join(dir, "data"),
				"--admin-token", adminToken, "--log-level", "warn",
				// Every load connection comes from 127.0.0.1: no per-address
				// limit below the server's own (the flag is capped by it).
				"--max-conns-per-ip", strconv.Itoa(math.MaxInt32),
				// The fixtures sign up and log in tens of users per run, all
				// from 127.0.0.1: past the sign-in routes' per-address bucket.
				"--auth-rate-limit", benchAuthRateLimit}, extra...),
			LogPath:     filepath.Join(dir, "tollway.log"),
			StopSignal:  syscall.SIGTERM,
			StopTimeout: tollwayStopTimeout,
		}
	})
	if err != nil {
		return nil, "", "", err
	}
	return proc, "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), adminToken, nil
}

// StartNoop starts `exe noop-server` (exe being tollway-bench) on a free port of 127.0.0.1 and waits
// until it accepts connections. It returns the process and the base URL.
//
// NB: its log is a temporary file, unlinked once the server listens (or
// failed to): a server that fails to start says why in the error, and
// nothing is left behind. The server keeps writing to the unlinked file.
func StartNoop(ctx context.Context, exe string) (*Process, string, error) {
	log, err := os.CreateTemp("", "tollway-noop-*.log")
	if err != nil {
		return nil, "", fmt.Errorf("start the no-op server: %w", err)
	}
	log.Close()
	defer os.Remove(log.Name())
	proc, port, err := startOnFreePort(ctx, func(port int) ProcessConfig {
		return ProcessConfig{
			Name:    "tollway-bench noop-server",
			Path:    exe,
			Args:    []string{"noop-server", "--listen", "127.0.0.1:" + strconv.Itoa(port)},
			LogPath: log.Name(),
		}
	})
	if err != nil {
		return nil, "", err
	}
	return proc, "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// HTTPTargetConfig describes a Tollway server target of one scenario.
type HTTPTargetConfig struct {
	Name     string // "tollway" when empty
	Scenario Scenario
	// URL and AdminToken name the server; the target sets up its users,
	// accounts, keys and funding through the public API (PrepareHTTP).
	URL, AdminToken string
	// Consumers pay, one key each; Suppliers are paid (hot-supplier uses
	// 1 whatever this says).
	Consumers, Suppliers int
	// BatchSize is http-batch's charges per request, BatchSizeDefault when
	// zero; other scenarios send one charge per request.
	BatchSize int
	// ReadEvery makes every ReadEvery-th request of a worker in the mixed
	// scenario a GET /v1/balance, ReadEveryDefault when zero.
	ReadEvery int
	// Connections is how many workers call Do, each with one request in
	// flight; the client keeps at most this many connections.
	Connections int
	// Process is the server, for ServerCPU; Close stops it (Process.Stop is
	// idempotent, so targets sharing a server may each stop it once their
	// runs are over). Nil when the server runs outside the benchmark
	// (--target): ServerCPU then returns 0, without an error, so the run
	// still counts, and the report's CPU per operation reads 0, "unknown".
	Process *Process
	// InProcess says the server runs in this process (the go test
	// benchmarks): ServerCPU is then ProcessCPU, server and load together.
	InProcess bool
}

// httpTarget sends charges, batches or balance reads over HTTP to a Tollway
// server or to the no-op server.
type httpTarget struct {
	name      string
	client    *fasthttp.HostClient
	keys      []string // one per consumer
	suppliers []string // account ids
	readers   []string // balance:read keys of the mixed scenario
	perCharge int      // charges per charge request: 1 or a batch's size
	readEvery int      // 0: no reads
	tollwayServer
	workers []httpWorker
}

// httpWorker is one worker's request, reused for every call.
//
// NB: each worker's state is used by one goroutine at a time: the runner
// has at most one request of a worker in flight.
type httpWorker struct {
	charge, read *fasthttp.Request
	response     *fasthttp.Response
	body         []byte
	next         int // the request count; the consumer walk is next*workers + worker
	// Workers sit side by side in one slice and are written on every
	// call: the padding keeps each on cache lines of its own.
	_ [64]byte
}

// NewHTTPTarget prepares cfg's scenario on a Tollway server: users,
// consumer accounts with a key each and funding, suppliers, and for mixed a
// user with read-only keys.
func NewHTTPTarget(ctx context.Context, cfg HTTPTargetConfig) (Target, error) {
	perCharge, readEvery, err := checkHTTPTarget(&cfg)
	if err != nil {
		return nil, err
	}
	fixture, err := PrepareHTTP(ctx, HTTPConfig{Target: cfg.URL, AdminToken: cfg.AdminToken,
		Consumers: cfg.Consumers, Suppliers: cfg.Suppliers})
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", cfg.Scenario, err)
	}
	var readers []string
	if readEvery > 0 {
		if readers, err = prepareReaders(cfg.URL, min(cfg.Consumers, mixedReadersMax)); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", cfg.Scenario, err)
		}
	}
	name := cfg.Name
	if name == "" {
		name = "tollway"
	}
	t := newHTTPTarget(name, cfg.URL, fixture.Keys, fixture.Suppliers, readers, perCharge, readEvery, cfg.Connections, cfg.Process)
	t.inProcess = cfg.InProcess
	return t, nil
}

// checkHTTPTarget validates cfg, applies the scenario's settings and
// returns the charges per charge request and the read interval.
func checkHTTPTarget(cfg *HTTPTargetConfig) (perCharge, readEvery int, err error) {
	if cfg.Consumers < 1 || cfg.Consumers > targetConsumersMax || cfg.Suppliers < 1 || cfg.Connections < 1 {
		return 0, 0, fmt.Errorf("%w: %d consumers, %d suppliers, %d connections; want 1 to %d consumers and 1 or more of the others",
			engine.ErrInvalid, cfg.Consumers, cfg.Suppliers, cfg.Connections, targetConsumersMax)
	}
	perCharge = 1
	switch cfg.Scenario {
	case ScenarioHTTPCharge:
	case ScenarioHotSupplier:
		cfg.Suppliers = 1
	case ScenarioHTTPBatch:
		perCharge = cfg.BatchSize
		if perCharge == 0 {
			perCharge = BatchSizeDefault
		}
		if perCharge < 1 || perCharge > httpapi.BatchChargesMax {
			return 0, 0, fmt.Errorf("%w: batches of %d, want 1 to %d", engine.ErrInvalid, perCharge, httpapi.BatchChargesMax)
		}
	case ScenarioMixed:
		readEvery = cfg.ReadEvery
		if readEvery == 0 {
			readEvery = ReadEveryDefault
		}
		if readEvery < 2 {
			return 0, 0, fmt.Errorf("%w: a read every %d requests, want 2 or more", engine.ErrInvalid, readEvery)
		}
	default:
		return 0, 0, fmt.Errorf("%w: scenario %q does not run against a Tollway server over HTTP", engine.ErrInvalid, cfg.Scenario)
	}
	return perCharge, readEvery, nil
}

// prepareReaders signs up a user owning n accounts, each with a key that
// may only read its balance, and returns the keys.
//
// NB: PrepareHTTP's keys may only charge (charges:write), as a metering
// client's should; the balance reads of mixed are a dashboard's, with keys
// of their own. Their accounts are not the charged ones, so a read never
// waits behind a charge on an account.
// benchAuthRateLimit is the sign-in bucket of the server the bench starts.
// A server under --target needs one as large (--auth-rate-limit), or its
// fixtures' sign-ups and logins get 429.
const benchAuthRateLimit = "100000/1s"

func prepareReaders(url string, n int) ([]string, error) {
	c := &fasthttp.Client{MaxConnsPerHost: setupConnections}
	email := fmt.Sprintf("bench-readers-%d-%s@example.com", time.Now().UnixNano(), randomBase62(8))
	credentials := map[string]string{"email": email, "password": "bench password"}
	if _, err := call(c, url+"/v1/auth/signup", "", credentials, 201); err != nil {
		return nil, err
	}
	pair, err := call(c, url+"/v1/auth/login", "", credentials, 200)
	if err != nil {
		return nil, err
	}
	access, _ := pair["accessToken"].(string)
	keys := make([]string, n)
	for i := range keys {
		account, err := call(c, url+"/v1/accounts", access, map[string]string{"name": "reader", "environment": "test"}, 201)
		if err != nil {
			return nil, err
		}
		id, _ := account["id"].(string)
		key, err := call(c, url+"/v1/accounts/"+id+"/keys", access, map[string]any{
			"label": "bench reader", "kind": "secret", "scopes": []string{"balance:read"},
			"rateLimit": map[string]int{"requests": 1_000_000, "perSeconds": 1},
		}, 201)
		if err != nil {
			return nil, err
		}
		keys[i], _ = key["key"].(string)
	}
	return keys, nil
}

func newHTTPTarget(name, url string, keys, suppliers, readers []string, perCharge, readEvery, connections int, process *Process) *httpTarget {
	t := &httpTarget{
		name: name, keys: keys, suppliers: suppliers, readers: readers,
		perCharge: perCharge, readEvery: readEvery, tollwayServer: tollwayServer{process: process},
		client: &fasthttp.HostClient{Addr: hostOf(url), MaxConns: connections,
			ReadTimeout: latencyMax, WriteTimeout: latencyMax},
		workers: make([]httpWorker, connections),
	}
	path := "/v1/charges"
	if perCharge > 1 {
		path = "/v1/charges/batch"
	}
	for i := range t.workers {
		w := &t.workers[i]
		w.charge, w.read, w.response = &fasthttp.Request{}, &fasthttp.Request{}, &fasthttp.Response{}
		w.charge.SetRequestURI(url + path)
		w.charge.Header.SetMethod("POST")
		w.charge.Header.SetContentType("application/json")
		w.read.SetRequestURI(url + "/v1/balance")
		w.read.Header.SetMethod("GET")
	}
	return t
}

func (t *httpTarget) Name() string { return t.name }

// Do sends worker's next request: a charge (or batch) from the next
// consumer of the worker's walk, which starts at worker and steps by the
// workers, so every key is busy and no two workers share one at a time;
// in mixed, every readEvery-th request reads a balance instead.
//
// NB: fasthttp cannot abandon a request in flight, so Do does not watch
// ctx: a request ends with its answer or its timeout (latencyMax).
func (t *httpTarget) Do(ctx context.Context, worker int) (operations int, failure string) {
	w := &t.workers[worker]
	i := w.next*len(t.workers) + worker
	w.next++
	request, operations := w.charge, t.perCharge
	if t.readEvery > 0 && w.next%t.readEvery == 0 {
		request, operations = w.read, 1
		request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+t.readers[i%len(t.readers)])
	} else {
		request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+t.keys[i%len(t.keys)])
		w.body = chargeBody(w.body[:0], t.suppliers[i%len(t.suppliers)], t.perCharge)
		request.SetBody(w.body)
	}
	if err := t.client.Do(request, w.response); err != nil {
		return 0, httpFailure(err)
	}
	if status := w.response.StatusCode(); status < 200 || status > 299 {
		return 0, strconv.Itoa(status)
	}
	return operations, ""
}

// tollwayServer is the Tollway server a target drives: a process the
// benchmark started, this process (the go test benchmarks), or none of the
// benchmark's (--target).
type tollwayServer struct {
	process   *Process
	inProcess bool // ServerCPU is ProcessCPU
}

// ServerCPU returns the server process tree's CPU time, this process's when
// the server runs in it, or 0 when the server is not the benchmark's
// (HTTPTargetConfig.Process, InProcess).
func (s *tollwayServer) ServerCPU() (time.Duration, error) {
	if s.inProcess {
		return ProcessCPU()
	}
	if s.process == nil {
		return 0, nil
	}
	return s.process.CPU()
}

// ServerMemory is the server's tree, this process when the server runs in
// it, nothing when the server is not the benchmark's (--target).
func (s *tollwayServer) ServerMemory(resetPeak bool) (Memory, bool, error) {
	if s.inProcess {
		return ProcessMemory(resetPeak)
	}
	if s.process == nil {
		return Memory{}, false, nil
	}
	return s.process.Memory(resetPeak)
}

// stop stops the server process, if the benchmark started it.
func (s *tollwayServer) stop() error {
	if s.process == nil {
		return nil
	}
	return s.process.Stop()
}

// Close closes the client's connections and stops the server process.
func (t *httpTarget) Close() error {
	t.client.CloseIdleConnections()
	return t.stop()
}

// httpFailure labels a request that got no answer, by a short class.
func httpFailure(err error) string {
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &timeout) && timeout.Timeout():
		return "error: timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "error: connection refused"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "error: connection closed"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "error: no free connections"
	}
	return "error: other"
}

// NewNoopTarget prepares the no-op server at url: it makes consumers keys
// ("sk_test_" and 40 base62 characters) and account ids locally, registers
// them through POST /v1/noop/keys, and sends the bodies the Tollway target
// sends: charges, or batches of batch when batch > 1. proc is the server,
// for ServerCPU and Close, as HTTPTargetConfig.Process.
func NewNoopTarget(ctx context.Context, url string, proc *Process, consumers, batch, connections int) (Target, error) {
	if consumers < 1 || consumers > noop.KeysMax || connections < 1 || batch < 0 || batch > httpapi.BatchChargesMax {
		return nil, fmt.Errorf("%w: %d consumers, batches of %d, %d connections; want 1 to %d consumers, batches up to %d, 1 or more connections",
			engine.ErrInvalid, consumers, batch, connections, noop.KeysMax, httpapi.BatchChargesMax)
	}
	keys := make([]string, consumers)
	suppliers := make([]string, noopSuppliers)
	for i := range suppliers {
		suppliers[i] = "acct_" + randomBase62(22)
	}
	c := &fasthttp.Client{}
	for start := 0; start < consumers; start += noop.KeysPerRequestMax {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		type registration struct {
			Key     string `json:"key"`
			Account string `json:"account"`
		}
		chunk := make([]registration, 0, min(consumers-start, noop.KeysPerRequestMax))
		for i := start; i < start+cap(chunk); i++ {
			keys[i] = "sk_test_" + randomBase62(40)
			chunk = append(chunk, registration{Key: keys[i], Account: "acct_" + randomBase62(22)})
		}
		if _, err := call(c, url+"/v1/noop/keys", "", map[string]any{"keys": chunk}, 200); err != nil {
			return nil, fmt.Errorf("register keys with the no-op server: %w", err)
		}
	}
	return newHTTPTarget("noop-http", url, keys, suppliers, nil, max(batch, 1), 0, connections, proc), nil
}

// embeddedTarget charges an engine in this process.
type embeddedTarget struct {
	engine               *engine.Engine
	consumers, suppliers []engine.AccountID // built once: the load generator shares the cores
	batch                int                // charges per call: 1 (Charge) or a ChargeBatch's size
	prefix               string             // of client ids, unique per target
	// sequentialIDs makes the client ids prefix + n in base 36, which sort in
	// the order they are made; by default they are scattered (randomID), as
	// real clients' random ids are, which costs the log's index more.
	sequentialIDs bool
	next          atomic.Int64
}

// NewEmbeddedTarget opens an engine in dir, which must be new, creates
// consumers and suppliers accounts and funds every consumer for
// embeddedFundingCharges charges. Each Do is one Charge, or with batch > 1
// one ChargeBatch of batch charges paid by one consumer, as an HTTP batch is.
func NewEmbeddedTarget(ctx context.Context, dir string, consumers, suppliers, batch int, feeBps uint32) (Target, error) {
	if consumers < 1 || consumers > targetConsumersMax || suppliers < 1 || batch < 0 || batch > httpapi.BatchChargesMax {
		return nil, fmt.Errorf("%w: %d consumers, %d suppliers, batches of %d; want 1 to %d, 1 or more, and up to %d",
			engine.ErrInvalid, consumers, suppliers, batch, targetConsumersMax, httpapi.BatchChargesMax)
	}
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: feeBps})
	if err != nil {
		return nil, err
	}
	// PrepareEmbedded funds each consumer for Charges/Consumers charges of
	// 1000 (and a margin); these charges are of 1.
	err = PrepareEmbedded(ctx, eng, EmbeddedConfig{Consumers: consumers, Suppliers: suppliers,
		Charges: consumers * (embeddedFundingCharges / 1000), FeeBps: feeBps})
	if err != nil {
		return nil, errors.Join(err, eng.Close())
	}
	return &embeddedTarget{engine: eng, consumers: accountIDs(consumerID, consumers), suppliers: accountIDs(supplierID, suppliers),
		batch: max(batch, 1), prefix: "bench-" + randomBase62(8) + "-"}, nil
}

func (t *embeddedTarget) Name() string { return "tollway" }

// Do charges 1 from the next consumer to the next supplier under a fresh
// client id, or a batch of such charges from one consumer.
//
// NB: the walk is one counter shared by the workers: the target does not
// know how many workers there are, and one atomic add is noise next to a
// durable charge. Concurrent calls still take consecutive, so distinct,
// consumers.
func (t *embeddedTarget) Do(ctx context.Context, _ int) (operations int, failure string) {
	n := t.next.Add(int64(t.batch)) - int64(t.batch)
	if t.batch == 1 {
		if _, err := t.engine.Charge(ctx, t.charge(n, n)); err != nil {
			return 0, engineFailure(err)
		}
		return 1, ""
	}
	charges := make([]engine.Charge, t.batch)
	for i := range charges {
		charges[i] = t.charge(n+int64(i), n/int64(t.batch))
	}
	for _, r := range t.engine.ChargeBatch(ctx, charges) {
		if r.Err != nil {
			return 0, engineFailure(r.Err)
		}
	}
	return t.batch, ""
}

// charge is the n-th charge of the walk, paid by consumer payer.
func (t *embeddedTarget) charge(n, payer int64) engine.Charge {
	id := randomID(t.prefix, uint64(n))
	if t.sequentialIDs {
		id = t.prefix + strconv.FormatInt(n, 36)
	}
	return engine.Charge{
		ID:     engine.TransferID(id),
		From:   t.consumers[payer%int64(len(t.consumers))],
		To:     t.suppliers[n%int64(len(t.suppliers))],
		Amount: engine.NewAmount(1),
	}
}

// randomIDChars is the length of randomID's scattered part: 11 base62
// digits hold any uint64.
const randomIDChars = 11

// randomID returns the n-th client id of a target: prefix and 11 base62
// digits of a bijective mix of n (SplitMix64's finalizer), so the ids are
// distinct and scattered over the key space like a real client's random
// ids ("ch_" + 24 random base62), at the cost of a few multiplications
// rather than a random source per charge.
func randomID(prefix string, n uint64) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	x := n + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	id := make([]byte, len(prefix)+randomIDChars)
	copy(id, prefix)
	for i := len(id) - 1; i >= len(prefix); i-- {
		id[i] = digits[x%62]
		x /= 62
	}
	return string(id)
}

// Stats returns the engine's counters, for the go test benchmarks' figures
// of group commits.
func (t *embeddedTarget) Stats() engine.Stats { return t.engine.Stats() }

// ServerCPU is this process's CPU time: the engine runs in it, beside the
// load generator, whose time it includes.
func (t *embeddedTarget) ServerCPU() (time.Duration, error) { return ProcessCPU() }

func (t *embeddedTarget) Close() error { return t.engine.Close() }

// engineFailure labels a failed charge or debit as the HTTP status Tollway
// would answer, so every target's failures read alike.
func engineFailure(err error) string {
	switch {
	case errors.Is(err, engine.ErrInsufficientFunds), errors.Is(err, engine.ErrBudgetExceeded):
		return "402"
	case errors.Is(err, engine.ErrIdempotencyConflict), errors.Is(err, engine.ErrInvalidState):
		return "409"
	case errors.Is(err, engine.ErrNotFound):
		return "404"
	case errors.Is(err, engine.ErrInvalid):
		return "400"
	case errors.Is(err, engine.ErrUnavailable):
		return "503"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "error: canceled"
	}
	return "error: other"
}

// baselineTarget debits a Baseline.
type baselineTarget struct {
	baseline             Baseline
	consumers, suppliers int
	prefix               string // of idempotency keys, unique per target
	next                 atomic.Int64
}

// NewBaselineTarget debits b, 1 base unit per call, walking consumers and
// suppliers as the embedded target does. The target does not own b: b
// serves the targets of every connection count, and whoever made it
// closes it.
//
// REQUIRES: b.Setup(ctx, consumers, suppliers, funding) was called once;
// NewBaselineTarget checks that the consumers were funded.
func NewBaselineTarget(ctx context.Context, b Baseline, consumers, suppliers int) (Target, error) {
	if consumers < 1 || suppliers < 1 {
		return nil, fmt.Errorf("%w: %d consumers and %d suppliers, want 1 or more each", engine.ErrInvalid, consumers, suppliers)
	}
	funded, _, _, _, err := b.Totals(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read %s's totals (was its Setup called?): %w", engine.ErrInvalidState, b.Name(), err)
	}
	if funded == 0 {
		return nil, fmt.Errorf("%w: %s has no funded consumers: call its Setup first", engine.ErrInvalidState, b.Name())
	}
	return &baselineTarget{baseline: b, consumers: consumers, suppliers: suppliers, prefix: "bench-" + randomBase62(8) + "-"}, nil
}

func (t *baselineTarget) Name() string { return t.baseline.Name() }

// Do debits 1 from the next consumer to the next supplier under a fresh
// idempotency key; see embeddedTarget.Do for the shared walk.
func (t *baselineTarget) Do(ctx context.Context, _ int) (operations int, failure string) {
	n := t.next.Add(1) - 1
	err := t.baseline.Debit(ctx, t.prefix+strconv.FormatInt(n, 36), int(n%int64(t.consumers)), int(n%int64(t.suppliers)), 1)
	if err != nil {
		return 0, engineFailure(err)
	}
	return 1, ""
}

func (t *baselineTarget) ServerCPU() (time.Duration, error) { return t.baseline.Process().CPU() }

// Close does nothing: the baseline is its maker's to close.
func (t *baselineTarget) Close() error { return nil }

// randomBase62 makes keys, ids and tokens in the server's format.
var randomBase62 = access.RandomBase62
