package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tollway/tollway/wal/atomicfile"
)

func TestReplaceWritesAndReplacesWithTheMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	// A temporary file a crash left, of a wider mode: replaced, not reused.
	if err := os.WriteFile(path+atomicfile.TemporarySuffix, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"first\n", "second, longer\n"} {
		if err := atomicfile.Replace(path, []byte(content), 0o600); err != nil {
			t.Fatalf("Replace(%q) = %v", content, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("file holds %q (%v), want %q", got, err, content)
		}
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("file mode %v (%v), want 0600", info.Mode().Perm(), err)
		}
		if _, err := os.Stat(path + atomicfile.TemporarySuffix); !os.IsNotExist(err) {
			t.Fatalf("temporary file left behind: %v", err)
		}
	}
}

func TestReplaceFailsWithoutTouchingTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := atomicfile.Replace(path, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory where the temporary file goes: the write cannot start.
	if err := os.Mkdir(path+atomicfile.TemporarySuffix, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path+atomicfile.TemporarySuffix, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Replace(path, []byte("lost"), 0o600); err == nil {
		t.Fatal("Replace succeeded with its temporary path taken by a directory")
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "kept" {
		t.Fatalf("file holds %q (%v) after a failed Replace, want %q", got, err, "kept")
	}
}
