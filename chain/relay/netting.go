package relay

import (
	"fmt"
	"sort"

	"github.com/tollway/tollway/engine"
)

// Pair is one (payer, payee) whose debits the relayer nets.
type Pair struct {
	Payer, Payee engine.AccountID
}

// Net is what a pair owes and has not settled yet: Amount taken from the
// payer, of which Fee goes to the fee recipient and the rest to the payee.
// Through is the last log position it accounts for; Last is the time of
// the latest debit folded into it (unix nanoseconds). One account actor
// decides all of a payer's debits, so a pair's debits are in time order
// in the log: a debit at or before Last is in the net, or in an earlier
// batch.
type Net struct {
	Amount  engine.Amount
	Fee     engine.Amount
	Through uint64
	Last    int64
}

// IsZero reports whether nothing is owed.
func (n Net) IsZero() bool { return n.Amount.IsZero() }

// add adds amount and fee, refusing an overflow (which the ledger's own
// bounds make impossible: a pair cannot owe more than exists).
func (n *Net) add(amount, fee engine.Amount) error {
	sum, ok := n.Amount.Add(amount)
	fees, feeOK := n.Fee.Add(fee)
	if !ok || !feeOK {
		return fmt.Errorf("%w: net of a pair overflows", engine.ErrOverflow)
	}
	n.Amount, n.Fee = sum, fees
	return nil
}

// Netting folds committed events of one ledger into per-pair nets. It is
// pure and deterministic: the same events give the same nets, which is
// how a restart that folds the log again after its cursor rebuilds them.
type Netting struct {
	ledger engine.LedgerID
	nets   map[Pair]*Net
}

// NewNetting nets the debits of ledger.
func NewNetting(ledger engine.LedgerID) *Netting {
	return &Netting{ledger: ledger, nets: make(map[Pair]*Net)}
}

// Restore sets a pair's net as persisted (its carry row).
func (n *Netting) Restore(p Pair, net Net) {
	copied := net
	n.nets[p] = &copied
}

// Fold adds the money a settled-on-chain event moves between a payer and a
// payee: a charge, a hold's capture, a session's end. Other events and
// other ledgers move nothing the relayer settles. An event at or before
// the pair's Through is already counted (a row written before a crash
// carried it) and is skipped.
func (n *Netting) Fold(ev *engine.Event) error {
	if ev.Ledger != n.ledger {
		return nil
	}
	var amount engine.Amount
	switch ev.Type {
	case engine.EventCharged:
		amount = ev.Amount
	case engine.EventCaptured, engine.EventSessionEnded:
		amount = ev.Captured
	default:
		return nil
	}
	if amount.IsZero() {
		return nil
	}
	p := Pair{Payer: ev.From, Payee: ev.To}
	net := n.nets[p]
	if net == nil {
		net = &Net{}
		n.nets[p] = net
	}
	if ev.Position <= net.Through {
		return nil
	}
	if err := net.add(amount, ev.Fee); err != nil {
		return fmt.Errorf("relay: fold %s at %d: %w", ev.ID, ev.Position, err)
	}
	net.Through = ev.Position
	net.Last = max(net.Last, ev.Time.UnixNano())
	return nil
}

// Get returns a pair's net.
func (n *Netting) Get(p Pair) (Net, bool) {
	net, ok := n.nets[p]
	if !ok {
		return Net{}, false
	}
	return *net, true
}

// Set replaces a pair's net (after a cut took part of it); a zero net with
// no Through is forgotten.
func (n *Netting) Set(p Pair, net Net) {
	if net.IsZero() && net.Through == 0 {
		delete(n.nets, p)
		return
	}
	copied := net
	n.nets[p] = &copied
}

// Forget drops a pair whose net is zero and persisted.
func (n *Netting) Forget(p Pair) {
	if net, ok := n.nets[p]; ok && net.IsZero() {
		delete(n.nets, p)
	}
}

// Owed returns the pairs that owe something, in a stable order (payer,
// then payee), so that batches are cut the same way every time.
func (n *Netting) Owed() []Pair {
	pairs := make([]Pair, 0, len(n.nets))
	for p, net := range n.nets {
		if !net.IsZero() {
			pairs = append(pairs, p)
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].Payer != pairs[j].Payer {
			return pairs[i].Payer < pairs[j].Payer
		}
		return pairs[i].Payee < pairs[j].Payee
	})
	return pairs
}

// Zero returns the pairs that owe nothing.
func (n *Netting) Zero() []Pair {
	var pairs []Pair
	for p, net := range n.nets {
		if net.IsZero() {
			pairs = append(pairs, p)
		}
	}
	return pairs
}

// Len returns how many pairs are tracked.
func (n *Netting) Len() int { return len(n.nets) }
