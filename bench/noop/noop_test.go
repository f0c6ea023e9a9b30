package noop_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tollway/tollway/bench/noop"
)

const (
	noopTestKey     = "sk_test_0123456789ABCDEFGHIJabcdefghij0123456789"
	noopTestPayer   = "acct_payer0000000000000000"
	noopTestTo      = "acct_supplier00000000000000"
	noopTestUnknown = "sk_test_ZYXWVUTSRQzyxwvutsrq9876543210ZYXWVUTSRQ"
)

// startNoop serves a no-op server on 127.0.0.1 and returns its base URL.
func startNoop(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server, err := noop.New()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	t.Cleanup(func() {
		if err := server.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// post sends body with key as the bearer token and returns the status and
// the decoded JSON answer.
func post(t *testing.T, url, key, body string) (int, map[string]any) {
	t.Helper()
	request, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	request.Header.Set("Content-Type", "application/json")
	if key != "" {
		request.Header.Set("Authorization", "Bearer "+key)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("POST %s: %d %q is not a JSON object: %v", url, response.StatusCode, data, err)
	}
	if response.Header.Get("X-Request-Id") == "" {
		t.Errorf("POST %s: no X-Request-Id", url)
	}
	return response.StatusCode, v
}

func TestNoopAuthenticatesDecodesAndRepliesLikeTheServer(t *testing.T) {
	url := startNoop(t)
	status, v := post(t, url+"/v1/noop/keys", "", `{"keys":[{"key":"`+noopTestKey+`","account":"`+noopTestPayer+`"}]}`)
	if status != 200 {
		t.Fatalf("register = %d %v, want 200", status, v)
	}
	charge := `{"to":"` + noopTestTo + `","amount":"1"}`
	if status, v := post(t, url+"/v1/charges", noopTestKey, charge); status != 201 || v["amount"] != "1" {
		t.Fatalf("charge = %d %v, want 201 and a charge", status, v)
	}
	batch := `{"charges":[` + charge + `,` + charge + `]}`
	status, v = post(t, url+"/v1/charges/batch", noopTestKey, batch)
	if results, _ := v["results"].([]any); status != 200 || len(results) != 2 {
		t.Fatalf("batch = %d %v, want 200 and 2 results", status, v)
	}

	for _, c := range []struct {
		name, path, key, body string
		status                int
		code                  string
	}{
		{"unknown key", "/v1/charges", noopTestUnknown, charge, 401, "invalid_credentials"},
		{"no key", "/v1/charges", "", charge, 401, "missing_credentials"},
		{"malformed key", "/v1/charges", "sk_test_short", charge, 401, "invalid_credentials"},
		{"unknown field", "/v1/charges", noopTestKey, `{"to":"` + noopTestTo + `","amount":"1","x":1}`, 400, "validation_failed"},
		{"paying itself", "/v1/charges", noopTestKey, `{"to":"` + noopTestPayer + `","amount":"1"}`, 400, "validation_failed"},
		{"not JSON", "/v1/charges", noopTestKey, `{"to":`, 400, "malformed_json"},
		{"empty batch", "/v1/charges/batch", noopTestKey, `{"charges":[]}`, 400, "validation_failed"},
		{"bad key to register", "/v1/noop/keys", "", `{"keys":[{"key":"pk_x","account":"` + noopTestPayer + `"}]}`, 400, "validation_failed"},
		{"no such route", "/v1/accounts", noopTestKey, `{}`, 404, "not_found"},
	} {
		status, v := post(t, url+c.path, c.key, c.body)
		e, _ := v["error"].(map[string]any)
		if status != c.status || e["code"] != c.code || e["request_id"] == "" {
			t.Errorf("%s: POST %s = %d %v, want %d %s in the error shape", c.name, c.path, status, v, c.status, c.code)
		}
	}
}
