package siwe

import (
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// eipExample is the first example message of EIP-4361, copied literally.
const eipExample = `example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json`

// eipExampleMessage is eipExample as a Message.
func eipExampleMessage() Message {
	return Message{
		Domain:    "example.com",
		Address:   common.HexToAddress("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
		Statement: "I accept the ExampleOrg Terms of Service: https://example.com/tos",
		URI:       "https://example.com/login",
		Version:   "1",
		ChainID:   1,
		Nonce:     "32891756",
		IssuedAt:  time.Date(2021, 9, 30, 16, 25, 24, 0, time.UTC),
		Resources: []string{
			"ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
			"https://example.com/my-web2-claim.json",
		},
	}
}

var issuedAt = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// expect is what the server at 127.0.0.1:8080 expects a minute after issuedAt.
var expect = Expect{Domain: "127.0.0.1:8080", ChainID: 31337, Now: issuedAt.Add(time.Minute)}

// challenge is a message as the challenge endpoint builds it, with every
// optional field set so that each one takes part in the tests.
func challenge(address common.Address) Message {
	return Message{
		Domain:         "127.0.0.1:8080",
		Address:        address,
		Statement:      "Sign in to Tollway.",
		URI:            "http://127.0.0.1:8080",
		Version:        "1",
		ChainID:        31337,
		Nonce:          "a1B2c3D4e5F6g7H8i9J0kL",
		IssuedAt:       issuedAt,
		ExpirationTime: issuedAt.Add(5 * time.Minute),
		NotBefore:      issuedAt,
		RequestID:      "request-1",
		Resources:      []string{"https://127.0.0.1:8080/v1/accounts", "urn:tollway:session"},
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	return key
}

// signedChallenge returns a fresh key, its challenge text and the signature.
func signedChallenge(t testing.TB) (*ecdsa.PrivateKey, Message, string, string) {
	t.Helper()
	key := newKey(t)
	m := challenge(crypto.PubkeyToAddress(key.PublicKey))
	text := m.String()
	signature, err := Sign(text, key)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return key, m, text, signature
}

// messageDifference describes the first field in which a and b differ, or
// returns "" when they are the same message. Times compare as instants.
func messageDifference(a, b Message) string {
	switch {
	case a.Domain != b.Domain:
		return fmt.Sprintf("Domain %q != %q", a.Domain, b.Domain)
	case a.Address != b.Address:
		return fmt.Sprintf("Address %s != %s", a.Address, b.Address)
	case a.Statement != b.Statement:
		return fmt.Sprintf("Statement %q != %q", a.Statement, b.Statement)
	case a.URI != b.URI:
		return fmt.Sprintf("URI %q != %q", a.URI, b.URI)
	case a.Version != b.Version:
		return fmt.Sprintf("Version %q != %q", a.Version, b.Version)
	case a.ChainID != b.ChainID:
		return fmt.Sprintf("ChainID %d != %d", a.ChainID, b.ChainID)
	case a.Nonce != b.Nonce:
		return fmt.Sprintf("Nonce %q != %q", a.Nonce, b.Nonce)
	case !a.IssuedAt.Equal(b.IssuedAt):
		return fmt.Sprintf("IssuedAt %v != %v", a.IssuedAt, b.IssuedAt)
	case !a.ExpirationTime.Equal(b.ExpirationTime):
		return fmt.Sprintf("ExpirationTime %v != %v", a.ExpirationTime, b.ExpirationTime)
	case !a.NotBefore.Equal(b.NotBefore):
		return fmt.Sprintf("NotBefore %v != %v", a.NotBefore, b.NotBefore)
	case a.RequestID != b.RequestID:
		return fmt.Sprintf("RequestID %q != %q", a.RequestID, b.RequestID)
	case !slices.Equal(a.Resources, b.Resources):
		return fmt.Sprintf("Resources %q != %q", a.Resources, b.Resources)
	}
	return ""
}

func TestStringWritesTheEIP4361Example(t *testing.T) {
	m := eipExampleMessage()
	if got := m.String(); got != eipExample {
		t.Fatalf("String() =\n%s\nwant\n%s", got, eipExample)
	}
}

func TestStringWritesTwoBlankLinesWithoutStatement(t *testing.T) {
	m := eipExampleMessage()
	m.Statement = ""
	m.Resources = nil
	want := "example.com wants you to sign in with your Ethereum account:\n" +
		"0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n\n" +
		"URI: https://example.com/login\nVersion: 1\nChain ID: 1\nNonce: 32891756\n" +
		"Issued At: 2021-09-30T16:25:24Z"
	if got := m.String(); got != want {
		t.Fatalf("String() =\n%q\nwant\n%q", got, want)
	}
	parsed, err := Parse(want)
	if err != nil {
		t.Fatalf("Parse(no statement) = %v, want nil", err)
	}
	if difference := messageDifference(parsed, m); difference != "" {
		t.Fatalf("Parse(no statement): %s", difference)
	}
}

func TestParseReadsTheEIP4361Example(t *testing.T) {
	m, err := Parse(eipExample)
	if err != nil {
		t.Fatalf("Parse(example) = %v, want nil", err)
	}
	if difference := messageDifference(m, eipExampleMessage()); difference != "" {
		t.Fatalf("Parse(example): %s", difference)
	}
}

func TestParseReadsWhatStringWrites(t *testing.T) {
	m := challenge(crypto.PubkeyToAddress(newKey(t).PublicKey))
	text := m.String()
	parsed, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q) = %v, want nil", text, err)
	}
	if difference := messageDifference(parsed, m); difference != "" {
		t.Fatalf("Parse(String()): %s", difference)
	}
	if again := parsed.String(); again != text {
		t.Fatalf("Parse(text).String() = %q, want %q", again, text)
	}
}

func TestParseConvertsTimesToUTC(t *testing.T) {
	text := strings.Replace(eipExample, "2021-09-30T16:25:24Z", "2021-09-30T18:25:24.25+02:00", 1)
	m, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(offset time) = %v, want nil", err)
	}
	want := time.Date(2021, 9, 30, 16, 25, 24, 250_000_000, time.UTC)
	if !m.IssuedAt.Equal(want) || m.IssuedAt.Location() != time.UTC {
		t.Fatalf("IssuedAt = %v, want %v", m.IssuedAt, want)
	}
	if !strings.Contains(m.String(), "Issued At: 2021-09-30T16:25:24.25Z") {
		t.Fatalf("String() = %q, want the time in UTC with its fraction", m.String())
	}
}

func TestVerifyAcceptsMessageSignedByItsAddress(t *testing.T) {
	_, m, text, signature := signedChallenge(t)
	got, err := Verify(text, signature, expect)
	if err != nil {
		t.Fatalf("Verify() = %v, want nil", err)
	}
	if difference := messageDifference(got, m); difference != "" {
		t.Fatalf("Verify() returned another message: %s", difference)
	}
}

// EIP-4361 makes Expiration Time optional: a message without one is valid
// from its Not Before on (the caller's nonce bounds how long it can be used).
func TestVerifyAcceptsAMessageWithoutExpirationTime(t *testing.T) {
	key := newKey(t)
	m := challenge(crypto.PubkeyToAddress(key.PublicKey))
	m.ExpirationTime = time.Time{}
	signature, err := Sign(m.String(), key)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	for _, now := range []time.Time{expect.Now, expect.Now.Add(24 * time.Hour)} {
		if _, err := Verify(m.String(), signature, Expect{expect.Domain, expect.ChainID, now}); err != nil {
			t.Errorf("Verify(no Expiration Time) at %v = %v, want nil", now, err)
		}
	}
	if strings.Contains(m.String(), "Expiration Time") {
		t.Fatalf("String() = %q, want no Expiration Time line", m.String())
	}
}

func TestVerifyAcceptsURIsOnTheServersOrigin(t *testing.T) {
	key := newKey(t)
	for _, uri := range []string{"http://127.0.0.1:8080", "https://127.0.0.1:8080/login", "HTTP://127.0.0.1:8080/?next=%2Fv1"} {
		m := challenge(crypto.PubkeyToAddress(key.PublicKey))
		m.URI = uri
		signature, err := Sign(m.String(), key)
		if err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		if _, err := Verify(m.String(), signature, expect); err != nil {
			t.Errorf("Verify(URI %q) = %v, want nil", uri, err)
		}
	}
}

func TestVerifyAcceptsRecoveryIDZeroOrOne(t *testing.T) {
	key, _, text, _ := signedChallenge(t)
	raw, err := crypto.Sign(accounts.TextHash([]byte(text)), key)
	if err != nil {
		t.Fatalf("crypto.Sign() = %v", err)
	}
	if raw[64] > 1 {
		t.Fatalf("crypto.Sign() v = %d, want 0 or 1", raw[64])
	}
	if _, err := Verify(text, "0x"+hex.EncodeToString(raw), expect); err != nil {
		t.Fatalf("Verify(v = %d) = %v, want nil", raw[64], err)
	}
}

func TestSignWritesLegacyRecoveryID(t *testing.T) {
	_, _, _, signature := signedChallenge(t)
	if v := signature[len(signature)-2:]; v != "1b" && v != "1c" {
		t.Fatalf("Sign() v = 0x%s, want 0x1b or 0x1c", v)
	}
}

func TestSignRefusesMissingKey(t *testing.T) {
	if _, err := Sign("text", nil); err == nil {
		t.Fatalf("Sign(nil key) = nil, want an error")
	}
	if _, err := Sign("text", &ecdsa.PrivateKey{}); err == nil {
		t.Fatalf("Sign(empty key) = nil, want an error")
	}
}

func TestVerifyChecksTheTimeWindowAtItsEdges(t *testing.T) {
	_, m, text, signature := signedChallenge(t)
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"at not before", m.NotBefore, nil},
		{"before not before", m.NotBefore.Add(-time.Nanosecond), ErrNotYetValid},
		{"just before expiration", m.ExpirationTime.Add(-time.Nanosecond), nil},
		{"at expiration", m.ExpirationTime, ErrExpired},
		{"after expiration", m.ExpirationTime.Add(time.Hour), ErrExpired},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			at := expect
			at.Now = test.now
			_, err := Verify(text, signature, at)
			if test.want == nil && err != nil || test.want != nil && !errors.Is(err, test.want) {
				t.Fatalf("Verify(now = %v) = %v, want %v", test.now, err, test.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	key, m, text, signature := signedChallenge(t)

	other := newKey(t)
	signedByOther, err := Sign(text, other)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	tampered := strings.Replace(text, "Request ID: request-1", "Request ID: request-2", 1)
	withURI := func(uri string) string {
		other := m
		other.URI = uri
		return other.String()
	}
	withURISignature := func(uri string) string {
		signature, err := Sign(withURI(uri), key)
		if err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		return signature
	}
	tests := []struct {
		name      string
		text      string
		signature string
		expect    Expect
		want      error
	}{
		{"wrong domain", text, signature, Expect{"127.0.0.1:8081", expect.ChainID, expect.Now}, ErrDomain},
		{"domain with a trailing space", text, signature, Expect{"127.0.0.1:8080 ", expect.ChainID, expect.Now}, ErrDomain},
		{"wrong chain id", text, signature, Expect{expect.Domain, 1, expect.Now}, ErrChainID},
		{"URI on another host", withURI("http://evil.example"), withURISignature("http://evil.example"), expect, ErrURI},
		{"URI on another port", withURI("http://127.0.0.1:8081/login"), withURISignature("http://127.0.0.1:8081/login"), expect, ErrURI},
		{"URI with another scheme", withURI("ftp://127.0.0.1:8080"), withURISignature("ftp://127.0.0.1:8080"), expect, ErrURI},
		{"URI with user information", withURI("http://evil@127.0.0.1:8080"), withURISignature("http://evil@127.0.0.1:8080"), expect, ErrURI},
		{"URI without authority", withURI("urn:127.0.0.1:8080"), withURISignature("urn:127.0.0.1:8080"), expect, ErrURI},
		{"expired", text, signature, Expect{expect.Domain, expect.ChainID, m.ExpirationTime.Add(time.Second)}, ErrExpired},
		{"not yet valid", text, signature, Expect{expect.Domain, expect.ChainID, m.NotBefore.Add(-time.Second)}, ErrNotYetValid},
		{"signed by another key", text, signedByOther, expect, ErrSigner},
		{"message changed after signing", tampered, signature, expect, ErrSigner},
		{"malformed message", text + "\n", signature, expect, ErrMalformed},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if test.text != text && test.text == "" {
				t.Fatalf("test text is empty")
			}
			got, err := Verify(test.text, test.signature, test.expect)
			if !errors.Is(err, test.want) {
				t.Fatalf("Verify() = %v, want %v", err, test.want)
			}
			if difference := messageDifference(got, Message{}); difference != "" {
				t.Fatalf("Verify() returned a message with an error: %s", difference)
			}
		})
	}
}

func TestVerifyRejectsZeroNow(t *testing.T) {
	_, _, text, signature := signedChallenge(t)
	_, err := Verify(text, signature, Expect{Domain: expect.Domain, ChainID: expect.ChainID})
	if err == nil {
		t.Fatalf("Verify(zero Now) = nil, want an error")
	}
	for _, sentinel := range []error{ErrMalformed, ErrDomain, ErrURI, ErrChainID, ErrExpired, ErrNotYetValid, ErrSigner} {
		if errors.Is(err, sentinel) {
			t.Fatalf("Verify(zero Now) = %v, want an error that blames the caller, not the client", err)
		}
	}
}

// secp256k1N is the order of the secp256k1 group.
var secp256k1N = crypto.S256().Params().N

// withV returns signature with its last byte replaced by v.
func withV(signature string, v byte) string {
	return signature[:len(signature)-2] + hex.EncodeToString([]byte{v})
}

// highS returns the other valid signature of the same message, (r, N − s)
// with the recovery id flipped: it recovers the same key, but EIP-2 forbids it.
func highS(t *testing.T, signature string) string {
	t.Helper()
	raw, err := hex.DecodeString(signature[2:])
	if err != nil {
		t.Fatalf("hex.DecodeString(%q) = %v", signature, err)
	}
	s := new(big.Int).Sub(secp256k1N, new(big.Int).SetBytes(raw[32:64]))
	s.FillBytes(raw[32:64])
	raw[64] = 27 + 28 - raw[64] // 27 ↔ 28
	return "0x" + hex.EncodeToString(raw)
}

func TestVerifyRejectsMalformedSignature(t *testing.T) {
	_, _, text, signature := signedChallenge(t)
	body := signature[2:]
	tests := []struct{ name, signature string }{
		{"empty", ""},
		{"no 0x", body},
		{"upper-case 0X", "0X" + body},
		{"not hex", signature[:10] + "zz" + signature[12:]},
		{"64 bytes", signature[:len(signature)-2]},
		{"66 bytes", signature + "1b"},
		{"odd length", signature + "1"},
		{"v = 2", withV(signature, 2)},
		{"v = 26", withV(signature, 26)},
		{"v = 29", withV(signature, 29)},
		{"v = 255", withV(signature, 255)},
		{"r = 0", "0x" + strings.Repeat("00", 32) + body[64:]},
		{"s = 0", signature[:66] + strings.Repeat("00", 32) + signature[130:]},
		{"r = N", "0x" + hex.EncodeToString(secp256k1N.Bytes()) + body[64:]},
		{"high s", highS(t, signature)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if _, err := Verify(text, test.signature, expect); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify(signature %q) = %v, want %v", test.signature, err, ErrMalformed)
			}
		})
	}
}

func TestVerifyRejectsUnrecoverableSignatureAsWrongSigner(t *testing.T) {
	_, _, text, signature := signedChallenge(t)
	hash := accounts.TextHash([]byte(text))
	// Half of all x coordinates are not on the curve; an r that is not
	// recovers no key though it passes the range checks.
	for x := int64(1); x < 64; x++ {
		raw := make([]byte, 65)
		big.NewInt(x).FillBytes(raw[:32])
		copy(raw[32:], mustDecode(t, signature[66:]))
		raw[64] -= 27
		if _, err := crypto.SigToPub(hash, raw); err == nil {
			continue
		}
		raw[64] += 27
		_, err := Verify(text, "0x"+hex.EncodeToString(raw), expect)
		if !errors.Is(err, ErrSigner) {
			t.Fatalf("Verify(r = %d, off the curve) = %v, want %v", x, err, ErrSigner)
		}
		return
	}
	t.Fatalf("found no r below 64 that recovers no key")
}

func mustDecode(t *testing.T, digits string) []byte {
	t.Helper()
	raw, err := hex.DecodeString(digits)
	if err != nil {
		t.Fatalf("hex.DecodeString(%q) = %v", digits, err)
	}
	return raw
}

func TestParseRejectsMalformedMessage(t *testing.T) {
	fullMessage := challenge(common.HexToAddress("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"))
	full := fullMessage.String()
	if _, err := Parse(full); err != nil {
		t.Fatalf("Parse(full) = %v, want nil", err)
	}
	if _, err := Parse(eipExample); err != nil {
		t.Fatalf("Parse(example) = %v, want nil", err)
	}
	replaceIn := func(text, old, replacement string) string {
		if !strings.Contains(text, old) {
			t.Fatalf("%q is not in the message", old)
		}
		return strings.Replace(text, old, replacement, 1)
	}
	replace := func(old, replacement string) string { return replaceIn(full, old, replacement) }
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"header only", "example.com wants you to sign in with your Ethereum account:"},
		{"missing URI line", replace("URI: http://127.0.0.1:8080\n", "")},
		{"missing version line", replace("Version: 1\n", "")},
		{"missing chain id line", replace("Chain ID: 31337\n", "")},
		{"missing nonce line", replace("Nonce: a1B2c3D4e5F6g7H8i9J0kL\n", "")},
		{"missing issued at line", replaceIn(eipExample, "Issued At: 2021-09-30T16:25:24Z\n", "")},
		{"missing blank line after address", replace("Cc2\n\n", "Cc2\n")},
		{"missing blank line after statement", replace("Tollway.\n\n", "Tollway.\n")},
		{"empty statement line", replace("Sign in to Tollway.", "")},
		{"extra line between fields", replace("Version: 1\n", "Version: 1\nColor: blue\n")},
		{"extra line after issued at", replaceIn(eipExample, "16:25:24Z\n", "16:25:24Z\nColor: blue\n")},
		{"extra line after resources", full + "\nColor: blue"},
		{"extra blank line at the end", full + "\n"},
		{"fields out of order", replace("Version: 1\nChain ID: 31337", "Chain ID: 31337\nVersion: 1")},
		{"optional fields out of order", replaceIn(
			replace("Expiration Time: 2026-03-14T15:14:26.535897Z\n", ""),
			"Request ID", "Expiration Time: 2026-03-14T15:14:26.535897Z\nRequest ID")},
		{"optional field repeated", replace("Request ID: request-1", "Request ID: request-1\nRequest ID: request-1")},
		{"carriage returns", strings.ReplaceAll(full, "\n", "\r\n")},
		{"scheme before domain", replace("127.0.0.1:8080 wants", "http://127.0.0.1:8080 wants")},
		{"space in domain", replace("127.0.0.1:8080 wants", "127.0.0.1 8080 wants")},
		{"path in domain", replace("127.0.0.1:8080 wants", "127.0.0.1:8080/login wants")},
		{"empty domain", replace("127.0.0.1:8080 wants", " wants")},
		{"letters in port", replace("127.0.0.1:8080 wants", "127.0.0.1:80a0 wants")},
		{"bad address checksum", replace("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756CC2")},
		{"lower-case address", replace("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")},
		{"address without 0x", replace("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")},
		{"short address", replace("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756C")},
		{"statement with a quote", replace("Sign in to Tollway.", `Sign in to "Tollway".`)},
		{"statement not ASCII", replace("Sign in to Tollway.", "Sign in to Tollwäy.")},
		{"URI without scheme", replace("URI: http://127.0.0.1:8080", "URI: 127.0.0.1/login")},
		{"URI with space", replace("URI: http://127.0.0.1:8080", "URI: http://127.0.0.1:8080/log in")},
		{"URI with bad percent", replace("URI: http://127.0.0.1:8080", "URI: http://127.0.0.1:8080/%zz")},
		{"version 2", replace("Version: 1", "Version: 2")},
		{"chain id with leading zero", replace("Chain ID: 31337", "Chain ID: 031337")},
		{"negative chain id", replace("Chain ID: 31337", "Chain ID: -1")},
		{"chain id over 64 bits", replace("Chain ID: 31337", "Chain ID: 18446744073709551616")},
		{"nonce of 7 characters", replace("Nonce: a1B2c3D4e5F6g7H8i9J0kL", "Nonce: a1B2c3D")},
		{"nonce with a dash", replace("Nonce: a1B2c3D4e5F6g7H8i9J0kL", "Nonce: a1B2c3D4-e5F6")},
		{"time with a space", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 2026-03-14 15:09:26Z")},
		{"time without offset", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 2026-03-14T15:09:26")},
		{"time with comma", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 2026-03-14T15:09:26,5Z")},
		{"time with one-digit hour", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 2026-03-14T5:09:26Z")},
		{"time on February 30", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 2026-02-30T15:09:26Z")},
		{"time offset of 24 hours", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 2026-03-14T15:09:26+24:00")},
		{"time before year 0 in UTC", replace("Issued At: 2026-03-14T15:09:26.535897Z", "Issued At: 0000-01-01T00:00:00+01:00")},
		{"bad expiration time", replace("Expiration Time: 2026-03-14T15:14:26.535897Z", "Expiration Time: tomorrow")},
		{"zero expiration time", replace("Expiration Time: 2026-03-14T15:14:26.535897Z", "Expiration Time: 0001-01-01T00:00:00Z")},
		{"bad not before", replace("Not Before: 2026-03-14T15:09:26.535897Z", "Not Before: 2026-03-14")},
		{"empty request id", replace("Request ID: request-1", "Request ID: ")},
		{"request id with a slash", replace("Request ID: request-1", "Request ID: request/1")},
		{"resources line without resources", replace("\n- https://127.0.0.1:8080/v1/accounts\n- urn:tollway:session", "")},
		{"resource without dash", replace("- urn:tollway:session", "urn:tollway:session")},
		{"resource not a URI", replace("- urn:tollway:session", "- tollway session")},
		{"oversized", replace("Sign in to Tollway.", strings.Repeat("a", textBytesMax))},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if _, err := Parse(test.text); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want %v", test.text, err, ErrMalformed)
			}
		})
	}
}

func TestParseAcceptsUpToTheSizeLimit(t *testing.T) {
	m := eipExampleMessage()
	m.Statement = "a"
	m.Statement = strings.Repeat("a", textBytesMax-len(m.String())+1)
	text := m.String()
	if len(text) != textBytesMax {
		t.Fatalf("len(text) = %d, want %d", len(text), textBytesMax)
	}
	if _, err := Parse(text); err != nil {
		t.Fatalf("Parse(%d bytes) = %v, want nil", len(text), err)
	}
	m.Statement += "a"
	if _, err := Parse(m.String()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse(%d bytes) = %v, want %v", len(m.String()), err, ErrMalformed)
	}
}

func TestParseAcceptsRFC3986Forms(t *testing.T) {
	tests := []struct{ domain, uri string }{
		{"example.com", "https://example.com/login?next=%2Fhome#top"},
		{"[::1]:8080", "http://[::1]:8080/"},
		{"user:password@example.com:443", "https://user@example.com:443/a/b;c=d"},
		{"[v1.fe80::a+en1]", "urn:isbn:0451450523"},
		{"localhost", "file:///etc/hosts"},
		{"xn--bcher-kva.example", "mailto:someone@example.com"},
	}
	for _, test := range tests {
		m := eipExampleMessage()
		m.Domain, m.URI = test.domain, test.uri
		m.Resources = append(m.Resources, test.uri)
		parsed, err := Parse(m.String())
		if err != nil {
			t.Fatalf("Parse(domain %q, URI %q) = %v, want nil", test.domain, test.uri, err)
		}
		if difference := messageDifference(parsed, m); difference != "" {
			t.Fatalf("Parse(domain %q, URI %q): %s", test.domain, test.uri, difference)
		}
	}
}

func TestParseRejectsBadIPLiterals(t *testing.T) {
	for _, domain := range []string{"[::1", "::1]", "[fe80::1%25en0]", "[1.2.3.4]", "[::g]", "[v1.]", "[vx.a]", "a@b@c"} {
		m := eipExampleMessage()
		m.Domain = domain
		if _, err := Parse(m.String()); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Parse(domain %q) = %v, want %v", domain, err, ErrMalformed)
		}
	}
}

func TestNewNonceIsLongRandomAndAlphanumeric(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		nonce, err := NewNonce()
		if err != nil {
			t.Fatalf("NewNonce() = %v", err)
		}
		if len(nonce) != nonceLength || !isNonce(nonce) {
			t.Fatalf("NewNonce() = %q, want %d letters and digits", nonce, nonceLength)
		}
		if seen[nonce] {
			t.Fatalf("NewNonce() = %q twice", nonce)
		}
		seen[nonce] = true
	}
}

func TestNewNonceUsesTheWholeAlphabet(t *testing.T) {
	counts := make(map[byte]int)
	for range 500 {
		nonce, err := NewNonce()
		if err != nil {
			t.Fatalf("NewNonce() = %v", err)
		}
		for i := range len(nonce) {
			counts[nonce[i]]++
		}
	}
	// 11,000 characters over 62 letters: about 177 each, and a letter
	// missing entirely has probability below 62 × e^-177.
	if len(counts) != len(nonceAlphabet) {
		t.Fatalf("NewNonce() used %d distinct characters, want %d", len(counts), len(nonceAlphabet))
	}
}

func FuzzParse(f *testing.F) {
	f.Add(eipExample)
	full := challenge(common.HexToAddress("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"))
	f.Add(full.String())
	f.Add(strings.Replace(eipExample, "2021-09-30T16:25:24Z", "2021-09-30T18:25:24.250+02:00", 1))
	f.Add(strings.Replace(eipExample, "example.com wants", "[::1]:8080 wants", 1))
	f.Add(eipExample + "\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := Parse(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping %v", text, err, ErrMalformed)
			}
			return
		}
		rendered := m.String()
		again, err := Parse(rendered)
		if err != nil {
			t.Fatalf("Parse(%q) succeeded, but Parse of its String() %q = %v", text, rendered, err)
		}
		if difference := messageDifference(again, m); difference != "" {
			t.Fatalf("Parse(%q).String() parses to another message: %s", text, difference)
		}
		if again.String() != rendered {
			t.Fatalf("String() is not stable: %q, then %q", rendered, again.String())
		}
	})
}
