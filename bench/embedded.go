package bench

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/tollway/tollway/engine"
)

// EmbeddedConfig describes one in-process charge run.
type EmbeddedConfig struct {
	Callers   int // concurrent goroutines, each waiting for its answer
	Consumers int // paying accounts
	Suppliers int // paid accounts; 1 makes every charge credit one hot supplier
	Charges   int // total charges to apply
	BatchSize int // charges per ChargeBatch call; 0 or 1 means single Charge calls
	FeeBps    uint32
}

// Result is what a run measured.
type Result struct {
	Operations      int64
	Errors          int64
	Elapsed         time.Duration
	PerSecond       float64
	LatencyP50      time.Duration
	LatencyP99      time.Duration
	LatencyP999     time.Duration
	LatencyMax      time.Duration
	GOMAXPROCS      int
	CPUs            int
	CommitBatchMean float64
	// CommitMean is the mean time of a group commit, its fsync included.
	CommitMean time.Duration
	// CPUPerOperation is this process's CPU time (user and system, the load
	// generator's included) over the run, per charge: steadier than the
	// throughput on a busy machine.
	CPUPerOperation time.Duration
}

// String formats the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%d ops in %v: %.0f/s, p50 %v p99 %v p99.9 %v max %v, errors %d, %.0f entries per commit of %v on average, %v CPU per op (GOMAXPROCS %d)",
		r.Operations, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.LatencyP50, r.LatencyP99, r.LatencyP999,
		r.LatencyMax, r.Errors, r.CommitBatchMean, r.CommitMean.Round(time.Microsecond), r.CPUPerOperation, r.GOMAXPROCS)
}

// latencyMax bounds the histograms; anything slower is recorded as this.
const latencyMax = 10 * time.Second

// PrepareEmbedded creates and funds the accounts of cfg in eng.
func PrepareEmbedded(ctx context.Context, eng *engine.Engine, cfg EmbeddedConfig) error {
	const ledger = "bench:USDC"
	accounts := make([]engine.Account, 0, cfg.Consumers+cfg.Suppliers)
	for i := range cfg.Consumers {
		accounts = append(accounts, engine.Account{ID: consumerID(i), Ledger: ledger})
	}
	for i := range cfg.Suppliers {
		accounts = append(accounts, engine.Account{ID: supplierID(i), Ledger: ledger, Kind: engine.KindSupplier})
	}
	const chunk = 10_000
	for start := 0; start < len(accounts); start += chunk {
		for _, err := range eng.CreateAccounts(ctx, accounts[start:min(start+chunk, len(accounts))]) {
			if err != nil {
				return fmt.Errorf("create accounts: %w", err)
			}
		}
	}
	// Enough for every consumer's share, and for a whole batch more: batches
	// are paid by one consumer each, so shares are uneven by up to a batch.
	perConsumer := uint64(cfg.Charges/max(cfg.Consumers, 1)+2*max(cfg.BatchSize, 1)) * 1000
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Consumers)
	work := make(chan int)
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := eng.Credit(ctx, engine.TransferID(fmt.Sprintf("fund-%d", i)), consumerID(i), engine.NewAmount(perConsumer)); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range cfg.Consumers {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("fund: %w", err)
	}
	return nil
}

func accountIDs(name func(int) engine.AccountID, n int) []engine.AccountID {
	ids := make([]engine.AccountID, n)
	for i := range ids {
		ids[i] = name(i)
	}
	return ids
}

func consumerID(i int) engine.AccountID { return engine.AccountID(fmt.Sprintf("consumer-%d", i)) }
func supplierID(i int) engine.AccountID { return engine.AccountID(fmt.Sprintf("supplier-%d", i)) }

// RunEmbedded applies cfg.Charges charges from cfg.Callers goroutines in a
// closed loop (each caller sends its next charge when the previous one is
// acknowledged) and measures each acknowledgement's latency. Client ids are
// unique per run through prefix.
func RunEmbedded(ctx context.Context, eng *engine.Engine, cfg EmbeddedConfig, prefix string) Result {
	batch := max(cfg.BatchSize, 1)
	var next atomic.Int64
	var errors atomic.Int64
	// Each caller records into its own slice, merged into one HDR histogram
	// at the end: a histogram per caller would thrash the caches.
	latencies := make([][]int64, cfg.Callers)
	// Ids are built before the clock starts, and a charge's id without fmt:
	// the load generator shares the cores with the engine it measures.
	consumers, suppliers := accountIDs(consumerID, cfg.Consumers), accountIDs(supplierID, cfg.Suppliers)
	var wg sync.WaitGroup
	started := time.Now()
	before := eng.Stats()
	cpuBefore, cpuErr := ProcessCPU()
	for c := range cfg.Callers {
		latencies[c] = make([]int64, 0, cfg.Charges/cfg.Callers/batch+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			charges := make([]engine.Charge, batch)
			id := make([]byte, 0, len(prefix)+24)
			for {
				first := next.Add(int64(batch)) - int64(batch)
				if first >= int64(cfg.Charges) {
					return
				}
				count := min(int64(batch), int64(cfg.Charges)-first)
				for i := range count {
					n := first + i
					payer := n // single charges spread over the consumers
					if batch > 1 {
						payer = first / int64(batch) // a batch is one payer's calls, as over HTTP
					}
					id = strconv.AppendInt(append(append(id[:0], prefix...), '-'), n, 10)
					charges[i] = engine.Charge{
						ID:     engine.TransferID(id),
						From:   consumers[int(payer)%cfg.Consumers],
						To:     suppliers[int(n)%cfg.Suppliers],
						Amount: engine.NewAmount(1000),
					}
				}
				begin := time.Now()
				if batch == 1 {
					if _, err := eng.Charge(ctx, charges[0]); err != nil {
						errors.Add(1)
					}
				} else {
					for _, r := range eng.ChargeBatch(ctx, charges[:count]) {
						if r.Err != nil {
							errors.Add(1)
						}
					}
				}
				latencies[c] = append(latencies[c], min(time.Since(begin), latencyMax).Microseconds())
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	after := eng.Stats()
	var cpuPerOperation time.Duration
	if cpuAfter, err := ProcessCPU(); err == nil && cpuErr == nil {
		cpuPerOperation = (cpuAfter - cpuBefore) / time.Duration(max(cfg.Charges, 1))
	}
	commitBatchMean := 0.0
	if commits := after.Commits - before.Commits; commits > 0 {
		commitBatchMean = float64(after.CommitsEntries-before.CommitsEntries) / float64(commits)
	}
	var commitMean time.Duration
	durations := after.CommitDurationSeconds
	if timed := durations.Count - before.CommitDurationSeconds.Count; timed > 0 {
		commitMean = time.Duration((durations.Sum - before.CommitDurationSeconds.Sum) / float64(timed) * float64(time.Second))
	}
	merged := hdrhistogram.New(1, int64(latencyMax/time.Microsecond), 3)
	for _, list := range latencies {
		for _, latency := range list {
			merged.RecordValue(latency)
		}
	}
	us := func(q float64) time.Duration { return time.Duration(merged.ValueAtQuantile(q)) * time.Microsecond }
	return Result{
		Operations: int64(cfg.Charges), Errors: errors.Load(), Elapsed: elapsed,
		PerSecond:  float64(cfg.Charges) / elapsed.Seconds(),
		LatencyP50: us(50), LatencyP99: us(99), LatencyP999: us(99.9),
		LatencyMax: time.Duration(merged.Max()) * time.Microsecond,
		GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU(), CommitBatchMean: commitBatchMean,
		CommitMean: commitMean, CPUPerOperation: cpuPerOperation,
	}
}
