package chain

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
//
// The same pass follows the pool's withdrawals, so that what a wallet is
// about to take out can no longer be spent off chain: a WithdrawalRequested
// reserves what the bound account has available toward the chain account
// (engine.ReserveWithdrawal, client id wdr:<tx>:<log index>; a new request
// replaces the last, as on chain), and a Withdrawn releases it and pays out
// what the pool paid (engine.CompleteWithdrawal, wd:<tx>:<log index>). A
// wallet no account binds has no off-chain balance: its withdrawals are
// logged and skipped.

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
	// OnWithdrawalRequested, if set, is called once a withdrawal requested
	// by a bound wallet is reserved durably, with when the pool lets it
	// complete, so that the wallet's charges can be settled before then.
	// It runs on the watcher's goroutine, at least once per request: again
	// when the watcher reads the request's block again (after a restart),
	// even if the withdrawal has completed since. It must not block long.
	OnWithdrawalRequested func(wallet common.Address, availableAt time.Time)

	pool        *contracts.SettlementPool
	depositID   common.Hash // the Deposited event's topic
	requestedID common.Hash // WithdrawalRequested's
	withdrawnID common.Hash // Withdrawn's
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
// ones whose wallet is bound now, and applies the confirmed withdrawal
// requests and withdrawals of bound wallets, in log order.
func (w *Watcher) Poll(ctx context.Context) error {
	if w.pool == nil {
		parsed, err := contracts.SettlementPoolMetaData.ParseABI()
		if err != nil {
			return fmt.Errorf("chain: the pool's ABI: %w", err)
		}
		w.pool, w.depositID = contracts.NewSettlementPool(), parsed.Events[contracts.SettlementPoolDepositedEventName].ID
		w.requestedID = parsed.Events[contracts.SettlementPoolWithdrawalRequestedEventName].ID
		w.withdrawnID = parsed.Events[contracts.SettlementPoolWithdrawnEventName].ID
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

// scan applies the deposits and withdrawals of blocks from..to, in log
// order: one query for the three events.
func (w *Watcher) scan(ctx context.Context, from, to uint64) error {
	logs, err := w.Client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
		Addresses: []common.Address{w.Pool},
		Topics:    [][]common.Hash{{w.depositID, w.requestedID, w.withdrawnID}},
	})
	if err != nil {
		return fmt.Errorf("chain: logs of blocks %d-%d: %w", from, to, err)
	}
	for i := range logs {
		if logs[i].Removed || len(logs[i].Topics) == 0 {
			continue
		}
		if err := w.apply(ctx, &logs[i]); err != nil {
			return err
		}
	}
	return nil
}

// apply applies one of the pool's logs.
func (w *Watcher) apply(ctx context.Context, log *types.Log) error {
	switch log.Topics[0] {
	case w.depositID:
		deposit, err := w.pool.UnpackDepositedEvent(log)
		if err != nil {
			return fmt.Errorf("chain: deposit in %s: %w", log.TxHash, err)
		}
		return w.credit(ctx, logID("dep", log), deposit.Account, deposit.Amount)
	case w.requestedID:
		request, err := w.pool.UnpackWithdrawalRequestedEvent(log)
		if err != nil {
			return fmt.Errorf("chain: withdrawal request in %s: %w", log.TxHash, err)
		}
		return w.reserve(ctx, logID("wdr", log), request)
	case w.withdrawnID:
		withdrawal, err := w.pool.UnpackWithdrawnEvent(log)
		if err != nil {
			return fmt.Errorf("chain: withdrawal in %s: %w", log.TxHash, err)
		}
		return w.complete(ctx, logID("wd", log), withdrawal)
	}
	return nil
}

// logID is the client id of what a log does: its kind (dep, wdr, wd), its
// transaction and its log index.
func logID(kind string, log *types.Log) engine.TransferID {
	return engine.TransferID(fmt.Sprintf("%s:%s:%d", kind, log.TxHash.Hex(), log.Index))
}

// reserve reserves, on the account bound to the requesting wallet, what
// the withdrawal may take, then tells OnWithdrawalRequested.
func (w *Watcher) reserve(ctx context.Context, id engine.TransferID, request *contracts.SettlementPoolWithdrawalRequested) error {
	account, bound := w.Wallets(request.Account)
	if !bound {
		w.Logger.Info("withdrawal requested by a wallet no account binds: nothing to reserve",
			"wallet", request.Account.Hex(), "amount", request.Amount.String(), "id", id)
		return nil
	}
	// The pool asks at most a wallet's deposits; a request above what one
	// operation may move reserves all the account has all the same.
	requested := request.Amount
	if requested.Cmp(operationMax) > 0 {
		requested = operationMax
	}
	amount, err := engine.ParseAmount(requested.String())
	if err != nil {
		return fmt.Errorf("chain: withdrawal request %s of %s: %w", id, request.Amount, err)
	}
	if _, err := w.Engine.ReserveWithdrawal(ctx, id, account, amount); err != nil {
		return fmt.Errorf("chain: reserve withdrawal %s of %s: %w", id, account, err)
	}
	if w.OnWithdrawalRequested != nil {
		availableAt := time.Unix(1<<62, 0).UTC() // a time the pool cannot have set (it sets now + its delay): the farthest
		if request.AvailableAt.IsInt64() && request.AvailableAt.Int64() < 1<<62 {
			availableAt = time.Unix(request.AvailableAt.Int64(), 0).UTC()
		}
		w.OnWithdrawalRequested(request.Account, availableAt)
	}
	return nil
}

// operationMax is ledger.AmountPerOperationMax, the most one engine
// operation moves.
var operationMax = new(big.Int).SetUint64(math.MaxUint64)

// complete releases the withdrawing account's reservation and pays out
// what the pool paid. A withdrawal the ledger cannot record (more than the
// account holds off chain: its charges were not settled before the
// withdrawal completed, which the pool's delay exists to prevent) is
// logged as an error and skipped, rather than stop the watcher at its
// block for good; the reservation stays until the wallet's next request.
func (w *Watcher) complete(ctx context.Context, id engine.TransferID, withdrawal *contracts.SettlementPoolWithdrawn) error {
	account, bound := w.Wallets(withdrawal.Account)
	if !bound {
		w.Logger.Info("withdrawal by a wallet no account binds: nothing to pay out",
			"wallet", withdrawal.Account.Hex(), "amount", withdrawal.Amount.String(), "id", id)
		return nil
	}
	var err error
	if withdrawal.Amount.Cmp(operationMax) > 0 {
		err = fmt.Errorf("%w: above what one operation moves", engine.ErrInvalid)
	} else {
		amount, parseErr := engine.ParseAmount(withdrawal.Amount.String())
		if parseErr != nil {
			return fmt.Errorf("chain: withdrawal %s of %s: %w", id, withdrawal.Amount, parseErr)
		}
		_, err = w.Engine.CompleteWithdrawal(ctx, id, account, amount)
	}
	switch {
	case errors.Is(err, engine.ErrInsufficientFunds) || errors.Is(err, engine.ErrInvalid):
		w.Logger.Error("withdrawal paid on chain that the ledger cannot record: the account holds less off chain",
			"wallet", withdrawal.Account.Hex(), "account", account, "amount", withdrawal.Amount.String(), "id", id, "error", err)
		return nil
	case err != nil:
		return fmt.Errorf("chain: complete withdrawal %s of %s: %w", id, account, err)
	}
	return nil
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
