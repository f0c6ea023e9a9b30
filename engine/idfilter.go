package engine

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// idFilter answers "has this client id possibly been used?" from memory, so
// that the common case, a new id, skips the index lookup on disk. It is a
// scalable blocked Bloom filter: each id sets filterBitsPerID bits inside
// one 512-bit block (one cache line), and when a filter holds its capacity
// a new one twice as large is added. A "maybe" costs an index lookup; a "no"
// is certain, because every id is added before its operation can become
// durable. Safe for concurrent use; adds are atomic ORs.
//
// A test checks every filter, so the false positive rates of the filters
// add up: each new one gets filterBitsPerIDStep more bits per id than the
// last, which more than halves its rate, so the sum stays near twice the
// first filter's however many ids come: 1.7% after six filters, against
// 5.7% with equal ones (TestIDFilterFalsePositivesStayBoundedAsItGrows).
// With equal filters the rate grew by ~1% per doubling of the ids, and each
// false positive is a lookup in the index store: in a 10-minute HTTP run,
// prepare cost 6.6 µs per charge at the end against 2.7 near the start
// (BENCHMARKS.md, issue 18).
//
// Memory: 1.25 bytes per id in the first filter (10 bits), 2 bytes per id
// in the fourth, at most 2.5. It is rebuilt at Open by scanning the index.
type idFilter struct {
	seed    maphash.Seed
	mu      sync.Mutex // serializes growth
	filters atomic.Pointer[[]*bloom]
}

const (
	filterCapacityFirst = 1 << 20 // ids the first filter holds
	// filterBitsPerIDFirst is the first filter's bits per id it holds
	// (~0.8% false positives with filterProbes); each later filter has
	// filterBitsPerIDStep more (~0.35%, ~0.15%, ...), up to
	// filterBitsPerIDMax.
	filterBitsPerIDFirst = 10
	filterBitsPerIDStep  = 2
	filterBitsPerIDMax   = 20
	filterProbes         = 7 // bits set per id, all in one block
	blockWords           = 8 // 8 × 64 bits = one 64-byte cache line
)

type bloom struct {
	blocks    []uint64 // len is a multiple of blockWords
	capacity  int64
	bitsPerID int64
	count     atomic.Int64
}

func newIDFilter() *idFilter { return newIDFilterOf(filterCapacityFirst) }

// newIDFilterOf returns a filter whose first bloom holds capacity ids
// (tests make it small to grow it quickly).
func newIDFilterOf(capacity int64) *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	filters := []*bloom{newBloom(capacity, filterBitsPerIDFirst)}
	f.filters.Store(&filters)
	return f
}

func newBloom(capacity, bitsPerID int64) *bloom {
	blockCount := (capacity*bitsPerID + blockWords*64 - 1) / (blockWords * 64)
	return &bloom{blocks: make([]uint64, blockCount*blockWords), capacity: capacity, bitsPerID: bitsPerID}
}

// hash returns the filter's hash of id, so a caller that tests and then
// adds an id hashes it once.
func (f *idFilter) hash(id string) uint64 { return maphash.String(f.seed, id) }

// addBytes is add for an id in a byte slice (maphash hashes both alike).
func (f *idFilter) addBytes(id []byte) { f.addHash(maphash.Bytes(f.seed, id)) }

// addHash records the id of hash h as used.
func (f *idFilter) addHash(h uint64) {
	filters := *f.filters.Load()
	current := filters[len(filters)-1]
	current.set(h)
	if current.count.Add(1) == current.capacity {
		f.grow(current)
	}
}

func (f *idFilter) grow(full *bloom) {
	f.mu.Lock()
	defer f.mu.Unlock()
	filters := *f.filters.Load()
	if filters[len(filters)-1] != full {
		return
	}
	bits := min(full.bitsPerID+filterBitsPerIDStep, filterBitsPerIDMax)
	grown := append(append([]*bloom(nil), filters...), newBloom(full.capacity*2, bits))
	f.filters.Store(&grown)
}

// mayContain reports whether the id of hash h may have been added; false
// is certain.
func (f *idFilter) mayContain(h uint64) bool {
	for _, b := range *f.filters.Load() {
		if b.test(h) {
			return true
		}
	}
	return false
}

// block returns the block of hash h, chosen by its high bits; the probes
// take 9 bits (a bit of 512) at a time from rotations of h.
func (b *bloom) block(h uint64) []uint64 {
	blockCount := uint64(len(b.blocks) / blockWords)
	index, _ := bits.Mul64(h, blockCount)
	start := index * blockWords
	return b.blocks[start : start+blockWords]
}

func (b *bloom) set(h uint64) {
	block := b.block(h)
	probe := bits.RotateLeft64(h, 32)
	for range filterProbes {
		bit := probe & 511
		atomicOr(&block[bit>>6], 1<<(bit&63))
		probe = bits.RotateLeft64(probe, 9) ^ h
	}
}

func (b *bloom) test(h uint64) bool {
	block := b.block(h)
	probe := bits.RotateLeft64(h, 32)
	for range filterProbes {
		bit := probe & 511
		if atomic.LoadUint64(&block[bit>>6])&(1<<(bit&63)) == 0 {
			return false
		}
		probe = bits.RotateLeft64(probe, 9) ^ h
	}
	return true
}

func atomicOr(word *uint64, mask uint64) {
	if atomic.LoadUint64(word)&mask != 0 {
		return
	}
	atomic.OrUint64(word, mask)
}
