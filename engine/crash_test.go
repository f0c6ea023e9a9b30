package engine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// The crash test runs a child process (this test binary, re-executed) that
// applies random operations to an engine and prints each acknowledged one;
// the parent kills it with SIGKILL at a random moment, reopens the directory
// and checks that every acknowledged operation is there exactly once, that
// every balance equals what the operations present in the log imply, and
// that the invariants hold. Then it starts the next round on the same
// directory.

const (
	crashChildEnv   = "TOLLWAY_CRASH_CHILD_DIR"
	crashRoundEnv   = "TOLLWAY_CRASH_ROUND"
	crashAccounts   = 6
	crashFunds      = 10_000_000
	crashFeeBps     = 150
	crashWorkers    = 8
	crashRoundsMin  = 20
	crashRetryLimit = 50
)

func crashAccountID(i int) engine.AccountID { return engine.AccountID(fmt.Sprintf("crash-%d", i)) }

// crashOp is one operation the child attempted, as it prints it:
// "TRY|ACK kind id from to amount [captured]".
type crashOp struct {
	kind     string // charge, capture (hold then capture), void, open (hold left open)
	id       engine.TransferID
	from, to engine.AccountID
	amount   uint64
	captured uint64
}

func (o crashOp) String() string {
	return fmt.Sprintf("%s %s %s %s %d %d", o.kind, o.id, o.from, o.to, o.amount, o.captured)
}

func parseCrashOp(fields []string) (crashOp, error) {
	if len(fields) != 6 {
		return crashOp{}, fmt.Errorf("bad op %q", fields)
	}
	amount, err1 := strconv.ParseUint(fields[4], 10, 64)
	captured, err2 := strconv.ParseUint(fields[5], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return crashOp{}, err
	}
	return crashOp{kind: fields[0], id: engine.TransferID(fields[1]), from: engine.AccountID(fields[2]), to: engine.AccountID(fields[3]), amount: amount, captured: captured}, nil
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestKillDashNineKeepsEveryAcknowledgedOperation")
	}
	runCrashChild(dir, os.Getenv(crashRoundEnv))
}

func runCrashChild(dir, round string) {
	ctx := context.Background()
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: crashFeeBps, SnapshotEvery: 700})
	if err != nil {
		fmt.Printf("FATAL open: %v\n", err)
		os.Exit(3)
	}
	for i := range crashAccounts {
		err := eng.CreateAccount(ctx, engine.Account{ID: crashAccountID(i), Ledger: testLedger})
		if err != nil && !errors.Is(err, engine.ErrAlreadyExists) {
			fmt.Printf("FATAL create: %v\n", err)
			os.Exit(3)
		}
		if _, err := eng.Credit(ctx, engine.TransferID(fmt.Sprintf("fund-%d", i)), crashAccountID(i), engine.NewAmount(crashFunds)); err != nil {
			fmt.Printf("FATAL fund: %v\n", err)
			os.Exit(3)
		}
	}
	fmt.Println("READY") // the parent's kill timer starts now: the initial funding is durable
	var out sync.Mutex
	print := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, format, args...)
		out.Unlock()
	}
	// Each round tops every account up, so charges keep succeeding.
	for i := range crashAccounts {
		op := crashOp{kind: "credit", id: engine.TransferID(fmt.Sprintf("fund-r%s-%d", round, i)),
			from: engine.ChainAccount(testLedger), to: crashAccountID(i), amount: crashFunds / 4}
		print("TRY %s\n", op)
		if _, err := eng.Credit(ctx, op.id, op.to, engine.NewAmount(op.amount)); err != nil {
			print("ERR %s %v\n", op.id, err)
			continue
		}
		print("ACK %s\n", op)
	}
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			var acked []crashOp
			for i := 0; ; i++ {
				if len(acked) > 0 && rng.IntN(10) == 0 {
					// Retry an acknowledged charge: it must replay, never apply twice.
					op := acked[rng.IntN(len(acked))]
					res, err := eng.Charge(ctx, engine.Charge{ID: op.id, From: op.from, To: op.to, Amount: engine.NewAmount(op.amount)})
					if err != nil || !res.Replayed {
						print("DOUBLE %s %v %v\n", op.id, res.Replayed, err)
					}
					continue
				}
				from, to := rng.IntN(crashAccounts), rng.IntN(crashAccounts-1)
				if to >= from {
					to++
				}
				op := crashOp{
					kind: []string{"charge", "charge", "capture", "void", "open"}[rng.IntN(5)],
					id:   engine.TransferID(fmt.Sprintf("r%s-w%d-%d", round, w, i)),
					from: crashAccountID(from), to: crashAccountID(to), amount: uint64(1 + rng.IntN(20_000)),
				}
				if op.kind == "capture" {
					op.captured = 1 + uint64(rng.IntN(int(op.amount)))
				}
				print("TRY %s\n", op)
				if err := applyCrashOp(ctx, eng, op); err != nil {
					print("ERR %s %v\n", op.id, err)
					continue
				}
				print("ACK %s\n", op)
				if op.kind == "charge" && len(acked) < crashRetryLimit {
					acked = append(acked, op)
				}
			}
		}()
	}
	wg.Wait()
}

func applyCrashOp(ctx context.Context, eng *engine.Engine, op crashOp) error {
	amount := engine.NewAmount(op.amount)
	if op.kind == "charge" {
		_, err := eng.Charge(ctx, engine.Charge{ID: op.id, From: op.from, To: op.to, Amount: amount})
		return err
	}
	if _, err := eng.Hold(ctx, engine.Hold{ID: op.id, From: op.from, To: op.to, Amount: amount, Timeout: 24 * time.Hour}); err != nil {
		return err
	}
	switch op.kind {
	case "capture":
		_, err := eng.Capture(ctx, op.id, engine.NewAmount(op.captured))
		return err
	case "void":
		return eng.Void(ctx, op.id)
	}
	return nil
}

func TestKillDashNineKeepsEveryAcknowledgedOperation(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	tried := make(map[engine.TransferID]crashOp)
	acked := make(map[engine.TransferID]crashOp)
	for round := range crashRoundsMin {
		runFor := time.Duration(150+rng.IntN(600)) * time.Millisecond
		roundTried, roundAcked := runCrashRound(t, dir, round, runFor)
		for id, op := range roundTried {
			tried[id] = op
		}
		for id, op := range roundAcked {
			acked[id] = op
		}
		checkCrashedDirectory(t, dir, tried, acked)
		t.Logf("round %d: killed after %v; %d tried, %d acknowledged so far", round, runFor, len(tried), len(acked))
	}
	if len(acked) < crashRoundsMin*10 {
		t.Fatalf("only %d operations acknowledged over %d rounds: the child did too little to prove anything", len(acked), crashRoundsMin)
	}
}

func runCrashRound(t *testing.T, dir string, round int, runFor time.Duration) (tried, acked map[engine.TransferID]crashOp) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tried, acked = make(map[engine.TransferID]crashOp), make(map[engine.TransferID]crashOp)
	var problems []string
	errorCounts := make(map[string]int)
	parsed, ready := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(parsed)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			fields := strings.Fields(scanner.Text())
			if len(fields) == 0 {
				continue
			}
			switch fields[0] {
			case "READY":
				close(ready)
			case "TRY", "ACK":
				op, err := parseCrashOp(fields[1:])
				if err != nil {
					continue // a line cut by the kill
				}
				if fields[0] == "TRY" {
					tried[op.id] = op
				} else {
					acked[op.id] = op
				}
			case "ERR":
				if len(fields) > 2 {
					errorCounts[strings.Join(fields[2:], " ")]++
				}
			case "DOUBLE", "FATAL":
				problems = append(problems, scanner.Text())
			}
		}
	}()
	// NB: the kill lands runFor after the child's accounts are created and
	// funded (which the checks assume), however slowly a loaded machine
	// started it.
	select {
	case <-ready:
		time.Sleep(runFor)
	case <-parsed: // the child exited early; its FATAL line says why
	case <-time.After(time.Minute):
		t.Error("the child did not get ready within a minute")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	<-parsed
	if len(problems) > 0 {
		t.Fatalf("child reported: %q", problems)
	}
	for message, count := range errorCounts {
		if !strings.Contains(message, "insufficient funds") {
			t.Fatalf("child got %d unexpected errors: %s", count, message)
		}
	}
	return tried, acked
}

// checkCrashedDirectory reopens dir and checks every acknowledged operation,
// exact balances, and the invariants.
func checkCrashedDirectory(t *testing.T, dir string, tried, acked map[engine.TransferID]crashOp) {
	t.Helper()
	ctx := context.Background()
	// Open checks the log against its high-water mark (a lagging mark must
	// never make a crash look like a loss) and refuses with ErrLogLoss.
	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: crashFeeBps, SnapshotEvery: 700})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer eng.Close()
	if info, err := os.Stat(filepath.Join(dir, "HIGH-WATER-MARK")); err != nil || info.Size() == 0 {
		t.Fatalf("no high-water mark after the reopen: %v", err)
	}
	if r := eng.Recovered(); r.LostFirst != 0 || r.LostLast != 0 {
		t.Fatalf("reopen after kill reports lost positions %d-%d", r.LostFirst, r.LostLast)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify after kill = %v", err)
	}
	available := make(map[engine.AccountID]uint64)
	reserved := make(map[engine.AccountID]uint64)
	fees := uint64(0)
	for i := range crashAccounts {
		available[crashAccountID(i)] = crashFunds
	}
	for id, op := range tried {
		tr, err := eng.Transfer(ctx, id)
		if errors.Is(err, engine.ErrNotFound) {
			if _, ok := acked[id]; ok {
				t.Fatalf("acknowledged %s is missing after the kill", op)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Transfer(%s) = %v", id, err)
		}
		_, amount := tr.Amount.Parts()
		_, fee := tr.Fee.Parts()
		_, toAmount := tr.ToAmount.Parts()
		if amount != op.amount || tr.From != op.from || tr.To != op.to {
			t.Fatalf("Transfer(%s) = %+v, want %s", id, tr, op)
		}
		_, wasAcked := acked[id]
		switch {
		case tr.Type == engine.TransferCredit:
			available[op.to] += amount
		case tr.Type == engine.TransferCharge:
			available[op.from] -= amount
			available[op.to] += toAmount
			fees += fee
		case tr.State == engine.HoldOpen:
			if wasAcked && op.kind != "open" {
				t.Fatalf("acknowledged %s left its hold open", op)
			}
			available[op.from] -= amount
			reserved[op.from] += amount
		case tr.State == engine.HoldCaptured:
			_, captured := tr.Captured.Parts()
			if captured != op.captured {
				t.Fatalf("Transfer(%s) captured %d, want %d", id, captured, op.captured)
			}
			available[op.from] -= captured
			available[op.to] += toAmount
			fees += fee
		case tr.State == engine.HoldVoided:
			if wasAcked && op.kind != "void" {
				t.Fatalf("acknowledged %s is voided", op)
			}
		default:
			t.Fatalf("Transfer(%s) = unexpected %+v", id, tr)
		}
		if wasAcked && op.kind == "capture" && tr.State != engine.HoldCaptured {
			t.Fatalf("acknowledged capture %s is %s", op, tr.State)
		}
	}
	for i := range crashAccounts {
		id := crashAccountID(i)
		wantBalance(t, eng, id, available[id], reserved[id])
	}
	wantBalance(t, eng, engine.FeesAccount(testLedger), fees, 0)
}
