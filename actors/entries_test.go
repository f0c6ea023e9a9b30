package actors

import (
	"testing"
	"unsafe"

	"github.com/tollway/tollway/engine/ledger"
)

func TestEntriesFindAddedAccountsOnlyOnce(t *testing.T) {
	var m entries
	m.init()
	for i := range 1000 {
		e := &Entry{account: ledger.Account{ID: ledger.AccountID(string(rune('a'+i%26)) + string(rune(i)))}}
		if !m.add(e) {
			t.Fatalf("account %d not added", i)
		}
		if m.add(&Entry{account: e.account}) {
			t.Fatalf("account %d added twice", i)
		}
		if m.load(e.account.ID) != e {
			t.Fatalf("account %d not found", i)
		}
	}
	if m.load("absent") != nil {
		t.Fatal("found an account never added")
	}
	seen := 0
	m.each(func(*Entry) bool { seen++; return true })
	if seen != 1000 {
		t.Fatalf("each saw %d entries, want 1000", seen)
	}
	if size := unsafe.Sizeof(entryShard{}); size != 64 {
		t.Fatalf("a shard takes %d bytes, want one cache line", size)
	}
}
