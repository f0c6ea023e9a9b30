package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/engine"
)

// wallets is a binding of wallets to accounts that a test changes.
type wallets struct {
	mu    sync.Mutex
	bound map[common.Address]engine.AccountID
}

func (w *wallets) lookup(address common.Address) (engine.AccountID, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	account, ok := w.bound[address]
	return account, ok
}

func (w *wallets) bind(address common.Address, account engine.AccountID) {
	w.mu.Lock()
	w.bound[address] = account
	w.mu.Unlock()
}

// TestWatcherCreditsEachDepositOnce: deposits made by wallets over the
// chain's JSON-RPC credit the account bound to the wallet exactly once,
// however often the watcher looks, across a restart of the engine and a
// new watcher; a deposit from a wallet bound to no account waits until an
// account binds it.
func TestWatcherCreditsEachDepositOnce(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	defer l.Close()
	client, err := ethclient.Dial(l.Chain.URL())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []engine.AccountID{"alice", "bob"} {
		if err := eng.CreateAccount(ctx, engine.Account{ID: id, Ledger: "test:USDC"}); err != nil {
			t.Fatal(err)
		}
	}
	bindings := &wallets{bound: map[common.Address]engine.AccountID{l.TestWalletAddress(): "alice"}}
	watcher := func(eng *engine.Engine) *Watcher {
		return &Watcher{Engine: eng, Client: client, Heads: client, Pool: l.Pool, Confirmations: LocalConfirmations,
			Wallets: bindings.lookup, Logger: slog.New(slog.DiscardHandler)}
	}
	deposit := func(key *ecdsa.PrivateKey, amount int64) {
		t.Helper()
		k := l.TestWallet
		if key != nil {
			k = key
		}
		usdcBinding, poolBinding := contracts.NewTestUSDC(), contracts.NewSettlementPool()
		opts := bind.NewKeyedTransactor(k, l.Chain.ChainID())
		for _, call := range []struct {
			contract *bind.BoundContract
			data     []byte
		}{
			{usdcBinding.Instance(client, l.USDC), usdcBinding.PackApprove(l.Pool, big.NewInt(amount))},
			{poolBinding.Instance(client, l.Pool), poolBinding.PackDeposit(big.NewInt(amount))},
		} {
			tx, err := bind.Transact(call.contract, opts, call.data)
			if err != nil {
				t.Fatal(err)
			}
			if receipt, err := bind.WaitMined(ctx, client, tx.Hash()); err != nil || receipt.Status != 1 {
				t.Fatalf("receipt %+v %v", receipt, err)
			}
		}
	}
	wantAvailable := func(eng *engine.Engine, account engine.AccountID, want uint64) {
		t.Helper()
		b, err := eng.Balance(ctx, account)
		if err != nil || b.Available != engine.NewAmount(want) {
			t.Fatalf("%s available = %s %v, want %d", account, b.Available, err, want)
		}
	}

	deposit(nil, 250_000_000)
	deposit(nil, 1_000_000)
	w := watcher(eng)
	for range 3 {
		if err := w.Poll(ctx); err != nil {
			t.Fatalf("Poll: %v", err)
		}
	}
	wantAvailable(eng, "alice", 251_000_000)

	// A wallet no account binds: its deposit waits, then credits bob once
	// bob binds it.
	stranger, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	strangerAddress := crypto.PubkeyToAddress(stranger.PublicKey)
	if _, err := l.Faucet(ctx, strangerAddress, FaucetWeiDefault, FaucetUSDCDefault); err != nil {
		t.Fatal(err)
	}
	deposit(stranger, 7_000_000)
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	wantAvailable(eng, "bob", 0)
	bindings.bind(strangerAddress, "bob")
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	wantAvailable(eng, "bob", 7_000_000)

	// A restart, and a new watcher from the recorded block: nothing twice.
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err = engine.Open(engine.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	w = watcher(eng)
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	wantAvailable(eng, "alice", 251_000_000)
	wantAvailable(eng, "bob", 7_000_000)
	// Even read again from block 0, the credits are replays.
	if _, err := eng.WriteRows(ctx, engine.Row{Key: []byte(watchCursorKey), Value: make([]byte, 8)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	wantAvailable(eng, "alice", 251_000_000)
	wantAvailable(eng, "bob", 7_000_000)
	if err := eng.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// simulatedPool is the token and the pool on go-ethereum's simulated
// chain, whose clock a test can move (the local chain's withdrawal delay
// is a day of real time). admin owns the token and administers the pool;
// relayer settles.
type simulatedPool struct {
	t                    *testing.T
	sim                  *simulated.Backend
	client               simulated.Client
	admin, relayer       *ecdsa.PrivateKey
	usdc, pool           common.Address
	usdcBinding          *contracts.TestUSDC
	poolBinding          *contracts.SettlementPool
	usdcBound, poolBound *bind.BoundContract
}

// simulatedChainID is the simulated backend's, fixed by go-ethereum;
// simulatedWithdrawalDelay is the pool's delay there.
var simulatedChainID = big.NewInt(1337)

const simulatedWithdrawalDelay = time.Hour

func newSimulatedPool(t *testing.T, wallets ...*ecdsa.PrivateKey) *simulatedPool {
	t.Helper()
	p := &simulatedPool{t: t, admin: newKey(t), relayer: newKey(t), usdcBinding: contracts.NewTestUSDC(), poolBinding: contracts.NewSettlementPool()}
	alloc := types.GenesisAlloc{}
	for _, key := range append([]*ecdsa.PrivateKey{p.admin, p.relayer}, wallets...) {
		alloc[crypto.PubkeyToAddress(key.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))}
	}
	p.sim = simulated.NewBackend(alloc)
	t.Cleanup(func() { p.sim.Close() })
	p.client = p.sim.Client()
	admin := crypto.PubkeyToAddress(p.admin.PublicKey)
	p.usdc = p.deploy(contracts.TestUSDCMetaData.Bin, p.usdcBinding.PackConstructor(admin))
	p.pool = p.deploy(contracts.SettlementPoolMetaData.Bin, p.poolBinding.PackConstructor(p.usdc, admin,
		crypto.PubkeyToAddress(p.relayer.PublicKey), admin, big.NewInt(int64(simulatedWithdrawalDelay/time.Second))))
	p.usdcBound, p.poolBound = p.usdcBinding.Instance(p.client, p.usdc), p.poolBinding.Instance(p.client, p.pool)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (p *simulatedPool) deploy(bin string, constructor []byte) common.Address {
	p.t.Helper()
	address, tx, err := bind.DeployContract(bind.NewKeyedTransactor(p.admin, simulatedChainID), common.FromHex(bin), p.client, constructor)
	if err != nil {
		p.t.Fatalf("deploy: %v", err)
	}
	p.mine(tx)
	return address
}

// send sends a transaction from key, mines it and requires its success.
// Its gas is fixed, not estimated: the estimate runs in a block whose
// timestamp can be the last one's, where a second withdrawal request
// rewrites its availableAt with the same value, which costs less gas than
// the write it then makes once mined.
func (p *simulatedPool) send(key *ecdsa.PrivateKey, contract *bind.BoundContract, data []byte) {
	p.t.Helper()
	opts := bind.NewKeyedTransactor(key, simulatedChainID)
	opts.GasLimit = 1_000_000
	tx, err := bind.Transact(contract, opts, data)
	if err != nil {
		p.t.Fatalf("send from %s: %v", crypto.PubkeyToAddress(key.PublicKey), err)
	}
	p.mine(tx)
}

func (p *simulatedPool) mine(tx *types.Transaction) {
	p.t.Helper()
	p.sim.Commit()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receipt, err := bind.WaitMined(ctx, p.client, tx.Hash())
	if err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		p.t.Fatalf("transaction %s: receipt %+v, %v", tx.Hash(), receipt, err)
	}
}

// fund mints amount to key's wallet, which approves and deposits it.
func (p *simulatedPool) fund(key *ecdsa.PrivateKey, amount int64) {
	p.t.Helper()
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	p.send(p.admin, p.usdcBound, p.usdcBinding.PackMint(wallet, big.NewInt(amount)))
	p.send(key, p.usdcBound, p.usdcBinding.PackApprove(p.pool, big.NewInt(amount)))
	p.send(key, p.poolBound, p.poolBinding.PackDeposit(big.NewInt(amount)))
}

// adjustTime moves the chain's clock forward by d. The simulated backend
// refuses while its pending block holds a transaction, which one just
// mined can still be for a moment: then it seals that block and retries.
func (p *simulatedPool) adjustTime(d time.Duration) {
	p.t.Helper()
	var err error
	for range 10 {
		if err = p.sim.AdjustTime(d); err == nil {
			p.sim.Commit()
			return
		}
		p.sim.Commit()
	}
	p.t.Fatalf("AdjustTime(%v): %v", d, err)
}

// TestWatcherReservesWhatAWithdrawalRequestMayTakeAndPaysItOut: a bound
// wallet's withdrawal request reserves, on its account, what it has
// available of the amount (its unsettled charges stay spent), so it can
// no longer be spent; a second request replaces the first; once the delay
// passes and the pool pays, the reservation is released and exactly what
// was paid leaves through the chain account. OnWithdrawalRequested hears
// of each request once it is reserved. Reading the blocks again, after a
// restart, applies nothing twice; an unbound wallet's withdrawal is
// skipped.
func TestWatcherReservesWhatAWithdrawalRequestMayTakeAndPaysItOut(t *testing.T) {
	ctx := context.Background()
	aliceKey, strangerKey, supplierKey := newKey(t), newKey(t), newKey(t)
	aliceWallet, strangerWallet := crypto.PubkeyToAddress(aliceKey.PublicKey), crypto.PubkeyToAddress(strangerKey.PublicKey)
	p := newSimulatedPool(t, aliceKey, strangerKey)
	dir := t.TempDir()
	open := func() *engine.Engine {
		t.Helper()
		eng, err := engine.Open(engine.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	eng := open()
	defer func() { eng.Close() }()
	for _, id := range []engine.AccountID{"alice", "bob"} {
		if err := eng.CreateAccount(ctx, engine.Account{ID: id, Ledger: "test:USDC"}); err != nil {
			t.Fatal(err)
		}
	}
	type request struct {
		wallet      common.Address
		availableAt time.Time
	}
	var requests []request
	bindings := &wallets{bound: map[common.Address]engine.AccountID{aliceWallet: "alice"}}
	watcher := func(eng *engine.Engine) *Watcher {
		return &Watcher{Engine: eng, Client: p.client, Heads: p.client, Pool: p.pool, Wallets: bindings.lookup,
			Logger: slog.New(slog.DiscardHandler),
			OnWithdrawalRequested: func(wallet common.Address, availableAt time.Time) {
				requests = append(requests, request{wallet, availableAt})
			}}
	}
	w := watcher(eng)
	poll := func() {
		t.Helper()
		if err := w.Poll(ctx); err != nil {
			t.Fatalf("Poll: %v", err)
		}
	}
	wantBalance := func(account engine.AccountID, available, reserved, posted uint64) {
		t.Helper()
		b, err := eng.Balance(ctx, account)
		if err != nil || b.Available != engine.NewAmount(available) || b.Reserved != engine.NewAmount(reserved) || b.Posted != engine.NewAmount(posted) {
			t.Fatalf("Balance(%s) = %+v, %v, want available %d, reserved %d, posted %d", account, b, err, available, reserved, posted)
		}
	}
	wantChainPending := func(pending uint64) {
		t.Helper()
		chain, err := eng.Balance(ctx, engine.ChainAccount("test:USDC"))
		if err != nil || chain.Pending != engine.NewAmount(pending) {
			t.Fatalf("Balance(chain) = %+v, %v, want %d pending", chain, err, pending)
		}
	}
	blockTime := func() time.Time {
		t.Helper()
		header, err := p.client.HeaderByNumber(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return time.Unix(int64(header.Time), 0).UTC()
	}

	// alice deposits 5 USDC and spends 1 off chain, not yet settled.
	p.fund(aliceKey, 5_000_000)
	poll()
	wantBalance("alice", 5_000_000, 0, 5_000_000)
	if _, err := eng.Charge(ctx, engine.Charge{ID: "call-1", From: "alice", To: "bob", Amount: engine.NewAmount(1_000_000)}); err != nil {
		t.Fatal(err)
	}

	// Her request of 3 reserves 3 of the 4 she has.
	p.send(aliceKey, p.poolBound, p.poolBinding.PackRequestWithdrawal(big.NewInt(3_000_000)))
	firstAvailableAt := blockTime().Add(simulatedWithdrawalDelay)
	poll()
	wantBalance("alice", 1_000_000, 3_000_000, 4_000_000)
	wantChainPending(3_000_000)
	if len(requests) != 1 || requests[0] != (request{aliceWallet, firstAvailableAt}) {
		t.Fatalf("OnWithdrawalRequested calls = %+v, want one for %s available at %v", requests, aliceWallet, firstAvailableAt)
	}
	// Her second request, of 4.5, replaces it: all 4 she has is reserved.
	p.send(aliceKey, p.poolBound, p.poolBinding.PackRequestWithdrawal(big.NewInt(4_500_000)))
	secondAvailableAt := blockTime().Add(simulatedWithdrawalDelay)
	poll()
	wantBalance("alice", 0, 4_000_000, 4_000_000)
	wantChainPending(4_000_000)
	if len(requests) != 2 || requests[1] != (request{aliceWallet, secondAvailableAt}) {
		t.Fatalf("OnWithdrawalRequested calls = %+v, want a second for %s available at %v", requests, aliceWallet, secondAvailableAt)
	}
	_, err := eng.Charge(ctx, engine.Charge{ID: "call-2", From: "alice", To: "bob", Amount: engine.NewAmount(1)})
	if !errors.Is(err, engine.ErrInsufficientFunds) {
		t.Fatalf("Charge(1) with everything reserved = %v, want %v", err, engine.ErrInsufficientFunds)
	}

	// A wallet no account binds deposits and asks to withdraw: skipped.
	p.fund(strangerKey, 2_000_000)
	p.send(strangerKey, p.poolBound, p.poolBinding.PackRequestWithdrawal(big.NewInt(2_000_000)))
	poll()
	if len(requests) != 2 {
		t.Fatalf("OnWithdrawalRequested calls = %+v, want none for the unbound %s", requests, strangerWallet)
	}

	// The relayer settles alice's call within the delay; then the pool
	// pays her the 4 left of the 4.5 she asked for.
	p.send(p.relayer, p.poolBound, p.poolBinding.PackSettleBatch([32]byte{1}, []contracts.SettlementPoolEntry{
		{From: aliceWallet, To: crypto.PubkeyToAddress(supplierKey.PublicKey), Amount: big.NewInt(1_000_000), Fee: big.NewInt(0)}}))
	p.adjustTime(simulatedWithdrawalDelay)
	p.send(aliceKey, p.poolBound, p.poolBinding.PackFinalizeWithdrawal())
	p.send(strangerKey, p.poolBound, p.poolBinding.PackFinalizeWithdrawal())
	poll()
	wantBalance("alice", 0, 0, 0)
	wantChainPending(0)
	chain, err := eng.Balance(ctx, engine.ChainAccount("test:USDC"))
	if err != nil || !chain.Available.IsZero() || !chain.Posted.IsZero() {
		t.Fatalf("Balance(chain) = %+v, %v, want it overdrawn by the 1 USDC the ledger still holds (bob's)", chain, err)
	}
	wantBalance("bob", 1_000_000, 0, 1_000_000)
	if err := eng.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// A restart, the blocks read again from the first: nothing twice.
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng = open()
	if _, err := eng.WriteRows(ctx, engine.Row{Key: []byte(watchCursorKey), Value: make([]byte, 8)}); err != nil {
		t.Fatal(err)
	}
	requests = nil
	w = watcher(eng)
	poll()
	wantBalance("alice", 0, 0, 0)
	wantChainPending(0)
	wantBalance("bob", 1_000_000, 0, 1_000_000)
	if len(requests) != 2 {
		t.Fatalf("OnWithdrawalRequested calls after reading the blocks again = %+v, want the two requests again", requests)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
