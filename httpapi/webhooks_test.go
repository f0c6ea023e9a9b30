package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollway/tollway/httpapi/signature"
)

func withPrivateTargets(config *Config) { config.AllowPrivateTargets = true }

// TestWebhookEndpointsDeliverDepositsSigned registers an endpoint on a
// receiver at 127.0.0.1 (allowed by --allow-private-targets only), credits
// the account, and reads the signed event and the delivery log back.
func TestWebhookEndpointsDeliverDepositsSigned(t *testing.T) {
	type delivery struct {
		body   []byte
		header string
	}
	got := make(chan delivery, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{body, r.Header.Get(signature.HeaderName)}
	}))
	t.Cleanup(receiver.Close)

	ts := startServer(t)
	alice, bob := ts.signup("alice@example.com"), ts.signup("bob@example.com")
	account := ts.account(alice, "test")
	body := map[string]any{"url": receiver.URL + "/hook", "events": []string{"deposit.credited"}}
	e := expect(t, ts.do("POST", "/v1/webhooks", alice.access, body), 400, "invalid_request_error", "validation_failed")
	if fields := e["fields"].(map[string]any); len(fields) != 1 || fields["url"] == nil {
		t.Fatalf("fields = %v, want url refused (a loopback address)", fields)
	}
	ts.restart(withPrivateTargets)
	for _, bad := range []map[string]any{
		{"url": "ftp://127.0.0.1/", "events": []string{"deposit.credited"}},
		{"url": receiver.URL, "events": []string{}},
		{"url": receiver.URL, "events": []string{"charge.succeeded"}},
		{"url": receiver.URL, "events": []string{"hold.expired", "hold.expired"}},
		{"url": receiver.URL, "events": []string{"hold.expired"}, "accountId": "acct_none"},
		{"events": []string{"hold.expired"}},
	} {
		expect(t, ts.do("POST", "/v1/webhooks", alice.access, bad), 400, "invalid_request_error", "validation_failed")
	}
	expect(t, ts.do("POST", "/v1/webhooks", "", body), 401, "authentication_error", "missing_credentials")
	body["accountId"] = account
	created := expect(t, ts.do("POST", "/v1/webhooks", alice.access, body), 201, "", "")
	id, secret := created["id"].(string), created["secret"].(string)
	if created["accountId"] != account || created["url"] != receiver.URL+"/hook" || len(secret) != len("whsec_")+43 {
		t.Fatalf("created = %v", created)
	}

	ts.credit(account, "42")
	select {
	case d := <-got:
		if err := signature.Verify(d.header, d.body, []byte(secret), time.Minute, time.Now()); err != nil {
			t.Fatalf("signature.Verify(%q) = %v", d.header, err)
		}
		var event struct {
			ID, Type, Created string
			Data              map[string]string
		}
		if err := json.Unmarshal(d.body, &event); err != nil || event.Type != "deposit.credited" ||
			event.Data["accountId"] != account || event.Data["amount"] != "42" || event.ID == "" || event.Created == "" {
			t.Fatalf("event = %s, %v", d.body, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10 s")
	}

	list := expect(t, ts.do("GET", "/v1/webhooks", alice.access, nil), 200, "", "")
	if data := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["secret"] != nil {
		t.Fatalf("list = %v, want the endpoint without its secret", list)
	}
	if data := expect(t, ts.do("GET", "/v1/webhooks", bob.access, nil), 200, "", "")["data"].([]any); len(data) != 0 {
		t.Fatalf("bob lists %v", data)
	}
	expect(t, ts.do("GET", "/v1/webhooks/"+id, bob.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/webhooks/"+id+"/deliveries", bob.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", "/v1/webhooks/"+id+"/deliveries?limit=0", alice.access, nil), 400, "invalid_request_error", "validation_failed")
	deadline := time.Now().Add(10 * time.Second)
	var page map[string]any
	for { // the attempt is logged just after the receiver answers
		page = expect(t, ts.do("GET", "/v1/webhooks/"+id+"/deliveries", alice.access, nil), 200, "", "")
		if len(page["data"].([]any)) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	entries := page["data"].([]any)
	if len(entries) != 1 || page["hasMore"] != false {
		t.Fatalf("deliveries = %v, want one", page)
	}
	if d := entries[0].(map[string]any); d["outcome"] != "delivered" || d["status"] != float64(200) || d["attempt"] != float64(1) || d["type"] != "deposit.credited" {
		t.Fatalf("delivery = %v", d)
	}
	expect(t, ts.do("DELETE", "/v1/webhooks/"+id, bob.access, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("DELETE", "/v1/webhooks/"+id, alice.access, nil), 200, "", "")
	expect(t, ts.do("GET", "/v1/webhooks/"+id, alice.access, nil), 404, "not_found_error", "not_found")
}
