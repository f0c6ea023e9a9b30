package engine

import (
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
// context ends, the engine closes, or an error occurs (see Err).
type Subscription struct {
	C <-chan Event

	// passed is the last position the stream went past (its event sent on
	// C, or a table write skipped); sent counts the events sent on C, each
	// before passed moves past it. See Progress.
	passed atomic.Uint64
	sent   atomic.Uint64

	mu  sync.Mutex
	err error
}

// Progress returns the last log position the subscription has gone past
// (every event up to it is sent on C; table writes, which it does not
// deliver, are passed too) and how many events it has sent on C. A consumer
// that has taken sent events off C (read sent after passed) has seen every
// event up to passed: how it tells it is caught up with a position whose
// record is a table write, which no event announces.
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
// latest snapshot and not kept by a retention (RetainRow).
func (e *Engine) Subscribe(ctx context.Context, from uint64) (*Subscription, error) {
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
	go e.stream(ctx, s, events, from)
	return s, nil
}

var (
	errReadPause     = errors.New("pause reading")
	errStreamStopped = errors.New("engine closing")
)

func (e *Engine) stream(ctx context.Context, s *Subscription, events chan<- Event, next uint64) {
	defer e.streams.Done()
	defer close(events)
	var ids ledger.Interner // a stream decodes the same accounts' ids again and again
	for {
		notify := e.log.Notify()
		read := 0
		err := e.log.Read(next, func(position uint64, record []byte) error {
			if isRowsRecord(record) {
				next = position + 1
				s.passed.Store(position)
				return nil
			}
			event, err := ledger.DecodeEventInterned(record, &ids)
			if err != nil {
				return fmt.Errorf("position %d: %w", position, err)
			}
			select {
			case events <- eventOf(position, &event):
			case <-ctx.Done():
				return ctx.Err()
			case <-e.stopping:
				return errStreamStopped
			}
			next = position + 1
			s.sent.Add(1)
			s.passed.Store(position)
			if read++; read == subscriptionReadMax {
				return errReadPause
			}
			return nil
		})
		switch {
		case errors.Is(err, errReadPause):
			continue
		case ctx.Err() != nil || e.closing.Load() || errors.Is(err, errStreamStopped):
			return
		case errors.Is(err, wal.ErrTruncated):
			s.setErr(fmt.Errorf("%w: subscriber fell behind a snapshot at position %d", ErrTruncated, next))
			return
		case err != nil:
			s.setErr(err)
			return
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return
		case <-e.stopping:
			return
		}
		if e.failure.Load() != nil || e.closing.Load() {
			return
		}
	}
}

func (s *Subscription) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}
