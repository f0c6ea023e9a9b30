package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// The reference shapes of the charge routes' JSON, encoded by
// encoding/json: the append-based encoder must write the same bytes.

type chargeJSON struct {
	ID        string       `json:"id"`
	From      string       `json:"from"`
	To        string       `json:"to"`
	Amount    string       `json:"amount"`
	Fee       string       `json:"fee"`
	ToAmount  string       `json:"toAmount"`
	CreatedAt string       `json:"createdAt"`
	Metadata  metadataJSON `json:"metadata,omitempty"`
	// SettlementID is a lookup's (null until batched); a charge's answer
	// has none.
	SettlementID json.RawMessage `json:"settlementId,omitempty"`
	Balance      *balanceJSON    `json:"balance,omitempty"`
	Position     *uint64         `json:"position,omitempty"`
	Replayed     *bool           `json:"replayed,omitempty"`
}

// chargeOf describes a charge; the payer's balance, the log position and
// replayed whenever it is a charge's answer (first or replayed), none of
// them for a lookup.
func chargeOf(t *engine.Transfer, withBalance bool) chargeJSON {
	j := chargeJSON{ID: string(t.ID), From: string(t.From), To: string(t.To), Amount: t.Amount.String(),
		Fee: t.Fee.String(), ToAmount: t.ToAmount.String(), CreatedAt: timeJSON(t.Time),
		Metadata: metadataJSON(t.Memo)}
	if withBalance {
		b, position, replayed := balanceOf(t.Balance), t.Position, t.Replayed
		j.Balance, j.Position, j.Replayed = &b, &position, &replayed
	} else {
		j.SettlementID = json.RawMessage("null")
	}
	return j
}

// metadataJSON is a charge's metadata as the engine keeps it (its memo):
// a JSON object already, written as is; omitted when empty.
type metadataJSON string

func (m metadataJSON) MarshalJSON() ([]byte, error) { return []byte(m), nil }

type batchResultJSON struct {
	*chargeJSON
	Error *errorBody `json:"error,omitempty"`
}

func sampleTransfers() []engine.Transfer {
	max := engine.Amount{}
	max, _ = engine.ParseAmount("340282366920938463463374607431768211455")
	base := engine.Transfer{
		ID: "ch_4bX8rVn4", Type: engine.TransferCharge, From: "acct_payer", To: "acct_payee",
		Amount: engine.NewAmount(1500), Fee: engine.NewAmount(15), ToAmount: engine.NewAmount(1485),
		Time: time.Date(2026, 11, 23, 12, 0, 1, 999, time.FixedZone("x", 3600)), Position: 42,
		Balance: engine.Balance{Available: engine.NewAmount(8500), Posted: engine.NewAmount(8500)},
	}
	withMemo := base
	memo, _ := json.Marshal(map[string]string{"model": "m-1", "a": "<b>&\"é"}) // as readMetadata makes it
	withMemo.Memo = string(memo)
	replayed := base
	replayed.Replayed, replayed.Position = true, 77 // filled by fillReplayed
	huge := base
	huge.Amount, huge.ToAmount, huge.Balance.Pending = max, max, max
	odd := base
	odd.ID, odd.To = "ch_\"quoted\"\u0001é", "acct_<x>"
	noPosition := base
	noPosition.Position = 0
	return []engine.Transfer{base, withMemo, replayed, huge, odd, noPosition}
}

func TestAppendChargeWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, tr := range sampleTransfers() {
		for _, withBalance := range []bool{true, false} {
			want, err := json.Marshal(chargeOf(&tr, withBalance))
			if err != nil {
				t.Fatal(err)
			}
			if got := appendCharge(nil, &tr, withBalance, ""); string(got) != string(want) {
				t.Errorf("appendCharge(%+v, %v) =\n%s\nwant\n%s", tr, withBalance, got, want)
			}
		}
		j := chargeOf(&tr, false)
		j.SettlementID = json.RawMessage(`"stl_7"`)
		want, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCharge(nil, &tr, false, "stl_7"); string(got) != string(want) {
			t.Errorf("appendCharge(%+v, batched) =\n%s\nwant\n%s", tr, got, want)
		}
	}
}

func TestAppendBatchResultsWritesWhatEncodingJSONWrites(t *testing.T) {
	transfers := sampleTransfers()
	results := make([]engine.Result, len(transfers)+2)
	errs := make([]*apiError, len(results))
	out := make([]batchResultJSON, len(results))
	for i := range results {
		if i < len(transfers) {
			results[i].Transfer = transfers[i]
			charge := chargeOf(&transfers[i], true)
			out[i].chargeJSON = &charge
			continue
		}
		errs[i] = errorOf(engine.ErrInsufficientFunds, "account")
		if i == len(results)-1 {
			errs[i] = notFound("account acct_<nope>")
		}
		out[i].Error = &errorBody{Type: errs[i].kind, Code: errs[i].code, Message: errs[i].message, RequestID: "req_batch1"}
	}
	want, err := json.Marshal(map[string]any{"results": out})
	if err != nil {
		t.Fatal(err)
	}
	if got := appendBatchResults(nil, results, errs, []byte("req_batch1")); string(got) != string(want) {
		t.Fatalf("appendBatchResults =\n%s\nwant\n%s", got, want)
	}
	var decoded map[string][]map[string]any
	if err := json.Unmarshal(appendBatchResults(nil, results, errs, []byte("req_batch1")), &decoded); err != nil || len(decoded["results"]) != len(results) {
		t.Fatalf("appendBatchResults is not the JSON of %d results: %v", len(results), err)
	}
	if !strings.Contains(string(want), "insufficient_funds") {
		t.Fatal("the sample has no error item")
	}
}

// The charge answer, replayed included, is appended without allocating:
// the hot path's encoder stays allocation-free.
func TestAppendChargeDoesNotAllocate(t *testing.T) {
	transfers := sampleTransfers()
	buf := make([]byte, 0, 4096)
	for _, i := range []int{0, 2} { // a first answer, a replay
		tr := &transfers[i]
		if allocs := testing.AllocsPerRun(100, func() { buf = appendCharge(buf[:0], tr, true, "") }); allocs != 0 {
			t.Errorf("appendCharge(replayed %v) allocates %v times", tr.Replayed, allocs)
		}
	}
}
