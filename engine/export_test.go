package engine

// WithSnapshotEncodingHook returns options whose engine calls hook on its
// checkpointer's goroutine right before it encodes each snapshot.
func WithSnapshotEncodingHook(options Options, hook func()) Options {
	options.seams.snapshotEncoding = hook
	return options
}

// WithCheckpointBacklogEventsMax returns options whose checkpointer holds at
// most n committed events in memory before it reads them back from the log.
func WithCheckpointBacklogEventsMax(options Options, n int) Options {
	options.seams.checkpointBacklogEventsMax = n
	return options
}
