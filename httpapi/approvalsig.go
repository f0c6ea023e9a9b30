package httpapi

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/engine/approvals"
)

// The decisions a wallet signs, as the text of API.md spells them.
const (
	approvalDecisionApprove = "approve"
	approvalDecisionReject  = "reject"
)

// approvalIDBytesMax bounds the approval id a signature is checked over:
// an id is approvals.IDPrefix and idChars characters.
const approvalIDBytesMax = 64

// Signature layout of personal_sign, as httpapi/siwe reads it.
const (
	walletSignatureBytes     = crypto.SignatureLength // r ‖ s ‖ v
	walletSignatureHexLength = len("0x") + 2*walletSignatureBytes
	walletLegacyRecoveryBase = 27 // wallets write v as 27 or 28
)

// errApprovalSignature is why verifyApprovalSignature refuses; the wrapped
// detail is for logs, not for the client.
var errApprovalSignature = errors.New("approval signature refused")

// approvalSignedText is what the owner's wallet signs to decide approvalID:
// "Tollway approval <id>: approve" or "…: reject".
func approvalSignedText(approvalID, decision string) string {
	return "Tollway approval " + approvalID + ": " + decision
}

// verifyApprovalSignature checks that signatureHex, a 0x-prefixed 65-byte
// personal_sign (EIP-191) signature with v 0, 1, 27 or 28 and a low s
// (EIP-2, as Sign-In with Ethereum requires), was made by address's key
// over exactly approvalSignedText(approvalID, decision). A signature over
// another id or another decision recovers another address, so it is
// refused as a wrong signer. The recovered address is compared in constant
// time.
//
// address is 0x and 40 hex digits in any case (an EIP-55 checksum is not
// checked: a mistyped address fails the signature anyway).
//
// NB: it does not check that address is the owner's wallet, nor that the
// approval is pending: the caller holds that state.
func verifyApprovalSignature(address, signatureHex, approvalID, decision string) error {
	if !common.IsHexAddress(address) || !strings.HasPrefix(address, "0x") {
		return fmt.Errorf("%w: address is not 0x and 40 hex digits", errApprovalSignature)
	}
	if decision != approvalDecisionApprove && decision != approvalDecisionReject {
		return fmt.Errorf("%w: decision %q is not approve or reject", errApprovalSignature, truncate(decision, 16))
	}
	if !validApprovalID(approvalID) {
		return fmt.Errorf("%w: malformed approval id", errApprovalSignature)
	}
	sig, err := parseWalletSignature(signatureHex)
	if err != nil {
		return err
	}
	text := approvalSignedText(approvalID, decision)
	public, err := crypto.SigToPub(accounts.TextHash([]byte(text)), sig)
	if err != nil {
		return fmt.Errorf("%w: no public key recovers from the signature: %v", errApprovalSignature, err)
	}
	signer := crypto.PubkeyToAddress(*public)
	want := common.HexToAddress(address)
	if subtle.ConstantTimeCompare(signer[:], want[:]) != 1 {
		return fmt.Errorf("%w: not signed by %s over %q", errApprovalSignature, want.Hex(), text)
	}
	return nil
}

// validApprovalID accepts approvals.IDPrefix and 1 to approvalIDBytesMax
// bytes in all of base62 and '_': the id goes into the signed text, so it
// must not carry a newline or a second ": ".
func validApprovalID(id string) bool {
	rest, ok := strings.CutPrefix(id, approvals.IDPrefix)
	if !ok || rest == "" || len(id) > approvalIDBytesMax {
		return false
	}
	for i := range len(rest) {
		if c := rest[i]; c != '_' && !strings.ContainsRune(base62, rune(c)) {
			return false
		}
	}
	return true
}

// parseWalletSignature decodes signature into r ‖ s ‖ v with v in {0, 1},
// the form crypto.SigToPub takes, refusing a high s as httpapi/siwe does.
func parseWalletSignature(signature string) ([]byte, error) {
	digits, ok := strings.CutPrefix(signature, "0x")
	if !ok || len(signature) != walletSignatureHexLength {
		return nil, fmt.Errorf("%w: signature is not 0x and %d hex digits", errApprovalSignature, 2*walletSignatureBytes)
	}
	sig, err := hex.DecodeString(digits)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not hex", errApprovalSignature)
	}
	v := sig[crypto.RecoveryIDOffset]
	if v >= walletLegacyRecoveryBase {
		v -= walletLegacyRecoveryBase
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return nil, fmt.Errorf("%w: v not in {0, 1, 27, 28}, r or s out of range, or a high s", errApprovalSignature)
	}
	sig[crypto.RecoveryIDOffset] = v
	return sig, nil
}
