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
	// DirtyMax bounds the day totals changed in memory and not yet
	// persisted: a flush writes them all before a new one is added past
	// it. About 150 bytes each in the table.
	DirtyMax = 1 << 16
	// DaysMax bounds the day totals kept in memory, dirty or not (a few
	// hundred bytes each): the recent days of the accounts in use, so that
	// folding an event reads the table only for a day it has not seen
	// lately. Past it, clean days are dropped (they are in the table).
	DaysMax = 1 << 18
	// FlushEventsMax bounds the events folded between flushes, and so the
	// log a restart folds again; FlushInterval bounds the time.
	FlushEventsMax = 1 << 16
	FlushInterval  = 5 * time.Second
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
	days    map[dayKey]*dayState // recent days: every dirty one, and clean ones up to DaysMax
	dirty   int                  // how many of days changed since the last flush
	cursor  uint64               // the last position folded in
	failure error                // set once: the projection stopped
}

// dayState is one (account, day)'s totals in memory: the persisted ones
// and what was folded since.
type dayState struct {
	totals Totals
	// through is the last log position folded into totals. A day's row
	// carries it too, so that a flush may take several writes: after a
	// crash between them, the events a row already counts are skipped
	// when the log after the (older) cursor is folded again.
	through uint64
	dirty   bool // changed since the last flush
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
		days: make(map[dayKey]*dayState), done: make(chan struct{})}
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
	if p.dirty+len(keys) > p.options.DirtyMax {
		if err := p.flush(); err != nil {
			return err
		}
	}
	for i, key := range keys {
		p.mu.Lock()
		state := p.days[key]
		p.mu.Unlock()
		if state == nil {
			totals, through, err := p.persistedDay(key)
			if err != nil {
				return err
			}
			state = &dayState{totals: totals, through: through}
			p.mu.Lock()
			p.keep(key, state)
			p.mu.Unlock()
		}
		if ev.Position <= state.through {
			continue // its row counts it already (folded again after a crash mid-flush)
		}
		totals := state.totals
		if err := totals.Add(deltas[i]); err != nil {
			return err
		}
		p.mu.Lock()
		state.totals, state.through = totals, ev.Position
		if !state.dirty {
			state.dirty = true
			p.dirty++
		}
		p.mu.Unlock()
	}
	return nil
}

// keep adds a day to those in memory, first dropping clean ones if there
// are DaysMax: an eighth of them, whichever the map yields.
//
// REQUIRES: p.mu held.
func (p *Projection) keep(key dayKey, state *dayState) {
	if len(p.days) >= DaysMax {
		drop := DaysMax / 8
		for k, s := range p.days {
			if drop == 0 {
				break
			}
			if !s.dirty {
				delete(p.days, k)
				drop--
			}
		}
	}
	p.days[key] = state
}

// persistedDay reads one day's persisted totals and the position they
// count through (zeros if none).
func (p *Projection) persistedDay(key dayKey) (Totals, uint64, error) {
	var (
		totals  Totals
		through uint64
	)
	rowKey := key.rowKey()
	err := p.engine.ScanRows(rowKey, func(_, value []byte) error {
		var err error
		totals, through, err = decodeDay(value)
		return err
	})
	if err != nil {
		return Totals{}, 0, fmt.Errorf("usage: read %s day %d: %w", key.account, key.day, err)
	}
	return totals, through, nil
}

// flush writes the dirty days, then the cursor and the retention, in as
// few WriteRows as RowsBytesMax allows, the cursor in the last: until it
// is durable, a restart folds the log after the older cursor again, and
// each day's row skips what it already counts (dayState.through).
//
// NB: only the fold goroutine (or Close, after it stopped) flushes, so
// nothing changes the days during the writes; readers meanwhile see the
// same totals in memory and, once written, in the table.
func (p *Projection) flush() error {
	p.mu.Lock()
	cursor := p.cursor
	var written []*dayState
	var rows []engine.Row
	for key, state := range p.days {
		if state.dirty {
			rows = append(rows, engine.Row{Key: key.rowKey(), Value: appendDay(make([]byte, 0, dayBytes), state.totals, state.through)})
			written = append(written, state)
		}
	}
	p.mu.Unlock()
	if cursor == p.persisted && len(rows) == 0 {
		return nil
	}
	rows = append(rows, cursorRow(cursor), engine.RetainRow(RetentionName, cursor))
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows)-2 && size+len(rows[n].Key)+len(rows[n].Value) <= engine.RowsBytesMax-flushExtraBytes {
			size += len(rows[n].Key) + len(rows[n].Value)
			n++
		}
		if n == len(rows)-2 {
			n = len(rows) // the cursor and the retention go with the last days, within flushExtraBytes
		}
		if _, err := p.engine.WriteRows(context.Background(), rows[:n]...); err != nil {
			return fmt.Errorf("usage: flush through position %d: %w", cursor, err)
		}
		rows = rows[n:]
	}
	p.mu.Lock()
	for _, state := range written {
		state.dirty = false
	}
	p.dirty = 0
	p.mu.Unlock()
	p.persisted, p.unflushed = cursor, 0
	return nil
}
