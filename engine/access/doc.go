// Package access holds the rules of Tollway's access layer: users, API keys
// with scopes and environments, per-key rate limits, refresh-token families
// and sign-in nonces, and the rows that store them durably.
//
// Like the ledger, it is pure: time is an argument, it does no I/O and
// starts no goroutines, and it imports only the standard library. Secrets
// never enter it in plaintext: keys and tokens arrive hashed, passwords as
// password hashes.
package access
