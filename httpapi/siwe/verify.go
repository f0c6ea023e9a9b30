package siwe

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

const (
	// signatureBytes is r ‖ s ‖ v, the layout personal_sign returns.
	signatureBytes = crypto.SignatureLength
	// signatureHexLength is the length of "0x" and two hex digits a byte.
	signatureHexLength = len("0x") + 2*signatureBytes
	// recoveryIDOffset is where v sits in the signature.
	recoveryIDOffset = crypto.RecoveryIDOffset
	// legacyRecoveryBase is what wallets add to the recovery id (27 or 28
	// for 0 or 1), a habit Bitcoin's signed messages started.
	legacyRecoveryBase = 27

	// nonceLength gives 22 × log2(62) ≈ 131 bits, more than a 128-bit key.
	nonceLength   = 22
	nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// nonceByteLimit is the largest multiple of the alphabet's size that fits
	// in a byte; bytes at or above it are dropped so that every character is
	// equally likely.
	nonceByteLimit = 256 / len(nonceAlphabet) * len(nonceAlphabet)
	// nonceRoundsMax bounds the loop that draws random bytes. One round of
	// 32 bytes is nearly always enough; needing nine means the random
	// source is broken, and failing is then the right answer.
	nonceRoundsMax = 8
)

// Expect is what the server knows without reading the message: where it
// serves, which chain its sessions belong to, and what time it is. Verify
// takes Now rather than reading the clock so that tests can fix the time.
type Expect struct {
	Domain  string    // the authority clients reach the server at, compared exactly
	ChainID uint64    // the EIP-155 chain id sessions are bound to
	Now     time.Time // the instant to check the message's time window at; required
}

// Verify parses text, checks it against expect, and checks that signature,
// a 0x-prefixed 65-byte personal_sign signature whose v is 27, 28, 0 or 1,
// was made by the key of the message's address. A message without an
// expiration time is refused, as a signature that never expires is a
// password that cannot be changed. The signature must have a low s (EIP-2),
// so each key gives one signature per message. Verify returns the message
// so the caller can check its nonce, which needs state Verify does not keep.
func Verify(text, signature string, expect Expect) (Message, error) {
	if expect.Now.IsZero() {
		// A programmer error, not bad input: without a time every
		// message would pass the window check.
		return Message{}, errors.New("siwe: Expect.Now is zero")
	}
	m, err := Parse(text)
	if err != nil {
		return Message{}, err
	}
	sig, err := parseSignature(signature)
	if err != nil {
		return Message{}, err
	}
	if err := check(&m, expect); err != nil {
		return Message{}, err
	}
	signer, err := recoverSigner(text, sig)
	if err != nil {
		return Message{}, err
	}
	if signer != m.Address {
		return Message{}, fmt.Errorf("%w: signed by %s, not %s", ErrSigner, signer.Hex(), m.Address.Hex())
	}
	return m, nil
}

// RecoverSigner returns the address whose key made signature, a 0x-prefixed
// 65-byte personal_sign (EIP-191) signature over text with v 0, 1, 27 or 28
// and a low s (EIP-2), as Verify reads them: ErrMalformed for a signature
// not of that form, ErrSigner when no key recovers from it. For other texts
// a wallet signs (an approval's decision); comparing the signer with who
// must have signed is the caller's.
func RecoverSigner(text, signature string) (common.Address, error) {
	sig, err := parseSignature(signature)
	if err != nil {
		return common.Address{}, err
	}
	return recoverSigner(text, sig)
}

func recoverSigner(text string, sig []byte) (common.Address, error) {
	public, err := crypto.SigToPub(accounts.TextHash([]byte(text)), sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: no public key recovers from the signature: %v", ErrSigner, err)
	}
	return crypto.PubkeyToAddress(*public), nil
}

// check compares the parsed message with what the server expects.
func check(m *Message, expect Expect) error {
	switch {
	case m.Domain != expect.Domain:
		return fmt.Errorf("%w: message is for %q, want %q", ErrDomain, m.Domain, expect.Domain)
	case !onOrigin(m.URI, expect.Domain):
		return fmt.Errorf("%w: URI %q is not on http(s)://%s", ErrURI, m.URI, expect.Domain)
	case m.ChainID != expect.ChainID:
		return fmt.Errorf("%w: message is for chain %d, want %d", ErrChainID, m.ChainID, expect.ChainID)
	case m.Version != versionOne:
		return fmt.Errorf("%w: version is not %q", ErrMalformed, versionOne)
	case !m.ExpirationTime.IsZero() && !expect.Now.Before(m.ExpirationTime):
		return fmt.Errorf("%w: expired at %s", ErrExpired, formatTime(m.ExpirationTime))
	case expect.Now.Before(m.NotBefore):
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, formatTime(m.NotBefore))
	}
	return nil
}

// onOrigin reports whether uri names a resource on the server at domain:
// scheme http or https, no user information, and domain as its authority
// (the host compared without case, as RFC 3986 says, the port exactly).
// Any path is accepted: the origin says who the signature is for.
//
// NB: https is accepted beside http because a TLS-terminating proxy in
// front of the server makes clients see https at the same authority; both
// name this server, and no other scheme does.
func onOrigin(uri, domain string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return (scheme == "http" || scheme == "https") && strings.EqualFold(u.Host, domain)
}

// parseSignature decodes signature into r ‖ s ‖ v with v in {0, 1}, the
// form crypto.SigToPub takes.
func parseSignature(signature string) ([]byte, error) {
	digits, ok := strings.CutPrefix(signature, "0x")
	if !ok || len(signature) != signatureHexLength {
		return nil, fmt.Errorf("%w: signature is not 0x and %d hex digits", ErrMalformed, 2*signatureBytes)
	}
	sig, err := hex.DecodeString(digits)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not hex", ErrMalformed)
	}
	v := sig[recoveryIDOffset]
	if v >= legacyRecoveryBase {
		v -= legacyRecoveryBase
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return nil, fmt.Errorf("%w: signature has v not in {0, 1, 27, 28}, r or s out of range, or a high s", ErrMalformed)
	}
	sig[recoveryIDOffset] = v
	return sig, nil
}

// Sign signs text with key as personal_sign does: over accounts.TextHash,
// with v = 27 or 28, returned as 0x hex. It is for tests and for the load
// benchmark's clients; servers only verify.
func Sign(text string, key *ecdsa.PrivateKey) (string, error) {
	if key == nil || key.D == nil {
		return "", errors.New("siwe: Sign needs a private key")
	}
	sig, err := crypto.Sign(accounts.TextHash([]byte(text)), key)
	if err != nil {
		return "", fmt.Errorf("siwe: signing: %w", err)
	}
	sig[recoveryIDOffset] += legacyRecoveryBase
	return "0x" + hex.EncodeToString(sig), nil
}

// NewNonce returns 22 random letters and digits from crypto/rand, for a
// challenge's nonce: unguessable, and alphanumeric as EIP-4361 requires.
func NewNonce() (string, error) {
	nonce := make([]byte, 0, nonceLength)
	var buffer [32]byte
	for round := 0; round < nonceRoundsMax && len(nonce) < nonceLength; round++ {
		if _, err := rand.Read(buffer[:]); err != nil {
			return "", fmt.Errorf("siwe: reading random bytes: %w", err)
		}
		for _, b := range buffer {
			if int(b) < nonceByteLimit && len(nonce) < nonceLength {
				nonce = append(nonce, nonceAlphabet[int(b)%len(nonceAlphabet)])
			}
		}
	}
	if len(nonce) < nonceLength {
		return "", errors.New("siwe: random source returned too few usable bytes")
	}
	return string(nonce), nil
}
