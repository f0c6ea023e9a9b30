package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tollway/tollway/chain/relay"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/httpapi/signature"
)

// settlementHook is an owner's webhook receiver on 127.0.0.1: it checks
// each delivery's signature and passes the events on.
type settlementHook struct {
	server *httptest.Server
	secret chan string // the endpoint's, once registered
	events chan settlementDelivery
}

type settlementDelivery struct {
	ID, Type string
	Data     webhooks.SettlementData
}

// webhookDocument is httpapi/openapi.json, whose webhooks describe each
// event's body, loaded once.
var webhookDocument = sync.OnceValues(func() (*openapi3.T, error) {
	return openapi3.NewLoader().LoadFromFile("../../httpapi/openapi.json")
})

// checkWebhookSchema returns what is wrong with a delivered event's body
// against the schema openapi.json gives its type.
func checkWebhookSchema(body []byte) error {
	doc, err := webhookDocument()
	if err != nil {
		return fmt.Errorf("load openapi.json: %w", err)
	}
	var value map[string]any
	if err := json.Unmarshal(body, &value); err != nil {
		return err
	}
	kind, _ := value["type"].(string)
	hook := doc.Webhooks[kind]
	if hook == nil || hook.Post == nil {
		return fmt.Errorf("openapi.json has no webhook %q", kind)
	}
	if err := hook.Post.RequestBody.Value.Content.Get("application/json").Schema.Value.VisitJSON(value); err != nil {
		return fmt.Errorf("%s does not match openapi.json: %w", kind, err)
	}
	return nil
}

func newSettlementHook(t *testing.T) *settlementHook {
	h := &settlementHook{secret: make(chan string, 1), events: make(chan settlementDelivery, 64)}
	h.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secret := <-h.secret
		h.secret <- secret
		if err := signature.Verify(r.Header.Get(signature.HeaderName), body, []byte(secret), time.Minute, time.Now()); err != nil {
			t.Errorf("delivery %s: signature: %v", body, err)
		}
		if err := checkWebhookSchema(body); err != nil {
			t.Errorf("delivery %s: %v", body, err)
		}
		var d settlementDelivery
		if err := json.Unmarshal(body, &d); err != nil {
			t.Errorf("delivery %s: %v", body, err)
		}
		h.events <- d
	}))
	t.Cleanup(h.server.Close)
	return h
}

// register creates the hook's endpoint for the owner of token.
func (h *settlementHook) register(n *node, token string) {
	var e struct{ Secret string }
	n.mustCall("POST", "/v1/webhooks", token, map[string]any{"url": h.server.URL,
		"events": []string{webhooks.EventSettlementConfirmed, webhooks.EventSettlementFailed}}, &e)
	h.secret <- e.Secret
}

// take returns the events delivered until their parts sum to want
// (paid or received, as sum picks).
func (h *settlementHook) take(t *testing.T, want int64, sum func(webhooks.SettlementData) string) []settlementDelivery {
	t.Helper()
	var got []settlementDelivery
	var total int64
	deadline := time.After(settleWait)
	for total < want {
		select {
		case d := <-h.events:
			var v int64
			fmt.Sscan(sum(d.Data), &v)
			total += v
			got = append(got, d)
		case <-deadline:
			t.Fatalf("webhooks summing %d of %d within %v: %+v", total, want, settleWait, got)
		}
	}
	if total != want {
		t.Fatalf("webhooks sum to %d, want %d: %+v", total, want, got)
	}
	return got
}

// TestSettlementWebhooksEndToEnd: a consumer's and a supplier's owners
// register webhooks over HTTP; charges settle on the embedded chain, and
// each owner receives one settlement.confirmed per batch, signed, whose
// parts are what the settlements API shows that account: the consumer's
// paid sums to the charges, the supplier's received to them less the fees.
func TestSettlementWebhooksEndToEnd(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), "200ms", "TOLLWAY_ALLOW_PRIVATE_TARGETS=true")
	m := openMarket(t, n, 100_000_000)
	consumer, supplier := newSettlementHook(t), newSettlementHook(t)
	consumer.register(n, m.consumerJWT)
	supplier.register(n, n.signIn(m.supplier))
	_, total, fees := m.charge(t, n, "w", 5)
	m.waitSettled(t, n, total, fees)

	settlements := make(map[string]settlementView)
	for _, s := range m.settlements(t, n) {
		settlements[s.ID] = s
	}
	for _, hook := range []struct {
		name    string
		h       *settlementHook
		account string
		want    int64
		sum     func(webhooks.SettlementData) string
	}{
		{"consumer", consumer, m.consumerAcct, total, func(d webhooks.SettlementData) string { return d.Paid }},
		{"supplier", supplier, m.supplyAcct, total - fees, func(d webhooks.SettlementData) string { return d.Received }},
	} {
		got := hook.h.take(t, hook.want, hook.sum)
		if len(got) != len(settlements) {
			t.Errorf("%s: %d webhooks for %d settlements: %+v", hook.name, len(got), len(settlements), got)
		}
		seen := make(map[string]bool)
		for _, d := range got {
			s, ok := settlements[d.Data.ID]
			var amount, fee int64
			for _, e := range s.Entries {
				var a, f int64
				fmt.Sscan(e.Amount, &a)
				fmt.Sscan(e.Fee, &f)
				amount, fee = amount+a, fee+f
			}
			switch {
			case !ok || seen[d.Data.ID]:
				t.Errorf("%s: webhook for %s, unknown or repeated", hook.name, d.Data.ID)
			case d.Type != webhooks.EventSettlementConfirmed || d.ID != "evt_"+s.ID+".confirmed."+hook.account ||
				d.Data.State != "CONFIRMED" || d.Data.AccountID != hook.account || d.Data.TxHash == nil || *d.Data.TxHash != s.TxHash ||
				d.Data.BlockNumber == nil || *d.Data.BlockNumber != s.BlockNumber || d.Data.Entries != len(s.Entries) ||
				d.Data.Amount != fmt.Sprint(amount) || d.Data.Fee != fmt.Sprint(fee):
				t.Errorf("%s: webhook %+v, want settlement.confirmed of %+v", hook.name, d, s)
			}
			seen[d.Data.ID] = true
		}
	}
}

// TestSettlementWebhooksMapAFailure: a FAILED batch record is a
// settlement.failed per account, with the reason, the latest transaction
// signed and no block; a record not at its end is no event.
func TestSettlementWebhooksMapAFailure(t *testing.T) {
	rows := settlementWebhooks()
	key := fmt.Appendf(nil, "%s%016x", relay.SettlementPrefix, 7)
	if !bytes.HasPrefix(key, rows.Prefixes[0]) {
		t.Fatalf("key %q is not under the prefix %q", key, rows.Prefixes[0])
	}
	s := relay.Settlement{ID: relay.SettlementID(7), Seq: 7, State: relay.Submitted, BatchID: common.HexToHash("0xb7"),
		Entries:   []relay.Entry{{Payer: "acct_payer", Payee: "acct_payee", Amount: engine.NewAmount(1000), Fee: engine.NewAmount(10)}},
		TxHashes:  []common.Hash{common.HexToHash("0x71")},
		CreatedAt: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), FailedAt: time.Date(2026, 12, 3, 12, 1, 0, 0, time.UTC)}
	value, _ := json.Marshal(&s)
	if events, err := rows.Map(key, value); len(events) != 0 || err != nil {
		t.Fatalf("Map(SUBMITTED) = %+v, %v, want no event", events, err)
	}
	s.State, s.Error = relay.Failed, "refused by the pool: paused"
	value, _ = json.Marshal(&s)
	events, err := rows.Map(key, value)
	if err != nil || len(events) != 2 {
		t.Fatalf("Map(FAILED) = %+v, %v, want two events", events, err)
	}
	tx := common.HexToHash("0x71").Hex()
	for i, want := range []webhooks.RowEvent{
		{Type: webhooks.EventSettlementFailed, Account: "acct_payer", Key: "stl_7.failed.acct_payer", Time: s.FailedAt,
			Data: webhooks.SettlementData{ID: "stl_7", State: "FAILED", BatchID: s.BatchID.Hex(), TxHash: &tx, AccountID: "acct_payer",
				Entries: 1, Amount: "1000", Fee: "10", Paid: "1000", Received: "0", Error: s.Error}},
		{Type: webhooks.EventSettlementFailed, Account: "acct_payee", Key: "stl_7.failed.acct_payee", Time: s.FailedAt,
			Data: webhooks.SettlementData{ID: "stl_7", State: "FAILED", BatchID: s.BatchID.Hex(), TxHash: &tx, AccountID: "acct_payee",
				Entries: 1, Amount: "1000", Fee: "10", Paid: "0", Received: "990", Error: s.Error}},
	} {
		got, _ := json.Marshal(events[i].Data)
		wantData, _ := json.Marshal(want.Data)
		body := fmt.Sprintf(`{"id":"evt_%s","type":%q,"created":"2026-12-03T12:01:00Z","data":%s}`, events[i].Key, events[i].Type, got)
		if err := checkWebhookSchema([]byte(body)); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
		if events[i].Type != want.Type || events[i].Account != want.Account || events[i].Key != want.Key ||
			!events[i].Time.Equal(want.Time) || string(got) != string(wantData) {
			t.Errorf("event %d = %+v %s, want %+v %s", i, events[i], got, want, wantData)
		}
	}
}
