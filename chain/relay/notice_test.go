package relay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/engine"
)

func noticeRow(s *Settlement) (key, value []byte) { return batchKey(s.Seq), encodeSettlement(s) }

func testSettlement(seq uint64, state State) *Settlement {
	return &Settlement{
		ID: SettlementID(seq), Seq: seq, BatchID: common.HexToHash("0xba7c4"), State: state, Ledger: testLedger,
		Entries: []Entry{
			{Payer: "alice", Payee: "sup", Amount: amountOf(100), Fee: amountOf(1)},
			{Payer: "bob", Payee: "sup", Amount: amountOf(50)},
			{Payer: "alice", Payee: "bob", Amount: amountOf(10)},
		},
		CreatedAt: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC),
	}
}

// TestSettlementEventTellsEachAccountItsPart: a CONFIRMED or FAILED batch
// is a notice with each account's entries summed (payer and payee sides
// apart), the mined or latest transaction, the time of its end and, for a
// failure, the reason, bounded.
func TestSettlementEventTellsEachAccountItsPart(t *testing.T) {
	confirmed := testSettlement(3, Confirmed)
	confirmed.TxHashes = []common.Hash{common.HexToHash("0x01"), common.HexToHash("0x02")}
	confirmed.TxHash, confirmed.BlockNumber = common.HexToHash("0x01"), 42
	confirmed.ConfirmedAt = confirmed.CreatedAt.Add(time.Minute)
	failed := testSettlement(4, Failed)
	failed.TxHashes = []common.Hash{common.HexToHash("0x03"), common.HexToHash("0x04")}
	failed.FailedAt, failed.Error = failed.CreatedAt.Add(time.Hour), "refused by the pool: "+strings.Repeat("x", 300)
	legacy := testSettlement(5, Failed) // written before FailedAt was kept, never signed
	legacy.Error = "refused"

	parts := fmt.Sprint([]SettlementPart{
		{Account: "alice", Entries: 2, Amount: amountOf(110), Fee: amountOf(1), Paid: amountOf(110)},
		{Account: "sup", Entries: 2, Amount: amountOf(150), Fee: amountOf(1), Received: amountOf(149)},
		{Account: "bob", Entries: 2, Amount: amountOf(60), Paid: amountOf(50), Received: amountOf(10)},
	})
	for _, tc := range []struct {
		s    *Settlement
		want SettlementNotice
	}{
		{confirmed, SettlementNotice{ID: "stl_3", State: Confirmed, BatchID: confirmed.BatchID, TxHash: common.HexToHash("0x01"),
			BlockNumber: 42, At: confirmed.ConfirmedAt}},
		{failed, SettlementNotice{ID: "stl_4", State: Failed, BatchID: failed.BatchID, TxHash: common.HexToHash("0x04"),
			At: failed.FailedAt, Error: failed.Error[:settlementErrorBytesMax]}},
		{legacy, SettlementNotice{ID: "stl_5", State: Failed, BatchID: legacy.BatchID, At: legacy.CreatedAt, Error: "refused"}},
	} {
		key, value := noticeRow(tc.s)
		got, ok, err := SettlementEvent(key, value)
		if err != nil || !ok {
			t.Fatalf("SettlementEvent(%s) = %v, %v, want a notice", tc.s.ID, ok, err)
		}
		if fmt.Sprint(got.Parts) != parts {
			t.Errorf("SettlementEvent(%s) parts = %v, want %v", tc.s.ID, got.Parts, parts)
		}
		got.Parts = nil
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("SettlementEvent(%s) = %+v, want %+v", tc.s.ID, got, tc.want)
		}
	}
	n, _, _ := SettlementEvent(noticeRow(confirmed))
	if got := n.EventKey("alice"); got != "stl_3.confirmed.alice" {
		t.Errorf("EventKey = %q, want stl_3.confirmed.alice", got)
	}
	n, _, _ = SettlementEvent(noticeRow(failed))
	if got := n.EventKey("sup"); got != "stl_4.failed.sup" {
		t.Errorf("EventKey = %q, want stl_4.failed.sup", got)
	}
}

// TestSettlementEventIgnoresOtherRowsAndStates: rows that are no batch
// record, deletes, and batches not yet at their end are no notice; a batch
// record that does not decode, or names another batch than its key, is an
// error.
func TestSettlementEventIgnoresOtherRowsAndStates(t *testing.T) {
	for _, state := range []State{Pending, Submitted} {
		if _, ok, err := SettlementEvent(noticeRow(testSettlement(1, state))); ok || err != nil {
			t.Errorf("SettlementEvent(%s) = %v, %v, want no notice", state, ok, err)
		}
	}
	confirmed := encodeSettlement(testSettlement(1, Confirmed))
	for name, row := range map[string]engine.Row{
		"carry":  {Key: carryKey(Pair{Payer: "alice", Payee: "sup"}), Value: carryValue(Net{Amount: amountOf(5)})},
		"open":   {Key: openKey(1), Value: []byte{}},
		"cursor": uint64Row(cursorKey, 7),
		"delete": {Key: batchKey(1)},
	} {
		if _, ok, err := SettlementEvent(row.Key, row.Value); ok || err != nil {
			t.Errorf("SettlementEvent(%s row) = %v, %v, want no notice", name, ok, err)
		}
	}
	for name, row := range map[string]engine.Row{
		"garbage":   {Key: batchKey(1), Value: []byte("{")},
		"other key": {Key: batchKey(2), Value: confirmed},
	} {
		if _, ok, err := SettlementEvent(row.Key, row.Value); ok || err == nil {
			t.Errorf("SettlementEvent(%s) = %v, %v, want an error", name, ok, err)
		}
	}
	if !strings.HasPrefix(string(batchKey(9)), SettlementPrefix) || strings.HasPrefix(string(openKey(9)), SettlementPrefix) {
		t.Errorf("SettlementPrefix %q does not select the batch records alone", SettlementPrefix)
	}
}
