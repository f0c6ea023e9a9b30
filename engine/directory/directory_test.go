package directory

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	t0    = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
)

// openEngine opens an engine on a fresh directory, closed at the end of
// the test.
func openEngine(t *testing.T) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(engine.Options{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatalf("engine.Open: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// open returns a loaded directory over eng.
func open(t *testing.T, eng *engine.Engine, accountsMax, keysMax int) *Directory {
	t.Helper()
	d := New(eng, accountsMax, keysMax)
	if err := d.Load(); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return d
}

func hashOf(text string) []byte {
	sum := sha256.Sum256([]byte(text))
	return sum[:]
}

// fixture is one user with one account and one key of it.
type fixture struct {
	user    access.User
	account access.Profile
	key     access.Key
}

func newFixture(t *testing.T, d *Directory, name string) fixture {
	t.Helper()
	f := fixture{user: access.User{ID: "user_" + name, Email: name + "@example.com", CreatedAt: t0}}
	if err := d.CreateUser(ctx, f.user); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	f.account = access.Profile{ID: "acct_" + name, Owner: f.user.ID, Name: name, Environment: access.EnvironmentTest, CreatedAt: t0}
	if err := d.CreateAccount(ctx, f.account, engine.LedgerID(access.EnvironmentTest.Ledger())); err != nil {
		t.Fatalf("CreateAccount(%s): %v", name, err)
	}
	f.key = newKey(f.account, name+"-1", t0)
	if err := d.CreateKey(ctx, f.key); err != nil {
		t.Fatalf("CreateKey(%s): %v", name, err)
	}
	return f
}

func newKey(p access.Profile, id string, at time.Time) access.Key {
	return access.Key{ID: "key_" + id, Account: p.ID, Owner: p.Owner, Kind: access.KeySecret, Environment: p.Environment,
		Scopes: access.ScopeAll, Hash: hashOf(id), RateLimit: access.RateLimit{Requests: 10, PerSeconds: 1}, CreatedAt: at,
		Budget: &access.Budget{Spender: "key_" + id, MaxTotal: "1000"}}
}

// TestDomainErrors: each refusal is its own domain error, wrapped by no
// other sentinel, and a refused change leaves the records as they were.
func TestDomainErrors(t *testing.T) {
	sentinels := []error{ErrNotFound, ErrAlreadyExists, ErrLimitExceeded, ErrKeyRevoked, ErrInvalidToken, ErrTokenReused}
	tests := []struct {
		name  string
		do    func(t *testing.T, d *Directory, alice, bob fixture) error
		want  error
		limit *LimitError // the cap a *LimitError must name
	}{
		{name: "email taken", want: ErrAlreadyExists, do: func(_ *testing.T, d *Directory, alice, _ fixture) error {
			return d.CreateUser(ctx, access.User{ID: "user_other", Email: alice.user.Email})
		}},
		{name: "address taken", want: ErrAlreadyExists, do: func(t *testing.T, d *Directory, _, _ fixture) error {
			const address = "0x52908400098527886E0F7030069857D2E4169EE7"
			if err := d.CreateUser(ctx, access.User{ID: "user_w1", Address: address}); err != nil {
				t.Fatal(err)
			}
			return d.CreateUser(ctx, access.User{ID: "user_w2", Address: address})
		}},
		{name: "unknown user", want: ErrNotFound, do: func(_ *testing.T, d *Directory, _, _ fixture) error {
			_, err := d.User("user_nobody")
			return err
		}},
		{name: "unknown email", want: ErrNotFound, do: func(_ *testing.T, d *Directory, _, _ fixture) error {
			_, err := d.UserByEmail("nobody@example.com")
			return err
		}},
		{name: "unknown address", want: ErrNotFound, do: func(_ *testing.T, d *Directory, _, _ fixture) error {
			_, err := d.UserByAddress("0x0000000000000000000000000000000000000001")
			return err
		}},
		{name: "sign out an unknown user", want: ErrNotFound, do: func(_ *testing.T, d *Directory, _, _ fixture) error {
			return d.SignOutEverywhere(ctx, "user_nobody", t0)
		}},
		{name: "another user's account", want: ErrNotFound, do: func(_ *testing.T, d *Directory, alice, bob fixture) error {
			_, err := d.Account(bob.account.ID, alice.user.ID)
			return err
		}},
		{name: "unknown account", want: ErrNotFound, do: func(_ *testing.T, d *Directory, _, _ fixture) error {
			_, err := d.AnyAccount("acct_nobody")
			return err
		}},
		{name: "another user's key", want: ErrNotFound, do: func(_ *testing.T, d *Directory, alice, bob fixture) error {
			_, err := d.Key(bob.key.ID, alice.user.ID)
			return err
		}},
		{name: "accounts past the cap", want: ErrLimitExceeded, limit: &LimitError{Cap: CapAccountsPerUser, Max: 2},
			do: func(t *testing.T, d *Directory, alice, _ fixture) error {
				second := access.Profile{ID: "acct_alice2", Owner: alice.user.ID, Environment: access.EnvironmentTest}
				if err := d.CreateAccount(ctx, second, engine.LedgerID(access.EnvironmentTest.Ledger())); err != nil {
					t.Fatal(err)
				}
				third := access.Profile{ID: "acct_alice3", Owner: alice.user.ID, Environment: access.EnvironmentTest}
				return d.CreateAccount(ctx, third, engine.LedgerID(access.EnvironmentTest.Ledger()))
			}},
		{name: "keys past the cap", want: ErrLimitExceeded, limit: &LimitError{Cap: CapKeysPerAccount, Max: 2},
			do: func(t *testing.T, d *Directory, alice, _ fixture) error {
				if err := d.CreateKey(ctx, newKey(alice.account, "alice-2", t0)); err != nil {
					t.Fatal(err)
				}
				return d.CreateKey(ctx, newKey(alice.account, "alice-3", t0))
			}},
		{name: "a rotation past the cap", want: ErrLimitExceeded, limit: &LimitError{Cap: CapKeysPerAccount, Max: 2},
			do: func(t *testing.T, d *Directory, alice, _ fixture) error {
				if err := d.CreateKey(ctx, newKey(alice.account, "alice-2", t0)); err != nil {
					t.Fatal(err)
				}
				k, _ := d.Key(alice.key.ID, alice.user.ID)
				return d.RotateKey(ctx, k, newKey(alice.account, "alice-3", t0), t0)
			}},
		{name: "rotate a revoked key", want: ErrKeyRevoked, do: func(t *testing.T, d *Directory, alice, _ fixture) error {
			k, _ := d.Key(alice.key.ID, alice.user.ID)
			if _, err := d.RevokeKey(ctx, k, t0); err != nil {
				t.Fatal(err)
			}
			return d.RotateKey(ctx, k, newKey(alice.account, "alice-2", t0), t0)
		}},
		{name: "refresh an unknown family", want: ErrInvalidToken, do: func(_ *testing.T, d *Directory, _, _ fixture) error {
			_, err := d.RefreshFamily(ctx, "fam_nobody", hashOf("t"), hashOf("u"), t0, t0.Add(time.Hour))
			return err
		}},
		{name: "refresh an expired family", want: ErrInvalidToken, do: func(t *testing.T, d *Directory, alice, _ fixture) error {
			startFamily(t, d, alice.user.ID, "fam_1", "t1")
			_, err := d.RefreshFamily(ctx, "fam_1", hashOf("t1"), hashOf("t2"), t0.Add(time.Hour), t0.Add(2*time.Hour))
			return err
		}},
		{name: "refresh with an earlier token", want: ErrTokenReused, do: func(t *testing.T, d *Directory, alice, _ fixture) error {
			startFamily(t, d, alice.user.ID, "fam_1", "t1")
			if _, err := d.RefreshFamily(ctx, "fam_1", hashOf("t1"), hashOf("t2"), t0, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			_, err := d.RefreshFamily(ctx, "fam_1", hashOf("t1"), hashOf("t3"), t0, t0.Add(time.Hour))
			if _, latest := d.RefreshFamily(ctx, "fam_1", hashOf("t2"), hashOf("t3"), t0, t0.Add(time.Hour)); !errors.Is(latest, ErrInvalidToken) {
				t.Errorf("the latest token after a reuse = %v, want ErrInvalidToken: the family is revoked", latest)
			}
			return err
		}},
		{name: "sign out with an earlier token", want: ErrInvalidToken, do: func(t *testing.T, d *Directory, alice, _ fixture) error {
			startFamily(t, d, alice.user.ID, "fam_1", "t1")
			if _, err := d.RefreshFamily(ctx, "fam_1", hashOf("t1"), hashOf("t2"), t0, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			return d.EndFamily(ctx, "fam_1", hashOf("t1"))
		}},
		{name: "sign out twice", want: ErrInvalidToken, do: func(t *testing.T, d *Directory, alice, _ fixture) error {
			startFamily(t, d, alice.user.ID, "fam_1", "t1")
			if err := d.EndFamily(ctx, "fam_1", hashOf("t1")); err != nil {
				t.Fatal(err)
			}
			return d.EndFamily(ctx, "fam_1", hashOf("t1"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := open(t, openEngine(t), 2, 2)
			alice, bob := newFixture(t, d, "alice"), newFixture(t, d, "bob")
			err := tt.do(t, d, alice, bob)
			for _, sentinel := range sentinels {
				if is := errors.Is(err, sentinel); is != (sentinel == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sentinel, is)
				}
			}
			var limit *LimitError
			if errors.As(err, &limit) != (tt.limit != nil) || (tt.limit != nil && *limit != *tt.limit) {
				t.Errorf("err = %#v, want the *LimitError %+v", err, tt.limit)
			}
			// A refusal changes nothing: alice's and bob's records are
			// as the fixture made them, and caps count only those.
			if got := d.Accounts(bob.user.ID); len(got) != 1 || got[0] != bob.account {
				t.Errorf("bob's accounts = %+v, want his one", got)
			}
			if got := d.Keys(bob.account.ID); len(got) != 1 || got[0].ID != bob.key.ID || !got[0].RevokedAt.IsZero() {
				t.Errorf("bob's keys = %+v, want his one live key", got)
			}
			d.mu.RLock()
			pending := len(d.pendingAccounts) + len(d.pendingKeys)
			d.mu.RUnlock()
			if pending != 0 {
				t.Errorf("%d places still reserved after the call", pending)
			}
		})
	}
}

func startFamily(t *testing.T, d *Directory, user, id, token string) {
	t.Helper()
	f := access.Family{ID: id, User: user, Hash: hashOf(token), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := d.StartFamily(ctx, f, t0); err != nil {
		t.Fatalf("StartFamily: %v", err)
	}
}

// TestAWriteThatFailsChangesNothing: with the engine closed, a creation
// returns the engine's error, wrapped, and applies nothing.
func TestAWriteThatFailsChangesNothing(t *testing.T) {
	eng := openEngine(t)
	d := open(t, eng, 2, 2)
	alice := newFixture(t, d, "alice")
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	err := d.CreateUser(ctx, access.User{ID: "user_carol", Email: "carol@example.com"})
	if err == nil {
		t.Fatal("CreateUser on a closed engine succeeded")
	}
	if _, found := d.UserByEmail("carol@example.com"); !errors.Is(found, ErrNotFound) {
		t.Fatalf("after a failed write UserByEmail = %v, want ErrNotFound", found)
	}
	k, _ := d.Key(alice.key.ID, alice.user.ID)
	if _, err := d.RevokeKey(ctx, k, t0); err == nil {
		t.Fatal("RevokeKey on a closed engine succeeded")
	}
	if !k.Record().RevokedAt.IsZero() {
		t.Fatal("a revocation that was not written was applied")
	}
	if err := d.RotateKey(ctx, k, newKey(alice.account, "alice-2", t0), t0); err == nil {
		t.Fatal("RotateKey on a closed engine succeeded")
	}
	if d.KeyByHash(hashOf("alice-2")) != nil || len(d.Keys(alice.account.ID)) != 1 {
		t.Fatal("a rotation that was not written created its successor")
	}
	// Its place is free again: the cap of 2 allows one more key once the
	// engine writes (not checked here: the engine stays closed).
	d.mu.RLock()
	defer d.mu.RUnlock()
	if len(d.pendingKeys) != 0 {
		t.Fatalf("pending keys = %v after a failed rotation, want none", d.pendingKeys)
	}
}

// TestKeyHasOneRecord: the by-hash index, Key and the key's actor all
// reach the directory's one record: a revocation is seen by the actor
// without any message, and a rotation's successor keeps the budget.
func TestKeyHasOneRecord(t *testing.T) {
	d := open(t, openEngine(t), 0, 0)
	alice := newFixture(t, d, "alice")
	k, err := d.Key(alice.key.ID, alice.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if byHash := d.KeyByHash(alice.key.Hash); byHash != k {
		t.Fatalf("KeyByHash = %p, Key = %p: two records", byHash, k)
	}
	keys := actors.NewKeys(quiet)
	defer keys.Shutdown()
	if answer := authorize(t, keys, k); answer.Err != nil || answer.Account != alice.account.ID {
		t.Fatalf("before revocation = %+v, want allowed for %s", answer, alice.account.ID)
	}
	successor := newKey(alice.account, "alice-2", t0.Add(time.Second))
	successor.Budget = alice.key.Budget // the same line of spend
	if err := d.RotateKey(ctx, k, successor, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if answer := authorize(t, keys, k); !errors.Is(answer.Err, access.ErrKeyRevoked) {
		t.Fatalf("after rotation = %+v, want ErrKeyRevoked", answer)
	}
	next := d.KeyByHash(successor.Hash)
	if next == nil || next.Budget() != k.Budget() || k.Budget().Spender != engine.SpenderID(alice.key.ID) {
		t.Fatalf("successor budget = %+v, want the predecessor's %+v", next.Budget(), k.Budget())
	}
	if got := k.Record(); got.ReplacedBy != successor.ID || !got.RevokedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("rotated record = %+v, want revoked and replaced by %s", got, successor.ID)
	}
	if answer := authorize(t, keys, next); answer.Err != nil {
		t.Fatalf("successor = %+v, want allowed", answer)
	}
}

func authorize(t *testing.T, keys *actors.Keys, k *Key) actors.Authorization {
	t.Helper()
	reply := make(chan actors.Authorization, 1)
	if !keys.Send(k.Actor(), &actors.Authorize{Scope: access.ScopeChargesWrite, Now: t0.UnixNano(), Reply: reply}) {
		t.Fatal("Send refused")
	}
	select {
	case answer := <-reply:
		return answer
	case <-time.After(5 * time.Second):
		t.Fatal("no answer from the key actor")
	}
	panic("unreachable")
}

// TestLoadRestoresEveryRecord: a directory loaded from the table has what
// the one that wrote it had, in creation order.
func TestLoadRestoresEveryRecord(t *testing.T) {
	eng := openEngine(t)
	d := open(t, eng, 0, 0)
	alice := newFixture(t, d, "alice")
	// Ids sort against creation order, so Load must reorder.
	second := access.Profile{ID: "acct_0", Owner: alice.user.ID, Environment: access.EnvironmentTest, CreatedAt: t0.Add(time.Second)}
	if err := d.CreateAccount(ctx, second, engine.LedgerID(access.EnvironmentTest.Ledger())); err != nil {
		t.Fatal(err)
	}
	k, _ := d.Key(alice.key.ID, alice.user.ID)
	successor := newKey(alice.account, "0", t0.Add(time.Second))
	successor.Budget = alice.key.Budget
	if err := d.RotateKey(ctx, k, successor, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	startFamily(t, d, alice.user.ID, "fam_1", "t1")
	if err := d.SignOutEverywhere(ctx, alice.user.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	loaded := open(t, eng, 0, 0)
	u, err := loaded.UserByEmail(alice.user.Email)
	if err != nil || !u.SignedOutAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("loaded user = %+v, %v; want signed out at %v", u, err, t0.Add(time.Minute))
	}
	if got := loaded.Accounts(alice.user.ID); len(got) != 2 || got[0].ID != alice.account.ID || got[1].ID != second.ID {
		t.Fatalf("loaded accounts = %+v, want %s then %s", got, alice.account.ID, second.ID)
	}
	keys := loaded.Keys(alice.account.ID)
	if len(keys) != 2 || keys[0].ID != alice.key.ID || keys[0].ReplacedBy != successor.ID || keys[1].ID != successor.ID {
		t.Fatalf("loaded keys = %+v, want %s replaced by %s", keys, alice.key.ID, successor.ID)
	}
	if next := loaded.KeyByHash(successor.Hash); next == nil || next.Budget() != k.Budget() {
		t.Fatal("the loaded successor lost its budget")
	}
	if _, err := loaded.RefreshFamily(ctx, "fam_1", hashOf("t1"), hashOf("t2"), t0, t0.Add(time.Hour)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a family ended by sign-out everywhere = %v after Load, want ErrInvalidToken", err)
	}
}

// TestCreationCapsHoldUnderConcurrency: concurrent creators never pass a
// cap, and every refusal is a *LimitError.
func TestCreationCapsHoldUnderConcurrency(t *testing.T) {
	const capacity, creators = 5, 40
	d := open(t, openEngine(t), capacity, capacity)
	alice := newFixture(t, d, "alice") // one account and one key already
	var wg sync.WaitGroup
	errs := make(chan error, 2*creators)
	for i := range creators {
		wg.Go(func() {
			p := access.Profile{ID: fmt.Sprintf("acct_c%d", i), Owner: alice.user.ID, Environment: access.EnvironmentTest}
			errs <- d.CreateAccount(ctx, p, engine.LedgerID(access.EnvironmentTest.Ledger()))
		})
		wg.Go(func() { errs <- d.CreateKey(ctx, newKey(alice.account, fmt.Sprintf("c%d", i), t0)) })
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrLimitExceeded) {
			t.Fatalf("a creation failed with %v, want only limit errors", err)
		}
		refused++
	}
	if want := 2 * (creators - (capacity - 1)); refused != want {
		t.Fatalf("%d creations refused, want %d", refused, want)
	}
	if a, k := len(d.Accounts(alice.user.ID)), len(d.Keys(alice.account.ID)); a != capacity || k != capacity {
		t.Fatalf("%d accounts and %d keys, want %d of each", a, k, capacity)
	}
}

// TestAWalletBindsOneAccountPerEnvironmentUnderRaces: concurrent creations
// and bindings of one wallet in one environment leave exactly one account
// bound to it, and a reload finds the same.
func TestAWalletBindsOneAccountPerEnvironmentUnderRaces(t *testing.T) {
	eng := openEngine(t)
	d := open(t, eng, 0, 0)
	owner := access.User{ID: "user_w", Address: "0x52908400098527886E0F7030069857D2E4169EE7", CreatedAt: t0}
	if err := d.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	const racers = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*racers)
	for i := range racers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			p := access.Profile{ID: fmt.Sprintf("acct_c%d", i), Owner: owner.ID, Environment: access.EnvironmentTest,
				WalletAddress: owner.Address, CreatedAt: t0}
			errs <- d.CreateAccount(ctx, p, engine.LedgerID(access.EnvironmentTest.Ledger()))
		}()
		go func() {
			defer wg.Done()
			p := access.Profile{ID: fmt.Sprintf("acct_b%d", i), Owner: owner.ID, Environment: access.EnvironmentTest, CreatedAt: t0}
			if err := d.CreateAccount(ctx, p, engine.LedgerID(access.EnvironmentTest.Ledger())); err != nil {
				errs <- err
				return
			}
			_, err := d.BindWallet(ctx, p.ID, owner.ID, owner.Address)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	bound := 0
	for err := range errs {
		switch {
		case err == nil:
			bound++
		case !errors.Is(err, ErrWalletBound):
			t.Fatalf("= %v, want nil or ErrWalletBound", err)
		}
	}
	if bound != 1 {
		t.Fatalf("%d accounts bound the wallet, want exactly 1", bound)
	}
	p, ok := d.AccountByWallet(access.EnvironmentTest, owner.Address)
	if !ok || p.WalletAddress != owner.Address {
		t.Fatalf("AccountByWallet = %+v %v", p, ok)
	}
	if _, ok := d.AccountByWallet(access.EnvironmentLive, owner.Address); ok {
		t.Fatal("bound in the live environment too")
	}
	reloaded := open(t, eng, 0, 0)
	again, ok := reloaded.AccountByWallet(access.EnvironmentTest, owner.Address)
	if !ok || again.ID != p.ID {
		t.Fatalf("after a reload: %+v %v, want %s", again, ok, p.ID)
	}
}
