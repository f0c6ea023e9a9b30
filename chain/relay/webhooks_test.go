package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/httpapi/signature"
)

// This file's test needs both the relayer and the webhooks: a test of this
// package may import them (the packages themselves know nothing of each
// other). cmd/tollway wires the same mapping (settlementWebhooks), which
// its own test runs end to end.

// settlementRows maps the relayer's rows to webhook events as cmd/tollway
// does.
func settlementRows() webhooks.Rows {
	return webhooks.Rows{
		Prefixes: [][]byte{[]byte(SettlementPrefix)},
		Map: func(key, value []byte) ([]webhooks.RowEvent, error) {
			n, ok, err := SettlementEvent(key, value)
			if err != nil || !ok {
				return nil, err
			}
			kind := webhooks.EventSettlementConfirmed
			if n.State == Failed {
				kind = webhooks.EventSettlementFailed
			}
			var txHash *string
			if n.TxHash != (common.Hash{}) {
				hash := n.TxHash.Hex()
				txHash = &hash
			}
			var block *uint64
			if n.BlockNumber != 0 {
				block = &n.BlockNumber
			}
			var events []webhooks.RowEvent
			for _, p := range n.Parts {
				events = append(events, webhooks.RowEvent{Type: kind, Account: p.Account, Key: n.EventKey(p.Account), Time: n.At,
					Data: webhooks.SettlementData{ID: n.ID, State: string(n.State), BatchID: n.BatchID.Hex(), TxHash: txHash,
						BlockNumber: block, AccountID: string(p.Account), Entries: p.Entries, Amount: p.Amount.String(),
						Fee: p.Fee.String(), Paid: p.Paid.String(), Received: p.Received.String(), Error: n.Error}})
			}
			return events, nil
		},
	}
}

// settlementEvent is a delivery as a receiver reads it.
type settlementEvent struct {
	ID      string                  `json:"id"`
	Type    string                  `json:"type"`
	Created time.Time               `json:"created"`
	Data    webhooks.SettlementData `json:"data"`
}

// hookReceiver is an owner's endpoint on 127.0.0.1: it checks each
// delivery's signature and passes the events on.
type hookReceiver struct {
	t      *testing.T
	server *httptest.Server
	secret string
	got    chan settlementEvent
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{t: t, got: make(chan settlementEvent, 64)}
	rc.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := signature.Verify(r.Header.Get(signature.HeaderName), body, []byte(rc.secret), time.Minute, time.Now()); err != nil {
			t.Errorf("delivery %s: signature: %v", body, err)
		}
		var ev settlementEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("delivery %s: %v", body, err)
		}
		rc.got <- ev
	}))
	t.Cleanup(rc.server.Close)
	return rc
}

// next returns the next event delivered.
func (rc *hookReceiver) next() settlementEvent {
	rc.t.Helper()
	select {
	case ev := <-rc.got:
		return ev
	case <-time.After(time.Minute):
		rc.t.Fatal("no webhook delivered in a minute")
		return settlementEvent{}
	}
}

// expect checks that the next event delivered is kind for account's part
// of settlement id, with its amounts (entries, amount, fee, paid,
// received), and returns it.
func (rc *hookReceiver) expect(kind, id string, account engine.AccountID, amounts string) settlementEvent {
	rc.t.Helper()
	ev := rc.next()
	state := map[string]string{webhooks.EventSettlementConfirmed: "CONFIRMED", webhooks.EventSettlementFailed: "FAILED"}[kind]
	wantID := "evt_" + id + "." + map[string]string{"CONFIRMED": "confirmed", "FAILED": "failed"}[state] + "." + string(account)
	d := ev.Data
	if got := fmt.Sprintf("%s %s %s %s %s %d %s %s %s %s", ev.ID, ev.Type, d.ID, d.State, d.AccountID, d.Entries, d.Amount, d.Fee, d.Paid, d.Received); got != fmt.Sprintf("%s %s %s %s %s %s", wantID, kind, id, state, account, amounts) {
		rc.t.Fatalf("delivery %s, want %s %s %s %s %s %s", got, wantID, kind, id, state, account, amounts)
	}
	return ev
}

// TestSettlementWebhooksTellEachOwnerOnce: a real relayer settles on the
// simulated chain while a webhooks Service follows the engine: each
// account's owner receives exactly one settlement.confirmed per batch,
// with its own part, the transaction and the block; a batch the pool
// refuses is one settlement.failed, with its reason, to the accounts it
// held, and the batch that settles its debits later is a confirmation
// again; an account in no batch hears of none.
func TestSettlementWebhooksTellEachOwnerOnce(t *testing.T) {
	var alice, bob, sup party
	w := newWorld(t, &alice, &bob, &sup)
	w.deposit(alice, 1_000_000)
	w.deposit(bob, 500_000)
	owners := map[engine.AccountID]string{"alice": "usr_alice", "bob": "usr_bob", "sup": "usr_sup"}
	for id := range owners {
		w.account(id)
	}
	w.bindWallet("alice", alice.address)
	w.bindWallet("bob", bob.address)
	w.bindWallet("sup", sup.address)
	w.credit("alice", 1_000_000, "dep:a")
	w.credit("bob", 500_000, "dep:b")
	svc, err := webhooks.Open(w.eng, webhooks.Options{Logger: slog.New(slog.DiscardHandler), Rows: settlementRows(),
		OwnerOf: func(a engine.AccountID) (string, bool) { owner, ok := owners[a]; return owner, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	receivers := make(map[engine.AccountID]*hookReceiver)
	for account, owner := range owners {
		rc := newHookReceiver(t)
		e, err := svc.Create(context.Background(), owner, rc.server.URL,
			[]string{webhooks.EventSettlementConfirmed, webhooks.EventSettlementFailed}, "")
		if err != nil {
			t.Fatal(err)
		}
		rc.secret = e.Secret
		receivers[account] = rc
	}
	w.openRelayer()

	w.charge("a1", "alice", "sup", 10_000)
	w.charge("a2", "alice", "sup", 5_000)
	last := w.charge("b1", "bob", "sup", 2_000)
	w.settle(last.Position)
	s, err := Store{Engine: w.eng}.Get(SettlementID(1))
	if err != nil || s.State != Confirmed {
		t.Fatalf("settlement 1: %+v, %v, want CONFIRMED", s, err)
	}
	for account, amounts := range map[engine.AccountID]string{
		"alice": "1 15000 150 15000 0", "bob": "1 2000 20 2000 0", "sup": "2 17000 170 0 16830",
	} {
		ev := receivers[account].expect(webhooks.EventSettlementConfirmed, "stl_1", account, amounts)
		if d := ev.Data; d.TxHash == nil || *d.TxHash != s.TxHash.Hex() || d.BlockNumber == nil || *d.BlockNumber != s.BlockNumber ||
			d.BatchID != s.BatchID.Hex() || d.Error != "" || !ev.Created.Equal(s.ConfirmedAt.Truncate(time.Second)) {
			t.Errorf("%s's delivery %+v, want transaction %s in block %d of batch %s, created %v", account, d, s.TxHash.Hex(),
				s.BlockNumber, s.BatchID.Hex(), s.ConfirmedAt)
		}
	}

	// A batch the pool refuses, then the one that settles its debits.
	w.setPaused(true)
	tr := w.charge("a3", "alice", "sup", 1_000)
	w.r.waitFolded(t, tr.Position)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	for account, amounts := range map[engine.AccountID]string{"alice": "1 1000 10 1000 0", "sup": "1 1000 10 0 990"} {
		ev := receivers[account].expect(webhooks.EventSettlementFailed, "stl_2", account, amounts)
		if ev.Data.Error == "" || ev.Data.BlockNumber != nil {
			t.Errorf("%s's settlement.failed %+v, want a reason and no block", account, ev.Data)
		}
	}
	w.setPaused(false)
	w.advance(2 * time.Second)
	w.r.roundNow(t)
	w.mine()
	w.r.roundNow(t)
	receivers["alice"].expect(webhooks.EventSettlementConfirmed, "stl_3", "alice", "1 1000 10 1000 0")
	receivers["sup"].expect(webhooks.EventSettlementConfirmed, "stl_3", "sup", "1 1000 10 0 990")

	// Bob was in neither: his next event is his next batch's.
	last = w.charge("b2", "bob", "sup", 3_000)
	w.settle(last.Position)
	receivers["bob"].expect(webhooks.EventSettlementConfirmed, "stl_4", "bob", "1 3000 30 3000 0")
	receivers["sup"].expect(webhooks.EventSettlementConfirmed, "stl_4", "sup", "1 3000 30 0 2970")
	receivers["alice"].expectNone()
}

// expectNone checks that nothing more was delivered to rc by now.
func (rc *hookReceiver) expectNone() {
	rc.t.Helper()
	select {
	case ev := <-rc.got:
		rc.t.Errorf("unexpected delivery %+v", ev)
	default:
	}
}
