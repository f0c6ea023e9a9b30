package shardmap

import (
	"strconv"
	"sync"
	"testing"
	"unsafe"
)

func TestMapStoresEachKeyOnce(t *testing.T) {
	var m Map[string, *int]
	m.Init()
	values := make([]int, 1000)
	for i := range values {
		key := "k" + strconv.Itoa(i)
		if actual, loaded := m.LoadOrStore(key, &values[i]); loaded || actual != &values[i] {
			t.Fatalf("LoadOrStore(%s) = %p %v, want %p false", key, actual, loaded, &values[i])
		}
		if actual, loaded := m.LoadOrStore(key, new(int)); !loaded || actual != &values[i] {
			t.Fatalf("LoadOrStore(%s) again = %p %v, want %p true", key, actual, loaded, &values[i])
		}
		if got, ok := m.Load(key); !ok || got != &values[i] {
			t.Fatalf("Load(%s) = %p %v, want %p true", key, got, ok, &values[i])
		}
	}
	if _, ok := m.Load("absent"); ok {
		t.Fatal("Load found a key never stored")
	}
	seen := 0
	m.Range(func(string, *int) bool { seen++; return true })
	if seen != len(values) {
		t.Fatalf("Range saw %d entries, want %d", seen, len(values))
	}
	if size := unsafe.Sizeof(shard[string, *int]{}); size != 64 {
		t.Fatalf("a shard takes %d bytes, want one cache line", size)
	}
}

func TestCompareAndDeleteDeletesOnlyTheGivenValue(t *testing.T) {
	var m Map[string, *int]
	m.Init()
	a, b := new(int), new(int)
	m.LoadOrStore("k", a)
	if m.CompareAndDelete("k", b) {
		t.Fatal("CompareAndDelete(k, other value) = true, want false")
	}
	if !m.CompareAndDelete("k", a) {
		t.Fatal("CompareAndDelete(k, stored value) = false, want true")
	}
	if _, ok := m.Load("k"); ok {
		t.Fatal("k still stored after CompareAndDelete")
	}
	if m.CompareAndDelete("k", a) {
		t.Fatal("CompareAndDelete(k) of a deleted key = true, want false")
	}
}

// TestLoadOrStoreHasOneWinner checks that of many concurrent stores under
// one key exactly one stores, and every other sees its value.
func TestLoadOrStoreHasOneWinner(t *testing.T) {
	var m Map[string, int]
	m.Init()
	const racers = 64
	results := make([]int, racers)
	stored := make([]bool, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			var loaded bool
			results[i], loaded = m.LoadOrStore("k", i+1)
			stored[i] = !loaded
		})
	}
	wg.Wait()
	winner, _ := m.Load("k")
	winners := 0
	for i := range racers {
		if stored[i] {
			winners++
		}
		if results[i] != winner {
			t.Fatalf("racer %d saw %d, want the winner's %d", i, results[i], winner)
		}
	}
	if winners != 1 {
		t.Fatalf("%d racers stored, want 1", winners)
	}
}

// TestLoadBytesFindsWhatStoreStored checks that a key stored as a string is
// found by its bytes (the same shard and entry), that Store reports a
// replacement, and that the lookup by bytes allocates nothing: it runs on
// every key-authenticated request.
func TestLoadBytesFindsWhatStoreStored(t *testing.T) {
	var m Map[string, int]
	m.Init()
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = []byte("hash-" + strconv.Itoa(i))
		if m.Store(string(keys[i]), i) {
			t.Fatalf("Store(%q) replaced a value in an empty map", keys[i])
		}
	}
	if !m.Store(string(keys[7]), 70) {
		t.Fatal("Store of a stored key did not report the replacement")
	}
	for i, key := range keys {
		want := i
		if i == 7 {
			want = 70
		}
		if got, ok := m.LoadBytes(key); !ok || got != want {
			t.Fatalf("LoadBytes(%q) = %d, %v; want %d", key, got, ok, want)
		}
	}
	if _, ok := m.LoadBytes([]byte("absent")); ok {
		t.Fatal("LoadBytes of an absent key found one")
	}
	if allocs := testing.AllocsPerRun(1000, func() { m.LoadBytes(keys[3]) }); allocs != 0 {
		t.Fatalf("LoadBytes allocates %v times, want 0", allocs)
	}
}
