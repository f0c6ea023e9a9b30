package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/tollway/tollway/engine/access"
)

// Fuzz targets of the request decoders: whatever the body, a decoder must
// not panic, must answer with one of the errors API.md names, and what it
// accepts must satisfy the rules it claims to enforce. Run one with
//
//	go test -run=^$ -fuzz=FuzzChargeDecoder -fuzztime=20s ./httpapi

const fuzzPayer = "acct_payer"

// fuzzParseError checks an error of parseObject.
func fuzzParseError(t *testing.T, body []byte, err *apiError) {
	t.Helper()
	switch {
	case err.status != http.StatusBadRequest || err.kind != typeInvalidRequest:
		t.Fatalf("parseObject(%q) = %d %s, want a 400 %s", body, err.status, err.kind, typeInvalidRequest)
	case err.code == "body_too_large" && len(body) <= BodyBytesMax:
		t.Fatalf("parseObject of %d bytes = body_too_large", len(body))
	case err.code != "malformed_json" && err.code != "body_too_large":
		t.Fatalf("parseObject(%q) = %s, want malformed_json or body_too_large", body, err.code)
	case err.code == "malformed_json" && fuzzPlainObject(body):
		t.Fatalf("parseObject(%q) = malformed_json (%s), but it is a JSON object by RFC 8259 and I-JSON", body, err.message)
	}
}

// fuzzPlainObject reports whether body is a JSON object parseObject must
// accept: valid JSON to encoding/json, UTF-8 (encoding/json lets other
// bytes through), no \u escape of a surrogate (encoding/json lets a lone
// one through; the test passes over pairs too, which the unit tests cover)
// and well within fastjson's nesting limit.
func fuzzPlainObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	nesting := bytes.Count(body, []byte("{")) + bytes.Count(body, []byte("["))
	return len(body) <= BodyBytesMax && len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(body) &&
		utf8.Valid(body) && !surrogateEscape.Match(body) && nesting < fastjson.MaxDepth
}

// fuzzStandard decodes an accepted body with encoding/json into standard,
// which must agree that it is valid JSON; and it must be UTF-8.
func fuzzStandard(t *testing.T, body []byte, standard any) {
	t.Helper()
	if err := json.Unmarshal(body, standard); err != nil {
		t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
	}
	if !utf8.Valid(body) {
		t.Fatalf("accepted %q, which is not UTF-8", body)
	}
}

// fuzzValidationError checks an error of a decoder after parsing.
func fuzzValidationError(t *testing.T, body []byte, err *apiError) {
	t.Helper()
	if err.status != http.StatusBadRequest || err.kind != typeInvalidRequest || err.code != "validation_failed" {
		t.Fatalf("decoding %q = %d %s %s, want a 400 validation_failed", body, err.status, err.kind, err.code)
	}
	if len(err.fields) == 0 || len(err.fields) > FieldErrorsMax {
		t.Fatalf("decoding %q names %d fields, want 1 to %d", body, len(err.fields), FieldErrorsMax)
	}
	for name, why := range err.fields {
		if !utf8.ValidString(name) || why == "" {
			t.Fatalf("decoding %q: field error %q: %q, want a UTF-8 name and a reason", body, name, why)
		}
	}
	if _, jerr := json.Marshal(errorBody{Type: err.kind, Code: err.code, Message: err.message, Fields: err.fields}); jerr != nil {
		t.Fatalf("the error of %q does not encode: %v", body, jerr)
	}
}

// fuzzCheckCharge checks an accepted charge (or batch item): a positive
// amount of at most 2^64-1, a to of another account, and what a standard
// JSON decoder reads from the same object.
func fuzzCheckCharge(t *testing.T, body []byte, c chargeRequest, standard map[string]any, batchItem bool) {
	t.Helper()
	hi, _ := c.amount.Parts()
	if c.amount.IsZero() || hi != 0 {
		t.Fatalf("decoding %q accepted amount %s, want 1 to 2^64-1", body, c.amount)
	}
	if !strings.HasPrefix(c.to, prefixAccount) || c.to == fuzzPayer {
		t.Fatalf("decoding %q accepted to %q", body, c.to)
	}
	if !batchItem && c.idempotencyKey != "" {
		t.Fatalf("decoding %q read an idempotencyKey outside a batch", body)
	}
	if batchItem && c.idempotencyKey != "" && (len(c.idempotencyKey) > IdempotencyKeyBytesMax || !printableASCII(c.idempotencyKey)) {
		t.Fatalf("decoding %q accepted idempotencyKey %q", body, c.idempotencyKey)
	}
	// What the server decided must be what any JSON decoder reads. (Where
	// fastjson differs, on a lone UTF-16 surrogate escape, parseObject
	// refuses the body.)
	if standard["to"] != c.to || standard["amount"] != c.amount.String() {
		t.Fatalf("decoding %q gave to %q amount %s; encoding/json reads to %v amount %v", body, c.to, c.amount, standard["to"], standard["amount"])
	}
}

// surrogateEscape matches a \u escape of a UTF-16 surrogate.
var surrogateEscape = regexp.MustCompile(`\\[uU][dD][89a-fA-F][0-9a-fA-F]{2}`)

func chargeSeeds() []string {
	var metadata21 strings.Builder
	metadata21.WriteString(`{"to":"acct_payee","amount":"1","metadata":{`)
	for i := range 21 {
		if i > 0 {
			metadata21.WriteByte(',')
		}
		fmt.Fprintf(&metadata21, `"k%d":"v"`, i)
	}
	metadata21.WriteString(`}}`)
	return []string{
		`{"to":"acct_payee","amount":"1500"}`,
		`{"to":"acct_payee","amount":"18446744073709551615","metadata":{"order":"42","note":""}}`,
		`{"to":"acct_payee","amount":"18446744073709551616"}`,
		`{"to":"acct_payee","amount":1500}`,
		`{"to":"acct_payee","amount":"-1"}`,
		`{"to":"acct_payee","amount":"1.5"}`,
		`{"to":"acct_payee","amount":"01"}`,
		`{"to":"acct_payee","amount":"0"}`,
		`{"to":"acct_payee","amount":"1e3"}`,
		`{"to":42,"amount":"1"}`,
		`{"to":null,"amount":null}`,
		`{"to":"acct_payer","amount":"1"}`,
		`{"to":"usr_x","amount":"1"}`,
		`{"to":"acct_payee","amount":"1","extra":true}`,
		`{"to":"acct_payee","amount":"1","idempotencyKey":"k"}`,
		`{"to":"acct_payee","to":"acct_other","amount":"1"}`,
		`{"to":"acct_payee","amount":"1","amount":"2"}`,
		`{"to":"acct_payee","amount":"1","metadata":{"a":"1","a":"2"}}`,
		`{"to":"acct_payee","amount":"1","metadata":{"a":1}}`,
		`{"to":"acct_payee","amount":"1","metadata":{"":"x"}}`,
		`{"to":"acct_payee","amount":"1","metadata":[]}`,
		`{"to":"acct_payee","amount":"1","metadata":{"a":{"b":{"c":{}}}}}`,
		metadata21.String(),
		`{"to":"acct_` + "\xff\xfe" + `","amount":"1"}`,
		`{"to":"acct_\ud800","amount":"1"}`,
		`{"to":"acct_\ud800\u0041","amount":"1"}`,
		`{"to":"acct_\ud83d\ude00","amount":"1"}`,
		"{\"\xff\":1}",
		"{\"to\":\"acct_a\x00\x1f\",\"amount\":\"1\",\"metadata\":{\"k\":\"\n\"}}",
		// Regressions: raw control characters, lone surrogate escapes and
		// bytes that are not UTF-8, anywhere in the text (all malformed_json);
		// and their legal neighbours.
		"{\"to\":\"acct_payee\t\",\"amount\":\"1\"}",
		"{\"to\":\"acct_\x01\\b0000\",\"amount\":\"1\"}", // fastjson checks after the last escape only.
		"{\"to\":\"acct_payee\",\"amount\":\"1\",\"metadata\":{\"k\x7f\x01\":\"v\"}}",
		"\t{\r\n\"to\" :\t\"acct_payee\",\n\"amount\":\"1\"\r}\n",
		`{"to":"acct_payee\u0009\u0000","amount":"1"}`,
		`{"to":"acct_\udc00","amount":"1"}`,
		`{"to":"acct_\ud800\ud800","amount":"1"}`,
		`{"to":"acct_\uD83D\uDE00","amount":"1"}`,
		`{"to":"acct_\\ud800","amount":"1"}`,
		`{"to":"acct_payee","amount":"1","metadata":{"\ud800":"v"}}`,
		`{"to":"acct_payee","amount":"1","metadata":{"k":"\ud800"}}`,
		`{"to":"acct_payee","amount":"1","x\"\\":"\ud800"}`,
		"{\"to\":\"acct_\xed\xa0\x80\",\"amount\":\"1\"}",
		"{\"to\":\"acct_\xc0\xaf\",\"amount\":\"1\"}",
		"{\"to\":\"acct_payee\",\"amount\":\"1\",\"metadata\":{\"\xff\":\"v\"}}",
		// Deep nesting, past fastjson's limit of 300 levels. (Seeds stay
		// small: the fuzzer may take long to minimize a large input.)
		`{"a":` + strings.Repeat(`[`, 400) + strings.Repeat(`]`, 400) + `}`,
		`{"to":"acct_payee","amount":"1","metadata":{"a":` + strings.Repeat(`{"a":`, 301) + `1` + strings.Repeat(`}`, 302) + `}`,
		`[]`, `""`, `null`, ``, `{`, `{}`, ` {"to":"acct_payee","amount":"1"} `,
		`{"to":"acct_payee","amount":"1"}{}`,
	}
}

func FuzzChargeDecoder(f *testing.F) {
	for _, seed := range chargeSeeds() {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, apiErr := parseObject(body)
		if apiErr != nil {
			fuzzParseError(t, body, apiErr)
			return
		}
		c := readCharge(r, fuzzPayer, false)
		apiErr = r.finish()
		r.release()
		if apiErr != nil {
			fuzzValidationError(t, body, apiErr)
			return
		}
		var standard map[string]any
		fuzzStandard(t, body, &standard)
		fuzzCheckCharge(t, body, c, standard, false)
	})
}

func FuzzBatchDecoder(f *testing.F) {
	for _, seed := range chargeSeeds() {
		f.Add([]byte(`{"charges":[` + seed + `]}`))
		f.Add([]byte(seed))
	}
	for _, seed := range []string{
		`{"charges":[]}`,
		`{"charges":{}}`,
		`{"charges":null}`,
		`{"charges":[1,"x",null,[]]}`,
		`{"charges":[{"to":"acct_a","amount":"1","idempotencyKey":"k1"},{"to":"acct_b","amount":"2"}]}`,
		`{"charges":[{"to":"acct_a","amount":"1","idempotencyKey":""}]}`,
		`{"charges":[{"to":"acct_a","amount":"1","idempotencyKey":"` + "\x01" + `"}]}`,
		`{"charges":[{"to":"acct_a","amount":"1","idempotencyKey":"` + strings.Repeat("k", 256) + `"}]}`,
		`{"charges":[{"to":"acct_a","amount":"1"}],"charges":[]}`,
		`{"charges":[` + strings.Repeat(`{"x":1,"y":2},`, 40) + `{}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		requests, items, apiErr := decodeBatch(body, fuzzPayer)
		if apiErr != nil {
			if apiErr.code == "validation_failed" {
				fuzzValidationError(t, body, apiErr)
			} else {
				fuzzParseError(t, body, apiErr)
			}
			return
		}
		if items == 0 || items > BatchChargesMax || len(requests) != items {
			t.Fatalf("accepted %q with %d items and %d charges", body, items, len(requests))
		}
		var standard struct {
			Charges []map[string]any `json:"charges"`
		}
		fuzzStandard(t, body, &standard)
		if len(standard.Charges) != items {
			t.Fatalf("accepted %q, which encoding/json reads as %d charges, not %d", body, len(standard.Charges), items)
		}
		for i, c := range requests {
			fuzzCheckCharge(t, body, c, standard.Charges[i], true)
			if key, _ := standard.Charges[i]["idempotencyKey"].(string); key != c.idempotencyKey {
				t.Fatalf("accepted %q with idempotencyKey %q; encoding/json reads %q", body, c.idempotencyKey, key)
			}
		}
	})
}

func FuzzKeyRequestDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"label":"test","kind":"secret","scopes":["*"]}`,
		`{"kind":"publishable","scopes":["balance:read","usage:read"]}`,
		`{"kind":"publishable","scopes":["charges:write"]}`,
		`{"kind":"publishable","scopes":["*"]}`,
		`{"kind":"secret","scopes":[]}`,
		`{"kind":"secret","scopes":["charges:read"]}`,
		`{"kind":"secret","scopes":["*","*","*","*","*","*","*","*","*","*","*","*","*","*","*","*","*"]}`,
		`{"kind":"secret","scopes":"*"}`,
		`{"kind":"other","scopes":["*"]}`,
		`{"kind":"secret","scopes":["*"],"expiresAt":"2030-01-01T00:00:00Z"}`,
		`{"kind":"secret","scopes":["*"],"expiresAt":"2000-01-01T00:00:00Z"}`,
		`{"kind":"secret","scopes":["*"],"expiresAt":"tomorrow"}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":100,"perSeconds":1}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":0,"perSeconds":1}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":1e3,"perSeconds":1.0}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":4294967297,"perSeconds":1}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":-1,"perSeconds":99999999999999999999}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":1,"perSeconds":1,"burst":2}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":{"requests":1,"requests":2,"perSeconds":1}}`,
		`{"kind":"secret","scopes":["*"],"rateLimit":[]}`,
		`{"kind":"secret","scopes":["*"],"label":"` + strings.Repeat("é", 60) + `"}`,
		`{"kind":"secret","scopes":["*"],"label":"` + "\xff" + `"}`,
		`{"kind":"secret","kind":"publishable","scopes":["*"]}`,
		`{"kind":"secret","scopes":["*"],"budget":{"maxTotal":"1"}}`,
		`{}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &Server{config: Config{RateLimit: access.RateLimit{Requests: 10, PerSeconds: 1}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		k, apiErr := s.readKeyRequest(body, now)
		if apiErr != nil {
			if apiErr.code == "validation_failed" {
				fuzzValidationError(t, body, apiErr)
			} else {
				fuzzParseError(t, body, apiErr)
			}
			return
		}
		switch {
		case k.Kind != access.KeySecret && k.Kind != access.KeyPublishable:
			t.Fatalf("accepted %q with kind %q", body, k.Kind)
		case k.Scopes == 0:
			t.Fatalf("accepted %q with no scopes", body)
		case k.Kind == access.KeyPublishable && !access.ScopesRead.Has(k.Scopes):
			t.Fatalf("accepted %q: a publishable key with scopes %v", body, k.Scopes.Names())
		case k.RateLimit.Validate() != nil:
			t.Fatalf("accepted %q with rate limit %+v: %v", body, k.RateLimit, k.RateLimit.Validate())
		case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now):
			t.Fatalf("accepted %q expiring at %v, not after %v", body, k.ExpiresAt, now)
		case len(k.Label) > keyLabelBytesMax || !utf8.ValidString(k.Label):
			t.Fatalf("accepted %q with label %q", body, k.Label)
		}
		fuzzStandard(t, body, new(map[string]any))
	})
}

func FuzzCredentials(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@example.com","password":"correct horse"}`,
		`{"email":" A@Example.COM ","password":"12345678"}`,
		`{"email":"a@example.com","password":"1234567"}`,
		`{"email":"a@example.com","password":"` + strings.Repeat("p", 72) + `"}`,
		`{"email":"a@example.com","password":"` + strings.Repeat("p", 73) + `"}`,
		`{"email":"a@example.com","password":"` + strings.Repeat("é", 36) + `"}`,
		`{"email":"Name <a@example.com>","password":"12345678"}`,
		`{"email":"not an email","password":"12345678"}`,
		`{"email":"a@b","password":"12345678"}`,
		`{"email":"` + strings.Repeat("a", 250) + `@example.com","password":"12345678"}`,
		`{"email":"a@example.com","password":12345678}`,
		`{"email":"a@example.com","password":"12345678","name":"x"}`,
		`{"email":"a@example.com","email":"b@example.com","password":"12345678"}`,
		`{"email":"a@example.com","password":"1234567` + "\xff" + `"}`,
		`{"email":"a@example.com","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`,
		`{"email":"İ@example.com","password":"12345678"}`,
		// Regressions: the limit applies after normalizing, which lowercases
		// Ⱥ (2 bytes) to ⱥ (3 bytes) and the Kelvin sign (3 bytes) to k.
		`{"email":"` + strings.Repeat("Ⱥ", 120) + `@example.com","password":"12345678"}`,
		`{"email":"` + strings.Repeat("\u212a", 90) + `@example.com","password":"12345678"}`,
		`{"email":"` + strings.Repeat(" ", 300) + `a@example.com","password":"12345678"}`,
		`{}`, `[]`, ``, `{"email":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		email, password, apiErr := credentials(body, true)
		if apiErr != nil {
			if apiErr.code == "validation_failed" {
				fuzzValidationError(t, body, apiErr)
			} else {
				fuzzParseError(t, body, apiErr)
			}
			return
		}
		if len(password) < PasswordBytesMin || len(password) > PasswordBytesMax || !utf8.ValidString(password) {
			t.Fatalf("accepted %q with a password of %d bytes", body, len(password))
		}
		if !strings.Contains(email, "@") || !utf8.ValidString(email) || email != strings.TrimSpace(email) || strings.ContainsAny(email, "<>\r\n") {
			t.Fatalf("accepted %q with email %q", body, email)
		}
		if len(email) > emailBytesMax {
			t.Fatalf("accepted %q with an email of %d bytes", body, len(email))
		}
		fuzzStandard(t, body, new(map[string]any))
	})
}
