package engine

import (
	"errors"
	"fmt"
	"testing"
)

// TestDecodeRowsRecordSelectsByPrefixAndRefusesCorruptRecords: decoding
// the record appendRowsRecord wrote gives back the rows under the prefixes,
// in order, deletes as nil values; every truncation of it is an error,
// never a panic or a wrong row.
func TestDecodeRowsRecordSelectsByPrefixAndRefusesCorruptRecords(t *testing.T) {
	record := appendRowsRecord(nil, []Row{
		{Key: []byte("a/1"), Value: []byte("x")}, {Key: []byte("b/1"), Value: []byte("y")},
		{Key: []byte("a/2")}, {Key: []byte("a/3"), Value: []byte{}},
	})
	rows, err := decodeRowsRecord(record, [][]byte{[]byte("a/")})
	if got, want := fmt.Sprintf("%q", rows), `[{"a/1" "x"} {"a/2" ""} {"a/3" ""}]`; err != nil || got != want {
		t.Fatalf("decodeRowsRecord = %s, %v, want %s", got, err, want)
	}
	if rows[1].Value != nil || rows[2].Value == nil {
		t.Fatalf("delete %v and empty value %v: want nil and non-nil", rows[1].Value, rows[2].Value)
	}
	if rows, err := decodeRowsRecord(record, [][]byte{[]byte("c/")}); rows != nil || err != nil {
		t.Fatalf("decodeRowsRecord(no match) = %q, %v, want nothing", rows, err)
	}
	both := [][]byte{[]byte("a/"), []byte("b/")}
	all, err := decodeRowsRecord(record, both)
	if err != nil || len(all) != 4 {
		t.Fatalf("decodeRowsRecord(every prefix) = %q, %v, want 4 rows", all, err)
	}
	for n := 1; n < len(record); n++ {
		rows, err := decodeRowsRecord(record[:n], both)
		switch {
		case err != nil && !errors.Is(err, errCorruptRowsRecord):
			t.Fatalf("decodeRowsRecord(%d bytes) = %v", n, err)
		case err == nil && fmt.Sprintf("%q", rows) != fmt.Sprintf("%q", all[:len(rows)]):
			// Only a cut between two rows decodes: into the rows before it.
			t.Fatalf("decodeRowsRecord(%d bytes) = %q, want a prefix of %q", n, rows, all)
		}
	}
	if _, err := decodeRowsRecord([]byte{0x01, 0x02}, nil); !errors.Is(err, errCorruptRowsRecord) {
		t.Fatalf("decodeRowsRecord(ledger record) = %v, want errCorruptRowsRecord", err)
	}
}
