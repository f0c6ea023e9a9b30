package engine_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

var (
	simulationSeed  = flag.Uint64("seed", 0, "run the simulation with this seed only")
	simulationSeeds = flag.Int("seeds", 4, "how many seeds the simulation runs when -seed is not set")
)

// TestSimulationMatchesReferenceAcrossCrashes runs random operations against
// the engine on a crashable in-memory file system and, in lock step, against
// the pure reference model (ledger.Book). At random steps it crashes the
// file system (keeping only what was synced) and reopens. After every step
// the answers, every balance and the invariants must agree with the model.
// A failure prints its seed; rerun with -run TestSimulation -seed=N.
func TestSimulationMatchesReferenceAcrossCrashes(t *testing.T) {
	seeds := []uint64{*simulationSeed}
	if *simulationSeed == 0 {
		seeds = seeds[:0]
		for i := range *simulationSeeds {
			seeds = append(seeds, uint64(i+1))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { simulate(t, seed) })
	}
}

type simulation struct {
	t       *testing.T
	rng     *rand.Rand
	clock   *fakeClock
	fs      *vfs.MemFS
	eng     *engine.Engine
	model   *ledger.Book
	feeBps  uint32
	ids     []engine.AccountID
	holds   []engine.TransferID
	usedIDs []ledger.Command
	steps   int
}

const (
	simulationSteps    = 400
	simulationAccounts = 5
)

func simulate(t *testing.T, seed uint64) {
	t.Logf("seed %d (rerun: go test ./engine -run TestSimulation -seed=%d)", seed, seed)
	s := &simulation{
		t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), clock: newFakeClock(),
		fs: vfs.NewCrashableMem(), model: ledger.NewBook(true),
	}
	s.feeBps = uint32(s.rng.IntN(500))
	s.open()
	defer func() { s.eng.Close() }()
	ctx := context.Background()
	for i := range simulationAccounts {
		id := engine.AccountID(fmt.Sprintf("sim-%d", i))
		s.ids = append(s.ids, id)
		ledgerID := engine.LedgerID("test:USDC")
		if i == simulationAccounts-1 {
			ledgerID = "live:USDC" // one account in another ledger
		}
		events, err := ledger.OpenAccount(s.model, id, ledgerID, engine.KindConsumer, s.clock.Now().UnixNano())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			s.model.Apply(&e)
		}
		if err := s.eng.CreateAccount(ctx, engine.Account{ID: id, Ledger: ledgerID}); err != nil {
			t.Fatal(err)
		}
	}
	for s.steps = 0; s.steps < simulationSteps; s.steps++ {
		s.step(ctx)
		if s.rng.IntN(25) == 0 {
			s.crash()
		}
		s.compare(ctx)
	}
}

func (s *simulation) open() {
	eng, err := engine.Open(engine.Options{Dir: "/sim", FS: s.fs, Clock: s.clock.Now, FeeBps: s.feeBps, SnapshotEvery: int64(20 + s.rng.IntN(100))})
	if err != nil {
		s.t.Fatalf("step %d: Open = %v", s.steps, err)
	}
	s.eng = eng
}

// crash keeps only what was synced, as a power cut would, and reopens.
func (s *simulation) crash() {
	clone := s.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	s.eng.Close()
	s.fs = clone
	s.open()
}

func (s *simulation) step(ctx context.Context) {
	s.clock.Advance(time.Duration(s.rng.IntN(3000)) * time.Millisecond)
	c := s.randomCommand()
	now := s.clock.Now().UnixNano()
	_, modelResult, modelErr := s.model.Execute(&c, now)
	var err error
	var got engine.Transfer
	switch c.Type {
	case ledger.CommandCredit:
		got, err = s.eng.Credit(ctx, c.ID, c.To, c.Amount)
	case ledger.CommandCharge:
		got, err = s.eng.Charge(ctx, engine.Charge{ID: c.ID, From: c.From, To: c.To, Amount: c.Amount})
	case ledger.CommandHold:
		got, err = s.eng.Hold(ctx, engine.Hold{ID: c.ID, From: c.From, To: c.To, Amount: c.Amount, Timeout: time.Duration(c.Timeout)})
	case ledger.CommandCapture:
		got, err = s.eng.Capture(ctx, c.ID, c.Amount)
	case ledger.CommandVoid:
		err = s.eng.Void(ctx, c.ID)
	case ledger.CommandReserveWithdrawal:
		got, err = s.eng.ReserveWithdrawal(ctx, c.ID, c.From, c.Amount)
	case ledger.CommandCompleteWithdrawal:
		got, err = s.eng.CompleteWithdrawal(ctx, c.ID, c.From, c.Amount)
	}
	if !sameError(err, modelErr) {
		s.t.Fatalf("step %d: %+v = %v, model says %v", s.steps, c, err, modelErr)
	}
	if err == nil && c.Type != ledger.CommandVoid && (got.Amount != modelResult.Amount || got.Fee != modelResult.Fee) {
		s.t.Fatalf("step %d: %+v = amount %s fee %s, model says %s %s", s.steps, c, got.Amount, got.Fee, modelResult.Amount, modelResult.Fee)
	}
	if err == nil && c.Type == ledger.CommandHold {
		s.holds = append(s.holds, c.ID)
	}
	s.usedIDs = append(s.usedIDs, c)
}

var simulationErrors = []error{
	engine.ErrInsufficientFunds, engine.ErrNotFound, engine.ErrIdempotencyConflict, engine.ErrInvalid,
	engine.ErrInvalidState, engine.ErrLedgerMismatch, engine.ErrOverflow, engine.ErrAlreadyExists,
}

func sameError(got, want error) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	for _, sentinel := range simulationErrors {
		if errors.Is(want, sentinel) {
			return errors.Is(got, sentinel)
		}
	}
	return false
}

func (s *simulation) randomCommand() ledger.Command {
	rng := s.rng
	if len(s.usedIDs) > 0 && rng.IntN(8) == 0 {
		c := s.usedIDs[rng.IntN(len(s.usedIDs))] // a retry, possibly changed
		if rng.IntN(2) == 0 {
			c.Amount = engine.NewAmount(uint64(1 + rng.IntN(4000)))
		}
		return withoutResolution(c)
	}
	account := func() engine.AccountID { return s.ids[rng.IntN(len(s.ids))] }
	id := engine.TransferID(fmt.Sprintf("op-%d", s.steps))
	amount := engine.NewAmount(uint64(1 + rng.IntN(4000)))
	switch rng.IntN(12) {
	case 0, 1:
		return ledger.Command{Type: ledger.CommandCredit, ID: id, To: account(), Amount: amount}
	case 2, 3, 4:
		return ledger.Command{Type: ledger.CommandCharge, ID: id, From: account(), To: account(), Amount: amount, FeeBps: s.feeBps}
	case 5, 6:
		timeout := time.Duration(1+rng.IntN(20)) * time.Second
		return ledger.Command{Type: ledger.CommandHold, ID: id, From: account(), To: account(), Amount: amount, FeeBps: s.feeBps, Timeout: int64(timeout)}
	case 7: // a withdrawal requested on chain, replacing the account's last
		return ledger.Command{Type: ledger.CommandReserveWithdrawal, ID: id, From: account(), Amount: amount}
	case 8: // a withdrawal paid on chain, some of them paying nothing
		if rng.IntN(4) == 0 {
			amount = engine.Amount{}
		}
		return ledger.Command{Type: ledger.CommandCompleteWithdrawal, ID: id, From: account(), Amount: amount}
	}
	hold := id
	if len(s.holds) > 0 {
		hold = s.holds[rng.IntN(len(s.holds))]
	}
	if rng.IntN(3) == 0 {
		return ledger.Command{Type: ledger.CommandVoid, ID: hold}
	}
	return ledger.Command{Type: ledger.CommandCapture, ID: hold, Amount: engine.NewAmount(uint64(1 + rng.IntN(3000)))}
}

// withoutResolution clears what Resolve fills in, so a retried command is
// resolved again by the model just as the engine resolves it.
func withoutResolution(c ledger.Command) ledger.Command {
	c.Ledger, c.Fees = "", ""
	if c.Type == ledger.CommandCredit {
		c.From = ""
	}
	if c.Type == ledger.CommandCapture || c.Type == ledger.CommandVoid {
		c.From = ""
	}
	if c.Type == ledger.CommandReserveWithdrawal || c.Type == ledger.CommandCompleteWithdrawal {
		c.To = ""
	}
	return c
}

// compare checks every account's balance against the model (after expiring
// what the model's clock says is due, as the engine does on every read) and
// the engine's invariants.
func (s *simulation) compare(ctx context.Context) {
	now := s.clock.Now().UnixNano()
	for _, a := range s.model.Accounts() {
		for _, e := range ledger.ExpireDue(a, now) {
			s.model.Apply(&e)
		}
		got, err := s.eng.Balance(ctx, a.ID)
		if err != nil {
			s.t.Fatalf("step %d: Balance(%s) = %v", s.steps, a.ID, err)
		}
		if got.Available != a.Available() || got.Reserved != a.Reserved() {
			s.t.Fatalf("step %d: Balance(%s) = %s/%s, model says %s/%s", s.steps, a.ID, got.Available, got.Reserved, a.Available(), a.Reserved())
		}
	}
	if err := s.eng.Verify(ctx); err != nil {
		s.t.Fatalf("step %d: Verify = %v", s.steps, err)
	}
	if err := s.model.Check(); err != nil {
		s.t.Fatalf("step %d: model Check = %v", s.steps, err)
	}
}
