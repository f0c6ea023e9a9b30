package engine

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"

	"github.com/tollway/tollway/actors"
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
	ops map[ledger.TransferID]*actors.Op
}

func (t *inflightTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].ops = make(map[ledger.TransferID]*actors.Op)
	}
}

func (t *inflightTable) shard(id ledger.TransferID) *inflightShard {
	return &t.shards[maphash.String(t.seed, string(id))%inflightShardCount]
}

// claim makes op the holder of its client id, waiting while another op holds it.
func (t *inflightTable) claim(ctx context.Context, op *actors.Op) error {
	id := op.Command.ID
	s := t.shard(id)
	for attempt := 0; attempt < claimAttemptsMax; attempt++ {
		s.mu.Lock()
		holder := s.ops[id]
		if holder == nil {
			s.ops[id] = op
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if err := wait(ctx, holder); err != nil {
			return err
		}
	}
	return errClaimContended
}

// tryClaim makes op the holder of its client id if nobody holds it.
func (t *inflightTable) tryClaim(op *actors.Op) bool {
	s := t.shard(op.Command.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops[op.Command.ID] != nil {
		return false
	}
	s.ops[op.Command.ID] = op
	return true
}

// release gives up op's claim, if it holds one.
func (t *inflightTable) release(op *actors.Op) {
	id := op.Command.ID
	if id == "" {
		return
	}
	s := t.shard(id)
	s.mu.Lock()
	if s.ops[id] == op {
		delete(s.ops, id)
	}
	s.mu.Unlock()
}
