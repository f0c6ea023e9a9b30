package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

// Request holds back a spend: it reserves the amount on the payer (an
// engine hold under r.ID) and records the approval PENDING, durably, before
// it returns. A Request with the id of an existing approval and the same
// content returns that approval (replayed), whatever its state; with other
// content, ErrIDConflict. The engine's refusal of the reservation
// (engine.ErrInsufficientFunds, ErrBudgetExceeded, ErrLimitExceeded,
// ErrNotFound, …) is returned wrapped, and nothing is recorded; ErrLimit
// past PendingPerAccountMax or PendingPerKeyMax.
//
// Steps, each durable before the next: an intent (the record to be, under
// the marker key), the reservation, the PENDING record. A crash between
// them leaves an intent the next Open resolves by the engine's answer: a
// reservation placed is adopted, one never placed forgets the intent.
func (s *Service) Request(ctx context.Context, r Request) (Approval, bool, error) {
	if err := checkRequest(&r); err != nil {
		return Approval{}, false, err
	}
	if err := s.enter(); err != nil {
		return Approval{}, false, err
	}
	defer s.calls.Done()
	for {
		s.mu.Lock()
		e := s.entries[r.ID]
		fresh := e == nil
		if fresh {
			e = &entry{a: Approval{ID: r.ID}}
			e.mu.Lock()
			s.entries[r.ID] = e
		}
		s.mu.Unlock()
		if !fresh {
			e.mu.Lock()
			a, gone := clone(e.a), e.gone
			e.mu.Unlock()
			if gone {
				continue // terminal or failed since: the table or a fresh entry says
			}
			return replayOf(a, &r)
		}
		a, replayed, err := s.create(ctx, e, &r)
		if err != nil || a.State != StatePending {
			s.remove(e)
		}
		e.mu.Unlock()
		return a, replayed, err
	}
}

// create runs a Request's steps for its fresh entry e.
// REQUIRES: e.mu held.
func (s *Service) create(ctx context.Context, e *entry, r *Request) (Approval, bool, error) {
	// A record written before (the entry is new: it is terminal, or a
	// restart's) answers a retry.
	if recorded, found, err := load(s.eng, r.ID); err != nil || found {
		if err != nil {
			return Approval{}, false, err
		}
		return replayOf(recorded, r)
	}
	a := approvalOf(r, s.now())
	intent, found, err := readRow(s.eng, markerKey(r.ID))
	if err != nil {
		return Approval{}, false, err
	}
	if found { // an earlier try placed (or meant to place) the reservation
		var earlier Approval
		if err := json.Unmarshal(intent, &earlier); err != nil {
			return Approval{}, false, fmt.Errorf("%w: intent %s: %v", errCorrupt, r.ID, err)
		}
		if !sameRequest(&earlier, r) {
			return Approval{}, false, fmt.Errorf("%w: approval %s", ErrIDConflict, r.ID)
		}
		a = earlier
	}
	e.a = a
	if err := s.count(e, false); err != nil {
		return Approval{}, false, err
	}
	if !found {
		if _, err := s.eng.WriteRows(ctx, engine.Row{Key: markerKey(a.ID), Value: encodeApproval(&a)}); err != nil {
			return Approval{}, false, fmt.Errorf("%w: intent %s: %w", ErrUnavailable, a.ID, err)
		}
		s.step("intended", &a)
	}
	held, err := s.eng.Hold(context.WithoutCancel(ctx), reservation(&a, r.Budget))
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrUnavailable):
		return Approval{}, false, engineErr("reserve", a.ID, err) // the intent stays: Open learns what happened
	default:
		// Refused: nothing was placed; the intent goes (Open would drop it
		// too, finding no reservation).
		if _, derr := s.eng.WriteRows(context.WithoutCancel(ctx), engine.Row{Key: markerKey(a.ID)}); derr != nil {
			s.logger.Warn("approvals: intent not dropped; the next open does", "approval", a.ID, "error", derr)
		}
		if errors.Is(err, engine.ErrIdempotencyConflict) {
			return Approval{}, false, fmt.Errorf("%w: %w", ErrIDConflict, err)
		}
		return Approval{}, false, engineErr("reserve", a.ID, err)
	}
	s.step("held", &a)
	if err := s.adopt(ctx, e, &a, held); err != nil {
		return Approval{}, false, err
	}
	return clone(e.a), false, nil
}

// adopt records the approval a whose reservation is held (placed now, or
// by an earlier try), created when the hold was placed, PENDING, and arms
// its expiry; a reservation the engine already closed (expired while no
// service owned it) makes it EXPIRED.
// REQUIRES: e.mu held; e counted.
func (s *Service) adopt(ctx context.Context, e *entry, a *Approval, held engine.Transfer) error {
	if !held.Created.IsZero() { // the engine's stamp: the reservation's deadline counts from it
		expiresIn := a.ExpiresAt.Sub(a.CreatedAt)
		a.CreatedAt = held.Created.UTC()
		a.ExpiresAt = a.CreatedAt.Add(expiresIn)
	}
	a.State = StatePending
	if held.Replayed && held.State != engine.HoldOpen {
		a.State, a.DecidedAt = StateExpired, a.ExpiresAt
	}
	if err := s.write(ctx, nil, a, a.State == StatePending); err != nil {
		return err
	}
	e.a = *a
	if a.State == StatePending {
		s.expirer.add(a.ID, a.ExpiresAt)
	}
	return nil
}

// approvalOf is the record r asks for, created now.
func approvalOf(r *Request, now time.Time) Approval {
	return Approval{
		ID: r.ID, Kind: r.Kind, KeyID: r.KeyID, Owner: r.Owner, From: r.From, To: r.To, Amount: r.Amount,
		Memo: r.Memo, HoldTimeout: r.HoldTimeout, Required: requiredOf(r.Policy.Approvers), Decisions: []Decision{},
		CreatedAt: now, ExpiresAt: now.Add(r.Policy.ExpiresIn),
	}
}

// requiredOf orders the roles: owner first.
func requiredOf(approvers []Role) []Role {
	required := slices.Clone(approvers)
	slices.SortFunc(required, func(a, b Role) int { return roleRank(a) - roleRank(b) })
	return required
}

func roleRank(r Role) int {
	if r == RoleOwner {
		return 0
	}
	return 1
}

// sameRequest reports whether a was recorded for a request of r's content.
func sameRequest(a *Approval, r *Request) bool {
	return a.Kind == r.Kind && a.KeyID == r.KeyID && a.Owner == r.Owner && a.From == r.From && a.To == r.To &&
		a.Amount == r.Amount && a.Memo == r.Memo && a.HoldTimeout == r.HoldTimeout &&
		slices.Equal(a.Required, requiredOf(r.Policy.Approvers)) && a.ExpiresAt.Sub(a.CreatedAt) == r.Policy.ExpiresIn
}

func replayOf(a Approval, r *Request) (Approval, bool, error) {
	if !sameRequest(&a, r) {
		return Approval{}, false, fmt.Errorf("%w: approval %s", ErrIDConflict, r.ID)
	}
	return a, true, nil
}

// checkRequest validates a Request before anything is written.
func checkRequest(r *Request) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch {
	case !strings.HasPrefix(string(r.ID), IDPrefix) || len(r.ID) == len(IDPrefix) || !ledger.ValidTransferID(r.ID):
		return invalid("id %q: want %q and up to %d printable bytes", r.ID, IDPrefix, ledger.TransferIDBytesMax)
	case r.Kind != KindCharge && r.Kind != KindHold:
		return invalid("kind %q", r.Kind)
	case !ledger.ValidID(r.KeyID, KeyIDBytesMax):
		return invalid("key id: want 1-%d printable bytes", KeyIDBytesMax)
	case !ledger.ValidID(r.Owner, OwnerBytesMax):
		return invalid("owner: want 1-%d printable bytes", OwnerBytesMax)
	case r.Amount.IsZero():
		return invalid("amount must be positive")
	case len(r.Memo) > engine.MemoBytesMax:
		return invalid("memo of %d bytes exceeds %d", len(r.Memo), engine.MemoBytesMax)
	case r.Kind == KindCharge && r.HoldTimeout != 0:
		return invalid("a charge has no hold timeout")
	case r.Kind == KindHold && (r.HoldTimeout <= 0 || r.HoldTimeout > time.Duration(ledger.HoldTimeoutMax)):
		return invalid("hold timeout %v outside (0, %v]", r.HoldTimeout, time.Duration(ledger.HoldTimeoutMax))
	}
	return r.Policy.Validate()
}
