package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/httpapi/signature"
)

// checkWebhookBody returns what is wrong with a delivered event's body
// against openapi.json's webhooks: the schema of its type's request body.
func checkWebhookBody(body []byte) error {
	doc, _, err := openAPIConformance()
	if err != nil {
		return err
	}
	var envelope struct{ Type string }
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	hook := doc.Webhooks[envelope.Type]
	if hook == nil || hook.Post == nil {
		return fmt.Errorf("openapi.json has no webhook %q", envelope.Type)
	}
	schema := hook.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return err
	}
	if err := schema.VisitJSON(value); err != nil {
		return fmt.Errorf("%s does not match its schema: %w", envelope.Type, err)
	}
	return nil
}

// eventRecorder is a receiver on 127.0.0.1: per path, the events that
// arrived with a valid signature and a body openapi.json describes.
type eventRecorder struct {
	t       *testing.T
	mu      sync.Mutex
	secrets map[string]string
	events  map[string][]map[string]any
}

func (rc *eventRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := signature.Verify(r.Header.Get(signature.HeaderName), body, []byte(rc.secrets[r.URL.Path]), time.Minute, time.Now()); err != nil { // signed at the wall clock's time
		rc.t.Errorf("delivery to %s: signature: %v", r.URL.Path, err)
	}
	if err := checkWebhookBody(body); err != nil {
		rc.t.Errorf("delivery to %s: %v: %s", r.URL.Path, err, body)
	}
	var event map[string]any
	if err := json.Unmarshal(body, &event); err == nil {
		rc.events[r.URL.Path] = append(rc.events[r.URL.Path], event)
	}
}

// types returns the types that arrived at path, in order, without
// redeliveries.
func (rc *eventRecorder) types(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var types []string
	seen := map[any]bool{}
	for _, e := range rc.events[path] {
		if !seen[e["id"]] {
			seen[e["id"]] = true
			types = append(types, e["type"].(string))
		}
	}
	return types
}

func (rc *eventRecorder) event(path, kind string) map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, e := range rc.events[path] {
		if e["type"] == kind {
			return e["data"].(map[string]any)
		}
	}
	return nil
}

// TestWebhooksDeliverEveryEventTypeAsOpenAPISays drives each event the
// HTTP API causes, approvals included (the settlement events come from the relayer: see
// cmd/tollway) and checks that each reaches the endpoints of the owners of
// the accounts it concerns, signed, matching openapi.json's webhooks, in
// log order, each once.
func TestWebhooksDeliverEveryEventTypeAsOpenAPISays(t *testing.T) {
	ts := startServer(t, withPrivateTargets)
	rc := &eventRecorder{t: t, secrets: map[string]string{}, events: map[string][]map[string]any{}}
	receiver := httptest.NewServer(rc)
	t.Cleanup(receiver.Close)

	consumer, supplier := ts.signup("consumer@example.com"), ts.signup("supplier@example.com")
	payer, payee := ts.account(consumer, "test"), ts.account(supplier, "test")
	everything := []string{"balance.low", "deposit.credited", "settlement.confirmed", "settlement.failed",
		"session.ended", "hold.expired", "key.budget_exhausted", "approval.requested", "approval.decided"}
	for _, endpoint := range []struct {
		owner user
		path  string
	}{{consumer, "/consumer"}, {supplier, "/supplier"}} {
		created := expect(t, ts.do("POST", "/v1/webhooks", endpoint.owner.access,
			map[string]any{"url": receiver.URL + endpoint.path, "events": everything}), 201, "", "")
		rc.mu.Lock()
		rc.secrets[endpoint.path] = created["secret"].(string)
		rc.mu.Unlock()
	}

	ts.credit(payer, "10000") // deposit.credited
	expect(t, ts.do("PATCH", "/v1/accounts/"+payer, consumer.access, map[string]any{"lowBalanceThreshold": "5000"}), 200, "", "")
	keyID, key := ts.key(consumer, payer, map[string]any{"budget": map[string]string{"maxTotal": "1500"}})
	_, supplierKey := ts.key(supplier, payee, nil)
	// 1000 of the 1500: the same charge again would be refused.
	expect(t, ts.do("POST", "/v1/charges", key, map[string]string{"to": payee, "amount": "1000"}), 201, "", "")
	// A hold of 4500 (by a key without a budget) takes the 9000 left
	// below 5000; it expires unclaimed, which re-arms the threshold.
	_, plainKey := ts.key(consumer, payer, nil)
	hold := expect(t, ts.do("POST", "/v1/holds", plainKey, map[string]any{"to": payee, "amount": "4500", "expiresInSeconds": 60}), 201, "", "")
	ts.clock.Advance(60 * time.Second)
	m := market{consumer: consumer, supplier: supplier, payer: payer, payee: payee, key: plainKey, supplierKey: supplierKey}
	session := openTestSession(t, ts, m)["id"].(string)
	expect(t, ts.do("POST", "/v1/sessions/"+session+"/accept", supplierKey, nil), 200, "", "")
	expect(t, ts.do("POST", "/v1/sessions/"+session+"/start", plainKey, "{}"), 200, "", "")
	ts.clock.Advance(3 * time.Second)
	expect(t, ts.do("POST", "/v1/sessions/"+session+"/end", supplierKey, nil), 200, "", "")
	// A charge held back for the owner's approval, then rejected.
	_, agent := ts.key(consumer, payer, map[string]any{"approval": map[string]any{"above": "100", "approvers": []string{"owner"}, "expiresInSeconds": 600}})
	approval := expect(t, ts.do("POST", "/v1/charges", agent, map[string]string{"to": payee, "amount": "200"}), 202, "", "")["approval"].(map[string]any)["id"].(string)
	expect(t, ts.do("POST", "/v1/approvals/"+approval+"/reject", consumer.access, nil), 200, "", "")

	want := map[string][]string{
		"/consumer": {"deposit.credited", "key.budget_exhausted", "balance.low", "hold.expired", "session.ended", "approval.requested", "approval.decided"},
		"/supplier": {"hold.expired", "session.ended"},
	}
	deadline := time.Now().Add(20 * time.Second)
	for path, types := range want {
		for !slices.Equal(rc.types(path), types) {
			if time.Now().After(deadline) || len(rc.types(path)) > len(types) {
				t.Fatalf("%s received %v, want %v", path, rc.types(path), types)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for kind, want := range map[string]map[string]any{
		"deposit.credited":     {"accountId": payer, "amount": "10000"},
		"key.budget_exhausted": {"accountId": payer, "keyId": keyID, "cap": "total", "limit": "1500"},
		"balance.low":          {"accountId": payer, "threshold": "5000", "transferId": hold["id"]},
		"hold.expired":         {"id": hold["id"], "accountId": payer, "payeeAccountId": payee, "amount": "4500"},
		"session.ended":        {"id": session, "consumerAccountId": payer, "supplierAccountId": payee, "captured": "30"},
		"approval.requested":   {"id": approval, "state": "PENDING", "amount": "200", "from": payer},
		"approval.decided":     {"id": approval, "state": "REJECTED", "amount": "200", "from": payer},
	} {
		got := rc.event("/consumer", kind)
		for field, value := range want {
			if got[field] != value {
				t.Errorf("%s data %v: %s = %v, want %v", kind, got, field, got[field], value)
			}
		}
	}
	if got := rc.event("/supplier", "session.ended"); got["id"] != session || !strings.HasPrefix(fmt.Sprint(got["reserved"]), "600") {
		t.Errorf("the supplier's session.ended = %v", got)
	}
}
