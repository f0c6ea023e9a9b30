package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain"
	"github.com/tollway/tollway/chain/facilitator"
	"github.com/tollway/tollway/chain/relay"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/httpapi"
)

// The bounds of --batch-window. Its upper bound leaves the relayer a
// settlement deadline (the window, then a few blocks) far inside any
// withdrawal delay the pool may have (checked against the pool's own).
const (
	batchWindowMin = 100 * time.Millisecond
	batchWindowMax = time.Hour
)

// The bounds of --x402-batch-window: a batch cut faster than blocks come
// saves little; one held longer than a minute keeps a resource server's
// payment unsettled for no gain.
const (
	x402BatchWindowMin = 50 * time.Millisecond
	x402BatchWindowMax = time.Minute
)

// afterStage is the crash-test hook of the relayer and the x402
// facilitator (their Config.AfterStage): nil but in the tests, which kill
// the server at a stage.
var afterStage func(stage string)

// startRelayer starts the settlement relayer on the chain in use, settling
// the test environment's ledger (the one its deposits credit).
func startRelayer(eng *engine.Engine, s chain.Settlement, server *httpapi.Server, window time.Duration, logger *slog.Logger) (*relay.Relayer, error) {
	if 2*window >= s.WithdrawalDelay {
		return nil, fmt.Errorf("--batch-window %v: the pool's withdrawal delay (%v) must exceed twice the window", window, s.WithdrawalDelay)
	}
	r, err := relay.Open(relay.Config{
		Engine: eng, Backend: s.Client, ChainID: s.ChainID, Pool: s.Pool, Key: s.Relayer,
		Ledger: engine.LedgerID(access.EnvironmentTest.Ledger()), Wallets: server.AccountWallet,
		Confirmations: s.Confirmations, Window: window, Logger: logger, AfterStage: afterStage,
	})
	if err != nil {
		return nil, fmt.Errorf("relayer: %w", err)
	}
	return r, nil
}

// settlementWebhooks delivers the relayer's settlements reaching their
// end as webhook events (settlement.confirmed, settlement.failed): one per
// account the batch settles, with that account's part, to its owner. The
// relayer and the webhooks know nothing of each other; this is where the
// rows of one become the events of the other.
func settlementWebhooks() webhooks.Rows {
	return webhooks.Rows{
		Prefixes: [][]byte{[]byte(relay.SettlementPrefix)},
		Map: func(key, value []byte) ([]webhooks.RowEvent, error) {
			n, ok, err := relay.SettlementEvent(key, value)
			if err != nil || !ok {
				return nil, err
			}
			kind := webhooks.EventSettlementConfirmed
			if n.State == relay.Failed {
				kind = webhooks.EventSettlementFailed
			}
			var txHash *string
			if n.TxHash != (common.Hash{}) {
				hash := n.TxHash.Hex()
				txHash = &hash
			}
			var block *uint64
			if n.BlockNumber != 0 {
				block = &n.BlockNumber
			}
			events := make([]webhooks.RowEvent, len(n.Parts))
			for i, part := range n.Parts {
				events[i] = webhooks.RowEvent{Type: kind, Account: part.Account, Key: n.EventKey(part.Account), Time: n.At,
					Data: webhooks.SettlementData{
						ID: n.ID, State: string(n.State), BatchID: n.BatchID.Hex(), TxHash: txHash, BlockNumber: block,
						AccountID: string(part.Account), Entries: part.Entries, Amount: part.Amount.String(), Fee: part.Fee.String(),
						Paid: part.Paid.String(), Received: part.Received.String(), Error: n.Error,
					}}
			}
			return events, nil
		},
	}
}

// openFacilitator serves x402 on the chain in use: the exact scheme, as
// network eip155:<chain id> (and, on the embedded chain, the v1 name
// "tollway-local"), settling with the chain's x402 signer when it has one,
// per payment or in batches through the chain's x402 batcher. Close it
// before the engine.
func openFacilitator(ctx context.Context, eng *engine.Engine, s chain.Settlement, embedded bool, mode facilitator.SettleMode,
	window time.Duration) (*facilitator.Facilitator, error) {
	if mode == facilitator.SettleBatch && s.X402Batcher == (common.Address{}) {
		return nil, errors.New("--x402-settle=batch needs the x402 batcher: --x402-batcher-address (tollway chain deploy makes one)")
	}
	reader := s.Reader
	if reader == nil {
		reader = s.Client
	}
	network := x402.Network{ID: "eip155:" + s.ChainID.String(), ChainID: s.ChainID, Chain: reader}
	if embedded {
		network.V1Name = "tollway-local"
	}
	networks := []x402.Network{network}
	verifier, err := x402.NewVerifier(x402.Config{Networks: networks})
	if err != nil {
		return nil, fmt.Errorf("x402: %w", err)
	}
	config := facilitator.Config{Engine: eng, Verifier: verifier, Networks: networks, AfterStage: afterStage,
		Mode: mode, Batcher: s.X402Batcher, BatchWindow: window}
	if s.X402Signer != nil {
		config.Signer = &facilitator.Signer{Key: s.X402Signer, Backend: s.Client, ChainID: s.ChainID}
	}
	f, err := facilitator.Open(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("x402: %w", err)
	}
	return f, nil
}
