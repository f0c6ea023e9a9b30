package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Modes of the store on the operating system's file system. The store holds
// every record and row, secrets of the layers above included: no other user
// may read it. The directory's mode is the barrier (nobody else can reach a
// file inside a 0700 directory); the files' modes are the second line.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// privateFS is the operating system's file system with the store's modes:
// files are created FileMode and directories DirMode, whatever the umask
// allows. Pebble's vfs.Default creates them 0666 and 0755 (less the umask).
//
// NB: the file is created empty with its mode before Pebble opens it through
// vfs.Default (one more open and close per created file: Pebble creates
// files per WAL rotation, flush and compaction, never per write), so its
// contents are never readable by others, not even for a moment.
type privateFS struct{ vfs.FS }

func newPrivateFS() vfs.FS { return privateFS{vfs.Default} }

func (p privateFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	const flags = os.O_RDWR | os.O_CREATE | os.O_EXCL | syscall.O_CLOEXEC
	file, err := os.OpenFile(name, flags, FileMode)
	// Like vfs.Default.Create, a file already there is removed, not truncated
	// (it may be a hard link), and created again.
	for errors.Is(err, fs.ErrExist) {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		file, err = os.OpenFile(name, flags, FileMode)
	}
	if err != nil {
		return nil, err
	}
	if err := file.Close(); err != nil {
		return nil, err
	}
	return p.FS.OpenReadWrite(name, category)
}

func (p privateFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, options ...vfs.OpenOption) (vfs.File, error) {
	if err := createPrivate(name); err != nil {
		return nil, err
	}
	return p.FS.OpenReadWrite(name, category, options...)
}

func (p privateFS) Lock(name string) (io.Closer, error) {
	if err := createPrivate(name); err != nil {
		return nil, err
	}
	return p.FS.Lock(name)
}

func (p privateFS) MkdirAll(dir string, _ os.FileMode) error { return p.FS.MkdirAll(dir, DirMode) }

func (p privateFS) Unwrap() vfs.FS { return p.FS }

// createPrivate creates name empty with FileMode if it does not exist.
func createPrivate(name string) error {
	file, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return file.Close()
}

// prepareDir creates dir (DirMode) if it is missing. On the operating
// system's file system (private), it also takes group and other permissions
// away from an existing dir and its files, which versions before the modes
// were set created 0755 and 0644.
func prepareDir(fs vfs.FS, dir string, private bool, logger *slog.Logger) error {
	if err := fs.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if !private {
		return nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if info.Mode().Perm()&^DirMode != 0 {
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", dir, err)
		}
		logger.Info("wal: data directory restricted to its owner", "dir", dir,
			"was", info.Mode().Perm().String(), "now", DirMode.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tightened := 0
	for _, entry := range entries {
		if !entry.Type().IsRegular() {
			continue
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&^FileMode != 0 {
			if err := os.Chmod(fs.PathJoin(dir, entry.Name()), FileMode); err != nil {
				return fmt.Errorf("restrict %s to its owner: %w", entry.Name(), err)
			}
			tightened++
		}
	}
	if tightened > 0 {
		logger.Info("wal: data files restricted to their owner", "dir", dir, "files", tightened, "now", FileMode.String())
	}
	return nil
}

// Disk space at Open. Pebble's Open flushes the memtables it replays from
// the WAL into a table and creates a new WAL; if that flush fails it retries
// at once, forever, with Open waiting. On a full disk that is a restart that
// never ends, logging an error per attempt. So Open first checks that the
// flush can fit: it reserves the bytes of the WALs to replay plus
// spaceProbeMarginBytes in a probe file, and fails with a clear error if the
// file system says there is no space.
const (
	spaceProbeFile = "SPACE-PROBE.tmp"
	// spaceProbeMarginBytes covers what the flush writes beside the table (a
	// new WAL, MANIFEST and OPTIONS files): a few MiB.
	spaceProbeMarginBytes = 4 << 20
	// spaceProbeWriteBytes are written, not only reserved: a file system
	// that cannot reserve (no fallocate) still refuses a write when full.
	spaceProbeWriteBytes = 4 << 10
)

// ErrNoSpace marks Open's error when the disk has no room to open the log.
var ErrNoSpace = errors.New("no space left on device")

// probeSpace checks that dir's file system has room for the WAL replay.
func probeSpace(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return err
	}
	need := int64(spaceProbeMarginBytes)
	for _, name := range names {
		if strings.HasSuffix(name, ".log") {
			if info, err := fs.Stat(fs.PathJoin(dir, name)); err == nil {
				need += info.Size()
			}
		}
	}
	path := fs.PathJoin(dir, spaceProbeFile)
	file, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err == nil {
		_, err = file.Write(make([]byte, spaceProbeWriteBytes))
		if err == nil {
			err = file.Preallocate(0, need)
		}
		err = errors.Join(err, file.Close())
		err = errors.Join(err, fs.Remove(path))
	}
	if err == nil {
		return nil
	}
	if vfs.IsNoSpaceError(err) {
		return fmt.Errorf("%w in %s: opening the log needs about %d MiB free to replay and flush its WAL (%v)",
			ErrNoSpace, dir, (need+(1<<20)-1)>>20, err)
	}
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil // no fallocate here: the write above was the probe
	}
	return fmt.Errorf("probe free space in %s: %w", dir, err)
}
