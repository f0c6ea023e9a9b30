package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The baseline workload: every debit is testAmount, so which debits a
// consumer can pay does not depend on their order, and the totals are exact
// under any interleaving.
const (
	testConsumers         = 4
	testSuppliers         = 3
	testFunding           = 10_000
	testAmount            = 70  // 142 debits fit in testFunding, 60 are left
	testFeeBps            = 250 // 1.75 on testAmount, rounded down to 1
	testDebitsPerConsumer = 160 // 142 paid, 18 refused
	testWorkers           = 8
)

func TestRedisBaselineAppliesEachDebitOnce(t *testing.T) {
	for _, fsync := range []string{RedisFsyncAlways, RedisFsyncEverysec} {
		t.Run(fsync, func(t *testing.T) {
			baseline, err := NewRedisBaseline(t.Context(), t.TempDir(), fsync, testWorkers, testFeeBps)
			if errors.Is(err, ErrServerNotInstalled) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := "redis-aof-" + fsync; baseline.Name() != want {
				t.Errorf("Name() = %q, want %q", baseline.Name(), want)
			}
			if baseline.Durable() != (fsync == RedisFsyncAlways) {
				t.Errorf("Durable() = %v with appendfsync %s", baseline.Durable(), fsync)
			}
			checkBaseline(t, baseline)
		})
	}
}

func TestPostgresBaselineAppliesEachDebitOnce(t *testing.T) {
	baseline, err := NewPostgresBaseline(t.Context(), t.TempDir(), testWorkers, testFeeBps)
	if errors.Is(err, ErrServerNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if baseline.Name() != "postgres" || !baseline.Durable() {
		t.Errorf("Name(), Durable() = %q, %v, want postgres, true", baseline.Name(), baseline.Durable())
	}
	checkBaseline(t, baseline)
}

// testDebit is one debit of the workload, sent twice.
type testDebit struct {
	key      string
	consumer int
	supplier int
	amount   uint64
}

// checkBaseline runs the workload concurrently, every debit twice so that
// replays race with the first attempt, checks the exact outcome, then closes
// the baseline and checks that its server is gone.
func checkBaseline(t *testing.T, baseline Baseline) {
	ctx := t.Context()
	closed := false
	defer func() {
		if !closed {
			_ = baseline.Close()
		}
	}()
	if err := baseline.Setup(ctx, testConsumers, testSuppliers, testFunding); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	debits := testWorkload()
	outcomes := runDebits(ctx, baseline, debits)
	paid := checkOutcomes(t, debits, outcomes)

	wantFees := uint64(paid) * baselineFee(testAmount, testFeeBps)
	wantSuppliers := uint64(paid)*testAmount - wantFees
	wantConsumers := uint64(testConsumers*testFunding) - uint64(paid)*testAmount
	checkTotals(t, baseline, wantConsumers, wantSuppliers, wantFees, paid)

	if err := baseline.Debit(ctx, debits[0].key, debits[0].consumer, debits[0].supplier, testAmount+1); !errors.Is(err, ErrIdempotencyConflict) {
		t.Errorf("Debit(recorded key, other amount) = %v, want %v", err, ErrIdempotencyConflict)
	}
	if err := baseline.Debit(ctx, "unknown-consumer", testConsumers, 0, testAmount); err == nil {
		t.Errorf("Debit(consumer %d of %d) = nil, want an error", testConsumers, testConsumers)
	}
	checkTotals(t, baseline, wantConsumers, wantSuppliers, wantFees, paid)

	process := baseline.Process()
	if cpu, err := process.CPU(); err != nil || cpu <= 0 {
		t.Errorf("CPU() after %d debits = %v, %v, want above 0", 2*len(debits), cpu, err)
	}
	tree, err := process.tree()
	if err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := baseline.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := process.Stop(); err != nil {
		t.Errorf("Stop after Close: %v, want nil (idempotent)", err)
	}
	checkGone(t, tree)
}

// testWorkload returns testDebitsPerConsumer debits of testAmount and one
// above the funding for each consumer, shuffled.
func testWorkload() []testDebit {
	var debits []testDebit
	for consumer := range testConsumers {
		for i := range testDebitsPerConsumer {
			debits = append(debits, testDebit{
				key: fmt.Sprintf("debit-%d-%d", consumer, i), consumer: consumer,
				supplier: i % testSuppliers, amount: testAmount,
			})
		}
		debits = append(debits, testDebit{
			key: fmt.Sprintf("too-much-%d", consumer), consumer: consumer, amount: testFunding + 1,
		})
	}
	random := rand.New(rand.NewPCG(1, 2))
	random.Shuffle(len(debits), func(i, j int) { debits[i], debits[j] = debits[j], debits[i] })
	return debits
}

// runDebits sends every debit twice from testWorkers goroutines and returns
// both answers of each.
func runDebits(ctx context.Context, baseline Baseline, debits []testDebit) [][2]error {
	outcomes := make([][2]error, len(debits))
	work := make(chan [2]int) // debit index, attempt
	var wg sync.WaitGroup
	for range testWorkers {
		wg.Go(func() {
			for job := range work {
				debit := debits[job[0]]
				outcomes[job[0]][job[1]] = baseline.Debit(ctx, debit.key, debit.consumer, debit.supplier, debit.amount)
			}
		})
	}
	for i := range debits {
		work <- [2]int{i, 0}
		work <- [2]int{i, 1}
	}
	close(work)
	wg.Wait()
	return outcomes
}

// checkOutcomes checks that both attempts of a debit agree, that each
// consumer paid exactly what its funding covers, and that every debit above
// the funding was refused. It returns the number of debits paid.
func checkOutcomes(t *testing.T, debits []testDebit, outcomes [][2]error) int {
	t.Helper()
	paidBy := make([]int, testConsumers)
	for i, debit := range debits {
		first, second := outcomes[i][0], outcomes[i][1]
		if !errors.Is(second, first) {
			t.Errorf("Debit(%s) twice = %v and %v, want the same answer", debit.key, first, second)
			continue
		}
		switch {
		case first == nil && debit.amount > testFunding:
			t.Errorf("Debit(%s of %d) = nil, want %v", debit.key, debit.amount, ErrInsufficientFunds)
		case first == nil:
			paidBy[debit.consumer]++
		case !errors.Is(first, ErrInsufficientFunds):
			t.Errorf("Debit(%s) = %v, want nil or %v", debit.key, first, ErrInsufficientFunds)
		}
	}
	paid := 0
	for consumer, n := range paidBy {
		if want := testFunding / testAmount; n != want {
			t.Errorf("consumer %d paid %d debits, want %d", consumer, n, want)
		}
		paid += n
	}
	return paid
}

func checkTotals(t *testing.T, baseline Baseline, wantConsumers, wantSuppliers, wantFees uint64, wantDebits int) {
	t.Helper()
	consumers, suppliers, fees, debits, err := baseline.Totals(t.Context())
	if err != nil {
		t.Fatalf("Totals: %v", err)
	}
	if consumers != wantConsumers || suppliers != wantSuppliers || fees != wantFees || debits != wantDebits {
		t.Errorf("Totals() = consumers %d, suppliers %d, fees %d, debits %d; want %d, %d, %d, %d",
			consumers, suppliers, fees, debits, wantConsumers, wantSuppliers, wantFees, wantDebits)
	}
	if sum := consumers + suppliers + fees; sum != testConsumers*testFunding {
		t.Errorf("consumers + suppliers + fees = %d, want the funding, %d", sum, testConsumers*testFunding)
	}
}

// checkGone fails for every process of pids still running.
func checkGone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("process %d still running after Stop", pid)
		}
	}
}

// processAlive reports whether pid runs: a zombie, whose parent has not
// reaped it yet, does not.
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	end := 0
	for i, b := range data {
		if b == ')' {
			end = i
		}
	}
	return end+2 < len(data) && data[end+2] != 'Z'
}

func TestProcessCPUCountsDescendants(t *testing.T) {
	// The shell only waits; its child spins.
	process, err := StartProcess(ProcessConfig{
		Name: "sh", Path: "/bin/sh", Args: []string{"-c", "(while :; do :; done) & wait"},
		LogPath: t.TempDir() + "/sh.log",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer process.Stop()
	const want = 100 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	var cpu time.Duration
	for cpu < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if cpu, err = process.CPU(); err != nil {
			t.Fatal(err)
		}
	}
	if cpu < want {
		t.Fatalf("CPU() = %v after 10 s of a spinning child, want at least %v", cpu, want)
	}
	tree, err := process.tree()
	if err != nil {
		t.Fatal(err)
	}
	if len(tree) < 2 {
		t.Fatalf("tree() = %v, want the shell and its child", tree)
	}
	// SIGTERM ends the shell; the spinning child survives it and must be
	// swept by Stop's kill of the process group.
	if err := process.Stop(); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
	checkGone(t, tree)
	if _, err := process.CPU(); err == nil {
		t.Error("CPU() after Stop = nil error, want one")
	}
}

func TestProcessStopKillsAProcessThatIgnoresTheStopSignal(t *testing.T) {
	process, err := StartProcess(ProcessConfig{
		Name: "sh", Path: "/bin/sh", Args: []string{"-c", `trap "" TERM; while :; do sleep 0.05; done`},
		LogPath: t.TempDir() + "/sh.log", StopTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	tree, err := process.tree()
	if err != nil {
		t.Fatal(err)
	}
	first := process.Stop()
	if first == nil {
		t.Error("Stop() = nil, want an error saying the process was killed")
	}
	if second := process.Stop(); second != first {
		t.Errorf("Stop() again = %v, want the first answer, %v", second, first)
	}
	checkGone(t, tree)
	if processAlive(process.PID()) {
		t.Errorf("process %d alive after Stop", process.PID())
	}
}

// processChildEnvironment makes the test binary act as a benchmark that
// starts a server and is then killed.
const processChildEnvironment = "TOLLWAY_BENCH_PROCESS_CHILD"

func TestProcessDiesWithTheBenchmark(t *testing.T) {
	if os.Getenv(processChildEnvironment) != "" {
		process, err := StartProcess(ProcessConfig{Name: "sleep", Path: "/bin/sleep", Args: []string{"60"}, LogPath: os.DevNull})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(process.PID())
		time.Sleep(time.Minute) // until killed
		os.Exit(1)
	}
	benchmark := exec.Command(os.Args[0], "-test.run=^TestProcessDiesWithTheBenchmark$")
	benchmark.Env = append(os.Environ(), processChildEnvironment+"=1")
	output, err := benchmark.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := benchmark.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(output).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the server's pid: %v", err)
	}
	server, err := strconv.Atoi(line[:len(line)-1])
	if err != nil {
		t.Fatalf("child said %q, want a pid", line)
	}
	if !processAlive(server) {
		t.Fatalf("server %d not running while the benchmark runs", server)
	}
	_ = benchmark.Process.Signal(syscall.SIGKILL)
	_ = benchmark.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(server) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(server) {
		_ = syscall.Kill(server, syscall.SIGKILL)
		t.Fatalf("server %d still running after its benchmark was killed", server)
	}
}

func TestProcessWaitForPortWaitsForAListener(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := WaitForPort(t.Context(), addr, 100*time.Millisecond); err == nil {
		t.Fatalf("WaitForPort(%s) with nothing listening = nil, want an error", addr)
	}
	listening := make(chan net.Listener, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		listener, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
		}
		listening <- listener
	}()
	if err := WaitForPort(t.Context(), addr, 10*time.Second); err != nil {
		t.Errorf("WaitForPort(%s) = %v, want nil", addr, err)
	}
	if listener := <-listening; listener != nil {
		listener.Close()
	}
}

func TestProcessParseStatReadsPastParenthesesInTheName(t *testing.T) {
	line := "42 (a) b (c)) S 7 42 42 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0 100 1000 10\n"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatalf("parseStat(%q) = %v", line, err)
	}
	if want := (procEntry{parent: 7, group: 42, ticks: 11 + 22 + 33 + 44}); got != want {
		t.Errorf("parseStat(%q) = %+v, want %+v", line, got, want)
	}
}
