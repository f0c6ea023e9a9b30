package facilitator

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
)

var simChainID = big.NewInt(1337)

// world is a simulated chain with the real test USDC, alice holding
// aliceUSDC of it, and a facilitator over an engine in dir.
type world struct {
	t       testing.TB
	sim     *simulated.Backend
	usdc    common.Address
	alice   *ecdsa.PrivateKey
	payee   common.Address
	dir     string
	signer  *ecdsa.PrivateKey
	mining  chan struct{} // closed to stop the miner
	wait    time.Duration // the facilitator's SettleWait
	eng     *engine.Engine
	f       *Facilitator
	mu      sync.Mutex
	now     time.Time
	network x402.Network
	admin   *bind.TransactOpts
	// batch mode: the batcher, the facilitator's mode, and a switch that
	// makes the signer's node drop what it is sent (a send lost in a crash).
	batcher common.Address
	mode    SettleMode
	drop    atomic.Bool
}

// droppingBackend loses the transactions sent while drop is set, as a
// process killed before its send would.
type droppingBackend struct {
	Backend
	drop *atomic.Bool
}

func (b droppingBackend) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	if b.drop.Load() {
		return nil
	}
	return b.Backend.SendTransaction(ctx, tx)
}

const aliceUSDC = 1_000_000

func newWorld(t testing.TB) *world {
	t.Helper()
	admin, _ := crypto.GenerateKey()
	alice, _ := crypto.GenerateKey()
	adminAddress := crypto.PubkeyToAddress(admin.PublicKey)
	signer, _ := crypto.GenerateKey()
	w := &world{t: t, alice: alice, payee: common.HexToAddress("0x00000000000000000000000000000000000000fe"), dir: t.TempDir(),
		signer: signer, wait: 10 * time.Second}
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)
	w.sim = simulated.NewBackend(types.GenesisAlloc{adminAddress: {Balance: ether}, crypto.PubkeyToAddress(signer.PublicKey): {Balance: ether}})
	t.Cleanup(func() { w.sim.Close() })
	client := w.sim.Client()
	opts := bind.NewKeyedTransactor(admin, simChainID)
	usdcABI := contracts.NewTestUSDC()
	address, tx, err := bind.DeployContract(opts, common.FromHex(contracts.TestUSDCMetaData.Bin), client, usdcABI.PackConstructor(adminAddress))
	if err != nil {
		t.Fatal(err)
	}
	w.sim.Commit()
	if r, err := bind.WaitMined(context.Background(), client, tx.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("deploy: %v %v", r, err)
	}
	w.usdc = address
	w.admin = opts
	batcher, tx, err := bind.DeployContract(opts, common.FromHex(contracts.AuthorizationBatcherMetaData.Bin), client, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.sim.Commit()
	if r, err := bind.WaitMined(context.Background(), client, tx.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("deploy the batcher: %v %v", r, err)
	}
	w.batcher = batcher
	tx, err = bind.Transact(usdcABI.Instance(client, address), opts, usdcABI.PackMint(crypto.PubkeyToAddress(alice.PublicKey), big.NewInt(aliceUSDC)))
	if err != nil {
		t.Fatal(err)
	}
	w.sim.Commit()
	if r, err := bind.WaitMined(context.Background(), client, tx.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("mint: %v %v", r, err)
	}
	header, err := client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.now = time.Unix(int64(header.Time), 0)
	w.network = x402.Network{ID: "eip155:1337", V1Name: "tollway-local", ChainID: simChainID, Chain: client}
	w.open()
	t.Cleanup(w.close)
	return w
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *world) open() {
	w.t.Helper()
	eng, err := engine.Open(engine.Options{Dir: w.dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		w.t.Fatal(err)
	}
	verifier, err := x402.NewVerifier(x402.Config{Networks: []x402.Network{w.network}, Now: w.clock})
	if err != nil {
		w.t.Fatal(err)
	}
	w.eng = eng
	s := &Signer{Key: w.signer, Backend: droppingBackend{Backend: w.sim.Client(), drop: &w.drop}, ChainID: simChainID}
	// The batch window is long against a test: batch tests cut with
	// flush, or at a full batch.
	if w.f, err = Open(context.Background(), Config{Engine: eng, Verifier: verifier, Networks: []x402.Network{w.network},
		Signer: s, SettleWait: w.wait, Now: w.clock, Logger: slog.New(slog.DiscardHandler),
		Mode: w.mode, Batcher: w.batcher, BatchWindow: time.Minute}); err != nil {
		w.t.Fatal(err)
	}
}

// mine seals a block whenever transactions wait, until stopMining.
func (w *world) mine() {
	w.mining = make(chan struct{})
	stop := w.mining
	go func() {
		ticker := time.NewTicker(5 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
			case <-stop:
				return
			}
			if n, err := w.sim.Client().PendingTransactionCount(context.Background()); err == nil && n > 0 {
				w.sim.Commit()
			}
		}
	}()
}

func (w *world) stopMining() {
	if w.mining != nil {
		close(w.mining)
		w.mining = nil
	}
}

func (w *world) close() {
	w.stopMining()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.eng != nil {
		w.eng.Close()
		w.eng = nil
	}
}

func (w *world) restart() {
	w.t.Helper()
	w.close()
	w.open()
}

// pay is alice's payment of amount to payee, valid for timeout.
func (w *world) pay(amount, timeout int64) *x402.Request {
	w.t.Helper()
	requirements := x402.PaymentRequirements{Scheme: "exact", Network: "eip155:1337", Amount: fmt.Sprint(amount),
		Asset: w.usdc.Hex(), PayTo: w.payee.Hex(), MaxTimeoutSeconds: timeout,
		Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`)}
	body, err := x402.PayExact(w.alice, requirements, "http://127.0.0.1/paid", w.clock())
	if err != nil {
		w.t.Fatal(err)
	}
	request, err := x402.ParseRequest(body)
	if err != nil {
		w.t.Fatal(err)
	}
	return request
}

func (w *world) verify(request *x402.Request) x402.VerifyResponse {
	w.t.Helper()
	response, err := w.f.Verify(context.Background(), request)
	if err != nil {
		w.t.Fatalf("Verify: %v", err)
	}
	return response
}

func (w *world) reserved() int64 {
	return w.f.Reserved(1337, w.usdc, crypto.PubkeyToAddress(w.alice.PublicKey)).Int64()
}

// TestVerifyOnce: a valid authorization verifies once; again, or after a
// restart, it is refused as used, and its value stays reserved.
func TestVerifyOnce(t *testing.T) {
	w := newWorld(t)
	request := w.pay(100_000, 60)
	if r := w.verify(request); !r.IsValid || r.Payer != crypto.PubkeyToAddress(w.alice.PublicKey).Hex() {
		t.Fatalf("first verify: %+v", r)
	}
	if got := w.reserved(); got != 100_000 {
		t.Fatalf("reserved %d, want 100000", got)
	}
	if r := w.verify(request); r.IsValid || r.InvalidReason != x402.ReasonNonceAlreadyUsed {
		t.Fatalf("second verify: %+v, want %s", r, x402.ReasonNonceAlreadyUsed)
	}
	w.restart()
	if got := w.reserved(); got != 100_000 {
		t.Fatalf("reserved %d after a restart, want 100000", got)
	}
	if r := w.verify(request); r.IsValid || r.InvalidReason != x402.ReasonNonceAlreadyUsed {
		t.Fatalf("verify after a restart: %+v, want %s", r, x402.ReasonNonceAlreadyUsed)
	}
	// Expired, it releases its reservation, and is still refused.
	w.advance(61 * time.Second)
	if got := w.reserved(); got != 0 {
		t.Fatalf("reserved %d after the authorization expired, want 0", got)
	}
	w.restart()
	if r := w.verify(request); r.IsValid {
		t.Fatalf("an expired, recorded authorization verified: %+v", r)
	}
}

// TestVerifyReservesTheBalance: authorizations in flight cannot together
// exceed the payer's balance; one expiring makes room.
func TestVerifyReservesTheBalance(t *testing.T) {
	w := newWorld(t)
	first := w.pay(600_000, 60)
	if r := w.verify(first); !r.IsValid {
		t.Fatalf("first: %+v", r)
	}
	second := w.pay(600_000, 600)
	if r := w.verify(second); r.IsValid || r.InvalidReason != x402.ReasonInsufficientBalance {
		t.Fatalf("second: %+v, want %s", r, x402.ReasonInsufficientBalance)
	}
	exact := w.pay(400_000, 600)
	if r := w.verify(exact); !r.IsValid {
		t.Fatalf("the rest of the balance: %+v", r)
	}
	if got := w.reserved(); got != aliceUSDC {
		t.Fatalf("reserved %d, want %d", got, aliceUSDC)
	}
	w.advance(61 * time.Second) // first expires
	third := w.pay(600_000, 600)
	if r := w.verify(third); !r.IsValid {
		t.Fatalf("after the first expired: %+v", r)
	}
	if got := w.reserved(); got != aliceUSDC {
		t.Fatalf("reserved %d, want %d", got, aliceUSDC)
	}
}

// TestVerifyConcurrently: the same authorization verified by 16 callers
// at once is valid for exactly one.
func TestVerifyConcurrently(t *testing.T) {
	w := newWorld(t)
	request := w.pay(10_000, 60)
	var wg sync.WaitGroup
	var mu sync.Mutex
	valid := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.f.Verify(context.Background(), request)
			if err != nil {
				t.Error(err)
				return
			}
			if r.IsValid {
				mu.Lock()
				valid++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if valid != 1 {
		t.Fatalf("%d of 16 concurrent verifications valid, want 1", valid)
	}
	if got := w.reserved(); got != 10_000 {
		t.Fatalf("reserved %d, want 10000", got)
	}
}

// TestInvalidIsNotRecorded: a payment that fails the protocol's rules is
// answered as x402 says and recorded nowhere.
func TestInvalidIsNotRecorded(t *testing.T) {
	w := newWorld(t)
	request := w.pay(aliceUSDC+1, 60)
	if r := w.verify(request); r.IsValid || r.InvalidReason != x402.ReasonInsufficientBalance {
		t.Fatalf("over the balance: %+v", r)
	}
	if got := w.reserved(); got != 0 {
		t.Fatalf("reserved %d, want 0", got)
	}
	found := false
	if err := w.eng.ScanRows([]byte(recordPrefix), func(_, _ []byte) error { found = true; return nil }); err != nil || found {
		t.Fatalf("a refused payment left a record (%v)", err)
	}
	if s := w.f.Supported(); len(s.Kinds) == 0 || s.Kinds[0].Network == "" {
		t.Fatalf("supported: %+v", s)
	}
}
