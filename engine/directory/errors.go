package directory

import (
	"errors"
	"fmt"
)

// Errors of the directory. They say what went wrong in the access layer's
// terms; httpapi maps them to HTTP in its one error table (errorOf). An
// error from the engine (a write that could not be made durable) is
// returned wrapped, as it is: errors.Is finds engine.ErrUnavailable in it.
var (
	// ErrNotFound: no such user, account or key, or one that belongs to
	// another user (never reported as forbidden, so ids cannot be probed).
	ErrNotFound = errors.New("directory: not found")
	// ErrAlreadyExists: the email or address has a user already.
	ErrAlreadyExists = errors.New("directory: already exists")
	// ErrLimitExceeded: a creation past a cap; the error is a *LimitError
	// that names the cap.
	ErrLimitExceeded = errors.New("directory: limit exceeded")
	// ErrWalletBound: the wallet binds another account of the environment
	// already, or the account has another wallet.
	ErrWalletBound = errors.New("directory: the wallet or the account is bound already")
	// ErrKeyRevoked: the key is revoked, so it cannot be rotated.
	ErrKeyRevoked = errors.New("directory: the key is revoked")
	// ErrInvalidToken: the refresh token's family is unknown, revoked or
	// expired, its user is gone, or (when ending a session) the token is
	// not the family's latest.
	ErrInvalidToken = errors.New("directory: the refresh token is not valid")
	// ErrTokenReused: an earlier refresh token of a live family was
	// presented. It leaked or was replayed, so the family is now revoked.
	ErrTokenReused = errors.New("directory: an earlier refresh token was presented; its family is revoked")
)

// Cap names one of the directory's creation caps.
type Cap int

const (
	CapAccountsPerUser Cap = iota + 1
	CapKeysPerAccount
)

// LimitError is ErrLimitExceeded (errors.Is) for one cap, with its value.
type LimitError struct {
	Cap Cap
	Max int
}

func (e *LimitError) Error() string {
	switch e.Cap {
	case CapAccountsPerUser:
		return fmt.Sprintf("directory: a user may own at most %d accounts", e.Max)
	case CapKeysPerAccount:
		return fmt.Sprintf("directory: an account may have at most %d keys, revoked ones included", e.Max)
	}
	return fmt.Sprintf("directory: limit %d of cap %d exceeded", e.Max, e.Cap)
}

func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }
