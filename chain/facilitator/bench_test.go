package facilitator

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
)

// BenchmarkX402Settle1000 settles 1,000 paid calls (one payer, one payee,
// 100 base units each, 8 callers at once) per payment and in batches on
// the simulated chain, and reports the transactions and the gas they
// took on chain: run once, it is a measurement, not a timing.
//
//	go test -run '^$' -bench X402Settle1000 -benchtime 1x ./chain/facilitator
func BenchmarkX402Settle1000(b *testing.B) {
	for _, mode := range []SettleMode{SettlePerPayment, SettleBatch} {
		b.Run(string(mode), func(b *testing.B) {
			for range b.N {
				benchmarkSettle(b, mode)
			}
		})
	}
}

const (
	benchCalls   = 1_000
	benchPrice   = 100
	benchCallers = 8
)

func benchmarkSettle(b *testing.B, mode SettleMode) {
	b.StopTimer()
	w := newWorld(b)
	w.mode, w.wait = mode, time.Minute
	w.restart()
	w.mine()
	requests := make([]*x402.Request, benchCalls)
	for i := range requests {
		requests[i] = w.pay(benchPrice, 3600)
	}
	b.StartTimer()
	start := time.Now()
	responses := make([]x402.SettleResponse, benchCalls)
	var wg sync.WaitGroup
	next := make(chan int)
	for range benchCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := w.f.Settle(context.Background(), requests[i])
				if err != nil || !r.Success {
					b.Errorf("Settle: %+v %v", r, err)
				}
				responses[i] = r
			}
		}()
	}
	for i := range requests {
		next <- i
	}
	close(next)
	wg.Wait()
	answered := time.Since(start)
	if mode == SettleBatch {
		w.f.flush()
		for i, request := range requests {
			responses[i] = w.final(request)
		}
	}
	settled := time.Since(start)
	b.StopTimer()

	var gas uint64
	transactions := map[common.Hash]bool{}
	for _, r := range responses {
		if !r.Success {
			b.Fatalf("settlement: %+v", r)
		}
		hash := common.HexToHash(r.Transaction)
		if transactions[hash] {
			continue
		}
		transactions[hash] = true
		receipt, err := w.sim.Client().TransactionReceipt(context.Background(), hash)
		if err != nil {
			b.Fatal(err)
		}
		gas += receipt.GasUsed
	}
	if got := w.usdcOf(w.payee); got != benchCalls*benchPrice {
		b.Fatalf("payee holds %d, want %d", got, benchCalls*benchPrice)
	}
	b.ReportMetric(float64(len(transactions)), "transactions")
	b.ReportMetric(float64(gas), "gas")
	b.ReportMetric(float64(gas)/benchCalls, "gas/call")
	b.ReportMetric(answered.Seconds(), "s-answered")
	b.ReportMetric(settled.Seconds(), "s-settled")
	b.Logf("%s: %d paid calls, %d callers, GOMAXPROCS %d, %s/%s, batch cap %d: %d transactions, %d gas (%d a call); "+
		"all answered in %v, all on chain in %v", mode, benchCalls, benchCallers, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH,
		contracts.X402BatchEntriesMax, len(transactions), gas, gas/benchCalls, answered.Round(time.Millisecond), settled.Round(time.Millisecond))
}
