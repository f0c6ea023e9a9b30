package ledger

// SpenderID names who debits an account on its owner's behalf under a
// budget: in Tollway, an API key (its first id, kept across rotations).
type SpenderID string

// SpenderIDBytesMax bounds a spender id.
const SpenderIDBytesMax = 64

// dayNanos is the length of a budget day: a UTC calendar day.
const dayNanos = 24 * 60 * 60 * 1e9

// Budget caps what one spender may debit from the account it spends from.
// A zero cap is no cap. A hold counts against the budget from the moment it
// is placed until it is released; what a capture releases is returned.
type Budget struct {
	Spender  SpenderID
	PerDebit Amount // the largest single charge or hold
	PerDay   Amount // the most per UTC day
	Total    Amount // the most ever
}

// IsZero reports whether b names no spender: the debit is unbudgeted.
func (b *Budget) IsZero() bool { return b.Spender == "" }

// Spend is what one spender has debited from an account, open holds
// included: in all, and on the UTC day Day (days since the Unix epoch).
type Spend struct {
	Total    Amount
	Day      int64
	DayTotal Amount
}

// On returns the spend as seen on day: the day's total is zero on a day
// other than the one it was counted on.
func (s Spend) On(day int64) Spend {
	if s.Day != day {
		s.Day, s.DayTotal = day, Amount{}
	}
	return s
}

// spending is a spender's Spend as its account keeps it, with the caps
// whose exhaustion was already reported (alerts.go), so that each is
// reported once: dayReported is the day cap reported on Spend.Day, and
// totalReported the total cap reported; zero is none. A cap value of its
// own rather than a flag: a cap raised and exhausted again is news.
type spending struct {
	Spend
	dayReported   Amount
	totalReported Amount
}

// turn moves s to day: a new day counts from zero and has reported nothing.
func (s *spending) turn(day int64) {
	if s.Day != day {
		s.Day, s.DayTotal, s.dayReported = day, Amount{}, Amount{}
	}
}

// DayOf returns the UTC day of a time in Unix nanoseconds.
func DayOf(nanos int64) int64 {
	day := nanos / dayNanos
	if nanos < 0 && nanos%dayNanos != 0 {
		day--
	}
	return day
}

// Spent returns what spender has debited from a, as seen at now (Unix
// nanoseconds).
func (a *Account) Spent(spender SpenderID, now int64) Spend {
	var s Spend
	if spent := a.spends[spender]; spent != nil {
		s = spent.Spend
	}
	return s.On(DayOf(now))
}

// checkBudget refuses a debit of amount at now that would take b's spender
// over one of its caps.
func checkBudget(a *Account, b *Budget, amount Amount, now int64) error {
	if b.IsZero() {
		return nil
	}
	if !ValidID(string(b.Spender), SpenderIDBytesMax) {
		return errInvalidSpender
	}
	if a.spends[b.Spender] == nil && len(a.spends) >= SpendersPerAccountMax {
		return errTooManySpenders
	}
	if !b.PerDebit.IsZero() && amount.Cmp(b.PerDebit) > 0 {
		return ErrBudgetExceeded
	}
	spent := a.Spent(b.Spender, now)
	if !withinCap(spent.DayTotal, amount, b.PerDay) || !withinCap(spent.Total, amount, b.Total) {
		return ErrBudgetExceeded
	}
	return nil
}

// withinCap reports whether spent+amount stays at or under limit (zero: no limit).
func withinCap(spent, amount, limit Amount) bool {
	if limit.IsZero() {
		return true
	}
	sum, ok := spent.Add(amount)
	return ok && sum.Cmp(limit) <= 0
}

// spend counts amount debited by spender at time at.
func (a *Account) spend(spender SpenderID, amount Amount, at int64) {
	if spender == "" {
		return
	}
	if a.spends == nil {
		a.spends = make(map[SpenderID]*spending)
	}
	s := a.spends[spender]
	if s == nil {
		s = &spending{}
		a.spends[spender] = s
	}
	s.turn(DayOf(at))
	s.Total = add(s.Total, amount)
	s.DayTotal = add(s.DayTotal, amount)
}

// refund returns amount of a hold placed at heldAt to spender's budget: to
// its total, and to its day's total if the hold was placed on the day
// being counted (an earlier day's spending is past).
func (a *Account) refund(spender SpenderID, amount Amount, heldAt int64) {
	s := a.spends[spender]
	if spender == "" || s == nil {
		return
	}
	s.Total = sub(s.Total, amount)
	if s.Day == DayOf(heldAt) {
		s.DayTotal = sub(s.DayTotal, amount)
	}
}
