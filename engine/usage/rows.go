package usage

import (
	"encoding/binary"
	"fmt"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

// Table keys: the cursor, and one row per (account, UTC day) with usage.
// An account's rows share a prefix and sort by day, so a report scans its
// account's rows only.
const (
	// RetentionName names the projection's engine retention.
	RetentionName = "usage"
	cursorKey     = "usage/c"
	dayPrefix     = "usage/d/"
)

// dayRowKeyBytesMax is the longest day row key: the prefix, the account's
// length and bytes, the day.
const dayRowKeyBytesMax = len(dayPrefix) + 1 + ledger.AccountIDBytesMax + 8

// accountPrefix returns the prefix of account's day rows. The length byte
// keeps one account's prefix from being another's.
func accountPrefix(account engine.AccountID) []byte {
	key := make([]byte, 0, dayRowKeyBytesMax)
	key = append(key, dayPrefix...)
	key = append(key, byte(len(account)))
	return append(key, account...)
}

// dayKey is an (account, day) pair, the unit of the projection's totals.
type dayKey struct {
	account engine.AccountID
	day     Day
}

// rowKey encodes k; the day is biased so that keys sort by day.
func (k dayKey) rowKey() []byte {
	return binary.BigEndian.AppendUint64(accountPrefix(k.account), uint64(k.day)^1<<63)
}

func dayOfRowKey(key []byte, prefix []byte) (Day, error) {
	if len(key) != len(prefix)+8 {
		return 0, fmt.Errorf("%w: day row key %q", errCorrupt, key)
	}
	return Day(binary.BigEndian.Uint64(key[len(prefix):]) ^ 1<<63), nil
}

func cursorRow(position uint64) engine.Row {
	return engine.Row{Key: []byte(cursorKey), Value: binary.BigEndian.AppendUint64(nil, position)}
}

// rowBytesMax bounds one day row (key and value); flushExtraBytes the
// cursor and retention rows that go with the last of a flush's writes.
const (
	rowBytesMax     = dayRowKeyBytesMax + dayBytes
	flushExtraBytes = 2 * 128
)

// Compile-time assertion (a negative constant does not convert to uint)
// that a day row, with the cursor and the retention, fits one WriteRows.
const _ = uint(engine.RowsBytesMax - rowBytesMax - flushExtraBytes)

// dayBytes is a day row's value: its totals and the position they count
// through.
const dayBytes = totalsBytes + 8

func appendDay(buf []byte, totals Totals, through uint64) []byte {
	return binary.BigEndian.AppendUint64(totals.appendTo(buf), through)
}

func decodeDay(value []byte) (Totals, uint64, error) {
	if len(value) != dayBytes {
		return Totals{}, 0, errCorrupt
	}
	totals, err := decodeTotals(value[:totalsBytes])
	return totals, binary.BigEndian.Uint64(value[totalsBytes:]), err
}
