// Package x402 is the protocol core of Tollway's x402 facilitator: the wire
// types of /verify, /settle and /supported (x402 v2 and v1), their strict
// decoding, and verification of the `exact` EVM scheme's EIP-3009 payload
// against the chain. It does no HTTP, keeps no state and sends nothing: the
// HTTP layer decodes with ParseRequest (an error is a 400), the engine
// records and reserves, and a relayer sends the call data SettleCallData
// builds. It owns no goroutines; a Verifier is safe for concurrent use.
//
// Followed: github.com/coinbase/x402 (now x402-foundation/x402) at commit
// dd927a26cfefc98c24b3ec38b3a8f204dad0c60d (2026-04-21):
//   - specs/x402-specification-v2.md and -v1.md (wire shapes, §7 examples,
//     the generic reason codes invalid_network, unsupported_scheme, ...),
//   - specs/schemes/exact/scheme_exact_evm.md,
//   - typescript/packages/core/src/types/{payments,facilitator,v1/index}.ts
//     (field names and optionality),
//   - typescript/packages/mechanisms/evm/src/exact/facilitator/{eip3009,
//     errors}.ts and exact/v1/facilitator/scheme.ts (rule order, reason
//     strings, the 6 s validBefore margin),
//   - go/mechanisms/evm/exact/facilitator/{eip3009,eip3009_helpers,
//     errors}.go (missing-signature code, settlement with the (v,r,s)
//     overload for 65-byte signatures, v 0/1 normalised to 27/28, the bytes
//     overload otherwise).
//
// Where the TypeScript and Go references differ, the TypeScript one wins
// (it is what @x402/* clients run against): a value mismatch is
// invalid_exact_evm_authorization_value, not the Go
// invalid_exact_evm_payload_authorization_value_mismatch. The spec's §9
// list (insufficient_funds, invalid_exact_evm_payload_signature, ...) is
// older than both implementations and is used only for the generic codes
// neither implementation has (see reasons.go).
//
// The reference ends verification with an eth_call simulation of the
// transfer and, when it fails, diagnoses why. Here the rules it diagnoses
// are checked directly, each with its own reason: the token's
// DOMAIN_SEPARATOR against the requirements' name and version,
// authorizationState (nonce unused) and balanceOf; the simulation itself
// is Config.Simulate (off by default: one chain read fewer). Signatures
// are checked as the token checks them (OpenZeppelin SignatureChecker, as
// FiatToken v2.2): if `from` has code, ERC-1271 isValidSignature;
// otherwise ecrecover with s in the lower half of the curve order. ERC-6492 (signatures of
// undeployed wallets) is not supported: such a payment is refused with
// invalid_exact_evm_payload_undeployed_smart_wallet.
//
// v1 networks: the reference maps v1 names ("base-sepolia") to chain ids;
// our chain has none there, so a Network names its own (V1Name, e.g.
// "tollway-local") and v1 requests also accept its CAIP-2 id. The
// reference's v1 client signs only for its own names, so v1 on our chain
// serves clients that take the chain id from elsewhere.
package x402
