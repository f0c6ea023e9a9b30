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
			o := entry.Token.(*op)
			o.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
			e.complete(o)
		}
		return
	}
	e.stats.commits.Add(1)
	e.stats.entries.Add(uint64(len(entries)))
	events := make([]*ledger.Event, 0, len(entries))
	var last uint64
	for _, entry := range entries {
		o, ok := entry.Token.(*op)
		if !ok || !o.logged {
			continue // a barrier: an answer waiting for the entries before it
		}
		o.position, last = entry.Position, entry.Position
		event := &o.event
		events = append(events, event)
		switch {
		case event.Type == ledger.EventAccountCreated:
			e.registry.Insert(&ledger.Account{ID: event.Account, Ledger: event.Ledger, Kind: event.Kind})
			continue
		case event.Type.IsSession():
			e.sessionDurable(o)
		case event.Type == ledger.EventHeld:
			e.sweeper.addHold(event.ID, event.Deadline, event.From)
		case event.Type == ledger.EventCaptured || event.Type == ledger.EventVoided || event.Type == ledger.EventExpired:
			e.sweeper.remove(event.ID)
		}
		if o.decider != nil {
			o.decider.MarkDurable()
		}
	}
	e.sendEffects(entries)
	if len(events) > 0 {
		e.checkpointer.feed(events, last)
	}
	if subscribed, rows := e.feed.subscribed(); subscribed {
		e.feed.publish(feedOf(entries, rows))
	}
	for _, entry := range entries {
		if w, ok := entry.Token.(*rowsWrite); ok {
			close(w.done)
			continue
		}
		e.complete(entry.Token.(*op))
	}
}

// feedOf describes one durable group commit for the subscriptions: its
// positions and its events; with rows, its table writes' records too
// (otherwise they have positions but no event).
func feedOf(entries []*wal.Entry, rows bool) *feedBatch {
	b := &feedBatch{}
	b.events = b.inline[:0]
	for _, entry := range entries {
		if entry.Position == 0 {
			continue // a barrier
		}
		if b.first == 0 {
			b.first = entry.Position
		}
		b.last = entry.Position
		if o, ok := entry.Token.(*op); ok && o.logged {
			b.events = append(b.events, feedEvent{position: entry.Position, event: &o.event})
			b.bytes += checkpointEventBytes + len(o.event.Memo)
		} else if w, ok := entry.Token.(*rowsWrite); ok && rows {
			b.events = append(b.events, feedEvent{position: entry.Position, write: w})
			b.bytes += checkpointEventBytes + len(w.entry.Record)
		}
	}
	return b
}

// sessionDurable follows a session's durable event: an opening brings the
// session's actor into the registry (before its caller learns of it), a
// closing takes it out, and each new state arms its timer.
func (e *Engine) sessionDurable(o *op) {
	event := &o.event
	switch {
	case event.Type == ledger.EventSessionOpened:
		s := ledger.SessionOf(event)
		e.sweeper.addSession(&s)
		o.session = e.registry.InsertSession(&s, o.decider)
		return
	case event.Type.IsSessionClose():
		e.sweeper.remove(event.ID)
		e.registry.RemoveSession(o.session)
	case event.Type == ledger.EventSessionStarted:
		s := ledger.SessionOf(event)
		e.sweeper.addSession(&s)
	}
	o.session.MarkDurable()
}

// sendEffects sends each counterparty of the group's events (payee, fees,
// chain: every account an event involves but its decider) the events that
// involve it, in log order, in one message per account. The events of all
// accounts share one slice, carved per account.
//
// NB: runs on the syncer goroutine only, which owns e.effects.
func (e *Engine) sendEffects(entries []*wal.Entry) {
	clear(e.effects)
	total := 0
	forEachEffect(entries, func(id ledger.AccountID, _ *ledger.Event) {
		span := e.effects[id]
		span.end++
		e.effects[id] = span
		total++
	})
	if total == 0 {
		return
	}
	start := 0
	for id, span := range e.effects {
		e.effects[id] = effectSpan{start: start, next: start, end: start + span.end}
		start += span.end
	}
	all := make([]*ledger.Event, total)
	forEachEffect(entries, func(id ledger.AccountID, event *ledger.Event) {
		span := e.effects[id]
		all[span.next] = event
		span.next++
		e.effects[id] = span
	})
	for id, span := range e.effects {
		entry := e.registry.Entry(id)
		if entry == nil {
			panic(fmt.Sprintf("engine: durable event names unknown account %q", id))
		}
		e.registry.Send(entry, &actors.Effects{Events: all[span.start:span.end:span.end]})
	}
}

// effectSpan is one account's part of sendEffects' slice.
type effectSpan struct{ start, next, end int }

// forEachEffect calls fn for each counterparty of each durable event in
// entries, in log order.
func forEachEffect(entries []*wal.Entry, fn func(ledger.AccountID, *ledger.Event)) {
	for _, entry := range entries {
		o, ok := entry.Token.(*op)
		if !ok || !o.logged || o.decider == nil { // a creation, or a session's change of its own
			continue
		}
		event, decider := &o.event, o.decider.ID()
		for _, id := range [...]ledger.AccountID{event.From, event.To, event.Fees} {
			if id != decider && event.Involves(id) {
				fn(id, event)
			}
		}
	}
}
