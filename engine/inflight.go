package engine

import (
	"context"
	"errors"

	"github.com/tollway/tollway/actors/shardmap"
	"github.com/tollway/tollway/engine/ledger"
)

// claimAttemptsMax bounds how often one call waits for another holder of its
// client id before giving up; each wait ends when that holder's op is durable.
const claimAttemptsMax = 64

var errClaimContended = errors.New("engine: client id contended by too many concurrent calls; retry")

// inflightTable holds the client ids of operations between their index
// lookup and their durable answer. Owning the claim on an id is what makes
// "look up, then decide" atomic: a second call with the same id waits for
// the first, then finds its result in the index.
type inflightTable struct {
	ops shardmap.Map[ledger.TransferID, *op]
}

func (t *inflightTable) init() { t.ops.Init() }

// claim makes o the holder of its client id. While another op holds it,
// claim waits for that op's answer and tries again (claimWaiting), or
// refuses with errClaimedHere (claimOrRefuse). This is the only place a
// claim is taken; complete is the only place it is released.
func (t *inflightTable) claim(ctx context.Context, o *op, mode claimMode) error {
	for attempt := 0; attempt < claimAttemptsMax; attempt++ {
		holder, held := t.ops.LoadOrStore(o.command.ID, o)
		if !held {
			return nil
		}
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
	if o.command.ID != "" {
		t.ops.CompareAndDelete(o.command.ID, o)
	}
}
