package actors

import (
	"hash/maphash"
	"sync"

	"github.com/tollway/tollway/engine/ledger"
)

// entryShardCount spreads the accounts over independent locks.
const entryShardCount = 64

// entries maps account ids to their entries: a Go map per shard under a
// read-write lock.
//
// NB: not a sync.Map. Every charge looks up two accounts, and sync.Map's
// hash trie (interface keys, a pointer chase per level) cost about twice a
// sharded map's lookup in the charge profile, mostly in cache misses.
// Accounts are added far less often than they are looked up, so the read
// lock is almost never contended.
type entries struct {
	seed   maphash.Seed
	shards [entryShardCount]entryShard
}

type entryShard struct {
	mu sync.RWMutex
	m  map[ledger.AccountID]*Entry
	_  [32]byte // pads the shard to a 64-byte cache line, so locks share none
}

func (m *entries) init() {
	m.seed = maphash.MakeSeed()
	for i := range m.shards {
		m.shards[i].m = make(map[ledger.AccountID]*Entry)
	}
}

func (m *entries) shard(id ledger.AccountID) *entryShard {
	return &m.shards[maphash.String(m.seed, string(id))%entryShardCount]
}

func (m *entries) load(id ledger.AccountID) *Entry {
	s := m.shard(id)
	s.mu.RLock()
	e := s.m[id]
	s.mu.RUnlock()
	return e
}

// add stores e under its id unless the id is taken; it reports whether it did.
func (m *entries) add(e *Entry) bool {
	s := m.shard(e.account.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.m[e.account.ID]; taken {
		return false
	}
	s.m[e.account.ID] = e
	return true
}

// each calls fn with every entry, shard by shard, until fn returns false.
// Entries added meanwhile may or may not be seen.
func (m *entries) each(fn func(*Entry) bool) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		list := make([]*Entry, 0, len(s.m))
		for _, e := range s.m {
			list = append(list, e)
		}
		s.mu.RUnlock()
		for _, e := range list {
			if !fn(e) {
				return
			}
		}
	}
}
