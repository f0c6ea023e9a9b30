package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The operating errors of the log. A failure is reported as an error that
// wraps ErrFailed and says the cause: errors.Is(err, ErrFailed).
var (
	ErrFailed    = errors.New("wal: log failed")
	ErrTruncated = errors.New("wal: position truncated")
	ErrNotFound  = errors.New("wal: not found")
	ErrClosed    = errors.New("wal: closed")
)

// Limits callers must respect.
const (
	// EntryBytesMax bounds one entry: its record plus the keys and values of
	// its index puts. It keeps a group commit far below Pebble's large-batch
	// threshold (half a memtable), where batches take a slower path.
	EntryBytesMax = 4 << 20
	// SnapshotChunkBytesMax bounds one chunk of WriteSnapshot.
	SnapshotChunkBytesMax = 8 << 20
)

// Limits of the log's own resources.
const (
	batchEntriesDefault = 4096
	batchEntriesLimit   = 1 << 16
	// batchBytesMax ends a group commit early once its Pebble batch holds this
	// many bytes, so a group of large entries stays one bounded write.
	batchBytesMax = 16 << 20
	// batchBytesInitial and batchBytesRetained size the pipelineDepth
	// reused Pebble batches of the committer: each starts at 1 MiB and keeps
	// up to the largest group (batchBytesMax plus one last entry), so steady
	// state allocates nothing. At most pipelineDepth times batchBytesRetained
	// stays allocated.
	batchBytesInitial  = 1 << 20
	batchBytesRetained = batchBytesMax + EntryBytesMax + (1 << 20)
	// readersPollInterval is how often Close looks whether the last reader
	// has left.
	readersPollInterval = time.Millisecond
)

// Options configures a Log. The zero value of each field but OnDurable is a
// usable default.
type Options struct {
	// FS holds the store; nil means the operating system's, with the
	// directory created DirMode and every file FileMode (and an existing
	// directory and its files restricted to them). Tests pass
	// vfs.NewCrashableMem() or errorfs.Wrap(...).
	FS vfs.FS
	// AllowLogLoss opens a log that ends before its high-water mark (see
	// mark.go): records acknowledged durable are gone, and Open logs which
	// positions at error level and reuses them. Without it, Open refuses
	// with *LogLossError. It also accepts a damaged mark file.
	AllowLogLoss bool
	// BatchEntriesMax bounds the entries of one group commit; default 4096.
	BatchEntriesMax int
	// Logger receives the log's and Pebble's messages; nil means slog.Default().
	Logger *slog.Logger
	// OnDurable is called on the log's syncer goroutine once per group commit,
	// after the batch is fsynced (err == nil) or failed (err wraps
	// ErrFailed), with the entries in log order; entries[i] has position
	// first+uint64(i) (entries[i].Position), counting only records when the
	// group has barriers. Calls never overlap and come in position order. It
	// must not block for long: it is the engine's reply path, and the next
	// group's report waits for it. After a failure every later Append also
	// comes back here with ErrFailed; an Append after Close comes back with
	// ErrClosed, on the appender's goroutine.
	//
	// NB: entries is only valid during the call. With err != nil, first is the
	// position the entries were written at, or 0 if they never reached
	// Pebble, and the outcome is unknown: a failed group may still be on disk
	// after a restart (Pebble had it in its memtable), so a caller must treat
	// ErrFailed as "maybe" (idempotency), never as "not applied".
	OnDurable func(entries []*Entry, first uint64, err error)
	// IndexOf appends to dst the index puts of the entry whose record is
	// record, and returns dst: exactly the Entry.Index the record was
	// appended with. Open calls it for the records whose index puts did not
	// reach the index's store before a crash (see index.go); record is valid
	// only during the call, but the puts are copied. Required if any entry
	// has Index puts (Append panics otherwise).
	IndexOf func(record []byte, dst []Put) []Put

	// markInterval overrides markInterval (tests write the mark often, so
	// that crash images catch it at every stage).
	markInterval time.Duration
	// Test hooks, on the committer's goroutine (or Open's): after a group's
	// records are committed with their fsync and before its index puts are
	// applied; after they are applied; after WriteSnapshot's index flush,
	// before its truncating batch; during the migration's copy, after each
	// entry; before the migration's DeleteRange.
	afterRecordCommit      func(*Log)
	afterIndexApply        func(*Log)
	afterIndexFlush        func(*Log)
	duringIndexCopy        func(l *Log, copied int)
	beforeIndexRangeDelete func(*Log)
}

// Entry is one record to append. The entry is owned by the log from Append
// until OnDurable returns.
//
// An entry with a nil Record and no Index is a barrier: it writes nothing and
// takes no position, and OnDurable reports it, in order, once every entry
// queued before it is durable. (An empty but non-nil Record is a record.)
type Entry struct {
	Record []byte // stored at its position
	// Index is written into a store of its own read by Get (an index, e.g.
	// transfer id to record), once Record's batch is fsynced; after a crash
	// Open derives it again from Record (Options.IndexOf, which must return
	// exactly these puts). A nil Value deletes the key.
	Index []Put
	// Table is written in the same Pebble batch as Record, atomically with
	// it, into a key space of its own read by ScanTable: rows whose latest
	// value is the state of something that is not rebuilt from the records
	// (a snapshot truncates the records behind it, never the table).
	Table []Put
	Token any // opaque to the log, for the caller's reply
	// Position is set by the log before OnDurable: the record's position if
	// it is durable, 0 for a barrier or when OnDurable reports an error.
	Position uint64
}

func (e *Entry) isBarrier() bool { return e.Record == nil && len(e.Index) == 0 && len(e.Table) == 0 }

// Put sets (or, with a nil Value, deletes) one index key.
type Put struct{ Key, Value []byte }

// Log is an open write-ahead log. All methods are safe for concurrent use.
type Log struct {
	options Options
	logger  *slog.Logger
	dir     string
	db      *pebble.DB
	index   *pebble.DB // the index's store, without a WAL (index.go)
	queue   queue
	stopped chan struct{} // closed when the committer and the syncer returned

	// Owned by the committer goroutine.
	next  uint64   // position of the next appended record
	taken []*Entry // the entries taken from the queue, one group or more
	held  *flight  // the flight the committer fills next, nil if none
	// indexBatch carries each group's index puts to the index DB.
	indexBatch *pebble.Batch

	// The pipeline from the committer to the syncer (committer.go).
	flights       []*flight    // all pipelineDepth of them, for Close
	free          chan *flight // flights the committer may fill
	applied       chan *flight // flights for the syncer, in position order
	syncerStopped chan struct{}

	durable          atomic.Uint64 // last fsynced position
	truncated        atomic.Uint64 // records up to here are deleted (First() - 1)
	view             atomic.Pointer[readView]
	commitHistograms commitHistograms // written by the committer (committer.go)

	failure  atomic.Pointer[error] // first cause, wrapped in ErrFailed
	failOnce sync.Once
	failed   chan struct{} // closed by fail
	running  atomic.Bool   // Open has returned the log

	notifyMutex   sync.Mutex
	notifyChannel chan struct{} // closed at the next advance of durable
	notifyFinal   bool          // notifyChannel is closed for good

	// Readers (Get, Read, snapshots) count themselves in readers, so that
	// Close can wait for them before closing Pebble. A counter rather than a
	// sync.RWMutex, whose pending writer would deadlock a reader that reads
	// again from inside its callback.
	readers atomic.Int64
	closing atomic.Bool

	snapshotMutex  sync.Mutex // serializes WriteSnapshot and LoadSnapshot
	snapshot       metadata   // the current snapshot; guarded by snapshotMutex
	nextGeneration uint64     // guarded by snapshotMutex

	// The high-water mark (mark.go). markWritten and markFailing belong to
	// Open, then to markLoop, then to Close once markLoop stopped.
	markWritten        uint64
	markFailing        bool
	markStop, markDone chan struct{}
	lostFirst          uint64 // positions lost, accepted by AllowLogLoss
	lostLast           uint64
	corruptOnce        sync.Once

	// What Open did to the index, for tests: records whose index puts it
	// derived again, entries it moved from the old layout.
	rederived, migrated int
}

// Open creates or recovers the log in dir and starts its committer and syncer.
// It also brings the index (in dir's subdirectory "index") up to the
// records: it derives the index puts lost with a crash, and moves the index
// of a log written before the index had its own store into it (index.go).
//
// It fails, without starting anything, when the disk has no room to replay
// the log (wrapping ErrNoSpace), when the store is damaged (a corrupt table
// is named in the error), and when the log lost acknowledged records
// (*LogLossError, unless Options.AllowLogLoss).
func Open(dir string, options Options) (*Log, error) {
	private := options.FS == nil
	if err := options.setDefaults(); err != nil {
		return nil, err
	}
	l := &Log{
		options:       options,
		logger:        options.Logger,
		dir:           dir,
		stopped:       make(chan struct{}),
		taken:         make([]*Entry, 0, options.BatchEntriesMax),
		free:          make(chan *flight, pipelineDepth),
		applied:       make(chan *flight, pipelineDepth),
		syncerStopped: make(chan struct{}),
		notifyChannel: make(chan struct{}),
		failed:        make(chan struct{}),
		markStop:      make(chan struct{}),
		markDone:      make(chan struct{}),
	}
	l.commitHistograms = newCommitHistograms()
	l.queue.init()
	if err := prepareDir(options.FS, dir, private, l.logger); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	if err := probeSpace(options.FS, dir); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	background := newBackgroundErrors(l.logger)
	pebbleOptions := pebbleOptions(options.FS, &pebbleLogger{logger: l.logger, onFatal: l.fail}, background, l.corrupted)
	// The caches' references are the DBs' from here on.
	defer pebbleOptions.Cache.Unref()
	defer pebbleOptions.FileCache.Unref()
	db, err := openPebble(dir, pebbleOptions)
	if err != nil {
		background.opened()
		return nil, fmt.Errorf("wal: open %s: %w", dir, l.errOr(err))
	}
	l.db = db
	state, err := recoverState(db)
	if err != nil {
		background.opened()
		closeFailedPebble(db, l.logger)
		return nil, fmt.Errorf("wal: recover %s: %w", dir, l.errOr(err))
	}
	if failure := l.Err(); failure != nil {
		// Pebble found a damaged table while recovering, and the read that
		// found it may have looked like no key at all.
		background.opened()
		closeFailedPebble(db, l.logger)
		return nil, fmt.Errorf("wal: recover %s: %w", dir, failure)
	}
	last := max(state.lastPosition, state.snapshot.position)
	if l.lostFirst, l.lostLast, err = l.checkMark(dir, last); err != nil {
		background.opened()
		_ = db.Close()
		var loss *LogLossError
		if errors.As(err, &loss) {
			return nil, err
		}
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	index, err := openPebble(options.FS.PathJoin(dir, indexDir), l.indexOptions(pebbleOptions, background))
	if err != nil {
		background.opened()
		closeFailedPebble(db, l.logger)
		return nil, fmt.Errorf("wal: open %s: index: %w", dir, l.errOr(err))
	}
	l.index = index
	err = l.recoverIndex(state.snapshot.position, last)
	background.opened()
	if err == nil {
		err = l.Err() // a damaged table found on the way
	}
	if err != nil {
		closeFailedPebble(index, l.logger)
		closeFailedPebble(db, l.logger)
		var loss *LogLossError
		if errors.As(err, &loss) {
			return nil, err
		}
		return nil, fmt.Errorf("wal: recover %s: %w", dir, l.errOr(err))
	}
	l.next = last + 1
	l.durable.Store(last)
	l.snapshot = state.snapshot
	l.truncated.Store(state.snapshot.truncated)
	l.nextGeneration = max(state.snapshot.generation, state.lastGeneration) + 1
	l.view.Store(newReadView(db))
	l.indexBatch = l.index.NewBatch(pebble.WithInitialSizeBytes(batchBytesInitial),
		pebble.WithMaxRetainedSizeBytes(batchBytesRetained))
	for range pipelineDepth {
		f := &flight{batch: l.newBatch(), entries: make([]*Entry, 0, options.BatchEntriesMax)}
		l.flights = append(l.flights, f)
		l.free <- f
	}
	l.running.Store(true)
	go l.run()
	go l.syncLoop()
	go l.markLoop(l.markStop, l.markDone)
	return l, nil
}

// Lost returns the positions that Open found lost and accepted because of
// Options.AllowLogLoss; 0, 0 if none.
func (l *Log) Lost() (first, last uint64) { return l.lostFirst, l.lostLast }

// errOr returns the failure that a corruption report recorded, which names
// the damaged file, or else err.
func (l *Log) errOr(err error) error {
	if failure := l.Err(); failure != nil {
		return failure
	}
	return err
}

// corrupted is Pebble's DataCorruption handler: a table (or blob file) on
// disk fails its checksum. It fails the log closed, naming the file: the
// store is damaged and must be restored, and nothing more may be
// acknowledged from it. The read that found it gets an error too.
func (l *Log) corrupted(info pebble.DataCorruptionInfo) {
	l.corruptOnce.Do(func() {
		l.fail(fmt.Errorf("%w: on-disk corruption in %s: %v", errCorrupt, info.Path, info.Details))
	})
}

// newBatch returns a batch for a flight of the pipeline.
func (l *Log) newBatch() *pebble.Batch {
	return l.db.NewBatch(pebble.WithInitialSizeBytes(batchBytesInitial),
		pebble.WithMaxRetainedSizeBytes(batchBytesRetained))
}

func (o *Options) setDefaults() error {
	if o.OnDurable == nil {
		return errors.New("wal: Options.OnDurable is required")
	}
	if o.FS == nil {
		o.FS = newPrivateFS()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BatchEntriesMax == 0 {
		o.BatchEntriesMax = batchEntriesDefault
	}
	if o.markInterval == 0 {
		o.markInterval = markInterval
	}
	if o.BatchEntriesMax < 1 || o.BatchEntriesMax > batchEntriesLimit {
		return fmt.Errorf("wal: BatchEntriesMax %d outside [1, %d]", o.BatchEntriesMax, batchEntriesLimit)
	}
	return nil
}

// recovered is what Open learns from the store.
type recovered struct {
	snapshot       metadata
	lastPosition   uint64 // the last record's position, 0 if none
	lastGeneration uint64 // the highest generation with chunks, 0 if none
}

func recoverState(db *pebble.DB) (state recovered, err error) {
	defer recoverAny(&err, "recovery")
	value, closer, err := db.Get(metadataKey)
	switch {
	case err == nil:
		state.snapshot, err = decodeMetadata(value)
		_ = closer.Close()
		if err != nil {
			return state, err
		}
	case !isNotFound(err):
		return state, err
	}
	first, last, err := keyRange(db, recordsStart, recordsEnd)
	if err != nil {
		return state, err
	}
	if first != nil {
		firstPosition, err := positionOf(first)
		if err != nil {
			return state, err
		}
		// NB: records behind the snapshot that a retention kept are still
		// there; the metadata says where truncation stopped.
		if firstPosition != state.snapshot.truncated+1 {
			return state, fmt.Errorf("%w: first record %d after a truncation at %d (snapshot at %d)",
				errCorrupt, firstPosition, state.snapshot.truncated, state.snapshot.position)
		}
		if state.lastPosition, err = positionOf(last); err != nil {
			return state, err
		}
	}
	_, last, err = keyRange(db, chunksStart, chunksEnd)
	if err != nil || last == nil {
		return state, err
	}
	state.lastGeneration, _, err = decodeChunkKey(last)
	return state, err
}

// keyRange returns copies of the first and last keys in [lower, upper), nil
// if there are none.
func keyRange(db *pebble.DB, lower, upper []byte) (first, last []byte, err error) {
	iterator, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, nil, err
	}
	// NB: Error reports the last positioning only, so it is checked after
	// each: a First that failed on a damaged table must not read as "none".
	if iterator.First() {
		first = append([]byte(nil), iterator.Key()...)
	}
	if err := iterator.Error(); err != nil {
		return nil, nil, errors.Join(err, iterator.Close())
	}
	if iterator.Last() {
		last = append([]byte(nil), iterator.Key()...)
	}
	return first, last, errors.Join(iterator.Error(), iterator.Close())
}

// Append queues e to be written at the next position. It never blocks (the
// queue grows; bounding what is in flight is the caller's job). e comes
// back exactly once through OnDurable; after Close or a failure, with an
// error.
//
// REQUIRES: e != nil and its record plus index and table puts take at most
// EntryBytesMax.
// NB: e must not be modified until OnDurable returns for it.
func (l *Log) Append(e *Entry) {
	l.assertEntry(e)
	if !l.queue.pushOne(e) {
		e.Position = 0
		l.options.OnDurable([]*Entry{e}, 0, ErrClosed)
	}
}

// AppendBatch is Append for many entries, which take consecutive queue
// slots in order. It does not retain entries, the slice.
//
// REQUIRES: every entry satisfies Append's requirements.
func (l *Log) AppendBatch(entries []*Entry) {
	for _, e := range entries {
		l.assertEntry(e)
	}
	if !l.queue.push(entries) {
		clearPositions(entries)
		l.options.OnDurable(entries, 0, ErrClosed)
	}
}

func (l *Log) assertEntry(e *Entry) {
	if e == nil {
		panic("wal: append of a nil entry")
	}
	if len(e.Index) > 0 && l.options.IndexOf == nil {
		panic("wal: append of an entry with index puts, but Options.IndexOf is nil")
	}
	size := len(e.Record)
	for _, put := range e.Index {
		size += len(put.Key) + len(put.Value)
	}
	for _, put := range e.Table {
		size += len(put.Key) + len(put.Value)
	}
	if size > EntryBytesMax {
		panic(fmt.Sprintf("wal: entry of %d bytes exceeds EntryBytesMax (%d)", size, EntryBytesMax))
	}
}

// Err returns nil while the log works and the cause, wrapping ErrFailed,
// once it failed.
func (l *Log) Err() error {
	if failure := l.failure.Load(); failure != nil {
		return *failure
	}
	return nil
}

// fail makes the log fail closed with cause; the first cause wins. Safe on
// any goroutine (Pebble's Fatalf calls it).
func (l *Log) fail(cause error) {
	l.failOnce.Do(func() {
		err := fmt.Errorf("%w: %v", ErrFailed, cause)
		l.failure.Store(&err)
		close(l.failed)
		if l.running.Load() { // during Open, the error Open returns says it
			l.logger.Error("wal: log failed closed; no further append will be acknowledged",
				"cause", cause, "durable", l.durable.Load())
		}
		l.finishNotify()
	})
}

// Close stops accepting appends, commits what is queued (OnDurable runs for
// it), stops the committer and the syncer, waits for readers and closes
// Pebble. On a failed log it returns the failure. A second Close returns
// ErrClosed.
//
// NB: Close must not be called from OnDurable or from a Read or
// LoadSnapshot callback: it waits for them.
func (l *Log) Close() error {
	if !l.closing.CompareAndSwap(false, true) {
		return ErrClosed
	}
	l.queue.close()
	<-l.stopped
	close(l.markStop)
	<-l.markDone
	// The last group is reported: the mark is now the exact end of the log.
	l.updateMark()
	for l.readers.Load() != 0 {
		time.Sleep(readersPollInterval)
	}
	l.finishNotify()
	l.view.Load().release()
	for _, f := range l.flights {
		if f.batch != nil {
			_ = f.batch.Close() // every flight is back and waited for
		}
	}
	_ = l.indexBatch.Close()
	if err := l.Err(); err != nil {
		closeFailedPebble(l.index, l.logger)
		closeFailedPebble(l.db, l.logger)
		return err
	}
	// The index has no WAL: flushed now, the next Open derives nothing.
	err := l.flushIndex()
	if err != nil {
		closeFailedPebble(l.index, l.logger)
	} else if err = l.index.Close(); err != nil {
		err = fmt.Errorf("index: %w", err)
	}
	if closeErr := l.db.Close(); closeErr != nil {
		err = errors.Join(err, closeErr)
	}
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}
