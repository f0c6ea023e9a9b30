package webhooks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Limits, each a named constant; Options lower some for tests.
const (
	// EndpointsPerOwnerMax bounds the endpoints one owner registers: each
	// has a worker goroutine and an outbox.
	EndpointsPerOwnerMax = 16
	// EventsPerEndpointMax bounds an endpoint's subscribed types (there are
	// len(EventTypes)).
	EventsPerEndpointMax = 9
	// LogEntriesPerEndpointMax bounds the delivery log kept per endpoint:
	// the oldest entries are deleted past it.
	LogEntriesPerEndpointMax = 1000
	// OutboxPerEndpointMax bounds the events waiting for one endpoint
	// (about 1 KB each in the table): past it, a new event is dropped and
	// the log says so, rather than the dispatcher waiting for a dead
	// receiver or the table growing without bound.
	OutboxPerEndpointMax = 10000
	// DeliveriesPageMax bounds a page of the delivery log.
	DeliveriesPageMax = 100
	// SecretChars is the random part of a signing secret: 43 base62
	// characters carry 256 bits.
	SecretChars = 43
	// SecretPrefix leads a signing secret.
	SecretPrefix = "whsec_"
	// EndpointIDPrefix leads an endpoint's id.
	EndpointIDPrefix = "we_"
	// dispatchBatchMax bounds the events taken off the subscription
	// before their outbox rows are written; dispatchRowsBytesMax keeps one
	// write within engine.RowsBytesMax, with room for the cursor's rows.
	dispatchBatchMax     = 512
	dispatchRowsBytesMax = engine.RowsBytesMax - 1024
	// idleConnectionsMax bounds the idle connections kept to receivers,
	// two per host at most.
	idleConnectionsMax = 256
	// FlushInterval bounds how long the cursor lags the events dispatched
	// when none was mapped (a restart reads them again, to no effect).
	FlushInterval = 5 * time.Second
)

// Errors of the registry, matched with errors.Is.
var (
	ErrNotFound    = errors.New("webhooks: endpoint not found")
	ErrInvalid     = errors.New("webhooks: invalid endpoint")
	ErrLimit       = errors.New("webhooks: endpoint limit reached")
	ErrUnavailable = errors.New("webhooks: deliverer unavailable")
)

// Endpoint is a registered receiver of events.
//
// NB: Secret is stored as it is, retrievable: it is the HMAC key each
// delivery is signed with, so unlike an API key it cannot be kept as a
// hash. It is shown to its owner once, at creation, and never listed.
type Endpoint struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"` // the user who registered it
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	AccountID string    `json:"accountId,omitempty"` // only this account's events; empty: every account of Owner
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
}

// wants reports whether the endpoint receives events of kind for account,
// whose owner is owner.
func (e *Endpoint) wants(kind string, account engine.AccountID, owner string) bool {
	return e.Owner == owner && (e.AccountID == "" || e.AccountID == string(account)) && slices.Contains(e.Events, kind)
}

// Options configure a Service. OwnerOf is required; zero values of the
// others take the defaults.
type Options struct {
	Logger *slog.Logger
	// OwnerOf names the user who owns an account: whose endpoints receive
	// its events.
	OwnerOf func(engine.AccountID) (owner string, ok bool)
	// DialContext opens the connections to receivers: the egress policy's
	// dialer, which refuses private addresses at connect time. nil: a
	// net.Dialer (tests on 127.0.0.1).
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// Now is the clock of the retry window and the log's times; Sleep
	// waits out a backoff (or until ctx ends). Tests inject both, so no
	// test sleeps through a backoff.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// AttemptTimeout bounds one delivery attempt; AttemptTimeoutDefault.
	AttemptTimeout time.Duration
	// OutboxMax lowers OutboxPerEndpointMax (tests).
	OutboxMax int
	// Rows maps table rows to events (rows_events.go); zero: none.
	Rows Rows
}

// Service is the endpoint registry and the deliverer. Its methods are
// safe for concurrent use.
type Service struct {
	engine  *engine.Engine
	logger  *slog.Logger
	options Options
	client  *http.Client
	sub     *engine.Subscription
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the dispatcher has stopped

	// changes serializes Create and Delete (the per-owner cap holds), and
	// the dispatcher's writes with them (write).
	changes sync.Mutex

	mu        sync.Mutex
	endpoints map[string]*endpointState
	failure   error

	closeOnce sync.Once
	closeErr  error

	// Owned by the dispatcher.
	cursor, persisted uint64
}

// endpointState is an endpoint with its outbox and log bounds and its
// worker. The sequence fields are guarded by Service.mu.
type endpointState struct {
	Endpoint
	outboxHead, outboxNext uint64 // the outbox holds [head, next)
	logFirst, logNext      uint64 // the log holds [first, next), gaps allowed
	wake                   chan struct{}
	ctx                    context.Context
	cancel                 context.CancelFunc
	done                   chan struct{}
}

// startSequences starts an empty outbox or log at sequence 1 (0 is none).
func (st *endpointState) startSequences() {
	if st.outboxNext == 0 {
		st.outboxHead, st.outboxNext = 1, 1
	}
	if st.logNext == 0 {
		st.logFirst, st.logNext = 1, 1
	}
}

// Open loads the endpoints, their outboxes and logs and the cursor from
// eng's table, starts a worker per endpoint and resumes dispatching after
// the cursor. A new deliverer starts at the latest durable position: the
// events before it are not delivered (endpoints learn what happens from
// their registration on, not the history).
//
// REQUIRES: eng stays open until Close returns.
func Open(eng *engine.Engine, options Options) (*Service, error) {
	if options.OwnerOf == nil {
		return nil, errors.New("webhooks: Options.OwnerOf is required")
	}
	if err := options.Rows.check(); err != nil {
		return nil, err
	}
	options = options.withDefaults()
	s := &Service{engine: eng, logger: options.Logger, options: options,
		endpoints: make(map[string]*endpointState), done: make(chan struct{})}
	s.client = &http.Client{
		Transport: &http.Transport{DialContext: options.DialContext, MaxIdleConns: idleConnectionsMax, MaxIdleConnsPerHost: 2,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, DisableCompression: true},
		// A redirect is a non-2xx answer: following it would send the
		// signed event to a target its owner did not register.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	cursor, found, err := s.loadCursor()
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for attempt := 0; ; attempt++ {
		if !found {
			if cursor, err = s.register(); err != nil {
				s.cancel()
				return nil, err
			}
		}
		s.sub, err = eng.SubscribeWith(s.ctx, cursor+1, engine.SubscribeOptions{RowPrefixes: options.Rows.Prefixes})
		if errors.Is(err, engine.ErrTruncated) && !found && attempt == 0 {
			continue // a snapshot truncated past the registration as it committed
		}
		if err != nil {
			s.cancel()
			return nil, fmt.Errorf("webhooks: resume after position %d: %w", cursor, err)
		}
		break
	}
	s.cursor, s.persisted = cursor, cursor
	for _, st := range s.endpoints {
		s.startWorker(st)
	}
	go s.dispatch()
	return s, nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = AttemptTimeoutDefault
	}
	if o.OutboxMax <= 0 || o.OutboxMax > OutboxPerEndpointMax {
		o.OutboxMax = OutboxPerEndpointMax
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// load reads the endpoints, then the bounds of their outboxes and logs,
// deleting the rows of endpoints that no longer exist (a Delete that
// stopped between its writes).
func (s *Service) load() error {
	err := s.engine.ScanRows([]byte(endpointPrefix), func(key, value []byte) error {
		var e Endpoint
		if err := json.Unmarshal(value, &e); err != nil || e.ID != string(key[len(endpointPrefix):]) {
			return fmt.Errorf("%w: endpoint %q", errCorrupt, key)
		}
		s.endpoints[e.ID] = &endpointState{Endpoint: e}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhooks: load endpoints: %w", err)
	}
	var orphans []engine.Row
	for _, prefix := range []string{outboxPrefix, logPrefix} {
		err := s.engine.ScanRows([]byte(prefix), func(key, _ []byte) error {
			id, sequence, err := splitSequenceKey(prefix, key)
			if err != nil {
				return err
			}
			st := s.endpoints[id]
			if st == nil {
				orphans = append(orphans, engine.Row{Key: append([]byte(nil), key...)})
				return nil
			}
			first, next := &st.outboxHead, &st.outboxNext
			if prefix == logPrefix {
				first, next = &st.logFirst, &st.logNext
			}
			if *next == 0 {
				*first = sequence
			}
			*next = sequence + 1
			return nil
		})
		if err != nil {
			return fmt.Errorf("webhooks: load %s: %w", prefix, err)
		}
	}
	for _, st := range s.endpoints {
		st.startSequences()
	}
	return s.deleteRows(context.Background(), orphans)
}

// deleteRows deletes rows in as many writes as engine.RowsBytesMax needs.
func (s *Service) deleteRows(ctx context.Context, rows []engine.Row) error {
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && size+len(rows[n].Key) <= dispatchRowsBytesMax {
			size += len(rows[n].Key)
			n++
		}
		if _, err := s.engine.WriteRows(ctx, rows[:n]...); err != nil {
			return fmt.Errorf("webhooks: delete rows: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// loadCursor reads the cursor; found is false for a new deliverer.
func (s *Service) loadCursor() (cursor uint64, found bool, err error) {
	err = s.engine.ScanRows([]byte(cursorKey), func(key, value []byte) error {
		if string(key) != cursorKey || len(value) != 8 {
			return fmt.Errorf("%w: cursor %q = %x", errCorrupt, key, value)
		}
		cursor, found = binary.BigEndian.Uint64(value), true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("webhooks: load cursor: %w", err)
	}
	return cursor, found, nil
}

// register writes a new deliverer's cursor and retention at the latest
// durable position, in one write.
func (s *Service) register() (uint64, error) {
	cursor := s.engine.Position()
	if _, err := s.engine.WriteRows(context.Background(), cursorRow(cursor), engine.RetainRow(RetentionName, cursor)); err != nil {
		return 0, fmt.Errorf("webhooks: register: %w", err)
	}
	return cursor, nil
}

// Close stops the dispatcher and the workers (an attempt in flight is
// abandoned; its event stays in the outbox and is sent again after a
// restart) and persists the cursor. Call it before the engine's Close.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.mu.Lock()
		workers := make([]*endpointState, 0, len(s.endpoints))
		for _, st := range s.endpoints {
			workers = append(workers, st)
		}
		failure := s.failure
		if s.failure == nil {
			s.failure = fmt.Errorf("%w: closed", ErrUnavailable)
		}
		s.mu.Unlock()
		for _, st := range workers {
			st.cancel()
			<-st.done
		}
		if failure == nil {
			failure = s.flushCursor()
		}
		s.closeErr = failure
	})
	return s.closeErr
}

func (s *Service) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		s.failure = fmt.Errorf("%w: %v", ErrUnavailable, err)
		s.logger.Error("webhooks stopped; reopen to recover", "error", err)
	}
}

func (s *Service) unavailable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

// Create registers an endpoint of owner (its URL checked by the caller's
// egress policy, its account owned by owner) with a new id and signing
// secret, and starts delivering to it. It returns the endpoint, secret
// included: the only time the secret leaves the service.
func (s *Service) Create(ctx context.Context, owner, url string, events []string, account string) (Endpoint, error) {
	if owner == "" || url == "" || len(events) == 0 || len(events) > EventsPerEndpointMax {
		return Endpoint{}, fmt.Errorf("%w: owner, url and 1-%d events are required", ErrInvalid, EventsPerEndpointMax)
	}
	for i, name := range events {
		if !IsEventType(name) || slices.Contains(events[:i], name) {
			return Endpoint{}, fmt.Errorf("%w: event %q unknown or repeated", ErrInvalid, name)
		}
	}
	if err := s.unavailable(); err != nil {
		return Endpoint{}, err
	}
	s.changes.Lock()
	defer s.changes.Unlock()
	if len(s.Endpoints(owner)) >= EndpointsPerOwnerMax {
		return Endpoint{}, fmt.Errorf("%w: an owner may register at most %d endpoints", ErrLimit, EndpointsPerOwnerMax)
	}
	e := Endpoint{ID: EndpointIDPrefix + access.RandomBase62(22), Owner: owner, URL: url,
		Events: slices.Clone(events), AccountID: account,
		Secret: SecretPrefix + access.RandomBase62(SecretChars), CreatedAt: s.options.Now().UTC().Truncate(time.Second)}
	value, err := json.Marshal(&e)
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: encode endpoint: %w", err)
	}
	if _, err := s.engine.WriteRows(ctx, engine.Row{Key: endpointKey(e.ID), Value: value}); err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: create endpoint: %w", err)
	}
	st := &endpointState{Endpoint: e}
	st.startSequences()
	s.startWorker(st) // before the dispatcher can see it and its wake channel
	s.mu.Lock()
	s.endpoints[e.ID] = st
	s.mu.Unlock()
	return e, nil
}

// Endpoints returns owner's endpoints, oldest first, without secrets.
func (s *Service) Endpoints(owner string) []Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Endpoint
	for _, st := range s.endpoints {
		if st.Owner == owner {
			e := st.Endpoint
			e.Secret = ""
			list = append(list, e)
		}
	}
	slices.SortFunc(list, func(a, b Endpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return list
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns owner's endpoint id, without its secret; ErrNotFound if it
// is not owner's.
func (s *Service) Get(id, owner string) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.endpoints[id]
	if st == nil || st.Owner != owner {
		return Endpoint{}, ErrNotFound
	}
	e := st.Endpoint
	e.Secret = ""
	return e, nil
}

// Delete removes owner's endpoint id: no delivery starts after it returns.
// Its outbox and log are deleted with it.
func (s *Service) Delete(ctx context.Context, id, owner string) error {
	s.changes.Lock()
	defer s.changes.Unlock()
	if _, err := s.Get(id, owner); err != nil {
		return err
	}
	if _, err := s.engine.WriteRows(ctx, engine.Row{Key: endpointKey(id)}); err != nil {
		return fmt.Errorf("webhooks: delete endpoint: %w", err)
	}
	s.mu.Lock()
	st := s.endpoints[id]
	delete(s.endpoints, id)
	s.mu.Unlock()
	st.cancel()
	<-st.done
	var rows []engine.Row
	for _, prefix := range []string{outboxPrefix, logPrefix} {
		err := s.engine.ScanRows(sequencePrefix(prefix, id), func(key, _ []byte) error {
			rows = append(rows, engine.Row{Key: append([]byte(nil), key...)})
			return nil
		})
		if err != nil {
			return fmt.Errorf("webhooks: delete endpoint %s: %w", id, err)
		}
	}
	// The dispatcher writes no row of id after this scan (write).
	return s.deleteRows(ctx, rows)
}

// Deliveries returns a page of owner's endpoint id's delivery log, newest
// first: up to limit entries before the sequence before (0: from the
// newest), and whether older ones remain.
func (s *Service) Deliveries(id, owner string, before uint64, limit int) ([]Delivery, bool, error) {
	limit = min(max(limit, 1), DeliveriesPageMax)
	s.mu.Lock()
	st := s.endpoints[id]
	if st == nil || st.Owner != owner {
		s.mu.Unlock()
		return nil, false, ErrNotFound
	}
	first, next := st.logFirst, st.logNext
	s.mu.Unlock()
	if before == 0 || before > next {
		before = next
	}
	if before <= first {
		return []Delivery{}, false, nil
	}
	from := first
	if before-first > uint64(limit) {
		from = before - uint64(limit)
	}
	page := make([]Delivery, 0, before-from)
	prefix := sequencePrefix(logPrefix, id)
	err := s.engine.ScanRowsFrom(prefix, sequenceKey(logPrefix, id, from), func(key, value []byte) error {
		_, sequence, err := splitSequenceKey(logPrefix, key)
		if err != nil || sequence >= before {
			return errStopScan
		}
		var d Delivery
		if err := json.Unmarshal(value, &d); err != nil {
			return fmt.Errorf("%w: delivery %q", errCorrupt, key)
		}
		d.Sequence = sequence
		page = append(page, d)
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, false, fmt.Errorf("webhooks: read deliveries of %s: %w", id, err)
	}
	slices.Reverse(page)
	return page, from > first, nil
}

var errStopScan = errors.New("stop scan")
