package approvals

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tollway/tollway/engine"
)

// recover finishes, at Open, the work every marker names (see Open).
// Nothing else runs yet: no call, no expirer.
func (s *Service) recover() error {
	type marker struct {
		id     engine.TransferID
		intent []byte
	}
	var markers []marker
	err := s.eng.ScanRows([]byte(markerPrefix), func(key, value []byte) error {
		markers = append(markers, marker{id: engine.TransferID(key[len(markerPrefix):]), intent: bytes.Clone(value)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan markers: %w", err)
	}
	ctx := context.Background()
	for _, m := range markers {
		a, found, err := load(s.eng, m.id)
		if err != nil {
			return err
		}
		e := &entry{}
		e.mu.Lock()
		if !found {
			err = s.resolveIntent(ctx, e, m.id, m.intent)
		} else {
			e.a = a
			err = s.resume(ctx, e)
		}
		e.mu.Unlock()
		if err != nil {
			return fmt.Errorf("approval %s: %w", m.id, err)
		}
	}
	return nil
}

// resolveIntent finishes a Request that a restart interrupted after its
// intent: the reservation the engine placed is adopted, PENDING from its
// placing (and expires at once if its time passed); none placed, the
// intent is dropped (a retry places it).
// REQUIRES: e.mu held.
func (s *Service) resolveIntent(ctx context.Context, e *entry, id engine.TransferID, intent []byte) error {
	var a Approval
	if err := json.Unmarshal(intent, &a); err != nil || a.ID != id {
		return fmt.Errorf("%w: intent %q: %v", errCorrupt, id, err)
	}
	held, err := s.eng.Transfer(ctx, id)
	if errors.Is(err, engine.ErrNotFound) {
		if _, err := s.eng.WriteRows(ctx, engine.Row{Key: markerKey(id)}); err != nil {
			return fmt.Errorf("%w: drop intent: %w", ErrUnavailable, err)
		}
		return nil
	}
	if err != nil {
		return engineErr("look up reservation", id, err)
	}
	if held.Type != engine.TransferHold || held.From != a.From || held.To != a.To || held.Amount != a.Amount {
		return fmt.Errorf("%w: reservation %s is not the intent's", errCorrupt, id)
	}
	e.a = a
	_ = s.count(e, true)
	s.mu.Lock()
	s.entries[id] = e
	s.mu.Unlock()
	held.Replayed = true // placed by the interrupted Request: its creation time is the hold's
	if err := s.adopt(ctx, e, &a, held); err != nil {
		return err
	}
	if e.a.State != StatePending {
		s.remove(e) // the engine had expired it: nothing to release
		return nil
	}
	return s.resume(ctx, e)
}

// resume picks up a recorded approval whose marker says work remains.
// REQUIRES: e.mu held; e.a recorded.
func (s *Service) resume(ctx context.Context, e *entry) error {
	switch e.a.State {
	case StatePending, StateApproved:
		if !e.counted {
			_ = s.count(e, true)
			s.mu.Lock()
			s.entries[e.a.ID] = e
			s.mu.Unlock()
		}
		if e.a.State == StateApproved {
			return s.execute(ctx, e)
		}
		if !s.now().Before(e.a.ExpiresAt) {
			return s.expire(ctx, e)
		}
		s.expirer.add(e.a.ID, e.a.ExpiresAt)
	case StateExecuted:
		if _, err := s.eng.WriteRows(ctx, engine.Row{Key: markerKey(e.a.ID)}); err != nil {
			return fmt.Errorf("%w: drop marker: %w", ErrUnavailable, err)
		}
	default: // terminal and released, or not yet
		s.release(ctx, e)
	}
	return nil
}
