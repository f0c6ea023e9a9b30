// Package wal is Tollway's write-ahead log: one ordered log of opaque records, with group commit, stored in Pebble.
//
// Records have dense positions 1, 2, 3, ... Appends from many goroutines meet
// in one bounded queue; one committer goroutine drains it, writes up to
// Options.BatchEntriesMax entries (and each entry's table puts) into one
// Pebble batch and commits it with pebble.Sync (one fsync), then applies
// the entries' index puts to the index's own Pebble DB, which has no WAL
// (index.go). One syncer
// goroutine receives the committed groups in order and reports their entries
// through Options.OnDurable, so the next group is committed while the
// previous one's report runs.
//
// Invariants:
//   - Nothing is reported durable (OnDurable with a nil error, Durable, Read,
//     Get) before the fsync of the Pebble batch that holds it returned nil.
//     Groups are reported strictly in position order, one OnDurable call at
//     a time, never a group before every earlier one.
//   - Positions are dense and assigned in queue order; each appender's entries
//     keep their order. Durable only grows. A barrier (an entry with no
//     record) takes no position and is reported after everything before it.
//   - A record and its entry's table puts are written in the same batch, so a
//     crash keeps both or neither. Its index puts are applied after that
//     batch's fsync, never before; after a crash Open derives the index
//     puts that did not reach the index's disk from the records
//     (Options.IndexOf), and WriteSnapshot flushes the index before it
//     deletes records. So Get finds an entry's puts iff its record is
//     durable (or truncated by a snapshot after it was).
//   - A failed write or fsync fails the log closed: the failing group and
//     every later append come back with ErrFailed, in order; Durable never
//     advances again, no Pebble write is attempted after the failing one (a
//     group is written only once the previous group's fsync succeeded), and
//     the fsync is never retried. A failed log also refuses reads (Pebble shows writes whose
//     fsync failed). Recovery is a restart: Open replays what reached the disk.
//   - A snapshot and the log truncation it allows are made current in one
//     synced batch: after a crash either the old or the new snapshot is
//     complete and current, and the records it covers are gone only if it is.
//     The batch records where truncation stopped (a retention may keep
//     records behind the snapshot: WriteSnapshotRetaining), so First() is
//     exact after a reopen.
//   - Open refuses a log that ends before its high-water mark (mark.go):
//     records once reported durable are gone (a corrupted WAL tail, which
//     Pebble takes for the end of the log), unless Options.AllowLogLoss.
//
// Pebble's Logger.Fatalf is made to panic with a private sentinel; the
// committer recovers exactly that sentinel around its own writes and fails
// the log closed, and Open turns any panic of Pebble's recovery into an
// error. Pebble's report of on-disk corruption (a table failing its
// checksum, found by a read or a compaction), whose default is Fatalf,
// fails the log closed naming the file. A Fatalf on one of Pebble's
// background goroutines (a failed MANIFEST write) is not recovered: it
// crashes the process, as Pebble's default logger (os.Exit) would. Pebble
// also raises raw panics with its internal locks held when written to after
// a WAL failure (a WAL rotation closing the failed writer): the committer
// never writes after a failure, so they cannot happen here.
//
// Goroutines: Open starts the committer, which owns every Pebble write
// (appends and, between groups once the pipeline is drained, the batches of
// WriteSnapshot), the syncer, which runs OnDurable in order, and the mark's
// writer; Close stops them after they have committed and reported what was
// queued, and writes the mark a last time. Pebble runs its own flush,
// compaction and WAL goroutines.
package wal
