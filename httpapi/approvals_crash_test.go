package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// The approvals crash test (issue 23) runs the server in a child process
// (the harness of TestHTTPServerSurvivesKill9). A funded payer has two
// agent keys whose spends above 1000 wait for the owner: one's approvals
// expire after a minute, the other's after an hour. Each key holds back
// charges and holds; before the kill the owner approves some (EXECUTED)
// and rejects some (REJECTED), leaves others PENDING, and approves a few
// more at the very moment the server is killed with SIGKILL. The restart's
// clock is two minutes on: every minute approval still pending has
// EXPIRED, its reservation released once; every hour one is still
// PENDING; an approval in flight at the kill is EXECUTED (always, if its
// answer said so) or was never decided, nothing in between. The owner
// approves the pending ones, the payee captures the executed holds, and
// one more kill changes nothing. After each phase the balances of both
// accounts, the payer's usage (spent, fees) and the list of approvals
// (each once, in its state) are exactly what the approvals' states imply;
// at the end the engine, opened on the directory, agrees on the fees and
// finds its invariants whole.

const (
	approvalCrashFunds       = 1_000_000
	approvalCrashShort       = 60              // seconds: a policy's expiry that passes while the server is down
	approvalCrashLong        = 3600            // seconds: one that does not
	approvalCrashAhead       = 2 * time.Minute // the restarts' clock ahead of the wall clock
	approvalCrashHoldSeconds = 600             // a held-back hold's own timeout
	approvalCrashWait        = 10 * time.Second
)

// approvalFate is what the test does to an approval before the kill.
type approvalFate string

const (
	fateLeft     approvalFate = "left pending"
	fateApproved approvalFate = "approved"
	fateRejected approvalFate = "rejected"
	fateInFlight approvalFate = "approved as the kill lands"
)

// crashApproval is one approval the test made, and what it expects of it.
type crashApproval struct {
	id       string
	kind     string // "charge" or "hold"
	seconds  int    // its policy's expiry
	keyID    string // the agent key that asked
	amount   uint64
	fate     approvalFate
	answered bool   // fateInFlight: the approve's 200 arrived before the kill
	state    string // its state as the test expects it now
	captured uint64 // an EXECUTED hold: what the payee captured of it
}

func (a *crashApproval) String() string {
	return fmt.Sprintf("%s %s of %d (%ds, %s)", a.kind, a.id, a.amount, a.seconds, a.fate)
}

// approvalBook is what the approvals' states imply.
type approvalBook struct {
	available, reserved, payee, spent, fees uint64
	spentCount                              int
}

func bookOf(approvals []*crashApproval) approvalBook {
	var b approvalBook
	pay := func(amount uint64) {
		b.spent += amount
		b.spentCount++
		b.fees += crashFee(amount)
		b.payee += amount - crashFee(amount)
	}
	for _, a := range approvals {
		switch {
		case a.state == "PENDING":
			b.reserved += a.amount
		case a.state != "EXECUTED":
			// REJECTED or EXPIRED: nothing moved, nothing reserved.
		case a.kind == "charge":
			pay(a.amount)
		case a.captured == 0:
			b.reserved += a.amount // the client's open hold
		default:
			pay(a.captured) // the rest released
		}
	}
	b.available = approvalCrashFunds - b.spent - b.reserved
	return b
}

// checkApprovalsPhase checks, over HTTP, the balances, the payer's usage
// and the list of approvals against approvals; it returns the book.
func checkApprovalsPhase(t *testing.T, ts *testServer, m market, approvals []*crashApproval, usageRange, when string) approvalBook {
	t.Helper()
	want := bookOf(approvals)
	balance := func(key string) (string, string) {
		v := expect(t, ts.do("GET", "/v1/balance", key, nil), 200, "", "")
		return fmt.Sprint(v["available"]), fmt.Sprint(v["reserved"])
	}
	if available, reserved := balance(m.key); available != strconv.FormatUint(want.available, 10) || reserved != strconv.FormatUint(want.reserved, 10) {
		t.Fatalf("%s: payer available %s reserved %s, want %d and %d", when, available, reserved, want.available, want.reserved)
	}
	if available, reserved := balance(m.supplierKey); available != strconv.FormatUint(want.payee, 10) || reserved != "0" {
		t.Fatalf("%s: payee available %s reserved %s, want %d and 0", when, available, reserved, want.payee)
	}
	if _, total := ts.usage(m.key, usageRange); total.spent != strconv.FormatUint(want.spent, 10) ||
		total.fees != strconv.FormatUint(want.fees, 10) || total.spentCount != float64(want.spentCount) {
		t.Fatalf("%s: payer usage %+v, want %d spends of %d in all, fees %d", when, total, want.spentCount, want.spent, want.fees)
	}

	listed := map[string]map[string]any{}
	for cursor := ""; ; {
		page := expect(t, ts.do("GET", "/v1/approvals?limit=7&startingAfter="+url.QueryEscape(cursor), m.consumer.access, nil), 200, "", "")
		for _, item := range page["data"].([]any) {
			v := item.(map[string]any)
			id := v["id"].(string)
			if _, twice := listed[id]; twice {
				t.Fatalf("%s: approval %s listed twice", when, id)
			}
			listed[id] = v
		}
		if page["hasMore"] != true {
			break
		}
		cursor = page["nextStartingAfter"].(string)
	}
	if len(listed) != len(approvals) {
		t.Fatalf("%s: %d approvals listed, want %d", when, len(listed), len(approvals))
	}
	for _, a := range approvals {
		v, ok := listed[a.id]
		switch {
		case !ok:
			t.Fatalf("%s: %v not listed", when, a)
		case v["state"] != a.state || v["kind"] != a.kind || v["amount"] != strconv.FormatUint(a.amount, 10) || v["keyId"] != a.keyID:
			t.Fatalf("%s: %v listed as %v, want %s", when, a, v, a.state)
		case a.state == "EXECUTED" && v["transferId"] != a.id:
			t.Fatalf("%s: %v executed as transfer %v, want its own id", when, a, v["transferId"])
		case a.state == "EXPIRED" && v["decidedAt"] != v["expiresAt"]:
			t.Fatalf("%s: %v expired at %v, want at its expiry %v", when, a, v["decidedAt"], v["expiresAt"])
		}
	}
	return want
}

func TestHTTPApprovalsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns server processes")
	}
	dir := t.TempDir()
	child := startCrashChild(t, dir)
	ts := &testServer{t: t, url: child.url}
	m := ts.market(strconv.Itoa(approvalCrashFunds))
	agents := map[int][2]string{} // by policy expiry: key id, plaintext
	for _, seconds := range []int{approvalCrashShort, approvalCrashLong} {
		id, key := ts.key(m.consumer, m.payer, map[string]any{
			"approval": map[string]any{"above": "1000", "approvers": []string{"owner"}, "expiresInSeconds": seconds},
		})
		agents[seconds] = [2]string{id, key}
	}
	now := time.Now().UTC()
	usageRange := "from=" + now.AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + now.AddDate(0, 0, 1).Format(time.DateOnly)

	// Every combination of expiry, kind and fate, in flight twice; the
	// amounts differ (multiples of 100: fees are exact).
	var approvals []*crashApproval
	fates := []approvalFate{fateLeft, fateApproved, fateRejected, fateInFlight, fateInFlight}
	for _, seconds := range []int{approvalCrashShort, approvalCrashLong} {
		for _, kind := range []string{"charge", "hold"} {
			for _, fate := range fates {
				a := &crashApproval{kind: kind, seconds: seconds, keyID: agents[seconds][0], fate: fate,
					amount: 2000 + 100*uint64(len(approvals)), state: "PENDING"}
				body := map[string]any{"to": m.payee, "amount": strconv.FormatUint(a.amount, 10)}
				if kind == "hold" {
					body["expiresInSeconds"] = approvalCrashHoldSeconds
				}
				v := expect(t, ts.do("POST", "/v1/"+kind+"s", agents[seconds][1], body), 202, "", "")["approval"].(map[string]any)
				if v["state"] != "PENDING" || v["kind"] != kind || v["amount"] != body["amount"] {
					t.Fatalf("%v: answered %v", a, v)
				}
				a.id = v["id"].(string)
				approvals = append(approvals, a)
			}
		}
	}
	decide := func(a *crashApproval, verb string, status int, state, code string) {
		t.Helper()
		r := ts.do("POST", "/v1/approvals/"+a.id+"/"+verb, m.consumer.access, nil)
		if status != http.StatusOK {
			expect(t, r, status, "conflict_error", code)
			return
		}
		if v := expect(t, r, status, "", ""); v["state"] != state {
			t.Fatalf("%s %v: answered %v, want %s", verb, a, v, state)
		}
		a.state = state
	}
	var inFlight []*crashApproval
	for _, a := range approvals {
		switch a.fate {
		case fateApproved:
			decide(a, "approve", 200, "EXECUTED", "")
		case fateRejected:
			decide(a, "reject", 200, "REJECTED", "")
		case fateInFlight:
			inFlight = append(inFlight, a)
		}
	}
	checkApprovalsPhase(t, ts, m, approvals, usageRange, "before the kill")

	// The owner approves the in-flight ones all at once, and SIGKILL lands
	// as the first answer arrives: the others are being decided, or not
	// yet.
	type outcome struct {
		status int
		body   []byte
		err    error
	}
	outcomes := make([]outcome, len(inFlight))
	transport := &http.Transport{MaxIdleConnsPerHost: len(inFlight)}
	defer transport.CloseIdleConnections()
	httpClient := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	start, firstAnswer := make(chan struct{}), make(chan struct{}, len(inFlight))
	var wg sync.WaitGroup
	for i, a := range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o := &outcomes[i]
			o.status, o.body, o.err = crashDo(httpClient, child.url, "POST", "/v1/approvals/"+a.id+"/approve", m.consumer.access, nil)
			firstAnswer <- struct{}{}
		}()
	}
	close(start)
	<-firstAnswer
	child.cmd.Process.Kill() // SIGKILL, with the other approvals in flight
	<-child.exited
	wg.Wait()
	lost := 0
	for i, a := range inFlight {
		o := outcomes[i]
		switch {
		case o.err != nil:
			lost++ // in flight at the kill: executed, or never decided
		case o.status != http.StatusOK:
			t.Fatalf("approve %v: %d %s", a, o.status, o.body)
		default:
			if v := (response{status: o.status, body: o.body}).json(t); v["state"] != "EXECUTED" {
				t.Fatalf("approve %v: answered %s", a, o.body)
			}
			a.answered = true
		}
	}
	t.Logf("%d in-flight approvals answered before the kill, %d answers lost", len(inFlight)-lost, lost)
	if lost == 0 {
		t.Logf("every in-flight approval was answered before the kill: the lost-answer path went untested this run")
	}

	// Two minutes later: the minute approvals still pending expire (at
	// the restart, or by the expirer: poll), the hour ones wait on.
	client.CloseIdleConnections() // those of the dead process
	child = startCrashChildAhead(t, dir, approvalCrashAhead)
	ts.url = child.url
	for deadline := time.Now().Add(approvalCrashWait); ; {
		pending := 0
		for _, a := range approvals {
			if a.seconds == approvalCrashShort && ts.approval(m.consumer.access, a.id)["state"] == "PENDING" {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d minute approvals still PENDING %v after a restart two minutes on", pending, approvalCrashWait)
		}
		time.Sleep(10 * time.Millisecond) // the expirer re-reads the child's clock every second
	}
	executedInFlight := 0
	for _, a := range approvals {
		got := ts.approval(m.consumer.access, a.id)["state"]
		switch {
		case a.fate == fateLeft && a.seconds == approvalCrashShort:
			a.state = "EXPIRED"
		case a.fate != fateInFlight:
			// As left before the kill.
		case got == "EXECUTED":
			a.state = "EXECUTED"
			executedInFlight++
		case a.answered:
			t.Fatalf("%v: answered EXECUTED before the kill, %v after it", a, got)
		case a.seconds == approvalCrashShort:
			a.state = "EXPIRED"
		}
		if got != a.state {
			t.Fatalf("%v after the restart: %v, want %s", a, got, a.state)
		}
	}
	t.Logf("%d in-flight approvals executed before the kill (%d of them unanswered)", executedInFlight, executedInFlight-(len(inFlight)-lost))
	checkApprovalsPhase(t, ts, m, approvals, usageRange, "after the restart")

	// The owner approves everything again: what is pending executes, once;
	// the rest refuses.
	for _, a := range approvals {
		switch a.state {
		case "PENDING":
			decide(a, "approve", 200, "EXECUTED", "")
		case "EXECUTED", "REJECTED":
			decide(a, "approve", 409, "", "already_decided")
		case "EXPIRED":
			decide(a, "approve", 409, "", "invalid_state")
		}
	}
	checkApprovalsPhase(t, ts, m, approvals, usageRange, "after the approvals")

	// The payee captures each executed hold, all but 100 of it.
	for _, a := range approvals {
		if a.kind != "hold" || a.state != "EXECUTED" {
			continue
		}
		a.captured = a.amount - 100
		v := expect(t, ts.do("POST", "/v1/holds/"+a.id+"/capture", m.supplierKey, map[string]string{"amount": strconv.FormatUint(a.captured, 10)}), 200, "", "")
		if v["state"] != "CAPTURED" || v["captured"] != strconv.FormatUint(a.captured, 10) {
			t.Fatalf("capture of %v: %v", a, v)
		}
	}
	want := checkApprovalsPhase(t, ts, m, approvals, usageRange, "after the captures")

	// One more kill changes nothing.
	child.kill()
	client.CloseIdleConnections()
	child = startCrashChildAhead(t, dir, approvalCrashAhead)
	ts.url = child.url
	checkApprovalsPhase(t, ts, m, approvals, usageRange, "after a second kill")
	child.kill()

	// The engine on the directory: the fees the usage said, and its
	// invariants whole.
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: httpCrashFeeBps})
	if err != nil {
		t.Fatalf("engine.Open after the kills: %v", err)
	}
	defer eng.Close()
	ctx := context.Background()
	info, err := eng.Account(engine.AccountID(m.payer))
	if err != nil {
		t.Fatal(err)
	}
	fees, err := eng.Balance(ctx, engine.FeesAccount(info.Ledger))
	if err != nil || fees.Posted != engine.NewAmount(want.fees) {
		t.Fatalf("engine: fees posted %v (%v), want %d", fees.Posted, err, want.fees)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("engine.Verify: %v", err)
	}
}
