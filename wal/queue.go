package wal

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// queueEntriesInitial is the queue's first capacity; it doubles as needed.
const queueEntriesInitial = 4096

// queue is the queue between appenders and the committer: a ring of entry
// pointers under one mutex. A ring rather than a channel because the
// committer takes up to a whole group in one lock (one copy of pointers,
// not one channel receive per entry) and AppendBatch enqueues many entries
// in one lock, in order.
//
// NB: pushing never blocks; the ring doubles when full. Appenders run on
// goroutines that must not wait for the disk (account actors, also when the
// log's own syncer runs them), so the bound on entries in flight is the
// engine's, at admission: every entry belongs to an operation somebody
// admitted and waits for. The ring never shrinks; it keeps the largest
// backlog seen, eight bytes per entry.
type queue struct {
	mutex    sync.Mutex
	notEmpty sync.Cond // the committer waits here

	ring  []*Entry // a power of two long
	head  int      // index of the oldest entry
	count int      // entries in the ring

	// request is a batch of WriteSnapshot for the committer to commit; at
	// most one is pending because WriteSnapshot calls are serialized.
	request *writeRequest

	closed           bool // Close was called: no more entries or requests
	committerWaiting bool // the committer sleeps on notEmpty
}

// writeRequest asks the committer to commit batch with an fsync, so that the
// committer stays the only goroutine writing to Pebble.
type writeRequest struct {
	batch *pebble.Batch
	// refreshView asks for a new read view after the commit, so that Get's
	// Pebble snapshot does not pin what the batch deleted.
	refreshView bool
	// flushIndex asks for the index DB to be flushed before the commit,
	// because the batch truncates records (index.go).
	flushIndex bool
	done       chan error // buffered, receives the outcome once
}

func (q *queue) init() {
	q.notEmpty.L = &q.mutex
	q.ring = make([]*Entry, queueEntriesInitial)
}

// push enqueues entries in order and reports whether it did: false if the
// queue is closed, and then none is enqueued.
func (q *queue) push(entries []*Entry) bool {
	q.mutex.Lock()
	if q.closed {
		q.mutex.Unlock()
		return false
	}
	q.reserve(len(entries))
	for pushed := 0; pushed < len(entries); {
		tail := q.tail()
		n := min(len(entries)-pushed, len(q.ring)-tail)
		copy(q.ring[tail:tail+n], entries[pushed:pushed+n])
		q.count += n
		pushed += n
	}
	q.unlockWaking()
	return true
}

// pushOne is push for one entry, without a slice.
func (q *queue) pushOne(entry *Entry) bool {
	q.mutex.Lock()
	if q.closed {
		q.mutex.Unlock()
		return false
	}
	q.reserve(1)
	q.ring[q.tail()] = entry
	q.count++
	q.unlockWaking()
	return true
}

// unlockWaking releases the mutex and wakes the committer if it sleeps.
//
// NB: the wakeup is outside the lock, so that the appenders behind this one
// need not wait for it: Signal needs no lock, and the committer registered
// as a waiter before it released the mutex, so it cannot miss this.
//
// REQUIRES: q.mutex is held.
func (q *queue) unlockWaking() {
	wake := q.committerWaiting
	q.committerWaiting = false
	q.mutex.Unlock()
	if wake {
		q.notEmpty.Signal()
	}
}

// reserve makes room for n more entries, doubling the ring as needed.
//
// REQUIRES: q.mutex is held.
func (q *queue) reserve(n int) {
	if q.count+n <= len(q.ring) {
		return
	}
	size := len(q.ring)
	for size < q.count+n {
		size *= 2
	}
	ring := make([]*Entry, size)
	firstPart := min(q.count, len(q.ring)-q.head)
	copy(ring, q.ring[q.head:q.head+firstPart])
	copy(ring[firstPart:], q.ring[:q.count-firstPart])
	q.ring, q.head = ring, 0
}

// tail returns the ring index of the next entry to push.
//
// REQUIRES: q.mutex is held.
func (q *queue) tail() int {
	return (q.head + q.count) & (len(q.ring) - 1)
}

// submit hands request to the committer; false if the queue is closed.
func (q *queue) submit(request *writeRequest) bool {
	q.mutex.Lock()
	if q.closed {
		q.mutex.Unlock()
		return false
	}
	if q.request != nil {
		q.mutex.Unlock()
		panic("wal: two snapshot writes at once")
	}
	q.request = request
	q.unlockWaking()
	return true
}

// take waits for work and appends up to entriesMax of the oldest entries to
// into. It also returns the pending request, if any, and whether the queue
// is closed; closed with nothing taken means the committer is done.
func (q *queue) take(into []*Entry, entriesMax int) ([]*Entry, *writeRequest, bool) {
	q.mutex.Lock()
	for q.count == 0 && q.request == nil && !q.closed {
		q.committerWaiting = true
		q.notEmpty.Wait()
	}
	q.committerWaiting = false
	n := min(q.count, entriesMax)
	if n > 0 {
		firstPart := min(n, len(q.ring)-q.head)
		into = append(into, q.ring[q.head:q.head+firstPart]...)
		into = append(into, q.ring[:n-firstPart]...)
		// Drop the ring's references so taken entries can be freed once
		// acknowledged.
		clear(q.ring[q.head : q.head+firstPart])
		clear(q.ring[:n-firstPart])
		q.head = (q.head + n) & (len(q.ring) - 1)
		q.count -= n
	}
	request := q.request
	q.request = nil
	closed := q.closed
	q.mutex.Unlock()
	return into, request, closed
}

// close stops accepting entries and requests; entries already queued stay
// for the committer.
func (q *queue) close() {
	q.mutex.Lock()
	q.closed = true
	q.notEmpty.Signal()
	q.mutex.Unlock()
}
