package approvals_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/approvals"
)

func TestListNewestFirstByStateWithPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		var ids []engine.TransferID
		for _, id := range []engine.TransferID{"apr_a", "apr_b", "apr_c", "apr_d", "apr_e"} {
			w.request(request(id, approvals.KindCharge, 100, approvals.RoleOwner))
			ids = append(ids, id)
			time.Sleep(time.Second)
		}
		w.decide("apr_b", owners(false), approvals.StateRejected)
		w.decide("apr_d", owners(true), approvals.StateExecuted)
		list := func(q approvals.Query) ([]engine.TransferID, engine.TransferID) {
			t.Helper()
			page, err := w.svc.List(q)
			if err != nil {
				t.Fatalf("List(%+v) = %v", q, err)
			}
			var got []engine.TransferID
			for _, a := range page.Approvals {
				if q.State != "" && a.State != q.State {
					t.Fatalf("List(%+v) returned %s in %s", q, a.ID, a.State)
				}
				got = append(got, a.ID)
			}
			return got, page.Next
		}
		want := func(what string, got, want []engine.TransferID) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Fatalf("%s = %v, want %v", what, got, want)
			}
		}
		// An owner's, in pages of two, newest first.
		var all []engine.TransferID
		var after engine.TransferID
		for pages := 0; ; pages++ {
			got, next := list(approvals.Query{Owner: owner, Limit: 2, After: after})
			all = append(all, got...)
			if next == "" {
				if pages != 2 {
					t.Fatalf("%d pages, want 3", pages+1)
				}
				break
			}
			after = next
		}
		slices.Reverse(ids)
		want("List(owner)", all, ids)
		got, _ := list(approvals.Query{Owner: owner, State: approvals.StatePending})
		want("List(owner, PENDING)", got, []engine.TransferID{"apr_e", "apr_c", "apr_a"})
		got, _ = list(approvals.Query{Account: "alice", State: approvals.StateRejected})
		want("List(alice, REJECTED)", got, []engine.TransferID{"apr_b"})
		got, _ = list(approvals.Query{Account: "alice", State: approvals.StateExecuted})
		want("List(alice, EXECUTED)", got, []engine.TransferID{"apr_d"})
		got, _ = list(approvals.Query{Account: "bob"})
		want("List(bob: payee, not payer)", got, nil)
		got, _ = list(approvals.Query{Owner: "usr_2"})
		want("List(another owner)", got, nil)
		for _, q := range []approvals.Query{{}, {Owner: owner, Account: "alice"}, {Owner: owner, State: "DONE"},
			{Owner: owner, Limit: approvals.ListLimitMax + 1}, {Owner: owner, After: "apr_zz"}} {
			_, err := w.svc.List(q)
			wantErr(t, "List(invalid)", err, approvals.ErrInvalid)
		}
	})
}

// TestRecordsAnnounceEachEventOnce reads the record rows as the webhook
// dispatcher would (a subscription to RowPrefix, Decode, EventOf): one
// approval.requested and one approval.decided per approval, whatever
// happened between.
func TestRecordsAnnounceEachEventOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		w.request(request("apr_1", approvals.KindCharge, 100, approvals.RoleOwner))
		w.decide("apr_1", owners(false), approvals.StateRejected)
		w.request(request("apr_2", approvals.KindCharge, 100, approvals.RoleOwner, approvals.RoleArbiter))
		w.decide("apr_2", arbiters(true), approvals.StatePending)
		w.decide("apr_2", owners(true), approvals.StateExecuted)
		a := w.request(request("apr_3", approvals.KindHold, 100, approvals.RoleOwner))
		time.Sleep(time.Until(a.ExpiresAt))
		synctest.Wait()
		w.get("apr_3", approvals.StateExpired)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		target := w.eng.Position()
		sub, err := w.eng.SubscribeWith(ctx, 0, engine.SubscribeOptions{RowPrefixes: [][]byte{[]byte(approvals.RowPrefix)}})
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		take := func(ev engine.Event) {
			for _, row := range ev.Rows {
				a, ok, err := approvals.Decode(row.Key, row.Value)
				if err != nil || !ok {
					t.Fatalf("Decode(%q) = %v, %v", row.Key, ok, err)
				}
				if kind, ok := approvals.EventOf(a); ok {
					events = append(events, string(a.ID)+" "+kind+" "+string(a.State))
				}
			}
		}
		for passed, _ := sub.Progress(); passed < target; passed, _ = sub.Progress() {
			select {
			case ev := <-sub.C:
				take(ev)
			default:
				synctest.Wait()
			}
		}
		for drained := false; !drained; {
			select {
			case ev := <-sub.C:
				take(ev)
			default:
				drained = true
			}
		}
		want := []string{
			"apr_1 approval.requested PENDING", "apr_1 approval.decided REJECTED",
			"apr_2 approval.requested PENDING", "apr_2 approval.decided EXECUTED",
			"apr_3 approval.requested PENDING", "apr_3 approval.decided EXPIRED",
		}
		if !slices.Equal(events, want) {
			t.Fatalf("events = %q, want %q", events, want)
		}
		if _, ok, err := approvals.Decode([]byte("approvals/m/apr_1"), []byte{}); ok || err != nil {
			t.Fatalf("Decode(a marker) = %v, %v; want not a record", ok, err)
		}
		if _, ok, err := approvals.Decode([]byte(approvals.RowPrefix+"apr_1"), nil); ok || err != nil {
			t.Fatalf("Decode(a delete) = %v, %v; want not a record", ok, err)
		}
		if _, _, err := approvals.Decode([]byte(approvals.RowPrefix+"apr_9"), []byte(`{"id":"apr_1","state":"PENDING"}`)); err == nil {
			t.Fatal("Decode(a record under another id's key) = nil error")
		}
	})
}
