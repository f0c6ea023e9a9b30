package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// subscriptionBuffer is the capacity of a subscription's channel;
// subscriptionReadMax bounds the records read per pass over the log.
const (
	subscriptionBuffer  = 256
	subscriptionReadMax = 4096
)

// Subscription delivers committed events in log order on C until its
// context ends, the engine closes, or an error occurs (see Err): ledger
// events, and the table writes its SubscribeOptions ask for.
type Subscription struct {
	C <-chan Event

	// passed is the last position the stream went past (its event sent on
	// C, or a table write skipped); sent counts the events sent on C, each
	// before passed moves past it. See Progress.
	passed atomic.Uint64
	sent   atomic.Uint64
	// readBack counts the events sent that were read from the log rather
	// than taken from the live feed (tests tell the two paths apart).
	readBack atomic.Uint64

	mu  sync.Mutex
	err error
}

// Progress returns the last log position the subscription has gone past
// (every event up to it is sent on C; table writes it does not deliver are
// passed too) and how many events it has sent on C. A consumer
// that has taken sent events off C (read sent after passed) has seen every
// event up to passed: how it tells it is caught up with a position whose
// record is a table write it does not deliver, which no event announces.
func (s *Subscription) Progress() (passed, sent uint64) {
	passed = s.passed.Load()
	return passed, s.sent.Load()
}

// Err returns why C was closed: nil if the context ended or the engine closed.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Subscribe streams every durable event from position from (1 is the
// first; 0 means the oldest still in the log) and then each new one as it
// commits. ErrTruncated if from is before FirstPosition(): behind the
// latest snapshot and not kept by a retention (RetainRow). Table writes
// are passed over; SubscribeWith delivers some.
func (e *Engine) Subscribe(ctx context.Context, from uint64) (*Subscription, error) {
	return e.SubscribeWith(ctx, from, SubscribeOptions{})
}

// Limits of SubscribeOptions.
const (
	// SubscribeRowPrefixesMax bounds the prefixes of one subscription: each
	// row of a delivered table write is compared with every one.
	SubscribeRowPrefixesMax = 16
)

// EventRowsWritten is the engine's own event type, never a ledger event's:
// a table write (WriteRows) with rows under one of a subscription's
// RowPrefixes, which Event.Rows carries. Only SubscribeWith delivers it.
const EventRowsWritten EventType = 0xFF

// SubscribeOptions widen what a subscription delivers. The zero value is
// Subscribe's: ledger events only.
//
// Table writes are records of the same log, so a consumer that keeps its
// state in rows (the relayer's settlements) can be followed, in log order
// with the ledger's events, from a durable cursor, like the ledger: no
// second feed, and no poll of the table.
type SubscribeOptions struct {
	// RowPrefixes selects table writes: a write with rows whose keys start
	// with one of them is delivered as one EventRowsWritten at its
	// position, with those rows (in the write's order) in Event.Rows; a
	// write with none is passed over. Each prefix has 1 to RowKeyBytesMax
	// bytes; at most SubscribeRowPrefixesMax.
	RowPrefixes [][]byte
}

func (o SubscribeOptions) check() error {
	if len(o.RowPrefixes) > SubscribeRowPrefixesMax {
		return fmt.Errorf("%w: %d row prefixes, at most %d", ErrInvalid, len(o.RowPrefixes), SubscribeRowPrefixesMax)
	}
	for _, prefix := range o.RowPrefixes {
		if len(prefix) == 0 || len(prefix) > RowKeyBytesMax {
			return fmt.Errorf("%w: row prefix of %d bytes, want 1-%d", ErrInvalid, len(prefix), RowKeyBytesMax)
		}
	}
	return nil
}

// SubscribeWith is Subscribe delivering also the table writes options
// select (see SubscribeOptions).
func (e *Engine) SubscribeWith(ctx context.Context, from uint64, options SubscribeOptions) (*Subscription, error) {
	if err := options.check(); err != nil {
		return nil, err
	}
	var prefixes [][]byte
	for _, prefix := range options.RowPrefixes {
		prefixes = append(prefixes, bytes.Clone(prefix)) // the caller's may change
	}
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	if from == 0 {
		from = e.log.First()
	}
	if from < e.log.First() {
		return nil, fmt.Errorf("%w: position %d (log starts at %d)", ErrTruncated, from, e.log.First())
	}
	events := make(chan Event, subscriptionBuffer)
	s := &Subscription{C: events}
	s.passed.Store(from - 1)
	e.streams.Add(1) // before leave, so Close, which waits for calls first, sees it
	go e.stream(ctx, s, events, from, prefixes)
	return s, nil
}

var (
	errReadPause     = errors.New("pause reading")
	errStreamStopped = errors.New("engine closing")
)

// stream delivers the log from next on: what is durable already by
// reading it, then each commit as the live feed hands it over (feed.go),
// reading the log again only across a gap or after its inbox overflowed.
func (e *Engine) stream(ctx context.Context, s *Subscription, events chan<- Event, next uint64, prefixes [][]byte) {
	defer e.streams.Done()
	defer close(events)
	backlogMax := feedBacklogBytesMax
	if n := e.options.seams.feedBacklogBytesMax; n > 0 {
		backlogMax = n
	}
	inbox := newFeedInbox(backlogMax, len(prefixes) > 0)
	e.feed.add(inbox) // before the first read: no commit falls between the two
	defer e.feed.remove(inbox)
	st := streamState{e: e, ctx: ctx, s: s, events: events, next: next, prefixes: prefixes}
	err := st.readLog()
	for err == nil {
		failed := e.log.Notify() // closed by a failure of the log, which publishes nothing more
		select {
		case <-inbox.ready:
		case <-failed:
		case <-ctx.Done():
			return
		case <-e.stopping:
			return
		}
		if e.failure.Load() != nil || e.closing.Load() {
			return
		}
		batches, dropped := inbox.take()
		if dropped {
			err = st.readLog()
			continue
		}
		for _, b := range batches {
			if err = st.deliver(b); err != nil {
				break
			}
		}
		inbox.recycle(batches)
	}
	switch {
	case ctx.Err() != nil || e.closing.Load() || errors.Is(err, errStreamStopped):
	case errors.Is(err, wal.ErrTruncated):
		s.setErr(fmt.Errorf("%w: subscriber fell behind a snapshot at position %d", ErrTruncated, st.next))
	default:
		s.setErr(err)
	}
}

// streamState is one stream's position and what it sends through.
type streamState struct {
	e      *Engine
	ctx    context.Context
	s      *Subscription
	events chan<- Event
	next   uint64
	ids    ledger.Interner // a stream decodes the same accounts' ids again and again
	// prefixes are SubscribeOptions.RowPrefixes: which table writes it sends.
	prefixes [][]byte
	// reading is set while readLog sends: the events it sends are counted
	// in Subscription.readBack.
	reading bool
}

// send delivers the event at position and moves past it.
func (st *streamState) send(position uint64, event *ledger.Event) error {
	return st.sendEvent(eventOf(position, event))
}

// sendRows delivers the rows of the table write at position and moves
// past it.
func (st *streamState) sendRows(position uint64, rows []Row) error {
	return st.sendEvent(Event{Position: position, Type: EventRowsWritten, Rows: rows})
}

func (st *streamState) sendEvent(ev Event) error {
	position := ev.Position
	if st.reading {
		// Counted before the send, so a consumer that has taken the event
		// sees it counted.
		st.s.readBack.Add(1)
	}
	select {
	case st.events <- ev:
	case <-st.ctx.Done():
		return st.ctx.Err()
	case <-st.e.stopping:
		return errStreamStopped
	}
	st.next = position + 1
	st.s.sent.Add(1)
	st.s.passed.Store(position)
	return nil
}

// deliver sends one commit's events from the live feed: those at next or
// after; the log first when the commit starts past next (a gap).
func (st *streamState) deliver(b *feedBatch) error {
	if b.last < st.next {
		return nil // read from the log already
	}
	if b.first > st.next {
		return st.readLog() // durable through b.last already: the log has it all
	}
	for _, ev := range b.events {
		if ev.position < st.next {
			continue
		}
		if ev.event != nil {
			if err := st.send(ev.position, ev.event); err != nil {
				return err
			}
			continue
		}
		// A table write's record, in the batch when a subscription asks
		// for rows: decoded as readLog decodes it from the log.
		if _, err := st.passRows(ev.position, ev.write.entry.Record); err != nil {
			return err
		}
	}
	st.next = b.last + 1
	st.s.passed.Store(b.last)
	return nil
}

// readLog delivers every durable record from next on, up to Durable() at
// the call, subscriptionReadMax records per pass.
func (st *streamState) readLog() error {
	st.reading = true
	defer func() { st.reading = false }()
	for {
		read := 0
		err := st.e.log.Read(st.next, func(position uint64, record []byte) error {
			if isRowsRecord(record) {
				sent, err := st.passRows(position, record)
				if err != nil || !sent {
					return err
				}
			} else {
				event, err := ledger.DecodeEventInterned(record, &st.ids)
				if err != nil {
					return fmt.Errorf("position %d: %w", position, err)
				}
				if err := st.send(position, &event); err != nil {
					return err
				}
			}
			if read++; read == subscriptionReadMax {
				return errReadPause
			}
			return nil
		})
		if !errors.Is(err, errReadPause) {
			return err
		}
	}
}

// passRows sends the rows of the table write at position (its log record)
// under the stream's prefixes, if it has any (sent), or passes it over.
// The live feed and readLog both come here, so both paths deliver a
// write alike.
func (st *streamState) passRows(position uint64, record []byte) (sent bool, err error) {
	var rows []Row
	if len(st.prefixes) > 0 {
		if rows, err = decodeRowsRecord(record, st.prefixes); err != nil {
			return false, fmt.Errorf("position %d: %w", position, err)
		}
	}
	if len(rows) == 0 {
		st.next = position + 1
		st.s.passed.Store(position)
		return false, nil
	}
	return true, st.sendRows(position, rows)
}

func (s *Subscription) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}
