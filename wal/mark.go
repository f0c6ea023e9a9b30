package wal

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The high-water mark: the last durable position, kept in a small file of
// its own beside Pebble's, so that Open can tell a log that lost its tail
// from one that simply ended there.
//
// Why: Pebble replays its newest WAL file up to the first chunk it cannot
// read and treats that as the end of the log ("tolerant of torn writes";
// open.go, replayWAL with strictWALTail=false). A torn last write after a
// crash is exactly that, and harmless: it was never acknowledged. But bytes
// flipped near the end of the newest WAL of a stopped server look the same,
// and there everything after them was acknowledged: without the mark, those
// records vanish silently and a client's retry applies them again as new.
// Pebble has no option to make the newest WAL's tail strict.
//
// Cost: the mark is written behind the commits, by its own goroutine, at most
// once per markInterval and only if Durable moved (a temporary file written
// and fsynced, renamed, the directory fsynced), never inside a group commit;
// Close writes it once more after the last group is reported.
//
// What it catches: after a clean Close the mark is the exact last position,
// so losing any acknowledged record is caught. After a crash the mark lags
// by up to markInterval of commits: a loss of records at or below it is
// caught, a loss of only the records after it is not (those look like a
// crash a little earlier). What it cannot catch: a loss of records in the
// middle of the log when later ones survive (Pebble reports that itself, as
// corruption of an older WAL or of a table), a mark file deleted with the
// loss, or the whole directory restored from an older copy that includes an
// older mark.
const (
	// markFile holds the mark; markTemporaryFile is its next version until
	// the rename. Pebble ignores both names (base.ParseFilename).
	markFile          = "HIGH-WATER-MARK"
	markTemporaryFile = "HIGH-WATER-MARK.tmp"
	// markInterval bounds how often the mark is written while appends go on:
	// two fsyncs a second is noise beside the group commits, and a crash
	// leaves the mark at most this far behind.
	markInterval = 500 * time.Millisecond
	// markVersion leads the file's one line: "tollway-wal-mark 1 <position>
	// <crc32c of the text before it, hex>".
	markMagic   = "tollway-wal-mark"
	markVersion = 1
	// markFileBytesMax bounds what Open reads of a mark file.
	markFileBytesMax = 256
)

// ErrLogLoss marks the error of Open when the log ends before its mark:
// records once acknowledged durable are gone. errors.As gives *LogLossError.
var ErrLogLoss = errors.New("wal: acknowledged records are missing")

// LogLossError is Open's refusal to open a log that lost acknowledged
// records: the log ends at Recovered, but Marked was durable before.
type LogLossError struct {
	Dir       string
	Marked    uint64 // the mark: the last position known durable before
	Recovered uint64 // the last position found now
	// MarkedIn says where the mark was found: the mark file, or (when its
	// mark lagged) the index's marker, which is set only after an fsync.
	MarkedIn string
}

func (e *LogLossError) Error() string {
	return fmt.Sprintf("wal: the log in %s ends at position %d but position %d was acknowledged durable "+
		"(recorded in %s): positions %d-%d are lost, probably to a corrupted or truncated Pebble WAL (*.log); "+
		"refusing to open. Restore the directory from a backup, or open with AllowLogLoss to accept the loss",
		e.Dir, e.Recovered, e.Marked, e.MarkedIn, e.Recovered+1, e.Marked)
}

// Is makes errors.Is(err, ErrLogLoss) hold.
func (e *LogLossError) Is(target error) bool { return target == ErrLogLoss }

var markTable = crc32.MakeTable(crc32.Castagnoli)

func encodeMark(position uint64) []byte {
	text := markMagic + " " + strconv.Itoa(markVersion) + " " + strconv.FormatUint(position, 10)
	return fmt.Appendf(nil, "%s %08x\n", text, crc32.Checksum([]byte(text), markTable))
}

func decodeMark(data []byte) (uint64, error) {
	line, ok := strings.CutSuffix(string(data), "\n")
	fields := strings.Fields(line)
	if !ok || len(fields) != 4 || fields[0] != markMagic || fields[1] != strconv.Itoa(markVersion) {
		return 0, fmt.Errorf("%w: %s is not a mark: %q", errCorrupt, markFile, data)
	}
	position, err := strconv.ParseUint(fields[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", errCorrupt, markFile, err)
	}
	text := line[:strings.LastIndexByte(line, ' ')]
	if want := fmt.Sprintf("%08x", crc32.Checksum([]byte(text), markTable)); fields[3] != want {
		return 0, fmt.Errorf("%w: %s checksum %s, want %s", errCorrupt, markFile, fields[3], want)
	}
	return position, nil
}

// readMark returns the mark in dir; found is false if there is none (a new
// log, or one written before marks existed).
func readMark(fs vfs.FS, dir string) (position uint64, found bool, err error) {
	file, err := fs.Open(fs.PathJoin(dir, markFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("read %s: %w", markFile, err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, markFileBytesMax))
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", markFile, err)
	}
	position, err = decodeMark(data)
	return position, true, err
}

// writeMark makes position the mark in dir, durably and atomically: a crash
// leaves the old mark or the new one, whole.
func writeMark(fs vfs.FS, dir string, position uint64) error {
	temporary := fs.PathJoin(dir, markTemporaryFile)
	file, err := fs.Create(temporary, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("write %s: %w", markFile, err)
	}
	_, err = file.Write(encodeMark(position))
	if err == nil {
		err = file.Sync()
	}
	if err = errors.Join(err, file.Close()); err != nil {
		return fmt.Errorf("write %s: %w", markFile, err)
	}
	if err := fs.Rename(temporary, fs.PathJoin(dir, markFile)); err != nil {
		return fmt.Errorf("write %s: %w", markFile, err)
	}
	directory, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync directory: %w", markFile, err)
	}
	if err = errors.Join(directory.Sync(), directory.Close()); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", markFile, err)
	}
	return nil
}

// checkMark compares the recovered log with its mark. It returns the
// positions lost (0, 0 if none) once the override accepted them, and
// *LogLossError otherwise. With the override, or when a log has no mark yet,
// the mark is rewritten at once, so that the next Open agrees and the
// positions taken again from recovered+1 on are not reported lost again.
func (l *Log) checkMark(dir string, recovered uint64) (lostFirst, lostLast uint64, err error) {
	marked, found, err := readMark(l.options.FS, dir)
	switch {
	case err != nil && !l.options.AllowLogLoss:
		return 0, 0, fmt.Errorf("%w (if the log is known to be whole, AllowLogLoss opens it and rewrites the mark)", err)
	case err != nil:
		l.logger.Error("wal: the high-water mark is unreadable; AllowLogLoss is set, so the log is trusted as it is",
			"dir", dir, "error", err, "position", recovered)
	case found && marked > recovered && !l.options.AllowLogLoss:
		return 0, 0, &LogLossError{Dir: dir, Marked: marked, Recovered: recovered, MarkedIn: markFile}
	case found && marked > recovered:
		lostFirst, lostLast = recovered+1, marked
		l.logger.Error("wal: ACKNOWLEDGED RECORDS LOST: the log ends before its high-water mark; "+
			"AllowLogLoss is set, so it opens without them and their positions will be reused",
			"dir", dir, "lost_first", lostFirst, "lost_last", lostLast, "lost", lostLast-lostFirst+1,
			"recovered", recovered)
	case found:
		l.markWritten = marked
		return 0, 0, nil
	}
	if err := writeMark(l.options.FS, dir, recovered); err != nil {
		return 0, 0, err
	}
	l.markWritten = recovered
	return lostFirst, lostLast, nil
}

// markLoop is the mark's goroutine: it writes Durable as the mark every
// markInterval while it moves, until stop is closed.
func (l *Log) markLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(l.options.markInterval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
			l.updateMark()
		}
	}
}

// updateMark writes Durable as the mark if it moved. A failure is logged
// once per run of failures: the mark only lags, and the log reports its own
// failures.
func (l *Log) updateMark() {
	durable := l.durable.Load()
	if durable <= l.markWritten {
		return
	}
	if err := writeMark(l.options.FS, l.dir, durable); err != nil {
		if !l.markFailing {
			l.logger.Warn("wal: writing the high-water mark failed; it lags until a write succeeds",
				"error", err, "mark", l.markWritten, "durable", durable)
		}
		l.markFailing = true
		return
	}
	if l.markFailing {
		l.logger.Info("wal: the high-water mark is written again", "mark", durable)
	}
	l.markFailing = false
	l.markWritten = durable
}
