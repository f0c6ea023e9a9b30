package wal

import "github.com/cockroachdb/pebble/v2"

// StorageMetrics are the log's storage counters since Open, its two Pebble
// DBs (records and index) summed, from Pebble's DB.Metrics: what reaches
// the disk and how much work the LSMs do for it.
type StorageMetrics struct {
	// WALBytesWritten is the bytes written to the WAL (the index DB has
	// none), padding and headers included.
	WALBytesWritten uint64
	// FlushedBytes is the bytes of tables (and blob files) written by
	// flushes of memtables.
	FlushedBytes uint64
	// CompactedBytes is the bytes of tables (and blob files) written by
	// compactions.
	CompactedBytes uint64
	// Flushes and Compactions count the flushes and compactions completed.
	Flushes     int64
	Compactions int64
	// L0Files is the tables in level 0 now (its read amplification grows
	// with them; Pebble stalls writes at level0StopWritesThreshold
	// sublevels).
	L0Files int64
	// TableBytes is the size of every table now, all levels.
	TableBytes int64
}

// StorageMetrics returns the storage counters of both DBs. It may be called
// at any time from Open's return until Close, also on a failed log.
func (l *Log) StorageMetrics() StorageMetrics {
	var total StorageMetrics
	for _, db := range []*pebble.DB{l.db, l.index} {
		m := db.Metrics()
		if db == l.db {
			// NB: the index DB, without a WAL, still counts its batches'
			// bytes as written to one.
			total.WALBytesWritten = m.WAL.BytesWritten
		}
		total.Flushes += m.Flush.Count
		total.Compactions += m.Compact.Count
		for _, level := range m.Levels {
			total.FlushedBytes += level.TableBytesFlushed + level.BlobBytesFlushed
			total.CompactedBytes += level.TableBytesCompacted + level.BlobBytesCompacted
			total.TableBytes += level.TablesSize
		}
		total.L0Files += m.Levels[0].TablesCount
	}
	return total
}
