package directory

import (
	"crypto/sha256"
	"strconv"
	"testing"
	"unsafe"
)

func TestByHashStoresLoadsAndReplaces(t *testing.T) {
	var m ByHash[int]
	if _, ok := m.Load(nil); ok {
		t.Fatal("an empty map found a value")
	}
	for i := range 1000 {
		hash := sha256.Sum256([]byte(strconv.Itoa(i)))
		if m.Store(hash[:], i) {
			t.Fatalf("hash %d replaced a value on first store", i)
		}
	}
	for i := range 1000 {
		hash := sha256.Sum256([]byte(strconv.Itoa(i)))
		if v, ok := m.Load(hash[:]); !ok || v != i {
			t.Fatalf("load(hash %d) = %d, %v", i, v, ok)
		}
	}
	hash := sha256.Sum256([]byte("7"))
	if !m.Store(hash[:], -7) {
		t.Fatal("a second store did not report the replacement")
	}
	if v, _ := m.Load(hash[:]); v != -7 {
		t.Fatalf("load after replace = %d, want -7", v)
	}
	if size := unsafe.Sizeof(hashShard[int]{}); size != 64 {
		t.Fatalf("a shard takes %d bytes, want one cache line", size)
	}
}
