package usage

import (
	"testing"

	"github.com/tollway/tollway/engine"
)

// TestMoneyLeavingOnChainIsNoUsage: payouts and withdrawals move money
// out to the chain account (a reservation only reserves it); none of them
// is a call paid for, so usage ignores them, whatever their amounts.
func TestMoneyLeavingOnChainIsNoUsage(t *testing.T) {
	for _, typ := range []engine.EventType{engine.EventPaidOut, engine.EventWithdrawalReserved, engine.EventWithdrawn} {
		ev := engine.Event{Type: typ, ID: "w", Ledger: "test:USDC", From: "alice", To: engine.ChainAccount("test:USDC"),
			Amount: engine.NewAmount(650), Requested: engine.NewAmount(700), Released: engine.NewAmount(700), ReleasedID: "wdr"}
		if payer, payee, amount, fee, ok := usageOf(ev); ok {
			t.Errorf("usageOf(%v) = %s, %s, %s, %s, true; want no usage", typ, payer, payee, amount, fee)
		}
	}
}
