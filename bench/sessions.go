package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
)

// sessionTarget runs the http-session scenario: one operation is a whole
// metered session over HTTP, four requests in order: the consumer opens it
// (POST /v1/sessions), the supplier accepts it, the consumer starts it and
// ends it. Each is durable before its answer, so a session costs four
// commits' waits; its latency is the four requests'.
type sessionTarget struct {
	client       *fasthttp.HostClient
	url          string
	keys         []string // consumers'
	suppliers    []string // account ids
	supplierKeys []string
	tollwayServer
	workers []sessionWorker
}

// sessionWorker is one worker's request and response, reused.
type sessionWorker struct {
	request  *fasthttp.Request
	response *fasthttp.Response
	body     []byte
	next     int
	_        [64]byte // keeps workers on cache lines of their own
}

// SessionTargetConfig describes an http-session target.
type SessionTargetConfig struct {
	URL, AdminToken      string
	Consumers, Suppliers int
	Connections          int
	Process              *Process // as HTTPTargetConfig.Process
	InProcess            bool     // as HTTPTargetConfig.InProcess
}

// NewSessionTarget prepares the http-session scenario on a Tollway server:
// consumers and suppliers with keys that may open and run sessions.
func NewSessionTarget(ctx context.Context, cfg SessionTargetConfig) (Target, error) {
	if cfg.Consumers < 1 || cfg.Consumers > targetConsumersMax || cfg.Suppliers < 1 || cfg.Connections < 1 {
		return nil, fmt.Errorf("%w: %d consumers, %d suppliers, %d connections; want 1 to %d consumers and 1 or more of the others",
			engine.ErrInvalid, cfg.Consumers, cfg.Suppliers, cfg.Connections, targetConsumersMax)
	}
	fixture, err := PrepareHTTP(ctx, HTTPConfig{Target: cfg.URL, AdminToken: cfg.AdminToken, Consumers: cfg.Consumers,
		Suppliers: cfg.Suppliers, Scopes: []string{"sessions:write"}, SupplierKeys: true})
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", ScenarioHTTPSession, err)
	}
	t := &sessionTarget{
		url: cfg.URL, keys: fixture.Keys, suppliers: fixture.Suppliers, supplierKeys: fixture.SupplierKeys,
		tollwayServer: tollwayServer{process: cfg.Process, inProcess: cfg.InProcess},
		client:        &fasthttp.HostClient{Addr: hostOf(cfg.URL), MaxConns: cfg.Connections, ReadTimeout: latencyMax, WriteTimeout: latencyMax},
		workers:       make([]sessionWorker, cfg.Connections),
	}
	for i := range t.workers {
		w := &t.workers[i]
		w.request, w.response = &fasthttp.Request{}, &fasthttp.Response{}
		w.request.Header.SetMethod("POST")
		w.request.Header.SetContentType("application/json")
	}
	return t, nil
}

func (t *sessionTarget) Name() string { return "tollway" }

// Do runs one session from the next consumer of worker's walk (as the
// charge targets walk theirs) to a supplier.
func (t *sessionTarget) Do(_ context.Context, worker int) (int, string) {
	w := &t.workers[worker]
	i := w.next*len(t.workers) + worker
	w.next++
	consumer, supplier := t.keys[i%len(t.keys)], i%len(t.suppliers)
	w.body = append(w.body[:0], `{"to":"`...)
	w.body = append(w.body, t.suppliers[supplier]...)
	w.body = append(w.body, `","ratePerSecond":"1","maxDurationSeconds":3600}`...)
	if failure := t.post(w, "/v1/sessions", consumer, w.body, fasthttp.StatusCreated); failure != "" {
		return 0, failure
	}
	id, ok := sessionIDOf(w.response.Body())
	if !ok {
		return 0, "error: no session id"
	}
	path := append(append([]byte("/v1/sessions/"), id...), "/accept"...)
	for _, step := range []struct {
		name, key string
	}{{"/accept", t.supplierKeys[supplier]}, {"/start", consumer}, {"/end", consumer}} {
		path = append(path[:len("/v1/sessions/")+len(id)], step.name...)
		if failure := t.post(w, string(path), step.key, nil, fasthttp.StatusOK); failure != "" {
			return 0, failure
		}
	}
	return 1, ""
}

func (t *sessionTarget) post(w *sessionWorker, path, key string, body []byte, want int) string {
	w.request.SetRequestURI(t.url + path)
	w.request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+key)
	w.request.SetBody(body)
	if err := t.client.Do(w.request, w.response); err != nil {
		return httpFailure(err)
	}
	if status := w.response.StatusCode(); status != want {
		return strconv.Itoa(status)
	}
	return ""
}

// sessionIDOf finds the id of the session a response describes: its first
// field, as the server writes it.
func sessionIDOf(body []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(body, []byte(`{"id":"`))
	if !ok {
		return nil, false
	}
	end := bytes.IndexByte(rest, '"')
	return rest[:max(end, 0)], end > 0
}

func (t *sessionTarget) Close() error {
	t.client.CloseIdleConnections()
	return t.stop()
}
