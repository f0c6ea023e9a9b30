package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/httpapi/siwe"
)

// TestServeRunsTheEmbeddedChain: `tollway serve` starts the embedded chain
// by default (here on a free port), deploys the contracts, prints the
// JSON-RPC URL, the addresses and a funded test wallet's key, publishes
// them in /v1/config, and its faucet funds a new wallet, as a wallet sees
// it over the chain's JSON-RPC.
func TestServeRunsTheEmbeddedChain(t *testing.T) {
	adminToken := strings.Repeat("a", 32)
	text := startServe(t, 5, "--admin-token", adminToken, "--chain-listen", "127.0.0.1:0") // listening, chain, contracts, test wallet, console
	api := findIn(t, text, `tollway listening on (http://\S+)`)
	if console := findIn(t, text, `console on (http://\S+)`); console != api+"/console" {
		t.Fatalf("serve printed the console at %s, want %s/console", console, api)
	}
	rpcURL := findIn(t, text, `chain JSON-RPC on (http://\S+) \(chain id 1337\)`)
	usdcAddress := findIn(t, text, `test USDC (0x[0-9a-fA-F]{40})`)
	poolAddress := findIn(t, text, `pool (0x[0-9a-fA-F]{40})`)
	walletKey, err := crypto.HexToECDSA(findIn(t, text, `private key ([0-9a-f]{64})`))
	if err != nil {
		t.Fatal(err)
	}

	response, err := http.Get(api + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		ChainID           int    `json:"chainId"`
		RPCURL            string `json:"rpcUrl"`
		SettlementAddress string `json:"settlementAddress"`
		X402Batcher       string `json:"x402BatcherAddress"`
		Assets            []struct {
			Address string `json:"address"`
		} `json:"assets"`
	}
	err = json.NewDecoder(response.Body).Decode(&config)
	response.Body.Close()
	if err != nil || config.ChainID != 1337 || config.RPCURL != rpcURL || config.SettlementAddress != poolAddress ||
		len(config.Assets) != 1 || config.Assets[0].Address != usdcAddress || !common.IsHexAddress(config.X402Batcher) {
		t.Fatalf("/v1/config = %+v, %v; want the printed chain", config, err)
	}

	client, err := ethclient.Dial(rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	usdcBinding := contracts.NewTestUSDC()
	usdc := usdcBinding.Instance(client, common.HexToAddress(usdcAddress))
	wallet := crypto.PubkeyToAddress(walletKey.PublicKey)
	if got, err := bind.Call(usdc, nil, usdcBinding.PackBalanceOf(wallet), usdcBinding.UnpackBalanceOf); err != nil || got.Sign() <= 0 {
		t.Fatalf("the printed test wallet holds %v USDC (%v), want some", got, err)
	}

	newWallet := crypto.PubkeyToAddress(mustKey(t).PublicKey)
	body, _ := json.Marshal(map[string]string{"address": newWallet.Hex(), "eth": "2000000000000000000", "usdc": "5000000"})
	request, _ := http.NewRequest("POST", api+"/v1/admin/chain/faucet", bytes.NewReader(body))
	request.Header.Set("Authorization", "Bearer "+adminToken)
	response, err = http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	var funded struct {
		TxHashes []string `json:"txHashes"`
	}
	err = json.NewDecoder(response.Body).Decode(&funded)
	response.Body.Close()
	if err != nil || response.StatusCode != 200 || len(funded.TxHashes) != 2 {
		t.Fatalf("faucet = %d %+v %v", response.StatusCode, funded, err)
	}
	ctx := context.Background()
	if got, err := client.BalanceAt(ctx, newWallet, nil); err != nil || got.Cmp(big.NewInt(2e18)) != 0 {
		t.Fatalf("the new wallet's ETH = %v %v, want 2e18", got, err)
	}
	if got, err := bind.Call(usdc, nil, usdcBinding.PackBalanceOf(newWallet), usdcBinding.UnpackBalanceOf); err != nil || got.Cmp(big.NewInt(5_000_000)) != 0 {
		t.Fatalf("the new wallet's USDC = %v %v, want 5000000", got, err)
	}

	// The test wallet signs in (SIWE), binds an account, deposits into
	// the pool from its own wallet: the deposit watcher credits it once.
	account, access := signInAndBind(t, api, walletKey)
	depositFromWallet(t, client, walletKey, common.HexToAddress(usdcAddress), common.HexToAddress(poolAddress), big.NewInt(100_000_000))
	awaitAvailable(t, api, account, access, "0", "100000000")
}

// signInAndBind signs the wallet in with Sign-In with Ethereum and creates
// a test account bound to it; it returns the account's id and the access
// token.
func signInAndBind(t *testing.T, api string, walletKey *ecdsa.PrivateKey) (account, access string) {
	t.Helper()
	wallet := crypto.PubkeyToAddress(walletKey.PublicKey)
	challenge := postJSON(t, api, "/v1/auth/siwe/challenge", "", map[string]string{"address": wallet.Hex()})
	signature, err := siwe.Sign(challenge["message"].(string), walletKey)
	if err != nil {
		t.Fatal(err)
	}
	access = postJSON(t, api, "/v1/auth/siwe/login", "", map[string]string{"message": challenge["message"].(string), "signature": signature})["accessToken"].(string)
	account = postJSON(t, api, "/v1/accounts", access, map[string]string{"name": "pool", "environment": "test", "walletAddress": wallet.Hex()})["id"].(string)
	return account, access
}

// postJSON posts body and returns the 2xx answer's object.
func postJSON(t *testing.T, api, path, token string, body any) map[string]any {
	t.Helper()
	data, _ := json.Marshal(body)
	request, _ := http.NewRequest("POST", api+path, bytes.NewReader(data))
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(response.Body).Decode(&v); err != nil || response.StatusCode/100 != 2 {
		t.Fatalf("POST %s = %d %v %v", path, response.StatusCode, v, err)
	}
	return v
}

// depositFromWallet approves the pool for the amounts' sum and deposits
// each amount, in that order, from the wallet as a wallet does (its own
// transactions over JSON-RPC), waits for each to succeed, and returns the
// deposits' block numbers.
func depositFromWallet(t *testing.T, client *ethclient.Client, walletKey *ecdsa.PrivateKey, usdcAddress, poolAddress common.Address, amounts ...*big.Int) []uint64 {
	t.Helper()
	ctx := context.Background()
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	usdcBinding, poolBinding := contracts.NewTestUSDC(), contracts.NewSettlementPool()
	usdc, pool := usdcBinding.Instance(client, usdcAddress), poolBinding.Instance(client, poolAddress)
	opts := bind.NewKeyedTransactor(walletKey, chainID)
	transact := func(contract *bind.BoundContract, data []byte) uint64 {
		t.Helper()
		tx, err := bind.Transact(contract, opts, data)
		if err != nil {
			t.Fatal(err)
		}
		receipt := waitMined(t, client, tx.Hash())
		if receipt.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("receipt %+v: the transaction failed", receipt)
		}
		return receipt.BlockNumber.Uint64()
	}
	sum := new(big.Int)
	for _, amount := range amounts {
		sum.Add(sum, amount)
	}
	transact(usdc, usdcBinding.PackApprove(poolAddress, sum))
	var blocks []uint64
	for _, amount := range amounts {
		blocks = append(blocks, transact(pool, poolBinding.PackDeposit(amount)))
	}
	return blocks
}

// minedTimeout bounds the wait for a transaction's receipt; receiptPoll is
// how often the wait looks.
const (
	minedTimeout = 30 * time.Second
	receiptPoll  = 20 * time.Millisecond
)

// waitMined polls the node for the transaction's receipt until
// minedTimeout. A node answers "not found", or "transaction indexing is in
// progress" while its index catches up, until it is mined.
func waitMined(t *testing.T, client *ethclient.Client, hash common.Hash) *types.Receipt {
	t.Helper()
	receipt, err := waitReceipt(context.Background(), client, hash)
	if err != nil {
		t.Fatal(err)
	}
	return receipt
}

func waitReceipt(ctx context.Context, client *ethclient.Client, hash common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, minedTimeout)
	defer cancel()
	for {
		receipt, err := client.TransactionReceipt(ctx, hash)
		if err == nil {
			return receipt, nil
		}
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "transaction indexing is in progress") {
			return nil, fmt.Errorf("receipt of %s: %w", hash, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt of %s: not mined within %v", hash, minedTimeout)
		case <-time.After(receiptPoll):
		}
	}
}

// awaitAvailable polls the account until its available balance is want,
// within 30 s; a value other than from or want fails at once.
func awaitAvailable(t *testing.T, api, account, access, from, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := available(t, api, account, access)
		if got == want {
			return
		}
		if got != from || time.Now().After(deadline) {
			t.Fatalf("account %s has %s available, want %s (from %s) within 30 s", account, got, want, from)
		}
		time.Sleep(100 * time.Millisecond) // the watcher looks every second
	}
}

// available is the account's available balance.
func available(t *testing.T, api, account, access string) string {
	t.Helper()
	request, _ := http.NewRequest("GET", api+"/v1/accounts/"+account, nil)
	request.Header.Set("Authorization", "Bearer "+access)
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var v struct {
		Balance struct {
			Available string `json:"available"`
		} `json:"balance"`
	}
	if err := json.NewDecoder(response.Body).Decode(&v); err != nil || response.StatusCode != 200 {
		t.Fatalf("GET /v1/accounts/%s = %d %+v %v", account, response.StatusCode, v, err)
	}
	return v.Balance.Available
}

// startServe runs `tollway serve` (this test binary as the command) on
// free ports with a new data directory and args, until the test ends, and
// returns the first lines it prints, once it printed them.
func startServe(t *testing.T, lines int, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), beMain+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("serve's stderr:\n%s", stderr.String())
		}
	})
	printedLines := make(chan string, 16)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			printedLines <- scanner.Text()
		}
		close(printedLines)
	}()
	var printed []string
	deadline := time.After(2 * time.Minute)
	for len(printed) < lines {
		select {
		case line, ok := <-printedLines:
			if !ok {
				t.Fatalf("serve exited after printing %q", printed)
			}
			printed = append(printed, line)
		case <-deadline:
			t.Fatalf("serve printed %q in 2 minutes", printed)
		}
	}
	return strings.Join(printed, "\n")
}

// findIn returns pattern's first group in text.
func findIn(t *testing.T, text, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("serve's output lacks %s:\n%s", pattern, text)
	}
	return m[1]
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}
