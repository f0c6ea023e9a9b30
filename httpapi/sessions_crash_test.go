package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// The sessions crash test kills the server (SIGKILL) while sessions are
// live, waiting to start and being opened and started, then restarts it
// with its clock ten minutes ahead: every deadline has passed while it was
// down. Each session must then have closed exactly as if the server had
// stayed up: a live one ended at its maximum and charged exactly that, once;
// one not started expired at the end of its window, all released. Balances
// must equal the sum of the sessions' charges, and the engine's invariants
// must hold on the directory afterwards.
const (
	crashSessionRate     = 7
	crashSessionMax      = 50 // seconds
	crashSessionWindow   = 30 // seconds to start
	crashSessionWorkers  = 8
	crashSessionFunds    = 10_000_000
	crashSessionLaterBy  = 10 * time.Minute // the restarted server's clock
	crashSessionsMinimum = 20
)

// crashSessionJSON is the part of a session the test checks.
type crashSessionJSON struct {
	ID           string  `json:"id"`
	State        string  `json:"state"`
	Reserved     string  `json:"reserved"`
	Charged      string  `json:"charged"`
	Fee          string  `json:"fee"`
	CleanSeconds int64   `json:"cleanSeconds"`
	StartBy      string  `json:"startBy"`
	StartedAt    *string `json:"startedAt"`
	EndedAt      *string `json:"endedAt"`
}

func TestHTTPSessionsCloseOnceAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns server processes")
	}
	dir := t.TempDir()
	child := startCrashChild(t, dir)
	ts := &testServer{t: t, url: child.url}
	m := ts.market(strconv.Itoa(crashSessionFunds))

	// Workers open sessions and take each a random number of steps (none,
	// accept, accept and start), so that at the kill there are sessions in
	// every open state, and requests in flight.
	transport := &http.Transport{MaxIdleConnsPerHost: crashSessionWorkers * 2}
	defer transport.CloseIdleConnections()
	httpClient := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	var (
		mu       sync.Mutex
		failures []string
		started  = map[string]string{} // session -> its startedAt, for those whose start was answered
		opened   atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	open := []byte(fmt.Sprintf(`{"to":%q,"ratePerSecond":"%d","maxDurationSeconds":%d,"startWithinSeconds":%d}`,
		m.payee, crashSessionRate, crashSessionMax, crashSessionWindow))
	for w := range crashSessionWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				status, body, err := crashDo(httpClient, child.url, "POST", "/v1/sessions", m.key, open,
					"Idempotency-Key", fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					return // killed
				}
				var s crashSessionJSON
				if status != http.StatusCreated || json.Unmarshal(body, &s) != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("open: %d %s", status, body))
					mu.Unlock()
					return
				}
				opened.Add(1)
				steps := []struct{ path, key string }{{"/accept", m.supplierKey}, {"/start", m.key}}[:i%3]
				for _, step := range steps {
					status, body, err := crashDo(httpClient, child.url, "POST", "/v1/sessions/"+s.ID+step.path, step.key, nil)
					if err != nil {
						return
					}
					if status != http.StatusOK || json.Unmarshal(body, &s) != nil {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s: %d %s", step.path, status, body))
						mu.Unlock()
						return
					}
				}
				if s.State == "LIVE" {
					mu.Lock()
					started[s.ID] = *s.StartedAt
					mu.Unlock()
				}
			}
		}()
	}
	for opened.Load() < 3*crashSessionsMinimum && child.alive() {
		time.Sleep(2 * time.Millisecond)
	}
	child.cmd.Process.Kill() // SIGKILL, with requests in flight
	stop.Store(true)
	<-child.exited
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d unexpected answers before the kill, e.g. %q", len(failures), failures[:min(len(failures), 5)])
	}
	client.CloseIdleConnections()

	child = startCrashChildAhead(t, dir, crashSessionLaterBy)
	ts.url = child.url
	var all []crashSessionJSON
	for after := ""; ; {
		v := expect(t, ts.do("GET", "/v1/sessions?limit=100"+after, m.key, nil), 200, "", "")
		for _, item := range v["data"].([]any) {
			raw, _ := json.Marshal(item)
			var s crashSessionJSON
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			all = append(all, s)
		}
		if v["hasMore"] != true {
			break
		}
		after = "&startingAfter=" + v["nextStartingAfter"].(string)
	}
	if len(all) < crashSessionsMinimum {
		t.Fatalf("%d sessions opened before the kill: too few to prove anything", len(all))
	}
	// A transition on each session after the restart finds it closed: its
	// timer, due while the server was down, fired first (the sweeper's or
	// this request's turn on the session's actor, whichever came first,
	// and only once).
	var charged, toSupplier uint64
	counts := map[string]int{}
	for i := range all {
		s := &all[i]
		expect(t, ts.do("POST", "/v1/sessions/"+s.ID+"/end", m.key, nil), 409, "conflict_error", "invalid_state")
		got := expect(t, ts.do("GET", "/v1/sessions/"+s.ID, m.supplierKey, nil), 200, "", "")
		raw, _ := json.Marshal(got)
		*s = crashSessionJSON{}
		if err := json.Unmarshal(raw, s); err != nil {
			t.Fatal(err)
		}
		counts[s.State]++
		switch s.State {
		case "ENDED":
			if s.StartedAt == nil || s.EndedAt == nil {
				t.Fatalf("ended session %s without its times: %s", s.ID, raw)
			}
			startedAt, _ := time.Parse(time.RFC3339Nano, *s.StartedAt)
			endedAt, _ := time.Parse(time.RFC3339Nano, *s.EndedAt)
			want := crashSessionRate * crashSessionMax
			if s.CleanSeconds != crashSessionMax || s.Charged != strconv.Itoa(want) || !endedAt.Equal(startedAt.Add(crashSessionMax*time.Second)) {
				t.Fatalf("session %s = %s, want ended at its maximum %v charged %d", s.ID, raw, startedAt.Add(crashSessionMax*time.Second), want)
			}
			fee := uint64(want) * httpCrashFeeBps / 10000
			if s.Fee != strconv.FormatUint(fee, 10) {
				t.Fatalf("session %s fee %s, want %d", s.ID, s.Fee, fee)
			}
			charged += uint64(want)
			toSupplier += uint64(want) - fee
		case "EXPIRED":
			if s.StartedAt != nil || s.EndedAt == nil || *s.EndedAt != s.StartBy || s.Charged != "0" {
				t.Fatalf("expired session %s = %s, want closed at its startBy, charging nothing", s.ID, raw)
			}
		default:
			t.Fatalf("session %s is %s after every deadline passed", s.ID, s.State)
		}
		if s.Reserved != "0" {
			t.Fatalf("closed session %s still reserves %s", s.ID, s.Reserved)
		}
	}
	for id, startedAt := range started {
		if got := expect(t, ts.do("GET", "/v1/sessions/"+id, m.key, nil), 200, "", ""); got["state"] != "ENDED" || got["startedAt"] != startedAt {
			t.Fatalf("session %s, answered LIVE since %s before the kill, is %v", id, startedAt, got)
		}
	}
	t.Logf("%d sessions at the kill: %v; %d answered live", len(all), counts, len(started))
	if counts["ENDED"] == 0 || counts["EXPIRED"] == 0 {
		t.Fatalf("states after the restart %v: want both ended and expired sessions", counts)
	}
	wantBalances(t, ts, m.key, strconv.FormatUint(crashSessionFunds-charged, 10), "0")
	wantBalances(t, ts, m.supplierKey, strconv.FormatUint(toSupplier, 10), "0")

	// The directory, opened here after a clean stop, keeps the invariants.
	child.kill()
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: httpCrashFeeBps})
	if err != nil {
		t.Fatalf("engine.Open after the test: %v", err)
	}
	defer eng.Close()
	if err := eng.Verify(context.Background()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
