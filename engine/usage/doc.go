// Package usage is a projection of the engine's log into per-account usage
// totals by UTC day: what each account spent as payer, earned as payee, and
// the platform fees on its spending, for usage reports.
//
// Invariants:
//   - It counts committed events only: it folds what engine.Subscribe
//     delivers, which is durable.
//   - Each event is counted exactly once, across restarts and crashes: its
//     day totals and its cursor (the last log position folded in) are
//     written in one atomic WriteRows, so the persisted totals are always
//     exactly those of the events up to the persisted cursor, and Open
//     resumes from cursor + 1. The same write carries an engine retention
//     (engine.RetainRow) at the cursor, so snapshots keep the records the
//     projection has not persisted yet.
//   - Memory is bounded: at most DirtyMax day totals wait in memory; a
//     flush writes them all in one WriteRows (sized to fit RowsBytesMax).
//
// Goroutines: one, which folds the subscription and flushes; Close joins it.
package usage
