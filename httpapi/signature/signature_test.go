package signature

import (
	"errors"
	"go/build"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testSecret = []byte("whsec_test_secret")
	testBody   = []byte(`{"id":"evt_1","type":"deposit.credited","created":1796281200,"data":{}}`)
	testTime   = time.Unix(1796281200, 0)
)

func TestSignRendersTheDocumentedFormat(t *testing.T) {
	got := Sign([]byte("k"), time.Unix(1700000000, 0), []byte("b"))
	// Computed outside Go: printf '1700000000.b' | openssl dgst -sha256 -hmac k
	want := "t=1700000000,v1=c881bb5d0f8788e4c2bdabbb0fa4b2e2d1abbb36aaf091b356d20e271136e681"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignedBodyVerifies(t *testing.T) {
	header := Sign(testSecret, testTime, testBody)
	if err := Verify(header, testBody, testSecret, DefaultTolerance, testTime); err != nil {
		t.Errorf("Verify(Sign(...)) = %v, want nil", err)
	}
}

func TestVerifyRefusesWithADistinctError(t *testing.T) {
	good := Sign(testSecret, testTime, testBody)
	_, goodMAC, _ := strings.Cut(good, ",")
	tests := []struct {
		name   string
		header string
		body   []byte
		secret []byte
		want   error
	}{
		{"no header", "", testBody, testSecret, ErrNoSignature},
		{"no v1 entry", "t=1796281200,v0=abc", testBody, testSecret, ErrNoSignature},
		{"no timestamp", goodMAC, testBody, testSecret, ErrMalformed},
		{"two timestamps", "t=1796281200," + good, testBody, testSecret, ErrMalformed},
		{"signed timestamp", "t=+1796281200," + goodMAC, testBody, testSecret, ErrMalformed},
		{"negative timestamp", "t=-1," + goodMAC, testBody, testSecret, ErrMalformed},
		{"fractional timestamp", "t=1796281200.5," + goodMAC, testBody, testSecret, ErrMalformed},
		{"huge timestamp", "t=9999999999999999999," + goodMAC, testBody, testSecret, ErrMalformed},
		{"space after comma", "t=1796281200, " + goodMAC, testBody, testSecret, ErrMalformed},
		{"empty entry", good + ",", testBody, testSecret, ErrMalformed},
		{"entry without =", good + ",v1", testBody, testSecret, ErrMalformed},
		{"empty value", good + ",v0=", testBody, testSecret, ErrMalformed},
		{"upper-case key", "T=1796281200," + goodMAC, testBody, testSecret, ErrMalformed},
		{"short v1", "t=1796281200,v1=abcd", testBody, testSecret, ErrMalformed},
		{"v1 not hex", "t=1796281200,v1=" + strings.Repeat("zz", 32), testBody, testSecret, ErrMalformed},
		{"header too long", good + ",v0=" + strings.Repeat("a", HeaderLengthMax), testBody, testSecret, ErrMalformed},
		{"tampered body", good, append([]byte(nil), append(testBody, ' ')...), testSecret, ErrMismatch},
		{"empty body", good, nil, testSecret, ErrMismatch},
		{"another secret", good, testBody, []byte("whsec_other"), ErrMismatch},
		{"empty secret", Sign(nil, testTime, testBody), testBody, nil, ErrMismatch},
		{"timestamp changed", "t=1796281201," + goodMAC, testBody, testSecret, ErrMismatch},
	}
	sentinels := []error{ErrNoSignature, ErrMalformed, ErrTimestamp, ErrMismatch}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.header, tt.body, tt.secret, DefaultTolerance, testTime)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %v, want %v", tt.header, err, tt.want)
			}
			for _, other := range sentinels {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Verify(%q) = %v, also matches %v", tt.header, err, other)
				}
			}
		})
	}
}

func TestAnyV1EntryMatchingPassesForRotation(t *testing.T) {
	oldSecret, newSecret := []byte("whsec_old"), []byte("whsec_new")
	signedOld := Sign(oldSecret, testTime, testBody)
	signedNew := Sign(newSecret, testTime, testBody)
	_, oldMAC, _ := strings.Cut(signedOld, ",")
	_, newMAC, _ := strings.Cut(signedNew, ",")
	header := "t=" + strconv.FormatInt(testTime.Unix(), 10) + "," + oldMAC + ",v0=legacy," + newMAC
	for _, secret := range [][]byte{oldSecret, newSecret} {
		if err := Verify(header, testBody, secret, DefaultTolerance, testTime); err != nil {
			t.Errorf("Verify(%q, secret %q) = %v, want nil", header, secret, err)
		}
	}
	if err := Verify(header, testBody, []byte("whsec_third"), DefaultTolerance, testTime); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(%q, a third secret) = %v, want %v", header, err, ErrMismatch)
	}
}

func TestUnknownSchemesAreIgnored(t *testing.T) {
	header := "v0=deadbeef," + Sign(testSecret, testTime, testBody) + ",v2=" + strings.Repeat("0", 64)
	if err := Verify(header, testBody, testSecret, DefaultTolerance, testTime); err != nil {
		t.Errorf("Verify(%q) = %v, want nil", header, err)
	}
}

func TestTimestampToleranceIsInclusive(t *testing.T) {
	header := Sign(testSecret, testTime, testBody)
	tolerance := 5 * time.Minute
	tests := []struct {
		now  time.Time
		want error
	}{
		{testTime.Add(tolerance), nil},
		{testTime.Add(-tolerance), nil},
		{testTime.Add(tolerance + time.Nanosecond), ErrTimestamp},
		{testTime.Add(-tolerance - time.Nanosecond), ErrTimestamp},
		{testTime.Add(24 * time.Hour), ErrTimestamp},
	}
	for _, tt := range tests {
		err := Verify(header, testBody, testSecret, tolerance, tt.now)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("Verify(signed at %v, now %v) = %v, want %v", testTime, tt.now, err, tt.want)
		}
	}
}

func TestZeroToleranceMeansTheDefault(t *testing.T) {
	header := Sign(testSecret, testTime, testBody)
	if err := Verify(header, testBody, testSecret, 0, testTime.Add(DefaultTolerance)); err != nil {
		t.Errorf("Verify(tolerance 0, now at DefaultTolerance) = %v, want nil", err)
	}
	if err := Verify(header, testBody, testSecret, 0, testTime.Add(DefaultTolerance+time.Second)); !errors.Is(err, ErrTimestamp) {
		t.Errorf("Verify(tolerance 0, now past DefaultTolerance) = %v, want %v", err, ErrTimestamp)
	}
}

func TestAForgedStaleHeaderIsAMismatchNotATimestampError(t *testing.T) {
	header := "t=1," + "v1=" + strings.Repeat("00", 32)
	if err := Verify(header, testBody, testSecret, DefaultTolerance, testTime); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(%q) = %v, want %v", header, err, ErrMismatch)
	}
}

func signedRequest(t *testing.T, body []byte, headers ...string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(string(body)))
	for _, h := range headers {
		r.Header.Add(HeaderName, h)
	}
	return r
}

func TestVerifyRequestReturnsTheBodyAndPutsItBack(t *testing.T) {
	r := signedRequest(t, testBody, Sign(testSecret, time.Now(), testBody))
	body, err := VerifyRequest(r, testSecret, DefaultTolerance)
	if err != nil {
		t.Fatalf("VerifyRequest = %v, want nil", err)
	}
	if string(body) != string(testBody) {
		t.Errorf("VerifyRequest body = %q, want %q", body, testBody)
	}
	again, err := io.ReadAll(r.Body)
	if err != nil || string(again) != string(testBody) {
		t.Errorf("r.Body after VerifyRequest = %q, %v, want %q", again, err, testBody)
	}
}

func TestVerifyRequestRefuses(t *testing.T) {
	now := time.Now()
	large := []byte(strings.Repeat("x", 101))
	tests := []struct {
		name string
		r    *http.Request
		want error
	}{
		{"no header", signedRequest(t, testBody), ErrNoSignature},
		{"two headers", signedRequest(t, testBody, Sign(testSecret, now, testBody), Sign(testSecret, now, testBody)), ErrMalformed},
		{"tampered body", signedRequest(t, []byte("{}"), Sign(testSecret, now, testBody)), ErrMismatch},
		{"stale", signedRequest(t, testBody, Sign(testSecret, now.Add(-time.Hour), testBody)), ErrTimestamp},
		{"body over the bound", signedRequest(t, large, Sign(testSecret, now, large)), ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyRequestLimit(tt.r, testSecret, DefaultTolerance, 100); !errors.Is(err, tt.want) {
				t.Errorf("VerifyRequestLimit = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyRequestTakesABodyOfExactlyTheBound(t *testing.T) {
	body := []byte(strings.Repeat("x", 100))
	r := signedRequest(t, body, Sign(testSecret, time.Now(), body))
	if got, err := VerifyRequestLimit(r, testSecret, DefaultTolerance, 100); err != nil || len(got) != 100 {
		t.Errorf("VerifyRequestLimit(100 bytes, bound 100) = %d bytes, %v, want 100 bytes, nil", len(got), err)
	}
}

func TestVerifyRequestWithoutABody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/webhook", nil)
	r.Header.Set(HeaderName, Sign(testSecret, time.Now(), nil))
	if body, err := VerifyRequest(r, testSecret, DefaultTolerance); err != nil || len(body) != 0 {
		t.Errorf("VerifyRequest(no body) = %q, %v, want empty, nil", body, err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(Sign(testSecret, testTime, testBody), testBody)
	f.Add("t=1,v1=00,v0=", []byte{})
	f.Add("t=,,=,v1=", []byte("x"))
	f.Add("t=1796281200,v1="+strings.Repeat("A", 64), testBody)
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := Verify(header, body, testSecret, DefaultTolerance, testTime)
		if err == nil {
			// Only a header carrying the true MAC of its own timestamp passes.
			p, err := parse(header)
			if err != nil {
				t.Fatalf("Verify(%q) = nil, but parse = %v", header, err)
			}
			want := mac(testSecret, p.timestampText, body)
			for _, sum := range p.macs {
				if string(sum) == string(want) {
					return
				}
			}
			t.Fatalf("Verify(%q, %q) = nil without the body's MAC", header, body)
		}
		for _, sentinel := range []error{ErrNoSignature, ErrMalformed, ErrTimestamp, ErrMismatch} {
			if errors.Is(err, sentinel) {
				return
			}
		}
		t.Fatalf("Verify(%q) = %v, want one of the package's errors", header, err)
	})
}

// TestImportsOnlyTheStandardLibrary keeps the package vendorable by third
// parties: a non-standard import here would become theirs.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		source, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, source, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		checked++
		for _, spec := range f.Imports {
			path, _ := strconv.Unquote(spec.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			p, err := build.Default.Import(path, "", build.FindOnly)
			if path == "C" || strings.Contains(first, ".") || err != nil || !p.Goroot {
				t.Errorf("%s imports %q, want only the standard library", fset.Position(spec.Pos()), path)
			}
		}
	}
	if checked == 0 {
		t.Errorf("found no non-test Go files, want the package sources")
	}
}
