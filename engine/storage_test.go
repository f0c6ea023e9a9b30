package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tollway/tollway/engine"
)

// chargeN makes n charges of 1 from alice to bob, ids c-0 to c-(n-1).
func chargeN(t *testing.T, eng *engine.Engine, n int) {
	t.Helper()
	for i := range n {
		id := engine.TransferID(fmt.Sprintf("c-%d", i))
		if _, err := eng.Charge(context.Background(), engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(1)}); err != nil {
			t.Fatalf("Charge(%s) = %v", id, err)
		}
	}
}

// flipNearEnd inverts 8 bytes of path, back bytes before the end of its
// data (a WAL's preallocated trailing zeros left out) or of the file.
func flipNearEnd(t *testing.T, path string, back int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := len(data)
	for strings.HasSuffix(path, ".log") && end > 0 && data[end-1] == 0 {
		end--
	}
	for i := end - back; i < end-back+8; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newest(t *testing.T, dir, pattern string) string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s in %s: %v", pattern, dir, err)
	}
	slices.Sort(paths)
	return paths[len(paths)-1]
}

// TestCorruptedLogTailRefusesToOpen: 8 bytes flipped near the end of the
// newest WAL of a cleanly closed engine made Pebble end the log there, and
// the engine opened without its last acknowledged charges (a retry then
// charged them again as new). Open must refuse, naming the directory and the
// positions; with AllowLogLoss it opens and reports exactly the charges lost.
func TestCorruptedLogTailRefusesToOpen(t *testing.T) {
	const charges = 300
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	chargeN(t, eng, charges)
	acknowledged := eng.Position()
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	flipNearEnd(t, newest(t, dir, "*.log"), 200)

	_, err = engine.Open(engine.Options{Dir: dir})
	if !errors.Is(err, engine.ErrLogLoss) || !strings.Contains(err.Error(), dir) ||
		!strings.Contains(err.Error(), fmt.Sprintf("position %d was acknowledged", acknowledged)) {
		t.Fatalf("Open after a corrupted log tail = %v, want ErrLogLoss naming %s and position %d", err, dir, acknowledged)
	}

	eng = openTest(t, engine.Options{Dir: dir, AllowLogLoss: true})
	recovered := eng.Recovered()
	if recovered.LostLast != acknowledged || recovered.LostFirst == 0 || recovered.LostFirst > acknowledged ||
		eng.Position() != recovered.LostFirst-1 {
		t.Fatalf("Recovered() = %+v, Position() = %d; want lost positions ending at %d, position just before them",
			recovered, eng.Position(), acknowledged)
	}
	missing := 0
	for i := range charges {
		_, err := eng.Transfer(ctx, engine.TransferID(fmt.Sprintf("c-%d", i)))
		switch {
		case errors.Is(err, engine.ErrNotFound):
			missing++
		case err != nil:
			t.Fatal(err)
		}
	}
	if lost := int(recovered.LostLast - recovered.LostFirst + 1); missing != lost {
		t.Fatalf("%d charges missing, %d positions reported lost", missing, lost)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

// quietPebbleLogger is a pebble.Logger that logs nothing.
type quietPebbleLogger struct{}

func (quietPebbleLogger) Infof(string, ...any)           {}
func (quietPebbleLogger) Errorf(string, ...any)          {}
func (quietPebbleLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

// TestCorruptedTableIsAClearError: a flipped block of a table made Open
// panic with Pebble's stack trace (its corruption handler is Logger.Fatalf).
// Open must return one line naming the file.
func TestCorruptedTableIsAClearError(t *testing.T) {
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	chargeN(t, eng, 200)
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	// Close leaves the records in the WAL; a flush puts them in a table.
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: quietPebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Flush(), db.Close()); err != nil {
		t.Fatal(err)
	}
	table := newest(t, dir, "*.sst")
	data, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	flipNearEnd(t, table, len(data)-100) // the first data block

	_, err = engine.Open(engine.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "on-disk corruption in "+table) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open with a corrupted table = %v, want one line naming %s", err, table)
	}
}

// TestDataDirIsPrivate: the data directory is 0700 and every file in it
// 0600 after Open, writes, a snapshot and a reopen.
func TestDataDirIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	eng, err := engine.Open(engine.Options{Dir: dir, SnapshotEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)
	chargeN(t, eng, 120)
	if _, err := eng.WriteRows(context.Background(), engine.Row{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng = openTest(t, engine.Options{Dir: dir})
	chargeN(t, eng, 1)
	files := 0
	err = filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if entry.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}
