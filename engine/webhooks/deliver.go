package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/httpapi/signature"
)

// Delivery timing.
const (
	// AttemptTimeoutDefault bounds one attempt: connecting, sending and
	// reading the answer's status.
	AttemptTimeoutDefault = 10 * time.Second
	// BackoffFirst is the wait after a first failed attempt; each next
	// one doubles, up to BackoffMax.
	BackoffFirst = 5 * time.Second
	BackoffMax   = time.Hour
	// RetryWindow is how long after its first attempt an event is retried;
	// the attempt that fails past it is the last (API.md: 72 h).
	RetryWindow = 72 * time.Hour
	// responseBytesMax bounds what is read of a receiver's answer (to
	// reuse the connection); the rest is not read.
	responseBytesMax = 4 << 10
	// UserAgent is the deliveries' User-Agent.
	UserAgent = "Tollway-Webhooks/1"
)

// Backoff returns the wait after the attempts-th failed attempt.
func Backoff(attempts uint32) time.Duration {
	if attempts == 0 {
		return 0
	}
	if attempts > 20 {
		return BackoffMax
	}
	return min(BackoffFirst<<(attempts-1), BackoffMax)
}

// dispatch follows the subscription, writing each mapped event into the
// outboxes of the endpoints that want it, in batches: what the channel
// holds, up to dispatchBatchMax events, in one write with the cursor.
func (s *Service) dispatch() {
	defer close(s.done)
	ticker := time.NewTicker(FlushInterval)
	defer ticker.Stop()
	for {
		var batch dispatchBatch
		select {
		case ev, ok := <-s.sub.C:
			if !ok {
				if err := s.sub.Err(); err != nil {
					s.fail(fmt.Errorf("subscription: %w", err))
				}
				return
			}
			if err := s.take(&batch, ev); err != nil {
				s.fail(err)
				return
			}
		drain:
			for range dispatchBatchMax - 1 {
				select {
				case ev, ok := <-s.sub.C:
					if !ok {
						break drain // the next pass sees the channel closed
					}
					if err := s.take(&batch, ev); err != nil {
						s.fail(err)
						return
					}
				default:
					break drain
				}
			}
			if len(batch.rows) > 0 {
				if err := s.write(&batch); err != nil {
					s.fail(err)
					return
				}
			}
		case <-ticker.C:
			if err := s.flushCursor(); err != nil {
				s.fail(err)
				return
			}
		}
	}
}

// eventRowOverheadMax bounds what an outbox row adds to its event's body:
// its key, the attempts, the account; or a dropped entry with its trim.
const eventRowOverheadMax = 512

// One event's rows for every endpoint that may want it fit in one write
// (a negative array length does not compile).
var _ [dispatchRowsBytesMax - 2*EndpointsPerOwnerMax*(EventBytesMax+eventRowOverheadMax)]struct{}

// dispatchBatch is the rows of events taken off the subscription and not
// written yet, and the workers to wake once they are.
type dispatchBatch struct {
	rows  []engine.Row
	of    []*endpointState // the endpoint of each row
	bytes int
	wake  []*endpointState
}

// take maps one event into the batch, writing the batch first if the
// event's rows could take it past dispatchRowsBytesMax.
func (s *Service) take(batch *dispatchBatch, ev engine.Event) error {
	if ev.Type == engine.EventRowsWritten {
		return s.takeRows(batch, ev)
	}
	all, err := eventOf(ev)
	if err != nil {
		return err
	}
	if len(all) > 1 && len(batch.rows) > 0 && batch.bytes+rowsBytesBound(all) > dispatchRowsBytesMax {
		// The webhook events of one committed event go in one write, as
		// each one's rows do (enqueue), so write the batch first.
		if err := s.write(batch); err != nil {
			return err
		}
	}
	for _, m := range all {
		if err := s.enqueue(batch, m); err != nil {
			return err
		}
	}
	s.cursor = ev.Position
	return nil
}

// rowsBytesBound bounds the outbox rows of all: each account's owner has
// at most EndpointsPerOwnerMax endpoints.
func rowsBytesBound(all []mapped) int {
	total := 0
	for _, m := range all {
		total += len(m.accounts) * EndpointsPerOwnerMax * (len(m.body) + eventRowOverheadMax)
	}
	return total
}

// enqueue adds the outbox rows of one mapped event (a dropped entry in
// the log of an endpoint whose outbox is full).
func (s *Service) enqueue(batch *dispatchBatch, m mapped) error {
	owners := make([]string, len(m.accounts))
	for i, account := range m.accounts {
		owners[i], _ = s.options.OwnerOf(account)
	}
	s.mu.Lock()
	var targets []*endpointState
	accounts := make([]engine.AccountID, 0, 2)
	for _, st := range s.endpoints {
		for i, account := range m.accounts {
			if owners[i] != "" && st.wants(m.kind, account, owners[i]) {
				targets = append(targets, st)
				accounts = append(accounts, account)
				break // once per endpoint, though it owns both accounts
			}
		}
	}
	s.mu.Unlock()
	// One event's rows go in one write, with the cursor before it or
	// after it, never between: a restart would enqueue it again for some
	// endpoints. They fit: at most 2 owners' EndpointsPerOwnerMax rows of
	// EventBytesMax (and a debit's two events, to one owner, as many).
	if batch.bytes+len(targets)*(len(m.body)+eventRowOverheadMax) > dispatchRowsBytesMax && len(batch.rows) > 0 {
		if err := s.write(batch); err != nil {
			return err
		}
	}
	for i, st := range targets {
		row, ok := s.outboxRow(st, pending{account: accounts[i], body: m.body})
		if !ok {
			s.logger.Warn("webhooks: outbox full, event dropped", "endpoint", st.ID, "event", m.id)
			rows := s.logRows(st, &Delivery{EventID: m.id, Type: m.kind, Outcome: OutcomeDropped,
				Error: "the endpoint's outbox is full", At: s.options.Now().UTC()})
			batch.add(st, rows...)
			continue
		}
		batch.add(st, row)
		batch.wake = append(batch.wake, st)
	}
	return nil
}

func (b *dispatchBatch) add(st *endpointState, rows ...engine.Row) {
	for _, row := range rows {
		b.rows = append(b.rows, row)
		b.of = append(b.of, st)
		b.bytes += len(row.Key) + len(row.Value)
	}
}

// outboxRow allocates the next outbox sequence of st; ok is false if its
// outbox is full.
func (s *Service) outboxRow(st *endpointState, p pending) (engine.Row, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.outboxNext-st.outboxHead >= uint64(s.options.OutboxMax) {
		return engine.Row{}, false
	}
	sequence := st.outboxNext
	st.outboxNext++
	return engine.Row{Key: sequenceKey(outboxPrefix, st.ID, sequence), Value: p.encode()}, true
}

// logRows allocates the next log sequence of st for d and deletes the
// oldest entries past LogEntriesPerEndpointMax.
func (s *Service) logRows(st *endpointState, d *Delivery) []engine.Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Sequence = st.logNext
	st.logNext++
	rows := []engine.Row{{Key: sequenceKey(logPrefix, st.ID, d.Sequence), Value: d.encode()}}
	for st.logNext-st.logFirst > LogEntriesPerEndpointMax {
		rows = append(rows, engine.Row{Key: sequenceKey(logPrefix, st.ID, st.logFirst)})
		st.logFirst++
	}
	return rows
}

// write makes the batch durable with the cursor and the retention, then
// wakes its workers.
func (s *Service) write(batch *dispatchBatch) error {
	// Under changes, so that a Delete reads its endpoint's rows either
	// after this write or before it, and then the endpoint is gone from
	// s.endpoints here and its rows are left out: none outlives it.
	s.changes.Lock()
	defer s.changes.Unlock()
	rows := batch.rows[:0]
	s.mu.Lock()
	for i, row := range batch.rows {
		if st := batch.of[i]; s.endpoints[st.ID] == st {
			rows = append(rows, row)
		}
	}
	s.mu.Unlock()
	rows = append(rows, cursorRow(s.cursor), engine.RetainRow(RetentionName, s.cursor))
	if _, err := s.engine.WriteRows(context.Background(), rows...); err != nil {
		return fmt.Errorf("webhooks: enqueue through position %d: %w", s.cursor, err)
	}
	s.persisted = s.cursor
	for _, st := range batch.wake {
		select {
		case st.wake <- struct{}{}:
		default: // awake already
		}
	}
	*batch = dispatchBatch{}
	return nil
}

// flushCursor persists the cursor if it moved past events no endpoint
// wanted. Only the dispatcher, or Close after it stopped, calls it.
func (s *Service) flushCursor() error {
	if s.cursor == s.persisted {
		return nil
	}
	return s.write(&dispatchBatch{})
}

func (s *Service) startWorker(st *endpointState) {
	st.wake = make(chan struct{}, 1)
	st.done = make(chan struct{})
	st.ctx, st.cancel = context.WithCancel(context.Background())
	go s.work(st)
}

// work delivers st's outbox, head first, until its endpoint is deleted or
// the service closes: the head is retried until it is acknowledged or
// given up, so events reach the receiver in outbox order.
func (s *Service) work(st *endpointState) {
	defer close(st.done)
	for st.ctx.Err() == nil {
		key, p, found, err := s.head(st)
		if err != nil {
			s.logger.Error("webhooks: read outbox; the endpoint's deliveries stop until a restart", "endpoint", st.ID, "error", err)
			return
		}
		if !found {
			select {
			case <-st.wake:
			case <-st.ctx.Done():
			}
			continue
		}
		retry, err := s.attempt(st, key, p)
		if err != nil {
			s.logger.Error("webhooks: record a delivery; the endpoint's deliveries stop until a restart", "endpoint", st.ID, "error", err)
			return
		}
		if retry > 0 {
			_ = s.options.Sleep(st.ctx, retry) // ends early only when the worker stops
		}
	}
}

// head reads the first row of st's outbox.
func (s *Service) head(st *endpointState) (key []byte, p pending, found bool, err error) {
	err = s.engine.ScanRows(sequencePrefix(outboxPrefix, st.ID), func(k, value []byte) error {
		key = append([]byte(nil), k...)
		p, err = decodePending(value)
		found = true
		if err != nil {
			return err
		}
		return errStopScan
	})
	if err == errStopScan {
		err = nil
	}
	return key, p, found, err
}

// attempt posts one event and records the attempt; in the same write, the
// event leaves the outbox if it was acknowledged or given up, or its row
// counts the attempt. It returns the wait before the next attempt, 0 if
// none is due.
func (s *Service) attempt(st *endpointState, key []byte, p pending) (time.Duration, error) {
	start := s.options.Now()
	if p.first.IsZero() {
		p.first = start.UTC()
	}
	p.attempts++
	status, postErr := s.post(st, p.body)
	acknowledged := postErr == nil && status >= 200 && status < 300
	if !acknowledged && st.ctx.Err() != nil {
		return 0, nil // stopping: the event stays in the outbox, attempted again after a restart
	}
	now := s.options.Now()
	var head struct{ ID, Type string }
	_ = json.Unmarshal(p.body, &head) // the dispatcher encoded it
	d := Delivery{EventID: head.ID, Type: head.Type, Attempt: p.attempts, Status: status,
		At: start.UTC(), DurationMs: now.Sub(start).Milliseconds()}
	var outbox engine.Row
	retry := time.Duration(0)
	switch {
	case acknowledged:
		d.Outcome, outbox = OutcomeDelivered, engine.Row{Key: key}
	case now.Sub(p.first) >= RetryWindow:
		d.Outcome, outbox = OutcomeFailed, engine.Row{Key: key}
	default:
		d.Outcome, outbox = OutcomeRetrying, engine.Row{Key: key, Value: p.encode()}
		retry = Backoff(p.attempts)
	}
	switch {
	case postErr != nil:
		d.Error = postErr.Error()
	case d.Outcome != OutcomeDelivered:
		d.Error = "the receiver answered " + strconv.Itoa(status)
	}
	rows := append(s.logRows(st, &d), outbox)
	if _, err := s.engine.WriteRows(context.Background(), rows...); err != nil {
		return 0, fmt.Errorf("webhooks: record attempt %d of %s to %s: %w", p.attempts, d.EventID, st.ID, err)
	}
	if outbox.Value == nil {
		_, sequence, err := splitSequenceKey(outboxPrefix, key)
		if err != nil {
			return 0, err
		}
		s.mu.Lock()
		st.outboxHead = sequence + 1
		s.mu.Unlock()
	}
	return retry, nil
}

// post sends one event, signed with the endpoint's secret at the wall
// clock's time (receivers check it against theirs), and returns the
// receiver's status.
func (s *Service) post(st *endpointState, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(st.ctx, s.options.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(signature.HeaderName, signature.Sign([]byte(st.Secret), time.Now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseBytesMax))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
