package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// derivedIDReference is derivedID as first written, with math/big: ids
// derived from an Idempotency-Key are durable, so a faster derivedID must
// give every one of them the same id, or a retry after an upgrade would
// charge again.
func derivedIDReference(prefix string, parts ...string) string {
	h := sha256.New()
	var length [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(length[:], uint64(len(p)))
		h.Write(length[:])
		h.Write([]byte(p))
	}
	n := new(big.Int).SetBytes(h.Sum(nil)[:17])
	out := make([]byte, idChars)
	sixtyTwo := big.NewInt(62)
	digit := new(big.Int)
	for i := range out {
		n.DivMod(n, sixtyTwo, digit)
		out[i] = base62[digit.Int64()]
	}
	return prefix + string(out)
}

func TestDerivedIDMatchesTheOriginalDerivation(t *testing.T) {
	if got, want := derivedID(prefixCharge, "acct_1", "key-1"), "ch_krRNyYHGgcqEyL6w1jSzXd"; got != want {
		t.Fatalf("derivedID = %q, want %q (the id a retry already in the log carries)", got, want)
	}
	for i := range 10_000 {
		payer, key := "acct_"+strconv.Itoa(i%97), "key-"+strconv.Itoa(i)
		if got, want := derivedID(prefixCharge, payer, key), derivedIDReference(prefixCharge, payer, key); got != want {
			t.Fatalf("derivedID(%q, %q) = %q, want %q", payer, key, got, want)
		}
	}
}

// TestNewIDIsPrefixAndRandomBase62 checks newID's shape (the prefix, then
// idChars base62 characters), that its ids differ, and that every
// character of the alphabet turns up in every position, as uniform random
// characters do.
func TestNewIDIsPrefixAndRandomBase62(t *testing.T) {
	seen := map[string]bool{}
	var found [idChars]map[byte]bool
	for i := range found {
		found[i] = map[byte]bool{}
	}
	for range 5000 {
		id := newID(prefixCharge)
		if len(id) != len(prefixCharge)+idChars || id[:len(prefixCharge)] != prefixCharge {
			t.Fatalf("newID = %q, want %s and %d characters", id, prefixCharge, idChars)
		}
		for i := range idChars {
			c := id[len(prefixCharge)+i]
			if !strings.ContainsRune(base62, rune(c)) {
				t.Fatalf("newID = %q: %q is not base62", id, c)
			}
			found[i][c] = true
		}
		if seen[id] {
			t.Fatalf("newID repeated %q", id)
		}
		seen[id] = true
	}
	for i := range found {
		if len(found[i]) != len(base62) {
			t.Fatalf("position %d of 5,000 ids holds %d of the 62 characters", i, len(found[i]))
		}
	}
}
