package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

const (
	// URLLengthMax bounds the URL CheckURL accepts: an upstream or webhook
	// base URL is short, and a stored URL is copied into every request.
	URLLengthMax = 2048
	// DialTimeoutDefault is the dial timeout when a caller passes none, so
	// a black-holed address cannot hold a goroutine for the kernel's
	// minutes-long connect timeout.
	DialTimeoutDefault = 10 * time.Second
	// dialAddressesMax bounds the addresses one dial tries in turn: a name
	// with hundreds of records must not turn one dial into hundreds.
	dialAddressesMax = 8
)

// The errors CheckURL and the dialers return besides ErrNotPublic,
// matched with errors.Is.
var (
	// ErrURL means the URL is not one Tollway connects to: not http or
	// https, no host, user information, too long, or a bad port.
	ErrURL = errors.New("egress: invalid target URL")
	// ErrResolve means the host did not resolve to any address.
	ErrResolve = errors.New("egress: cannot resolve host")
)

// Resolver looks up the addresses of a host; *net.Resolver is one, and
// tests pass a fake.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy is the rule for outgoing connections to user-configured targets.
// The zero value refuses non-public addresses and resolves with
// net.DefaultResolver. REQUIRES: a Policy is not changed after first
// use; it is then safe for concurrent use.
type Policy struct {
	// AllowPrivate turns the address check off (--allow-private-targets):
	// for local development and tests, whose upstreams listen on
	// 127.0.0.1. URLs must still be http or https.
	AllowPrivate bool
	// Resolver resolves hosts for CheckURL and the dialers; nil means
	// net.DefaultResolver.
	Resolver Resolver
}

func (p *Policy) resolver() Resolver {
	if p.Resolver == nil {
		return net.DefaultResolver
	}
	return p.Resolver
}

// CheckURL parses raw and returns it if Tollway may send requests there:
// http or https, a host, no user information, at most URLLengthMax bytes,
// a port (if any) in 1..65535 and, unless AllowPrivate, a host that is a
// public IP literal or a name all of whose addresses are public. The
// caller names the field in its 400. NB: the answer holds for the moment
// of the lookup only; connections must also go through Control.
func (p *Policy) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	if p.AllowPrivate {
		return u, nil
	}
	if _, err := p.resolve(ctx, "ip", u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// parseURL checks the form of raw, without resolving anything.
func parseURL(raw string) (*url.URL, error) {
	if len(raw) > URLLengthMax {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrURL, len(raw), URLLengthMax)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q, want http or https", ErrURL, u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user information in the URL", ErrURL)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: port %q", ErrURL, port)
		}
	}
	return u, nil
}

// resolve returns host's addresses of the given IP network ("ip", "ip4"
// or "ip6"), an IP literal without a lookup, refusing the lot if any is
// not public and AllowPrivate is off.
func (p *Policy) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if literal, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{literal}
	} else {
		addrs, err = p.resolver().LookupNetIP(ctx, network, host)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrResolve, host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%w: %q has no %s address", ErrResolve, host, network)
		}
	}
	if p.AllowPrivate {
		return addrs, nil
	}
	for _, a := range addrs {
		if err := CheckAddr(a); err != nil {
			return nil, fmt.Errorf("host %q: %w", host, err)
		}
	}
	return addrs, nil
}

// Control refuses a connection to a non-public address unless
// AllowPrivate; it has the signature of net.Dialer.Control, which runs it
// after resolution and before connect, so it sees the address actually
// dialled. An address it cannot parse is refused.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	target, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q: %v", ErrNotPublic, address, err)
	}
	return CheckAddr(target.Addr())
}

// DialContext connects to address ("host:port") over network ("tcp",
// "tcp4" or "tcp6"): it resolves the host with the policy's resolver,
// refuses if any address is not public (as CheckURL does), and dials the
// addresses in turn, at most dialAddressesMax of them, through a
// net.Dialer whose Control checks each again. It fits
// http.Transport.DialContext.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var ipNetwork string
	switch network {
	case "tcp":
		ipNetwork = "ip"
	case "tcp4":
		ipNetwork = "ip4"
	case "tcp6":
		ipNetwork = "ip6"
	default:
		return nil, fmt.Errorf("egress: dial %s %s: network not supported, want tcp", network, address)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", address, err)
	}
	addrs, err := p.resolve(ctx, ipNetwork, host)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", address, err)
	}
	addrs = addrs[:min(len(addrs), dialAddressesMax)]
	dialer := net.Dialer{Control: p.Control}
	var errs []error
	for i, a := range addrs {
		attemptCtx, cancel := attemptContext(ctx, len(addrs)-i)
		conn, err := dialer.DialContext(attemptCtx, network, net.JoinHostPort(a.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("egress: dial %s: %w", address, errors.Join(errs...))
}

// attemptMin is the least time one address gets when a dial's time is
// shared among several, as the net package's own dialer does.
const attemptMin = 2 * time.Second

// attemptContext gives one of addressesLeft attempts its share of ctx's
// remaining time (attemptTimeout).
func attemptContext(ctx context.Context, addressesLeft int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, attemptTimeout(time.Until(deadline), addressesLeft))
}

// attemptTimeout shares remaining equally among addressesLeft attempts,
// giving each at least attemptMin and at most all of it, so an address
// that drops packets does not use up the time of the ones after it (an
// unreachable IPv6 address before a working IPv4 one).
func attemptTimeout(remaining time.Duration, addressesLeft int) time.Duration {
	if addressesLeft <= 1 {
		return remaining
	}
	return max(remaining/time.Duration(addressesLeft), min(attemptMin, remaining))
}

// DialTimeout is DialContext over "tcp" with a timeout (DialTimeoutDefault
// if timeout is not positive). It has the type of fasthttp's
// DialFuncWithTimeout, so HostClient{DialTimeout: policy.DialTimeout}
// dials through the policy and within the request's deadline.
func (p *Policy) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = DialTimeoutDefault
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.DialContext(ctx, "tcp", addr)
}

// DialFunc returns a dial function of fasthttp's DialFunc type that dials
// through the policy with the given timeout, for clients that take a
// DialFunc (the webhook deliverer).
func (p *Policy) DialFunc(timeout time.Duration) func(addr string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		return p.DialTimeout(addr, timeout)
	}
}
