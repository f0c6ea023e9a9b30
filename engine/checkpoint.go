package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/tollway/tollway/engine/ledger"
)

// Limits of the checkpointer.
const (
	checkpointFeedMax   = 1024    // committed batches queued for the checkpointer
	snapshotChunkBytes  = 1 << 20 // target size of one snapshot chunk
	snapshotRecordBytes = 1 << 26 // largest account record a chunk may hold
)

// checkpointer keeps a copy of the committed state (a ledger.Book fed with
// every durable event, in log order) and periodically writes it as a
// snapshot, after which the log behind it is truncated. It owns one
// goroutine; a snapshot's chunks are encoded there (the copy pauses briefly)
// and written to disk by a second goroutine while the copy moves on.
type checkpointer struct {
	e        *Engine
	book     *ledger.Book
	position uint64 // of the last event applied to book

	lastSnapshot uint64
	batches      chan checkpointBatch
	requests     chan chan error
	inspections  chan func(*ledger.Book)
	stopping     chan struct{}
	stopped      chan struct{}
	writing      sync.WaitGroup
	inProgress   chan error // the result of the snapshot write in progress, nil when none
}

type checkpointBatch struct {
	events []*ledger.Event
	last   uint64
}

func newCheckpointer(e *Engine, book *ledger.Book, position uint64) *checkpointer {
	c := &checkpointer{
		e: e, book: book, position: position, lastSnapshot: e.recovered.SnapshotPosition,
		batches:     make(chan checkpointBatch, checkpointFeedMax),
		requests:    make(chan chan error),
		inspections: make(chan func(*ledger.Book)),
		stopping:    make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	go c.run()
	return c
}

// feed hands the checkpointer one committed batch. Called by the committer.
// NB: after stop, batches are dropped: they are durable in the log, and the
// copy is only a source of snapshots.
func (c *checkpointer) feed(events []*ledger.Event, last uint64) {
	select {
	case c.batches <- checkpointBatch{events: events, last: last}:
	case <-c.stopping:
	}
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	for {
		select {
		case b := <-c.batches:
			c.apply(b)
			if every := c.e.options.SnapshotEvery; every > 0 && c.position-c.lastSnapshot >= uint64(every) && c.inProgress == nil {
				c.startSnapshot()
			}
		case reply := <-c.requests:
			c.drain()
			c.startSnapshot()
			reply <- c.finishSnapshot()
		case inspect := <-c.inspections:
			c.drain()
			inspect(c.book)
		case err := <-c.inProgress: // never ready while nil
			c.report(err)
		case <-c.stopping:
			c.finishSnapshot()
			return
		}
	}
}

// drain applies every batch already queued, so a requested snapshot covers
// everything acknowledged before the request.
func (c *checkpointer) drain() {
	for {
		select {
		case b := <-c.batches:
			c.apply(b)
		default:
			return
		}
	}
}

func (c *checkpointer) apply(b checkpointBatch) {
	for _, event := range b.events {
		c.book.Apply(event)
	}
	c.position = b.last
}

// startSnapshot encodes the copy into chunks and starts writing them, unless
// a write is already in progress or nothing changed since the last one.
func (c *checkpointer) startSnapshot() {
	if c.inProgress != nil || c.position == c.lastSnapshot {
		return
	}
	started := time.Now()
	chunks := encodeSnapshot(c.book)
	position := c.position
	done := make(chan error, 1)
	c.inProgress = done
	c.writing.Add(1)
	go func() {
		defer c.writing.Done()
		err := c.e.log.WriteSnapshot(position, func(yield func([]byte) error) error {
			for _, chunk := range chunks {
				if err := yield(chunk); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			c.e.logger.Info("snapshot written", "position", position, "accounts", c.book.Len(),
				"chunks", len(chunks), "duration", time.Since(started))
		}
		done <- err
	}()
	c.lastSnapshot = position
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

func (c *checkpointer) stop() {
	close(c.stopping)
	<-c.stopped
	c.writing.Wait()
}

// Snapshot writes a snapshot of every acknowledged change now and truncates
// the log behind it. Engines also do this every Options.SnapshotEvery entries.
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

// encodeSnapshot encodes every account into chunks of about
// snapshotChunkBytes: a sequence of (uvarint length, account record).
func encodeSnapshot(book *ledger.Book) [][]byte {
	var chunks [][]byte
	chunk := make([]byte, 0, snapshotChunkBytes)
	var record []byte
	book.Range(func(a *ledger.Account) bool {
		record = ledger.AppendAccount(record[:0], a)
		if len(chunk) > 0 && len(chunk)+len(record)+binary.MaxVarintLen64 > snapshotChunkBytes {
			chunks = append(chunks, chunk)
			chunk = make([]byte, 0, snapshotChunkBytes)
		}
		chunk = binary.AppendUvarint(chunk, uint64(len(record)))
		chunk = append(chunk, record...)
		return true
	})
	if len(chunk) > 0 {
		chunks = append(chunks, chunk)
	}
	return chunks
}

// decodeSnapshotChunk inserts every account of one chunk into book.
func decodeSnapshotChunk(chunk []byte, book *ledger.Book) error {
	for len(chunk) > 0 {
		size, n := binary.Uvarint(chunk)
		if n <= 0 || size > snapshotRecordBytes || size > uint64(len(chunk)-n) {
			return fmt.Errorf("%w: snapshot record length", ledger.ErrCorrupt)
		}
		a, err := ledger.DecodeAccount(chunk[n : n+int(size)])
		if err != nil {
			return err
		}
		if book.Account(a.ID) != nil {
			return fmt.Errorf("%w: account %q twice in snapshot", ledger.ErrCorrupt, a.ID)
		}
		book.Insert(a)
		chunk = chunk[n+int(size):]
	}
	return nil
}
