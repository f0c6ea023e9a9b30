package x402

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// signatureBytesMax bounds a payload's signature: an ERC-1271 wallet's may
// be longer than 65 bytes (multisigs, passkeys), never near this.
const signatureBytesMax = 8 << 10

// ExactEVMPayload is the exact scheme's EIP-3009 payload as on the wire:
// every number a decimal string, the nonce and signature 0x-hex.
type ExactEVMPayload struct {
	Signature     string                `json:"signature"`
	Authorization ExactEVMAuthorization `json:"authorization"`
}

// ExactEVMAuthorization is the signed TransferWithAuthorization message.
type ExactEVMAuthorization struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Value       string `json:"value"`
	ValidAfter  string `json:"validAfter"`
	ValidBefore string `json:"validBefore"`
	Nonce       string `json:"nonce"`
}

// Authorization is a parsed EIP-3009 authorization and its signature, what
// verification checks and what SettleCallData sends.
type Authorization struct {
	From        common.Address
	To          common.Address
	Value       *big.Int
	ValidAfter  *big.Int
	ValidBefore *big.Int
	Nonce       [32]byte
	Signature   []byte
}

// parseExactEVMPayload parses the scheme payload; a fault is answered with
// its reason (missing signature, or a malformed payload) and a message.
func parseExactEVMPayload(raw json.RawMessage) (*Authorization, string, error) {
	var wire ExactEVMPayload
	if err := decodeStrict(raw, &wire); err != nil {
		return nil, ReasonInvalidExactPayload, err
	}
	authorization := &Authorization{}
	var err error
	if authorization.From, err = parseAddress(wire.Authorization.From); err != nil {
		return nil, ReasonInvalidExactPayload, fmt.Errorf("authorization.from: %w", err)
	}
	if authorization.To, err = parseAddress(wire.Authorization.To); err != nil {
		return authorization, ReasonInvalidExactPayload, fmt.Errorf("authorization.to: %w", err)
	}
	for _, field := range []struct {
		name   string
		wire   string
		parsed **big.Int
	}{
		{"value", wire.Authorization.Value, &authorization.Value},
		{"validAfter", wire.Authorization.ValidAfter, &authorization.ValidAfter},
		{"validBefore", wire.Authorization.ValidBefore, &authorization.ValidBefore},
	} {
		if *field.parsed, err = ParseUint256(field.wire); err != nil {
			return authorization, ReasonInvalidExactPayload, fmt.Errorf("authorization.%s: %w", field.name, err)
		}
	}
	nonce, err := parseHex(wire.Authorization.Nonce, 32)
	if err != nil || len(nonce) != 32 {
		return authorization, ReasonInvalidExactPayload, fmt.Errorf("authorization.nonce: want 32 bytes of 0x-hex: %v", err)
	}
	copy(authorization.Nonce[:], nonce)
	if wire.Signature == "" || wire.Signature == "0x" {
		return authorization, ReasonMissingSignature, fmt.Errorf("missing signature")
	}
	if authorization.Signature, err = parseHex(wire.Signature, signatureBytesMax); err != nil {
		return authorization, ReasonInvalidExactPayload, fmt.Errorf("signature: %w", err)
	}
	return authorization, "", nil
}

// parseAddress accepts a 0x-prefixed 20-byte hex address in any case;
// EIP-55 checksums are not enforced, as the reference's getAddress would
// reject only mixed-case typos, which ecrecover catches anyway.
func parseAddress(s string) (common.Address, error) {
	if len(s) != 42 || !common.IsHexAddress(s) || !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return common.Address{}, fmt.Errorf("%q is not a 0x-hex address", s)
	}
	return common.HexToAddress(s), nil
}

// parseHex decodes 0x-prefixed hex of at most bytesMax bytes.
func parseHex(s string, bytesMax int) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, fmt.Errorf("%q lacks the 0x prefix", truncate(s))
	}
	digits := s[2:]
	if len(digits) > 2*bytesMax {
		return nil, fmt.Errorf("longer than %d bytes", bytesMax)
	}
	decoded, err := hex.DecodeString(digits)
	if err != nil {
		return nil, fmt.Errorf("%q is not hex: %v", truncate(s), err)
	}
	return decoded, nil
}

func truncate(s string) string {
	const shown = 80
	if len(s) <= shown {
		return s
	}
	return s[:shown] + "…"
}
