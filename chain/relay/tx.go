package relay

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/engine"
)

// advance moves every batch in flight one step, oldest first: a PENDING
// one is paid out, signed, recorded and sent; a SUBMITTED one is sent
// again after a restart, replaced when stuck, and confirmed or failed by
// its receipt.
func (r *Relayer) advance(ctx context.Context) error {
	seqs := make([]uint64, 0, len(r.open))
	for seq := range r.open {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		s := r.open[seq]
		var err error
		switch s.State {
		case Pending:
			err = r.submit(ctx, s)
		case Submitted:
			err = r.check(ctx, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// submit pays a PENDING batch's payees out (again, after a restart:
// replays), signs its transaction, records it, and sends it.
func (r *Relayer) submit(ctx context.Context, s *Settlement) error {
	if err := r.payOut(ctx, s); err != nil {
		return err
	}
	if _, still := r.open[s.Seq]; !still {
		return nil // failed by the payouts
	}
	data := r.pool.PackSettleBatch(s.BatchID, s.chainEntries())
	gas, err := r.config.Backend.EstimateGas(ctx, ethereum.CallMsg{From: r.from, To: &r.config.Pool, Data: data})
	if err != nil {
		return r.refused(ctx, s, err)
	}
	gas = min(gas+gas/5, gasLimitMax)
	if err := r.ensureNonce(ctx); err != nil {
		return err
	}
	tip, feeCap, err := r.fees(ctx)
	if err != nil {
		return err
	}
	tx, err := r.sign(s, r.nonce, gas, tip, feeCap, data)
	if err != nil {
		return err
	}
	r.nonce++
	return r.record(ctx, s, tx)
}

// refused handles a batch the node will not execute (its gas estimate
// reverted): settled already (recognised, not failed), or failed.
func (r *Relayer) refused(ctx context.Context, s *Settlement, cause error) error {
	if !isRevert(cause) {
		return fmt.Errorf("relay: estimate gas of batch %d: %w", s.Seq, cause)
	}
	settled, err := r.settled(ctx, s)
	if err != nil {
		return err
	}
	if settled {
		return r.confirm(ctx, s, nil)
	}
	return r.failBatch(ctx, s, "refused by the pool: "+cause.Error())
}

// record writes the signed transaction (SUBMITTED) before sending it: a
// crash after the send resends the same bytes, never a second settlement.
func (r *Relayer) record(ctx context.Context, s *Settlement, tx *types.Transaction) error {
	raw, err := tx.MarshalBinary()
	if err != nil {
		return fmt.Errorf("relay: encode transaction of batch %d: %w", s.Seq, err)
	}
	next := *s
	next.State, next.Nonce, next.RawTx, next.SignedAt = Submitted, tx.Nonce(), raw, r.config.Now().UTC()
	next.TxHashes = append(slices.Clip(s.TxHashes), tx.Hash())
	if _, err := r.config.Engine.WriteRows(ctx, engine.Row{Key: batchKey(s.Seq), Value: encodeSettlement(&next)}); err != nil {
		return fmt.Errorf("relay: record transaction of batch %d: %w", s.Seq, err)
	}
	*s = next
	r.stage("recorded")
	r.sendRaw(ctx, s)
	return nil
}

// sendRaw sends the batch's latest signed transaction. A node that knows
// it already, or has mined its nonce, is fine: the receipt tells.
func (r *Relayer) sendRaw(ctx context.Context, s *Settlement) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(s.RawTx); err != nil {
		r.logger.Error("corrupt recorded transaction", "settlement", s.ID, "error", err)
		return
	}
	err := r.config.Backend.SendTransaction(ctx, tx)
	if err != nil && !isKnown(err) {
		r.logger.Warn("send settlement", "settlement", s.ID, "tx", tx.Hash(), "error", err)
		return
	}
	r.sent[s.Seq] = true
	r.stage("sent")
}

// check looks for a receipt of any version of a SUBMITTED batch's
// transaction: mined and deep enough confirms it, reverted fails it (unless
// the pool says it is settled), none sends it again after a restart or
// replaces it once stuck.
func (r *Relayer) check(ctx context.Context, s *Settlement) error {
	// The account's nonce first: a receipt missing after it moved past
	// ours means another transaction took the nonce.
	mined, err := r.config.Backend.NonceAt(ctx, r.from, nil)
	if err != nil {
		return fmt.Errorf("relay: nonce of %s: %w", r.from, err)
	}
	for _, hash := range s.TxHashes {
		receipt, err := r.config.Backend.TransactionReceipt(ctx, hash)
		if errors.Is(err, ethereum.NotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("relay: receipt of %s: %w", hash, err)
		}
		if receipt.Status != types.ReceiptStatusSuccessful {
			return r.refused(ctx, s, fmt.Errorf("execution reverted in transaction %s", hash))
		}
		head, err := r.config.Backend.BlockNumber(ctx)
		if err != nil {
			return fmt.Errorf("relay: head: %w", err)
		}
		if head < receipt.BlockNumber.Uint64()+r.config.Confirmations {
			return nil // not deep enough yet
		}
		return r.confirm(ctx, s, receipt)
	}
	if mined > s.Nonce {
		// None of ours was mined, yet the nonce was used: by a transaction
		// signed elsewhere with the relayer's key. Sign again if the batch
		// is not settled.
		settled, err := r.settled(ctx, s)
		if err != nil || settled {
			if settled {
				return r.confirm(ctx, s, nil)
			}
			return err
		}
		r.logger.Warn("settlement nonce taken by another transaction; signing again", "settlement", s.ID, "nonce", s.Nonce)
		r.nonceOK = false
		s.State = Pending
		return r.submit(ctx, s)
	}
	if !r.sent[s.Seq] {
		r.sendRaw(ctx, s)
		return nil
	}
	if r.config.Now().Sub(s.SignedAt) >= r.config.ReplaceAfter {
		return r.replace(ctx, s)
	}
	return nil
}

// replace signs the batch's transaction again with the same nonce and a
// fee a quarter higher (nodes take a replacement that pays a tenth more),
// records it and sends it.
func (r *Relayer) replace(ctx context.Context, s *Settlement) error {
	old := new(types.Transaction)
	if err := old.UnmarshalBinary(s.RawTx); err != nil {
		return fmt.Errorf("relay: corrupt transaction of batch %d: %w", s.Seq, err)
	}
	tip, feeCap, err := r.fees(ctx)
	if err != nil {
		return err
	}
	tip = bigMax(tip, bump(old.GasTipCap()))
	feeCap = bigMax(feeCap, bump(old.GasFeeCap()), tip)
	tx, err := r.sign(s, old.Nonce(), old.Gas(), tip, feeCap, old.Data())
	if err != nil {
		return err
	}
	r.logger.Warn("replacing a stuck settlement transaction", "settlement", s.ID, "old", old.Hash(), "new", tx.Hash(), "tip", tip, "fee_cap", feeCap)
	r.stats.replaced()
	delete(r.sent, s.Seq)
	return r.record(ctx, s, tx)
}

// confirm ends a settled batch: the fees leave the ledger through the
// chain account, and the batch is recorded CONFIRMED with its receipt (nil
// when only the pool's settled() vouches for it).
func (r *Relayer) confirm(ctx context.Context, s *Settlement, receipt *types.Receipt) error {
	_, fees := s.Total()
	if !fees.IsZero() {
		if _, err := r.config.Engine.Payout(ctx, feesID(s), engine.FeesAccount(s.Ledger), fees); err != nil {
			return fmt.Errorf("relay: pay fees of batch %d out: %w", s.Seq, err)
		}
	}
	done := *s
	done.State, done.RawTx, done.ConfirmedAt = Confirmed, nil, r.config.Now().UTC()
	if receipt != nil {
		done.TxHash, done.BlockNumber, done.GasUsed = receipt.TxHash, receipt.BlockNumber.Uint64(), receipt.GasUsed
	}
	if _, err := r.config.Engine.WriteRows(ctx, engine.Row{Key: batchKey(s.Seq), Value: encodeSettlement(&done)}, engine.Row{Key: openKey(s.Seq)}); err != nil {
		return fmt.Errorf("relay: record batch %d confirmed: %w", s.Seq, err)
	}
	delete(r.open, s.Seq)
	delete(r.sent, s.Seq)
	r.stats.confirmed(&done)
	return nil
}

// settled asks the pool whether the batch id is settled.
func (r *Relayer) settled(ctx context.Context, s *Settlement) (bool, error) {
	out, err := r.config.Backend.CallContract(ctx, ethereum.CallMsg{To: &r.config.Pool, Data: r.pool.PackSettled(s.BatchID)}, nil)
	if err != nil {
		return false, fmt.Errorf("relay: settled(%s): %w", s.BatchID, err)
	}
	settled, err := r.pool.UnpackSettled(out)
	if err != nil {
		return false, fmt.Errorf("relay: settled(%s): %w", s.BatchID, err)
	}
	return settled, nil
}

// ensureNonce learns the next nonce from the node once (and after another
// signer took one): past every nonce recorded in flight.
func (r *Relayer) ensureNonce(ctx context.Context) error {
	if r.nonceOK {
		return nil
	}
	pending, err := r.config.Backend.PendingNonceAt(ctx, r.from)
	if err != nil {
		return fmt.Errorf("relay: nonce of %s: %w", r.from, err)
	}
	r.nonce = pending
	for _, s := range r.open {
		if s.State == Submitted && s.Nonce >= r.nonce {
			r.nonce = s.Nonce + 1
		}
	}
	r.nonceOK = true
	return nil
}

// fees returns a tip and fee cap for a new transaction: the node's
// suggested tip, and twice the base fee on top (room for six full blocks'
// rises).
func (r *Relayer) fees(ctx context.Context) (tip, feeCap *big.Int, err error) {
	tip, err = r.config.Backend.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("relay: suggested tip: %w", err)
	}
	head, err := r.config.Backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("relay: head: %w", err)
	}
	feeCap = new(big.Int).Set(tip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	return tip, feeCap, nil
}

func (r *Relayer) sign(s *Settlement, nonce, gas uint64, tip, feeCap *big.Int, data []byte) (*types.Transaction, error) {
	tx, err := types.SignNewTx(r.config.Key, types.LatestSignerForChainID(r.config.ChainID), &types.DynamicFeeTx{
		ChainID: r.config.ChainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas,
		To: &r.config.Pool, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: sign batch %d: %w", s.Seq, err)
	}
	return tx, nil
}

// chainEntries returns the batch as settleBatch takes it.
func (s *Settlement) chainEntries() []contracts.SettlementPoolEntry {
	entries := make([]contracts.SettlementPoolEntry, len(s.Entries))
	for i, e := range s.Entries {
		entries[i] = contracts.SettlementPoolEntry{From: e.From, To: e.To, Amount: toBig(e.Amount), Fee: toBig(e.Fee)}
	}
	return entries
}

func bump(v *big.Int) *big.Int {
	return new(big.Int).Add(new(big.Int).Div(new(big.Int).Mul(v, big.NewInt(5)), big.NewInt(4)), big.NewInt(1))
}

func bigMax(vs ...*big.Int) *big.Int {
	m := vs[0]
	for _, v := range vs[1:] {
		if v.Cmp(m) > 0 {
			m = v
		}
	}
	return new(big.Int).Set(m)
}

// isRevert reports whether a node's answer says the call reverted (as
// opposed to failing to answer).
func isRevert(err error) bool {
	return strings.Contains(err.Error(), "revert")
}

// isKnown reports whether a node refused a transaction it already has, or
// whose nonce is already mined.
func isKnown(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "already known") || strings.Contains(msg, "nonce too low") ||
		strings.Contains(msg, "known transaction")
}
