package approvals

import (
	"errors"
	"fmt"
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
	// ReservationGrace is how long a charge's reservation outlives its
	// approval's expiry, so the engine never expires the hold before the
	// service has (its expiry releases it at ExpiresAt, a decision just
	// before it executes within the grace). Only a service down for longer
	// leaves the release to the engine.
	ReservationGrace = 5 * time.Minute
	// OwnerBytesMax and DeciderBytesMax bound an owner's user id and a
	// decision's By (a user id, a wallet address or a key id).
	OwnerBytesMax   = 64
	DeciderBytesMax = 128
	// KeyIDBytesMax bounds the requesting key's id (a budget's spender).
	KeyIDBytesMax = 64
	// ListLimitMax bounds a page of List; ListLimitDefault is a page's
	// length when the query names none.
	ListLimitMax     = 100
	ListLimitDefault = 20
)

// Policy is a key's approval rule: a charge or hold by the key above
// Above waits for every role of Approvers, for at most ExpiresIn.
type Policy struct {
	Above     engine.Amount
	Approvers []Role // "owner", or "owner" and "arbiter"
	ExpiresIn time.Duration
}

// Applies reports whether a spend of amount waits for approval: it is
// above the threshold.
func (p Policy) Applies(amount engine.Amount) bool { return amount.Cmp(p.Above) > 0 }

// Validate checks a policy as a key's creation takes it: one or two
// distinct known roles, an expiry within [ExpiresInMin, ExpiresInMax].
func (p Policy) Validate() error {
	if len(p.Approvers) == 0 || len(p.Approvers) > 2 {
		return fmt.Errorf("%w: approvers must name 1 or 2 roles", ErrInvalid)
	}
	for i, role := range p.Approvers {
		if !role.Valid() {
			return fmt.Errorf("%w: approver %q is not a role", ErrInvalid, role)
		}
		for _, earlier := range p.Approvers[:i] {
			if earlier == role {
				return fmt.Errorf("%w: approver %q named twice", ErrInvalid, role)
			}
		}
	}
	if p.ExpiresIn < ExpiresInMin || p.ExpiresIn > ExpiresInMax {
		return fmt.Errorf("%w: expiry %v outside [%v, %v]", ErrInvalid, p.ExpiresIn, ExpiresInMin, ExpiresInMax)
	}
	return nil
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleArbiter }

// Decision is one role's decision.
type Decision struct {
	Role     Role      `json:"role"`
	By       string    `json:"by"` // the user id, wallet address or arbiter key id that decided
	Approved bool      `json:"approved"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
	// Request fingerprints the request that made the decision (its
	// Idempotency-Key and content, as the caller derives it), "" without
	// one: kept with the decision, so that a retry of that request after
	// a restart, when the caller's stored responses are gone, is known
	// for the same decision rather than a second one.
	Request string `json:"request,omitempty"`
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
	// ErrOwnKey refuses a decision by the key whose spend waits: the agent
	// never approves itself.
	ErrOwnKey = errors.New("approvals: the requesting key cannot decide")
)

// Request is a spend held back for approval. ID is the approval's id (and
// its reservation's client id): the caller derives it from the request's
// idempotency key, so a retry names the same approval, or draws it at
// random. Budget is the key's budget, which the reservation counts against
// as the spend would.
type Request struct {
	ID     engine.TransferID
	Kind   Kind
	KeyID  string
	Owner  string // the payer account's owner (user id)
	From   engine.AccountID
	To     engine.AccountID
	Amount engine.Amount
	Memo   string // the spend's metadata, canonical
	Budget engine.Budget
	// HoldTimeout is a hold's timeout as the client asked (KindHold only).
	HoldTimeout time.Duration
	Policy      Policy
}

// Approval is an approval's record, as the table keeps it.
type Approval struct {
	ID     engine.TransferID `json:"id"`
	Kind   Kind              `json:"kind"`
	KeyID  string            `json:"keyId"`
	Owner  string            `json:"owner"`
	From   engine.AccountID  `json:"from"`
	To     engine.AccountID  `json:"to"`
	Amount engine.Amount     `json:"amount"`
	Memo   string            `json:"memo,omitempty"`
	// HoldTimeout is the client's hold timeout (KindHold).
	HoldTimeout time.Duration `json:"holdTimeout,omitempty"`
	Required    []Role        `json:"required"`
	Decisions   []Decision    `json:"decisions"`
	State       State         `json:"state"`
	// TransferID is the charge or hold made (EXECUTED): the reservation's
	// id, which is the approval's.
	TransferID engine.TransferID `json:"transferId,omitempty"`
	Error      string            `json:"error,omitempty"` // FAILED: the engine's refusal
	CreatedAt  time.Time         `json:"createdAt"`
	ExpiresAt  time.Time         `json:"expiresAt"`
	// DecidedAt is when it became terminal, or APPROVED; EXPIRED ones at
	// ExpiresAt.
	DecidedAt time.Time `json:"decidedAt,omitzero"`
}

// Query selects approvals for List: of one owner's accounts, or of one
// payer account (exactly one of the two), newest first, in State if set,
// after the approval After (the previous page's Next), at most Limit
// (ListLimitDefault if 0, at most ListLimitMax).
type Query struct {
	Owner   string
	Account engine.AccountID
	State   State
	After   engine.TransferID
	Limit   int
}

// Page is one page of List; Next, when not empty, is the After of the
// next page.
type Page struct {
	Approvals []Approval
	Next      engine.TransferID
}
