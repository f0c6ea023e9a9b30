// Package wal is Tollway's write-ahead log: one ordered log of opaque records, with group commit, stored in Pebble.
//
// Records have dense positions 1, 2, 3, ... Appends from many goroutines meet
// in one bounded queue; one committer goroutine drains it, writes up to
// Options.BatchEntriesMax entries (and each entry's index puts) into one
// Pebble batch, commits it with pebble.Sync (one fsync for the whole group),
// and only then reports the entries through Options.OnDurable.
//
// Invariants:
//   - Nothing is reported durable (OnDurable with a nil error, Durable, Read,
//     Get) before the Pebble batch that holds it returned from a synced commit.
//   - Positions are dense and assigned in queue order; each appender's entries
//     keep their order. Durable only grows. A barrier (an entry with no
//     record) takes no position and is reported after everything before it.
//   - A record and its entry's index puts are written in the same batch, so a
//     crash keeps both or neither.
//   - A failed write or fsync fails the log closed: the failing group and
//     every later append come back with ErrFailed, Durable never advances
//     again, no Pebble write is attempted again, and the fsync is never
//     retried. A failed log also refuses reads (Pebble shows writes whose
//     fsync failed). Recovery is a restart: Open replays what reached the disk.
//   - A snapshot and the log truncation it allows are made current in one
//     synced batch: after a crash either the old or the new snapshot is
//     complete and current, and the records it covers are gone only if it is.
//
// Pebble's Logger.Fatalf is made to panic with a private sentinel; the
// committer recovers exactly that sentinel around its own commits and fails
// the log closed. A Fatalf on one of Pebble's background goroutines
// (MANIFEST write, corruption found by a compaction) is not recovered: it
// crashes the process, as Pebble's default logger (os.Exit) would. So do the
// few raw panics Pebble raises with its internal locks held (for example a
// failed WAL rotation); crashing is failing closed.
//
// Goroutines: Open starts the committer, which owns every Pebble write
// (appends and the batches of WriteSnapshot) and runs OnDurable; Close stops
// it after it has committed what was queued. Pebble runs its own flush,
// compaction and WAL goroutines.
package wal
