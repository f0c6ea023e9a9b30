package engine

import (
	"fmt"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// onDurable is the log's commit callback: it runs on the log's syncer goroutine
// once per group commit, in log order. It is the only place a logged op is
// answered, so every answer follows its fsync.
//
// Order matters: counterparty effects are sent to their actors before any
// caller is answered, so a caller that next reads the payee's balance finds
// the credit already in the payee's mailbox.
func (e *Engine) onDurable(entries []*wal.Entry, _ uint64, err error) {
	if err != nil {
		e.fail(err)
		for _, entry := range entries {
			if w, ok := entry.Token.(*rowsWrite); ok {
				w.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
				close(w.done)
				continue
			}
			op := actors.OpOf(entry)
			op.Err = fmt.Errorf("%w: %v", ErrUnavailable, err)
			e.complete(op)
		}
		return
	}
	e.stats.commits.Add(1)
	e.stats.entries.Add(uint64(len(entries)))
	effects := make(map[ledger.AccountID][]*ledger.Event)
	events := make([]*ledger.Event, 0, len(entries))
	var last uint64
	for _, entry := range entries {
		op, ok := entry.Token.(*actors.Op)
		if !ok || !op.Logged() {
			continue // a barrier: an answer waiting for the entries before it
		}
		op.Position, last = entry.Position, entry.Position
		event := &op.Event
		events = append(events, event)
		if event.Type == ledger.EventAccountCreated {
			e.registry.Insert(&ledger.Account{ID: event.Account, Ledger: event.Ledger, Kind: event.Kind})
			continue
		}
		decider := op.Decider()
		decider.MarkDurable()
		for _, id := range [...]ledger.AccountID{event.From, event.To, event.Fees} {
			if id != decider.ID() && event.Involves(id) {
				effects[id] = append(effects[id], event)
			}
		}
		if event.Type == ledger.EventHeld {
			e.sweeper.add(event.Deadline, event.From)
		}
	}
	for id, list := range effects {
		entry := e.registry.Entry(id)
		if entry == nil {
			panic(fmt.Sprintf("engine: durable event names unknown account %q", id))
		}
		e.registry.Send(entry, &actors.Effects{Events: list})
	}
	if len(events) > 0 {
		e.checkpointer.feed(events, last)
	}
	for _, entry := range entries {
		if w, ok := entry.Token.(*rowsWrite); ok {
			close(w.done)
			continue
		}
		e.complete(actors.OpOf(entry))
	}
}

// complete publishes an op's result: it releases the op's client id (once
// its outcome is durable, so the next claimant finds it in the index) and
// wakes its caller.
func (e *Engine) complete(op *actors.Op) {
	e.inflight.release(op)
	op.Finish()
}
