package ledger

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// withHolds returns alice funded with 1,000,000 and holding n holds of 1
// for bob, each with a memo of memoBytes bytes.
func withHolds(n, memoBytes int) func(*testing.T) *Account {
	return func(*testing.T) *Account {
		a := funded(1_000_000, 0)
		for i := range n {
			e := Event{Type: EventHeld, ID: TransferID(fmt.Sprintf("held-%d", i)), Ledger: testLedger, Time: now0,
				From: alice, To: bob, Fees: testFees, Amount: NewAmount(1), Timeout: 1e9, Deadline: now0 + 1e9,
				Memo: strings.Repeat("m", memoBytes)}
			a.Apply(&e)
		}
		return a
	}
}

// withSpenders returns alice funded with 1,000,000 and charged 1 by each of
// n spenders, "key-0" to "key-<n-1>".
func withSpenders(n int) func(*testing.T) *Account {
	return func(*testing.T) *Account {
		a := funded(1_000_000, 0)
		for i := range n {
			e := Event{Type: EventCharged, ID: TransferID(fmt.Sprintf("c-%d", i)), Ledger: testLedger, Time: now0,
				From: alice, To: bob, Fees: testFees, Amount: NewAmount(1), Spender: SpenderID(fmt.Sprintf("key-%d", i))}
			a.Apply(&e)
		}
		return a
	}
}

func TestDecideRefusesWhatWouldPassAnAccountsLimits(t *testing.T) {
	hold := func(memo string) Command {
		c := holdCommand(funded(0, 0), "h-new", 1, 0, 1e9)
		c.Memo = memo
		return c
	}
	held := func(memo string) Event {
		return Event{Type: EventHeld, ID: "h-new", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(1), Timeout: 1e9, Deadline: now0 + 1e9, Memo: memo}
	}
	charge := func(spender SpenderID) Command {
		return Command{Type: CommandCharge, ID: "c-new", Ledger: testLedger, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(1), Budget: Budget{Spender: spender}}
	}
	charged := func(spender SpenderID) Event {
		return Event{Type: EventCharged, ID: "c-new", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(1), Spender: spender}
	}
	memoFilled := HoldMemoBytesPerAccountMax / MemoBytesMax // holds with full memos that fill the memo budget
	runDecideCases(t, []decideCase{
		{
			name:    "the last open hold an account may have is placed",
			account: withHolds(HoldsPerAccountMax-1, 0), command: hold(""), now: now0, want: held(""),
		},
		{
			name:    "a hold beyond HoldsPerAccountMax open holds is refused",
			account: withHolds(HoldsPerAccountMax, 0), command: hold(""), now: now0, wantErr: ErrLimitExceeded,
		},
		{
			name: "a closed hold makes room for another",
			account: func(t *testing.T) *Account {
				a := withHolds(HoldsPerAccountMax, 0)(t)
				void := closingEvent(EventVoided, testLedger, a.Hold("held-0"), now0)
				a.Apply(&void)
				return a
			},
			command: hold(""), now: now0, want: held(""),
		},
		{
			name:    "a memo that fills the account's memo bytes exactly is kept",
			account: withHolds(memoFilled-1, MemoBytesMax), command: hold(strings.Repeat("x", MemoBytesMax)), now: now0,
			want: held(strings.Repeat("x", MemoBytesMax)),
		},
		{
			name:    "a memo one byte past the account's memo bytes is refused",
			account: withHolds(memoFilled, MemoBytesMax), command: hold("x"), now: now0, wantErr: ErrLimitExceeded,
		},
		{
			name:    "a hold without a memo fits an account whose memo bytes are full",
			account: withHolds(memoFilled, MemoBytesMax), command: hold(""), now: now0, want: held(""),
		},
		{
			name: "an account without funds is told so before its limits",
			account: func(t *testing.T) *Account {
				a := withHolds(HoldsPerAccountMax, 0)(t)
				a.CreditsPosted = NewAmount(HoldsPerAccountMax)
				return a
			},
			command: hold(""), now: now0, wantErr: ErrInsufficientFunds,
		},
		{
			name:    "a spender already counted keeps charging at SpendersPerAccountMax",
			account: withSpenders(SpendersPerAccountMax), command: charge("key-7"), now: now0, want: charged("key-7"),
		},
		{
			name:    "a new spender beyond SpendersPerAccountMax is refused",
			account: withSpenders(SpendersPerAccountMax), command: charge("key-new"), now: now0, wantErr: ErrLimitExceeded,
		},
		{
			name:    "the last new spender an account may have is counted",
			account: withSpenders(SpendersPerAccountMax - 1), command: charge("key-new"), now: now0, want: charged("key-new"),
		},
		{
			name:    "an unbudgeted charge is not limited by spenders",
			account: withSpenders(SpendersPerAccountMax), command: charge(""), now: now0, want: charged(""),
		},
	})
}

// TestTheLargestAccountWithinItsLimitsEncodesWithinAccountRecordBytesMax
// builds the worst account Decide lets grow (every id, amount and time at
// its longest encoding, every limit reached) and checks that the bound the
// engine asserts against a snapshot chunk really bounds it.
func TestTheLargestAccountWithinItsLimitsEncodesWithinAccountRecordBytesMax(t *testing.T) {
	long := func(prefix string, i, size int) string {
		s := fmt.Sprintf("%s%d", prefix, i)
		return s + strings.Repeat("x", size-len(s))
	}
	maxAmount := AmountFromParts(math.MaxUint64, math.MaxUint64)
	a := &Account{ID: AccountID(long("$", 0, systemIDBytesMax)), Ledger: LedgerID(long("l", 0, LedgerIDBytesMax)),
		Kind: KindChain, DebitsPosted: maxAmount, CreditsPosted: maxAmount, DebitsPending: maxAmount, CreditsPending: maxAmount, LowBalance: maxAmount,
		holds: make(map[TransferID]*Hold), spends: make(map[SpenderID]*spending)}
	memo := HoldMemoBytesPerAccountMax / HoldsPerAccountMax
	for i := range HoldsPerAccountMax {
		h := &Hold{ID: TransferID(long("h", i, TransferIDBytesMax)), From: a.ID,
			To: AccountID(long("$to", i, systemIDBytesMax)), Fees: AccountID(long("$fees", i, systemIDBytesMax)),
			Amount: maxAmount, FeeBps: BasisPointsMax, Created: math.MinInt64, Timeout: math.MaxInt64, Deadline: math.MinInt64,
			Spender: SpenderID(long("s", i, SpenderIDBytesMax)), Memo: strings.Repeat("m", memo)}
		a.holds[h.ID] = h
	}
	for i := range SpendersPerAccountMax {
		a.spends[SpenderID(long("s", i, SpenderIDBytesMax))] = &spending{Spend: Spend{Total: maxAmount, Day: math.MinInt64, DayTotal: maxAmount},
			dayReported: maxAmount, totalReported: maxAmount}
	}
	// A chain account reserves no withdrawal, but the bound is per record.
	a.withdrawal = &Withdrawal{ID: TransferID(long("w", 0, TransferIDBytesMax)), Amount: maxAmount, Requested: maxAmount, Created: math.MinInt64}
	data := AppendAccount(nil, a)
	if len(data) > AccountRecordBytesMax {
		t.Fatalf("AppendAccount(the largest account) = %d bytes, want at most AccountRecordBytesMax (%d)", len(data), AccountRecordBytesMax)
	}
	if len(data) < AccountRecordBytesMax*9/10 {
		t.Fatalf("AppendAccount(the largest account) = %d bytes, want within 10%% of AccountRecordBytesMax (%d): the bound is loose or the test misses a field",
			len(data), AccountRecordBytesMax)
	}
}
