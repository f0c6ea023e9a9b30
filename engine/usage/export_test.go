package usage

import "github.com/tollway/tollway/engine"

// DirtyLen returns how many day totals wait in memory, unflushed.
func (p *Projection) DirtyLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dirty
}

// CursorRow is the row of the projection's cursor at position.
func CursorRow(position uint64) engine.Row { return cursorRow(position) }
