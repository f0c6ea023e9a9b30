package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tollway/tollway/wal"
)

// Limits of table writes.
const (
	// RowKeyBytesMax bounds a row's key.
	RowKeyBytesMax = 256
	// RowsBytesMax bounds the keys and values of one WriteRows call, so a
	// write stays well inside one log entry.
	RowsBytesMax = 256 << 10
)

// rowsRecordTag leads the log record of a table write. Ledger records lead
// with their codec's version byte, which is never this, so replay and
// subscriptions tell the two apart by the first byte.
const rowsRecordTag = 0xA5

// Row is one key and value of the engine's table: a small durable store,
// written through the same log and group commit as the ledger, for state
// that lives beside it (users, API keys, tokens). A nil Value deletes Key.
//
// NB: rows are the latest value of each key. Their log records are an audit
// trail that a snapshot truncates; the table itself is never truncated.
// Rows under RetainPrefix are the engine's (see RetainRow).
type Row struct{ Key, Value []byte }

// rowsWrite is the log token of one WriteRows call.
type rowsWrite struct {
	entry wal.Entry
	err   error
	done  chan struct{}
}

// WriteRows writes rows atomically and returns once they are durable, with
// the log position of their record. Rows written by calls that return in
// order are applied in that order.
func (e *Engine) WriteRows(ctx context.Context, rows ...Row) (uint64, error) {
	if len(rows) == 0 {
		return 0, fmt.Errorf("%w: no rows", ErrInvalid)
	}
	size := 0
	for _, row := range rows {
		if len(row.Key) == 0 || len(row.Key) > RowKeyBytesMax {
			return 0, fmt.Errorf("%w: row key of %d bytes, want 1-%d", ErrInvalid, len(row.Key), RowKeyBytesMax)
		}
		if isRetainRow(row.Key) {
			if err := checkRetainRow(row); err != nil {
				return 0, err
			}
		}
		size += len(row.Key) + len(row.Value)
	}
	if size > RowsBytesMax {
		return 0, fmt.Errorf("%w: rows of %d bytes exceed %d", ErrInvalid, size, RowsBytesMax)
	}
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return 0, err
	}
	defer e.leaveWith(weight)
	w := &rowsWrite{done: make(chan struct{})}
	w.entry.Record = appendRowsRecord(make([]byte, 0, 1+size+4*len(rows)), rows)
	w.entry.Table = make([]wal.Put, len(rows))
	for i, row := range rows {
		w.entry.Table[i] = wal.Put{Key: append([]byte(nil), row.Key...)}
		if row.Value != nil {
			w.entry.Table[i].Value = append([]byte{}, row.Value...)
		}
	}
	w.entry.Token = w
	e.log.Append(&w.entry)
	select {
	case <-w.done:
	case <-ctx.Done():
		// NB: the write goes on; like any write answered with an error, it
		// may or may not become durable.
		return 0, ctx.Err()
	}
	if w.err != nil {
		return 0, w.err
	}
	e.retention.apply(rows)
	return w.entry.Position, nil
}

// ScanRows calls fn with every durable row whose key starts with prefix, in
// key order. key and value are valid only during fn. An error fn returns
// ends the scan and is returned as it is.
func (e *Engine) ScanRows(prefix []byte, fn func(key, value []byte) error) error {
	return e.ScanRowsFrom(prefix, nil, fn)
}

// ScanRowsFrom is ScanRows from the first key at or after start (which
// starts with prefix; otherwise the whole prefix is scanned): a page of a
// long range, or a seek.
func (e *Engine) ScanRowsFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	var fnErr error
	err := e.log.ScanTableFrom(prefix, start, func(key, value []byte) error {
		fnErr = fn(key, value)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("%w: scan rows: %v", ErrUnavailable, err)
	}
}

// appendRowsRecord encodes rows as the audit record of their write: the tag,
// then per row the key's length and bytes, then the value's length plus one
// (zero for a delete) and bytes.
func appendRowsRecord(buf []byte, rows []Row) []byte {
	buf = append(buf, rowsRecordTag)
	for _, row := range rows {
		buf = binary.AppendUvarint(buf, uint64(len(row.Key)))
		buf = append(buf, row.Key...)
		if row.Value == nil {
			buf = binary.AppendUvarint(buf, 0)
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(len(row.Value))+1)
		buf = append(buf, row.Value...)
	}
	return buf
}

// errCorruptRowsRecord: a table write's log record that appendRowsRecord
// did not write.
var errCorruptRowsRecord = errors.New("corrupt table write record")

// decodeRowsRecord returns the rows of a table write's record whose keys
// start with one of prefixes, copied (record may be the log's buffer, and
// the rows outlive it); nil if none does. A delete has a nil Value.
func decodeRowsRecord(record []byte, prefixes [][]byte) ([]Row, error) {
	if !isRowsRecord(record) {
		return nil, errCorruptRowsRecord
	}
	var rows []Row
	for rest := record[1:]; len(rest) > 0; {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size == 0 || size > uint64(len(rest)-n) {
			return nil, errCorruptRowsRecord
		}
		key := rest[n : n+int(size)]
		rest = rest[n+int(size):]
		size, n = binary.Uvarint(rest)
		if n <= 0 || (size > 0 && size-1 > uint64(len(rest)-n)) {
			return nil, errCorruptRowsRecord
		}
		var value []byte
		if size > 0 {
			value = rest[n : n+int(size-1)]
			rest = rest[n+int(size-1):]
		} else {
			rest = rest[n:]
		}
		if !hasAnyPrefix(key, prefixes) {
			continue
		}
		row := Row{Key: bytes.Clone(key)}
		if size > 0 {
			row.Value = append([]byte{}, value...) // not nil when empty: a value, not a delete
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func hasAnyPrefix(key []byte, prefixes [][]byte) bool {
	for _, prefix := range prefixes {
		if bytes.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

// isRowsRecord reports whether a log record is a table write's.
func isRowsRecord(record []byte) bool { return len(record) > 0 && record[0] == rowsRecordTag }
