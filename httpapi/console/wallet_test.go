package console

import (
	"encoding/hex"
	"os"
	"regexp"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// selectorLine matches a `"signature": "0x12345678",` line of SELECTORS.
var selectorLine = regexp.MustCompile(`(?m)^\s*"([a-zA-Z0-9_]+\([a-z0-9,]*\))": "0x([0-9a-f]{8})",?$`)

// TestWalletSelectors recomputes each selector wallet.js encodes calls with
// from its signature: a wrong one would send the wallet a call to another
// function, or none.
func TestWalletSelectors(t *testing.T) {
	source, err := os.ReadFile("web/src/wallet.js")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, m := range selectorLine.FindAllStringSubmatch(string(source), -1) {
		signature, selector := m[1], m[2]
		if want := hex.EncodeToString(crypto.Keccak256([]byte(signature))[:4]); selector != want {
			t.Errorf("wallet.js: %s is 0x%s, want 0x%s", signature, selector, want)
		}
		found[signature] = true
	}
	// The calls the console makes: a selector missing here is one the
	// regular expression above did not see.
	for _, signature := range []string{"approve(address,uint256)", "allowance(address,address)", "balanceOf(address)",
		"deposit(uint256)", "requestWithdrawal(uint256)", "finalizeWithdrawal()", "pendingWithdrawal(address)"} {
		if !found[signature] {
			t.Errorf("wallet.js has no selector line for %s", signature)
		}
	}
}
