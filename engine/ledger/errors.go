package ledger

import (
	"errors"
	"fmt"
)

// The operating errors of the ledger rules. The engine re-exports them, and
// the HTTP layer maps each to a status in one table.
var (
	ErrInvalid             = errors.New("invalid request")
	ErrInsufficientFunds   = errors.New("insufficient funds")
	ErrOverflow            = errors.New("amount overflows 128 bits")
	ErrNotFound            = errors.New("not found")
	ErrAlreadyExists       = errors.New("already exists")
	ErrLedgerMismatch      = errors.New("accounts are in different ledgers")
	ErrInvalidState        = errors.New("invalid state")
	ErrIdempotencyConflict = errors.New("client id reused with different content")
	ErrBudgetExceeded      = errors.New("spender budget exceeded")
	// ErrLimitExceeded refuses what would take an account past one of its
	// per-account limits (limits.go); it is refused until something is
	// released (e.g. an open hold captured or voided).
	ErrLimitExceeded = errors.New("account limit exceeded")

	errInvalidSpender = fmt.Errorf("%w: spender id must be 1-%d printable bytes", ErrInvalid, SpenderIDBytesMax)
	errInvalidMemo    = fmt.Errorf("%w: memo must be at most %d bytes", ErrInvalid, MemoBytesMax)

	errTooManyHolds     = fmt.Errorf("%w: an account may have at most %d open holds", ErrLimitExceeded, HoldsPerAccountMax)
	errHoldMemosTooLong = fmt.Errorf("%w: the memos of an account's open holds may take at most %d bytes", ErrLimitExceeded, HoldMemoBytesPerAccountMax)
	errTooManySpenders  = fmt.Errorf("%w: an account may have at most %d budgeted spenders", ErrLimitExceeded, SpendersPerAccountMax)
)
