package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/httpapi/signature"
)

const (
	testLedger = "test:USDC"
	owner      = "usr_owner"
	waitMax    = 10 * time.Second
)

// received is one request a test receiver got.
type received struct {
	ID, Type string
	Data     map[string]string
	Verified error
}

// receiver is an HTTP server on 127.0.0.1 that verifies each delivery's
// signature and answers with what answer says for it.
type receiver struct {
	t      *testing.T
	server *httptest.Server
	secret string
	mu     sync.Mutex
	got    chan received
	answer func(r received, n int) int // n counts the requests so far, from 1
	count  int
}

func newReceiver(t *testing.T, answer func(r received, n int) int) *receiver {
	rc := &receiver{t: t, got: make(chan received, 1024), answer: answer}
	rc.server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.server.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	secret := rc.secret
	rc.count++
	n := rc.count
	rc.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var event struct {
		ID, Type string
		Data     map[string]string
	}
	if err := json.Unmarshal(body, &event); err != nil {
		rc.t.Errorf("receiver: body %q: %v", body, err)
	}
	got := received{ID: event.ID, Type: event.Type, Data: event.Data,
		Verified: signature.Verify(r.Header.Get(signature.HeaderName), body, []byte(secret), time.Minute, time.Now())}
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(got, n)
	}
	if status == http.StatusOK {
		rc.got <- got // only the acknowledged ones
	}
	w.WriteHeader(status)
}

func (rc *receiver) setSecret(secret string) {
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
}

// expect takes n acknowledged deliveries, failing the test if they do not
// come within waitMax, and checks that no more arrived meanwhile.
func (rc *receiver) expect(n int) []received {
	rc.t.Helper()
	var out []received
	deadline := time.After(waitMax)
	for len(out) < n {
		select {
		case r := <-rc.got:
			if r.Verified != nil {
				rc.t.Errorf("delivery %s: signature.Verify = %v, want nil", r.ID, r.Verified)
			}
			out = append(out, r)
		case <-deadline:
			rc.t.Fatalf("received %d deliveries within %v, want %d: %+v", len(out), waitMax, n, out)
		}
	}
	return out
}

// world is an engine and a webhooks service over one data directory.
type world struct {
	t       *testing.T
	dir     string
	engine  engine.Options // Dir is dir unless set
	options webhooks.Options
	eng     *engine.Engine
	svc     *webhooks.Service
	credits int
}

func newWorld(t *testing.T, options webhooks.Options) *world {
	return newWorldOn(t, engine.Options{}, options)
}

func newWorldOn(t *testing.T, engineOptions engine.Options, options webhooks.Options) *world {
	w := &world{t: t, dir: t.TempDir(), engine: engineOptions, options: options}
	if w.engine.Dir == "" {
		w.engine.Dir = w.dir
	}
	w.options.OwnerOf = func(engine.AccountID) (string, bool) { return owner, true }
	w.openEngine()
	for _, id := range []engine.AccountID{"alice", "bob"} {
		if err := w.eng.CreateAccount(context.Background(), engine.Account{ID: id, Ledger: testLedger}); err != nil {
			t.Fatal(err)
		}
	}
	w.openService()
	t.Cleanup(w.close)
	return w
}

func (w *world) openEngine() {
	w.t.Helper()
	var err error
	if w.eng, err = engine.Open(w.engine); err != nil {
		w.t.Fatalf("engine.Open = %v", err)
	}
}

func (w *world) openService() {
	w.t.Helper()
	var err error
	if w.svc, err = webhooks.Open(w.eng, w.options); err != nil {
		w.t.Fatalf("webhooks.Open = %v", err)
	}
}

func (w *world) close() {
	if w.svc != nil {
		if err := w.svc.Close(); err != nil {
			w.t.Errorf("webhooks Close = %v", err)
		}
	}
	if w.eng != nil {
		if err := w.eng.Close(); err != nil {
			w.t.Errorf("engine Close = %v", err)
		}
	}
	w.svc, w.eng = nil, nil
}

// credit credits alice with the next amount, 1, 2, 3…, and returns its id.
func (w *world) credit() string {
	w.t.Helper()
	w.credits++
	id := fmt.Sprintf("dep-%d", w.credits)
	if _, err := w.eng.Credit(context.Background(), engine.TransferID(id), "alice", engine.NewAmount(uint64(w.credits))); err != nil {
		w.t.Fatalf("Credit(%s) = %v", id, err)
	}
	return id
}

func (w *world) register(rc *receiver, events ...string) webhooks.Endpoint {
	w.t.Helper()
	if len(events) == 0 {
		events = []string{webhooks.EventDepositCredited}
	}
	e, err := w.svc.Create(context.Background(), owner, rc.server.URL, events, "")
	if err != nil {
		w.t.Fatalf("Create = %v", err)
	}
	rc.setSecret(e.Secret)
	return e
}

// checkCredits checks deliveries are the deposits first..last, in order.
func checkCredits(t *testing.T, got []received, first, last int) {
	t.Helper()
	if len(got) != last-first+1 {
		t.Fatalf("got %d deliveries, want %d (deposits %d..%d)", len(got), last-first+1, first, last)
	}
	for i, r := range got {
		n := first + i
		want := map[string]string{"id": fmt.Sprintf("dep-%d", n), "accountId": "alice", "amount": fmt.Sprint(n)}
		if r.Type != webhooks.EventDepositCredited || !maps(r.Data, want) || !strings.HasPrefix(r.ID, "evt_") {
			t.Errorf("delivery %d = %s %s %v, want deposit.credited %v", i, r.ID, r.Type, r.Data, want)
		}
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// logged waits until the endpoint's delivery log holds n entries (the
// worker records an attempt after the receiver answered) and returns them,
// newest first.
func (w *world) logged(id string, n int) []webhooks.Delivery {
	w.t.Helper()
	deadline := time.Now().Add(waitMax)
	for {
		page, _, err := w.svc.Deliveries(id, owner, 0, webhooks.DeliveriesPageMax)
		if err != nil {
			w.t.Fatalf("Deliveries = %v", err)
		}
		if len(page) >= n {
			return page
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("delivery log holds %d entries after %v, want %d", len(page), waitMax, n)
		}
		time.Sleep(time.Millisecond) // polling real HTTP exchanges
	}
}

func TestEndpointReceivesSignedEventsInLogOrder(t *testing.T) {
	w := newWorld(t, webhooks.Options{})
	rc := newReceiver(t, nil)
	e := w.register(rc)
	for range 20 {
		w.credit()
	}
	got := rc.expect(20)
	checkCredits(t, got, 1, 20)
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.ID
	}
	if len(slices.Compact(ids)) != 20 {
		t.Errorf("event ids %v, want 20 distinct", ids)
	}
	w.logged(e.ID, 20)
	page, more, err := w.svc.Deliveries(e.ID, owner, 0, 100)
	if err != nil || more || len(page) != 20 {
		t.Fatalf("Deliveries = %d entries, more %v, %v; want 20, false, nil", len(page), more, err)
	}
	for i, d := range page { // newest first
		if d.Outcome != webhooks.OutcomeDelivered || d.Status != 200 || d.Attempt != 1 || d.EventID != got[19-i].ID {
			t.Errorf("Deliveries[%d] = %+v, want delivered 200 attempt 1 of %s", i, d, got[19-i].ID)
		}
	}
}

func TestUnsubscribedTypesAndOtherOwnersAreNotDelivered(t *testing.T) {
	w := newWorld(t, webhooks.Options{})
	rc := newReceiver(t, nil)
	w.register(rc, webhooks.EventSessionEnded)
	w.credit()
	other := newReceiver(t, nil)
	if _, err := w.svc.Create(context.Background(), "usr_other", other.server.URL, []string{webhooks.EventDepositCredited}, ""); err != nil {
		t.Fatal(err)
	}
	w.credit()
	probe := newReceiver(t, nil)
	w.register(probe)
	w.credit()
	probe.expect(1) // the third deposit: delivered after the two before were dispatched
	select {
	case r := <-rc.got:
		t.Errorf("session.ended endpoint received %+v", r)
	case r := <-other.got:
		t.Errorf("another owner's endpoint received %+v", r)
	default:
	}
}

// fakeClock is the retry window's clock: Sleep records each backoff and
// moves time on by it, at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

func TestReceiverFailingThenRecoveringGetsEverythingInOrder(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	w := newWorld(t, webhooks.Options{Now: clock.Now, Sleep: clock.Sleep})
	rc := newReceiver(t, func(_ received, n int) int {
		if n <= 4 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	e := w.register(rc)
	for range 6 {
		w.credit()
	}
	checkCredits(t, rc.expect(6), 1, 6)
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	if got := clock.Sleeps(); !slices.Equal(got, want) {
		t.Errorf("backoffs = %v, want %v", got, want)
	}
	page := w.logged(e.ID, 10)
	if len(page) != 10 {
		t.Fatalf("delivery log holds %d entries, want 10 (4 retrying, 6 delivered)", len(page))
	}
	slices.Reverse(page) // oldest first
	for i, d := range page {
		want := webhooks.Delivery{Attempt: 1, Outcome: webhooks.OutcomeDelivered, Status: 200}
		switch {
		case i < 4:
			want = webhooks.Delivery{Attempt: uint32(i + 1), Outcome: webhooks.OutcomeRetrying, Status: 503}
		case i == 4:
			want.Attempt = 5
		}
		if d.Attempt != want.Attempt || d.Outcome != want.Outcome || d.Status != want.Status {
			t.Errorf("delivery log entry %d = %+v, want attempt %d %s %d", i, d, want.Attempt, want.Outcome, want.Status)
		}
	}
}

func TestEventIsGivenUpAfterTheRetryWindowAndTheNextDelivered(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	w := newWorld(t, webhooks.Options{Now: clock.Now, Sleep: clock.Sleep})
	rc := newReceiver(t, func(r received, _ int) int {
		if r.Data["id"] == "dep-1" {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e := w.register(rc)
	w.credit()
	w.credit()
	checkCredits(t, rc.expect(1), 2, 2)
	// Attempts follow the backoffs until one fails RetryWindow or more
	// after the first: the last attempt, with no wait after it.
	var wantSleeps []time.Duration
	var waited time.Duration
	for attempts := uint32(1); waited < webhooks.RetryWindow; attempts++ {
		wantSleeps = append(wantSleeps, webhooks.Backoff(attempts))
		waited += webhooks.Backoff(attempts)
	}
	if got := clock.Sleeps(); !slices.Equal(got, wantSleeps) {
		t.Errorf("backoffs = %d waits %v, want %d waits %v", len(got), got, len(wantSleeps), wantSleeps)
	}
	w.logged(e.ID, len(wantSleeps)+2)
	page, more, err := w.svc.Deliveries(e.ID, owner, 0, 2)
	if err != nil || len(page) != 2 || !more {
		t.Fatalf("Deliveries = %v, %v", page, err)
	}
	if page[1].Outcome != webhooks.OutcomeFailed || page[1].Attempt != uint32(len(wantSleeps)+1) || page[0].Outcome != webhooks.OutcomeDelivered {
		t.Errorf("last two log entries = %+v, want attempt %d failed then delivered", page, len(wantSleeps)+1)
	}
}

func TestRestartLosesNothingAndRedeliversNothingAcknowledged(t *testing.T) {
	w := newWorld(t, webhooks.Options{})
	rc := newReceiver(t, nil)
	e := w.register(rc)
	for range 5 {
		w.credit()
	}
	checkCredits(t, rc.expect(5), 1, 5)
	w.logged(e.ID, 5) // acknowledged durably: an attempt cut by Close would be sent again
	w.close()
	// Deposits while the deliverer is down are delivered once it is back.
	w.openEngine()
	for range 3 {
		w.credit()
	}
	if err := w.eng.Close(); err != nil {
		t.Fatal(err)
	}
	w.openEngine()
	w.openService()
	for range 2 {
		w.credit()
	}
	checkCredits(t, rc.expect(5), 6, 10)
	if list := w.svc.Endpoints(owner); len(list) != 1 || list[0].Secret != "" {
		t.Errorf("Endpoints after restart = %+v, want the one endpoint without its secret", list)
	}
	// Nothing more: a last probe deposit is the next delivery.
	w.credit()
	checkCredits(t, rc.expect(1), 11, 11)
}

func TestOutboxSurvivesRestartWhileReceiverIsDown(t *testing.T) {
	var down sync.Mutex
	failing := true
	rc := newReceiver(t, func(received, int) int {
		down.Lock()
		defer down.Unlock()
		if failing {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	w := newWorld(t, webhooks.Options{Sleep: func(ctx context.Context, _ time.Duration) error {
		<-ctx.Done() // retried only after the restart
		return ctx.Err()
	}})
	e := w.register(rc)
	for range 4 {
		w.credit()
	}
	deadline := time.Now().Add(waitMax)
	for {
		page, _, err := w.svc.Deliveries(e.ID, owner, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 1 {
			break // the first attempt is logged
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempt logged")
		}
		time.Sleep(time.Millisecond) // polling a real HTTP exchange
	}
	w.close()
	down.Lock()
	failing = false
	down.Unlock()
	w.options.Sleep = nil
	w.openEngine()
	w.openService()
	checkCredits(t, rc.expect(4), 1, 4)
}

func TestHangingReceiverDoesNotBlockAnotherEndpoint(t *testing.T) {
	release := make(chan struct{})
	hanging := newReceiver(t, func(received, int) int {
		<-release
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) }) // runs before the servers close
	w := newWorld(t, webhooks.Options{AttemptTimeout: time.Hour})
	w.register(hanging)
	rc := newReceiver(t, nil)
	w.register(rc)
	start := time.Now()
	for range 50 {
		w.credit() // returns once durable: never waits for a receiver
	}
	checkCredits(t, rc.expect(50), 1, 50)
	t.Logf("50 deposits delivered to the live endpoint in %v while the other hangs", time.Since(start))
}

func TestRegistryLimitsOwnershipAndDelete(t *testing.T) {
	w := newWorld(t, webhooks.Options{})
	ctx := context.Background()
	url := "http://127.0.0.1:9/hook"
	if _, err := w.svc.Create(ctx, owner, url, []string{"charge.succeeded"}, ""); !errors.Is(err, webhooks.ErrInvalid) {
		t.Errorf("Create(unknown event) = %v, want ErrInvalid", err)
	}
	if _, err := w.svc.Create(ctx, owner, url, []string{webhooks.EventHoldExpired, webhooks.EventHoldExpired}, ""); !errors.Is(err, webhooks.ErrInvalid) {
		t.Errorf("Create(repeated event) = %v, want ErrInvalid", err)
	}
	var first webhooks.Endpoint
	for i := range webhooks.EndpointsPerOwnerMax {
		e, err := w.svc.Create(ctx, owner, url, webhooks.EventTypes, "alice")
		if err != nil {
			t.Fatalf("Create #%d = %v", i+1, err)
		}
		if !strings.HasPrefix(e.ID, webhooks.EndpointIDPrefix) || len(e.Secret) != len(webhooks.SecretPrefix)+webhooks.SecretChars {
			t.Errorf("Create = id %q secret %q", e.ID, e.Secret)
		}
		if i == 0 {
			first = e
		}
	}
	if _, err := w.svc.Create(ctx, owner, url, webhooks.EventTypes, ""); !errors.Is(err, webhooks.ErrLimit) {
		t.Errorf("Create past %d = %v, want ErrLimit", webhooks.EndpointsPerOwnerMax, err)
	}
	if _, err := w.svc.Get(first.ID, "usr_other"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("Get(another owner's) = %v, want ErrNotFound", err)
	}
	if err := w.svc.Delete(ctx, first.ID, "usr_other"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("Delete(another owner's) = %v, want ErrNotFound", err)
	}
	if err := w.svc.Delete(ctx, first.ID, owner); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, _, err := w.svc.Deliveries(first.ID, owner, 0, 10); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("Deliveries(deleted) = %v, want ErrNotFound", err)
	}
	w.close()
	w.openEngine()
	w.openService()
	if n := len(w.svc.Endpoints(owner)); n != webhooks.EndpointsPerOwnerMax-1 {
		t.Errorf("Endpoints after reopen = %d, want %d", n, webhooks.EndpointsPerOwnerMax-1)
	}
}

// A crash image taken right after deposits are acknowledged, with the
// receiver down and a snapshot behind them: the reopened deliverer finds
// each one, in its outbox or in the log its retention kept, and delivers
// it; none is lost.
func TestCrashImageLosesNoAcknowledgedEvent(t *testing.T) {
	mem := vfs.NewCrashableMem()
	var down sync.Mutex
	failing := true
	rc := newReceiver(t, func(received, int) int {
		down.Lock()
		defer down.Unlock()
		if failing {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	// The worker's first attempt fails and it then waits for good; the
	// test closes the service only once it waits, so no attempt is in
	// flight at the close (one would reach the receiver after it, and
	// count as acknowledged there, though the deliverer never saw it).
	sleeping := make(chan struct{}, 1)
	w := newWorldOn(t, engine.Options{Dir: "/data", FS: mem, SnapshotEvery: -1}, webhooks.Options{
		Sleep: func(ctx context.Context, _ time.Duration) error {
			select {
			case sleeping <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}})
	w.register(rc)
	for range 3 {
		w.credit()
	}
	if err := w.eng.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w.credit()
	}
	image := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	<-sleeping
	w.close()
	down.Lock()
	failing = false
	down.Unlock()
	w.engine.FS, w.options.Sleep = image, nil
	w.openEngine()
	w.openService()
	checkCredits(t, rc.expect(6), 1, 6)
	w.credit()
	checkCredits(t, rc.expect(1), 7, 7)
}

func TestFullOutboxDropsNewEventsAndLogsThem(t *testing.T) {
	rc := newReceiver(t, func(received, int) int { return http.StatusServiceUnavailable })
	w := newWorld(t, webhooks.Options{OutboxMax: 2,
		Sleep: func(ctx context.Context, _ time.Duration) error { <-ctx.Done(); return ctx.Err() }})
	e := w.register(rc)
	for range 5 {
		w.credit()
	}
	page := w.logged(e.ID, 4) // one attempt of the first, three dropped
	outcomes := map[string]int{}
	for _, d := range page {
		outcomes[d.Outcome]++
	}
	if outcomes[webhooks.OutcomeDropped] != 3 || outcomes[webhooks.OutcomeRetrying] != 1 || len(page) != 4 {
		t.Errorf("delivery log = %+v, want 3 dropped and 1 retrying", page)
	}
}

// testClock is the engine's settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Each type mapped today, from the engine's own operations: a deposit, a
// session ended, a hold expired (at the payer's next decision, its
// deadline passed). Both parties are the owner's, and the endpoint gets
// each event once.
func TestEveryMappedTypeIsDeliveredOnce(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	w := newWorldOn(t, engine.Options{Clock: clock.Now}, webhooks.Options{})
	rc := newReceiver(t, nil)
	w.register(rc, webhooks.EventDepositCredited, webhooks.EventSessionEnded, webhooks.EventHoldExpired)
	ctx := context.Background()
	if _, err := w.eng.Credit(ctx, "dep-1", "alice", engine.NewAmount(1000)); err != nil {
		t.Fatal(err)
	}
	w.credits++
	if _, err := w.eng.Hold(ctx, engine.Hold{ID: "hold_1", From: "alice", To: "bob", Amount: engine.NewAmount(1), Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.OpenSession(ctx, engine.OpenSession{ID: "sess_1", From: "alice", To: "bob", Rate: engine.NewAmount(1), MaxSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(context.Context, engine.TransferID, engine.AccountID) (engine.Session, error){
		w.eng.AcceptSession, w.eng.StartSession, w.eng.EndSession} {
		if _, err := step(ctx, "sess_1", "bob"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Second)
	w.credit() // alice's next decision expires her hold first
	got := rc.expect(4)
	want := []struct{ kind, id string }{
		{webhooks.EventDepositCredited, "dep-1"}, {webhooks.EventSessionEnded, "sess_1"},
		{webhooks.EventHoldExpired, "hold_1"}, {webhooks.EventDepositCredited, "dep-2"},
	}
	for i, r := range got {
		if r.Type != want[i].kind || r.Data["id"] != want[i].id {
			t.Errorf("delivery %d = %s %v, want %s of %s", i, r.Type, r.Data, want[i].kind, want[i].id)
		}
	}
	if d := got[1].Data; d["consumerAccountId"] != "alice" || d["supplierAccountId"] != "bob" || d["captured"] != "0" {
		t.Errorf("session.ended data = %v", d)
	}
	if d := got[2].Data; d["accountId"] != "alice" || d["payeeAccountId"] != "bob" || d["amount"] != "1" {
		t.Errorf("hold.expired data = %v", d)
	}
}

// A low-balance threshold and a key's budget, crossed among many charges:
// one balance.low per crossing (again after a deposit re-arms it), one
// key.budget_exhausted, both from the one charge that crossed both, each
// with its own id, and nothing again after a restart.
func TestBalanceLowIsDeliveredOncePerCrossingAmongManyCharges(t *testing.T) {
	w := newWorld(t, webhooks.Options{})
	rc := newReceiver(t, nil)
	e := w.register(rc, webhooks.EventDepositCredited, webhooks.EventBalanceLow, webhooks.EventKeyBudgetExhausted)
	ctx := context.Background()
	deposit := func(id string, amount uint64) {
		t.Helper()
		if _, err := w.eng.Credit(ctx, engine.TransferID(id), "alice", engine.NewAmount(amount)); err != nil {
			t.Fatal(err)
		}
	}
	charge := func(n int, budget engine.Budget) {
		t.Helper()
		id := engine.TransferID(fmt.Sprintf("ch-%d", n))
		if _, err := w.eng.Charge(ctx, engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(20), Budget: budget}); err != nil {
			t.Fatalf("Charge(%s) = %v", id, err)
		}
	}
	deposit("dep-1", 1000)
	if err := w.eng.SetLowBalanceThreshold(ctx, "alice", engine.NewAmount(520)); err != nil {
		t.Fatal(err)
	}
	budget := engine.Budget{Spender: "key_1", PerDay: engine.NewAmount(500)}
	for n := 1; n <= 25; n++ {
		charge(n, budget) // the 25th: 500 available, below 520; 0 left of key_1's 500 a day
	}
	for n := 26; n <= 30; n++ {
		charge(n, engine.Budget{}) // 400: still below
	}
	deposit("dep-2", 200) // 600: re-armed
	for n := 31; n <= 40; n++ {
		charge(n, engine.Budget{}) // the 35th: 500, below 520 again
	}
	deposit("dep-3", 1)
	got := rc.expect(6)
	want := []struct {
		kind string
		data map[string]string
	}{
		{webhooks.EventDepositCredited, map[string]string{"id": "dep-1", "accountId": "alice", "amount": "1000"}},
		{webhooks.EventBalanceLow, map[string]string{"accountId": "alice", "threshold": "520", "transferId": "ch-25"}},
		{webhooks.EventKeyBudgetExhausted, map[string]string{"accountId": "alice", "keyId": "key_1", "cap": "day", "limit": "500"}},
		{webhooks.EventDepositCredited, map[string]string{"id": "dep-2", "accountId": "alice", "amount": "200"}},
		{webhooks.EventBalanceLow, map[string]string{"accountId": "alice", "threshold": "520", "transferId": "ch-35"}},
		{webhooks.EventDepositCredited, map[string]string{"id": "dep-3", "accountId": "alice", "amount": "1"}},
	}
	for i, r := range got {
		if r.Type != want[i].kind || !maps(r.Data, want[i].data) {
			t.Errorf("delivery %d = %s %s %v, want %s %v", i, r.ID, r.Type, r.Data, want[i].kind, want[i].data)
		}
	}
	if got[2].ID != got[1].ID+"_1" || !strings.HasPrefix(got[1].ID, "evt_") || got[4].ID == got[1].ID {
		t.Errorf("event ids %s, %s, %s; want the budget's the balance's with _1, and each crossing its own", got[1].ID, got[2].ID, got[4].ID)
	}
	w.logged(e.ID, 6) // acknowledged durably: an attempt cut by Close would be sent again
	w.close()
	w.openEngine()
	w.openService()
	deposit("dep-4", 2)
	if r := rc.expect(1)[0]; r.Type != webhooks.EventDepositCredited || r.Data["id"] != "dep-4" {
		t.Errorf("first delivery after restart = %s %v, want deposit.credited of dep-4 and nothing again", r.Type, r.Data)
	}
}
