package devchain

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
)

// The kill -9 test runs the chain in a child process (this test binary,
// re-executed), sends it transfers over JSON-RPC, kills it with SIGKILL as
// soon as their receipts are seen, with more transfers just sent and not
// yet answered, and restarts it on the same directory, a few times. Then it
// opens the chain in the parent and checks that every transfer whose receipt
// was seen is there, in the same block, with its exact balance, and that
// each one not answered is either wholly there or not at all.

const (
	crashChildEnv     = "TOLLWAY_DEVCHAIN_CRASH_CHILD_DIR"
	crashRounds       = 3
	crashTransfers    = 20 // per round, receipts awaited
	crashUnanswered   = 5  // per round, sent just before the kill
	crashStartTimeout = 30 * time.Second
	crashMineTimeout  = 30 * time.Second
)

func TestDevchainCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSealedTransactionsSurviveKill9")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := Open(Config{Dir: dir, Listen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		fmt.Printf("FATAL Open: %v\n", err)
		os.Exit(3)
	}
	fmt.Printf("URL %s\n", c.URL())
	select {} // until killed (or -test.timeout, should the parent die first)
}

// crashChild is a chain process.
type crashChild struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCrashChild starts a chain process on dir and waits for its URL.
func startCrashChild(t *testing.T, dir string) *crashChild {
	t.Helper()
	c := &crashChild{stderr: &lockedBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestDevchainCrashChild$", "-test.count=1", "-test.timeout=3m")
	c.cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	c.cmd.Stderr = c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if url, ok := strings.CutPrefix(scanner.Text(), "URL "); ok {
				urls <- url
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("child %d stderr:\n%s", c.cmd.Process.Pid, c.stderr)
		}
	})
	select {
	case c.url = <-urls:
	case <-c.exited:
		t.Fatalf("the chain process exited before listening: %v\n%s", c.cmd.ProcessState, c.stderr)
	case <-time.After(crashStartTimeout):
		t.Fatalf("the chain process did not listen within %v\n%s", crashStartTimeout, c.stderr)
	}
	return c
}

// kill sends SIGKILL (if the process still runs) and reaps it.
func (c *crashChild) kill() {
	c.cmd.Process.Kill() // an error only says it is gone already
	<-c.exited
}

// crashTransfer is one transfer the parent sent, to a fresh address.
type crashTransfer struct {
	hash   common.Hash
	to     common.Address
	wei    *big.Int
	block  uint64 // the block its receipt named; 0 if none was seen
	status uint64
}

func TestSealedTransactionsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chain processes")
	}
	dir := t.TempDir()
	ctx := context.Background()
	var answered, unanswered []crashTransfer
	for round := range crashRounds {
		started := time.Now()
		child := startCrashChild(t, dir)
		client, err := ethclient.Dial(child.url)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: chain process listening after %v", round, time.Since(started).Round(time.Millisecond))
		key := readFunderKey(t, dir)
		nonce, err := client.PendingNonceAt(ctx, crypto.PubkeyToAddress(key.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		var sent []crashTransfer
		for i := range crashTransfers {
			sent = append(sent, sendCrashTransfer(t, client, key, nonce, round, i))
			nonce++
		}
		for i := range sent {
			awaitCrashReceipt(t, client, &sent[i])
		}
		var lost []crashTransfer
		for i := range crashUnanswered {
			lost = append(lost, sendCrashTransfer(t, client, key, nonce, round, crashTransfers+i))
			nonce++
		}
		child.kill()
		client.Close()
		answered, unanswered = append(answered, sent...), append(unanswered, lost...)
	}

	c := openTestChain(t, dir)
	client := dialHTTP(t, c.URL())
	var head uint64
	for _, transfer := range answered {
		receipt, err := client.TransactionReceipt(ctx, transfer.hash)
		if err != nil || receipt.BlockNumber.Uint64() != transfer.block || receipt.Status != transfer.status {
			t.Fatalf("transfer %s, answered in block %d: after the kill receipt = %+v, %v", transfer.hash, transfer.block, receipt, err)
		}
		if got := balanceOf(t, client, transfer.to); got.Cmp(transfer.wei) != 0 {
			t.Fatalf("transfer %s: balance of %s = %v, want %v", transfer.hash, transfer.to, got, transfer.wei)
		}
		head = max(head, transfer.block)
	}
	kept := 0
	for _, transfer := range unanswered {
		receipt, err := client.TransactionReceipt(ctx, transfer.hash)
		balance := balanceOf(t, client, transfer.to)
		switch {
		case err == nil && receipt.Status == types.ReceiptStatusSuccessful && balance.Cmp(transfer.wei) == 0:
			kept++
		case errors.Is(err, ethereum.NotFound) && balance.Sign() == 0:
		default:
			t.Fatalf("unanswered transfer %s: receipt %+v, %v and balance %v: neither wholly there nor absent", transfer.hash, receipt, err, balance)
		}
	}
	if got := headOf(t, client); got < head {
		t.Fatalf("head after the kills = %d, below block %d of an answered transfer", got, head)
	}
	t.Logf("%d answered transfers all kept over %d kills; %d of %d unanswered ones kept", len(answered), crashRounds, kept, len(unanswered))
}

func readFunderKey(t *testing.T, dir string) *ecdsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, funderKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.HexToECDSA(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sendCrashTransfer sends a distinct amount to a fresh address with nonce.
func sendCrashTransfer(t *testing.T, client *ethclient.Client, key *ecdsa.PrivateKey, nonce uint64, round, i int) crashTransfer {
	t.Helper()
	to := newAddress(t)
	wei := big.NewInt(int64(1_000_000 + 1000*round + i))
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(ChainID)), &types.DynamicFeeTx{
		ChainID: big.NewInt(ChainID), Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(10_000_000_000),
		Gas: 21_000, To: &to, Value: wei,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SendTransaction(context.Background(), tx); err != nil {
		t.Fatalf("round %d transfer %d: send: %v", round, i, err)
	}
	return crashTransfer{hash: tx.Hash(), to: to, wei: wei}
}

// awaitCrashReceipt polls the chain process for the transfer's receipt.
func awaitCrashReceipt(t *testing.T, client *ethclient.Client, transfer *crashTransfer) {
	t.Helper()
	deadline := time.Now().Add(crashMineTimeout)
	for {
		receipt, err := client.TransactionReceipt(context.Background(), transfer.hash)
		if err == nil {
			transfer.block, transfer.status = receipt.BlockNumber.Uint64(), receipt.Status
			return
		}
		if !errors.Is(err, ethereum.NotFound) && !isIndexing(err) || time.Now().After(deadline) {
			t.Fatalf("receipt of %s: %v", transfer.hash, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
