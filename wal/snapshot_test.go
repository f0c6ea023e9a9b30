package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// appendAndWait appends count entries and waits until they are durable.
func appendAndWait(t *testing.T, l *Log, random *rand.Rand, appender, count int) map[uint64]*Entry {
	t.Helper()
	entries := make([]*Entry, count)
	for i := range entries {
		entries[i] = newEntry(random, appender, i)
	}
	l.AppendBatch(entries)
	acknowledged := make(map[uint64]*Entry, count)
	for _, entry := range entries {
		a := wait(t, entry)
		if a.err != nil {
			t.Fatalf("append = %v", a.err)
		}
		acknowledged[a.position] = entry
	}
	return acknowledged
}

// chunksOf returns a chunks function that yields chunks, calling before
// (if not nil) ahead of each.
func chunksOf(chunks [][]byte, before func(i int)) func(yield func([]byte) error) error {
	return func(yield func([]byte) error) error {
		for i, chunk := range chunks {
			if before != nil {
				before(i)
			}
			if err := yield(chunk); err != nil {
				return err
			}
		}
		return nil
	}
}

// loadAll returns the current snapshot of l.
func loadAll(t *testing.T, l *Log) (uint64, [][]byte) {
	t.Helper()
	var chunks [][]byte
	position, err := l.LoadSnapshot(func(chunk []byte) error {
		chunks = append(chunks, bytes.Clone(chunk))
		return nil
	})
	if err != nil {
		t.Fatalf("LoadSnapshot = %v", err)
	}
	return position, chunks
}

func sameChunks(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

func TestSnapshotTruncatesTheLogAndSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	h := &harness{t: t}
	l := h.open(fs)
	random := rand.New(rand.NewPCG(11, 12))
	if position, chunks := loadAll(t, l); position != 0 || len(chunks) != 0 {
		t.Fatalf("LoadSnapshot of a new log = %d, %d chunks, want 0, 0", position, len(chunks))
	}
	appendAndWait(t, l, random, 0, 100)
	// Large enough to span two chunk batches.
	chunks := [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{'s'}, snapshotBatchBytesMax), []byte("last")}
	if err := l.WriteSnapshot(60, chunksOf(chunks, nil)); err != nil {
		t.Fatalf("WriteSnapshot(60) = %v", err)
	}
	checkSnapshot(t, l, 60, chunks, 100)
	closeLog(t, l)

	l = h.open(fs)
	checkSnapshot(t, l, 60, chunks, 100)
	more := appendAndWait(t, l, random, 1, 10)
	if _, ok := more[101]; !ok {
		t.Fatalf("appends after reopen did not continue at 101")
	}
	// A snapshot of everything leaves no record; positions still continue.
	everything := [][]byte{[]byte("everything")}
	if err := l.WriteSnapshot(110, chunksOf(everything, nil)); err != nil {
		t.Fatalf("WriteSnapshot(110) = %v", err)
	}
	closeLog(t, l)
	l = h.open(fs)
	defer closeLog(t, l)
	checkSnapshot(t, l, 110, everything, 110)
	if more := appendAndWait(t, l, random, 2, 1); more[111] == nil {
		t.Fatalf("append after a snapshot of everything did not land at 111")
	}
}

// checkSnapshot checks that l's snapshot is chunks at position and that its
// records run from position+1 to durable.
func checkSnapshot(t *testing.T, l *Log, position uint64, chunks [][]byte, durable uint64) {
	t.Helper()
	if got, gotChunks := loadAll(t, l); got != position || !sameChunks(gotChunks, chunks) {
		t.Fatalf("LoadSnapshot = %d with %d chunks, want %d with %d", got, len(gotChunks), position, len(chunks))
	}
	if l.First() != position+1 || l.Durable() != durable {
		t.Fatalf("First(), Durable() = %d, %d, want %d, %d", l.First(), l.Durable(), position+1, durable)
	}
	for _, from := range []uint64{0, 1, position} {
		if err := l.Read(from, func(uint64, []byte) error { return nil }); from <= position && !errors.Is(err, ErrTruncated) {
			t.Fatalf("Read(%d) after a snapshot at %d = %v, want ErrTruncated", from, position, err)
		}
	}
	if records := readAll(t, l, position+1); len(records) != int(durable-position) {
		t.Fatalf("Read(%d) returned %d records, want %d", position+1, len(records), durable-position)
	}
}

func TestAbandonedSnapshotKeepsTheCurrentOne(t *testing.T) {
	fs := vfs.NewMem()
	h := &harness{t: t}
	l := h.open(fs)
	random := rand.New(rand.NewPCG(13, 14))
	appendAndWait(t, l, random, 0, 20)
	current := [][]byte{[]byte("current")}
	if err := l.WriteSnapshot(10, chunksOf(current, nil)); err != nil {
		t.Fatal(err)
	}
	abandon := errors.New("abandon")
	big := bytes.Repeat([]byte{'a'}, snapshotBatchBytesMax) // flushed before the error
	err := l.WriteSnapshot(15, func(yield func([]byte) error) error {
		if err := yield(big); err != nil {
			return err
		}
		return abandon
	})
	if !errors.Is(err, abandon) {
		t.Fatalf("WriteSnapshot = %v, want the chunks function's error", err)
	}
	checkSnapshot(t, l, 10, current, 20)
	tooBig := make([]byte, SnapshotChunkBytesMax+1)
	err = l.WriteSnapshot(15, func(yield func([]byte) error) error {
		_ = yield(tooBig) // a careless chunks function drops the errors
		_ = yield([]byte("fits"))
		return nil
	})
	if err == nil {
		t.Fatal("WriteSnapshot with a chunk above SnapshotChunkBytesMax succeeded")
	}
	closeLog(t, l)
	l = h.open(fs)
	defer closeLog(t, l)
	checkSnapshot(t, l, 10, current, 20)
	// The next snapshot must not pick up the abandoned attempts' chunks.
	next := [][]byte{[]byte("next")}
	if err := l.WriteSnapshot(20, chunksOf(next, nil)); err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, l, 20, next, 20)
}

func TestLoadSnapshotRejectsAChunkAboveSnapshotChunkBytesMax(t *testing.T) {
	fs := vfs.NewMem()
	h := &harness{t: t}
	l := h.open(fs)
	defer closeLog(t, l)
	appendAndWait(t, l, rand.New(rand.NewPCG(3, 4)), 0, 10)
	if err := l.WriteSnapshot(10, chunksOf([][]byte{[]byte("first"), []byte("second")}, nil)); err != nil {
		t.Fatal(err)
	}
	// Damage: the second chunk grows one byte past the bound, behind the
	// writer's back.
	key := make([]byte, chunkKeyBytes)
	putChunkKey(key, l.snapshot.generation, 1)
	if err := l.db.Set(key, make([]byte, SnapshotChunkBytesMax+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	var loaded int
	_, err := l.LoadSnapshot(func([]byte) error { loaded++; return nil })
	if !errors.Is(err, errCorrupt) || loaded != 1 {
		t.Fatalf("LoadSnapshot with a chunk of SnapshotChunkBytesMax+1 bytes = %v after %d chunks, want errCorrupt after 1", err, loaded)
	}
}

func TestCrashDuringWriteSnapshotLeavesOneSnapshotComplete(t *testing.T) {
	seed := testSeed(t)
	random := rand.New(rand.NewPCG(seed, 0))
	mem := vfs.NewCrashableMem()
	var syncing atomic.Pointer[func()] // called before a WAL fsync, if set
	observer := errorfs.InjectorFunc(func(op errorfs.Op) error {
		isSync := op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo
		if before := syncing.Load(); before != nil && isSync && strings.HasSuffix(op.Path, ".log") {
			(*before)()
		}
		return nil
	})
	h := &harness{t: t}
	l := h.open(errorfs.Wrap(mem, observer))
	acknowledged := appendAndWait(t, l, random, 0, 200)
	old := [][]byte{[]byte("old 1"), []byte("old 2"), []byte("old 3")}
	if err := l.WriteSnapshot(100, chunksOf(old, nil)); err != nil {
		t.Fatal(err)
	}
	for position, entry := range appendAndWait(t, l, random, 1, 100) {
		acknowledged[position] = entry
	}
	var chunks [][]byte // about 5 MiB: two chunk batches and the final one
	for i := range 10 {
		chunks = append(chunks, append(fmt.Appendf(nil, "new %d ", i), bytes.Repeat([]byte{'n'}, 512<<10)...))
	}

	var images []*vfs.MemFS
	crash := func(unsyncedPercent int) {
		images = append(images, mem.CrashClone(vfs.CrashCloneCfg{
			UnsyncedDataPercent: unsyncedPercent,
			RNG:                 rand.New(rand.NewPCG(seed, uint64(len(images)))),
		}))
	}
	// Crash between chunks, and right before each WAL fsync of the snapshot
	// (its chunk batches and its final batch), keeping all, none or half of
	// what was written but not synced.
	crashBeforeSync := func() { crash(0); crash(50) }
	syncing.Store(&crashBeforeSync)
	err := l.WriteSnapshot(250, chunksOf(chunks, func(i int) { crash(50 * (i % 2)) }))
	syncing.Store(nil)
	if err != nil {
		t.Fatal(err)
	}
	crash(0)
	closeLog(t, l)

	counts := map[uint64]int{}
	for _, image := range images {
		position := checkSnapshotImage(t, image, acknowledged, map[uint64][][]byte{100: old, 250: chunks})
		counts[position]++
	}
	t.Logf("%d crash images: %d with the old snapshot, %d with the new", len(images), counts[100], counts[250])
	if counts[100] == 0 || counts[250] == 0 {
		t.Fatal("the crash images do not cover both outcomes")
	}
}

// checkSnapshotImage opens a crash image and checks its snapshot is one of
// want, complete, that the log continues right after it and that it holds
// every acknowledged record past it. It returns the snapshot's position.
func checkSnapshotImage(t *testing.T, image *vfs.MemFS, acknowledged map[uint64]*Entry,
	want map[uint64][][]byte) uint64 {
	t.Helper()
	h := &harness{t: t}
	l := h.open(image)
	defer closeLog(t, l)
	position, chunks := loadAll(t, l)
	wantChunks, ok := want[position]
	if !ok || !sameChunks(chunks, wantChunks) {
		t.Fatalf("crash image has a snapshot at %d with %d chunks; want one of the written snapshots, complete",
			position, len(chunks))
	}
	if l.First() != position+1 {
		t.Fatalf("crash image: First() = %d with a snapshot at %d", l.First(), position)
	}
	checkContains(t, l, acknowledged)
	return position
}

func TestSnapshotsWhileAppendingAndReading(t *testing.T) {
	const appenders, perAppender, snapshots = 8, 300, 5
	seed := testSeed(t)
	fs := vfs.NewMem()
	h := &harness{t: t}
	l := h.open(fs)
	done := make(chan struct{})
	var background sync.WaitGroup
	background.Go(func() { // a reader racing with the truncations
		for {
			select {
			case <-done:
				return
			default:
			}
			err := l.Read(l.First(), func(uint64, []byte) error { return nil })
			if err != nil && !errors.Is(err, ErrTruncated) {
				t.Errorf("Read during snapshots = %v", err)
				return
			}
		}
	})
	var lastChunks [][]byte
	var lastPosition uint64
	background.Go(func() {
		for i := range snapshots {
			if !waitDurable(t, l, uint64(i+1)*200) {
				return
			}
			chunks := [][]byte{fmt.Appendf(nil, "snapshot %d", i)}
			position := l.Durable()
			if err := l.WriteSnapshot(position, chunksOf(chunks, nil)); err != nil {
				t.Errorf("WriteSnapshot(%d) = %v", position, err)
				return
			}
			lastChunks, lastPosition = chunks, position
		}
	})
	acknowledged := appendConcurrently(t, l, seed, appenders, perAppender, true).copy()
	close(done)
	background.Wait()
	checkContains(t, l, acknowledged)
	closeLog(t, l)

	l = h.open(fs)
	defer closeLog(t, l)
	checkSnapshot(t, l, lastPosition, lastChunks, appenders*perAppender)
	checkContains(t, l, acknowledged)
}
