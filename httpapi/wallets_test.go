package httpapi

import (
	"crypto/ecdsa"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi/siwe"
)

// siweUser signs in with a new wallet (Sign-In with Ethereum) and returns
// the user, its EIP-55 address and key.
func (ts *testServer) siweUser() (user, string, *ecdsa.PrivateKey) {
	ts.t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		ts.t.Fatal(err)
	}
	address := crypto.PubkeyToAddress(key.PublicKey).Hex()
	challenge := expect(ts.t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}), 200, "", "")
	signature, err := siwe.Sign(challenge["message"].(string), key)
	if err != nil {
		ts.t.Fatal(err)
	}
	pair := expect(ts.t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": challenge["message"].(string), "signature": signature}), 200, "", "")
	u := user{id: pair["user"].(map[string]any)["id"].(string), access: pair["accessToken"].(string), refresh: pair["refreshToken"].(string)}
	return u, address, key
}

// TestAWalletBindsItsOwnersAccountOncePerEnvironment: an account's wallet
// is the address its owner signed in with; it binds one account per
// environment, at creation or later (PATCH), and the binding is durable.
func TestAWalletBindsItsOwnersAccountOncePerEnvironment(t *testing.T) {
	ts := startServer(t)
	owner, address, _ := ts.siweUser()
	other, otherAddress, _ := ts.siweUser()
	emailUser := ts.signup("email@example.com")

	created := expect(t, ts.do("POST", "/v1/accounts", owner.access,
		map[string]string{"name": "pool", "environment": "test", "walletAddress": strings.ToLower(address)}), 201, "", "")
	if created["walletAddress"] != address {
		t.Fatalf("walletAddress = %v, want %s (EIP-55)", created["walletAddress"], address)
	}
	// The same wallet binds no second account of the environment, even
	// its owner's; the other environment has its own.
	expect(t, ts.do("POST", "/v1/accounts", owner.access,
		map[string]string{"name": "again", "environment": "test", "walletAddress": address}), 409, "conflict_error", "already_exists")
	expect(t, ts.do("POST", "/v1/accounts", owner.access,
		map[string]string{"name": "live", "environment": "live", "walletAddress": address}), 201, "", "")
	// Nobody binds a wallet they did not sign in with.
	expect(t, ts.do("POST", "/v1/accounts", other.access,
		map[string]string{"name": "theft", "environment": "test", "walletAddress": address}), 403, "permission_error", "not_owner")
	expect(t, ts.do("POST", "/v1/accounts", emailUser.access,
		map[string]string{"name": "theft", "environment": "test", "walletAddress": otherAddress}), 403, "permission_error", "not_owner")

	// Binding later: PATCH on an account without a wallet.
	later := expect(t, ts.do("POST", "/v1/accounts", other.access, map[string]string{"name": "later", "environment": "test"}), 201, "", "")["id"].(string)
	expect(t, ts.do("PATCH", "/v1/accounts/"+later, owner.access, map[string]string{"walletAddress": otherAddress}), 404, "not_found_error", "not_found")
	expect(t, ts.do("PATCH", "/v1/accounts/"+later, other.access, map[string]string{"walletAddress": address}), 403, "permission_error", "not_owner")
	expect(t, ts.do("PATCH", "/v1/accounts/"+later, other.access, map[string]string{}), 400, "invalid_request_error", "validation_failed")
	bound := expect(t, ts.do("PATCH", "/v1/accounts/"+later, other.access, map[string]string{"walletAddress": otherAddress}), 200, "", "")
	if bound["walletAddress"] != otherAddress {
		t.Fatalf("bound = %v", bound)
	}
	expect(t, ts.do("PATCH", "/v1/accounts/"+later, other.access, map[string]string{"walletAddress": otherAddress}), 200, "", "") // the same: no-op

	ts.restart()
	for _, c := range []struct {
		environment access.Environment
		address     string
		account     string
	}{{access.EnvironmentTest, address, created["id"].(string)}, {access.EnvironmentTest, otherAddress, later}} {
		p, ok := ts.server.directory.AccountByWallet(c.environment, c.address)
		if !ok || p.ID != c.account {
			t.Fatalf("AccountByWallet(%s, %s) after a restart = %v %v, want %s", c.environment, c.address, p.ID, ok, c.account)
		}
	}
	if got := expect(t, ts.do("GET", "/v1/accounts/"+later, other.access, nil), 200, "", ""); got["walletAddress"] != otherAddress {
		t.Fatalf("after a restart = %v", got)
	}
}
