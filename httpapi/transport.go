package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
)

// The transport: how connections are admitted, how long a request may take
// to arrive, how much memory its body may hold, and how a connection is
// closed. Every limit here bounds what an unauthenticated client can make
// the server hold; together they bound it in total:
//
//	connections  <= ConnectionsMax (from the file limit, less fileReserve)
//	body memory  <= ConnectionsMax * bodyUnreservedBytesMax + BodyBudgetBytes
//
// (1,024 files: 768 connections, 12 MiB + 64 MiB; 20,000 files: 19,744
// connections, 309 MiB + 64 MiB), plus fasthttp's 4 KiB read and write
// buffers per connection.
const (
	// RequestReadTimeoutDefault bounds the wait for a new connection's first
	// request, and then, from a request's first byte, the reading of its
	// headers and of a body of at most bodyUnreservedBytesMax (every charge).
	// A client that opens a connection and sends nothing, or trickles its
	// headers (slowloris), holds it no longer. 5 s is ample for a request of
	// 16 KiB at 32 kbit/s.
	RequestReadTimeoutDefault = 5 * time.Second
	// bodyReadTimeout bounds, from the end of its headers, the reading of a
	// body larger than bodyUnreservedBytesMax: BodyBytesMax takes 8.4 s at
	// 1 Mbit/s.
	bodyReadTimeout = 15 * time.Second
	// writeTimeout bounds the writing of a response.
	writeTimeout = 10 * time.Second
	// idleTimeout bounds the wait for the next request on a kept-alive
	// connection; it is closed silently then.
	idleTimeout = 60 * time.Second

	// RouteBodyBytesMax bounds the body of every route but the batch one.
	// The largest legitimate one is a charge whose metadata encodes to
	// engine.MemoBytesMax (16 KiB) written with every character \u-escaped
	// (6 bytes each: 96 KiB) plus its other fields. A larger declared
	// Content-Length is refused (400 body_too_large) before any byte of the body is read.
	RouteBodyBytesMax = 128 << 10
	// bodyUnreservedBytesMax is the largest body read without a reservation
	// from the body budget: every request clients send in normal use (a
	// charge is about 300 bytes). Larger ones, up to their route's limit,
	// reserve their declared length (or their route's limit when chunked)
	// first, as fasthttp allocates a body's declared length before reading.
	bodyUnreservedBytesMax = 16 << 10
	// BodyBudgetBytesDefault bounds the bodies larger than
	// bodyUnreservedBytesMax being read or handled at once: 64 batch
	// requests of BodyBytesMax. Beyond it a request is answered 503 with
	// Retry-After before its body is read.
	BodyBudgetBytesDefault = 64 << 20
	// bodyReservationLifetimeMax reclaims a reservation whose request never
	// reached a handler nor an error answer (a client gone while the server
	// wrote "100 Continue"): far longer than bodyReadTimeout plus a batch's
	// handling, so it never reclaims a live one in practice.
	bodyReservationLifetimeMax = 2 * time.Minute
	// responsePoolBytesMax is the largest response buffer fasthttp keeps in
	// its pool after a response; a larger one (a batch's results, a long
	// list) goes to the garbage collector. Request buffers are kept up to
	// bodyUnreservedBytesMax. Both are process-wide fasthttp settings.
	responsePoolBytesMax = 64 << 10

	// lingerBytesMax and lingerTimeout bound the draining of a connection
	// answered before its body was read (body too large, budget full,
	// malformed): the server stops sending, then reads and discards what the
	// client still sends, so the client reads the answer instead of a
	// connection reset (closing a socket with unread data makes the kernel
	// send RST). Twice BodyBytesMax covers a client that sends a body of a
	// few MiB before it reads.
	lingerBytesMax = 4 << 20
	lingerTimeout  = 2 * time.Second
	// rejectWriteTimeout bounds writing the short answer to a connection
	// refused at accept (over a connection limit).
	rejectWriteTimeout = 100 * time.Millisecond

	// acceptBackoffMin and acceptBackoffMax bound the wait after a failed
	// accept (out of file descriptors, out of buffers), doubling between
	// them as net/http does; acceptErrorLogInterval spaces the log lines.
	acceptBackoffMin       = 5 * time.Millisecond
	acceptBackoffMax       = time.Second
	acceptErrorLogInterval = 10 * time.Second

	// FileReserveMax is the number of file descriptors kept out of the
	// connection limit for everything else the process opens: Pebble's
	// WAL (and a recycled one), MANIFEST, OPTIONS, LOCK, directory handles
	// and the table files it keeps open, the secrets file, the listeners,
	// the pprof endpoint, standard streams and epoll. Under a small limit
	// it is half the limit (FileReserveFor).
	//
	// NB: the engine holds at most engine.FilesOpenMax (160) descriptors,
	// so it fits in the reserve (asserted below) under any file limit of
	// 512 or more.
	FileReserveMax = 256
	// fileLimitAssumed stands for an unknown file limit (Config.FileLimit
	// 0): the usual default soft limit.
	fileLimitAssumed = 1024
)

// The engine's descriptors fit in the reserve: a connection flood never
// takes the ones the log needs.
var _ = uint(FileReserveMax - engine.FilesOpenMax)

// FileReserveFor returns the descriptors kept for the log and everything
// but connections under a file limit: FileReserveMax, or half the limit
// when that is smaller.
func FileReserveFor(fileLimit uint64) uint64 {
	return min(FileReserveMax, fileLimit/2)
}

// ConnectionsMaxFor returns the connection limit a file limit allows: the
// limit less FileReserveFor, so accepting connections never takes the
// descriptors the log needs. 0 stands for fileLimitAssumed.
func ConnectionsMaxFor(fileLimit uint64) int {
	if fileLimit == 0 {
		fileLimit = fileLimitAssumed
	}
	n := fileLimit - FileReserveFor(fileLimit)
	return int(min(n, fasthttp.DefaultConcurrency))
}

// ConnectionsPerIPMaxFor returns the default connection limit of one
// client address: half of connectionsMax, so one address never takes more
// than half the connections and the other half stays for everyone else.
// Behind a proxy, where every client has the proxy's address, set it to
// the connection limit.
func ConnectionsPerIPMaxFor(connectionsMax int) int { return max(1, connectionsMax/2) }

var setBodyPoolLimits sync.Once

// transport admits connections, bounds request bodies and closes
// connections: state shared by a server's listeners.
type transport struct {
	logger             *slog.Logger
	connectionsMax     int
	perIPMax           int
	fileLimit          uint64
	requestReadTimeout time.Duration
	// bigBodyRoutes are the routes that take bodies up to BodyBytesMax,
	// each "METHOD /path".
	bigBodyRoutes []string

	open                        atomic.Int64
	mu                          sync.Mutex
	perIP                       map[netip.Addr]int
	rejected                    [rejectReasons]atomic.Uint64
	refusals                    [refusalReasons]atomic.Uint64
	acceptErrors                atomic.Uint64
	lastAcceptLog, acceptLogged atomic.Int64

	budget bodyBudget
}

type rejectReason int

const (
	rejectConnectionsMax rejectReason = iota
	rejectPerIPMax
	rejectReasons
)

// refusalReason is why a request was answered (or its connection closed)
// before a handler: the metrics count each.
type refusalReason int

const (
	refusalMalformed refusalReason = iota
	refusalBodyTooLarge
	refusalBodyBudget
	refusalUnanswered
	refusalReasons
)

type transportConfig struct {
	connectionsMax, perIPMax int
	fileLimit                uint64
	bodyBudgetBytes          int64
	requestReadTimeout       time.Duration
	bigBodyRoutes            []string
}

func newTransport(logger *slog.Logger, config transportConfig) *transport {
	setBodyPoolLimits.Do(func() { fasthttp.SetBodySizePoolLimit(bodyUnreservedBytesMax, responsePoolBytesMax) })
	if config.connectionsMax <= 0 {
		config.connectionsMax = ConnectionsMaxFor(config.fileLimit)
	}
	if config.perIPMax <= 0 {
		config.perIPMax = ConnectionsPerIPMaxFor(config.connectionsMax)
	}
	if config.bodyBudgetBytes <= 0 {
		config.bodyBudgetBytes = BodyBudgetBytesDefault
	}
	if config.requestReadTimeout <= 0 {
		config.requestReadTimeout = RequestReadTimeoutDefault
	}
	return &transport{
		logger: logger, connectionsMax: config.connectionsMax, perIPMax: config.perIPMax,
		fileLimit: config.fileLimit, requestReadTimeout: config.requestReadTimeout,
		bigBodyRoutes: config.bigBodyRoutes,
		perIP:         map[netip.Addr]int{},
		budget:        bodyBudget{max: config.bodyBudgetBytes, held: map[*fasthttp.RequestHeader]reservation{}},
	}
}

// httpServer returns the fasthttp server of handler with the transport's
// limits: Server and ChargeFront share it, so the benchmark's ceiling runs the
// same transport.
func (t *transport) httpServer(handler fasthttp.RequestHandler, ids *requestIDs) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:      handler,
		Name:         "tollway",
		ReadTimeout:  t.requestReadTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  idleTimeout,
		// HeaderReceived sets each request's limit; this one stands for a
		// request it does not see.
		MaxRequestBodySize: RouteBodyBytesMax,
		HeaderReceived:     t.headerReceived,
		// The listener refuses connections over connectionsMax first (it
		// counts them until their descriptor is closed); fasthttp's own
		// limit is the backstop.
		Concurrency:           t.connectionsMax,
		ErrorHandler:          func(ctx *fasthttp.RequestCtx, err error) { t.answerError(ctx, err, ids) },
		Logger:                fasthttpLogger{t.logger},
		SecureErrorLogMessage: true,
		CloseOnShutdown:       true,
	}
}

// connectionStats is what /v1/status and the metrics report.
type connectionStats struct {
	Open      int64  `json:"open"`
	Max       int    `json:"max"`
	PerIPMax  int    `json:"perIPMax"`
	FileLimit uint64 `json:"fileLimit"`
}

func (t *transport) stats() connectionStats {
	return connectionStats{Open: t.open.Load(), Max: t.connectionsMax, PerIPMax: t.perIPMax, FileLimit: t.fileLimit}
}

// ---- accepting connections

// listen wraps ln: connections over the limits are refused with a short
// answer, and accept errors that a wait can cure are retried.
func (t *transport) listen(ln net.Listener) net.Listener {
	return &listener{Listener: ln, t: t, closed: make(chan struct{})}
}

type listener struct {
	net.Listener
	t         *transport
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Accept returns the next connection within the limits. It never returns a
// temporary error: fasthttp's Serve ends on any error but a timeout, and
// running out of descriptors (EMFILE) would end the process.
func (l *listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !retryableAccept(err) {
				return nil, err
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			l.t.acceptFailed(err, backoff)
			timer := time.NewTimer(backoff)
			select {
			case <-l.closed:
				timer.Stop()
				return nil, net.ErrClosed
			case <-timer.C:
			}
			continue
		}
		backoff = 0
		if wrapped := l.t.admit(c); wrapped != nil {
			return wrapped, nil
		}
	}
}

// retryableAccept tells the accept errors that end when descriptors,
// buffers or a half-open connection go away: the server waits and goes on.
func retryableAccept(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	for _, errno := range [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func (t *transport) acceptFailed(err error, backoff time.Duration) {
	t.acceptErrors.Add(1)
	now := time.Now().UnixNano()
	last := t.lastAcceptLog.Load()
	if now-last < int64(acceptErrorLogInterval) || !t.lastAcceptLog.CompareAndSwap(last, now) {
		return
	}
	total := t.acceptErrors.Load()
	since := total - uint64(t.acceptLogged.Swap(int64(total)))
	t.logger.Error("accepting connections failed; retrying", "error", err, "retry_in", backoff,
		"failures_since_last_log", since, "open_connections", t.open.Load(), "file_limit", t.fileLimit)
}

// admit counts c against the limits and wraps it, or answers and closes
// it and returns nil.
func (t *transport) admit(c net.Conn) net.Conn {
	var ip netip.Addr
	if addr, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(addr.IP)
		ip = ip.Unmap()
	}
	t.mu.Lock()
	reason := rejectReason(-1)
	switch {
	case t.open.Load() >= int64(t.connectionsMax):
		reason = rejectConnectionsMax
	case ip.IsValid() && t.perIP[ip] >= t.perIPMax:
		reason = rejectPerIPMax
	default:
		t.open.Add(1)
		if ip.IsValid() {
			t.perIP[ip]++
		}
	}
	t.mu.Unlock()
	if reason >= 0 {
		t.rejected[reason].Add(1)
		_ = c.SetWriteDeadline(time.Now().Add(rejectWriteTimeout))
		_, _ = c.Write(rejectAnswers[reason])
		_ = c.Close()
		return nil
	}
	return &conn{Conn: c, t: t, ip: ip}
}

// rejectAnswers are the answers to connections refused at accept, written
// whole before any request is read, in API.md's error shape.
var rejectAnswers = [rejectReasons][]byte{
	rejectConnectionsMax: rejectAnswer(fasthttp.StatusServiceUnavailable, typeAPI, "too_many_connections",
		"the server has as many connections as it can hold; retry later"),
	rejectPerIPMax: rejectAnswer(fasthttp.StatusTooManyRequests, typeRateLimit, "too_many_connections",
		"too many connections from your address; reuse or close some"),
}

func rejectAnswer(status int, kind, code, message string) []byte {
	body := fmt.Sprintf(`{"error":{"type":%q,"code":%q,"message":%q}}`, kind, code, message)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Retry-After: 1\r\nConnection: close\r\n\r\n%s", status, fasthttp.StatusMessage(status), len(body), body)
}

func (t *transport) release(ip netip.Addr) {
	t.mu.Lock()
	t.open.Add(-1)
	if ip.IsValid() {
		if n := t.perIP[ip] - 1; n > 0 {
			t.perIP[ip] = n
		} else {
			delete(t.perIP, ip)
		}
	}
	t.mu.Unlock()
}

// conn is an admitted connection: it is counted until closed, knows
// whether the client sent anything, and can be closed silently or with a
// lingering close.
type conn struct {
	net.Conn
	t  *transport
	ip netip.Addr
	// sent: the client sent at least one byte. silent: writes are dropped.
	// Both are used only by the connection's own goroutine.
	sent, silent bool
	linger       atomic.Bool
	closeOnce    sync.Once
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.sent = true
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if c.silent {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		if c.linger.Load() {
			c.lingerClose()
		}
		err = c.Conn.Close()
		c.t.release(c.ip)
	})
	return err
}

// lingerClose stops sending (FIN after the answer) and reads what the
// client still sends, up to lingerBytesMax or lingerTimeout, so closing
// does not reset a connection whose answer the client has not read.
func (c *conn) lingerClose() {
	tcp, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return
	}
	if err := tcp.CloseWrite(); err != nil {
		return
	}
	if err := tcp.SetReadDeadline(time.Now().Add(lingerTimeout)); err != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, tcp, lingerBytesMax)
}

// ---- request bodies

// headerReceived sets a request's body limit and, for a body larger than
// bodyUnreservedBytesMax, reserves it from the budget before fasthttp
// allocates it. It runs on every request: a few comparisons unless the
// body is large.
func (t *transport) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if t.budget.pending.Load() != 0 {
		// The previous request read with this header (its connection's) is
		// over.
		t.budget.release(h)
	}
	limit := t.bodyLimit(h)
	size := h.ContentLength()
	if size == -1 { // chunked: it may grow to the limit
		size = limit
	}
	if size <= bodyUnreservedBytesMax || size > limit {
		// Small, or refused as too large before any byte of it is read.
		return fasthttp.RequestConfig{MaxRequestBodySize: limit}
	}
	if !t.budget.reserve(h, int64(size)) {
		// Refused: a limit of one byte fails the read before it allocates;
		// answerError finds the refusal and answers 503.
		return fasthttp.RequestConfig{MaxRequestBodySize: 1}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: limit, ReadTimeout: bodyReadTimeout}
}

// bodyLimit returns the body limit of the request's route.
func (t *transport) bodyLimit(h *fasthttp.RequestHeader) int {
	if len(t.bigBodyRoutes) == 0 {
		return RouteBodyBytesMax
	}
	path := h.RequestURI()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	method := h.Method()
	for _, route := range t.bigBodyRoutes {
		if len(route) == len(method)+1+len(path) && route[:len(method)] == string(method) && route[len(method)+1:] == string(path) {
			return BodyBytesMax
		}
	}
	return RouteBodyBytesMax
}

// requestDone releases the body reservation of ctx's request, if any: the
// handler wrappers call it when a handler returns.
func (t *transport) requestDone(ctx *fasthttp.RequestCtx) {
	if t.budget.pending.Load() != 0 {
		t.budget.release(&ctx.Request.Header)
	}
}

// bodyBudget bounds the bytes of large bodies being read or handled. A
// reservation is keyed by the request header fasthttp reads into: one per
// connection, reused by its next request, which releases it if nothing
// else did.
type bodyBudget struct {
	max     int64
	pending atomic.Int32 // len(held), read without the lock
	mu      sync.Mutex
	used    int64
	held    map[*fasthttp.RequestHeader]reservation
}

// reservation is bytes held until expires; bytes 0 marks a request refused
// for want of budget.
type reservation struct {
	bytes   int64
	expires time.Time
}

func (b *bodyBudget) reserve(h *fasthttp.RequestHeader, n int64) bool {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		b.reclaimExpired(now)
	}
	ok := b.used+n <= b.max
	r := reservation{expires: now.Add(bodyReservationLifetimeMax)}
	if ok {
		r.bytes = n
		b.used += n
	}
	b.held[h] = r
	b.pending.Store(int32(len(b.held)))
	return ok
}

func (b *bodyBudget) reclaimExpired(now time.Time) {
	for h, r := range b.held {
		if now.After(r.expires) {
			b.used -= r.bytes
			delete(b.held, h)
		}
	}
}

// release ends h's reservation and reports whether it was a refusal.
func (b *bodyBudget) release(h *fasthttp.RequestHeader) (refused bool) {
	b.mu.Lock()
	r, ok := b.held[h]
	if ok {
		b.used -= r.bytes
		delete(b.held, h)
		b.pending.Store(int32(len(b.held)))
	}
	b.mu.Unlock()
	return ok && r.bytes == 0
}

func (b *bodyBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// bodyTooLarge is the answer to a body over its route's limit.
func bodyTooLarge(limit int) *apiError {
	return &apiError{status: fasthttp.StatusBadRequest, kind: typeInvalidRequest, code: "body_too_large",
		message: fmt.Sprintf("the body exceeds %d bytes, this route's limit", limit)}
}

// errBodyBudget is the answer to a large body the budget cannot hold now.
var errBodyBudget = &apiError{status: fasthttp.StatusServiceUnavailable, kind: typeAPI, code: "server_busy",
	message: "the server is reading as many large bodies as it can hold; retry shortly", retryAfter: 1}

// ---- errors before a handler

// answerError answers a request fasthttp could not read: too large, over
// the budget, malformed, or too slow. A connection on which the client
// sent nothing (opened and left idle past the read timeout) is closed
// without a word: an unasked-for answer would be read as the answer to the
// next request a client pool sends on it. An answered connection is closed
// lingering, as the client may still be sending a body.
func (t *transport) answerError(ctx *fasthttp.RequestCtx, err error, ids *requestIDs) {
	refused := t.budget.pending.Load() != 0 && t.budget.release(&ctx.Request.Header)
	c, _ := ctx.Conn().(*conn)
	if c != nil && !c.sent {
		c.silent = true
		t.refusals[refusalUnanswered].Add(1)
		return
	}
	if t.logger.Enabled(ctx, slog.LevelDebug) {
		t.logger.Debug("request not read", "remote", ctx.RemoteAddr().String(), "error", redactSecrets(err.Error()))
	}
	if c != nil {
		c.linger.Store(true)
	}
	call := call{route: "transport"}
	var buf [40]byte
	call.requestID = ids.next(buf[:0])
	ctx.Response.Header.SetBytesV("X-Request-Id", call.requestID)
	apiErr, reason := invalid("malformed_request", "the HTTP request could not be read"), refusalMalformed
	switch {
	case refused:
		apiErr, reason = errBodyBudget, refusalBodyBudget
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		apiErr, reason = bodyTooLarge(t.bodyLimit(&ctx.Request.Header)), refusalBodyTooLarge
	}
	t.refusals[reason].Add(1)
	writeError(t.logger, ctx, &call, apiErr)
}

// ---- logs

// fasthttpLogger writes fasthttp's messages at debug level, with
// credentials cut out: they can quote a request's headers.
type fasthttpLogger struct{ logger *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.logger.Debug("fasthttp", "message", redactSecrets(fmt.Sprintf(format, args...)))
}

// secretPattern matches what must never reach a log: the value of an
// Authorization header, a bearer token, and Tollway's tokens by their
// prefixes (API keys, refresh tokens, admin tokens, JWTs).
var secretPattern = regexp.MustCompile(`(?i)(authorization:)[^\r\n"\\]*|bearer\s+[^\s"\\]+|\b(sk_(test|live)_|rt_|adm_)[A-Za-z0-9_]+|\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-.]+`)

// redactSecrets replaces every secret in s with "[redacted]", keeping an
// Authorization header's name.
func redactSecrets(s string) string {
	return secretPattern.ReplaceAllStringFunc(s, func(match string) string {
		const header = "authorization:"
		if len(match) >= len(header) && strings.EqualFold(match[:len(header)], header) {
			return match[:len(header)] + " [redacted]"
		}
		return "[redacted]"
	})
}
