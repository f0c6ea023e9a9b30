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
// hold.expired, and balance.low and key.budget_exhausted from the markers
// the ledger puts on debits), and those Options.Rows maps from table rows
// (settlement.confirmed, settlement.failed, from the relayer's records);
// the others (approvals) come from sources not wired yet.
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

// eventIDAt returns the id of the i-th webhook event that the committed
// event at position maps to: EventID(position) for the first, which is
// most events' only one, then that with a suffix ("evt_2s_1"), which no
// position's id has. As stable as EventID: eventOf maps an event the same
// way every time.
func eventIDAt(position uint64, i int) string {
	if i == 0 {
		return EventID(position)
	}
	return EventID(position) + "_" + strconv.Itoa(i)
}

// mappedEventsMax bounds the webhook events one committed event maps to:
// a debit marked both low balance and budget exhausted.
const mappedEventsMax = 2

// mapped is one webhook event of a committed event as webhooks deliver
// it: its id and type, the accounts whose endpoints receive it, and its
// body.
type mapped struct {
	id       string
	kind     string
	accounts []engine.AccountID
	body     []byte
}

// eventOf maps a committed event to its webhook events, at most
// mappedEventsMax of them, none for events no webhook type describes. It
// is the one place that classifies events for webhooks.
//
// NB: an admin credit (POST /v1/admin/accounts/{id}/credit) is an
// EventCredited like an on-chain deposit, so it is a deposit.credited too.
func eventOf(ev engine.Event) ([]mapped, error) {
	if !ev.LowBalance.IsZero() || ev.BudgetCap != engine.BudgetCapNone {
		return markersOf(ev)
	}
	var m mapped
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
		return nil, nil
	}
	if err := m.encode(ev, 0, data); err != nil {
		return nil, err
	}
	return []mapped{m}, nil
}

// markersOf maps the markers of a debit (engine.Event.LowBalance,
// BudgetCap): balance.low, then key.budget_exhausted, each to the payer's
// endpoints. The ledger decided each crossing once, so each is delivered
// once, whatever the debits around it.
func markersOf(ev engine.Event) ([]mapped, error) {
	all := make([]mapped, 0, mappedEventsMax)
	if !ev.LowBalance.IsZero() {
		m := mapped{kind: EventBalanceLow, accounts: []engine.AccountID{ev.From}}
		data := struct {
			AccountID  string `json:"accountId"`
			Threshold  string `json:"threshold"`
			TransferID string `json:"transferId"`
		}{string(ev.From), ev.LowBalance.String(), string(ev.ID)}
		if err := m.encode(ev, len(all), data); err != nil {
			return nil, err
		}
		all = append(all, m)
	}
	if ev.BudgetCap != engine.BudgetCapNone {
		m := mapped{kind: EventKeyBudgetExhausted, accounts: []engine.AccountID{ev.From}}
		data := struct {
			AccountID string `json:"accountId"`
			KeyID     string `json:"keyId"`
			Cap       string `json:"cap"`
			Limit     string `json:"limit"`
		}{string(ev.From), string(ev.Spender), ev.BudgetCap.String(), ev.BudgetLimit.String()}
		if err := m.encode(ev, len(all), data); err != nil {
			return nil, err
		}
		all = append(all, m)
	}
	return all, nil
}

// encode sets m's id and body: the i-th webhook event of ev, with data.
// An event to two accounts that are one is to that one.
func (m *mapped) encode(ev engine.Event, i int, data any) error {
	m.id = eventIDAt(ev.Position, i)
	body, err := json.Marshal(struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created string `json:"created"`
		Data    any    `json:"data"`
	}{m.id, m.kind, ev.Time.UTC().Format(time.RFC3339), data})
	if err == nil && len(body) > EventBytesMax {
		err = fmt.Errorf("event of %d bytes exceeds %d", len(body), EventBytesMax)
	}
	if err != nil {
		return fmt.Errorf("webhooks: encode event at position %d: %w", ev.Position, err)
	}
	m.body = body
	if m.accounts[len(m.accounts)-1] == m.accounts[0] {
		m.accounts = m.accounts[:1]
	}
	return nil
}
