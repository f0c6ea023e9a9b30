package approvals

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

// Decide records one role's decision on a PENDING approval, durably, and
// acts on it: a rejection makes it REJECTED and releases the reservation;
// the last required approval makes it APPROVED and executes the spend
// (EXECUTED, or FAILED with the engine's refusal, released). d.At is set
// here.
//
// Errors: ErrInvalid (an unknown role, By empty or too long, a reason over
// ReasonBytesMax), ErrNotFound, ErrNotRequired (the role is not among the
// approval's), ErrOwnKey (an arbiter decision by the requesting key),
// ErrDecided (the role decided already), ErrNotPending (terminal, or past
// its expiry: it expires then). The approval is returned with them when
// it exists. An approval whose decision is durable but whose execution
// the engine could not answer is returned APPROVED with ErrUnavailable;
// the next Open executes it.
func (s *Service) Decide(ctx context.Context, id engine.TransferID, d Decision) (Approval, error) {
	switch {
	case !d.Role.Valid():
		return Approval{}, fmt.Errorf("%w: role %q", ErrInvalid, d.Role)
	case !ledger.ValidID(d.By, DeciderBytesMax):
		return Approval{}, fmt.Errorf("%w: decider: want 1-%d printable bytes", ErrInvalid, DeciderBytesMax)
	case len(d.Reason) > ReasonBytesMax:
		return Approval{}, fmt.Errorf("%w: reason of %d bytes exceeds %d (ReasonBytesMax)", ErrInvalid, len(d.Reason), ReasonBytesMax)
	}
	if err := s.enter(); err != nil {
		return Approval{}, err
	}
	defer s.calls.Done()
	for {
		s.mu.Lock()
		e := s.entries[id]
		s.mu.Unlock()
		if e == nil {
			a, err := s.Get(id)
			if err != nil {
				return Approval{}, err
			}
			return a, refusal(&a, &d)
		}
		e.mu.Lock()
		if e.gone || e.a.State == "" {
			gone := e.gone
			e.mu.Unlock()
			if gone {
				continue
			}
			return Approval{}, fmt.Errorf("%w: approval %q", ErrNotFound, id) // being created: not yet acknowledged
		}
		a, err := s.decide(ctx, e, d)
		e.mu.Unlock()
		return a, err
	}
}

// refusal returns why d cannot be taken on a, nil if it can.
func refusal(a *Approval, d *Decision) error {
	switch {
	case !slices.Contains(a.Required, d.Role):
		return fmt.Errorf("%w: %s does not decide approval %s", ErrNotRequired, d.Role, a.ID)
	case d.Role == RoleArbiter && d.By == a.KeyID:
		return fmt.Errorf("%w: approval %s", ErrOwnKey, a.ID)
	case slices.ContainsFunc(a.Decisions, func(prior Decision) bool { return prior.Role == d.Role }):
		return fmt.Errorf("%w: %s on approval %s", ErrDecided, d.Role, a.ID)
	case a.State != StatePending:
		return fmt.Errorf("%w: approval %s is %s", ErrNotPending, a.ID, a.State)
	}
	return nil
}

// decide takes d on e.
// REQUIRES: e.mu held; e recorded.
func (s *Service) decide(ctx context.Context, e *entry, d Decision) (Approval, error) {
	now := s.now()
	if e.a.State == StatePending && !now.Before(e.a.ExpiresAt) {
		if err := s.expire(ctx, e); err != nil {
			return clone(e.a), err
		}
	}
	if err := refusal(&e.a, &d); err != nil {
		return clone(e.a), err
	}
	prev := clone(e.a)
	a := clone(e.a)
	d.At = now
	a.Decisions = append(a.Decisions, d)
	switch {
	case !d.Approved:
		a.State, a.DecidedAt = StateRejected, now
	case len(a.Decisions) < len(a.Required):
		// Waits for the other role.
	case a.Kind == KindHold:
		// The reservation is the client's hold: executing it is recording so.
		a.State, a.DecidedAt, a.TransferID = StateExecuted, now, a.ID
	default:
		a.State, a.DecidedAt = StateApproved, now
	}
	if err := s.write(ctx, &prev, &a, a.State != StateExecuted); err != nil {
		return clone(e.a), err
	}
	e.a = a
	switch a.State {
	case StateRejected:
		s.release(ctx, e)
	case StateExecuted:
		s.remove(e)
	case StateApproved:
		if err := s.execute(ctx, e); err != nil {
			return clone(e.a), err
		}
	}
	return clone(e.a), nil
}

// execute makes an APPROVED charge's spend: the capture of its whole
// reservation, the fee as locked when it was placed (the charge's, had it
// been made then). A capture again replays the first, so a restart may
// execute again. The engine's refusal makes it FAILED, released.
// REQUIRES: e.mu held; e.a APPROVED and durable.
func (s *Service) execute(ctx context.Context, e *entry) error {
	ctx = context.WithoutCancel(ctx)
	prev := clone(e.a)
	a := clone(e.a)
	_, err := s.eng.Capture(ctx, a.ID, a.Amount)
	switch {
	case err == nil:
		s.step("executed", &a)
		a.State, a.TransferID = StateExecuted, a.ID
	case errors.Is(err, engine.ErrUnavailable):
		return engineErr("execute", a.ID, err)
	default:
		a.State, a.Error = StateFailed, err.Error()
	}
	if err := s.write(ctx, &prev, &a, a.State == StateFailed); err != nil {
		return err
	}
	e.a = a
	if a.State == StateFailed {
		s.release(ctx, e)
	} else {
		s.remove(e)
	}
	return nil
}

// expire makes a PENDING approval EXPIRED, at its ExpiresAt (whenever
// this runs), and releases its reservation.
// REQUIRES: e.mu held; e.a PENDING and durable.
func (s *Service) expire(ctx context.Context, e *entry) error {
	prev := clone(e.a)
	a := clone(e.a)
	a.State, a.DecidedAt = StateExpired, a.ExpiresAt
	if err := s.write(ctx, &prev, &a, true); err != nil {
		return err
	}
	e.a = a
	s.release(ctx, e)
	return nil
}

// expireDue expires approval id if it is PENDING and due by now: the
// expirer's call.
func (s *Service) expireDue(id engine.TransferID) {
	s.mu.Lock()
	e := s.entries[id]
	s.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone || e.a.State != StatePending {
		return
	}
	if s.now().Before(e.a.ExpiresAt) { // a clock behind the timer's: look again
		s.expirer.add(id, e.a.ExpiresAt)
		return
	}
	if err := s.expire(context.Background(), e); err != nil {
		s.logger.Error("approvals: expiry not recorded; the next open expires it", "approval", id, "error", err)
	}
}
