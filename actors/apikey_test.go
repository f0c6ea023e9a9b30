package actors

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine/access"
)

func authorize(t *testing.T, keys *Keys, ref *KeyRef, scope access.Scope, now time.Time) Authorization {
	t.Helper()
	reply := make(chan Authorization, 1)
	if !keys.Send(ref, &Authorize{Scope: scope, Now: now.UnixNano(), Reply: reply}) {
		t.Fatal("Send refused before Shutdown")
	}
	select {
	case answer := <-reply:
		return answer
	case <-time.After(5 * time.Second):
		t.Fatal("no answer from the key actor")
	}
	panic("unreachable")
}

// newKeyRef returns a key's actor address and the record it reads, which
// the test owns as the directory would.
func newKeyRef(key access.Key) (*KeyRef, *atomic.Pointer[access.Key]) {
	var record atomic.Pointer[access.Key]
	record.Store(&key)
	return NewKeyRef(&record), &record
}

func TestKeyActorChecksScopeAndBucketAndSeesRevocation(t *testing.T) {
	keys := NewKeys(nil)
	defer keys.Shutdown()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	key := access.Key{ID: "key_1", Account: "acct_1", Environment: access.EnvironmentTest,
		Scopes: access.ScopeChargesWrite, RateLimit: access.RateLimit{Requests: 2, PerSeconds: 1}}
	ref, record := newKeyRef(key)

	first := authorize(t, keys, ref, access.ScopeChargesWrite, now)
	if first.Err != nil || first.Account != "acct_1" || first.Rate.Remaining != 1 {
		t.Fatalf("first = %+v, want allowed for acct_1 with 1 remaining", first)
	}
	if scoped := authorize(t, keys, ref, access.ScopeBalanceRead, now); !errors.Is(scoped.Err, access.ErrMissingScope) || scoped.Rate.Remaining != 0 {
		t.Fatalf("missing scope = %+v, want ErrMissingScope after spending a token", scoped)
	}
	if limited := authorize(t, keys, ref, access.ScopeChargesWrite, now); !errors.Is(limited.Err, access.ErrRateLimited) || limited.Rate.RetryAfterSeconds != 1 {
		t.Fatalf("third = %+v, want ErrRateLimited, retry after 1 s", limited)
	}
	if refilled := authorize(t, keys, ref, access.ScopeChargesWrite, now.Add(time.Second)); refilled.Err != nil {
		t.Fatalf("after a second = %+v, want allowed", refilled)
	}

	key.RevokedAt = now
	record.Store(&key) // the owner publishes the revoked record
	if revoked := authorize(t, keys, ref, access.ScopeChargesWrite, now.Add(time.Hour)); !errors.Is(revoked.Err, access.ErrKeyRevoked) {
		t.Fatalf("after revocation = %+v, want ErrKeyRevoked", revoked)
	}
}

func TestKeyUpdatedBeforeItsActorSpawnsStartsFromTheUpdate(t *testing.T) {
	keys := NewKeys(nil)
	now := time.Now()
	key := access.Key{ID: "key_2", Scopes: access.ScopeAll, RateLimit: access.RateLimit{Requests: 5, PerSeconds: 1}}
	ref, record := newKeyRef(key)
	expired := key
	expired.ExpiresAt = now
	record.Store(&expired)
	if answer := authorize(t, keys, ref, access.ScopeBalanceRead, now); !errors.Is(answer.Err, access.ErrKeyExpired) {
		t.Fatalf("answer = %+v, want ErrKeyExpired", answer)
	}
	keys.Shutdown()
	if keys.Send(ref, &Authorize{Reply: make(chan Authorization, 1)}) {
		t.Fatal("Send after Shutdown reported delivery")
	}
}
