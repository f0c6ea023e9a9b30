package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollway/tollway/chain/contracts"
)

func openLocal(t *testing.T, dir string) *Local {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := OpenLocal(ctx, LocalConfig{Dir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("OpenLocal: %v", err)
	}
	return l
}

// TestLocalChainDeploysOnceAndAWalletDepositsOverJSONRPC: the first start
// deploys the token and the pool (relayer role, delay, fee recipient) and
// funds the relayer and the test wallet; the test wallet, a client of the
// chain's JSON-RPC like any wallet, approves and deposits into the pool; a
// restart keeps the same contracts and balances and deploys nothing again.
func TestLocalChainDeploysOnceAndAWalletDepositsOverJSONRPC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLocal(t, dir)
	client, err := ethclient.Dial(l.Chain.URL())
	if err != nil {
		t.Fatal(err)
	}
	usdcBinding, poolBinding := contracts.NewTestUSDC(), contracts.NewSettlementPool()
	usdc, pool := usdcBinding.Instance(client, l.USDC), poolBinding.Instance(client, l.Pool)

	role, err := bind.Call(pool, nil, poolBinding.PackRELAYERROLE(), poolBinding.UnpackRELAYERROLE)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := bind.Call(pool, nil, poolBinding.PackHasRole(role, l.RelayerAddress()), poolBinding.UnpackHasRole); err != nil || !ok {
		t.Fatalf("relayer has RELAYER_ROLE = %v %v, want true", ok, err)
	}
	if delay, err := bind.Call(pool, nil, poolBinding.PackWithdrawalDelay(), poolBinding.UnpackWithdrawalDelay); err != nil ||
		delay.Int64() != int64(LocalWithdrawalDelay/time.Second) {
		t.Fatalf("withdrawalDelay = %v %v", delay, err)
	}
	if balance, err := client.BalanceAt(ctx, l.RelayerAddress(), nil); err != nil || balance.Cmp(relayerWei) != 0 {
		t.Fatalf("relayer's ETH = %v %v, want %v", balance, err, relayerWei)
	}
	wallet := l.TestWalletAddress()
	if got, err := bind.Call(usdc, nil, usdcBinding.PackBalanceOf(wallet), usdcBinding.UnpackBalanceOf); err != nil || got.Cmp(testWalletUSDC) != 0 {
		t.Fatalf("test wallet's USDC = %v %v, want %v", got, err, testWalletUSDC)
	}

	// The test wallet deposits, as a wallet would: its own transactions,
	// over the JSON-RPC endpoint.
	opts := bind.NewKeyedTransactor(l.TestWallet, l.Chain.ChainID())
	deposit := big.NewInt(250 * 1e6)
	for _, call := range []struct {
		contract *bind.BoundContract
		data     []byte
	}{
		{usdc, usdcBinding.PackApprove(l.Pool, deposit)},
		{pool, poolBinding.PackDeposit(deposit)},
	} {
		tx, err := bind.Transact(call.contract, opts, call.data)
		if err != nil {
			t.Fatalf("transact: %v", err)
		}
		receipt, err := bind.WaitMined(ctx, client, tx.Hash())
		if err != nil || receipt.Status != 1 {
			t.Fatalf("receipt = %+v, %v", receipt, err)
		}
	}
	if got, err := bind.Call(pool, nil, poolBinding.PackBalanceOf(wallet), poolBinding.UnpackBalanceOf); err != nil || got.Cmp(deposit) != 0 {
		t.Fatalf("pool balance = %v %v, want %v", got, err, deposit)
	}

	// The faucet, within its limits.
	stranger := crypto.PubkeyToAddress(mustGenerate(t).PublicKey)
	hashes, err := l.Faucet(ctx, stranger, FaucetWeiDefault, FaucetUSDCDefault)
	if err != nil || len(hashes) != 2 {
		t.Fatalf("Faucet = %v, %v", hashes, err)
	}
	if balance, err := client.BalanceAt(ctx, stranger, nil); err != nil || balance.Cmp(FaucetWeiDefault) != 0 {
		t.Fatalf("stranger's ETH = %v %v", balance, err)
	}
	if got, err := bind.Call(usdc, nil, usdcBinding.PackBalanceOf(stranger), usdcBinding.UnpackBalanceOf); err != nil || got.Cmp(FaucetUSDCDefault) != 0 {
		t.Fatalf("stranger's USDC = %v %v", got, err)
	}
	if _, err := l.Faucet(ctx, stranger, new(big.Int).Add(FaucetWeiMax, big.NewInt(1)), big.NewInt(0)); !errors.Is(err, ErrFaucetLimit) {
		t.Fatalf("Faucet above its limit = %v, want ErrFaucetLimit", err)
	}

	if code, err := client.CodeAt(ctx, l.X402Batcher, nil); err != nil || len(code) == 0 || l.Settlement().X402Batcher != l.X402Batcher {
		t.Fatalf("the x402 batcher %s: %d bytes of code (%v)", l.X402Batcher, len(code), err)
	}

	usdcAddress, poolAddress, batcherAddress, head := l.USDC, l.Pool, l.X402Batcher, l.Chain.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLocal(t, dir)
	defer l.Close()
	if l.USDC != usdcAddress || l.Pool != poolAddress || l.X402Batcher != batcherAddress || l.Chain.Head() != head {
		t.Fatalf("after a restart: usdc %s pool %s batcher %s head %d, want %s %s %s %d (nothing deployed again)",
			l.USDC, l.Pool, l.X402Batcher, l.Chain.Head(), usdcAddress, poolAddress, batcherAddress, head)
	}
	client, err = ethclient.Dial(l.Chain.URL())
	if err != nil {
		t.Fatal(err)
	}
	pool = poolBinding.Instance(client, l.Pool)
	if got, err := bind.Call(pool, nil, poolBinding.PackBalanceOf(wallet), poolBinding.UnpackBalanceOf); err != nil || got.Cmp(deposit) != 0 {
		t.Fatalf("pool balance after a restart = %v %v, want %v", got, err, deposit)
	}
	if l.TestWalletAddress() != wallet || (l.RelayerAddress() == common.Address{}) {
		t.Fatal("the keys changed across a restart")
	}
}

// TestLocalChainDeploysTheBatcherOnAnOlderChain: a chain whose first start
// predates the x402 batcher (no address in its metadata) gets one at its
// next start, and keeps it after.
func TestLocalChainDeploysTheBatcherOnAnOlderChain(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir)
	if err := l.Chain.SetMeta(metaX402Batcher, ""); err != nil { // as before the batcher
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLocal(t, dir)
	batcher := l.X402Batcher
	code, err := l.Chain.Client().CodeAt(context.Background(), batcher, nil)
	if err != nil || len(code) == 0 {
		t.Fatalf("the batcher deployed at the next start, %s: %d bytes of code (%v)", batcher, len(code), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLocal(t, dir)
	defer l.Close()
	if l.X402Batcher != batcher {
		t.Fatalf("after another restart the batcher is %s, want %s", l.X402Batcher, batcher)
	}
}

func mustGenerate(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}
