package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

const (
	testLedger LedgerID = "test:USDC"
	liveLedger LedgerID = "live:USDC"

	alice AccountID = "alice" // a consumer of testLedger
	bob   AccountID = "bob"   // a supplier of testLedger
	carol AccountID = "carol" // a consumer of liveLedger

	now0 int64 = 1_700_000_000_000_000_000 // Unix nanoseconds
)

var (
	testFees  = FeesAccountID(testLedger)
	testChain = ChainAccountID(testLedger)
	// maxMinus returns 2^128-1-n. REQUIRES: n is small.
	maxMinus = func(n uint64) Amount { return AmountFromParts(^uint64(0), ^uint64(0)-n) }
)

// commandName returns the domain verb of a command type, for failure text.
func commandName(t CommandType) string {
	switch t {
	case CommandCredit:
		return "Credit"
	case CommandCharge:
		return "Charge"
	case CommandHold:
		return "Hold"
	case CommandCapture:
		return "Capture"
	case CommandVoid:
		return "Void"
	case CommandSessionOpen:
		return "SessionOpen"
	case CommandPayout:
		return "Payout"
	case CommandReserveWithdrawal:
		return "ReserveWithdrawal"
	case CommandCompleteWithdrawal:
		return "CompleteWithdrawal"
	case CommandSetLowBalance:
		return "SetLowBalance"
	}
	return fmt.Sprintf("Command%d", t)
}

// newAccount returns a standalone account of testLedger with posted counters.
func newAccount(id AccountID, kind Kind, creditsPosted, debitsPosted Amount) *Account {
	return &Account{ID: id, Ledger: testLedger, Kind: kind, CreditsPosted: creditsPosted, DebitsPosted: debitsPosted}
}

// funded returns alice with credits posted and debits posted in base units.
func funded(credits, debits uint64) *Account {
	return newAccount(alice, KindConsumer, NewAmount(credits), NewAmount(debits))
}

// holdCommand returns a hold of amount from a's id to bob.
func holdCommand(a *Account, id TransferID, amount uint64, feeBps uint32, timeout int64) Command {
	return Command{Type: CommandHold, ID: id, Ledger: testLedger, From: a.ID, To: bob, Fees: testFees,
		Amount: NewAmount(amount), FeeBps: feeBps, Timeout: timeout}
}

// mustDecide decides c on a and applies the event to a alone, failing the
// test if the rules refuse it.
func mustDecide(t *testing.T, a *Account, c Command, now int64) Event {
	t.Helper()
	e, err := Decide(a, &c, now)
	if err != nil {
		t.Fatalf("%s(%+v) = %v, want success", commandName(c.Type), c, err)
	}
	a.Apply(&e)
	return e
}

// withHold returns a funded alice holding 600 for bob as "h1" at 250 bps
// until now0+1s.
func withHold(t *testing.T) *Account {
	a := funded(1000, 0)
	mustDecide(t, a, holdCommand(a, "h1", 600, 250, 1e9), now0)
	return a
}

// accountSnapshot is every field of an account, its open holds included,
// in a form that can be compared.
type accountSnapshot struct {
	Fields     accountFields
	Holds      []Hold
	Spends     map[SpenderID]spending
	Withdrawal Withdrawal // zero when none
}

type accountFields struct {
	ID                                                         AccountID
	Ledger                                                     LedgerID
	Kind                                                       Kind
	DebitsPosted, CreditsPosted, DebitsPending, CreditsPending Amount
	LowBalance                                                 Amount
}

func snapshotOf(a *Account) accountSnapshot {
	s := accountSnapshot{Fields: accountFields{ID: a.ID, Ledger: a.Ledger, Kind: a.Kind,
		DebitsPosted: a.DebitsPosted, CreditsPosted: a.CreditsPosted,
		DebitsPending: a.DebitsPending, CreditsPending: a.CreditsPending, LowBalance: a.LowBalance}}
	for _, h := range a.Holds() {
		s.Holds = append(s.Holds, *h)
	}
	for id, spent := range a.spends {
		if s.Spends == nil {
			s.Spends = make(map[SpenderID]spending)
		}
		s.Spends[id] = *spent
	}
	if w := a.Withdrawal(); w != nil {
		s.Withdrawal = *w
	}
	return s
}

func (s accountSnapshot) equal(o accountSnapshot) bool {
	return s.Fields == o.Fields && slices.Equal(s.Holds, o.Holds) && maps.Equal(s.Spends, o.Spends) && s.Withdrawal == o.Withdrawal
}

type decideCase struct {
	name    string
	account func(t *testing.T) *Account
	command Command
	now     int64
	want    Event
	wantErr error
}

func runDecideCases(t *testing.T, tests []decideCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.account(t)
			before := snapshotOf(a)
			c := tt.command
			got, err := Decide(a, &c, tt.now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s(%+v) = %+v, %v, want error %v", commandName(c.Type), tt.command, got, err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("%s(%+v) = %+v, %v, want %+v", commandName(c.Type), tt.command, got, err, tt.want)
			}
			if after := snapshotOf(a); !after.equal(before) {
				t.Errorf("%s(%+v) changed the account to %+v, want Decide to leave it alone", commandName(c.Type), tt.command, a)
			}
		})
	}
}

func TestDecideCreditNeedsAPositiveAmountThatFitsTheFundedAccount(t *testing.T) {
	credit := func(amount Amount) Command {
		return Command{Type: CommandCredit, ID: "c1", Ledger: testLedger, From: testChain, To: alice, Amount: amount}
	}
	runDecideCases(t, []decideCase{
		{
			name:    "positive amount is credited from the chain account",
			account: func(*testing.T) *Account { return funded(0, 0) },
			command: credit(NewAmount(1500)), now: now0,
			want: Event{Type: EventCredited, ID: "c1", Ledger: testLedger, Time: now0, From: testChain, To: alice, Amount: NewAmount(1500)},
		},
		{
			name:    "zero amount is invalid",
			account: func(*testing.T) *Account { return funded(0, 0) },
			command: credit(Amount{}), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "credit up to exactly 2^128-1 fits",
			account: func(*testing.T) *Account { return newAccount(alice, KindConsumer, maxMinus(1), Amount{}) },
			command: credit(NewAmount(1)), now: now0,
			want: Event{Type: EventCredited, ID: "c1", Ledger: testLedger, Time: now0, From: testChain, To: alice, Amount: NewAmount(1)},
		},
		{
			name:    "credit past 2^128-1 overflows",
			account: func(*testing.T) *Account { return newAccount(alice, KindConsumer, maxMinus(1), Amount{}) },
			command: credit(NewAmount(2)), now: now0, wantErr: ErrOverflow,
		},
		{
			name:    "credit of one unit to an account at 2^128-1 overflows",
			account: func(*testing.T) *Account { return newAccount(alice, KindConsumer, MaxAmount(), Amount{}) },
			command: credit(NewAmount(1)), now: now0, wantErr: ErrOverflow,
		},
	})
}

func TestDecideChargeForbidsOverdraftExceptForTheChainAccount(t *testing.T) {
	charge := func(from AccountID, amount Amount, feeBps uint32) Command {
		return Command{Type: CommandCharge, ID: "k1", Ledger: testLedger, From: from, To: bob, Fees: testFees, Amount: amount, FeeBps: feeBps}
	}
	charged := func(from AccountID, amount, fee Amount) Event {
		return Event{Type: EventCharged, ID: "k1", Ledger: testLedger, Time: now0, From: from, To: bob, Fees: testFees, Amount: amount, Fee: fee}
	}
	runDecideCases(t, []decideCase{
		{
			name:    "charge of exactly the available amount succeeds",
			account: func(*testing.T) *Account { return funded(1000, 400) },
			command: charge(alice, NewAmount(600), 250), now: now0,
			want: charged(alice, NewAmount(600), NewAmount(15)),
		},
		{
			name:    "charge of one unit more than available fails",
			account: func(*testing.T) *Account { return funded(1000, 400) },
			command: charge(alice, NewAmount(601), 250), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "an empty consumer cannot pay one unit",
			account: func(*testing.T) *Account { return funded(0, 0) },
			command: charge(alice, NewAmount(1), 0), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "pending holds reduce available: one unit over the rest fails",
			account: withHold, // 1000 credited, 600 held
			command: charge(alice, NewAmount(401), 0), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "pending holds reduce available: exactly the rest succeeds",
			account: withHold,
			command: charge(alice, NewAmount(400), 0), now: now0,
			want: charged(alice, NewAmount(400), Amount{}),
		},
		{
			name:    "a supplier may not overdraw",
			account: func(*testing.T) *Account { return newAccount("sue", KindSupplier, NewAmount(5), Amount{}) },
			command: charge("sue", NewAmount(6), 0), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "a supplier may spend all it earned",
			account: func(*testing.T) *Account { return newAccount("sue", KindSupplier, NewAmount(5), Amount{}) },
			command: charge("sue", NewAmount(5), 0), now: now0,
			want: charged("sue", NewAmount(5), Amount{}),
		},
		{
			name:    "the fees account may not overdraw",
			account: func(*testing.T) *Account { return newAccount(testFees, KindFees, NewAmount(5), Amount{}) },
			command: charge(testFees, NewAmount(6), 0), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "the chain account may overdraw",
			account: func(*testing.T) *Account { return newAccount(testChain, KindChain, Amount{}, Amount{}) },
			command: charge(testChain, NewAmount(1_000_000), 0), now: now0,
			want: charged(testChain, NewAmount(1_000_000), Amount{}),
		},
		{
			name:    "zero amount is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: charge(alice, Amount{}, 0), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "an account cannot pay itself",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: Command{Type: CommandCharge, ID: "k1", Ledger: testLedger, From: alice, To: alice, Fees: testFees, Amount: NewAmount(1)},
			now:     now0, wantErr: ErrInvalid,
		},
		{
			name:    "fee above 10000 basis points is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: charge(alice, NewAmount(100), BasisPointsMax+1), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "fee of 10000 basis points takes the whole amount",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: charge(alice, NewAmount(100), BasisPointsMax), now: now0,
			want: charged(alice, NewAmount(100), NewAmount(100)),
		},
		{
			name:    "fee rounds down: 1% of 999 is 9",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: charge(alice, NewAmount(999), 100), now: now0,
			want: charged(alice, NewAmount(999), NewAmount(9)),
		},
		{
			name:    "fee rounds down to zero: 1 bp of 9999 is 0",
			account: func(*testing.T) *Account { return funded(10000, 0) },
			command: charge(alice, NewAmount(9999), 1), now: now0,
			want: charged(alice, NewAmount(9999), Amount{}),
		},
		{
			name: "a consumer near 2^128-1 may spend up to exactly the maximum",
			account: func(*testing.T) *Account {
				return newAccount(alice, KindConsumer, MaxAmount(), maxMinus(600))
			},
			command: charge(alice, NewAmount(600), 0), now: now0,
			want: charged(alice, NewAmount(600), Amount{}),
		},
		{
			name: "a consumer near 2^128-1 gets insufficient funds, not overflow, one unit past",
			account: func(*testing.T) *Account {
				return newAccount(alice, KindConsumer, MaxAmount(), maxMinus(600))
			},
			command: charge(alice, NewAmount(601), 0), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "debits posted of the chain account up to exactly 2^128-1 fit",
			account: func(*testing.T) *Account { return newAccount(testChain, KindChain, Amount{}, maxMinus(1)) },
			command: charge(testChain, NewAmount(1), 0), now: now0,
			want: charged(testChain, NewAmount(1), Amount{}),
		},
		{
			name:    "debits posted of the chain account past 2^128-1 overflow",
			account: func(*testing.T) *Account { return newAccount(testChain, KindChain, Amount{}, maxMinus(1)) },
			command: charge(testChain, NewAmount(2), 0), now: now0, wantErr: ErrOverflow,
		},
	})
}

func TestDecideHoldReservesWithinAvailableForABoundedTimeout(t *testing.T) {
	held := func(amount uint64, feeBps uint32, timeout int64) Event {
		return Event{Type: EventHeld, ID: "h2", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(amount), FeeBps: feeBps, Timeout: timeout, Deadline: now0 + timeout}
	}
	chainWithPending := func(pending Amount) func(*testing.T) *Account {
		return func(*testing.T) *Account {
			a := newAccount(testChain, KindChain, Amount{}, Amount{})
			a.DebitsPending = pending
			return a
		}
	}
	runDecideCases(t, []decideCase{
		{
			name:    "hold of exactly the available amount succeeds and locks the fee rate",
			account: func(*testing.T) *Account { return funded(1000, 400) },
			command: holdCommand(funded(0, 0), "h2", 600, 250, 1e9), now: now0,
			want: held(600, 250, 1e9),
		},
		{
			name:    "hold of one unit more than available fails",
			account: func(*testing.T) *Account { return funded(1000, 400) },
			command: holdCommand(funded(0, 0), "h2", 601, 250, 1e9), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "earlier holds reduce available: exactly the rest succeeds",
			account: withHold, // 1000 credited, 600 held
			command: holdCommand(funded(0, 0), "h2", 400, 0, 1e9), now: now0,
			want: held(400, 0, 1e9),
		},
		{
			name:    "earlier holds reduce available: one unit over the rest fails",
			account: withHold,
			command: holdCommand(funded(0, 0), "h2", 401, 0, 1e9), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "timeout of one nanosecond is the shortest",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 1, 0, 1), now: now0,
			want: held(1, 0, 1),
		},
		{
			name:    "timeout of HoldTimeoutMax is the longest",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 1, 0, HoldTimeoutMax), now: now0,
			want: held(1, 0, HoldTimeoutMax),
		},
		{
			name:    "timeout above HoldTimeoutMax is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 1, 0, HoldTimeoutMax+1), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "zero timeout is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 1, 0, 0), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "negative timeout is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 1, 0, -1), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "zero amount is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 0, 0, 1e9), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "fee above 10000 basis points is invalid",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: holdCommand(funded(0, 0), "h2", 10, BasisPointsMax+1, 1e9), now: now0, wantErr: ErrInvalid,
		},
		{
			name:    "an account cannot hold for itself",
			account: func(*testing.T) *Account { return funded(1000, 0) },
			command: Command{Type: CommandHold, ID: "h2", Ledger: testLedger, From: alice, To: alice, Fees: testFees, Amount: NewAmount(1), Timeout: 1e9},
			now:     now0, wantErr: ErrInvalid,
		},
		{
			name:    "a supplier may not hold more than it has",
			account: func(*testing.T) *Account { return newAccount("sue", KindSupplier, NewAmount(5), Amount{}) },
			command: Command{Type: CommandHold, ID: "h2", Ledger: testLedger, From: "sue", To: bob, Fees: testFees, Amount: NewAmount(6), Timeout: 1e9},
			now:     now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "pending debits of the chain account up to exactly 2^128-1 fit",
			account: chainWithPending(maxMinus(1)),
			command: Command{Type: CommandHold, ID: "h2", Ledger: testLedger, From: testChain, To: bob, Fees: testFees, Amount: NewAmount(1), Timeout: 1e9},
			now:     now0,
			want: Event{Type: EventHeld, ID: "h2", Ledger: testLedger, Time: now0, From: testChain, To: bob, Fees: testFees,
				Amount: NewAmount(1), Timeout: 1e9, Deadline: now0 + 1e9},
		},
		{
			name:    "pending debits of the chain account past 2^128-1 overflow",
			account: chainWithPending(maxMinus(1)),
			command: Command{Type: CommandHold, ID: "h2", Ledger: testLedger, From: testChain, To: bob, Fees: testFees, Amount: NewAmount(2), Timeout: 1e9},
			now:     now0, wantErr: ErrOverflow,
		},
	})
}

func TestDecideCapturePostsAtMostTheHeldAmountOfAnOpenHold(t *testing.T) {
	capture := func(id TransferID, amount uint64) Command {
		return Command{Type: CommandCapture, ID: id, From: alice, Amount: NewAmount(amount)}
	}
	captured := func(amount, fee uint64) Event {
		return Event{Type: EventCaptured, ID: "h1", Ledger: testLedger, Time: now0 + 5, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(600), Captured: NewAmount(amount), Fee: NewAmount(fee), FeeBps: 250, Timeout: 1e9, Deadline: now0 + 1e9}
	}
	closed := func(close Command) func(t *testing.T) *Account {
		return func(t *testing.T) *Account {
			a := withHold(t)
			mustDecide(t, a, close, now0+1)
			return a
		}
	}
	chainHolding := func(t *testing.T) *Account {
		a := newAccount(testChain, KindChain, Amount{}, maxMinus(5))
		mustDecide(t, a, Command{Type: CommandHold, ID: "h1", Ledger: testLedger, From: testChain, To: bob, Fees: testFees,
			Amount: NewAmount(10), Timeout: 1e9}, now0)
		return a
	}
	runDecideCases(t, []decideCase{
		{
			name: "full capture posts the held amount with the locked fee", account: withHold,
			command: capture("h1", 600), now: now0 + 5, want: captured(600, 15),
		},
		{
			name: "partial capture posts part, fee of the part rounded down", account: withHold,
			command: capture("h1", 101), now: now0 + 5, want: captured(101, 2), // 2.525
		},
		{
			name: "capture of one unit", account: withHold,
			command: capture("h1", 1), now: now0 + 5, want: captured(1, 0),
		},
		{
			name: "capture above the held amount is invalid", account: withHold,
			command: capture("h1", 601), now: now0 + 5, wantErr: ErrInvalid,
		},
		{
			name: "capture of zero is invalid", account: withHold,
			command: capture("h1", 0), now: now0 + 5, wantErr: ErrInvalid,
		},
		{
			name: "capture of an unknown hold is an invalid state", account: withHold,
			command: capture("h9", 1), now: now0 + 5, wantErr: ErrInvalidState,
		},
		{
			name: "capture of a captured hold is an invalid state", account: closed(capture("h1", 600)),
			command: capture("h1", 600), now: now0 + 5, wantErr: ErrInvalidState,
		},
		{
			name: "capture of a voided hold is an invalid state", account: closed(Command{Type: CommandVoid, ID: "h1", From: alice}),
			command: capture("h1", 600), now: now0 + 5, wantErr: ErrInvalidState,
		},
		{
			name: "debits posted of the chain account up to exactly 2^128-1 fit", account: chainHolding,
			command: Command{Type: CommandCapture, ID: "h1", From: testChain, Amount: NewAmount(5)}, now: now0 + 5,
			want: Event{Type: EventCaptured, ID: "h1", Ledger: testLedger, Time: now0 + 5, From: testChain, To: bob, Fees: testFees,
				Amount: NewAmount(10), Captured: NewAmount(5), Timeout: 1e9, Deadline: now0 + 1e9},
		},
		{
			name: "debits posted of the chain account past 2^128-1 overflow", account: chainHolding,
			command: Command{Type: CommandCapture, ID: "h1", From: testChain, Amount: NewAmount(6)}, now: now0 + 5, wantErr: ErrOverflow,
		},
	})
}

func TestDecideVoidReleasesOnlyAnOpenHold(t *testing.T) {
	void := func(id TransferID) Command { return Command{Type: CommandVoid, ID: id, From: alice} }
	closed := func(close Command) func(t *testing.T) *Account {
		return func(t *testing.T) *Account {
			a := withHold(t)
			mustDecide(t, a, close, now0+1)
			return a
		}
	}
	runDecideCases(t, []decideCase{
		{
			name: "void of an open hold releases the whole held amount", account: withHold,
			command: void("h1"), now: now0 + 7,
			want: Event{Type: EventVoided, ID: "h1", Ledger: testLedger, Time: now0 + 7, From: alice, To: bob, Fees: testFees,
				Amount: NewAmount(600), FeeBps: 250, Timeout: 1e9, Deadline: now0 + 1e9},
		},
		{
			name: "void of an unknown hold is an invalid state", account: withHold,
			command: void("h9"), now: now0 + 7, wantErr: ErrInvalidState,
		},
		{
			name: "void of a voided hold is an invalid state", account: closed(void("h1")),
			command: void("h1"), now: now0 + 7, wantErr: ErrInvalidState,
		},
		{
			name: "void of a captured hold is an invalid state", account: closed(Command{Type: CommandCapture, ID: "h1", From: alice, Amount: NewAmount(1)}),
			command: void("h1"), now: now0 + 7, wantErr: ErrInvalidState,
		},
	})
}

func TestDecideRejectsUnknownCommandTypes(t *testing.T) {
	for _, typ := range []CommandType{0, CommandVoid + 1, 255} {
		a := funded(1000, 0)
		c := Command{Type: typ, ID: "x", From: alice, To: bob, Amount: NewAmount(1)}
		if got, err := Decide(a, &c, now0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s(%+v) = %+v, %v, want error %v", commandName(typ), c, got, err, ErrInvalid)
		}
	}
}

func TestDecidePanicsWhenAskedOfAnAccountThatDoesNotDecide(t *testing.T) {
	tests := []Command{
		{Type: CommandCharge, ID: "k", From: bob, To: alice, Amount: NewAmount(1)},
		{Type: CommandCredit, ID: "c", From: testChain, To: bob, Amount: NewAmount(1)},
		{Type: CommandCredit, ID: "c", From: alice, To: bob, Amount: NewAmount(1)}, // a credit is decided by the funded account
	}
	for _, c := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s(%+v) on %q did not panic, want an assertion failure", commandName(c.Type), c, alice)
				}
			}()
			Decide(funded(1000, 0), &c, now0)
		}()
	}
}

// balances is an account's four counters in base units, for exact checks.
type balances struct{ debitsPosted, creditsPosted, debitsPending, creditsPending uint64 }

func balancesOf(t *testing.T, a *Account) balances {
	t.Helper()
	var b balances
	for _, p := range []struct {
		dst *uint64
		src Amount
	}{{&b.debitsPosted, a.DebitsPosted}, {&b.creditsPosted, a.CreditsPosted}, {&b.debitsPending, a.DebitsPending}, {&b.creditsPending, a.CreditsPending}} {
		hi, lo := p.src.Parts()
		if hi != 0 {
			t.Fatalf("account %q: counter %v does not fit 64 bits", a.ID, p.src)
		}
		*p.dst = lo
	}
	return b
}

// newTestBook returns a tracking book with alice (consumer) and bob
// (supplier) in testLedger, carol (consumer) in liveLedger, and alice
// credited with credit base units.
func newTestBook(t *testing.T, credit uint64) *Book {
	t.Helper()
	b := NewBook(true)
	for _, open := range []struct {
		id     AccountID
		ledger LedgerID
		kind   Kind
	}{{alice, testLedger, KindConsumer}, {bob, testLedger, KindSupplier}, {carol, liveLedger, KindConsumer}} {
		events, err := OpenAccount(b, open.id, open.ledger, open.kind, now0)
		if err != nil {
			t.Fatalf("OpenAccount(%q) = %v, want success", open.id, err)
		}
		for i := range events {
			b.Apply(&events[i])
		}
	}
	if credit > 0 {
		mustExecute(t, b, Command{Type: CommandCredit, ID: "fund-alice", To: alice, Amount: NewAmount(credit)}, now0)
	}
	return b
}

func mustExecute(t *testing.T, b *Book, c Command, now int64) Event {
	t.Helper()
	_, e, err := b.Execute(&c, now)
	if err != nil {
		t.Fatalf("%s(%+v) = %v, want success", commandName(c.Type), c, err)
	}
	return e
}

func TestCloseOfAHoldMovesExactBalancesBetweenPayerPayeeAndFees(t *testing.T) {
	const credit, heldAmount, feeBps = 10_000, 6_000, 250
	tests := []struct {
		name                      string
		close                     *Command // nil: let the hold expire
		alice, bob, fees, chain   balances
		aliceAvailable, aliceHeld uint64
	}{
		{
			name:  "full capture posts everything, fee to the fees account",
			close: &Command{Type: CommandCapture, ID: "h", Amount: NewAmount(heldAmount)},
			alice: balances{debitsPosted: 6000, creditsPosted: 10000}, bob: balances{creditsPosted: 5850},
			fees: balances{creditsPosted: 150}, chain: balances{debitsPosted: 10000}, aliceAvailable: 4000,
		},
		{
			name:  "partial capture posts the part and releases the rest",
			close: &Command{Type: CommandCapture, ID: "h", Amount: NewAmount(2001)},
			alice: balances{debitsPosted: 2001, creditsPosted: 10000}, bob: balances{creditsPosted: 1951},
			fees: balances{creditsPosted: 50}, chain: balances{debitsPosted: 10000}, aliceAvailable: 7999, // fee 50.025
		},
		{
			name:  "void releases everything",
			close: &Command{Type: CommandVoid, ID: "h"},
			alice: balances{creditsPosted: 10000}, chain: balances{debitsPosted: 10000}, aliceAvailable: 10000,
		},
		{
			name:  "expiry releases everything",
			alice: balances{creditsPosted: 10000}, chain: balances{debitsPosted: 10000}, aliceAvailable: 10000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBook(t, credit)
			mustExecute(t, b, Command{Type: CommandHold, ID: "h", From: alice, To: bob, Amount: NewAmount(heldAmount), FeeBps: feeBps, Timeout: 1e9}, now0)
			if got, want := balancesOf(t, b.Account(alice)), (balances{creditsPosted: 10000, debitsPending: 6000}); got != want {
				t.Fatalf("Hold(6000): alice = %+v, want %+v", got, want)
			}
			if got, want := balancesOf(t, b.Account(bob)), (balances{creditsPending: 6000}); got != want {
				t.Fatalf("Hold(6000): bob = %+v, want %+v", got, want)
			}
			if tt.close != nil {
				mustExecute(t, b, *tt.close, now0+1)
			} else {
				// Any command of alice's at the deadline expires the hold first.
				mustExecute(t, b, Command{Type: CommandCredit, ID: "tick", To: alice, Amount: NewAmount(1)}, now0+1e9)
				tt.alice.creditsPosted++
				tt.chain.debitsPosted++
				tt.aliceAvailable++
			}
			for _, check := range []struct {
				id   AccountID
				want balances
			}{{alice, tt.alice}, {bob, tt.bob}, {testFees, tt.fees}, {testChain, tt.chain}} {
				if got := balancesOf(t, b.Account(check.id)); got != check.want {
					t.Errorf("%s: %s = %+v, want %+v", tt.name, check.id, got, check.want)
				}
			}
			if got := b.Account(alice).Available(); got != NewAmount(tt.aliceAvailable) {
				t.Errorf("%s: Available(alice) = %v, want %v", tt.name, got, tt.aliceAvailable)
			}
			if got := b.Account(alice).Holds(); len(got) != 0 {
				t.Errorf("%s: Holds(alice) = %v, want none", tt.name, got)
			}
			if err := b.Check(); err != nil {
				t.Errorf("%s: Check() = %v, want nil", tt.name, err)
			}
		})
	}
}

func TestAHoldIsOpenStrictlyBeforeItsDeadline(t *testing.T) {
	const timeout = 1000
	deadline := now0 + timeout
	tests := []struct {
		name        string
		close       Command
		at          int64
		wantErr     error
		wantExpired bool
	}{
		{"capture one nanosecond before the deadline", Command{Type: CommandCapture, ID: "h", Amount: NewAmount(10)}, deadline - 1, nil, false},
		{"void one nanosecond before the deadline", Command{Type: CommandVoid, ID: "h"}, deadline - 1, nil, false},
		{"capture at the deadline", Command{Type: CommandCapture, ID: "h", Amount: NewAmount(10)}, deadline, ErrInvalidState, true},
		{"void at the deadline", Command{Type: CommandVoid, ID: "h"}, deadline, ErrInvalidState, true},
		{"capture after the deadline", Command{Type: CommandCapture, ID: "h", Amount: NewAmount(10)}, deadline + 1, ErrInvalidState, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBook(t, 100)
			mustExecute(t, b, Command{Type: CommandHold, ID: "h", From: alice, To: bob, Amount: NewAmount(10), Timeout: timeout}, now0)
			c := tt.close
			applied, _, err := b.Execute(&c, tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s(%+v) at deadline%+d = %v, want %v", commandName(c.Type), tt.close, tt.at-deadline, err, tt.wantErr)
			}
			expired := len(applied) > 0 && applied[0].Type == EventExpired
			if expired != tt.wantExpired {
				t.Errorf("%s(%+v) at deadline%+d applied %+v, want expiry %v", commandName(c.Type), tt.close, tt.at-deadline, applied, tt.wantExpired)
			}
			if tt.wantExpired {
				if last, _ := b.Transfer("h"); last.Type != EventExpired || last.Time != tt.at {
					t.Errorf("Transfer(h) = %+v, want an expiry at %d", last, tt.at)
				}
			}
			if err := b.Check(); err != nil {
				t.Errorf("Check() = %v, want nil", err)
			}
		})
	}
}

func TestExpireDueExpiresHoldsAtOrBeforeNowByDeadlineThenID(t *testing.T) {
	// Holds placed in an order unrelated to their deadlines and ids.
	placements := []placement{
		{"h-b", 5, 15, 2, 20},
		{"h-d", 0, 30, 4, 30},
		{"h-a", 10, 10, 1, 20},
		{"h-c", 1, 9, 3, 10},
		{"h-0", 19, 1, 5, 20},
	}
	build := func(t *testing.T) *Account {
		a := funded(1000, 0)
		for _, p := range placements {
			mustDecide(t, a, holdCommand(a, p.id, p.amount, 7, p.timeout), now0+p.at)
		}
		return a
	}
	tests := []struct {
		now  int64
		want []TransferID
	}{
		{9, nil},
		{10, []TransferID{"h-c"}},
		{19, []TransferID{"h-c"}},
		{20, []TransferID{"h-c", "h-0", "h-a", "h-b"}},
		{29, []TransferID{"h-c", "h-0", "h-a", "h-b"}},
		{30, []TransferID{"h-c", "h-0", "h-a", "h-b", "h-d"}},
		{1 << 40, []TransferID{"h-c", "h-0", "h-a", "h-b", "h-d"}},
	}
	for _, tt := range tests {
		// Map order is random: repeat so an unsorted result shows.
		for range 20 {
			a := build(t)
			pendingBefore := a.DebitsPending
			got := ExpireDue(a, now0+tt.now)
			var ids []TransferID
			for _, e := range got {
				ids = append(ids, e.ID)
				h := placementOf(e.ID, placements)
				want := Event{Type: EventExpired, ID: e.ID, Ledger: testLedger, Time: now0 + tt.now, From: alice, To: bob, Fees: testFees,
					Amount: NewAmount(h.amount), FeeBps: 7, Timeout: h.timeout, Deadline: now0 + h.deadline}
				if e != want {
					t.Errorf("ExpireDue(now0+%d) event = %+v, want %+v", tt.now, e, want)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Fatalf("ExpireDue(now0+%d) = %v, want %v", tt.now, ids, tt.want)
			}
			if a.DebitsPending != pendingBefore || len(a.Holds()) != len(placements) {
				t.Fatalf("ExpireDue(now0+%d) changed the account, want it pure", tt.now)
			}
		}
	}
}

// placement is a hold placed at now0+at for timeout, expiring at now0+deadline.
type placement struct {
	id       TransferID
	at       int64
	timeout  int64
	amount   uint64
	deadline int64
}

func placementOf(id TransferID, placements []placement) placement {
	for _, p := range placements {
		if p.id == id {
			return p
		}
	}
	panic("no placement " + string(id))
}

func TestHoldsAreListedByDeadlineThenIDAndNextDeadlineIsTheEarliest(t *testing.T) {
	a := funded(1000, 0)
	if _, ok := a.NextDeadline(); ok {
		t.Errorf("NextDeadline() of an account without holds = _, true, want false")
	}
	mustDecide(t, a, holdCommand(a, "z", 1, 0, 50), now0)
	mustDecide(t, a, holdCommand(a, "y", 1, 0, 50), now0)
	mustDecide(t, a, holdCommand(a, "x", 1, 0, 70), now0)
	mustDecide(t, a, holdCommand(a, "w", 1, 0, 60), now0)
	var ids []TransferID
	for _, h := range a.Holds() {
		ids = append(ids, h.ID)
	}
	if got, want := fmt.Sprint(ids), "[y z w x]"; got != want {
		t.Errorf("Holds() = %v, want %v", got, want)
	}
	if got, ok := a.NextDeadline(); !ok || got != now0+50 {
		t.Errorf("NextDeadline() = %d, %v, want %d, true", got, ok, now0+50)
	}
	if h := a.Hold("w"); h == nil || h.Deadline != now0+60 || h.From != alice || h.Created != now0 {
		t.Errorf("Hold(w) = %+v, want the hold of alice until now0+60", h)
	}
	if h := a.Hold("nope"); h != nil {
		t.Errorf("Hold(nope) = %+v, want nil", h)
	}
	if got := a.Reserved(); got != NewAmount(4) {
		t.Errorf("Reserved() = %v, want 4", got)
	}
}

func TestRecallReplaysTheSameRequestAndRefusesAChangedOne(t *testing.T) {
	credited := Event{Type: EventCredited, ID: "c", Ledger: testLedger, From: testChain, To: alice, Amount: NewAmount(100)}
	charged := Event{Type: EventCharged, ID: "k", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Amount: NewAmount(100), Fee: NewAmount(2)}
	held := Event{Type: EventHeld, ID: "h", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Amount: NewAmount(100), FeeBps: 250, Timeout: 1e9, Deadline: now0 + 1e9}
	closedAs := func(t EventType, captured uint64) Event {
		e := held
		e.Type, e.Captured = t, NewAmount(captured)
		if t == EventCaptured {
			e.Fee = NewAmount(captured).FeeOf(250)
		}
		return e
	}
	captured := closedAs(EventCaptured, 60)
	voided := closedAs(EventVoided, 0)
	expired := closedAs(EventExpired, 0)

	credit := func(to AccountID, amount uint64) Command {
		return Command{Type: CommandCredit, ID: "c", To: to, Amount: NewAmount(amount)}
	}
	charge := func(from, to AccountID, amount uint64) Command {
		return Command{Type: CommandCharge, ID: "k", From: from, To: to, Amount: NewAmount(amount), FeeBps: 250}
	}
	hold := func(from, to AccountID, amount uint64, timeout int64) Command {
		return Command{Type: CommandHold, ID: "h", From: from, To: to, Amount: NewAmount(amount), FeeBps: 250, Timeout: timeout}
	}
	capture := func(amount uint64) Command { return Command{Type: CommandCapture, ID: "h", Amount: NewAmount(amount)} }
	void := Command{Type: CommandVoid, ID: "h"}

	tests := []struct {
		name    string
		last    Event
		command Command
		want    Outcome
		wantErr error
	}{
		{"credit with the same content replays", credited, credit(alice, 100), OutcomeReplay, nil},
		{"credit of another amount conflicts", credited, credit(alice, 101), 0, ErrIdempotencyConflict},
		{"credit to another account conflicts", credited, credit(bob, 100), 0, ErrIdempotencyConflict},
		{"credit reusing a charge's id conflicts", charged, Command{Type: CommandCredit, ID: "k", To: bob, Amount: NewAmount(100)}, 0, ErrIdempotencyConflict},

		{"charge with the same content replays", charged, charge(alice, bob, 100), OutcomeReplay, nil},
		{"charge of another amount conflicts", charged, charge(alice, bob, 99), 0, ErrIdempotencyConflict},
		{"charge to another payee conflicts", charged, charge(alice, carol, 100), 0, ErrIdempotencyConflict},
		{"charge from another payer conflicts", charged, charge(carol, bob, 100), 0, ErrIdempotencyConflict},
		{"charge reusing a hold's id conflicts", held, charge(alice, bob, 100), 0, ErrIdempotencyConflict},
		{"charge reusing a credit's id conflicts", credited, Command{Type: CommandCharge, ID: "c", From: testChain, To: alice, Amount: NewAmount(100)}, 0, ErrIdempotencyConflict},

		{"hold with the same content replays while open", held, hold(alice, bob, 100, 1e9), OutcomeReplay, nil},
		{"hold with the same content replays after capture", captured, hold(alice, bob, 100, 1e9), OutcomeReplay, nil},
		{"hold with the same content replays after void", voided, hold(alice, bob, 100, 1e9), OutcomeReplay, nil},
		{"hold with the same content replays after expiry", expired, hold(alice, bob, 100, 1e9), OutcomeReplay, nil},
		{"hold of another amount conflicts", held, hold(alice, bob, 101, 1e9), 0, ErrIdempotencyConflict},
		{"hold with another timeout conflicts", held, hold(alice, bob, 100, 2e9), 0, ErrIdempotencyConflict},
		{"hold for another payee conflicts", captured, hold(alice, carol, 100, 1e9), 0, ErrIdempotencyConflict},
		{"hold from another payer conflicts", expired, hold(carol, bob, 100, 1e9), 0, ErrIdempotencyConflict},
		{"hold reusing a charge's id conflicts", charged, Command{Type: CommandHold, ID: "k", From: alice, To: bob, Amount: NewAmount(100), Timeout: 1e9}, 0, ErrIdempotencyConflict},

		{"capture of a held hold proceeds", held, capture(60), OutcomeProceed, nil},
		{"void of a held hold proceeds", held, void, OutcomeProceed, nil},
		{"capture repeated with the same amount replays", captured, capture(60), OutcomeReplay, nil},
		{"capture repeated with another amount is an invalid state", captured, capture(61), 0, ErrInvalidState},
		{"void after capture is an invalid state", captured, void, 0, ErrInvalidState},
		{"void after void replays", voided, void, OutcomeReplay, nil},
		{"capture after void is an invalid state", voided, capture(60), 0, ErrInvalidState},
		{"capture after expiry is an invalid state", expired, capture(60), 0, ErrInvalidState},
		{"void after expiry is an invalid state", expired, void, 0, ErrInvalidState},
		{"capture of a charge's id is not found", charged, Command{Type: CommandCapture, ID: "k", Amount: NewAmount(1)}, 0, ErrNotFound},
		{"void of a credit's id is not found", credited, Command{Type: CommandVoid, ID: "c"}, 0, ErrNotFound},

		{"unknown command type is invalid", held, Command{Type: 0, ID: "h"}, 0, ErrInvalid},
	}
	for _, tt := range tests {
		last := tt.last
		got, err := Recall(&last, &tt.command)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: Recall(%v, %+v) = %v, %v, want error %v", tt.name, tt.last.Type, tt.command, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: Recall(%v, %+v) = %v, %v, want %v", tt.name, tt.last.Type, tt.command, got, err, tt.want)
		}
	}
}

func TestResolveAdmitsOnlyDistinctUserAccountsOfOneLedger(t *testing.T) {
	b := newTestBook(t, 0)
	liveFees := FeesAccountID(liveLedger)
	tests := []struct {
		name    string
		command Command
		want    Command
		wantErr error
	}{
		{
			name:    "credit is funded from its ledger's chain account",
			command: Command{Type: CommandCredit, ID: "c", To: alice, Amount: NewAmount(1), From: "mallory"},
			want:    Command{Type: CommandCredit, ID: "c", To: alice, Amount: NewAmount(1), From: testChain, Ledger: testLedger},
		},
		{
			name:    "credit of another ledger is funded from that ledger's chain account",
			command: Command{Type: CommandCredit, ID: "c", To: carol, Amount: NewAmount(1)},
			want:    Command{Type: CommandCredit, ID: "c", To: carol, Amount: NewAmount(1), From: ChainAccountID(liveLedger), Ledger: liveLedger},
		},
		{name: "credit to an unknown account is not found", command: Command{Type: CommandCredit, To: "nobody"}, wantErr: ErrNotFound},
		{name: "credit to the fees account is invalid", command: Command{Type: CommandCredit, To: testFees}, wantErr: ErrInvalid},
		{name: "credit to the chain account is invalid", command: Command{Type: CommandCredit, To: testChain}, wantErr: ErrInvalid},
		{
			name:    "charge between user accounts of one ledger names the ledger's fees account",
			command: Command{Type: CommandCharge, From: alice, To: bob, Fees: liveFees},
			want:    Command{Type: CommandCharge, From: alice, To: bob, Fees: testFees, Ledger: testLedger},
		},
		{
			name:    "a supplier may pay a consumer",
			command: Command{Type: CommandHold, From: bob, To: alice},
			want:    Command{Type: CommandHold, From: bob, To: alice, Fees: testFees, Ledger: testLedger},
		},
		{name: "charge from an unknown payer is not found", command: Command{Type: CommandCharge, From: "nobody", To: bob}, wantErr: ErrNotFound},
		{name: "charge to an unknown payee is not found", command: Command{Type: CommandCharge, From: alice, To: "nobody"}, wantErr: ErrNotFound},
		{name: "charge across ledgers is a mismatch", command: Command{Type: CommandCharge, From: alice, To: carol}, wantErr: ErrLedgerMismatch},
		{name: "hold across ledgers is a mismatch", command: Command{Type: CommandHold, From: carol, To: bob}, wantErr: ErrLedgerMismatch},
		{name: "charge to oneself is invalid", command: Command{Type: CommandCharge, From: alice, To: alice}, wantErr: ErrInvalid},
		{name: "hold for oneself is invalid", command: Command{Type: CommandHold, From: bob, To: bob}, wantErr: ErrInvalid},
		{name: "the fees account cannot pay", command: Command{Type: CommandCharge, From: testFees, To: bob}, wantErr: ErrInvalid},
		{name: "the chain account cannot pay", command: Command{Type: CommandCharge, From: testChain, To: bob}, wantErr: ErrInvalid},
		{name: "the fees account cannot be paid", command: Command{Type: CommandCharge, From: alice, To: testFees}, wantErr: ErrInvalid},
		{name: "the chain account cannot be paid", command: Command{Type: CommandHold, From: alice, To: testChain}, wantErr: ErrInvalid},
		{name: "capture names only the hold", command: Command{Type: CommandCapture, ID: "h", From: "anything"}, want: Command{Type: CommandCapture, ID: "h", From: "anything"}},
		{name: "void names only the hold", command: Command{Type: CommandVoid, ID: "h"}, want: Command{Type: CommandVoid, ID: "h"}},
	}
	for _, tt := range tests {
		got := tt.command
		err := Resolve(b, &got)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: Resolve(%+v) = %v, want error %v", tt.name, tt.command, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: Resolve(%+v) = %+v, %v, want %+v", tt.name, tt.command, got, err, tt.want)
		}
	}
}

func TestOpenAccountCreatesTheLedgersSystemAccountsOnceAndRefusesBadOrTakenIDs(t *testing.T) {
	b := newTestBook(t, 0) // alice, bob in testLedger; carol in liveLedger
	created := func(id AccountID, ledger LedgerID, kind Kind) Event {
		return Event{Type: EventAccountCreated, Ledger: ledger, Time: now0 + 1, Account: id, Kind: kind}
	}
	const newLedger LedgerID = "test:EURC"
	tests := []struct {
		name    string
		id      AccountID
		ledger  LedgerID
		kind    Kind
		want    []Event
		wantErr error
	}{
		{
			name: "first account of a new ledger brings its fees and chain accounts",
			id:   "dave", ledger: newLedger, kind: KindConsumer,
			want: []Event{
				created(FeesAccountID(newLedger), newLedger, KindFees),
				created(ChainAccountID(newLedger), newLedger, KindChain),
				created("dave", newLedger, KindConsumer),
			},
		},
		{
			name: "account of a known ledger comes alone",
			id:   "erin", ledger: testLedger, kind: KindSupplier,
			want: []Event{created("erin", testLedger, KindSupplier)},
		},
		{
			name: "id of the maximum length is accepted",
			id:   AccountID(strings.Repeat("a", AccountIDBytesMax)), ledger: testLedger, kind: KindConsumer,
			want: []Event{created(AccountID(strings.Repeat("a", AccountIDBytesMax)), testLedger, KindConsumer)},
		},
		{name: "id above the maximum length is invalid", id: AccountID(strings.Repeat("a", AccountIDBytesMax+1)), ledger: testLedger, kind: KindConsumer, wantErr: ErrInvalid},
		{name: "empty id is invalid", id: "", ledger: testLedger, kind: KindConsumer, wantErr: ErrInvalid},
		{name: "id with the system prefix is invalid", id: "$fees:x", ledger: testLedger, kind: KindConsumer, wantErr: ErrInvalid},
		{name: "id with a space is invalid", id: "a b", ledger: testLedger, kind: KindConsumer, wantErr: ErrInvalid},
		{name: "id with a control byte is invalid", id: "a\nb", ledger: testLedger, kind: KindConsumer, wantErr: ErrInvalid},
		{name: "id with a non-ASCII byte is invalid", id: "zoë", ledger: testLedger, kind: KindConsumer, wantErr: ErrInvalid},
		{name: "empty ledger is invalid", id: "frank", ledger: "", kind: KindConsumer, wantErr: ErrInvalid},
		{name: "ledger above the maximum length is invalid", id: "frank", ledger: LedgerID(strings.Repeat("l", LedgerIDBytesMax+1)), kind: KindConsumer, wantErr: ErrInvalid},
		{name: "a fees account cannot be opened", id: "frank", ledger: testLedger, kind: KindFees, wantErr: ErrInvalid},
		{name: "a chain account cannot be opened", id: "frank", ledger: testLedger, kind: KindChain, wantErr: ErrInvalid},
		{name: "an unknown kind cannot be opened", id: "frank", ledger: testLedger, kind: kindCount, wantErr: ErrInvalid},
		{name: "a taken id in the same ledger already exists", id: alice, ledger: testLedger, kind: KindConsumer, wantErr: ErrAlreadyExists},
		{name: "a taken id in another ledger already exists", id: alice, ledger: liveLedger, kind: KindConsumer, wantErr: ErrAlreadyExists},
		{name: "a taken id of another kind already exists", id: bob, ledger: testLedger, kind: KindConsumer, wantErr: ErrAlreadyExists},
	}
	for _, tt := range tests {
		got, err := OpenAccount(b, tt.id, tt.ledger, tt.kind, now0+1)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || got != nil {
				t.Errorf("%s: OpenAccount(%q, %q, %v) = %+v, %v, want error %v", tt.name, tt.id, tt.ledger, tt.kind, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: OpenAccount(%q, %q, %v) = %+v, %v, want %+v", tt.name, tt.id, tt.ledger, tt.kind, got, err, tt.want)
		}
	}
}

func TestKindsThatMayOverdrawAndThatAreSystem(t *testing.T) {
	tests := []struct {
		kind                Kind
		name                string
		mayOverdraw, system bool
	}{
		{KindConsumer, "consumer", false, false},
		{KindSupplier, "supplier", false, false},
		{KindFees, "fees", false, true},
		{KindChain, "chain", true, true},
		{kindCount, "unknown", false, false},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.name {
			t.Errorf("Kind(%d).String() = %q, want %q", tt.kind, got, tt.name)
		}
		if got := tt.kind.MayOverdraw(); got != tt.mayOverdraw {
			t.Errorf("MayOverdraw(%v) = %v, want %v", tt.kind, got, tt.mayOverdraw)
		}
		if got := tt.kind.IsSystem(); got != tt.system {
			t.Errorf("IsSystem(%v) = %v, want %v", tt.kind, got, tt.system)
		}
	}
}

func TestAvailableIsCreditsPostedMinusAllDebitsAndZeroWhenOverdrawn(t *testing.T) {
	tests := []struct {
		credits, debits, pending uint64
		kind                     Kind
		want                     uint64
	}{
		{1000, 0, 0, KindConsumer, 1000},
		{1000, 400, 0, KindConsumer, 600},
		{1000, 400, 600, KindConsumer, 0},
		{1000, 400, 100, KindConsumer, 500},
		{0, 500, 0, KindChain, 0},
		{10, 500, 20, KindChain, 0},
	}
	for _, tt := range tests {
		a := &Account{ID: "x", Kind: tt.kind, CreditsPosted: NewAmount(tt.credits), DebitsPosted: NewAmount(tt.debits), DebitsPending: NewAmount(tt.pending)}
		if got := a.Available(); got != NewAmount(tt.want) {
			t.Errorf("Available(%+v) = %v, want %v", tt, got, tt.want)
		}
	}
}
