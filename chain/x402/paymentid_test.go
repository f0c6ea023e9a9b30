package x402

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestPaymentIdentifierFollowsTheReferenceFormat: 16-128 letters, digits,
// '-' or '_'; no extension, no id or an empty id is none; v1 has none.
func TestPaymentIdentifierFollowsTheReferenceFormat(t *testing.T) {
	request := func(extensions string) *Request {
		return &Request{V2: &VerifyRequest{PaymentPayload: PaymentPayload{Extensions: json.RawMessage(extensions)}}}
	}
	withID := func(id string) string {
		return `{"payment-identifier":{"info":{"required":false,"id":"` + id + `"}}}`
	}
	for _, c := range []struct {
		name, extensions, want string
		invalid                bool
	}{
		{"16 characters", withID(strings.Repeat("a", 16)), strings.Repeat("a", 16), false},
		{"128 characters", withID(strings.Repeat("Z", 128)), strings.Repeat("Z", 128), false},
		{"the reference's example", withID("pay_7d5d747be160e280504c099d984bcfe0"), "pay_7d5d747be160e280504c099d984bcfe0", false},
		{"hyphens", withID("order-0000-0000-0001"), "order-0000-0000-0001", false},
		{"15 characters", withID(strings.Repeat("a", 15)), "", true},
		{"129 characters", withID(strings.Repeat("a", 129)), "", true},
		{"a space", withID("pay_0000 00000000000"), "", true},
		{"a slash", withID("pay_0000/00000000000"), "", true},
		{"id a number", `{"payment-identifier":{"info":{"id":1234567890123456}}}`, "", true},
		{"info a string", `{"payment-identifier":{"info":"x"}}`, "", true},
		{"extensions an array", `[]`, "", true},
		{"no extensions", ``, "", false},
		{"another extension", `{"bazaar":{}}`, "", false},
		{"no info", `{"payment-identifier":{}}`, "", false},
		{"no id", `{"payment-identifier":{"info":{"required":true}}}`, "", false},
		{"an empty id", withID(""), "", false},
	} {
		got, err := request(c.extensions).PaymentIdentifier()
		if got != c.want || (err != nil) != c.invalid || (err != nil && !errors.Is(err, ErrPaymentIdentifier)) {
			t.Errorf("%s: PaymentIdentifier() = %q, %v; want %q, invalid %v", c.name, got, err, c.want, c.invalid)
		}
	}
	if got, err := (&Request{V1: &VerifyRequestV1{}}).PaymentIdentifier(); got != "" || err != nil {
		t.Errorf("v1: PaymentIdentifier() = %q, %v; want none", got, err)
	}
}
