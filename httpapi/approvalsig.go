package httpapi

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/engine/approvals"
	"github.com/tollway/tollway/httpapi/siwe"
)

// The decisions a wallet signs, as the text of API.md spells them.
const (
	approvalDecisionApprove = "approve"
	approvalDecisionReject  = "reject"
)

// approvalIDBytesMax bounds the approval id a signature is checked over:
// an id is approvals.IDPrefix and idChars characters.
const approvalIDBytesMax = 64

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
	text := approvalSignedText(approvalID, decision)
	signer, err := siwe.RecoverSigner(text, signatureHex)
	if err != nil {
		return fmt.Errorf("%w: %v", errApprovalSignature, err)
	}
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
