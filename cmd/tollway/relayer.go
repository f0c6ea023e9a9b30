package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/tollway/tollway/chain"
	"github.com/tollway/tollway/chain/relay"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

// The bounds of --batch-window. Its upper bound leaves the relayer a
// settlement deadline (the window, then a few blocks) far inside any
// withdrawal delay the pool may have (checked against the pool's own).
const (
	batchWindowMin = 100 * time.Millisecond
	batchWindowMax = time.Hour
)

// relayAfterStage is the relayer's crash-test hook (relay.Config.AfterStage):
// nil but in the tests, which kill the server at a stage.
var relayAfterStage func(stage string)

// startRelayer starts the settlement relayer on the local chain, settling
// the test environment's ledger (the one its deposits credit).
func startRelayer(eng *engine.Engine, local *chain.Local, server *httpapi.Server, window time.Duration, logger *slog.Logger) (*relay.Relayer, error) {
	if 2*window >= chain.LocalWithdrawalDelay {
		return nil, fmt.Errorf("--batch-window %v: the pool's withdrawal delay (%v) must exceed twice the window", window, chain.LocalWithdrawalDelay)
	}
	r, err := relay.Open(relay.Config{
		Engine: eng, Backend: local.Chain.Client(), ChainID: local.Chain.ChainID(), Pool: local.Pool, Key: local.Relayer,
		Ledger: engine.LedgerID(access.EnvironmentTest.Ledger()), Wallets: server.AccountWallet,
		Confirmations: chain.LocalConfirmations, Window: window, Logger: logger, AfterStage: relayAfterStage,
	})
	if err != nil {
		return nil, fmt.Errorf("relayer: %w", err)
	}
	return r, nil
}
