package engine

import (
	"testing"

	"github.com/tollway/tollway/engine/ledger"
)

// TestCheckpointInboxQueuesUpToItsBoundThenDropsAndRemembersWhere checks
// the hand-off from the log's reporter to the checkpointer: batches queue
// in order up to bytesMax (events and their memos); one byte more drops
// them all, and every batch after it until the next take, keeping only the
// last position dropped.
func TestCheckpointInboxQueuesUpToItsBoundThenDropsAndRemembersWhere(t *testing.T) {
	q := newCheckpointInbox(3*checkpointEventBytes + 5)
	events := func(n int) []*ledger.Event {
		events := make([]*ledger.Event, n)
		for i := range events {
			events[i] = &ledger.Event{}
		}
		return events
	}
	withMemo := func(memo string) []*ledger.Event { return []*ledger.Event{{Memo: memo}} }
	q.put(events(2), 10)
	q.put(withMemo("12345"), 11) // exactly bytesMax
	batches, dropped := q.take(nil)
	if len(batches) != 2 || batches[0].last != 10 || batches[1].last != 11 || dropped != 0 {
		t.Fatalf("take = %+v, dropped %d, want the batches at 10 and 11 and nothing dropped", batches, dropped)
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("put did not signal ready")
	}
	q.put(events(2), 12)
	q.put(withMemo("123456"), 13) // one byte past bytesMax: everything queued goes
	q.put(events(1), 14)          // and so does what follows until take
	if batches, dropped := q.take(batches); len(batches) != 0 || dropped != 14 {
		t.Fatalf("take = %d batches, dropped %d, want none and 14", len(batches), dropped)
	}
	q.put(events(1), 15) // after take, batches queue again
	if batches, dropped := q.take(nil); len(batches) != 1 || batches[0].last != 15 || dropped != 0 {
		t.Fatalf("take after a drop = %+v, dropped %d, want the batch at 15", batches, dropped)
	}
}
