package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/httpapi/siwe"
)

// killAtStage names the stage (relay.Config.AfterStage, facilitator
// Config.AfterStage) at which a child server kills itself with SIGKILL: a
// crash at that exact point.
const killAtStage = "TOLLWAY_TEST_KILL_AT_STAGE"

func init() {
	if stage := os.Getenv(killAtStage); stage != "" {
		afterStage = func(s string) {
			if s == stage {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
}

// node is a `tollway serve` child with the embedded chain.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *strings.Builder
	api     string
	rpc     string
	usdc    common.Address
	pool    common.Address
	wallet  *ecdsa.PrivateKey // the printed test wallet
	client  *ethclient.Client
	usdcABI *contracts.TestUSDC
	poolABI *contracts.SettlementPool
	router  routers.Router // /openapi.json's, loaded at the first call
}

const settleAdminToken = "settle-admin-token-0123456789abcdef"

// settleWait bounds each wait on a child server: generous, as the race
// detector slows the in-process chain a great deal.
const settleWait = 3 * time.Minute

// startNode starts a server on dir with a short batch window and a 1% fee,
// and waits for its printout.
func startNode(t *testing.T, dir string) *node { return startNodeWith(t, dir, "200ms") }

// startNodeWith is startNode with a batch window and variables added to
// its environment.
func startNodeWith(t *testing.T, dir, window string, env ...string) *node {
	t.Helper()
	cmd := serveCommand(dir, window)
	cmd.Env = append(append(os.Environ(), beMain+"=1"), env...)
	n := &node{t: t, cmd: cmd, exited: make(chan struct{}), stderr: &strings.Builder{},
		usdcABI: contracts.NewTestUSDC(), poolABI: contracts.NewSettlementPool()}
	cmd.Stderr = n.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-n.exited
	})
	lines := make(chan string, 16)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	var printed []string
	deadline := time.After(2 * time.Minute)
	for len(printed) < 4 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited after printing %q: %s", printed, n.stderr.String())
			}
			printed = append(printed, line)
		case <-deadline:
			t.Fatalf("serve printed %q in 2 minutes: %s", printed, n.stderr.String())
		}
	}
	text := strings.Join(printed, "\n")
	find := func(pattern string) string {
		m := regexp.MustCompile(pattern).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("serve's output lacks %s:\n%s", pattern, text)
		}
		return m[1]
	}
	n.api, n.rpc = find(`tollway listening on (http://\S+)`), find(`chain JSON-RPC on (http://\S+)`)
	n.usdc, n.pool = common.HexToAddress(find(`test USDC (0x[0-9a-fA-F]{40})`)), common.HexToAddress(find(`pool (0x[0-9a-fA-F]{40})`))
	if n.wallet, err = crypto.HexToECDSA(find(`private key ([0-9a-f]{64})`)); err != nil {
		t.Fatal(err)
	}
	if n.client, err = ethclient.Dial(n.rpc); err != nil {
		t.Fatal(err)
	}
	return n
}

func serveCommand(dir, window string) *exec.Cmd {
	return exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data", dir, "--log-level", "warn",
		"--admin-token", settleAdminToken, "--chain-listen", "127.0.0.1:0", "--batch-window", window, "--fee-bps", "100")
}

// runUntilKilled runs a server on dir that kills itself (SIGKILL) at the
// relayer's stage, and waits for it to.
func runUntilKilled(t *testing.T, dir, stage string) {
	t.Helper()
	cmd := serveCommand(dir, "200ms")
	cmd.Env = append(os.Environ(), beMain+"=1", killAtStage+"="+stage)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not reach the relayer's %s stage in 2 minutes: %s", stage, stderr.String())
	}
	if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || status.Signal() != syscall.SIGKILL {
		t.Fatalf("serve ended with %v, want SIGKILL at the %s stage: %s", cmd.ProcessState, stage, stderr.String())
	}
}

// stop ends the server with SIGTERM (a clean shutdown).
func (n *node) stop() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(settleWait):
		n.t.Fatalf("serve did not stop in %v: %s", settleWait, n.stderr.String())
	}
	n.client.Close()
}

// call sends a request with a bearer token and decodes the JSON answer
// into out (when not nil), returning the status.
func (n *node) call(method, path, token string, body, out any) int {
	n.t.Helper()
	return n.callWith(method, path, token, "", body, out)
}

// callWith is call with an Idempotency-Key ("" for none); a body of type
// json.RawMessage is sent as it is, even when it is no JSON.
func (n *node) callWith(method, path, token, idempotencyKey string, body, out any) int {
	n.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		reader = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(body)
		reader = bytes.NewReader(data)
	}
	request, _ := http.NewRequest(method, n.api+path, reader)
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	if idempotencyKey != "" {
		request.Header.Set("Idempotency-Key", idempotencyKey)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	data, _ := io.ReadAll(response.Body)
	n.checkOpenAPI(request, response, data)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			n.t.Fatalf("%s %s = %d %s: %v", method, path, response.StatusCode, data, err)
		}
	}
	return response.StatusCode
}

func (n *node) mustCall(method, path, token string, body, out any) {
	n.t.Helper()
	if status := n.call(method, path, token, body, out); status/100 != 2 {
		n.t.Fatalf("%s %s = %d", method, path, status)
	}
}

// checkOpenAPI validates a response against the server's own
// /openapi.json (kin-openapi): its status declared, its body the schema's.
func (n *node) checkOpenAPI(request *http.Request, response *http.Response, body []byte) {
	n.t.Helper()
	if n.router == nil {
		loaded, err := http.Get(n.api + "/openapi.json")
		if err != nil {
			n.t.Fatal(err)
		}
		document, _ := io.ReadAll(loaded.Body)
		loaded.Body.Close()
		doc, err := openapi3.NewLoader().LoadFromData(document)
		if err != nil {
			n.t.Fatalf("load /openapi.json: %v", err)
		}
		if n.router, err = gorillamux.NewRouter(doc); err != nil {
			n.t.Fatalf("route /openapi.json: %v", err)
		}
	}
	u := *request.URL
	u.Scheme, u.Host = "", ""
	probe := &http.Request{Method: request.Method, URL: &u, Header: request.Header}
	route, params, err := n.router.FindRoute(probe)
	if err != nil {
		n.t.Errorf("%s %s is not in /openapi.json: %v", request.Method, u.Path, err)
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
		Status:                 response.StatusCode, Header: response.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		n.t.Errorf("%s %s → %d does not match /openapi.json: %v\n%s", request.Method, u.Path, response.StatusCode, err, body)
	}
}

// signIn signs a wallet in with SIWE and returns its access token.
func (n *node) signIn(key *ecdsa.PrivateKey) string {
	n.t.Helper()
	var challenge struct{ Message string }
	n.mustCall("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": crypto.PubkeyToAddress(key.PublicKey).Hex()}, &challenge)
	signature, err := siwe.Sign(challenge.Message, key)
	if err != nil {
		n.t.Fatal(err)
	}
	var tokens struct{ AccessToken string }
	n.mustCall("POST", "/v1/auth/siwe/login", "", map[string]string{"message": challenge.Message, "signature": signature}, &tokens)
	return tokens.AccessToken
}

// transact sends a contract call from key and waits for its success.
func (n *node) transact(key *ecdsa.PrivateKey, contract common.Address, data []byte) {
	n.t.Helper()
	instance := bind.NewBoundContract(contract, n.poolABI.GetABI(), n.client, n.client, n.client)
	tx, err := bind.Transact(instance, bind.NewKeyedTransactor(key, big.NewInt(1337)), data)
	if err != nil {
		n.t.Fatal(err)
	}
	if receipt, err := bind.WaitMined(context.Background(), n.client, tx.Hash()); err != nil || receipt.Status != 1 {
		n.t.Fatalf("transaction %s: %+v %v", tx.Hash(), receipt, err)
	}
}

func (n *node) usdcOf(a common.Address) int64 {
	n.t.Helper()
	instance := n.usdcABI.Instance(n.client, n.usdc)
	v, err := bind.Call(instance, nil, n.usdcABI.PackBalanceOf(a), n.usdcABI.UnpackBalanceOf)
	if err != nil {
		n.t.Fatal(err)
	}
	return v.Int64()
}

func (n *node) poolOf(a common.Address) int64 {
	n.t.Helper()
	instance := n.poolABI.Instance(n.client, n.pool)
	v, err := bind.Call(instance, nil, n.poolABI.PackBalanceOf(a), n.poolABI.UnpackBalanceOf)
	if err != nil {
		n.t.Fatal(err)
	}
	return v.Int64()
}

// market is a consumer and a supplier, each signed in with a new wallet
// and owning an account bound to it, and their keys; the faucet funds the
// consumer's wallet, which deposits into the pool.
type market struct {
	consumer, supplier       *ecdsa.PrivateKey
	consumerAcct, supplyAcct string
	consumerKey, supplierKey string
	consumerJWT              string
	feeRecipient             common.Address
	feeStart                 int64 // the fee recipient's USDC before the test's charges
	deposit                  int64
}

func openMarket(t *testing.T, n *node, deposit int64) *market {
	t.Helper()
	m := &market{consumer: mustKey(t), supplier: mustKey(t), deposit: deposit}
	// The consumer's wallet is new: the faucet gives it gas money and USDC.
	n.mustCall("POST", "/v1/admin/chain/faucet", settleAdminToken, map[string]string{
		"address": crypto.PubkeyToAddress(m.consumer.PublicKey).Hex(), "eth": "1000000000000000000", "usdc": fmt.Sprint(deposit)}, nil)
	var config struct{ FeeRecipient string }
	n.mustCall("GET", "/v1/config", "", nil, &config)
	m.feeRecipient = common.HexToAddress(config.FeeRecipient)
	m.feeStart = n.usdcOf(m.feeRecipient)
	type created struct{ ID, Key string }
	var c created
	m.consumerJWT = n.signIn(m.consumer)
	n.mustCall("POST", "/v1/accounts", m.consumerJWT, map[string]string{"name": "agent", "environment": "test",
		"walletAddress": crypto.PubkeyToAddress(m.consumer.PublicKey).Hex()}, &c)
	m.consumerAcct = c.ID
	n.mustCall("POST", "/v1/accounts/"+m.consumerAcct+"/keys", m.consumerJWT, map[string]any{"label": "agent", "kind": "secret",
		"scopes": []string{"charges:write", "holds:write", "sessions:write", "sessions:read", "settlements:read"}}, &c)
	m.consumerKey = c.Key
	supplierJWT := n.signIn(m.supplier)
	n.mustCall("POST", "/v1/accounts", supplierJWT, map[string]string{"name": "api", "environment": "test",
		"walletAddress": crypto.PubkeyToAddress(m.supplier.PublicKey).Hex()}, &c)
	m.supplyAcct = c.ID
	n.mustCall("POST", "/v1/accounts/"+m.supplyAcct+"/keys", supplierJWT, map[string]any{"label": "reader", "kind": "secret",
		"scopes": []string{"balance:read", "settlements:read", "sessions:write"}}, &c)
	m.supplierKey = c.Key

	amount := big.NewInt(deposit)
	n.transact(m.consumer, n.usdc, n.usdcABI.PackApprove(n.pool, amount))
	n.transact(m.consumer, n.pool, n.poolABI.PackDeposit(amount))
	m.waitBalance(t, n, m.consumerAcct, deposit)
	return m
}

// waitBalance waits until an account's available balance is want.
func (m *market) waitBalance(t *testing.T, n *node, account string, want int64) {
	t.Helper()
	deadline := time.Now().Add(settleWait)
	for {
		var v struct{ Balance struct{ Available string } }
		n.mustCall("GET", "/v1/accounts/"+account, m.consumerJWT, nil, &v)
		if v.Balance.Available == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("account %s holds %s, want %d within %v", account, v.Balance.Available, want, settleWait)
		}
		time.Sleep(50 * time.Millisecond) // the watcher polls the chain every second
	}
}

// charge makes count charges from the consumer to the supplier, returning
// their ids, total and fees (1%, rounded down per charge).
func (m *market) charge(t *testing.T, n *node, prefix string, count int) (ids []string, total, fees int64) {
	t.Helper()
	for i := range count {
		amount := int64(10_000 + 1_337*i)
		var c struct{ ID string }
		n.mustCall("POST", "/v1/charges", m.consumerKey, map[string]any{"to": m.supplyAcct, "amount": fmt.Sprint(amount),
			"metadata": map[string]string{"call": prefix + fmt.Sprint(i)}}, &c)
		ids = append(ids, c.ID)
		total += amount
		fees += amount / 100
	}
	return ids, total, fees
}

// waitSettled waits until the chain shows everything charged settled,
// then checks that the consumer's pool balance, the supplier's and the fee
// recipient's USDC equal the ledger exactly, and that the supplier's
// earnings and the fees have left the ledger.
func (m *market) waitSettled(t *testing.T, n *node, total, fees int64) {
	t.Helper()
	consumer, supplier := crypto.PubkeyToAddress(m.consumer.PublicKey), crypto.PubkeyToAddress(m.supplier.PublicKey)
	deadline := time.Now().Add(settleWait)
	for n.poolOf(consumer) != m.deposit-total {
		if time.Now().After(deadline) {
			t.Fatalf("the consumer's pool balance is %d, want %d within %v", n.poolOf(consumer), m.deposit-total, settleWait)
		}
		time.Sleep(50 * time.Millisecond) // the relayer settles every 200 ms
	}
	for !m.allConfirmed(t, n) {
		if time.Now().After(deadline) {
			t.Fatalf("settlements not all CONFIRMED within %v: %+v", settleWait, m.settlements(t, n))
		}
		time.Sleep(50 * time.Millisecond) // the relayer records the receipt at its next round
	}
	if got := n.usdcOf(supplier); got != total-fees {
		t.Errorf("the supplier's USDC is %d, want %d", got, total-fees)
	}
	if got := n.usdcOf(m.feeRecipient) - m.feeStart; got != fees {
		t.Errorf("the fee recipient received %d USDC, want %d", got, fees)
	}
	m.waitBalance(t, n, m.consumerAcct, m.deposit-total)
	var supplierBalance struct{ Available, Posted string }
	n.mustCall("GET", "/v1/balance", m.supplierKey, nil, &supplierBalance)
	if supplierBalance.Posted != "0" {
		t.Errorf("the supplier's off-chain balance is %+v after settlement, want 0: its earnings are on chain", supplierBalance)
	}
}

// allConfirmed reports whether every settlement of the consumer is
// CONFIRMED.
func (m *market) allConfirmed(t *testing.T, n *node) bool {
	for _, s := range m.settlements(t, n) {
		if s.State != "CONFIRMED" {
			return false
		}
	}
	return true
}

// settlements returns the consumer's settlements, all pages.
func (m *market) settlements(t *testing.T, n *node) []settlementView {
	t.Helper()
	var all []settlementView
	after := ""
	for {
		var page struct {
			Data              []settlementView
			HasMore           bool
			NextStartingAfter string
		}
		n.mustCall("GET", "/v1/settlements?limit=2"+after, m.consumerKey, nil, &page)
		all = append(all, page.Data...)
		if !page.HasMore {
			return all
		}
		after = "&startingAfter=" + page.NextStartingAfter
	}
}

type settlementView struct {
	ID, State, BatchID, TxHash string
	BlockNumber                uint64
	Entries                    []struct{ From, To, Amount, Fee, Payer, Payee string }
}

// TestSettlementEndToEnd: a wallet funded by the faucet deposits and is
// credited; charges over HTTP settle on the embedded chain in a batch, and
// the consumer's pool balance, the supplier's and the fee recipient's USDC
// equal the ledger exactly; the charge names its settlement, which the
// API shows CONFIRMED with its transaction; a restart changes nothing.
func TestSettlementEndToEnd(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	m := openMarket(t, n, 100_000_000)
	ids, total, fees := m.charge(t, n, "a", 30)
	// A captured hold and an ended session settle with the charges.
	var hold struct{ ID string }
	n.mustCall("POST", "/v1/holds", m.consumerKey, map[string]any{"to": m.supplyAcct, "amount": "50000", "expiresInSeconds": 600}, &hold)
	n.mustCall("POST", "/v1/holds/"+hold.ID+"/capture", m.consumerKey, map[string]any{"amount": "30000"}, nil)
	total, fees = total+30_000, fees+300
	var session struct {
		ID      string
		Charged string
	}
	n.mustCall("POST", "/v1/sessions", m.consumerKey, map[string]any{"to": m.supplyAcct, "ratePerSecond": "1000", "maxDurationSeconds": 60}, &session)
	n.mustCall("POST", "/v1/sessions/"+session.ID+"/accept", m.supplierKey, map[string]any{}, nil)
	n.mustCall("POST", "/v1/sessions/"+session.ID+"/start", m.consumerKey, map[string]any{}, nil)
	time.Sleep(1100 * time.Millisecond) // a session charges whole seconds live
	n.mustCall("POST", "/v1/sessions/"+session.ID+"/end", m.consumerKey, map[string]any{}, &session)
	var charged int64
	if _, err := fmt.Sscan(session.Charged, &charged); err != nil || charged < 1_000 {
		t.Fatalf("the session charged %q, want at least a second's 1000", session.Charged)
	}
	total, fees = total+charged, fees+charged/100
	m.waitSettled(t, n, total, fees)
	for _, path := range []string{"/v1/holds/" + hold.ID, "/v1/sessions/" + session.ID} {
		var v struct{ SettlementID *string }
		n.mustCall("GET", path, m.consumerKey, nil, &v)
		if v.SettlementID == nil || !strings.HasPrefix(*v.SettlementID, "stl_") {
			t.Errorf("GET %s: settlementId %v, want the batch that settled it", path, v.SettlementID)
		}
	}

	var charge struct{ SettlementID *string }
	n.mustCall("GET", "/v1/charges/"+ids[0], m.consumerKey, nil, &charge)
	if charge.SettlementID == nil {
		t.Fatal("a settled charge has no settlementId")
	}
	var s settlementView
	n.mustCall("GET", "/v1/settlements/"+*charge.SettlementID, m.consumerKey, nil, &s)
	supplier := crypto.PubkeyToAddress(m.supplier.PublicKey)
	var settled, settledFees int64
	for _, e := range s.Entries {
		var a, f int64
		fmt.Sscan(e.Amount, &a)
		fmt.Sscan(e.Fee, &f)
		settled, settledFees = settled+a, settledFees+f
		if common.HexToAddress(e.To) != supplier || e.Payer != m.consumerAcct || e.Payee != m.supplyAcct {
			t.Errorf("entry %+v, want the consumer paying the supplier", e)
		}
	}
	if s.State != "CONFIRMED" || s.TxHash == "" || s.BlockNumber == 0 {
		t.Fatalf("settlement %+v, want CONFIRMED with its transaction", s)
	}
	all := m.settlements(t, n)
	var sum int64
	for _, s := range all {
		if s.State != "CONFIRMED" {
			t.Errorf("settlement %s is %s", s.ID, s.State)
		}
		for _, e := range s.Entries {
			var a int64
			fmt.Sscan(e.Amount, &a)
			sum += a
		}
	}
	if sum != total {
		t.Errorf("the consumer's settlements add up to %d, want %d (%d batches)", sum, total, len(all))
	}
	// Who may read what: a party's key reads the batch (its entries), and
	// nobody else; bad queries are 400s, a key without the scope a 403.
	var supplierView settlementView
	n.mustCall("GET", "/v1/settlements/"+s.ID, m.supplierKey, nil, &supplierView)
	if len(supplierView.Entries) != len(s.Entries) {
		t.Errorf("the supplier sees %d entries of its batch, want %d", len(supplierView.Entries), len(s.Entries))
	}
	var chargesOnly struct{ Key string }
	n.mustCall("POST", "/v1/accounts/"+m.consumerAcct+"/keys", m.consumerJWT, map[string]any{"label": "no-read", "kind": "secret",
		"scopes": []string{"charges:write"}}, &chargesOnly)
	strangerJWT := n.signIn(mustKey(t))
	for _, c := range []struct {
		path, token string
		status      int
	}{
		{"/v1/settlements?account=" + m.consumerAcct, m.supplierKey, 404},
		{"/v1/settlements?account=" + m.consumerAcct, strangerJWT, 404},
		{"/v1/settlements/" + s.ID, strangerJWT, 404},
		{"/v1/settlements/stl_999999", m.consumerKey, 404},
		{"/v1/settlements/stl_x", m.consumerKey, 404},
		{"/v1/settlements?limit=0", m.consumerKey, 400},
		{"/v1/settlements?startingAfter=x", m.consumerKey, 400},
		{"/v1/settlements", m.consumerJWT, 400},
		{"/v1/settlements", chargesOnly.Key, 403},
		{"/v1/settlements", "", 401},
	} {
		if got := n.call("GET", c.path, c.token, nil, nil); got != c.status {
			t.Errorf("GET %s = %d, want %d", c.path, got, c.status)
		}
	}
	var owned struct{ Data []settlementView }
	n.mustCall("GET", "/v1/settlements?account="+m.consumerAcct, m.consumerJWT, nil, &owned)
	if len(owned.Data) != len(all) {
		t.Errorf("the owner's JWT lists %d settlements, want %d", len(owned.Data), len(all))
	}
	receipt, err := n.client.TransactionReceipt(context.Background(), common.HexToHash(s.TxHash))
	if err != nil || receipt.Status != 1 || receipt.BlockNumber.Uint64() != s.BlockNumber {
		t.Fatalf("the settlement's transaction: %+v %v", receipt, err)
	}

	// More charges, then a clean restart before the relayer's window ends
	// and one after: everything settles once.
	_, total2, fees2 := m.charge(t, n, "b", 5)
	n.stop()
	n = startNode(t, dir)
	m.waitSettled(t, n, total+total2, fees+fees2)
	n.stop()
	n = startNode(t, dir)
	time.Sleep(time.Second) // five batch windows: any repeated settlement would land
	m.waitSettled(t, n, total+total2, fees+fees2)
	// However the windows fell (a slow machine may cut the five charges
	// into two batches), the batches add up to what was charged: none
	// settled twice, none lost.
	if got := settledSum(m.settlements(t, n)); got != total+total2 {
		t.Errorf("the settlements add up to %d after the restarts, want %d", got, total+total2)
	}
}

// settledSum adds up the entries of settlements.
func settledSum(all []settlementView) int64 {
	var sum int64
	for _, s := range all {
		for _, e := range s.Entries {
			var a int64
			fmt.Sscan(e.Amount, &a)
			sum += a
		}
	}
	return sum
}

// TestSettlementSurvivesKill: one batch, and the server killed (SIGKILL)
// at each step of its life in turn: right after it is written (PENDING,
// before its payouts), after its transaction is recorded and before it is
// sent, and after it is sent and before its receipt is seen. Each start
// resumes it; the last settles it, exactly once.
func TestSettlementSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	// Charges made with an hour's window: none is cut yet.
	n := startNodeWith(t, dir, "1h")
	m := openMarket(t, n, 100_000_000)
	_, total, fees := m.charge(t, n, "k", 5)
	n.stop()
	for _, stage := range []string{"cut", "recorded", "sent"} {
		runUntilKilled(t, dir, stage)
	}
	n = startNode(t, dir)
	m.waitSettled(t, n, total, fees)
	if all := m.settlements(t, n); len(all) != 1 {
		t.Errorf("%d settlements, want the one batch: %+v", len(all), all)
	}
	// The batch holds exactly what was charged.
	var settled int64
	for _, s := range m.settlements(t, n) {
		if s.State != "CONFIRMED" {
			t.Errorf("settlement %s is %s", s.ID, s.State)
		}
		for _, e := range s.Entries {
			var a int64
			fmt.Sscan(e.Amount, &a)
			settled += a
		}
	}
	if settled != total {
		t.Errorf("the settlements add up to %d, want %d", settled, total)
	}
}
