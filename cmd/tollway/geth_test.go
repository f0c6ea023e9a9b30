package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollway/tollway/chain"
	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/devchain"
)

// The geth test runs `tollway serve --chain-rpc` against a real node:
// geth --dev, the go.mod's go-ethereum version, installed by .ci/run with
// go install github.com/ethereum/go-ethereum/cmd/geth@VERSION.

// requireGethEnv makes a missing geth fail the test instead of skipping it
// (.ci/run sets it; CI=1 does the same).
const requireGethEnv = "TOLLWAY_REQUIRE_GETH"

// gethStartTimeout bounds how long geth --dev takes to serve JSON-RPC.
const gethStartTimeout = time.Minute

// findGeth returns a geth binary, on PATH or in GOPATH/bin, preferring
// one of go.mod's go-ethereum version; without one it skips the test,
// loudly, or fails it in CI.
func findGeth(t *testing.T) string {
	t.Helper()
	want := goEthereumVersion(t)
	var found []string
	if path, err := exec.LookPath("geth"); err == nil {
		found = append(found, path)
	}
	for _, gopath := range filepath.SplitList(build.Default.GOPATH) {
		if path := filepath.Join(gopath, "bin", "geth"); isExecutable(path) {
			found = append(found, path)
		}
	}
	for _, path := range found {
		out, err := exec.Command(path, "version").Output()
		if err == nil && strings.Contains(string(out), "\nVersion: "+strings.TrimPrefix(want, "v")+"-") {
			return path
		}
	}
	install := "go install github.com/ethereum/go-ethereum/cmd/geth@" + want
	if len(found) > 0 {
		t.Logf("no geth of go.mod's version %s (%s); using %s", want, install, found[0])
		return found[0]
	}
	if os.Getenv(requireGethEnv) == "1" || os.Getenv("CI") == "1" || os.Getenv("CI") == "true" {
		t.Fatalf("no geth on PATH or in GOPATH/bin, and %s=1 or CI requires it: %s", requireGethEnv, install)
	}
	t.Skipf("SKIPPED: no geth on PATH or in GOPATH/bin, so tollway serve --chain-rpc is NOT tested against a real node: %s", install)
	return ""
}

// goEthereumVersion is the go-ethereum version this test binary links,
// go.mod's.
func goEthereumVersion(t *testing.T) string {
	t.Helper()
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/ethereum/go-ethereum" {
				return dep.Version
			}
		}
	}
	t.Fatal("the test binary's build information names no go-ethereum")
	return ""
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}

// gethNode is a geth --dev process.
type gethNode struct {
	url       string
	client    *ethclient.Client
	developer common.Address // geth's prefunded developer account, unlocked
}

// gethEndpoint is geth's log line naming the HTTP endpoint it listens on:
// --http.port 0 picks a free port, so no port is guessed and raced for.
var gethEndpoint = regexp.MustCompile(`HTTP server started\s+endpoint=(\S+)`)

// startGeth starts geth --dev in a new directory: one block per
// transaction (--dev.period 0), HTTP JSON-RPC only (no IPC; no p2p, which
// --dev turns off), until the test ends.
func startGeth(t *testing.T, geth string) *gethNode {
	t.Helper()
	args := []string{"--dev", "--dev.period", "0", "--datadir", t.TempDir(), "--ipcdisable",
		"--http", "--http.addr", "127.0.0.1", "--http.port", "0", "--http.api", "eth,net,web3", "--verbosity", "3"}
	cmd := exec.Command(geth, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log lockedLog
	exited := make(chan struct{})
	endpoints := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			line := scanner.Text()
			log.add(line)
			if m := gethEndpoint.FindStringSubmatch(line); m != nil {
				select {
				case endpoints <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(exited)
	}()
	// Registered after TempDir's: runs first, so the directory is removed
	// once geth is gone.
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("geth %s log:\n%s", strings.Join(args, " "), log.String())
		}
	})
	var endpoint string
	select {
	case endpoint = <-endpoints:
	case <-exited:
		t.Fatalf("geth exited before serving JSON-RPC: %v\n%s", cmd.ProcessState, log.String())
	case <-time.After(gethStartTimeout):
		t.Fatalf("geth did not serve JSON-RPC within %v\n%s", gethStartTimeout, log.String())
	}
	node := &gethNode{url: "http://" + endpoint}
	if node.client, err = ethclient.Dial(node.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.client.Close)
	var accounts []common.Address
	if err := node.client.Client().Call(&accounts, "eth_accounts"); err != nil || len(accounts) != 1 {
		t.Fatalf("geth --dev eth_accounts = %v, %v: want its developer account", accounts, err)
	}
	node.developer = accounts[0]
	return node
}

// send sends wei from the developer account with eth_sendTransaction
// (geth --dev keeps it unlocked) and waits for it to be mined: funding,
// and a new block whenever the test wants one.
func (g *gethNode) send(t *testing.T, to common.Address, wei *big.Int) {
	t.Helper()
	var hash common.Hash
	err := g.client.Client().Call(&hash, "eth_sendTransaction", map[string]any{
		"from": g.developer, "to": to, "value": (*hexutil.Big)(wei)})
	if err != nil {
		t.Fatalf("eth_sendTransaction from the developer account: %v", err)
	}
	if receipt := waitMined(t, g.client, hash); receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("transfer to %s failed: %+v", to, receipt)
	}
}

// mine makes geth --dev seal a block: a transfer of 1 wei to itself.
func (g *gethNode) mine(t *testing.T) {
	t.Helper()
	g.send(t, g.developer, big.NewInt(1))
}

type lockedLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockedLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestGethDevSettlesDepositsWithChainRPC: the contracts deployed on geth
// --dev by `tollway chain deploy` (chain.Deploy), from a key the developer
// account funded, with a relayer key file it creates; `tollway serve
// --chain-rpc`, started with the line deploy printed, checks them, prints
// and publishes the node in /v1/config (two confirmations by default),
// refuses the faucet (embedded chain only: 409 invalid_state), and credits
// a SIWE wallet's deposits once two blocks are on top of each, and each
// only once.
func TestGethDevSettlesDepositsWithChainRPC(t *testing.T) {
	geth := findGeth(t)
	ctx := context.Background()
	node := startGeth(t, geth)
	chainID, err := node.client.ChainID(ctx)
	if err != nil || chainID.Int64() != devchain.ChainID {
		t.Fatalf("geth --dev chain id = %v, %v; want %d", chainID, err, devchain.ChainID)
	}

	// The deployment, as an operator makes one: `tollway chain deploy`
	// with a deployer key the developer account funded, creating the
	// relayer's key file; then the relayer funded for its gas. The node is
	// reached through a proxy that counts the server's calls.
	proxy := startRPCProxy(t, node.url)
	dir := t.TempDir()
	deployerFile, relayerFile := filepath.Join(dir, "deployer.key"), filepath.Join(dir, "relayer.key")
	deployerKey, err := devchain.LoadOrCreateKey(deployerFile, true)
	if err != nil {
		t.Fatal(err)
	}
	deployer := &chain.Transactor{Backend: node.client, Key: deployerKey, ChainID: chainID,
		WaitReceipt: func(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
			return waitReceipt(ctx, node.client, hash)
		}}
	ether := big.NewInt(1e18)
	node.send(t, deployer.Address(), new(big.Int).Mul(big.NewInt(100), ether))
	code, printed, stderr := runCLI(t, "chain", "deploy", "--chain-rpc", proxy.url, "--deployer-key-file", deployerFile,
		"--relayer-key-file", relayerFile)
	if code != 0 || stderr != "" {
		t.Fatalf("tollway chain deploy = exit %d, stdout %q, stderr %q", code, printed, stderr)
	}
	relayerKey, err := devchain.LoadOrCreateKey(relayerFile, false)
	if err != nil {
		t.Fatalf("tollway chain deploy made no relayer key: %v", err)
	}
	relayer, walletKey := crypto.PubkeyToAddress(relayerKey.PublicKey), mustKey(t)
	wallet := crypto.PubkeyToAddress(walletKey.PublicKey)
	deployment := chain.Deployment{USDC: common.HexToAddress(findIn(t, printed, `^USDC (0x[0-9a-fA-F]{40}),`)),
		Pool: common.HexToAddress(findIn(t, printed, `, pool (0x[0-9a-fA-F]{40}),`)), FeeRecipient: deployer.Address(),
		X402Batcher: common.HexToAddress(findIn(t, printed, `, x402 batcher (0x[0-9a-fA-F]{40}) `))}
	serveLine := fmt.Sprintf("tollway serve --chain-rpc %s --chain-id 1337 --pool-address %s --usdc-address %s --relayer-key-file %s --x402-batcher-address %s",
		proxy.url, deployment.Pool.Hex(), deployment.USDC.Hex(), relayerFile, deployment.X402Batcher.Hex())
	if want := fmt.Sprintf("USDC %s, pool %s, relayer %s, fee recipient %s, x402 batcher %s (chain id 1337)\nthe relayer has no ETH: send it some for the gas of settlements\n%s\n",
		deployment.USDC.Hex(), deployment.Pool.Hex(), relayer.Hex(), deployer.Address().Hex(), deployment.X402Batcher.Hex(), serveLine); printed != want {
		t.Fatalf("tollway chain deploy printed\n%s\nwant\n%s", printed, want)
	}
	node.send(t, relayer, new(big.Int).Mul(big.NewInt(10), ether))
	node.send(t, wallet, ether)
	usdcBinding := contracts.NewTestUSDC()
	if _, err := deployer.Transact(ctx, usdcBinding.Instance(node.client, deployment.USDC), usdcBinding.PackMint(wallet, big.NewInt(1_000_000_000))); err != nil {
		t.Fatalf("mint: %v", err)
	}

	// The server, started with the line deploy printed.
	adminToken := strings.Repeat("a", 32)
	text := startServe(t, 3, append(strings.Fields(serveLine)[2:], "--admin-token", adminToken, "--batch-window", "200ms", "--fee-bps", "100")...)
	api := findIn(t, text, `tollway listening on (http://\S+)`)
	if want := "chain node " + proxy.url + " (chain id 1337)\nUSDC " + deployment.USDC.Hex() + ", pool " + deployment.Pool.Hex() +
		", relayer " + relayer.Hex(); !strings.HasSuffix(text, want) {
		t.Fatalf("serve printed\n%s\nwant it to end with\n%s", text, want)
	}
	checkRemoteConfig(t, api, proxy.url, deployment, relayer, deployer.Address())
	checkNoFaucet(t, api, adminToken, wallet)

	// Two deposits, credited once each has two blocks on top, and no
	// sooner; then a third, credited alone: the earlier two once only.
	account, access := signInAndBind(t, api, walletKey)
	amounts := []int64{100_000_000, 5_000_000}
	blocks := depositFromWallet(t, node.client, walletKey, deployment.USDC, deployment.Pool, big.NewInt(amounts[0]), big.NewInt(amounts[1]))
	node.awaitConfirmedCredits(t, proxy, api, account, access, 0, amounts, blocks)
	blocks = depositFromWallet(t, node.client, walletKey, deployment.USDC, deployment.Pool, big.NewInt(1_000_000))
	node.awaitConfirmedCredits(t, proxy, api, account, access, 105_000_000, []int64{1_000_000}, blocks)

	// Charges over HTTP settle on geth once the batch has its confirmations:
	// the consumer's pool balance, the supplier's and the fee recipient's
	// USDC equal the ledger exactly.
	supplierKey := mustKey(t)
	supplierAccount, _ := signInAndBind(t, api, supplierKey)
	key := postJSON(t, api, "/v1/accounts/"+account+"/keys", access, map[string]any{"label": "agent", "kind": "secret",
		"scopes": []string{"charges:write", "settlements:read"}})["key"].(string)
	feesBefore := node.usdcOf(t, deployment.USDC, deployer.Address())
	var total, fees int64
	for i := range 10 {
		amount := int64(100_000 + 1_000*i)
		postJSON(t, api, "/v1/charges", key, map[string]any{"to": supplierAccount, "amount": fmt.Sprint(amount)})
		total, fees = total+amount, fees+amount/100
	}
	const deposited = 106_000_000
	deadline := time.Now().Add(2 * time.Minute)
	for !allSettled(t, api, key) || node.poolOf(t, deployment.Pool, wallet) != deposited-total {
		if time.Now().After(deadline) {
			t.Fatalf("charges not settled on geth within 2 minutes: pool balance %d, want %d", node.poolOf(t, deployment.Pool, wallet), deposited-total)
		}
		node.mine(t) // geth --dev seals on transactions only: blocks for the confirmations
		time.Sleep(100 * time.Millisecond)
	}
	if got := node.usdcOf(t, deployment.USDC, crypto.PubkeyToAddress(supplierKey.PublicKey)); got != total-fees {
		t.Errorf("the supplier's USDC is %d, want %d", got, total-fees)
	}
	if got := node.usdcOf(t, deployment.USDC, deployer.Address()) - feesBefore; got != fees {
		t.Errorf("the fee recipient received %d USDC, want %d", got, fees)
	}
	if got := available(t, api, account, access); got != fmt.Sprint(deposited-total) {
		t.Errorf("the consumer's off-chain balance is %s, want %d: its pool balance", got, deposited-total)
	}
}

// allSettled reports whether the key's account has settlements and every
// one is CONFIRMED.
func allSettled(t *testing.T, api, key string) bool {
	t.Helper()
	request, _ := http.NewRequest("GET", api+"/v1/settlements", nil)
	request.Header.Set("Authorization", "Bearer "+key)
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var page struct{ Data []struct{ State string } }
	if err := json.NewDecoder(response.Body).Decode(&page); err != nil || response.StatusCode != 200 {
		t.Fatalf("GET /v1/settlements = %d %v", response.StatusCode, err)
	}
	for _, s := range page.Data {
		if s.State != "CONFIRMED" {
			return false
		}
	}
	return len(page.Data) > 0
}

func (g *gethNode) usdcOf(t *testing.T, usdc, account common.Address) int64 {
	t.Helper()
	binding := contracts.NewTestUSDC()
	v, err := bind.Call(binding.Instance(g.client, usdc), nil, binding.PackBalanceOf(account), binding.UnpackBalanceOf)
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

func (g *gethNode) poolOf(t *testing.T, pool, account common.Address) int64 {
	t.Helper()
	binding := contracts.NewSettlementPool()
	v, err := bind.Call(binding.Instance(g.client, pool), nil, binding.PackBalanceOf(account), binding.UnpackBalanceOf)
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

// creditTimeout bounds the wait for deposits' credits; creditPoll is how
// often the account is read once the deposits are confirmed.
const (
	creditTimeout = time.Minute
	creditPoll    = 50 * time.Millisecond
)

// awaitConfirmedCredits seals blocks, one at a time, until the last
// deposit (of amounts, in blocks) has remoteConfirmationsDefault blocks on
// top, and waits until the account shows start plus every amount. Before
// each block it lets the server's watcher look at the head (two of its
// passes, seen at the proxy), and every balance seen must be start plus
// the deposits the head confirms, or fewer: a deposit credited with fewer
// blocks on top fails the test. (geth --dev seals an empty block at times:
// the check counts the head's blocks, not the test's.)
func (g *gethNode) awaitConfirmedCredits(t *testing.T, proxy *rpcProxy, api, account, access string, start int64, amounts []int64, blocks []uint64) {
	t.Helper()
	confirmedAt := blocks[len(blocks)-1] + remoteConfirmationsDefault
	deadline := time.Now().Add(creditTimeout)
	for {
		credited, head := g.checkCredits(t, api, account, access, start, amounts, blocks)
		switch {
		case credited == len(amounts):
			return
		case time.Now().After(deadline):
			t.Fatalf("account %s: %d of the deposits %v in blocks %v credited after %v, at head %d", account, credited, amounts, blocks, creditTimeout, head)
		case head < confirmedAt:
			proxy.awaitCalls(t, "eth_blockNumber", 2)
			g.checkCredits(t, api, account, access, start, amounts, blocks)
			g.mine(t)
		default:
			time.Sleep(creditPoll) // the watcher looks every second
		}
	}
}

// checkCredits reads the account's balance, then the head, and checks that
// the balance is start plus the first deposits, no more than the head
// confirms; it returns how many and the head.
func (g *gethNode) checkCredits(t *testing.T, api, account, access string, start int64, amounts []int64, blocks []uint64) (int, uint64) {
	t.Helper()
	got := available(t, api, account, access)
	head, err := g.client.BlockNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	balance := start
	for credited := 0; ; credited++ {
		if got == strconv.FormatInt(balance, 10) {
			if credited > 0 && head < blocks[credited-1]+remoteConfirmationsDefault {
				t.Fatalf("account %s has %s available at head %d: the deposit in block %d credited before %d blocks were on top",
					account, got, head, blocks[credited-1], remoteConfirmationsDefault)
			}
			return credited, head
		}
		if credited == len(amounts) {
			t.Fatalf("account %s has %s available: not %d plus some of the deposits %v", account, got, start, amounts)
		}
		balance += amounts[credited]
	}
}

// rpcProxy forwards JSON-RPC to the node and counts the calls of each
// method, so a test can tell that the server's watcher looked: each of its
// passes asks eth_blockNumber once, so two calls after a moment mean a
// whole pass ran after it.
type rpcProxy struct {
	url     string
	forward http.Handler
	mu      sync.Mutex
	calls   map[string]int
}

// rpcBodyBytesMax bounds a request body the proxy reads.
const rpcBodyBytesMax = 1 << 20

func startRPCProxy(t *testing.T, target string) *rpcProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &rpcProxy{forward: httputil.NewSingleHostReverseProxy(u), calls: map[string]int{}}
	server := httptest.NewServer(p)
	t.Cleanup(server.Close)
	p.url = server.URL
	return p
}

func (p *rpcProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, rpcBodyBytesMax))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var one struct{ Method string }
	var batch []struct{ Method string }
	p.mu.Lock()
	if json.Unmarshal(body, &one) == nil {
		p.calls[one.Method]++
	} else if json.Unmarshal(body, &batch) == nil {
		for _, call := range batch {
			p.calls[call.Method]++
		}
	}
	p.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	p.forward.ServeHTTP(w, r)
}

func (p *rpcProxy) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// awaitCalls waits until method was called n more times (the watcher asks
// eth_blockNumber every second).
func (p *rpcProxy) awaitCalls(t *testing.T, method string, n int) {
	t.Helper()
	want := p.count(method) + n
	deadline := time.Now().Add(30 * time.Second)
	for p.count(method) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s called %d times, want %d within 30 s", method, p.count(method), want)
		}
		time.Sleep(receiptPoll)
	}
}

// checkRemoteConfig checks that /v1/config publishes the node and the
// deployment, with the pool's terms read from it.
func checkRemoteConfig(t *testing.T, api, rpcURL string, deployment chain.Deployment, relayer, feeRecipient common.Address) {
	t.Helper()
	response, err := http.Get(api + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var config struct {
		ChainID           int    `json:"chainId"`
		RPCURL            string `json:"rpcUrl"`
		SettlementAddress string `json:"settlementAddress"`
		Relayer           string `json:"relayer"`
		FeeRecipient      string `json:"feeRecipient"`
		WithdrawalDelay   int64  `json:"withdrawalDelaySeconds"`
		Confirmations     int    `json:"confirmations"`
		Assets            []struct {
			Address string `json:"address"`
		} `json:"assets"`
	}
	if err := json.NewDecoder(response.Body).Decode(&config); err != nil {
		t.Fatal(err)
	}
	if config.ChainID != 1337 || config.RPCURL != rpcURL || config.SettlementAddress != deployment.Pool.Hex() ||
		config.Relayer != relayer.Hex() || config.FeeRecipient != feeRecipient.Hex() || config.WithdrawalDelay != 86400 ||
		config.Confirmations != remoteConfirmationsDefault || len(config.Assets) != 1 || config.Assets[0].Address != deployment.USDC.Hex() {
		t.Fatalf("/v1/config = %+v; want chain 1337 at %s, pool %s, USDC %s, relayer %s, fee recipient %s, 86400 s, %d confirmations",
			config, rpcURL, deployment.Pool.Hex(), deployment.USDC.Hex(), relayer.Hex(), feeRecipient.Hex(), remoteConfirmationsDefault)
	}
}

// checkNoFaucet checks that the faucet, which funds wallets on the
// embedded chain only, answers 409 invalid_state on a node.
func checkNoFaucet(t *testing.T, api, adminToken string, wallet common.Address) {
	t.Helper()
	request, _ := http.NewRequest("POST", api+"/v1/admin/chain/faucet", strings.NewReader(`{"address":"`+wallet.Hex()+`"}`))
	request.Header.Set("Authorization", "Bearer "+adminToken)
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var refusal struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.NewDecoder(response.Body).Decode(&refusal); err != nil || response.StatusCode != http.StatusConflict ||
		refusal.Error.Code != "invalid_state" {
		t.Fatalf("faucet on a node = %d %+v %v, want 409 invalid_state", response.StatusCode, refusal, err)
	}
}
