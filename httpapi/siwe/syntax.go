package siwe

import (
	"net/netip"
	"strings"
)

// This file checks the RFC 3986 and RFC 3339 rules the EIP-4361 ABNF refers
// to. Every check is a pure function over ASCII: a byte outside ASCII, a
// space where none is allowed, a CR or a LF is rejected, which is what keeps
// one field on one line and so lets Parse split the text by lines.

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUnreserved reports RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("-._~", c) >= 0
}

// isSubDelim reports RFC 3986 sub-delims.
func isSubDelim(c byte) bool { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }

// isGenDelim reports RFC 3986 gen-delims.
func isGenDelim(c byte) bool { return strings.IndexByte(":/?#[]@", c) >= 0 }

// isStatement reports whether s is a non-empty EIP-4361 statement:
// *( reserved / unreserved / " " ). An empty statement is refused because
// the Message type cannot tell it from an absent one.
func isStatement(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreserved(c) && !isSubDelim(c) && !isGenDelim(c) && c != ' ' {
			return false
		}
	}
	return true
}

// isNonce reports whether s is an EIP-4361 nonce: 8*( ALPHA / DIGIT ).
func isNonce(s string) bool {
	if len(s) < nonceLengthMin {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isPercentRun reports whether the byte at s[i] is "%" followed by two hex
// digits, the RFC 3986 pct-encoded rule.
func isPercentRun(s string, i int) bool {
	return s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2])
}

// isCharsOf reports whether s consists of bytes that allowed accepts and of
// pct-encoded triplets.
func isCharsOf(s string, allowed func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		switch {
		case allowed(s[i]):
		case isPercentRun(s, i):
			i += 2
		default:
			return false
		}
	}
	return true
}

// isPchar reports RFC 3986 pchar, less pct-encoded (isCharsOf adds it).
func isPchar(c byte) bool {
	return isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@'
}

func isPathChar(c byte) bool { return isPchar(c) || c == '/' }

func isQueryChar(c byte) bool { return isPchar(c) || c == '/' || c == '?' }

func isUserInfoChar(c byte) bool { return isUnreserved(c) || isSubDelim(c) || c == ':' }

func isRegNameChar(c byte) bool { return isUnreserved(c) || isSubDelim(c) }

// isRequestID reports whether s is a non-empty EIP-4361 request-id, *pchar.
// An empty one is refused because the Message type cannot tell it from an
// absent one.
func isRequestID(s string) bool { return s != "" && isCharsOf(s, isPchar) }

// isScheme reports RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isAuthority reports RFC 3986 authority: [ userinfo "@" ] host [ ":" port ].
// hostRequired refuses an empty host, which RFC 3986 allows ("file:///") but
// which names no site to sign in to.
func isAuthority(s string, hostRequired bool) bool {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if !isCharsOf(s[:at], isUserInfoChar) {
			return false
		}
		s = s[at+1:]
	}
	host, port := s, ""
	if end := strings.LastIndexByte(s, ']'); strings.HasPrefix(s, "[") && end > 0 {
		host, port = s[:end+1], s[end+1:]
	} else if colon := strings.IndexByte(s, ':'); colon >= 0 {
		host, port = s[:colon], s[colon:]
	}
	if port != "" {
		if port[0] != ':' || strings.IndexFunc(port[1:], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return false
		}
	}
	if hostRequired && host == "" {
		return false
	}
	if strings.HasPrefix(host, "[") {
		return isIPLiteral(host)
	}
	return isCharsOf(host, isRegNameChar)
}

// isIPLiteral reports RFC 3986 IP-literal: "[" ( IPv6address / IPvFuture ) "]".
func isIPLiteral(s string) bool {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	if strings.HasPrefix(inner, "v") || strings.HasPrefix(inner, "V") {
		return isIPvFuture(inner)
	}
	// RFC 3986 has no zone identifiers, and netip accepts "%zone", so the
	// character check comes first.
	if strings.IndexFunc(inner, func(r rune) bool { return !(r == ':' || r == '.' || r < 128 && isHexDigit(byte(r))) }) >= 0 {
		return false
	}
	address, err := netip.ParseAddr(inner)
	return err == nil && address.Is6()
}

// isIPvFuture reports RFC 3986 IPvFuture:
// "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
func isIPvFuture(s string) bool {
	dot := strings.IndexByte(s, '.')
	if dot < 2 || dot == len(s)-1 {
		return false
	}
	for i := 1; i < dot; i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	for i := dot + 1; i < len(s); i++ {
		if !isUserInfoChar(s[i]) {
			return false
		}
	}
	return true
}

// isURI reports RFC 3986 URI:
// scheme ":" hier-part [ "?" query ] [ "#" fragment ].
// Every form of hier-part other than "//" authority path-abempty is a run of
// pchar and "/" that does not start with "//", so one character check
// covers path-absolute, path-rootless and path-empty.
func isURI(s string) bool {
	if hash := strings.IndexByte(s, '#'); hash >= 0 {
		if !isCharsOf(s[hash+1:], isQueryChar) {
			return false
		}
		s = s[:hash]
	}
	if question := strings.IndexByte(s, '?'); question >= 0 {
		if !isCharsOf(s[question+1:], isQueryChar) {
			return false
		}
		s = s[:question]
	}
	colon := strings.IndexByte(s, ':')
	if colon < 0 || !isScheme(s[:colon]) {
		return false
	}
	rest := s[colon+1:]
	if authority, ok := strings.CutPrefix(rest, "//"); ok {
		end := strings.IndexByte(authority, '/')
		if end < 0 {
			end = len(authority)
		}
		if !isAuthority(authority[:end], false) {
			return false
		}
		rest = authority[end:]
	}
	return isCharsOf(rest, isPathChar)
}

// isDateTime reports whether s has the shape of an RFC 3339 date-time,
// "2006-01-02T15:04:05[.digits](Z|±hh:mm)", with the offset in range.
// time.Parse alone is not enough: it also takes a one-digit hour and a comma
// before the fraction, which RFC 3339 does not. Ranges of the date and time
// are left to time.Parse. NB: RFC 3339 allows a lowercase "t" and "z"; this
// refuses them, as String never writes them.
func isDateTime(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' && !isDigit(s[i]) || shape[i] != 'd' && s[i] != shape[i] {
			return false
		}
	}
	s = s[len(shape):]
	if strings.HasPrefix(s, ".") {
		digits := 1
		for digits < len(s) && isDigit(s[digits]) {
			digits++
		}
		if digits == 1 {
			return false
		}
		s = s[digits:]
	}
	if s == "Z" {
		return true
	}
	return len(s) == len("+07:00") && (s[0] == '+' || s[0] == '-') &&
		isDigit(s[1]) && isDigit(s[2]) && s[3] == ':' && isDigit(s[4]) && isDigit(s[5]) &&
		(s[1]-'0')*10+(s[2]-'0') < 24 && s[4] < '6'
}
