package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// Retention: named log positions that snapshots do not truncate past.
//
// A consumer that folds the log at its own pace (the usage projection; later
// the chain relayer and webhooks) persists its progress in the table and
// writes, in the same WriteRows, RetainRow(its name, the last position it
// folded in). The engine tracks every such row (loaded at Open, updated
// when a WriteRows carrying one returns) and the checkpointer truncates only
// the records below min(snapshot position + 1, every retention + 1), so the
// consumer can always resume with Subscribe(position + 1), after a snapshot
// or a crash. ReleaseRow(name) drops a retention.
//
// NB: a retention only moves forward in practice (its consumer writes its
// own progress), so the tracked value lagging the table (a WriteRows that
// gave up on its context yet became durable) keeps more, never less. A new
// name must be registered at or after FirstPosition() - 1, and a snapshot
// running while it commits may already have chosen its truncation point:
// the consumer learns so from Subscribe's ErrTruncated.
const (
	// RetainPrefix leads the table keys of retentions; WriteRows checks
	// every row under it.
	RetainPrefix = "engine/retain/"
	// RetainNameBytesMax bounds a retention's name.
	RetainNameBytesMax = 64
	retainValueBytes   = 8
)

// RetainRow returns the table row that keeps the log records after position
// for the consumer name. Write it in the same WriteRows as the consumer's
// own progress, so the two never disagree.
func RetainRow(name string, position uint64) Row {
	return Row{Key: []byte(RetainPrefix + name), Value: binary.BigEndian.AppendUint64(nil, position)}
}

// ReleaseRow returns the table row that drops the retention of name.
func ReleaseRow(name string) Row { return Row{Key: []byte(RetainPrefix + name)} }

// FirstPosition returns the first log position still present: Subscribe
// accepts any position from it on.
func (e *Engine) FirstPosition() uint64 { return e.log.First() }

// Retained returns each retention's position, as the checkpointer sees it.
func (e *Engine) Retained() map[string]uint64 {
	e.retention.mu.Lock()
	defer e.retention.mu.Unlock()
	positions := make(map[string]uint64, len(e.retention.positions))
	for name, position := range e.retention.positions {
		positions[name] = position
	}
	return positions
}

// retention tracks the committed retention rows.
type retention struct {
	mu        sync.Mutex
	positions map[string]uint64
}

// checkRetainRow validates a row under RetainPrefix: a name and an 8-byte
// position, or a release.
func checkRetainRow(row Row) error {
	name := row.Key[len(RetainPrefix):]
	if len(name) == 0 || len(name) > RetainNameBytesMax {
		return fmt.Errorf("%w: retention name of %d bytes, want 1-%d", ErrInvalid, len(name), RetainNameBytesMax)
	}
	if row.Value != nil && len(row.Value) != retainValueBytes {
		return fmt.Errorf("%w: retention %q value of %d bytes, want %d", ErrInvalid, name, len(row.Value), retainValueBytes)
	}
	return nil
}

func isRetainRow(key []byte) bool { return bytes.HasPrefix(key, []byte(RetainPrefix)) }

// load reads the durable retentions; at Open, before the checkpointer starts.
func (r *retention) load(e *Engine) error {
	r.positions = make(map[string]uint64)
	err := e.log.ScanTable([]byte(RetainPrefix), func(key, value []byte) error {
		if len(value) != retainValueBytes {
			return fmt.Errorf("retention %q: value of %d bytes", key, len(value))
		}
		r.positions[string(key[len(RetainPrefix):])] = binary.BigEndian.Uint64(value)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load retentions: %w", err)
	}
	return nil
}

// apply records the retention rows of a WriteRows that returned durable.
func (r *retention) apply(rows []Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range rows {
		if !isRetainRow(row.Key) {
			continue
		}
		name := string(row.Key[len(RetainPrefix):])
		if row.Value == nil {
			delete(r.positions, name)
		} else {
			r.positions[name] = binary.BigEndian.Uint64(row.Value)
		}
	}
}

// keepFrom returns the first position a snapshot must keep: one past the
// lowest retention, math.MaxUint64 if there is none (the snapshot's own
// position bounds truncation then).
func (r *retention) keepFrom() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := uint64(math.MaxUint64)
	for _, position := range r.positions {
		keep = min(keep, position+1)
	}
	return keep
}
