package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Every response a test receives through doWith is checked against
// openapi.json (kin-openapi's openapi3filter): its status must be declared
// for the operation, its body must match the declared schema, and every
// header it carries beyond HTTP's own must be declared. A response of a
// route openapi.json does not have (404 of an unknown path, 405 of a wrong
// method) must still be an Error. A mismatch fails the test that saw it.

// conformance is openapi.json loaded once for the whole package.
var conformance struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func openAPIConformance() (*openapi3.T, routers.Router, error) {
	conformance.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openAPIDocument)
		if err != nil {
			conformance.err = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			conformance.err = fmt.Errorf("openapi.json is not valid OpenAPI: %w", err)
			return
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			conformance.err = fmt.Errorf("route openapi.json: %w", err)
			return
		}
		conformance.doc, conformance.router = doc, router
	})
	return conformance.doc, conformance.router, conformance.err
}

// transportHeaders are HTTP's own response headers, which openapi.json
// does not declare.
var transportHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Date": true, "Server": true,
	"Connection": true, "Transfer-Encoding": true, "Keep-Alive": true,
}

// checkOpenAPI returns what is wrong with one exchange against openapi.json,
// nil if nothing. request must still carry its URL and method; body is the
// response body read.
func checkOpenAPI(request *http.Request, status int, header http.Header, body []byte) []string {
	doc, router, err := openAPIConformance()
	if err != nil {
		return []string{err.Error()}
	}
	// The router matches the document's servers against the request URL:
	// keep only what the test server's address does not decide.
	u := *request.URL
	u.Scheme, u.Host = "", ""
	probe := &http.Request{Method: request.Method, URL: &u, Header: request.Header, Host: request.Host}
	route, pathParams, err := router.FindRoute(probe)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return checkUnroutedError(doc, status, header, body)
	}
	if err != nil {
		return []string{fmt.Sprintf("find route: %v", err)}
	}
	var problems []string
	declared := map[string]bool{}
	if r := route.Operation.Responses.Status(status); r != nil && r.Value != nil {
		for name := range r.Value.Headers {
			declared[http.CanonicalHeaderKey(name)] = true
		}
	}
	for name := range header {
		if !transportHeaders[name] && !declared[name] {
			problems = append(problems, fmt.Sprintf("header %s is not declared for status %d", name, status))
		}
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: probe, PathParams: pathParams, Route: route,
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		problems = append(problems, flattenOpenAPIError(err)...)
	}
	return problems
}

// checkUnroutedError checks the answer to a path or method openapi.json
// does not have: a 404 or 405 Error with its X-Request-Id (and for 405 an
// Allow header; HEAD answers have no body).
func checkUnroutedError(doc *openapi3.T, status int, header http.Header, body []byte) []string {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return []string{fmt.Sprintf("status %d for a route openapi.json does not have, want 404 or 405", status)}
	}
	if len(body) == 0 {
		return nil // a HEAD request's answer
	}
	schema := doc.Components.Schemas["Error"]
	if schema == nil || schema.Value == nil {
		return []string{"openapi.json has no Error schema"}
	}
	value, err := decodeJSONValue(body)
	if err != nil {
		return []string{fmt.Sprintf("body is not JSON: %v", err)}
	}
	if err := schema.Value.VisitJSON(value, openapi3.MultiErrors(), openapi3.EnableJSONSchema2020()); err != nil {
		return flattenOpenAPIError(err)
	}
	return nil
}

func decodeJSONValue(body []byte) (any, error) {
	var v any
	err := json.Unmarshal(body, &v)
	return v, err
}

// flattenOpenAPIError splits kin-openapi's multi-errors into one line each.
func flattenOpenAPIError(err error) []string {
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		var out []string
		for _, e := range multi {
			out = append(out, flattenOpenAPIError(e)...)
		}
		return out
	}
	text := err.Error()
	if i := strings.Index(text, "\nSchema:"); i >= 0 {
		text = text[:i] // the schema itself follows: too long for a report
	}
	return []string{strings.ReplaceAll(text, "\n", " ")}
}

// reportOpenAPI fails t with the mismatches of one exchange.
func reportOpenAPI(t *testing.T, request *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	for _, p := range checkOpenAPI(request, status, header, body) {
		t.Errorf("openapi.json mismatch: %s %s → %d: %s; body %.300s", request.Method, request.URL.Path, status, p, body)
	}
}

func TestOpenAPIDocumentLoadsInKinOpenAPI(t *testing.T) {
	if _, _, err := openAPIConformance(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIConformanceCatchesMismatches checks that the checker sees a
// wrong body, an undeclared status and an undeclared header.
func TestOpenAPIConformanceCatchesMismatches(t *testing.T) {
	request, _ := http.NewRequest("GET", "http://127.0.0.1:1/healthz", nil)
	ok := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_1"}}
	if p := checkOpenAPI(request, 200, ok, []byte(`{"status":"ok"}`)); len(p) != 0 {
		t.Fatalf("a conforming response: %v", p)
	}
	if p := checkOpenAPI(request, 200, ok, []byte(`{"status":7}`)); len(p) == 0 {
		t.Error("a wrong body passed")
	}
	if p := checkOpenAPI(request, 418, ok, []byte(`{"status":"ok"}`)); len(p) == 0 {
		t.Error("an undeclared status passed")
	}
	extra := ok.Clone()
	extra.Set("X-Surprise", "1")
	if p := checkOpenAPI(request, 200, extra, []byte(`{"status":"ok"}`)); len(p) == 0 {
		t.Error("an undeclared header passed")
	}
	unknown, _ := http.NewRequest("GET", "http://127.0.0.1:1/v1/nope", nil)
	if p := checkOpenAPI(unknown, 404, ok, []byte(`{"error":{"type":"not_found_error","code":"not_found","message":"no such route"}}`)); len(p) == 0 {
		t.Error("an error without request_id passed")
	}
}
