package webhooks_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/webhooks"
)

// hangingReceiver accepts connections and reads the requests sent on
// them, but never answers a byte: a receiver that hangs.
type hangingReceiver struct {
	listener net.Listener
	requests chan struct{} // one per request read whole
	count    atomic.Int64  // requests read whole
	accepted atomic.Int64  // connections accepted
	mu       sync.Mutex
	conns    []net.Conn
	done     sync.WaitGroup
}

func newHangingReceiver(tb testing.TB) *hangingReceiver {
	tb.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := &hangingReceiver{listener: listener, requests: make(chan struct{}, 1)}
	h.done.Add(1)
	go h.accept()
	tb.Cleanup(h.close)
	return h
}

func (h *hangingReceiver) url() string { return "http://" + h.listener.Addr().String() + "/hook" }

func (h *hangingReceiver) accept() {
	defer h.done.Done()
	for {
		conn, err := h.listener.Accept()
		if err != nil {
			return // closed
		}
		h.accepted.Add(1)
		h.mu.Lock()
		h.conns = append(h.conns, conn)
		h.mu.Unlock()
		h.done.Add(1)
		go h.read(conn)
	}
}

// read takes the requests off conn until it closes. No answer is ever
// written, so the client sends one request per connection at most.
func (h *hangingReceiver) read(conn net.Conn) {
	defer h.done.Done()
	reader := bufio.NewReader(conn)
	for {
		request, err := http.ReadRequest(reader)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, request.Body)
		h.count.Add(1)
		select {
		case h.requests <- struct{}{}:
		default: // one signal pending is enough
		}
	}
}

// waitRequest waits until a request has been read whole: a delivery is in
// flight, and stays so.
func (h *hangingReceiver) waitRequest(tb testing.TB) {
	tb.Helper()
	select {
	case <-h.requests:
	case <-time.After(waitMax):
		tb.Fatalf("the hanging receiver got no request within %v", waitMax)
	}
}

func (h *hangingReceiver) close() {
	_ = h.listener.Close()
	h.mu.Lock()
	for _, conn := range h.conns {
		_ = conn.Close()
	}
	h.mu.Unlock()
	h.done.Wait()
}

// outboxRows counts the durable rows of endpoint's outbox.
func outboxRows(tb testing.TB, eng *engine.Engine, endpoint string) int {
	tb.Helper()
	n := 0
	if err := eng.ScanRows(webhooks.OutboxPrefix(endpoint), func(_, _ []byte) error { n++; return nil }); err != nil {
		tb.Fatalf("ScanRows(outbox of %s) = %v", endpoint, err)
	}
	return n
}

// durableCursor reads the dispatcher's durable cursor: the last log
// position whose event has been written into the outboxes.
func durableCursor(tb testing.TB, eng *engine.Engine) uint64 {
	tb.Helper()
	var cursor uint64
	err := eng.ScanRows([]byte(webhooks.CursorKey), func(key, value []byte) error {
		if string(key) == webhooks.CursorKey && len(value) == 8 {
			cursor = binary.BigEndian.Uint64(value)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("ScanRows(cursor) = %v", err)
	}
	return cursor
}

// A receiver that hangs holds only its own worker, on the head of its
// outbox: while that delivery is in flight (for an hour, the attempt
// timeout), every charge and credit of the account it is subscribed to is
// acknowledged, and the dispatcher goes on writing each credit into the
// endpoint's outbox, with its cursor at the last of them. The test checks
// the mechanism, durable state, not a duration.
func TestHangingReceiverHoldsNeitherChargesNorTheDispatcher(t *testing.T) {
	const (
		operations  = 200
		creditEvery = 4 // operation i is a credit if i%creditEvery == creditEvery-1; the last one is
		funds       = 1_000_000
	)
	w := newWorld(t, webhooks.Options{AttemptTimeout: time.Hour})
	hanging := newHangingReceiver(t)
	ctx := context.Background()
	e, err := w.svc.Create(ctx, owner, hanging.url(), webhooks.EventTypes, "alice")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if _, err := w.eng.Credit(ctx, "fund", "alice", engine.NewAmount(funds)); err != nil {
		t.Fatalf("Credit(fund) = %v", err)
	}
	hanging.waitRequest(t) // the fund's deposit.credited: in flight from here on

	// A call that waited for the receiver would fail here, not hang the test.
	calls, cancel := context.WithTimeout(ctx, waitMax)
	defer cancel()
	var last engine.Transfer
	credits, charges := 0, 0
	for i := range operations {
		if i%creditEvery == creditEvery-1 {
			if last, err = w.eng.Credit(calls, engine.TransferID(fmt.Sprintf("dep-%d", i)), "alice", engine.NewAmount(1)); err != nil {
				t.Fatalf("Credit #%d = %v", i, err)
			}
			credits++
			continue
		}
		if _, err := w.eng.Charge(calls, engine.Charge{ID: engine.TransferID(fmt.Sprintf("charge-%d", i)),
			From: "alice", To: "bob", Amount: engine.NewAmount(1)}); err != nil {
			t.Fatalf("Charge #%d = %v", i, err)
		}
		charges++
	}
	if credits != operations/creditEvery || last.Position == 0 {
		t.Fatalf("%d credits, the last at position %d; want %d, a position", credits, last.Position, operations/creditEvery)
	}

	// The fund's event, in flight, stays at the head; every credit after
	// it is queued behind it, and the cursor is at the last credit (the
	// last event of the log).
	wantRows := 1 + credits
	deadline := time.Now().Add(waitMax)
	for {
		rows, cursor := outboxRows(t, w.eng, e.ID), durableCursor(t, w.eng)
		if rows == wantRows && cursor == last.Position {
			break
		}
		if rows > wantRows || cursor > last.Position || time.Now().After(deadline) {
			t.Fatalf("outbox of %d rows, cursor at %d; want %d rows, cursor at %d (the last credit)", rows, cursor, wantRows, last.Position)
		}
		time.Sleep(time.Millisecond) // polling the dispatcher's durable writes
	}
	if got := hanging.count.Load(); got != 1 {
		t.Errorf("the hanging receiver read %d requests, want 1 (the head, still in flight)", got)
	}
	if got := hanging.accepted.Load(); got != 1 {
		t.Errorf("the hanging receiver accepted %d connections, want 1", got)
	}
	if page, _, err := w.svc.Deliveries(e.ID, owner, 0, webhooks.DeliveriesPageMax); err != nil || len(page) != 0 {
		t.Errorf("Deliveries = %+v, %v; want none: no attempt has ended", page, err)
	}
	balance, err := w.eng.Balance(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := engine.NewAmount(uint64(funds + credits - charges)); balance.Available != want {
		t.Errorf("alice's available = %v, want %v", balance.Available, want)
	}
}

// Benchmark shape: callers charge payers' accounts, one operation in
// benchmarkCreditEvery a credit instead (a deposit.credited for the
// owner's endpoints).
const (
	benchmarkCallers     = 64
	benchmarkPayers      = 16
	benchmarkCreditEvery = 16
	benchmarkFunds       = 1 << 50
)

// BenchmarkChargesWithHangingReceiver measures the engine's charge
// throughput and latency with the deliverer running: "none" without an
// endpoint, "answering" with one endpoint subscribed to every event of
// every account whose receiver answers 200 at once, and "hanging" with
// one whose receiver never answers (its head delivery in flight for the
// whole run, its outbox filling). hanging against answering is what a
// hanging receiver costs charges, which should be nothing; answering
// against none is what delivering webhooks costs them.
//
//	go test -run '^$' -bench ChargesWithHangingReceiver -benchtime 40000x -count 5 ./engine/webhooks/
func BenchmarkChargesWithHangingReceiver(b *testing.B) {
	b.Run("none", func(b *testing.B) { benchmarkCharges(b, receiverNone) })
	b.Run("answering", func(b *testing.B) { benchmarkCharges(b, receiverAnswering) })
	b.Run("hanging", func(b *testing.B) { benchmarkCharges(b, receiverHanging) })
}

// benchmarkReceiver is who receives the benchmark's events: nobody (no
// endpoint), a receiver answering 200 at once, or one that never answers.
// The webhooks' own cost is answering's against none; the hang's is
// hanging's against answering.
type benchmarkReceiver int

const (
	receiverNone benchmarkReceiver = iota
	receiverAnswering
	receiverHanging
)

func benchmarkCharges(b *testing.B, receiver benchmarkReceiver) {
	hang := receiver == receiverHanging
	ctx := context.Background()
	eng, err := engine.Open(engine.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := eng.Close(); err != nil {
			b.Error(err)
		}
	}()
	accounts := []engine.Account{{ID: "payee", Ledger: testLedger}}
	for p := range benchmarkPayers {
		accounts = append(accounts, engine.Account{ID: benchmarkPayer(p), Ledger: testLedger})
	}
	for i, err := range eng.CreateAccounts(ctx, accounts) {
		if err != nil {
			b.Fatalf("CreateAccount(%s) = %v", accounts[i].ID, err)
		}
	}
	svc, err := webhooks.Open(eng, webhooks.Options{Logger: slog.New(slog.DiscardHandler), AttemptTimeout: time.Hour,
		OwnerOf: func(engine.AccountID) (string, bool) { return owner, true }})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := svc.Close(); err != nil {
			b.Error(err)
		}
	}()
	var endpoint webhooks.Endpoint
	var hanging *hangingReceiver
	switch receiver {
	case receiverHanging:
		hanging = newHangingReceiver(b)
		if endpoint, err = svc.Create(ctx, owner, hanging.url(), webhooks.EventTypes, ""); err != nil {
			b.Fatal(err)
		}
	case receiverAnswering:
		answering := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		b.Cleanup(answering.Close)
		if endpoint, err = svc.Create(ctx, owner, answering.URL+"/hook", webhooks.EventTypes, ""); err != nil {
			b.Fatal(err)
		}
	}
	for p := range benchmarkPayers {
		if _, err := eng.Credit(ctx, engine.TransferID(fmt.Sprintf("fund-%d", p)), benchmarkPayer(p), engine.NewAmount(benchmarkFunds)); err != nil {
			b.Fatal(err)
		}
	}
	if hang {
		hanging.waitRequest(b) // the first fund's delivery hangs from here on
	}

	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		callers   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range benchmarkCallers {
		callers.Add(1)
		go func() {
			defer callers.Done()
			var samples []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					break
				}
				payer := benchmarkPayer(i % benchmarkPayers)
				began := time.Now()
				var err error
				if i%benchmarkCreditEvery == benchmarkCreditEvery-1 {
					_, err = eng.Credit(ctx, engine.TransferID(fmt.Sprintf("dep-%d", i)), payer, engine.NewAmount(1))
				} else {
					_, err = eng.Charge(ctx, engine.Charge{ID: engine.TransferID(fmt.Sprintf("c-%d", i)), From: payer, To: "payee", Amount: engine.NewAmount(1)})
				}
				if err != nil {
					b.Errorf("operation %d: %v", i, err)
					return
				}
				samples = append(samples, time.Since(began))
			}
			mu.Lock()
			latencies = append(latencies, samples...)
			mu.Unlock()
		}()
	}
	callers.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	percentile := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(float64(len(latencies)-1)*p)].Microseconds())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(percentile(0.50), "p50-µs")
	b.ReportMetric(percentile(0.99), "p99-µs")
	if hang {
		// Read as the run ends: the dispatcher may still be a batch behind.
		b.ReportMetric(float64(outboxRows(b, eng, endpoint.ID)), "outbox-rows")
		if got := hanging.count.Load(); got != 1 {
			b.Errorf("the hanging receiver read %d requests, want 1", got)
		}
	}
	b.Logf("machine: %s/%s, %d CPUs, GOMAXPROCS %d, %d callers over %d payers, a credit every %d operations",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), benchmarkCallers, benchmarkPayers, benchmarkCreditEvery)
}

func benchmarkPayer(p int) engine.AccountID { return engine.AccountID(fmt.Sprintf("payer-%d", p)) }
