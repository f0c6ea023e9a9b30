package httpapi

import (
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
)

// signApproval signs text as personal_sign does and returns r ‖ s ‖ v with
// v 0 or 1 (add 27 for the wallets' form).
func signApproval(t *testing.T, key *ecdsa.PrivateKey, text string) []byte {
	t.Helper()
	sig, err := crypto.Sign(accounts.TextHash([]byte(text)), key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func hexOf(sig []byte) string { return "0x" + hex.EncodeToString(sig) }

func newWallet(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key, crypto.PubkeyToAddress(key.PublicKey).Hex()
}

func TestAnApprovalSignatureOfTheExactTextByTheWalletIsAccepted(t *testing.T) {
	key, address := newWallet(t)
	const id = "apr_0123456789abcdefghijAB"
	for _, decision := range []string{"approve", "reject"} {
		text := "Tollway approval " + id + ": " + decision
		if got := approvalSignedText(id, decision); got != text {
			t.Fatalf("approvalSignedText = %q, want %q", got, text)
		}
		raw := signApproval(t, key, text)
		legacy := append([]byte(nil), raw...)
		legacy[64] += 27
		for _, sig := range []string{hexOf(raw), hexOf(legacy)} {
			for _, addr := range []string{address, strings.ToLower(address)} {
				if err := verifyApprovalSignature(addr, sig, id, decision); err != nil {
					t.Errorf("verifyApprovalSignature(%s, v=0x%s, %s) = %v, want nil", addr, sig[len(sig)-2:], decision, err)
				}
			}
		}
	}
}

func TestAnApprovalSignatureIsRefusedUnlessItIsTheWalletsOverThisIDAndDecision(t *testing.T) {
	key, address := newWallet(t)
	_, otherAddress := newWallet(t)
	const id = "apr_0123456789abcdefghijAB"
	good := signApproval(t, key, approvalSignedText(id, "approve"))

	// The same signature with s' = n - s and v flipped recovers the same
	// key: refused, as Sign-In with Ethereum refuses it (EIP-2).
	highS := append([]byte(nil), good...)
	s := new(big.Int).SetBytes(good[32:64])
	new(big.Int).Sub(crypto.S256().Params().N, s).FillBytes(highS[32:64])
	highS[64] ^= 1
	if public, err := crypto.SigToPub(accounts.TextHash([]byte(approvalSignedText(id, "approve"))), highS); err != nil ||
		crypto.PubkeyToAddress(*public).Hex() != address {
		t.Fatalf("the high-s twin does not recover the wallet (%v): the case below would prove nothing", err)
	}
	withV := func(v byte) string {
		sig := append([]byte(nil), good...)
		sig[64] = v
		return hexOf(sig)
	}
	zeroR := append([]byte(nil), good...)
	clear(zeroR[:32])

	for _, c := range []struct {
		name                             string
		address, signature, id, decision string
	}{
		{"another wallet's address", otherAddress, hexOf(good), id, "approve"},
		{"another approval's id", address, hexOf(good), "apr_0123456789abcdefghijAC", "approve"},
		{"the other decision", address, hexOf(good), id, "reject"},
		{"signed over another text", address, hexOf(signApproval(t, key, "Tollway approval "+id+": approve ")), id, "approve"},
		{"high s", address, hexOf(highS), id, "approve"},
		{"v 2", address, withV(2), id, "approve"},
		{"v 29", address, withV(29), id, "approve"},
		{"r zero", address, hexOf(zeroR), id, "approve"},
		{"no 0x", address, hex.EncodeToString(good), id, "approve"},
		{"one byte short", address, hexOf(good[:64]), id, "approve"},
		{"one byte long", address, hexOf(append(append([]byte(nil), good...), 0)), id, "approve"},
		{"not hex", address, "0x" + strings.Repeat("zz", 65), id, "approve"},
		{"empty", address, "", id, "approve"},
		{"an unknown decision", address, hexOf(good), id, "approved"},
		{"an id without apr_", address, hexOf(good), "ch_0123456789abcdefghijAB", "approve"},
		{"an id with a newline", address, hexOf(good), "apr_0123\n", "approve"},
		{"an id too long", address, hexOf(good), "apr_" + strings.Repeat("a", 61), "approve"},
		{"a malformed address", address[:41], hexOf(good), id, "approve"},
		{"an address without 0x", address[2:], hexOf(good), id, "approve"},
	} {
		err := verifyApprovalSignature(c.address, c.signature, c.id, c.decision)
		if !errors.Is(err, errApprovalSignature) {
			t.Errorf("%s: verifyApprovalSignature = %v, want errApprovalSignature", c.name, err)
		}
	}
	// The control: the untouched signature passes, so each refusal above
	// is the one change's doing.
	if err := verifyApprovalSignature(address, hexOf(good), id, "approve"); err != nil {
		t.Fatalf("verifyApprovalSignature of the good signature = %v", err)
	}
}
