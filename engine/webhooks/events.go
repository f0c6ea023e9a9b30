package webhooks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tollway/tollway/engine"
)

// Event types of API.md, exactly as receivers see them.
const (
	EventBalanceLow          = "balance.low"
	EventDepositCredited     = "deposit.credited"
	EventSettlementConfirmed = "settlement.confirmed"
	EventSettlementFailed    = "settlement.failed"
	EventSessionEnded        = "session.ended"
	EventHoldExpired         = "hold.expired"
	EventKeyBudgetExhausted  = "key.budget_exhausted"
	EventApprovalRequested   = "approval.requested"
	EventApprovalDecided     = "approval.decided"
)

// EventTypes lists every type an endpoint may subscribe to. Only the types
// eventOf maps are delivered today (deposit.credited, session.ended,
// hold.expired), and those Options.Rows maps from table rows
// (settlement.confirmed, settlement.failed, from the relayer's records);
// the others come from sources (account settings, approvals) that are not
// wired yet.
var EventTypes = []string{
	EventBalanceLow, EventDepositCredited, EventSettlementConfirmed, EventSettlementFailed,
	EventSessionEnded, EventHoldExpired, EventKeyBudgetExhausted, EventApprovalRequested, EventApprovalDecided,
}

// IsEventType reports whether name is one of EventTypes.
func IsEventType(name string) bool {
	for _, t := range EventTypes {
		if t == name {
			return true
		}
	}
	return false
}

// EventBytesMax bounds one event's JSON: its data are ids and amounts.
const EventBytesMax = 4 << 10

// EventID returns the id receivers see for the event at a log position:
// stable, so a retry or a redelivery after a restart carries the same id
// and receivers can drop duplicates by it.
func EventID(position uint64) string { return "evt_" + strconv.FormatUint(position, 36) }

// mapped is one committed event as webhooks deliver it: its type, the
// accounts whose endpoints receive it, and its body.
type mapped struct {
	kind     string
	accounts []engine.AccountID
	body     []byte
	id       string // the event's id when it is not EventID(position): a row's (rows_events.go)
}

// eventOf maps a committed event; ok is false for events no webhook type
// describes. It is the one place that classifies events for webhooks.
//
// NB: an admin credit (POST /v1/admin/accounts/{id}/credit) is an
// EventCredited like an on-chain deposit, so it is a deposit.credited too.
func eventOf(ev engine.Event) (m mapped, ok bool, err error) {
	var data any
	switch ev.Type {
	case engine.EventCredited:
		m.kind, m.accounts = EventDepositCredited, []engine.AccountID{ev.To}
		data = struct {
			ID        string `json:"id"`
			AccountID string `json:"accountId"`
			Amount    string `json:"amount"`
		}{string(ev.ID), string(ev.To), ev.Amount.String()}
	case engine.EventSessionEnded:
		m.kind, m.accounts = EventSessionEnded, []engine.AccountID{ev.From, ev.To}
		data = struct {
			ID                string `json:"id"`
			ConsumerAccountID string `json:"consumerAccountId"`
			SupplierAccountID string `json:"supplierAccountId"`
			Reserved          string `json:"reserved"`
			Captured          string `json:"captured"`
			Fee               string `json:"fee"`
		}{string(ev.ID), string(ev.From), string(ev.To), ev.Amount.String(), ev.Captured.String(), ev.Fee.String()}
	case engine.EventExpired:
		m.kind, m.accounts = EventHoldExpired, []engine.AccountID{ev.From, ev.To}
		data = struct {
			ID           string `json:"id"`
			AccountID    string `json:"accountId"`
			PayeeAccount string `json:"payeeAccountId"`
			Amount       string `json:"amount"`
		}{string(ev.ID), string(ev.From), string(ev.To), ev.Amount.String()}
	default:
		return mapped{}, false, nil
	}
	m.body, err = json.Marshal(struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created string `json:"created"`
		Data    any    `json:"data"`
	}{EventID(ev.Position), m.kind, ev.Time.UTC().Format(time.RFC3339), data})
	if err == nil && len(m.body) > EventBytesMax {
		err = fmt.Errorf("event of %d bytes exceeds %d", len(m.body), EventBytesMax)
	}
	if err != nil {
		return mapped{}, false, fmt.Errorf("webhooks: encode event at position %d: %w", ev.Position, err)
	}
	if m.accounts[len(m.accounts)-1] == m.accounts[0] {
		m.accounts = m.accounts[:1]
	}
	return m, true, nil
}
