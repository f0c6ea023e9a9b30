package actors_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// TestPanickingAccountStopsAndReportsInsteadOfRestarting checks that an
// actor whose state can no longer be trusted (a broken invariant panics in
// Apply) is stopped and reported, never restarted with empty state, and
// that later messages to it are not processed.
func TestPanickingAccountStopsAndReportsInsteadOfRestarting(t *testing.T) {
	completed := make(chan actors.Op, 4)
	log, err := wal.Open(t.TempDir(), wal.Options{
		Logger: slog.New(slog.DiscardHandler),
		OnDurable: func(entries []*wal.Entry, _ uint64, _ error) {
			for _, e := range entries {
				completed <- e.Token.(actors.Op)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	failures := make(chan string, 1)
	registry := actors.NewRegistry(actors.Config{
		Log:     log,
		Now:     func() int64 { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() },
		Reply:   func(op actors.Op) { completed <- op },
		Expired: func(*actors.Entry, *ledger.Event) *wal.Entry { panic("no holds") },
		Failed:  func(who string, _ any) { failures <- who },
		Logger:  slog.New(slog.DiscardHandler),
	})
	registry.Insert(&ledger.Account{ID: "alice", Ledger: "test:USDC", CreditsPosted: ledger.NewAmount(100)})
	alice := registry.Entry("alice")

	// Capturing a hold alice does not have breaks an invariant in Apply.
	bogus := &ledger.Event{Type: ledger.EventCaptured, ID: "h-x", From: "alice", To: "bob", Amount: ledger.NewAmount(5), Captured: ledger.NewAmount(5)}
	registry.Send(alice, &actors.Effects{Events: []*ledger.Event{bogus}})
	select {
	case who := <-failures:
		if who != "account alice" {
			t.Fatalf("Failed(%q), want account alice", who)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a panicking actor was not reported")
	}
	// The stopped actor must not answer: a restarted one would, from empty
	// state, before the poison that Shutdown sends behind the read.
	registry.Send(alice, &readOp{})
	registry.Shutdown()
	select {
	case op := <-completed:
		t.Fatalf("stopped actor answered %+v", op)
	default:
	}
}

// TestReadAnswersWithTheAccountsBalance checks the plain path: a read is
// answered at once when nothing of the account waits for the disk.
func TestReadAnswersWithTheAccountsBalance(t *testing.T) {
	log, err := wal.Open(t.TempDir(), wal.Options{Logger: slog.New(slog.DiscardHandler), OnDurable: func([]*wal.Entry, uint64, error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	completed := make(chan actors.Op, 1)
	registry := actors.NewRegistry(actors.Config{
		Log: log, Now: func() int64 { return 0 }, Reply: func(op actors.Op) { completed <- op },
		Expired: func(*actors.Entry, *ledger.Event) *wal.Entry { panic("no holds") },
		Failed:  func(string, any) {}, Logger: slog.New(slog.DiscardHandler),
	})
	defer registry.Shutdown()
	registry.Insert(&ledger.Account{ID: "alice", Ledger: "test:USDC", CreditsPosted: ledger.NewAmount(100), DebitsPosted: ledger.NewAmount(30)})
	registry.Send(registry.Entry("alice"), &readOp{})
	select {
	case op := <-completed:
		if read := op.(*readOp); read.available != ledger.NewAmount(70) {
			t.Fatalf("Read = available %s, want 70", read.available)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to a read")
	}
	if registry.Actors() != 1 || registry.Len() != 1 {
		t.Fatalf("Actors() = %d, Len() = %d, want 1, 1", registry.Actors(), registry.Len())
	}
}

// readOp is the smallest Op: it reads its account's available amount and
// logs nothing, so the actor answers it through Config.Reply.
type readOp struct{ available ledger.Amount }

func (o *readOp) Decide(account *ledger.Account, _ int64) *ledger.Event {
	o.available = account.Available()
	return nil
}

func (o *readOp) Logged(*ledger.Account) *wal.Entry { panic("a read logs nothing") }
func (o *readOp) Barrier() *wal.Entry               { return &wal.Entry{Token: o} }
