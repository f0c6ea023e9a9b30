package ledger

import "testing"

// The reference model's withdrawals: one reservation per account, in
// plain uint64s, from the model's own reading of the rules.

type modelWithdrawal struct {
	id                TransferID
	amount, requested uint64
	created           int64
}

// predictWithdrawal predicts a withdrawal's reservation or completion by
// a, which has available once its due holds expired (p.applied): each
// releases a's reservation first, then reserves as much of the amount as
// that leaves available, or pays the amount out if it all is.
func (m *model) predictWithdrawal(p prediction, a *modelAccount, c Command, available uint64, now int64) prediction {
	amount := amountUint64(c.Amount)
	terms := &WithdrawalTerms{Requested: c.Amount}
	if w := a.withdrawal; w != nil {
		terms.Released, terms.ReleasedID = NewAmount(w.amount), w.id
		available += w.amount
	}
	p.result = Event{ID: c.ID, Ledger: a.ledger, Time: now, From: c.From, To: ChainAccountID(a.ledger), Amount: c.Amount, Withdrawal: terms}
	switch {
	case c.Type == CommandReserveWithdrawal && amount == 0:
		p.errs = []error{ErrInvalid}
		return p
	case c.Type == CommandReserveWithdrawal:
		p.result.Type = EventWithdrawalReserved
		p.result.Amount = NewAmount(min(amount, available))
	case amount > available:
		p.errs = []error{ErrInsufficientFunds}
		return p
	default:
		p.result.Type = EventWithdrawn
	}
	p.applied = append(p.applied, p.result)
	return p
}

// applyWithdrawal applies a withdrawal event to the model: it must release
// the reservation the model holds for its payer, exactly.
func (m *model) applyWithdrawal(t *testing.T, e Event, minus func(*uint64, uint64)) {
	t.Helper()
	from, to := m.accounts[e.From], m.accounts[e.To]
	amount := amountUint64(e.Amount)
	var released uint64
	var releasedID TransferID
	if w := from.withdrawal; w != nil {
		released, releasedID = w.amount, w.id
	}
	if e.Withdrawal.ReleasedID != releasedID || e.Withdrawal.Released != NewAmount(released) {
		t.Fatalf("model: %s releases %v of %q, want %d of %q", eventText(e), e.Withdrawal.Released, e.Withdrawal.ReleasedID, released, releasedID)
	}
	minus(&from.debitsPending, released)
	minus(&to.creditsPending, released)
	from.withdrawal = nil
	if e.Type == EventWithdrawalReserved {
		from.debitsPending += amount
		to.creditsPending += amount
		from.withdrawal = &modelWithdrawal{id: e.ID, amount: amount, requested: amountUint64(e.Withdrawal.Requested), created: e.Time}
		return
	}
	from.debitsPosted += amount
	to.creditsPosted += amount
}

// withdrawal returns a random withdrawal command: a reservation of up to
// a few thousand (sometimes exactly the payer's available amount or one
// more, sometimes zero), or a completion of zero, of the reservation, or
// of about what it would leave available.
func (s *simulation) withdrawal(id TransferID) Command {
	from := s.account()
	if s.r.IntN(2) == 0 {
		return Command{Type: CommandReserveWithdrawal, ID: id, From: from, Amount: s.amount(from, 8_000)}
	}
	c := Command{Type: CommandCompleteWithdrawal, ID: id, From: from, Amount: s.amount(from, 3_000)}
	a := s.model.accounts[from]
	if a == nil || a.withdrawal == nil {
		return c
	}
	switch n := s.r.IntN(4); n {
	case 0:
		c.Amount = Amount{}
	case 1:
		c.Amount = NewAmount(a.withdrawal.amount)
	case 2:
		c.Amount = NewAmount(a.available() + a.withdrawal.amount + uint64(s.r.IntN(2))) // all it may pay, or one more
	}
	return c
}
