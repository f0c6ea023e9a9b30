package wal

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// queue is the bounded queue between appenders and the committer: a ring of
// entry pointers under one mutex. A ring rather than a channel because the
// committer takes up to a whole group in one lock (one copy of pointers,
// not one channel receive per entry) and AppendBatch enqueues many entries
// in one lock, in order.
//
// Appenders wait on notFull only while the ring is full, which bounds the
// memory held by entries nobody has committed yet. The committer waits on
// notEmpty only while there is nothing to do.
type queue struct {
	mutex    sync.Mutex
	notEmpty sync.Cond // the committer waits here
	notFull  sync.Cond // appenders wait here

	ring  []*Entry // len(ring) == Options.QueueEntriesMax
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
	done        chan error // buffered, receives the outcome once
}

func (q *queue) init(capacity int) {
	q.notEmpty.L = &q.mutex
	q.notFull.L = &q.mutex
	q.ring = make([]*Entry, capacity)
}

// push enqueues entries in order, waiting while the ring is full, and
// returns how many it enqueued: fewer than len(entries) only if the queue
// was closed meanwhile.
func (q *queue) push(entries []*Entry) int {
	q.mutex.Lock()
	pushed := 0
	for pushed < len(entries) {
		for q.count == len(q.ring) && !q.closed {
			q.notFull.Wait()
		}
		if q.closed {
			break
		}
		tail := q.tail()
		n := min(len(entries)-pushed, len(q.ring)-q.count, len(q.ring)-tail)
		copy(q.ring[tail:tail+n], entries[pushed:pushed+n])
		q.count += n
		pushed += n
		q.wakeCommitter()
	}
	q.mutex.Unlock()
	return pushed
}

// pushOne is push for one entry, without a slice; it reports whether the
// entry was enqueued.
func (q *queue) pushOne(entry *Entry) bool {
	q.mutex.Lock()
	for q.count == len(q.ring) && !q.closed {
		q.notFull.Wait()
	}
	if q.closed {
		q.mutex.Unlock()
		return false
	}
	q.ring[q.tail()] = entry
	q.count++
	wake := q.committerWaiting
	q.committerWaiting = false
	q.mutex.Unlock()
	// Outside the lock, so that the appenders behind this one need not wait
	// for the wakeup: Signal needs no lock, and the committer registered as
	// a waiter before it released the mutex, so it cannot miss this.
	if wake {
		q.notEmpty.Signal()
	}
	return true
}

// tail returns the ring index of the next entry to push.
//
// REQUIRES: q.mutex is held.
func (q *queue) tail() int {
	tail := q.head + q.count
	if tail >= len(q.ring) {
		tail -= len(q.ring) // not %: a division on every append
	}
	return tail
}

// submit hands request to the committer; false if the queue is closed.
func (q *queue) submit(request *writeRequest) bool {
	q.mutex.Lock()
	defer q.mutex.Unlock()
	if q.closed {
		return false
	}
	if q.request != nil {
		panic("wal: two snapshot writes at once")
	}
	q.request = request
	q.wakeCommitter()
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
		q.head = (q.head + n) % len(q.ring)
		q.count -= n
		q.notFull.Broadcast()
	}
	request := q.request
	q.request = nil
	closed := q.closed
	q.mutex.Unlock()
	return into, request, closed
}

// close stops accepting entries and requests; entries already queued stay
// for the committer. Appenders waiting for room give up.
func (q *queue) close() {
	q.mutex.Lock()
	q.closed = true
	q.notFull.Broadcast()
	q.notEmpty.Signal()
	q.mutex.Unlock()
}

// wakeCommitter signals the committer if it sleeps.
//
// REQUIRES: q.mutex is held.
func (q *queue) wakeCommitter() {
	if q.committerWaiting {
		q.committerWaiting = false
		q.notEmpty.Signal()
	}
}
