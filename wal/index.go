package wal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// The index (Entry.Index puts, read by Get and ScanIndex) lives in a Pebble
// DB of its own, in the subdirectory indexDir, without a WAL.
//
// Why: index keys are client ids, random; inserted into the records' 64 MiB
// memtable, each walked its skiplist through cache misses (findSplice: 4.1
// µs per charge, 9.4% of the HTTP server's CPU at 64 connections), and
// compactions rewrote the records together with the scattered index keys.
// A small memtable of index keys only is walked in cache, and the records'
// sequential keys insert and compact alone.
//
// Durability without a WAL: the committer applies a group's index puts to
// the index DB only after the group's record batch is committed with its
// fsync, never before (an index entry for a record that never became
// durable would replay a charge that did not happen), and in the same index
// batch sets indexedThroughKey to the group's last position. Memtables flush
// in order and a batch lives in one memtable, so after a crash the index DB
// holds a prefix of its batches, and the marker says which: Open derives the
// index puts of every record after it again, from the records themselves
// (Options.IndexOf). Before WriteSnapshot deletes records, the index DB is
// flushed through them (flushIndex), so no index entry exists only in a lost
// memtable of records already gone. Close flushes it too, so a clean
// restart derives nothing.
//
// Each value is stored behind the position of the record whose entry put it
// (indexPositionBytes, big-endian), so that Open can delete the entries of
// positions lost with the log's tail (AllowLogLoss): a retry of a lost
// charge must run again, not replay.
const (
	// indexDir is the index DB's subdirectory of the log's directory.
	indexDir = "index"
	// indexMemTableBytes is small, so that the random keys' skiplist is
	// walked mostly in the CPU caches, and large enough that its flushes
	// stay few. Measured (BenchmarkAppend/indexed, 2M appends, 2 runs each,
	// alternating builds, 2 shared cores): 8 MiB 6.9 and 6.5 µs CPU per
	// append, 4 MiB 8.6 and 8.0, the index in the log's 64 MiB memtables
	// 8.5 and 9.2.
	indexMemTableBytes = 8 << 20
	// indexMemTablesStopWritesCount gives 32 MiB of headroom for a burst
	// while a flush runs.
	indexMemTablesStopWritesCount = 4
	// indexL0CompactionThreshold lets level 0 collect 16 flushes (128 MiB)
	// before compacting them into the level below: random keys make every
	// table overlap all of that level, which each compaction rewrites, so
	// compacting after Pebble's default 4 small flushes spent more CPU in
	// compactions than the small memtable saved (4 MiB: 11.1 to 13.9 µs
	// per append with 4, 10.2 and 10.3 with 16, on a busier machine). The
	// cost is read amplification for Get, which the engine calls only when
	// its id filter says the id may exist, and which indexBloomBitsPerKey
	// keeps cheap. indexL0StopWritesThreshold stalls writes at four times
	// that.
	indexL0CompactionThreshold = 16
	indexL0StopWritesThreshold = 64
	// indexBloomBitsPerKey sizes the index tables' bloom filters (1% false
	// positives), so that Get skips the level 0 tables without its key:
	// BenchmarkGet with 19 of them, 10.4 and 10.7 µs per present key with
	// filters, 16.6 and 17.8 without (12.6 and 13.5 with the index in the
	// log's DB, 8 tables); the appends' CPU did not move beyond the noise
	// (8.1 and 9.2 µs per indexed append, 8.8 and 7.7 without).
	indexBloomBitsPerKey = 10
	// indexBatchBytesMax ends a batch of Open's derivation or migration.
	indexBatchBytesMax = 1 << 20
	// indexPositionBytes leads each index value: the position of its record.
	indexPositionBytes = integerBytes
	// prefixIndexedThrough is the index DB's key space of its marker.
	prefixIndexedThrough = 'P'
)

// indexedThroughKey -> be64(P): the index DB holds the index puts of every
// record up to position P, in the batches up to the one that set it.
var indexedThroughKey = []byte{prefixIndexedThrough}

var (
	indexStart = []byte{prefixIndex}
	indexEnd   = []byte{prefixIndex + 1}
)

// indexOptions returns the index DB's options: those of the log's DB
// (sharing its block and file caches), without a WAL and with small
// memtables.
//
// NB: a background error of the index DB (a failed flush or compaction: a
// full disk, an I/O error) fails the log closed, where the log's DB only
// logs it while Pebble retries: the index's durability rests on its
// flushes alone, and WriteSnapshot and Close wait for one (flushIndex),
// which with Pebble's retries would wait forever on a full disk.
func (l *Log) indexOptions(main *pebble.Options, background *backgroundErrors) *pebble.Options {
	options := *main
	options.DisableWAL = true
	options.MemTableSize = indexMemTableBytes
	options.MemTableStopWritesThreshold = indexMemTablesStopWritesCount
	options.L0CompactionThreshold = indexL0CompactionThreshold
	options.L0StopWritesThreshold = indexL0StopWritesThreshold
	for level := range options.Levels {
		options.Levels[level].FilterPolicy = bloom.FilterPolicy(indexBloomBitsPerKey)
	}
	options.EventListener = &pebble.EventListener{
		BackgroundError: func(err error) {
			l.fail(fmt.Errorf("index store: %w", err))
			background.report(err)
		},
		DataCorruption: l.corrupted,
	}
	return &options
}

// encodeIndexPut writes put, by the record at position, into batch.
func encodeIndexPut(batch *pebble.Batch, put Put, position uint64) {
	if put.Value == nil {
		encodePut(batch, prefixIndex, put)
		return
	}
	operation := batch.SetDeferred(1+len(put.Key), indexPositionBytes+len(put.Value))
	operation.Key[0] = prefixIndex
	copy(operation.Key[1:], put.Key)
	binary.BigEndian.PutUint64(operation.Value, position)
	copy(operation.Value[indexPositionBytes:], put.Value)
	if err := operation.Finish(); err != nil {
		panic(err) // only an indexed batch can fail here, and ours is not
	}
}

// setIndexedThrough writes the marker into batch.
func setIndexedThrough(batch *pebble.Batch, position uint64) {
	operation := batch.SetDeferred(len(indexedThroughKey), integerBytes)
	copy(operation.Key, indexedThroughKey)
	binary.BigEndian.PutUint64(operation.Value, position)
	if err := operation.Finish(); err != nil {
		panic(err)
	}
}

// decodeIndexValue splits a stored index value.
func decodeIndexValue(stored []byte) (position uint64, value []byte, err error) {
	if len(stored) < indexPositionBytes {
		return 0, nil, fmt.Errorf("%w: index value of %d bytes", errCorrupt, len(stored))
	}
	return binary.BigEndian.Uint64(stored), stored[indexPositionBytes:], nil
}

// encodeIndex writes the index puts of a group, whose records start at
// position first, and the marker of its last record into batch; false if
// the group has no index puts (and batch is left empty).
func encodeIndex(batch *pebble.Batch, entries []*Entry, first uint64) bool {
	position, indexed := first, false
	for _, entry := range entries {
		if entry.isBarrier() {
			continue
		}
		for _, put := range entry.Index {
			encodeIndexPut(batch, put, position)
			indexed = true
		}
		position++
	}
	if indexed {
		setIndexedThrough(batch, position-1)
	}
	return indexed
}

// applyIndex commits batch to the index DB, without a WAL (so without an
// fsync to wait for), and returns the failure, including a Pebble panic.
func applyIndex(batch *pebble.Batch) (err error) {
	defer recoverAny(&err, "index write")
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index write: %w", err)
	}
	return nil
}

// flushIndex makes everything applied to the index DB durable. It returns
// once the memtables are flushed, or with the log's failure if the log
// fails first (a failed flush fails it: indexOptions).
func (l *Log) flushIndex() (err error) {
	defer recoverAny(&err, "index flush")
	flushed, err := l.index.AsyncFlush()
	if err != nil {
		return fmt.Errorf("index flush: %w", err)
	}
	select {
	case <-flushed:
		return l.Err() // a failure may have come with the flush
	case <-l.failed:
		return l.Err()
	}
}

// readIndexedThrough returns the marker; found is false if it was never set.
func readIndexedThrough(index *pebble.DB) (position uint64, found bool, err error) {
	value, closer, err := index.Get(indexedThroughKey)
	if isNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(value) != integerBytes {
		return 0, false, fmt.Errorf("%w: index marker of %d bytes", errCorrupt, len(value))
	}
	return binary.BigEndian.Uint64(value), true, nil
}

// indexWriter writes batches of Open's derivation, migration and loss
// cleanup into the index DB, each bounded by indexBatchBytesMax.
type indexWriter struct {
	index *pebble.DB
	batch *pebble.Batch
}

func newIndexWriter(index *pebble.DB) *indexWriter {
	return &indexWriter{index: index, batch: index.NewBatch()}
}

// commitIfFull commits the batch once it holds indexBatchBytesMax, with
// the marker at through when marked (everything up to through is in).
func (w *indexWriter) commitIfFull(through uint64, marked bool) error {
	if w.batch.Len() < indexBatchBytesMax {
		return nil
	}
	return w.commit(through, marked)
}

func (w *indexWriter) commit(through uint64, marked bool) error {
	if marked {
		setIndexedThrough(w.batch, through)
	}
	if w.batch.Empty() {
		return nil
	}
	if err := applyIndex(w.batch); err != nil {
		return err
	}
	w.batch.Reset()
	return nil
}

func (w *indexWriter) close() { _ = w.batch.Close() }

// recoverIndex brings the index DB in line with the recovered records, up
// to last (after the snapshot at snapshotPosition): it finishes a migration
// from the old layout, deletes the entries of lost positions and derives
// the index puts of the records after the marker.
func (l *Log) recoverIndex(snapshotPosition, last uint64) error {
	if err := l.migrateIndex(snapshotPosition); err != nil {
		return fmt.Errorf("migrate the index: %w", err)
	}
	marked, _, err := readIndexedThrough(l.index)
	if err != nil {
		return fmt.Errorf("read the index marker: %w", err)
	}
	if marked > last {
		// Records applied to the index after their fsync are gone: the log
		// lost its tail, and its mark file did not say so (it lags).
		if !l.options.AllowLogLoss {
			return &LogLossError{Dir: l.dir, Marked: marked, Recovered: last,
				MarkedIn: "the index's marker (" + indexDir + ")"}
		}
		if l.lostFirst == 0 {
			l.lostFirst = last + 1
		}
		l.lostLast = max(l.lostLast, marked)
		if err := l.deleteLostIndex(last); err != nil {
			return fmt.Errorf("delete the index entries of lost positions: %w", err)
		}
		marked = last
	}
	// NB: with the marker at or below last, no entry is of a lost position:
	// every batch's marker is at least the positions of its entries.
	l.rederived = 0
	from := max(marked, snapshotPosition) + 1
	if from > last {
		return nil
	}
	return l.deriveIndex(from, last)
}

// deriveIndex writes the index puts of the records from..last, derived
// from the records by Options.IndexOf, and the marker last.
func (l *Log) deriveIndex(from, last uint64) error {
	writer := newIndexWriter(l.index)
	defer writer.close()
	if l.options.IndexOf == nil {
		// No entry had index puts (Append refuses them without IndexOf).
		return writer.commit(last, true)
	}
	iterator, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: recordKey(from),
		UpperBound: recordKey(last + 1),
	})
	if err != nil {
		return fmt.Errorf("derive the index: %w", err)
	}
	var puts []Put
	next, err := readRecords(iterator, from, func(position uint64, record []byte) error {
		puts = l.options.IndexOf(record, puts[:0])
		for _, put := range puts {
			encodeIndexPut(writer.batch, put, position)
		}
		l.rederived++
		return writer.commitIfFull(position, true)
	})
	if err = errors.Join(err, iterator.Close()); err != nil {
		return fmt.Errorf("derive the index: %w", err)
	}
	if next != last+1 {
		return fmt.Errorf("%w: deriving the index, records end at %d, want %d", errCorrupt, next-1, last)
	}
	if err := writer.commit(last, true); err != nil {
		return fmt.Errorf("derive the index: %w", err)
	}
	return nil
}

// deleteLostIndex deletes every index entry put by a record after last,
// sets the marker to last and flushes: a later crash must not bring them
// back once new records reuse those positions.
func (l *Log) deleteLostIndex(last uint64) error {
	writer := newIndexWriter(l.index)
	defer writer.close()
	iterator, err := l.index.NewIter(&pebble.IterOptions{LowerBound: indexStart, UpperBound: indexEnd})
	if err != nil {
		return err
	}
	deleted := 0
	for valid := iterator.First(); valid; valid = iterator.Next() {
		var stored []byte
		if stored, err = iterator.ValueAndErr(); err != nil {
			break
		}
		var position uint64
		if position, _, err = decodeIndexValue(stored); err != nil {
			break
		}
		if position <= last {
			continue
		}
		if err = writer.batch.Delete(iterator.Key(), nil); err != nil {
			break
		}
		deleted++
		if err = writer.commitIfFull(0, false); err != nil {
			break
		}
	}
	if err = errors.Join(err, iterator.Error(), iterator.Close()); err != nil {
		return err
	}
	if err := writer.commit(last, true); err != nil {
		return err
	}
	l.logger.Error("wal: index entries of lost positions deleted: retries of their operations will run again",
		"dir", l.dir, "deleted", deleted, "after", last)
	return l.flushIndex()
}

// migrateIndex moves the index of a log written before the index had a DB
// of its own (its keys in the log's DB) into the index DB: it copies the
// entries in batches, sets the marker, flushes, then deletes them from the
// log's DB with one synced DeleteRange.
//
// Crash safety: the marker is set by the last batch only, so an index DB
// with entries but no marker is an interrupted copy, done again (the copy
// is idempotent); an index DB with the marker while the log's DB still has
// index keys crashed before the DeleteRange, which is all that is left.
//
// The copied entries carry the snapshot's position and the marker is the
// snapshot's position: the derivation that follows writes the entries of
// the records after the snapshot again, with their exact positions (same
// keys, same values: the last put of each key wins in both), so that
// AllowLogLoss can later tell which belong to lost positions.
func (l *Log) migrateIndex(snapshotPosition uint64) error {
	first, _, err := keyRange(l.db, indexStart, indexEnd)
	if err != nil || first == nil {
		return err
	}
	_, marked, err := readIndexedThrough(l.index)
	if err != nil {
		return err
	}
	if !marked {
		if err := l.copyIndex(snapshotPosition); err != nil {
			return err
		}
	}
	if l.options.beforeIndexRangeDelete != nil {
		l.options.beforeIndexRangeDelete(l)
	}
	if err := l.db.DeleteRange(indexStart, indexEnd, pebble.Sync); err != nil {
		return fmt.Errorf("delete the old index: %w", err)
	}
	l.logger.Info("wal: index moved into its own store", "dir", l.dir, "entries", l.migrated)
	return nil
}

// copyIndex copies the log's DB's index entries into the index DB, sets the
// marker to position and flushes.
func (l *Log) copyIndex(position uint64) error {
	writer := newIndexWriter(l.index)
	defer writer.close()
	iterator, err := l.db.NewIter(&pebble.IterOptions{LowerBound: indexStart, UpperBound: indexEnd})
	if err != nil {
		return err
	}
	l.migrated = 0
	for valid := iterator.First(); valid; valid = iterator.Next() {
		var value []byte
		if value, err = iterator.ValueAndErr(); err != nil {
			break
		}
		if value == nil {
			value = []byte{} // a stored empty value, not a delete
		}
		encodeIndexPut(writer.batch, Put{Key: iterator.Key()[1:], Value: value}, position)
		l.migrated++
		if err = writer.commitIfFull(0, false); err != nil {
			break
		}
		if l.options.duringIndexCopy != nil {
			l.options.duringIndexCopy(l, l.migrated)
		}
	}
	if err = errors.Join(err, iterator.Error(), iterator.Close()); err != nil {
		return err
	}
	if err := writer.commit(position, true); err != nil {
		return err
	}
	return l.flushIndex()
}
