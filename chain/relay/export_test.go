package relay

import (
	"fmt"
	"testing"
	"time"
)

// roundNow runs one round on the actor and waits for it.
func (r *Relayer) roundNow(t *testing.T) {
	t.Helper()
	msg := &roundMsg{done: make(chan struct{})}
	r.system.Root.Send(r.pid, msg)
	select {
	case <-msg.done:
	case <-time.After(time.Minute):
		t.Fatal("relayer round did not finish in a minute")
	}
	if s := r.Stats(); s.Failure != "" {
		t.Fatalf("relayer failed: %s", s.Failure)
	}
}

// waitFolded waits until the actor has folded every event up to position.
func (r *Relayer) waitFolded(t testing.TB, position uint64) {
	msg := &foldedWait{position: position, reply: make(chan struct{})}
	r.system.Root.Send(r.pid, msg)
	select {
	case <-msg.reply:
	case <-time.After(time.Minute):
		if t == nil {
			panic(fmt.Sprintf("relayer did not fold up to position %d in a minute", position))
		}
		t.Fatalf("relayer did not fold up to position %d in a minute", position)
	}
}
