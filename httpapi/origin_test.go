package httpapi

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/httpapi/siwe"
)

// TestSignInWithEthereumAtThePublicOrigin: behind a proxy the challenge
// names the public URL (Config.Origin, --public-url) as its URI and its
// host as its domain, and the signed message signs in.
func TestSignInWithEthereumAtThePublicOrigin(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Domain, c.Origin = "pay.example.com", "https://pay.example.com" })
	key, _ := crypto.GenerateKey()
	address := crypto.PubkeyToAddress(key.PublicKey).Hex()
	v := expect(t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}), 200, "", "")
	message := v["message"].(string)
	if !strings.HasPrefix(message, "pay.example.com wants you to sign in") || !strings.Contains(message, "\nURI: https://pay.example.com\n") {
		t.Fatalf("challenge:\n%s\nwant the domain pay.example.com and the URI https://pay.example.com", message)
	}
	signature, err := siwe.Sign(message, key)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": message, "signature": signature}), 200, "", "")
}
