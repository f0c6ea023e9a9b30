package chain

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/engine"
)

// The deposit watcher follows the pool's Deposited events and credits the
// account bound to each depositing wallet, once per (transaction, log
// index): the credit's client id is derived from them, so the engine
// applies it at most once whatever the watcher does again. It reads blocks
// by range, only those with Confirmations blocks on top (a reorganization
// within that depth cannot credit twice, nor credit what disappears), and
// records the last block it finished in the engine's table, after the
// credits of that range are durable: a restart reads the range again and
// the repeated credits are replays.
//
// A deposit to a wallet no account binds yet waits in the table (one row
// per deposit) and is credited once an account binds the wallet.

// Watcher limits.
const (
	// WatchBlocksMax bounds the blocks one eth_getLogs asks for.
	WatchBlocksMax = 1000
	// WatchInterval is how often the watcher looks for new blocks.
	WatchInterval = time.Second
	// PendingDepositsMax bounds the deposits kept for unbound wallets; past
	// it the oldest are still on chain (a later binding does not see
	// them), and the watcher logs it.
	PendingDepositsMax = 100_000
)

// Table keys of the watcher.
const (
	watchCursorKey = "chain/watch/cursor"
	pendingPrefix  = "chain/watch/pending/"
)

// WalletDirectory finds the account a wallet binds, in the watcher's
// environment (the directory's AccountByWallet).
type WalletDirectory func(address common.Address) (account engine.AccountID, ok bool)

// Watcher follows one pool.
type Watcher struct {
	Engine *engine.Engine
	Client ethereum.LogFilterer
	Heads  interface {
		BlockNumber(context.Context) (uint64, error)
	}
	Pool          common.Address
	Confirmations uint64
	Wallets       WalletDirectory
	Logger        *slog.Logger

	pool      *contracts.SettlementPool
	depositID common.Hash // the Deposited event's topic
}

// Run watches until ctx ends, every WatchInterval. A failed pass is logged
// and tried again at the next.
func (w *Watcher) Run(ctx context.Context) {
	ticker := time.NewTicker(WatchInterval)
	defer ticker.Stop()
	for {
		if err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Warn("deposit watcher", "error", err)
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// Poll credits every confirmed deposit not yet credited, and the waiting
// ones whose wallet is bound now.
func (w *Watcher) Poll(ctx context.Context) error {
	if w.pool == nil {
		parsed, err := contracts.SettlementPoolMetaData.ParseABI()
		if err != nil {
			return fmt.Errorf("chain: the pool's ABI: %w", err)
		}
		w.pool, w.depositID = contracts.NewSettlementPool(), parsed.Events["Deposited"].ID
	}
	if err := w.creditPending(ctx); err != nil {
		return err
	}
	head, err := w.Heads.BlockNumber(ctx)
	if err != nil {
		return fmt.Errorf("chain: head: %w", err)
	}
	if head < w.Confirmations {
		return nil
	}
	confirmed := head - w.Confirmations
	from, err := w.cursor()
	if err != nil {
		return err
	}
	for from <= confirmed {
		to := min(confirmed, from+WatchBlocksMax-1)
		if err := w.scan(ctx, from, to); err != nil {
			return err
		}
		if _, err := w.Engine.WriteRows(ctx, engine.Row{Key: []byte(watchCursorKey), Value: binary.BigEndian.AppendUint64(nil, to+1)}); err != nil {
			return fmt.Errorf("chain: record block %d: %w", to, err)
		}
		from = to + 1
	}
	return nil
}

// cursor returns the next block to read (0 for a new watcher).
func (w *Watcher) cursor() (uint64, error) {
	var next uint64
	err := w.Engine.ScanRows([]byte(watchCursorKey), func(_, value []byte) error {
		if len(value) != 8 {
			return errors.New("chain: corrupt watcher cursor")
		}
		next = binary.BigEndian.Uint64(value)
		return nil
	})
	return next, err
}

// scan credits the deposits of blocks from..to.
func (w *Watcher) scan(ctx context.Context, from, to uint64) error {
	logs, err := w.Client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
		Addresses: []common.Address{w.Pool},
		Topics:    [][]common.Hash{{w.depositID}},
	})
	if err != nil {
		return fmt.Errorf("chain: logs of blocks %d-%d: %w", from, to, err)
	}
	for i := range logs {
		if logs[i].Removed {
			continue
		}
		deposit, err := w.pool.UnpackDepositedEvent(&logs[i])
		if err != nil {
			return fmt.Errorf("chain: deposit in %s: %w", logs[i].TxHash, err)
		}
		if err := w.credit(ctx, depositID(&logs[i]), deposit.Account, deposit.Amount); err != nil {
			return err
		}
	}
	return nil
}

// depositID is a deposit's credit client id: its transaction and log index.
func depositID(log *types.Log) engine.TransferID {
	return engine.TransferID(fmt.Sprintf("dep:%s:%d", log.TxHash.Hex(), log.Index))
}

// credit credits the account bound to wallet, or keeps the deposit for
// when one binds it.
func (w *Watcher) credit(ctx context.Context, id engine.TransferID, wallet common.Address, amount *big.Int) error {
	account, bound := w.Wallets(wallet)
	if !bound {
		row := engine.Row{Key: []byte(pendingPrefix + wallet.Hex() + "/" + string(id)), Value: []byte(amount.String())}
		if _, err := w.Engine.WriteRows(ctx, row); err != nil {
			return fmt.Errorf("chain: keep deposit %s: %w", id, err)
		}
		return nil
	}
	value, err := engine.ParseAmount(amount.String())
	if err != nil {
		return fmt.Errorf("chain: deposit %s of %s: %w", id, amount, err)
	}
	if _, err := w.Engine.Credit(ctx, id, account, value); err != nil {
		return fmt.Errorf("chain: credit deposit %s to %s: %w", id, account, err)
	}
	return nil
}

// creditPending credits the waiting deposits whose wallet is bound now,
// and forgets them.
func (w *Watcher) creditPending(ctx context.Context) error {
	type pending struct {
		key    []byte
		id     engine.TransferID
		wallet common.Address
		amount *big.Int
	}
	var ready []pending
	scanned := 0
	err := w.Engine.ScanRows([]byte(pendingPrefix), func(key, value []byte) error {
		if scanned++; scanned > PendingDepositsMax {
			return errPendingFull
		}
		rest := strings.TrimPrefix(string(key), pendingPrefix)
		walletHex, id, ok := strings.Cut(rest, "/")
		amount, amountOK := new(big.Int).SetString(string(value), 10)
		if !ok || !common.IsHexAddress(walletHex) || !amountOK {
			return fmt.Errorf("chain: corrupt pending deposit %q", key)
		}
		if _, bound := w.Wallets(common.HexToAddress(walletHex)); bound {
			ready = append(ready, pending{append([]byte(nil), key...), engine.TransferID(id), common.HexToAddress(walletHex), amount})
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPendingFull) {
		return err
	}
	for _, p := range ready {
		if err := w.credit(ctx, p.id, p.wallet, p.amount); err != nil {
			return err
		}
		if _, err := w.Engine.WriteRows(ctx, engine.Row{Key: p.key}); err != nil { // credited: forget it
			return fmt.Errorf("chain: forget deposit %s: %w", p.id, err)
		}
	}
	return nil
}

var errPendingFull = errors.New("pending deposits scanned to their bound")
