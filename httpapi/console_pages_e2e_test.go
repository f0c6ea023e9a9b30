package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tollway/tollway/httpapi/console/browsertest"
	"github.com/tollway/tollway/httpapi/gateway"
	"github.com/tollway/tollway/httpapi/signature"
)

// pagesFixture is what the Go test made over the API, handed to
// console/e2e/pages.mjs as JSON: the user to sign in as, the accounts, and
// the sessions and holds with what their rows must show.
type pagesFixture struct {
	Email    string                  `json:"email"`
	Password string                  `json:"password"`
	Payer    pagesAccount            `json:"payer"`
	Payee    pagesAccount            `json:"payee"`
	Sessions map[string]activityWant `json:"sessions"`
	Holds    map[string]activityWant `json:"holds"`
	Receiver string                  `json:"receiver"`
	Upstream string                  `json:"upstream"`
	Slug     string                  `json:"slug"`
}

type pagesAccount struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// activityWant is a session's or hold's row on the payer's activity page
// (the counterparty, alice's own account, by its name).
type activityWant struct {
	Counterparty string `json:"counterparty"`
	Direction    string `json:"direction"`
	State        string `json:"state"`
	Amount       string `json:"amount,omitempty"` // holds: the amount held, as shown
}

// pagesStep is one line pages.mjs writes: a step for the Go side.
type pagesStep struct {
	Step   string `json:"step"`
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
	Slug   string `json:"slug"`
}

// TestConsolePagesE2E drives the console's account activity, settlement,
// webhook and gateway route pages in a real browser (console/e2e/pages.mjs)
// against sessions and holds made here over HTTP. The browser signs in
// with email and password and must list exactly those sessions and holds,
// in their states, then show a capture and an end made here without a
// reload; what it creates (a webhook endpoint, a route) is checked here
// over the API, and the secrets it showed once must be the ones that sign
// (a delivery, a forwarded call). Skipped like TestConsoleE2E without node
// or chromium (browsertest.Prepare).
func TestConsolePagesE2E(t *testing.T) {
	run, ok := browsertest.Prepare(t)
	if !ok {
		return
	}
	deliveries := make(chan signedDelivery, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		deliveries <- signedDelivery{body, r.Header.Get(signature.HeaderName)}
	}))
	t.Cleanup(receiver.Close)
	upstream := startUpstream(t)
	ts := startServer(t, withPrivateTargets)
	fx, alice, live := fillActivity(t, ts)
	fx.Receiver, fx.Upstream, fx.Slug = receiver.URL, upstream.server.URL, "e2e-weather"
	_, gatewayKey := ts.key(alice, fx.Payer.ID, map[string]any{"scopes": []string{"gateway:call"}})

	fixture, err := json.Marshal(fx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "pages.mjs", ts.url, run.Screenshots, string(fixture))
	node.Dir = run.Dir
	node.WaitDelay = 5 * time.Second // chromium's pipes must not outlive the deadline
	var stderr bytes.Buffer
	node.Stderr = &stderr
	stdin, err := node.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		cancel()
		node.Wait()
		t.Fatalf("%s (after %v; screenshots in %s, %s)\nstderr:\n%s", fmt.Sprintf(format, args...), time.Since(started), run.Screenshots, run.Kept, stderr.Bytes())
	}
	reply := func(v any) {
		data, _ := json.Marshal(v)
		if _, err := stdin.Write(append(data, '\n')); err != nil {
			fail("answering pages.mjs: %v", err)
		}
	}

	var done []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		var step pagesStep
		if err := json.Unmarshal(lines.Bytes(), &step); err != nil {
			fail("pages.mjs wrote %q: %v", lines.Bytes(), err)
		}
		done = append(done, step.Step)
		switch step.Step {
		case "webhook-created":
			// The endpoint is alice's, as the form said; the secret shown
			// signs the delivery of a credit to the payer.
			w := expect(t, ts.do("GET", "/v1/webhooks/"+step.ID, alice.access, nil), 200, "", "")
			if w["url"] != receiver.URL+"/hook" || w["accountId"] != fx.Payer.ID || fmt.Sprint(w["events"]) != "[deposit.credited session.ended]" {
				fail("webhook %s = %v, want the one made in the UI", step.ID, w)
			}
			ts.credit(fx.Payer.ID, "42")
			select {
			case d := <-deliveries:
				if err := signature.Verify(d.header, d.body, []byte(step.Secret), time.Minute, ts.clock.Now()); err != nil {
					fail("the delivery is not signed with the secret the page showed: %v", err)
				}
				if !bytes.Contains(d.body, []byte(`"deposit.credited"`)) {
					fail("delivered %s, want deposit.credited", d.body)
				}
			case <-time.After(10 * time.Second):
				fail("no delivery within 10 s")
			}
			reply(map[string]bool{"ok": true})
		case "webhook-deleted":
			expect(t, ts.do("GET", "/v1/webhooks/"+step.ID, alice.access, nil), 404, "not_found_error", "not_found")
			if list := expect(t, ts.do("GET", "/v1/webhooks", alice.access, nil), 200, "", ""); len(list["data"].([]any)) != 0 {
				fail("webhooks after the delete = %v, want none", list)
			}
			reply(map[string]bool{"ok": true})
		case "route-created":
			r := expect(t, ts.do("GET", "/v1/routes/"+step.Slug, alice.access, nil), 200, "", "")
			if r["owner"] != alice.id || r["accountId"] != fx.Payee.ID || r["upstream"] != upstream.server.URL+"/api" ||
				r["pricePerCall"] != "1500" || fmt.Sprint(r["methods"]) != "[GET POST]" || r["timeoutMs"] != float64(5000) {
				fail("route %s = %v, want the one made in the UI", step.Slug, r)
			}
			upstream.secret.Store(&step.Secret)
			if status, body := gatewayGet(t, ts.url+"/gw/"+step.Slug+"/ping", gatewayKey); status != 200 {
				fail("a call through the route = %d %s, want 200", status, body)
			}
			seen := upstream.requests()
			if len(seen) != 1 || seen[0].path != "/api/ping" || seen[0].signatureErr != nil {
				fail("the upstream saw %+v, want /api/ping signed with the secret the page showed", seen)
			}
			// The call was paid through a hold, captured: the activity page
			// lists it too.
			call := seen[0].header.Get(gateway.HeaderChargeID)
			want := activityWant{Counterparty: fx.Payee.Name, Direction: "paying", State: "CAPTURED", Amount: "0.001500 USDC"}
			fx.Holds[call] = want
			reply(map[string]any{"ok": true, "hold": call, "want": want})
		case "route-deleted":
			expect(t, ts.do("GET", "/v1/routes/"+step.Slug, alice.access, nil), 404, "not_found_error", "not_found")
			reply(map[string]bool{"ok": true})
		case "activity-shown":
			wantListed(t, ts, alice, "/v1/holds?account="+fx.Payer.ID, fx.Holds)
			reply(live())
		case "done":
		default:
			fail("pages.mjs asked for an unknown step %q", step.Step)
		}
	}
	if err := node.Wait(); err != nil {
		t.Fatalf("node pages.mjs: %v (after %v; screenshots in %s, %s)\nstderr:\n%s", err, time.Since(started), run.Screenshots, run.Kept, stderr.Bytes())
	}
	want := "webhook-created webhook-deleted route-created route-deleted activity-shown done"
	if got := strings.Join(done, " "); got != want {
		t.Fatalf("pages.mjs went through %q, want %q\nstderr:\n%s", got, want, stderr.Bytes())
	}
	t.Logf("the browser run took %v; screenshots in %s (%s)", time.Since(started).Round(time.Millisecond), run.Screenshots, run.Kept)
}

type signedDelivery struct {
	body   []byte
	header string
}

// pagesExtraSessions REQUESTED sessions and the 5 in other states make one
// more than the console's page of 20.
const pagesExtraSessions = 16

// fillActivity makes alice (email and password) with two accounts, a
// payer and a payee, and sessions and holds between them in every state,
// checks the API lists exactly those, and returns what the payer's page
// must show. live, called when the page is shown, captures a pending hold
// and ends a live session, and answers what the page must show then.
func fillActivity(t *testing.T, ts *testServer) (fx pagesFixture, alice user, live func() map[string]string) {
	alice = ts.signup("alice-pages@example.com")
	fx.Email, fx.Password = alice.email, alice.password
	account := func(name string) pagesAccount {
		v := expect(t, ts.do("POST", "/v1/accounts", alice.access, map[string]string{"name": name, "environment": "test"}), 201, "", "")
		return pagesAccount{ID: v["id"].(string), Name: name}
	}
	fx.Payer, fx.Payee = account("Alice pays"), account("Alice shop")
	ts.credit(fx.Payer.ID, "10000000")
	ts.credit(fx.Payee.ID, "1000000")
	_, payerKey := ts.key(alice, fx.Payer.ID, nil)
	_, payeeKey := ts.key(alice, fx.Payee.ID, nil)
	fx.Sessions, fx.Holds = map[string]activityWant{}, map[string]activityWant{}

	post := func(key, path string, body any) map[string]any {
		t.Helper()
		r := ts.do("POST", path, key, body)
		if r.status != 200 && r.status != 201 {
			t.Fatalf("POST %s = %d %s", path, r.status, r.body)
		}
		return r.json(t)
	}
	hold := func(key, to, amount string, seconds int) string {
		return post(key, "/v1/holds", map[string]any{"to": to, "amount": amount, "expiresInSeconds": seconds})["id"].(string)
	}
	paying := func(state, amount string) activityWant {
		return activityWant{Counterparty: fx.Payee.Name, Direction: "paying", State: state, Amount: amount}
	}
	pending := hold(payerKey, fx.Payee.ID, "4000", 3600)
	fx.Holds[pending] = paying("PENDING", "0.004000 USDC")
	voided := hold(payerKey, fx.Payee.ID, "2000", 3600)
	post(payerKey, "/v1/holds/"+voided+"/void", map[string]any{})
	fx.Holds[voided] = paying("VOIDED", "0.002000 USDC")
	captured := hold(payerKey, fx.Payee.ID, "3000", 3600)
	post(payeeKey, "/v1/holds/"+captured+"/capture", map[string]any{"amount": "1000"})
	fx.Holds[captured] = paying("CAPTURED", "0.003000 USDC")
	expiring := hold(payerKey, fx.Payee.ID, "1000", 1)
	fx.Holds[expiring] = paying("EXPIRED", "0.001000 USDC")
	paid := hold(payeeKey, fx.Payer.ID, "5000", 3600)
	fx.Holds[paid] = activityWant{Counterparty: fx.Payee.Name, Direction: "paid", State: "PENDING", Amount: "0.005000 USDC"}

	session := func(startWithin int, steps ...string) string {
		// A millisecond apart, so that newest first is one order: with
		// equal times the ids would order them, and the live session
		// could fall on the second page.
		ts.clock.Advance(time.Millisecond)
		id := post(payerKey, "/v1/sessions", map[string]any{"to": fx.Payee.ID, "ratePerSecond": "100", "maxDurationSeconds": 600,
			"startWithinSeconds": startWithin})["id"].(string)
		for _, step := range steps {
			key := payerKey
			if step == "accept" {
				key = payeeKey
			}
			post(key, "/v1/sessions/"+id+"/"+step, map[string]any{})
		}
		return id
	}
	sessionRow := func(state string) activityWant {
		return activityWant{Counterparty: fx.Payee.Name, Direction: "paying", State: state}
	}
	// More sessions than a page holds (20), the oldest first: the page
	// pages them, and a live refresh keeps the page shown.
	for range pagesExtraSessions {
		fx.Sessions[session(300)] = sessionRow("REQUESTED")
	}
	fx.Sessions[session(300, "accept")] = sessionRow("ASSIGNED")
	liveSession := session(300, "accept", "start")
	fx.Sessions[liveSession] = sessionRow("LIVE")
	fx.Sessions[session(300, "cancel")] = sessionRow("CANCELLED")
	lapsing := session(1)
	fx.Sessions[lapsing] = sessionRow("EXPIRED")
	fx.Sessions[session(300, "accept", "start", "end")] = sessionRow("ENDED")
	ts.clock.Advance(2 * time.Second) // the 1-second hold and start window lapse
	// NB: the engine writes a lapse when its timer fires or when a command
	// reaches the hold or session; a refused one makes it happen now.
	expect(t, ts.do("POST", "/v1/holds/"+expiring+"/capture", payerKey, map[string]any{}), 409, "conflict_error", "invalid_state")
	expect(t, ts.do("POST", "/v1/sessions/"+lapsing+"/accept", payeeKey, map[string]any{}), 409, "conflict_error", "invalid_state")

	// The API lists exactly these to alice, in these states: the page is
	// checked against what the API says.
	wantListed(t, ts, alice, "/v1/sessions?account="+fx.Payer.ID, fx.Sessions)
	wantListed(t, ts, alice, "/v1/holds?account="+fx.Payer.ID, fx.Holds)

	live = func() map[string]string {
		ts.clock.Advance(3 * time.Second)
		h := post(payeeKey, "/v1/holds/"+pending+"/capture", map[string]any{"amount": "2500"})
		s := post(payeeKey, "/v1/sessions/"+liveSession+"/end", map[string]any{})
		if h["state"] != "CAPTURED" || h["captured"] != "2500" || s["state"] != "ENDED" || s["cleanSeconds"] != float64(5) || s["charged"] != "500" {
			t.Errorf("capture = %v, end = %v; want 2500 captured, 5 s charged 500", h, s)
			return map[string]string{"error": "the capture or the end went wrong"}
		}
		return map[string]string{"hold": pending, "captured": "0.002500 USDC", "session": liveSession, "charged": "0.000500 USDC (5 s)"}
	}
	return fx, alice, live
}

// wantListed requires the list at path, read with alice's token, to hold
// exactly want's ids in want's states.
func wantListed(t *testing.T, ts *testServer, alice user, path string, want map[string]activityWant) {
	t.Helper()
	v := expect(t, ts.do("GET", path+"&limit=100", alice.access, nil), 200, "", "")
	var got, wanted []string
	for _, item := range v["data"].([]any) {
		m := item.(map[string]any)
		got = append(got, fmt.Sprint(m["id"], " ", m["state"]))
	}
	for id, w := range want {
		wanted = append(wanted, id+" "+w.State)
	}
	sort.Strings(got)
	sort.Strings(wanted)
	if strings.Join(got, ", ") != strings.Join(wanted, ", ") || v["hasMore"] != false {
		t.Fatalf("GET %s = %v (hasMore %v), want %v", path, got, v["hasMore"], wanted)
	}
}

// gatewayGet calls a route with key, outside the OpenAPI conformance check
// (the answer is the upstream's).
func gatewayGet(t *testing.T, url, key string) (int, []byte) {
	t.Helper()
	request, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	request.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(request)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
