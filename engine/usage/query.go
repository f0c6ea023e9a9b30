package usage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollway/tollway/engine"
)

// Days returns account's usage on each day from..to (inclusive) that has
// any, in day order: the persisted totals, overlaid with those folded since.
func (p *Projection) Days(account engine.AccountID, from, to Day) ([]Bucket, error) {
	prefix := accountPrefix(account)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failure != nil {
		return nil, p.failure
	}
	days := make(map[Day]Totals)
	err := p.engine.ScanRows(prefix, func(key, value []byte) error {
		day, err := dayOfRowKey(key, prefix)
		if err != nil || day < from || day > to {
			return err
		}
		days[day], _, err = decodeDay(value)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("usage: read %s: %w", account, err)
	}
	// The days in memory are the same as the table's, or folded since:
	// look up the span's days, or, for a span longer than there are days
	// in memory, go through those.
	if to >= from && int64(to-from) < int64(len(p.days)) {
		for day := from; day <= to; day++ {
			if state := p.days[dayKey{account, day}]; state != nil {
				days[day] = state.totals
			}
		}
	} else {
		for key, state := range p.days {
			if key.account == account && key.day >= from && key.day <= to {
				days[key.day] = state.totals
			}
		}
	}
	buckets := make([]Bucket, 0, len(days))
	for day, totals := range days {
		if !totals.IsZero() {
			buckets = append(buckets, Bucket{Start: day.Time(), Totals: totals})
		}
	}
	slices.SortFunc(buckets, func(a, b Bucket) int { return a.Start.Compare(b.Start) })
	return buckets, nil
}

// Wait returns once the projection has folded every event up to position
// (engine.Position() after a write: read your writes), or ErrUnavailable
// after CatchUpMax or if it stopped, or ctx's error.
func (p *Projection) Wait(ctx context.Context, position uint64) error {
	deadline := time.NewTimer(CatchUpMax)
	defer deadline.Stop()
	var poll *time.Ticker
	for {
		p.mu.Lock()
		cursor, failure := p.cursor, p.failure
		p.mu.Unlock()
		switch {
		case failure != nil:
			return failure
		case cursor >= position || p.caughtUp(position):
			return nil
		case poll == nil:
			poll = time.NewTicker(catchUpPoll)
			defer poll.Stop()
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			return fmt.Errorf("%w: not caught up with position %d within %s", ErrUnavailable, position, CatchUpMax)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// caughtUp reports that the subscription went past position and every
// event it sent is folded (see engine.Subscription.Progress).
func (p *Projection) caughtUp(position uint64) bool {
	passed, sent := p.sub.Progress()
	return passed >= position && p.folded.Load() >= sent
}
