package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/chain/facilitator"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
)

// The x402-verify scenario: POST /x402/verify of distinct, valid payments
// signed before the run, against a Tollway server on its embedded chain.

const (
	// X402AuthorizationsDefault is how many payments x402-verify signs for
	// one target: each verification uses one up (a second verification of
	// the same authorization is refused as used).
	X402AuthorizationsDefault = 400_000
	// x402AuthorizationsMax bounds them: about 1.5 KB of body each.
	x402AuthorizationsMax = 5_000_000
	// x402PerPayer is how many authorizations one payer signs: within the
	// facilitator's bound on a payer's authorizations in flight.
	x402PerPayer = facilitator.OpenPerPayerMax * 9 / 10
	// x402Value is each payment, in base units; each payer gets
	// x402PerPayer of them from the faucet, the reservations' cover.
	x402Value = 1
	// x402Validity is how long the authorizations stay valid.
	x402Validity = time.Hour
)

// X402TargetConfig describes an x402-verify target.
type X402TargetConfig struct {
	URL            string // a server run with --x402-open on its embedded chain
	AdminToken     string // for the faucet
	Authorizations int    // X402AuthorizationsDefault when zero
	Connections    int
	Process        *Process // the server, when the benchmark started it
}

// x402Target posts the signed verify bodies, each once.
type x402Target struct {
	tollwayServer
	client  *fasthttp.HostClient
	url     string
	bodies  [][]byte
	next    atomic.Int64
	workers []x402Worker
}

type x402Worker struct {
	request  *fasthttp.Request
	response *fasthttp.Response
	_        [64]byte // each worker on cache lines of its own
}

// NewX402Target funds payers through the faucet and signs the payments,
// x402PerPayer per payer, to one payee.
func NewX402Target(ctx context.Context, cfg X402TargetConfig) (Target, error) {
	if cfg.Authorizations == 0 {
		cfg.Authorizations = X402AuthorizationsDefault
	}
	if cfg.Authorizations < 1 || cfg.Authorizations > x402AuthorizationsMax || cfg.Connections < 1 {
		return nil, fmt.Errorf("%w: %d authorizations, %d connections; want 1 to %d and 1 or more",
			engine.ErrInvalid, cfg.Authorizations, cfg.Connections, x402AuthorizationsMax)
	}
	c := &fasthttp.Client{MaxConnsPerHost: setupConnections}
	config, err := call(c, cfg.URL+"/v1/config", "", nil, 200)
	if err != nil {
		return nil, fmt.Errorf("prepare x402-verify: %w", err)
	}
	chainID, usdc, err := x402Chain(config)
	if err != nil {
		return nil, fmt.Errorf("prepare x402-verify: %w", err)
	}
	payers := make([]*ecdsa.PrivateKey, (cfg.Authorizations+x402PerPayer-1)/x402PerPayer)
	for i := range payers {
		if payers[i], err = crypto.GenerateKey(); err != nil {
			return nil, fmt.Errorf("prepare x402-verify: %w", err)
		}
		address := crypto.PubkeyToAddress(payers[i].PublicKey).Hex()
		if _, err := call(c, cfg.URL+"/v1/admin/chain/faucet", cfg.AdminToken,
			map[string]string{"address": address, "eth": "1", "usdc": fmt.Sprint(x402PerPayer * x402Value)}, 200); err != nil {
			return nil, fmt.Errorf("prepare x402-verify: fund payer %d: %w", i, err)
		}
	}
	bodies, err := signX402Bodies(ctx, cfg.Authorizations, payers, chainID, usdc)
	if err != nil {
		return nil, fmt.Errorf("prepare x402-verify: %w", err)
	}
	t := &x402Target{
		tollwayServer: tollwayServer{process: cfg.Process}, url: cfg.URL + "/x402/verify", bodies: bodies,
		client:  &fasthttp.HostClient{Addr: hostOf(cfg.URL), MaxConns: cfg.Connections, ReadTimeout: latencyMax, WriteTimeout: latencyMax},
		workers: make([]x402Worker, cfg.Connections),
	}
	for i := range t.workers {
		w := &t.workers[i]
		w.request, w.response = &fasthttp.Request{}, &fasthttp.Response{}
		w.request.SetRequestURI(t.url)
		w.request.Header.SetMethod("POST")
		w.request.Header.SetContentType("application/json")
	}
	return t, nil
}

// x402Chain reads the chain id and the USDC address from /v1/config.
func x402Chain(config map[string]any) (*big.Int, common.Address, error) {
	id, _ := config["chainId"].(float64)
	assets, _ := config["assets"].([]any)
	if id < 1 || len(assets) == 0 {
		return nil, common.Address{}, fmt.Errorf("/v1/config names no chain and asset: is the server on its embedded chain?")
	}
	asset, _ := assets[0].(map[string]any)
	address, _ := asset["address"].(string)
	if !common.IsHexAddress(address) {
		return nil, common.Address{}, fmt.Errorf("/v1/config names no USDC address")
	}
	return big.NewInt(int64(id)), common.HexToAddress(address), nil
}

// signX402Bodies signs n payments of x402Value, x402PerPayer per payer,
// on every core, and encodes each as a v2 verify request.
func signX402Bodies(ctx context.Context, n int, payers []*ecdsa.PrivateKey, chainID *big.Int, usdc common.Address) ([][]byte, error) {
	domain := x402.DomainSeparator("USD Coin", "2", chainID, usdc)
	payTo := common.HexToAddress("0x00000000000000000000000000000000000b3c4")
	requirements := x402.PaymentRequirements{
		Scheme: x402.SchemeExact, Network: "eip155:" + chainID.String(), Amount: fmt.Sprint(x402Value), Asset: usdc.Hex(),
		PayTo: payTo.Hex(), MaxTimeoutSeconds: 60, Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`),
	}
	validBefore := big.NewInt(time.Now().Add(x402Validity).Unix())
	bodies := make([][]byte, n)
	var next atomic.Int64
	var failure atomic.Pointer[error]
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && failure.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				body, err := signX402Body(payers[i/x402PerPayer], payTo, validBefore, domain, requirements)
				if err != nil {
					failure.Store(&err)
					return
				}
				bodies[i] = body
			}
		}()
	}
	wg.Wait()
	if err := failure.Load(); err != nil {
		return nil, *err
	}
	return bodies, ctx.Err()
}

// signX402Body is one payment: a fresh nonce, signed by payer.
func signX402Body(payer *ecdsa.PrivateKey, payTo common.Address, validBefore *big.Int, domain common.Hash, requirements x402.PaymentRequirements) ([]byte, error) {
	a := &x402.Authorization{From: crypto.PubkeyToAddress(payer.PublicKey), To: payTo, Value: big.NewInt(x402Value),
		ValidAfter: big.NewInt(0), ValidBefore: validBefore}
	if _, err := rand.Read(a.Nonce[:]); err != nil {
		return nil, err
	}
	digest := x402.TransferWithAuthorizationDigest(domain, a)
	signature, err := crypto.Sign(digest[:], payer)
	if err != nil {
		return nil, fmt.Errorf("sign a payment: %w", err)
	}
	signature[64] += 27
	payload, err := json.Marshal(x402.ExactEVMPayload{Signature: hexutil.Encode(signature), Authorization: x402.ExactEVMAuthorization{
		From: a.From.Hex(), To: a.To.Hex(), Value: a.Value.String(), ValidAfter: a.ValidAfter.String(),
		ValidBefore: a.ValidBefore.String(), Nonce: hexutil.Encode(a.Nonce[:]),
	}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(x402.VerifyRequest{X402Version: x402.Version2, PaymentPayload: x402.PaymentPayload{
		X402Version: x402.Version2, Resource: &x402.ResourceInfo{URL: "http://127.0.0.1/paid"}, Accepted: requirements, Payload: payload,
	}, PaymentRequirements: requirements})
}

func (t *x402Target) Name() string { return "tollway" }

// Do verifies the next payment; one that is not valid is a failure
// labelled with its reason, and so is running out of payments.
func (t *x402Target) Do(ctx context.Context, worker int) (operations int, failure string) {
	i := t.next.Add(1) - 1
	if i >= int64(len(t.bodies)) {
		return 0, "authorizations used up"
	}
	w := &t.workers[worker]
	w.request.SetBody(t.bodies[i])
	if err := t.client.Do(w.request, w.response); err != nil {
		return 0, httpFailure(err)
	}
	if status := w.response.StatusCode(); status != fasthttp.StatusOK {
		return 0, fmt.Sprint(status)
	}
	var answer x402.VerifyResponse
	if err := json.Unmarshal(w.response.Body(), &answer); err != nil {
		return 0, "error: answer"
	}
	if !answer.IsValid {
		return 0, "invalid: " + answer.InvalidReason
	}
	return 1, ""
}

// Close closes the client's connections and stops the server process.
func (t *x402Target) Close() error {
	t.client.CloseIdleConnections()
	return t.stop()
}
