package engine_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tollway/tollway/engine"
)

func scanRows(t *testing.T, eng *engine.Engine, prefix string) []string {
	t.Helper()
	var rows []string
	err := eng.ScanRows([]byte(prefix), func(key, value []byte) error {
		rows = append(rows, string(key)+"="+string(value))
		return nil
	})
	if err != nil {
		t.Fatalf("ScanRows(%q) = %v", prefix, err)
	}
	return rows
}

func TestRowsAreDurableBesideTheLedgerAndOutliveSnapshots(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	eng := openTest(t, engine.Options{Dir: dir})
	mustCreate(t, eng, "a", "b")
	mustCredit(t, eng, "c1", "a", 100)
	if _, err := eng.WriteRows(ctx, engine.Row{Key: []byte("u/1"), Value: []byte("alice")}, engine.Row{Key: []byte("u/2"), Value: []byte("bob")}); err != nil {
		t.Fatalf("WriteRows = %v", err)
	}
	if _, err := eng.Charge(ctx, engine.Charge{ID: "x1", From: "a", To: "b", Amount: engine.NewAmount(30)}); err != nil {
		t.Fatalf("Charge = %v", err)
	}
	if _, err := eng.WriteRows(ctx, engine.Row{Key: []byte("u/1")}); err != nil {
		t.Fatalf("WriteRows(delete) = %v", err)
	}
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	position, err := eng.WriteRows(ctx, engine.Row{Key: []byte("u/3"), Value: []byte("carol")})
	if err != nil || position == 0 {
		t.Fatalf("WriteRows = %d, %v, want a position", position, err)
	}
	if _, err := eng.Charge(ctx, engine.Charge{ID: "x2", From: "a", To: "b", Amount: engine.NewAmount(20)}); err != nil {
		t.Fatalf("Charge = %v", err)
	}
	eng.Close()

	eng = openTest(t, engine.Options{Dir: dir}) // replays a rows record after the snapshot
	if got, want := scanRows(t, eng, "u/"), []string{"u/2=bob", "u/3=carol"}; !slices.Equal(got, want) {
		t.Fatalf("rows after reopen = %q, want %q", got, want)
	}
	balance, err := eng.Balance(ctx, "a")
	if err != nil || balance.Available != engine.NewAmount(50) {
		t.Fatalf("Balance(a) = %v, %v, want 50 available", balance.Available, err)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestWriteRowsRejectsBadRowsAndWritesNothing(t *testing.T) {
	eng := openTest(t, engine.Options{})
	ctx := context.Background()
	long := make([]byte, engine.RowKeyBytesMax+1)
	for _, rows := range [][]engine.Row{
		nil,
		{{Key: nil, Value: []byte("v")}},
		{{Key: []byte("ok"), Value: []byte("v")}, {Key: long, Value: []byte("v")}},
		{{Key: []byte("big"), Value: make([]byte, engine.RowsBytesMax)}},
	} {
		if _, err := eng.WriteRows(ctx, rows...); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("WriteRows(%d rows) = %v, want ErrInvalid", len(rows), err)
		}
	}
	if got := scanRows(t, eng, ""); len(got) != 0 {
		t.Fatalf("rows after rejected writes = %q, want none", got)
	}
}

func TestSubscribersSeeLedgerEventsOnlyNotRows(t *testing.T) {
	eng := openTest(t, engine.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := eng.WriteRows(ctx, engine.Row{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("WriteRows = %v", err)
	}
	mustCreate(t, eng, "a")
	subscription, err := eng.Subscribe(ctx, 1)
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	event := <-subscription.C
	if event.Type != engine.EventAccountCreated || event.Position != 2 {
		t.Fatalf("first event = %v at %d, want account_created at 2", event.Type, event.Position)
	}
}
