package siwe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

const (
	// textBytesMax bounds the message Parse accepts. A real message is a few
	// hundred bytes; the bound keeps a hostile body from costing more than
	// one small scan, and the signed hash from covering megabytes.
	textBytesMax = 4096
	// nonceLengthMin is EIP-4361's "at least 8 alphanumeric characters".
	nonceLengthMin = 8
	// versionOne is the only version EIP-4361 defines.
	versionOne = "1"

	headerSuffix        = " wants you to sign in with your Ethereum account:"
	prefixURI           = "URI: "
	prefixVersion       = "Version: "
	prefixChainID       = "Chain ID: "
	prefixNonce         = "Nonce: "
	prefixIssuedAt      = "Issued At: "
	prefixExpiration    = "Expiration Time: "
	prefixNotBefore     = "Not Before: "
	prefixRequestID     = "Request ID: "
	lineResources       = "Resources:"
	prefixResource      = "- "
	descriptionAddress  = "address"
	descriptionIssuedAt = "issued at"
)

// Message is an EIP-4361 message. The zero value of an optional field means
// the field is absent, which is why Parse refuses the forms EIP-4361 allows
// but this type cannot tell from absence: an empty statement line, an empty
// request id and a "Resources:" line with no resource under it.
type Message struct {
	Domain         string         // RFC 3986 authority, e.g. "127.0.0.1:8080" or "example.com"
	Address        common.Address // rendered EIP-55 checksummed
	Statement      string         // optional, one line, no "\n"
	URI            string         // RFC 3986 URI, e.g. "http://127.0.0.1:8080"
	Version        string         // must be "1"
	ChainID        uint64
	Nonce          string    // at least 8 alphanumeric characters
	IssuedAt       time.Time // rendered in UTC
	ExpirationTime time.Time // zero = absent
	NotBefore      time.Time // zero = absent
	RequestID      string    // optional
	Resources      []string  // optional URIs
}

// String renders m as the exact EIP-4361 text, the bytes a wallet signs.
// Times are written in UTC with a "Z" and only as many fractional digits as
// they need, so every instant Parse accepts renders back to the same
// instant. NB: String does not check m; a message Parse did not produce can
// render to text Parse refuses.
func (m *Message) String() string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(m.Domain)
	b.WriteString(headerSuffix + "\n")
	b.WriteString(m.Address.Hex())
	b.WriteString("\n\n")
	if m.Statement != "" {
		b.WriteString(m.Statement)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString(prefixURI + m.URI + "\n")
	b.WriteString(prefixVersion + m.Version + "\n")
	b.WriteString(prefixChainID + strconv.FormatUint(m.ChainID, 10) + "\n")
	b.WriteString(prefixNonce + m.Nonce + "\n")
	b.WriteString(prefixIssuedAt + formatTime(m.IssuedAt))
	if !m.ExpirationTime.IsZero() {
		b.WriteString("\n" + prefixExpiration + formatTime(m.ExpirationTime))
	}
	if !m.NotBefore.IsZero() {
		b.WriteString("\n" + prefixNotBefore + formatTime(m.NotBefore))
	}
	if m.RequestID != "" {
		b.WriteString("\n" + prefixRequestID + m.RequestID)
	}
	if len(m.Resources) > 0 {
		b.WriteString("\n" + lineResources)
		for _, resource := range m.Resources {
			b.WriteString("\n" + prefixResource + resource)
		}
	}
	return b.String()
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Parse reads text as an EIP-4361 message, strictly: the ABNF's lines in
// its order, nothing before, between or after them (not even a final
// newline), every field checked against its rule. A scheme before the domain
// is refused, as Message has nowhere to keep it. Every error wraps
// ErrMalformed.
func Parse(text string) (Message, error) {
	if len(text) > textBytesMax {
		return Message{}, fmt.Errorf("%w: message is %d bytes, more than %d", ErrMalformed, len(text), textBytesMax)
	}
	r := lineReader{lines: strings.Split(text, "\n")}
	var m Message
	for _, step := range []func(*lineReader, *Message) error{parsePreamble, parseRequired, parseOptional} {
		if err := step(&r, &m); err != nil {
			return Message{}, fmt.Errorf("%w: line %d: %w", ErrMalformed, r.next, err)
		}
	}
	if r.next < len(r.lines) {
		return Message{}, fmt.Errorf("%w: line %d: unexpected line", ErrMalformed, r.next+1)
	}
	return m, nil
}

// lineReader hands out the message's lines in order. Its methods return
// plain errors that Parse wraps with ErrMalformed and the line number.
type lineReader struct {
	lines []string
	next  int // index of the next line; also the 1-based number of the last one taken
}

func (r *lineReader) take(description string) (string, error) {
	if r.next >= len(r.lines) {
		return "", fmt.Errorf("missing %s", description)
	}
	r.next++
	return r.lines[r.next-1], nil
}

// field takes the next line, which must be prefix followed by a value.
func (r *lineReader) field(prefix string) (string, error) {
	line, err := r.take(strings.TrimSuffix(prefix, " "))
	if err != nil {
		return "", err
	}
	value, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return "", fmt.Errorf("want %q", prefix)
	}
	return value, nil
}

// optionalField takes the next line if it starts with prefix.
func (r *lineReader) optionalField(prefix string) (string, bool) {
	if r.next >= len(r.lines) || !strings.HasPrefix(r.lines[r.next], prefix) {
		return "", false
	}
	r.next++
	return r.lines[r.next-1][len(prefix):], true
}

func (r *lineReader) blank() error {
	line, err := r.take("blank line")
	if err == nil && line != "" {
		err = errors.New("want a blank line")
	}
	return err
}

// parsePreamble reads the domain line, the address, and the statement
// between its two blank lines.
func parsePreamble(r *lineReader, m *Message) error {
	header, err := r.take("header")
	if err != nil {
		return err
	}
	domain, ok := strings.CutSuffix(header, headerSuffix)
	switch {
	case !ok:
		return fmt.Errorf("want %q at the end of the first line", headerSuffix)
	case strings.Contains(domain, "://"):
		return errors.New("a scheme before the domain is not supported")
	case !isAuthority(domain, true):
		return errors.New("domain is not an RFC 3986 authority")
	}
	m.Domain = domain
	line, err := r.take(descriptionAddress)
	if err != nil {
		return err
	}
	if m.Address, err = parseAddress(line); err != nil {
		return err
	}
	if err := r.blank(); err != nil {
		return err
	}
	if r.next < len(r.lines) && r.lines[r.next] != "" {
		statement, _ := r.take("statement")
		if !isStatement(statement) {
			return errors.New("statement has a character EIP-4361 does not allow")
		}
		m.Statement = statement
	}
	return r.blank()
}

// parseAddress accepts only the EIP-55 checksummed spelling, so a typo in
// one character cannot name a different account unnoticed.
func parseAddress(s string) (common.Address, error) {
	if !strings.HasPrefix(s, "0x") || !common.IsHexAddress(s) {
		return common.Address{}, errors.New("address is not 0x and 40 hex digits")
	}
	address := common.HexToAddress(s)
	if address.Hex() != s {
		return common.Address{}, errors.New("address is not in EIP-55 checksum case")
	}
	return address, nil
}

// parseRequired reads the fields every message has, URI to Issued At.
func parseRequired(r *lineReader, m *Message) error {
	var err error
	if m.URI, err = r.field(prefixURI); err != nil {
		return err
	}
	if !isURI(m.URI) {
		return errors.New("URI is not an RFC 3986 URI")
	}
	if m.Version, err = r.field(prefixVersion); err != nil {
		return err
	}
	if m.Version != versionOne {
		return fmt.Errorf("version is not %q", versionOne)
	}
	chainID, err := r.field(prefixChainID)
	if err != nil {
		return err
	}
	if m.ChainID, err = parseChainID(chainID); err != nil {
		return err
	}
	if m.Nonce, err = r.field(prefixNonce); err != nil {
		return err
	}
	if !isNonce(m.Nonce) {
		return fmt.Errorf("nonce is not %d or more letters and digits", nonceLengthMin)
	}
	issuedAt, err := r.field(prefixIssuedAt)
	if err != nil {
		return err
	}
	m.IssuedAt, err = parseTime(descriptionIssuedAt, issuedAt)
	return err
}

// parseChainID refuses leading zeros and signs so that each chain id has
// one spelling, the one String writes.
func parseChainID(s string) (uint64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' || len(s) > 1 && s[0] == '0' {
		return 0, errors.New("chain id is not a decimal number without leading zeros")
	}
	chainID, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("chain id is not a 64-bit unsigned number")
	}
	return chainID, nil
}

// parseTime reads an RFC 3339 date-time as UTC. It refuses instants whose
// UTC year leaves 0000–9999, which String could not write back as RFC 3339.
func parseTime(description, s string) (time.Time, error) {
	if !isDateTime(s) {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 date-time", description)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 date-time", description)
	}
	t = t.UTC()
	if year := t.Year(); year < 0 || year > 9999 {
		return time.Time{}, fmt.Errorf("%s is outside the years 0000 to 9999 in UTC", description)
	}
	return t, nil
}

// parseOptional reads the optional fields in the ABNF's order. A field out
// of order is left unread, and Parse refuses it as an unexpected line.
func parseOptional(r *lineReader, m *Message) error {
	var err error
	if value, ok := r.optionalField(prefixExpiration); ok {
		if m.ExpirationTime, err = parseOptionalTime("expiration time", value); err != nil {
			return err
		}
	}
	if value, ok := r.optionalField(prefixNotBefore); ok {
		if m.NotBefore, err = parseOptionalTime("not before", value); err != nil {
			return err
		}
	}
	if value, ok := r.optionalField(prefixRequestID); ok {
		if !isRequestID(value) {
			return errors.New("request id is empty or not RFC 3986 pchar")
		}
		m.RequestID = value
	}
	if r.next >= len(r.lines) || r.lines[r.next] != lineResources {
		return nil
	}
	r.next++
	for r.next < len(r.lines) {
		resource, err := r.field(prefixResource)
		if err != nil {
			return err
		}
		if !isURI(resource) {
			return errors.New("resource is not an RFC 3986 URI")
		}
		m.Resources = append(m.Resources, resource)
	}
	if len(m.Resources) == 0 {
		return errors.New("resources line lists no resource")
	}
	return nil
}

// parseOptionalTime refuses the zero instant, which Message uses to mean
// "absent": a present field must stay present when rendered again.
func parseOptionalTime(description, s string) (time.Time, error) {
	t, err := parseTime(description, s)
	if err == nil && t.IsZero() {
		err = fmt.Errorf("%s is the zero time, which means absent", description)
	}
	return t, err
}
