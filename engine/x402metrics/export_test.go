package x402metrics

// SetHook sets m's test hook (see Metrics.hook). REQUIRES: before m is
// used concurrently.
func SetHook(m *Metrics, hook func(stage string)) { m.hook = hook }

// FoldsExcluded reports whether a fold could not take its lock now.
func FoldsExcluded(m *Metrics) bool {
	if m.folding.TryLock() {
		m.folding.Unlock()
		return false
	}
	return true
}

// QueriesExcluded reports whether a query could not take its lock now.
func QueriesExcluded(m *Metrics) bool {
	if m.folding.TryRLock() {
		m.folding.RUnlock()
		return false
	}
	return true
}
