package x402

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// The golden files are the examples of the x402 specifications, §7
// (specs/x402-specification-v2.md and -v1.md at coinbase/x402 dd927a2),
// copied verbatim.

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	return data
}

// requireSameJSON compares two documents as JSON values.
func requireSameJSON(t *testing.T, name string, got, want []byte) {
	t.Helper()
	var gotValue, wantValue any
	if err := json.Unmarshal(got, &gotValue); err != nil {
		t.Fatalf("%s: encoded %s: %v", name, got, err)
	}
	if err := json.Unmarshal(want, &wantValue); err != nil {
		t.Fatalf("%s: golden: %v", name, err)
	}
	if !reflect.DeepEqual(gotValue, wantValue) {
		t.Fatalf("%s: encoded\n%s\nwant\n%s", name, got, want)
	}
}

func TestGoldenRequestsRoundTrip(t *testing.T) {
	for _, test := range []struct {
		file    string
		version int
	}{
		{"v2_verify_request.json", Version2},
		{"v1_verify_request.json", Version1},
	} {
		golden := readGolden(t, test.file)
		request, err := ParseRequest(golden)
		if err != nil {
			t.Fatalf("ParseRequest(%s): %v", test.file, err)
		}
		if request.Version() != test.version {
			t.Fatalf("ParseRequest(%s).Version() = %d, want %d", test.file, request.Version(), test.version)
		}
		var encoded []byte
		if request.V2 != nil {
			encoded, err = json.Marshal(request.V2)
		} else {
			encoded, err = json.Marshal(request.V1)
		}
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		requireSameJSON(t, test.file, encoded, golden)
	}
	request, _ := ParseRequest(readGolden(t, "v2_verify_request.json"))
	payment := request.Payment()
	if payment.Amount.String() != "10000" || payment.Network != "eip155:84532" || payment.PayTo != "0x209693Bc6afc0C5328bA36FaF03C514EF312287C" {
		t.Fatalf("Payment() = %+v, want the example's amount, network and payTo", payment)
	}
	request, _ = ParseRequest(readGolden(t, "v1_verify_request.json"))
	if payment := request.Payment(); payment.Amount.String() != "10000" || payment.Network != "base-sepolia" || payment.AcceptedScheme != "exact" {
		t.Fatalf("Payment() of v1 = %+v, want maxAmountRequired 10000 on base-sepolia", payment)
	}
}

// TestGoldenResponsesRoundTrip: each example decodes into our type with
// no field left over and encodes back to itself.
func TestGoldenResponsesRoundTrip(t *testing.T) {
	for _, test := range []struct {
		file  string
		value any
	}{
		{"v2_verify_valid.json", &VerifyResponse{}},
		{"v2_verify_invalid.json", &VerifyResponse{}},
		{"v2_settle_success.json", &SettleResponse{}},
		{"v2_settle_error.json", &SettleResponse{}},
		{"v2_supported.json", &SupportedResponse{}},
		{"v1_verify_valid.json", &VerifyResponse{}},
		{"v1_verify_invalid.json", &VerifyResponse{}},
		{"v1_settle_success.json", &SettleResponse{}},
		{"v1_settle_error.json", &SettleResponse{}},
	} {
		golden := readGolden(t, test.file)
		decoder := json.NewDecoder(bytes.NewReader(golden))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(test.value); err != nil {
			t.Fatalf("Decode(%s): %v", test.file, err)
		}
		encoded, err := json.Marshal(test.value)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		requireSameJSON(t, test.file, encoded, golden)
	}
}

// TestSettleResponseAlwaysHasTransactionAndNetwork: the reference's
// clients require both, even on failure.
func TestSettleResponseAlwaysHasTransactionAndNetwork(t *testing.T) {
	encoded, _ := json.Marshal(SettleResponse{ErrorReason: ReasonInsufficientBalance, Network: "eip155:1337"})
	if want := `{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:1337"}`; string(encoded) != want {
		t.Fatalf("Marshal(SettleResponse) = %s, want %s", encoded, want)
	}
	encoded, _ = json.Marshal(VerifyResponse{IsValid: true})
	if want := `{"isValid":true}`; string(encoded) != want {
		t.Fatalf("Marshal(VerifyResponse) = %s, want %s", encoded, want)
	}
}

func TestSupported(t *testing.T) {
	networks := []Network{{ID: "eip155:1337", V1Name: "tollway-local"}}
	encoded, _ := json.Marshal(Supported(networks, []common.Address{common.HexToAddress("0x00000000000000000000000000000000000000aa")}))
	want := `{"kinds":[{"x402Version":2,"scheme":"exact","network":"eip155:1337"},{"x402Version":1,"scheme":"exact","network":"tollway-local"}],` +
		`"extensions":[],"signers":{"eip155:*":["0x00000000000000000000000000000000000000AA"]}}`
	if string(encoded) != want {
		t.Fatalf("Supported = %s, want %s", encoded, want)
	}
	encoded, _ = json.Marshal(Supported(nil, nil))
	if want := `{"kinds":[],"extensions":[],"signers":{}}`; string(encoded) != want {
		t.Fatalf("Supported(nothing) = %s, want %s", encoded, want)
	}
	// The v1 spec's example has only kinds; ours decodes it.
	var v1 SupportedResponse
	if err := json.Unmarshal(readGolden(t, "v1_supported.json"), &v1); err != nil || len(v1.Kinds) != 5 || v1.Kinds[0].Network != "base-sepolia" {
		t.Fatalf("Unmarshal(v1 supported) = %+v, %v; want its 5 kinds", v1, err)
	}
}

// TestParseRequestRejectsMalformed: every fault is an ErrMalformed, none
// a panic.
func TestParseRequestRejectsMalformed(t *testing.T) {
	v2 := string(readGolden(t, "v2_verify_request.json"))
	v1 := string(readGolden(t, "v1_verify_request.json"))
	replace := func(document, old, replacement string) string {
		if !strings.Contains(document, old) {
			t.Fatalf("%q not in the document", old)
		}
		return strings.Replace(document, old, replacement, 1)
	}
	for _, test := range []struct{ name, body string }{
		{"empty", ""},
		{"null", "null"},
		{"array", "[]"},
		{"string", `"x402"`},
		{"truncated", v2[:len(v2)/2]},
		{"two objects", v2 + v2},
		{"trailing garbage", v2 + "x"},
		{"no payment payload", `{"x402Version":2,"paymentRequirements":{}}`},
		{"payment payload null", `{"x402Version":2,"paymentPayload":null}`},
		{"payload version missing", replace(v2, `"x402Version": 2,
    "resource"`, `"resource"`)},
		{"version 3", strings.ReplaceAll(v2, `"x402Version": 2`, `"x402Version": 3`)},
		{"version 0", strings.ReplaceAll(v2, `"x402Version": 2`, `"x402Version": 0`)},
		{"version as string", strings.ReplaceAll(v2, `"x402Version": 2`, `"x402Version": "2"`)},
		{"version fractional", strings.ReplaceAll(v2, `"x402Version": 2`, `"x402Version": 2.5`)},
		{"versions differ", replace(v2, `"x402Version": 2`, `"x402Version": 1`)},
		{"amount negative", replace(v2, `"amount": "10000",
      "asset"`, `"amount": "-1",
      "asset"`)},
		{"amount as number", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": 10000`)},
		{"amount with exponent", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": "1e4"`)},
		{"amount hex", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": "0x2710"`)},
		{"amount fractional", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": "100.5"`)},
		{"amount empty", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": ""`)},
		{"amount 2^256", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": "115792089237316195423570985008687907853269984665640564039457584007913129639936"`)},
		{"amount 79 digits", strings.ReplaceAll(v2, `"amount": "10000"`, `"amount": "0`+strings.Repeat("1", 78)+`"`)},
		{"requirements scheme missing", replace(v2, `"paymentRequirements": {
    "scheme": "exact",`, `"paymentRequirements": {`)},
		{"payTo missing", strings.ReplaceAll(v2, `"payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",`, ``)},
		{"maxTimeoutSeconds negative", strings.ReplaceAll(v2, `"maxTimeoutSeconds": 60`, `"maxTimeoutSeconds": -1`)},
		{"extra not an object", strings.ReplaceAll(v2, `"extra": {
        "name": "USDC",
        "version": "2"
      }`, `"extra": "USDC"`)},
		{"payload missing", replace(v2, `"payload": {`, `"ignored": {`)},
		{"network too long", strings.ReplaceAll(v2, `"network": "eip155:84532"`, `"network": "`+strings.Repeat("x", stringBytesMax+1)+`"`)},
		{"too large", v2[:len(v2)-1] + `,"pad":"` + strings.Repeat(" ", RequestBytesMax) + `"}`},
		{"v1 maxAmountRequired missing", replace(v1, `"maxAmountRequired": "10000",`, ``)},
		{"v1 maxAmountRequired negative", replace(v1, `"maxAmountRequired": "10000"`, `"maxAmountRequired": "-10000"`)},
		{"v1 payload scheme missing", replace(v1, `"x402Version": 1,
    "scheme": "exact",`, `"x402Version": 1,`)},
	} {
		request, err := ParseRequest([]byte(test.body))
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseRequest(%s) = %+v, %v; want ErrMalformed", test.name, request, err)
		}
	}
}

func TestParseRequestToleratesUnknownFields(t *testing.T) {
	v2 := string(readGolden(t, "v2_verify_request.json"))
	body := strings.Replace(v2, `"x402Version": 2,`, `"x402Version": 2, "futureField": {"a": [1, 2]},`, 1)
	if _, err := ParseRequest([]byte(body)); err != nil {
		t.Fatalf("ParseRequest(with an unknown field): %v", err)
	}
	// The top-level version may be absent: the payload's decides.
	body = strings.Replace(v2, `"x402Version": 2,`, ``, 1)
	if request, err := ParseRequest([]byte(body)); err != nil || request.Version() != Version2 {
		t.Fatalf("ParseRequest(no top-level version) = %v, %v; want v2", request, err)
	}
}

func TestParseUint256(t *testing.T) {
	max := "115792089237316195423570985008687907853269984665640564039457584007913129639935"
	for _, test := range []struct {
		in   string
		want string // "" for an error
	}{
		{"0", "0"}, {"10000", "10000"}, {"007", "7"}, {max, max},
		{"", ""}, {"-1", ""}, {"+1", ""}, {"1.0", ""}, {"1e6", ""}, {"0x10", ""}, {" 1", ""}, {"1_000", ""},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639936", ""},
	} {
		got, err := ParseUint256(test.in)
		if test.want == "" {
			if err == nil {
				t.Fatalf("ParseUint256(%q) = %s, want an error", test.in, got)
			}
			continue
		}
		if err != nil || got.String() != test.want {
			t.Fatalf("ParseUint256(%q) = %v, %v; want %s", test.in, got, err, test.want)
		}
	}
}

// FuzzParseRequest: no input panics, and what parses re-encodes to
// something that parses again.
func FuzzParseRequest(f *testing.F) {
	for _, name := range []string{"v2_verify_request.json", "v1_verify_request.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"paymentPayload":{"x402Version":2}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		request, err := ParseRequest(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseRequest error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var encoded []byte
		if request.V2 != nil {
			encoded, err = json.Marshal(request.V2)
		} else {
			encoded, err = json.Marshal(request.V1)
		}
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := ParseRequest(encoded); err != nil {
			t.Fatalf("ParseRequest(re-encoded %s): %v", encoded, err)
		}
		_ = request.Payment()
	})
}
