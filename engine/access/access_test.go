package access

import (
	"errors"
	"go/build"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBucketAllowsTheBurstThenRefusesUntilItRefills(t *testing.T) {
	limit := RateLimit{Requests: 3, PerSeconds: 3} // one request per second, burst 3
	var b Bucket
	now := int64(1_000) * int64(time.Second)
	for i, wantRemaining := range []uint32{2, 1, 0} {
		ok, status := b.Take(limit, now)
		if !ok || status.Remaining != wantRemaining || status.Limit != 3 {
			t.Fatalf("Take %d = %v, %+v, want allowed with %d remaining", i, ok, status, wantRemaining)
		}
	}
	ok, status := b.Take(limit, now)
	if ok || status.RetryAfterSeconds != 1 || status.Remaining != 0 || status.ResetSeconds != 3 {
		t.Fatalf("Take on an empty bucket = %v, %+v, want refused, retry after 1 s, reset in 3 s", ok, status)
	}
	ok, status = b.Take(limit, now+int64(time.Second))
	if !ok || status.Remaining != 0 {
		t.Fatalf("Take a second later = %v, %+v, want allowed with 0 remaining", ok, status)
	}
	ok, status = b.Take(limit, now+10*int64(time.Second))
	if !ok || status.Remaining != 2 || status.ResetSeconds != 1 {
		t.Fatalf("Take after a full refill = %v, %+v, want allowed with 2 remaining", ok, status)
	}
}

func TestBucketRetryAfterCountsWholeSecondsToTheNextToken(t *testing.T) {
	limit := RateLimit{Requests: 1, PerSeconds: 60}
	var b Bucket
	if ok, _ := b.Take(limit, 0); !ok {
		t.Fatal("first request refused")
	}
	ok, status := b.Take(limit, int64(time.Second)/2)
	if ok || status.RetryAfterSeconds != 60 {
		t.Fatalf("Take = %v, %+v, want refused, retry after 60 s (59.5 rounded up)", ok, status)
	}
}

func TestParseRateLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want RateLimit
		err  bool
	}{
		{"1000/1s", RateLimit{1000, 1}, false},
		{"300/15m", RateLimit{300, 900}, false},
		{"0/1s", RateLimit{}, true},
		{"10/1500ms", RateLimit{}, true},
		{"10/2d", RateLimit{}, true},
		{"10/48h", RateLimit{}, true},
		{"ten/1s", RateLimit{}, true},
		{"10", RateLimit{}, true},
	} {
		got, err := ParseRateLimit(c.in)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("ParseRateLimit(%q) = %v, %v, want %v (error %v)", c.in, got, err, c.want, c.err)
		}
		if c.err && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRateLimit(%q) error = %v, want ErrInvalid", c.in, err)
		}
	}
}

func TestScopesParseAndName(t *testing.T) {
	s, err := ParseScopes([]string{"charges:write", "balance:read", "charges:write"})
	if err != nil || s != ScopeChargesWrite|ScopeBalanceRead {
		t.Fatalf("ParseScopes = %v, %v", s, err)
	}
	if got := s.Names(); !slices.Equal(got, []string{"charges:write", "balance:read"}) {
		t.Fatalf("Names = %q", got)
	}
	all, err := ParseScopes([]string{"*"})
	if err != nil || all != ScopeAll || !all.Has(ScopeSettlementsRead) || !slices.Equal(all.Names(), []string{"*"}) {
		t.Fatalf("ParseScopes(*) = %v, %v", all, err)
	}
	for _, bad := range [][]string{nil, {"charges:read"}, {""}, make([]string, ScopesMax+1)} {
		if _, err := ParseScopes(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseScopes(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if ScopesRead.Has(ScopeChargesWrite) || !ScopesRead.Has(ScopeBalanceRead) {
		t.Fatal("ScopesRead must hold the read scopes only")
	}
}

func TestAuthorizeChecksRevocationExpiryAndScope(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	base := Key{Scopes: ScopeChargesWrite}
	revoked, expired, expiring := base, base, base
	revoked.RevokedAt = now.Add(-time.Minute)
	expired.ExpiresAt = now
	expiring.ExpiresAt = now.Add(time.Second)
	for _, c := range []struct {
		name  string
		key   Key
		scope Scope
		want  error
	}{
		{"valid", base, ScopeChargesWrite, nil},
		{"revoked", revoked, ScopeChargesWrite, ErrKeyRevoked},
		{"expired at its expiry", expired, ScopeChargesWrite, ErrKeyExpired},
		{"not yet expired", expiring, ScopeChargesWrite, nil},
		{"missing scope", base, ScopeBalanceRead, ErrMissingScope},
	} {
		if err := c.key.Authorize(c.scope, now); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: Authorize = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRowsRoundTrip(t *testing.T) {
	key := Key{ID: "key_1", Account: "acct_1", Scopes: ScopeAll, Hash: []byte{1, 2, 3}, RateLimit: RateLimit{10, 1},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Environment: EnvironmentTest, Kind: KeySecret}
	rowKey, value := Row(&key)
	if string(rowKey) != "k/key_1" {
		t.Fatalf("row key = %q", rowKey)
	}
	got, err := Decode[Key](value)
	if err != nil || !reflect.DeepEqual(got, key) {
		t.Fatalf("Decode = %+v, %v, want %+v", got, err, key)
	}
	if _, err := Decode[User]([]byte("{")); err == nil {
		t.Fatal("Decode of a broken row succeeded")
	}
}

func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range pkg.Imports {
		if strings.Contains(strings.Split(path, "/")[0], ".") {
			t.Errorf("access imports %q: the access rules must stay pure", path)
		}
	}
}
