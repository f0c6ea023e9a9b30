package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// appendN appends n entries one after another and returns them by position.
func appendN(t *testing.T, l *Log, n int) map[uint64]*Entry {
	t.Helper()
	random := rand.New(rand.NewPCG(1, 2))
	appended := make(map[uint64]*Entry, n)
	for sequence := range n {
		entry := newEntry(random, 0, sequence)
		l.Append(entry)
		a := wait(t, entry)
		if a.err != nil {
			t.Fatalf("append %d = %v", sequence, a.err)
		}
		appended[a.position] = entry
	}
	return appended
}

// openAt opens a log in dir on the operating system's file system.
func openAt(t *testing.T, dir string) *Log {
	t.Helper()
	h := &harness{t: t}
	l, err := Open(dir, h.options(nil))
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	h.log.Store(l)
	return l
}

// newestWAL returns the path of the newest Pebble WAL in dir.
func newestWAL(t *testing.T, dir string) string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no WAL in %s: %v", dir, err)
	}
	slices.Sort(logs)
	return logs[len(logs)-1]
}

// flipBytes inverts count bytes of path, from offset (negative: from the end
// of its data, trailing zeros of a preallocated WAL left out).
func flipBytes(t *testing.T, path string, offset, count int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if offset < 0 {
		end := len(data)
		for end > 0 && data[end-1] == 0 {
			end--
		}
		offset += end
	}
	for i := offset; i < offset+count; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptedWALTailRefusesToOpen flips 8 bytes near the end of the newest
// WAL of a cleanly closed log. Pebble reads that as the end of the log, so
// without the high-water mark Open succeeds without the last records. With
// it, Open refuses and names the positions; AllowLogLoss opens, reports the
// gap, and the next Open (mark rewritten) agrees.
func TestCorruptedWALTailRefusesToOpen(t *testing.T) {
	const entries = 500
	dir := t.TempDir()
	h := &harness{t: t}
	l, err := Open(dir, h.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	h.log.Store(l)
	appendN(t, l, entries)
	closeLog(t, l)
	flipBytes(t, newestWAL(t, dir), -200, 8)

	_, err = Open(dir, (&harness{t: t}).options(nil))
	var loss *LogLossError
	if !errors.As(err, &loss) || !errors.Is(err, ErrLogLoss) {
		t.Fatalf("Open after a corrupted WAL tail = %v, want *LogLossError", err)
	}
	if loss.Dir != dir || loss.Marked != entries || loss.Recovered >= entries || loss.Recovered == 0 {
		t.Fatalf("LogLossError = %+v, want dir %s, marked %d, recovered in [1, %d)", loss, dir, entries, entries)
	}
	for _, want := range []string{dir, fmt.Sprintf("position %d was acknowledged", entries),
		fmt.Sprintf("ends at position %d", loss.Recovered), "AllowLogLoss"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	h = &harness{t: t}
	options := h.options(nil)
	options.AllowLogLoss = true
	l, err = Open(dir, options)
	if err != nil {
		t.Fatalf("Open with AllowLogLoss = %v", err)
	}
	h.log.Store(l)
	if first, last := l.Lost(); first != loss.Recovered+1 || last != entries {
		t.Fatalf("Lost() = %d, %d, want %d, %d", first, last, loss.Recovered+1, entries)
	}
	if l.Durable() != loss.Recovered {
		t.Fatalf("Durable() = %d, want %d", l.Durable(), loss.Recovered)
	}
	appended := appendN(t, l, 1)
	if _, ok := appended[loss.Recovered+1]; !ok {
		t.Fatalf("the next append took %v, want position %d", appended, loss.Recovered+1)
	}
	closeLog(t, l)
	l = openAt(t, dir)
	if first, last := l.Lost(); first != 0 || last != 0 || l.Durable() != loss.Recovered+1 {
		t.Fatalf("reopen: Lost() = %d, %d, Durable() = %d, want 0, 0, %d", first, last, l.Durable(), loss.Recovered+1)
	}
	closeLog(t, l)
}

// TestCleanReopenNeverTripsTheMark closes and reopens a log many times, with
// appends and a snapshot (which truncates records) between: the mark is the
// exact end of the log each time and Open never refuses. The crash tests
// reopen crash images with the mark written every millisecond.
func TestCleanReopenNeverTripsTheMark(t *testing.T) {
	dir := t.TempDir()
	for round := range 5 {
		l := openAt(t, dir)
		durable := l.Durable()
		if want := uint64(round * 50); durable != want {
			t.Fatalf("round %d: Durable() = %d, want %d", round, durable, want)
		}
		appendN(t, l, 50)
		if round == 2 {
			if err := l.WriteSnapshot(l.Durable(), func(write func([]byte) error) error {
				return write([]byte("state"))
			}); err != nil {
				t.Fatal(err)
			}
		}
		closeLog(t, l)
		marked, found, err := readMark(vfs.Default, dir)
		if err != nil || !found || marked != durable+50 {
			t.Fatalf("round %d: mark = %d, %v, %v; want %d", round, marked, found, err, durable+50)
		}
	}
}

// TestDamagedMarkRefusesToOpen: a mark file that does not parse is an error
// naming it, unless AllowLogLoss, which rewrites it.
func TestDamagedMarkRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	l := openAt(t, dir)
	closeLog(t, l)
	if err := os.WriteFile(filepath.Join(dir, markFile), []byte("tollway-wal-mark 1 7 00000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, (&harness{t: t}).options(nil)); err == nil || !strings.Contains(err.Error(), markFile+" checksum") {
		t.Fatalf("Open with a damaged mark = %v, want a checksum error naming %s", err, markFile)
	}
	options := (&harness{t: t}).options(nil)
	options.AllowLogLoss = true
	l, err := Open(dir, options)
	if err != nil {
		t.Fatalf("Open with AllowLogLoss = %v", err)
	}
	closeLog(t, l)
	if marked, _, err := readMark(vfs.Default, dir); err != nil || marked != 0 {
		t.Fatalf("mark after the override = %d, %v, want 0", marked, err)
	}
}

// flushStore flushes the memtable of the Pebble store in dir into a table:
// Close does not flush, so a closed log's records are still in its WAL.
func flushStore(t *testing.T, dir string, fs vfs.FS) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{
		FS:                 fs,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             &pebbleLogger{logger: discardLogger, onFatal: func(error) {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Flush(), db.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptedTableIsAnErrorNamingIt corrupts the one table of a flushed
// log: Pebble's default reaction is Logger.Fatalf, which panicked out of
// Open with a stack trace. Open must return an error that names the file.
func TestCorruptedTableIsAnErrorNamingIt(t *testing.T) {
	for _, where := range []struct {
		name   string
		offset int
	}{{"first block", 100}, {"footer", -30}} {
		t.Run(where.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openAt(t, dir)
			appendN(t, l, 500)
			closeLog(t, l)
			flushStore(t, dir, nil)
			tables, err := filepath.Glob(filepath.Join(dir, "*.sst"))
			if err != nil || len(tables) != 1 {
				t.Fatalf("tables %v, %v; want one", tables, err)
			}
			offset := where.offset
			if offset < 0 {
				info, err := os.Stat(tables[0])
				if err != nil {
					t.Fatal(err)
				}
				offset += int(info.Size())
			}
			flipBytes(t, tables[0], offset, 8)
			_, err = Open(dir, (&harness{t: t}).options(nil))
			if err == nil || !strings.Contains(err.Error(), "on-disk corruption in "+tables[0]) ||
				strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open with a corrupted table = %v, want one line naming %s", err, tables[0])
			}
		})
	}
}

// TestOpenOnFullDiskFailsClearly reopens a log whose WAL must be replayed
// and flushed on a disk where every write, create and reservation fails with
// ENOSPC. Pebble's Open retried its flush forever, logging each attempt;
// Open must fail at once with ErrNoSpace, naming the directory.
func TestOpenOnFullDiskFailsClearly(t *testing.T) {
	mem := vfs.NewCrashableMem()
	l := (&harness{t: t}).open(mem)
	appendN(t, l, 200)
	closeLog(t, l)
	full := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpCreate, errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFilePreallocate:
			return syscall.ENOSPC
		}
		return nil
	}))
	opened := make(chan error, 1)
	go func() {
		l, err := Open(testDir, (&harness{t: t}).options(full))
		if err == nil {
			l.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "no space left on device in "+testDir) {
			t.Fatalf("Open on a full disk = %v, want ErrNoSpace naming %s", err, testDir)
		}
	case <-time.After(ackTimeout):
		t.Fatal("Open on a full disk did not return")
	}
	// Space is back: the log opens with every entry.
	l = (&harness{t: t}).open(mem)
	if l.Durable() != 200 {
		t.Fatalf("Durable() after the disk has room = %d, want 200", l.Durable())
	}
	closeLog(t, l)
}

// TestBackgroundErrorsAreLoggedBoundedAndBackedOff: a background error that
// repeats (Pebble retries a failed flush at once) is logged once a minute,
// with the count of those not logged, and while Open waits the retries are
// paced by a pause that doubles up to openRetryBackoffMax.
func TestBackgroundErrorsAreLoggedBoundedAndBackedOff(t *testing.T) {
	var logged bytes.Buffer
	b := newBackgroundErrors(slog.New(slog.NewTextHandler(&logged, nil)))
	lines := func() []string { return strings.Split(strings.TrimSpace(logged.String()), "\n") }
	now := time.Unix(0, 0)
	var pauses []time.Duration
	b.now = func() time.Time { return now }
	b.sleep = func(d time.Duration) {
		pauses = append(pauses, d)
		now = now.Add(d)
	}
	for range 30 {
		b.report(syscall.ENOSPC)
	}
	// 16ms doubling to 4s, then 4s: 16+32+...+2048 ms, then 4s each.
	want := []time.Duration{16, 32, 64, 128, 256, 512, 1024, 2048}
	for i := range want {
		want[i] *= time.Millisecond
	}
	for len(want) < 30 {
		want = append(want, openRetryBackoffMax)
	}
	if !slices.Equal(pauses, want) {
		t.Fatalf("pauses = %v, want %v", pauses, want)
	}
	// 30 reports over about 92 s: the first, and one at the first report a
	// minute later.
	if lines := lines(); len(lines) != 2 || !strings.Contains(lines[0], "no space left on device") ||
		!strings.Contains(lines[1], "repeated=") {
		t.Fatalf("logged %q, want two lines about the full disk", lines)
	}
	b.opened()
	pauses = nil
	for range 1000 {
		b.report(errors.New("compaction failed"))
	}
	if len(lines()) != 2 || slices.ContainsFunc(pauses, func(d time.Duration) bool { return d != 0 }) {
		t.Fatalf("after Open: %d lines, pauses %v; want no new line within the minute and no pause",
			len(lines()), pauses)
	}
}

// TestStoreIsPrivateToItsOwner opens a log on the operating system's file
// system in a directory that an older version left 0755 with a 0644 file,
// appends and snapshots: the directory is 0700 and every file in it 0600.
func TestStoreIsPrivateToItsOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	old := filepath.Join(dir, "OLD-FILE")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, (&harness{t: t}).options(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 100)
	if err := l.WriteSnapshot(l.Durable(), func(write func([]byte) error) error {
		return write([]byte("state"))
	}); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	flushStore(t, dir, newPrivateFS()) // a table, through the same FS
	checkModes(t, dir)
	l, err = Open(dir, (&harness{t: t}).options(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10)
	closeLog(t, l)
	checkModes(t, dir)
}

// checkModes checks that dir is 0700 and every file under it 0600.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		want := FileMode
		if entry.IsDir() {
			want = DirMode
		} else {
			files++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files under %s", files, dir)
	}
}
