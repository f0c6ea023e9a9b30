package ledger

import (
	"errors"
	"testing"
)

// withdrawalStep is one command of a withdrawal test and the balances of
// alice and the chain account right after it.
type withdrawalStep struct {
	command    Command
	wantErr    error
	want       Event       // the result, when it succeeds
	alice      balances    // after the step
	chain      balances    // after the step
	withdrawal *Withdrawal // alice's reservation after the step; nil for none
}

// runWithdrawalSteps funds alice with credit from the chain and runs the
// steps in order at now0+i, checking each result, exact balances, that a
// refused step changed nothing, and Σ debits = Σ credits after each.
func runWithdrawalSteps(t *testing.T, credit uint64, steps []withdrawalStep) *Book {
	t.Helper()
	b := newTestBook(t, credit)
	for i, step := range steps {
		c := step.command
		before := snapshotOf(b.Account(alice))
		_, got, err := b.Execute(&c, now0+int64(i+1))
		name := commandName(c.Type)
		switch {
		case step.wantErr != nil:
			if !errors.Is(err, step.wantErr) {
				t.Fatalf("step %d: %s(%+v) = %s, %v, want %v", i, name, step.command, eventText(got), err, step.wantErr)
			}
			if after := snapshotOf(b.Account(alice)); !after.equal(before) {
				t.Fatalf("step %d: refused %s(%+v) changed alice from %+v to %+v", i, name, step.command, before, after)
			}
		case err != nil || !sameEvent(got, step.want):
			t.Fatalf("step %d: %s(%+v) = %s, %v, want %s", i, name, step.command, eventText(got), err, eventText(step.want))
		}
		if got := balancesOf(t, b.Account(alice)); got != step.alice {
			t.Errorf("step %d: after %s, alice = %+v, want %+v", i, name, got, step.alice)
		}
		if got := balancesOf(t, b.Account(testChain)); got != step.chain {
			t.Errorf("step %d: after %s, the chain account = %+v, want %+v", i, name, got, step.chain)
		}
		w := b.Account(alice).Withdrawal()
		if (w == nil) != (step.withdrawal == nil) || (w != nil && *w != *step.withdrawal) {
			t.Errorf("step %d: after %s, Withdrawal(alice) = %+v, want %+v", i, name, w, step.withdrawal)
		}
		if err := b.Check(); err != nil {
			t.Fatalf("step %d: after %s, Check() = %v, want nil", i, name, err)
		}
		if err := checkInvariants(b); err != nil {
			t.Fatalf("step %d: after %s, invariants: %v", i, name, err)
		}
	}
	return b
}

func reserved(id TransferID, at int64, amount, requested uint64, released uint64, releasedID TransferID) Event {
	return Event{Type: EventWithdrawalReserved, ID: id, Ledger: testLedger, Time: at, From: alice, To: testChain, Amount: NewAmount(amount),
		Withdrawal: &WithdrawalTerms{Requested: NewAmount(requested), Released: NewAmount(released), ReleasedID: releasedID}}
}

func withdrawn(id TransferID, at int64, amount uint64, released uint64, releasedID TransferID) Event {
	return Event{Type: EventWithdrawn, ID: id, Ledger: testLedger, Time: at, From: alice, To: testChain, Amount: NewAmount(amount),
		Withdrawal: &WithdrawalTerms{Requested: NewAmount(amount), Released: NewAmount(released), ReleasedID: releasedID}}
}

func reserve(id TransferID, amount uint64) Command {
	return Command{Type: CommandReserveWithdrawal, ID: id, From: alice, Amount: NewAmount(amount)}
}

func complete(id TransferID, amount uint64) Command {
	return Command{Type: CommandCompleteWithdrawal, ID: id, From: alice, Amount: NewAmount(amount)}
}

// TestAWithdrawalRequestReservesWhatIsAvailableAndANewOneReplacesIt: a
// request reserves as much of its amount as is available, pending debits
// on the payer and pending credits on the chain account; the next request
// releases it and reserves anew, against what is available once it is
// released; the completion releases the last and posts what the chain paid.
func TestAWithdrawalRequestReservesWhatIsAvailableAndANewOneReplacesIt(t *testing.T) {
	runWithdrawalSteps(t, 1000, []withdrawalStep{
		{command: reserve("wdr-1", 600), want: reserved("wdr-1", now0+1, 600, 600, 0, ""),
			alice: balances{creditsPosted: 1000, debitsPending: 600}, chain: balances{debitsPosted: 1000, creditsPending: 600},
			withdrawal: &Withdrawal{ID: "wdr-1", Amount: NewAmount(600), Requested: NewAmount(600), Created: now0 + 1}},
		{command: reserve("wdr-2", 900), want: reserved("wdr-2", now0+2, 900, 900, 600, "wdr-1"),
			alice: balances{creditsPosted: 1000, debitsPending: 900}, chain: balances{debitsPosted: 1000, creditsPending: 900},
			withdrawal: &Withdrawal{ID: "wdr-2", Amount: NewAmount(900), Requested: NewAmount(900), Created: now0 + 2}},
		{command: reserve("wdr-3", 5000), want: reserved("wdr-3", now0+3, 1000, 5000, 900, "wdr-2"), // all there is
			alice: balances{creditsPosted: 1000, debitsPending: 1000}, chain: balances{debitsPosted: 1000, creditsPending: 1000},
			withdrawal: &Withdrawal{ID: "wdr-3", Amount: NewAmount(1000), Requested: NewAmount(5000), Created: now0 + 3}},
		// Nothing else can be spent while it is reserved.
		{command: Command{Type: CommandCharge, ID: "k", From: alice, To: bob, Amount: NewAmount(1)}, wantErr: ErrInsufficientFunds,
			alice: balances{creditsPosted: 1000, debitsPending: 1000}, chain: balances{debitsPosted: 1000, creditsPending: 1000},
			withdrawal: &Withdrawal{ID: "wdr-3", Amount: NewAmount(1000), Requested: NewAmount(5000), Created: now0 + 3}},
		{command: complete("wd-3", 700), want: withdrawn("wd-3", now0+5, 700, 1000, "wdr-3"),
			alice: balances{creditsPosted: 1000, debitsPosted: 700}, chain: balances{debitsPosted: 1000, creditsPosted: 700}},
		// What is left is the account's again.
		{command: Command{Type: CommandPayout, ID: "out", From: alice, Amount: NewAmount(300)},
			want:  Event{Type: EventPaidOut, ID: "out", Ledger: testLedger, Time: now0 + 6, From: alice, To: testChain, Amount: NewAmount(300)},
			alice: balances{creditsPosted: 1000, debitsPosted: 1000}, chain: balances{debitsPosted: 1000, creditsPosted: 1000}},
	})
}

// TestAWithdrawalCompletesWithinWhatIsAvailableOnceReleased: a completion
// of zero only releases; one above what the payer has once its reservation
// is released is refused and changes nothing; one without a reservation
// pays out like a payout; a request with nothing available reserves zero
// and is still recorded.
func TestAWithdrawalCompletesWithinWhatIsAvailableOnceReleased(t *testing.T) {
	held := balances{creditsPosted: 1000, debitsPending: 400}
	heldChain := balances{debitsPosted: 1000, creditsPending: 400}
	runWithdrawalSteps(t, 1000, []withdrawalStep{
		{command: reserve("wdr-1", 400), want: reserved("wdr-1", now0+1, 400, 400, 0, ""), alice: held, chain: heldChain,
			withdrawal: &Withdrawal{ID: "wdr-1", Amount: NewAmount(400), Requested: NewAmount(400), Created: now0 + 1}},
		{command: complete("wd-too-much", 1001), wantErr: ErrInsufficientFunds, alice: held, chain: heldChain,
			withdrawal: &Withdrawal{ID: "wdr-1", Amount: NewAmount(400), Requested: NewAmount(400), Created: now0 + 1}},
		{command: complete("wd-1", 0), want: withdrawn("wd-1", now0+3, 0, 400, "wdr-1"),
			alice: balances{creditsPosted: 1000}, chain: balances{debitsPosted: 1000}},
		{command: complete("wd-none", 1000), want: withdrawn("wd-none", now0+4, 1000, 0, ""),
			alice: balances{creditsPosted: 1000, debitsPosted: 1000}, chain: balances{debitsPosted: 1000, creditsPosted: 1000}},
		{command: reserve("wdr-empty", 50), want: reserved("wdr-empty", now0+5, 0, 50, 0, ""),
			alice: balances{creditsPosted: 1000, debitsPosted: 1000}, chain: balances{debitsPosted: 1000, creditsPosted: 1000},
			withdrawal: &Withdrawal{ID: "wdr-empty", Amount: Amount{}, Requested: NewAmount(50), Created: now0 + 5}},
		{command: complete("wd-empty", 1), wantErr: ErrInsufficientFunds,
			alice: balances{creditsPosted: 1000, debitsPosted: 1000}, chain: balances{debitsPosted: 1000, creditsPosted: 1000},
			withdrawal: &Withdrawal{ID: "wdr-empty", Amount: Amount{}, Requested: NewAmount(50), Created: now0 + 5}},
		{command: complete("wd-empty", 0), want: withdrawn("wd-empty", now0+7, 0, 0, "wdr-empty"),
			alice: balances{creditsPosted: 1000, debitsPosted: 1000}, chain: balances{debitsPosted: 1000, creditsPosted: 1000}},
	})
}

// TestWithdrawalsReplayByClientIDAndRefuseOtherContent: a retried request
// or completion returns its recorded event and applies nothing, even once
// a later request replaced it; other content under its id is a conflict;
// a hold's verbs find no hold under a withdrawal's id.
func TestWithdrawalsReplayByClientIDAndRefuseOtherContent(t *testing.T) {
	b := newTestBook(t, 1000)
	first := mustExecute(t, b, reserve("wdr-1", 600), now0+1)
	mustExecute(t, b, reserve("wdr-2", 100), now0+2)
	done := mustExecute(t, b, complete("wd-2", 100), now0+3)
	before := snapshotOf(b.Account(alice))
	for _, tt := range []struct {
		command Command
		want    Event
		wantErr error
	}{
		{command: reserve("wdr-1", 600), want: first},
		{command: complete("wd-2", 100), want: done},
		{command: reserve("wdr-1", 601), wantErr: ErrIdempotencyConflict},
		{command: complete("wd-2", 0), wantErr: ErrIdempotencyConflict},
		{command: complete("wdr-1", 600), wantErr: ErrIdempotencyConflict},
		{command: Command{Type: CommandReserveWithdrawal, ID: "wdr-1", From: bob, Amount: NewAmount(600)}, wantErr: ErrIdempotencyConflict},
		{command: Command{Type: CommandPayout, ID: "wd-2", From: alice, Amount: NewAmount(100)}, wantErr: ErrIdempotencyConflict},
		{command: Command{Type: CommandCapture, ID: "wdr-1", Amount: NewAmount(1)}, wantErr: ErrNotFound},
		{command: Command{Type: CommandVoid, ID: "wd-2"}, wantErr: ErrNotFound},
	} {
		c := tt.command
		applied, got, err := b.Execute(&c, now0+10)
		if !errors.Is(err, tt.wantErr) || len(applied) != 0 || (tt.wantErr == nil && !sameEvent(got, tt.want)) {
			t.Errorf("%s(%+v) = %s, %s, %v, want %s, %v and nothing applied", commandName(c.Type), tt.command,
				eventsText(applied), eventText(got), err, eventText(tt.want), tt.wantErr)
		}
	}
	if after := snapshotOf(b.Account(alice)); !after.equal(before) {
		t.Errorf("retries changed alice from %+v to %+v", before, after)
	}
}

// TestOnlyAUserAccountWithdrawsToItsChainAccount: the chain and fee
// accounts have no wallet and withdraw nothing; an unknown account is not
// found; a request of zero is no request (the pool refuses one).
func TestOnlyAUserAccountWithdrawsToItsChainAccount(t *testing.T) {
	b := newTestBook(t, 1000)
	for _, tt := range []struct {
		command Command
		wantErr error
	}{
		{Command{Type: CommandReserveWithdrawal, ID: "w1", From: testChain, Amount: NewAmount(1)}, ErrInvalid},
		{Command{Type: CommandCompleteWithdrawal, ID: "w2", From: testFees, Amount: NewAmount(1)}, ErrInvalid},
		{Command{Type: CommandReserveWithdrawal, ID: "w3", From: "nobody", Amount: NewAmount(1)}, ErrNotFound},
		{Command{Type: CommandReserveWithdrawal, ID: "w4", From: alice, Amount: Amount{}}, ErrInvalid},
		{Command{Type: CommandReserveWithdrawal, ID: "w5", From: alice, Amount: AmountFromParts(1, 0)}, ErrInvalid},
		{Command{Type: CommandCompleteWithdrawal, ID: "w6", From: alice, Amount: AmountFromParts(1, 0)}, ErrInvalid},
	} {
		c := tt.command
		if _, got, err := b.Execute(&c, now0+1); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s(%+v) = %s, %v, want %v", commandName(c.Type), tt.command, eventText(got), err, tt.wantErr)
		}
	}
	// Decided directly, a payee other than the chain account is refused too.
	a := b.Account(alice)
	before := snapshotOf(a)
	for _, typ := range []CommandType{CommandReserveWithdrawal, CommandCompleteWithdrawal} {
		c := Command{Type: typ, ID: "w7", Ledger: testLedger, From: alice, To: bob, Amount: NewAmount(1)}
		if got, err := Decide(a, &c, now0+2); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s(%+v) = %s, %v, want %v", commandName(typ), c, eventText(got), err, ErrInvalid)
		}
	}
	if after := snapshotOf(a); !after.equal(before) {
		t.Errorf("Decide changed alice from %+v to %+v", before, after)
	}
}

// TestHoldsAndSessionsLeaveTheWithdrawalReservationAlone: expiring,
// capturing and voiding holds and closing sessions release what they
// reserved and nothing of the withdrawal reservation beside them.
func TestHoldsAndSessionsLeaveTheWithdrawalReservationAlone(t *testing.T) {
	b := newTestBook(t, 10_000)
	mustExecute(t, b, Command{Type: CommandHold, ID: "h-expire", From: alice, To: bob, Amount: NewAmount(100), Timeout: 10}, now0)
	mustExecute(t, b, Command{Type: CommandHold, ID: "h-capture", From: alice, To: bob, Amount: NewAmount(200), Timeout: 1e12}, now0)
	mustExecute(t, b, Command{Type: CommandHold, ID: "h-void", From: alice, To: bob, Amount: NewAmount(300), Timeout: 1e12}, now0)
	mustExecute(t, b, Command{Type: CommandSessionOpen, ID: "s", From: alice, To: bob, Rate: NewAmount(4), MaxSeconds: 100, Timeout: 1e9}, now0)
	mustExecute(t, b, reserve("wdr", 20_000), now0) // 10000 - 600 held - 400 for the session
	want := Withdrawal{ID: "wdr", Amount: NewAmount(9000), Requested: NewAmount(20_000), Created: now0}
	check := func(what string, pending, available uint64) {
		t.Helper()
		a := b.Account(alice)
		if w := a.Withdrawal(); w == nil || *w != want {
			t.Fatalf("after %s, Withdrawal(alice) = %+v, want %+v", what, w, want)
		}
		if a.DebitsPending != NewAmount(pending) || a.Available() != NewAmount(available) {
			t.Fatalf("after %s, alice pending %v available %v, want %d and %d", what, a.DebitsPending, a.Available(), pending, available)
		}
		if err := b.Check(); err != nil {
			t.Fatalf("after %s, Check() = %v, want nil", what, err)
		}
	}
	check("reserving", 10_000, 0)
	if due := ExpireDue(b.Account(alice), now0+1e15); len(due) != 3 {
		t.Fatalf("ExpireDue(far ahead) = %s, want the three holds only", eventsText(due))
	}
	// The capture expires h-expire first; 50 of h-capture is posted.
	mustExecute(t, b, Command{Type: CommandCapture, ID: "h-capture", Amount: NewAmount(50)}, now0+20)
	check("an expiry and a capture", 9_000+400+300, 250)
	mustExecute(t, b, Command{Type: CommandVoid, ID: "h-void"}, now0+21)
	check("a void", 9_000+400, 550)
	if _, _, err := b.ExecuteSession("s", SessionCommand{Type: SessionCancel, By: alice}, now0+22); err != nil {
		t.Fatalf("cancel the session: %v", err)
	}
	check("a session's cancellation", 9_000, 950)
	if closed := b.CloseDueSessions(now0 + 1e15); len(closed) != 0 {
		t.Fatalf("CloseDueSessions = %s, want none", eventsText(closed))
	}
	if next, ok := b.Account(alice).NextDeadline(); ok {
		t.Fatalf("NextDeadline(alice) = %d, want none: a withdrawal reservation has no deadline", next)
	}
}

// TestAWithdrawalReservationSurvivesASnapshotAndReplay: an account rebuilt
// from its snapshot record, or a book rebuilt from the log, holds the same
// reservation, and completing it there moves the same money.
func TestAWithdrawalReservationSurvivesASnapshotAndReplay(t *testing.T) {
	b := newTestBook(t, 1000)
	var log []Event
	for i, c := range []Command{reserve("wdr-1", 300), reserve("wdr-2", 700)} {
		applied, _, err := b.Execute(&c, now0+int64(i))
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, applied...)
	}
	// Snapshot: every account through its record.
	restored := NewBook(true)
	for _, a := range b.Accounts() {
		decoded, err := DecodeAccount(AppendAccount(nil, a))
		if err != nil {
			t.Fatalf("DecodeAccount(AppendAccount(%q)) = %v", a.ID, err)
		}
		restored.Insert(decoded)
	}
	// Replay: the same book, from the account openings and the log.
	replayed := newTestBook(t, 1000)
	for _, e := range log {
		decoded, err := DecodeEvent(AppendEvent(nil, &e))
		if err != nil {
			t.Fatalf("DecodeEvent(AppendEvent(%s)) = %v", eventText(e), err)
		}
		replayed.Apply(&decoded)
	}
	for name, rebuilt := range map[string]*Book{"snapshot": restored, "replay": replayed} {
		for _, a := range b.Accounts() {
			if got, want := snapshotOf(rebuilt.Account(a.ID)), snapshotOf(a); !got.equal(want) {
				t.Errorf("%s: account %q = %+v, want %+v", name, a.ID, got, want)
			}
		}
		c := complete("wd", 1000)
		if _, err := Decide(rebuilt.Account(alice), &Command{Type: c.Type, ID: c.ID, Ledger: testLedger, From: alice, To: testChain, Amount: c.Amount}, now0+5); err != nil {
			t.Errorf("%s: CompleteWithdrawal(1000) = %v, want it to release 700 and pay all 1000", name, err)
		}
	}
}

// TestDecodeEventRejectsWithdrawalEventsTheRulesCouldNotProduce: replay
// applies what decodes, so a withdrawal event that no decision could have
// made (between other accounts, with a hold's or a fee's fields, reserving
// above its request, paying other than it, releasing without an id) is
// refused as corrupt rather than misapplied.
func TestDecodeEventRejectsWithdrawalEventsTheRulesCouldNotProduce(t *testing.T) {
	good := map[EventType]Event{
		EventWithdrawalReserved: reserved("wdr-2", now0, 300, 500, 200, "wdr-1"),
		EventWithdrawn:          withdrawn("wd", now0, 300, 200, "wdr-1"),
	}
	tests := []struct {
		name   string
		typ    EventType
		change func(*Event)
	}{
		{"to an account other than the chain's", EventWithdrawalReserved, func(e *Event) { e.To = bob }},
		{"to another ledger's chain account", EventWithdrawn, func(e *Event) { e.To = ChainAccountID(liveLedger) }},
		{"from a system account", EventWithdrawalReserved, func(e *Event) { e.From = testFees }},
		{"with a fees account", EventWithdrawn, func(e *Event) { e.Fees = testFees }},
		{"with a fee", EventWithdrawn, func(e *Event) { e.Fees, e.Fee = testFees, NewAmount(1) }},
		{"with a captured amount", EventWithdrawn, func(e *Event) { e.Captured = NewAmount(1) }},
		{"with a hold's deadline", EventWithdrawalReserved, func(e *Event) { e.Timeout, e.Deadline = 1e9, now0+1e9 }},
		{"with a memo", EventWithdrawalReserved, func(e *Event) { e.Memo = "m" }},
		{"with a spender", EventWithdrawn, func(e *Event) { e.Spender = "key_1" }},
		{"reserving above its request", EventWithdrawalReserved, func(e *Event) { e.Amount = NewAmount(501) }},
		{"paying other than its request", EventWithdrawn, func(e *Event) { e.Withdrawal.Requested = NewAmount(301) }},
		{"releasing an amount without its id", EventWithdrawn, func(e *Event) { e.Withdrawal.ReleasedID = "" }},
	}
	for typ, e := range good {
		if _, err := DecodeEvent(AppendEvent(nil, &e)); err != nil {
			t.Fatalf("DecodeEvent(good %v) = %v, want success: the cases below change one thing each", typ, err)
		}
	}
	for _, tt := range tests {
		e := good[tt.typ]
		terms := *e.Withdrawal
		e.Withdrawal = &terms
		tt.change(&e)
		if got, err := DecodeEvent(AppendEvent(nil, &e)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeEvent(%s) = %s, %v, want %v", tt.name, eventText(e), eventText(got), err, ErrCorrupt)
		}
	}
}
