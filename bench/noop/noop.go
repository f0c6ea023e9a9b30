// Package noop is the load benchmark's no-op server: the ceiling every HTTP
// figure of `tollway bench` is divided by, so the ratio is what the ledger
// costs over doing nothing at all. It is httpapi.ChargeFront (Server's
// fasthttp settings, transport, router, bearer key lookup and request
// decoding) with a fixed reply where Server calls the engine, and a route
// to register keys.
//
// POST /v1/noop/keys is unauthenticated: the server holds no money, and
// only tollway-bench (`tollway-bench noop-server`) starts it. The tollway
// server binary links none of this package.
package noop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/httpapi"
)

// Limits of key registration: the body limit bounds one request, these
// bound the key table.
const (
	// KeysPerRequestMax bounds the keys of one POST /v1/noop/keys; a key
	// and account take about 110 bytes of JSON, so a full request fits
	// httpapi.BodyBytesMax.
	KeysPerRequestMax = 5000
	// KeysMax bounds the keys a no-op server holds (about 200 bytes of
	// memory each).
	KeysMax = 1_000_000
)

// Fixed replies, shaped like Server's, of about the same size.
const (
	charge = `{"id":"ch_0000000000000000000000","from":"acct_0000000000000000000000",` +
		`"to":"acct_0000000000000000000001","amount":"1","fee":"0","toAmount":"1",` +
		`"createdAt":"2025-01-01T00:00:00Z","balance":{"available":"999999999999",` +
		`"reserved":"0","posted":"999999999999","pending":"0"},"position":1,"replayed":false}`
	registered = `{"registered":true}`
)

// Server is a no-op server.
type Server struct {
	front *httpapi.ChargeFront
	mu    sync.Mutex // serializes registrations, so keys stays exact
	keys  int        // registered so far
}

// New returns a no-op server logging to slog.Default().
func New() (*Server, error) {
	s := &Server{}
	front, err := httpapi.NewChargeFront(httpapi.ChargeFrontConfig{
		Charge: func(buf []byte, _ string) []byte { return append(buf, charge...) },
		// The reply holds the fixed charge once per item, as many bytes as
		// Server would write.
		ChargeBatch: func(buf []byte, _ string, n int) []byte {
			buf = append(buf, `{"results":[`...)
			for i := range n {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, charge...)
			}
			return append(buf, "]}"...)
		},
		Routes: []httpapi.FrontRoute{{Method: "POST", Path: "/v1/noop/keys", BigBody: true, Handle: s.register}},
	})
	if err != nil {
		return nil, err
	}
	s.front = front
	return s, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.front.Serve(ln) }

// Shutdown stops accepting connections and waits for requests in flight
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.front.Shutdown(ctx) }

// registration is the body of POST /v1/noop/keys.
type registration struct {
	Keys []httpapi.FrontKey `json:"keys"`
}

// register is POST /v1/noop/keys: {"keys":[{"key":"sk_test_…","account":
// "acct_…"},…]}. Registering a key again points it at the new account.
func (s *Server) register(ctx *fasthttp.RequestCtx) error {
	decoder := json.NewDecoder(bytes.NewReader(ctx.PostBody()))
	decoder.DisallowUnknownFields()
	var r registration
	if err := decoder.Decode(&r); err != nil {
		return &httpapi.FrontError{Code: "malformed_json", Message: "the body is not a registration: " + err.Error()}
	}
	switch {
	case len(r.Keys) == 0:
		return fmt.Errorf("keys: want 1 to %d keys", KeysPerRequestMax)
	case len(r.Keys) > KeysPerRequestMax:
		return fmt.Errorf("keys: %d keys, want at most %d per request", len(r.Keys), KeysPerRequestMax)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Counted as if every key were new: a key registered again near the
	// bound is refused, which keeps the bound exact without a lookup.
	if s.keys+len(r.Keys) > KeysMax {
		return &httpapi.FrontError{Code: "too_many_keys", Message: fmt.Sprintf("a no-op server holds at most %d keys", KeysMax)}
	}
	added, err := s.front.AddKeys(r.Keys)
	if err != nil {
		return err
	}
	s.keys += added
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(registered)
	return nil
}
