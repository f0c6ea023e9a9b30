package httpapi

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/engine/approvals"
)

// approvalMarket is a market whose consumer is a wallet user (so the
// owner can decide by signature too) with an agent key whose spends above
// 1000 wait for the roles given.
type approvalMarket struct {
	market
	agentID, agent string // the key with the approval policy
	address        string // the consumer's wallet
}

func (ts *testServer) approvalMarket(funds string, approvers ...string) (approvalMarket, func(text string) string) {
	ts.t.Helper()
	consumer, address, walletKey := ts.siweUser()
	supplier := ts.signup(fmt.Sprintf("supplier-%d@example.com", time.Now().UnixNano()))
	m := approvalMarket{address: address}
	m.consumer, m.supplier = consumer, supplier
	m.payer, m.payee = ts.account(consumer, "test"), ts.account(supplier, "test")
	ts.credit(m.payer, funds)
	m.keyID, m.key = ts.key(consumer, m.payer, nil)
	m.supplierKeyID, m.supplierKey = ts.key(supplier, m.payee, nil)
	m.agentID, m.agent = ts.key(consumer, m.payer, map[string]any{
		"approval": map[string]any{"above": "1000", "approvers": approvers, "expiresInSeconds": 3600},
	})
	sign := func(text string) string { return hexOf(signApproval(ts.t, walletKey, text)) }
	return m, sign
}

func (ts *testServer) approval(token, id string) map[string]any {
	ts.t.Helper()
	return expect(ts.t, ts.do("GET", "/v1/approvals/"+id, token, nil), 200, "", "")
}

// TestAChargeAboveTheThresholdWaitsForTheOwnerThenExecutesOnce: below the
// threshold a charge is as always; above it, 202 with a PENDING approval,
// the amount reserved and nothing paid; the owner's approval executes it
// once, with the fee, and the approval records its transfer.
func TestAChargeAboveTheThresholdWaitsForTheOwnerThenExecutesOnce(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("10000", "owner")
	charge := func(amount, idempotencyKey string) response {
		return ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": amount, "metadata": map[string]string{"job": "j1"}},
			"Idempotency-Key", idempotencyKey)
	}
	expect(t, charge("1000", "small"), 201, "", "") // at the threshold: at once
	ts.wantBalance(m.key, "9000", "0")

	waiting := expect(t, charge("4000", "big"), 202, "", "")["approval"].(map[string]any)
	id := waiting["id"].(string)
	if waiting["state"] != "PENDING" || waiting["kind"] != "charge" || waiting["amount"] != "4000" || waiting["keyId"] != m.agentID ||
		waiting["from"] != m.payer || waiting["to"] != m.payee || waiting["transferId"] != nil ||
		fmt.Sprint(waiting["required"]) != "[owner]" || fmt.Sprint(waiting["metadata"]) != "map[job:j1]" {
		t.Fatalf("approval = %v", waiting)
	}
	ts.wantBalance(m.key, "5000", "4000")
	ts.wantBalance(m.supplierKey, "990", "0") // the small charge, less its 1% fee
	again := expect(t, charge("4000", "big"), 202, "", "")["approval"].(map[string]any)
	if again["id"] != id {
		t.Fatalf("a retry answered approval %v, want %s", again["id"], id)
	}
	expect(t, charge("4001", "big"), 409, "conflict_error", "idempotency_key_reused")

	// Only the owner decides: not the agent, not another user.
	stranger := ts.signup("stranger@example.com")
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", m.agent, nil), 403, "permission_error", "not_arbiter")
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", stranger.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/approvals/"+id, stranger.access, nil), 404, "not_found_error", "not_found")
	ts.wantBalance(m.key, "5000", "4000")

	done := expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", m.consumer.access, map[string]string{"reason": "expected"}), 200, "", "")
	if done["state"] != "EXECUTED" || done["transferId"] != id || len(done["decisions"].([]any)) != 1 {
		t.Fatalf("approved = %v", done)
	}
	d := done["decisions"].([]any)[0].(map[string]any)
	if d["role"] != "owner" || d["by"] != m.consumer.id || d["approved"] != true || d["reason"] != "expected" {
		t.Fatalf("decision = %v", d)
	}
	ts.wantBalance(m.key, "5000", "0")
	ts.wantBalance(m.supplierKey, "4950", "0") // 990 + 4000 less 40
	if fees := ts.feesPosted(m.payer); fees != "50" {
		t.Fatalf("fees = %s, want 50", fees)
	}
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", m.consumer.access, nil), 409, "conflict_error", "already_decided")
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/reject", m.consumer.access, nil), 409, "conflict_error", "already_decided")
	ts.wantBalance(m.key, "5000", "0")

	// The charge it made reads as a charge, naming its approval.
	made := expect(t, ts.do("GET", "/v1/charges/"+id, m.key, nil), 200, "", "")
	if made["amount"] != "4000" || made["fee"] != "40" || made["toAmount"] != "3960" ||
		fmt.Sprint(made["approval"]) != "map[id:"+id+" state:EXECUTED]" || fmt.Sprint(made["metadata"]) != "map[job:j1]" {
		t.Fatalf("GET /v1/charges/%s = %v", id, made)
	}
	// The approval reads the same to its owner and to a key of the payer.
	if got := ts.approval(m.key, id); got["state"] != "EXECUTED" {
		t.Fatalf("GET by a key of the payer = %v", got)
	}
	list := expect(t, ts.do("GET", "/v1/approvals?state=EXECUTED", m.consumer.access, nil), 200, "", "")
	if data := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("list = %v", list)
	}
	if data := expect(t, ts.do("GET", "/v1/approvals?state=PENDING", m.consumer.access, nil), 200, "", "")["data"].([]any); len(data) != 0 {
		t.Fatalf("pending = %v", data)
	}
	ts.restart()
	if got := ts.approval(m.consumer.access, id); got["state"] != "EXECUTED" {
		t.Fatalf("after a restart = %v", got)
	}
	ts.wantBalance(m.key, "5000", "0")
	ts.verify()
}

// TestADecisionRetriedAfterARestartAnswersAsTheFirst: a decision's answer
// lost (the client retries with its Idempotency-Key) is answered again,
// also after a restart emptied the stored responses: the decision keeps
// its request's fingerprint. Another request, or none, is a second
// decision: 409.
func TestADecisionRetriedAfterARestartAnswersAsTheFirst(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("10000", "owner")
	id := expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "4000"}), 202, "", "")["approval"].(map[string]any)["id"].(string)
	approve := func(key string, body any) response {
		return ts.do("POST", "/v1/approvals/"+id+"/approve", m.consumer.access, body, "Idempotency-Key", key)
	}
	if got := expect(t, approve("decide-1", map[string]string{"reason": "ok"}), 200, "", ""); got["state"] != "EXECUTED" {
		t.Fatalf("approve = %v", got)
	}
	ts.wantBalance(m.key, "6000", "0")
	for _, when := range []string{"at once", "after a restart"} {
		if when != "at once" {
			ts.restart()
		}
		r := approve("decide-1", map[string]string{"reason": "ok"})
		if got := expect(t, r, 200, "", ""); got["state"] != "EXECUTED" || len(got["decisions"].([]any)) != 1 || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("the retry %s = %v %v, want the executed approval, replayed", when, got, r.header)
		}
	}
	// The same key over another request: the stored response knows it as
	// a reuse; once a restart forgot it, the fingerprint tells.
	expect(t, approve("decide-1", map[string]string{"reason": "changed"}), 409, "conflict_error", "idempotency_key_reused")
	ts.restart()
	expect(t, approve("decide-1", map[string]string{"reason": "changed"}), 409, "conflict_error", "already_decided")
	expect(t, approve("decide-2", map[string]string{"reason": "ok"}), 409, "conflict_error", "already_decided")
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", m.consumer.access, map[string]string{"reason": "ok"}), 409, "conflict_error", "already_decided")
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/reject", m.consumer.access, map[string]string{"reason": "ok"}, "Idempotency-Key", "decide-1"),
		409, "conflict_error", "already_decided")
	ts.wantBalance(m.key, "6000", "0")
	ts.verify()
}

// TestApprovalsPageWithStartingAfterAsTheOtherLists: the list pages with
// startingAfter / nextStartingAfter like every other list; cursor and
// nextCursor, the first version's names, still work.
func TestApprovalsPageWithStartingAfterAsTheOtherLists(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("10000", "owner")
	var ids []string
	for range 2 {
		r := expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "2000"}), 202, "", "")
		ids = append(ids, r["approval"].(map[string]any)["id"].(string))
	}
	first := expect(t, ts.do("GET", "/v1/approvals?limit=1", m.consumer.access, nil), 200, "", "")
	next, _ := first["nextStartingAfter"].(string)
	if first["hasMore"] != true || next == "" || first["nextCursor"] != next || len(first["data"].([]any)) != 1 {
		t.Fatalf("first page = %v", first)
	}
	seen := first["data"].([]any)[0].(map[string]any)["id"].(string)
	for _, query := range []string{"startingAfter=" + next, "cursor=" + next, "startingAfter=" + next + "&cursor=" + next} {
		second := expect(t, ts.do("GET", "/v1/approvals?limit=1&"+query, m.consumer.access, nil), 200, "", "")
		data := second["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["id"] == seen || second["hasMore"] != false || second["nextStartingAfter"] != nil {
			t.Fatalf("second page by %s = %v, want the other of %v, last", query, second, ids)
		}
	}
	r := expect(t, ts.do("GET", "/v1/approvals?startingAfter="+ids[0]+"&cursor="+ids[1], m.consumer.access, nil), 400, "invalid_request_error", "validation_failed")
	if fields, _ := r["fields"].(map[string]any); fields["cursor"] == nil {
		t.Fatalf("both names, two approvals = %v, want the cursor field named", r)
	}
}

// TestARejectionOrTheExpiryReleasesTheReservationExactly.
func TestARejectionOrTheExpiryReleasesTheReservationExactly(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("10000", "owner")
	hold := func(amount string) string {
		body := map[string]any{"to": m.payee, "amount": amount, "expiresInSeconds": 600}
		return expect(t, ts.do("POST", "/v1/holds", m.agent, body), 202, "", "")["approval"].(map[string]any)["id"].(string)
	}
	rejected, expiring := hold("3000"), hold("2000")
	ts.wantBalance(m.key, "5000", "5000")
	expect(t, ts.do("POST", "/v1/approvals/"+rejected+"/reject", m.consumer.access, map[string]string{"reason": strings.Repeat("x", 501)}),
		400, "invalid_request_error", "validation_failed")
	got := expect(t, ts.do("POST", "/v1/approvals/"+rejected+"/reject", m.consumer.access, map[string]string{"reason": "too much"}), 200, "", "")
	if got["state"] != "REJECTED" || got["transferId"] != nil {
		t.Fatalf("rejected = %v", got)
	}
	ts.wantBalance(m.key, "8000", "2000")
	// The reservation is no hold of the payee's to capture, then or now.
	expect(t, ts.do("POST", "/v1/holds/"+expiring+"/capture", m.supplierKey, nil), 404, "not_found_error", "not_found")

	ts.clock.Advance(time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for ts.approval(m.key, expiring)["state"] != "EXPIRED" { // the owner's JWT expired meanwhile: a key reads
		if time.Now().After(deadline) {
			t.Fatalf("approval %s not EXPIRED an hour on: %v", expiring, ts.approval(m.key, expiring))
		}
		time.Sleep(10 * time.Millisecond) // the expirer re-reads the test clock every second
	}
	ts.wantBalance(m.key, "10000", "0")
	ts.wantBalance(m.supplierKey, "0", "0")
	fresh := expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": m.consumer.refresh}), 200, "", "")
	expect(t, ts.do("POST", "/v1/approvals/"+expiring+"/approve", fresh["accessToken"].(string), nil), 409, "conflict_error", "invalid_state")
	ts.verify()
}

// TestAnApprovedHoldIsTheClientsToCapture: a hold held back becomes the
// client's hold once approved: the payee captures it under the approval's
// transferId.
func TestAnApprovedHoldIsTheClientsToCapture(t *testing.T) {
	ts := startServer(t)
	m, sign := ts.approvalMarket("10000", "owner")
	id := expect(t, ts.do("POST", "/v1/holds", m.agent, map[string]any{"to": m.payee, "amount": "5000", "expiresInSeconds": 600}), 202, "", "")["approval"].(map[string]any)["id"].(string)
	// By the owner's wallet: a signature of exactly this decision on this approval.
	got := expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", "", nil,
		"X-Ethereum-Address", m.address, "X-Ethereum-Signature", sign("Tollway approval "+id+": approve")), 200, "", "")
	if got["state"] != "EXECUTED" || got["transferId"] != id || got["decisions"].([]any)[0].(map[string]any)["by"] != m.address {
		t.Fatalf("approved = %v", got)
	}
	ts.wantBalance(m.key, "5000", "5000")
	captured := expect(t, ts.do("POST", "/v1/holds/"+id+"/capture", m.supplierKey, map[string]string{"amount": "3000"}), 200, "", "")
	if captured["state"] != "CAPTURED" || captured["captured"] != "3000" || fmt.Sprint(captured["approval"]) != "map[id:"+id+" state:EXECUTED]" {
		t.Fatalf("capture = %v", captured)
	}
	ts.wantBalance(m.key, "7000", "0")
	ts.wantBalance(m.supplierKey, "2970", "0")
	ts.verify()
}

// TestAWalletSignatureDecidesOnlyTheApprovalAndDecisionItNames.
func TestAWalletSignatureDecidesOnlyTheApprovalAndDecisionItNames(t *testing.T) {
	ts := startServer(t)
	m, sign := ts.approvalMarket("10000", "owner")
	charge := func() string {
		return expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "2000"}), 202, "", "")["approval"].(map[string]any)["id"].(string)
	}
	first, second := charge(), charge()
	_, otherAddress, otherKey := ts.siweUser()
	wallet := func(id, address, signature string) response {
		return ts.do("POST", "/v1/approvals/"+id+"/approve", "", nil, "X-Ethereum-Address", address, "X-Ethereum-Signature", signature)
	}
	expect(t, wallet(first, m.address, sign("Tollway approval "+second+": approve")), 401, "authentication_error", "invalid_signature")
	expect(t, wallet(first, m.address, sign("Tollway approval "+first+": reject")), 401, "authentication_error", "invalid_signature")
	expect(t, wallet(first, m.address, "0x1234"), 401, "authentication_error", "invalid_signature")
	expect(t, wallet(first, otherAddress, hexOf(signApproval(t, otherKey, "Tollway approval "+first+": approve"))), 403, "permission_error", "not_owner")
	expect(t, wallet(first, m.address, hexOf(signApproval(t, otherKey, "Tollway approval "+first+": approve"))), 401, "authentication_error", "invalid_signature")
	for _, id := range []string{first, second} {
		if got := ts.approval(m.consumer.access, id); got["state"] != "PENDING" {
			t.Fatalf("approval %s = %v after refused signatures", id, got)
		}
	}
	ts.wantBalance(m.key, "6000", "4000")
	expect(t, wallet(first, m.address, sign("Tollway approval "+first+": approve")), 200, "", "")
	ts.wantBalance(m.key, "6000", "2000")
}

// TestTwoRolesExecuteOnlyAfterBothAndRaceToOneOutcome: with owner and
// arbiter required, the owner's approval alone executes nothing; an
// arbiter key of another owner and the agent itself cannot decide;
// concurrent approve and reject by both roles end in exactly one outcome.
func TestTwoRolesExecuteOnlyAfterBothAndRaceToOneOutcome(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("100000", "owner", "arbiter")
	arbiterBody := func() map[string]any {
		return map[string]any{"role": "arbiter", "scopes": []string{"approvals:read", "approvals:write"}}
	}
	_, arbiter := ts.key(m.consumer, m.payer, arbiterBody())
	other := ts.market("1")
	_, foreignArbiter := ts.key(other.consumer, other.payer, arbiterBody())
	charge := func() string {
		return expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "2000"}), 202, "", "")["approval"].(map[string]any)["id"].(string)
	}
	id := charge()
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", foreignArbiter, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", m.key, nil), 403, "permission_error", "not_arbiter")
	half := expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", m.consumer.access, nil), 200, "", "")
	if half["state"] != "PENDING" {
		t.Fatalf("after the owner alone = %v", half)
	}
	ts.wantBalance(m.key, "98000", "2000")
	done := expect(t, ts.do("POST", "/v1/approvals/"+id+"/approve", arbiter, nil), 200, "", "")
	if done["state"] != "EXECUTED" || len(done["decisions"].([]any)) != 2 {
		t.Fatalf("after both = %v", done)
	}
	ts.wantBalance(m.key, "98000", "0")

	// Each role approves and rejects at once: each role decides once
	// (the other of its two requests is 409), and the approval ends
	// either executed (both approvals first) or rejected, never both.
	const races = 8
	executed := 0
	for range races {
		id := charge()
		var wg sync.WaitGroup
		var mu sync.Mutex
		decided := 0
		for _, decider := range []string{m.consumer.access, arbiter} {
			for _, verb := range []string{"approve", "reject"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := ts.do("POST", "/v1/approvals/"+id+"/"+verb, decider, nil)
					switch r.status {
					case 200:
						mu.Lock()
						decided++
						mu.Unlock()
					case 409:
					default:
						t.Errorf("%s = %d %s", verb, r.status, r.body)
					}
				}()
			}
		}
		wg.Wait()
		got := ts.approval(m.consumer.access, id)
		decisions := got["decisions"].([]any)
		if len(decisions) != decided || decided == 0 || decided > 2 {
			t.Fatalf("%d decisions answered 200, %d recorded: %v", decided, len(decisions), got)
		}
		switch got["state"] {
		case "EXECUTED":
			executed++
		case "REJECTED":
		default:
			t.Fatalf("approval ended %v, want EXECUTED or REJECTED", got)
		}
	}
	ts.wantBalance(m.key, fmt.Sprint(98000-2000*executed), "0")
	ts.verify()
}

// TestSpendsThatCannotWaitAreRefusedAboveTheThreshold: a batch item, a
// session or a gateway call above the key's threshold is 403
// approval_required and changes nothing.
func TestSpendsThatCannotWaitAreRefusedAboveTheThreshold(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("10000", "owner")
	batch := map[string]any{"charges": []map[string]any{{"to": m.payee, "amount": "10"}, {"to": m.payee, "amount": "1001"}}}
	expect(t, ts.do("POST", "/v1/charges/batch", m.agent, batch), 403, "permission_error", "approval_required")
	session := map[string]any{"to": m.payee, "ratePerSecond": "10", "maxDurationSeconds": 101}
	expect(t, ts.do("POST", "/v1/sessions", m.agent, session), 403, "permission_error", "approval_required")
	session["maxDurationSeconds"] = 100 // 1000: at the threshold
	expect(t, ts.do("POST", "/v1/sessions", m.agent, session), 201, "", "")
	ts.wantBalance(m.key, "9000", "1000")
}

// TestPendingApprovalsAreBoundedPerKey: past approvals.PendingPerKeyMax
// pending on one key, a spend that would wait is 409 limit_exceeded and
// reserves nothing; deciding one makes room.
func TestPendingApprovalsAreBoundedPerKey(t *testing.T) {
	ts := startServer(t)
	m, _ := ts.approvalMarket("1000000", "owner")
	var first string
	for i := range approvals.PendingPerKeyMax {
		id := expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "1001"}), 202, "", "")["approval"].(map[string]any)["id"].(string)
		if i == 0 {
			first = id
		}
	}
	reserved := fmt.Sprint(1001 * approvals.PendingPerKeyMax)
	expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "1001"}), 409, "conflict_error", "limit_exceeded")
	ts.wantBalance(m.key, fmt.Sprint(1000000-1001*approvals.PendingPerKeyMax), reserved)
	expect(t, ts.do("POST", "/v1/approvals/"+first+"/reject", m.consumer.access, nil), 200, "", "")
	expect(t, ts.do("POST", "/v1/charges", m.agent, map[string]any{"to": m.payee, "amount": "1001"}), 202, "", "")
	ts.wantBalance(m.key, fmt.Sprint(1000000-1001*approvals.PendingPerKeyMax), reserved)
}
