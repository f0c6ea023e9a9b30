package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Defaults of Options.
const (
	SnapshotEveryDefault   = 1_000_000 // log entries between snapshots
	InFlightMaxDefault     = 1 << 16
	BatchEntriesMaxDefault = 4096
)

// FilesOpenMax bounds the file descriptors an open engine holds: the log's
// table files (wal.TableFilesOpenMax, its two stores in all) plus its WALs
// (the live one and one being recycled), each store's MANIFEST, OPTIONS,
// LOCK and directory handles, and the mark file, with room to spare. A server keeps this many
// descriptors out of its connection limit.
const FilesOpenMax = wal.TableFilesOpenMax + 32

// Options configure an engine. Only Dir is required.
type Options struct {
	// Dir is the data directory; it is created if missing.
	Dir string
	// FeeBps is the platform fee in basis points taken from every charge and
	// capture into the ledger's fee account; 0 by default, at most 10000.
	FeeBps uint32
	// SnapshotEvery is how many log entries pass between snapshots of the
	// whole state (after which the log behind them is truncated). 0 means
	// SnapshotEveryDefault; a negative value disables snapshots.
	SnapshotEvery int64
	// InFlightMax bounds the operations admitted and not yet answered (a
	// batch counts each of its items); a call beyond it waits for room or
	// its context. It bounds the memory a burst holds. BatchEntriesMax
	// bounds one group commit. 0 means the defaults.
	InFlightMax     int
	BatchEntriesMax int
	// Clock returns the time used to stamp events and expire holds;
	// time.Now by default.
	Clock func() time.Time
	// Logger receives the engine's structured logs; slog.Default() if nil.
	Logger *slog.Logger
	// FS is the file system under Dir; the operating system's if nil, with
	// Dir kept 0700 and its files 0600 (it holds secrets). Tests inject
	// faults and crashes through it.
	FS vfs.FS
	// AllowLogLoss opens a Dir whose log lost acknowledged positions (Open
	// refuses it with ErrLogLoss otherwise); Recovery names the positions,
	// and they are logged at error level.
	AllowLogLoss bool

	// seams are set by tests only (export_test.go).
	seams testSeams
}

// testSeams let tests reach states that are otherwise a matter of timing.
type testSeams struct {
	// snapshotEncoding, if set, runs on the checkpointer's goroutine right
	// before each snapshot is encoded, so a test can hold an encode.
	snapshotEncoding func()
	// checkpointBacklogBytesMax, if positive, replaces the constant.
	checkpointBacklogBytesMax int
	// feedBacklogBytesMax, if positive, replaces the constant.
	feedBacklogBytesMax int
}

// Engine is an open Tollway engine. All methods are safe for concurrent use.
type Engine struct {
	options  Options
	logger   *slog.Logger
	log      *wal.Log
	registry *actors.Registry
	inflight inflightTable
	admitted *admission
	ids      *idFilter // every client id in the index, and those being applied

	failure  atomic.Pointer[error] // set once: the engine fails closed
	closing  atomic.Bool
	stopping chan struct{}  // closed when Close begins
	calls    sync.WaitGroup // calls between their first check and their answer
	streams  sync.WaitGroup // Subscribe's goroutines, which Close joins
	feed     feed           // the subscriptions' inboxes of commits

	createMu sync.Mutex
	creating map[ledger.AccountID]chan struct{}

	stats   stats
	effects map[ledger.AccountID]effectSpan // the syncer's scratch space

	checkpointer *checkpointer
	sweeper      *sweeper
	recovered    Recovery
	retention    retention // named positions snapshots keep the log from (retain.go)
}

// Recovery describes what Open rebuilt.
type Recovery struct {
	SnapshotPosition uint64        // position of the snapshot loaded (0: none)
	SnapshotAccounts int           // accounts it held
	Replayed         int           // log entries replayed after it
	ClientIDs        int           // client ids loaded into the in-memory filter
	Duration         time.Duration // time spent
	// LostFirst to LostLast are the log positions acknowledged once and
	// missing now, opened with Options.AllowLogLoss; 0, 0 if none.
	LostFirst, LostLast uint64
}

// Open opens (creating if needed) the engine in options.Dir and recovers its
// state: the latest snapshot, then every log entry after it.
func Open(options Options) (*Engine, error) {
	if options.Dir == "" {
		return nil, fmt.Errorf("%w: Options.Dir is required", ErrInvalid)
	}
	if options.FeeBps > ledger.BasisPointsMax {
		return nil, fmt.Errorf("%w: FeeBps %d above %d", ErrInvalid, options.FeeBps, ledger.BasisPointsMax)
	}
	if options.SnapshotEvery == 0 {
		options.SnapshotEvery = SnapshotEveryDefault
	}
	if options.InFlightMax <= 0 {
		options.InFlightMax = InFlightMaxDefault
	}
	if options.BatchEntriesMax == 0 {
		options.BatchEntriesMax = BatchEntriesMaxDefault
	}
	if options.Clock == nil {
		options.Clock = time.Now
	}
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	e := &Engine{
		options: options, logger: options.Logger,
		stopping: make(chan struct{}),
		creating: make(map[ledger.AccountID]chan struct{}),
		effects:  make(map[ledger.AccountID]effectSpan),
	}
	e.inflight.init()
	e.admitted = newAdmission(options.InFlightMax)
	e.ids = newIDFilter()
	log, err := wal.Open(options.Dir, wal.Options{
		FS:              options.FS,
		BatchEntriesMax: options.BatchEntriesMax,
		Logger:          options.Logger,
		OnDurable:       e.onDurable,
		IndexOf:         indexOf,
		AllowLogLoss:    options.AllowLogLoss,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: open log: %w", err)
	}
	e.log = log
	e.recovered.LostFirst, e.recovered.LostLast = log.Lost()
	book, position, err := e.recover()
	if err == nil {
		err = e.retention.load(e)
	}
	if err != nil {
		if failure := log.Err(); failure != nil {
			err = failure // it names what failed (a damaged table), the read only saw it
		}
		_ = log.Close()
		return nil, fmt.Errorf("engine: recover %s: %w", options.Dir, err)
	}
	e.registry = actors.NewRegistry(actors.Config{
		Log:           log,
		Now:           e.now,
		Reply:         e.reply,
		Expired:       newExpiry,
		SessionClosed: newSessionClosing,
		Failed:        e.actorFailed,
		Logger:        options.Logger,
	})
	e.sweeper = newSweeper(e)
	book.Range(func(a *ledger.Account) bool {
		e.registry.Insert(a)
		for _, h := range a.Holds() {
			if !h.IsSession() { // a session's reservation: its session's timers close it
				e.sweeper.addHold(h.ID, h.Deadline, a.ID)
			}
		}
		return true
	})
	// Sessions whose timers passed while the engine was down close as soon
	// as the sweeper starts, stamped with the moment they were due.
	book.RangeSessions(func(s *ledger.Session) bool {
		e.registry.InsertSession(s, e.registry.Entry(s.From))
		e.sweeper.addSession(s)
		return true
	})
	e.checkpointer = newCheckpointer(e, book, position)
	e.sweeper.start()
	e.logger.Info("engine open", "dir", options.Dir, "accounts", book.Len(), "position", position,
		"snapshot_position", e.recovered.SnapshotPosition, "replayed", e.recovered.Replayed,
		"recovery", e.recovered.Duration)
	return e, nil
}

// recover rebuilds the committed state: snapshot, then the log after it.
func (e *Engine) recover() (*ledger.Book, uint64, error) {
	started := time.Now()
	book := ledger.NewBook(false)
	snapshotPosition, err := e.log.LoadSnapshot(func(chunk []byte) error {
		return decodeSnapshotChunk(chunk, book)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load snapshot: %w", err)
	}
	e.recovered.SnapshotPosition, e.recovered.SnapshotAccounts = snapshotPosition, book.Len()
	// The client id filter is rebuilt from the index while the log replays:
	// the two are independent and each takes a core.
	scanned := make(chan error, 1)
	go func() {
		scanned <- e.log.ScanIndex(func(key []byte) error {
			e.ids.addBytes(key)
			e.recovered.ClientIDs++
			return nil
		})
	}()
	position, replayErr := e.replay(book, snapshotPosition)
	if err := errors.Join(replayErr, <-scanned); err != nil {
		return nil, 0, err
	}
	e.recovered.Duration = time.Since(started)
	return book, position, nil
}

// replayChunkRecords is how many records the log reader hands the applier
// at a time; replayChunksQueued bounds the chunks between them.
const (
	replayChunkRecords = 4096
	replayChunksQueued = 4
)

// replayChunk holds consecutive records in one buffer: record i is
// data[ends[i-1]:ends[i]], so a chunk costs two allocations, not one per record.
type replayChunk struct {
	first uint64
	data  []byte
	ends  []int
}

func (c *replayChunk) record(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.data[start:c.ends[i]]
}

// replay applies every log record after position from to book, in order,
// and returns the last position applied. Reading Pebble and decoding run on
// two goroutines, pipelined by chunks of records.
func (e *Engine) replay(book *ledger.Book, from uint64) (uint64, error) {
	chunks := make(chan replayChunk, replayChunksQueued)
	stop := make(chan struct{})
	read := make(chan error, 1)
	go func() {
		defer close(chunks)
		chunk := replayChunk{}
		send := func() bool {
			select {
			case chunks <- chunk:
				chunk = replayChunk{}
				return true
			case <-stop:
				return false
			}
		}
		err := e.log.Read(from+1, func(p uint64, record []byte) error {
			if len(chunk.ends) == 0 {
				chunk.first = p
				chunk.data = make([]byte, 0, replayChunkRecords*recordBytesTypical)
				chunk.ends = make([]int, 0, replayChunkRecords)
			}
			chunk.data = append(chunk.data, record...)
			chunk.ends = append(chunk.ends, len(chunk.data))
			if len(chunk.ends) == replayChunkRecords && !send() {
				return errReplayStopped
			}
			return nil
		})
		if err == nil && len(chunk.ends) > 0 {
			send()
		}
		read <- err
	}()
	position, applyErr := e.applyReplayed(book, from, chunks)
	close(stop)
	readErr := <-read // joins the reader, which stop ends early after an error
	switch {
	case applyErr != nil:
		return 0, applyErr
	case readErr != nil:
		return 0, fmt.Errorf("replay: %w", readErr)
	}
	return position, nil
}

// applyReplayed applies the records of chunks to book, in order, and
// returns the last position applied.
func (e *Engine) applyReplayed(book *ledger.Book, from uint64, chunks <-chan replayChunk) (uint64, error) {
	position := from
	for chunk := range chunks {
		for i := range chunk.ends {
			p := chunk.first + uint64(i)
			position = p
			if isRowsRecord(chunk.record(i)) {
				continue // its rows are in the table
			}
			event, err := ledger.DecodeEvent(chunk.record(i))
			if err == nil {
				err = applyRecovered(book, &event)
			}
			if err != nil {
				return 0, fmt.Errorf("replay position %d: %w", p, err)
			}
			e.recovered.Replayed++
		}
	}
	return position, nil
}

var errReplayStopped = errors.New("replay stopped")

// recordBytesTypical sizes replay buffers: a charge's record is about 80 bytes.
const recordBytesTypical = 96

// applyRecovered applies a replayed event after checking it names known
// accounts, so a damaged log is an error rather than a panic.
func applyRecovered(book *ledger.Book, event *ledger.Event) (err error) {
	switch event.Type {
	case ledger.EventAccountCreated:
		if book.Account(event.Account) != nil {
			return fmt.Errorf("%w: account %q created twice", ledger.ErrCorrupt, event.Account)
		}
	case ledger.EventLowBalanceSet:
		if book.Account(event.Account) == nil {
			return fmt.Errorf("%w: unknown account %q", ledger.ErrCorrupt, event.Account)
		}
	default:
		for _, id := range [...]ledger.AccountID{event.From, event.To, event.Fees} {
			if event.Involves(id) && book.Account(id) == nil {
				return fmt.Errorf("%w: unknown account %q", ledger.ErrCorrupt, id)
			}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ledger.ErrCorrupt, r)
		}
	}()
	book.Apply(event)
	return nil
}

// stats are counters the committer keeps; read with Stats.
type stats struct {
	commits atomic.Uint64
	entries atomic.Uint64
}

// Histogram is a histogram read at one moment: bucket upper bounds with
// cumulative counts, a count and a sum, as Prometheus takes them. It is the
// log's type, named here so that embedders need not import wal.
type Histogram = wal.HistogramSnapshot

// Stats are cumulative counters and histograms of an engine since Open.
type Stats struct {
	Commits        uint64 // group commits (one fsync each)
	CommitsEntries uint64 // log entries and barriers they carried
	Accounts       int    // accounts known
	Actors         int    // account actors alive
	Sessions       int    // sessions open (requested, assigned or live)
	SessionActors  int    // their actors alive (spawned by a session's first message)
	// CommitDurationSeconds is the latency of each group commit that wrote
	// records, from the start of its Pebble commit to its fsync confirmed.
	CommitDurationSeconds Histogram
	// CommitRecords is the log records written by each of those group
	// commits (barriers, which write nothing, are not counted).
	CommitRecords Histogram
}

// Stats returns the engine's counters and histograms.
func (e *Engine) Stats() Stats {
	histograms := e.log.CommitHistograms()
	return Stats{
		Commits: e.stats.commits.Load(), CommitsEntries: e.stats.entries.Load(),
		Accounts: e.registry.Len(), Actors: e.registry.Actors(), Sessions: e.registry.Sessions(),
		SessionActors:         e.registry.SessionActors(),
		CommitDurationSeconds: histograms.DurationSeconds, CommitRecords: histograms.Records,
	}
}

// StorageMetrics are the log's storage counters: what its stores wrote to
// disk (WAL, flushes, compactions) and how their LSMs stand. It is the
// log's type, named here so that embedders need not import wal.
type StorageMetrics = wal.StorageMetrics

// StorageMetrics returns the log's storage counters since Open. Each call
// reads Pebble's metrics of both stores, under their locks: fine per
// scrape, not per operation.
func (e *Engine) StorageMetrics() StorageMetrics { return e.log.StorageMetrics() }

// Recovered reports what Open rebuilt.
func (e *Engine) Recovered() Recovery { return e.recovered }

// Position returns the log position of the latest durable event.
func (e *Engine) Position() uint64 { return e.log.Durable() }

// Close stops accepting calls, waits for those in flight, then stops the
// subscriptions, the actors, the checkpointer and the log, in that order,
// and joins every goroutine the engine started.
func (e *Engine) Close() error {
	if e.closing.Swap(true) {
		return nil
	}
	close(e.stopping)
	e.calls.Wait()
	e.streams.Wait()
	e.sweeper.stop()
	e.registry.Shutdown()
	e.checkpointer.stop()
	logErr := e.log.Close()
	if failure := e.failure.Load(); failure != nil {
		return fmt.Errorf("engine had failed: %w", *failure)
	}
	return logErr
}

// enter admits a call, or says why the engine cannot take it. A call that
// entered must leave.
func (e *Engine) enter() error {
	e.calls.Add(1)
	if e.closing.Load() {
		e.calls.Done()
		return fmt.Errorf("%w: closed", ErrUnavailable)
	}
	if failure := e.failure.Load(); failure != nil {
		e.calls.Done()
		return fmt.Errorf("%w: %v", ErrUnavailable, *failure)
	}
	return nil
}

func (e *Engine) leave() { e.calls.Done() }

// enterWith is enter for a call that will append operations of its own:
// it also admits them, waiting while InFlightMax are in flight. It returns
// the weight to give back to leaveWith.
func (e *Engine) enterWith(ctx context.Context, operations int) (int64, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	weight, err := e.admitted.acquire(ctx, operations)
	if err != nil {
		e.leave()
		return 0, err
	}
	return weight, nil
}

// leaveWith ends a call that entered with enterWith.
//
// NB: a call that gave up waiting (its context ended) leaves while its
// operations may still be in flight, so the bound is loose by those.
func (e *Engine) leaveWith(weight int64) {
	e.admitted.release(weight)
	e.leave()
}

// Err returns nil while the engine takes calls, or why it does not: it is
// closed, or it failed closed (every later call returns ErrUnavailable).
func (e *Engine) Err() error {
	if e.closing.Load() {
		return fmt.Errorf("%w: closed", ErrUnavailable)
	}
	if failure := e.failure.Load(); failure != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, *failure)
	}
	return nil
}

// fail makes the engine fail closed; the first cause is kept.
func (e *Engine) fail(cause error) {
	if e.failure.CompareAndSwap(nil, &cause) {
		e.logger.Error("engine failed closed: no further acknowledgements; reopen to recover", "error", cause)
	}
}

func (e *Engine) actorFailed(who string, reason any) {
	e.fail(fmt.Errorf("%s panicked: %v", who, reason))
}

func (e *Engine) now() int64 { return e.options.Clock().UnixNano() }
