package wal

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

var timeTake, timeEncode, timeCommit, timeAck time.Duration
var cycles int

func PrintTimes() {
	fmt.Fprintf(os.Stderr, "cycles %d take %v encode %v commit %v ack %v\n", cycles, timeTake/time.Duration(cycles), timeEncode/time.Duration(cycles), timeCommit/time.Duration(cycles), timeAck/time.Duration(cycles))
}

// run is the committer goroutine: it takes groups from the queue, commits
// each with one fsync and reports it, until the queue is closed and drained.
func (l *Log) run() {
	defer close(l.stopped)
	for {
		if os.Getenv("WAL_YIELD") != "" { runtime.Gosched() }
		t0 := time.Now()
		taken, request, closed := l.queue.take(l.taken[:0], l.options.BatchEntriesMax)
		timeTake += time.Since(t0)
		cycles++
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
		l.options.OnDurable(entries, 0, err)
		return len(entries)
	}
	first := l.next
	t0 := time.Now()
	count, indexed := l.encode(entries)
	t1 := time.Now()
	timeEncode += t1.Sub(t0)
	err := commitSynced(l.batch)
	timeCommit += time.Since(t1)
	if err != nil {
		l.fail(err)
		l.options.OnDurable(entries[:count], first, l.Err())
		return count
	}
	l.batch.Reset()
	l.next += uint64(count)
	last := l.next - 1
	if last <= l.durable.Load() {
		panic(fmt.Sprintf("wal: durable would move from %d to %d", l.durable.Load(), last))
	}
	if indexed && os.Getenv("WAL_NOVIEW") == "" {
		l.refreshView()
	}
	l.durable.Store(last)
	l.advanceNotify()
	t2 := time.Now()
	l.options.OnDurable(entries[:count], first, nil)
	timeAck += time.Since(t2)
	return count
}

// encode writes a prefix of entries into l.batch at positions l.next, ...
// and returns its length and whether any entry had index puts. The prefix
// ends at the first entry that finds the batch at batchBytesMax or more, so
// it is never empty.
//
// NB: keys and values are encoded in place in the batch (SetDeferred), so
// encoding allocates nothing.
func (l *Log) encode(entries []*Entry) (count int, indexed bool) {
	position := l.next
	for count < len(entries) && (count == 0 || l.batch.Len() < batchBytesMax) {
		entry := entries[count]
		operation := l.batch.SetDeferred(recordKeyBytes, len(entry.Record))
		putRecordKey(operation.Key, position)
		copy(operation.Value, entry.Record)
		if err := operation.Finish(); err != nil {
			panic(err) // only an indexed batch can fail here, and ours is not
		}
		for _, put := range entry.Index {
			l.encodePut(put)
			indexed = true
		}
		count++
		position++
	}
	return count, indexed
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
