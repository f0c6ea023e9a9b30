package wal

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// snapshotBatchBytesMax ends a batch of snapshot chunks once it holds this
// many bytes; one more chunk may follow, so a batch stays below
// snapshotBatchBytesMax + SnapshotChunkBytesMax, under Pebble's large-batch
// threshold.
const snapshotBatchBytesMax = 4 << 20

// WriteSnapshot stores a snapshot of the caller's state as of position, as
// the sequence of opaque chunks that chunks yields, then makes it current
// and truncates the log up to position. It runs concurrently with appends:
// its batches go through the committer between group commits.
//
// Chunks are written in batches of bounded size, under a new generation that
// nothing reads yet. Then one synced batch makes that generation current
// (metadata), deletes every other generation's chunks and deletes the records
// <= position (<= the truncation point, see WriteSnapshotRetaining). A crash at any point leaves either the old or the new snapshot
// complete and current; the chunks of an abandoned attempt are deleted by the
// next snapshot.
//
// NB: the chunk batches are committed with an fsync too, not without: Pebble
// reports an unsynced write's failure to nobody, and the commit after it may
// then panic with Pebble's locks held. Each fsync covers up to 4 MiB, so the
// cost is small next to writing the snapshot.
//
// An error of chunks (or of yield, which the chunks function should return)
// abandons the attempt; the current snapshot stays.
//
// REQUIRES: position <= Durable(), and position >= the current snapshot's position.
// NB: chunks longer than SnapshotChunkBytesMax make yield return an error
// (and LoadSnapshot reports one read back as corruption).
// NB: not from OnDurable (WriteSnapshot waits for the committer), and not
// from a LoadSnapshot callback.
func (l *Log) WriteSnapshot(position uint64, chunks func(yield func(chunk []byte) error) error) error {
	return l.WriteSnapshotRetaining(position, position+1, chunks)
}

// WriteSnapshotRetaining is WriteSnapshot keeping the records from position
// keepFrom on, even those behind the snapshot: it truncates the records
// below min(position+1, keepFrom) only. A consumer that folds the log at
// its own pace (a projection, a relayer) names the first record it still
// needs, so that a snapshot never deletes what it has not yet persisted.
//
// Truncation never moves back: a keepFrom at or below First() keeps nothing
// more. The truncation point is in the metadata written by the same synced
// batch that deletes the records, so after a crash the first record still
// present is exactly truncated+1, whichever side of the batch it fell on,
// and Open checks it. The records kept behind the snapshot are not replayed
// (recovery starts after the snapshot); only Read serves them.
func (l *Log) WriteSnapshotRetaining(position, keepFrom uint64, chunks func(yield func(chunk []byte) error) error) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	l.snapshotMutex.Lock()
	defer l.snapshotMutex.Unlock()
	if durable := l.Durable(); position > durable {
		panic(fmt.Sprintf("wal: snapshot at %d beyond durable %d", position, durable))
	}
	if position < l.snapshot.position {
		panic(fmt.Sprintf("wal: snapshot at %d before the current one at %d", position, l.snapshot.position))
	}
	writer := chunkWriter{log: l, generation: l.nextGeneration, batch: l.db.NewBatch()}
	l.nextGeneration++
	defer writer.close()
	if err := chunks(writer.yield); err != nil {
		return err
	}
	if err := writer.flush(); err != nil {
		return err // also an error of yield that chunks did not return
	}
	truncated := max(l.snapshot.truncated, min(position, max(keepFrom, 1)-1))
	current := metadata{generation: writer.generation, position: position, chunks: writer.sequence, truncated: truncated}
	if err := l.makeCurrent(current); err != nil {
		return err
	}
	l.snapshot = current
	l.truncated.Store(truncated)
	return nil
}

// makeCurrent commits the one batch that switches to snapshot current.
//
// REQUIRES: l.snapshotMutex is held.
func (l *Log) makeCurrent(current metadata) error {
	batch := l.db.NewBatch()
	defer func() { _ = batch.Close() }()
	err := errors.Join(
		batch.Set(metadataKey, current.encode(), nil),
		batch.DeleteRange(chunksStart, generationStart(current.generation), nil),
		batch.DeleteRange(generationStart(current.generation+1), chunksEnd, nil),
		batch.DeleteRange(recordsStart, recordKey(current.truncated+1), nil),
	)
	if err != nil {
		return fmt.Errorf("wal: snapshot batch: %w", err)
	}
	return l.submit(batch, true)
}

// submit has the committer commit batch with an fsync and waits for it. A
// truncating batch (truncates) also refreshes the read view and first
// flushes the index DB.
func (l *Log) submit(batch *pebble.Batch, truncates bool) error {
	request := &writeRequest{batch: batch, refreshView: truncates, flushIndex: truncates, done: make(chan error, 1)}
	if !l.queue.submit(request) {
		return ErrClosed
	}
	return <-request.done
}

// chunkWriter writes the chunks of one snapshot generation in bounded batches.
type chunkWriter struct {
	log        *Log
	generation uint64
	sequence   uint64 // chunks written so far
	batch      *pebble.Batch
	// err is the first error of yield: sticky, so that a chunks function
	// that drops it cannot make a snapshot with a chunk missing.
	err error
}

func (w *chunkWriter) yield(chunk []byte) error {
	if w.err != nil {
		return w.err
	}
	if len(chunk) > SnapshotChunkBytesMax {
		w.err = fmt.Errorf("wal: snapshot chunk of %d bytes exceeds SnapshotChunkBytesMax (%d)",
			len(chunk), SnapshotChunkBytesMax)
		return w.err
	}
	operation := w.batch.SetDeferred(chunkKeyBytes, len(chunk))
	putChunkKey(operation.Key, w.generation, w.sequence)
	copy(operation.Value, chunk)
	if err := operation.Finish(); err != nil {
		w.err = err
		return err
	}
	w.sequence++
	if w.batch.Len() >= snapshotBatchBytesMax {
		return w.flush()
	}
	return nil
}

// flush commits the chunks batched so far.
func (w *chunkWriter) flush() error {
	if w.err != nil {
		return w.err
	}
	if w.batch.Count() == 0 {
		return nil
	}
	if err := w.log.submit(w.batch, false); err != nil {
		w.err = err
		return err
	}
	w.batch.Reset()
	return nil
}

func (w *chunkWriter) close() { _ = w.batch.Close() }

// LoadSnapshot calls fn for each chunk of the current snapshot, in order,
// and returns its position; position 0 and no calls if there is none. An
// error of fn stops the load and is returned. chunk is valid only during fn.
//
// NB: fn must not call WriteSnapshot (both hold the snapshot mutex).
func (l *Log) LoadSnapshot(fn func(chunk []byte) error) (position uint64, err error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	l.snapshotMutex.Lock()
	defer l.snapshotMutex.Unlock()
	current := l.snapshot
	if current.generation == 0 {
		return 0, nil
	}
	iterator, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: generationStart(current.generation),
		UpperBound: generationStart(current.generation + 1),
	})
	if err != nil {
		return 0, fmt.Errorf("wal: load snapshot: %w", err)
	}
	loaded, err := loadChunks(iterator, current.generation, fn)
	if err = errors.Join(err, iterator.Close()); err != nil {
		return 0, err
	}
	if loaded != current.chunks {
		return 0, fmt.Errorf("%w: snapshot %d has %d chunks, want %d",
			errCorrupt, current.generation, loaded, current.chunks)
	}
	return current.position, nil
}

// loadChunks calls fn for each chunk of iterator, checking that they are
// generation's chunks 0, 1, ..., and returns how many there were.
func loadChunks(iterator *pebble.Iterator, generation uint64, fn func(chunk []byte) error) (uint64, error) {
	var loaded uint64
	for valid := iterator.First(); valid; valid = iterator.Next() {
		keyGeneration, sequence, err := decodeChunkKey(iterator.Key())
		if err != nil {
			return loaded, err
		}
		if keyGeneration != generation || sequence != loaded {
			return loaded, fmt.Errorf("%w: chunk %d/%d, want %d/%d",
				errCorrupt, keyGeneration, sequence, generation, loaded)
		}
		chunk, err := iterator.ValueAndErr()
		if err != nil {
			return loaded, err
		}
		// The pair of chunkWriter.yield's check: no chunk above the bound
		// is ever written, so one read back is damage, not data.
		if len(chunk) > SnapshotChunkBytesMax {
			return loaded, fmt.Errorf("%w: chunk %d/%d of %d bytes exceeds SnapshotChunkBytesMax (%d)",
				errCorrupt, generation, sequence, len(chunk), SnapshotChunkBytesMax)
		}
		if err := fn(chunk); err != nil {
			return loaded, err
		}
		loaded++
	}
	return loaded, iterator.Error()
}
