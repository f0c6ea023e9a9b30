package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
)

// holdsFixture places, one second apart on clock, h1 alice→bob (then
// captured in part), h2 carol→alice, apr_3 alice→carol (an approval's
// reservation is a hold like any other; then voided), h4 alice→bob, and
// h5 carol→bob (alice is no party to it). It returns the ids in order.
func holdsFixture(t *testing.T, eng *engine.Engine, clock *fakeClock) []engine.TransferID {
	t.Helper()
	ctx := context.Background()
	mustCreate(t, eng, "alice", "bob", "carol")
	mustCredit(t, eng, "dep-a", "alice", 10_000)
	mustCredit(t, eng, "dep-c", "carol", 10_000)
	holds := []struct {
		id       engine.TransferID
		from, to engine.AccountID
	}{{"h1", "alice", "bob"}, {"h2", "carol", "alice"}, {"apr_3", "alice", "carol"}, {"h4", "alice", "bob"}, {"h5", "carol", "bob"}}
	var ids []engine.TransferID
	for i, h := range holds {
		clock.Advance(time.Second)
		_, err := eng.Hold(ctx, engine.Hold{ID: h.id, From: h.from, To: h.to, Amount: engine.NewAmount(uint64(100 * (i + 1))),
			Timeout: time.Hour, Memo: fmt.Sprintf(`{"n":%d}`, i+1)})
		if err != nil {
			t.Fatalf("Hold(%s) = %v", h.id, err)
		}
		ids = append(ids, h.id)
	}
	if _, err := eng.Capture(ctx, "h1", engine.NewAmount(60)); err != nil {
		t.Fatalf("Capture(h1) = %v", err)
	}
	if err := eng.Void(ctx, "apr_3"); err != nil {
		t.Fatalf("Void(apr_3) = %v", err)
	}
	return ids
}

// listHolds returns one page, failing t on an error.
func listHolds(t *testing.T, eng *engine.Engine, q engine.HoldQuery) engine.HoldPage {
	t.Helper()
	page, err := eng.Holds(context.Background(), q)
	if err != nil {
		t.Fatalf("Holds(%+v) = %v", q, err)
	}
	return page
}

// wantHoldPage checks a page's ids, in order, its More and Next, and that
// each hold is exactly what Transfer answers for its id.
func wantHoldPage(t *testing.T, eng *engine.Engine, q engine.HoldQuery, ids []engine.TransferID, more bool, next engine.TransferID) engine.HoldPage {
	t.Helper()
	page := listHolds(t, eng, q)
	var got []engine.TransferID
	for _, h := range page.Holds {
		got = append(got, h.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) || page.More != more || page.Next != next {
		t.Fatalf("Holds(%+v) = %v more %v next %q, want %v more %v next %q", q, got, page.More, page.Next, ids, more, next)
	}
	for _, h := range page.Holds {
		want, err := eng.Transfer(context.Background(), h.ID)
		if err != nil || h != want {
			t.Fatalf("listed %+v, want Transfer's %+v (%v)", h, want, err)
		}
	}
	return page
}

// checkHoldLists checks every account's lists, filters and pages against
// holdsFixture.
func checkHoldLists(t *testing.T, eng *engine.Engine) {
	t.Helper()
	all := func(account engine.AccountID) engine.HoldQuery {
		return engine.HoldQuery{Account: account, Limit: engine.HoldsPageMax}
	}
	page := wantHoldPage(t, eng, all("alice"), []engine.TransferID{"h4", "apr_3", "h2", "h1"}, false, "")
	states := []engine.HoldState{engine.HoldOpen, engine.HoldVoided, engine.HoldOpen, engine.HoldCaptured}
	for i, h := range page.Holds {
		if h.State != states[i] || h.Type != engine.TransferHold {
			t.Fatalf("hold %s = %s %s, want hold %s", h.ID, h.Type, h.State, states[i])
		}
	}
	if h1 := page.Holds[3]; h1.From != "alice" || h1.To != "bob" || h1.Amount != engine.NewAmount(100) ||
		h1.Captured != engine.NewAmount(60) || h1.Memo != `{"n":1}` {
		t.Fatalf("h1 = %+v, want alice→bob 100, 60 captured", h1)
	}
	wantHoldPage(t, eng, all("bob"), []engine.TransferID{"h5", "h4", "h1"}, false, "")
	wantHoldPage(t, eng, all("carol"), []engine.TransferID{"h5", "apr_3", "h2"}, false, "")
	wantHoldPage(t, eng, all("nobody"), nil, false, "")

	for state, ids := range map[engine.HoldState][]engine.TransferID{
		engine.HoldOpen: {"h4", "h2"}, engine.HoldCaptured: {"h1"}, engine.HoldVoided: {"apr_3"}, engine.HoldExpired: nil,
	} {
		wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", State: state, Limit: 10}, ids, false, "")
	}

	// Pages of 3 and of 2, each starting after the last one's Next.
	wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", Limit: 3}, []engine.TransferID{"h4", "apr_3", "h2"}, true, "h2")
	wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", Limit: 3, StartingAfter: "h2"}, []engine.TransferID{"h1"}, false, "")
	wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", Limit: 2}, []engine.TransferID{"h4", "apr_3"}, true, "apr_3")
	wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", Limit: 2, StartingAfter: "apr_3"}, []engine.TransferID{"h2", "h1"}, false, "")
	// A filtered page of one: its Next is the last hold it read.
	open := engine.HoldQuery{Account: "alice", State: engine.HoldOpen, Limit: 1}
	wantHoldPage(t, eng, open, []engine.TransferID{"h4"}, true, "h4")
	open.StartingAfter = "h4"
	wantHoldPage(t, eng, open, []engine.TransferID{"h2"}, true, "h2")
	open.StartingAfter = "h2"
	wantHoldPage(t, eng, open, nil, false, "")
	// Bob's pages skip the holds he is no party to.
	wantHoldPage(t, eng, engine.HoldQuery{Account: "bob", Limit: 1, StartingAfter: "h5"}, []engine.TransferID{"h4"}, true, "h4")
}

func TestHoldsListEachPartysHoldsNewestFirst(t *testing.T) {
	clock := newFakeClock()
	eng := openTest(t, engine.Options{Clock: clock.Now})
	holdsFixture(t, eng, clock)
	checkHoldLists(t, eng)
}

func TestHoldsRefusesBadQueries(t *testing.T) {
	clock := newFakeClock()
	eng := openTest(t, engine.Options{Clock: clock.Now})
	holdsFixture(t, eng, clock)
	mustCharge := func(id engine.TransferID) {
		t.Helper()
		if _, err := eng.Charge(context.Background(), engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(1)}); err != nil {
			t.Fatalf("Charge(%s) = %v", id, err)
		}
	}
	mustCharge("c1")
	for _, q := range []engine.HoldQuery{
		{Account: "alice", Limit: 0},
		{Account: "alice", Limit: engine.HoldsPageMax + 1},
		{Account: "alice", Limit: 1, State: "PENDING"},
		{Account: "alice", Limit: 1, StartingAfter: "h-unknown"},
		{Account: "alice", Limit: 1, StartingAfter: "h5"}, // not alice's
		{Account: "alice", Limit: 1, StartingAfter: "c1"}, // a charge
	} {
		if _, err := eng.Holds(context.Background(), q); !isInvalid(err) {
			t.Fatalf("Holds(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

func isInvalid(err error) bool { return err != nil && errors.Is(err, engine.ErrInvalid) }

// TestHoldsListAHoldPastItsDeadlineAsExpired: a hold still open at its
// deadline is never listed under HoldOpen, and is under HoldExpired; once
// its expiry is durable it reads HoldExpired.
func TestHoldsListAHoldPastItsDeadlineAsExpired(t *testing.T) {
	clock := newFakeClock()
	eng := openTest(t, engine.Options{Clock: clock.Now})
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-a", "alice", 1000)
	ctx := context.Background()
	for _, h := range []engine.Hold{
		{ID: "short", From: "alice", To: "bob", Amount: engine.NewAmount(10), Timeout: time.Minute},
		{ID: "long", From: "alice", To: "bob", Amount: engine.NewAmount(20), Timeout: time.Hour},
	} {
		clock.Advance(time.Second)
		if _, err := eng.Hold(ctx, h); err != nil {
			t.Fatalf("Hold(%s) = %v", h.ID, err)
		}
	}
	clock.Advance(time.Minute)
	wantHoldPage(t, eng, engine.HoldQuery{Account: "bob", State: engine.HoldOpen, Limit: 10}, []engine.TransferID{"long"}, false, "")
	wantHoldPage(t, eng, engine.HoldQuery{Account: "bob", State: engine.HoldExpired, Limit: 10}, []engine.TransferID{"short"}, false, "")
	wantBalance(t, eng, "alice", 980, 20) // a decision on the payer expires what is due first
	page := wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", Limit: 10}, []engine.TransferID{"long", "short"}, false, "")
	if page.Holds[1].State != engine.HoldExpired || page.Holds[0].State != engine.HoldOpen {
		t.Fatalf("states = %s %s, want open expired", page.Holds[0].State, page.Holds[1].State)
	}
}

// TestHoldListsSurviveReopenSnapshotAndCrash: the rows are written with
// the hold's record, so the lists are the same after a clean reopen (a
// replay of the log), after a snapshot truncated the records behind them,
// and on a crash image of the directory.
func TestHoldListsSurviveReopenSnapshotAndCrash(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	mem := vfs.NewCrashableMem()
	options := engine.Options{Dir: "/tollway", FS: mem, Clock: clock.Now}
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	holdsFixture(t, eng, clock)
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	if err := eng.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eng = openTest(t, options)
	checkHoldLists(t, eng)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eng = openTest(t, options)
	checkHoldLists(t, eng)
	// A hold placed after the reopen lists with the older ones.
	clock.Advance(time.Second)
	if _, err := eng.Hold(ctx, engine.Hold{ID: "h6", From: "bob", To: "alice", Amount: engine.NewAmount(1), Timeout: time.Hour}); err != nil {
		t.Fatalf("Hold(h6) = %v", err)
	}
	wantHoldPage(t, eng, engine.HoldQuery{Account: "alice", Limit: 2}, []engine.TransferID{"h6", "h4"}, true, "h4")

	crashedEngine := openTest(t, engine.Options{Dir: "/tollway", FS: crashed, Clock: clock.Now})
	checkHoldLists(t, crashedEngine)
}
