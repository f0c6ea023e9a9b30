package wal

import (
	"fmt"
)

// run is the committer goroutine: it takes groups from the queue, commits
// each with one fsync and reports it, until the queue is closed and drained.
func (l *Log) run() {
	defer close(l.stopped)
	for {
		taken, request, closed := l.queue.take(l.taken[:0], l.options.BatchEntriesMax)
		if request != nil {
			l.write(request)
		}
		for entries := taken; len(entries) > 0; {
			committed := l.commit(entries)
			entries = entries[committed:]
		}
		clear(taken)
		if closed && len(taken) == 0 && request == nil {
			return
		}
	}
}

// commit writes a prefix of entries (bounded by batchBytesMax) as one Pebble
// batch with one fsync, reports it through OnDurable and returns its length.
func (l *Log) commit(entries []*Entry) int {
	if err := l.Err(); err != nil {
		clearPositions(entries)
		l.options.OnDurable(entries, 0, err)
		return len(entries)
	}
	first := l.next
	count, records, indexed := l.encode(entries)
	group := entries[:count]
	if records == 0 {
		// Only barriers: whatever was queued before them is durable already.
		clearPositions(group)
		l.options.OnDurable(group, first, nil)
		return count
	}
	if err := commitSynced(l.batch); err != nil {
		l.fail(err)
		clearPositions(group)
		l.options.OnDurable(group, first, l.Err())
		return count
	}
	l.batch.Reset()
	l.next += uint64(records)
	last := l.next - 1
	if last <= l.durable.Load() {
		panic(fmt.Sprintf("wal: durable would move from %d to %d", l.durable.Load(), last))
	}
	if indexed {
		l.refreshView()
	}
	setPositions(group, first)
	l.durable.Store(last)
	l.advanceNotify()
	l.options.OnDurable(group, first, nil)
	return count
}

// encode writes a prefix of entries into l.batch, records at positions
// l.next, l.next+1, ... (barriers take none), and returns the prefix's
// length, how many records it has and whether any entry had index puts. The
// prefix ends at the first entry that finds the prefix at batchBytesMax bytes
// or more, so it is never empty.
//
// Records go first, then the index puts: Pebble's memtable inserter reuses
// the position of its previous insert, so the sequential record keys insert
// cheaply only if the index's scattered keys do not come between them. The
// index puts keep their entry order, so a later put to a key still wins.
//
// NB: keys and values are encoded in place in the batch (SetDeferred), so
// encoding allocates nothing.
func (l *Log) encode(entries []*Entry) (count, records int, indexed bool) {
	position := l.next
	for size := 0; count < len(entries) && (count == 0 || size < batchBytesMax); count++ {
		entry := entries[count]
		if entry.isBarrier() {
			continue
		}
		operation := l.batch.SetDeferred(recordKeyBytes, len(entry.Record))
		putRecordKey(operation.Key, position)
		copy(operation.Value, entry.Record)
		if err := operation.Finish(); err != nil {
			panic(err) // only an indexed batch can fail here, and ours is not
		}
		position++
		records++
		size += len(entry.Record)
		for _, put := range entry.Index {
			size += len(put.Key) + len(put.Value)
		}
	}
	for _, entry := range entries[:count] {
		for _, put := range entry.Index {
			l.encodePut(put)
			indexed = true
		}
	}
	return count, records, indexed
}

// setPositions gives the records of a durable group their positions, from
// first on.
func setPositions(group []*Entry, first uint64) {
	position := first
	for _, entry := range group {
		if entry.isBarrier() {
			entry.Position = 0
			continue
		}
		entry.Position = position
		position++
	}
}

func clearPositions(group []*Entry) {
	for _, entry := range group {
		entry.Position = 0
	}
}

func (l *Log) encodePut(put Put) {
	if put.Value == nil {
		operation := l.batch.DeleteDeferred(1 + len(put.Key))
		operation.Key[0] = prefixIndex
		copy(operation.Key[1:], put.Key)
		if err := operation.Finish(); err != nil {
			panic(err)
		}
		return
	}
	operation := l.batch.SetDeferred(1+len(put.Key), len(put.Value))
	operation.Key[0] = prefixIndex
	copy(operation.Key[1:], put.Key)
	copy(operation.Value, put.Value)
	if err := operation.Finish(); err != nil {
		panic(err)
	}
}

// write commits a batch of WriteSnapshot with an fsync.
func (l *Log) write(request *writeRequest) {
	if err := l.Err(); err != nil {
		request.done <- err
		return
	}
	if err := commitSynced(request.batch); err != nil {
		l.fail(err)
		request.done <- l.Err()
		return
	}
	if request.refreshView {
		l.refreshView()
	}
	request.done <- nil
}
