package relay

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain"
	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/engine"
)

var (
	benchCharges = flag.Int("settle-charges", 1_000_000, "BenchmarkSettleOnLocalChain: charges")
	benchPayers  = flag.Int("settle-payers", 1_000, "BenchmarkSettleOnLocalChain: payers (each paying every payee)")
	benchPayees  = flag.Int("settle-payees", 10, "BenchmarkSettleOnLocalChain: payees")
)

// chargeLoad makes charges count charges over payers × payees pairs, in
// batches of 1,000 from 8 goroutines, and returns the last position.
func chargeLoad(b *testing.B, eng *engine.Engine, prefix string, count, payers, payees int) uint64 {
	b.Helper()
	var (
		next, last atomic.Uint64
		wg         sync.WaitGroup
		failed     atomic.Value
	)
	const batch = 1_000
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			charges := make([]engine.Charge, 0, batch)
			for {
				start := int(next.Add(batch)) - batch
				if start >= count {
					return
				}
				charges = charges[:0]
				for i := start; i < min(start+batch, count); i++ {
					charges = append(charges, engine.Charge{
						ID:   engine.TransferID(fmt.Sprintf("%s%d", prefix, i)),
						From: payerID(i % payers), To: payeeID((i / payers) % payees), Amount: engine.NewAmount(uint64(100 + i%900)),
					})
				}
				for _, r := range eng.ChargeBatch(context.Background(), charges) {
					if r.Err != nil {
						failed.Store(r.Err)
						return
					}
					for {
						seen := last.Load()
						if r.Transfer.Position <= seen || last.CompareAndSwap(seen, r.Transfer.Position) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("charge: %v", err)
	}
	return last.Load()
}

func payerID(i int) engine.AccountID { return engine.AccountID(fmt.Sprintf("payer-%05d", i)) }
func payeeID(i int) engine.AccountID { return engine.AccountID(fmt.Sprintf("payee-%05d", i)) }

// openAccounts opens payers (each credited funds) and payees.
func openAccounts(b *testing.B, eng *engine.Engine, payers, payees int, funds uint64) {
	b.Helper()
	ctx := context.Background()
	var accounts []engine.Account
	for i := range payers {
		accounts = append(accounts, engine.Account{ID: payerID(i), Ledger: testLedger})
	}
	for i := range payees {
		accounts = append(accounts, engine.Account{ID: payeeID(i), Ledger: testLedger})
	}
	for i, err := range eng.CreateAccounts(ctx, accounts) {
		if err != nil {
			b.Fatalf("account %s: %v", accounts[i].ID, err)
		}
	}
	for i := range payers {
		if _, err := eng.Credit(ctx, engine.TransferID(fmt.Sprintf("fund-%d", i)), payerID(i), engine.NewAmount(funds)); err != nil {
			b.Fatal(err)
		}
	}
}

// walletOf is a deterministic wallet per account.
func walletOf(account engine.AccountID) (common.Address, bool) {
	return common.BytesToAddress(crypto.Keccak256([]byte(account))[12:]), true
}

// BenchmarkChargesWithRelayer: the engine's charge throughput with the
// relayer folding every event (all accounts bound to wallets; its window
// is an hour, so only the folding runs) and without one, in one run:
// compare the two charges/s (the target: within 10%).
func BenchmarkChargesWithRelayer(b *testing.B) {
	const count, payers, payees = 200_000, 1_000, 10
	for _, withRelayer := range []bool{false, true} {
		name := "without"
		if withRelayer {
			name = "with"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				eng, err := engine.Open(engine.Options{Dir: b.TempDir(), FeeBps: testFeeBps, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				openAccounts(b, eng, payers, payees, 1<<40)
				var r *Relayer
				if withRelayer {
					key, _ := crypto.GenerateKey()
					r, err = Open(Config{Engine: eng, Backend: unreachable{}, ChainID: big.NewInt(1337), Key: key,
						Ledger: testLedger, Wallets: walletOf, Window: time.Hour, PollInterval: time.Hour,
						Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				last := chargeLoad(b, eng, "c", count, payers, payees)
				elapsed := time.Since(start)
				if r != nil {
					r.waitFolded(nil, last)
					if got := r.netting.Len(); got != payers*payees {
						b.Fatalf("relayer nets %d pairs, want %d", got, payers*payees)
					}
					r.Close()
				}
				b.ReportMetric(float64(count)/elapsed.Seconds(), "charges/s")
				eng.Close()
			}
		})
	}
}

// unreachable is a node that never answers: the throughput benchmark's
// relayer never gets to send anything.
type unreachable struct{ Backend }

// BenchmarkSettleOnLocalChain: charges (-settle-charges, default
// 1,000,000) between payers × payees pairs (default 1,000 × 10 = 10,000)
// settle on the embedded chain (go-ethereum's dev mode, in process): it
// reports the transactions (batches), gas per batch and per entry, and
// the lag from the last charge's commit to the last batch CONFIRMED.
func BenchmarkSettleOnLocalChain(b *testing.B) {
	ctx := context.Background()
	count, payers, payees := *benchCharges, *benchPayers, *benchPayees
	for range b.N {
		dir := b.TempDir()
		local, err := chain.OpenLocal(ctx, chain.LocalConfig{Dir: dir + "/chain", Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		client := local.Chain.Client()
		// Every payer's pool balance: deposited for it by the test wallet.
		const funds = 1 << 40
		usdcABI, poolABI := contracts.NewTestUSDC(), contracts.NewSettlementPool()
		opts := bind.NewKeyedTransactor(local.TestWallet, local.Chain.ChainID())
		perPayer := big.NewInt(int64(count/payers+1) * 1_000)
		total := new(big.Int).Mul(perPayer, big.NewInt(int64(payers)))
		usdc, pool := usdcABI.Instance(client, local.USDC), poolABI.Instance(client, local.Pool)
		var txs []*types.Transaction
		send := func(contract *bind.BoundContract, data []byte) {
			tx, err := bind.Transact(contract, opts, data)
			if err != nil {
				b.Fatal(err)
			}
			txs = append(txs, tx)
		}
		send(usdc, usdcABI.PackApprove(local.Pool, total))
		if _, err := bind.WaitMined(ctx, client, txs[0].Hash()); err != nil {
			b.Fatal(err)
		}
		for i := range payers {
			wallet, _ := walletOf(payerID(i))
			send(pool, poolABI.PackDepositFor(wallet, perPayer))
		}
		for _, tx := range txs {
			if receipt, err := bind.WaitMined(ctx, client, tx.Hash()); err != nil || receipt.Status != 1 {
				b.Fatalf("deposit: %+v %v", receipt, err)
			}
		}
		eng, err := engine.Open(engine.Options{Dir: dir + "/data", FeeBps: testFeeBps, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		openAccounts(b, eng, payers, payees, funds)
		r, err := Open(Config{Engine: eng, Backend: client, ChainID: local.Chain.ChainID(), Pool: local.Pool, Key: local.Relayer,
			Ledger: testLedger, Wallets: walletOf, Window: time.Hour, PollInterval: 50 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		last := chargeLoad(b, eng, "c", count, payers, payees)
		charged := time.Since(start)
		r.waitFolded(nil, last)
		committed := time.Now()
		r.Hurry() // the window ends now
		for r.Stats().Confirmed < uint64((payers*payees+contracts.SettleBatchEntriesMax-1)/contracts.SettleBatchEntriesMax) {
			if s := r.Stats(); s.Failure != "" || s.Failed > 0 || time.Since(committed) > 10*time.Minute {
				b.Fatalf("relayer: %+v", s)
			}
			time.Sleep(10 * time.Millisecond) // polling the relayer's progress
		}
		lag := time.Since(committed)
		s := r.Stats()
		b.ReportMetric(float64(count)/charged.Seconds(), "charges/s")
		b.ReportMetric(float64(s.Confirmed), "transactions")
		b.ReportMetric(float64(s.Entries), "entries")
		b.ReportMetric(float64(s.GasUsed)/float64(s.Confirmed), "gas/batch")
		b.ReportMetric(float64(s.GasUsed)/float64(s.Entries), "gas/entry")
		b.ReportMetric(lag.Seconds(), "s-lag")
		r.Close()
		eng.Close()
		local.Close()
	}
}

// BenchmarkSettleLag: one charge at a time, each settled on the embedded
// chain as soon as it commits (the window cut short, as a withdrawal
// request does): the relayer's own lag from commit to CONFIRMED (a cut,
// the payee's payout, the signed transaction recorded and sent, its
// receipt), with its 10 ms round interval; a batch window adds to it.
func BenchmarkSettleLag(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	local, err := chain.OpenLocal(ctx, chain.LocalConfig{Dir: dir + "/chain", Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	client := local.Chain.Client()
	usdcABI, poolABI := contracts.NewTestUSDC(), contracts.NewSettlementPool()
	opts := bind.NewKeyedTransactor(local.TestWallet, local.Chain.ChainID())
	wallet, _ := walletOf(payerID(0))
	for _, call := range []struct {
		contract *bind.BoundContract
		data     []byte
	}{
		{usdcABI.Instance(client, local.USDC), usdcABI.PackApprove(local.Pool, big.NewInt(1e12))},
		{poolABI.Instance(client, local.Pool), poolABI.PackDepositFor(wallet, big.NewInt(1e12))},
	} {
		tx, err := bind.Transact(call.contract, opts, call.data)
		if err != nil {
			b.Fatal(err)
		}
		if receipt, err := bind.WaitMined(ctx, client, tx.Hash()); err != nil || receipt.Status != 1 {
			b.Fatalf("deposit: %+v %v", receipt, err)
		}
	}
	eng, err := engine.Open(engine.Options{Dir: dir + "/data", FeeBps: testFeeBps, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	openAccounts(b, eng, 1, 1, 1e12)
	r, err := Open(Config{Engine: eng, Backend: client, ChainID: local.Chain.ChainID(), Pool: local.Pool, Key: local.Relayer,
		Ledger: testLedger, Wallets: walletOf, Window: time.Hour, PollInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		tr, err := eng.Charge(ctx, engine.Charge{ID: engine.TransferID(fmt.Sprintf("lag-%d", i)), From: payerID(0), To: payeeID(0),
			Amount: engine.NewAmount(1_000)})
		if err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		r.waitFolded(b, tr.Position)
		r.Hurry()
		for r.Stats().Confirmed < uint64(i+1) {
			if s := r.Stats(); s.Failure != "" || s.Failed > 0 || time.Since(committed) > time.Minute {
				b.Fatalf("relayer: %+v", s)
			}
			time.Sleep(time.Millisecond) // polling the relayer's progress
		}
		total += time.Since(committed)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-lag")
}
