package directory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/approvals"
)

// Key is the directory's record of one API key, and the only copy of it.
//
// Who owns what: the directory owns the record. It publishes each version
// in current once the version is durable and never modifies a published
// one, so a reader needs no lock. The by-hash index holds a pointer to this
// Key; the key's actor (actors.KeyRef) holds a pointer to current, reads it
// at each request, and keeps only what is its own: the token bucket.
type Key struct {
	hash     []byte            // immutable, as are owner, budget, approval and actor
	owner    string            // the user who owns the key's account
	budget   engine.Budget     // the key's caps, parsed once; zero when it has none
	approval *approvals.Policy // the key's approval policy, parsed once; nil when it has none
	actor    *actors.KeyRef

	mu      sync.Mutex // serializes revocation and rotation
	current atomic.Pointer[access.Key]
}

// Hash returns the keyed hash of the key's plaintext. Do not modify it.
func (k *Key) Hash() []byte { return k.hash }

// Budget returns the key's caps for the engine; zero when it has none.
func (k *Key) Budget() engine.Budget { return k.budget }

// Approval returns the key's approval policy, which a rotation keeps, and
// whether it has one. Do not modify the policy's Approvers.
func (k *Key) Approval() (approvals.Policy, bool) {
	if k.approval == nil {
		return approvals.Policy{}, false
	}
	return *k.approval, true
}

// Actor returns the address of the key's actor.
func (k *Key) Actor() *actors.KeyRef { return k.actor }

// Record returns a copy of the key's current record.
func (k *Key) Record() access.Key { return *k.current.Load() }

// Scopes returns the key's scopes (which a rotation keeps and nothing
// else changes), without copying its record.
func (k *Key) Scopes() access.Scope { return k.current.Load().Scopes }

// insertKey adds a record made of k, which must not be modified after.
// REQUIRES: d.mu held, or Load.
func (d *Directory) insertKey(k *access.Key, budget engine.Budget, approval *approvals.Policy) {
	r := &Key{hash: k.Hash, owner: k.Owner, budget: budget, approval: approval}
	r.current.Store(k)
	r.actor = actors.NewKeyRef(&r.current)
	d.keys[k.ID] = r
	d.accountKeys[k.Account] = append(d.accountKeys[k.Account], k.ID)
	d.byHash.Store(string(k.Hash), r)
}

// CreateKey writes k unless its account has keysMax keys counting those
// being created (a *LimitError; the place is reserved under mu first, as
// CreateAccount does). A budget that does not parse, or a role or approval
// policy that breaks access's rules (an *access.FieldError), is an error
// before anything is written.
func (d *Directory) CreateKey(ctx context.Context, k access.Key) error {
	budget, err := budgetOf(k.Budget)
	if err != nil {
		return err
	}
	approval, err := ApprovalPolicyOf(&k)
	if err != nil {
		return err
	}
	if !d.reserveKey(k.Account) {
		return d.errKeysLimit()
	}
	err = d.write(ctx, "key", row(&k))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releasePlace(d.pendingKeys, k.Account)
	if err != nil {
		return err
	}
	d.insertKey(&k, budget, approval)
	return nil
}

func (d *Directory) reserveKey(account string) bool {
	return d.reservePlace(d.pendingKeys, account, func() int { return len(d.accountKeys[account]) }, d.keysMax)
}

func (d *Directory) errKeysLimit() error { return &LimitError{Cap: CapKeysPerAccount, Max: d.keysMax} }

// budgetOf parses a key's stored budget.
func budgetOf(b *access.Budget) (engine.Budget, error) {
	if b == nil {
		return engine.Budget{}, nil
	}
	budget := engine.Budget{Spender: engine.SpenderID(b.Spender)}
	for _, field := range []struct {
		text string
		cap  *engine.Amount
	}{{b.MaxPerCharge, &budget.PerDebit}, {b.MaxPerDay, &budget.PerDay}, {b.MaxTotal, &budget.Total}} {
		if field.text == "" {
			continue
		}
		amount, err := engine.ParseAmount(field.text)
		if err != nil {
			return engine.Budget{}, fmt.Errorf("directory: budget cap %q: %w", field.text, err)
		}
		*field.cap = amount
	}
	if budget.Spender == "" {
		return engine.Budget{}, fmt.Errorf("directory: budget without a spender")
	}
	return budget, nil
}

// ApprovalPolicyOf checks k's role and approval policy by access's rules
// and returns the policy as engine/approvals takes it, nil when k has none.
// It is pure: CreateKey and Load call it, and the HTTP layer may too.
func ApprovalPolicyOf(k *access.Key) (*approvals.Policy, error) {
	if err := k.ValidateApprovalRules(); err != nil {
		return nil, err
	}
	if k.Approval == nil {
		return nil, nil
	}
	above, err := engine.ParseAmount(k.Approval.Above)
	if err != nil || above.IsZero() {
		return nil, &access.FieldError{Field: "approval.above", Reason: "must be a positive amount of base units that fits 128 bits"}
	}
	approvers := make([]approvals.Role, len(k.Approval.Approvers))
	for i, name := range k.Approval.Approvers {
		approvers[i] = approvals.Role(name)
	}
	return &approvals.Policy{Above: above, Approvers: approvers,
		ExpiresIn: time.Duration(k.Approval.ExpiresInSeconds) * time.Second}, nil
}

// Key returns the key with id if owner owns its account; another user's
// key is ErrNotFound, as an absent one is.
func (d *Directory) Key(id, owner string) (*Key, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r := d.keys[id]
	if r == nil || r.owner != owner {
		return nil, ErrNotFound
	}
	return r, nil
}

// Keys returns copies of the account's keys' records in creation order.
func (d *Directory) Keys(account string) []access.Key {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]access.Key, len(d.accountKeys[account]))
	for i, id := range d.accountKeys[account] {
		out[i] = d.keys[id].Record()
	}
	return out
}

// KeyByHash finds a key by the hash of its plaintext, or returns nil: the
// request path's lookup, one shard's read lock and no allocation. The
// caller still compares the hash in constant time.
func (d *Directory) KeyByHash(hash []byte) *Key {
	r, _ := d.byHash.LoadBytes(hash)
	return r
}

// RevokeKey revokes r's key at now and returns its record; revoking a
// revoked key again changes nothing. Once it returns, the key's actor
// refuses every request it answers.
func (d *Directory) RevokeKey(ctx context.Context, r *Key, now time.Time) (access.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := *r.current.Load()
	if !k.RevokedAt.IsZero() {
		return k, nil
	}
	k.RevokedAt = now
	if err := d.write(ctx, "key", row(&k)); err != nil {
		return access.Key{}, err
	}
	r.current.Store(&k)
	return k, nil
}

// RotateKey revokes r's key at now and creates successor, with the same
// budget caps on the same spend and the same role and approval policy (set
// here from r's record, whatever successor carried), in one durable write.
// A revoked key is ErrKeyRevoked; the successor needs a place under the
// account's cap (a *LimitError).
func (d *Directory) RotateKey(ctx context.Context, r *Key, successor access.Key, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := *r.current.Load()
	if !k.RevokedAt.IsZero() {
		return ErrKeyRevoked
	}
	successor.Role, successor.Approval = k.Role, k.Approval // published records are never modified: sharing is safe
	if !d.reserveKey(k.Account) {
		return d.errKeysLimit()
	}
	k.RevokedAt, k.ReplacedBy = now, successor.ID
	err := d.write(ctx, "key", row(&k), row(&successor))
	d.mu.Lock()
	d.releasePlace(d.pendingKeys, k.Account)
	if err == nil {
		d.insertKey(&successor, r.budget, r.approval)
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	r.current.Store(&k)
	return nil
}
