package httpapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Limits of the directory.
const (
	// FamiliesPerUserMax bounds live refresh-token families (signed-in
	// devices) per user; the oldest is revoked to make room.
	FamiliesPerUserMax = 64
	// AccountsPerUserMax and KeysPerAccountMax bound what one user can make
	// (Config, from flags, can change them): a million key records per user at most, each
	// a few hundred bytes in memory and in the table. Revoked keys count, so
	// a rotation needs a free place too; creations in flight count, so
	// concurrent creators cannot pass the caps.
	AccountsPerUserMax = 1000
	KeysPerAccountMax  = 1000
)

// directory is the access layer's state: users, account profiles, API keys,
// refresh-token families. (Sign-in challenges are not here: they are kept
// in memory, see challenges.go.) It is loaded from the engine's
// table at start, and every change is written there (durably, through the
// engine's log) before it is applied here and answered.
//
// NB: reads take mu shared. A change that must be unique (an email, an
// address) is reserved under mu before its write; a read-modify-write of
// one record holds that record's own lock across its write, so changes of
// different records share group commits instead of queueing on one lock.
// The hot path, finding a key by its hash, takes no lock at all.
type directory struct {
	engine      *engine.Engine
	keyActors   *actors.Keys
	accountsMax int // per user
	keysMax     int // per account

	mu           sync.RWMutex
	users        map[string]*userRecord
	byEmail      map[string]string // email -> user id; "" value = reserved
	byAddress    map[string]string // EIP-55 address -> user id; "" = reserved
	profiles     map[string]*access.Profile
	owned        map[string][]string // user id -> account ids, in creation order
	keys         map[string]*keyRecord
	accountKeys  map[string][]string // account id -> key ids, in creation order
	families     map[string]*familyRecord
	userFamilies map[string][]string // user id -> family ids
	// Creations in flight, reserved under mu before their writes: user id
	// -> accounts, account id -> keys.
	pendingAccounts map[string]int
	pendingKeys     map[string]int

	byHash byHash[*keyRecord]
}

type userRecord struct {
	mu   sync.Mutex // serializes changes of this user
	user access.User
}

type keyRecord struct {
	hash   []byte // immutable, as are owner, ref and budget
	owner  string
	ref    *actors.KeyRef
	budget engine.Budget // the key's caps, parsed once; zero when it has none

	mu  sync.Mutex // guards key; serializes revocation and rotation
	key access.Key
}

type familyRecord struct {
	mu     sync.Mutex
	family access.Family
}

// newDirectory returns an empty directory; accountsMax and keysMax default
// to AccountsPerUserMax and KeysPerAccountMax when 0.
func newDirectory(eng *engine.Engine, keyActors *actors.Keys, accountsMax, keysMax int) *directory {
	if accountsMax <= 0 {
		accountsMax = AccountsPerUserMax
	}
	if keysMax <= 0 {
		keysMax = KeysPerAccountMax
	}
	return &directory{
		engine: eng, keyActors: keyActors, accountsMax: accountsMax, keysMax: keysMax,
		pendingAccounts: map[string]int{}, pendingKeys: map[string]int{},
		users: map[string]*userRecord{}, byEmail: map[string]string{}, byAddress: map[string]string{},
		profiles: map[string]*access.Profile{}, owned: map[string][]string{},
		keys: map[string]*keyRecord{}, accountKeys: map[string][]string{},
		families: map[string]*familyRecord{}, userFamilies: map[string][]string{},
	}
}

// load reads every record from the engine's table.
func (d *directory) load() error {
	load := func(prefix string, each func(value []byte) error) error {
		return d.engine.ScanRows([]byte(prefix), func(_, value []byte) error { return each(value) })
	}
	err := load(access.PrefixUser, func(value []byte) error {
		u, err := access.Decode[access.User](value)
		if err == nil {
			d.insertUser(u)
		}
		return err
	})
	if err == nil {
		err = load(access.PrefixAccount, func(value []byte) error {
			p, err := access.Decode[access.Profile](value)
			if err == nil {
				d.insertProfile(&p)
			}
			return err
		})
	}
	if err == nil {
		err = load(access.PrefixKey, func(value []byte) error {
			k, err := access.Decode[access.Key](value)
			if err != nil {
				return err
			}
			budget, err := budgetOf(k.Budget)
			if err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
			d.insertKey(k, budget)
			return nil
		})
	}
	if err == nil {
		err = load(access.PrefixFamily, func(value []byte) error {
			f, err := access.Decode[access.Family](value)
			if err == nil {
				d.families[f.ID] = &familyRecord{family: f}
				d.userFamilies[f.User] = append(d.userFamilies[f.User], f.ID)
			}
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("load the access directory: %w", err)
	}
	// Keys and families load in id order; restore creation order.
	for _, ids := range d.accountKeys {
		slices.SortFunc(ids, func(a, b string) int { return d.keys[a].key.CreatedAt.Compare(d.keys[b].key.CreatedAt) })
	}
	for _, ids := range d.owned {
		slices.SortFunc(ids, func(a, b string) int { return d.profiles[a].CreatedAt.Compare(d.profiles[b].CreatedAt) })
	}
	return nil
}

func (d *directory) insertUser(u access.User) {
	d.users[u.ID] = &userRecord{user: u}
	if u.Email != "" {
		d.byEmail[u.Email] = u.ID
	}
	if u.Address != "" {
		d.byAddress[u.Address] = u.ID
	}
}

func (d *directory) insertProfile(p *access.Profile) {
	d.profiles[p.ID] = p
	d.owned[p.Owner] = append(d.owned[p.Owner], p.ID)
}

func (d *directory) insertKey(k access.Key, budget engine.Budget) *keyRecord {
	r := &keyRecord{hash: k.Hash, owner: k.Owner, key: k, ref: actors.NewKeyRef(k), budget: budget}
	d.keys[k.ID] = r
	d.accountKeys[k.Account] = append(d.accountKeys[k.Account], k.ID)
	d.byHash.store(k.Hash, r)
	return r
}

// write makes rows durable through the engine's log.
func (d *directory) write(ctx context.Context, rows ...engine.Row) error {
	_, err := d.engine.WriteRows(ctx, rows...)
	return err
}

func row[T access.User | access.Profile | access.Key | access.Family | access.Nonce](record *T) engine.Row {
	key, value := access.Row(record)
	return engine.Row{Key: key, Value: value}
}

func deleteRow(prefix, id string) engine.Row { return engine.Row{Key: access.RowKey(prefix, id)} }

// ---- users

// reserve claims a unique name (an email or an address) in index before
// its user is written; it reports false if the name is taken or reserved.
func (d *directory) reserve(index map[string]string, name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, taken := index[name]; taken {
		return false
	}
	index[name] = ""
	return true
}

func (d *directory) unreserve(index map[string]string, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if index[name] == "" {
		delete(index, name)
	}
}

// createUser writes a new user whose email or address is unique, or
// returns engine.ErrAlreadyExists.
func (d *directory) createUser(ctx context.Context, u access.User) error {
	index, name := d.byEmail, u.Email
	if name == "" {
		index, name = d.byAddress, u.Address
	}
	if !d.reserve(index, name) {
		return engine.ErrAlreadyExists
	}
	if err := d.write(ctx, row(&u)); err != nil {
		d.unreserve(index, name)
		return err
	}
	d.mu.Lock()
	d.insertUser(u)
	d.mu.Unlock()
	return nil
}

// user returns a copy of the user with id.
func (d *directory) user(id string) (access.User, bool) {
	d.mu.RLock()
	r := d.users[id]
	d.mu.RUnlock()
	if r == nil {
		return access.User{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.user, true
}

// userNamed returns the user with an email or address, if any.
func (d *directory) userNamed(email, address string) (access.User, bool) {
	d.mu.RLock()
	id := d.byEmail[email]
	if email == "" {
		id = d.byAddress[address]
	}
	d.mu.RUnlock()
	if id == "" {
		return access.User{}, false
	}
	return d.user(id)
}

// signOutEverywhere ends every session of the user: access tokens issued
// before now stop working, and every refresh family is revoked.
func (d *directory) signOutEverywhere(ctx context.Context, id string, now time.Time) error {
	d.mu.RLock()
	r := d.users[id]
	families := slices.Clone(d.userFamilies[id])
	d.mu.RUnlock()
	if r == nil {
		return engine.ErrNotFound
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.user
	u.SignedOutAt = now
	rows := []engine.Row{row(&u)}
	for _, familyID := range families {
		rows = append(rows, deleteRow(access.PrefixFamily, familyID))
	}
	if err := d.write(ctx, rows...); err != nil {
		return err
	}
	r.user = u
	d.dropFamilies(id, families)
	return nil
}

func (d *directory) dropFamilies(user string, ids []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		delete(d.families, id)
	}
	d.userFamilies[user] = slices.DeleteFunc(d.userFamilies[user], func(id string) bool { return slices.Contains(ids, id) })
}

// ---- refresh-token families

// startFamily writes a new family for user, revoking the user's oldest
// ones beyond FamiliesPerUserMax and dropping expired ones.
func (d *directory) startFamily(ctx context.Context, f access.Family, now time.Time) error {
	d.mu.RLock()
	var stale []string
	live := 0
	ids := d.userFamilies[f.User]
	for i := len(ids) - 1; i >= 0; i-- {
		r := d.families[ids[i]]
		if r == nil {
			continue
		}
		if live++; live >= FamiliesPerUserMax || !now.Before(r.family.ExpiresAt) {
			stale = append(stale, ids[i])
		}
	}
	d.mu.RUnlock()
	rows := []engine.Row{row(&f)}
	for _, id := range stale {
		rows = append(rows, deleteRow(access.PrefixFamily, id))
	}
	if err := d.write(ctx, rows...); err != nil {
		return err
	}
	d.dropFamilies(f.User, stale)
	d.mu.Lock()
	d.families[f.ID] = &familyRecord{family: f}
	d.userFamilies[f.User] = append(d.userFamilies[f.User], f.ID)
	d.mu.Unlock()
	return nil
}

// family returns the family record with id, or nil.
func (d *directory) family(id string) *familyRecord {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.families[id]
}

// ---- accounts

// createAccount creates the ledger account of p, then writes p, unless the
// owner has AccountsPerUser accounts counting those being created: the
// place is reserved under mu first, so a refused creation writes nothing
// and concurrent ones cannot pass the cap.
func (d *directory) createAccount(ctx context.Context, p access.Profile, ledger engine.LedgerID) error {
	if !d.reservePlace(d.pendingAccounts, p.Owner, func() int { return len(d.owned[p.Owner]) }, d.accountsMax) {
		return limitExceeded(fmt.Sprintf("a user may own at most %d accounts", d.accountsMax))
	}
	// The ledger account first: a crash before the profile leaves an
	// account nobody can reach, never a profile without an account.
	err := d.engine.CreateAccount(ctx, engine.Account{ID: engine.AccountID(p.ID), Ledger: ledger})
	if err == nil {
		err = d.write(ctx, row(&p))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releasePlace(d.pendingAccounts, p.Owner)
	if err != nil {
		return err
	}
	d.insertProfile(&p)
	return nil
}

// reservePlace takes one of max places of name, of which have() are used and
// pending[name] reserved; false when none is left.
func (d *directory) reservePlace(pending map[string]int, name string, have func() int, max int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if have()+pending[name] >= max {
		return false
	}
	pending[name]++
	return true
}

// releasePlace gives back a place of name. REQUIRES: d.mu held.
func (d *directory) releasePlace(pending map[string]int, name string) {
	if pending[name]--; pending[name] <= 0 {
		delete(pending, name)
	}
}

// profile returns the account's profile if owner owns it: another user's
// account is reported as absent, never as forbidden.
func (d *directory) profile(id, owner string) (access.Profile, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p := d.profiles[id]
	if p == nil || p.Owner != owner {
		return access.Profile{}, false
	}
	return *p, true
}

// anyProfile returns the account's profile whoever owns it.
func (d *directory) anyProfile(id string) (access.Profile, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p := d.profiles[id]
	if p == nil {
		return access.Profile{}, false
	}
	return *p, true
}

func (d *directory) profilesOf(owner string) []access.Profile {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]access.Profile, 0, len(d.owned[owner]))
	for _, id := range d.owned[owner] {
		out = append(out, *d.profiles[id])
	}
	return out
}

// ---- API keys

// createKey writes k unless its account has KeysPerAccount keys counting
// those being created (reserved under mu first, as createAccount does).
func (d *directory) createKey(ctx context.Context, k access.Key) error {
	budget, err := budgetOf(k.Budget)
	if err != nil {
		return err
	}
	if !d.reserveKey(k.Account) {
		return d.errKeysLimit()
	}
	err = d.write(ctx, row(&k))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releasePlace(d.pendingKeys, k.Account)
	if err != nil {
		return err
	}
	d.insertKey(k, budget)
	return nil
}

func (d *directory) reserveKey(account string) bool {
	return d.reservePlace(d.pendingKeys, account, func() int { return len(d.accountKeys[account]) }, d.keysMax)
}

func (d *directory) errKeysLimit() *apiError {
	return limitExceeded(fmt.Sprintf("an account may have at most %d keys, revoked ones included", d.keysMax))
}

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
			return engine.Budget{}, fmt.Errorf("budget cap %q: %w", field.text, err)
		}
		*field.cap = amount
	}
	if budget.Spender == "" {
		return engine.Budget{}, fmt.Errorf("budget without a spender")
	}
	return budget, nil
}

// keyOwned returns the key record if owner owns its account.
func (d *directory) keyOwned(id, owner string) *keyRecord {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r := d.keys[id]
	if r == nil || r.owner != owner {
		return nil
	}
	return r
}

func (d *directory) keysOf(account string) []access.Key {
	d.mu.RLock()
	records := make([]*keyRecord, 0, len(d.accountKeys[account]))
	for _, id := range d.accountKeys[account] {
		records = append(records, d.keys[id])
	}
	d.mu.RUnlock()
	out := make([]access.Key, len(records))
	for i, r := range records {
		r.mu.Lock()
		out[i] = r.key
		r.mu.Unlock()
	}
	return out
}

// keyByHash finds a key by the hash of its plaintext, without a lock.
func (d *directory) keyByHash(hash []byte) *keyRecord {
	r, _ := d.byHash.load(hash)
	return r
}

// revokeKey revokes r's key (and, when successor is not nil, creates the
// successor in the same durable write) and waits until the key's actor
// refuses it. It returns the revoked key.
func (d *directory) revokeKey(ctx context.Context, r *keyRecord, now time.Time, successor *access.Key) (access.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.key.RevokedAt.IsZero() {
		if successor != nil {
			return r.key, engine.ErrInvalidState // a revoked key cannot be rotated
		}
		return r.key, nil // revoking again changes nothing
	}
	k := r.key
	k.RevokedAt = now
	rows := []engine.Row{row(&k)}
	if successor != nil {
		// The successor is one more key record of the account.
		if !d.reserveKey(k.Account) {
			return r.key, d.errKeysLimit()
		}
		k.ReplacedBy = successor.ID
		rows = []engine.Row{row(&k), row(successor)}
	}
	err := d.write(ctx, rows...)
	if successor != nil {
		d.mu.Lock()
		d.releasePlace(d.pendingKeys, k.Account)
		if err == nil {
			d.insertKey(*successor, r.budget) // the same caps on the same spend
		}
		d.mu.Unlock()
	}
	if err != nil {
		return r.key, err
	}
	r.key = k
	d.keyActors.Update(r.ref, k)
	return k, nil
}

// normalizeEmail lower-cases an email address for uniqueness.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
