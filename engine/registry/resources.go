package registry

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a resource. With them a resource's record stays near
// AcceptsMax × (ExtraBytesMax + 400) bytes, far inside a table write.
const (
	URLBytesMax         = 2048
	DescriptionBytesMax = 1024
	MimeTypeBytesMax    = 128
	// AcceptsMax bounds the payment requirements of one resource.
	AcceptsMax = 16
	// ExtraBytesMax bounds a requirement's extra object, compact JSON.
	ExtraBytesMax = 2048
	// MaxTimeoutSecondsMax bounds how long a requirement gives to settle.
	MaxTimeoutSecondsMax = 3600
	// amountDigitsMax is the digits of 2^256-1.
	amountDigitsMax = 78
)

// SchemeExact is the x402 scheme a requirement may name: a payment of
// exactly the amount (EIP-3009 on EVM networks).
const SchemeExact = "exact"

// Requirement is an x402 PaymentRequirements: what a resource accepts.
type Requirement struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	Amount            string          `json:"amount"` // base units, decimal, fits uint256
	Asset             string          `json:"asset"`  // EIP-55, a registered asset of Network
	PayTo             string          `json:"payTo"`  // EIP-55
	MaxTimeoutSeconds uint32          `json:"maxTimeoutSeconds"`
	Extra             json.RawMessage `json:"extra,omitempty"` // a JSON object, compact
}

// Resource is a protected URL and the payments it accepts, owned by a user.
type Resource struct {
	ID          string        `json:"id"`
	Owner       string        `json:"owner"`
	URL         string        `json:"url"`
	Description string        `json:"description"`
	MimeType    string        `json:"mimeType"`
	Accepts     []Requirement `json:"accepts"`
	CreatedAt   time.Time     `json:"createdAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
}

// FieldsError is ErrInvalid (errors.Is) with what is wrong, by field path
// (such as "accepts[1].asset").
type FieldsError struct{ Fields map[string]string }

func (e *FieldsError) Error() string {
	return fmt.Sprintf("registry: %d invalid fields", len(e.Fields))
}

func (e *FieldsError) Is(target error) bool { return target == ErrInvalid }

// checkURL returns what is wrong with a resource's URL, "" if nothing.
func checkURL(raw string) string {
	const want = "must be an absolute http or https URL"
	if raw == "" || len(raw) > URLBytesMax || strings.ContainsAny(raw, " \t\r\n") {
		return fmt.Sprintf("%s of at most %d bytes", want, URLBytesMax)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return want + ", without user information"
	}
	return ""
}

// checkAmount reports whether s is a positive integer in canonical decimal
// that fits 256 bits.
func checkAmount(s string) bool {
	if s == "" || len(s) > amountDigitsMax || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, ok := new(big.Int).SetString(s, 10)
	return ok && n.BitLen() <= 256
}

// checkResource returns what is wrong with r, by field, given the
// registered assets (asset lookup by network and EIP-55 address). It
// normalizes the addresses of r's requirements to EIP-55.
func checkResource(r *Resource, asset func(network, address string) (Asset, bool), network func(id string) bool) map[string]string {
	fields := map[string]string{}
	if why := checkURL(r.URL); why != "" {
		fields["url"] = why
	}
	if len(r.Description) > DescriptionBytesMax || !utf8.ValidString(r.Description) {
		fields["description"] = fmt.Sprintf("must be at most %d bytes", DescriptionBytesMax)
	}
	if len(r.MimeType) > MimeTypeBytesMax || strings.ContainsAny(r.MimeType, " \t\r\n") {
		fields["mimeType"] = fmt.Sprintf("must be a media type of at most %d bytes", MimeTypeBytesMax)
	}
	if len(r.Accepts) == 0 || len(r.Accepts) > AcceptsMax {
		fields["accepts"] = fmt.Sprintf("must be an array of 1 to %d payment requirements", AcceptsMax)
	}
	for i := range r.Accepts {
		checkRequirement(&r.Accepts[i], fmt.Sprintf("accepts[%d].", i), fields, asset, network)
	}
	return fields
}

func checkRequirement(q *Requirement, path string, fields map[string]string, asset func(network, address string) (Asset, bool), network func(id string) bool) {
	if q.Scheme != SchemeExact {
		fields[path+"scheme"] = `must be "exact"`
	}
	networkOK := network(q.Network)
	if !networkOK {
		fields[path+"network"] = "must be a registered network (GET /v1/networks)"
	}
	if !checkAmount(q.Amount) {
		fields[path+"amount"] = "must be a positive integer string of base units that fits 256 bits, e.g. \"10000\""
	}
	if address, ok := CheckAddress(q.Asset); !ok {
		fields[path+"asset"] = "must be a 0x-prefixed 20-byte hex address"
	} else if q.Asset = address; networkOK {
		if _, ok := asset(q.Network, address); !ok {
			fields[path+"asset"] = "must be a registered asset of the network (GET /v1/assets)"
		}
	}
	if address, ok := CheckAddress(q.PayTo); ok {
		q.PayTo = address
	} else {
		fields[path+"payTo"] = "must be a 0x-prefixed 20-byte hex address"
	}
	if q.MaxTimeoutSeconds < 1 || q.MaxTimeoutSeconds > MaxTimeoutSecondsMax {
		fields[path+"maxTimeoutSeconds"] = fmt.Sprintf("must be an integer from 1 to %d", MaxTimeoutSecondsMax)
	}
	if q.Extra != nil && (len(q.Extra) > ExtraBytesMax || !json.Valid(q.Extra) || q.Extra[0] != '{') {
		fields[path+"extra"] = fmt.Sprintf("must be a JSON object of at most %d bytes", ExtraBytesMax)
	}
}
