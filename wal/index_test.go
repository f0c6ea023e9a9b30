package wal

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// openWith opens a log in testDir on fs with the harness's options as
// changed by change (test hooks).
func (h *harness) openWith(fs vfs.FS, change func(*Options)) (*Log, error) {
	options := h.options(fs)
	if change != nil {
		change(&options)
	}
	l, err := Open(testDir, options)
	if err == nil {
		h.log.Store(l)
	}
	return l, err
}

// storedIndex returns the position and value that the index DB stores for
// key.
func storedIndex(t testing.TB, l *Log, key []byte) (uint64, []byte) {
	t.Helper()
	stored, closer, err := l.index.Get(append([]byte{prefixIndex}, key...))
	if err != nil {
		t.Fatalf("index Get(%q) = %v", key, err)
	}
	defer closer.Close()
	position, value, err := decodeIndexValue(stored)
	if err != nil {
		t.Fatal(err)
	}
	return position, bytes.Clone(value)
}

// checkIndex checks that l's index is exactly testIndexOf of its records:
// every record's index put is found by Get with the record, at its
// position, and every indexed key is of a record the log holds (or held,
// before its snapshot: then its value is in truncated).
func checkIndex(t testing.TB, l *Log, truncated map[string][]byte) {
	t.Helper()
	records := readAll(t, l, l.First())
	for position, record := range records {
		for _, put := range testIndexOf(record, nil) {
			got, err := l.Get(put.Key)
			if err != nil || !bytes.Equal(got, put.Value) {
				t.Fatalf("Get(%q) = %q, %v, want the record at %d, %q", put.Key, got, err, position, put.Value)
			}
			if stored, _ := storedIndex(t, l, put.Key); stored != position {
				t.Fatalf("index entry %q stored at position %d, want %d", put.Key, stored, position)
			}
		}
	}
	var keys [][]byte
	if err := l.ScanIndex(func(key []byte) error {
		keys = append(keys, bytes.Clone(key))
		return nil
	}); err != nil {
		t.Fatalf("ScanIndex = %v", err)
	}
	for _, key := range keys {
		position, value := storedIndex(t, l, key)
		if position < l.First() {
			if want, ok := truncated[string(key)]; !ok || !bytes.Equal(value, want) {
				t.Fatalf("index entry %q of truncated position %d = %q, want %q (known %v)", key, position, value, want, ok)
			}
			continue
		}
		if record, ok := records[position]; !ok || !bytes.Equal(record, value) {
			t.Fatalf("index entry %q = record %q at position %d, but the log holds %q there (present %v): "+
				"an index entry of a record that is not durable", key, value, position, record, ok)
		}
	}
}

// checkIDs checks that every entry of want is found by Get with its record.
func checkIDs(t testing.TB, l *Log, want map[uint64]*Entry) {
	t.Helper()
	for position, entry := range want {
		for _, put := range entry.Index {
			got, err := l.Get(put.Key)
			if err != nil || !bytes.Equal(got, put.Value) {
				t.Fatalf("Get(%q) of position %d = %q, %v, want %q", put.Key, position, got, err, put.Value)
			}
		}
	}
}

// crashImage is a crash image of a store and what it must hold.
type crashImage struct {
	fs      vfs.FS
	want    map[uint64]*Entry
	flushed bool   // the index was flushed just before the image
	durable uint64 // Durable() when it was taken
}

// TestCrashAroundTheIndexApplyKeepsEveryAcknowledgedID takes crash images
// right after a group's records are committed with their fsync (its index
// puts not applied) and right after its index puts are applied (not
// flushed), sometimes after flushing the index first; each image must
// reopen with an index that is exactly the one of its records: every
// acknowledged id found with its record, nothing of a record that is not
// in the log, and the derivation starting at the marker.
func TestCrashAroundTheIndexApplyKeepsEveryAcknowledgedID(t *testing.T) {
	seed := testSeed(t)
	for _, stage := range []string{"record-committed", "index-applied"} {
		for _, unsynced := range []int{0, 50} {
			t.Run(fmt.Sprintf("%s/unsynced=%d%%", stage, unsynced), func(t *testing.T) {
				crashAroundIndex(t, seed, stage, unsynced)
			})
		}
	}
}

func crashAroundIndex(t *testing.T, seed uint64, stage string, unsynced int) {
	const (
		images    = 6
		appenders = 4
		every     = 5 // groups between two images
	)
	fs := vfs.NewCrashableMem()
	h := &harness{t: t}
	acknowledged := newAcknowledged()
	var (
		taken  []crashImage
		groups int
	)
	done := make(chan struct{})
	hook := func(l *Log) {
		groups++
		if len(taken) == images || groups%every != 0 {
			return
		}
		flushed := len(taken)%2 == 1
		if flushed {
			if err := l.index.Flush(); err != nil {
				t.Errorf("index Flush = %v", err)
			}
		}
		want := acknowledged.copy()
		image := fs.CrashClone(vfs.CrashCloneCfg{
			UnsyncedDataPercent: unsynced,
			RNG:                 rand.New(rand.NewPCG(seed, uint64(len(taken)))),
		})
		taken = append(taken, crashImage{fs: image, want: want, flushed: flushed, durable: l.next - 1})
		if len(taken) == images {
			close(done)
		}
	}
	l, err := h.openWith(fs, func(o *Options) {
		if stage == "record-committed" {
			o.afterRecordCommit = hook
		} else {
			o.afterIndexApply = hook
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var group sync.WaitGroup
	for appender := range appenders {
		group.Go(func() {
			random := rand.New(rand.NewPCG(seed, uint64(appender)))
			for sequence := 0; ; sequence++ {
				select {
				case <-done:
					return
				default:
				}
				entry := newEntry(random, appender, sequence)
				l.Append(entry)
				a := wait(t, entry)
				if a.err != nil {
					t.Errorf("append = %v", a.err)
					return
				}
				acknowledged.add(t, a.position, entry)
			}
		})
	}
	group.Wait()
	closeLog(t, l)
	for i, image := range taken {
		h := &harness{t: t}
		l := h.open(image.fs)
		if l.Durable() < image.durable && unsynced == 0 {
			t.Fatalf("image %d: Durable() = %d, the records were fsynced through %d", i, l.Durable(), image.durable)
		}
		checkContains(t, l, image.want)
		checkIndex(t, l, nil)
		if image.flushed && l.rederived >= int(l.Durable()) {
			t.Errorf("image %d: derived the index of %d records of %d after a flush: the marker was not used",
				i, l.rederived, l.Durable())
		}
		closeLog(t, l)
	}
}

// TestSnapshotKeepsTheIndexOfTruncatedRecords truncates the log with a
// snapshot and crashes between the index flush and the truncation, right
// after the truncation, and after more appends; every image, and the log
// reopened cleanly, finds every id, those of truncated records included.
func TestSnapshotKeepsTheIndexOfTruncatedRecords(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := &harness{t: t}
	var images []crashImage
	var acknowledged map[uint64]*Entry
	l, err := h.openWith(fs, func(o *Options) {
		o.afterIndexFlush = func(l *Log) {
			images = append(images, crashImage{fs: fs.CrashClone(vfs.CrashCloneCfg{}), want: maps.Clone(acknowledged)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	acknowledged = appendN(t, l, 300)
	position := l.Durable()
	if err := l.WriteSnapshot(position, func(yield func([]byte) error) error { return yield([]byte("state")) }); err != nil {
		t.Fatalf("WriteSnapshot = %v", err)
	}
	if len(images) != 1 {
		t.Fatalf("%d images at the index flush, want 1", len(images))
	}
	images = append(images, crashImage{fs: fs.CrashClone(vfs.CrashCloneCfg{}), want: maps.Clone(acknowledged)})
	random := rand.New(rand.NewPCG(3, 4))
	for sequence := range 50 {
		entry := newEntry(random, 1, sequence)
		l.Append(entry)
		a := wait(t, entry)
		if a.err != nil {
			t.Fatal(a.err)
		}
		acknowledged[a.position] = entry
	}
	images = append(images, crashImage{fs: fs.CrashClone(vfs.CrashCloneCfg{}), want: maps.Clone(acknowledged)})
	closeLog(t, l)
	images = append(images, crashImage{fs: fs, want: acknowledged})
	truncated := make(map[string][]byte)
	for p, entry := range acknowledged {
		if p <= position {
			truncated[string(entry.Index[0].Key)] = entry.Record
		}
	}
	for i, image := range images {
		l := h.open(image.fs)
		if i > 0 && l.First() != position+1 {
			t.Fatalf("image %d: First() = %d, want %d", i, l.First(), position+1)
		}
		checkIDs(t, l, image.want)
		checkIndex(t, l, truncated)
		closeLog(t, l)
	}
}

// writeOldLayout writes a store as the log wrote it before the index had
// a DB of its own: records 1..n (those after snapshotAt; a snapshot at
// snapshotAt truncated the others) and every record's index put in the
// log's DB. It returns the entries by position.
func writeOldLayout(t *testing.T, fs vfs.FS, n int, snapshotAt uint64) map[uint64]*Entry {
	t.Helper()
	db, err := pebble.Open(testDir, &pebble.Options{
		FS:                 fs,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             &pebbleLogger{logger: discardLogger, onFatal: func(error) {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	batch := db.NewBatch()
	entries := make(map[uint64]*Entry, n)
	padding := bytes.Repeat([]byte{'p'}, 1000)
	for i := range n {
		position := uint64(i + 1)
		record := append(fmt.Appendf(nil, "record 0/%d ", i), padding...)
		entry := &Entry{Record: record, Index: []Put{{Key: indexKeyOf(0, i), Value: record}}}
		entries[position] = entry
		if position > snapshotAt {
			if err := batch.Set(recordKey(position), record, nil); err != nil {
				t.Fatal(err)
			}
		}
		encodePut(batch, prefixIndex, entry.Index[0])
	}
	if snapshotAt > 0 {
		// The old layout predates retention: 24 bytes, no truncation point.
		current := metadata{generation: 1, position: snapshotAt}
		if err := batch.Set(metadataKey, current.encode()[:metadataBytesOld], nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(batch.Commit(pebble.Sync), db.Close()); err != nil {
		t.Fatal(err)
	}
	return entries
}

// checkMigrated checks a log opened on a store of the old layout: every id
// found, with its record; none left in the log's DB; entries of records
// after the snapshot at their positions, the others at the snapshot's.
func checkMigrated(t *testing.T, l *Log, entries map[uint64]*Entry, snapshotAt uint64) {
	t.Helper()
	if first, _, err := keyRange(l.db, indexStart, indexEnd); err != nil || first != nil {
		t.Fatalf("index key %q left in the log's DB (%v)", first, err)
	}
	checkIDs(t, l, entries)
	for position, entry := range entries {
		want := max(position, snapshotAt) // derived again after the snapshot
		if stored, _ := storedIndex(t, l, entry.Index[0].Key); stored != want {
			t.Fatalf("migrated entry %q at position %d, want %d", entry.Index[0].Key, stored, want)
		}
	}
	truncated := make(map[string][]byte)
	for position, entry := range entries {
		if position <= snapshotAt {
			truncated[string(entry.Index[0].Key)] = entry.Record
		}
	}
	checkIndex(t, l, truncated)
}

// TestOpenMovesTheIndexOutOfTheLogsStore opens a store of the old layout,
// also from crash images taken in the middle of the copy (some batches
// flushed, no marker) and before the old keys' DeleteRange (all copied and
// flushed, marked).
func TestOpenMovesTheIndexOutOfTheLogsStore(t *testing.T) {
	const (
		n          = 3000 // about 3 MiB of index: several batches
		snapshotAt = 1000
	)
	fs := vfs.NewCrashableMem()
	entries := writeOldLayout(t, fs, n, snapshotAt)
	var duringCopy, beforeDelete vfs.FS
	h := &harness{t: t}
	l, err := h.openWith(fs, func(o *Options) {
		o.duringIndexCopy = func(l *Log, copied int) {
			if copied == n/2 {
				if err := l.index.Flush(); err != nil {
					t.Errorf("index Flush = %v", err)
				}
				duringCopy = fs.CrashClone(vfs.CrashCloneCfg{})
			}
		}
		o.beforeIndexRangeDelete = func(*Log) { beforeDelete = fs.CrashClone(vfs.CrashCloneCfg{}) }
	})
	if err != nil {
		t.Fatalf("Open of the old layout = %v", err)
	}
	if l.migrated != n {
		t.Fatalf("moved %d index entries, want %d", l.migrated, n)
	}
	checkMigrated(t, l, entries, snapshotAt)
	closeLog(t, l)
	l = h.open(fs)
	if l.migrated != 0 || l.rederived != 0 {
		t.Fatalf("second Open moved %d entries and derived %d, want none", l.migrated, l.rederived)
	}
	checkMigrated(t, l, entries, snapshotAt)
	closeLog(t, l)

	for _, image := range []struct {
		name     string
		fs       vfs.FS
		migrated int
	}{{"during the copy", duringCopy, n}, {"before the DeleteRange", beforeDelete, 0}} {
		t.Run(image.name, func(t *testing.T) {
			if image.fs == nil {
				t.Fatal("no image taken")
			}
			if image.migrated == n {
				// The copy is interrupted: some entries are in the index
				// DB, without the marker.
				index, err := pebble.Open(image.fs.PathJoin(testDir, indexDir), &pebble.Options{FS: image.fs,
					FormatMajorVersion: pebble.FormatNewest, Logger: &pebbleLogger{logger: discardLogger, onFatal: func(error) {}}})
				if err != nil {
					t.Fatal(err)
				}
				first, _, err := keyRange(index, indexStart, indexEnd)
				_, marked, markErr := readIndexedThrough(index)
				if err := errors.Join(err, markErr, index.Close()); err != nil {
					t.Fatal(err)
				}
				if first == nil || marked {
					t.Fatalf("image during the copy: entries %v, marked %v; want entries and no marker", first != nil, marked)
				}
			}
			h := &harness{t: t}
			l := h.open(image.fs)
			defer closeLog(t, l)
			if l.migrated != image.migrated {
				t.Fatalf("moved %d index entries, want %d", l.migrated, image.migrated)
			}
			checkMigrated(t, l, entries, snapshotAt)
		})
	}
}

// TestAllowLogLossDeletesTheIndexOfLostPositions loses the tail of a log
// whose index is flushed: Open refuses (with the mark file, and without it
// from the index's marker alone); with AllowLogLoss the ids of the lost
// positions are gone, so their retries run again, also after the positions
// are reused and the log reopened.
func TestAllowLogLossDeletesTheIndexOfLostPositions(t *testing.T) {
	const (
		appended = 100
		kept     = 60
	)
	fs := vfs.NewCrashableMem()
	h := &harness{t: t}
	l := h.open(fs)
	entries := appendN(t, l, appended)
	closeLog(t, l)
	db, err := pebble.Open(testDir, &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatNewest,
		Logger: &pebbleLogger{logger: discardLogger, onFatal: func(error) {}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.DeleteRange(recordKey(kept+1), recordKey(appended+1), pebble.Sync), db.Close()); err != nil {
		t.Fatal(err)
	}
	withMark := fs.CrashClone(vfs.CrashCloneCfg{})
	withoutMark := fs.CrashClone(vfs.CrashCloneCfg{})
	if err := withoutMark.Remove(withoutMark.PathJoin(testDir, markFile)); err != nil {
		t.Fatal(err)
	}
	for _, image := range []struct {
		name string
		fs   vfs.FS
	}{{"mark file", withMark}, {"index marker only", withoutMark}} {
		t.Run(image.name, func(t *testing.T) {
			h := &harness{t: t}
			var loss *LogLossError
			if _, err := h.openWith(image.fs, nil); !errors.As(err, &loss) || loss.Recovered != kept || loss.Marked != appended {
				t.Fatalf("Open = %v, want a LogLossError of positions %d-%d", err, kept+1, appended)
			}
			l, err := h.openWith(image.fs, func(o *Options) { o.AllowLogLoss = true })
			if err != nil {
				t.Fatalf("Open with AllowLogLoss = %v", err)
			}
			if first, last := l.Lost(); first != kept+1 || last != appended {
				t.Fatalf("Lost() = %d-%d, want %d-%d", first, last, kept+1, appended)
			}
			checkLost := func(l *Log) {
				t.Helper()
				for position, entry := range entries {
					_, err := l.Get(entry.Index[0].Key)
					switch {
					case position <= kept && err != nil:
						t.Fatalf("Get of kept position %d = %v", position, err)
					case position > kept && !errors.Is(err, ErrNotFound):
						t.Fatalf("Get of lost position %d = %v, want ErrNotFound", position, err)
					}
				}
				checkIndex(t, l, nil)
			}
			checkLost(l)
			random := rand.New(rand.NewPCG(5, 5))
			for sequence := range 10 {
				entry := newEntry(random, 5, sequence)
				l.Append(entry)
				if a := wait(t, entry); a.err != nil || a.position != uint64(kept+1+sequence) {
					t.Fatalf("append after the loss at %d, %v, want %d", a.position, a.err, kept+1+sequence)
				}
			}
			closeLog(t, l)
			l = h.open(image.fs)
			defer closeLog(t, l)
			checkIndex(t, l, nil)
			for position, entry := range entries {
				if position > kept {
					if _, err := l.Get(entry.Index[0].Key); !errors.Is(err, ErrNotFound) {
						t.Fatalf("Get of lost position %d after a reopen = %v, want ErrNotFound", position, err)
					}
				}
			}
		})
	}
}

// TestFailedIndexFlushFailsClosed makes the index DB's files fail (a full
// disk) when WriteSnapshot flushes it: the log fails closed, without a
// panic or a hang, keeps the records (the truncation is not written), and
// reopens with every acknowledged id, derived again.
func TestFailedIndexFlushFailsClosed(t *testing.T) {
	mem := vfs.NewCrashableMem()
	indexPath := mem.PathJoin(testDir, indexDir) + "/"
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasPrefix(op.Path, indexPath) && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return fmt.Errorf("%w: %w", errorfs.ErrInjected, syscall.ENOSPC)
		}
		return nil
	})}
	h := &harness{t: t}
	l := h.open(errorfs.Wrap(mem, toggle))
	acknowledged := appendN(t, l, 200)
	toggle.On()
	err := l.WriteSnapshot(l.Durable(), func(yield func([]byte) error) error { return yield([]byte("state")) })
	if !errors.Is(err, ErrFailed) || !errors.Is(l.Err(), ErrFailed) || !strings.Contains(l.Err().Error(), "no space") {
		t.Fatalf("WriteSnapshot = %v, Err() = %v; want ErrFailed of the full disk", err, l.Err())
	}
	late := newEntry(rand.New(rand.NewPCG(7, 7)), 9, 0)
	l.Append(late)
	if a := wait(t, late); !errors.Is(a.err, ErrFailed) {
		t.Fatalf("Append after the failure = %v, want ErrFailed", a.err)
	}
	image := mem.CrashClone(vfs.CrashCloneCfg{})
	closeWithin(t, l, ackTimeout)
	toggle.Off()
	for _, fs := range []vfs.FS{image, mem} {
		l := h.open(fs)
		if l.First() != 1 {
			t.Fatalf("First() = %d: the failed snapshot truncated the log", l.First())
		}
		checkContains(t, l, acknowledged)
		checkIndex(t, l, nil)
		closeLog(t, l)
	}
}

// TestIndexIsAppliedOnlyAfterTheFsync fails the fsync of the log's WAL: the
// failed group's index puts must not reach the index DB, which Get reads
// live.
func TestIndexIsAppliedOnlyAfterTheFsync(t *testing.T) {
	mem := vfs.NewCrashableMem()
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") &&
			slices.Contains([]errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}, op.Kind) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	h := &harness{t: t}
	l := h.open(errorfs.Wrap(mem, toggle))
	appendN(t, l, 10)
	toggle.On()
	failed := newEntry(rand.New(rand.NewPCG(8, 8)), 8, 0)
	l.Append(failed)
	if a := wait(t, failed); !errors.Is(a.err, ErrFailed) {
		t.Fatalf("append with a failing fsync = %v, want ErrFailed", a.err)
	}
	if _, closer, err := l.index.Get(append([]byte{prefixIndex}, failed.Index[0].Key...)); !isNotFound(err) {
		if err == nil {
			closer.Close()
		}
		t.Fatalf("the index DB has the failed group's entry (%v)", err)
	}
	closeWithin(t, l, ackTimeout)
}

// TestStorageMetricsSumBothStores checks the counters move with appends, a
// flush of each store and a compaction.
func TestStorageMetricsSumBothStores(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)
	before := l.StorageMetrics()
	// Twice the same keys: two index tables that overlap, so that the
	// compaction rewrites them rather than moving one.
	for range 2 {
		appendN(t, l, 500)
		if err := errors.Join(l.db.Flush(), l.index.Flush()); err != nil {
			t.Fatal(err)
		}
	}
	after := l.StorageMetrics()
	main, index := l.db.Metrics(), l.index.Metrics()
	if after.WALBytesWritten <= before.WALBytesWritten || after.WALBytesWritten != main.WAL.BytesWritten {
		t.Errorf("WALBytesWritten %d (before %d), want the log DB's %d", after.WALBytesWritten, before.WALBytesWritten, main.WAL.BytesWritten)
	}
	if index.Flush.Count == 0 || after.Flushes != main.Flush.Count+index.Flush.Count {
		t.Errorf("Flushes = %d, want %d + %d (both > 0)", after.Flushes, main.Flush.Count, index.Flush.Count)
	}
	flushed := main.Levels[0].TableBytesFlushed + index.Levels[0].TableBytesFlushed
	if after.FlushedBytes != flushed || index.Levels[0].TableBytesFlushed == 0 {
		t.Errorf("FlushedBytes = %d, want %d, the index's > 0", after.FlushedBytes, flushed)
	}
	if after.L0Files != main.Levels[0].TablesCount+index.Levels[0].TablesCount || after.L0Files < 2 {
		t.Errorf("L0Files = %d, want %d + %d", after.L0Files, main.Levels[0].TablesCount, index.Levels[0].TablesCount)
	}
	if after.TableBytes <= 0 {
		t.Errorf("TableBytes = %d after flushes", after.TableBytes)
	}
	if err := l.index.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	compacted := l.StorageMetrics()
	main, index = l.db.Metrics(), l.index.Metrics()
	var compactedBytes uint64
	for level := range main.Levels {
		compactedBytes += main.Levels[level].TableBytesCompacted + index.Levels[level].TableBytesCompacted
	}
	if compacted.Compactions != main.Compact.Count+index.Compact.Count || compacted.Compactions == 0 ||
		compacted.CompactedBytes != compactedBytes || compactedBytes == 0 {
		t.Errorf("after a compaction: %d compactions of %d bytes, want %d + %d of %d (> 0)",
			compacted.Compactions, compacted.CompactedBytes, main.Compact.Count, index.Compact.Count, compactedBytes)
	}
}

// TestBothStoresShareOneFileCache checks that the tables the two stores
// open count against one file cache, so that TableFilesOpenMax bounds them
// in all: after each store opened a table, both report the same count, of
// both tables.
func TestBothStoresShareOneFileCache(t *testing.T) {
	h := &harness{t: t}
	l := h.open(vfs.NewMem())
	defer closeLog(t, l)
	entries := appendN(t, l, 50)
	if err := errors.Join(l.db.Flush(), l.index.Flush()); err != nil {
		t.Fatal(err)
	}
	readAll(t, l, 1)
	checkIDs(t, l, entries)
	main, index := l.db.Metrics().FileCache, l.index.Metrics().FileCache
	if main.TableCount != index.TableCount || main.TableCount < 2 {
		t.Fatalf("open tables: %d by the log's store, %d by the index's; want one count of both (>= 2)",
			main.TableCount, index.TableCount)
	}
}
