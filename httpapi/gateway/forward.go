package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net"
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

// Call is what the gateway knows of one call beyond its request.
type Call struct {
	Path     string    // the part after /gw/{slug}, as ForwardPath returns it
	ChargeID string    // the call's hold
	ClientIP net.IP    // the consumer's TCP peer
	TLS      bool      // the consumer reached Tollway over TLS
	Now      time.Time // the signature's time
}

// Headers the gateway sets as a reverse proxy: the de facto ones, which
// every upstream framework reads.
var (
	headerForwardedFor   = []byte("X-Forwarded-For")
	headerForwardedProto = []byte("X-Forwarded-Proto")
	headerForwardedHost  = []byte("X-Forwarded-Host")
)

// PrepareRequest writes into out the call in to forward to t: in's method
// and body, the route's upstream path joined with c.Path and in's query,
// and in's headers without hop-by-hop ones and the consumer's credentials,
// plus the charge id, the signature of the body at c.Now, and
// X-Forwarded-For (the consumer's address appended to any the request
// brought: the upstream trusts only the last one, the address Tollway
// saw), X-Forwarded-Proto and X-Forwarded-Host (how the consumer reached
// Tollway).
func (t *Target) PrepareRequest(out, in *fasthttp.Request, c Call) {
	out.Header.DisableNormalizing()
	out.Header.SetMethodBytes(in.Header.Method())
	uri := out.URI()
	uri.SetScheme(t.Upstream.Scheme)
	uri.SetHost(t.Upstream.Host)
	// The client sends the path as it is here (HostClient's
	// DisablePathNormalizing): both parts are escaped already.
	uri.SetPath(strings.TrimSuffix(t.Upstream.EscapedPath(), "/") + c.Path)
	uri.SetQueryStringBytes(in.URI().QueryString())
	connection := in.Header.Peek(fasthttp.HeaderConnection)
	var forwardedFor []byte
	for name, value := range in.Header.All() {
		if dropped(name, connection) || credential(name) {
			continue
		}
		switch {
		case bytes.EqualFold(name, headerForwardedFor):
			if len(forwardedFor) > 0 {
				forwardedFor = append(forwardedFor, ", "...)
			}
			forwardedFor = append(forwardedFor, value...)
			continue
		case bytes.EqualFold(name, headerForwardedProto), bytes.EqualFold(name, headerForwardedHost):
			continue
		}
		out.Header.AddBytesKV(name, value)
	}
	if c.ClientIP != nil {
		if len(forwardedFor) > 0 {
			forwardedFor = append(forwardedFor, ", "...)
		}
		forwardedFor = append(forwardedFor, c.ClientIP.String()...)
	}
	if len(forwardedFor) > 0 {
		out.Header.SetBytesKV(headerForwardedFor, forwardedFor)
	}
	proto := "http"
	if c.TLS {
		proto = "https"
	}
	out.Header.SetBytesK(headerForwardedProto, proto)
	if host := in.Host(); len(host) > 0 {
		out.Header.SetBytesKV(headerForwardedHost, host)
	}
	out.Header.SetHost(t.Upstream.Host)
	body := in.Body()
	out.SetBody(body)
	out.Header.Set(HeaderChargeID, c.ChargeID)
	out.Header.Set(HeaderSignature, signature.Sign([]byte(t.Route.Secret), c.Now, body))
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
