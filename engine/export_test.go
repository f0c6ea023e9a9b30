package engine

// WithSnapshotEncodingHook returns options whose engine calls hook on its
// checkpointer's goroutine right before it encodes each snapshot.
func WithSnapshotEncodingHook(options Options, hook func()) Options {
	options.seams.snapshotEncoding = hook
	return options
}

// WithCheckpointBacklogEvents returns options whose checkpointer keeps at
// most n committed events without memos in memory before it reads them back
// from the log.
func WithCheckpointBacklogEvents(options Options, n int) Options {
	options.seams.checkpointBacklogBytesMax = n * checkpointEventBytes
	return options
}

// Timers returns how many holds and sessions the sweeper keeps a timer for.
func (e *Engine) Timers() int {
	e.sweeper.mu.Lock()
	defer e.sweeper.mu.Unlock()
	return e.sweeper.due.Len()
}

// WithFeedBacklogEvents returns options whose subscriptions queue at most n
// committed events without memos from the live feed before they read the
// log instead.
func WithFeedBacklogEvents(options Options, n int) Options {
	options.seams.feedBacklogBytesMax = n * checkpointEventBytes
	return options
}

// ReadBack returns how many of the events s sent it read from the log.
func (s *Subscription) ReadBack() uint64 { return s.readBack.Load() }
