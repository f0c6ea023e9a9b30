package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
)

// The gateway scenarios of issue 22: GET /gw/{slug}/ping through a Tollway
// server's metering gateway to a no-op upstream (gateway), and the same GET
// straight to the upstream (gateway-direct), so the report reads what the
// gateway adds: a hold, the forward and the capture per call.

const (
	// GatewayPrice is the route's price per call, in base units.
	GatewayPrice = 1
	// gatewayPath is what every call asks of the upstream.
	gatewayPath = "/ping"
	// noopUpstreamBody is the upstream's answer to any request.
	noopUpstreamBody = `{"ok":true}`
)

// NewNoopUpstream returns the no-op upstream: a fasthttp server answering
// any method and path with 200 and a small fixed JSON body, the cheapest
// upstream a gateway can forward to.
func NewNoopUpstream() *fasthttp.Server {
	return &fasthttp.Server{
		Name: "tollway-noop-upstream",
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(fasthttp.StatusOK)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(noopUpstreamBody)
		},
		ReadTimeout:  latencyMax,
		WriteTimeout: latencyMax,
		// The gateway's pool and the load's workers keep connections open.
		Concurrency: 256 * 1024,
	}
}

// StartNoopUpstream starts `exe noop-upstream` (exe being tollway-bench) on a
// free port of 127.0.0.1, as StartNoop starts the no-op server, and returns
// the process and the base URL.
func StartNoopUpstream(ctx context.Context, exe string) (*Process, string, error) {
	log, err := os.CreateTemp("", "tollway-upstream-*.log")
	if err != nil {
		return nil, "", fmt.Errorf("start the no-op upstream: %w", err)
	}
	log.Close()
	defer os.Remove(log.Name())
	proc, port, err := startOnFreePort(ctx, func(port int) ProcessConfig {
		return ProcessConfig{
			Name:    "tollway-bench noop-upstream",
			Path:    exe,
			Args:    []string{"noop-upstream", "--listen", "127.0.0.1:" + strconv.Itoa(port)},
			LogPath: log.Name(),
		}
	})
	if err != nil {
		return nil, "", err
	}
	return proc, "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// StartTollwayGateway is StartTollway for the gateway scenario: a server of
// its own that may forward to upstreams on 127.0.0.1.
func StartTollwayGateway(ctx context.Context, exe, dir string) (proc *Process, url, adminToken string, err error) {
	return startTollway(ctx, exe, dir, "--chain", "none", "--allow-private-targets")
}

// GatewayTargetConfig describes a gateway or gateway-direct target.
type GatewayTargetConfig struct {
	// URL and AdminToken name a Tollway server run with
	// --allow-private-targets; empty for gateway-direct.
	URL, AdminToken string
	Upstream        string // the no-op upstream's base URL
	// Consumers pay, one gateway:call key each (gateway only).
	Consumers   int
	Connections int
	// Process is the server measured (ServerCPU) and stopped by Close:
	// Tollway's for gateway, the upstream's for gateway-direct.
	// UpstreamProcess is the upstream, which Close also stops; nil when it
	// is Process or not the target's.
	Process, UpstreamProcess *Process
}

// gatewayTarget GETs one path, through the gateway with a consumer's key,
// or straight from the upstream.
type gatewayTarget struct {
	name string
	tollwayServer
	upstream *Process
	client   *fasthttp.HostClient
	keys     []string // none for gateway-direct
	route    string   // the account the route pays (gateway only)
	payers   []string // the consumers' accounts, in the order of keys
	workers  []gatewayWorker
}

// gatewayWorker is one worker's request, reused for every call; see
// httpWorker.
type gatewayWorker struct {
	request  *fasthttp.Request
	response *fasthttp.Response
	next     int
	_        [64]byte
}

// NewGatewayTarget prepares the gateway scenario: consumers funded with a
// gateway:call key each, and a user owning the account a route of price
// GatewayPrice to the upstream pays. Its name is "tollway".
func NewGatewayTarget(ctx context.Context, cfg GatewayTargetConfig) (Target, error) {
	if cfg.Consumers < 1 || cfg.Consumers > targetConsumersMax || cfg.Connections < 1 || cfg.URL == "" || cfg.Upstream == "" {
		return nil, fmt.Errorf("%w: %d consumers, %d connections, server %q, upstream %q; want 1 to %d consumers, 1 or more connections, both URLs",
			engine.ErrInvalid, cfg.Consumers, cfg.Connections, cfg.URL, cfg.Upstream, targetConsumersMax)
	}
	fixture, err := PrepareHTTP(ctx, HTTPConfig{Target: cfg.URL, AdminToken: cfg.AdminToken,
		Consumers: cfg.Consumers, Scopes: []string{"gateway:call"}})
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", ScenarioGateway, err)
	}
	slug, route, err := createGatewayRoute(cfg)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", ScenarioGateway, err)
	}
	t := newGatewayTarget("tollway", cfg.URL, "/gw/"+slug+gatewayPath, cfg.Connections, cfg.Process, cfg.UpstreamProcess)
	t.keys, t.route, t.payers = fixture.Keys, route, fixture.Consumers
	return t, nil
}

// NewGatewayDirectTarget prepares gateway-direct: the gateway scenario's
// GET, straight to the upstream. Its name is "upstream".
func NewGatewayDirectTarget(cfg GatewayTargetConfig) (Target, error) {
	if cfg.Connections < 1 || cfg.Upstream == "" {
		return nil, fmt.Errorf("%w: %d connections, upstream %q; want 1 or more and a URL", engine.ErrInvalid, cfg.Connections, cfg.Upstream)
	}
	return newGatewayTarget("upstream", cfg.Upstream, gatewayPath, cfg.Connections, cfg.Process, cfg.UpstreamProcess), nil
}

// newGatewayTarget GETs base+path; upstream is stopped by Close too.
func newGatewayTarget(name, base, path string, connections int, process, upstream *Process) *gatewayTarget {
	t := &gatewayTarget{
		name: name, tollwayServer: tollwayServer{process: process}, upstream: upstream,
		client:  &fasthttp.HostClient{Addr: hostOf(base), MaxConns: connections, ReadTimeout: latencyMax, WriteTimeout: latencyMax},
		workers: make([]gatewayWorker, connections),
	}
	for i := range t.workers {
		w := &t.workers[i]
		w.request, w.response = &fasthttp.Request{}, &fasthttp.Response{}
		w.request.SetRequestURI(base + path)
		w.request.Header.SetMethod("GET")
	}
	return t
}

// createGatewayRoute signs up the route's owner, gives it an account and
// registers a route of price GatewayPrice to cfg.Upstream under a fresh
// slug; it returns the slug and the account.
func createGatewayRoute(cfg GatewayTargetConfig) (slug, account string, err error) {
	c := &fasthttp.Client{MaxConnsPerHost: setupConnections}
	credentials := map[string]string{"email": fmt.Sprintf("bench-gateway-%d-%s@example.com", time.Now().UnixNano(), randomBase62(8)),
		"password": "bench password"}
	if _, err := call(c, cfg.URL+"/v1/auth/signup", "", credentials, 201); err != nil {
		return "", "", err
	}
	pair, err := call(c, cfg.URL+"/v1/auth/login", "", credentials, 200)
	if err != nil {
		return "", "", err
	}
	access, _ := pair["accessToken"].(string)
	v, err := call(c, cfg.URL+"/v1/accounts", access, map[string]string{"name": "gateway supplier", "environment": "test"}, 201)
	if err != nil {
		return "", "", err
	}
	account, _ = v["id"].(string)
	// Lowercase base62 may collide more than base62, still 36^16 slugs.
	slug = "bench-" + strings.ToLower(randomBase62(16))
	if _, err := call(c, cfg.URL+"/v1/routes", access, map[string]any{"slug": slug, "accountId": account,
		"upstream": cfg.Upstream, "pricePerCall": strconv.Itoa(GatewayPrice)}, 201); err != nil {
		return "", "", err
	}
	return slug, account, nil
}

func (t *gatewayTarget) Name() string { return t.name }

// Do sends worker's next GET, with the next key of the worker's walk (see
// httpTarget.Do) through the gateway. Anything but 200 is a failure.
func (t *gatewayTarget) Do(_ context.Context, worker int) (operations int, failure string) {
	w := &t.workers[worker]
	if len(t.keys) > 0 {
		i := w.next*len(t.workers) + worker
		w.request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+t.keys[i%len(t.keys)])
	}
	w.next++
	if err := t.client.Do(w.request, w.response); err != nil {
		return 0, httpFailure(err)
	}
	if status := w.response.StatusCode(); status != fasthttp.StatusOK {
		return 0, strconv.Itoa(status)
	}
	return 1, ""
}

// Close closes the client's connections and stops the processes the
// target owns.
func (t *gatewayTarget) Close() error {
	t.client.CloseIdleConnections()
	err := t.stop()
	if t.upstream != nil && t.upstream != t.process {
		if stopErr := t.upstream.Stop(); err == nil {
			err = stopErr
		}
	}
	return err
}
