package devchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// The JSON-RPC endpoint is served here, not by the node's own HTTP server,
// so that no answer shows a block before it is on disk: each response is
// held until the block that was the head when it was computed is synced.
// The node's server writes the response as soon as it is computed, and a
// receipt seen then could vanish in a crash a moment later (one fsync).
//
// Only the eth, net and web3 namespaces are served: admin, debug, miner and
// txpool would let any caller rewind the chain or change the miner.

const (
	// The node's defaults: a request body, a batch's calls, a batch's answer.
	rpcBodyBytesMax          = 5 * 1024 * 1024
	rpcBatchCallsMax         = 1000
	rpcBatchResponseBytesMax = 25 * 1000 * 1000
	rpcShutdownTimeout       = 5 * time.Second
)

// servedNamespaces are the namespaces the HTTP endpoint serves.
var servedNamespaces = map[string]bool{"eth": true, "net": true, "web3": true}

// rpcEndpoint is the HTTP JSON-RPC server.
type rpcEndpoint struct {
	server   *http.Server
	rpc      *rpc.Server
	listener net.Listener
	served   chan error
}

// startRPC listens on host:port and serves apis there.
func startRPC(host string, port int, apis []rpc.API, waitSynced func(context.Context) error) (*rpcEndpoint, error) {
	server := rpc.NewServer()
	server.SetBatchLimits(rpcBatchCallsMax, rpcBatchResponseBytesMax)
	server.SetHTTPBodyLimit(rpcBodyBytesMax)
	apis = append(apis, rpc.API{Namespace: "web3", Service: web3API{}})
	for _, api := range apis {
		if !servedNamespaces[api.Namespace] {
			continue
		}
		if err := server.RegisterName(api.Namespace, api.Service); err != nil {
			server.Stop()
			return nil, fmt.Errorf("devchain: register %s API: %w", api.Namespace, err)
		}
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		server.Stop()
		return nil, fmt.Errorf("devchain: JSON-RPC listen: %w", err)
	}
	// Browser wallets and dapps call from any origin, and tools by any host
	// name. The chain holds only test value and exposes no unlocked account
	// and no admin namespace: the listen address is what limits who can
	// reach it.
	handler := node.NewHTTPHandlerStack(durableResponses(server, waitSynced), []string{"*"}, []string{"*"}, nil, false)
	timeouts := rpc.DefaultHTTPTimeouts
	e := &rpcEndpoint{rpc: server, listener: listener, served: make(chan error, 1), server: &http.Server{
		Handler: handler, ReadTimeout: timeouts.ReadTimeout, ReadHeaderTimeout: timeouts.ReadHeaderTimeout,
		WriteTimeout: timeouts.WriteTimeout, IdleTimeout: timeouts.IdleTimeout,
	}}
	go func() { e.served <- e.server.Serve(listener) }()
	return e, nil
}

func (e *rpcEndpoint) url() string { return "http://" + e.listener.Addr().String() }

// close stops accepting, lets calls in flight finish (bounded), and stops
// the RPC server.
func (e *rpcEndpoint) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), rpcShutdownTimeout)
	defer cancel()
	err := e.server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = e.server.Close()
	}
	if served := <-e.served; !errors.Is(served, http.ErrServerClosed) {
		err = errors.Join(err, served)
	}
	e.rpc.Stop()
	return err
}

// durableResponses buffers each response and sends it only once waitSynced
// says the head it may show is on disk; 503 if the chain stops first.
func durableResponses(next http.Handler, waitSynced func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buffered := &bufferedResponse{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(buffered, r)
		if err := waitSynced(r.Context()); err != nil {
			http.Error(w, "the chain is not available: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(buffered.status)
		w.Write(buffered.body.Bytes()) // the client may be gone; nothing to do
	})
}

// bufferedResponse is an http.ResponseWriter that keeps the body.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// web3API is the node's web3 namespace, which the node does not export.
type web3API struct{}

// ClientVersion names the embedded chain to tools that ask.
func (web3API) ClientVersion() string { return "tollway-devchain/go-ethereum" }

// Sha3 is keccak256 of input.
func (web3API) Sha3(input hexutil.Bytes) hexutil.Bytes { return crypto.Keccak256(input) }
