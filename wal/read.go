package wal

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// readView is a Pebble snapshot through which ScanTable reads the table.
// The committer takes one right after it committed a group with table
// puts, and the syncer makes it current once it reports that group.
//
// NB: Pebble makes a batch visible to readers before its WAL fsync returns
// (and leaves it visible if the fsync fails), so reading the live DB could
// show an index value that is not durable. A snapshot taken right after the
// commit, before the committer's next write, shows exactly the groups up to
// this one, because the committer is the only writer.
type readView struct {
	snapshot *pebble.Snapshot
	// references counts the log's own reference (while the view is current)
	// plus one per reader; the snapshot closes when it drops to zero.
	references atomic.Int64
}

func newReadView(db *pebble.DB) *readView {
	view := &readView{snapshot: db.NewSnapshot()}
	view.references.Store(1)
	return view
}

func (v *readView) release() {
	if references := v.references.Add(-1); references == 0 {
		_ = v.snapshot.Close()
	} else if references < 0 {
		panic("wal: read view released too often")
	}
}

// acquireView returns the current view with a reference the caller must
// release. A view whose count reached zero is closed and never revived, so
// seeing zero means the committer has already replaced it: load again.
func (l *Log) acquireView() *readView {
	for {
		view := l.view.Load()
		references := view.references.Load()
		if references > 0 && view.references.CompareAndSwap(references, references+1) {
			return view
		}
	}
}

// refreshView makes a new view current.
//
// REQUIRES: called on the committer goroutine, after a synced commit, with
// the pipeline drained (nothing applied that is not durable).
func (l *Log) refreshView() {
	l.view.Swap(newReadView(l.db)).release()
}

// enter counts a reader in, or says why it may not read: a closed log, or a
// failed one (whose store may show writes that never became durable; a
// restart recovers what did).
func (l *Log) enter() error {
	l.readers.Add(1)
	if l.closing.Load() {
		l.readers.Add(-1)
		return ErrClosed
	}
	if err := l.Err(); err != nil {
		l.readers.Add(-1)
		return err
	}
	return nil
}

func (l *Log) leave() { l.readers.Add(-1) }

// Durable returns the last fsynced position, 0 if none.
func (l *Log) Durable() uint64 { return l.durable.Load() }

// First returns the first position still in the log: the current snapshot's
// position plus one, or less while a retention keeps records behind it
// (WriteSnapshotRetaining).
func (l *Log) First() uint64 { return l.truncated.Load() + 1 }

// Notify returns a channel closed the next time Durable advances, or when
// the log fails or closes (then it stays closed: check Err).
//
// NB: take the channel before reading, or an advance between the read and
// the call is missed until the next one:
//
//	for {
//		changed := l.Notify()
//		... read up to l.Durable() ...
//		<-changed
//	}
func (l *Log) Notify() <-chan struct{} {
	l.notifyMutex.Lock()
	defer l.notifyMutex.Unlock()
	return l.notifyChannel
}

// advanceNotify wakes the subscribers of an advance of durable.
func (l *Log) advanceNotify() {
	l.notifyMutex.Lock()
	if l.notifyFinal {
		l.notifyMutex.Unlock()
		return
	}
	advanced := l.notifyChannel
	l.notifyChannel = make(chan struct{})
	l.notifyMutex.Unlock()
	close(advanced)
}

// finishNotify closes the notify channel for good.
func (l *Log) finishNotify() {
	l.notifyMutex.Lock()
	defer l.notifyMutex.Unlock()
	if !l.notifyFinal {
		l.notifyFinal = true
		close(l.notifyChannel)
	}
}

// Get returns a copy of the durable value of index key; ErrNotFound if it
// has none.
//
// NB: Get and ScanIndex read the index DB live, not through a snapshot like
// ScanTable: the committer applies a group's index puts to it only after the
// group's record batch is committed with its fsync (writeIndex), and a group
// whose fsync succeeded is durable and reported so, whatever fails later.
// So the live index DB shows durable groups only, at most a moment before
// OnDurable reports them (and before Durable() says so); never a value
// whose fsync is unconfirmed or failed. A failed log refuses reads anyway.
func (l *Log) Get(key []byte) ([]byte, error) {
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	indexKey := make([]byte, 1+len(key))
	indexKey[0] = prefixIndex
	copy(indexKey[1:], key)
	stored, closer, err := l.index.Get(indexKey)
	if isNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("wal: get: %w", err)
	}
	defer closer.Close()
	_, value, err := decodeIndexValue(stored)
	if err != nil {
		return nil, fmt.Errorf("wal: get %q: %w", key, err)
	}
	return bytes.Clone(value), nil
}

// Read calls fn for each durable record at a position >= from, in order, up
// to Durable() at the call; record is valid only during fn. An error of fn
// stops the read and is returned. ErrTruncated if from is below First():
// those records are gone. Records behind the snapshot that a retention kept
// read like any other.
//
// NB: Read sees a truncation as soon as WriteSnapshot has committed it, a
// moment before WriteSnapshot returns.
func (l *Log) Read(from uint64, fn func(position uint64, record []byte) error) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	from = max(from, 1)
	if from <= l.truncated.Load() {
		return ErrTruncated
	}
	durable := l.durable.Load()
	if from > durable {
		return nil
	}
	iterator, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: recordKey(from),
		UpperBound: recordKey(durable + 1),
	})
	if err != nil {
		return fmt.Errorf("wal: read: %w", err)
	}
	next, err := readRecords(iterator, from, fn)
	err = errors.Join(err, iterator.Close())
	switch {
	case err != nil:
		return err
	case next == from:
		return ErrTruncated // truncated since the check above
	case next != durable+1:
		return fmt.Errorf("%w: records end at %d, durable is %d", errCorrupt, next-1, durable)
	}
	return nil
}

// readRecords calls fn for the records of iterator, which must start at
// position from and be dense, and returns the position after the last one.
func readRecords(iterator *pebble.Iterator, from uint64,
	fn func(position uint64, record []byte) error) (next uint64, err error) {
	next = from
	for valid := iterator.First(); valid; valid = iterator.Next() {
		position, err := positionOf(iterator.Key())
		if err != nil {
			return next, err
		}
		if position != next {
			if next == from {
				return from, nil // the records from `from` were truncated
			}
			return next, fmt.Errorf("%w: record %d follows %d", errCorrupt, position, next-1)
		}
		record, err := iterator.ValueAndErr()
		if err != nil {
			return next, err
		}
		if err := fn(position, record); err != nil {
			return next, err
		}
		next++
	}
	return next, iterator.Error()
}

// ScanIndex calls fn with every durable index key, in key order; key is
// valid only during fn. An error of fn stops the scan and is returned. It
// reads the index DB live, as Get does (see Get).
func (l *Log) ScanIndex(fn func(key []byte) error) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	iterator, err := l.index.NewIter(&pebble.IterOptions{LowerBound: indexStart, UpperBound: indexEnd})
	if err != nil {
		return fmt.Errorf("wal: scan index: %w", err)
	}
	for valid := iterator.First(); valid; valid = iterator.Next() {
		if err := fn(iterator.Key()[1:]); err != nil {
			return errors.Join(err, iterator.Close())
		}
	}
	return errors.Join(iterator.Error(), iterator.Close())
}

// ScanTable calls fn with every durable table row whose key starts with
// prefix, in key order; key and value are valid only during fn. An error of
// fn stops the scan and is returned.
func (l *Log) ScanTable(prefix []byte, fn func(key, value []byte) error) error {
	return l.ScanTableFrom(prefix, nil, fn)
}

// ScanTableFrom is ScanTable from the first key at or after start (which
// starts with prefix, or is nil for all of them): a page of a long range.
func (l *Log) ScanTableFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	view := l.acquireView()
	defer view.release()
	lower := append([]byte{prefixTable}, prefix...)
	upper := prefixEnd(lower)
	if bytes.HasPrefix(start, prefix) {
		lower = append([]byte{prefixTable}, start...)
	}
	iterator, err := view.snapshot.NewIter(&pebble.IterOptions{
		LowerBound: lower,
		UpperBound: upper,
	})
	if err != nil {
		return fmt.Errorf("wal: scan table: %w", err)
	}
	for valid := iterator.First(); valid; valid = iterator.Next() {
		value, err := iterator.ValueAndErr()
		if err == nil {
			err = fn(iterator.Key()[1:], value)
		}
		if err != nil {
			return errors.Join(err, iterator.Close())
		}
	}
	return errors.Join(iterator.Error(), iterator.Close())
}

// prefixEnd returns the smallest key greater than every key starting with
// prefix. REQUIRES: prefix[0] < 0xff, true of every key space prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	panic("wal: prefix of only 0xff bytes")
}
