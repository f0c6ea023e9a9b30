package approvals

// WithStep returns options whose service calls step after each durable step
// of a transition: "held", "recorded" or "executed" (see testSeams).
func WithStep(options Options, step func(step string, a Approval)) Options {
	options.seams.step = step
	return options
}

// Pending returns how many approvals the service keeps in memory.
func (s *Service) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Timers returns how many expiries the expirer has armed.
func (s *Service) Timers() int {
	s.expirer.mu.Lock()
	defer s.expirer.mu.Unlock()
	return s.expirer.due.Len()
}

// MarkerPrefix is the prefix of the rows that name work left after a restart.
const MarkerPrefix = markerPrefix
