package wal

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// pipelineDepth is how many group commits may be in the pipeline at once:
// committed by the committer and not yet reported by the syncer, counting
// the one the committer is filling. Two overlap the report of one group
// (OnDurable: the engine's replies) with the commit of the next.
//
// NB: the committer commits each group with its fsync before writing the
// next (Batch.Commit with pebble.Sync), so Pebble never receives a write
// while an fsync is unconfirmed. After a failed WAL write or fsync, a later
// write makes Pebble panic with its mutexes held (a WAL rotation closes the
// failed writer; a full block is written to it), which no recover undoes.
const pipelineDepth = 2

// The bounds of the group-commit histograms (commitHistograms).
const (
	// commitDurationBoundFirst is the first bound of the commit latency
	// histogram; its commitDurationBounds bounds double up to 5.24 s, which
	// spans an fsync from a fast NVMe drive to a stalled disk.
	commitDurationBoundFirst = 10 * time.Microsecond
	commitDurationBounds     = 20
	// commitRecordsBounds is the number of bounds of the batch size
	// histogram: 1, 2, 4, ..., 1<<16 = batchEntriesLimit, so no group
	// overflows the last bound.
	commitRecordsBounds = 17
)

// commitHistograms measure the group commits, to watch the disk and tune
// BatchEntriesMax: how long each one's commit took, fsync included, and
// how many records it wrote. The committer records each group once its
// commit succeeded, before the syncer reports it, so a group is in the
// histograms by the time OnDurable is called for it. A group of barriers
// only is not measured: it writes nothing and has no fsync.
type commitHistograms struct {
	duration *histogram // nanoseconds
	records  *histogram
}

func newCommitHistograms() commitHistograms {
	return commitHistograms{
		duration: newHistogram(uint64(commitDurationBoundFirst), 2, commitDurationBounds),
		records:  newHistogram(1, 2, commitRecordsBounds),
	}
}

// CommitHistograms are snapshots of the log's histograms of group commits
// since Open. Only groups that wrote records are counted (a group of
// barriers only has no commit); each was one Pebble batch and one fsync.
type CommitHistograms struct {
	// DurationSeconds is the time from the start of a group's Pebble commit
	// to its fsync confirmed. Encoding the group is not included, nor the
	// wait to report it.
	DurationSeconds HistogramSnapshot
	// Records is the records (entries that are not barriers) per group.
	Records HistogramSnapshot
}

// CommitHistograms returns snapshots of the group-commit histograms. It
// takes no lock and may be called at any time, also after Close.
func (l *Log) CommitHistograms() CommitHistograms {
	return CommitHistograms{
		DurationSeconds: l.commitHistograms.duration.snapshot(float64(time.Second)),
		Records:         l.commitHistograms.records.snapshot(1),
	}
}

// flight is one group commit on its way through the pipeline: encoded and
// committed (fsync included) by the committer, then reported by the syncer. The
// pipelineDepth flights are made by Open and cycle between the committer
// (through Log.free) and the syncer (through Log.applied, in position
// order), so that a Pebble batch is reused only after its report and
// steady state allocates nothing.
type flight struct {
	batch   *pebble.Batch // nil after Pebble failed it: it may not be reused
	entries []*Entry      // the group, in log order
	first   uint64        // position of the first record (of the next one, for barriers only)
	records int           // entries that are records; 0 for barriers only or a refused group
	synced  bool          // batch was committed with its fsync: reset it for reuse
	// view is a read view taken right after the apply, before any later
	// write, when the group has index puts: it becomes current once the
	// group is durable.
	view *readView
	// err is a failure that reached the group before the syncer: the log had
	// failed already, or the apply failed.
	err error
}

func (f *flight) reset() {
	clear(f.entries)
	f.entries = f.entries[:0]
	f.first, f.records, f.synced, f.view, f.err = 0, 0, false, nil, nil
}

// run is the committer goroutine: it takes groups from the queue, encodes
// each into a Pebble batch and commits it, waiting for its fsync, then hands
// it to the syncer to report, until the queue is closed and drained. It
// owns every Pebble write; a WriteSnapshot batch is committed between
// groups, once the groups before it are reported.
func (l *Log) run() {
	defer close(l.stopped)
	defer func() {
		close(l.applied)
		<-l.syncerStopped
	}()
	for {
		// Hold a slot before taking, so that the group takes everything that
		// arrived while the pipeline was full.
		l.hold()
		taken, request, closed := l.queue.take(l.taken[:0], l.options.BatchEntriesMax)
		if request != nil {
			l.write(request)
		}
		for entries := taken; len(entries) > 0; {
			committed := l.commit(entries)
			entries = entries[committed:]
		}
		clear(taken)
		if closed && len(taken) == 0 && request == nil {
			return
		}
	}
}

// hold returns the flight the committer fills next, waiting while every
// flight is in the pipeline.
func (l *Log) hold() *flight {
	if l.held == nil {
		l.held = <-l.free
	}
	return l.held
}

// dispatch hands the held flight to the syncer. It never blocks: l.applied
// has room for every flight.
func (l *Log) dispatch() {
	l.applied <- l.held
	l.held = nil
}

// drain waits until the syncer has reported every flight in the pipeline.
func (l *Log) drain() {
	var flights [pipelineDepth]*flight
	start := 0
	if l.held != nil {
		start = 1
	}
	for i := start; i < pipelineDepth; i++ {
		flights[i] = <-l.free
	}
	for i := start; i < pipelineDepth; i++ {
		l.free <- flights[i]
	}
}

// commit encodes a prefix of entries (bounded by batchBytesMax) into one
// Pebble batch, commits it with pebble.Sync, waiting for the fsync, hands
// it to the syncer and returns the prefix's length. A group of
// barriers only, and a group refused because the log failed, go to the
// syncer too: it reports every group in order.
func (l *Log) commit(entries []*Entry) int {
	f := l.hold()
	if err := l.Err(); err != nil {
		f.entries = append(f.entries, entries...)
		f.err = err
		l.dispatch()
		return len(entries)
	}
	if f.batch == nil {
		f.batch = l.newBatch()
	}
	count, records, tabled := encode(f.batch, entries, l.next)
	f.entries = append(f.entries, entries[:count]...)
	f.first, f.records = l.next, records
	if records == 0 {
		l.dispatch()
		return count
	}
	// NB: Commit waits for the fsync, so no group is ever written while
	// another's fsync is unconfirmed. Writing the next group early
	// (ApplyNoSyncWait) overlapped more, but a group written after a failed
	// fsync makes Pebble panic with its mutexes held if it needs a WAL
	// rotation (rotateWAL: the old writer's Close returns the sticky error),
	// which no recover undoes: the process would crash instead of failing
	// closed. The pipeline still overlaps OnDurable with the next commit.
	// So the fsync is confirmed when commitSynced returns: that is the end
	// of the commit's latency, not the syncer's report.
	started := time.Now()
	if err := commitSynced(f.batch); err != nil {
		l.fail(err)
		f.batch = nil // Pebble may still hold a failed batch: never reuse it
		f.err = l.Err()
		l.dispatch()
		return count
	}
	l.commitHistograms.duration.observe(uint64(time.Since(started)))
	l.commitHistograms.records.observe(uint64(records))
	f.synced = true
	l.next += uint64(records)
	if tabled {
		// The committer is the only writer, so this view shows exactly the
		// groups up to this one.
		f.view = newReadView(l.db)
	}
	l.writeIndex(entries[:count], f.first)
	l.dispatch()
	return count
}

// writeIndex applies the index puts of a group, whose records start at
// first and are committed with their fsync, to the index DB, with the
// marker of its last record (index.go). It is never called before that
// fsync returned: the index DB is read live (Get), and an index entry of a
// record that is not durable would answer a retry with an operation that
// may never have happened. A failure fails the log closed; the group
// itself stays durable (its fsync succeeded) and is reported so.
func (l *Log) writeIndex(entries []*Entry, first uint64) {
	if l.options.afterRecordCommit != nil {
		l.options.afterRecordCommit(l)
	}
	if l.Err() != nil {
		// The index DB may have failed (and may stall its writes): the
		// group is durable, and the next Open derives its index puts.
		return
	}
	if !encodeIndex(l.indexBatch, entries, first) {
		return
	}
	err := applyIndex(l.indexBatch)
	l.indexBatch.Reset()
	if err != nil {
		l.fail(err)
		return
	}
	if l.options.afterIndexApply != nil {
		l.options.afterIndexApply(l)
	}
}

// syncLoop is the syncer goroutine: it receives the flights in position
// order, each already committed and synced by the committer, and reports
// them (OnDurable), until the committer closes l.applied. It waits for no
// fsync: the name is older than the committer's synced commits.
func (l *Log) syncLoop() {
	defer close(l.syncerStopped)
	for f := range l.applied {
		l.report(f)
		f.reset()
		l.free <- f
	}
}

// report reports flight f's group through OnDurable, in position order. A
// group is durable if its own commit (fsync included) succeeded; a failure
// fails the group it happened to, every group behind it (none of which is
// written), and barrier-only groups that would vouch for it.
func (l *Log) report(f *flight) {
	err := f.err
	if f.synced {
		f.batch.Reset()
	}
	if err == nil && !f.synced {
		// A barrier-only group vouches for the groups before it: it fails
		// with them. A group whose own commit succeeded is durable, whatever
		// failed after it.
		err = l.Err()
	}
	if err != nil {
		if f.view != nil {
			f.view.release()
		}
		written := f.first
		if f.records == 0 {
			written = 0 // nothing of it reached Pebble
		}
		clearPositions(f.entries)
		l.options.OnDurable(f.entries, written, err)
		return
	}
	if f.records > 0 {
		if durable := l.durable.Load(); f.first != durable+1 {
			panic(fmt.Sprintf("wal: group at %d reported after durable %d", f.first, durable))
		}
		if f.view != nil {
			l.view.Swap(f.view).release()
		}
		setPositions(f.entries, f.first)
		l.durable.Store(f.first + uint64(f.records) - 1)
		l.advanceNotify()
	} else {
		clearPositions(f.entries)
	}
	l.options.OnDurable(f.entries, f.first, nil)
}

// encode writes a prefix of entries into batch, records at positions next,
// next+1, ... (barriers take none), and returns the prefix's length, how
// many records it has and whether any entry had table puts. The prefix ends
// at the first entry that finds the prefix at batchBytesMax bytes or more,
// so it is never empty. The index puts are not written here (writeIndex):
// only counted, so that the group's size bounds them too.
//
// Records go first, then the table puts: Pebble's memtable inserter reuses
// the position of its previous insert, so the sequential record keys insert
// cheaply only if other keys do not come between them. The table puts keep
// their entry order, so a later put to a key still wins.
//
// NB: keys and values are encoded in place in the batch (SetDeferred), so
// encoding allocates nothing.
func encode(batch *pebble.Batch, entries []*Entry, next uint64) (count, records int, tabled bool) {
	position := next
	for size := 0; count < len(entries) && (count == 0 || size < batchBytesMax); count++ {
		entry := entries[count]
		if entry.isBarrier() {
			continue
		}
		operation := batch.SetDeferred(recordKeyBytes, len(entry.Record))
		putRecordKey(operation.Key, position)
		copy(operation.Value, entry.Record)
		if err := operation.Finish(); err != nil {
			panic(err) // only an indexed batch can fail here, and ours is not
		}
		position++
		records++
		size += len(entry.Record)
		for _, put := range entry.Index {
			size += len(put.Key) + len(put.Value)
		}
		for _, put := range entry.Table {
			size += len(put.Key) + len(put.Value)
		}
	}
	for _, entry := range entries[:count] {
		for _, put := range entry.Table {
			encodePut(batch, prefixTable, put)
			tabled = true
		}
	}
	return count, records, tabled
}

// setPositions gives the records of a durable group their positions, from
// first on.
func setPositions(group []*Entry, first uint64) {
	position := first
	for _, entry := range group {
		if entry.isBarrier() {
			entry.Position = 0
			continue
		}
		entry.Position = position
		position++
	}
}

func clearPositions(group []*Entry) {
	for _, entry := range group {
		entry.Position = 0
	}
}

func encodePut(batch *pebble.Batch, prefix byte, put Put) {
	if put.Value == nil {
		operation := batch.DeleteDeferred(1 + len(put.Key))
		operation.Key[0] = prefix
		copy(operation.Key[1:], put.Key)
		if err := operation.Finish(); err != nil {
			panic(err)
		}
		return
	}
	operation := batch.SetDeferred(1+len(put.Key), len(put.Value))
	operation.Key[0] = prefix
	copy(operation.Key[1:], put.Key)
	copy(operation.Value, put.Value)
	if err := operation.Finish(); err != nil {
		panic(err)
	}
}

// write commits a batch of WriteSnapshot with an fsync, once every group
// before it is reported: it is then ordered after them on disk, and a
// failure among them is known before Pebble is asked to write again.
func (l *Log) write(request *writeRequest) {
	l.drain()
	if err := l.Err(); err != nil {
		request.done <- err
		return
	}
	if request.flushIndex {
		// The batch deletes records: the index puts of every record up to
		// them (all applied: the pipeline is drained) must be durable
		// first, or a crash would lose them with the records to derive them
		// from.
		if err := l.flushIndex(); err != nil {
			l.fail(err)
			request.done <- l.Err()
			return
		}
		if l.options.afterIndexFlush != nil {
			l.options.afterIndexFlush(l)
		}
	}
	if err := commitSynced(request.batch); err != nil {
		l.fail(err)
		request.done <- l.Err()
		return
	}
	if request.refreshView {
		l.refreshView()
	}
	request.done <- nil
}
