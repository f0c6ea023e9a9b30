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
//
// Invariants:
//   - Nothing reaches the payee before every required role approved: the
//     reservation is a hold, From the payer To the payee, with the spend's
//     amount, memo and budget (fees are locked when it is placed, as the
//     charge's would be). A charge executes as the capture of all of it
//     (its TransferID is the approval's id); a hold executes by becoming
//     the client's hold, open until CreatedAt + the policy's expiry + the
//     client's timeout (bounded by the engine's hold timeout).
//   - Each transition is durable before it is acted on, and a marker row
//     names every approval with work left (a reservation being placed, a
//     PENDING or APPROVED one, a terminal one not yet released), so Open
//     finishes each: adopts or forgets a reservation placed without its
//     record, expires the overdue (stamped with their ExpiresAt), executes
//     APPROVED ones again (a capture again replays), voids again.
//   - One lock per approval serializes its decisions and expiry: a role
//     decides once (ErrDecided), one rejection ends it, and it ends once.
//   - Memory holds the approvals with work ahead only, bounded per payer
//     (PendingPerAccountMax) and per key (PendingPerKeyMax).
//
// Webhooks: the records are the rows under RowPrefix; Decode reads one and
// EventOf says what it announces: approval.requested for the first PENDING
// record, approval.decided for the terminal one, each written once.
//
// Goroutines: one expirer, which sleeps until the earliest PENDING
// approval's ExpiresAt; Close joins it.
package approvals
