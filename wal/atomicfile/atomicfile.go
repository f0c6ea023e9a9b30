// Package atomicfile replaces small files durably and atomically: the
// server's secrets, the embedded chain's key and metadata. (The log's own
// high-water mark goes through Pebble's vfs, for its crash tests, and has
// its own copy in package wal.)
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// TemporarySuffix names the next version of a file until the rename.
const TemporarySuffix = ".tmp"

// Replace replaces the file at path with data: a temporary file beside it
// (path + TemporarySuffix) created with mode, written and fsynced, renamed
// over path, and the directory fsynced. A crash leaves the old file or the
// new one, whole; a temporary file a crash left is replaced.
func Replace(path string, data []byte, mode fs.FileMode) error {
	temporary := path + TemporarySuffix
	if err := os.Remove(temporary); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// O_EXCL: the file is created with its mode, never reused with another.
	file, err := os.OpenFile(temporary, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if err = errors.Join(err, file.Close()); err != nil {
		return errors.Join(err, os.Remove(temporary))
	}
	if err := os.Rename(temporary, path); err != nil {
		return errors.Join(err, os.Remove(temporary))
	}
	directory, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(directory.Sync(), directory.Close())
}
