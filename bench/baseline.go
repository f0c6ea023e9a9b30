package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollway/tollway/engine"
)

// A Baseline is a way users build per-call debits without Tollway, doing the
// same work per operation: idempotency check, balance check, debit the
// consumer, credit the supplier (and the fee), record the idempotency key,
// durable before the reply.
//
// Accounts are indexes: consumers 0..consumers-1 and suppliers
// 0..suppliers-1 as given to Setup, plus one fee account. A debit that
// fails (insufficient funds) records nothing, so retrying its key decides
// again, as Tollway does.
type Baseline interface {
	Name() string  // e.g. "redis-aof-always", "redis-aof-everysec", "postgres"
	Durable() bool // false for appendfsync everysec ("not durable per operation")
	// Setup creates the accounts and funds every consumer with funding base
	// units. REQUIRES: called once, before any Debit.
	Setup(ctx context.Context, consumers, suppliers int, funding uint64) error
	// Debit moves amount from consumer to supplier, the fee to the fee
	// account. It returns nil for a replay of a recorded key with the same
	// consumer, supplier and amount, ErrIdempotencyConflict for a recorded
	// key with others, and ErrInsufficientFunds when the consumer cannot pay.
	// The fee is amount*feeBps/10000 rounded down; a zero fee leaves the fee
	// account alone.
	Debit(ctx context.Context, idempotencyKey string, consumer, supplier int, amount uint64) error
	// Totals returns, for verification, the sums of the consumers', the
	// suppliers' and the fee account's balances and the number of recorded
	// debits. It fails if any balance is negative.
	Totals(ctx context.Context) (consumers, suppliers, fees uint64, debits int, err error)
	Process() *Process
	Close() error // closes clients and stops the server process
}

// Errors of a debit, the engine's own, so a run counts outcomes alike for
// Tollway and every baseline.
var (
	ErrInsufficientFunds   = engine.ErrInsufficientFunds
	ErrIdempotencyConflict = engine.ErrIdempotencyConflict
)

// ErrServerNotInstalled means a baseline's server binary was not found;
// bench/install-baselines.sh installs them.
var ErrServerNotInstalled = errors.New("server not installed (run bench/install-baselines.sh)")

const (
	// baselineAmountMax bounds amounts and the total funding: Redis's Lua
	// compares balances as doubles, exact up to 2^53. Every balance is at
	// most the total funding, so no sum overflows either.
	baselineAmountMax = 1 << 53
	// basisPointsMax is a fee of 100%.
	basisPointsMax = 10_000
	// baselineAccountsMax bounds Setup's accounts.
	baselineAccountsMax = 10_000_000
)

// baselineFee is the fee on amount at feeBps basis points, rounded down:
// the engine's rule (Amount.FeeOf), computed without overflow as
// amount = q*10000 + r.
func baselineFee(amount uint64, feeBps uint32) uint64 {
	q, r := amount/basisPointsMax, amount%basisPointsMax
	return q*uint64(feeBps) + r*uint64(feeBps)/basisPointsMax
}

// checkBaselineOptions validates what both constructors take.
func checkBaselineOptions(workers int, feeBps uint32) error {
	if workers < 1 {
		return fmt.Errorf("%w: %d workers, want at least 1", engine.ErrInvalid, workers)
	}
	if feeBps > basisPointsMax {
		return fmt.Errorf("%w: fee of %d basis points, above %d", engine.ErrInvalid, feeBps, basisPointsMax)
	}
	return nil
}

// checkSetup validates Setup's arguments.
func checkSetup(consumers, suppliers int, funding uint64) error {
	if consumers < 1 || suppliers < 1 || consumers+suppliers > baselineAccountsMax {
		return fmt.Errorf("%w: %d consumers and %d suppliers, want 1 or more each and %d in all at most",
			engine.ErrInvalid, consumers, suppliers, baselineAccountsMax)
	}
	if funding > baselineAmountMax/uint64(consumers) {
		return fmt.Errorf("%w: funding %d for %d consumers is above %d in all", engine.ErrInvalid, funding, consumers, uint64(baselineAmountMax))
	}
	return nil
}

// checkDebit validates a debit's accounts and amount.
func checkDebit(consumers, suppliers, consumer, supplier int, amount uint64) error {
	if consumers == 0 {
		return fmt.Errorf("%w: debit before setup", engine.ErrInvalidState)
	}
	if consumer < 0 || consumer >= consumers || supplier < 0 || supplier >= suppliers {
		return fmt.Errorf("%w: consumer %d or supplier %d outside %d and %d", engine.ErrNotFound, consumer, supplier, consumers, suppliers)
	}
	if amount == 0 || amount > baselineAmountMax {
		return fmt.Errorf("%w: amount %d, want 1 to %d", engine.ErrInvalid, amount, uint64(baselineAmountMax))
	}
	return nil
}
