package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	pathpkg "path"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/httpapi/signature"
)

// Headers the gateway adds to every forwarded call.
const (
	HeaderChargeID  = "Tollway-Charge-Id"
	HeaderSignature = signature.HeaderName
)

// hopByHop are the connection-specific headers of RFC 9110 section 7.6.1
// (and the older ones proxies still meet); each hop sets its own, so none
// crosses the gateway either way. Proxy-* is matched by prefix.
var hopByHop = [][]byte{
	[]byte("Connection"), []byte("Keep-Alive"), []byte("TE"), []byte("Trailer"),
	[]byte("Transfer-Encoding"), []byte("Upgrade"),
}

// dropped reports whether a header named name must not cross the gateway:
// hop-by-hop, named by the message's Connection header (connection), or
// one fasthttp sets from the message itself (Content-Length, Host).
func dropped(name, connection []byte) bool {
	for _, h := range hopByHop {
		if bytes.EqualFold(name, h) {
			return true
		}
	}
	if len(name) >= 6 && bytes.EqualFold(name[:6], []byte("Proxy-")) ||
		bytes.EqualFold(name, []byte("Content-Length")) || bytes.EqualFold(name, []byte("Host")) {
		return true
	}
	for token := range bytes.SplitSeq(connection, []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(token), name) {
			return true
		}
	}
	return false
}

// credential reports whether a request header carries the consumer's
// credentials for Tollway (Authorization), or claims to be Tollway's own
// (Tollway-*: the charge id and signature are the gateway's to set).
func credential(name []byte) bool {
	return bytes.EqualFold(name, []byte("Authorization")) ||
		len(name) >= 8 && bytes.EqualFold(name[:8], []byte("Tollway-"))
}

// PrepareRequest writes into out the call in to forward to t: in's method
// and body, the route's upstream path joined with path (the part after
// /gw/{slug}, as ForwardPath returns it) and in's query, and in's headers
// without hop-by-hop ones and the consumer's credentials, plus the charge
// id and the signature of the body at now.
func (t *Target) PrepareRequest(out, in *fasthttp.Request, path, chargeID string, now time.Time) {
	out.Header.DisableNormalizing()
	out.Header.SetMethodBytes(in.Header.Method())
	uri := out.URI()
	uri.SetScheme(t.Upstream.Scheme)
	uri.SetHost(t.Upstream.Host)
	// The client sends the path as it is here (HostClient's
	// DisablePathNormalizing): both parts are escaped already.
	uri.SetPath(strings.TrimSuffix(t.Upstream.EscapedPath(), "/") + path)
	uri.SetQueryStringBytes(in.URI().QueryString())
	connection := in.Header.Peek(fasthttp.HeaderConnection)
	for name, value := range in.Header.All() {
		if dropped(name, connection) || credential(name) {
			continue
		}
		out.Header.AddBytesKV(name, value)
	}
	out.Header.SetHost(t.Upstream.Host)
	body := in.Body()
	out.SetBody(body)
	out.Header.Set(HeaderChargeID, chargeID)
	out.Header.Set(HeaderSignature, signature.Sign([]byte(t.Route.Secret), now, body))
}

// tollways reports whether a response header is one Tollway sets on its
// own answers (X-Request-Id, the key's RateLimit-*, Tollway-*): the
// upstream's would contradict them.
func tollways(name []byte) bool {
	return bytes.EqualFold(name, []byte("X-Request-Id")) ||
		len(name) >= 10 && bytes.EqualFold(name[:10], []byte("RateLimit-")) ||
		len(name) >= 8 && bytes.EqualFold(name[:8], []byte("Tollway-"))
}

// ErrPath means a call's path does not decode (a bad %-escape).
var ErrPath = errors.New("gateway: invalid path")

// ForwardPath returns the path to forward for raw, the part of a call's
// path after /gw/{slug}/ as the client sent it (the router matches the
// path unnormalized and undecoded): decoded, rooted, without . and ..
// segments (path.Clean, keeping a final slash), escaped again. NB: an
// upstream that resolved a .. (sent plain or as %2e%2e) would serve what
// lies above the route's base path.
func ForwardPath(raw string) (string, error) {
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPath, err)
	}
	cleaned := pathpkg.Clean("/" + decoded)
	if strings.HasSuffix(decoded, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return (&url.URL{Path: cleaned}).EscapedPath(), nil
}

// CopyResponseHeader copies the upstream's answer's status and headers to
// out, without hop-by-hop ones and without those Tollway sets itself.
func CopyResponseHeader(out, in *fasthttp.ResponseHeader) {
	out.SetStatusCode(in.StatusCode())
	connection := in.Peek(fasthttp.HeaderConnection)
	for name, value := range in.All() {
		if dropped(name, connection) || tollways(name) {
			continue
		}
		out.AddBytesKV(name, value)
	}
	if contentType := in.ContentType(); len(contentType) > 0 {
		out.SetContentTypeBytes(contentType)
	}
}
