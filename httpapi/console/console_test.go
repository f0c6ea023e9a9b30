package console

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// serve runs Serve on a fresh request context for name.
func serve(t *testing.T, name string) (*fasthttp.RequestCtx, bool) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ok := Serve(&ctx, name)
	return &ctx, ok
}

// wantHeaders requires ctx's response to be a 200 with the security
// headers, contentType and cache.
func wantHeaders(t *testing.T, name string, ctx *fasthttp.RequestCtx, contentType, cache string) {
	t.Helper()
	h := &ctx.Response.Header
	for header, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
			"font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Content-Type":           contentType,
		"Cache-Control":          cache,
	} {
		if got := string(h.Peek(header)); got != want {
			t.Errorf("%q: %s = %q, want %q", name, header, got, want)
		}
	}
	if ctx.Response.StatusCode() != fasthttp.StatusOK {
		t.Errorf("%q: status %d, want 200", name, ctx.Response.StatusCode())
	}
}

func TestEmbeddedDistLoads(t *testing.T) {
	if loadErr != nil {
		t.Fatal(loadErr)
	}
}

func TestIndexAndClientRoutesAreServedWithTheHeaders(t *testing.T) {
	index, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "index.html", "accounts", "accounts/acct_123", "accounts/acct_123/"} {
		ctx, ok := serve(t, name)
		if !ok {
			t.Fatalf("Serve(%q) = false, want index.html", name)
		}
		wantHeaders(t, name, ctx, "text/html; charset=utf-8", "no-cache")
		if !bytes.Equal(ctx.Response.Body(), index) {
			t.Errorf("Serve(%q) is not dist/index.html", name)
		}
	}
}

// assetReference matches the src and href attributes of index.html.
var assetReference = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestIndexReferencesOnlyItsOwnHashedAssets(t *testing.T) {
	index, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	seen := map[string]bool{}
	for _, m := range assetReference.FindAllStringSubmatch(string(index), -1) {
		ref := m[1]
		if ref == "#main" {
			continue // the skip link
		}
		name, ok := strings.CutPrefix(ref, "/console/")
		if !ok || strings.Contains(name, "/") || strings.Contains(name, "..") {
			t.Errorf("index.html references %q, not an asset of /console/", ref)
			continue
		}
		disk, err := os.ReadFile(filepath.Join("dist", name))
		if err != nil {
			t.Errorf("index.html references %q, which dist/ lacks: %v", ref, err)
			continue
		}
		ctx, ok := serve(t, name)
		if !ok {
			t.Fatalf("Serve(%q) = false", name)
		}
		wantHeaders(t, name, ctx, types[filepath.Ext(name)], "public, max-age=31536000, immutable")
		if !bytes.Equal(ctx.Response.Body(), disk) {
			t.Errorf("Serve(%q) is not dist/%s", name, name)
		}
		seen[filepath.Ext(name)] = true
	}
	if !seen[".js"] || !seen[".css"] {
		t.Fatalf("index.html references a script %v and a style sheet %v; want both", seen[".js"], seen[".css"])
	}
	// The policy forbids inline code: a <script> without src, a <style> or a
	// style attribute would be refused by the browser.
	for _, inline := range []string{"<style", "style=", "<script>", "<script type=\"module\">", "javascript:", "onclick="} {
		if bytes.Contains(index, []byte(inline)) {
			t.Errorf("index.html contains %q, which the Content-Security-Policy forbids", inline)
		}
	}
}

func TestUnknownAssetsAreNotFound(t *testing.T) {
	for _, name := range []string{"main.js", "main-AAAAAAAA.js", "style.css", "favicon.ico", "../openapi.json", "accounts/x.png"} {
		ctx, ok := serve(t, name)
		if ok {
			t.Errorf("Serve(%q) = true, want false (not found)", name)
		}
		if len(ctx.Response.Body()) != 0 || len(ctx.Response.Header.Peek("Content-Security-Policy")) != 0 {
			t.Errorf("Serve(%q) wrote a response; the caller answers 404", name)
		}
	}
}

func TestContentSecurityPolicyIsStrict(t *testing.T) {
	if strings.Contains(ContentSecurityPolicy, "unsafe-") || strings.Contains(ContentSecurityPolicy, "*") ||
		strings.Contains(ContentSecurityPolicy, "http") {
		t.Fatalf("Content-Security-Policy allows unsafe, wildcard or remote sources: %s", ContentSecurityPolicy)
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
		"base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, directive+";") && !strings.HasSuffix(ContentSecurityPolicy, directive) {
			t.Errorf("Content-Security-Policy lacks %q", directive)
		}
	}
}

// TestConsoleBuildIsCurrent builds web/ again with the pinned esbuild into a
// temporary directory and requires every file to equal the committed dist/:
// an edit of web/src without `make console` fails here. Skipped, loudly,
// when node or the pinned packages cannot be had; in CI
// (TOLLWAY_REQUIRE_NODE=1 or CI set) it fails instead. node_modules is kept
// between runs, so only the first run installs.
func TestConsoleBuildIsCurrent(t *testing.T) {
	required := os.Getenv("TOLLWAY_REQUIRE_NODE") == "1" || os.Getenv("CI") != ""
	stop := t.Skipf
	if required {
		stop = t.Fatalf
	}
	if _, err := exec.LookPath("node"); err != nil {
		stop("SKIPPED: node is not installed, so the committed console build cannot be checked against web/src (install node 20+ and run `make console`)")
		return
	}
	if !pinnedPackagesInstalled(t) {
		npm := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		npm.Dir = "web"
		if output, err := npm.CombinedOutput(); err != nil {
			stop("SKIPPED: npm ci failed, so the committed console build cannot be checked against web/src: %v\n%s", err, output)
			return
		}
	}
	out := t.TempDir()
	build := exec.Command("node", "build.mjs", "--out", out)
	build.Dir = "web"
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, output)
	}
	fresh, committed := readDir(t, out), readDir(t, "dist")
	for name, data := range fresh {
		if c, ok := committed[name]; !ok || !bytes.Equal(c, data) {
			t.Errorf("dist/%s is missing or not what web/src builds to: run `make console` and commit", name)
		}
	}
	for name := range committed {
		if _, ok := fresh[name]; !ok {
			t.Errorf("dist/%s is not made by the build: run `make console` and commit", name)
		}
	}
}

// pinnedPackagesInstalled reports whether web/node_modules holds exactly the
// versions package-lock.json pins. esbuild's binaries for other platforms
// are optional and absent by design.
func pinnedPackagesInstalled(t *testing.T) bool {
	var lock struct {
		Packages map[string]struct {
			Version  string `json:"version"`
			Optional bool   `json:"optional"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(readFile(t, "web/package-lock.json"), &lock); err != nil {
		t.Fatalf("web/package-lock.json: %v", err)
	}
	for path, pinned := range lock.Packages {
		if path == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join("web", path, "package.json"))
		if err != nil {
			if pinned.Optional && os.IsNotExist(err) {
				continue
			}
			return false
		}
		var installed struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(data, &installed) != nil || installed.Version != pinned.Version {
			return false
		}
	}
	return true
}

// readDir returns the files of dir (flat: the build writes no directories).
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			t.Fatalf("%s/%s: the build writes no directories", dir, e.Name())
		}
		files[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return files
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}
