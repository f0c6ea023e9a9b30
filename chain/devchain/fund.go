package devchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
)

// receiptPollInterval bounds how long WaitReceipt sleeps between looks when
// no block is announced (e.g. while the transaction index catches up after
// a restart): blocks wake it at once.
const receiptPollInterval = 100 * time.Millisecond

// Fund sends wei from the funder to to and waits until its block is sealed
// (and synced). It returns the transaction's hash.
func (c *Chain) Fund(ctx context.Context, to common.Address, wei *big.Int) (common.Hash, error) {
	if wei == nil || wei.Sign() < 0 {
		return common.Hash{}, fmt.Errorf("devchain: fund %s: amount %v is not a non-negative number of wei", to, wei)
	}
	tx, err := c.sendFunded(ctx, to, wei)
	if err != nil {
		return common.Hash{}, fmt.Errorf("devchain: fund %s: %w", to, err)
	}
	receipt, err := c.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		return tx.Hash(), fmt.Errorf("devchain: fund %s: %w", to, err)
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		return tx.Hash(), fmt.Errorf("devchain: fund %s: transaction %s failed in block %v", to, tx.Hash(), receipt.BlockNumber)
	}
	return tx.Hash(), nil
}

// sendFunded signs and sends the transfer with the funder's next nonce.
func (c *Chain) sendFunded(ctx context.Context, to common.Address, wei *big.Int) (*types.Transaction, error) {
	from := c.FunderAddress()
	// Estimated, not 21,000: to may be a contract that runs code on receipt.
	gas, err := c.inproc.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Value: wei})
	if err != nil {
		return nil, fmt.Errorf("estimate gas: %w", err)
	}
	tip := big.NewInt(minimumTipWei)
	chain := c.eth.BlockChain()
	baseFee := eip1559.CalcBaseFee(chain.Config(), chain.CurrentBlock())
	// Twice the next base fee: room for it to rise while the transaction waits.
	feeCap := new(big.Int).Add(new(big.Int).Mul(baseFee, big.NewInt(2)), tip)

	c.fundMu.Lock()
	defer c.fundMu.Unlock()
	nonce, err := c.inproc.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	tx, err := types.SignNewTx(c.funder, types.LatestSignerForChainID(c.ChainID()), &types.DynamicFeeTx{
		ChainID: c.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &to, Value: wei,
	})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := c.inproc.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	return tx, nil
}

// WaitReceipt waits until the transaction hash is in a sealed block that is
// synced to disk and returns its receipt, or ctx ends, or the chain closes.
// NB: over JSON-RPC a receipt can be seen a moment (one fsync) before its
// block is synced; this one cannot, so what a caller acknowledges after
// WaitReceipt survives a crash.
func (c *Chain) WaitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	ticker := time.NewTicker(receiptPollInterval)
	defer ticker.Stop()
	for {
		// Taken before looking, so a block sealed in between is not missed.
		next, synced, failed := c.sealer.nextBlock()
		receipt, err := c.inproc.TransactionReceipt(ctx, hash)
		if err == nil && receipt.BlockNumber.Uint64() <= synced {
			return receipt, nil
		}
		if err == nil {
			err = ethereum.NotFound // sealed, not yet synced: wait for announce
		}
		if !errors.Is(err, ethereum.NotFound) && !isIndexing(err) {
			return nil, fmt.Errorf("receipt of %s: %w", hash, err)
		}
		if failed {
			return nil, ErrClosed
		}
		select {
		case <-next:
		case <-ticker.C:
		case <-c.sealer.quit:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt of %s: %w", hash, ctx.Err())
		}
	}
}

// isIndexing reports geth's "transaction indexing is in progress", which it
// answers for a missing receipt until its index has caught up after a start.
func isIndexing(err error) bool {
	return strings.Contains(err.Error(), "transaction indexing is in progress")
}
