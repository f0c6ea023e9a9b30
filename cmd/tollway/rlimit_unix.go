//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft limit of open files (RLIMIT_NOFILE) to the
// hard limit and returns it: every connection is a descriptor, and the
// connection limit is derived from this one. Go's os package does the same
// at start since Go 1.19; doing it here makes the value known, logged and
// reported (/v1/status, tollway_file_limit). On error it returns the soft
// limit it could read, or 0.
func raiseFileLimit() (uint64, error) {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return 0, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	if limit.Cur < limit.Max {
		raised := limit
		raised.Cur = raised.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return uint64(limit.Cur), fmt.Errorf("setrlimit RLIMIT_NOFILE to the hard limit %d: %w", raised.Max, err)
		}
		limit = raised
	}
	return uint64(limit.Cur), nil
}
