package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/tollway/tollway/engine"
)

// exampleDir returns a fresh data directory for an example.
func exampleDir() string {
	dir, err := os.MkdirTemp("", "tollway-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// quiet keeps the examples' output to what they print.
var quiet = slog.New(slog.DiscardHandler)

// Open an engine, fund a consumer, charge it per call, and read balances.
func Example() {
	ctx := context.Background()
	dir := exampleDir()
	defer os.RemoveAll(dir)

	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: 100, Logger: quiet}) // 1% platform fee
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	for _, a := range []engine.Account{
		{ID: "alice", Ledger: "test:USDC"},
		{ID: "weather-api", Ledger: "test:USDC", Kind: engine.KindSupplier},
	} {
		if err := eng.CreateAccount(ctx, a); err != nil {
			log.Fatal(err)
		}
	}
	// 1 USDC = 1,000,000 base units.
	if _, err := eng.Credit(ctx, "deposit-1", "alice", engine.NewAmount(1_000_000)); err != nil {
		log.Fatal(err)
	}
	// One metered call: durable (fsynced) when Charge returns.
	res, err := eng.Charge(ctx, engine.Charge{ID: "call-1", From: "alice", To: "weather-api", Amount: engine.NewAmount(1500)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("charged", res.Amount, "fee", res.Fee, "supplier got", res.ToAmount)

	// Retrying the same client id is safe: it returns the original result.
	again, _ := eng.Charge(ctx, engine.Charge{ID: "call-1", From: "alice", To: "weather-api", Amount: engine.NewAmount(1500)})
	fmt.Println("replayed:", again.Replayed)

	_, err = eng.Charge(ctx, engine.Charge{ID: "call-2", From: "alice", To: "weather-api", Amount: engine.NewAmount(5_000_000)})
	fmt.Println("too much:", errors.Is(err, engine.ErrInsufficientFunds))

	bal, _ := eng.Balance(ctx, "alice")
	fmt.Println("alice available", bal.Available)
	// Output:
	// charged 1500 fee 15 supplier got 1485
	// replayed: true
	// too much: true
	// alice available 998500
}

// Reserve funds with a hold, then capture part of it; the rest is released.
func ExampleEngine_Hold() {
	ctx := context.Background()
	dir := exampleDir()
	defer os.RemoveAll(dir)
	eng, err := engine.Open(engine.Options{Dir: dir, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	eng.CreateAccounts(ctx, []engine.Account{{ID: "alice", Ledger: "test:USDC"}, {ID: "bob", Ledger: "test:USDC"}})
	eng.Credit(ctx, "dep-1", "alice", engine.NewAmount(10_000))

	h, err := eng.Hold(ctx, engine.Hold{ID: "h-1", From: "alice", To: "bob", Amount: engine.NewAmount(9000), Timeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	bal, _ := eng.Balance(ctx, "alice")
	fmt.Println(h.State, "available", bal.Available, "reserved", bal.Reserved)

	captured, err := eng.Capture(ctx, "h-1", engine.NewAmount(4000))
	if err != nil {
		log.Fatal(err)
	}
	bal, _ = eng.Balance(ctx, "alice")
	fmt.Println(captured.State, captured.Captured, "available", bal.Available, "reserved", bal.Reserved)
	// Output:
	// open available 1000 reserved 9000
	// captured 4000 available 6000 reserved 0
}

// Charge many calls at once: one actor message per payer, shared commits.
func ExampleEngine_ChargeBatch() {
	ctx := context.Background()
	dir := exampleDir()
	defer os.RemoveAll(dir)
	eng, err := engine.Open(engine.Options{Dir: dir, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	eng.CreateAccounts(ctx, []engine.Account{{ID: "agent", Ledger: "test:USDC"}, {ID: "llm", Ledger: "test:USDC"}})
	eng.Credit(ctx, "dep-1", "agent", engine.NewAmount(250))

	results := eng.ChargeBatch(ctx, []engine.Charge{
		{ID: "t-1", From: "agent", To: "llm", Amount: engine.NewAmount(100)},
		{ID: "t-2", From: "agent", To: "llm", Amount: engine.NewAmount(100)},
		{ID: "t-3", From: "agent", To: "llm", Amount: engine.NewAmount(100)},
	})
	for _, r := range results {
		fmt.Println(r.Transfer.ID, r.Err)
	}
	// Output:
	// t-1 <nil>
	// t-2 <nil>
	//  insufficient funds
}

// Follow every committed event, for example to feed a settlement relayer.
func ExampleEngine_Subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := exampleDir()
	defer os.RemoveAll(dir)
	eng, err := engine.Open(engine.Options{Dir: dir, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	eng.CreateAccounts(ctx, []engine.Account{{ID: "alice", Ledger: "test:USDC"}, {ID: "bob", Ledger: "test:USDC"}})
	eng.Credit(ctx, "dep-1", "alice", engine.NewAmount(100))
	eng.Charge(ctx, engine.Charge{ID: "c-1", From: "alice", To: "bob", Amount: engine.NewAmount(40)})

	sub, err := eng.Subscribe(ctx, 5) // positions 1-4 opened the accounts
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		ev := <-sub.C
		fmt.Println(ev.Position, ev.Type, ev.ID, ev.From, "->", ev.To, ev.Amount)
	}
	// Output:
	// 5 credited dep-1 $chain:test:USDC -> alice 100
	// 6 charged c-1 alice -> bob 40
}
