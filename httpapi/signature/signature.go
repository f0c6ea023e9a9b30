package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeaderName is the HTTP header that carries the signature.
const HeaderName = "Tollway-Signature"

const (
	// DefaultTolerance is how far a timestamp may lie from now, either way:
	// long enough for clock skew and a slow network, short enough that a
	// captured request is soon useless to replay.
	DefaultTolerance = 5 * time.Minute
	// HeaderLengthMax bounds the header Verify parses. A header with a
	// timestamp and one v1 entry is about 80 bytes; 1024 leaves room for
	// a dozen entries during a rotation, and no more work than that for a
	// hostile header.
	HeaderLengthMax = 1024

	schemeV1           = "v1"
	keyTimestamp       = "t"
	macHexLength       = 2 * sha256.Size
	timestampDigitsMax = 18 // below 2^63, so parsing cannot overflow
)

// The errors Verify returns, matched with errors.Is. Each is wrapped with
// what failed, so a receiver can answer with a status while its logs keep
// the reason.
var (
	// ErrNoSignature means the request carries no header, or a header
	// without a v1 entry: it was not signed by anyone this package knows.
	ErrNoSignature = errors.New("signature: missing")
	// ErrMalformed means the header does not parse: a sender bug or a
	// forgery attempt.
	ErrMalformed = errors.New("signature: malformed header")
	// ErrTimestamp means the signature is authentic but its timestamp lies
	// outside the tolerance: a replay, or clocks too far apart.
	ErrTimestamp = errors.New("signature: timestamp outside tolerance")
	// ErrMismatch means no v1 entry matches: the body changed, the secret
	// is not the sender's, or the header was forged.
	ErrMismatch = errors.New("signature: mismatch")
)

// Sign returns the header value that signs body at time t under secret.
// NB: Sign takes an empty secret, which Verify refuses, so such a header
// never verifies; rejecting an empty secret earlier is the caller's job.
func Sign(secret []byte, t time.Time, body []byte) string {
	timestamp := strconv.FormatInt(t.Unix(), 10)
	return keyTimestamp + "=" + timestamp + "," + schemeV1 + "=" + hex.EncodeToString(mac(secret, timestamp, body))
}

// Verify checks that header signs body under secret at a time within
// tolerance of now (exactly at the bound passes). A tolerance of zero or
// less means DefaultTolerance, so a forgotten argument does not disable
// the replay check.
func Verify(header string, body, secret []byte, tolerance time.Duration, now time.Time) error {
	parsed, err := parse(header)
	if err != nil {
		return err
	}
	return parsed.check(body, secret, tolerance, now)
}

// parsed is a header that parse accepted: one timestamp (its decimal text
// kept, since the MAC covers the text) and at least one v1 MAC.
type parsed struct {
	timestampText string
	timestamp     int64
	macs          [][]byte
}

// parse reads "key=value" entries separated by commas, with no spaces:
// exactly one t (decimal digits), any number of v1 (64 hex digits) and any
// other keys ignored. Empty entries, keys or values are malformed.
func parse(header string) (parsed, error) {
	if header == "" {
		return parsed{}, fmt.Errorf("%w: no %s header", ErrNoSignature, HeaderName)
	}
	if len(header) > HeaderLengthMax {
		return parsed{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(header), HeaderLengthMax)
	}
	var p parsed
	seenTimestamp := false
	for entry := range strings.SplitSeq(header, ",") {
		key, value, found := strings.Cut(entry, "=")
		if !found || key == "" || value == "" {
			return parsed{}, fmt.Errorf("%w: entry %q is not key=value", ErrMalformed, entry)
		}
		if !isToken(key) {
			return parsed{}, fmt.Errorf("%w: key %q", ErrMalformed, key)
		}
		switch key {
		case keyTimestamp:
			if seenTimestamp {
				return parsed{}, fmt.Errorf("%w: more than one t", ErrMalformed)
			}
			seenTimestamp = true
			timestamp, err := parseTimestamp(value)
			if err != nil {
				return parsed{}, err
			}
			p.timestampText, p.timestamp = value, timestamp
		case schemeV1:
			if len(value) != macHexLength {
				return parsed{}, fmt.Errorf("%w: v1 has %d characters, want %d hex digits", ErrMalformed, len(value), macHexLength)
			}
			sum, err := hex.DecodeString(value)
			if err != nil {
				return parsed{}, fmt.Errorf("%w: v1 is not hex", ErrMalformed)
			}
			p.macs = append(p.macs, sum)
		default:
			// Another scheme (v0, or one added later): not ours to judge.
		}
	}
	if !seenTimestamp {
		return parsed{}, fmt.Errorf("%w: no t", ErrMalformed)
	}
	if len(p.macs) == 0 {
		return parsed{}, fmt.Errorf("%w: no v1 entry", ErrNoSignature)
	}
	return p, nil
}

// parseTimestamp accepts unsigned decimal seconds only: no sign, no
// spaces, no fraction, so one instant has one text.
func parseTimestamp(value string) (int64, error) {
	if len(value) > timestampDigitsMax {
		return 0, fmt.Errorf("%w: t has %d digits, more than %d", ErrMalformed, len(value), timestampDigitsMax)
	}
	for i := 0; i < len(value); i++ {
		if value[i] < '0' || value[i] > '9' {
			return 0, fmt.Errorf("%w: t %q is not decimal seconds", ErrMalformed, value)
		}
	}
	timestamp, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: t %q: %v", ErrMalformed, value, err)
	}
	return timestamp, nil
}

// isToken reports whether key is lower-case letters and digits, which is
// every key the format defines or will.
func isToken(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// check verifies the MAC before the timestamp, so ErrTimestamp is only
// ever said of a genuine signature (a replay or a skewed clock), never of
// a forgery.
func (p parsed) check(body, secret []byte, tolerance time.Duration, now time.Time) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: the secret is empty, nothing verifies against it", ErrMismatch)
	}
	want := mac(secret, p.timestampText, body)
	matched := false
	for _, sum := range p.macs {
		// Every entry is compared, so the time taken does not tell which
		// one matched.
		if hmac.Equal(sum, want) {
			matched = true
		}
	}
	if !matched {
		return fmt.Errorf("%w: none of %d v1 entries", ErrMismatch, len(p.macs))
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	age := now.Sub(time.Unix(p.timestamp, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %d, %v from now, tolerance %v", ErrTimestamp, p.timestamp, age, tolerance)
	}
	return nil
}

// mac is HMAC-SHA256(secret, timestamp + "." + body), with the text of the
// timestamp exactly as it appears in the header.
func mac(secret []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
