package approvals

import (
	"errors"
	"time"

	"github.com/tollway/tollway/engine"
)

// Role is who may decide an approval.
type Role string

const (
	// RoleOwner is the payer account's owner: by their JWT, or by a
	// signature of their Sign-In with Ethereum wallet.
	RoleOwner Role = "owner"
	// RoleArbiter is a key of the same owner created with role arbiter
	// (and scope approvals:write): a second, independent service.
	RoleArbiter Role = "arbiter"
)

// Kind is the spend an approval holds back.
type Kind string

const (
	KindCharge Kind = "charge"
	KindHold   Kind = "hold"
)

// State is where an approval is in its life. PENDING until every
// required role approved (APPROVED, then EXECUTED once its transfer is
// durable, or FAILED if executing it was refused), or one rejected
// (REJECTED), or it passed its expiry (EXPIRED). REJECTED, EXPIRED and
// FAILED release the reservation.
type State string

const (
	StatePending  State = "PENDING"
	StateApproved State = "APPROVED"
	StateExecuted State = "EXECUTED"
	StateRejected State = "REJECTED"
	StateExpired  State = "EXPIRED"
	StateFailed   State = "FAILED"
)

// Terminal reports whether nothing more happens to an approval in s.
func (s State) Terminal() bool {
	return s == StateExecuted || s == StateRejected || s == StateExpired || s == StateFailed
}

// Limits, each a named constant (the HTTP layer answers past one with a
// 4xx naming it).
const (
	// IDPrefix leads an approval's id. The approval's reservation is an
	// engine hold under the same id.
	IDPrefix = "apr_"
	// PendingPerAccountMax bounds the approvals PENDING on one payer
	// account (each is an open hold among its HoldsPerAccountMax).
	PendingPerAccountMax = 1000
	// PendingPerKeyMax bounds the approvals PENDING for one key.
	PendingPerKeyMax = 100
	// ReasonBytesMax bounds a decision's reason.
	ReasonBytesMax = 500
	// ExpiresInMin and ExpiresInMax bound a policy's expiry.
	ExpiresInMin = time.Minute
	ExpiresInMax = 7 * 24 * time.Hour
)

// Policy is a key's approval rule: a charge or hold by the key above
// Above waits for every role of Approvers, for at most ExpiresIn.
type Policy struct {
	Above     engine.Amount
	Approvers []Role // "owner", or "owner" and "arbiter"
	ExpiresIn time.Duration
}

// Decision is one role's decision.
type Decision struct {
	Role     Role      `json:"role"`
	By       string    `json:"by"` // the user id, wallet address or arbiter key id that decided
	Approved bool      `json:"approved"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// Errors, matched with errors.Is.
var (
	ErrNotFound    = errors.New("approvals: not found")
	ErrInvalid     = errors.New("approvals: invalid")
	ErrDecided     = errors.New("approvals: this role has decided already")
	ErrNotPending  = errors.New("approvals: not pending")
	ErrNotRequired = errors.New("approvals: role not required")
	ErrLimit       = errors.New("approvals: too many pending approvals")
	ErrIDConflict  = errors.New("approvals: id reused with another request")
	ErrUnavailable = errors.New("approvals: unavailable")
)
