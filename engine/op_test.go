package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// claims counts the client ids held in the in-flight table.
func (t *inflightTable) claims() int {
	n := 0
	t.ops.Range(func(TransferID, *op) bool { n++; return true })
	return n
}

// TestEveryAnswerReleasesItsClaim checks that an op's client id is
// released whichever way the op is answered: by the commit callback (a
// logged charge), by its actor (a rejection, a batch item), or by the call
// itself (a replay, an unknown hold). A claim left behind would make the
// next call with that id wait for an answer that never comes.
func TestEveryAnswerReleasesItsClaim(t *testing.T) {
	ctx := context.Background()
	e, err := Open(Options{Dir: "/data", FS: vfs.NewMem()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer e.Close()
	for _, id := range []AccountID{"alice", "bob"} {
		if err := e.CreateAccount(ctx, Account{ID: id, Ledger: "test:USDC"}); err != nil {
			t.Fatalf("CreateAccount(%s) = %v", id, err)
		}
	}
	if _, err := e.Credit(ctx, "dep-1", "alice", NewAmount(10)); err != nil {
		t.Fatalf("Credit = %v", err)
	}
	calls := []struct {
		name string
		run  func() error
		want error
	}{
		{"logged", func() error {
			_, err := e.Charge(ctx, Charge{ID: "c-1", From: "alice", To: "bob", Amount: NewAmount(4)})
			return err
		}, nil},
		{"rejected by the actor", func() error {
			_, err := e.Charge(ctx, Charge{ID: "c-2", From: "alice", To: "bob", Amount: NewAmount(100)})
			return err
		}, ErrInsufficientFunds},
		{"replayed by the call", func() error {
			_, err := e.Charge(ctx, Charge{ID: "c-1", From: "alice", To: "bob", Amount: NewAmount(4)})
			return err
		}, nil},
		{"refused by the call", func() error {
			return e.Void(ctx, "no-such-hold")
		}, ErrNotFound},
		{"a batch with a repeated id", func() error {
			results := e.ChargeBatch(ctx, []Charge{
				{ID: "b-1", From: "alice", To: "bob", Amount: NewAmount(1)},
				{ID: "b-1", From: "alice", To: "bob", Amount: NewAmount(1)},
				{ID: "b-2", From: "alice", To: "bob", Amount: NewAmount(100)},
			})
			return errors.Join(results[0].Err, results[1].Err, results[2].Err)
		}, ErrInsufficientFunds},
	}
	for _, call := range calls {
		err := call.run()
		if (call.want == nil && err != nil) || !errors.Is(err, call.want) {
			t.Fatalf("%s: err = %v, want %v", call.name, err, call.want)
		}
		if n := e.inflight.claims(); n != 0 {
			t.Fatalf("%s: %d client ids still claimed after the answer, want 0", call.name, n)
		}
	}
}
