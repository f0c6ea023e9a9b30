package wal

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")

// testSeed returns the seed of a randomized test and logs it, so a failure
// replays with -seed=N.
func testSeed(t testing.TB) uint64 {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", seed, seed)
	return seed
}

// ackTimeout bounds every wait of a test, so a lost acknowledgement fails
// instead of hanging.
const ackTimeout = 10 * time.Second

const testDir = "db"

var discardLogger = slog.New(slog.DiscardHandler)

// ack is what OnDurable said about one entry.
type ack struct {
	position uint64
	err      error
}

// tracked is the Token of a test entry: who appended it and where its
// acknowledgement goes.
type tracked struct {
	appender int
	sequence int
	acks     chan ack // buffered 1: a second acknowledgement is a failure
}

// harness opens logs whose OnDurable checks the log's contract and routes
// each acknowledgement to its entry.
type harness struct {
	t       testing.TB
	log     atomic.Pointer[Log]
	commits atomic.Int64 // OnDurable calls with err == nil
	calls   atomic.Int64 // all OnDurable calls
	entries atomic.Int64 // entries acknowledged with err == nil
}

func (h *harness) options(fs vfs.FS) Options {
	// The mark is written every millisecond, so that crash images and
	// reopens check it at every stage.
	return Options{FS: fs, Logger: discardLogger, OnDurable: h.onDurable, IndexOf: testIndexOf,
		markInterval: time.Millisecond}
}

// testIndexOf is the tests' Options.IndexOf: the one index put of a
// newEntry record, parsed back from it; none for other records.
func testIndexOf(record []byte, dst []Put) []Put {
	var appender, sequence int
	if _, err := fmt.Sscanf(string(record), "record %d/%d ", &appender, &sequence); err != nil {
		return dst
	}
	return append(dst, Put{Key: indexKeyOf(appender, sequence), Value: bytes.Clone(record)})
}

func (h *harness) open(fs vfs.FS) *Log {
	h.t.Helper()
	l, err := Open(testDir, h.options(fs))
	if err != nil {
		h.t.Fatalf("Open = %v", err)
	}
	h.log.Store(l)
	return l
}

func (h *harness) onDurable(entries []*Entry, first uint64, err error) {
	h.calls.Add(1)
	if len(entries) == 0 {
		h.t.Errorf("OnDurable with no entries")
	}
	if err == nil {
		h.commits.Add(1)
		h.entries.Add(int64(len(entries)))
		// Records have positions first, first+1, ...; barriers have none.
		next := first
		for i, entry := range entries {
			want := uint64(0)
			if !entry.isBarrier() {
				want = next
				next++
			}
			if entry.Position != want {
				h.t.Errorf("entries[%d].Position = %d, want %d (first %d)", i, entry.Position, want, first)
			}
		}
		if l := h.log.Load(); l != nil && next > first && l.Durable() < next-1 {
			h.t.Errorf("OnDurable(first %d, last %d) with Durable() = %d", first, next-1, l.Durable())
		}
	}
	for _, entry := range entries {
		token := entry.Token.(*tracked)
		select {
		case token.acks <- ack{position: entry.Position, err: err}:
		default:
			h.t.Errorf("entry %d/%d acknowledged twice", token.appender, token.sequence)
		}
	}
}

// newEntry returns an entry with a record and one index put derived from
// (appender, sequence), with a random padding.
func newEntry(random *rand.Rand, appender, sequence int) *Entry {
	record := fmt.Appendf(nil, "record %d/%d ", appender, sequence)
	record = append(record, bytes.Repeat([]byte{'p'}, random.IntN(200))...)
	return &Entry{
		Record: record,
		Index:  []Put{{Key: indexKeyOf(appender, sequence), Value: record}},
		Token:  &tracked{appender: appender, sequence: sequence, acks: make(chan ack, 1)},
	}
}

func indexKeyOf(appender, sequence int) []byte {
	return fmt.Appendf(nil, "transfer-%d-%d", appender, sequence)
}

// wait returns the acknowledgement of entry.
func wait(t testing.TB, entry *Entry) ack {
	t.Helper()
	select {
	case a := <-entry.Token.(*tracked).acks:
		return a
	case <-time.After(ackTimeout):
		t.Fatalf("entry %d/%d never acknowledged", entry.Token.(*tracked).appender, entry.Token.(*tracked).sequence)
		return ack{}
	}
}

// acknowledged is the set of entries acknowledged durable, by position.
type acknowledged struct {
	mutex   sync.Mutex
	records map[uint64]*Entry
}

func newAcknowledged() *acknowledged {
	return &acknowledged{records: make(map[uint64]*Entry)}
}

func (a *acknowledged) add(t testing.TB, position uint64, entry *Entry) {
	a.mutex.Lock()
	defer a.mutex.Unlock()
	if previous, ok := a.records[position]; ok {
		t.Errorf("position %d acknowledged for %q and %q", position, previous.Record, entry.Record)
	}
	a.records[position] = entry
}

func (a *acknowledged) copy() map[uint64]*Entry {
	a.mutex.Lock()
	defer a.mutex.Unlock()
	result := make(map[uint64]*Entry, len(a.records))
	for position, entry := range a.records {
		result[position] = entry
	}
	return result
}

// readAll returns the records from from to Durable(), checking positions
// are dense.
func readAll(t testing.TB, l *Log, from uint64) map[uint64][]byte {
	t.Helper()
	records := make(map[uint64][]byte)
	next := from
	err := l.Read(from, func(position uint64, record []byte) error {
		if position != next {
			return fmt.Errorf("Read gave position %d, want %d", position, next)
		}
		next++
		records[position] = bytes.Clone(record)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%d) = %v", from, err)
	}
	if durable := l.Durable(); next != durable+1 && !(from > durable && next == from) {
		t.Fatalf("Read(%d) ended at %d, Durable() = %d", from, next-1, durable)
	}
	return records
}

// checkContains checks that l holds every acknowledged entry, record and
// index put, at its position.
func checkContains(t testing.TB, l *Log, want map[uint64]*Entry) {
	t.Helper()
	records := readAll(t, l, l.First())
	for position, entry := range want {
		if position < l.First() {
			continue
		}
		if got, ok := records[position]; !ok || !bytes.Equal(got, entry.Record) {
			t.Fatalf("position %d = %q (present %v), want %q (Durable() = %d)",
				position, got, ok, entry.Record, l.Durable())
		}
		for _, put := range entry.Index {
			got, err := l.Get(put.Key)
			if err != nil || !bytes.Equal(got, put.Value) {
				t.Fatalf("Get(%q) = %q, %v, want %q", put.Key, got, err, put.Value)
			}
		}
	}
}

func closeLog(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil && !errors.Is(err, ErrFailed) {
		t.Fatalf("Close = %v", err)
	}
}
