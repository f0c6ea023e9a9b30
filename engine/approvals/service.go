package approvals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

// Options configure a Service.
type Options struct {
	// Logger receives the service's logs; slog.Default() if nil.
	Logger *slog.Logger
	// Now is the clock of creations, decisions and expiries; time.Now if
	// nil. Give it the engine's clock.
	Now func() time.Time

	// seams are set by tests only (export_test.go).
	seams testSeams
}

// testSeams let tests stop the service between the steps of a transition
// (to take a crash image there).
type testSeams struct {
	// step, if set, runs after each durable step: "intended" (a Request's
	// intent written, before its reservation), "held" (the reservation
	// placed, before its PENDING record), "recorded" (a record written),
	// "executed" (a charge's capture done, before EXECUTED).
	step func(step string, a Approval)
}

// Service holds back spends for approval. Its methods are safe for
// concurrent use; decisions on one approval are serialized by its lock.
//
// Memory holds the approvals with work ahead (PENDING, APPROVED): their
// lock, their latest record and their expiry timer; the limits bound them
// per payer and per key. Everything else is read from the table.
type Service struct {
	eng     *engine.Engine
	options Options
	logger  *slog.Logger
	expirer *expirer

	mu         sync.Mutex
	entries    map[engine.TransferID]*entry
	perAccount map[engine.AccountID]int
	perKey     map[string]int
	closed     bool
	calls      sync.WaitGroup
}

// entry is an approval with work ahead, or one being created (a.State
// empty). Its lock serializes everything that changes it; gone means it
// left the map (terminal, or its creation failed): look again.
type entry struct {
	mu      sync.Mutex
	a       Approval
	counted bool // in perAccount and perKey
	gone    bool
}

// Open starts the service on eng and finishes what a restart interrupted:
// reservations placed without their record are adopted (or forgotten when
// never placed), approvals past their expiry expire (at their ExpiresAt),
// APPROVED ones execute, and terminal ones release their reservation
// again; PENDING ones are armed to expire on time.
func Open(eng *engine.Engine, options Options) (*Service, error) {
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	if options.Now == nil {
		options.Now = time.Now
	}
	s := &Service{
		eng: eng, options: options, logger: options.Logger,
		entries:    make(map[engine.TransferID]*entry),
		perAccount: make(map[engine.AccountID]int),
		perKey:     make(map[string]int),
	}
	s.expirer = newExpirer(s)
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("approvals: open: %w", err)
	}
	s.expirer.start()
	return s, nil
}

// Close stops the expirer and waits for calls in progress. Later calls
// fail with ErrUnavailable.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.expirer.stop()
	s.calls.Wait()
	return nil
}

func (s *Service) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: closed", ErrUnavailable)
	}
	s.calls.Add(1)
	return nil
}

func (s *Service) now() time.Time { return s.options.Now().UTC() }

func (s *Service) step(name string, a *Approval) {
	if s.options.seams.step != nil {
		s.options.seams.step(name, *a)
	}
}

// Get returns an approval as recorded.
func (s *Service) Get(id engine.TransferID) (Approval, error) {
	a, found, err := load(s.eng, id)
	if err != nil {
		return Approval{}, err
	}
	if !found {
		return Approval{}, fmt.Errorf("%w: approval %q", ErrNotFound, id)
	}
	return a, nil
}

// write makes a transition from prev to a durable; keep says whether a's
// marker stays (work remains). Writes outlive the caller's context: a
// write given up on may still become durable, and the entry must not
// guess which.
func (s *Service) write(ctx context.Context, prev, a *Approval, keep bool) error {
	if _, err := s.eng.WriteRows(context.WithoutCancel(ctx), recordRows(prev, a, keep)...); err != nil {
		return fmt.Errorf("%w: record %s %s: %w", ErrUnavailable, a.ID, a.State, err)
	}
	s.step("recorded", a)
	return nil
}

// reservation is the engine hold that reserves a's amount: under a's id,
// for as long as a may wait plus, for a charge, ReservationGrace, or for
// a hold the client's timeout (within the engine's bound), since the
// reservation becomes the client's hold.
func reservation(a *Approval, budget engine.Budget) engine.Hold {
	timeout := a.ExpiresAt.Sub(a.CreatedAt) + ReservationGrace
	if a.Kind == KindHold {
		timeout = min(a.ExpiresAt.Sub(a.CreatedAt)+a.HoldTimeout, time.Duration(ledger.HoldTimeoutMax))
	}
	return engine.Hold{ID: a.ID, From: a.From, To: a.To, Amount: a.Amount, Timeout: timeout, Memo: a.Memo, Budget: budget}
}

// engineErr wraps an engine error: ErrUnavailable too when the engine
// cannot answer (the operation may or may not have happened).
func engineErr(what string, id engine.TransferID, err error) error {
	if errors.Is(err, engine.ErrUnavailable) {
		return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, what, id, err)
	}
	return fmt.Errorf("approvals: %s %s: %w", what, id, err)
}

// clone returns a copy of a that shares no slice with it.
func clone(a Approval) Approval {
	a.Required = slices.Clone(a.Required)
	a.Decisions = slices.Clone(a.Decisions)
	return a
}

// remove takes e out of memory once it is terminal (or never was).
// REQUIRES: e.mu held.
func (s *Service) remove(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[e.a.ID] == e {
		delete(s.entries, e.a.ID)
	}
	if e.counted {
		s.uncount(e.a.From, e.a.KeyID)
		e.counted = false
	}
	e.gone = true
	s.expirer.remove(e.a.ID)
}

// uncount drops one approval with work ahead from the limits' counts.
// REQUIRES: s.mu held.
func (s *Service) uncount(account engine.AccountID, key string) {
	if s.perAccount[account]--; s.perAccount[account] <= 0 {
		delete(s.perAccount, account)
	}
	if s.perKey[key]--; s.perKey[key] <= 0 {
		delete(s.perKey, key)
	}
}

// count adds an approval to the limits' counts, refusing it past a limit
// unless force (a restart adopts what was durable).
func (s *Service) count(e *entry, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !force && s.perAccount[e.a.From] >= PendingPerAccountMax:
		return fmt.Errorf("%w: account %s has %d pending (PendingPerAccountMax)", ErrLimit, e.a.From, PendingPerAccountMax)
	case !force && s.perKey[e.a.KeyID] >= PendingPerKeyMax:
		return fmt.Errorf("%w: key %s has %d pending (PendingPerKeyMax)", ErrLimit, e.a.KeyID, PendingPerKeyMax)
	}
	s.perAccount[e.a.From]++
	s.perKey[e.a.KeyID]++
	e.counted = true
	return nil
}

// release voids a terminal approval's reservation and drops its marker.
// Voiding is idempotent, and a reservation the engine expired already is
// released too; if the engine cannot answer, the marker stays and the
// next Open voids again.
// REQUIRES: e.mu held; e.a REJECTED, EXPIRED or FAILED and durable.
func (s *Service) release(ctx context.Context, e *entry) {
	ctx = context.WithoutCancel(ctx)
	id := e.a.ID
	s.remove(e)
	err := s.eng.Void(ctx, id)
	switch {
	case err == nil, errors.Is(err, engine.ErrInvalidState), errors.Is(err, engine.ErrNotFound):
		// Released: now, or by the engine's expiry, or never placed.
	default:
		s.logger.Error("approvals: release failed; the next open releases it", "approval", id, "error", err)
		return
	}
	if _, err := s.eng.WriteRows(ctx, engine.Row{Key: markerKey(id)}); err != nil {
		s.logger.Warn("approvals: marker not dropped; the next open voids again", "approval", id, "error", err)
	}
}
