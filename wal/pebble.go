package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Pebble tuning for this workload: a stream of small sequential writes that
// must each reach the disk, with reads mostly of recent positions and of
// index keys. Everything not named here keeps Pebble's default.
const (
	// memTableBytes is large so that memtables flush rarely, into few L0
	// tables: the record keys are sequential, so their tables never overlap
	// and move down the LSM without being rewritten.
	memTableBytes = 64 << 20
	// memTablesStopWritesCount is how many memtables may wait for a flush
	// before Pebble stalls commits: 256 MiB of headroom for a burst.
	memTablesStopWritesCount = 4
	// level0CompactionThreshold is Pebble's default read amplification that
	// starts an L0 compaction.
	level0CompactionThreshold = 4
	// level0StopWritesThreshold stalls commits at this L0 read amplification;
	// above Pebble's default (12) because a stall here stalls every payment.
	level0StopWritesThreshold = 24
	// blockCacheBytes caches sstable blocks for reads of index keys and of
	// positions that have left the memtable.
	blockCacheBytes = 128 << 20
	// TableFilesOpenMax bounds the table files the log keeps open, its two
	// Pebble DBs (records and index) in all: they share one file cache of
	// Pebble's size for this MaxOpenFiles (1,000 by default). The HTTP
	// server keeps a reserve of file descriptors out of its connection
	// limit for the log (httpapi.FileReserveMax, 256): this bound, plus
	// each DB's WAL, MANIFEST, OPTIONS, LOCK, the mark and directory
	// handles, must fit in it, so a connection flood can never starve the
	// log of descriptors. Tables are few and large here (sequential keys,
	// 64 MiB memtables); a table not open is opened on demand, at the cost
	// of a read.
	TableFilesOpenMax = 128
	// closeFailedTimeout bounds how long Close waits for Pebble to close after
	// the log failed; past it the DB is abandoned (the process should exit).
	closeFailedTimeout = 10 * time.Second
)

// pebbleFatal is the panic value of pebbleLogger.Fatalf. It is private so
// that recovering it can never swallow anything else.
type pebbleFatal struct{ err error }

// pebbleLogger routes Pebble's log to slog and makes Fatalf never return.
//
// NB: Pebble reports a failed WAL write or fsync inside a synchronous batch
// commit by calling Logger.Fatalf and, if that returns, reports the commit
// as a success (db.go, "pebble: fatal commit error"). So Fatalf records the
// failure in the log and panics with pebbleFatal; commitSynced recovers
// exactly that value.
type pebbleLogger struct {
	logger *slog.Logger
	// onFatal fails the log; set before Pebble is opened.
	onFatal func(cause error)
}

// Infof logs at debug level: Pebble narrates every WAL replay, flush and
// compaction, which is noise at a payment engine's info level.
func (p *pebbleLogger) Infof(format string, args ...any) {
	p.log(slog.LevelDebug, format, args)
}

func (p *pebbleLogger) Errorf(format string, args ...any) {
	p.log(slog.LevelError, format, args)
}

func (p *pebbleLogger) Fatalf(format string, args ...any) {
	cause := errors.New("pebble Fatalf: " + fmt.Sprintf(format, args...))
	p.logger.Error(cause.Error(), "component", "pebble")
	p.onFatal(cause)
	panic(pebbleFatal{err: cause})
}

func (p *pebbleLogger) log(level slog.Level, format string, args []any) {
	if !p.logger.Enabled(context.Background(), level) {
		return
	}
	p.logger.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "pebble")
}

// Pebble's background errors (a failed flush or compaction) are retried by
// Pebble at once, without a pause: on a full disk that is an error per
// attempt, every few milliseconds, forever. backgroundErrors logs the first
// of a run and then at most one summary per backgroundErrorLogInterval, and
// while Open waits for its flush it also backs off between attempts.
const (
	// backgroundErrorLogInterval bounds the log to one line a minute while
	// an error repeats.
	backgroundErrorLogInterval = time.Minute
	// openRetryBackoffFirst and openRetryBackoffMax bound the pause between
	// two attempts of the flush Open waits for: it doubles from the first to
	// the max, so a disk that stays full costs a retry every few seconds.
	openRetryBackoffFirst = 16 * time.Millisecond
	openRetryBackoffMax   = 4 * time.Second
)

// backgroundErrors is the handler of Pebble's BackgroundError events.
type backgroundErrors struct {
	logger *slog.Logger
	now    func() time.Time
	sleep  func(time.Duration)

	mutex      sync.Mutex
	opening    bool // Open waits on Pebble: back off
	backoff    time.Duration
	logged     time.Time // when the last line was logged
	suppressed int       // errors since then, not logged
}

func newBackgroundErrors(logger *slog.Logger) *backgroundErrors {
	return &backgroundErrors{logger: logger, now: time.Now, sleep: time.Sleep, opening: true}
}

// opened ends the back-off: the flushes after Open run on Pebble's own
// goroutines, with its mutex held while they report, where a pause would
// stall commits.
func (b *backgroundErrors) opened() {
	b.mutex.Lock()
	b.opening = false
	b.mutex.Unlock()
}

func (b *backgroundErrors) report(err error) {
	b.mutex.Lock()
	now := b.now()
	var pause time.Duration
	if b.opening {
		b.backoff = min(max(2*b.backoff, openRetryBackoffFirst), openRetryBackoffMax)
		pause = b.backoff
	}
	if !b.logged.IsZero() && now.Sub(b.logged) < backgroundErrorLogInterval {
		b.suppressed++
		b.mutex.Unlock()
		b.sleep(pause)
		return
	}
	suppressed := b.suppressed
	b.logged, b.suppressed = now, 0
	b.mutex.Unlock()
	attributes := []any{"component", "pebble", "error", err.Error(), "repeated", suppressed}
	if pause > 0 {
		attributes = append(attributes, "retry_in", pause)
	}
	message := "wal: storage background error; Pebble retries it (logged at most once a minute)"
	if vfs.IsNoSpaceError(err) {
		message = "wal: no space left on device; Pebble retries (logged at most once a minute): free space on the data directory's disk"
	}
	b.logger.Error(message, attributes...)
	b.sleep(pause)
}

// pebbleOptions returns the options of the log's DB. The caller must Unref
// the returned options' Cache and FileCache once the DBs that share them
// (the log's and the index's) are open: each DB holds its own references.
//
// NB: corrupt reports what Pebble finds damaged on disk (a table's checksum
// mismatch, from a read or a compaction); Pebble's default is Logger.Fatalf,
// which crashes the process with a stack trace. The read that found it
// returns an error as well.
func pebbleOptions(fs vfs.FS, logger *pebbleLogger, background *backgroundErrors, corrupt func(pebble.DataCorruptionInfo)) *pebble.Options {
	return &pebble.Options{
		EventListener: &pebble.EventListener{
			BackgroundError: background.report,
			DataCorruption:  corrupt,
		},
		FS:                          fs,
		Cache:                       pebble.NewCache(blockCacheBytes),
		FileCache:                   pebble.NewFileCache(runtime.GOMAXPROCS(0), pebble.FileCacheSize(TableFilesOpenMax)),
		MemTableSize:                memTableBytes,
		MemTableStopWritesThreshold: memTablesStopWritesCount,
		L0CompactionThreshold:       level0CompactionThreshold,
		L0StopWritesThreshold:       level0StopWritesThreshold,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      logger,
		MaxOpenFiles:                TableFilesOpenMax,
	}
}

// openPebble opens the DB, turning a Fatalf or any other panic during
// recovery into an error: nothing was acknowledged yet, and a damaged store
// must be a clear error to the operator, not a stack trace.
// NB: after such a panic the half-open DB is abandoned, not closed.
func openPebble(dir string, options *pebble.Options) (db *pebble.DB, err error) {
	defer recoverAny(&err, "open")
	return pebble.Open(dir, options)
}

// recoverAny turns any panic into *err; a pebbleFatal keeps its cause.
func recoverAny(err *error, what string) {
	recovered := recover()
	if recovered == nil {
		return
	}
	if fatal, ok := recovered.(pebbleFatal); ok {
		*err = fatal.err
		return
	}
	*err = fmt.Errorf("pebble panicked during %s: %v", what, recovered)
}

// commitSynced commits batch with an fsync and returns the failure, if any,
// including one that Pebble reported through Logger.Fatalf.
//
// NB: after a non-nil error the commit pipeline is broken: the caller must
// fail the log and never commit again (Pebble panics with its locks held if
// asked to write to a WAL whose writer has failed).
func commitSynced(batch *pebble.Batch) (err error) {
	defer recoverFatal(&err)
	return batch.Commit(pebble.Sync)
}

// recoverFatal turns a pebbleFatal panic into *err and re-panics anything else.
func recoverFatal(err *error) {
	recovered := recover()
	if recovered == nil {
		return
	}
	fatal, ok := recovered.(pebbleFatal)
	if !ok {
		panic(recovered)
	}
	*err = fatal.err
}

// closeFailedPebble closes the DB of a failed log as far as it can: a panic
// is recovered and a hang is abandoned after closeFailedTimeout.
func closeFailedPebble(db *pebble.DB, logger *slog.Logger) {
	closed := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if recovered := recover(); recovered != nil {
				err = fmt.Errorf("pebble close panicked: %v", recovered)
			}
			closed <- err
		}()
		err = db.Close()
	}()
	select {
	case err := <-closed:
		if err != nil {
			logger.Warn("wal: closing the failed store", "error", err)
		}
	case <-time.After(closeFailedTimeout):
		logger.Error("wal: closing the failed store timed out; abandoning it",
			"timeout", closeFailedTimeout)
	}
}

// isNotFound reports Pebble's not-found error.
func isNotFound(err error) bool { return errors.Is(err, pebble.ErrNotFound) }
