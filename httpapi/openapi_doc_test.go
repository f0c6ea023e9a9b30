package httpapi

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

// openAPIMethods are the keys of an OpenAPI path item that name operations.
var openAPIMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// loadOpenAPIDocument reads openapi.json, checks that it is JSON with
// "openapi":"3.1.0" and returns it decoded.
func loadOpenAPIDocument(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatalf("read openapi.json: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); v != "3.1.0" {
		t.Fatalf(`openapi.json: "openapi" = %q, want "3.1.0"`, v)
	}
	return doc
}

// openAPIOperations returns the operations of openapi.json: path → sorted
// upper-case methods.
func openAPIOperations(t *testing.T) map[string][]string {
	t.Helper()
	doc := loadOpenAPIDocument(t)
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json: no paths object")
	}
	ops := make(map[string][]string, len(paths))
	for path, item := range paths {
		pi, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("openapi.json: path %s is not an object", path)
		}
		var methods []string
		for m := range pi {
			if openAPIMethods[m] {
				methods = append(methods, strings.ToUpper(m))
			}
		}
		sort.Strings(methods)
		ops[path] = methods
	}
	return ops
}

// openAPIResolve follows a local reference ("#/a/b") inside doc; ok is false
// when the target does not exist.
func openAPIResolve(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// openAPIDeref returns v, or the target of v when v is a {"$ref": …} object.
func openAPIDeref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	obj, _ := v.(map[string]any)
	if ref, ok := obj["$ref"].(string); ok {
		target, ok := openAPIResolve(doc, ref)
		if !ok {
			t.Fatalf("unresolved $ref %q", ref)
		}
		obj, _ = target.(map[string]any)
	}
	return obj
}

func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	doc := loadOpenAPIDocument(t)
	ops := openAPIOperations(t)
	if len(ops) == 0 {
		t.Fatal("openapi.json declares no paths")
	}

	// Every "$ref" anywhere in the document points at an existing node
	// under #/components/.
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, s)
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Error("openapi.json has no $ref at all")
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "#/components/") {
			t.Errorf("$ref %q does not point inside #/components/", ref)
			continue
		}
		if _, ok := openAPIResolve(doc, ref); !ok {
			t.Errorf("$ref %q does not resolve", ref)
		}
	}

	paths := doc["paths"].(map[string]any)
	seen := map[string]string{}
	for path, methods := range ops {
		item := paths[path].(map[string]any)
		for _, m := range methods {
			name := m + " " + path
			op, ok := item[strings.ToLower(m)].(map[string]any)
			if !ok {
				t.Errorf("%s: operation is not an object", name)
				continue
			}

			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", name)
			} else if prev, dup := seen[id]; dup {
				t.Errorf("%s: operationId %q already used by %s", name, id, prev)
			} else {
				seen[id] = name
			}
			if s, _ := op["summary"].(string); s == "" {
				t.Errorf("%s: no summary", name)
			}
			if _, ok := op["security"].([]any); !ok {
				t.Errorf("%s: no security (use [] for a public operation)", name)
			}

			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", name)
			}
			for status, r := range responses {
				resp := openAPIDeref(t, doc, r)
				headers, _ := resp["headers"].(map[string]any)
				if _, ok := headers["X-Request-Id"]; !ok {
					t.Errorf("%s: response %s has no X-Request-Id header", name, status)
				}
				if status == "429" {
					if _, ok := headers["Retry-After"]; !ok {
						t.Errorf("%s: response 429 has no Retry-After header", name)
					}
				}
			}

			if m != "POST" {
				continue
			}
			found := false
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				param := openAPIDeref(t, doc, p)
				pname, _ := param["name"].(string)
				if param["in"] == "header" && strings.EqualFold(pname, "Idempotency-Key") {
					found = true
					if param["required"] == true {
						t.Errorf("%s: Idempotency-Key must be optional", name)
					}
				}
			}
			if !found {
				t.Errorf("%s: no Idempotency-Key header parameter", name)
			}
		}
	}
}
