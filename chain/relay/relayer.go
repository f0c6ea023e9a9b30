package relay

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/engine"
)

// Defaults and limits of the relayer.
const (
	// WindowDefault is the netting window (--batch-window).
	WindowDefault = 10 * time.Second
	// PollIntervalDefault is how often the relayer looks at its batches in
	// flight (receipts, confirmations, stuck transactions).
	PollIntervalDefault = 250 * time.Millisecond
	// ReplaceAfterDefault is how long a transaction may wait unmined before
	// the relayer replaces it with a higher fee.
	ReplaceAfterDefault = 30 * time.Second
	// InFlightMax bounds the batches not yet CONFIRMED or FAILED (25,600
	// pairs' entries): past it the relayer cuts nothing new until some
	// end, and what the pairs owe waits in the nets.
	InFlightMax = 256
	// carryRowsPerWrite bounds the carry rows of one table write (about
	// 150 bytes each, well within engine.RowsBytesMax).
	carryRowsPerWrite = 1000
	// foldChunk is how many events the pump hands the actor at once.
	foldChunk = 512
	// gasLimitMax is the most gas one transaction may use (EIP-7825).
	gasLimitMax = 1 << 24
)

// Backend is what the relayer needs of a node: go-ethereum's ethclient and
// the simulated backend's client both are one.
type Backend interface {
	ethereum.BlockNumberReader
	ethereum.ChainStateReader
	ethereum.ContractCaller
	ethereum.GasEstimator
	ethereum.GasPricer1559
	ethereum.TransactionReader
	ethereum.TransactionSender
	ethereum.PendingStateReader
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// Config configures a relayer.
type Config struct {
	Engine  *engine.Engine
	Backend Backend
	ChainID *big.Int
	Pool    common.Address
	Key     *ecdsa.PrivateKey // holds the pool's RELAYER_ROLE
	// Ledger is the ledger whose debits settle on this chain.
	Ledger engine.LedgerID
	// Wallets returns the wallet bound to an account.
	Wallets func(engine.AccountID) (common.Address, bool)
	// Confirmations is the depth a receipt must reach before CONFIRMED.
	Confirmations uint64
	Window        time.Duration // WindowDefault if zero
	EntriesMax    int           // contracts.SettleBatchEntriesMax if zero or above it
	PollInterval  time.Duration // PollIntervalDefault if zero
	ReplaceAfter  time.Duration // ReplaceAfterDefault if zero
	Logger        *slog.Logger
	Now           func() time.Time // time.Now if nil
	// AfterStage, when set, is called after each durable step of a batch
	// ("cut": written PENDING; "recorded": its transaction recorded, not
	// yet sent; "sent"), so crash tests can kill the process there.
	AfterStage func(stage string)
}

// Relayer settles the engine's debits on chain; see the package comment.
type Relayer struct {
	config Config
	pool   *contracts.SettlementPool
	from   common.Address
	logger *slog.Logger

	system    *actor.ActorSystem
	pid       *actor.PID
	sub       *engine.Subscription
	ctx       context.Context // ends with Close: a round in progress gives up
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	hurry     atomic.Bool // Hurry asked for a cut before the window ends

	// Owned by the actor.
	netting   *Netting
	since     map[Pair]time.Time // when each owing pair's oldest unsettled debit was folded
	folded    uint64             // the last log position folded
	cursor    uint64             // the last position every row accounts for
	next      uint64             // the next batch's sequence number
	open      map[uint64]*Settlement
	sent      map[uint64]bool // batches whose latest transaction this process sent
	waiters   []*foldedWait
	nonce     uint64 // the next nonce to sign with
	nonceOK   bool
	lastCut   time.Time
	failure   error
	stats     statsCounters
	statsSnap atomic.Pointer[Stats]
}

// Open loads the relayer's state from the engine's table and starts it:
// it folds the log from its cursor on and settles every window.
func Open(config Config) (*Relayer, error) {
	if config.Engine == nil || config.Backend == nil || config.Key == nil || config.Wallets == nil || config.ChainID == nil {
		return nil, errors.New("relay: Engine, Backend, Key, Wallets and ChainID are required")
	}
	if config.Window <= 0 {
		config.Window = WindowDefault
	}
	if config.EntriesMax <= 0 || config.EntriesMax > contracts.SettleBatchEntriesMax {
		config.EntriesMax = contracts.SettleBatchEntriesMax
	}
	if config.PollInterval <= 0 {
		config.PollInterval = PollIntervalDefault
	}
	if config.ReplaceAfter <= 0 {
		config.ReplaceAfter = ReplaceAfterDefault
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	r := &Relayer{
		config: config, pool: contracts.NewSettlementPool(), from: crypto.PubkeyToAddress(config.Key.PublicKey),
		logger: config.Logger.With("component", "relayer"), netting: NewNetting(config.Ledger),
		since: make(map[Pair]time.Time), open: make(map[uint64]*Settlement), sent: make(map[uint64]bool), next: 1,
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx, r.cancel = ctx, cancel
	sub, err := config.Engine.Subscribe(ctx, r.cursor+1)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("relay: resume from position %d: %w", r.cursor+1, err)
	}
	r.sub, r.folded, r.lastCut = sub, r.cursor, config.Now()
	r.publishStats()
	r.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return r.logger
	}))
	// A panic stops the relayer rather than restarting it on state a turn
	// left half changed; the next start resumes from the table.
	props := actor.PropsFromFunc(r.receive, actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0,
		func(reason any) actor.Directive {
			r.logger.Error("relayer failed", "reason", reason)
			return actor.StopDirective
		})))
	r.pid = r.system.Root.Spawn(props)
	r.wg.Add(2)
	go r.pump(ctx)
	go r.tick(ctx)
	return r, nil
}

// Close stops the relayer. What it folded and did not persist is folded
// again at the next Open. Call it before the engine's Close.
func (r *Relayer) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.system.Root.StopFuture(r.pid).Wait() //nolint:errcheck // a stop that times out leaves nothing to clean
	})
	return nil
}

// message types of the actor.
type (
	foldMsg struct {
		events []engine.Event
		done   chan struct{}
	}
	roundMsg struct{ done chan struct{} }
	// foldedWait is answered once the actor has folded up to position
	// (tests).
	foldedWait struct {
		position uint64
		reply    chan struct{}
	}
)

// pump hands the subscription's events to the actor, a chunk at a time,
// and waits for each to be folded: the actor's mailbox holds at most one
// chunk, and a relayer busy with the chain lets the subscription fall back
// to reading the log, which bounds what waits in memory.
func (r *Relayer) pump(ctx context.Context) {
	defer r.wg.Done()
	for {
		var events []engine.Event
		select {
		case ev, ok := <-r.sub.C:
			if !ok {
				if err := r.sub.Err(); err != nil {
					r.logger.Error("relayer subscription ended", "error", err)
				}
				return
			}
			events = append(events, ev)
		case <-ctx.Done():
			return
		}
	more:
		for len(events) < foldChunk {
			select {
			case ev, ok := <-r.sub.C:
				if !ok {
					break more
				}
				events = append(events, ev)
			default:
				break more
			}
		}
		msg := &foldMsg{events: events, done: make(chan struct{})}
		r.system.Root.Send(r.pid, msg)
		select {
		case <-msg.done:
		case <-ctx.Done():
			return
		}
	}
}

// tick asks the actor for a round every PollInterval, one at a time.
func (r *Relayer) tick(ctx context.Context) {
	defer r.wg.Done()
	ticker := time.NewTicker(r.config.PollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
		msg := &roundMsg{done: make(chan struct{})}
		r.system.Root.Send(r.pid, msg)
		select {
		case <-msg.done:
		case <-ctx.Done():
			return
		}
	}
}

// receive is the actor. Unlike the account actors it does I/O in its
// turns (table writes, payouts, JSON-RPC): nobody waits on its mailbox but
// its own pump and ticker, and doing one thing at a time is what keeps
// nets, cursor and nonces consistent.
func (r *Relayer) receive(c actor.Context) {
	switch msg := c.Message().(type) {
	case *foldMsg:
		defer close(msg.done)
		if r.failure != nil {
			return
		}
		for i := range msg.events {
			if err := r.fold(&msg.events[i]); err != nil {
				r.fail(err)
				return
			}
		}
		r.wake()
	case *foldedWait:
		r.waiters = append(r.waiters, msg)
		r.wake()
	case *roundMsg:
		defer close(msg.done)
		if r.failure != nil {
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, max(10*r.config.PollInterval, 30*time.Second))
		defer cancel()
		if err := r.round(ctx); err != nil {
			if r.ctx.Err() != nil {
				return // closing: the next start resumes from the table
			}
			if errors.Is(err, engine.ErrUnavailable) {
				r.fail(err)
				return
			}
			r.logger.Warn("relayer round", "error", err)
		}
		r.publishStats()
	}
}

// wake answers the foldedWaits that the folding has reached.
func (r *Relayer) wake() {
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if r.folded >= w.position {
			close(w.reply)
		} else {
			kept = append(kept, w)
		}
	}
	r.waiters = kept
}

// fail stops the relayer's work for good: the engine is gone, or its state
// is not what the relayer wrote. The next Open starts over from the table.
func (r *Relayer) fail(err error) {
	r.failure = err
	r.logger.Error("relayer stopped", "error", err)
	r.publishStats()
}

// fold nets one committed event. A debit whose payer has no wallet is
// skipped: no pool balance backs it (before an account binds a wallet
// nothing but the admin credit can fund it), so it is never settled on
// chain, and skipping it here keeps such payers, a benchmark's thousands
// of them, out of the nets and the table.
func (r *Relayer) fold(ev *engine.Event) error {
	if ev.Position > r.folded {
		r.folded = ev.Position
	}
	if ev.Ledger != r.config.Ledger || (ev.Type != engine.EventCharged && ev.Type != engine.EventCaptured && ev.Type != engine.EventSessionEnded) {
		return nil
	}
	if _, ok := r.config.Wallets(ev.From); !ok {
		return nil
	}
	if err := r.netting.Fold(ev); err != nil {
		return err
	}
	p := Pair{Payer: ev.From, Payee: ev.To}
	if _, ok := r.since[p]; !ok {
		if net, owed := r.netting.Get(p); owed && !net.IsZero() {
			r.since[p] = ev.Time
		}
	}
	return nil
}

// round advances the batches in flight, then cuts new ones once the
// window has passed.
func (r *Relayer) round(ctx context.Context) error {
	if err := r.advance(ctx); err != nil {
		return err
	}
	now := r.config.Now()
	hurried := r.hurry.Swap(false)
	if (!hurried && now.Sub(r.lastCut) < r.config.Window) || len(r.open) >= InFlightMax {
		if hurried {
			r.hurry.Store(true) // still owed: at the next round with room
		}
		return nil
	}
	r.lastCut = now
	if err := r.cut(ctx); err != nil {
		return err
	}
	return r.advance(ctx)
}

// Hurry makes the next round cut a batch whatever the window: a payer
// asked to withdraw, and its unsettled debits must be settled before the
// withdrawal can complete. Safe from any goroutine.
func (r *Relayer) Hurry() { r.hurry.Store(true) }

// stage reports a durable step to the crash tests' hook.
func (r *Relayer) stage(name string) {
	if r.config.AfterStage != nil {
		r.config.AfterStage(name)
	}
}

// Err returns why the relayer stopped, if it did.
func (r *Relayer) Err() error {
	if s := r.statsSnap.Load(); s != nil && s.Failure != "" {
		return errors.New(s.Failure)
	}
	return nil
}
