package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/tollway/tollway/engine"
)

// EmbeddedConfig describes the accounts of an in-process engine and the
// charges they are funded for.
type EmbeddedConfig struct {
	Consumers int // paying accounts
	Suppliers int // paid accounts; 1 makes every charge credit one hot supplier
	Charges   int // charges of 1000 base units the consumers are funded for, together
	BatchSize int // charges per ChargeBatch call; 0 or 1 means single Charge calls
	FeeBps    uint32
}

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
