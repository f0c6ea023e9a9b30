package ledger

import "fmt"

// Alerts: what an account's owner wants to hear about its debits, decided
// with each debit and carried in its event (Event.LowBalance,
// Event.BudgetCap), so that whoever reads the log (webhooks, after a
// restart too) learns of each crossing exactly once, with nothing to
// remember of its own.
//
// Low balance: a debit that takes the payer's available amount from at
// or above its threshold (Account.LowBalance) to below it is marked. Any
// event that lifts the available amount back to the threshold (a credit,
// a hold released) re-arms it: the next crossing is marked again. Setting
// a threshold above what is available marks nothing, then or later,
// until the available amount has been back at or above it: a threshold
// reports crossings, not levels.
//
// Budget exhausted: a debit by a spender under a day or total cap is
// marked when, after it, less than the debit's own amount is left under
// the cap (the same debit again would be refused), once per cap: once per
// UTC day for the day cap, and once per cap value for the total (a cap
// raised and exhausted again is marked again). The account remembers what
// it reported in the spender's spending, kept in its snapshot record.
// When one debit exhausts both caps, the total is reported (it does not
// pass with the day); the day cap is then reported by a later debit of the
// same day that exhausts it, if any.

// BudgetCap names the cap of a budget that a debit exhausted.
type BudgetCap uint8

const (
	BudgetCapNone  BudgetCap = iota
	BudgetCapDay             // Budget.PerDay
	BudgetCapTotal           // Budget.Total
	budgetCapEnd
)

// String returns the cap's name as the API spells it: "day" or "total".
func (c BudgetCap) String() string {
	switch c {
	case BudgetCapDay:
		return "day"
	case BudgetCapTotal:
		return "total"
	}
	return ""
}

// lowersAvailable reports whether events of this type may lower their
// payer's (From's) available amount: the events a low-balance threshold
// watches.
func (t EventType) lowersAvailable() bool {
	switch t {
	case EventCharged, EventHeld, EventSessionOpened, EventPaidOut, EventWithdrawalReserved, EventWithdrawn:
		return true
	}
	return false
}

// isBudgeted reports whether events of this type count against a
// spender's budget when they debit.
func (t EventType) isBudgeted() bool {
	return t == EventCharged || t == EventHeld || t == EventSessionOpened
}

// markDebit sets the markers of e, a debit that a decided for c and has
// not applied yet. It allocates nothing: debits without a threshold or a
// day or total cap cost two comparisons.
func markDebit(a *Account, c *Command, e *Event) {
	if !a.LowBalance.IsZero() && e.Type.lowersAvailable() {
		before := a.Available()
		if before.Cmp(a.LowBalance) >= 0 && availableAfterDebit(before, e).Cmp(a.LowBalance) < 0 {
			e.LowBalance = a.LowBalance
		}
	}
	if b := &c.Budget; e.Type.isBudgeted() && b.Spender != "" && (!b.PerDay.IsZero() || !b.Total.IsZero()) {
		e.BudgetCap, e.BudgetLimit = budgetExhausted(a, b, e.Amount, e.Time)
	}
}

// availableAfterDebit returns the payer's available amount after e, from
// before, what it was. A withdrawal's event releases the earlier
// reservation first.
func availableAfterDebit(before Amount, e *Event) Amount {
	if w := e.Withdrawal; w != nil {
		before = add(before, w.Released)
	}
	after, ok := before.Sub(e.Amount)
	if !ok {
		return Amount{} // only an account that may overdraw, which has no threshold
	}
	return after
}

// budgetExhausted returns the cap of b that a debit of amount at now
// exhausts and has not reported yet, and its value; BudgetCapNone if none.
//
// REQUIRES: checkBudget accepted the debit.
func budgetExhausted(a *Account, b *Budget, amount Amount, now int64) (BudgetCap, Amount) {
	var s spending
	if spent := a.spends[b.Spender]; spent != nil {
		s = *spent
	}
	s.turn(DayOf(now))
	if !b.Total.IsZero() && s.totalReported != b.Total && !withinCap(add(s.Total, amount), amount, b.Total) {
		return BudgetCapTotal, b.Total
	}
	if !b.PerDay.IsZero() && s.dayReported != b.PerDay && !withinCap(add(s.DayTotal, amount), amount, b.PerDay) {
		return BudgetCapDay, b.PerDay
	}
	return BudgetCapNone, Amount{}
}

// reported records on the payer that e's budget marker was reported.
// REQUIRES: a is e's payer and has counted e's spend.
func (a *Account) reported(e *Event) {
	switch e.BudgetCap {
	case BudgetCapDay:
		a.spends[e.Spender].dayReported = e.BudgetLimit
	case BudgetCapTotal:
		a.spends[e.Spender].totalReported = e.BudgetLimit
	}
}

// decideLowBalance sets a's low-balance threshold: only a user account
// has one (system accounts have no owner to tell).
func decideLowBalance(a *Account, c *Command, now int64) (Event, error) {
	if a.Kind.IsSystem() {
		return Event{}, fmt.Errorf("%w: only a user account has a low-balance threshold", ErrInvalid)
	}
	return Event{Type: EventLowBalanceSet, Ledger: a.Ledger, Time: now, Account: a.ID, Amount: c.Amount}, nil
}
