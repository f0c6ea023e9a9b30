// Package console serves Tollway's web console, a single-page app whose
// built assets (dist/, made by `make console` from web/) are embedded in the
// binary: nothing is fetched from the internet at run time.
//
// Guarantees:
//   - Every asset is answered with a strict Content-Security-Policy (no
//     inline script or style, no 'unsafe-*', same-origin connections only),
//     X-Content-Type-Options nosniff and Referrer-Policy no-referrer.
//   - index.html is revalidated on every load (no-cache); the content-hashed
//     bundles it names are immutable for a year, since a new build names new
//     files.
//   - A path without an extension is a client-side route and gets
//     index.html; a path with an extension that names no asset is not found.
//
// The package owns no goroutines; the embedded files are read once, at init.
package console
