package devchain

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// sealRetryDelay is the pause after a failed seal (the beacon logs why).
const sealRetryDelay = time.Second

// sealer seals a block whenever the pool holds transactions the miner would
// include, and only then.
//
// Rejected alternative: geth's period-0 dev loop (RegisterSimulatedBeaconAPIs)
// seals again as long as the pool counts an executable transaction, whether
// or not the miner can include it, so one transaction whose fee cap is below
// the base fee makes it seal empty blocks without end. The sealer asks the
// pool with the miner's own filter (tip, base fee, gas cap) before sealing,
// and stops at the first block that carries no transaction: each round
// seals at least one transaction or ends, so a wake-up costs at most as many
// blocks as there are transactions.
type sealer struct {
	eth    *eth.Ethereum
	beacon *catalyst.SimulatedBeacon
	logger *slog.Logger

	wake     chan struct{} // capacity 1: a pending wake-up covers all later ones
	quit     chan struct{}
	done     sync.WaitGroup
	stopOnce sync.Once

	mu     sync.Mutex
	sealed chan struct{} // closed and replaced after each sealed block
	synced uint64        // the newest block known to be on disk
	failed bool          // a database sync failed: no more blocks
}

func startSealer(backend *eth.Ethereum, beacon *catalyst.SimulatedBeacon, logger *slog.Logger) *sealer {
	s := &sealer{eth: backend, beacon: beacon, logger: logger,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), sealed: make(chan struct{}),
		synced: backend.BlockChain().CurrentBlock().Number.Uint64()}
	// The pool's feed blocks its sender until every subscriber has taken the
	// event, and the sealer waits on the pool (Sync), so the events are
	// taken by a goroutine of their own that never waits on the sealer.
	events := make(chan core.NewTxsEvent, 16)
	subscription := backend.TxPool().SubscribeTransactions(events, true)
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		defer subscription.Unsubscribe()
		for {
			select {
			case <-s.quit:
				return
			case <-subscription.Err():
				return
			case <-events:
				s.signal()
			}
		}
	}()
	go s.loop()
	s.signal() // transactions admitted before the subscription
	return s
}

func (s *sealer) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sealer) loop() {
	defer s.done.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
			if !s.sealIncludable() {
				return
			}
		}
	}
}

// sealIncludable seals blocks while the pool holds includable transactions.
// It returns false when sealing must stop for good.
func (s *sealer) sealIncludable() bool {
	for {
		select {
		case <-s.quit:
			return true
		default:
		}
		pool := s.eth.TxPool()
		if err := pool.Sync(); err != nil { // the pool has seen the last block
			return true // closing
		}
		if s.includable() == 0 {
			if executable, _ := pool.Stats(); executable > 0 {
				s.logger.Warn("embedded chain: pending transactions cannot be included (fee cap below the base fee?); no block sealed",
					"pending", executable)
			}
			return true
		}
		parent := s.eth.BlockChain().CurrentBlock().Number.Uint64()
		s.beacon.Commit()
		block := s.eth.BlockChain().CurrentBlock()
		if block.Number.Uint64() == parent {
			// A failed seal resets the pool, which announces its
			// transactions again: without a pause that is a hot loop.
			s.logger.Error("embedded chain: sealing failed; retrying later", "head", parent, "after", sealRetryDelay)
			select {
			case <-s.quit:
			case <-time.After(sealRetryDelay):
			}
			return true
		}
		// The block and its state are written; make them survive a crash
		// before anyone can see them in a receipt (the HTTP endpoint may
		// already answer with them: a kill -9 in between loses them
		// with their answer, as a node crash would).
		if err := s.eth.ChainDb().SyncKeyValue(); err != nil {
			s.logger.Error("embedded chain: database sync failed; sealing stopped", "err", err)
			s.fail()
			return false
		}
		s.announce(block.Number.Uint64())
		if body := s.eth.BlockChain().GetBlockByHash(block.Hash()); body == nil || len(body.Transactions()) == 0 {
			s.logger.Warn("embedded chain: sealed a block without transactions; waiting for the next transaction",
				"block", block.Number)
			return true
		}
	}
}

// includable counts the pool's plain transactions that the miner would put
// in the next block: the miner's filter, with the next block's base fee.
// Blob transactions are not sealed.
func (s *sealer) includable() int {
	chain := s.eth.BlockChain()
	head := chain.CurrentBlock()
	filter := txpool.PendingFilter{
		MinTip:      uint256.NewInt(minimumTipWei),
		BaseFee:     uint256.MustFromBig(eip1559.CalcBaseFee(chain.Config(), head)),
		GasLimitCap: params.MaxTxGas,
	}
	_, count := s.eth.TxPool().Pending(filter)
	return count
}

// announce records number as synced and wakes everyone waiting for it.
func (s *sealer) announce(number uint64) {
	s.mu.Lock()
	s.synced = number
	close(s.sealed)
	s.sealed = make(chan struct{})
	s.mu.Unlock()
}

func (s *sealer) fail() {
	s.mu.Lock()
	s.failed = true
	close(s.sealed)
	s.sealed = make(chan struct{})
	s.mu.Unlock()
}

// nextBlock returns a channel closed when the next block is sealed, the
// newest synced block, and whether sealing has stopped for good.
func (s *sealer) nextBlock() (<-chan struct{}, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealed, s.synced, s.failed
}

// waitSynced waits until block number is on disk.
func (s *sealer) waitSynced(ctx context.Context, number uint64) error {
	for {
		next, synced, failed := s.nextBlock()
		if synced >= number {
			return nil
		}
		if failed {
			return ErrClosed
		}
		select {
		case <-next:
		case <-s.quit:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop ends both goroutines and waits for them; a block being sealed is
// finished first.
func (s *sealer) stop() {
	s.stopOnce.Do(func() { close(s.quit) })
	s.done.Wait()
}
