// Package x402metrics counts the x402 facilitator's work per owner (user),
// UTC day and network: valid verifications, settlements that succeeded and
// settlements that failed, each with its count and the authorizations'
// value in the token's base units.
//
// Invariants:
//   - Every count is exactly once, across crashes. The facilitator writes a
//     delta row (DeltaRow) in the same engine.WriteRows as the record
//     transition it counts (an authorization recorded VERIFIED; its final
//     SETTLED or FAILED), so the delta is durable if and only if the
//     transition is. A delta's key names the authorization and the kind, so
//     one transition has one delta, and a record's state machine makes each
//     transition happen once.
//   - The compactor folds deltas at least CompactAfter old into day
//     totals and all-time totals and deletes them, in one atomic WriteRows: the
//     table always holds each count either as a delta or inside the totals,
//     never both, never neither. It writes absolute totals read from the
//     table, so a fold that is retried after an uncertain write (answered
//     with an error, durable anyway) rewrites the same values.
//   - A query reads totals and deltas under a read lock that a fold's write
//     excludes, so it never sees a delta both folded and present.
//   - Everything is bounded: deltas per fold (CompactDeltasMax) and bytes
//     per fold (within engine.RowsBytesMax), deltas a query reads
//     (QueryDeltasMax), amounts (below 2^320: at most 2^64 values of 256
//     bits).
//
// Attribution: a count is an owner's when the facilitator was called with
// an owner in its context (WithOwner); without one it is counted nowhere.
//
// Goroutines: one, the compactor; Close joins it.
package x402metrics
