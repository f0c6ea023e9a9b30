package engine

import (
	"context"
	"fmt"

	"github.com/tollway/tollway/engine/ledger"
)

// SetLowBalanceThreshold sets account's low-balance threshold (zero turns
// it off): from then on, a debit that takes the account's available
// amount from at or above threshold to below it carries the threshold in
// its event (Event.LowBalance), once per crossing; anything that brings
// the available amount back to the threshold re-arms it. Setting a
// threshold above what is available now marks nothing: a crossing is a
// debit's. Durable before it returns, like every call; the balance reads
// show it (Balance.LowBalanceThreshold). ErrNotFound if the account is
// unknown, ErrInvalid for a system account. It has no client id: setting
// it again logs again, with the same effect.
func (e *Engine) SetLowBalanceThreshold(ctx context.Context, account AccountID, threshold Amount) error {
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return err
	}
	defer e.leaveWith(weight)
	entry := e.registry.Entry(account)
	if entry == nil {
		return fmt.Errorf("%w: account %q", ErrNotFound, account)
	}
	o := newOp(ledger.Command{Type: ledger.CommandSetLowBalance, From: account, Amount: threshold})
	o.decider = entry
	e.registry.Send(entry, o)
	if err := wait(ctx, o); err != nil {
		return err
	}
	return o.err
}
