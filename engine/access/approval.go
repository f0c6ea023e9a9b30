package access

import (
	"fmt"
	"slices"
)

// KeyRole is what a key is for besides spending and reading: a standard
// key ("") acts for its account; an arbiter key decides approvals as role
// arbiter, a second service independent of the agent whose spend waits.
type KeyRole string

const (
	KeyRoleStandard KeyRole = ""
	KeyRoleArbiter  KeyRole = "arbiter"
)

// Approvers of an approval policy, named as engine/approvals names its
// roles (this package imports only the standard library, so a test of
// engine/directory checks that the names agree).
const (
	ApproverOwner   = "owner"
	ApproverArbiter = "arbiter"
)

// Bounds of a policy's expiry: engine/approvals ExpiresInMin and
// ExpiresInMax in seconds (a test of engine/directory checks that they
// agree).
const (
	ApprovalExpiresInSecondsMin = 60
	ApprovalExpiresInSecondsMax = 7 * 24 * 60 * 60
)

// approvalAboveDigitsMax bounds Above: 2^128 has 39 decimal digits.
// Whether the number fits engine.Amount is engine/directory's check, which
// may import the engine.
const approvalAboveDigitsMax = 39

// ApprovalPolicy is a key's approval rule as stored: a charge or hold by
// the key above Above (decimal base units) waits until every role of
// Approvers approved it, for at most ExpiresInSeconds.
type ApprovalPolicy struct {
	Above            string   `json:"above"`
	Approvers        []string `json:"approvers"` // ["owner"] or ["owner", "arbiter"]
	ExpiresInSeconds int64    `json:"expiresInSeconds"`
}

// FieldError is an ErrInvalid that names the request field at fault, so
// the HTTP layer can answer 400 about that field.
type FieldError struct {
	Field  string // as the key creation request spells it, e.g. "approval.above"
	Reason string // completes "<field> …", e.g. "must be …"
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s %s", ErrInvalid, e.Field, e.Reason) }

// Unwrap makes a FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks the policy's own fields: Above a positive decimal
// without leading zeros, Approvers exactly ["owner"] or ["owner",
// "arbiter"], the expiry within its bounds.
func (p *ApprovalPolicy) Validate() error {
	if !positiveDecimal(p.Above) {
		return &FieldError{"approval.above", `must be a positive integer string, e.g. "100000"`}
	}
	if err := ValidateApprovers(p.Approvers); err != nil {
		return err
	}
	return ValidateApprovalExpiresIn(p.ExpiresInSeconds)
}

// ValidateApprovers accepts ["owner"] or ["owner", "arbiter"]: the owner
// always decides, so an arbiter never spends the owner's money alone, and
// the order is fixed so that a policy has one spelling.
func ValidateApprovers(approvers []string) error {
	if slices.Equal(approvers, []string{ApproverOwner}) || slices.Equal(approvers, []string{ApproverOwner, ApproverArbiter}) {
		return nil
	}
	return &FieldError{"approval.approvers", `must be ["owner"] or ["owner","arbiter"]`}
}

// ValidateApprovalExpiresIn accepts an expiry within its bounds.
func ValidateApprovalExpiresIn(seconds int64) error {
	if seconds < ApprovalExpiresInSecondsMin || seconds > ApprovalExpiresInSecondsMax {
		return &FieldError{"approval.expiresInSeconds",
			fmt.Sprintf("must be an integer from %d to %d", ApprovalExpiresInSecondsMin, ApprovalExpiresInSecondsMax)}
	}
	return nil
}

func positiveDecimal(s string) bool {
	if s == "" || len(s) > approvalAboveDigitsMax || s[0] == '0' {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidateRole checks how k's role fits its kind, scopes, budget and
// approval policy (not the policy's own fields: see ApprovalPolicy.Validate).
//
// An arbiter key must be secret (it writes decisions) and hold
// approvals:write, and may hold nothing beyond ScopesArbiter, no budget and
// no approval policy: it decides and never spends, so the key that waits
// for a decision can never be the key that makes it. A key with an
// approval policy must be secret, as only secret keys spend.
//
// NB: approvals:write on a standard key (with "*", say) decides nothing:
// deciding takes role arbiter too.
func (k *Key) ValidateRole() error {
	switch k.Role {
	case KeyRoleStandard:
		if k.Approval != nil && k.Kind != KeySecret {
			return &FieldError{"approval", "needs a secret key: a publishable key cannot spend"}
		}
		return nil
	case KeyRoleArbiter:
	default:
		return &FieldError{"role", `must be "arbiter" or "standard"`}
	}
	switch {
	case k.Kind != KeySecret:
		return &FieldError{"kind", `must be "secret" for an arbiter key`}
	case !k.Scopes.Has(ScopeApprovalsWrite):
		return &FieldError{"scopes", "must include approvals:write for an arbiter key"}
	case !ScopesArbiter.Has(k.Scopes):
		return &FieldError{"scopes", "may hold only approvals:read and approvals:write for an arbiter key"}
	case k.Approval != nil:
		return &FieldError{"approval", "must be absent for an arbiter key: it decides approvals, it does not wait for them"}
	case k.Budget != nil:
		return &FieldError{"budget", "must be absent for an arbiter key: it cannot spend"}
	}
	return nil
}

// ValidateApprovalRules checks k's role and, if it has one, its approval
// policy: what a key record must satisfy before it is stored.
func (k *Key) ValidateApprovalRules() error {
	if err := k.ValidateRole(); err != nil {
		return err
	}
	if k.Approval != nil {
		return k.Approval.Validate()
	}
	return nil
}
