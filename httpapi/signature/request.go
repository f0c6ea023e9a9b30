package signature

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// RequestBodyBytesMax is the body VerifyRequest reads at most. Webhook
// deliveries are a few kilobytes; an upstream that takes larger signed
// bodies calls VerifyRequestLimit with its own bound.
const RequestBodyBytesMax = 1 << 20

// ErrBodyTooLarge means the request body is longer than the bound the
// receiver set, so it was not read to the end nor verified.
var ErrBodyTooLarge = errors.New("signature: body too large")

// VerifyRequest reads r's body (at most RequestBodyBytesMax bytes) and
// verifies r's Tollway-Signature over it against the current time. It
// returns the body and puts an unread copy back in r.Body, so a handler
// can decode it after the check.
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration) ([]byte, error) {
	return VerifyRequestLimit(r, secret, tolerance, RequestBodyBytesMax)
}

// VerifyRequestLimit is VerifyRequest with a bound on the body of
// bodyBytesMax bytes. The header is checked for form before the body is
// read, so an unsigned request costs no body read.
func VerifyRequestLimit(r *http.Request, secret []byte, tolerance time.Duration, bodyBytesMax int64) ([]byte, error) {
	headers := r.Header.Values(HeaderName)
	if len(headers) > 1 {
		return nil, fmt.Errorf("%w: %d %s headers, want one", ErrMalformed, len(headers), HeaderName)
	}
	header := ""
	if len(headers) == 1 {
		header = headers[0]
	}
	parsed, err := parse(header)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r, bodyBytesMax)
	if err != nil {
		return nil, err
	}
	if err := parsed.check(body, secret, tolerance, time.Now()); err != nil {
		return nil, err
	}
	return body, nil
}

// readBody reads one byte past the bound to tell a body of exactly
// bodyBytesMax bytes from a longer one.
func readBody(r *http.Request, bodyBytesMax int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, bodyBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("signature: read body: %w", err)
	}
	if int64(len(body)) > bodyBytesMax {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, bodyBytesMax)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
