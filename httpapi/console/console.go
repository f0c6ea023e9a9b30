package console

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/valyala/fasthttp"
)

// ContentSecurityPolicy allows only the console's own scripts, styles,
// images, fonts and API calls, and no framing, forms or base URL: an
// injected string can run nothing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const (
	cacheIndex     = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
)

//go:embed dist
var dist embed.FS

// asset is one embedded file, ready to answer.
type asset struct {
	body        []byte
	contentType string
	cache       string
}

// hashed matches the names esbuild gives content-hashed outputs
// (entryNames "[name]-[hash]": eight characters of base32).
var hashed = regexp.MustCompile(`-[A-Z0-9]{8}\.[a-z]+$`)

// contentTypes are the types of the extensions dist/ may hold; a file with
// another extension fails loading, so no asset is served as a guess.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
	".map":         "application/json",
}

var assets, loadErr = load(dist)

// load reads every file of fsys's dist/ into a map by its path under dist/.
func load(fsys fs.FS) (map[string]asset, error) {
	loaded := map[string]asset{}
	err := fs.WalkDir(fsys, "dist", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		contentType, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("%s: no content type for its extension", name)
		}
		cache := cacheIndex
		if hashed.MatchString(name) {
			cache = cacheImmutable
		}
		loaded[strings.TrimPrefix(name, "dist/")] = asset{body: body, contentType: contentType, cache: cache}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: load embedded dist: %w", err)
	}
	if _, ok := loaded["index.html"]; !ok {
		return nil, fmt.Errorf("console: embedded dist has no index.html (run `make console`)")
	}
	return loaded, nil
}

// Serve answers GET /console/{name} ("" for /console itself) and reports
// true, or reports false, writing nothing, when name looks like a file
// (it has an extension) that dist/ does not hold: the caller answers 404
// in its own error shape. Any other name is a client-side route and gets
// index.html.
func Serve(ctx *fasthttp.RequestCtx, name string) bool {
	if loadErr != nil {
		// dist/ is checked by the package's tests; a binary built from a
		// broken tree says so rather than serving half a console.
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(loadErr.Error())
		return true
	}
	a, ok := assets[name]
	if !ok {
		if path.Ext(name) != "" {
			return false
		}
		a = assets["index.html"]
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(fasthttp.HeaderCacheControl, a.cache)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(a.contentType)
	ctx.SetBody(a.body)
	return true
}
