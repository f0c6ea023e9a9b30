package httpapi

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/tollway/tollway/engine"
)

// Limits of request decoding.
const (
	// smallObjectFields is the most fields of an object whose duplicates are
	// found without a map.
	smallObjectFields = 16
	// BodyBytesMax bounds the body of a batch (the transport's limit of
	// POST /v1/charges/batch; other routes have RouteBodyBytesMax), and of
	// any body parseObject reads.
	BodyBytesMax = 1 << 20
	// FieldErrorsMax bounds the fields one validation error names.
	FieldErrorsMax = 32
	// stringBytesMax bounds any string field not given its own limit.
	stringBytesMax = 1024
)

// amountMax is the largest amount of one operation (engine.AmountPerOperationMax).
var amountMax = engine.NewAmount(^uint64(0))

var parsers fastjson.ParserPool

// reader decodes one JSON object strictly: every field it is asked for is
// type-checked, every field it was not asked for is an error, and failures
// are collected per field (with its path, such as "rateLimit.requests") so
// one 400 names them all.
//
// Hand-written for the hot path: the readers parseObject returns are
// pooled with their parser, the fields seen live in the reader up to
// seenInline of them, and the map of errors is made on the first failure,
// so that decoding a valid charge allocates only the strings it returns
// (BenchmarkChargeAllocs: 6 allocations fewer per HTTP charge).
type reader struct {
	object   *fastjson.Object
	seen     []string // the fields asked for: few, so a slice (in seenInline first)
	children []*reader

	// Where the object is, for error paths, made into text only on failure:
	// parent's path, then name, then [index] when index >= 0.
	parent *reader
	name   string
	index  int

	// Of the root reader only: the failures of it and its nested readers
	// (nil until the first), and the parser its values belong to.
	errors map[string]string
	parser *fastjson.Parser

	seenInline [seenInlineFields]string
}

// seenInlineFields is how many fields a reader holds without allocating:
// the most any object of the API has is 7 (a key's).
const seenInlineFields = 8

// readers recycles the root readers parseObject returns.
var readers = sync.Pool{New: func() any { return new(reader) }}

// root returns the reader whose errors r's failures go to.
func (r *reader) root() *reader {
	for r.parent != nil {
		r = r.parent
	}
	return r
}

// release returns a reader from parseObject, and its parser, to their pools:
// neither it nor the values it read may be used after. The strings it
// returned are copies, and an error from finish keeps its map.
func (r *reader) release() {
	parsers.Put(r.parser)
	*r = reader{}
	readers.Put(r)
}

// path returns the prefix of the reader's field names in errors, such as
// "charges[3]." or "rateLimit.".
func (r *reader) path() string {
	if r.parent == nil {
		return ""
	}
	path := r.parent.path() + r.name
	if r.index >= 0 {
		path += "[" + strconv.Itoa(r.index) + "]"
	}
	return path + "."
}

func (r *reader) markSeen(name string) {
	if !r.wasSeen(name) {
		r.seen = append(r.seen, name)
	}
}

func (r *reader) wasSeen(name string) bool {
	for _, seen := range r.seen {
		if seen == name {
			return true
		}
	}
	return false
}

// parseObject parses body as one JSON object. The reader's release must be
// called once its values are no longer used.
func parseObject(body []byte) (*reader, *apiError) {
	if len(body) > BodyBytesMax {
		return nil, bodyTooLarge(BodyBytesMax)
	}
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, invalid("malformed_json", "the body is not valid JSON")
	}
	if message := checkText(body); message != "" {
		return nil, invalid("malformed_json", message)
	}
	parser := parsers.Get()
	value, err := parser.ParseBytes(body)
	if err != nil {
		parsers.Put(parser)
		return nil, invalid("malformed_json", "the body is not valid JSON")
	}
	object, err := value.Object()
	if err != nil {
		parsers.Put(parser)
		return nil, invalid("malformed_json", "the body must be a JSON object")
	}
	r := readers.Get().(*reader)
	r.object, r.parser, r.index = object, parser, -1
	r.seen = r.seenInline[:0]
	r.checkDuplicates()
	return r, nil
}

// checkText finds, in one pass over a body fastjson has validated, what
// fastjson's validator lets through but a strict reader must refuse:
//   - bytes that are not UTF-8: RFC 8259 (section 8.1) requires UTF-8, and
//     fastjson passes the bytes on where encoding/json makes each a U+FFFD;
//   - a raw control character (U+0000 to U+001F) in a string that holds an
//     escape: RFC 8259 (section 7) requires it escaped, and encoding/json
//     refuses it, but fastjson's validator (v1.6.10) checks such a string
//     only after its last escape (a string without escapes it checks whole);
//   - a \u escape of half a UTF-16 surrogate pair without its other half
//     ("\ud800", "\udc00", "\ud800\u0041"): fastjson keeps a lone one as its
//     six characters and swallows the escape after a high one, where
//     encoding/json makes each a U+FFFD, so one body would mean two things.
//     I-JSON (RFC 7493, section 2.1) forbids them.
//
// It returns the message of the error, or "" if body passes.
//
// NB: each is malformed_json, never a validation_failed naming a field: it
// is a fault of the text, found before any field is read, and it is refused
// in names (metadata keys) and in fields nobody reads as well. After this,
// every string fastjson decodes is valid UTF-8 and what encoding/json reads.
//
// REQUIRES: fastjson.ValidateBytes(body) passed. Then a backslash appears
// only in a string, where it starts an escape, and the escapes are complete;
// the scan stays in bounds regardless.
func checkText(body []byte) string {
	const control = "the body is not valid JSON: a control character (U+0000 to U+001F) in a string must be escaped"
	if !utf8.Valid(body) {
		return "the body is not valid UTF-8"
	}
	// Each escape is skipped whole (the second backslash of "\\" too), so a
	// search for the next backslash finds the next escape. The search runs
	// at memchr speed; only the strings that hold escapes are read byte by
	// byte.
	end := 0 // Where the text after the last escape starts.
	for {
		next := bytes.IndexByte(body[end:], '\\')
		if next < 0 {
			break
		}
		if rawControl(body[end:end+next], end > 0, true) {
			return control
		}
		letter := end + next + 1
		end = min(letter+1, len(body))
		// Only \uD800 to \uDFFF matter; the test of the first digit is cheap.
		if letter+1 < len(body) && body[letter] == 'u' && body[letter+1]|0x20 == 'd' {
			last, ok := unicodeEscape(body, letter)
			if !ok {
				return "the body is not valid JSON: a string holds half a UTF-16 surrogate pair (\\ud800 to \\udfff) without its other half"
			}
			end = last + 1
		}
	}
	if end > 0 && rawControl(body[end:], true, false) {
		return control
	}
	return ""
}

// rawControl reports whether text, which lies between escapes (it holds no
// backslash), holds a control character inside a string: in its head, up
// to its first quote, if it starts in a string; in its tail, after its last
// quote, if it ends in one. Between the two lie only what separates strings
// and whole strings without escapes, which fastjson's validator checks.
func rawControl(text []byte, startsInString, endsInString bool) bool {
	if startsInString {
		for i, c := range text {
			if c == '"' {
				text = text[i:]
				break
			}
			if c < 0x20 {
				return true
			}
		}
		if len(text) == 0 || text[0] != '"' {
			return false // All of text is in the one string.
		}
	}
	for i := len(text) - 1; endsInString && i >= 0 && text[i] != '"'; i-- {
		if text[i] < 0x20 {
			return true
		}
	}
	return false
}

// unicodeEscape reads the \u escape whose u is body[u]: it returns the index
// of the escape's last byte (of the second escape, for a surrogate pair), and
// false if it is half of a surrogate pair without its other half.
func unicodeEscape(body []byte, u int) (int, bool) {
	x, ok := hex4(body, u+1)
	switch {
	case !ok:
		return u, true // Validation refuses such an escape; not this scan's concern.
	case !utf16.IsSurrogate(rune(x)):
		return u + 4, true
	case x >= 0xdc00:
		return u, false // A low half, with no high half before it.
	}
	// A high half: a low half, \uDC00 to \uDFFF, must follow.
	if u+10 < len(body) && body[u+5] == '\\' && body[u+6] == 'u' {
		if y, ok := hex4(body, u+7); ok && y >= 0xdc00 && y <= 0xdfff {
			return u + 10, true
		}
	}
	return u, false
}

// hex4 reads the four hexadecimal digits at body[at:].
func hex4(body []byte, at int) (uint16, bool) {
	if at+4 > len(body) {
		return 0, false
	}
	var x uint16
	for _, c := range body[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		x = x<<4 | uint16(c)
	}
	return x, true
}

// readEmpty accepts an empty body or an empty JSON object: the body of a
// route that takes no fields.
func readEmpty(body []byte) *apiError {
	if len(body) == 0 {
		return nil
	}
	r, err := parseObject(body)
	if err != nil {
		return err
	}
	defer r.release()
	return r.finish()
}

func (r *reader) checkDuplicates() {
	if r.object.Len() < 2 {
		return
	}
	if r.object.Len() <= smallObjectFields {
		var keys [smallObjectFields][]byte
		n := 0
		r.object.Visit(func(key []byte, _ *fastjson.Value) {
			for _, earlier := range keys[:n] {
				if string(earlier) == string(key) {
					r.fail(string(key), "appears more than once")
					break
				}
			}
			keys[n] = key
			n++
		})
		return
	}
	names := make(map[string]bool, r.object.Len())
	r.object.Visit(func(key []byte, _ *fastjson.Value) {
		if names[string(key)] {
			r.fail(string(key), "appears more than once")
		}
		names[string(key)] = true
	})
}

func (r *reader) fail(name, why string) {
	root := r.root()
	if root.errors == nil {
		root.errors = map[string]string{}
	}
	if len(root.errors) < FieldErrorsMax {
		if !utf8.ValidString(name) || len(name) > 64 {
			name = strconv.QuoteToASCII(truncate(name, 64))
		}
		root.errors[r.path()+name] = why
	}
}

// field returns the named value, or nil if it is absent (an error if
// required) or JSON null (an error always).
func (r *reader) field(name string, required bool) *fastjson.Value {
	r.markSeen(name)
	v := r.object.Get(name)
	switch {
	case v == nil && required:
		r.fail(name, "is required")
	case v != nil && v.Type() == fastjson.TypeNull:
		r.fail(name, "must not be null")
		return nil
	}
	return v
}

// string reads a string of at most maxBytes bytes of valid UTF-8.
//
// NB: parseObject already refused a body that would decode to anything but
// UTF-8 (see checkText); the check here keeps the promise local.
func (r *reader) string(name string, required bool, maxBytes int) (string, bool) {
	v := r.field(name, required)
	if v == nil {
		return "", false
	}
	b, err := v.StringBytes()
	switch {
	case err != nil:
		r.fail(name, "must be a string")
	case len(b) > maxBytes:
		r.fail(name, atMostBytes(maxBytes))
	case !utf8.Valid(b):
		r.fail(name, "must be valid UTF-8")
	default:
		return string(b), true
	}
	return "", false
}

// atMostBytes is the reason a string longer than maxBytes bytes fails.
func atMostBytes(maxBytes int) string { return fmt.Sprintf("must be at most %d bytes", maxBytes) }

// amount reads a positive amount of base units written as a decimal string.
func (r *reader) amount(name string, required bool) (engine.Amount, bool) {
	v := r.field(name, required)
	if v == nil {
		return engine.Amount{}, false
	}
	b, err := v.StringBytes()
	if err != nil {
		r.fail(name, "must be a positive integer string, e.g. \"1500\"")
		return engine.Amount{}, false
	}
	amount, err := engine.ParseAmount(string(b))
	switch {
	case err != nil || amount.IsZero():
		r.fail(name, "must be a positive integer string, e.g. \"1500\"")
	case amount.Cmp(amountMax) > 0:
		r.fail(name, "must be at most "+amountMax.String())
	default:
		return amount, true
	}
	return engine.Amount{}, false
}

// integer reads a whole number in [low, high].
func (r *reader) integer(name string, required bool, low, high uint64) (uint64, bool) {
	v := r.field(name, required)
	if v == nil {
		return 0, false
	}
	n, err := v.Uint64()
	if err != nil || v.Type() != fastjson.TypeNumber || n < low || n > high || strings.ContainsAny(string(v.MarshalTo(nil)), ".eE") {
		r.fail(name, fmt.Sprintf("must be an integer from %d to %d", low, high))
		return 0, false
	}
	return n, true
}

// strings reads an array of 1 to maxItems strings of at most maxBytes each.
func (r *reader) strings(name string, required bool, maxItems, maxBytes int) ([]string, bool) {
	v := r.field(name, required)
	if v == nil {
		return nil, false
	}
	items, err := v.Array()
	if err != nil || len(items) == 0 || len(items) > maxItems {
		r.fail(name, fmt.Sprintf("must be an array of 1 to %d strings", maxItems))
		return nil, false
	}
	out := make([]string, len(items))
	for i, item := range items {
		b, err := item.StringBytes()
		if err != nil || len(b) > maxBytes || !utf8.Valid(b) {
			r.fail(fmt.Sprintf("%s[%d]", name, i), fmt.Sprintf("must be a string of at most %d bytes", maxBytes))
			return nil, false
		}
		out[i] = string(b)
	}
	return out, true
}

// nested reads a nested object; its fields report errors under name's path.
func (r *reader) nested(name string, required bool) *reader {
	v := r.field(name, required)
	if v == nil {
		return nil
	}
	object, err := v.Object()
	if err != nil {
		r.fail(name, "must be an object")
		return nil
	}
	return r.child(object, name, -1)
}

func (r *reader) child(object *fastjson.Object, name string, index int) *reader {
	return r.childIn(new(reader), object, name, index)
}

// childIn is child, made in c.
func (r *reader) childIn(c *reader, object *fastjson.Object, name string, index int) *reader {
	*c = reader{object: object, parent: r, name: name, index: index}
	c.seen = c.seenInline[:0]
	c.checkDuplicates()
	r.children = append(r.children, c)
	return c
}

// array reads an array of 1 to maxItems values.
func (r *reader) array(name string, required bool, maxItems int) []*fastjson.Value {
	v := r.field(name, required)
	if v == nil {
		return nil
	}
	items, err := v.Array()
	if err != nil || len(items) == 0 || len(items) > maxItems {
		r.fail(name, fmt.Sprintf("must be an array of 1 to %d items", maxItems))
		return nil
	}
	return items
}

// item returns a reader of the i-th element of an array named name, which
// must be an object, made in into: the caller makes the readers of an
// array's items in one slice, one allocation per array, not per item.
func (r *reader) item(into *reader, name string, i int, v *fastjson.Value) *reader {
	object, err := v.Object()
	if err != nil {
		r.fail(fmt.Sprintf("%s[%d]", name, i), "must be an object")
		return nil
	}
	return r.childIn(into, object, name, i)
}

// finish flags fields nobody asked for, in r and its nested readers, and
// returns the validation error, if any.
func (r *reader) finish() *apiError {
	r.flagUnknown()
	root := r.root()
	if len(root.errors) == 0 {
		return nil
	}
	return validation(root.errors)
}

func (r *reader) flagUnknown() {
	for _, c := range r.children {
		c.flagUnknown()
	}
	r.object.Visit(func(key []byte, _ *fastjson.Value) {
		if !r.wasSeen(string(key)) {
			r.fail(string(key), "is not a known field")
		}
	})
}

// failed reports whether any field failed so far.
func (r *reader) failed() bool { return len(r.root().errors) > 0 }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// readStartingAfter reads a list's "startingAfter" query argument: ""
// when it is absent, else an id of the list's kind (what), with one of
// prefixes and at most 64 bytes; anything else, empty included, is a
// field error.
func readStartingAfter(args *fasthttp.Args, fields map[string]string, what string, prefixes ...string) string {
	if !args.Has("startingAfter") {
		return ""
	}
	after := string(args.Peek("startingAfter"))
	hasPrefix := func(prefix string) bool { return strings.HasPrefix(after, prefix) }
	if !slices.ContainsFunc(prefixes, hasPrefix) || len(after) > 64 {
		fields["startingAfter"] = "must be " + what + " id (" + strings.Join(prefixes, "… or ") + "…)"
	}
	return after
}

// appendPageEnd closes a list's data array and appends the page's
// hasMore and nextStartingAfter (null when next is "").
func appendPageEnd(buf []byte, more bool, next string) []byte {
	buf = append(buf, `],"hasMore":`...)
	buf = strconv.AppendBool(buf, more)
	buf = append(buf, `,"nextStartingAfter":`...)
	buf = appendNullable(buf, next)
	return append(buf, '}')
}

// readPageLimit reads a list's "limit" query argument: fallback when it is
// absent, else an integer from 1 to max; anything else is a field error.
func readPageLimit(args *fasthttp.Args, fields map[string]string, fallback, max int) int {
	value := args.Peek("limit")
	if value == nil {
		return fallback
	}
	n, err := strconv.Atoi(string(value))
	if err != nil || n < 1 || n > max {
		fields["limit"] = "must be an integer from 1 to " + strconv.Itoa(max)
	}
	return n
}
