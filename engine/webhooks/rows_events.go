package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollway/tollway/engine"
)

// Rows lets a Service deliver events that another component records as
// table rows rather than as ledger events (the relayer's settlements),
// without this package knowing that component: the dispatcher reads the
// table writes under Prefixes through its subscription, in log order with
// the ledger's events and behind the same cursor, and Map says which
// events each row announces. cmd/tollway wires the two together.
type Rows struct {
	// Prefixes select the table writes read
	// (engine.SubscribeOptions.RowPrefixes); at most
	// engine.SubscribeRowPrefixesMax.
	Prefixes [][]byte
	// Map returns the events one row announces, none for most rows. The
	// dispatcher calls it for every row under Prefixes, deletes (a nil
	// value) included, and again for the same rows after a restart that
	// resumes before them: it must depend on key and value alone. A row
	// it cannot read is logged and passed over (stopping would stop every
	// endpoint's events for good: a restart reads the same row again).
	Map func(key, value []byte) ([]RowEvent, error)
}

// RowEvent is one event a row announces about one account.
type RowEvent struct {
	Type    string           // one of EventTypes
	Account engine.AccountID // whose owner's endpoints receive it
	// Key names the event: receivers see the id "evt_" + Key, so it is the
	// same whenever the same fact is read again (a restart, the row
	// written twice) and unique among all rows' events. It holds a '.',
	// which ledger events' ids (EventID) never do, and at most
	// rowEventKeyBytesMax bytes.
	Key  string
	Time time.Time // when it happened: the event's "created"
	Data any       // the event's data, encoded as JSON
}

// rowEventKeyBytesMax bounds RowEvent.Key.
const rowEventKeyBytesMax = 128

func (r Rows) check() error {
	if (r.Map == nil) != (len(r.Prefixes) == 0) {
		return errors.New("webhooks: Options.Rows needs both Prefixes and Map, or neither")
	}
	return nil
}

// SettlementData is the data of settlement.confirmed and settlement.failed:
// one account's part of a settlement batch (the settlements API shows each
// reader its own entries only, so an event shows one account's). An owner
// is told once per account of theirs the batch settles.
type SettlementData struct {
	ID          string  `json:"id"`    // stl_…
	State       string  `json:"state"` // CONFIRMED or FAILED
	BatchID     string  `json:"batchId"`
	TxHash      *string `json:"txHash"`      // the transaction mined, or the latest signed; null if none was
	BlockNumber *uint64 `json:"blockNumber"` // CONFIRMED only; null otherwise or when unknown
	AccountID   string  `json:"accountId"`
	Entries     int     `json:"entries"`         // the account's entries in the batch
	Amount      string  `json:"amount"`          // their amounts, summed
	Fee         string  `json:"fee"`             // their fees, summed
	Paid        string  `json:"paid"`            // what the account pays: its entries as payer, fees included
	Received    string  `json:"received"`        // what it is paid: its entries as payee, fees deducted
	Error       string  `json:"error,omitempty"` // FAILED: why
}

// takeRows maps one table write's rows into the batch and moves the cursor
// past it.
func (s *Service) takeRows(batch *dispatchBatch, ev engine.Event) error {
	for _, row := range ev.Rows {
		events, err := s.options.Rows.Map(row.Key, row.Value)
		if err != nil {
			s.logger.Error("webhooks: a row does not map; its events are not delivered", "key", string(row.Key),
				"position", ev.Position, "error", err)
			continue
		}
		for _, re := range events {
			m, err := s.mappedOfRow(re)
			if err != nil {
				s.logger.Error("webhooks: a row's event does not encode; it is not delivered", "key", string(row.Key),
					"position", ev.Position, "error", err)
				continue
			}
			if err := s.enqueue(batch, m); err != nil {
				return err
			}
		}
	}
	s.cursor = ev.Position
	return nil
}

// mappedOfRow encodes a row's event as eventOf encodes a ledger event's.
func (s *Service) mappedOfRow(re RowEvent) (mapped, error) {
	switch {
	case !IsEventType(re.Type):
		return mapped{}, fmt.Errorf("event type %q unknown", re.Type)
	case re.Account == "":
		return mapped{}, fmt.Errorf("%s event %q names no account", re.Type, re.Key)
	case !strings.Contains(re.Key, ".") || len(re.Key) > rowEventKeyBytesMax:
		return mapped{}, fmt.Errorf("event key %q: want a '.' and at most %d bytes", re.Key, rowEventKeyBytesMax)
	}
	created := re.Time
	if created.IsZero() {
		created = s.options.Now() // NB: a redelivery after a restart then says another time
	}
	m := mapped{kind: re.Type, accounts: []engine.AccountID{re.Account}, id: "evt_" + re.Key}
	var err error
	m.body, err = json.Marshal(struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created string `json:"created"`
		Data    any    `json:"data"`
	}{m.id, m.kind, created.UTC().Format(time.RFC3339), re.Data})
	if err == nil && len(m.body) > EventBytesMax {
		err = fmt.Errorf("event of %d bytes exceeds %d", len(m.body), EventBytesMax)
	}
	if err != nil {
		return mapped{}, fmt.Errorf("encode event %s: %w", m.id, err)
	}
	return m, nil
}
