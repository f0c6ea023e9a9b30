// Package approvals holds back agent spends above a key's threshold until
// the people (or services) its policy names approve them: a charge or hold
// by such a key reserves its amount on the payer and waits, PENDING, for
// every required role; then it executes as if it had been made at once,
// or a rejection or its expiry releases the reservation.
//
// An approval's record is an engine table row written durably before it
// is acknowledged, and its reservation an engine hold under the approval's
// own id, so every step is exactly once across restarts: a retry of a step
// finds the engine's answer to its first try.
package approvals
