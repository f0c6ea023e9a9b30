package engine

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"

	"github.com/tollway/tollway/engine/ledger"
)

// inflightShardCount spreads client ids over independent locks.
const inflightShardCount = 256

// claimAttemptsMax bounds how often one call waits for another holder of its
// client id before giving up; each wait ends when that holder's op is durable.
const claimAttemptsMax = 64

var errClaimContended = errors.New("engine: client id contended by too many concurrent calls; retry")

// inflightTable holds the client ids of operations between their index
// lookup and their durable answer. Owning the claim on an id is what makes
// "look up, then decide" atomic: a second call with the same id waits for
// the first, then finds its result in the index.
type inflightTable struct {
	seed   maphash.Seed
	shards [inflightShardCount]inflightShard
}

type inflightShard struct {
	mu  sync.Mutex
	ops map[ledger.TransferID]*op
}

func (t *inflightTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].ops = make(map[ledger.TransferID]*op)
	}
}

func (t *inflightTable) shard(id ledger.TransferID) *inflightShard {
	return &t.shards[maphash.String(t.seed, string(id))%inflightShardCount]
}

// claim makes o the holder of its client id. While another op holds it,
// claim waits for that op's answer and tries again (claimWaiting), or
// refuses with errClaimedHere (claimOrRefuse). This is the only place a
// claim is taken; complete is the only place it is released.
func (t *inflightTable) claim(ctx context.Context, o *op, mode claimMode) error {
	id := o.command.ID
	s := t.shard(id)
	for attempt := 0; attempt < claimAttemptsMax; attempt++ {
		s.mu.Lock()
		holder := s.ops[id]
		if holder == nil {
			s.ops[id] = o
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if mode == claimOrRefuse {
			return errClaimedHere
		}
		if err := wait(ctx, holder); err != nil {
			return err
		}
	}
	return errClaimContended
}

// release gives up o's claim, if it holds one. Called by complete only.
func (t *inflightTable) release(o *op) {
	id := o.command.ID
	if id == "" {
		return
	}
	s := t.shard(id)
	s.mu.Lock()
	if s.ops[id] == o {
		delete(s.ops, id)
	}
	s.mu.Unlock()
}
