package ledger

import (
	"errors"
	"strings"
	"testing"
)

// spent returns alice's spend by spender at now as plain numbers.
func spent(t *testing.T, b *Book, spender SpenderID, now int64) (total, day uint64) {
	t.Helper()
	s := b.Account(alice).Spent(spender, now)
	_, total = s.Total.Parts()
	_, day = s.DayTotal.Parts()
	return total, day
}

func TestBudgetCapsEachDebitEachDayAndInAll(t *testing.T) {
	budget := Budget{Spender: "key_1", PerDebit: NewAmount(100), PerDay: NewAmount(250), Total: NewAmount(400)}
	charge := func(id TransferID, amount uint64) Command {
		return Command{Type: CommandCharge, ID: id, From: alice, To: bob, Amount: NewAmount(amount), Budget: budget}
	}
	const day = int64(dayNanos)
	steps := []struct {
		command         Command
		now             int64
		wantErr         error
		wantTotal, want uint64 // after the step: total, and the day's total
	}{
		{charge("c1", 101), now0, ErrBudgetExceeded, 0, 0},              // above the per-debit cap
		{charge("c2", 100), now0, nil, 100, 100},                        // at the per-debit cap
		{charge("c3", 100), now0 + 1, nil, 200, 200},                    //
		{charge("c4", 51), now0 + 2, ErrBudgetExceeded, 200, 200},       // the day's 250 would be passed
		{charge("c5", 50), now0 + 3, nil, 250, 250},                     // exactly the day's cap
		{charge("c6", 1), now0 + day, nil, 251, 1},                      // the next day starts at zero
		{charge("c7", 100), now0 + day + 1, nil, 351, 101},              //
		{charge("c8", 50), now0 + day + 2, ErrBudgetExceeded, 351, 101}, // the total's 400 would be passed
		{charge("c9", 49), now0 + day + 3, nil, 400, 150},               // exactly the total
		{charge("c10", 1), now0 + 5*day, ErrBudgetExceeded, 400, 0},     // spent for good
	}
	b := newTestBook(t, 10_000)
	for _, step := range steps {
		_, _, err := b.Execute(&step.command, step.now)
		if !errors.Is(err, step.wantErr) {
			t.Fatalf("Charge %s of %s at day+%d = %v, want %v", step.command.ID, step.command.Amount, (step.now-now0)/day, err, step.wantErr)
		}
		if total, today := spent(t, b, "key_1", step.now); total != step.wantTotal || today != step.want {
			t.Fatalf("after %s: spent %d, %d today, want %d, %d", step.command.ID, total, today, step.wantTotal, step.want)
		}
	}
	if avail := b.Account(alice).Available(); avail != NewAmount(10_000-400) {
		t.Fatalf("alice available %s, want %d: refused charges must debit nothing", avail, 10_000-400)
	}
	// Another spender of the same account, and the owner, are not capped by key_1's budget.
	mustExecute(t, b, Command{Type: CommandCharge, ID: "other", From: alice, To: bob, Amount: NewAmount(300), Budget: Budget{Spender: "key_2", Total: NewAmount(300)}}, now0+5*day)
	mustExecute(t, b, Command{Type: CommandCharge, ID: "owner", From: alice, To: bob, Amount: NewAmount(1000)}, now0+5*day)
	if total, _ := spent(t, b, "key_2", now0+5*day); total != 300 {
		t.Fatalf("key_2 spent %d, want 300", total)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestHoldsCountAgainstABudgetUntilReleased(t *testing.T) {
	budget := Budget{Spender: "key_1", PerDay: NewAmount(1000), Total: NewAmount(1500)}
	hold := func(id TransferID, amount uint64) Command {
		return Command{Type: CommandHold, ID: id, From: alice, To: bob, Amount: NewAmount(amount), Timeout: 3600e9, Budget: budget}
	}
	const day = int64(dayNanos)
	b := newTestBook(t, 10_000)
	mustExecute(t, b, hold("h1", 600), now0)
	mustExecute(t, b, hold("h2", 300), now0)
	if _, _, err := b.Execute(&Command{Type: CommandCharge, ID: "c1", From: alice, To: bob, Amount: NewAmount(101), Budget: budget}, now0); !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("charge past the day's cap with holds open = %v, want %v", err, ErrBudgetExceeded)
	}
	mustExecute(t, b, Command{Type: CommandCapture, ID: "h1", Amount: NewAmount(450)}, now0+1) // returns 150
	mustExecute(t, b, Command{Type: CommandVoid, ID: "h2"}, now0+2)                            // returns 300
	if total, today := spent(t, b, "key_1", now0+2); total != 450 || today != 450 {
		t.Fatalf("after a capture of 450 of 600 and a void of 300: spent %d, %d today, want 450, 450", total, today)
	}
	// A hold placed on one day and expiring on the next returns its amount
	// to the total only: the earlier day is over.
	mustExecute(t, b, hold("h3", 500), now0+day-1)
	if _, _, err := b.Execute(&Command{Type: CommandCredit, ID: "tick", To: alice, Amount: NewAmount(1)}, now0+day+3600e9); err != nil {
		t.Fatal(err) // any command of alice expires h3 first
	}
	if total, today := spent(t, b, "key_1", now0+day+3600e9); total != 450 || today != 0 {
		t.Fatalf("after h3 expired the next day: spent %d, %d today, want 450, 0", total, today)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestMemosAndSpendersAreCheckedAndKept(t *testing.T) {
	b := newTestBook(t, 10_000)
	long := Command{Type: CommandCharge, ID: "long", From: alice, To: bob, Amount: NewAmount(1), Memo: strings.Repeat("m", MemoBytesMax+1)}
	if _, _, err := b.Execute(&long, now0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Charge with a memo of %d bytes = %v, want %v", MemoBytesMax+1, err, ErrInvalid)
	}
	bad := Command{Type: CommandCharge, ID: "bad", From: alice, To: bob, Amount: NewAmount(1), Budget: Budget{Spender: "a b"}}
	if _, _, err := b.Execute(&bad, now0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Charge with spender %q = %v, want %v", bad.Budget.Spender, err, ErrInvalid)
	}
	c := Command{Type: CommandCharge, ID: "k", From: alice, To: bob, Amount: NewAmount(7), Memo: `{"model":"m1"}`, Budget: Budget{Spender: "key_1"}}
	e := mustExecute(t, b, c, now0)
	if e.Memo != c.Memo || e.Spender != "key_1" {
		t.Fatalf("charge event memo %q spender %q, want %q, key_1", e.Memo, e.Spender, c.Memo)
	}
	if outcome, err := Recall(&e, &c); outcome != OutcomeReplay || err != nil {
		t.Fatalf("Recall(same memo) = %v, %v, want a replay", outcome, err)
	}
	rotated := c
	rotated.Budget.Spender = "key_2"
	if outcome, err := Recall(&e, &rotated); outcome != OutcomeReplay || err != nil {
		t.Fatalf("Recall(same charge through another key) = %v, %v, want a replay", outcome, err)
	}
	changed := c
	changed.Memo = `{"model":"m2"}`
	if _, err := Recall(&e, &changed); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("Recall(another memo) = %v, want %v", err, ErrIdempotencyConflict)
	}
}

func TestDayOfRoundsTowardsThePast(t *testing.T) {
	for _, tt := range []struct{ nanos, want int64 }{
		{0, 0}, {dayNanos - 1, 0}, {dayNanos, 1}, {-1, -1}, {-dayNanos, -1}, {-dayNanos - 1, -2},
	} {
		if got := DayOf(tt.nanos); got != tt.want {
			t.Errorf("DayOf(%d) = %d, want %d", tt.nanos, got, tt.want)
		}
	}
}
