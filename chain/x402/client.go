package x402

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// PayExact is the client's side of the exact EVM scheme, as the reference
// clients do it: an EIP-3009 authorization of requirements.Amount from
// key's address to requirements.PayTo, valid from ten minutes before now
// until MaxTimeoutSeconds after it, with a random nonce, signed over the
// token's EIP-712 domain (requirements.Extra's name and version, the
// network's chain id, the asset). It returns the v2 verify/settle request
// a resource server sends its facilitator. For Go clients, tests and
// benchmarks.
func PayExact(key *ecdsa.PrivateKey, requirements PaymentRequirements, resource string, now time.Time) ([]byte, error) {
	chainID, ok := eip155ChainID(requirements.Network)
	if !ok {
		return nil, fmt.Errorf("x402: network %q is not eip155:<chain id>", requirements.Network)
	}
	name, version, ok := eip712Domain(requirements.Extra)
	if !ok {
		return nil, fmt.Errorf("x402: requirements.extra lacks the token's EIP-712 name and version")
	}
	token, err := parseAddress(requirements.Asset)
	if err != nil {
		return nil, fmt.Errorf("x402: asset: %w", err)
	}
	payTo, err := parseAddress(requirements.PayTo)
	if err != nil {
		return nil, fmt.Errorf("x402: payTo: %w", err)
	}
	value, err := ParseUint256(requirements.Amount)
	if err != nil {
		return nil, fmt.Errorf("x402: amount: %w", err)
	}
	a := &Authorization{
		From: crypto.PubkeyToAddress(key.PublicKey), To: payTo, Value: value,
		ValidAfter:  big.NewInt(now.Add(-10 * time.Minute).Unix()),
		ValidBefore: big.NewInt(now.Unix() + int64(requirements.MaxTimeoutSeconds)),
	}
	if _, err := rand.Read(a.Nonce[:]); err != nil {
		return nil, fmt.Errorf("x402: nonce: %w", err)
	}
	digest := TransferWithAuthorizationDigest(DomainSeparator(name, version, chainID, token), a)
	signature, err := crypto.Sign(digest.Bytes(), key)
	if err != nil {
		return nil, fmt.Errorf("x402: sign: %w", err)
	}
	signature[64] += 27 // as wallets produce it
	payload, err := json.Marshal(ExactEVMPayload{
		Signature: hexutil.Encode(signature),
		Authorization: ExactEVMAuthorization{
			From: a.From.Hex(), To: a.To.Hex(), Value: a.Value.String(), ValidAfter: a.ValidAfter.String(),
			ValidBefore: a.ValidBefore.String(), Nonce: hexutil.Encode(a.Nonce[:]),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("x402: payload: %w", err)
	}
	request := VerifyRequest{
		X402Version: Version2,
		PaymentPayload: PaymentPayload{X402Version: Version2, Resource: &ResourceInfo{URL: resource},
			Accepted: requirements, Payload: payload},
		PaymentRequirements: requirements,
	}
	return json.Marshal(request)
}

// eip155ChainID parses a CAIP-2 eip155 network id.
func eip155ChainID(network string) (*big.Int, bool) {
	digits, ok := strings.CutPrefix(network, "eip155:")
	if !ok {
		return nil, false
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || id == 0 {
		return nil, false
	}
	return new(big.Int).SetUint64(id), true
}
