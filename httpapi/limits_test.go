package httpapi

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- the idempotent response store, in bytes

// withIdempotencyStoreBytes sets the store's size: at IdempotencyStoreBytesMin
// a shard holds 16 KiB, an owner 8 KiB and a response 2 KiB.
func withIdempotencyStoreBytes(n int) serverOption {
	return func(c *Config) { c.IdempotencyStoreBytes = n }
}

// unfundedBatch is a batch of items charges: the first of amount first
// ("" for none), the others far beyond any balance.
func unfundedBatch(to string, items int, first string) map[string]any {
	charges := make([]map[string]string, items)
	for i := range charges {
		charges[i] = map[string]string{"to": to, "amount": "1000000000000"}
	}
	if first != "" {
		charges[0]["amount"] = first
	}
	return map[string]any{"charges": charges}
}

// sameShardAccount creates accounts for u until one hashes to the shard of
// owner, and returns it.
func (ts *testServer) sameShardAccount(u user, owner string) string {
	ts.t.Helper()
	store := ts.server.idempotency
	for range 64 * 16 {
		if id := ts.account(u, "test"); store.shard(id) == store.shard(owner) {
			return id
		}
	}
	ts.t.Fatal("no account in the owner's shard")
	return ""
}

func TestIdempotencyStoreStaysWithinItsBytesUnderABatchFlood(t *testing.T) {
	ts := startServer(t, withIdempotencyStoreBytes(IdempotencyStoreBytesMin))
	store := ts.server.idempotency
	m := ts.market("1000000")
	// Another client, whose responses live in the flooder's shard.
	victim := ts.sameShardAccount(m.supplier, m.payer)
	ts.credit(victim, "1000")
	_, victimKey := ts.key(m.supplier, victim, nil)
	var victimReplies []response
	for i := range 3 {
		r := ts.do("POST", "/v1/charges", victimKey, map[string]string{"to": m.payer, "amount": "1"}, "Idempotency-Key", fmt.Sprint("victim-", i))
		expect(t, r, 201, "", "")
		victimReplies = append(victimReplies, r)
	}
	victimBytes := store.ownerBytes(victim)
	before := store.bytes()

	// The reported attack, scaled down: batches of unfunded items, each with
	// a new key. Error-only answers are not stored at all.
	for i := range 50 {
		r := ts.do("POST", "/v1/charges/batch", m.key, unfundedBatch(m.payee, 20, ""), "Idempotency-Key", fmt.Sprint("flood-", i))
		expect(t, r, 200, "", "")
	}
	if got := store.bytes(); got != before {
		t.Fatalf("store = %d bytes after error-only batches, want %d as before", got, before)
	}
	// With one funded item each, they are stored, within the owner's cap.
	var first, last response
	for i := range 100 {
		r := ts.do("POST", "/v1/charges/batch", m.key, unfundedBatch(m.payee, 4, "1"), "Idempotency-Key", fmt.Sprint("mixed-", i))
		expect(t, r, 200, "", "")
		if i == 0 {
			first = r
		}
		last = r
		if got, max := store.bytes(), IdempotencyStoreBytesMin; got > max {
			t.Fatalf("store = %d bytes after %d batches, want at most %d", got, i+1, max)
		}
		if got, max := store.ownerBytes(m.payer), store.ownerBytesMax; got > max {
			t.Fatalf("flooder holds %d bytes, want at most %d", got, max)
		}
	}
	if got := store.ownerBytes(victim); got != victimBytes {
		t.Fatalf("victim holds %d bytes after the flood, want %d", got, victimBytes)
	}
	// The other client's responses still replay, byte for byte.
	for i, want := range victimReplies {
		r := ts.do("POST", "/v1/charges", victimKey, map[string]string{"to": m.payer, "amount": "1"}, "Idempotency-Key", fmt.Sprint("victim-", i))
		if r.status != 201 || string(r.body) != string(want.body) || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("victim's replay %d = %d %s (replayed %q), want %s", i, r.status, r.body, r.header.Get("Idempotent-Replayed"), want.body)
		}
	}
	// The flooder's latest replays; its oldest was evicted, and its retry is
	// still exactly once through the charges' durable ids.
	r := ts.do("POST", "/v1/charges/batch", m.key, unfundedBatch(m.payee, 4, "1"), "Idempotency-Key", "mixed-99")
	if string(r.body) != string(last.body) || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("latest replay = %s, want %s", r.body, last.body)
	}
	available := ts.available(m.key)
	r = ts.do("POST", "/v1/charges/batch", m.key, unfundedBatch(m.payee, 4, "1"), "Idempotency-Key", "mixed-0")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry of an evicted batch = %d (replayed %q), want it run again", r.status, r.header.Get("Idempotent-Replayed"))
	}
	was, again := first.json(t)["results"].([]any)[0].(map[string]any), r.json(t)["results"].([]any)[0].(map[string]any)
	if again["id"] != was["id"] || again["replayed"] != true {
		t.Fatalf("retried item = %v, want charge %v replayed", again, was["id"])
	}
	if got := ts.available(m.key); got != available {
		t.Fatalf("available after the retry = %s, want %s: charged once", got, available)
	}
	page := string(ts.do("GET", "/metrics", testAdminToken, nil).body)
	if got, want := metricValue(page, "tollway_idempotency_store_bytes"), float64(store.bytes()); got != want || got <= 0 {
		t.Fatalf("tollway_idempotency_store_bytes = %v, want %v", got, want)
	}
}

func TestIdempotencyResponseOverItsCapIsNotStored(t *testing.T) {
	ts := startServer(t, withIdempotencyStoreBytes(IdempotencyStoreBytesMin))
	m := ts.market("1000")
	// Ten funded charges answer ~2.8 KB, over the 2 KiB response cap.
	batch := map[string]any{"charges": func() []map[string]string {
		items := make([]map[string]string, 10)
		for i := range items {
			items[i] = map[string]string{"to": m.payee, "amount": "10"}
		}
		return items
	}()}
	first := expect(t, ts.do("POST", "/v1/charges/batch", m.key, batch, "Idempotency-Key", "big"), 200, "", "")
	if n := ts.server.idempotency.ownerBytes(m.payer); n != 0 {
		t.Fatalf("owner holds %d bytes, want none: the response is over the cap", n)
	}
	r := ts.do("POST", "/v1/charges/batch", m.key, batch, "Idempotency-Key", "big")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry = %d (replayed %q), want the batch run again", r.status, r.header.Get("Idempotent-Replayed"))
	}
	for i, item := range r.json(t)["results"].([]any) {
		was := first["results"].([]any)[i].(map[string]any)
		if got := item.(map[string]any); got["id"] != was["id"] || got["replayed"] != true {
			t.Fatalf("retried item %d = %v, want charge %v replayed", i, got, was["id"])
		}
	}
	if got := ts.available(m.key); got != "900" {
		t.Fatalf("available = %s, want 900: charged once", got)
	}
	// A small response is stored and replays byte for byte.
	single := ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}, "Idempotency-Key", "small")
	again := ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}, "Idempotency-Key", "small")
	if single.status != 201 || string(again.body) != string(single.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d %s, want %s", again.status, again.body, single.body)
	}
}

func TestErrorOnlyBatchIsNotStoredAndRunsAgain(t *testing.T) {
	ts := startServer(t)
	m := ts.market("100")
	body := unfundedBatch(m.payee, 3, "")
	expect(t, ts.do("POST", "/v1/charges/batch", m.key, body, "Idempotency-Key", "broke"), 200, "", "")
	if n := ts.server.idempotency.ownerBytes(m.payer); n != 0 {
		t.Fatalf("owner holds %d bytes after an error-only batch, want 0", n)
	}
	// Funded since, the same request runs again and charges.
	ts.credit(m.payer, "1000000000000")
	r := ts.do("POST", "/v1/charges/batch", m.key, body, "Idempotency-Key", "broke")
	v := expect(t, r, 200, "", "")
	if r.header.Get("Idempotent-Replayed") != "" || v["results"].([]any)[0].(map[string]any)["id"] == nil {
		t.Fatalf("retry = %s (replayed %q), want the first item charged", r.body, r.header.Get("Idempotent-Replayed"))
	}
	// Now stored: a batch with a success replays byte for byte.
	again := ts.do("POST", "/v1/charges/batch", m.key, body, "Idempotency-Key", "broke")
	if string(again.body) != string(r.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %s, want %s", again.body, r.body)
	}
}

// sameShardOwners returns n owner names that hash to one shard of s.
func sameShardOwners(s *idempotencyStore, n int) []string {
	var owners []string
	for i := 0; len(owners) < n; i++ {
		name := fmt.Sprint("owner-", i)
		if len(owners) == 0 || s.shard(name) == s.shard(owners[0]) {
			owners = append(owners, name)
		}
	}
	return owners
}

// storeOne begins and finishes key of owner with a body of n bytes.
func storeOne(t *testing.T, s *idempotencyStore, owner, key string, n int, now time.Time) {
	t.Helper()
	name := storeKey(owner, "/r", key)
	if r, err := s.begin(name, sha256.Sum256([]byte(key)), now); r != nil || err != nil {
		t.Fatalf("begin %s = %v, %v", key, r, err)
	}
	s.finish(name, 200, make([]byte, n), []byte("application/json"))
}

func storedKey(s *idempotencyStore, owner, key string, now time.Time) bool {
	r, err := s.begin(storeKey(owner, "/r", key), sha256.Sum256([]byte(key)), now)
	if r == nil && err == nil {
		s.release(storeKey(owner, "/r", key))
	}
	return r != nil
}

func TestIdempotencyStoreEvictsOldestFirstAndTheLargestOwner(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := newIdempotencyStore(IdempotencyStoreBytesMin, func() time.Time { return now })
	owners := sameShardOwners(s, 5)
	flooder, victims := owners[0], owners[1:]
	for _, v := range victims {
		for i := range 2 {
			storeOne(t, s, v, fmt.Sprint("v", i), 500, now)
		}
	}
	for i := range 200 {
		storeOne(t, s, flooder, fmt.Sprint("f", i), 1000, now)
	}
	if got := s.ownerBytes(flooder); got > s.ownerBytesMax {
		t.Fatalf("flooder holds %d bytes, want at most %d", got, s.ownerBytesMax)
	}
	if got := s.bytes(); got > s.shardBytesMax {
		t.Fatalf("shard holds %d bytes, want at most %d", got, s.shardBytesMax)
	}
	for _, v := range victims {
		for i := range 2 {
			if !storedKey(s, v, fmt.Sprint("v", i), now) {
				t.Fatalf("%s's response v%d was evicted by another owner", v, i)
			}
		}
	}
	// Oldest first: the flooder keeps a run of its latest.
	kept := 0
	for i := 199; i >= 0 && storedKey(s, flooder, fmt.Sprint("f", i), now); i-- {
		kept++
	}
	for i := range 200 - kept {
		if storedKey(s, flooder, fmt.Sprint("f", i), now) {
			t.Fatalf("f%d kept, but only the latest %d should be", i, kept)
		}
	}
	if kept < 4 {
		t.Fatalf("flooder keeps %d responses, want at least 4", kept)
	}
	// Many owners together stay within the store.
	for i := range 3000 {
		storeOne(t, s, fmt.Sprint("crowd-", i), "k", 1500, now)
	}
	if got := s.bytes(); got > IdempotencyStoreBytesMin {
		t.Fatalf("store holds %d bytes, want at most %d", got, IdempotencyStoreBytesMin)
	}
	// A day later everything has expired: a new request begins afresh.
	later := now.Add(idempotencyTTL)
	if storedKey(s, flooder, "f199", later) {
		t.Fatal("a response older than the TTL replayed")
	}
}

func TestIdempotencyStoreCountsItsMemory(t *testing.T) {
	now := time.Now()
	s := newIdempotencyStore(1<<30, func() time.Time { return now })
	keys := make([]string, 50_000) // made before measuring: the store's key is its own copy
	for i := range keys {
		keys[i] = storeKey(fmt.Sprint("acct_", i%500), "/v1/charges", fmt.Sprintf("order-%08d", i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, key := range keys {
		s.begin(strings.Clone(key), sha256.Sum256([]byte(key)), now)
		s.finish(key, 201, make([]byte, 100+i%300), []byte("application/json"))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int(after.HeapAlloc) - int(before.HeapAlloc)
	if counted := s.bytes(); counted < used {
		t.Fatalf("the store counts %d bytes for %d responses; the heap grew by %d", counted, len(keys), used)
	} else {
		t.Logf("counted %d bytes, heap grew %d (%.0f%%)", counted, used, 100*float64(used)/float64(counted))
	}
	runtime.KeepAlive(s)
}

// ---- caps on creations

func TestConcurrentAccountCreatorsStopAtTheCap(t *testing.T) {
	const limit = 10
	ts := startServer(t, func(c *Config) { c.AccountsPerUser = limit })
	u := ts.signup("many@example.com")
	// Each ledger's own accounts (fees, chain) come with its first account.
	other := ts.signup("other@example.com")
	ts.account(other, "test")
	ts.account(other, "live")
	ledgerAccounts := ts.engine.Stats().Accounts
	statuses := race(64, func(i int) response {
		return ts.do("POST", "/v1/accounts", u.access, map[string]string{"name": fmt.Sprint("a", i), "environment": "test"})
	})
	if statuses[201] != limit || statuses[409] != 64-limit {
		t.Fatalf("statuses = %v, want %d created and %d refused", statuses, limit, 64-limit)
	}
	e := expect(t, ts.do("POST", "/v1/accounts", u.access, map[string]string{"name": "more", "environment": "live"}), 409, "conflict_error", "limit_exceeded")
	if !strings.Contains(fmt.Sprint(e["message"]), "at most 10 accounts") {
		t.Fatalf("error = %v", e)
	}
	listed := len(expect(t, ts.do("GET", "/v1/accounts", u.access, nil), 200, "", "")["data"].([]any))
	if got := ts.engine.Stats().Accounts - ledgerAccounts; listed != limit || got != limit {
		t.Fatalf("%d accounts listed, %d ledger accounts made, want %d of each", listed, got, limit)
	}
	ts.restart(func(c *Config) { c.AccountsPerUser = limit })
	expect(t, ts.do("POST", "/v1/accounts", u.access, map[string]string{"name": "more", "environment": "test"}), 409, "conflict_error", "limit_exceeded")
}

func TestConcurrentKeyCreatorsStopAtTheCap(t *testing.T) {
	const limit = 10
	ts := startServer(t, func(c *Config) { c.KeysPerAccount = limit })
	u := ts.signup("keys@example.com")
	account := ts.account(u, "test")
	statuses := race(64, func(i int) response {
		return ts.do("POST", "/v1/accounts/"+account+"/keys", u.access, map[string]any{"label": fmt.Sprint("k", i), "kind": "secret", "scopes": []string{"*"}})
	})
	if statuses[201] != limit || statuses[409] != 64-limit {
		t.Fatalf("statuses = %v, want %d created and %d refused", statuses, limit, 64-limit)
	}
	keys := expect(t, ts.do("GET", "/v1/accounts/"+account+"/keys", u.access, nil), 200, "", "")["data"].([]any)
	if len(keys) != limit {
		t.Fatalf("%d keys listed, want %d", len(keys), limit)
	}
	// A rotation makes one more key record: refused at the cap, nothing revoked.
	id := keys[0].(map[string]any)["id"].(string)
	expect(t, ts.do("POST", "/v1/keys/"+id+"/rotate", u.access, nil), 409, "conflict_error", "limit_exceeded")
	if k := expect(t, ts.do("GET", "/v1/keys/"+id, u.access, nil), 200, "", ""); k["revokedAt"] != nil {
		t.Fatalf("key after a refused rotation = %v, want it live", k)
	}
	// Another account has its own places.
	other := ts.account(u, "test")
	ts.key(u, other, nil)
}

// race runs n requests at once and counts their statuses.
func race(n int, do func(i int) response) map[int]int {
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		start    = make(chan struct{})
		wg       sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := do(i)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	// NB: without this, Shutdown waits seconds for the connections the
	// client dropped beyond its idle pool.
	client.CloseIdleConnections()
	return statuses
}

// ---- reading a charge

func TestReadingAChargeNeedsAScopeAndAParty(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	_, writer := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"charges:write"}})
	v := expect(t, ts.do("POST", "/v1/charges", writer, map[string]string{"to": m.payee, "amount": "10"}), 201, "", "")
	path := "/v1/charges/" + v["id"].(string)
	_, usage := ts.key(m.consumer, m.payer, map[string]any{"scopes": []string{"usage:read"}})
	_, payeeReader := ts.key(m.supplier, m.payee, map[string]any{"kind": "publishable", "scopes": []string{"balance:read"}})
	outsider := ts.market("1")
	for _, key := range []string{writer, m.key, payeeReader, m.supplierKey} {
		if got := expect(t, ts.do("GET", path, key, nil), 200, "", ""); got["id"] != v["id"] || got["amount"] != "10" {
			t.Fatalf("charge = %v", got)
		}
	}
	expect(t, ts.do("GET", path, usage, nil), 403, "permission_error", "missing_scope")
	expect(t, ts.do("GET", "/v1/charges/ch_nope", usage, nil), 403, "permission_error", "missing_scope")
	expect(t, ts.do("GET", path, outsider.key, nil), 404, "not_found_error", "not_found")
	expect(t, ts.do("GET", path, "", nil), 401, "authentication_error", "missing_credentials")
}
