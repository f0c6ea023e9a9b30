package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// describe renders the events a subscription delivers: the ledger's by
// position, type and id; a table write's by position and rows.
func describe(events []engine.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		if ev.Type != engine.EventRowsWritten {
			if ev.Rows != nil {
				out[i] = fmt.Sprintf("%d %v with rows %q", ev.Position, ev.Type, ev.Rows)
				continue
			}
			out[i] = fmt.Sprintf("%d %v %s", ev.Position, ev.Type, ev.ID)
			continue
		}
		out[i] = fmt.Sprintf("%d rows", ev.Position)
		for _, row := range ev.Rows {
			if row.Value == nil {
				out[i] += fmt.Sprintf(" %s deleted", row.Key)
			} else {
				out[i] += fmt.Sprintf(" %s=%q", row.Key, row.Value)
			}
		}
	}
	return out
}

func collectEvents(t *testing.T, sub *engine.Subscription, n int) []engine.Event {
	t.Helper()
	var got []engine.Event
	for len(got) < n {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed after %d events, want %d (err %v)", len(got), n, sub.Err())
			}
			got = append(got, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d events, want %d (err %v)", len(got), n, sub.Err())
		}
	}
	return got
}

// wantNextEvent checks that the next event sub sends is the credit id:
// nothing was sent between the events taken and it.
func wantNextEvent(t *testing.T, sub *engine.Subscription, id engine.TransferID) {
	t.Helper()
	if ev := collectEvents(t, sub, 1)[0]; ev.Type != engine.EventCredited || ev.ID != id {
		t.Fatalf("next event %v %s %q, want the credit %s", ev.Type, ev.ID, ev.Rows, id)
	}
}

// TestSubscriptionDeliversTableWritesUnderItsPrefixesFromBothPaths: a
// subscription with row prefixes gets, among the ledger's events and in log
// order, each table write with rows under them, carrying those rows only
// (deletes as nil values, empty values as empty); writes with none are
// passed over. Taken from the live feed, and read back from the log after
// a reopen, the events are the same; a subscription without prefixes sees
// no table write.
func TestSubscriptionDeliversTableWritesUnderItsPrefixesFromBothPaths(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := openTest(t, engine.Options{Dir: dir})
	mustCreate(t, eng, "a", "b")
	mustCredit(t, eng, "c1", "a", 100)
	from := eng.Position() + 1
	// From the credit c1, durable already: the stream reads it from the
	// log, once the test has taken it that read is over, and everything
	// written after comes from the live feed.
	live, err := eng.SubscribeWith(ctx, from-1, engine.SubscribeOptions{RowPrefixes: [][]byte{[]byte("s/"), []byte("t/")}})
	if err != nil {
		t.Fatalf("SubscribeWith = %v", err)
	}
	wantNextEvent(t, live, "c1")
	write := func(rows ...engine.Row) {
		t.Helper()
		if _, err := eng.WriteRows(ctx, rows...); err != nil {
			t.Fatalf("WriteRows = %v", err)
		}
	}
	write(engine.Row{Key: []byte("s/1"), Value: []byte("one")}, engine.Row{Key: []byte("x/1"), Value: []byte("other")},
		engine.Row{Key: []byte("t/1"), Value: []byte{}})
	if _, err := eng.Charge(ctx, engine.Charge{ID: "x1", From: "a", To: "b", Amount: engine.NewAmount(30)}); err != nil {
		t.Fatalf("Charge = %v", err)
	}
	write(engine.Row{Key: []byte("x/2"), Value: []byte("other")}) // none under the prefixes
	write(engine.Row{Key: []byte("s"), Value: []byte("short")})   // shorter than the prefix
	write(engine.Row{Key: []byte("s/1")}, engine.Row{Key: []byte("s/2"), Value: []byte("two")})
	mustCredit(t, eng, "c2", "b", 5)
	write(engine.Row{Key: []byte("x/3"), Value: []byte("other")})
	mustCredit(t, eng, "end", "b", 1) // after the last table write: the events before it are all there is

	want := []string{
		fmt.Sprintf("%d rows s/1=%q t/1=%q", from, "one", ""),
		fmt.Sprintf("%d charged x1", from+1),
		fmt.Sprintf("%d rows s/1 deleted s/2=%q", from+4, "two"),
		fmt.Sprintf("%d credited c2", from+5),
	}
	got := collectEvents(t, live, len(want))
	if fmt.Sprint(describe(got)) != fmt.Sprint(want) {
		t.Fatalf("live events\n%q\nwant\n%q", describe(got), want)
	}
	wantNextEvent(t, live, "end")
	if n := live.ReadBack(); n != 1 {
		t.Fatalf("live subscription read %d events from the log, want c1 only, the rest from the feed", n)
	}
	if got[0].Rows[1].Value == nil {
		t.Fatal("an empty value was delivered as a delete")
	}
	cancel()
	eng.Close()

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	eng = openTest(t, engine.Options{Dir: dir})
	back, err := eng.SubscribeWith(ctx, from, engine.SubscribeOptions{RowPrefixes: [][]byte{[]byte("t/"), []byte("s/")}})
	if err != nil {
		t.Fatalf("SubscribeWith after reopen = %v", err)
	}
	read := collectEvents(t, back, len(want))
	if fmt.Sprint(describe(read)) != fmt.Sprint(want) {
		t.Fatalf("events read back\n%q\nwant\n%q", describe(read), want)
	}
	wantNextEvent(t, back, "end")
	if n := back.ReadBack(); n != uint64(len(want)+1) {
		t.Fatalf("subscription after reopen read %d events from the log, want %d", n, len(want)+1)
	}
	for i := range read {
		if read[i].Type != engine.EventRowsWritten && read[i].Time != got[i].Time {
			t.Fatalf("event %d at %v read back, %v live", i, read[i].Time, got[i].Time)
		}
	}

	plain, err := eng.Subscribe(ctx, from)
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	ledgerOnly := collectEvents(t, plain, 2)
	if got, want := describe(ledgerOnly), []string{want[1], want[3]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events without prefixes %q, want %q", got, want)
	}
	wantNextEvent(t, plain, "end")
}

// TestSubscriptionWithRowsFallsBackToTheLogAlike: a subscription with row
// prefixes whose inbox overflows reads the log instead and still gets every
// table write under its prefixes once, in order with the charges.
func TestSubscriptionWithRowsFallsBackToTheLogAlike(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := openTest(t, engine.WithFeedBacklogEvents(engine.Options{}, 8))
	mustCreate(t, eng, "a", "b")
	mustCredit(t, eng, "c", "a", 1_000_000)
	from := eng.Position() + 1
	sub, err := eng.SubscribeWith(ctx, from, engine.SubscribeOptions{RowPrefixes: [][]byte{[]byte("s/")}})
	if err != nil {
		t.Fatalf("SubscribeWith = %v", err)
	}
	const rounds = 300
	for i := range rounds {
		if _, err := eng.Charge(ctx, engine.Charge{ID: engine.TransferID(fmt.Sprintf("x%d", i)), From: "a", To: "b", Amount: engine.NewAmount(1)}); err != nil {
			t.Fatalf("Charge = %v", err)
		}
		if _, err := eng.WriteRows(ctx, engine.Row{Key: fmt.Appendf(nil, "s/%d", i), Value: []byte("v")},
			engine.Row{Key: fmt.Appendf(nil, "y/%d", i), Value: []byte("v")}); err != nil {
			t.Fatalf("WriteRows = %v", err)
		}
	}
	got := collectEvents(t, sub, 2*rounds) // not read until now: its inbox overflowed
	for i, ev := range got {
		position := from + uint64(i)
		switch {
		case i%2 == 0 && (ev.Type != engine.EventCharged || ev.ID != engine.TransferID(fmt.Sprintf("x%d", i/2))):
			t.Fatalf("event %d = %v %s, want charge x%d", i, ev.Type, ev.ID, i/2)
		case i%2 == 1 && (ev.Type != engine.EventRowsWritten || len(ev.Rows) != 1 || string(ev.Rows[0].Key) != fmt.Sprintf("s/%d", i/2)):
			t.Fatalf("event %d = %v %q, want the row s/%d", i, ev.Type, ev.Rows, i/2)
		case ev.Position != position:
			t.Fatalf("event %d at position %d, want %d", i, ev.Position, position)
		}
	}
	if n := sub.ReadBack(); n < rounds {
		t.Fatalf("read %d of %d events from the log, want most: its inbox overflowed", n, len(got))
	}
}

func TestSubscribeWithRejectsBadPrefixes(t *testing.T) {
	eng := openTest(t, engine.Options{})
	ctx := context.Background()
	many := make([][]byte, engine.SubscribeRowPrefixesMax+1)
	for i := range many {
		many[i] = []byte{byte('a' + i)}
	}
	for _, prefixes := range [][][]byte{{{}}, {[]byte("ok"), nil}, {make([]byte, engine.RowKeyBytesMax+1)}, many} {
		if _, err := eng.SubscribeWith(ctx, 0, engine.SubscribeOptions{RowPrefixes: prefixes}); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("SubscribeWith(%d prefixes) = %v, want ErrInvalid", len(prefixes), err)
		}
	}
}
