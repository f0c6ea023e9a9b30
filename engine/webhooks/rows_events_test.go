package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/webhooks"
)

// noticeRows is a Rows over rows "n/…" whose value is "type|account|key":
// one event each; "bad" does not map; a delete announces nothing.
func noticeRows() webhooks.Rows {
	return webhooks.Rows{
		Prefixes: [][]byte{[]byte("n/")},
		Map: func(key, value []byte) ([]webhooks.RowEvent, error) {
			if value == nil {
				return nil, nil
			}
			fields := strings.Split(string(value), "|")
			if len(fields) != 3 {
				return nil, errors.New("not a notice")
			}
			return []webhooks.RowEvent{{Type: fields[0], Account: engine.AccountID(fields[1]), Key: fields[2],
				Time: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC),
				Data: map[string]string{"id": fields[2], "row": string(key)}}}, nil
		},
	}
}

func (w *world) writeRows(rows ...string) {
	w.t.Helper()
	var write []engine.Row
	for _, row := range rows {
		key, value, found := strings.Cut(row, "=")
		r := engine.Row{Key: []byte(key)}
		if found {
			r.Value = []byte(value)
		}
		write = append(write, r)
	}
	if _, err := w.eng.WriteRows(context.Background(), write...); err != nil {
		w.t.Fatalf("WriteRows = %v", err)
	}
}

// wantRowEvent checks a delivery is the row event key of row.
func wantRowEvent(t *testing.T, got received, kind, key, row string) {
	t.Helper()
	if got.ID != "evt_"+key || got.Type != kind || got.Data["id"] != key || got.Data["row"] != row || len(got.Data) != 2 {
		t.Errorf("delivery %s %s %v, want %s evt_%s of row %s", got.ID, got.Type, got.Data, kind, key, row)
	}
}

// TestRowEventsAreDeliveredInLogOrderWithTheirOwnIDs: the events Rows maps
// from table writes under its prefixes reach the endpoints that want them,
// in log order with the ledger's, with the id their key names; rows under
// other prefixes, deletes and rows that do not map announce nothing; rows
// written while the service is down are delivered once it is back.
func TestRowEventsAreDeliveredInLogOrderWithTheirOwnIDs(t *testing.T) {
	w := newWorld(t, webhooks.Options{Rows: noticeRows()})
	rc := newReceiver(t, nil)
	e := w.register(rc, webhooks.EventDepositCredited, webhooks.EventSettlementConfirmed)
	w.credit()
	w.writeRows("n/1=settlement.confirmed|alice|s.1", "x/1=settlement.confirmed|alice|x.1")
	w.credit()
	w.writeRows("n/2=bad", "n/3=settlement.failed|bob|s.2", "n/4=settlement.confirmed|bob|s.3", "n/1")
	w.writeRows("n/5=settlement.confirmed|alice|nodot") // a key without '.': not delivered
	w.credit()
	got := rc.expect(5)
	checkCredits(t, got[0:1], 1, 1)
	wantRowEvent(t, got[1], webhooks.EventSettlementConfirmed, "s.1", "n/1")
	checkCredits(t, got[2:3], 2, 2)
	wantRowEvent(t, got[3], webhooks.EventSettlementConfirmed, "s.3", "n/4") // s.2 is a type the endpoint does not want
	checkCredits(t, got[4:5], 3, 3)
	w.logged(e.ID, 5) // acknowledged durably: an attempt cut by Close would be sent again

	w.close()
	w.openEngine()
	w.writeRows("n/6=settlement.confirmed|alice|s.4")
	w.openService()
	w.credit()
	got = rc.expect(2)
	wantRowEvent(t, got[0], webhooks.EventSettlementConfirmed, "s.4", "n/6")
	checkCredits(t, got[1:2], 4, 4)
}

// TestRowEventsReachOnlyTheOwnersOfTheirAccounts: a row event about an
// account goes to its owner's endpoints only.
func TestRowEventsReachOnlyTheOwnersOfTheirAccounts(t *testing.T) {
	w := newWorld(t, webhooks.Options{Rows: noticeRows()})
	w.options.OwnerOf = func(account engine.AccountID) (string, bool) {
		if account == "bob" {
			return "usr_bob", true
		}
		return owner, true
	}
	w.close()
	w.openEngine()
	w.openService()
	mine, bobs := newReceiver(t, nil), newReceiver(t, nil)
	w.register(mine, webhooks.EventSettlementConfirmed)
	e, err := w.svc.Create(context.Background(), "usr_bob", bobs.server.URL, []string{webhooks.EventSettlementConfirmed}, "")
	if err != nil {
		t.Fatal(err)
	}
	bobs.setSecret(e.Secret)
	for i := range 3 {
		w.writeRows(fmt.Sprintf("n/%d=settlement.confirmed|alice|s.%d.alice", i, i), fmt.Sprintf("n/%d.b=settlement.confirmed|bob|s.%d.bob", i, i))
	}
	for i, got := range mine.expect(3) {
		wantRowEvent(t, got, webhooks.EventSettlementConfirmed, fmt.Sprintf("s.%d.alice", i), fmt.Sprintf("n/%d", i))
	}
	for i, got := range bobs.expect(3) {
		wantRowEvent(t, got, webhooks.EventSettlementConfirmed, fmt.Sprintf("s.%d.bob", i), fmt.Sprintf("n/%d.b", i))
	}
}

func TestOpenRefusesHalfARows(t *testing.T) {
	eng, err := engine.Open(engine.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	owners := func(engine.AccountID) (string, bool) { return owner, true }
	for _, rows := range []webhooks.Rows{{Prefixes: [][]byte{[]byte("n/")}}, {Map: noticeRows().Map}} {
		if svc, err := webhooks.Open(eng, webhooks.Options{OwnerOf: owners, Rows: rows}); err == nil {
			svc.Close()
			t.Errorf("Open with Rows %+v = nil error, want one", rows)
		}
	}
}
