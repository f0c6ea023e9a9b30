package httpapi

import (
	"crypto/sha256"
	"hash/maphash"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits of the idempotent response store.
const (
	// IdempotencyKeyBytesMax bounds an Idempotency-Key header.
	IdempotencyKeyBytesMax = 255
	// idempotencyTTL is how long a stored response is replayed.
	idempotencyTTL = 24 * time.Hour
	// idempotencyEntriesMax bounds the stored responses; the oldest go first.
	idempotencyEntriesMax = 1 << 18
	idempotencyShards     = 64
)

// idempotencyStore keeps the first 2xx response to each Idempotency-Key, so
// a retry gets the same status and body. It is in memory, bounded and
// sharded: across restarts, charges stay exactly-once through their durable
// client ids (derived from the key), and other writes are safe to repeat.
//
// NB: responses that carry a secret (a new API key, a token pair) live only
// here, in memory, for idempotencyTTL at most; they are never written down.
type idempotencyStore struct {
	seed   maphash.Seed
	shards [idempotencyShards]idempotencyShard
}

type idempotencyShard struct {
	mu      sync.Mutex
	entries map[string]*idempotentResponse
	order   []string // insertion order, for eviction
}

type idempotentResponse struct {
	request     [sha256.Size]byte // hash of the request it answered
	done        bool              // false while the first request runs
	status      int
	body        []byte
	contentType []byte
	stored      time.Time
}

func newIdempotencyStore() *idempotencyStore {
	s := &idempotencyStore{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].entries = map[string]*idempotentResponse{}
	}
	return s
}

func (s *idempotencyStore) shard(key string) *idempotencyShard {
	return &s.shards[maphash.String(s.seed, key)%idempotencyShards]
}

// begin claims key for a request whose content hashes to request. It returns
// the stored response to replay, or errIdempotencyReused if key answered a
// different request, or errIdempotencyInUse while the first one runs; or
// nothing, when the caller should go on and the wrapper will finish key.
func (s *idempotencyStore) begin(key string, request [sha256.Size]byte, now time.Time) (*idempotentResponse, *apiError) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r := sh.entries[key]; r != nil && (!r.done || now.Sub(r.stored) < idempotencyTTL) {
		switch {
		case r.request != request:
			return nil, errIdempotencyReused
		case !r.done:
			return nil, errIdempotencyInUse
		}
		return r, nil
	}
	if len(sh.order) >= idempotencyEntriesMax/idempotencyShards {
		s.evict(sh)
	}
	sh.entries[key] = &idempotentResponse{request: request}
	sh.order = append(sh.order, key)
	return nil, nil
}

// evict drops the oldest finished entries of a full shard.
func (s *idempotencyStore) evict(sh *idempotencyShard) {
	kept := sh.order[:0]
	dropped := 0
	for _, key := range sh.order {
		if r := sh.entries[key]; r != nil && r.done && dropped < len(sh.order)/4 {
			delete(sh.entries, key)
			dropped++
			continue
		}
		if sh.entries[key] != nil {
			kept = append(kept, key)
		}
	}
	sh.order = kept
}

// finish stores a 2xx response, or releases key after any other status so
// the request can be retried.
func (s *idempotencyStore) finish(key string, status int, body, contentType []byte) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.entries[key]
	if r == nil || r.done {
		return
	}
	if status < 200 || status > 299 {
		delete(sh.entries, key)
		return
	}
	r.done, r.status, r.stored = true, status, time.Now()
	r.body = append([]byte(nil), body...)
	r.contentType = append([]byte(nil), contentType...)
}

// idempotent begins an idempotent request if it carries an Idempotency-Key:
// principal scopes keys to who sends them. It reports whether a stored
// response was replayed, in which case the handler is done.
func (s *Server) idempotent(ctx *fasthttp.RequestCtx, c *call, principal string) (bool, *apiError) {
	key, err := idempotencyKeyOf(ctx)
	if err != nil || key == "" {
		return false, err
	}
	h := sha256.New()
	h.Write(ctx.Method())
	h.Write([]byte{0})
	h.Write(ctx.Path())
	h.Write([]byte{0})
	h.Write(ctx.PostBody())
	var request [sha256.Size]byte
	h.Sum(request[:0])
	storeKey := principal + "\x00" + c.route + "\x00" + key
	stored, err := s.idempotency.begin(storeKey, request, s.now())
	if err != nil {
		return false, err
	}
	if stored != nil {
		ctx.SetStatusCode(stored.status)
		ctx.Response.Header.SetContentTypeBytes(stored.contentType)
		ctx.SetBody(stored.body)
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
		return true, nil
	}
	c.idempotencyKey = storeKey
	return false, nil
}

// idempotencyKeyOf returns the request's Idempotency-Key, "" if none.
func idempotencyKeyOf(ctx *fasthttp.RequestCtx) (string, *apiError) {
	raw := ctx.Request.Header.Peek("Idempotency-Key")
	if raw == nil {
		return "", nil
	}
	if len(raw) == 0 || len(raw) > IdempotencyKeyBytesMax {
		return "", validation(map[string]string{"Idempotency-Key": "must be 1-255 printable ASCII characters"})
	}
	for _, b := range raw {
		if b < 0x20 || b > 0x7e {
			return "", validation(map[string]string{"Idempotency-Key": "must be 1-255 printable ASCII characters"})
		}
	}
	return string(raw), nil
}
