package engine

import (
	"testing"

	"github.com/tollway/tollway/wal"
)

// TestListRowKeysKeepTheirStoredFormat: rows written by earlier versions
// (sessions since issue 19) must still sort and seek the same: the key is
// prefix, account, "/", 16 lowercase hex digits of ^created, id.
func TestListRowKeysKeepTheirStoredFormat(t *testing.T) {
	if got, want := string(listRowKey("holds/", "acct_a", 1, "hold_x")), "holds/acct_a/fffffffffffffffehold_x"; got != want {
		t.Fatalf("listRowKey = %q, want %q", got, want)
	}
	var dst [2]wal.Put
	rows := listRows(&dst, "sessions/", "acct_a", "acct_b", 0x0123456789abcdef, "sess_y")
	if len(rows) != 2 || string(rows[0].Key) != "sessions/acct_a/fedcba9876543210sess_y" || string(rows[1].Key) != "sessions/acct_b/fedcba9876543210sess_y" {
		t.Fatalf("listRows = %q, %q", rows[0].Key, rows[1].Key)
	}
}
