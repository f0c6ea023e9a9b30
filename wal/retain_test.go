package wal

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A retention behind the snapshot keeps its records through snapshots and
// reopens (also from a crash image); advancing it lets truncation proceed,
// and truncation never moves back.
func TestSnapshotRetainingKeepsRecordsBehindTheSnapshot(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := &harness{t: t}
	l := h.open(fs)
	random := rand.New(rand.NewPCG(19, 20))
	appendAndWait(t, l, random, 0, 100)
	chunks := [][]byte{[]byte("state")}
	if err := l.WriteSnapshotRetaining(80, 31, chunksOf(chunks, nil)); err != nil {
		t.Fatalf("WriteSnapshotRetaining(80, 31) = %v", err)
	}
	checkRetained(t, l, 31, 100)
	// A later snapshot with the retention unmoved keeps the same records.
	appendAndWait(t, l, random, 1, 10)
	if err := l.WriteSnapshotRetaining(105, 31, chunksOf(chunks, nil)); err != nil {
		t.Fatalf("WriteSnapshotRetaining(105, 31) = %v", err)
	}
	checkRetained(t, l, 31, 110)
	if position, _ := loadAll(t, l); position != 105 {
		t.Fatalf("LoadSnapshot = %d, want 105", position)
	}
	closeLog(t, l)
	l = h.open(fs)
	checkRetained(t, l, 31, 110)

	// A crash right after the snapshot's batch: the image keeps both.
	if err := l.WriteSnapshotRetaining(108, 51, chunksOf(chunks, nil)); err != nil {
		t.Fatalf("WriteSnapshotRetaining(108, 51) = %v", err)
	}
	image := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	closeLog(t, l)
	l = h.open(image)
	checkRetained(t, l, 51, 110)
	if position, _ := loadAll(t, l); position != 108 {
		t.Fatalf("LoadSnapshot after a crash = %d, want 108", position)
	}
	// Truncation never moves back; a retention past the snapshot truncates
	// at the snapshot only.
	if err := l.WriteSnapshotRetaining(108, 10, chunksOf(chunks, nil)); err != nil {
		t.Fatalf("WriteSnapshotRetaining(108, 10) = %v", err)
	}
	checkRetained(t, l, 51, 110)
	if err := l.WriteSnapshotRetaining(109, 200, chunksOf(chunks, nil)); err != nil {
		t.Fatalf("WriteSnapshotRetaining(109, 200) = %v", err)
	}
	checkRetained(t, l, 110, 110)
	closeLog(t, l)
	l = h.open(image)
	defer closeLog(t, l)
	checkRetained(t, l, 110, 110)
}

// checkRetained checks that l's records run exactly from first to durable.
func checkRetained(t *testing.T, l *Log, first, durable uint64) {
	t.Helper()
	if l.First() != first || l.Durable() != durable {
		t.Fatalf("First(), Durable() = %d, %d, want %d, %d", l.First(), l.Durable(), first, durable)
	}
	if err := l.Read(first-1, func(uint64, []byte) error { return nil }); first > 1 && !errors.Is(err, ErrTruncated) {
		t.Fatalf("Read(%d) = %v, want ErrTruncated", first-1, err)
	}
	if records := readAll(t, l, first); len(records) != int(durable-first+1) {
		t.Fatalf("Read(%d) returned %d records, want %d", first, len(records), durable-first+1)
	}
}

// A store written before retention (24-byte metadata) reads as truncated
// at its snapshot.
func TestMetadataWithoutTruncationReadsAsTruncatedAtItsSnapshot(t *testing.T) {
	old := metadata{generation: 3, position: 40, chunks: 2, truncated: 40}.encode()[:metadataBytesOld]
	got, err := decodeMetadata(old)
	if err != nil || got != (metadata{generation: 3, position: 40, chunks: 2, truncated: 40}) {
		t.Fatalf("decodeMetadata(old) = %+v, %v", got, err)
	}
	if _, err := decodeMetadata(metadata{position: 4, truncated: 5}.encode()); err == nil {
		t.Fatalf("decodeMetadata accepted a truncation beyond its snapshot")
	}
}
