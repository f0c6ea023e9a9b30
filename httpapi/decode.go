package httpapi

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/tollway/tollway/engine"
)

// Limits of request decoding.
const (
	// BodyBytesMax bounds a request body; larger bodies are refused before
	// they are read in full.
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
type reader struct {
	object   *fastjson.Object
	path     string
	seen     map[string]bool
	errors   map[string]string // shared by nested readers
	children []*reader
}

// parseObject parses body as one JSON object. The returned release must be
// called once the reader's values are no longer used.
func parseObject(body []byte) (*reader, func(), *apiError) {
	if len(body) > BodyBytesMax {
		return nil, nil, invalid("body_too_large", fmt.Sprintf("the body exceeds %d bytes", BodyBytesMax))
	}
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, nil, invalid("malformed_json", "the body is not valid JSON")
	}
	parser := parsers.Get()
	release := func() { parsers.Put(parser) }
	value, err := parser.ParseBytes(body)
	if err != nil {
		release()
		return nil, nil, invalid("malformed_json", "the body is not valid JSON")
	}
	object, err := value.Object()
	if err != nil {
		release()
		return nil, nil, invalid("malformed_json", "the body must be a JSON object")
	}
	r := &reader{object: object, errors: map[string]string{}}
	r.checkDuplicates()
	return r, release, nil
}

// readEmpty accepts an empty body or an empty JSON object: the body of a
// route that takes no fields.
func readEmpty(body []byte) *apiError {
	if len(body) == 0 {
		return nil
	}
	r, release, err := parseObject(body)
	if err != nil {
		return err
	}
	defer release()
	return r.finish()
}

func (r *reader) checkDuplicates() {
	if r.object.Len() < 2 {
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
	if len(r.errors) < FieldErrorsMax {
		if !utf8.ValidString(name) || len(name) > 64 {
			name = strconv.QuoteToASCII(truncate(name, 64))
		}
		r.errors[r.path+name] = why
	}
}

// field returns the named value, or nil if it is absent (an error if
// required) or JSON null (an error always).
func (r *reader) field(name string, required bool) *fastjson.Value {
	if r.seen == nil {
		r.seen = make(map[string]bool, 4)
	}
	r.seen[name] = true
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
		r.fail(name, fmt.Sprintf("must be at most %d bytes", maxBytes))
	case !utf8.Valid(b):
		r.fail(name, "must be valid UTF-8")
	default:
		return string(b), true
	}
	return "", false
}

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
	return r.child(object, r.path+name+".")
}

func (r *reader) child(object *fastjson.Object, path string) *reader {
	c := &reader{object: object, path: path, errors: r.errors, seen: map[string]bool{}}
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
// must be an object.
func (r *reader) item(name string, i int, v *fastjson.Value) *reader {
	object, err := v.Object()
	if err != nil {
		r.fail(fmt.Sprintf("%s[%d]", name, i), "must be an object")
		return nil
	}
	return r.child(object, fmt.Sprintf("%s%s[%d].", r.path, name, i))
}

// finish flags fields nobody asked for, in r and its nested readers, and
// returns the validation error, if any.
func (r *reader) finish() *apiError {
	r.flagUnknown()
	if len(r.errors) == 0 {
		return nil
	}
	return validation(r.errors)
}

func (r *reader) flagUnknown() {
	for _, c := range r.children {
		c.flagUnknown()
	}
	r.object.Visit(func(key []byte, _ *fastjson.Value) {
		if !r.seen[string(key)] {
			r.fail(string(key), "is not a known field")
		}
	})
}

// failed reports whether any field failed so far.
func (r *reader) failed() bool { return len(r.errors) > 0 }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
