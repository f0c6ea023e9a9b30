package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eDir holds the console's browser test: e2e.mjs and its pinned packages.
const e2eDir = "console/e2e"

// chromiumPath is Debian's chromium, the browser e2e.mjs drives.
const chromiumPath = "/usr/bin/chromium"

// TestConsoleE2E runs the console in a real browser (console/e2e/e2e.mjs:
// chromium driven by playwright-core, with an injected EIP-1193 wallet):
// Sign-In with Ethereum, an account created and a key minted through the
// UI. Then the key the page showed once must work over the API: it charges
// the account, whose balance must move exactly, and the account and key
// must be the wallet's user's. Skipped, loudly, without node, chromium or
// the pinned packages; with TOLLWAY_REQUIRE_CHROMIUM=1 it fails instead.
// Screenshots of each page go to TOLLWAY_SCREENSHOTS, or a temporary
// directory.
func TestConsoleE2E(t *testing.T) {
	stop := t.Skipf
	if os.Getenv("TOLLWAY_REQUIRE_CHROMIUM") == "1" {
		stop = t.Fatalf
	}
	if _, err := exec.LookPath("node"); err != nil {
		stop("SKIPPED: node is not installed, so the console's browser test cannot run (install node 20+)")
		return
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		stop("SKIPPED: %s is missing, so the console's browser test cannot run (apt-get install chromium): %v", chromiumPath, err)
		return
	}
	if missing := e2ePackagesMissing(t); missing != "" {
		npm := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		npm.Dir = e2eDir
		if output, err := npm.CombinedOutput(); err != nil {
			stop("SKIPPED: %s, and npm ci in %s failed, so the console's browser test cannot run: %v\n%s", missing, e2eDir, err, output)
			return
		}
		if missing := e2ePackagesMissing(t); missing != "" {
			stop("SKIPPED: after npm ci in %s, %s", e2eDir, missing)
			return
		}
	}
	shots, kept := os.Getenv("TOLLWAY_SCREENSHOTS"), "kept"
	if shots == "" {
		shots, kept = t.TempDir(), "removed after the test; set TOLLWAY_SCREENSHOTS=<dir> to keep them"
	} else if abs, err := filepath.Abs(shots); err == nil {
		shots = abs // node runs in e2eDir
	}

	ts := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "e2e.mjs", ts.url, shots)
	node.Dir = e2eDir
	node.WaitDelay = 5 * time.Second // chromium's pipes must not outlive the deadline
	var stdout, stderr bytes.Buffer
	node.Stdout, node.Stderr = &stdout, &stderr
	started := time.Now()
	if err := node.Run(); err != nil {
		t.Fatalf("node e2e.mjs: %v (after %v; screenshots in %s, %s)\nstdout:\n%s\nstderr:\n%s", err, time.Since(started), shots, kept, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("the browser run took %v; screenshots in %s (%s)", time.Since(started).Round(time.Millisecond), shots, kept)
	var got struct {
		Address   string `json:"address"`
		AccountID string `json:"accountId"`
		Key       string `json:"key"`
	}
	decoder := json.NewDecoder(&stdout)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&got); err != nil || got.Address == "" || got.AccountID == "" || got.Key == "" {
		t.Fatalf("e2e.mjs printed %q (%v), want {address, accountId, key}\nstderr:\n%s", stdout.Bytes(), err, stderr.Bytes())
	}

	// The wallet's user owns exactly the account and the key made in the UI.
	u, err := ts.server.directory.UserByAddress(got.Address)
	if err != nil {
		t.Fatalf("no user for the wallet %s: %v", got.Address, err)
	}
	accounts := ts.server.directory.Accounts(u.ID)
	if len(accounts) != 1 || accounts[0].ID != got.AccountID || accounts[0].Name != "E2E account" || accounts[0].Environment != "test" {
		t.Fatalf("the wallet's user's accounts = %+v, want only %s, E2E account, test", accounts, got.AccountID)
	}
	keys := ts.server.directory.Keys(got.AccountID)
	if len(keys) != 1 || keys[0].Owner != u.ID || keys[0].Label != "E2E key" || keys[0].Kind != "secret" ||
		!keys[0].RevokedAt.IsZero() || !strings.HasPrefix(got.Key, keys[0].Prefix) || !strings.HasSuffix(got.Key, keys[0].Last4) {
		t.Fatalf("the account's keys = %+v, want only E2E key, secret, active, matching the shown secret", keys)
	}

	// The shown secret works: a charge moves exact amounts (feeBps 100).
	supplier := ts.signup("supplier@example.com")
	payee := ts.account(supplier, "test")
	_, supplierKey := ts.key(supplier, payee, nil)
	ts.credit(got.AccountID, "10000")
	v := expect(t, ts.do("POST", "/v1/charges", got.Key, map[string]string{"to": payee, "amount": "1500"}), 201, "", "")
	if v["from"] != got.AccountID || v["amount"] != "1500" || v["fee"] != "15" || v["toAmount"] != "1485" {
		t.Fatalf("charge = %v, want 1500 from %s with fee 15", v, got.AccountID)
	}
	if available := ts.available(got.Key); available != "8500" {
		t.Fatalf("available after the charge = %s, want 8500", available)
	}
	if available := ts.available(supplierKey); available != "1485" {
		t.Fatalf("supplier available = %s, want 1485", available)
	}
	// The key has only the scopes ticked in the UI: holds:write is not one.
	expect(t, ts.do("POST", "/v1/holds", got.Key, map[string]any{"to": payee, "amount": "1", "expiresInSeconds": 60}), 403, "permission_error", "missing_scope")
}

// e2ePackagesMissing says which package e2e/package.json pins is not
// installed at its pinned version, or "" when all are.
func e2ePackagesMissing(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e2eDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pins struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(data, &pins); err != nil {
		t.Fatalf("%s/package.json: %v", e2eDir, err)
	}
	for name, version := range pins.DevDependencies {
		data, err := os.ReadFile(filepath.Join(e2eDir, "node_modules", name, "package.json"))
		if err != nil {
			return name + " is not installed"
		}
		var installed struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(data, &installed); err != nil || installed.Version != version {
			return name + " is not installed at " + version
		}
	}
	return ""
}
