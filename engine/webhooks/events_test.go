package webhooks

import (
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

func TestEventOfMapsEachDeliveredTypeAndNothingElse(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ev       engine.Event
		body     string
		accounts []engine.AccountID
	}{
		{engine.Event{Position: 36, Type: engine.EventCredited, ID: "cr_1", From: "chain", To: "acct_a", Amount: engine.NewAmount(5), Time: at},
			`{"id":"evt_10","type":"deposit.credited","created":"2026-12-01T12:00:00Z","data":{"id":"cr_1","accountId":"acct_a","amount":"5"}}`,
			[]engine.AccountID{"acct_a"}},
		{engine.Event{Position: 37, Type: engine.EventSessionEnded, ID: "sess_1", From: "acct_a", To: "acct_b",
			Amount: engine.NewAmount(100), Captured: engine.NewAmount(40), Fee: engine.NewAmount(1), Time: at},
			`{"id":"evt_11","type":"session.ended","created":"2026-12-01T12:00:00Z","data":{"id":"sess_1","consumerAccountId":"acct_a","supplierAccountId":"acct_b","reserved":"100","captured":"40","fee":"1"}}`,
			[]engine.AccountID{"acct_a", "acct_b"}},
		{engine.Event{Position: 38, Type: engine.EventExpired, ID: "hold_1", From: "acct_a", To: "acct_b", Amount: engine.NewAmount(7), Time: at},
			`{"id":"evt_12","type":"hold.expired","created":"2026-12-01T12:00:00Z","data":{"id":"hold_1","accountId":"acct_a","payeeAccountId":"acct_b","amount":"7"}}`,
			[]engine.AccountID{"acct_a", "acct_b"}},
	}
	for _, tt := range tests {
		m, ok, err := eventOf(tt.ev)
		if err != nil || !ok || string(m.body) != tt.body || len(m.accounts) != len(tt.accounts) || m.accounts[0] != tt.accounts[0] {
			t.Errorf("eventOf(%v) = %s %v, %v, %v; want %s %v", tt.ev.Type, m.body, m.accounts, ok, err, tt.body, tt.accounts)
		}
	}
	for _, typ := range []engine.EventType{engine.EventAccountCreated, engine.EventCharged, engine.EventHeld, engine.EventCaptured,
		engine.EventVoided, engine.EventSessionOpened, engine.EventSessionCancelled, engine.EventSessionExpired, engine.EventPaidOut} {
		if _, ok, err := eventOf(engine.Event{Type: typ, From: "a", To: "b"}); ok || err != nil {
			t.Errorf("eventOf(%v) = %v, %v; want not mapped", typ, ok, err)
		}
	}
}

func TestBackoffDoublesFromFirstToMax(t *testing.T) {
	want := map[uint32]time.Duration{0: 0, 1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second,
		10: 2560 * time.Second, 11: time.Hour, 40: time.Hour}
	for attempts, d := range want {
		if got := Backoff(attempts); got != d {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, d)
		}
	}
}
