package access

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of the access rules. Match them with errors.Is.
var (
	ErrInvalid      = errors.New("invalid")
	ErrKeyRevoked   = errors.New("key revoked")
	ErrKeyExpired   = errors.New("key expired")
	ErrMissingScope = errors.New("missing scope")
	ErrRateLimited  = errors.New("rate limited")
)

// Environment separates test money from live money: accounts, keys and
// ledgers of one environment never touch the other's.
type Environment string

const (
	EnvironmentTest Environment = "test"
	EnvironmentLive Environment = "live"
)

// ParseEnvironment accepts "test" or "live".
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case EnvironmentTest, EnvironmentLive:
		return Environment(s), nil
	}
	return "", fmt.Errorf("%w: environment must be \"test\" or \"live\"", ErrInvalid)
}

// Asset is the one asset accounts hold for now.
const Asset = "USDC"

// Ledger returns the id of the environment's ledger of Asset.
func (e Environment) Ledger() string { return string(e) + ":" + Asset }

// Scope is one permission of an API key.
type Scope uint16

// Scopes, as API.md names them.
const (
	ScopeChargesWrite Scope = 1 << iota
	ScopeHoldsWrite
	ScopeSessionsWrite
	ScopeSessionsRead
	ScopeBalanceRead
	ScopeUsageRead
	ScopeSettlementsRead
	ScopeX402Facilitate
	ScopeGatewayCall
	ScopeApprovalsRead
	ScopeApprovalsWrite
	scopeEnd

	// ScopeAll is every scope, written "*".
	//
	// NB: a new scope takes the next bit, so stored scope sets keep their
	// meaning; a key stored with "*" before a scope existed keeps the
	// scopes it had then.
	ScopeAll = scopeEnd - 1
	// ScopesRead are the scopes that change nothing: all a publishable key may hold.
	ScopesRead = ScopeSessionsRead | ScopeBalanceRead | ScopeUsageRead | ScopeSettlementsRead | ScopeApprovalsRead
	// ScopesArbiter are all an arbiter key may hold: it reads and decides
	// approvals and does nothing else, so a leaked arbiter key cannot spend.
	ScopesArbiter = ScopeApprovalsRead | ScopeApprovalsWrite
)

var scopeNames = [...]struct {
	scope Scope
	name  string
}{
	{ScopeChargesWrite, "charges:write"},
	{ScopeHoldsWrite, "holds:write"},
	{ScopeSessionsWrite, "sessions:write"},
	{ScopeSessionsRead, "sessions:read"},
	{ScopeBalanceRead, "balance:read"},
	{ScopeUsageRead, "usage:read"},
	{ScopeSettlementsRead, "settlements:read"},
	{ScopeX402Facilitate, "x402:facilitate"},
	{ScopeGatewayCall, "gateway:call"},
	{ScopeApprovalsRead, "approvals:read"},
	{ScopeApprovalsWrite, "approvals:write"},
}

// ScopesMax bounds the scope names of one key.
const ScopesMax = 16

// ParseScopes parses scope names; "*" is every scope.
func ParseScopes(names []string) (Scope, error) {
	if len(names) == 0 || len(names) > ScopesMax {
		return 0, fmt.Errorf("%w: give 1-%d scopes", ErrInvalid, ScopesMax)
	}
	var scopes Scope
	for _, name := range names {
		s, ok := scopeNamed(name)
		if !ok {
			return 0, fmt.Errorf("%w: unknown scope %q", ErrInvalid, truncate(name, 40))
		}
		scopes |= s
	}
	return scopes, nil
}

func scopeNamed(name string) (Scope, bool) {
	if name == "*" {
		return ScopeAll, true
	}
	for _, s := range scopeNames {
		if s.name == name {
			return s.scope, true
		}
	}
	return 0, false
}

// ScopeNames returns the name of every scope, in bit order, without "*".
func ScopeNames() []string {
	names := make([]string, len(scopeNames))
	for i, n := range scopeNames {
		names[i] = n.name
	}
	return names
}

// Has reports whether s includes every scope of want.
func (s Scope) Has(want Scope) bool { return s&want == want }

// Names returns the scope names of s, "*" for every scope.
func (s Scope) Names() []string {
	if s == ScopeAll {
		return []string{"*"}
	}
	names := make([]string, 0, len(scopeNames))
	for _, n := range scopeNames {
		if s.Has(n.scope) {
			names = append(names, n.name)
		}
	}
	return names
}

// String returns the scope names joined by spaces.
func (s Scope) String() string { return strings.Join(s.Names(), " ") }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
