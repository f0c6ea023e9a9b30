package usage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollway/tollway/engine"
)

// Limits of the projection.
const (
	// DirtyMax bounds the day totals held in memory and not yet persisted:
	// a flush writes them all, in one WriteRows, before a new one is added
	// past it. About 140 bytes each in the table, a few hundred in memory.
	DirtyMax = 1024
	// FlushEventsMax bounds the events folded between flushes, and so the
	// log a restart folds again; FlushInterval bounds the time.
	FlushEventsMax = 1 << 16
	FlushInterval  = time.Second
	// CatchUpMax bounds how long Wait waits for the projection to reach a
	// position.
	CatchUpMax = 5 * time.Second
	// catchUpPoll is how often Wait looks again: a table write moves the
	// log without an event, so no fold announces it.
	catchUpPoll = time.Millisecond
)

// ErrUnavailable means the projection stopped (closed, or failed: see the
// logs); reopening the engine and the projection recovers it.
var ErrUnavailable = errors.New("usage: projection unavailable")

// Options configure a projection; zero values take the defaults. Tests
// lower the bounds.
type Options struct {
	Logger         *slog.Logger
	DirtyMax       int
	FlushEventsMax int
	FlushInterval  time.Duration
}

// Projection folds the engine's committed events into day totals. Its
// methods are safe for concurrent use.
type Projection struct {
	engine  *engine.Engine
	logger  *slog.Logger
	options Options
	sub     *engine.Subscription
	cancel  context.CancelFunc
	done    chan struct{}
	folded  atomic.Uint64 // events taken off sub and folded (see caughtUp)

	closeOnce sync.Once
	closeErr  error

	// Owned by the fold goroutine.
	persisted uint64 // the cursor in the table
	unflushed int    // events folded since the last flush

	mu      sync.Mutex
	dirty   map[dayKey]Totals // absolute totals of days changed since the last flush
	cursor  uint64            // the last position folded in
	failure error             // set once: the projection stopped
}

// Open loads the projection's cursor from eng's table and resumes folding
// from the position after it. A new projection starts at the first position
// still in the log (1 on a new data directory; on an older one, events a
// snapshot already truncated are not counted: the log says so).
//
// REQUIRES: eng stays open until Close returns.
func Open(eng *engine.Engine, options Options) (*Projection, error) {
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	if options.DirtyMax <= 0 || options.DirtyMax > DirtyMax {
		options.DirtyMax = DirtyMax
	}
	options.DirtyMax = max(options.DirtyMax, 2) // one event's two days
	if options.FlushEventsMax <= 0 {
		options.FlushEventsMax = FlushEventsMax
	}
	if options.FlushInterval <= 0 {
		options.FlushInterval = FlushInterval
	}
	p := &Projection{engine: eng, logger: options.Logger, options: options,
		dirty: make(map[dayKey]Totals), done: make(chan struct{})}
	cursor, found, err := p.loadCursor()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for attempt := 0; ; attempt++ {
		if !found {
			if cursor, err = p.register(); err != nil {
				cancel()
				return nil, err
			}
		}
		p.sub, err = eng.Subscribe(ctx, cursor+1)
		if errors.Is(err, engine.ErrTruncated) && !found && attempt == 0 {
			continue // a snapshot truncated past the registration as it committed
		}
		if err != nil {
			cancel()
			return nil, fmt.Errorf("usage: resume from position %d: %w", cursor+1, err)
		}
		break
	}
	p.cursor, p.persisted = cursor, cursor
	go p.run()
	return p, nil
}

// loadCursor reads the persisted cursor; found is false for a new projection.
func (p *Projection) loadCursor() (cursor uint64, found bool, err error) {
	err = p.engine.ScanRows([]byte(cursorKey), func(key, value []byte) error {
		if string(key) != cursorKey || len(value) != 8 {
			return fmt.Errorf("%w: cursor %q = %x", errCorrupt, key, value)
		}
		cursor, found = binary.BigEndian.Uint64(value), true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("usage: load cursor: %w", err)
	}
	return cursor, found, nil
}

// register writes a new projection's cursor and retention at the position
// before the first one still in the log.
func (p *Projection) register() (uint64, error) {
	cursor := p.engine.FirstPosition() - 1
	if cursor > 0 {
		p.logger.Warn("usage: starting after a snapshot: events up to the first position still in the log are not counted",
			"first_counted", cursor+1)
	}
	if _, err := p.engine.WriteRows(context.Background(), cursorRow(cursor), engine.RetainRow(RetentionName, cursor)); err != nil {
		return 0, fmt.Errorf("usage: register: %w", err)
	}
	return cursor, nil
}

// Close stops folding and persists what was folded; it returns why the
// projection had stopped, if it had. Call it before the engine's Close.
func (p *Projection) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		<-p.done
		p.mu.Lock()
		failure := p.failure
		p.mu.Unlock()
		if failure == nil {
			failure = p.flush()
		}
		p.mu.Lock()
		if p.failure == nil {
			p.failure = fmt.Errorf("%w: closed", ErrUnavailable)
		}
		p.mu.Unlock()
		p.closeErr = failure
	})
	return p.closeErr
}

// run folds the subscription until it ends, flushing every DirtyMax days,
// FlushEventsMax events or FlushInterval.
func (p *Projection) run() {
	defer close(p.done)
	ticker := time.NewTicker(p.options.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case ev, ok := <-p.sub.C:
			if !ok {
				if err := p.sub.Err(); err != nil {
					p.fail(fmt.Errorf("subscription: %w", err))
				}
				return
			}
			if err := p.fold(ev); err != nil {
				p.fail(err)
				return
			}
		case <-ticker.C:
			if err := p.flush(); err != nil {
				p.fail(err)
				return
			}
		}
	}
}

func (p *Projection) fail(err error) {
	p.mu.Lock()
	if p.failure == nil {
		p.failure = fmt.Errorf("%w: %v", ErrUnavailable, err)
		p.logger.Error("usage projection stopped; reopen to recover", "error", err)
	}
	p.mu.Unlock()
}

// fold adds one event to the day totals, flushing first if it could take
// the dirty set past DirtyMax, and after if FlushEventsMax are unflushed.
func (p *Projection) fold(ev engine.Event) error {
	payer, payee, amount, fee, ok := usageOf(ev)
	if ok {
		if err := p.foldUsage(ev, payer, payee, amount, fee); err != nil {
			return fmt.Errorf("position %d: %w", ev.Position, err)
		}
	}
	p.mu.Lock()
	p.cursor = ev.Position
	p.mu.Unlock()
	p.folded.Add(1)
	if p.unflushed++; p.unflushed >= p.options.FlushEventsMax {
		return p.flush()
	}
	return nil
}

func (p *Projection) foldUsage(ev engine.Event, payer, payee engine.AccountID, amount, fee engine.Amount) error {
	earned, ok := amount.Sub(fee)
	if !ok {
		return fmt.Errorf("%w: fee %s above amount %s", errCorrupt, fee, amount)
	}
	day := DayOf(ev.Time)
	keys := [2]dayKey{{payer, day}, {payee, day}}
	deltas := [2]Totals{{SpentCount: 1, Spent: amount, Fees: fee}, {EarnedCount: 1, Earned: earned}}
	if len(p.dirty)+len(keys) > p.options.DirtyMax {
		if err := p.flush(); err != nil {
			return err
		}
	}
	for i, key := range keys {
		p.mu.Lock()
		totals, dirty := p.dirty[key]
		p.mu.Unlock()
		if !dirty {
			var err error
			if totals, err = p.persistedDay(key); err != nil {
				return err
			}
		}
		if err := totals.Add(deltas[i]); err != nil {
			return err
		}
		p.mu.Lock()
		p.dirty[key] = totals
		p.mu.Unlock()
	}
	return nil
}

// persistedDay reads one day's persisted totals (zero if none).
func (p *Projection) persistedDay(key dayKey) (Totals, error) {
	var totals Totals
	rowKey := key.rowKey()
	err := p.engine.ScanRows(rowKey, func(_, value []byte) error {
		var err error
		totals, err = decodeTotals(value)
		return err
	})
	if err != nil {
		return Totals{}, fmt.Errorf("usage: read %s day %d: %w", key.account, key.day, err)
	}
	return totals, nil
}

// flush writes the dirty days, the cursor and the retention in one
// WriteRows, then forgets the days: from then on the table has them.
//
// NB: only the fold goroutine (or Close, after it stopped) flushes, so
// nothing changes dirty during the write; readers meanwhile see the same
// totals in dirty and in the table.
func (p *Projection) flush() error {
	p.mu.Lock()
	cursor := p.cursor
	rows := make([]engine.Row, 0, len(p.dirty)+2)
	for key, totals := range p.dirty {
		rows = append(rows, engine.Row{Key: key.rowKey(), Value: totals.appendTo(make([]byte, 0, totalsBytes))})
	}
	p.mu.Unlock()
	if cursor == p.persisted && len(rows) == 0 {
		return nil
	}
	rows = append(rows, cursorRow(cursor), engine.RetainRow(RetentionName, cursor))
	if _, err := p.engine.WriteRows(context.Background(), rows...); err != nil {
		return fmt.Errorf("usage: flush through position %d: %w", cursor, err)
	}
	p.mu.Lock()
	clear(p.dirty)
	p.mu.Unlock()
	p.persisted, p.unflushed = cursor, 0
	return nil
}
