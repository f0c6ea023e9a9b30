package engine_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// TestSnapshotEveryEntryWhileAccountsAreCreatedAndCharged runs the
// checkpointer at its busiest (a snapshot after every entry) while accounts
// are created and charged concurrently: under -race, the snapshot writer
// must never read the state the checkpointer is changing, and the state it
// keeps must pass Verify and match a reopen.
func TestSnapshotEveryEntryWhileAccountsAreCreatedAndCharged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir, SnapshotEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "payer", "payee")
	mustCredit(t, eng, "dep-1", "payer", 1_000_000)
	const workers, perWorker = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*perWorker)
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				id := engine.AccountID(fmt.Sprintf("acct-%d-%d", w, i))
				errs <- eng.CreateAccount(ctx, engine.Account{ID: id, Ledger: testLedger})
			}
		}()
		go func() {
			defer wg.Done()
			for i := range perWorker {
				_, err := eng.Charge(ctx, engine.Charge{ID: engine.TransferID(fmt.Sprintf("c-%d-%d", w, i)),
					From: "payer", To: "payee", Amount: engine.NewAmount(10)})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("call during snapshots = %v", err)
		}
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	eng = openTest(t, engine.Options{Dir: dir})
	wantBalance(t, eng, "payer", 1_000_000-10*workers*perWorker, 0)
	wantBalance(t, eng, "payee", 10*workers*perWorker, 0)
	if got := eng.Stats().Accounts; got != 2+2+workers*perWorker {
		t.Fatalf("accounts after reopen = %d, want %d", got, 4+workers*perWorker)
	}
}

// holdSnapshotEncode returns options whose first snapshot encode waits, on
// the checkpointer's goroutine, until release is closed; entered is closed
// once it waits.
func holdSnapshotEncode(options engine.Options) (_ engine.Options, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	return engine.WithSnapshotEncodingHook(options, func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}), entered, release
}

// TestRepliesKeepFlowingWhileASnapshotEncodes holds the checkpointer in a
// snapshot encode while more commits arrive than it could ever queue (more
// group commits than its old channel had slots, more events than its
// in-memory backlog holds): every charge is still answered, and once the
// encode ends the checkpointer has every event, read back from the log
// where its backlog dropped them, as a snapshot and a reopen show.
func TestRepliesKeepFlowingWhileASnapshotEncodes(t *testing.T) {
	// A deadline, not a sleep: a reply path that blocks fails the test
	// instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const backlogMax, charges = 100, 1100 // the old feed channel held 1024 group commits
	options, entered, release := holdSnapshotEncode(engine.Options{Dir: dir, SnapshotEvery: 1})
	options = engine.WithCheckpointBacklogEvents(options, backlogMax)
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "payer", "payee") // the first commit starts a snapshot, whose encode waits
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("no snapshot encode started")
	}
	mustCredit(t, eng, "dep-1", "payer", 1_000_000)
	for i := range charges { // one group commit each
		id := engine.TransferID(fmt.Sprintf("c-%d", i))
		if _, err := eng.Charge(ctx, engine.Charge{ID: id, From: "payer", To: "payee", Amount: engine.NewAmount(1)}); err != nil {
			t.Fatalf("Charge(%s) while a snapshot encodes = %v, want success", id, err)
		}
	}
	wantBalance(t, eng, "payer", 1_000_000-charges, 0)
	close(release)
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot after the encode = %v", err)
	}
	position := eng.Position()
	if err := eng.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	eng = openTest(t, engine.Options{Dir: dir})
	if rec := eng.Recovered(); rec.SnapshotPosition != position || rec.Replayed != 0 {
		t.Fatalf("Recovered = %+v, want everything (position %d) in the snapshot", rec, position)
	}
	wantBalance(t, eng, "payer", 1_000_000-charges, 0)
	wantBalance(t, eng, "payee", charges, 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

// TestSnapshotCoversEverythingAcknowledgedBeforeItWasAsked asks for a
// snapshot while an automatic one is still encoding: the snapshot it gets
// must cover the charges acknowledged meanwhile, not only the earlier state.
func TestSnapshotCoversEverythingAcknowledgedBeforeItWasAsked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	options, entered, release := holdSnapshotEncode(engine.Options{Dir: dir, SnapshotEvery: 1})
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "payer", "payee")
	<-entered
	mustCredit(t, eng, "dep-1", "payer", 100)
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-1", From: "payer", To: "payee", Amount: engine.NewAmount(30)}); err != nil {
		t.Fatal(err)
	}
	snapshotted := make(chan error, 1)
	go func() { snapshotted <- eng.Snapshot(ctx) }()
	close(release)
	if err := <-snapshotted; err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	position := eng.Position()
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng = openTest(t, engine.Options{Dir: dir})
	if rec := eng.Recovered(); rec.SnapshotPosition != position || rec.Replayed != 0 {
		t.Fatalf("Recovered = %+v, want a snapshot at %d covering the charge", rec, position)
	}
	wantBalance(t, eng, "payer", 70, 0)
}

// TestCloseJoinsEveryGoroutineTheEngineStarted closes an engine with a
// subscriber blocked on a full channel, another waiting for commits, a hold
// that the sweeper waits for and a snapshot written, and checks that no
// goroutine it started outlives Close.
func TestCloseJoinsEveryGoroutineTheEngineStarted(t *testing.T) {
	ctx := context.Background()
	// A first engine starts what lives for the process (Pebble's and the
	// actor library's globals), so the count below is the engine's own.
	warm := openTest(t, engine.Options{})
	mustCreate(t, warm, "a", "b")
	if err := warm.Close(); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	eng, err := engine.Open(engine.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "payer", "payee")
	mustCredit(t, eng, "dep-1", "payer", 1_000_000)
	if err := eng.Snapshot(ctx); err != nil { // its writer's goroutine comes and goes
		t.Fatal(err)
	}
	blocked, err := eng.Subscribe(ctx, 0) // never read: its goroutine blocks sending
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := eng.Subscribe(ctx, 0) // read to the end: its goroutine waits for commits
	if err != nil {
		t.Fatal(err)
	}
	charges := make([]engine.Charge, 600) // more events than a subscription buffers
	for i := range charges {
		charges[i] = engine.Charge{ID: engine.TransferID(fmt.Sprintf("c-%d", i)), From: "payer", To: "payee", Amount: engine.NewAmount(1)}
	}
	for _, r := range eng.ChargeBatch(ctx, charges) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if _, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "payer", To: "payee", Amount: engine.NewAmount(1), Timeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for range len(charges) + 1 { // the charges and the hold, after the snapshot
		<-waiting.C
	}
	closed := make(chan error, 1)
	go func() { closed <- eng.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close = %v", err)
		}
	case <-time.After(time.Minute): // a deadline, not a sleep: a Close that hangs fails
		t.Fatal("Close did not return with a subscriber blocked on its channel")
	}
	for range blocked.C { // closed by its goroutine before it ends
	}
	if err := blocked.Err(); err != nil {
		t.Fatalf("Err of a subscription closed by Close = %v, want nil", err)
	}
	// The last goroutines (this test's own Close caller among them) may
	// still be returning from their final call (wg.Done, close, a channel
	// send) after Close saw them done: yield until they are gone, never
	// sleep, within a bound a loaded machine under -race still meets.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); after > before && time.Now().Before(deadline); {
		runtime.Gosched()
		after = runtime.NumGoroutine()
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before Open; still running:\n%s", after, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestOneAccountsHoldsCannotStopSnapshotsForAll places 600 holds with
// MemoBytesMax memos on one account, ~9.6 MiB that once made its snapshot
// record larger than a snapshot chunk, failing the engine closed for every
// account. The holds past the account's limit are refused with
// ErrLimitExceeded; snapshots keep working, as do other accounts.
func TestOneAccountsHoldsCannotStopSnapshotsForAll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "hoarder", "payee", "other")
	mustCredit(t, eng, "dep-1", "hoarder", 1_000_000)
	mustCredit(t, eng, "dep-2", "other", 1_000)
	const holds, workers = 600, 16
	memo := strings.Repeat("m", engine.MemoBytesMax)
	results := make(chan error, holds)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < holds; i += workers {
				_, err := eng.Hold(ctx, engine.Hold{ID: engine.TransferID(fmt.Sprintf("h-%d", i)), From: "hoarder", To: "payee",
					Amount: engine.NewAmount(1), Timeout: time.Hour, Memo: memo})
				results <- err
			}
		}()
	}
	wg.Wait()
	close(results)
	placed, refused := 0, 0
	for err := range results {
		switch {
		case err == nil:
			placed++
		case errors.Is(err, engine.ErrLimitExceeded):
			refused++
		default:
			t.Fatalf("Hold = %v, want success or ErrLimitExceeded", err)
		}
	}
	if wantPlaced := engine.HoldMemoBytesPerAccountMax / engine.MemoBytesMax; placed != wantPlaced || refused != holds-wantPlaced {
		t.Fatalf("holds placed %d, refused %d, want %d and %d", placed, refused, wantPlaced, holds-wantPlaced)
	}
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot with an account at its limits = %v, want success", err)
	}
	if _, err := eng.Charge(ctx, engine.Charge{ID: "c-other", From: "other", To: "payee", Amount: engine.NewAmount(10)}); err != nil {
		t.Fatalf("Charge of another account = %v, want success", err)
	}
	_, err = eng.Hold(ctx, engine.Hold{ID: "h-more", From: "hoarder", To: "payee", Amount: engine.NewAmount(1), Timeout: time.Hour, Memo: memo})
	wantErr(t, "Hold past the limit", err, engine.ErrLimitExceeded)
	if err := eng.Void(ctx, "h-0"); err != nil && !errors.Is(err, engine.ErrNotFound) {
		t.Fatal(err)
	}
	position := eng.Position()
	if err := eng.Close(); err != nil {
		t.Fatalf("Close = %v, want no failure", err)
	}
	eng = openTest(t, engine.Options{Dir: dir})
	if eng.Position() != position {
		t.Fatalf("Position after reopen = %d, want %d", eng.Position(), position)
	}
	wantBalance(t, eng, "other", 990, 0)
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}
