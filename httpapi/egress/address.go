package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrNotPublic means a target address is one Tollway must not connect to
// on a user's behalf. It is wrapped with the address and why.
var ErrNotPublic = errors.New("egress: address is not public")

// blockedRange is a range of addresses that are not public, with the name
// an error gives it.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges lists every range CheckAddr refuses, IPv4 ranges matched
// against the IPv4 address an IPv6 form embeds too. Documentation and
// benchmarking ranges are refused although nothing public lives there:
// they route nowhere on the internet, so the only place they can reach is
// a network somebody set up locally. Teredo (2001::/32) is not unpacked:
// its embedded client address is an external NAT address.
var blockedRanges = []blockedRange{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network (0.0.0.0/8)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (10.0.0.0/8)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared carrier-grade NAT (100.64.0.0/10)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (127.0.0.0/8)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (169.254.0.0/16, cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (172.16.0.0/12)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (192.0.2.0/24)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast (192.88.99.0/24)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (192.168.0.0/16)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (198.51.100.0/24)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (203.0.113.0/24)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast (224.0.0.0/4)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast (240.0.0.0/4)"},

	{netip.MustParsePrefix("::/128"), "unspecified (::)"},
	{netip.MustParsePrefix("::1/128"), "loopback (::1)"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6 (::/96, deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"},
	{netip.MustParsePrefix("100::/64"), "discard-only (100::/64)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (2001:db8::/32)"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (fc00::/7)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local (fe80::/10)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (fec0::/10, deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast (ff00::/8)"},
}

var (
	// nat64Prefix is the well-known NAT64 prefix (RFC 6052): a NAT64
	// gateway connects to the IPv4 address in the last 32 bits.
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFourPrefix is 6to4 (RFC 3056): bits 16 to 48 are an IPv4
	// address a relay sends to.
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
)

// CheckAddr returns nil if a is a public unicast address, and otherwise
// an error wrapping ErrNotPublic that names the range a is in. An IPv6
// address that stands for an IPv4 one (IPv4-mapped, NAT64, 6to4) is judged
// by the IPv4 address too, since that is where a connection to it goes.
// A zoned address (fe80::1%eth0) is refused: a zone names a local
// interface, which no public target needs.
func CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrNotPublic)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%w: %v is scoped to interface %q", ErrNotPublic, a, a.Zone())
	}
	if reason := blockedReason(a); reason != "" {
		return fmt.Errorf("%w: %v is %s", ErrNotPublic, a, reason)
	}
	embedded, form := embeddedIPv4(a)
	if !embedded.IsValid() {
		return nil
	}
	if reason := blockedReason(embedded); reason != "" {
		return fmt.Errorf("%w: %v is %s of %v, %s", ErrNotPublic, a, form, embedded, reason)
	}
	return nil
}

// blockedReason returns the name of the blocked range a is in, or "".
// NB: an IPv4 prefix does not contain an IPv4-mapped IPv6 address;
// CheckAddr unpacks those with embeddedIPv4.
func blockedReason(a netip.Addr) string {
	for _, blocked := range blockedRanges {
		if blocked.prefix.Contains(a) {
			return blocked.reason
		}
	}
	if a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address an IPv6 address stands for, and
// the name of the form, or the zero Addr if it stands for none.
func embeddedIPv4(a netip.Addr) (netip.Addr, string) {
	if !a.Is6() {
		return netip.Addr{}, ""
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		return a.Unmap(), "the IPv4-mapped form"
	case nat64Prefix.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), "the NAT64 form"
	case sixToFourPrefix.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "the 6to4 form"
	}
	return netip.Addr{}, ""
}
