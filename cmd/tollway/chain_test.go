package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
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
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn",
		"--admin-token", adminToken, "--chain-listen", "127.0.0.1:0")
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
	})
	lines := make(chan string, 16)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()
	var printed []string
	deadline := time.After(2 * time.Minute)
	for len(printed) < 4 { // listening, chain, contracts, test wallet
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited after printing %q: %s", printed, stderr.String())
			}
			printed = append(printed, line)
		case <-deadline:
			t.Fatalf("serve printed %q in 2 minutes: %s", printed, stderr.String())
		}
	}
	text := strings.Join(printed, "\n")
	find := func(pattern string) string {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("serve's output lacks %s:\n%s", pattern, text)
		}
		return m[1]
	}
	api := find(`tollway listening on (http://\S+)`)
	rpcURL := find(`chain JSON-RPC on (http://\S+) \(chain id 1337\)`)
	usdcAddress := find(`test USDC (0x[0-9a-fA-F]{40})`)
	poolAddress := find(`pool (0x[0-9a-fA-F]{40})`)
	walletKey, err := crypto.HexToECDSA(find(`private key ([0-9a-f]{64})`))
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
		Assets            []struct {
			Address string `json:"address"`
		} `json:"assets"`
	}
	err = json.NewDecoder(response.Body).Decode(&config)
	response.Body.Close()
	if err != nil || config.ChainID != 1337 || config.RPCURL != rpcURL || config.SettlementAddress != poolAddress ||
		len(config.Assets) != 1 || config.Assets[0].Address != usdcAddress {
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
	post := func(path, token string, body any) map[string]any {
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
	challenge := post("/v1/auth/siwe/challenge", "", map[string]string{"address": wallet.Hex()})
	signature, err := siwe.Sign(challenge["message"].(string), walletKey)
	if err != nil {
		t.Fatal(err)
	}
	access := post("/v1/auth/siwe/login", "", map[string]string{"message": challenge["message"].(string), "signature": signature})["accessToken"].(string)
	account := post("/v1/accounts", access, map[string]string{"name": "pool", "environment": "test", "walletAddress": wallet.Hex()})["id"].(string)
	poolBinding := contracts.NewSettlementPool()
	opts := bind.NewKeyedTransactor(walletKey, big.NewInt(1337))
	deposit := big.NewInt(100_000_000)
	for _, call := range []struct {
		contract *bind.BoundContract
		data     []byte
	}{
		{usdc, usdcBinding.PackApprove(common.HexToAddress(poolAddress), deposit)},
		{poolBinding.Instance(client, common.HexToAddress(poolAddress)), poolBinding.PackDeposit(deposit)},
	} {
		tx, err := bind.Transact(call.contract, opts, call.data)
		if err != nil {
			t.Fatal(err)
		}
		if receipt, err := bind.WaitMined(ctx, client, tx.Hash()); err != nil || receipt.Status != 1 {
			t.Fatalf("receipt %+v %v", receipt, err)
		}
	}
	credited := time.Now().Add(30 * time.Second)
	for {
		request, _ := http.NewRequest("GET", api+"/v1/accounts/"+account, nil)
		request.Header.Set("Authorization", "Bearer "+access)
		response, err := http.DefaultClient.Do(request)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Balance struct {
				Available string `json:"available"`
			} `json:"balance"`
		}
		err = json.NewDecoder(response.Body).Decode(&v)
		response.Body.Close()
		if err == nil && v.Balance.Available == "100000000" {
			break
		}
		if err != nil || v.Balance.Available != "0" || time.Now().After(credited) {
			t.Fatalf("account after the deposit: %+v %v, want 100000000 available within 30 s", v, err)
		}
		time.Sleep(100 * time.Millisecond) // the watcher looks every second
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}
