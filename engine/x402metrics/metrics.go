package x402metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
)

// Limits and defaults.
const (
	// CompactAfter is how old a delta is before it is folded: deltas of
	// the last minute stay rows of their own, so a fold rewrites a busy
	// day's totals once per pass rather than once per payment.
	CompactAfter = time.Minute
	// CompactInterval is how often the compactor looks for old deltas.
	CompactInterval = 10 * time.Second
	// CompactDeltasMax bounds the deltas of one fold; compactBytesMax its
	// rows' bytes, well inside engine.RowsBytesMax.
	CompactDeltasMax = 512
	compactBytesMax  = engine.RowsBytesMax / 2
	// QueryDeltasMax bounds the deltas one query reads: more means the
	// compactor is far behind, and the query answers ErrUnavailable.
	QueryDeltasMax = 1 << 16
)

// ErrUnavailable means the metrics cannot be read now: the compactor is
// behind, or the engine is closed or failed.
var ErrUnavailable = errors.New("x402metrics: unavailable")

// Options configure Metrics; zero values take the defaults.
type Options struct {
	Logger          *slog.Logger
	Now             func() time.Time
	CompactAfter    time.Duration
	CompactInterval time.Duration
	// NoCompactor leaves compaction to Compact calls (tests).
	NoCompactor bool
}

// Metrics reads the x402 metrics and compacts their deltas. Its methods
// are safe for concurrent use.
type Metrics struct {
	engine  *engine.Engine
	options Options
	logger  *slog.Logger

	// folding is held for writing while a fold's write is in flight, and
	// for reading by a query across its scans (see doc.go).
	folding sync.RWMutex
	// compacting serializes Compact calls (the compactor's and tests').
	compacting sync.Mutex

	cancel context.CancelFunc
	done   chan struct{}

	// hook, set by tests only, is called at "between-scans" (a query
	// read its totals, not yet its deltas) and "written" (a fold wrote,
	// not yet unlocked).
	hook func(stage string)
}

// Open starts the compactor over eng's table.
func Open(eng *engine.Engine, options Options) *Metrics {
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	if options.Now == nil {
		options.Now = time.Now
	}
	if options.CompactAfter <= 0 {
		options.CompactAfter = CompactAfter
	}
	if options.CompactInterval <= 0 {
		options.CompactInterval = CompactInterval
	}
	m := &Metrics{engine: eng, options: options, logger: options.Logger, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if options.NoCompactor {
		close(m.done)
		return m
	}
	go m.run(ctx)
	return m
}

// Close stops the compactor (a fold in flight completes). Call it before
// the engine's Close.
func (m *Metrics) Close() {
	m.cancel()
	<-m.done
}

// run compacts every CompactInterval until ctx ends.
func (m *Metrics) run(ctx context.Context) {
	defer close(m.done)
	ticker := time.NewTicker(m.options.CompactInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// Folds until nothing is old enough: a backlog drains within one
		// tick, one bounded fold at a time.
		for ctx.Err() == nil {
			folded, err := m.Compact(ctx)
			if err != nil {
				m.logger.Error("x402 metrics: compact", "error", err)
				break
			}
			if folded == 0 {
				break
			}
		}
	}
}

// fold is what one fold writes, gathered from the deltas it folds.
type fold struct {
	deltas [][]byte
	days   map[string]*foldTotals // by day row key
	all    map[string]*foldTotals // by all-time row key
	bytes  int
}

type foldTotals struct {
	key    []byte
	totals Totals
}

// Compact folds up to CompactDeltasMax deltas at least CompactAfter old into
// their totals and deletes them, in one write, and returns how many it
// folded.
func (m *Metrics) Compact(ctx context.Context) (int, error) {
	m.compacting.Lock()
	defer m.compacting.Unlock()
	cutoff := m.options.Now().Add(-m.options.CompactAfter).Unix()
	f := fold{days: make(map[string]*foldTotals), all: make(map[string]*foldTotals)}
	full := errors.New("fold full")
	err := m.engine.ScanRows([]byte(deltaPrefix), func(key, value []byte) error {
		k, d, amount, err := parseDelta(key, value)
		if err != nil {
			return err
		}
		if d.At > cutoff {
			return nil
		}
		return f.add(key, k, amount, full)
	})
	if err != nil && !errors.Is(err, full) {
		return 0, fmt.Errorf("x402metrics: read deltas: %w", err)
	}
	if len(f.deltas) == 0 {
		return 0, nil
	}
	rows, err := m.foldRows(&f)
	if err != nil {
		return 0, err
	}
	// NB: not ctx: a write answered early with ctx's error goes on, and
	// would land outside the lock that queries rely on.
	m.folding.Lock()
	_, err = m.engine.WriteRows(context.WithoutCancel(ctx), rows...)
	if m.hook != nil {
		m.hook("written")
	}
	m.folding.Unlock()
	if err != nil {
		return 0, fmt.Errorf("x402metrics: fold %d deltas: %w", len(f.deltas), err)
	}
	return len(f.deltas), nil
}

// add adds one delta to the fold, or returns full when it has no room.
func (f *fold) add(key []byte, k deltaKey, amount *big.Int, full error) error {
	dayKey, allKey := dayRowKey(k.owner, k.day, k.network), allRowKey(k.owner, k.network)
	cost := len(key)
	if f.days[string(dayKey)] == nil {
		cost += len(dayKey) + totalsValueBytesMax
	}
	if f.all[string(allKey)] == nil {
		cost += len(allKey) + totalsValueBytesMax
	}
	if len(f.deltas) >= CompactDeltasMax || f.bytes+cost > compactBytesMax {
		return full
	}
	f.bytes += cost
	f.deltas = append(f.deltas, append([]byte(nil), key...))
	for _, target := range []struct {
		index map[string]*foldTotals
		key   []byte
	}{{f.days, dayKey}, {f.all, allKey}} {
		t := target.index[string(target.key)]
		if t == nil {
			t = &foldTotals{key: target.key}
			target.index[string(target.key)] = t
		}
		if err := t.totals.tally(k.kind).add(1, amount); err != nil {
			return err
		}
	}
	return nil
}

// foldRows returns the fold's write: each touched totals row, the table's
// value plus the fold's, and a deletion per delta.
func (m *Metrics) foldRows(f *fold) ([]engine.Row, error) {
	rows := make([]engine.Row, 0, len(f.days)+len(f.all)+len(f.deltas))
	for _, index := range []map[string]*foldTotals{f.days, f.all} {
		for _, t := range index {
			stored, err := m.read(t.key)
			if err != nil {
				return nil, err
			}
			if err := stored.Add(t.totals); err != nil {
				return nil, fmt.Errorf("x402metrics: %s: %w", t.key, err)
			}
			value := encodeTotals(stored)
			if len(value) > totalsValueBytesMax {
				panic(fmt.Sprintf("x402metrics: totals of %d bytes, bound %d", len(value), totalsValueBytesMax))
			}
			rows = append(rows, engine.Row{Key: t.key, Value: value})
		}
	}
	for _, key := range f.deltas {
		rows = append(rows, engine.Row{Key: key})
	}
	return rows, nil
}

// read returns a totals row (zero totals if absent).
func (m *Metrics) read(key []byte) (Totals, error) {
	var t Totals
	err := m.engine.ScanRows(key, func(got, value []byte) error {
		if string(got) != string(key) {
			return nil
		}
		var err error
		t, err = decodeTotals(got, value)
		return err
	})
	if err != nil {
		return Totals{}, fmt.Errorf("x402metrics: read %s: %w", key, err)
	}
	return t, nil
}
