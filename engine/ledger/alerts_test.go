package ledger

import (
	"errors"
	"testing"
)

// alertStep is one command of an alert test, run through a Book at its
// time, and the markers its event must carry.
type alertStep struct {
	c          Command
	at         int64
	lowBalance uint64    // the threshold marked; 0: none
	budgetCap  BudgetCap // the cap marked
	limit      uint64    // its value
}

// runAlertSteps opens alice and bob on a fresh book, funds alice with
// funding and runs steps, checking each one's markers; it returns the book.
func runAlertSteps(t *testing.T, funding uint64, steps []alertStep) *Book {
	t.Helper()
	b := NewBook(true)
	for _, id := range []AccountID{alice, bob} {
		events, err := OpenAccount(b, id, testLedger, KindConsumer, now0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range events {
			b.Apply(&events[i])
		}
	}
	if _, _, err := b.Execute(&Command{Type: CommandCredit, ID: "fund", To: alice, Amount: NewAmount(funding)}, now0); err != nil {
		t.Fatal(err)
	}
	for i, step := range steps {
		c := step.c
		_, e, err := b.Execute(&c, step.at)
		if err != nil {
			t.Fatalf("step %d: %s(%+v) = %v, want success", i, commandName(step.c.Type), step.c, err)
		}
		if e.LowBalance != NewAmount(step.lowBalance) || e.BudgetCap != step.budgetCap || e.BudgetLimit != NewAmount(step.limit) {
			t.Errorf("step %d: %s(%s %v) marked low balance %v, budget %q %v; want %d, %q %d", i, commandName(step.c.Type), step.c.ID, step.c.Amount,
				e.LowBalance, e.BudgetCap, e.BudgetLimit, step.lowBalance, step.budgetCap, step.limit)
		}
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	return b
}

func charge(id TransferID, amount uint64, budget Budget) Command {
	return Command{Type: CommandCharge, ID: id, From: alice, To: bob, Amount: NewAmount(amount), Budget: budget}
}

func setLowBalance(amount uint64) Command {
	return Command{Type: CommandSetLowBalance, From: alice, Amount: NewAmount(amount)}
}

func TestLowBalanceIsMarkedOncePerCrossingAndRearmsWhenAvailableIsBack(t *testing.T) {
	hold := func(id TransferID, amount uint64) Command {
		return Command{Type: CommandHold, ID: id, From: alice, To: bob, Amount: NewAmount(amount), Timeout: 60e9}
	}
	b := runAlertSteps(t, 1000, []alertStep{
		{c: setLowBalance(500), at: now0},
		{c: charge("k1", 300, Budget{}), at: now0 + 1},                                                                   // 1000 -> 700
		{c: charge("k2", 200, Budget{}), at: now0 + 2},                                                                   // 700 -> 500: at the threshold is not below it
		{c: charge("k3", 1, Budget{}), at: now0 + 3, lowBalance: 500},                                                    // 500 -> 499: crossed
		{c: charge("k4", 100, Budget{}), at: now0 + 4},                                                                   // 499 -> 399: still below, not again
		{c: hold("h1", 99), at: now0 + 5},                                                                                // 399 -> 300
		{c: Command{Type: CommandVoid, ID: "h1"}, at: now0 + 6},                                                          // 300 -> 399: still below, not re-armed
		{c: Command{Type: CommandCredit, ID: "c1", To: alice, Amount: NewAmount(101)}, at: now0 + 7},                     // 399 -> 500: re-armed
		{c: hold("h2", 1), at: now0 + 8, lowBalance: 500},                                                                // 500 -> 499: crossed again, by a hold
		{c: Command{Type: CommandVoid, ID: "h2"}, at: now0 + 9},                                                          // 499 -> 500: re-armed by the release
		{c: Command{Type: CommandPayout, ID: "p1", From: alice, Amount: NewAmount(500)}, at: now0 + 10, lowBalance: 500}, // 500 -> 0
	})
	if got := b.Account(alice).LowBalance; got != NewAmount(500) {
		t.Errorf("LowBalance = %v, want 500", got)
	}
}

func TestLowBalanceSetAboveWhatIsAvailableMarksNothingUntilAvailableIsBack(t *testing.T) {
	runAlertSteps(t, 100, []alertStep{
		{c: setLowBalance(1000), at: now0},
		{c: charge("k1", 10, Budget{}), at: now0 + 1},                                                // 100 -> 90: below, but it never was at or above
		{c: Command{Type: CommandCredit, ID: "c1", To: alice, Amount: NewAmount(910)}, at: now0 + 2}, // 1000
		{c: charge("k2", 1, Budget{}), at: now0 + 3, lowBalance: 1000},
		{c: setLowBalance(0), at: now0 + 4},
		{c: Command{Type: CommandCredit, ID: "c2", To: alice, Amount: NewAmount(1)}, at: now0 + 5},
		{c: charge("k3", 999, Budget{}), at: now0 + 6}, // off: nothing marked
	})
}

func TestLowBalanceIsMarkedOnWithdrawalReservations(t *testing.T) {
	runAlertSteps(t, 1000, []alertStep{
		{c: setLowBalance(600), at: now0},
		{c: Command{Type: CommandReserveWithdrawal, ID: "w1", From: alice, Amount: NewAmount(300)}, at: now0 + 1},                   // 700
		{c: Command{Type: CommandReserveWithdrawal, ID: "w2", From: alice, Amount: NewAmount(500)}, at: now0 + 2, lowBalance: 600},  // 300 released, 500 reserved: 500
		{c: Command{Type: CommandCompleteWithdrawal, ID: "w3", From: alice, Amount: NewAmount(0)}, at: now0 + 3},                    // released: 1000
		{c: Command{Type: CommandCompleteWithdrawal, ID: "w4", From: alice, Amount: NewAmount(401)}, at: now0 + 4, lowBalance: 600}, // 599
	})
}

func TestBudgetExhaustionIsMarkedOncePerDayAndAgainOnANewDay(t *testing.T) {
	day := int64(dayNanos)
	perDay := Budget{Spender: "key_1", PerDay: NewAmount(100)}
	runAlertSteps(t, 10_000, []alertStep{
		{c: charge("k1", 40, perDay), at: now0},                                                    // 40 spent, 60 left
		{c: charge("k2", 40, perDay), at: now0 + 1, budgetCap: BudgetCapDay, limit: 100},           // 80 spent, 20 left < 40
		{c: charge("k3", 10, perDay), at: now0 + 2},                                                // 90 spent, 10 left: reported today
		{c: charge("k4", 10, perDay), at: now0 + 3},                                                // 100 spent, 0 left: reported today
		{c: charge("k5", 50, perDay), at: now0 + day},                                              // a new day: 50 spent, 50 left
		{c: charge("k6", 30, perDay), at: now0 + day + 1, budgetCap: BudgetCapDay, limit: 100},     // 80, 20 left < 30
		{c: charge("k7", 1, Budget{Spender: "key_1", PerDay: NewAmount(200)}), at: now0 + day + 2}, // a raised cap: 119 left
		{c: charge("k8", 100, Budget{Spender: "key_1", PerDay: NewAmount(200)}), at: now0 + day + 3, budgetCap: BudgetCapDay, limit: 200},
	})
}

func TestBudgetExhaustionOfTheTotalIsMarkedOncePerCapValue(t *testing.T) {
	total := func(limit uint64) Budget {
		return Budget{Spender: "key_1", Total: NewAmount(limit), PerDay: NewAmount(1000)}
	}
	b := runAlertSteps(t, 10_000, []alertStep{
		{c: charge("k1", 50, total(120)), at: now0},
		{c: charge("k2", 50, total(120)), at: now0 + 1, budgetCap: BudgetCapTotal, limit: 120},             // 100 spent, 20 left
		{c: charge("k3", 20, total(120)), at: now0 + dayNanos},                                             // another day: the total stays reported
		{c: charge("k4", 100, total(300)), at: now0 + dayNanos + 1, budgetCap: BudgetCapTotal, limit: 300}, // raised: 80 left < 100
		{c: charge("k5", 1, Budget{Spender: "key_2", Total: NewAmount(1)}), at: now0 + dayNanos + 2, budgetCap: BudgetCapTotal, limit: 1},
		// Both caps exhausted at once: the total is reported, then the day by a later debit it exhausts.
		{c: charge("k6", 40, Budget{Spender: "key_3", Total: NewAmount(50), PerDay: NewAmount(50)}), at: now0, budgetCap: BudgetCapTotal, limit: 50},
		{c: charge("k7", 5, Budget{Spender: "key_3", Total: NewAmount(50), PerDay: NewAmount(50)}), at: now0 + 1}, // 5 left: not < 5
		{c: charge("k8", 5, Budget{Spender: "key_3", Total: NewAmount(50), PerDay: NewAmount(50)}), at: now0 + 2, budgetCap: BudgetCapDay, limit: 50},
	})
	// What was reported is the account's: a clone and its snapshot keep it.
	a := b.Account(alice)
	for _, got := range []*Account{a.Clone(), mustDecodeAccount(t, AppendAccount(nil, a))} {
		for spender, want := range map[SpenderID]spending{
			"key_1": {Spend: Spend{Total: NewAmount(220), Day: DayOf(now0 + dayNanos), DayTotal: NewAmount(120)}, totalReported: NewAmount(300)},
			"key_3": {Spend: Spend{Total: NewAmount(50), Day: DayOf(now0), DayTotal: NewAmount(50)}, dayReported: NewAmount(50), totalReported: NewAmount(50)},
		} {
			if s := got.spends[spender]; s == nil || *s != want {
				t.Errorf("spends[%q] = %+v, want %+v", spender, s, want)
			}
		}
	}
}

func mustDecodeAccount(t *testing.T, data []byte) *Account {
	t.Helper()
	a, err := DecodeAccount(data)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBudgetExhaustionIsMarkedOnHoldsAndSessionsAndNotOnUnbudgetedDebits(t *testing.T) {
	budget := Budget{Spender: "key_1", Total: NewAmount(100)}
	runAlertSteps(t, 10_000, []alertStep{
		{c: Command{Type: CommandHold, ID: "h1", From: alice, To: bob, Amount: NewAmount(60), Timeout: 60e9, Budget: budget}, at: now0,
			budgetCap: BudgetCapTotal, limit: 100}, // 40 left < 60
		{c: Command{Type: CommandVoid, ID: "h1"}, at: now0 + 1}, // refunded, still reported for this cap
		{c: Command{Type: CommandSessionOpen, ID: "s1", From: alice, To: bob, Rate: NewAmount(1), MaxSeconds: 60, Timeout: 60e9,
			Budget: Budget{Spender: "key_2", Total: NewAmount(100)}}, at: now0 + 2, budgetCap: BudgetCapTotal, limit: 100}, // 40 left < 60
		{c: charge("k1", 100, Budget{Spender: "key_3", PerDebit: NewAmount(100)}), at: now0 + 3}, // no day or total cap
		{c: charge("k2", 100, Budget{}), at: now0 + 4},
	})
}

func TestLowBalanceSettingReplaysAndIsRefusedOnSystemAccounts(t *testing.T) {
	b := runAlertSteps(t, 1000, []alertStep{{c: setLowBalance(700), at: now0}, {c: setLowBalance(400), at: now0 + 1}})
	replayed := NewBook(false)
	var log []Event
	for _, id := range []AccountID{alice, bob} { // the same openings, then every event the book applied
		events, _ := OpenAccount(replayed, id, testLedger, KindConsumer, now0)
		for i := range events {
			replayed.Apply(&events[i])
		}
	}
	for _, id := range []TransferID{"fund"} {
		e, _ := b.Transfer(id)
		log = append(log, e)
	}
	log = append(log, Event{Type: EventLowBalanceSet, Ledger: testLedger, Time: now0, Account: alice, Amount: NewAmount(700)},
		Event{Type: EventLowBalanceSet, Ledger: testLedger, Time: now0 + 1, Account: alice, Amount: NewAmount(400)})
	for i := range log {
		data := AppendEvent(nil, &log[i])
		e, err := DecodeEvent(data)
		if err != nil {
			t.Fatalf("DecodeEvent(%x) = %v", data, err)
		}
		replayed.Apply(&e)
	}
	if got := replayed.Account(alice).LowBalance; got != NewAmount(400) {
		t.Errorf("replayed LowBalance = %v, want 400", got)
	}
	if _, found := b.Transfer(""); found {
		t.Errorf("Transfer(\"\") found, want a setting to record no client id")
	}
	for _, id := range []AccountID{testFees, ChainAccountID(testLedger)} {
		if _, _, err := b.Execute(&Command{Type: CommandSetLowBalance, From: id, Amount: NewAmount(1)}, now0); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetLowBalance(%q) = %v, want %v", id, err, ErrInvalid)
		}
	}
	if _, _, err := b.Execute(&Command{Type: CommandSetLowBalance, From: "ghost", Amount: NewAmount(1)}, now0); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetLowBalance(ghost) = %v, want %v", err, ErrNotFound)
	}
}

func TestDecodeEventRejectsMarkersTheRulesCouldNotProduce(t *testing.T) {
	marked := Event{Type: EventCharged, ID: "k", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
		Amount: NewAmount(100), Spender: "key_1", LowBalance: NewAmount(500), BudgetCap: BudgetCapDay, BudgetLimit: NewAmount(150)}
	setting := Event{Type: EventLowBalanceSet, Ledger: testLedger, Time: now0, Account: alice, Amount: NewAmount(500)}
	with := func(e Event, change func(*Event)) [][]byte {
		change(&e)
		return eventPieces(&e)
	}
	good := eventPieces(&marked)
	for _, e := range []Event{marked, setting} {
		if got, err := DecodeEvent(AppendEvent(nil, &e)); err != nil || !sameEvent(got, e) {
			t.Fatalf("DecodeEvent(AppendEvent(%s)) = %s, %v, want it back: the cases below change one thing each", eventText(e), eventText(got), err)
		}
	}
	tests := []struct {
		name   string
		pieces [][]byte
	}{
		{"marked in version 4", replaced(good, fieldVersion, []byte{4})},
		{"marked without its markers", replaced(good, fieldMarkers, []byte{})},
		{"markers without the type's bit", replaced(good, fieldType, []byte{byte(EventCharged)})},
		{"no marker flagged", replaced(good, fieldMarkers, []byte{0})},
		{"an unknown marker flagged", replaced(good, fieldMarkers, append([]byte{1 | 4}, amountPiece(NewAmount(5))...))},
		{"a zero threshold crossed", replaced(good, fieldMarkers, append([]byte{1}, amountPiece(Amount{})...))},
		{"budget cap none", replaced(good, fieldMarkers, join([][]byte{{2, 0}, amountPiece(NewAmount(5))}))},
		{"budget cap past the last", replaced(good, fieldMarkers, join([][]byte{{2, byte(budgetCapEnd)}, amountPiece(NewAmount(5))}))},
		{"a zero budget limit", replaced(good, fieldMarkers, join([][]byte{{2, byte(BudgetCapTotal)}, amountPiece(Amount{})}))},
		{"budget marker without a spender", with(marked, func(e *Event) { e.Spender = "" })},
		{"low balance on a credit", with(marked, func(e *Event) {
			e.Type, e.Spender, e.BudgetCap, e.BudgetLimit = EventCredited, "", BudgetCapNone, Amount{}
		})},
		{"budget marker on a payout", with(marked, func(e *Event) { e.Type, e.Fees, e.Spender, e.LowBalance = EventPaidOut, "", "", Amount{} })},
		{"low balance on a capture", with(marked, func(e *Event) { e.Type, e.BudgetCap, e.BudgetLimit = EventCaptured, BudgetCapNone, Amount{} })},
		{"setting in version 4", replaced(eventPieces(&setting), fieldVersion, []byte{4})},
		{"setting without an account", with(setting, func(e *Event) { e.Account = "" })},
		{"setting with a client id", with(setting, func(e *Event) { e.ID = "x" })},
		{"setting with a payer", with(setting, func(e *Event) { e.From = alice })},
		{"setting with a spender", with(setting, func(e *Event) { e.Spender = "key_1" })},
		{"setting with a marker", with(setting, func(e *Event) { e.LowBalance = NewAmount(1) })},
	}
	for _, tt := range tests {
		data := join(tt.pieces)
		if got, err := DecodeEvent(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeEvent(%x) = %s, %v, want %v", tt.name, data, eventText(got), err, ErrCorrupt)
		}
	}
}

func TestAccountRecordsKeepTheThresholdAndTheCapsReportedAndVersion4Decodes(t *testing.T) {
	b := runAlertSteps(t, 1000, []alertStep{
		{c: setLowBalance(900), at: now0},
		{c: charge("k1", 200, Budget{Spender: "key_1", PerDay: NewAmount(300), Total: NewAmount(1000)}), at: now0 + 1,
			lowBalance: 900, budgetCap: BudgetCapDay, limit: 300},
	})
	a := b.Account(alice)
	got := mustDecodeAccount(t, AppendAccount(nil, a))
	want := spending{Spend: Spend{Total: NewAmount(200), Day: DayOf(now0), DayTotal: NewAmount(200)}, dayReported: NewAmount(300)}
	if got.LowBalance != NewAmount(900) || got.spends["key_1"] == nil || *got.spends["key_1"] != want {
		t.Errorf("DecodeAccount(AppendAccount(alice)) = threshold %v, spends %+v; want 900, %+v", got.LowBalance, got.spends["key_1"], want)
	}
	v4, err := DecodeAccount(join(accountPiecesOf(a, 4)))
	if err != nil {
		t.Fatalf("DecodeAccount(version 4) = %v, want success", err)
	}
	want.dayReported = Amount{}
	if !v4.LowBalance.IsZero() || *v4.spends["key_1"] != want || v4.Available() != NewAmount(800) {
		t.Errorf("DecodeAccount(version 4) = threshold %v, spends %+v, available %v; want 0, %+v, 800", v4.LowBalance, v4.spends["key_1"], v4.Available(), want)
	}
	system := &Account{ID: testFees, Ledger: testLedger, Kind: KindFees, LowBalance: NewAmount(1)}
	if got, err := DecodeAccount(AppendAccount(nil, system)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeAccount(a fee account with a threshold) = %+v, %v, want %v", got, err, ErrCorrupt)
	}
}
