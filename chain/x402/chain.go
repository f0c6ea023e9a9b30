package x402

import (
	"bytes"
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/contracts"
)

// token packs and unpacks the calls of an EIP-3009 token: TestUSDC's ABI,
// whose functions used here are FiatToken v2.2's.
var token = contracts.NewTestUSDC()

// erc1271MagicValue is isValidSignature's selector, returned on success.
var erc1271MagicValue = []byte{0x16, 0x26, 0xba, 0x7e}

// checkERC1271 asks the wallet at `from` whether it signed digest, as
// SignatureChecker does: success, at least 32 bytes returned, the first
// four the magic value. A revert is a refusal, whatever its cause.
func checkERC1271(ctx context.Context, chain ethereum.ContractCaller, authorization *Authorization, digest common.Hash) (message string, valid bool) {
	data := make([]byte, 0, 4+32*3+len(authorization.Signature)+31)
	data = append(data, erc1271MagicValue...)
	data = append(data, digest[:]...)
	data = append(data, common.LeftPadBytes(big.NewInt(64).Bytes(), 32)...)
	data = append(data, common.LeftPadBytes(big.NewInt(int64(len(authorization.Signature))).Bytes(), 32)...)
	data = append(data, authorization.Signature...)
	if tail := len(authorization.Signature) % 32; tail != 0 {
		data = append(data, make([]byte, 32-tail)...)
	}
	from := authorization.From
	result, err := chain.CallContract(ctx, ethereum.CallMsg{To: &from, Data: data}, nil)
	if err != nil {
		return fmt.Sprintf("isValidSignature at %s: %v", from.Hex(), err), false
	}
	if len(result) < 32 || !bytes.Equal(result[:4], erc1271MagicValue) {
		return fmt.Sprintf("isValidSignature at %s refused the signature", from.Hex()), false
	}
	return "", true
}

// checkChain applies the rules on what only the chain knows, read into
// state, in the order of the reference's diagnosis of a failed simulation:
// the nonce, the domain, the balance. A read that failed is an error
// wrapping ErrChainRead, with the reference's reason for it.
func checkChain(ctx context.Context, chain ethereum.ContractCaller, state chainState, tokenAddress common.Address, authorization *Authorization, domain common.Hash, name string) (reason, message string, err error) {
	switch {
	case !state.nonceRead:
		return ReasonFailedToCheckNonce, "authorizationState failed", fmt.Errorf("%w: authorizationState at %s failed", ErrChainRead, tokenAddress.Hex())
	case state.nonceUsed:
		return ReasonNonceAlreadyUsed, fmt.Sprintf("nonce %x of %s is used", authorization.Nonce, authorization.From.Hex()), nil
	case !state.domainRead:
		return ReasonFailedToVerifySignature, "DOMAIN_SEPARATOR failed", fmt.Errorf("%w: DOMAIN_SEPARATOR at %s failed", ErrChainRead, tokenAddress.Hex())
	case state.domain != domain:
		return domainMismatch(ctx, chain, tokenAddress, name)
	case !state.balanceRead:
		return ReasonFailedToGetBalance, "balanceOf failed", fmt.Errorf("%w: balanceOf at %s failed", ErrChainRead, tokenAddress.Hex())
	case state.balance.Cmp(authorization.Value) < 0:
		return ReasonInsufficientBalance, fmt.Sprintf("balance %s, value %s", state.balance, authorization.Value), nil
	}
	return "", "", nil
}

// domainMismatch says why the token's DOMAIN_SEPARATOR is not the one the
// authorization was checked against (a signature valid for the
// requirements' name and version would revert on chain): the token's name
// tells which of the two differs.
func domainMismatch(ctx context.Context, chain ethereum.ContractCaller, tokenAddress common.Address, name string) (reason, message string, err error) {
	result, err := chain.CallContract(ctx, ethereum.CallMsg{To: &tokenAddress, Data: token.PackName()}, nil)
	var tokenName string
	if err == nil {
		tokenName, err = token.UnpackName(result)
	}
	if err == nil && tokenName != name {
		return ReasonTokenNameMismatch, fmt.Sprintf("token name %q, requirements %q", truncate(tokenName), truncate(name)), nil
	}
	return ReasonTokenVersionMismatch, fmt.Sprintf("the token's EIP-712 domain at %s is not the requirements' name and version", tokenAddress.Hex()), nil
}

// simulate executes the settlement by eth_call at the latest block. Any
// failure, a revert or not, refuses the payment, as the reference's does.
func simulate(ctx context.Context, chain ethereum.ContractCaller, tokenAddress common.Address, authorization *Authorization) (message string, ok bool) {
	_, err := chain.CallContract(ctx, ethereum.CallMsg{To: &tokenAddress, Data: SettleCallData(authorization)}, nil)
	if err != nil {
		return fmt.Sprintf("transferWithAuthorization at %s: %v", tokenAddress.Hex(), err), false
	}
	return "", true
}

// SettleCallData is the token call that executes authorization: as the
// reference, transferWithAuthorization(..., v, r, s) for a 65-byte
// signature, v 0/1 raised to 27/28 (the token's ecrecover wants those),
// and the bytes-signature overload for any other (ERC-1271 wallets).
func SettleCallData(authorization *Authorization) []byte {
	a := authorization
	if len(a.Signature) == 65 {
		var r, s [32]byte
		copy(r[:], a.Signature[:32])
		copy(s[:], a.Signature[32:64])
		v := a.Signature[64]
		if v < 27 {
			v += 27
		}
		return token.PackTransferWithAuthorization0(a.From, a.To, a.Value, a.ValidAfter, a.ValidBefore, a.Nonce, v, r, s)
	}
	return token.PackTransferWithAuthorization(a.From, a.To, a.Value, a.ValidAfter, a.ValidBefore, a.Nonce, a.Signature)
}

// Supported is the /supported answer for these networks: the exact scheme
// on each, in v2 by its CAIP-2 id and in v1 by its v1 name when it has
// one; signers are the addresses that send settlements. No extensions yet.
func Supported(networks []Network, signers []common.Address) SupportedResponse {
	response := SupportedResponse{Kinds: []SupportedKind{}, Extensions: []string{}, Signers: map[string][]string{}}
	for _, network := range networks {
		response.Kinds = append(response.Kinds, SupportedKind{X402Version: Version2, Scheme: SchemeExact, Network: network.ID})
		if network.V1Name != "" {
			response.Kinds = append(response.Kinds, SupportedKind{X402Version: Version1, Scheme: SchemeExact, Network: network.V1Name})
		}
	}
	if len(signers) > 0 {
		addresses := make([]string, len(signers))
		for i, signer := range signers {
			addresses[i] = signer.Hex()
		}
		response.Signers["eip155:*"] = addresses
	}
	return response
}
