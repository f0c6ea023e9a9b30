package usage

// DirtyLen returns how many day totals wait in memory, unflushed.
func (p *Projection) DirtyLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.dirty)
}
