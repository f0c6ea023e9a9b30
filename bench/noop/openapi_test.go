package noop_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The no-op server's fixed charge (the benchmark's ceiling) is shaped as the
// server's charge answer: its body passes the OpenAPI document's schema.
func TestNoopChargeConformsToOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../httpapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	url := startNoop(t)
	if status, v := post(t, url+"/v1/noop/keys", "", `{"keys":[{"key":"`+noopTestKey+`","account":"`+noopTestPayer+`"}]}`); status != 200 {
		t.Fatalf("register = %d %v, want 200", status, v)
	}
	request, _ := http.NewRequest("POST", url+"/v1/charges", strings.NewReader(`{"to":"`+noopTestTo+`","amount":"1"}`))
	request.Header.Set("Authorization", "Bearer "+noopTestKey)
	request.Header.Set("Content-Type", "application/json")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil || response.StatusCode != 201 {
		t.Fatalf("charge = %d %s (%v), want 201", response.StatusCode, body, err)
	}
	probe, _ := http.NewRequest("POST", "/v1/charges", nil)
	route, params, err := router.FindRoute(probe)
	if err != nil {
		t.Fatal(err)
	}
	// The no-op server has no key actor, so no rate limit: it sends none of
	// the RateLimit headers the document requires of a charge answer.
	header := response.Header.Clone()
	for _, name := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		header.Set(name, "1")
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
		Status:                 response.StatusCode,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("the no-op charge %s does not conform: %v", body, err)
	}
}
