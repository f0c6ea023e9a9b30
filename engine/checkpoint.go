package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// Limits of the checkpointer.
const (
	// checkpointBacklogBytesMax bounds the memory kept alive by the
	// committed events handed to the checkpointer and not yet applied to
	// its copy: each counts checkpointEventBytes (the op that carries it,
	// its record and index entry) plus its memo. 64 MiB is tens of
	// thousands of events, a fraction of a second of peak commits, enough
	// to ride out the snapshot encode of a modest state. Past it the
	// backlog is dropped and the checkpointer reads those events back from
	// the log, which keeps them durably anyway.
	checkpointBacklogBytesMax = 64 << 20
	checkpointEventBytes      = 1 << 10
	// snapshotChunkBytes is the size a snapshot chunk is cut at. A chunk
	// holds records until the next one would pass it, or one record alone
	// when that record is larger.
	snapshotChunkBytes = 1 << 20
	// snapshotRecordBytesMax bounds one account's framed record: its
	// length prefix and an encoding within ledger.AccountRecordBytesMax,
	// which the ledger's per-account limits bound.
	snapshotRecordBytesMax = binary.MaxVarintLen64 + ledger.AccountRecordBytesMax
	// retainedRecordsWarn is how many records behind a snapshot a retention
	// may keep before each snapshot warns of it: a consumer that lags by a
	// snapshot interval is slow; one that lags more may be gone.
	retainedRecordsWarn = SnapshotEveryDefault
)

// Compile-time assertions (a negative constant does not convert to uint)
// that every chunk encodeSnapshot cuts fits wal.SnapshotChunkBytesMax: one
// at the target size, and one account's largest record alone. So no account
// can make a snapshot fail, whatever its clients do.
const (
	_ = uint(wal.SnapshotChunkBytesMax - snapshotChunkBytes)
	_ = uint(wal.SnapshotChunkBytesMax - snapshotRecordBytesMax)
	_ = uint(ledger.AccountRecordBytesMax - ledger.SessionRecordBytesMax) // a session's record is smaller
)

// checkpointer keeps a copy of the committed state (a ledger.Book fed with
// every durable event, in log order) and periodically writes it as a
// snapshot, after which the log behind it is truncated. It owns one
// goroutine, the only one that touches the copy: a snapshot's chunks are
// encoded there (the copy pauses meanwhile) and handed, immutable, to a
// second goroutine that writes them while the copy moves on.
//
// The log's reporting goroutine hands it each group's events through an
// inbox that never blocks (checkpointInbox), so neither an encode nor a
// write ever delays a reply.
type checkpointer struct {
	e        *Engine
	book     *ledger.Book
	position uint64 // of the last record applied to book

	lastSnapshot uint64
	inbox        checkpointInbox
	spare        []checkpointBatch // the inbox's other buffer, empty
	// behind is set once reading the log back failed: book lacks events,
	// so no snapshot is taken from it (the engine has failed closed).
	behind error

	requests    chan chan error
	inspections chan func(*ledger.Book)
	stopping    chan struct{}
	stopped     chan struct{}
	writing     sync.WaitGroup
	inProgress  chan error // the result of the snapshot write in progress, nil when none
}

type checkpointBatch struct {
	events []*ledger.Event
	last   uint64
}

// checkpointInbox hands committed batches from the log's reporting
// goroutine to the checkpointer without ever blocking the former: the
// reporter appends under a mutex held for an append, and wakes the
// checkpointer through a channel of capacity one. It counts the bytes its
// events keep alive; past bytesMax (checkpointBacklogBytesMax) it drops them
// all, and every later batch until the checkpointer takes the inbox,
// remembering only the last position dropped, so that the checkpointer
// reads them back from the log.
//
// Rejected alternatives: a bounded channel (what it was) blocks the
// reporter, and with it every reply of the engine, whenever the
// checkpointer falls behind, as it does while it encodes a snapshot. Having
// the checkpointer always read the log instead costs a Pebble read and a
// decode per event, CPU the commit path shares; the log is only the
// fallback here, for a backlog memory should not hold.
type checkpointInbox struct {
	bytesMax int
	ready    chan struct{}

	mu      sync.Mutex
	batches []checkpointBatch
	bytes   int    // what batches keep alive, counted as checkpointBacklogBytesMax says
	dropped uint64 // > 0: every batch up to this position was dropped
}

func newCheckpointInbox(bytesMax int) checkpointInbox {
	return checkpointInbox{bytesMax: bytesMax, ready: make(chan struct{}, 1)}
}

// put queues one committed batch. Never blocks.
func (q *checkpointInbox) put(events []*ledger.Event, last uint64) {
	bytes := len(events) * checkpointEventBytes
	for _, event := range events {
		bytes += len(event.Memo)
	}
	q.mu.Lock()
	if q.dropped != 0 || q.bytes+bytes > q.bytesMax {
		clear(q.batches)
		q.batches, q.bytes, q.dropped = q.batches[:0], 0, last
	} else {
		q.batches = append(q.batches, checkpointBatch{events: events, last: last})
		q.bytes += bytes
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // the checkpointer is already told
	}
}

// take empties the inbox: it returns the batches queued, or (with none)
// the last position of those dropped, and keeps spare, emptied, as its
// next buffer.
func (q *checkpointInbox) take(spare []checkpointBatch) (batches []checkpointBatch, dropped uint64) {
	q.mu.Lock()
	batches, dropped = q.batches, q.dropped
	q.batches, q.bytes, q.dropped = spare[:0], 0, 0
	q.mu.Unlock()
	return batches, dropped
}

func newCheckpointer(e *Engine, book *ledger.Book, position uint64) *checkpointer {
	backlogMax := checkpointBacklogBytesMax
	if e.options.seams.checkpointBacklogBytesMax > 0 {
		backlogMax = e.options.seams.checkpointBacklogBytesMax
	}
	c := &checkpointer{
		e: e, book: book, position: position, lastSnapshot: e.recovered.SnapshotPosition,
		inbox:       newCheckpointInbox(backlogMax),
		requests:    make(chan chan error),
		inspections: make(chan func(*ledger.Book)),
		stopping:    make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	go c.run()
	return c
}

// feed hands the checkpointer one committed batch. Called by the log's
// reporting goroutine (onDurable); never blocks.
// NB: after stop, batches are dropped: they are durable in the log, and the
// copy is only a source of snapshots.
func (c *checkpointer) feed(events []*ledger.Event, last uint64) {
	c.inbox.put(events, last)
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	for {
		select {
		case <-c.inbox.ready:
			c.catchUp()
			if every := c.e.options.SnapshotEvery; every > 0 && c.position-c.lastSnapshot >= uint64(every) {
				c.startSnapshot()
			}
		case reply := <-c.requests:
			reply <- c.snapshotNow()
		case inspect := <-c.inspections:
			c.catchUp()
			inspect(c.book)
		case err := <-c.inProgress: // never ready while nil
			c.report(err)
		case <-c.stopping:
			c.finishSnapshot()
			return
		}
	}
}

// snapshotNow writes a snapshot that covers every batch fed so far, so it
// covers everything acknowledged before it was asked for.
func (c *checkpointer) snapshotNow() error {
	if err := c.finishSnapshot(); err != nil { // it may have started before the request
		return err
	}
	c.catchUp()
	if c.behind != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, c.behind)
	}
	c.startSnapshot()
	return c.finishSnapshot()
}

// catchUp applies every batch fed so far, reading back from the log those
// the inbox dropped.
func (c *checkpointer) catchUp() {
	batches, dropped := c.inbox.take(c.spare)
	if dropped != 0 {
		c.readBack(dropped)
	}
	for _, b := range batches {
		c.apply(b)
	}
	clear(batches)
	c.spare = batches
}

func (c *checkpointer) apply(b checkpointBatch) {
	if c.behind != nil {
		return
	}
	for _, event := range b.events {
		c.book.Apply(event)
	}
	c.position = b.last
}

var errReadBackDone = errors.New("read back done")

// readBack applies the log's records after c.position up to through, which
// the inbox dropped. They are durable (they were fed) and not truncated
// (only snapshots of this copy, at or below c.position, truncate).
func (c *checkpointer) readBack(through uint64) {
	if c.behind != nil || through <= c.position {
		return
	}
	err := c.e.log.Read(c.position+1, func(position uint64, record []byte) error {
		if position > through {
			return errReadBackDone // fed, or about to be, through the inbox
		}
		if !isRowsRecord(record) {
			event, err := ledger.DecodeEvent(record)
			if err == nil {
				err = applyRecovered(c.book, &event)
			}
			if err != nil {
				return fmt.Errorf("position %d: %w", position, err)
			}
		}
		c.position = position
		return nil
	})
	if errors.Is(err, errReadBackDone) {
		err = nil
	}
	if err == nil && c.position != through {
		err = fmt.Errorf("the log ends at %d", c.position)
	}
	if err != nil {
		c.behind = fmt.Errorf("checkpointer: read the log back to %d: %w", through, err)
		c.e.fail(c.behind)
	}
}

// startSnapshot encodes the copy into chunks and starts writing them, unless
// a write is already in progress or nothing changed since the last one.
func (c *checkpointer) startSnapshot() {
	if c.inProgress != nil || c.position == c.lastSnapshot || c.behind != nil {
		return
	}
	if hook := c.e.options.seams.snapshotEncoding; hook != nil {
		hook()
	}
	started := time.Now()
	position, accounts := c.position, c.book.Len()
	// Read before the write: retentions only advance, so an early read
	// keeps more, never less.
	keepFrom := c.e.retention.keepFrom()
	done := make(chan error, 1)
	c.inProgress = done
	c.lastSnapshot = position
	chunks, err := encodeSnapshot(c.book)
	if err != nil {
		done <- err
		return
	}
	c.writing.Add(1)
	go func() {
		defer c.writing.Done()
		err := c.e.log.WriteSnapshotRetaining(position, keepFrom, func(yield func([]byte) error) error {
			for _, chunk := range chunks {
				if err := yield(chunk); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			first := c.e.log.First()
			c.e.logger.Info("snapshot written", "position", position, "accounts", accounts,
				"chunks", len(chunks), "first_kept", first, "duration", time.Since(started))
			if kept := position + 1 - min(first, position+1); kept > retainedRecordsWarn {
				// A consumer that stopped (or no longer runs) pins the log.
				c.e.logger.Warn("retentions keep log records behind the snapshot; release those no longer consumed (engine.ReleaseRow)",
					"records", kept, "retentions", c.e.Retained())
			}
		}
		done <- err
	}()
}

// finishSnapshot waits for the write in progress, if any, and returns its error.
func (c *checkpointer) finishSnapshot() error {
	if c.inProgress == nil {
		return nil
	}
	err := <-c.inProgress
	c.report(err)
	return err
}

func (c *checkpointer) report(err error) {
	c.inProgress = nil
	if err != nil {
		// The log refuses writes once it failed; the engine fails with it.
		c.e.fail(fmt.Errorf("write snapshot: %w", err))
	}
}

// stop ends the checkpointer's goroutine and its snapshot write, if any.
func (c *checkpointer) stop() {
	close(c.stopping)
	<-c.stopped
	c.writing.Wait()
}

// Snapshot writes a snapshot of every acknowledged change now and truncates
// the log behind it, except what a retention keeps (RetainRow). Engines also do this every Options.SnapshotEvery entries.
func (e *Engine) Snapshot(ctx context.Context) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	reply := make(chan error, 1)
	select {
	case e.checkpointer.requests <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Verify checks the invariants of the design over every acknowledged
// change: per ledger Σ debits = Σ credits (posted and pending), no account
// that may not overdraw is overdrawn, and open holds equal pending debits.
// It runs on the checkpointer's copy of the committed state, so it costs no
// actor time; it is meant for audits and tests.
func (e *Engine) Verify(ctx context.Context) error {
	var err error
	if inspectErr := e.inspect(ctx, func(b *ledger.Book) { err = b.Check() }); inspectErr != nil {
		return inspectErr
	}
	return err
}

// inspect runs fn on the committed state, after every batch already
// committed has been applied to it.
func (e *Engine) inspect(ctx context.Context, fn func(*ledger.Book)) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	done := make(chan struct{})
	request := func(b *ledger.Book) { fn(b); close(done) }
	select {
	case e.checkpointer.inspections <- request:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// encodeSnapshot encodes every account, then every open session, into
// chunks of about snapshotChunkBytes: a sequence of (uvarint length,
// record), where a session's record leads with its tag
// (ledger.IsSessionRecord) and is bounded by ledger.SessionRecordBytesMax.
//
// It asserts what the ledger's limits promise, right before the chunks go
// to the log: an account record above ledger.AccountRecordBytesMax is an
// error naming the account, never a chunk the log would refuse later.
// decodeSnapshotChunk checks the same bound when the record is read back.
func encodeSnapshot(book *ledger.Book) ([][]byte, error) {
	var chunks [][]byte
	chunk := make([]byte, 0, snapshotChunkBytes)
	var record []byte
	frame := func() { // record, into the chunk or a new one
		if len(chunk) > 0 && len(chunk)+binary.MaxVarintLen64+len(record) > snapshotChunkBytes {
			chunks = append(chunks, chunk)
			chunk = make([]byte, 0, snapshotChunkBytes)
		}
		chunk = binary.AppendUvarint(chunk, uint64(len(record)))
		chunk = append(chunk, record...)
	}
	var err error
	book.Range(func(a *ledger.Account) bool {
		record = ledger.AppendAccount(record[:0], a)
		if len(record) > ledger.AccountRecordBytesMax {
			err = fmt.Errorf("engine: account %q encodes to %d bytes, above ledger.AccountRecordBytesMax (%d): its limits were not enforced",
				a.ID, len(record), ledger.AccountRecordBytesMax)
			return false
		}
		frame()
		return true
	})
	if err != nil {
		return nil, err
	}
	book.RangeSessions(func(s *ledger.Session) bool {
		record = ledger.AppendSession(record[:0], s) // within SessionRecordBytesMax, by its fields' bounds
		frame()
		return true
	})
	if len(chunk) > 0 {
		chunks = append(chunks, chunk)
	}
	return chunks, nil
}

// decodeSnapshotChunk inserts every account of one chunk into book. A
// record above ledger.AccountRecordBytesMax is corrupt: encodeSnapshot
// never writes one.
func decodeSnapshotChunk(chunk []byte, book *ledger.Book) error {
	for len(chunk) > 0 {
		size, n := binary.Uvarint(chunk)
		if n <= 0 || size > uint64(len(chunk)-n) {
			return fmt.Errorf("%w: snapshot record length", ledger.ErrCorrupt)
		}
		if size > ledger.AccountRecordBytesMax {
			return fmt.Errorf("%w: snapshot record of %d bytes, above ledger.AccountRecordBytesMax (%d)",
				ledger.ErrCorrupt, size, ledger.AccountRecordBytesMax)
		}
		record := chunk[n : n+int(size)]
		chunk = chunk[n+int(size):]
		if ledger.IsSessionRecord(record) {
			s, err := ledger.DecodeSession(record)
			if err != nil {
				return err
			}
			if book.Session(s.ID) != nil {
				return fmt.Errorf("%w: session %q twice in snapshot", ledger.ErrCorrupt, s.ID)
			}
			book.InsertSession(s)
			continue
		}
		a, err := ledger.DecodeAccount(record)
		if err != nil {
			return err
		}
		if book.Account(a.ID) != nil {
			return fmt.Errorf("%w: account %q twice in snapshot", ledger.ErrCorrupt, a.ID)
		}
		book.Insert(a)
	}
	return nil
}
