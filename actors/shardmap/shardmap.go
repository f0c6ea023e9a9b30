// Package shardmap is a concurrent map from string keys: a Go map per shard
// under a read-write lock. It is the one sharded map of the engine, its
// actors and the access layer (accounts by id, client ids in flight, API
// keys by the hash of their plaintext).
//
// NB: not a sync.Map. Every charge looks up two accounts and claims a client
// id, and sync.Map's hash trie (interface keys, a pointer chase per level)
// cost about twice a sharded map's lookup in the charge profile, mostly in
// cache misses. Nor xsync's Map: it allocates an entry per store, and a
// claim stores once per charge.
package shardmap

import (
	"hash/maphash"
	"sync"
)

// shardCount spreads keys over independent locks: with it well above the
// callers that run at once (GOMAXPROCS), two rarely meet on one lock.
const shardCount = 256

// Map maps keys to values; Init it before use. Safe for concurrent use.
type Map[K ~string, V comparable] struct {
	seed   maphash.Seed
	shards [shardCount]shard[K, V]
}

type shard[K ~string, V comparable] struct {
	mu sync.RWMutex
	m  map[K]V
	_  [32]byte // pads the shard to a 64-byte cache line, so locks share none
}

// Init makes m ready for use. REQUIRES: m is not in use yet.
func (m *Map[K, V]) Init() {
	m.seed = maphash.MakeSeed()
	for i := range m.shards {
		m.shards[i].m = make(map[K]V)
	}
}

func (m *Map[K, V]) shard(key K) *shard[K, V] {
	return &m.shards[maphash.String(m.seed, string(key))%shardCount]
}

// LoadBytes is Load of string(key), without allocating it: a key looked up
// by a hash the caller holds as bytes (an API key's HMAC per request).
func (m *Map[K, V]) LoadBytes(key []byte) (V, bool) {
	// maphash.Bytes and maphash.String agree on equal contents, so this is
	// the shard Load and Store pick for the string.
	s := &m.shards[maphash.Bytes(m.seed, key)%shardCount]
	s.mu.RLock()
	value, ok := s.m[K(key)]
	s.mu.RUnlock()
	return value, ok
}

// Store stores value under key and reports whether it replaced a value.
func (m *Map[K, V]) Store(key K, value V) (replaced bool) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, replaced = s.m[key]
	s.m[key] = value
	return replaced
}

// Load returns the value stored under key, and whether there is one.
func (m *Map[K, V]) Load(key K) (V, bool) {
	s := m.shard(key)
	s.mu.RLock()
	value, ok := s.m[key]
	s.mu.RUnlock()
	return value, ok
}

// LoadOrStore stores value under key unless the key is taken; it returns
// the value now stored and whether it was there already.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if held, ok := s.m[key]; ok {
		return held, true
	}
	s.m[key] = value
	return value, false
}

// CompareAndDelete deletes key if value is stored under it, and reports
// whether it did.
func (m *Map[K, V]) CompareAndDelete(key K, value V) bool {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if held, ok := s.m[key]; !ok || held != value {
		return false
	}
	delete(s.m, key)
	return true
}

// Range calls fn with every key and value, shard by shard, until fn
// returns false. fn runs without any lock held (it may use the map);
// entries stored meanwhile may or may not be seen.
func (m *Map[K, V]) Range(fn func(K, V) bool) {
	type pair struct {
		key   K
		value V
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		list := make([]pair, 0, len(s.m))
		for key, value := range s.m {
			list = append(list, pair{key, value})
		}
		s.mu.RUnlock()
		for _, p := range list {
			if !fn(p.key, p.value) {
				return
			}
		}
	}
}
