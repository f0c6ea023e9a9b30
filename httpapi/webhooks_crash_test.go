package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/httpapi/signature"
)

// The webhook crash test runs the server in a child process (the harness
// of TestHTTPServerSurvivesKill9), with an endpoint per account of two
// users on a receiver the test runs on 127.0.0.1. It credits both accounts
// over HTTP from many goroutines and kills the server with SIGKILL while
// the credits and their deliveries are in flight, a few times; each
// restart's clock is later, past the deadlines of holds placed before the
// kill, so the restarted server expires them (hold.expired, to both
// accounts) while the next credits run. After the last restart, every
// credit whose answer was lost is sent again (applied once, then or
// before), and the test waits for the deliveries. Each endpoint must have
// received every event acknowledged before a kill or after, at least once,
// signed with its secret, nothing else, and the events first seen in log
// order (redeliveries of an id already seen aside).

const (
	webhookCrashRounds      = 3
	webhookCrashWorkers     = 8
	webhookCrashHolds       = 5                // placed each round, expired by the next restart
	webhookCrashHoldSeconds = 60               // a hold's timeout
	webhookCrashLaterBy     = 2 * time.Minute  // each restart's clock ahead of the one before
	webhookCrashAmount      = 1000             // credits are 1..webhookCrashAmount
	webhookCrashFunds       = "1000000"        // credited to the payer first, for the holds
	webhookCrashWait        = 60 * time.Second // for the deliveries after the last restart
)

// webhookEvents are the types the endpoints subscribe to: those the test
// produces.
var webhookEvents = []string{webhooks.EventDepositCredited, webhooks.EventHoldExpired}

// webhookEvent is one event as the receiver got it.
type webhookEvent struct {
	ID   string            `json:"id"`
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

// subject names what an event is about: its type and its transfer's id.
func (e webhookEvent) subject() string { return e.Type + " " + e.Data["id"] }

// webhookPosition returns the log position an event id carries: ids are
// webhooks.EventID(position).
func webhookPosition(id string) (uint64, error) {
	digits, _ := strings.CutPrefix(id, "evt_")
	position, err := strconv.ParseUint(digits, 36, 64)
	if err != nil || webhooks.EventID(position) != id {
		return 0, fmt.Errorf("event id %q is not webhooks.EventID of a position", id)
	}
	return position, nil
}

// webhookReceiver is the test's receiver: an endpoint per path, each
// delivery's signature verified with its endpoint's secret, and the events
// kept per path in the order they were acknowledged (200).
type webhookReceiver struct {
	server  *httptest.Server
	changed chan struct{} // signalled after each event kept

	mu       sync.Mutex
	secrets  map[string][]byte         // by path
	arrived  map[string][]webhookEvent // by path, in the order acknowledged
	problems []string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	rc := &webhookReceiver{changed: make(chan struct{}, 1), secrets: map[string][]byte{}, arrived: map[string][]webhookEvent{}}
	rc.server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.server.Close)
	return rc
}

func (rc *webhookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest) // cut by a kill: its sender is gone
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	secret, known := rc.secrets[r.URL.Path]
	header := r.Header.Get(signature.HeaderName)
	verified := signature.Verify(header, body, secret, time.Minute, time.Now())
	var event webhookEvent
	switch {
	case !known:
		rc.problems = append(rc.problems, fmt.Sprintf("a delivery to %s, no endpoint's: %s", r.URL.Path, body))
	case verified != nil:
		rc.problems = append(rc.problems, fmt.Sprintf("%s: signature.Verify(%q) of %s = %v", r.URL.Path, header, body, verified))
	case json.Unmarshal(body, &event) != nil || event.ID == "" || event.Data["id"] == "":
		rc.problems = append(rc.problems, fmt.Sprintf("%s: event %s", r.URL.Path, body))
	default:
		rc.arrived[r.URL.Path] = append(rc.arrived[r.URL.Path], event)
		select {
		case rc.changed <- struct{}{}:
		default: // one signal pending is enough
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

func (rc *webhookReceiver) setSecret(path, secret string) {
	rc.mu.Lock()
	rc.secrets[path] = []byte(secret)
	rc.mu.Unlock()
}

// received returns how many events were acknowledged, over every path.
func (rc *webhookReceiver) received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, events := range rc.arrived {
		n += len(events)
	}
	return n
}

// missing counts the subjects of wants (by path) not received yet.
func (rc *webhookReceiver) missing(wants map[string]map[string]webhookWant) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for path, want := range wants {
		got := make(map[string]bool, len(rc.arrived[path]))
		for _, e := range rc.arrived[path] {
			got[e.subject()] = true
		}
		for subject := range want {
			if !got[subject] {
				n++
			}
		}
	}
	return n
}

// webhookWant is an event an endpoint must receive: its data exactly, and
// the log position of a credit whose answer said it (0 if none did).
type webhookWant struct {
	data     map[string]string
	position uint64
}

// webhookCredit is one admin credit the test sent, with an
// Idempotency-Key, so that a retry is the same credit.
type webhookCredit struct {
	key, account, amount string
	position             uint64 // from its answer; 0 if it was lost
}

func (c webhookCredit) id() string { return derivedID(prefixCredit, c.account, c.key) }

func (c webhookCredit) want() webhookWant {
	return webhookWant{data: map[string]string{"id": c.id(), "accountId": c.account, "amount": c.amount}, position: c.position}
}

// sendCredit sends c and checks a 200 answer (a replay only if replay is
// allowed), filling c.position; err is a transport error (the process
// died).
func sendCredit(httpClient *http.Client, url string, c *webhookCredit, replay bool) (problem string, err error) {
	body, _ := json.Marshal(map[string]string{"amount": c.amount})
	status, answer, err := crashDo(httpClient, url, "POST", "/v1/admin/accounts/"+c.account+"/credit", testAdminToken, body, "Idempotency-Key", c.key)
	if err != nil {
		return "", err
	}
	var v creditJSON
	switch {
	case status != http.StatusOK:
		return fmt.Sprintf("credit %s: %d %s", c.key, status, answer), nil
	case json.Unmarshal(answer, &v) != nil || v.ID != c.id() || v.AccountID != c.account || v.Amount != c.amount ||
		v.Position == 0 && !v.Replayed || v.Replayed && !replay:
		return fmt.Sprintf("credit %s (%s to %s of %s) answered %s", c.key, c.id(), c.account, c.amount, answer), nil
	}
	if !v.Replayed {
		c.position = v.Position
	}
	return "", nil
}

// webhookCrashRound credits the accounts from many goroutines until it
// kills child: after runFor or once more than ackedMax credits were
// acknowledged, and once deliveries of the round are arriving. It returns
// the credits answered 200 and those whose answer was lost.
func webhookCrashRound(t *testing.T, child *crashChild, rc *webhookReceiver, accounts []string, round int, runFor time.Duration, ackedMax int64) (acked, lost []webhookCredit) {
	t.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: webhookCrashWorkers * 2}
	defer transport.CloseIdleConnections()
	httpClient := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	var (
		mu         sync.Mutex
		problems   []string
		ackedCount atomic.Int64
		stop       atomic.Bool
		workers    sync.WaitGroup
	)
	for w := range webhookCrashWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for i := 0; !stop.Load(); i++ {
				c := webhookCredit{key: fmt.Sprintf("wh-r%d-w%d-%d", round, w, i), account: accounts[(w+i)%len(accounts)],
					amount: strconv.FormatUint(1+rng.Uint64N(webhookCrashAmount), 10)}
				problem, err := sendCredit(httpClient, child.url, &c, false)
				mu.Lock()
				switch {
				case err != nil:
					lost = append(lost, c) // in flight at the kill: applied or not
				case problem != "":
					problems = append(problems, problem)
				default:
					acked = append(acked, c)
					ackedCount.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	started, receivedBefore := time.Now(), rc.received()
	for child.alive() {
		elapsed := time.Since(started)
		delivering := rc.received() > receivedBefore
		if (elapsed >= runFor || ackedCount.Load() > ackedMax) && (delivering || elapsed > webhookCrashWait) {
			break
		}
		time.Sleep(2 * time.Millisecond) // polling the round's progress
	}
	if !child.alive() {
		stop.Store(true)
		workers.Wait()
		t.Fatalf("round %d: the server process died by itself: %v\nstderr:\n%s", round, child.cmd.ProcessState, child.stderr)
	}
	child.cmd.Process.Kill() // SIGKILL, while credits and deliveries are in flight
	stop.Store(true)
	<-child.exited
	workers.Wait()
	if len(problems) > 0 {
		t.Fatalf("round %d: %d unexpected answers, e.g. %q", round, len(problems), problems[:min(len(problems), 5)])
	}
	t.Logf("round %d: killed after %v: %d credits acknowledged, %d answers lost; %d deliveries so far",
		round, time.Since(started).Round(time.Millisecond), len(acked), len(lost), rc.received())
	return acked, lost
}

func TestHTTPWebhooksSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns server processes")
	}
	t.Setenv(httpCrashPrivateEnv, "1") // the children inherit it: the receiver is on 127.0.0.1
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 3))
	rc := newWebhookReceiver(t)
	dir := t.TempDir()
	child := startCrashChild(t, dir)
	ts := &testServer{t: t, url: child.url}

	now := time.Now().UnixNano()
	m := market{consumer: ts.signup(fmt.Sprintf("wh-consumer-%d@example.com", now)), supplier: ts.signup(fmt.Sprintf("wh-supplier-%d@example.com", now))}
	m.payer, m.payee = ts.account(m.consumer, "test"), ts.account(m.supplier, "test")
	m.keyID, m.key = ts.key(m.consumer, m.payer, nil)
	accounts := []string{m.payer, m.payee}
	paths := map[string]string{m.payer: "/consumer", m.payee: "/supplier"}
	for account, u := range map[string]user{m.payer: m.consumer, m.payee: m.supplier} {
		created := expect(t, ts.do("POST", "/v1/webhooks", u.access,
			map[string]any{"url": rc.server.URL + paths[account], "events": webhookEvents, "accountId": account}), 201, "", "")
		rc.setSecret(paths[account], created["secret"].(string))
	}
	wants := map[string]map[string]webhookWant{paths[m.payer]: {}, paths[m.payee]: {}} // by path, then subject
	wantCredit := func(c webhookCredit) {
		wants[paths[c.account]][webhooks.EventDepositCredited+" "+c.id()] = c.want()
	}
	creditNow := func(c webhookCredit, replay bool) {
		t.Helper()
		if problem, err := sendCredit(client, ts.url, &c, replay); problem != "" || err != nil {
			t.Fatalf("%s %v", problem, err)
		}
		wantCredit(c)
	}
	creditNow(webhookCredit{key: "wh-funds", account: m.payer, amount: webhookCrashFunds}, false)

	var lost []webhookCredit
	pendingAtKills, ahead := 0, time.Duration(0)
	for round := range webhookCrashRounds {
		for h := range webhookCrashHolds {
			hold := ts.placeHold(m, m.key, strconv.Itoa(100+h), webhookCrashHoldSeconds)
			want := webhookWant{data: map[string]string{"id": hold["id"].(string), "accountId": m.payer, "payeeAccountId": m.payee, "amount": hold["amount"].(string)}}
			for _, account := range accounts {
				wants[paths[account]][webhooks.EventHoldExpired+" "+want.data["id"]] = want
			}
		}
		runFor := time.Duration(300+rng.IntN(300)) * time.Millisecond
		acked, lostNow := webhookCrashRound(t, child, rc, accounts, round, runFor, int64(100+rng.IntN(100)))
		for _, c := range acked {
			wantCredit(c)
		}
		lost = append(lost, lostNow...)
		pending := rc.missing(wants) // nothing arrives while no server runs
		pendingAtKills += pending
		t.Logf("round %d: %d acknowledged events not delivered yet at the kill", round, pending)
		client.CloseIdleConnections() // those of the dead process
		ahead += webhookCrashLaterBy
		child = startCrashChildAhead(t, dir, ahead)
		ts.url = child.url
	}
	if pendingAtKills == 0 {
		t.Logf("every acknowledged event was delivered before each kill: the outbox's recovery went untested this run")
	}

	// After the last restart: each credit whose answer was lost, sent
	// again, is applied once (now, or before the kill: a replay), and
	// a few more.
	for _, c := range lost {
		creditNow(c, true)
	}
	for i := range 4 {
		creditNow(webhookCredit{key: fmt.Sprintf("wh-after-%d", i), account: accounts[i%2], amount: strconv.Itoa(1 + i)}, false)
	}
	deadline := time.NewTimer(webhookCrashWait)
	defer deadline.Stop()
	for rc.missing(wants) > 0 {
		select {
		case <-rc.changed:
		case <-deadline.C:
			rc.mu.Lock()
			problems := rc.problems[:min(len(rc.problems), 5)]
			rc.mu.Unlock()
			t.Fatalf("%d events not delivered within %v of the last restart; deliveries refused: %q", rc.missing(wants), webhookCrashWait, problems)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.problems) > 0 {
		t.Fatalf("%d deliveries refused, e.g. %q", len(rc.problems), rc.problems[:min(len(rc.problems), 5)])
	}
	for path, want := range wants {
		checkWebhookDeliveries(t, path, rc.arrived[path], want)
	}
}

// checkWebhookDeliveries checks what path received: each event is one
// of want, with its data exactly (and its position, if its credit's answer
// gave one), once under one id however often it was delivered, the ids
// first seen in log order; and every one of want is there.
func checkWebhookDeliveries(t *testing.T, path string, arrived []webhookEvent, want map[string]webhookWant) {
	t.Helper()
	seen := map[string]webhookEvent{} // by id
	ids := map[string]string{}        // by subject
	var last uint64
	for i, e := range arrived {
		if first, ok := seen[e.ID]; ok {
			if e.Type != first.Type || !maps.Equal(e.Data, first.Data) {
				t.Errorf("%s: delivery %d of %s = %s %v, was %s %v", path, i, e.ID, e.Type, e.Data, first.Type, first.Data)
			}
			continue // a redelivery: the kill came before its acknowledgement was logged
		}
		seen[e.ID] = e
		position, err := webhookPosition(e.ID)
		if err != nil {
			t.Errorf("%s: delivery %d: %v", path, i, err)
			continue
		}
		if position <= last {
			t.Errorf("%s: delivery %d, %s at position %d, after position %d: not in log order", path, i, e.ID, position, last)
		}
		last = position
		w, ok := want[e.subject()]
		switch {
		case !ok:
			t.Errorf("%s: delivery %d, %s %s %v, is no event of this account the test made", path, i, e.ID, e.Type, e.Data)
		case !maps.Equal(e.Data, w.data):
			t.Errorf("%s: delivery %d, %s %s: data %v, want %v", path, i, e.ID, e.Type, e.Data, w.data)
		case w.position != 0 && position != w.position:
			t.Errorf("%s: delivery %d, %s: position %d, want %d (the credit's answer)", path, i, e.subject(), position, w.position)
		}
		if other, ok := ids[e.subject()]; ok {
			t.Errorf("%s: %s delivered as two events, %s and %s", path, e.subject(), other, e.ID)
		}
		ids[e.subject()] = e.ID
	}
	for subject := range want {
		if _, ok := ids[subject]; !ok {
			t.Errorf("%s: %s never delivered", path, subject)
		}
	}
	t.Logf("%s: %d events, each delivered, %d redeliveries", path, len(want), len(arrived)-len(seen))
}
