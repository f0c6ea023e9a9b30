package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Parts of the messages of malformed_json errors, which tell them apart.
// (fastjson's validator refuses raw control characters, with its message.)
const (
	wantControl   = "the body is not valid JSON"
	wantSurrogate = "surrogate"
	wantUTF8      = "not valid UTF-8"
)

func TestParseObjectRefusesWhatRFC8259AndIJSONForbid(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		want string // a part of the malformed_json message; "" if accepted
	}{
		// Raw control characters: in strings they must be escaped.
		{"raw NUL in a value", "{\"s\":\"a\x00b\"}", wantControl},
		{"raw U+001F in a value", "{\"s\":\"a\x1f\"}", wantControl},
		{"raw tab in a value", "{\"s\":\"a\tb\"}", wantControl},
		{"raw newline in a name", "{\"a\nb\":\"x\",\"s\":\"x\"}", wantControl},
		{"raw control in a value nobody reads", "{\"s\":\"x\",\"m\":{\"k\":[\"\x01\"]}}", wantControl},
		{"raw control after an escaped quote", "{\"s\":\"a\\\"\x01\"}", wantControl},
		{"raw control before an escape", "{\"s\":\"a\x01\\b\"}", wantControl},
		{"raw control between escapes", "{\"s\":\"\\n\x1f\\u0041\"}", wantControl},
		{"raw tab before an escape in a name", "{\"s\":\"x\",\"a\t\\n\":\"x\"}", wantControl},
		{"raw control in a string after a string with escapes", "{\"s\":\"\\n\",\"t\":\"\x01\"}", wantControl},
		{"whitespace around strings with escapes", "{\"s\":\"\\n\"\n,\t\"t\\t\"\r:\n\"\\\\\"\t}", ""},
		{"whitespace between tokens", "\t{\r\n\"s\" :\t\"x\"\n}\r\n", ""},
		{"escaped controls", `{"s":"\u0000\t\n\r\u001f"}`, ""},
		{"raw DEL", "{\"s\":\"a\x7f\"}", ""},
		{"escaped backslash before the closing quote", "{\"s\":\"a\\\\\"\n}", ""},
		// Surrogate escapes: only as pairs.
		{"lone high surrogate", `{"s":"a\ud800"}`, wantSurrogate},
		{"lone low surrogate", `{"s":"\udc00a"}`, wantSurrogate},
		{"high surrogate before another escape", `{"s":"\ud800\u0041"}`, wantSurrogate},
		{"high surrogate before a high surrogate", `{"s":"\ud800\ud800"}`, wantSurrogate},
		{"high surrogate before a character", `{"s":"\ud800x"}`, wantSurrogate},
		{"high surrogate before a one-character escape", `{"s":"\ud800\n"}`, wantSurrogate},
		{"pair then lone low surrogate", `{"s":"\ud83d\ude00\udc00"}`, wantSurrogate},
		{"lone surrogate in a name", `{"s":"x","\udfff":"x"}`, wantSurrogate},
		{"lone surrogate in a value nobody reads", `{"s":"x","m":["\ud800"]}`, wantSurrogate},
		{"surrogate pair", `{"s":"\ud83d\ude00"}`, ""},
		{"surrogate pair in capitals", `{"s":"\uD83D\uDE00"}`, ""},
		{"escaped backslash before ud800", `{"s":"\\ud800"}`, ""},
		{"escaped quote before ud800", `{"s":"\"ud800"}`, ""},
		{"other unicode escapes", `{"s":"\u00e9\uffff\ue000\ud7ff"}`, ""},
		// Bytes that are not UTF-8.
		{"invalid byte in a value", "{\"s\":\"a\xff\"}", wantUTF8},
		{"invalid byte in a name", "{\"s\":\"x\",\"\xfe\":\"x\"}", wantUTF8},
		{"encoded surrogate", "{\"s\":\"\xed\xa0\x80\"}", wantUTF8},
		{"overlong encoding", "{\"s\":\"\xc0\xaf\"}", wantUTF8},
		{"truncated sequence", "{\"s\":\"\xe2\x82\"}", wantUTF8},
		{"UTF-8", `{"s":"é€😀"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.body)
			r, err := parseObject(body)
			if c.want != "" {
				if err == nil {
					r.release()
					t.Fatalf("parseObject(%q) = nil, want malformed_json (%s)", body, c.want)
				}
				if err.status != http.StatusBadRequest || err.code != "malformed_json" || !strings.Contains(err.message, c.want) {
					t.Fatalf("parseObject(%q) = %d %s %q, want 400 malformed_json (%s)", body, err.status, err.code, err.message, c.want)
				}
				// Raw control characters are refused exactly as encoding/json
				// refuses them; the other two are stricter than it is.
				if c.want == wantControl && json.Valid(body) {
					t.Fatalf("encoding/json accepts %q", body)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseObject(%q) = %s %q, want nil", body, err.code, err.message)
			}
			defer r.release()
			s, _ := r.string("s", true, stringBytesMax)
			var standard struct{ S string }
			if jerr := json.Unmarshal(body, &standard); jerr != nil || s != standard.S {
				t.Fatalf("parseObject(%q) reads s %q; encoding/json reads %q (%v)", body, s, standard.S, jerr)
			}
		})
	}
}

// checkText skips each escape whole, so a backslash escaped by another is
// not taken for the start of an escape, and it reads every string that
// holds an escape (fastjson's validator reads strings without escapes).
func TestCheckTextSkipsEachEscapeWholeAndReadsStringsWithEscapes(t *testing.T) {
	for _, c := range []struct {
		body string
		want string
	}{
		{`{"s":"\\ud800"}`, ""},
		{`{"s":"\\\ud800"}`, wantSurrogate},
		{`{"s":"\\\\ud800"}`, ""},
		{`{"s":"\"\ud800"}`, wantSurrogate},
		{`{"s":"\\\"\\"}`, ""},
		{`{"s":"\u005c\u0075\u0064\u0038\u0030\u0030"}`, ""}, // The six characters \ud800, each escaped.
		{`{"s":"\ud800\\udc00"}`, wantSurrogate},
		{`{"s":"\ud800\udc00\\udc00"}`, ""},
		{"{\"s\":\"a\x01\\b\"}", "control character"},
		{"{\"s\":\"\\b\x01\\b\"}", "control character"},
		{"{\"s\":\"\\b\x01\"}", "control character"},
		{"{\"s\":\"\\\"\x1f\"}", "control character"},
		{"{\"s\":\"x\",\"t\":\"\n\\b\"}", "control character"},
		{"{\"s\":\"\\b\"\n,\t\"t\":\"\\b\"\r\n}", ""},
		{"{\"a\\\"\":\"\\\\\"\n}", ""},
	} {
		if got := checkText([]byte(c.body)); !strings.Contains(got, c.want) || (c.want == "") != (got == "") {
			t.Errorf("checkText(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

// The scan's REQUIRES (a body fastjson validated) must not be what keeps it
// in bounds: these bodies end inside strings and escapes.
func TestCheckTextStaysInBoundsOfUnvalidatedText(t *testing.T) {
	for _, body := range []string{
		`"`, `"\`, `"\u`, `"\u12`, `"\ud800`, `"\ud800\`, `"\ud800\u`, `"\ud800\udc`,
		`"\uzzzz"`, `"\ud800\uzzzz"`, `"abc`, `{"a":"b"}"`,
	} {
		checkText([]byte(body)) // Must not panic.
	}
}

func TestCredentialsLimitTheNormalizedEmail(t *testing.T) {
	// Lowercasing turns Ⱥ (2 bytes) into ⱥ (3 bytes) and the Kelvin sign
	// (3 bytes) into k (1 byte); trimming drops the spaces.
	const domain = "@example.com"
	for _, c := range []struct {
		name  string
		email string
		want  string // the email read, or the reason it fails
	}{
		{"254 bytes", strings.Repeat("a", emailBytesMax-len(domain)) + domain, strings.Repeat("a", emailBytesMax-len(domain)) + domain},
		{"255 bytes", strings.Repeat("a", emailBytesMax-len(domain)+1) + domain, atMostBytes(emailBytesMax)},
		{"254 bytes once lowercased", strings.Repeat("Ⱥ", 80) + "aa" + domain, strings.Repeat("ⱥ", 80) + "aa" + domain},
		{"255 bytes once lowercased", strings.Repeat("Ⱥ", 81) + domain, atMostBytes(emailBytesMax)},
		{"shorter once lowercased", strings.Repeat("\u212a", 90) + domain, strings.Repeat("k", 90) + domain},
		{"shorter once trimmed", strings.Repeat(" ", 300) + "A" + domain + " ", "a" + domain},
		{"longer than any string", strings.Repeat(" ", stringBytesMax) + "a" + domain, atMostBytes(stringBytesMax)},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"email": c.email, "password": "correct horse"})
			email, _, err := credentials(body, true)
			switch {
			case err != nil && (err.code != "validation_failed" || err.fields["email"] != c.want):
				t.Fatalf("credentials(%d bytes of email) = %s %v, want %q", len(c.email), err.code, err.fields, c.want)
			case err == nil && email != c.want:
				t.Fatalf("credentials(%d bytes of email) = %q, want %q", len(c.email), email, c.want)
			}
		})
	}
}

// batchBody is a body of a batch of items charges, each with metadata; with
// escapes, each note holds four escapes and two letters beyond ASCII.
func batchBody(items int, escapes bool) []byte {
	note := "cafe latte naive"
	if escapes {
		note = `caf\u00e9 \"latte\" \ud83d\ude00 naïve`
	}
	var b strings.Builder
	b.WriteString(`{"charges":[`)
	for i := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"to":"acct_01JZ8Q3V5K9N2M4P6R8T0W2Y4A","amount":"%d","idempotencyKey":"batch-7-item-%d",`+
			`"metadata":{"order":"ord_%06d","note":"%s"}}`, 1000+i, i, i, note)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkParseObjectBatch measures parseObject on a batch of
// BatchChargesMax charges, and the share of it that is checkText's scan.
func BenchmarkParseObjectBatch(b *testing.B) {
	for _, escapes := range []bool{false, true} {
		body := batchBody(BatchChargesMax, escapes)
		b.Run(fmt.Sprintf("escapes=%t/parseObject", escapes), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r, err := parseObject(body)
				if err != nil {
					b.Fatal(err.message)
				}
				r.release()
			}
		})
		b.Run(fmt.Sprintf("escapes=%t/checkText", escapes), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if message := checkText(body); message != "" {
					b.Fatal(message)
				}
			}
		})
	}
}
