package httpapi

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Limits of Sign-In with Ethereum challenges.
const (
	// challengesPerAddressMax bounds an address's outstanding challenges:
	// a wallet retrying or a second tab needs a few. A new one replaces the
	// address's oldest, so asking for more never fails.
	challengesPerAddressMax = 4
	// challengesMax bounds the store: ~400 bytes each, 40 MB full. One
	// client IP at the default --auth-rate-limit (60/1m) can create at most
	// 60 + 60 × 5 = 360 challenges within challengeTTL, so a single client
	// holds under 0.4% of it and filling it takes 278 IPs (/64s) at full
	// rate. Even then it is never refused: a full store evicts its oldest
	// challenge, so the cost of a flood is that the oldest outstanding
	// sign-ins must ask again, not that no one can sign in.
	challengesMax = 100_000
)

// challengeStore keeps the outstanding Sign-In with Ethereum challenges in
// memory, each until it is used, replaced, evicted or expired.
//
// NB: challenges are not durable, by choice. A challenge lives 5 minutes
// and is used once; writing it (and its deletion) through the log would
// let unauthenticated clients make the server fsync, grow the table, and,
// as it did when the table's cap was global, bring a full table back at
// every restart. In memory, a restart forgets the challenges issued before
// it: their logins fail as unknown and the wallet asks again. Single use
// still holds across restarts: a nonce used before the restart is
// forgotten along with every other, and a forgotten nonce signs in no one.
type challengeStore struct {
	mu        sync.Mutex
	byNonce   map[string]*list.Element // of *challenge
	byAddress map[string][]string      // address → its nonces, oldest first
	order     *list.List               // *challenge by creation, so by expiry: one TTL for all
}

type challenge struct {
	nonce     string
	address   string
	expiresAt int64 // Unix nanoseconds
}

func newChallengeStore() *challengeStore {
	return &challengeStore{byNonce: map[string]*list.Element{}, byAddress: map[string][]string{}, order: list.New()}
}

// add stores a challenge for address, after dropping the expired ones, the
// address's oldest if it has challengesPerAddressMax, and the store's
// oldest if it holds challengesMax.
func (c *challengeStore) add(nonce, address string, expiresAt, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for front := c.order.Front(); front != nil && front.Value.(*challenge).expiresAt <= now; front = c.order.Front() {
		c.drop(front)
	}
	if nonces := c.byAddress[address]; len(nonces) >= challengesPerAddressMax {
		c.drop(c.byNonce[nonces[0]])
	}
	if c.order.Len() >= challengesMax {
		c.drop(c.order.Front())
	}
	c.byNonce[nonce] = c.order.PushBack(&challenge{nonce: nonce, address: address, expiresAt: expiresAt})
	c.byAddress[address] = append(c.byAddress[address], nonce)
}

// take removes nonce's challenge and returns its address, if it is there
// and not expired at now: a nonce works once.
func (c *challengeStore) take(nonce string, now int64) (address string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	element := c.byNonce[nonce]
	if element == nil {
		return "", false
	}
	ch := element.Value.(*challenge)
	c.drop(element)
	return ch.address, now < ch.expiresAt
}

// drop removes a challenge from every index.
// REQUIRES: c.mu held.
func (c *challengeStore) drop(element *list.Element) {
	ch := c.order.Remove(element).(*challenge)
	delete(c.byNonce, ch.nonce)
	nonces := c.byAddress[ch.address]
	for i, nonce := range nonces {
		if nonce == ch.nonce {
			nonces = append(nonces[:i], nonces[i+1:]...)
			break
		}
	}
	if len(nonces) == 0 {
		delete(c.byAddress, ch.address)
	} else {
		c.byAddress[ch.address] = nonces
	}
}

// len counts the outstanding challenges.
func (c *challengeStore) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// purgeStoredNonces deletes the challenge rows earlier versions wrote to
// the engine's table (access.PrefixNonce), in writes under RowsBytesMax, so
// a table they filled does not outlive the upgrade.
func purgeStoredNonces(ctx context.Context, eng *engine.Engine) error {
	var keys [][]byte
	err := eng.ScanRows([]byte(access.PrefixNonce), func(key, _ []byte) error {
		keys = append(keys, append([]byte(nil), key...))
		return nil
	})
	if err != nil {
		return fmt.Errorf("httpapi: scan stored challenges: %w", err)
	}
	var rows []engine.Row
	size := 0
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := eng.WriteRows(ctx, rows...); err != nil {
			return fmt.Errorf("httpapi: delete stored challenges: %w", err)
		}
		rows, size = rows[:0], 0
		return nil
	}
	for _, key := range keys {
		if size+len(key) > engine.RowsBytesMax {
			if err := flush(); err != nil {
				return err
			}
		}
		rows = append(rows, engine.Row{Key: key})
		size += len(key)
	}
	return flush()
}
