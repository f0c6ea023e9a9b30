package facilitator

import "sync"

// keyLocks serializes the holders of one key (the settles of one
// authorization, the requests of one payment id) and lets different keys
// go at once. The zero value is ready.
type keyLocks[K comparable] struct {
	mu   sync.Mutex
	busy map[K]chan struct{} // closed when its holder unlocks
}

// lock waits until no one holds key, takes it, and returns its unlock.
func (l *keyLocks[K]) lock(key K) func() {
	for {
		l.mu.Lock()
		if l.busy == nil {
			l.busy = make(map[K]chan struct{})
		}
		busy, ok := l.busy[key]
		if !ok {
			done := make(chan struct{})
			l.busy[key] = done
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.busy, key)
				l.mu.Unlock()
				close(done)
			}
		}
		l.mu.Unlock()
		<-busy
	}
}
