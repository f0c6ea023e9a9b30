package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

	mu  sync.Mutex
	err error
}

// Err returns why C was closed: nil if the context ended or the engine closed.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Subscribe streams every durable event from position from (1 is the
// first; 0 means the oldest still in the log) and then each new one as it
// commits. ErrTruncated if from is behind the latest snapshot.
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
	for {
		notify := e.log.Notify()
		read := 0
		err := e.log.Read(next, func(position uint64, record []byte) error {
			if isRowsRecord(record) {
				next = position + 1
				return nil
			}
			event, err := ledger.DecodeEvent(record)
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
