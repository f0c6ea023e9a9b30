package x402

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The payment-identifier extension (the reference's
// specs/extensions/payment_identifier.md): the client puts an id in
// paymentPayload.extensions["payment-identifier"].info.id, which a
// facilitator may make verify and settle idempotent by.
const (
	ExtensionPaymentIdentifier = "payment-identifier"
	// PaymentIDBytesMin and PaymentIDBytesMax bound an id's length; its
	// characters are ASCII letters, digits, '-' and '_'.
	PaymentIDBytesMin = 16
	PaymentIDBytesMax = 128
)

// ErrPaymentIdentifier is wrapped by PaymentIdentifier's errors: the
// extension is there and malformed, or its id breaks the format.
var ErrPaymentIdentifier = errors.New("x402: invalid payment-identifier extension")

// PaymentIdentifier returns the id of the request's payment-identifier
// extension, or "" when there is none: a v1 request (v1 has no
// extensions), no such extension, or one without an id (as the reference,
// an empty id is none). The extension must be an object whose info, when
// present, is an object whose id, when present, is a string of
// PaymentIDBytesMin..PaymentIDBytesMax letters, digits, '-' or '_'.
func (r *Request) PaymentIdentifier() (string, error) {
	if r.V2 == nil || len(r.V2.PaymentPayload.Extensions) == 0 {
		return "", nil
	}
	var extensions map[string]json.RawMessage
	if err := json.Unmarshal(r.V2.PaymentPayload.Extensions, &extensions); err != nil {
		return "", fmt.Errorf("%w: paymentPayload.extensions is not an object", ErrPaymentIdentifier)
	}
	raw, ok := extensions[ExtensionPaymentIdentifier]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var extension struct {
		Info *struct {
			ID *string `json:"id"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &extension); err != nil {
		return "", fmt.Errorf("%w: %s: info must be an object with a string id", ErrPaymentIdentifier, ExtensionPaymentIdentifier)
	}
	if extension.Info == nil || extension.Info.ID == nil || *extension.Info.ID == "" {
		return "", nil
	}
	id := *extension.Info.ID
	if !ValidPaymentID(id) {
		return "", fmt.Errorf("%w: id must be %d-%d characters, each a letter, a digit, '-' or '_'",
			ErrPaymentIdentifier, PaymentIDBytesMin, PaymentIDBytesMax)
	}
	return id, nil
}

// ValidPaymentID reports whether id has the payment-identifier format.
func ValidPaymentID(id string) bool {
	if len(id) < PaymentIDBytesMin || len(id) > PaymentIDBytesMax {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
