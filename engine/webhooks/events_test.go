package webhooks

import (
	"slices"
	"strings"
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
		all, err := eventOf(tt.ev)
		if err != nil || len(all) != 1 || string(all[0].body) != tt.body || !slices.Equal(all[0].accounts, tt.accounts) {
			t.Errorf("eventOf(%v) = %+v, %v; want %s %v", tt.ev.Type, all, err, tt.body, tt.accounts)
		}
	}
	for _, typ := range []engine.EventType{engine.EventAccountCreated, engine.EventCharged, engine.EventHeld, engine.EventCaptured,
		engine.EventVoided, engine.EventSessionOpened, engine.EventSessionCancelled, engine.EventSessionExpired, engine.EventPaidOut,
		engine.EventWithdrawalReserved, engine.EventWithdrawn, engine.EventLowBalanceSet} {
		if all, err := eventOf(engine.Event{Type: typ, From: "a", To: "b"}); len(all) != 0 || err != nil {
			t.Errorf("eventOf(%v) = %+v, %v; want not mapped", typ, all, err)
		}
	}
}

func TestEventOfMapsADebitsMarkersToThePayerEachWithItsOwnStableID(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	low := `{"id":"evt_10","type":"balance.low","created":"2026-12-01T12:00:00Z","data":{"accountId":"acct_a","threshold":"500","transferId":"ch_1"}}`
	tests := []struct {
		ev     engine.Event
		bodies []string
	}{
		{engine.Event{Position: 36, Type: engine.EventCharged, ID: "ch_1", From: "acct_a", To: "acct_b", Amount: engine.NewAmount(5), Time: at,
			LowBalance: engine.NewAmount(500)}, []string{low}},
		{engine.Event{Position: 36, Type: engine.EventHeld, ID: "ch_1", From: "acct_a", To: "acct_b", Amount: engine.NewAmount(5), Time: at,
			Spender: "key_1", BudgetCap: engine.BudgetCapDay, BudgetLimit: engine.NewAmount(1000)},
			[]string{`{"id":"evt_10","type":"key.budget_exhausted","created":"2026-12-01T12:00:00Z","data":{"accountId":"acct_a","keyId":"key_1","cap":"day","limit":"1000"}}`}},
		{engine.Event{Position: 36, Type: engine.EventCharged, ID: "ch_1", From: "acct_a", To: "acct_b", Amount: engine.NewAmount(5), Time: at,
			LowBalance: engine.NewAmount(500), Spender: "key_1", BudgetCap: engine.BudgetCapTotal, BudgetLimit: engine.NewAmount(20000)},
			[]string{low, `{"id":"evt_10_1","type":"key.budget_exhausted","created":"2026-12-01T12:00:00Z","data":{"accountId":"acct_a","keyId":"key_1","cap":"total","limit":"20000"}}`}},
		{engine.Event{Position: 36, Type: engine.EventPaidOut, ID: "ch_1", From: "acct_a", To: "$chain", Amount: engine.NewAmount(5), Time: at,
			LowBalance: engine.NewAmount(500)}, []string{low}},
	}
	for _, tt := range tests {
		for range 2 { // the same both times: a restart maps it again
			all, err := eventOf(tt.ev)
			var bodies []string
			for _, m := range all {
				bodies = append(bodies, string(m.body))
				if !slices.Equal(m.accounts, []engine.AccountID{"acct_a"}) || !strings.Contains(string(m.body), `"id":"`+m.id+`"`) {
					t.Errorf("eventOf(%v) maps %s to %v as %q, want to the payer alone, as its body's id", tt.ev.Type, m.body, m.accounts, m.id)
				}
			}
			if err != nil || !slices.Equal(bodies, tt.bodies) {
				t.Errorf("eventOf(%v with markers) = %q, %v; want %q", tt.ev.Type, bodies, err, tt.bodies)
			}
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
