package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
)

// docs/API.md, the API reference a reader of the repository finds, is
// rendered from openapi.json, the document the server serves, so the two
// cannot drift: this test fails when the file is not what openapi.json
// renders to, and -update-api-doc rewrites it.

var updateAPIDoc = flag.Bool("update-api-doc", false, "rewrite ../docs/API.md from openapi.json")

const (
	apiDocPath    = "../docs/API.md"
	apiDocCommand = "go test ./httpapi -run TestAPIReferenceIsCurrent -update-api-doc"
)

func TestAPIReferenceIsCurrent(t *testing.T) {
	root, err := decodeValue(json.NewDecoder(bytes.NewReader(openAPIDocument)))
	if _, ok := root.(jsonObject); err != nil || !ok {
		t.Fatalf("decode openapi.json: %v (a %T)", err, root)
	}
	d := &apiDoc{root: root.(jsonObject)}
	got := d.render()
	d.eachOperation(func(method, p string, _, _ jsonObject) { // tagged or not
		if !strings.Contains(got, "\n### `"+method+" "+p+"`\n") {
			t.Errorf("the reference has no heading for %s %s", method, p)
		}
	})
	if *updateAPIDoc {
		if err := os.WriteFile(apiDocPath, []byte(got), 0o644); err != nil {
			t.Fatalf("write %s: %v", apiDocPath, err)
		}
		return
	}
	want, err := os.ReadFile(apiDocPath)
	if err != nil {
		t.Fatalf("read %s: %v; generate it with: %s", apiDocPath, err, apiDocCommand)
	}
	if have, render := strings.Split(string(want), "\n"), strings.Split(got, "\n"); !slices.Equal(have, render) {
		line := 0
		for line < min(len(have), len(render)) && have[line] == render[line] {
			line++
		}
		t.Fatalf("docs/API.md is not what openapi.json renders to; regenerate it with: %s\nfirst difference, line %d:\nhave   %q\nrender %q",
			apiDocCommand, line+1, lineAt(have, line), lineAt(render, line))
	}
}

// jsonObject is a JSON object that keeps its keys in document order, so the
// reference lists tags, paths, operations and fields in the order
// openapi.json gives them. Its zero value reads as empty: a missing member is
// no error.
type jsonObject struct {
	keys []string
	vals map[string]any
}

func (o jsonObject) get(key string) any        { return o.vals[key] }
func (o jsonObject) obj(key string) jsonObject { v, _ := o.vals[key].(jsonObject); return v }
func (o jsonObject) str(key string) string     { v, _ := o.vals[key].(string); return v }
func (o jsonObject) list(key string) []any     { v, _ := o.vals[key].([]any); return v }

// objs is the objects in the array at key.
func (o jsonObject) objs(key string) []jsonObject {
	var objs []jsonObject
	for _, v := range o.list(key) {
		if v, ok := v.(jsonObject); ok {
			objs = append(objs, v)
		}
	}
	return objs
}

// decodeValue decodes the next JSON value: objects as jsonObject, arrays as
// []any, anything else as encoding/json's token.
func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if _, ok := tok.(json.Delim); err != nil || !ok {
		return tok, err
	}
	o, a := jsonObject{vals: map[string]any{}}, []any{}
	for dec.More() {
		var key any
		if tok == json.Delim('{') {
			if key, err = dec.Token(); err != nil {
				return nil, err
			}
		}
		v, err := decodeValue(dec)
		if err != nil {
			return nil, err
		}
		if k, ok := key.(string); ok {
			o.keys, o.vals[k] = append(o.keys, k), v
		} else {
			a = append(a, v)
		}
	}
	if _, err := dec.Token(); err != nil || tok == json.Delim('{') {
		return o, err
	}
	return a, nil
}

// apiDoc renders one OpenAPI document to Markdown.
type apiDoc struct {
	root jsonObject
	b    strings.Builder
}

func (d *apiDoc) printf(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

// deref follows a local $ref and returns its target and name ("" when o is
// no reference).
func (d *apiDoc) deref(o jsonObject) (jsonObject, string) {
	ref := o.str("$ref")
	if ref == "" {
		return o, ""
	}
	target := d.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		target = target.obj(part)
	}
	return target, path.Base(ref)
}

// eachOperation calls f for each operation in document order.
func (d *apiDoc) eachOperation(f func(method, path string, item, op jsonObject)) {
	for _, p := range d.root.obj("paths").keys {
		item := d.root.obj("paths").obj(p)
		for _, method := range item.keys {
			if slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
				f(strings.ToUpper(method), p, item, item.obj(method))
			}
		}
	}
}

func (d *apiDoc) render() string {
	info, components := d.root.obj("info"), d.root.obj("components")
	d.printf("# %s API reference\n\n<!-- Generated from httpapi/openapi.json by `%s`: do not edit by hand. -->\n\n", info.str("title"), apiDocCommand)
	d.printf("Version %s (OpenAPI %s). The server serves the document this reference is generated from at `GET /openapi.json` ([httpapi/openapi.json](../httpapi/openapi.json)); paths are relative to the server's origin.\n\n", info.str("version"), d.root.str("openapi"))
	d.printf("%s\n\n## Contents\n\n- [Authentication](#authentication)\n- [Response headers](#response-headers)\n- [Errors](#errors)\n", info.str("description"))
	var tags []string // the document's tags, then "other" if an operation has none
	for _, tag := range d.root.objs("tags") {
		tags = append(tags, tag.str("name"))
	}
	d.eachOperation(func(_, _ string, _, op jsonObject) {
		if tag := operationTag(op); !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	})
	for _, tag := range tags {
		d.printf("- [%s](#%s)\n", tag, tag)
	}
	if len(d.root.obj("webhooks").keys) > 0 {
		d.printf("- [Webhook events](#webhook-events)\n")
	}
	d.printf("- [Schemas](#schemas)\n\n## Authentication\n\nEach operation names the schemes it accepts (\"none\": no credentials).\n\n| Scheme | How | Description |\n|---|---|---|\n")
	for _, name := range components.obj("securitySchemes").keys {
		s := components.obj("securitySchemes").obj(name)
		how := s.str("type") + " " + s.str("scheme")
		if s.str("scheme") == "bearer" {
			how = "`Authorization: Bearer …`"
		}
		if f := s.str("bearerFormat"); f != "" {
			how += " (" + f + ")"
		}
		d.printf("| `%s` | %s | %s |\n", name, how, cell(s.str("description")))
	}
	d.printf("\n## Response headers\n\n| Header | Description |\n|---|---|\n")
	for _, name := range components.obj("headers").keys {
		d.printf("| `%s` | %s |\n", name, cell(components.obj("headers").obj(name).str("description")))
	}
	d.printf("\n## Errors\n\nEvery error is answered with this body ([`Error`](#error)):\n\n")
	d.fields(components.obj("schemas").obj("Error"), 2)
	d.printf("\nThe error responses the operations name (shared, by reference), by status, with their types and codes:\n\n| Status | Response | Type | Codes |\n|---|---|---|---|\n")
	type errorRow struct{ status, name string }
	var rows []errorRow
	d.eachOperation(func(_, _ string, _, op jsonObject) {
		for _, status := range op.obj("responses").keys {
			row := errorRow{status, path.Base(op.obj("responses").obj(status).str("$ref"))}
			if row.name != "." && status >= "4" && !slices.Contains(rows, row) { // 4xx, 5xx, default
				rows = append(rows, row)
			}
		}
	})
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].status < rows[j].status })
	for _, row := range rows {
		kind, codes, _ := strings.Cut(components.obj("responses").obj(row.name).str("description"), ": ")
		d.printf("| %s | `%s` | `%s` | %s |\n", row.status, row.name, kind, cell(codes))
	}
	for _, tag := range tags {
		d.printf("\n## %s\n", tag)
		d.eachOperation(func(method, p string, item, op jsonObject) {
			if operationTag(op) == tag {
				d.operation(method, p, item, op)
			}
		})
	}
	d.webhooks()
	d.printf("\n## Schemas\n")
	for _, name := range components.obj("schemas").keys {
		s := components.obj("schemas").obj(name)
		d.printf("\n### %s\n\n", name)
		if desc := describe(s); desc != "" {
			d.printf("%s\n\n", desc)
		}
		if len(d.properties(s)) > 0 {
			d.fields(s, 1)
		} else {
			d.printf("Type: %s.\n", d.typeOf(s))
		}
	}
	return d.b.String()
}

// webhooks renders the document's webhooks: the events Tollway posts to
// registered endpoints, each with the fields of its body.
func (d *apiDoc) webhooks() {
	hooks := d.root.obj("webhooks")
	if len(hooks.keys) == 0 {
		return
	}
	d.printf("\n## Webhook events\n\n%s\n", d.root.str("x-webhooks-description"))
	for _, name := range hooks.keys {
		post := hooks.obj(name).obj("post")
		d.printf("\n### `%s`\n\n%s\n\n", name, post.str("description"))
		d.fields(post.obj("requestBody").obj("content").obj("application/json").obj("schema"), 2)
	}
}

func operationTag(op jsonObject) string {
	if tags := op.list("tags"); len(tags) > 0 {
		return fmt.Sprint(tags[0])
	}
	return "other"
}

func (d *apiDoc) operation(method, p string, item, op jsonObject) {
	d.printf("\n### `%s %s`\n\n**%s** (`%s`)\n\n", method, p, op.str("summary"), op.str("operationId"))
	if desc := op.str("description"); desc != "" {
		d.printf("%s\n\n", desc)
	}
	security := op.objs("security")
	if op.get("security") == nil {
		security = d.root.objs("security")
	}
	var alternatives []string // each of them a list of schemes that are all needed
	for _, requirement := range security {
		alternatives = append(alternatives, "`"+strings.Join(requirement.keys, "` and `")+"`")
	}
	auth := cmp.Or(strings.Join(alternatives, " or "), "none")
	if scope := op.str("x-required-scope"); scope != "" {
		auth += " with scope `" + scope + "`"
	}
	d.printf("Authentication: %s.\n", auth)
	if params := append(item.objs("parameters"), op.objs("parameters")...); len(params) > 0 {
		d.printf("\n**Parameters**\n\n| Name | In | Type | Required | Description |\n|---|---|---|---|---|\n")
		for _, param := range params {
			param, _ := d.deref(param)
			d.printf("| `%s` | %s | %s | %s | %s |\n", param.str("name"), param.str("in"), d.typeOf(param.obj("schema")), yesNo(param.get("required") == true), cell(param.str("description")))
		}
	}
	body, _ := d.deref(op.obj("requestBody"))
	for _, mediaType := range body.obj("content").keys {
		schema := body.obj("content").obj(mediaType).obj("schema")
		d.printf("\n**Request body** (`%s`, %s, %s)\n\n", mediaType, d.typeOf(schema), map[bool]string{true: "required", false: "optional"}[body.get("required") == true])
		d.fields(schema, 2)
	}
	d.printf("\n**Responses**\n\n| Status | Description | Body | Headers |\n|---|---|---|---|\n")
	for _, status := range op.obj("responses").keys {
		response, name := d.deref(op.obj("responses").obj(status))
		desc := response.str("description")
		if name != "" && status >= "4" {
			kind, _, _ := strings.Cut(desc, ":")
			desc = fmt.Sprintf("`%s` (`%s`, see [Errors](#errors))", name, kind)
		}
		var bodies, headers []string
		for _, mediaType := range response.obj("content").keys {
			bodies = append(bodies, d.typeOf(response.obj("content").obj(mediaType).obj("schema"))+" ("+mediaType+")")
		}
		for _, h := range response.obj("headers").keys {
			headers = append(headers, "`"+h+"`")
		}
		d.printf("| %s | %s | %s | %s |\n", status, cell(desc), strings.Join(bodies, ", "), strings.Join(headers, ", "))
	}
}

type property struct {
	name     string
	schema   jsonObject
	required bool
}

// properties is an object schema's fields, allOf parts merged in order.
func (d *apiDoc) properties(s jsonObject) []property {
	s, _ = d.deref(s)
	var props []property
	for _, part := range s.objs("allOf") {
		props = append(props, d.properties(part)...)
	}
	for _, name := range s.obj("properties").keys {
		props = append(props, property{name, s.obj("properties").obj(name), slices.Contains(s.list("required"), any(name))})
	}
	return props
}

// fields renders an object schema's fields as a table, with the fields of
// objects (or arrays of objects) in it down to depth levels.
func (d *apiDoc) fields(s jsonObject, depth int) {
	d.printf("| Field | Type | Required | Description |\n|---|---|---|---|\n")
	d.fieldRows("", s, depth)
}

func (d *apiDoc) fieldRows(prefix string, s jsonObject, depth int) {
	for _, p := range d.properties(s) {
		d.printf("| `%s%s` | %s | %s | %s |\n", prefix, p.name, d.typeOf(p.schema), yesNo(p.required), cell(describe(p.schema)))
		if depth <= 1 {
			continue
		}
		inner, _ := d.deref(p.schema)
		name := prefix + p.name + "."
		if inner.get("items") != nil {
			inner, name = inner.obj("items"), prefix+p.name+"[]."
		}
		for _, alternative := range inner.objs("oneOf") { // the first object one
			if d.properties(alternative) != nil {
				inner = alternative
				break
			}
		}
		d.fieldRows(name, inner, depth-1)
	}
}

// typeOf names a schema's type; a reference links to its schema.
func (d *apiDoc) typeOf(s jsonObject) string {
	if _, name := d.deref(s); name != "" {
		return fmt.Sprintf("[`%s`](#%s)", name, strings.ToLower(name))
	}
	for _, c := range [][2]string{{"oneOf", " or "}, {"anyOf", " or "}, {"allOf", " and "}} {
		var parts []string
		for _, part := range s.objs(c[0]) {
			parts = append(parts, d.typeOf(part))
		}
		if len(parts) > 0 {
			return strings.Join(parts, c[1])
		}
	}
	types := s.list("type")
	if t, ok := s.get("type").(string); ok {
		types = []any{t}
	}
	var names []string
	for _, t := range types {
		switch name := fmt.Sprint(t); {
		case name == "array":
			names = append(names, "array of "+d.typeOf(s.obj("items")))
		case name == "object" && len(s.obj("additionalProperties").keys) > 0:
			names = append(names, "map of "+d.typeOf(s.obj("additionalProperties")))
		case name == "string" && s.str("format") != "":
			names = append(names, "string ("+s.str("format")+")")
		default:
			names = append(names, name)
		}
	}
	return cmp.Or(strings.Join(names, " or "), "any")
}

// describe is a schema's description with its allowed values.
func describe(s jsonObject) string {
	values := s.list("enum")
	if c := s.get("const"); c != nil {
		values = append(values, c)
	}
	var quoted []string
	for _, v := range values {
		quoted = append(quoted, fmt.Sprintf("`%v`", v))
	}
	if len(quoted) == 0 {
		return s.str("description")
	}
	return strings.TrimSpace(s.str("description") + " One of: " + strings.Join(quoted, ", ") + ".")
}

func yesNo(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
