package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/tollway/tollway/httpapi/console/browsertest"
)

// e2eWalletKeyEnv passes the wallet's private key to e2e.mjs (not on its
// command line, which other users of the machine can read).
const e2eWalletKeyEnv = "TOLLWAY_E2E_WALLET_KEY"

// TestConsoleE2E runs the console in a real browser against a real `tollway
// serve` with its embedded chain (httpapi/console/e2e/e2e.mjs: chromium
// driven by playwright-core, with an injected EIP-1193 wallet whose key this
// test makes and funds from the faucet). Through the UI: Sign-In with
// Ethereum, a payer account bound to the wallet and a payee account, a key
// with an approval policy and an arbiter key (its secret copied, the key
// rotated), a top-up (approve + deposit, on chain) credited
// to the payer, the key's charges in the usage tables, a charge above the
// threshold approved with the wallet's signature and another rejected, a
// charge to another user's supplier settled on chain and its batch shown
// with its transaction hash, a withdrawal requested,
// the key revoked; the API's real 402, 403, 409 and 429 shown in the page.
// Then this test checks over the API and the chain that every amount is
// exact. Skipped, loudly, without node, chromium or the pinned packages;
// with TOLLWAY_REQUIRE_CHROMIUM=1 it fails instead. Screenshots of each
// page go to TOLLWAY_SCREENSHOTS, or a temporary directory.
func TestConsoleE2E(t *testing.T) {
	run, ok := browsertest.Prepare(t)
	if !ok {
		return
	}
	shots, kept := run.Screenshots, run.Kept

	n := startNode(t, t.TempDir()) // fee 100 bps
	walletKey := mustKey(t)
	wallet := crypto.PubkeyToAddress(walletKey.PublicKey)
	n.mustCall("POST", "/v1/admin/chain/faucet", settleAdminToken,
		map[string]string{"address": wallet.Hex(), "eth": "1000000000000000000", "usdc": "100000000"}, nil)
	if got := n.usdcOf(wallet); got != 100_000000 {
		t.Fatalf("the faucet gave the wallet %d USDC base units, want 100000000", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "e2e.mjs", n.api, shots)
	node.Dir = run.Dir
	node.Env = append(os.Environ(), e2eWalletKeyEnv+"=0x"+hex.EncodeToString(crypto.FromECDSA(walletKey)))
	node.WaitDelay = 5 * time.Second // chromium's pipes must not outlive the deadline
	var stdout, stderr bytes.Buffer
	node.Stdout, node.Stderr = &stdout, &stderr
	started := time.Now()
	if err := node.Run(); err != nil {
		t.Fatalf("node e2e.mjs: %v (after %v; screenshots in %s, %s)\nstdout:\n%s\nstderr:\n%s", err, time.Since(started), shots, kept, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("the browser run took %v; screenshots in %s (%s)", time.Since(started).Round(time.Millisecond), shots, kept)
	var got struct {
		Address, Payer, Payee, Key, ApprovalID, RejectedID string
		Supplier, SupplierWallet, Settlement, TxHash       string
		Charges                                            []string
		Revoked                                            struct {
			Status int
			Code   string
		}
		Shown       map[string]string
		BindRefused string
		WalletCalls map[string]int
	}
	decoder := json.NewDecoder(&stdout)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&got); err != nil || got.Address != wallet.Hex() || got.Payer == "" || got.Payee == "" || got.ApprovalID == "" {
		t.Fatalf("e2e.mjs printed %q (%v), want its summary for wallet %s\nstderr:\n%s", stdout.Bytes(), err, wallet.Hex(), stderr.Bytes())
	}
	t.Logf("e2e summary: %+v", got)
	if len(got.Charges) != 3 || got.Revoked.Status != 401 || got.Revoked.Code != "key_revoked" || len(got.Shown) != 4 ||
		got.WalletCalls["eth_sendTransaction"] != 5 || got.WalletCalls["personal_sign"] != 3 || got.WalletCalls["wallet_switchEthereumChain"] != 1 {
		t.Fatalf("e2e summary = %+v: want 3 charges, the revoked key's 401 key_revoked, 4 errors shown, "+
			"5 transactions (approve, deposit, approve, reverted deposit, withdrawal request), 3 signatures (sign-in, approval, rejection) and 1 switch to the server's chain", got)
	}

	// The amounts, exactly: 20 USDC deposited; 1.5 + 2.25 + 0.75 charged
	// and 6 approved to the payee, 1 to the supplier (fee 1%); 1 USDC
	// asked back, reserved once the watcher sees the request.
	token := n.signIn(walletKey)
	type balance struct{ Available, Reserved string }
	var payer struct {
		WalletAddress string
		Balance       balance
	}
	deadline := time.Now().Add(settleWait)
	for n.mustCall("GET", "/v1/accounts/"+got.Payer, token, nil, &payer); payer.Balance.Reserved != "1000000"; n.mustCall("GET", "/v1/accounts/"+got.Payer, token, nil, &payer) {
		if time.Now().After(deadline) {
			t.Fatalf("the payer's balance is %+v after %v, want 1000000 reserved by the withdrawal request", payer.Balance, settleWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if payer.WalletAddress != wallet.Hex() || payer.Balance.Available != "7500000" {
		t.Fatalf("payer = %+v, want wallet %s, 7500000 available (20 USDC − 11.5 charged − 1 withdrawing)", payer, wallet.Hex())
	}
	var payee struct {
		WalletAddress *string
		Balance       balance
	}
	if n.mustCall("GET", "/v1/accounts/"+got.Payee, token, nil, &payee); payee.Balance != (balance{"10395000", "0"}) || payee.WalletAddress != nil {
		t.Fatalf("payee = %+v, want 10395000 available (10.5 USDC less the 1%% fee), 0 reserved, no wallet (the bind was refused: %s)",
			payee, got.BindRefused)
	}
	var approval struct {
		State      string
		TransferID string
		Amount     string
		Decisions  []struct {
			Role, By string
			Approved bool
		}
	}
	n.mustCall("GET", "/v1/approvals/"+got.ApprovalID, token, nil, &approval)
	if approval.State != "EXECUTED" || approval.TransferID == "" || approval.Amount != "6000000" || len(approval.Decisions) != 1 ||
		approval.Decisions[0].Role != "owner" || !approval.Decisions[0].Approved || approval.Decisions[0].By != wallet.Hex() {
		t.Fatalf("approval = %+v, want EXECUTED once, approved by the owner's wallet %s", approval, wallet.Hex())
	}
	var rejected struct {
		State     string
		Decisions []struct {
			Role, By, Reason string
			Approved         bool
		}
	}
	n.mustCall("GET", "/v1/approvals/"+got.RejectedID, token, nil, &rejected)
	if rejected.State != "REJECTED" || len(rejected.Decisions) != 1 || rejected.Decisions[0].Approved ||
		rejected.Decisions[0].By != wallet.Hex() || rejected.Decisions[0].Reason != "too much for one call" {
		t.Fatalf("the second approval = %+v, want REJECTED once by the owner's wallet, with the reason typed", rejected)
	}
	var keys struct {
		Data []struct {
			Label     string
			RevokedAt *string
		}
	}
	n.mustCall("GET", "/v1/accounts/"+got.Payer+"/keys", token, nil, &keys)
	states := map[string][]string{} // label -> the states of the keys so labelled, sorted
	for _, k := range keys.Data {
		state := "active"
		if k.RevokedAt != nil {
			state = "revoked"
		}
		states[k.Label] = append(states[k.Label], state)
		slices.Sort(states[k.Label])
	}
	want := map[string][]string{"Agent": {"revoked"}, "Limited": {"active"}, "Arbiter": {"active", "revoked"}}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("the payer's keys = %v, want %v (Agent revoked, Arbiter rotated)", states, want)
	}
	// The batch the page showed: confirmed, over the API as on chain. The
	// deposit left the wallet for the pool; the 1 USDC to the supplier left
	// the pool for the supplier's wallet (less the fee); the payee has no
	// wallet, so what it earned stays in the pool.
	var settlement struct{ State, TxHash string }
	n.mustCall("GET", "/v1/settlements/"+got.Settlement, token, nil, &settlement)
	if settlement.State != "CONFIRMED" || settlement.TxHash != got.TxHash {
		t.Fatalf("settlement %s = %+v, want CONFIRMED in %s", got.Settlement, settlement, got.TxHash)
	}
	if usdc, pool := n.usdcOf(wallet), n.poolOf(wallet); usdc != 80_000000 || pool != 19_000000 {
		t.Fatalf("the wallet holds %d USDC base units and %d in the pool, want 80000000 and 19000000", usdc, pool)
	}
	if usdc := n.usdcOf(common.HexToAddress(got.SupplierWallet)); usdc != 990000 {
		t.Fatalf("the supplier's wallet holds %d USDC base units, want 990000 (1 USDC less the 1%% fee)", usdc)
	}
}
