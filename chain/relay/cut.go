package relay

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/engine"
)

// cut turns what the pairs owe into batches of at most EntriesMax entries,
// each written PENDING with the pairs' remaining nets and its payee
// payouts done, then persists the other pairs' nets and the cursor.
func (r *Relayer) cut(ctx context.Context) error {
	caps := newCaps(r)
	var (
		entries []Entry
		taken   []Net // what each entry takes from its pair's net
		dirty   = make(map[Pair]bool)
	)
	for _, p := range r.netting.Owed() {
		net, _ := r.netting.Get(p)
		if net.Through > r.cursor {
			dirty[p] = true
		}
		from, ok := r.config.Wallets(p.Payer)
		if !ok {
			// No pool balance backs a payer without a wallet: nothing of
			// this to settle on chain, now or later.
			r.logger.Info("not settling debits of a payer without a wallet", "payer", p.Payer, "payee", p.Payee, "amount", net.Amount)
			r.netting.Set(p, Net{Through: r.folded})
			delete(r.since, p)
			dirty[p] = true
			continue
		}
		to, ok := r.config.Wallets(p.Payee)
		if !ok {
			continue // carried until the payee binds a wallet
		}
		amount, fee, err := caps.take(ctx, p, from, net)
		if err != nil {
			return err
		}
		if amount.IsZero() {
			continue
		}
		entries = append(entries, Entry{Payer: p.Payer, Payee: p.Payee, From: from, To: to, Amount: amount, Fee: fee, Last: net.Last})
		taken = append(taken, Net{Amount: amount, Fee: fee})
	}
	// Past InFlightMax batches the rest stays in the nets (written below)
	// for the next window.
	for len(entries) > 0 && len(r.open) < InFlightMax {
		n := min(len(entries), r.config.EntriesMax)
		if err := r.cutBatch(ctx, entries[:n], taken[:n], dirty); err != nil {
			return err
		}
		entries, taken = entries[n:], taken[n:]
	}
	return r.persistCursor(ctx, dirty)
}

// cutBatch writes one batch PENDING with its pairs' remaining nets, then
// pays its payees out.
func (r *Relayer) cutBatch(ctx context.Context, entries []Entry, taken []Net, dirty map[Pair]bool) error {
	seq := r.next
	s := &Settlement{
		ID: SettlementID(seq), Seq: seq, BatchID: BatchID(r.config.Pool, seq), State: Pending, Ledger: r.config.Ledger,
		Entries: entries, Through: r.folded, CreatedAt: r.config.Now().UTC(),
	}
	rows := []engine.Row{
		{Key: batchKey(seq), Value: encodeSettlement(s)},
		{Key: openKey(seq), Value: []byte{}},
		uint64Row(nextKey, seq+1),
	}
	remaining := make([]Net, len(entries))
	indexed := make(map[engine.AccountID]bool)
	for i, e := range entries {
		p := Pair{Payer: e.Payer, Payee: e.Payee}
		net, _ := r.netting.Get(p)
		amount, ok := net.Amount.Sub(taken[i].Amount)
		fee, feeOK := net.Fee.Sub(taken[i].Fee)
		if !ok || !feeOK {
			return fmt.Errorf("relay: batch %d takes more than pair %s→%s owes", seq, p.Payer, p.Payee)
		}
		remaining[i] = Net{Amount: amount, Fee: fee, Through: r.folded, Last: net.Last}
		rows = append(rows, engine.Row{Key: carryKey(p), Value: carryValue(remaining[i])},
			engine.Row{Key: pairKey(p, e.Last, seq), Value: []byte{}})
		for _, account := range []engine.AccountID{e.Payer, e.Payee} {
			if !indexed[account] {
				indexed[account] = true
				rows = append(rows, engine.Row{Key: accountKey(account, seq), Value: []byte{}})
			}
		}
		if since, ok := r.since[p]; ok && (s.Oldest.IsZero() || since.Before(s.Oldest)) {
			s.Oldest = since
		}
	}
	rows[0].Value = encodeSettlement(s)
	if _, err := r.config.Engine.WriteRows(ctx, rows...); err != nil {
		return fmt.Errorf("relay: write batch %d: %w", seq, err)
	}
	r.next = seq + 1
	for i, e := range entries {
		p := Pair{Payer: e.Payer, Payee: e.Payee}
		r.netting.Set(p, remaining[i])
		delete(dirty, p)
		if remaining[i].IsZero() {
			delete(r.since, p)
		}
	}
	r.open[seq] = s
	r.stats.cut(len(entries))
	r.stage("cut")
	return r.payOut(ctx, s)
}

// persistCursor writes the nets of the pairs changed since the last cursor
// and no batch wrote, then the cursor (with the relayer's retention), then
// forgets the pairs that owe nothing.
func (r *Relayer) persistCursor(ctx context.Context, dirty map[Pair]bool) error {
	var rows []engine.Row
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := r.config.Engine.WriteRows(ctx, rows...); err != nil {
			return fmt.Errorf("relay: write nets: %w", err)
		}
		rows = rows[:0]
		return nil
	}
	for p := range dirty {
		net, _ := r.netting.Get(p)
		net.Through = r.folded
		r.netting.Set(p, net)
		rows = append(rows, engine.Row{Key: carryKey(p), Value: carryValue(net)})
		if len(rows) == carryRowsPerWrite {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if r.folded == r.cursor {
		return nil
	}
	if _, err := r.config.Engine.WriteRows(ctx, uint64Row(cursorKey, r.folded), engine.RetainRow(RetentionName, r.folded)); err != nil {
		return fmt.Errorf("relay: write cursor %d: %w", r.folded, err)
	}
	r.cursor = r.folded
	// Every row now accounts for positions up to the cursor, which a
	// restart does not fold again: a zero net's row has done its work.
	for _, p := range r.netting.Zero() {
		rows = append(rows, engine.Row{Key: carryKey(p)})
		if len(rows) == carryRowsPerWrite {
			if err := flush(); err != nil {
				return err
			}
		}
		r.netting.Forget(p)
	}
	return flush()
}

// payOut moves each payee's share of a PENDING batch out of the ledger, to
// the chain account: a payout per entry whose id names it, so doing it
// again replays it. A payee that spent its earnings off chain meanwhile
// (between the cut's look at its balance and now) fails the batch, which
// gives everything back.
func (r *Relayer) payOut(ctx context.Context, s *Settlement) error {
	errs := make([]error, len(s.Entries))
	var wg sync.WaitGroup
	for i := range s.Entries {
		share, _ := s.Entries[i].Amount.Sub(s.Entries[i].Fee)
		if share.IsZero() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.config.Engine.Payout(ctx, payoutID(s, i), s.Entries[i].Payee, share)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, engine.ErrInsufficientFunds):
			return r.failBatch(ctx, s, "a payee spent its earnings before they were settled")
		default:
			return fmt.Errorf("relay: pay out batch %d: %w", s.Seq, err)
		}
	}
	return nil
}

func payoutID(s *Settlement, i int) engine.TransferID {
	return engine.TransferID(fmt.Sprintf("%s:p%d", s.ID, i))
}

func undoID(s *Settlement, i int) engine.TransferID {
	return engine.TransferID(fmt.Sprintf("%s:u%d", s.ID, i))
}

func feesID(s *Settlement) engine.TransferID { return engine.TransferID(s.ID + ":fees") }

// failBatch gives a batch the chain refused (or never saw) back: its payee
// payouts are undone by credits naming them (only those that happened) and
// its entries return to the nets, written with the batch's FAILED record.
func (r *Relayer) failBatch(ctx context.Context, s *Settlement, reason string) error {
	for i, e := range s.Entries {
		share, _ := e.Amount.Sub(e.Fee)
		if share.IsZero() {
			continue
		}
		if _, err := r.config.Engine.Transfer(ctx, payoutID(s, i)); errors.Is(err, engine.ErrNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("relay: look up payout of batch %d: %w", s.Seq, err)
		}
		if _, err := r.config.Engine.Credit(ctx, undoID(s, i), e.Payee, share); err != nil {
			return fmt.Errorf("relay: undo payout of batch %d: %w", s.Seq, err)
		}
	}
	failed := *s
	failed.State, failed.Error, failed.RawTx, failed.FailedAt = Failed, reason, nil, r.config.Now().UTC()
	rows := []engine.Row{{Key: batchKey(s.Seq), Value: encodeSettlement(&failed)}, {Key: openKey(s.Seq)}}
	nets := make(map[Pair]Net)
	for _, e := range s.Entries {
		p := Pair{Payer: e.Payer, Payee: e.Payee}
		net, ok := nets[p]
		if !ok {
			net, _ = r.netting.Get(p)
		}
		if err := net.add(e.Amount, e.Fee); err != nil {
			return err
		}
		net.Through, net.Last = max(net.Through, r.folded), max(net.Last, e.Last)
		nets[p] = net
		rows = append(rows, engine.Row{Key: pairKey(p, e.Last, s.Seq)})
	}
	for p, net := range nets {
		rows = append(rows, engine.Row{Key: carryKey(p), Value: carryValue(net)})
	}
	if _, err := r.config.Engine.WriteRows(ctx, rows...); err != nil {
		return fmt.Errorf("relay: record batch %d failed: %w", s.Seq, err)
	}
	for p, net := range nets {
		r.netting.Set(p, net)
		if _, ok := r.since[p]; !ok {
			r.since[p] = s.CreatedAt
		}
	}
	delete(r.open, s.Seq)
	r.stats.failed()
	r.logger.Warn("settlement failed; its debits go to a later batch", "settlement", s.ID, "reason", reason)
	return nil
}

// caps bounds what one cut takes: a payer's entries at its pool balance
// less what its batches in flight take, a payee's share at what it can
// still pay out.
type caps struct {
	r        *Relayer
	pool     map[common.Address]*big.Int
	payees   map[engine.AccountID]engine.Amount
	inFlight map[common.Address]*big.Int
}

func newCaps(r *Relayer) *caps {
	c := &caps{r: r, pool: make(map[common.Address]*big.Int), payees: make(map[engine.AccountID]engine.Amount),
		inFlight: make(map[common.Address]*big.Int)}
	for _, s := range r.open {
		for _, e := range s.Entries {
			sum := c.inFlight[e.From]
			if sum == nil {
				sum = new(big.Int)
				c.inFlight[e.From] = sum
			}
			sum.Add(sum, toBig(e.Amount))
		}
	}
	return c
}

// take returns what a batch takes of net: all of it, or as much as the
// caps allow, the fee scaled with the amount (rounded down), and charges
// the caps with it.
func (c *caps) take(ctx context.Context, p Pair, from common.Address, net Net) (amount, fee engine.Amount, err error) {
	left, err := c.poolLeft(ctx, from)
	if err != nil {
		return engine.Amount{}, engine.Amount{}, err
	}
	payee, err := c.payeeLeft(ctx, p.Payee)
	if err != nil {
		return engine.Amount{}, engine.Amount{}, err
	}
	amt, f := toBig(net.Amount), toBig(net.Fee)
	if amt.Cmp(left) > 0 {
		f = new(big.Int).Div(new(big.Int).Mul(f, left), amt)
		amt = new(big.Int).Set(left)
	}
	if share := new(big.Int).Sub(amt, f); share.Cmp(toBig(payee)) > 0 {
		amt = new(big.Int).Add(toBig(payee), f)
	}
	amount, fee = fromBig(amt), fromBig(f)
	left.Sub(left, amt)
	share, _ := amount.Sub(fee)
	c.payees[p.Payee], _ = payee.Sub(share)
	return amount, fee, nil
}

func (c *caps) poolLeft(ctx context.Context, wallet common.Address) (*big.Int, error) {
	if left, ok := c.pool[wallet]; ok {
		return left, nil
	}
	out, err := c.r.config.Backend.CallContract(ctx, ethereum.CallMsg{To: &c.r.config.Pool, Data: c.r.pool.PackBalanceOf(wallet)}, nil)
	if err != nil {
		return nil, fmt.Errorf("relay: pool balance of %s: %w", wallet, err)
	}
	balance, err := c.r.pool.UnpackBalanceOf(out)
	if err != nil {
		return nil, fmt.Errorf("relay: pool balance of %s: %w", wallet, err)
	}
	if flight := c.inFlight[wallet]; flight != nil {
		balance.Sub(balance, flight)
	}
	if balance.Sign() < 0 {
		balance.SetInt64(0)
	}
	c.pool[wallet] = balance
	return balance, nil
}

func (c *caps) payeeLeft(ctx context.Context, payee engine.AccountID) (engine.Amount, error) {
	if left, ok := c.payees[payee]; ok {
		return left, nil
	}
	balance, err := c.r.config.Engine.Balance(ctx, payee)
	if err != nil {
		return engine.Amount{}, fmt.Errorf("relay: balance of payee %s: %w", payee, err)
	}
	c.payees[payee] = balance.Available
	return balance.Available, nil
}

// toBig and fromBig convert between the engine's 128-bit amounts and the
// chain's uint256 (an amount from the engine always fits).
func toBig(a engine.Amount) *big.Int {
	hi, lo := a.Parts()
	v := new(big.Int).SetUint64(hi)
	return v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(lo))
}

func fromBig(v *big.Int) engine.Amount {
	lo := new(big.Int).And(v, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(v, 64).Uint64()
	return engine.AmountFromParts(hi, lo)
}
