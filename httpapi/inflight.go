package httpapi

import "sync"

// inflight counts work a handler started that outlives its request (the
// gateway's captures and voids, which run after the answer is delivered),
// so that Shutdown can wait for it. Unlike a sync.WaitGroup it may be
// asked to begin after the wait started: a call the http server's
// shutdown gave up on can still finish its answer then, and its settle is
// refused (begin answers false) rather than racing the wait or running
// on a closing engine.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool          // close was called: begin answers false
	idle   chan struct{} // closed when n reaches 0 after close
}

// begin counts one more piece of work, or answers false once close was
// called.
func (f *inflight) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

// end marks one piece of work begun with begin as done.
func (f *inflight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// close refuses new work and waits for the work begun.
func (f *inflight) close() {
	f.mu.Lock()
	f.closed = true
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	<-idle
}
