package devchain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
)

// idleWatch is how long a test watches the head not move: the sealer acts
// within microseconds of a pool event, and geth's spinning dev loop seals
// hundreds of blocks in this time.
const idleWatch = 300 * time.Millisecond

// testLogger writes the chain's warnings and errors to the test's log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openTestChain opens the chain in dir on a free loopback port, closed at
// the end of the test.
func openTestChain(t *testing.T, dir string) *Chain {
	t.Helper()
	c, err := Open(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return c
}

// dialHTTP is a client over the chain's JSON-RPC HTTP endpoint, as a wallet
// would use.
func dialHTTP(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	client, err := ethclient.Dial(url)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", url, err)
	}
	t.Cleanup(client.Close)
	return client
}

func newAddress(t *testing.T) common.Address {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(key.PublicKey)
}

func headOf(t *testing.T, client *ethclient.Client) uint64 {
	t.Helper()
	head, err := client.BlockNumber(context.Background())
	if err != nil {
		t.Fatalf("BlockNumber() = %v", err)
	}
	return head
}

func balanceOf(t *testing.T, client *ethclient.Client, address common.Address) *big.Int {
	t.Helper()
	balance, err := client.BalanceAt(context.Background(), address, nil)
	if err != nil {
		t.Fatalf("BalanceAt(%s) = %v", address, err)
	}
	return balance
}

// requireHeadStays fails if the head moves from head within idleWatch.
func requireHeadStays(t *testing.T, client *ethclient.Client, head uint64) {
	t.Helper()
	deadline := time.Now().Add(idleWatch)
	for time.Now().Before(deadline) {
		if now := headOf(t, client); now != head {
			t.Fatalf("head moved from %d to %d with nothing to seal", head, now)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sendTx signs and sends a dynamic-fee transaction from key over client.
func sendTx(t *testing.T, client *ethclient.Client, key *ecdsa.PrivateKey, tx *types.DynamicFeeTx) (*types.Transaction, error) {
	t.Helper()
	ctx := context.Background()
	nonce, err := client.PendingNonceAt(ctx, crypto.PubkeyToAddress(key.PublicKey))
	if err != nil {
		t.Fatalf("PendingNonceAt() = %v", err)
	}
	tx.ChainID, tx.Nonce = big.NewInt(ChainID), nonce
	signed, err := types.SignNewTx(key, types.LatestSignerForChainID(tx.ChainID), tx)
	if err != nil {
		t.Fatal(err)
	}
	return signed, client.SendTransaction(ctx, signed)
}

func TestChainServesJSONRPCWithChainID1337(t *testing.T) {
	c := openTestChain(t, t.TempDir())
	if !strings.HasPrefix(c.URL(), "http://127.0.0.1:") || strings.HasSuffix(c.URL(), ":0") {
		t.Fatalf("URL() = %q, want http://127.0.0.1:<port>", c.URL())
	}
	client := dialHTTP(t, c.URL())
	id, err := client.ChainID(context.Background())
	if err != nil || id.Int64() != ChainID || c.ChainID().Int64() != ChainID {
		t.Fatalf("ChainID() = %v, %v (Chain.ChainID() = %v), want %d", id, err, c.ChainID(), ChainID)
	}
	funded := balanceOf(t, client, c.FunderAddress())
	if funded.Cmp(funderGenesisWei) != 0 {
		t.Fatalf("funder's genesis balance = %v, want %v", funded, funderGenesisWei)
	}
	if head := headOf(t, client); head != 0 {
		t.Fatalf("a new chain's head = %d, want 0", head)
	}
	requireHeadStays(t, client, 0)
}

func TestFundSealsOneBlockPerTransactionAndNoneWhenIdle(t *testing.T) {
	dir := t.TempDir()
	c := openTestChain(t, dir)
	client := dialHTTP(t, c.URL())
	ctx := context.Background()
	const transactions = 50
	head := headOf(t, client)
	started := time.Now()
	for i := range transactions {
		to := newAddress(t)
		wei := big.NewInt(int64(1_000_000_007 * (i + 1)))
		hash, err := c.Fund(ctx, to, wei)
		if err != nil {
			t.Fatalf("Fund(%s, %v) = %v", to, wei, err)
		}
		if got := balanceOf(t, client, to); got.Cmp(wei) != 0 {
			t.Fatalf("balance after Fund(%v) = %v, want exactly that", wei, got)
		}
		receipt, err := client.TransactionReceipt(ctx, hash)
		if err != nil || receipt.BlockNumber.Uint64() != head+1 {
			t.Fatalf("receipt of fund %d = %v, %v; want it in block %d", i, receipt, err, head+1)
		}
		if now := headOf(t, client); now != head+1 {
			t.Fatalf("head after fund %d = %d, want %d: one block per transaction", i, now, head+1)
		}
		head++
	}
	elapsed := time.Since(started)
	requireHeadStays(t, client, head)
	t.Logf("%d sequential funds, one block each: %v, %.0f tx/s", transactions, elapsed.Round(time.Millisecond),
		float64(transactions)/elapsed.Seconds())
	before := chainBytes(t, dir)
	for range transactions {
		if _, err := c.Fund(ctx, newAddress(t), big.NewInt(1)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("disk: %d bytes in the chain directory after %d blocks, about %d bytes per block",
		chainBytes(t, dir), head+transactions, (chainBytes(t, dir)-before)/transactions)
}

// chainBytes is the size of the files under dir.
func chainBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return nil // removed meanwhile (a compaction)
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// logTopic is the topic the test contract's constructor logs.
var logTopic = crypto.Keccak256Hash([]byte("Deployed(uint256)"))

// loggingInitCode is hand-assembled creation code: it stores 42 at memory 0,
// emits LOG1(memory[0:32], logTopic) and returns no runtime code.
func loggingInitCode() []byte {
	code := []byte{0x60, 0x2a, 0x60, 0x00, 0x52} // PUSH1 42 PUSH1 0 MSTORE
	code = append(code, 0x7f)                    // PUSH32 topic
	code = append(code, logTopic.Bytes()...)
	code = append(code, 0x60, 0x20, 0x60, 0x00, 0xa1, 0x00) // PUSH1 32 PUSH1 0 LOG1 STOP
	return code
}

func TestGetLogsFindsAContractsEvent(t *testing.T) {
	c := openTestChain(t, t.TempDir())
	client := dialHTTP(t, c.URL())
	ctx := context.Background()
	tx, err := sendTx(t, client, c.FunderKey(), &types.DynamicFeeTx{
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(10_000_000_000), Gas: 100_000, Data: loggingInitCode(),
	})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	receipt, err := c.WaitReceipt(ctx, tx.Hash())
	if err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("deploy receipt = %+v, %v", receipt, err)
	}
	logs, err := client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(0), Addresses: []common.Address{receipt.ContractAddress},
		Topics: [][]common.Hash{{logTopic}},
	})
	if err != nil {
		t.Fatalf("eth_getLogs: %v", err)
	}
	want := common.BigToHash(big.NewInt(42)).Bytes()
	if len(logs) != 1 || logs[0].TxHash != tx.Hash() || !bytes.Equal(logs[0].Data, want) ||
		logs[0].BlockNumber != receipt.BlockNumber.Uint64() {
		t.Fatalf("eth_getLogs = %+v, want the one log of %s with data 42", logs, tx.Hash())
	}
	none, err := client.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{{common.Hash{1}}}})
	if err != nil || len(none) != 0 {
		t.Fatalf("eth_getLogs for another topic = %v, %v; want none", none, err)
	}
}

func TestRestartKeepsHeadBalancesFunderKeyAndMeta(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	firstStarts := 0
	hook := func(ctx context.Context, c *Chain) error {
		firstStarts++
		return c.SetMeta("usdc", "0x00000000000000000000000000000000000000aa")
	}
	started := time.Now()
	c, err := Open(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: testLogger(t), OnFirstStart: hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first start: %v", time.Since(started).Round(time.Millisecond))
	to := newAddress(t)
	wei := big.NewInt(123_456_789_000)
	if _, err := c.Fund(ctx, to, wei); err != nil {
		t.Fatal(err)
	}
	funder, head := crypto.FromECDSA(c.FunderKey()), c.Head()
	if err := c.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, funderKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("funder key file: %v, %v; want mode 0600", info, err)
	}

	for restart := range 2 {
		started = time.Now()
		c, err = Open(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: testLogger(t), OnFirstStart: hook})
		if err != nil {
			t.Fatalf("restart %d: %v", restart, err)
		}
		t.Logf("restart %d: %v", restart, time.Since(started).Round(time.Millisecond))
		client := dialHTTP(t, c.URL())
		if got := headOf(t, client); got != head {
			t.Fatalf("restart %d: head = %d, want %d", restart, got, head)
		}
		if got := balanceOf(t, client, to); got.Cmp(wei) != 0 {
			t.Fatalf("restart %d: balance = %v, want %v", restart, got, wei)
		}
		if !bytes.Equal(crypto.FromECDSA(c.FunderKey()), funder) {
			t.Fatalf("restart %d: the funder key changed", restart)
		}
		if value, ok := c.GetMeta("usdc"); !ok || value != "0x00000000000000000000000000000000000000aa" || firstStarts != 1 {
			t.Fatalf("restart %d: GetMeta(usdc) = %q, %v; OnFirstStart ran %d times, want once", restart, value, ok, firstStarts)
		}
		// The funder's nonce continues: Fund works and seals one block.
		if _, err := c.Fund(ctx, to, wei); err != nil {
			t.Fatalf("restart %d: Fund: %v", restart, err)
		}
		head++
		wei = new(big.Int).Add(wei, wei)
		if got := balanceOf(t, client, to); got.Cmp(wei) != 0 || headOf(t, client) != head {
			t.Fatalf("restart %d: after Fund balance = %v and head = %d, want %v and %d", restart, got, headOf(t, client), wei, head)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("restart %d: Close() = %v", restart, err)
		}
	}
}

func TestChainWithoutItsFunderKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, funderKeyFile)); err != nil {
		t.Fatal(err)
	}
	if c, err := Open(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "missing") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Open without the funder key = %v, want an error saying it is missing", err)
	}
}

func TestUnincludableTransactionsSealNoBlocks(t *testing.T) {
	c := openTestChain(t, t.TempDir())
	client := dialHTTP(t, c.URL())
	ctx := context.Background()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fund(ctx, crypto.PubkeyToAddress(key.PublicKey), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	head := headOf(t, client)
	to := newAddress(t)

	// A tip below the pool's price: refused at once, with the reason.
	_, err = sendTx(t, client, key, &types.DynamicFeeTx{GasTipCap: big.NewInt(0), GasFeeCap: big.NewInt(10_000_000_000), Gas: 21_000, To: &to, Value: big.NewInt(1)})
	if err == nil || !strings.Contains(err.Error(), "gas price below minimum") {
		t.Fatalf("send with tip 0 = %v, want refused: gas price below minimum", err)
	}
	// A fee cap below the base fee: the pool keeps it, the miner cannot
	// include it; geth's dev loop would seal empty blocks until the base
	// fee fell under it.
	// NB: the pool learns of the funding block asynchronously (its reset
	// follows the head): under load it may still see no balance for a
	// moment, so "insufficient funds" is asked again, briefly.
	var stuck *types.Transaction
	for deadline := time.Now().Add(10 * time.Second); ; {
		stuck, err = sendTx(t, client, key, &types.DynamicFeeTx{GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1000), Gas: 21_000, To: &to, Value: big.NewInt(1)})
		if err == nil || !strings.Contains(err.Error(), "insufficient funds") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // waiting for the pool's reset, which nothing announces
	}
	if err != nil {
		t.Fatalf("send with fee cap 1000 wei = %v, want it pooled", err)
	}
	requireHeadStays(t, client, head)

	// Another transaction is sealed in exactly one block; the stuck one
	// stays out and still seals nothing.
	if _, err := c.Fund(ctx, to, big.NewInt(5)); err != nil {
		t.Fatal(err)
	}
	if got := headOf(t, client); got != head+1 {
		t.Fatalf("head after one Fund beside a stuck transaction = %d, want %d", got, head+1)
	}
	if _, pending, err := client.TransactionByHash(ctx, stuck.Hash()); err != nil || !pending {
		t.Fatalf("the stuck transaction: pending = %v, err = %v; want still pending", pending, err)
	}
	requireHeadStays(t, client, head+1)
	if got := balanceOf(t, client, to); got.Cmp(big.NewInt(5)) != 0 {
		t.Fatalf("balance = %v, want 5", got)
	}
}

func TestMetaIsDurableAndBounded(t *testing.T) {
	dir := t.TempDir()
	m, err := openMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.set("pool", "0xabc"); err != nil {
		t.Fatal(err)
	}
	if err := m.set("", "x"); err == nil {
		t.Fatal("set with an empty key succeeded")
	}
	if err := m.set("k", strings.Repeat("x", metaValueLengthMax+1)); err == nil {
		t.Fatal("set with a value over the limit succeeded")
	}
	again, err := openMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if value, ok := again.get("pool"); !ok || value != "0xabc" {
		t.Fatalf("get(pool) after reopening = %q, %v; want 0xabc", value, ok)
	}
	if _, ok := again.get("k"); ok {
		t.Fatal("a refused set left its key")
	}
}

func TestOpenOnABusyPortFailsAndReleasesTheDirectory(t *testing.T) {
	busy := openTestChain(t, t.TempDir())
	dir := t.TempDir()
	listen := strings.TrimPrefix(busy.URL(), "http://")
	if c, err := Open(Config{Dir: dir, Listen: listen, Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "listen") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Open on the busy %s = %v, want a listen error", listen, err)
	}
	// The failed Open let go of the directory (its lock, its database).
	c := openTestChain(t, dir)
	if c.Head() != 0 {
		t.Fatalf("head = %d, want 0", c.Head())
	}
}
