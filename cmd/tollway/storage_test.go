package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tollway/tollway/engine"
)

// writeStore fills a data directory with rows and closes it: its newest WAL
// holds them all (Close does not flush).
func writeStore(t *testing.T, dir string) {
	t.Helper()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		row := engine.Row{Key: fmt.Appendf(nil, "row-%d", i), Value: bytes.Repeat([]byte{'v'}, 100)}
		if _, err := eng.WriteRows(context.Background(), row); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
}

// flipNewest inverts 8 bytes of the newest file matching pattern in dir,
// back bytes before the end of its data.
func flipNewest(t *testing.T, dir, pattern string, back int) string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s in %s: %v", pattern, dir, err)
	}
	slices.Sort(paths)
	path := paths[len(paths)-1]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := len(data)
	for end > 0 && data[end-1] == 0 {
		end--
	}
	for i := end - back; i < end-back+8; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveExitTimeout bounds how long serve may take to refuse a directory.
const serveExitTimeout = 30 * time.Second

// serveChild runs `tollway serve` on dir as a child process and returns its
// exit code and stderr; it must exit before listening.
func serveChild(t *testing.T, dir string, extra ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveExitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--chain", "none"}, extra...)...)
	cmd.Env = append(os.Environ(), beMain+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("tollway serve did not exit within %v: it started on a damaged directory; stderr:\n%s", serveExitTimeout, stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("tollway serve on a damaged directory = %v, want an exit status; stderr:\n%s", err, stderr.String())
	}
	return exit.ExitCode(), stderr.String()
}

// lastLine checks that stderr has no stack trace and returns its last line.
func lastLine(t *testing.T, stderr string) string {
	t.Helper()
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
		t.Fatalf("stderr has a stack trace:\n%s", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	return lines[len(lines)-1]
}

// TestServeRefusesALogThatLostItsTail: a WAL whose tail was corrupted after
// a clean stop makes serve exit 1 with one line naming the directory and the
// override; the override starts it (it fails later here only because the
// listen address is taken, after the engine opened).
func TestServeRefusesALogThatLostItsTail(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir)
	flipNewest(t, dir, "*.log", 200)
	code, stderr := serveChild(t, dir)
	line := lastLine(t, stderr)
	if code != 1 || !strings.HasPrefix(line, "tollway: ") || !strings.Contains(line, dir) ||
		!strings.Contains(line, "--recover-truncated-log") || !strings.Contains(line, "acknowledged write(s) lost") {
		t.Fatalf("exit %d, last line %q; want 1 and the refusal naming %s and the flag", code, line, dir)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cmd := exec.Command(os.Args[0], "serve", "--data", dir, "--listen", taken.Addr().String())
	cmd.Env = append(os.Environ(), beMain+"=1", "TOLLWAY_RECOVER_TRUNCATED_LOG=true")
	output, _ := cmd.CombinedOutput()
	if !strings.Contains(string(output), "lost_last=300") || !strings.Contains(string(output), "address already in use") {
		t.Fatalf("serve with the override:\n%s\nwant the lost positions logged, then the taken address", output)
	}
}

// TestServeExitsClearlyOnACorruptedTable: a damaged table made serve panic
// with Pebble's stack trace; it must exit 1 with one line naming the file.
func TestServeExitsClearlyOnACorruptedTable(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir)
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Flush(), db.Close()); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("tables %v, want one", tables)
	}
	data, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	flipNewest(t, dir, "*.sst", len(data)-100)
	code, stderr := serveChild(t, dir)
	line := lastLine(t, stderr)
	if code != 1 || !strings.HasPrefix(line, "tollway: ") || !strings.Contains(line, "on-disk corruption in "+tables[0]) {
		t.Fatalf("exit %d, last line %q; want 1 and one line naming %s", code, line, tables[0])
	}
}

// quietLogger is a pebble.Logger that logs nothing.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Errorf(string, ...any)          {}
func (quietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
