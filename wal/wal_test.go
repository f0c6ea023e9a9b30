package wal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// appendConcurrently has appenders goroutines each append perAppender
// entries, waiting for each acknowledgement when closedLoop (like an engine
// waiting for its reply) or only at the end otherwise. It checks each
// appender's entries are acknowledged in its order and returns them all.
func appendConcurrently(t *testing.T, l *Log, seed uint64, appenders, perAppender int,
	closedLoop bool) *acknowledged {
	t.Helper()
	acknowledged := newAcknowledged()
	var group sync.WaitGroup
	for appender := range appenders {
		group.Go(func() {
			random := rand.New(rand.NewPCG(seed, uint64(appender)))
			entries := make([]*Entry, 0, perAppender)
			for sequence := range perAppender {
				entry := newEntry(random, appender, sequence)
				entries = append(entries, entry)
				l.Append(entry)
				if closedLoop {
					checkAck(t, acknowledged, entries, sequence)
				}
			}
			if !closedLoop {
				for sequence := range entries {
					checkAck(t, acknowledged, entries, sequence)
				}
			}
		})
	}
	group.Wait()
	return acknowledged
}

// checkAck waits for entries[sequence] and records its position.
func checkAck(t *testing.T, acknowledged *acknowledged, entries []*Entry, sequence int) {
	a := wait(t, entries[sequence])
	if a.err != nil {
		t.Errorf("append %d = %v", sequence, a.err)
		return
	}
	acknowledged.add(t, a.position, entries[sequence])
}

func TestConcurrentAppendsAreDenseOrderedAndAcknowledgedOnce(t *testing.T) {
	const appenders, perAppender = 64, 200
	seed := testSeed(t)
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)

	acknowledged := appendConcurrently(t, l, seed, appenders, perAppender, false).copy()

	total := appenders * perAppender
	if len(acknowledged) != total || l.Durable() != uint64(total) {
		t.Fatalf("%d acknowledged, Durable() = %d, want %d", len(acknowledged), l.Durable(), total)
	}
	for position := uint64(1); position <= uint64(total); position++ {
		if _, ok := acknowledged[position]; !ok {
			t.Fatalf("position %d never acknowledged: positions are not dense", position)
		}
	}
	records := readAll(t, l, 1)
	if len(records) != total {
		t.Fatalf("Read returned %d records, want %d", len(records), total)
	}
	checkContains(t, l, acknowledged)
	checkAppenderOrder(t, acknowledged)
}

// checkAppenderOrder checks each appender's sequences increase with position.
func checkAppenderOrder(t *testing.T, acknowledged map[uint64]*Entry) {
	t.Helper()
	sequenceAt := make(map[int]int)
	for position := uint64(1); position <= uint64(len(acknowledged)); position++ {
		token := acknowledged[position].Token.(*tracked)
		if previous, ok := sequenceAt[token.appender]; ok && previous >= token.sequence {
			t.Fatalf("appender %d: sequence %d logged after %d", token.appender, token.sequence, previous)
		}
		sequenceAt[token.appender] = token.sequence
	}
}

func TestGroupCommitWritesManyEntriesPerFsync(t *testing.T) {
	const appenders, perAppender = 128, 40
	seed := testSeed(t)
	h := &harness{t: t}
	// A real directory, so that each commit costs a real fsync.
	l, err := Open(t.TempDir(), h.options(vfs.Default))
	if err != nil {
		t.Fatal(err)
	}
	h.log.Store(l)
	defer closeLog(t, l)

	appendConcurrently(t, l, seed, appenders, perAppender, true)

	entries, commits := h.entries.Load(), h.commits.Load()
	t.Logf("%d entries in %d commits (%.1f per commit)", entries, commits, float64(entries)/float64(commits))
	if entries != appenders*perAppender || commits >= entries/4 {
		t.Fatalf("%d entries in %d commits, want %d entries in fewer than %d commits",
			entries, commits, appenders*perAppender, entries/4)
	}
}

func TestAppendBatchKeepsOrder(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)
	random := rand.New(rand.NewPCG(1, 2))
	entries := make([]*Entry, 100)
	for i := range entries {
		entries[i] = newEntry(random, 0, i)
	}
	l.AppendBatch(entries)
	for i, entry := range entries {
		if a := wait(t, entry); a.err != nil || a.position != uint64(i+1) {
			t.Fatalf("entry %d acknowledged at %d with %v, want %d", i, a.position, a.err, i+1)
		}
	}
}

func TestAppendBeyondTheQueuesInitialSizeNeverBlocks(t *testing.T) {
	h := &harness{t: t}
	options := h.options(vfs.NewMem())
	options.BatchEntriesMax = 100
	l, err := Open(testDir, options)
	if err != nil {
		t.Fatal(err)
	}
	h.log.Store(l)
	defer closeLog(t, l)
	random := rand.New(rand.NewPCG(3, 4))
	entries := make([]*Entry, 3*queueEntriesInitial)
	for i := range entries {
		entries[i] = newEntry(random, 0, i)
	}
	l.AppendBatch(entries[:queueEntriesInitial+1])
	for _, entry := range entries[queueEntriesInitial+1 : 2*queueEntriesInitial] {
		l.Append(entry)
	}
	l.AppendBatch(entries[2*queueEntriesInitial:])
	for i, entry := range entries {
		if a := wait(t, entry); a.err != nil || a.position != uint64(i+1) {
			t.Fatalf("entry %d acknowledged at %d with %v, want %d", i, a.position, a.err, i+1)
		}
	}
}

func TestQueueKeepsOrderWhileGrowingAcrossTheRingsEnd(t *testing.T) {
	var q queue
	q.init()
	entries := make([]*Entry, 3*queueEntriesInitial)
	for i := range entries {
		entries[i] = &Entry{Position: uint64(i)}
	}
	// Move the head to the middle, so the next pushes wrap, then grow.
	q.push(entries[:queueEntriesInitial/2])
	taken, _, _ := q.take(nil, queueEntriesInitial/4)
	q.push(entries[queueEntriesInitial/2 : queueEntriesInitial])
	for _, entry := range entries[queueEntriesInitial:] {
		q.pushOne(entry)
	}
	taken, _, _ = q.take(taken, len(entries))
	if len(taken) != len(entries) || len(q.ring) != 4*queueEntriesInitial {
		t.Fatalf("took %d of %d entries; ring of %d", len(taken), len(entries), len(q.ring))
	}
	for i, entry := range taken {
		if entry.Position != uint64(i) {
			t.Fatalf("entry %d taken at %d", entry.Position, i)
		}
	}
	q.close()
	if q.pushOne(entries[0]) || q.push(entries) {
		t.Fatal("a closed queue took entries")
	}
}

func TestGetSeesIndexPutsAndDeletes(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)
	put := &Entry{Record: []byte("r1"), Index: []Put{{Key: []byte("k"), Value: []byte("v1")}},
		Token: &tracked{acks: make(chan ack, 1)}}
	l.Append(put)
	wait(t, put)
	if got, err := l.Get([]byte("k")); err != nil || string(got) != "v1" {
		t.Fatalf("Get(k) = %q, %v, want v1", got, err)
	}
	if _, err := l.Get([]byte("absent")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(absent) = %v, want ErrNotFound", err)
	}
	remove := &Entry{Record: []byte("r2"), Index: []Put{{Key: []byte("k")}},
		Token: &tracked{acks: make(chan ack, 1)}}
	l.Append(remove)
	wait(t, remove)
	if _, err := l.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(k) after delete = %v, want ErrNotFound", err)
	}
}

func TestNotifyClosesWhenDurableAdvances(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	changed := l.Notify()
	select {
	case <-changed:
		t.Fatal("Notify closed before any append")
	default:
	}
	entry := newEntry(rand.New(rand.NewPCG(5, 6)), 0, 0)
	l.Append(entry)
	select {
	case <-changed:
	case <-time.After(ackTimeout):
		t.Fatal("Notify not closed after an append became durable")
	}
	if l.Durable() != 1 {
		t.Fatalf("Durable() = %d after Notify, want 1", l.Durable())
	}
	wait(t, entry)
	closeLog(t, l)
	select {
	case <-l.Notify():
	default:
		t.Fatal("Notify not closed after Close")
	}
}

func TestClosedLogRejectsEverything(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	queued := newEntry(rand.New(rand.NewPCG(7, 8)), 0, 0)
	l.Append(queued)
	closeLog(t, l)
	if a := wait(t, queued); a.err != nil {
		t.Fatalf("entry queued before Close = %v, want committed", a.err)
	}
	late := newEntry(rand.New(rand.NewPCG(7, 8)), 0, 1)
	l.Append(late)
	if a := wait(t, late); !errors.Is(a.err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", a.err)
	}
	if _, err := l.Get([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if err := l.Read(1, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

func TestReopenContinuesPositions(t *testing.T) {
	fs := vfs.NewMem()
	h := &harness{t: t}
	l := h.open(fs)
	random := rand.New(rand.NewPCG(9, 10))
	first := newEntry(random, 0, 0)
	l.Append(first)
	wait(t, first)
	closeLog(t, l)

	l = h.open(fs)
	defer closeLog(t, l)
	if l.Durable() != 1 || l.First() != 1 {
		t.Fatalf("reopened Durable() = %d, First() = %d, want 1, 1", l.Durable(), l.First())
	}
	second := newEntry(random, 0, 1)
	l.Append(second)
	if a := wait(t, second); a.err != nil || a.position != 2 {
		t.Fatalf("append after reopen at %d, %v, want 2", a.position, a.err)
	}
	records := readAll(t, l, 1)
	if !bytes.Equal(records[1], first.Record) || !bytes.Equal(records[2], second.Record) {
		t.Fatalf("records after reopen = %q, %q", records[1], records[2])
	}
}

func TestBarriersTakeNoPositionAndFollowWhatPrecedesThem(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)
	random := rand.New(rand.NewPCG(15, 16))
	barrier := func() *Entry { return &Entry{Token: &tracked{acks: make(chan ack, 1)}} }
	entries := []*Entry{newEntry(random, 0, 0), barrier(), newEntry(random, 0, 1), barrier()}
	l.AppendBatch(entries)
	for i, want := range []uint64{1, 0, 2, 0} {
		if a := wait(t, entries[i]); a.err != nil || a.position != want {
			t.Fatalf("entries[%d] acknowledged at %d with %v, want %d", i, a.position, a.err, want)
		}
	}
	commits := h.commits.Load()
	alone := barrier()
	l.Append(alone)
	if a := wait(t, alone); a.err != nil || a.position != 0 {
		t.Fatalf("barrier alone = %d, %v, want 0, nil", a.position, a.err)
	}
	if l.Durable() != 2 {
		t.Fatalf("Durable() = %d after barriers, want 2", l.Durable())
	}
	if records := readAll(t, l, 1); len(records) != 2 {
		t.Fatalf("Read returned %d records, want the 2 non-barriers", len(records))
	}
	if h.commits.Load() != commits+1 {
		t.Fatalf("a group of barriers alone made %d OnDurable calls, want 1", h.commits.Load()-commits)
	}
}

func TestTableRowsOutliveSnapshotsAndStayApartFromTheIndex(t *testing.T) {
	h := &harness{t: t}
	fs := vfs.NewMem()
	l := h.open(fs)
	rows := []*Entry{
		{Record: []byte("r1"), Table: []Put{{Key: []byte("u/1"), Value: []byte("alice")}, {Key: []byte("k/1"), Value: []byte("key")}}},
		{Record: []byte("r2"), Table: []Put{{Key: []byte("u/2"), Value: []byte("bob")}}, Index: []Put{{Key: []byte("u/3"), Value: []byte("index")}}},
		{Record: []byte("r3"), Table: []Put{{Key: []byte("u/1")}}}, // deletes alice
	}
	for _, entry := range rows {
		entry.Token = &tracked{acks: make(chan ack, 1)}
		l.Append(entry)
		wait(t, entry)
	}
	if err := l.WriteSnapshot(3, func(yield func([]byte) error) error { return yield([]byte("state")) }); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	closeLog(t, l)
	l = h.open(fs)
	defer closeLog(t, l)
	var got []string
	err := l.ScanTable([]byte("u/"), func(key, value []byte) error {
		got = append(got, string(key)+"="+string(value))
		return nil
	})
	if want := []string{"u/2=bob"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("ScanTable(u/) = %q, %v, want %q", got, err, want)
	}
	if _, err := l.Get([]byte("u/2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(u/2) from the index = %v, want ErrNotFound: a table row is not an index key", err)
	}
	if first := l.First(); first != 4 {
		t.Fatalf("First() = %d after a snapshot at 3, want 4", first)
	}
}
