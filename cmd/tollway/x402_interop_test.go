package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
)

// interopDir holds the x402 reference packages, pinned (package-lock.json).
const interopDir = "../../chain/x402/interop"

// TestX402ReferencePackages: the reference x402 packages from npm, unchanged,
// against this server's facilitator on the embedded chain: a resource
// server built with @x402/express and HTTPFacilitatorClient (authenticating
// with a key holding x402:facilitate) answers 402, then serves a client
// built with @x402/fetch and a viem local account, which pays with the test
// USDC; on chain the payer paid and the payee received exactly the price.
// Per payment (the default), the payment response names the settlement's
// transaction, mined; with --x402-settle=batch the paid response comes
// once the authorization is queued (its transaction may not be known
// yet), and the balances move when the batch is mined. Skipped, loudly,
// without node; in CI (TOLLWAY_REQUIRE_NODE=1) it fails instead.
func TestX402ReferencePackages(t *testing.T) {
	requireInterop(t)
	for _, mode := range []string{"payment", "batch"} {
		t.Run(mode, func(t *testing.T) { testX402ReferencePackages(t, mode) })
	}
}

func testX402ReferencePackages(t *testing.T, mode string) {
	n := startNodeWith(t, t.TempDir(), "200ms", "TOLLWAY_X402_SETTLE="+mode, "TOLLWAY_X402_BATCH_WINDOW=200ms")
	m := openMarket(t, n, 1_000_000)
	var key struct{ Key string }
	n.mustCall("POST", "/v1/accounts/"+m.supplyAcct+"/keys", n.signIn(m.supplier), map[string]any{"label": "resource server",
		"kind": "secret", "scopes": []string{"x402:facilitate"}}, &key)
	payer := mustKey(t)
	payerAddress := crypto.PubkeyToAddress(payer.PublicKey)
	n.mustCall("POST", "/v1/admin/chain/faucet", settleAdminToken, map[string]string{"address": payerAddress.Hex(), "usdc": "50000"}, nil)
	payTo := crypto.PubkeyToAddress(mustKey(t).PublicKey)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "interop.mjs", n.api+"/x402", n.usdc.Hex(), payTo.Hex(),
		fmt.Sprintf("0x%x", crypto.FromECDSA(payer)), "10000", key.Key)
	cmd.Dir = interopDir
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node interop.mjs: %v\n%s", err, output)
	}
	lines := strings.Split(strings.TrimSpace(string(output)), "\n")
	var result struct {
		Unpaid, Status  int
		Body            string
		PaymentResponse string
		Error           string
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil || result.Error != "" {
		t.Fatalf("interop.mjs printed %s (%v)", output, err)
	}
	if result.Unpaid != 402 || result.Status != 200 || !strings.Contains(result.Body, "paid content") {
		t.Fatalf("interop: %+v, want 402 unpaid and 200 with the content paid", result)
	}
	decoded, err := base64.StdEncoding.DecodeString(result.PaymentResponse)
	if err != nil {
		t.Fatalf("payment-response header %q: %v", result.PaymentResponse, err)
	}
	var settled struct {
		Success     bool
		Transaction string
		Network     string
		Payer       string
	}
	if err := json.Unmarshal(decoded, &settled); err != nil || !settled.Success || settled.Network != "eip155:1337" ||
		common.HexToAddress(settled.Payer) != payerAddress {
		t.Fatalf("payment response %s (%v)", decoded, err)
	}
	if mode == "batch" {
		// The answer came once queued, before any batch: no transaction
		// yet. The balances move once the batch is mined, and the
		// batcher's event names the payer.
		if settled.Transaction != "" {
			t.Fatalf("batch mode answered with a transaction %s: want the answer before the batch", settled.Transaction)
		}
		deadline := time.Now().Add(settleWait)
		for n.usdcOf(payTo) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling the chain: nothing to wait on
		}
		event := contracts.NewAuthorizationBatcher().GetABI().Events["AuthorizationSettled"].ID
		logs, err := n.client.FilterLogs(context.Background(), ethereum.FilterQuery{FromBlock: big.NewInt(0),
			Topics: [][]common.Hash{{event}, nil, {common.BytesToHash(payerAddress[:])}}})
		if err != nil || len(logs) != 1 {
			t.Fatalf("AuthorizationSettled events of the payer: %d (%v), want 1", len(logs), err)
		}
	} else {
		receipt, err := n.client.TransactionReceipt(context.Background(), common.HexToHash(settled.Transaction))
		if err != nil || receipt.Status != 1 {
			t.Fatalf("the settlement's transaction %s: %+v %v", settled.Transaction, receipt, err)
		}
	}
	if got := n.usdcOf(payTo); got != 10_000 {
		t.Errorf("the payee holds %d USDC, want the price, 10000", got)
	}
	if got := n.usdcOf(payerAddress); got != 40_000 {
		t.Errorf("the payer holds %d USDC, want 50000 less the price", got)
	}
}

// requireInterop skips (or, in CI, fails) without node, and installs the
// pinned packages when node_modules does not hold them.
func requireInterop(t *testing.T) {
	t.Helper()
	required := os.Getenv("TOLLWAY_REQUIRE_NODE") == "1" || os.Getenv("CI") != ""
	stop := t.Skipf
	if required {
		stop = t.Fatalf
	}
	if _, err := exec.LookPath("node"); err != nil {
		stop("SKIPPED: node is not installed, so the x402 reference packages cannot run against the facilitator (install node 20+)")
		return
	}
	if interopInstalled(t) {
		return
	}
	npm := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	npm.Dir = interopDir
	if output, err := npm.CombinedOutput(); err != nil {
		stop("SKIPPED: npm ci of the x402 reference packages failed: %v\n%s", err, output)
	}
}

// interopInstalled reports whether node_modules holds the versions
// package-lock.json pins.
func interopInstalled(t *testing.T) bool {
	data, err := os.ReadFile(filepath.Join(interopDir, "package-lock.json"))
	if err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	for path, pinned := range lock.Packages {
		if path == "" {
			continue
		}
		var installed struct{ Version string }
		data, err := os.ReadFile(filepath.Join(interopDir, path, "package.json"))
		if err != nil || json.Unmarshal(data, &installed) != nil || installed.Version != pinned.Version {
			return false
		}
	}
	return true
}
