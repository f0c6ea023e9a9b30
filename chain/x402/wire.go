package x402

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Limits on client input, so nothing a request says grows without bound.
const (
	// RequestBytesMax bounds a /verify or /settle body: the reference's
	// largest payloads (ERC-6492 signatures, extensions) fit many times.
	RequestBytesMax = 64 << 10
	// decimalDigitsMax is the length of 2^256-1 in decimal.
	decimalDigitsMax = 78
	// stringBytesMax bounds every short string field (scheme, network,
	// addresses, URLs) so a record of one stays small.
	stringBytesMax = 2048
)

// Versions of the protocol this package speaks.
const (
	Version1 = 1
	Version2 = 2
)

// SchemeExact is the only payment scheme supported.
const SchemeExact = "exact"

// ErrMalformed is wrapped by every ParseRequest error: the request is not
// an x402 verify/settle request (the HTTP layer answers 400).
var ErrMalformed = errors.New("x402: malformed request")

// ResourceInfo describes the paid resource (v2).
type ResourceInfo struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mimeType,omitempty"`
}

// PaymentRequirements is what a resource server accepts (v2). Extra holds
// the EIP-712 domain's name and version for the exact EVM scheme.
type PaymentRequirements struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	Amount            string          `json:"amount"`
	Asset             string          `json:"asset"`
	PayTo             string          `json:"payTo"`
	MaxTimeoutSeconds int64           `json:"maxTimeoutSeconds"`
	Extra             json.RawMessage `json:"extra,omitempty"`
}

// PaymentPayload is what the client signed (v2): Accepted is the
// requirements it chose, Payload the scheme's own (for exact EVM, an
// ExactEVMPayload).
type PaymentPayload struct {
	X402Version int                 `json:"x402Version"`
	Resource    *ResourceInfo       `json:"resource,omitempty"`
	Accepted    PaymentRequirements `json:"accepted"`
	Payload     json.RawMessage     `json:"payload"`
	Extensions  json.RawMessage     `json:"extensions,omitempty"`
}

// VerifyRequest is the body of /verify and /settle (v2).
type VerifyRequest struct {
	X402Version         int                 `json:"x402Version"`
	PaymentPayload      PaymentPayload      `json:"paymentPayload"`
	PaymentRequirements PaymentRequirements `json:"paymentRequirements"`
}

// PaymentRequirementsV1 is what a resource server accepts (v1): the amount
// is maxAmountRequired (the exact scheme requires it exactly), the
// network a v1 name.
type PaymentRequirementsV1 struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	MaxAmountRequired string          `json:"maxAmountRequired"`
	Resource          string          `json:"resource"`
	Description       string          `json:"description"`
	MimeType          string          `json:"mimeType"`
	OutputSchema      json.RawMessage `json:"outputSchema,omitempty"`
	PayTo             string          `json:"payTo"`
	MaxTimeoutSeconds int64           `json:"maxTimeoutSeconds"`
	Asset             string          `json:"asset"`
	Extra             json.RawMessage `json:"extra,omitempty"`
}

// PaymentPayloadV1 is what the client signed (v1).
type PaymentPayloadV1 struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme"`
	Network     string          `json:"network"`
	Payload     json.RawMessage `json:"payload"`
}

// VerifyRequestV1 is the body of /verify and /settle (v1).
type VerifyRequestV1 struct {
	X402Version         int                   `json:"x402Version"`
	PaymentPayload      PaymentPayloadV1      `json:"paymentPayload"`
	PaymentRequirements PaymentRequirementsV1 `json:"paymentRequirements"`
}

// VerifyResponse answers /verify. A failed verification is a response
// with IsValid false, not an error.
type VerifyResponse struct {
	IsValid        bool   `json:"isValid"`
	InvalidReason  string `json:"invalidReason,omitempty"`
	InvalidMessage string `json:"invalidMessage,omitempty"`
	Payer          string `json:"payer,omitempty"`
}

// SettleResponse answers /settle; Transaction is "" when nothing was sent.
// NB: transaction and network are always present, as the reference's.
type SettleResponse struct {
	Success      bool   `json:"success"`
	ErrorReason  string `json:"errorReason,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	Payer        string `json:"payer,omitempty"`
	Transaction  string `json:"transaction"`
	Network      string `json:"network"`
	Amount       string `json:"amount,omitempty"`
}

// SupportedKind is one (version, scheme, network) the facilitator serves.
type SupportedKind struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme"`
	Network     string          `json:"network"`
	Extra       json.RawMessage `json:"extra,omitempty"`
}

// SupportedResponse answers /supported. Signers maps a CAIP-2 family
// pattern ("eip155:*") to the addresses that send settlements.
type SupportedResponse struct {
	Kinds      []SupportedKind     `json:"kinds"`
	Extensions []string            `json:"extensions"`
	Signers    map[string][]string `json:"signers"`
}

// Request is a parsed /verify or /settle body: exactly one of V2 and V1 is
// set, as the payment payload's x402Version says.
type Request struct {
	V2 *VerifyRequest
	V1 *VerifyRequestV1
}

// Version is the request's protocol version.
func (r *Request) Version() int {
	if r.V1 != nil {
		return Version1
	}
	return Version2
}

// ParseRequest decodes a /verify or /settle body of either version,
// strictly: one JSON object of at most RequestBytesMax, required fields
// present and of their types, the versions 1 or 2 and consistent, amounts
// decimal strings of an unsigned 256-bit integer. Unknown fields are
// ignored, as the reference's own parsers do (clients add some). The
// scheme payload is checked by Verify, which answers its faults with a
// reason rather than an error. Every error wraps ErrMalformed.
func ParseRequest(body []byte) (*Request, error) {
	if len(body) > RequestBytesMax {
		return nil, fmt.Errorf("%w: body of %d bytes, at most %d", ErrMalformed, len(body), RequestBytesMax)
	}
	var wire wireRequest
	if err := decodeStrict(body, &wire); err != nil {
		return nil, err
	}
	payload := wire.PaymentPayload
	if payload == nil {
		return nil, fmt.Errorf("%w: paymentPayload missing", ErrMalformed)
	}
	if payload.X402Version == nil {
		return nil, fmt.Errorf("%w: paymentPayload.x402Version missing", ErrMalformed)
	}
	version := *payload.X402Version
	if wire.X402Version != nil && *wire.X402Version != version {
		return nil, fmt.Errorf("%w: x402Version %d but paymentPayload.x402Version %d", ErrMalformed, *wire.X402Version, version)
	}
	switch version {
	case Version2:
		request := VerifyRequest{X402Version: Version2, PaymentPayload: PaymentPayload{
			X402Version: Version2, Payload: payload.Payload, Extensions: payload.Extensions}}
		if err := decodeField("paymentPayload.resource", payload.Resource, &request.PaymentPayload.Resource); err != nil {
			return nil, err
		}
		if err := decodeField("paymentPayload.accepted", payload.Accepted, &request.PaymentPayload.Accepted); err != nil {
			return nil, err
		}
		if err := decodeField("paymentRequirements", wire.PaymentRequirements, &request.PaymentRequirements); err != nil {
			return nil, err
		}
		if err := request.check(); err != nil {
			return nil, err
		}
		return &Request{V2: &request}, nil
	case Version1:
		request := VerifyRequestV1{X402Version: Version1, PaymentPayload: PaymentPayloadV1{
			X402Version: Version1, Payload: payload.Payload}}
		if err := decodeField("paymentPayload.scheme", payload.Scheme, &request.PaymentPayload.Scheme); err != nil {
			return nil, err
		}
		if err := decodeField("paymentPayload.network", payload.Network, &request.PaymentPayload.Network); err != nil {
			return nil, err
		}
		if err := decodeField("paymentRequirements", wire.PaymentRequirements, &request.PaymentRequirements); err != nil {
			return nil, err
		}
		if err := request.check(); err != nil {
			return nil, err
		}
		return &Request{V1: &request}, nil
	default:
		return nil, fmt.Errorf("%w: %s: x402Version %d", ErrMalformed, ReasonInvalidX402Version, version)
	}
}

// wireRequest is a request of either version, decoded in one pass: the
// fields whose shapes differ between the versions (or that one version
// lacks, and a client may send anyway) stay raw until the version is
// known.
type wireRequest struct {
	X402Version    *int `json:"x402Version"`
	PaymentPayload *struct {
		X402Version *int            `json:"x402Version"`
		Resource    json.RawMessage `json:"resource"` // v2
		Accepted    json.RawMessage `json:"accepted"` // v2
		Scheme      json.RawMessage `json:"scheme"`   // v1
		Network     json.RawMessage `json:"network"`  // v1
		Payload     json.RawMessage `json:"payload"`
		Extensions  json.RawMessage `json:"extensions"`
	} `json:"paymentPayload"`
	PaymentRequirements json.RawMessage `json:"paymentRequirements"`
}

// decodeField decodes a raw field of the version's shape; absent or null
// leaves v as it is.
func decodeField(name string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return nil
}

// decodeStrict decodes exactly one JSON object into v.
func decodeStrict(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

func (r *VerifyRequest) check() error {
	if len(r.PaymentPayload.Payload) == 0 || string(r.PaymentPayload.Payload) == "null" {
		return fmt.Errorf("%w: paymentPayload.payload missing", ErrMalformed)
	}
	if r.PaymentPayload.Resource != nil {
		if err := checkString("paymentPayload.resource.url", r.PaymentPayload.Resource.URL, false); err != nil {
			return err
		}
	}
	if err := r.PaymentPayload.Accepted.check("paymentPayload.accepted"); err != nil {
		return err
	}
	return r.PaymentRequirements.check("paymentRequirements")
}

func (p *PaymentRequirements) check(where string) error {
	for _, field := range []struct{ name, value string }{
		{"scheme", p.Scheme}, {"network", p.Network}, {"asset", p.Asset}, {"payTo", p.PayTo},
	} {
		if err := checkString(where+"."+field.name, field.value, true); err != nil {
			return err
		}
	}
	if _, err := ParseUint256(p.Amount); err != nil {
		return fmt.Errorf("%w: %s.amount: %v", ErrMalformed, where, err)
	}
	if p.MaxTimeoutSeconds < 0 {
		return fmt.Errorf("%w: %s.maxTimeoutSeconds %d is negative", ErrMalformed, where, p.MaxTimeoutSeconds)
	}
	return checkObject(where+".extra", p.Extra)
}

func (r *VerifyRequestV1) check() error {
	if len(r.PaymentPayload.Payload) == 0 || string(r.PaymentPayload.Payload) == "null" {
		return fmt.Errorf("%w: paymentPayload.payload missing", ErrMalformed)
	}
	p := &r.PaymentRequirements
	for _, field := range []struct {
		name, value string
		required    bool
	}{
		{"paymentPayload.scheme", r.PaymentPayload.Scheme, true},
		{"paymentPayload.network", r.PaymentPayload.Network, true},
		{"paymentRequirements.scheme", p.Scheme, true},
		{"paymentRequirements.network", p.Network, true},
		{"paymentRequirements.asset", p.Asset, true},
		{"paymentRequirements.payTo", p.PayTo, true},
		{"paymentRequirements.resource", p.Resource, false},
		{"paymentRequirements.description", p.Description, false},
		{"paymentRequirements.mimeType", p.MimeType, false},
	} {
		if err := checkString(field.name, field.value, field.required); err != nil {
			return err
		}
	}
	if _, err := ParseUint256(p.MaxAmountRequired); err != nil {
		return fmt.Errorf("%w: paymentRequirements.maxAmountRequired: %v", ErrMalformed, err)
	}
	if p.MaxTimeoutSeconds < 0 {
		return fmt.Errorf("%w: paymentRequirements.maxTimeoutSeconds %d is negative", ErrMalformed, p.MaxTimeoutSeconds)
	}
	return checkObject("paymentRequirements.extra", p.Extra)
}

func checkString(name, value string, required bool) error {
	if required && value == "" {
		return fmt.Errorf("%w: %s missing", ErrMalformed, name)
	}
	if len(value) > stringBytesMax {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, stringBytesMax)
	}
	return nil
}

// checkObject requires an optional raw field to be a JSON object or null.
func checkObject(name string, raw json.RawMessage) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" || trimmed[0] == '{' {
		return nil
	}
	return fmt.Errorf("%w: %s is not an object", ErrMalformed, name)
}

// uint256Max is 2^256-1, the largest amount a token holds.
var uint256Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// ParseUint256 parses a decimal string of base units (digits only, as the
// reference's BigInt/SetString accept without sign or exponent) into an
// integer in [0, 2^256).
func ParseUint256(s string) (*big.Int, error) {
	if s == "" {
		return nil, errors.New("empty amount")
	}
	if len(s) > decimalDigitsMax {
		return nil, fmt.Errorf("amount of %d digits, at most %d", len(s), decimalDigitsMax)
	}
	if strings.TrimLeft(s, "0123456789") != "" {
		return nil, fmt.Errorf("amount %q is not a decimal integer", s)
	}
	value, ok := new(big.Int).SetString(s, 10)
	if !ok || value.Cmp(uint256Max) > 0 {
		return nil, fmt.Errorf("amount %q exceeds 2^256-1", s)
	}
	return value, nil
}
