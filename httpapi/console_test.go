package httpapi

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tollway/tollway/httpapi/console"
)

// TestConsoleIsServed checks the console through the server's router: the
// page at /console and under a client-side route, an asset it names, each
// with the security and cache headers, and an unknown asset answered 404
// in the API's error shape. do checks each exchange against openapi.json.
func TestConsoleIsServed(t *testing.T) {
	ts := startServer(t)
	index, err := os.ReadFile("console/dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	script := regexp.MustCompile(`src="/console/(main-[A-Z0-9]{8}\.js)"`).FindSubmatch(index)
	if script == nil {
		t.Fatalf("console/dist/index.html names no main-<hash>.js")
	}
	for _, c := range []struct{ path, contentType, cache string }{
		{"/console", "text/html; charset=utf-8", "no-cache"},
		{"/console/accounts", "text/html; charset=utf-8", "no-cache"},
		{"/console/accounts/acct_1", "text/html; charset=utf-8", "no-cache"},
		{"/console/" + string(script[1]), "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
	} {
		// An OpenAPI path parameter spans one segment, so openapi.json's
		// /console/{path} cannot describe a deeper client-side route.
		ts.notTheAPI = strings.Count(c.path, "/") > 2
		r := ts.do("GET", c.path, "", nil)
		ts.notTheAPI = false
		if r.status != 200 {
			t.Fatalf("GET %s = %d, want 200; body %.200s", c.path, r.status, r.body)
		}
		for header, want := range map[string]string{
			"Content-Security-Policy": console.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Content-Type":            c.contentType,
			"Cache-Control":           c.cache,
		} {
			if got := r.header.Get(header); got != want {
				t.Errorf("GET %s: %s = %q, want %q", c.path, header, got, want)
			}
		}
		if c.contentType == "text/html; charset=utf-8" && string(r.body) != string(index) {
			t.Errorf("GET %s is not console/dist/index.html", c.path)
		}
	}
	if strings.Contains(console.ContentSecurityPolicy, "unsafe-") {
		t.Fatalf("Content-Security-Policy has an unsafe source: %s", console.ContentSecurityPolicy)
	}
	expect(t, ts.do("GET", "/console/main-AAAAAAAA.js", "", nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/console/favicon.ico", "", nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("POST", "/console", "", nil), 405, "invalid_request_error", "method_not_allowed")
}
