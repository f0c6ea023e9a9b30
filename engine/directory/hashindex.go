package directory

import "sync"

// hashShardCount spreads key hashes over independent locks.
const hashShardCount = 64

// ByHash maps API key hashes (HMAC outputs, so uniformly spread) to V: a Go
// map per shard under a read-write lock, the shard chosen by the hash's
// first byte. A lookup takes its shard's read lock, shared with every other
// lookup, and allocates nothing. It is exported for httpapi's no-op server,
// which must find its keys the way the directory does.
//
// NB: not a sync.Map. Every request looks a key up by its hash; sync.Map's
// interface keys cost an allocation per lookup (the string escapes into
// the interface) and a hash trie's pointer chase, where a Go map indexed by
// string(hash) allocates nothing.
type ByHash[V any] struct {
	shards [hashShardCount]hashShard[V]
}

type hashShard[V any] struct {
	mu sync.RWMutex
	m  map[string]V
	_  [32]byte // pads the shard to a 64-byte cache line, so locks share none
}

func (b *ByHash[V]) shard(hash []byte) *hashShard[V] {
	if len(hash) == 0 {
		return &b.shards[0]
	}
	return &b.shards[hash[0]%hashShardCount]
}

// Load returns hash's value.
func (b *ByHash[V]) Load(hash []byte) (V, bool) {
	s := b.shard(hash)
	s.mu.RLock()
	v, ok := s.m[string(hash)]
	s.mu.RUnlock()
	return v, ok
}

// Store sets hash's value and reports whether it replaced one.
func (b *ByHash[V]) Store(hash []byte, v V) (replaced bool) {
	s := b.shard(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]V)
	}
	_, replaced = s.m[string(hash)]
	s.m[string(hash)] = v
	return replaced
}
