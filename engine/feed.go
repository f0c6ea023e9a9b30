package engine

import (
	"sync"

	"github.com/tollway/tollway/engine/ledger"
)

// The live feed hands each commit's events to the subscriptions straight
// from the commit callback, so a subscription that keeps up delivers them
// without reading them back from the log and decoding them (a Pebble
// iterator per commit and a decode per event, per subscription: what the
// usage projection cost every charge before). A subscription reads the log
// only to catch up: from an older position when it starts, across a gap,
// or after its inbox overflowed because it fell behind. So a slow
// subscriber costs the commit path one bounded append, never a wait.

// feedBacklogBytesMax bounds what one subscription's inbox keeps alive
// (counted as the checkpointer counts: checkpointEventBytes an event plus
// its memo). Past it the inbox drops everything queued and the
// subscription reads the log instead, which has it all.
const feedBacklogBytesMax = 16 << 20

// feedBatch is one group commit: the positions first..last, and the
// events among them, in order: the ledger's, and the table writes' when a
// subscription asks for rows (SubscribeOptions.RowPrefixes; otherwise the
// rest are table writes).
type feedBatch struct {
	first, last uint64
	events      []feedEvent
	bytes       int
	inline      [4]feedEvent // events' room for a small commit: one allocation for all
}

// feedEvent is a ledger event, or a table write (event nil; its log
// record is write.entry.Record).
type feedEvent struct {
	position uint64
	event    *ledger.Event
	write    *rowsWrite
}

// feed is the set of subscriptions' inboxes. The commit callback builds
// one batch per commit and puts it in each (read-only, shared).
type feed struct {
	mu      sync.Mutex
	inboxes map[*feedInbox]struct{}
	rows    int // inboxes that want table writes
}

func (f *feed) add(in *feedInbox) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inboxes == nil {
		f.inboxes = make(map[*feedInbox]struct{})
	}
	f.inboxes[in] = struct{}{}
	if in.rows {
		f.rows++
	}
}

func (f *feed) remove(in *feedInbox) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.inboxes[in]; ok && in.rows {
		f.rows--
	}
	delete(f.inboxes, in)
}

// publish puts one commit into every inbox. Called by the commit callback
// only, in log order; never blocks beyond the inboxes' short locks.
func (f *feed) publish(b *feedBatch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for in := range f.inboxes {
		in.put(b)
	}
}

// subscribed reports whether any subscription listens, so that a commit
// builds its batch only then, and whether any wants table writes, so that
// the batch carries them only then.
//
// NB: a subscription added after this and before publish gets a batch
// without table writes; it reads the log first, which has that commit
// (durable before the callback that builds the batch), so it skips it.
func (f *feed) subscribed() (listening, rows bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inboxes) > 0, f.rows > 0
}

// feedInbox is one subscription's queue of commits.
type feedInbox struct {
	ready    chan struct{} // capacity 1: something was put
	bytesMax int           // feedBacklogBytesMax, or a test's
	rows     bool          // its subscription delivers table writes

	mu      sync.Mutex
	batches []*feedBatch
	bytes   int
	dropped bool // batches were dropped since the last take: read the log
	// spare is a slice take handed out and recycle gave back, emptied:
	// the next take's batches are appended into it, so a subscriber costs
	// no allocation per commit (each take would leave a nil slice to grow).
	spare []*feedBatch
}

// feedSpareMax bounds the capacity of the slice an inbox keeps for reuse:
// one past a burst is dropped rather than held.
const feedSpareMax = 64

func newFeedInbox(bytesMax int, rows bool) *feedInbox {
	return &feedInbox{ready: make(chan struct{}, 1), bytesMax: bytesMax, rows: rows}
}

func (in *feedInbox) put(b *feedBatch) {
	in.mu.Lock()
	if in.dropped || in.bytes+b.bytes > in.bytesMax {
		clear(in.batches)
		in.batches, in.bytes, in.dropped = in.batches[:0], 0, true
	} else {
		in.batches = append(in.batches, b)
		in.bytes += b.bytes
	}
	in.mu.Unlock()
	select {
	case in.ready <- struct{}{}:
	default:
	}
}

// take empties the inbox: the batches queued, and whether some were
// dropped (then the log has what is missing).
func (in *feedInbox) take() (batches []*feedBatch, dropped bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	batches, dropped = in.batches, in.dropped
	in.batches, in.bytes, in.dropped = in.spare, 0, false
	in.spare = nil
	return batches, dropped
}

// recycle gives back a slice take returned, once its batches are
// delivered: the inbox appends the next ones into it.
func (in *feedInbox) recycle(batches []*feedBatch) {
	if batches == nil || cap(batches) > feedSpareMax {
		return
	}
	clear(batches)
	in.mu.Lock()
	if in.spare == nil {
		in.spare = batches[:0]
	}
	in.mu.Unlock()
}
