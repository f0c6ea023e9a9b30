// Package deadline keeps keyed deadlines in time order: the engine's
// sweeper (holds, sessions) and the approvals' expirer each keep one entry
// per open thing, re-armed or removed by key, and pop what is due.
package deadline

import "container/heap"

// Set holds at most one deadline per key, each with a value, ordered by
// deadline. The zero value is not ready: use New. Not safe for concurrent
// use: its owners hold their own lock.
type Set[K comparable, V any] struct {
	due   byTime[K, V]
	items map[K]*item[K, V]
}

type item[K comparable, V any] struct {
	at    int64 // Unix nanoseconds
	key   K
	value V
	index int // in due, kept by byTime's Swap, Push and Pop
}

// New returns an empty Set.
func New[K comparable, V any]() *Set[K, V] {
	return &Set[K, V]{items: make(map[K]*item[K, V])}
}

// Put arms key at at (Unix nanoseconds) with value, replacing its earlier
// deadline and value, and reports whether key is now the earliest: the
// owner's sleeper must then wake to re-read Next.
func (s *Set[K, V]) Put(key K, at int64, value V) (earliest bool) {
	if it := s.items[key]; it != nil {
		it.at, it.value = at, value
		heap.Fix(&s.due, it.index)
	} else {
		it = &item[K, V]{at: at, key: key, value: value}
		s.items[key] = it
		heap.Push(&s.due, it)
	}
	return s.due[0].key == key
}

// Get returns key's value and whether key is armed.
func (s *Set[K, V]) Get(key K) (V, bool) {
	if it := s.items[key]; it != nil {
		return it.value, true
	}
	var zero V
	return zero, false
}

// Remove disarms key; nothing when it is not armed.
func (s *Set[K, V]) Remove(key K) {
	if it := s.items[key]; it != nil {
		heap.Remove(&s.due, it.index)
		delete(s.items, key)
	}
}

// PopDue removes every entry due by now (at <= now), earliest first,
// calling fn with each, and returns the next deadline, if any is left.
func (s *Set[K, V]) PopDue(now int64, fn func(K, V)) (next int64, ok bool) {
	for len(s.due) > 0 && s.due[0].at <= now {
		it := heap.Pop(&s.due).(*item[K, V])
		delete(s.items, it.key)
		fn(it.key, it.value)
	}
	if len(s.due) == 0 {
		return 0, false
	}
	return s.due[0].at, true
}

// Len is how many keys are armed.
func (s *Set[K, V]) Len() int { return len(s.due) }

type byTime[K comparable, V any] []*item[K, V]

func (h byTime[K, V]) Len() int           { return len(h) }
func (h byTime[K, V]) Less(i, j int) bool { return h[i].at < h[j].at }
func (h byTime[K, V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *byTime[K, V]) Push(x any) {
	it := x.(*item[K, V])
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *byTime[K, V]) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
