package facilitator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
)

// newBatchWorld is a world whose facilitator settles in batches.
func newBatchWorld(t testing.TB, wait time.Duration) *world {
	w := newWorld(t)
	w.mode, w.wait = SettleBatch, wait
	w.restart()
	return w
}

func (w *world) settleFinal(request *x402.Request) x402.SettleResponse {
	w.t.Helper()
	response, err := w.f.SettleFinal(context.Background(), request)
	if err != nil {
		w.t.Fatalf("SettleFinal: %v", err)
	}
	return response
}

// final asks SettleFinal until the outcome is recorded (the chain mines
// on its own ticker), within a deadline.
func (w *world) final(request *x402.Request) x402.SettleResponse {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := w.settleFinal(request)
		if r.ErrorReason != ReasonSettlementPending {
			return r
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("still pending after 20s: %+v", r)
		}
	}
}

// signerTransactions is how many transactions the facilitator's signer
// has had mined.
func (w *world) signerTransactions() uint64 {
	w.t.Helper()
	n, err := w.sim.Client().NonceAt(context.Background(), crypto.PubkeyToAddress(w.signer.PublicKey), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) aliceUSDC() int64 { return w.usdcOf(crypto.PubkeyToAddress(w.alice.PublicKey)) }

// TestBatchSettles250InFiveTransactions: 250 authorizations settled at
// once, each answered success when queued, go out in ⌈250/cap⌉
// transactions of the batcher, and move exactly their values.
func TestBatchSettles250InFiveTransactions(t *testing.T) {
	const n, price = 250, 1_000
	w := newBatchWorld(t, 10*time.Second)
	w.mine()
	requests := make([]*x402.Request, n)
	for i := range requests {
		requests[i] = w.pay(price, 600)
	}
	var wg sync.WaitGroup
	work := make(chan *x402.Request)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for request := range work {
				r, err := w.f.Settle(context.Background(), request)
				if err != nil || !r.Success || r.Amount != "1000" || r.Network != "eip155:1337" {
					t.Errorf("Settle: %+v %v", r, err)
				}
			}
		}()
	}
	for _, request := range requests {
		work <- request
	}
	close(work)
	wg.Wait()
	w.f.flush()
	transactions := map[string]int{}
	for _, request := range requests {
		r := w.final(request)
		if !r.Success || r.Transaction == "" {
			t.Fatalf("final: %+v", r)
		}
		transactions[r.Transaction]++
	}
	want := (n + contracts.X402BatchEntriesMax - 1) / contracts.X402BatchEntriesMax
	if len(transactions) != want || w.signerTransactions() != uint64(want) {
		t.Fatalf("%d batch transactions (%d sent), want %d: %v", len(transactions), w.signerTransactions(), want, transactions)
	}
	if got := w.usdcOf(w.payee); got != n*price {
		t.Fatalf("payee holds %d, want %d", got, n*price)
	}
	if got := w.aliceUSDC(); got != aliceUSDC-n*price {
		t.Fatalf("alice holds %d, want %d", got, aliceUSDC-n*price)
	}
	if got := w.reserved(); got != 0 {
		t.Fatalf("reserved %d after the batches, want 0", got)
	}
}

// TestBatchEntryUsedMeanwhileFailsAlone: an authorization whose nonce is
// used on chain after it was queued fails in its batch, and only it.
func TestBatchEntryUsedMeanwhileFailsAlone(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	w.mine()
	requests := []*x402.Request{w.pay(10_000, 600), w.pay(20_000, 600), w.pay(30_000, 600)}
	for _, request := range requests {
		if r := w.settle(request); !r.Success || r.Transaction != "" {
			t.Fatalf("queued settle: %+v", r)
		}
	}
	// Someone else submits the second authorization directly.
	_, _, a, _ := w.f.config.Verifier.Identify(requests[1])
	tx, err := bind.Transact(contracts.NewTestUSDC().Instance(w.sim.Client(), w.usdc), w.admin, x402.SettleCallData(a))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := bind.WaitMined(context.Background(), w.sim.Client(), tx.Hash()); err != nil || r.Status != 1 {
		t.Fatalf("the direct transfer: %v %v", r, err)
	}
	w.f.flush()
	first, used, third := w.final(requests[0]), w.final(requests[1]), w.final(requests[2])
	if !first.Success || !third.Success || first.Transaction != third.Transaction {
		t.Fatalf("the good entries: %+v, %+v", first, third)
	}
	if used.Success || used.ErrorReason != x402.ReasonTransactionFailed || used.Transaction != first.Transaction {
		t.Fatalf("the used entry: %+v, want %s in %s", used, x402.ReasonTransactionFailed, first.Transaction)
	}
	if again := w.settle(requests[1]); again != used {
		t.Fatalf("a later settle: %+v, want the recorded %+v", again, used)
	}
	if got := w.usdcOf(w.payee); got != 60_000 {
		t.Fatalf("payee holds %d, want 60000 (the used one paid once, directly)", got)
	}
	if got := w.aliceUSDC(); got != aliceUSDC-60_000 {
		t.Fatalf("alice holds %d, want %d", got, aliceUSDC-60_000)
	}
	if got := w.reserved(); got != 0 {
		t.Fatalf("reserved %d, want 0", got)
	}
}

// TestBatchResumesQueued: authorizations queued when the facilitator
// stops are queued again at its next start and settle once.
func TestBatchResumesQueued(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	requests := []*x402.Request{w.pay(10_000, 600), w.pay(20_000, 600)}
	for _, request := range requests {
		if r := w.settle(request); !r.Success {
			t.Fatalf("queued settle: %+v", r)
		}
	}
	w.restart()
	if got := w.reserved(); got != 30_000 {
		t.Fatalf("reserved %d after the restart, want 30000", got)
	}
	w.mine()
	w.f.flush()
	for _, request := range requests {
		if r := w.final(request); !r.Success {
			t.Fatalf("after the restart: %+v", r)
		}
	}
	if got, sent := w.usdcOf(w.payee), w.signerTransactions(); got != 30_000 || sent != 1 {
		t.Fatalf("payee holds %d in %d transactions, want 30000 in 1", got, sent)
	}
}

// TestBatchResumesRecordedNotSent: a batch recorded whose send never
// reached the node (the process died between) is sent at the next start,
// with its recorded bytes: the answer's transaction is the one mined.
func TestBatchResumesRecordedNotSent(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	w.mine()
	requests := []*x402.Request{w.pay(10_000, 600), w.pay(20_000, 600)}
	for _, request := range requests {
		w.settle(request)
	}
	w.drop.Store(true)
	w.f.flush()
	recorded := w.settle(requests[0])
	if !recorded.Success || recorded.Transaction == "" {
		t.Fatalf("after the batch was recorded: %+v, want its transaction", recorded)
	}
	w.drop.Store(false)
	w.restart()
	// A batch signed right after the restart takes the next nonce, not
	// the recorded one's.
	later := w.pay(40_000, 600)
	w.settle(later)
	w.f.flush()
	w.mine()
	for _, request := range requests {
		if r := w.final(request); !r.Success || r.Transaction != recorded.Transaction {
			t.Fatalf("after the restart: %+v, want success in %s", r, recorded.Transaction)
		}
	}
	if r := w.final(later); !r.Success || r.Transaction == recorded.Transaction {
		t.Fatalf("the batch after the restart: %+v", r)
	}
	if got, sent := w.usdcOf(w.payee), w.signerTransactions(); got != 70_000 || sent != 2 {
		t.Fatalf("payee holds %d in %d transactions, want 70000 in 2", got, sent)
	}
}

// TestBatchResumesSent: a batch sent and not mined when the facilitator
// stops is awaited after the next start; wait=final answered pending with
// its transaction meanwhile.
func TestBatchResumesSent(t *testing.T) {
	w := newBatchWorld(t, 200*time.Millisecond)
	requests := []*x402.Request{w.pay(10_000, 600), w.pay(20_000, 600)}
	for _, request := range requests {
		w.settle(request)
	}
	w.f.flush() // sent; nothing mines
	pending := w.settleFinal(requests[1])
	if pending.Success || pending.ErrorReason != ReasonSettlementPending || pending.Transaction == "" {
		t.Fatalf("final before mining: %+v, want %s with the transaction", pending, ReasonSettlementPending)
	}
	w.restart()
	w.mine()
	for _, request := range requests {
		if r := w.final(request); !r.Success || r.Transaction != pending.Transaction {
			t.Fatalf("after the restart: %+v, want success in %s", r, pending.Transaction)
		}
	}
	if got, sent := w.usdcOf(w.payee), w.signerTransactions(); got != 30_000 || sent != 1 {
		t.Fatalf("payee holds %d in %d transactions, want 30000 in 1", got, sent)
	}
}

// TestBatchConcurrentSettlesSettleOnce: eight settles of one unverified
// authorization at once queue it once; all answer success, and it is paid
// once.
func TestBatchConcurrentSettlesSettleOnce(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	w.mine()
	request := w.pay(50_000, 600)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := w.f.Settle(context.Background(), request); err != nil || !r.Success {
				t.Errorf("Settle: %+v %v", r, err)
			}
		}()
	}
	wg.Wait()
	w.f.flush()
	if r := w.final(request); !r.Success {
		t.Fatalf("final: %+v", r)
	}
	if got, sent := w.usdcOf(w.payee), w.signerTransactions(); got != 50_000 || sent != 1 {
		t.Fatalf("payee holds %d in %d transactions, want 50000 in 1", got, sent)
	}
}

// TestBatchWaitFinal: wait=final answers settlement_pending while the
// authorization is queued (no transaction) and while its batch is not
// mined (its transaction), then the outcome; a plain settle answers
// success at once, with the transaction once known.
func TestBatchWaitFinal(t *testing.T) {
	w := newBatchWorld(t, 200*time.Millisecond)
	request := w.pay(40_000, 600)
	if r := w.settle(request); !r.Success || r.Transaction != "" || r.Amount != "40000" {
		t.Fatalf("queued settle: %+v", r)
	}
	if r := w.settleFinal(request); r.Success || r.ErrorReason != ReasonSettlementPending || r.Transaction != "" {
		t.Fatalf("final while queued: %+v", r)
	}
	w.f.flush()
	pending := w.settleFinal(request)
	if pending.Success || pending.ErrorReason != ReasonSettlementPending || pending.Transaction == "" {
		t.Fatalf("final while unmined: %+v", pending)
	}
	if r := w.settle(request); !r.Success || r.Transaction != pending.Transaction {
		t.Fatalf("settle while unmined: %+v, want success in %s", r, pending.Transaction)
	}
	w.mine()
	done := w.final(request)
	if !done.Success || done.Transaction != pending.Transaction || done.Amount != "40000" {
		t.Fatalf("final once mined: %+v", done)
	}
	if again := w.settle(request); again != done {
		t.Fatalf("settle after: %+v, want %+v", again, done)
	}
	if got := w.usdcOf(w.payee); got != 40_000 {
		t.Fatalf("payee holds %d, want 40000", got)
	}
}

// TestBatchSettlesShortAuthorizationsPerPayment: an authorization that
// could expire before its batch is mined (here within the window plus
// the margin) is settled per payment, answered with its mined
// transaction, rather than answered success by a batch that may fail it.
func TestBatchSettlesShortAuthorizationsPerPayment(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	w.mine()
	request := w.pay(25_000, 60) // the window is a minute
	r := w.settle(request)
	if !r.Success || r.Transaction == "" {
		t.Fatalf("settle: %+v, want success with its transaction", r)
	}
	if got, sent := w.usdcOf(w.payee), w.signerTransactions(); got != 25_000 || sent != 1 {
		t.Fatalf("payee holds %d in %d transactions, want 25000 in 1", got, sent)
	}
}

// TestBatchQueueIsBounded: past QueuedMax a settle is ErrLimit (429 over
// HTTP) and queues nothing; the authorization stays verified and queues
// once there is room.
func TestBatchQueueIsBounded(t *testing.T) {
	w := newBatchWorld(t, 10*time.Second)
	w.f.mu.Lock()
	w.f.batch.slots = QueuedMax // as if full
	w.f.mu.Unlock()
	request := w.pay(10_000, 600)
	if r, err := w.f.Settle(context.Background(), request); !errors.Is(err, ErrLimit) {
		t.Fatalf("Settle with the queue full = %+v, %v; want ErrLimit", r, err)
	}
	w.f.mu.Lock()
	queued := len(w.f.batch.queue)
	w.f.batch.slots = 0
	w.f.mu.Unlock()
	if queued != 0 || w.reserved() != 10_000 {
		t.Fatalf("after ErrLimit: %d queued, %d reserved; want 0 and the verified 10000", queued, w.reserved())
	}
	if r := w.settle(request); !r.Success || r.Transaction != "" {
		t.Fatalf("Settle with room: %+v", r)
	}
	w.mine()
	w.f.flush()
	if r := w.final(request); !r.Success {
		t.Fatalf("final: %+v", r)
	}
}

// TestBatchModeNeedsTheBatcher: batch mode without the batcher's address,
// or an unknown mode, does not open.
func TestBatchModeNeedsTheBatcher(t *testing.T) {
	w := newWorld(t)
	verifier := w.f.config.Verifier
	for _, config := range []Config{
		{Engine: w.eng, Verifier: verifier, Mode: SettleBatch},
		{Engine: w.eng, Verifier: verifier, Mode: "later", Batcher: w.batcher},
	} {
		if f, err := Open(context.Background(), config); err == nil {
			f.Close()
			t.Fatalf("Open(mode %q, batcher %s) = nil error", config.Mode, config.Batcher)
		}
	}
}
