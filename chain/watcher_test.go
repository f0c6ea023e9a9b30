package chain

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

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
