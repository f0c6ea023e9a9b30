package relay

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
)

// load reads the cursor, the next sequence number, the pairs' nets and the
// batches in flight from the table; a new relayer registers its cursor
// (and retention) just before the first position still in the log.
func (r *Relayer) load() error {
	e := r.config.Engine
	found := false
	for _, key := range []string{cursorKey, nextKey} {
		err := e.ScanRows([]byte(key), func(k, value []byte) error {
			if string(k) != key {
				return nil
			}
			if len(value) != 8 {
				return fmt.Errorf("relay: corrupt row %q", k)
			}
			if key == cursorKey {
				r.cursor, found = binary.BigEndian.Uint64(value), true
			} else {
				r.next = binary.BigEndian.Uint64(value)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("relay: load: %w", err)
		}
	}
	err := e.ScanRows([]byte(carryPrefix), func(key, value []byte) error {
		p, net, err := decodeCarry(key, value)
		if err != nil {
			return err
		}
		r.netting.Restore(p, net)
		if !net.IsZero() {
			r.since[p] = r.config.Now()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("relay: load: %w", err)
	}
	var open []uint64
	err = e.ScanRows([]byte(openPrefix), func(key, _ []byte) error {
		var seq uint64
		if _, err := fmt.Sscanf(strings.TrimPrefix(string(key), openPrefix), "%016x", &seq); err != nil {
			return fmt.Errorf("relay: corrupt row %q", key)
		}
		open = append(open, seq)
		return nil
	})
	if err != nil {
		return fmt.Errorf("relay: load: %w", err)
	}
	for _, seq := range open {
		s, err := loadSettlement(e, seq)
		if err != nil {
			return err
		}
		r.open[seq] = s
	}
	if !found {
		r.cursor = e.FirstPosition() - 1
		if _, err := e.WriteRows(context.Background(), uint64Row(cursorKey, r.cursor), engine.RetainRow(RetentionName, r.cursor)); err != nil {
			return fmt.Errorf("relay: register: %w", err)
		}
	}
	return nil
}

func loadSettlement(e *engine.Engine, seq uint64) (*Settlement, error) {
	var s *Settlement
	err := e.ScanRows(batchKey(seq), func(key, value []byte) error {
		if string(key) != string(batchKey(seq)) {
			return nil
		}
		var err error
		s, err = decodeSettlement(value)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: settlement %d", engine.ErrNotFound, seq)
	}
	return s, nil
}

// Stats is the relayer's progress, for metrics.
type Stats struct {
	Folded, Cursor   uint64 // the last log position folded, and persisted
	Committed        uint64 // the engine's durable position when the stats were taken
	Pairs            int    // pairs tracked (owing, or persisted and not yet forgotten)
	InFlight         int    // batches not yet CONFIRMED or FAILED
	Cut              uint64 // batches cut since the process started
	Entries          uint64 // their entries
	Confirmed        uint64
	Failed           uint64
	Replaced         uint64        // transactions replaced with a higher fee
	GasUsed          uint64        // by the confirmed batches
	LastBatchEntries int           // the latest batch cut
	LastLag          time.Duration // its oldest debit's commit to its confirmation, for the latest confirmed
	Failure          string        // why the relayer stopped, if it did
}

// statsCounters are the actor's running counts.
type statsCounters struct {
	mu sync.Mutex
	s  Stats
}

func (c *statsCounters) cut(entries int) {
	c.mu.Lock()
	c.s.Cut++
	c.s.Entries += uint64(entries)
	c.s.LastBatchEntries = entries
	c.mu.Unlock()
}

func (c *statsCounters) failed() {
	c.mu.Lock()
	c.s.Failed++
	c.mu.Unlock()
}

func (c *statsCounters) replaced() {
	c.mu.Lock()
	c.s.Replaced++
	c.mu.Unlock()
}

func (c *statsCounters) confirmed(s *Settlement) {
	c.mu.Lock()
	c.s.Confirmed++
	c.s.GasUsed += s.GasUsed
	if !s.Oldest.IsZero() {
		c.s.LastLag = s.ConfirmedAt.Sub(s.Oldest)
	}
	c.mu.Unlock()
}

// publishStats snapshots the actor's state for Stats (called by the actor).
func (r *Relayer) publishStats() {
	r.stats.mu.Lock()
	s := r.stats.s
	r.stats.mu.Unlock()
	s.Folded, s.Cursor, s.Pairs, s.InFlight = r.folded, r.cursor, r.netting.Len(), len(r.open)
	s.Committed = r.config.Engine.Position()
	if r.failure != nil {
		s.Failure = r.failure.Error()
	}
	r.statsSnap.Store(&s)
}

// Stats returns the relayer's progress as of its latest round.
func (r *Relayer) Stats() Stats {
	if s := r.statsSnap.Load(); s != nil {
		return *s
	}
	return Stats{}
}
