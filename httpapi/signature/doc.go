// Package signature signs and verifies the Tollway-Signature header, which
// proves that a request came from Tollway and was not changed on the way:
// Tollway sets it on webhook deliveries and on the calls its gateway
// forwards, and receivers and upstreams check it with the secret they share
// with Tollway.
//
// The header is
//
//	Tollway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// Guarantees:
//   - Verify passes only if one v1 entry is the HMAC of the timestamp and
//     the exact body under the secret, compared in constant time, and the
//     timestamp lies within the tolerance of now on either side (a captured
//     request cannot be replayed later).
//   - Several v1 entries are allowed, so a sender rotating its secret can
//     sign with the old and the new one; entries of other schemes (v0=…)
//     are ignored, so a scheme added later does not break old receivers.
//   - Verify never panics and reads at most HeaderLengthMax bytes of
//     header; VerifyRequest reads at most a bounded body.
//
// It imports only the standard library, so third parties can vendor it
// without pulling Tollway's dependencies. It owns no goroutines, and time
// is an argument everywhere but VerifyRequest.
package signature
