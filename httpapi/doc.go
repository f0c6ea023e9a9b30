// Package httpapi serves Tollway's HTTP API (../shared/API.md) on fasthttp
// and fasthttp/router: decode strictly, authenticate, call the engine,
// encode, with errors mapped to statuses in one table (errors.go).
//
// Guarantees:
//   - A 2xx on a write is sent only after the write is durable: ledger
//     changes through the engine, access records (users, profiles, keys,
//     refresh families) through engine.WriteRows, both fsynced by the
//     engine's group commit. Sign-in challenges are the exception: 5-minute
//     single-use nonces kept in memory (challenges.go says why).
//   - No client can spend a shared pool: the sign-in routes, failed API
//     keys, failed logins and challenges are limited per client IP, per
//     email or per address, in tables of bounded size, and bcrypt runs in
//     at most half the cores (clientlimit.go).
//   - Every error has API.md's shape with a request id; internal error
//     texts and panics are logged, never shown.
//   - Secrets are stored as hashes only (API keys and refresh tokens as
//     HMAC-SHA256 under a server pepper, passwords with bcrypt, the admin
//     token as SHA-256), compared in constant time, and never logged.
//   - A charge's client id is derived from its payer and Idempotency-Key, so
//     it applies at most once across restarts.
//   - Usage reports (usage.go) count committed events only, each once, and
//     every write acknowledged before the report was asked for.
//
// Goroutines: fasthttp's, one per connection; one protoactor actor per API
// key (actors.Keys), spawned on first use, which checks revocation, expiry,
// its token bucket and the scope, so keys never share a lock; the usage
// projection's (engine/usage), from New to Shutdown.
package httpapi
