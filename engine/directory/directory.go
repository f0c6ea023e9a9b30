// Package directory is the access layer's state: users, account profiles,
// API keys and refresh-token families, kept in memory and stored durably in
// the engine's table. It applies engine/access's rules to that state and
// answers in domain errors (errors.go); it knows nothing of HTTP.
//
// Every record is loaded from the engine's table at start (Load), and every
// change is written there (durably, through the engine's log) before it is
// applied in memory and returned.
package directory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tollway/tollway/actors/shardmap"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Limits of the directory.
const (
	// FamiliesPerUserMax bounds live refresh-token families (signed-in
	// devices) per user; the oldest is revoked to make room.
	FamiliesPerUserMax = 64
	// AccountsPerUserMax and KeysPerAccountMax bound what one user can make
	// (New's arguments, from flags, can change them): a million key records
	// per user at most, each a few hundred bytes in memory and in the table.
	// Revoked keys count, so a rotation needs a free place too; creations in
	// flight count, so concurrent creators cannot pass the caps.
	AccountsPerUserMax = 1000
	KeysPerAccountMax  = 1000
)

// Directory holds the access layer's records. Its methods are safe for
// concurrent use.
//
// NB: the maps are read under mu shared. A change that must be unique (an
// email, an address) or counted (a place under a cap) is reserved under mu
// before its write; a read-modify-write of one record holds that record's
// own lock across its write, so changes of different records share group
// commits instead of queueing on one lock. The hot path, finding a key by
// its hash (KeyByHash), does not take mu: it takes the read lock of one
// of the by-hash index's shards (actors/shardmap).
type Directory struct {
	engine      *engine.Engine
	accountsMax int // per user
	keysMax     int // per account

	mu           sync.RWMutex
	users        map[string]*userRecord
	byEmail      map[string]string // email -> user id; "" value = reserved
	byAddress    map[string]string // EIP-55 address -> user id; "" = reserved
	profiles     map[string]*access.Profile
	owned        map[string][]string  // user id -> account ids, in creation order
	byWallet     map[walletKey]string // (environment, EIP-55 address) -> account id; "" = reserved
	bindMu       sync.Mutex           // serializes BindWallet
	keys         map[string]*Key
	accountKeys  map[string][]string // account id -> key ids, in creation order
	families     map[string]*familyRecord
	userFamilies map[string][]string // user id -> family ids
	// Creations in flight, reserved under mu before their writes: user id
	// -> accounts, account id -> keys.
	pendingAccounts map[string]int
	pendingKeys     map[string]int

	byHash shardmap.Map[string, *Key] // the same records as keys, by the hash of the plaintext
}

type userRecord struct {
	mu   sync.Mutex // serializes changes of this user
	user access.User
}

type familyRecord struct {
	mu     sync.Mutex // guards family; serializes its rotations
	family access.Family
}

// New returns an empty directory over eng's table; accountsMax and keysMax
// default to AccountsPerUserMax and KeysPerAccountMax when 0.
func New(eng *engine.Engine, accountsMax, keysMax int) *Directory {
	if accountsMax <= 0 {
		accountsMax = AccountsPerUserMax
	}
	if keysMax <= 0 {
		keysMax = KeysPerAccountMax
	}
	d := &Directory{
		engine: eng, accountsMax: accountsMax, keysMax: keysMax,
		pendingAccounts: map[string]int{}, pendingKeys: map[string]int{},
		users: map[string]*userRecord{}, byEmail: map[string]string{}, byAddress: map[string]string{},
		profiles: map[string]*access.Profile{}, owned: map[string][]string{}, byWallet: map[walletKey]string{},
		keys: map[string]*Key{}, accountKeys: map[string][]string{},
		families: map[string]*familyRecord{}, userFamilies: map[string][]string{},
	}
	d.byHash.Init()
	return d
}

// Load reads every record from the engine's table. Call it once, before
// any other method.
func (d *Directory) Load() error {
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
			approval, err := ApprovalPolicyOf(&k)
			if err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
			d.insertKey(&k, budget, approval)
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
	// Keys and accounts load in id order; restore creation order.
	for _, ids := range d.accountKeys {
		slices.SortFunc(ids, func(a, b string) int {
			return d.keys[a].current.Load().CreatedAt.Compare(d.keys[b].current.Load().CreatedAt)
		})
	}
	for _, ids := range d.owned {
		slices.SortFunc(ids, func(a, b string) int { return d.profiles[a].CreatedAt.Compare(d.profiles[b].CreatedAt) })
	}
	return nil
}

func (d *Directory) insertUser(u access.User) {
	d.users[u.ID] = &userRecord{user: u}
	if u.Email != "" {
		d.byEmail[u.Email] = u.ID
	}
	if u.Address != "" {
		d.byAddress[u.Address] = u.ID
	}
}

func (d *Directory) insertProfile(p *access.Profile) {
	d.profiles[p.ID] = p
	d.owned[p.Owner] = append(d.owned[p.Owner], p.ID)
	if p.WalletAddress != "" {
		d.byWallet[walletKey{p.Environment, p.WalletAddress}] = p.ID
	}
}

// walletKey names a wallet bound in one environment: a wallet binds at
// most one account per environment, the one its deposits there credit.
type walletKey struct {
	environment access.Environment
	address     string // EIP-55
}

// write makes rows durable through the engine's log.
func (d *Directory) write(ctx context.Context, what string, rows ...engine.Row) error {
	if _, err := d.engine.WriteRows(ctx, rows...); err != nil {
		return fmt.Errorf("directory: write %s: %w", what, err)
	}
	return nil
}

func row[T access.User | access.Profile | access.Key | access.Family](record *T) engine.Row {
	key, value := access.Row(record)
	return engine.Row{Key: key, Value: value}
}

func deleteRow(prefix, id string) engine.Row { return engine.Row{Key: access.RowKey(prefix, id)} }

// ---- users

// reserve claims a unique name (an email or an address) in index before
// its user is written; it reports false if the name is taken or reserved.
func (d *Directory) reserve(index map[string]string, name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, taken := index[name]; taken {
		return false
	}
	index[name] = ""
	return true
}

func (d *Directory) unreserve(index map[string]string, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if index[name] == "" {
		delete(index, name)
	}
}

// CreateUser writes a new user whose email (or, without one, address) is
// unique, or returns ErrAlreadyExists.
func (d *Directory) CreateUser(ctx context.Context, u access.User) error {
	index, name := d.byEmail, u.Email
	if name == "" {
		index, name = d.byAddress, u.Address
	}
	if !d.reserve(index, name) {
		return ErrAlreadyExists
	}
	if err := d.write(ctx, "user", row(&u)); err != nil {
		d.unreserve(index, name)
		return err
	}
	d.mu.Lock()
	d.insertUser(u)
	d.mu.Unlock()
	return nil
}

// User returns a copy of the user with id, or ErrNotFound.
func (d *Directory) User(id string) (access.User, error) {
	d.mu.RLock()
	r := d.users[id]
	d.mu.RUnlock()
	if r == nil {
		return access.User{}, ErrNotFound
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.user, nil
}

// UserByEmail returns the user with a (normalized) email, or ErrNotFound.
func (d *Directory) UserByEmail(email string) (access.User, error) {
	return d.userNamed(d.byEmail, email)
}

// UserByAddress returns the user with an EIP-55 address, or ErrNotFound.
func (d *Directory) UserByAddress(address string) (access.User, error) {
	return d.userNamed(d.byAddress, address)
}

func (d *Directory) userNamed(index map[string]string, name string) (access.User, error) {
	d.mu.RLock()
	id := index[name]
	d.mu.RUnlock()
	if id == "" { // absent, or reserved by a creation in flight
		return access.User{}, ErrNotFound
	}
	return d.User(id)
}

// SignOutEverywhere ends every session of the user: access tokens issued
// before now stop working, and every refresh family is revoked.
func (d *Directory) SignOutEverywhere(ctx context.Context, id string, now time.Time) error {
	d.mu.RLock()
	r := d.users[id]
	families := slices.Clone(d.userFamilies[id])
	d.mu.RUnlock()
	if r == nil {
		return ErrNotFound
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.user
	u.SignedOutAt = now
	rows := []engine.Row{row(&u)}
	for _, familyID := range families {
		rows = append(rows, deleteRow(access.PrefixFamily, familyID))
	}
	if err := d.write(ctx, "sign-out", rows...); err != nil {
		return err
	}
	r.user = u
	d.dropFamilies(id, families)
	return nil
}

func (d *Directory) dropFamilies(user string, ids []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		delete(d.families, id)
	}
	d.userFamilies[user] = slices.DeleteFunc(d.userFamilies[user], func(id string) bool { return slices.Contains(ids, id) })
}

// ---- accounts

// CreateAccount creates the ledger account of p, then writes p, unless the
// owner has accountsMax accounts counting those being created: the place is
// reserved under mu first, so a refused creation (a *LimitError) writes
// nothing and concurrent ones cannot pass the cap.
//
// A profile with a WalletAddress binds it: ErrWalletBound if that wallet
// binds another account of the environment already.
func (d *Directory) CreateAccount(ctx context.Context, p access.Profile, ledger engine.LedgerID) error {
	if p.WalletAddress != "" {
		wallet := walletKey{p.Environment, p.WalletAddress}
		if !d.reserveWallet(wallet) {
			return ErrWalletBound
		}
		defer d.unreserveWallet(wallet)
	}
	if !d.reservePlace(d.pendingAccounts, p.Owner, func() int { return len(d.owned[p.Owner]) }, d.accountsMax) {
		return &LimitError{Cap: CapAccountsPerUser, Max: d.accountsMax}
	}
	// The ledger account first: a crash before the profile leaves an
	// account nobody can reach, never a profile without an account.
	err := d.engine.CreateAccount(ctx, engine.Account{ID: engine.AccountID(p.ID), Ledger: ledger})
	if err != nil {
		err = fmt.Errorf("directory: create the ledger account: %w", err)
	} else {
		err = d.write(ctx, "account", row(&p))
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

// reserveWallet claims a wallet in its environment before the profile that
// binds it is written; false if another account has it or is taking it.
func (d *Directory) reserveWallet(wallet walletKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, taken := d.byWallet[wallet]; taken {
		return false
	}
	d.byWallet[wallet] = ""
	return true
}

// unreserveWallet gives a reservation back, unless the profile was written.
func (d *Directory) unreserveWallet(wallet walletKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byWallet[wallet] == "" {
		delete(d.byWallet, wallet)
	}
}

// BindWallet binds address to owner's account id, which has no wallet yet:
// ErrNotFound if owner does not own it, ErrWalletBound if it has another
// wallet or address binds another account of its environment. Binding the
// wallet it has is a no-op. Bindings are rare: one lock serializes them.
func (d *Directory) BindWallet(ctx context.Context, id, owner, address string) (access.Profile, error) {
	d.bindMu.Lock()
	defer d.bindMu.Unlock()
	p, err := d.Account(id, owner)
	switch {
	case err != nil:
		return access.Profile{}, err
	case p.WalletAddress == address:
		return p, nil
	case p.WalletAddress != "":
		return access.Profile{}, ErrWalletBound
	}
	wallet := walletKey{p.Environment, address}
	if !d.reserveWallet(wallet) {
		return access.Profile{}, ErrWalletBound
	}
	defer d.unreserveWallet(wallet)
	p.WalletAddress = address
	if err := d.write(ctx, "account", row(&p)); err != nil {
		return access.Profile{}, err
	}
	d.mu.Lock()
	d.profiles[id] = &p
	d.byWallet[wallet] = id
	d.mu.Unlock()
	return p, nil
}

// AccountByWallet returns the account of environment bound to address
// (EIP-55), if any.
func (d *Directory) AccountByWallet(environment access.Environment, address string) (access.Profile, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	id := d.byWallet[walletKey{environment, address}]
	if id == "" {
		return access.Profile{}, false
	}
	return *d.profiles[id], true
}

// reservePlace takes one of max places of name, of which have() are used and
// pending[name] reserved; false when none is left.
func (d *Directory) reservePlace(pending map[string]int, name string, have func() int, max int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if have()+pending[name] >= max {
		return false
	}
	pending[name]++
	return true
}

// releasePlace gives back a place of name. REQUIRES: d.mu held.
func (d *Directory) releasePlace(pending map[string]int, name string) {
	if pending[name]--; pending[name] <= 0 {
		delete(pending, name)
	}
}

// Account returns the account's profile if owner owns it; another user's
// account is ErrNotFound, as an absent one is.
func (d *Directory) Account(id, owner string) (access.Profile, error) {
	p, err := d.AnyAccount(id)
	if err != nil || p.Owner != owner {
		return access.Profile{}, ErrNotFound
	}
	return p, nil
}

// AnyAccount returns the account's profile whoever owns it, or
// ErrNotFound.
func (d *Directory) AnyAccount(id string) (access.Profile, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p := d.profiles[id]
	if p == nil {
		return access.Profile{}, ErrNotFound
	}
	return *p, nil
}

// Accounts returns the profiles of owner's accounts in creation order.
func (d *Directory) Accounts(owner string) []access.Profile {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]access.Profile, 0, len(d.owned[owner]))
	for _, id := range d.owned[owner] {
		out = append(out, *d.profiles[id])
	}
	return out
}
