package httpapi

import (
	"bytes"
	"container/heap"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits of the idempotent response store. It is bounded in bytes, at
// three levels, all derived from one total an operator sets
// (--idempotency-store-bytes):
//
//	store    IdempotencyStoreBytesDefault (256 MiB)
//	shard    store / idempotencyShards (4 MiB); owners hash to shards
//	owner    shard / idempotencyOwnerShare (2 MiB): one account, user or
//	         admin, or one anonymous client address
//	response owner / idempotencyResponseShare (512 KiB)
//
// A response over its cap, or any non-2xx, is not stored: the key is
// released and a retry runs the request again. For charges that is still
// exactly once: the Idempotency-Key derives the charges' durable client ids,
// so the retry answers the same charges (marked replayed) without moving
// money again. A batch whose items all failed is not stored either.
const (
	// IdempotencyKeyBytesMax bounds an Idempotency-Key header.
	IdempotencyKeyBytesMax = 255
	// idempotencyTTL is how long a stored response is replayed.
	idempotencyTTL = 24 * time.Hour
	// IdempotencyStoreBytesDefault bounds the memory of every stored
	// response together: about 800,000 charge responses (~330 bytes each
	// with their key and overhead), a day of a busy client's retries.
	IdempotencyStoreBytesDefault = 256 << 20
	// IdempotencyStoreBytesMin keeps a response cap (2 KiB) that still
	// holds a single charge with some metadata.
	IdempotencyStoreBytesMin = idempotencyShards * idempotencyOwnerShare * idempotencyResponseShare * 2 << 10
	// idempotencyShards spreads owners over locks; an owner's entries all
	// live in one shard, so its bytes are counted under one lock.
	idempotencyShards = 64
	// idempotencyOwnerShare: one owner may hold at most 1/2 of its shard,
	// so owners that hash with it always keep the other half; when the
	// shard is full the owner holding the most loses its oldest first.
	idempotencyOwnerShare = 2
	// idempotencyResponseShare: one response may be at most 1/4 of an
	// owner's bytes, so an owner keeps at least its 4 latest responses. At
	// the default, a batch of 1000 plain charges (~280 KB) fits.
	idempotencyResponseShare = 4
	// idempotencyEntryBytes is an entry's memory beside its key and body:
	// the entry (160 B), its map slot at worst load (~50 B), its queue slot
	// and the size-class rounding of its key. TestIdempotencyStoreCountsItsMemory
	// checks it against the heap.
	idempotencyEntryBytes = 256
	// idempotencyOwnerBytes is an owner record's memory beside its name:
	// the record, its map slot and its heap slot.
	idempotencyOwnerBytes = 160
)

// principalAnonymous is the principal of requests without credentials;
// their responses are kept per client address instead.
const principalAnonymous = "anonymous"

// idempotencyStore keeps the first 2xx response to each Idempotency-Key, so
// a retry gets the same status and body. It is in memory, bounded in bytes
// and sharded by owner (who sent the request): across restarts, charges
// stay exactly-once through their durable client ids (derived from the
// key), and other writes are safe to repeat.
//
// NB: responses that carry a secret (a new API key, a token pair) live only
// here, in memory, for idempotencyTTL at most; they are never written down.
type idempotencyStore struct {
	seed             maphash.Seed
	clock            func() time.Time
	shardBytesMax    int
	ownerBytesMax    int
	responseBytesMax int
	shards           [idempotencyShards]idempotencyShard
}

type idempotencyShard struct {
	mu      sync.Mutex
	entries map[string]*idempotentResponse // by store key
	owners  map[string]*idempotencyOwner
	largest ownerHeap // owners by bytes, the most first
	bytes   int       // entries and owner records
}

// idempotencyOwner is one owner's entries, oldest first.
type idempotencyOwner struct {
	name  string
	bytes int // of its entries
	live  int // entries in queue not dropped
	queue []*idempotentResponse
	head  int // queue[:head] are gone
	index int // in largest
}

type idempotentResponse struct {
	key         string
	owner       *idempotencyOwner // nil once dropped
	request     [sha256.Size]byte // hash of the request it answered
	done        bool              // false while the first request runs
	status      int
	body        []byte
	contentType []byte
	stored      time.Time
	bytes       int // counted in its owner and shard
}

// contentTypeJSON is shared by the stored responses that have it.
var contentTypeJSON = []byte("application/json")

// newIdempotencyStore returns a store of at most storeBytes (plus the keys
// of requests in flight), timing entries with clock.
func newIdempotencyStore(storeBytes int, clock func() time.Time) *idempotencyStore {
	s := &idempotencyStore{seed: maphash.MakeSeed(), clock: clock, shardBytesMax: storeBytes / idempotencyShards}
	s.ownerBytesMax = s.shardBytesMax / idempotencyOwnerShare
	s.responseBytesMax = s.ownerBytesMax / idempotencyResponseShare
	for i := range s.shards {
		s.shards[i].entries = map[string]*idempotentResponse{}
		s.shards[i].owners = map[string]*idempotencyOwner{}
	}
	return s
}

// validateIdempotencyStoreBytes checks a configured store size.
func validateIdempotencyStoreBytes(n int) error {
	if n < IdempotencyStoreBytesMin {
		return fmt.Errorf("idempotency store of %d bytes: want at least %d", n, IdempotencyStoreBytesMin)
	}
	return nil
}

// storeKey names a response: its owner first, which picks the shard.
func storeKey(owner, route, key string) string { return owner + "\x00" + route + "\x00" + key }

func (s *idempotencyStore) shard(storeKey string) *idempotencyShard {
	owner, _, _ := strings.Cut(storeKey, "\x00")
	return &s.shards[maphash.String(s.seed, owner)%idempotencyShards]
}

// begin claims key for a request whose content hashes to request. It returns
// the stored response to replay, or errIdempotencyReused if key answered a
// different request, or errIdempotencyInUse while the first one runs; or
// nothing, when the caller should go on and the wrapper will finish key.
func (s *idempotencyStore) begin(key string, request [sha256.Size]byte, now time.Time) (*idempotentResponse, *apiError) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r := sh.entries[key]; r != nil {
		if !r.done || now.Sub(r.stored) < idempotencyTTL {
			switch {
			case r.request != request:
				return nil, errIdempotencyReused
			case !r.done:
				return nil, errIdempotencyInUse
			}
			return r, nil
		}
		sh.drop(r)
	}
	ownerName, _, _ := strings.Cut(key, "\x00")
	o := sh.owners[ownerName]
	if o != nil {
		sh.expire(o, now) // may drop o with its last entry
		o = sh.owners[ownerName]
	}
	if o == nil {
		o = &idempotencyOwner{name: strings.Clone(ownerName)} // not pinning this key
		sh.owners[o.name] = o
		heap.Push(&sh.largest, o)
		sh.bytes += idempotencyOwnerBytes + len(ownerName)
	}
	r := &idempotentResponse{key: key, owner: o, request: request, bytes: idempotencyEntryBytes + len(key)}
	sh.entries[key] = r
	o.queue = append(o.queue, r)
	o.live++
	sh.grow(o, r.bytes)
	s.enforce(sh, o)
	return nil, nil
}

// finish stores a 2xx response of at most responseBytesMax, or releases
// key after anything else so the request can be retried.
func (s *idempotencyStore) finish(key string, status int, body, contentType []byte) {
	keep := status >= 200 && status <= 299 && len(body)+len(contentType) <= s.responseBytesMax
	var storedBody, storedType []byte
	grown := 0
	if keep { // copied before the lock, to hold it briefly
		storedBody = append([]byte(nil), body...)
		storedType = contentTypeJSON
		if !bytes.Equal(contentType, contentTypeJSON) {
			storedType = append([]byte(nil), contentType...)
			grown = cap(storedType)
		}
		grown += cap(storedBody)
	}
	now := s.clock()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.entries[key]
	if r == nil || r.done {
		return
	}
	if !keep {
		sh.drop(r)
		return
	}
	r.done, r.status, r.stored = true, status, now
	r.body, r.contentType = storedBody, storedType
	r.bytes += grown
	sh.grow(r.owner, grown)
	s.enforce(sh, r.owner)
}

// release forgets a key begun and not finished: the handler decided its
// response is not worth keeping, and a retry runs the request again.
func (s *idempotencyStore) release(key string) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r := sh.entries[key]; r != nil && !r.done {
		sh.drop(r)
	}
}

// enforce evicts, oldest first, o's entries over its cap, then the entries
// of the shard's largest owners while the shard is over its budget. Entries
// in flight are not evicted: the shard may exceed its budget by their keys.
func (s *idempotencyStore) enforce(sh *idempotencyShard, o *idempotencyOwner) {
	for o.bytes > s.ownerBytesMax && sh.evictOldest(o) {
	}
	for sh.bytes > s.shardBytesMax && len(sh.largest) > 0 && sh.evictOldest(sh.largest[0]) {
	}
}

// grow adds n bytes to o and its shard.
func (sh *idempotencyShard) grow(o *idempotencyOwner, n int) {
	o.bytes += n
	sh.bytes += n
	heap.Fix(&sh.largest, o.index)
}

// evictOldest drops o's oldest finished entry; false if it has none.
func (sh *idempotencyShard) evictOldest(o *idempotencyOwner) bool {
	for i := o.head; i < len(o.queue); i++ {
		if r := o.queue[i]; r.owner != nil && r.done {
			sh.drop(r)
			return true
		}
	}
	return false
}

// expire drops o's oldest entries while they are past idempotencyTTL.
func (sh *idempotencyShard) expire(o *idempotencyOwner, now time.Time) {
	for o.live > 0 {
		r := o.queue[o.head]
		if r.owner == nil {
			o.head++
			continue
		}
		if !r.done || now.Sub(r.stored) < idempotencyTTL {
			return
		}
		sh.drop(r)
	}
}

// drop removes r, and its owner once it has no entries left.
func (sh *idempotencyShard) drop(r *idempotentResponse) {
	o := r.owner
	delete(sh.entries, r.key)
	r.owner = nil
	o.live--
	sh.grow(o, -r.bytes)
	if o.live == 0 {
		heap.Remove(&sh.largest, o.index)
		delete(sh.owners, o.name)
		sh.bytes -= idempotencyOwnerBytes + len(o.name)
		return
	}
	for o.queue[o.head].owner == nil {
		o.queue[o.head] = nil
		o.head++
	}
	// Keep the queue's dead slots (dropped out of order) fewer than its
	// live ones, so it stays within twice its entries.
	if len(o.queue)-o.head > 2*o.live+16 {
		kept := o.queue[:0]
		for _, q := range o.queue[o.head:] {
			if q.owner != nil {
				kept = append(kept, q)
			}
		}
		clear(o.queue[len(kept):])
		o.queue, o.head = kept, 0
	}
}

// bytes returns the memory the store accounts for.
func (s *idempotencyStore) bytes() int {
	total := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		total += sh.bytes
		sh.mu.Unlock()
	}
	return total
}

// ownerBytes returns what owner's entries account for.
func (s *idempotencyStore) ownerBytes(owner string) int {
	sh := s.shard(owner)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if o := sh.owners[owner]; o != nil {
		return o.bytes
	}
	return 0
}

// ownerHeap orders owners by bytes, the most first.
type ownerHeap []*idempotencyOwner

func (h ownerHeap) Len() int           { return len(h) }
func (h ownerHeap) Less(i, j int) bool { return h[i].bytes > h[j].bytes }
func (h ownerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *ownerHeap) Push(x any) {
	o := x.(*idempotencyOwner)
	o.index = len(*h)
	*h = append(*h, o)
}
func (h *ownerHeap) Pop() any {
	old := *h
	o := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return o
}

// idempotent begins an idempotent request if it carries an Idempotency-Key:
// principal scopes keys to who sends them, and owns the stored response's
// bytes (anonymous requests: per client address). It reports whether a
// stored response was replayed, in which case the handler is done.
func (s *Server) idempotent(ctx *fasthttp.RequestCtx, c *call, principal string) (bool, *apiError) {
	done, _, err := s.idempotentKey(ctx, c, principal)
	return done, err
}

// idempotentKey is idempotent that also returns the request's
// Idempotency-Key, "" if none, for a handler that derives ids from it. The
// header is read once: key is the tail of the store key that holds it.
func (s *Server) idempotentKey(ctx *fasthttp.RequestCtx, c *call, principal string) (done bool, key string, err *apiError) {
	raw, err := idempotencyKeyBytes(ctx)
	if err != nil || raw == nil {
		return false, "", err
	}
	if principal == principalAnonymous {
		principal = principalAnonymous + ":" + ctx.RemoteIP().String()
	}
	var request [sha256.Size]byte
	hashRequest(&request, ctx)
	name := storeKey(principal, c.route, string(raw)) // one allocation: the conversion is a temporary
	key = name[len(name)-len(raw):]
	stored, err := s.idempotency.begin(name, request, s.now())
	if err != nil {
		return false, "", err
	}
	if stored != nil {
		ctx.SetStatusCode(stored.status)
		ctx.Response.Header.SetContentTypeBytes(stored.contentType)
		ctx.SetBody(stored.body)
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
		return true, key, nil
	}
	c.idempotencyKey = name
	return false, key, nil
}

// hashRequest sums what makes two requests under one Idempotency-Key the
// same request: method, path and body.
func hashRequest(sum *[sha256.Size]byte, ctx *fasthttp.RequestCtx) {
	h := sha256.New()
	h.Write(ctx.Method())
	h.Write([]byte{0})
	h.Write(ctx.Path())
	h.Write([]byte{0})
	h.Write(ctx.PostBody())
	h.Sum(sum[:0])
}

// forgetIdempotent releases the request's Idempotency-Key instead of
// storing its response: a retry runs it again.
func (s *Server) forgetIdempotent(c *call) {
	if c.idempotencyKey != "" {
		s.idempotency.release(c.idempotencyKey)
		c.idempotencyKey = ""
	}
}

// idempotencyKeyBytes returns the request's Idempotency-Key, checked, in
// the request's header (valid until the request ends); nil if none.
func idempotencyKeyBytes(ctx *fasthttp.RequestCtx) ([]byte, *apiError) {
	raw := ctx.Request.Header.Peek("Idempotency-Key")
	if raw == nil {
		return nil, nil
	}
	if len(raw) == 0 || len(raw) > IdempotencyKeyBytesMax {
		return nil, validation(map[string]string{"Idempotency-Key": "must be 1-255 printable ASCII characters"})
	}
	for _, b := range raw {
		if b < 0x20 || b > 0x7e {
			return nil, validation(map[string]string{"Idempotency-Key": "must be 1-255 printable ASCII characters"})
		}
	}
	return raw, nil
}
