package contracts

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// poolEvents decodes every pool event of a receipt by name, in log order.
func (w *world) poolEvents(receipt *types.Receipt, name string) []*types.Log {
	var logs []*types.Log
	id := w.poolABI.Events[name].ID
	for _, log := range receipt.Logs {
		if log.Address == w.pool.Address() && len(log.Topics) > 0 && log.Topics[0] == id {
			logs = append(logs, log)
		}
	}
	return logs
}

func TestDepositCreditsThePayerAndDepositForTheAccount(t *testing.T) {
	w := newWorld(t)
	receipt := w.fund(w.alice, 1_000_000)
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 1_000_000)
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 0)
	logs := w.poolEvents(receipt, "Deposited")
	if len(logs) != 1 {
		t.Fatalf("deposit emitted %d Deposited events, want 1", len(logs))
	}
	deposited, err := w.poolBinding.UnpackDepositedEvent(logs[0])
	if err != nil {
		t.Fatalf("UnpackDepositedEvent: %v", err)
	}
	if deposited.Account != w.alice.address || deposited.Payer != w.alice.address || deposited.Amount.Int64() != 1_000_000 {
		t.Fatalf("Deposited = %+v, want alice, alice, 1000000", deposited)
	}

	// Bob pays into Alice's balance.
	w.mint(w.bob.address, 250_000)
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackApprove(w.pool.Address(), big.NewInt(250_000)))
	receipt = w.mustSend(w.bob, w.pool, w.poolBinding.PackDepositFor(w.alice.address, big.NewInt(250_000)))
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 1_250_000)
	w.requireBalance("bob's pool balance", w.poolBalance(w.bob.address), 0)
	w.requireBalance("bob's USDC", w.usdcBalance(w.bob.address), 0)
	logs = w.poolEvents(receipt, "Deposited")
	if len(logs) != 1 {
		t.Fatalf("depositFor emitted %d Deposited events, want 1", len(logs))
	}
	deposited, err = w.poolBinding.UnpackDepositedEvent(logs[0])
	if err != nil {
		t.Fatalf("UnpackDepositedEvent: %v", err)
	}
	if deposited.Account != w.alice.address || deposited.Payer != w.bob.address || deposited.Amount.Int64() != 250_000 {
		t.Fatalf("Deposited = %+v, want alice, bob, 250000", deposited)
	}
	w.requirePoolSolvent()

	// Without an allowance a deposit moves nothing.
	w.mint(w.bob.address, 10)
	w.mustRevert(w.bob, w.pool, w.usdcABI, w.poolBinding.PackDeposit(big.NewInt(10)), "ERC20InsufficientAllowance")
	w.mustRevert(w.bob, w.pool, w.poolABI, w.poolBinding.PackDeposit(big.NewInt(0)), "ZeroAmount")
	w.requireBalance("bob's pool balance", w.poolBalance(w.bob.address), 0)
}

func TestSettleBatchPaysPayeesAndFeesFromPoolBalances(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000_000)
	w.fund(w.bob, 500_000)
	id := batchID("batch-1")
	entries := []SettlementPoolEntry{
		entry(w.alice.address, w.supplier.address, 300_000, 3_000),
		entry(w.bob.address, w.supplier.address, 100_000, 1_000),
		entry(w.alice.address, w.bob.address, 50_000, 0),
	}
	receipt := w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(id, entries))

	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 650_000)
	w.requireBalance("bob's pool balance", w.poolBalance(w.bob.address), 400_000)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 297_000+99_000)
	w.requireBalance("bob's USDC", w.usdcBalance(w.bob.address), 50_000)
	w.requireBalance("fee recipient's USDC", w.usdcBalance(w.feeRecipient.address), 4_000)
	w.requirePoolSolvent()

	logs := w.poolEvents(receipt, "BatchSettled")
	if len(logs) != 1 {
		t.Fatalf("settleBatch emitted %d BatchSettled, want 1", len(logs))
	}
	settledEvent, err := w.poolBinding.UnpackBatchSettledEvent(logs[0])
	if err != nil {
		t.Fatalf("UnpackBatchSettledEvent: %v", err)
	}
	if settledEvent.BatchId != id || settledEvent.Entries.Int64() != 3 || settledEvent.Total.Int64() != 450_000 || settledEvent.Fees.Int64() != 4_000 {
		t.Fatalf("BatchSettled = %+v, want 3 entries, total 450000, fees 4000", settledEvent)
	}
	if got := len(w.poolEvents(receipt, "EntrySettled")); got != 3 {
		t.Fatalf("settleBatch emitted %d EntrySettled, want 3", got)
	}
	done, err := bind.Call(w.pool, nil, w.poolBinding.PackSettled(id), w.poolBinding.UnpackSettled)
	if err != nil || !done {
		t.Fatalf("settled(batch-1) = %v, %v; want true", done, err)
	}

	// The same batch id again is refused, and pays nothing.
	w.mustRevert(w.relayer, w.pool, w.poolABI, w.poolBinding.PackSettleBatch(id, entries), "BatchAlreadySettled")
	w.requireBalance("alice's pool balance after a replay", w.poolBalance(w.alice.address), 650_000)
	w.requireBalance("supplier's USDC after a replay", w.usdcBalance(w.supplier.address), 396_000)
}

func TestSettleBatchRefusesAllButTheRelayer(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000_000)
	data := w.poolBinding.PackSettleBatch(batchID("x"), []SettlementPoolEntry{entry(w.alice.address, w.supplier.address, 1, 0)})
	for _, p := range []party{w.alice, w.supplier, w.admin} {
		w.mustRevert(p, w.pool, w.poolABI, data, "AccessControlUnauthorizedAccount")
	}
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 1_000_000)

	// The admin can hand the role on; the old relayer then loses it.
	relayerRole, err := bind.Call(w.pool, nil, w.poolBinding.PackRELAYERROLE(), w.poolBinding.UnpackRELAYERROLE)
	if err != nil {
		t.Fatalf("RELAYER_ROLE: %v", err)
	}
	w.mustSend(w.admin, w.pool, w.poolBinding.PackGrantRole(relayerRole, w.bob.address))
	w.mustSend(w.admin, w.pool, w.poolBinding.PackRevokeRole(relayerRole, w.relayer.address))
	w.mustRevert(w.relayer, w.pool, w.poolABI, data, "AccessControlUnauthorizedAccount")
	w.mustSend(w.bob, w.pool, data)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 1)
}

func TestSettleBatchIsAllOrNothing(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000)
	w.fund(w.bob, 1_000)
	cases := []struct {
		name    string
		entries []SettlementPoolEntry
		revert  string
	}{
		{"payer short", []SettlementPoolEntry{
			entry(w.bob.address, w.supplier.address, 500, 0),
			entry(w.alice.address, w.supplier.address, 1_001, 0),
		}, "InsufficientPoolBalance"},
		{"payer short across entries", []SettlementPoolEntry{
			entry(w.alice.address, w.supplier.address, 600, 0),
			entry(w.alice.address, w.bob.address, 401, 0),
		}, "InsufficientPoolBalance"},
		{"fee above amount", []SettlementPoolEntry{
			entry(w.alice.address, w.supplier.address, 10, 11),
		}, "FeeAboveAmount"},
		{"zero payee", []SettlementPoolEntry{
			entry(w.alice.address, common.Address{}, 10, 0),
		}, "ZeroAddress"},
		{"empty", nil, "EmptyBatch"},
	}
	for _, c := range cases {
		id := batchID(c.name)
		w.mustRevert(w.relayer, w.pool, w.poolABI, w.poolBinding.PackSettleBatch(id, c.entries), c.revert)
		done, err := bind.Call(w.pool, nil, w.poolBinding.PackSettled(id), w.poolBinding.UnpackSettled)
		if err != nil || done {
			t.Fatalf("%s: settled = %v, %v after a refused batch; want false", c.name, done, err)
		}
	}
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 1_000)
	w.requireBalance("bob's pool balance", w.poolBalance(w.bob.address), 1_000)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 0)
	w.requireBalance("fee recipient's USDC", w.usdcBalance(w.feeRecipient.address), 0)
	w.requirePoolSolvent()
}

func (w *world) pending(account common.Address) PendingWithdrawalOutput {
	w.t.Helper()
	pending, err := bind.Call(w.pool, nil, w.poolBinding.PackPendingWithdrawal(account), w.poolBinding.UnpackPendingWithdrawal)
	if err != nil {
		w.t.Fatalf("pendingWithdrawal: %v", err)
	}
	return pending
}

func TestWithdrawalCompletesOnlyAfterTheDelay(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000_000)
	delay, err := bind.Call(w.pool, nil, w.poolBinding.PackWithdrawalDelay(), w.poolBinding.UnpackWithdrawalDelay)
	if err != nil || delay.Int64() != int64(testWithdrawalDelay/time.Second) {
		t.Fatalf("withdrawalDelay() = %v, %v; want %d", delay, err, int64(testWithdrawalDelay/time.Second))
	}
	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackFinalizeWithdrawal(), "NoPendingWithdrawal")
	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackRequestWithdrawal(big.NewInt(1_000_001)), "InsufficientPoolBalance")

	receipt := w.mustSend(w.alice, w.pool, w.poolBinding.PackRequestWithdrawal(big.NewInt(400_000)))
	requested, err := w.poolBinding.UnpackWithdrawalRequestedEvent(w.poolEvents(receipt, "WithdrawalRequested")[0])
	if err != nil {
		t.Fatalf("UnpackWithdrawalRequestedEvent: %v", err)
	}
	wantAvailable := w.blockTime() + uint64(testWithdrawalDelay/time.Second)
	if requested.Account != w.alice.address || requested.Amount.Int64() != 400_000 || requested.AvailableAt.Uint64() != wantAvailable {
		t.Fatalf("WithdrawalRequested = %+v, want alice, 400000, %d", requested, wantAvailable)
	}
	if p := w.pending(w.alice.address); p.Amount.Int64() != 400_000 || p.AvailableAt.Uint64() != wantAvailable {
		t.Fatalf("pendingWithdrawal = %+v, want 400000 at %d", p, wantAvailable)
	}

	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackFinalizeWithdrawal(), "WithdrawalNotYetAvailable")
	w.requireBalance("alice's pool balance before the delay", w.poolBalance(w.alice.address), 1_000_000)

	w.adjustTime(testWithdrawalDelay)
	receipt = w.mustSend(w.alice, w.pool, w.poolBinding.PackFinalizeWithdrawal())
	withdrawn, err := w.poolBinding.UnpackWithdrawnEvent(w.poolEvents(receipt, "Withdrawn")[0])
	if err != nil || withdrawn.Account != w.alice.address || withdrawn.Amount.Int64() != 400_000 {
		t.Fatalf("Withdrawn = %+v, %v; want alice, 400000", withdrawn, err)
	}
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 600_000)
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 400_000)
	if p := w.pending(w.alice.address); p.Amount.Sign() != 0 || p.AvailableAt.Sign() != 0 {
		t.Fatalf("pendingWithdrawal after finalize = %+v, want none", p)
	}
	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackFinalizeWithdrawal(), "NoPendingWithdrawal")
	w.requirePoolSolvent()
}

// What is settled during the delay is owed, not withdrawable: finalize
// pays min(requested, balance left).
func TestWithdrawalIsCappedAtTheBalanceLeftAfterSettlement(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000_000)
	w.mustSend(w.alice, w.pool, w.poolBinding.PackRequestWithdrawal(big.NewInt(1_000_000)))
	w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("during the delay"),
		[]SettlementPoolEntry{entry(w.alice.address, w.supplier.address, 300_000, 30_000)}))
	w.adjustTime(testWithdrawalDelay)
	receipt := w.mustSend(w.alice, w.pool, w.poolBinding.PackFinalizeWithdrawal())
	withdrawn, err := w.poolBinding.UnpackWithdrawnEvent(w.poolEvents(receipt, "Withdrawn")[0])
	if err != nil || withdrawn.Amount.Int64() != 700_000 {
		t.Fatalf("Withdrawn = %+v, %v; want 700000", withdrawn, err)
	}
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 700_000)
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 0)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 270_000)
	w.requireBalance("fee recipient's USDC", w.usdcBalance(w.feeRecipient.address), 30_000)
	w.requirePoolSolvent()
}

func TestPauseStopsDepositsAndSettlementButNotWithdrawals(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000_000)
	w.mint(w.bob.address, 100)
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackApprove(w.pool.Address(), big.NewInt(100)))

	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackPause(), "AccessControlUnauthorizedAccount")
	w.mustSend(w.admin, w.pool, w.poolBinding.PackPause())

	w.mustRevert(w.bob, w.pool, w.poolABI, w.poolBinding.PackDeposit(big.NewInt(100)), "EnforcedPause")
	w.mustRevert(w.bob, w.pool, w.poolABI, w.poolBinding.PackDepositFor(w.alice.address, big.NewInt(100)), "EnforcedPause")
	settle := w.poolBinding.PackSettleBatch(batchID("paused"),
		[]SettlementPoolEntry{entry(w.alice.address, w.supplier.address, 100, 1)})
	w.mustRevert(w.relayer, w.pool, w.poolABI, settle, "EnforcedPause")

	// Withdrawals work throughout.
	w.mustSend(w.alice, w.pool, w.poolBinding.PackRequestWithdrawal(big.NewInt(250_000)))
	w.adjustTime(testWithdrawalDelay)
	w.mustSend(w.alice, w.pool, w.poolBinding.PackFinalizeWithdrawal())
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 250_000)
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 750_000)

	w.mustSend(w.admin, w.pool, w.poolBinding.PackUnpause())
	w.mustSend(w.bob, w.pool, w.poolBinding.PackDeposit(big.NewInt(100)))
	w.mustSend(w.relayer, w.pool, settle)
	w.requireBalance("bob's pool balance", w.poolBalance(w.bob.address), 100)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 99)
	w.requirePoolSolvent()
}

func TestFeeRecipientIsSetByTheAdminOnly(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000)
	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackSetFeeRecipient(w.alice.address), "AccessControlUnauthorizedAccount")
	receipt := w.mustSend(w.admin, w.pool, w.poolBinding.PackSetFeeRecipient(w.bob.address))
	changed, err := w.poolBinding.UnpackFeeRecipientChangedEvent(w.poolEvents(receipt, "FeeRecipientChanged")[0])
	if err != nil || changed.PreviousRecipient != w.feeRecipient.address || changed.NewRecipient != w.bob.address {
		t.Fatalf("FeeRecipientChanged = %+v, %v", changed, err)
	}
	w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("fees to bob"),
		[]SettlementPoolEntry{entry(w.alice.address, w.supplier.address, 100, 7)}))
	w.requireBalance("bob's USDC", w.usdcBalance(w.bob.address), 7)
	w.requireBalance("old fee recipient's USDC", w.usdcBalance(w.feeRecipient.address), 0)
}

func TestConstructorRefusesZeroAddressesAndBadDelays(t *testing.T) {
	w := newWorld(t)
	usdc, fees, relayer, admin := w.usdc.Address(), w.feeRecipient.address, w.relayer.address, w.admin.address
	cases := []struct {
		name      string
		args      []byte
		errorName string
	}{
		{"zero delay", w.poolBinding.PackConstructor(usdc, fees, relayer, admin, big.NewInt(0)), "WithdrawalDelayOutOfRange"},
		{"delay above 30 days", w.poolBinding.PackConstructor(usdc, fees, relayer, admin, big.NewInt(30*24*3600+1)), "WithdrawalDelayOutOfRange"},
		{"zero token", w.poolBinding.PackConstructor(common.Address{}, fees, relayer, admin, big.NewInt(60)), "ZeroAddress"},
		{"zero fee recipient", w.poolBinding.PackConstructor(usdc, common.Address{}, relayer, admin, big.NewInt(60)), "ZeroAddress"},
		{"zero relayer", w.poolBinding.PackConstructor(usdc, fees, common.Address{}, admin, big.NewInt(60)), "ZeroAddress"},
		{"zero admin", w.poolBinding.PackConstructor(usdc, fees, relayer, common.Address{}, big.NewInt(60)), "ZeroAddress"},
	}
	for _, c := range cases {
		_, _, err := bind.DeployContract(w.admin.opts, common.FromHex(SettlementPoolMetaData.Bin), w.client, c.args)
		want := w.poolABI.Errors[c.errorName].ID
		if got := revertSelector(err); got != common.Bytes2Hex(want[:4]) {
			t.Fatalf("deploy with %s: %v (selector %q), want %s", c.name, err, got, c.errorName)
		}
	}
}

// A new request replaces the pending one and restarts the delay, so the
// relayer always has the whole delay to settle what came before it.
func TestWithdrawalRequestReplacesAndRestartsTheDelay(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 1_000_000)
	w.mustSend(w.alice, w.pool, w.poolBinding.PackRequestWithdrawal(big.NewInt(100_000)))
	first := w.pending(w.alice.address)
	w.adjustTime(testWithdrawalDelay / 2)
	w.mustSend(w.alice, w.pool, w.poolBinding.PackRequestWithdrawal(big.NewInt(200_000)))
	second := w.pending(w.alice.address)
	if second.Amount.Int64() != 200_000 || second.AvailableAt.Cmp(first.AvailableAt) <= 0 {
		t.Fatalf("pendingWithdrawal after a second request = %+v, want 200000 later than %v", second, first.AvailableAt)
	}
	// Past the first request's time, not the second's.
	w.adjustTime(testWithdrawalDelay/2 + time.Second)
	w.mustRevert(w.alice, w.pool, w.poolABI, w.poolBinding.PackFinalizeWithdrawal(), "WithdrawalNotYetAvailable")
	w.adjustTime(testWithdrawalDelay / 2)
	w.mustSend(w.alice, w.pool, w.poolBinding.PackFinalizeWithdrawal())
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 200_000)
	w.requireBalance("alice's pool balance", w.poolBalance(w.alice.address), 800_000)
}

// When settlements during the delay took everything, finalize pays zero
// and clears the request rather than leaving it stuck.
func TestWithdrawalOfAFullySettledBalancePaysNothing(t *testing.T) {
	w := newWorld(t)
	w.fund(w.alice, 500)
	w.mustSend(w.alice, w.pool, w.poolBinding.PackRequestWithdrawal(big.NewInt(500)))
	receipt := w.mustSend(w.relayer, w.pool, w.poolBinding.PackSettleBatch(batchID("all of it"),
		[]SettlementPoolEntry{entry(w.alice.address, w.supplier.address, 500, 5)}))
	settledEntry, err := w.poolBinding.UnpackEntrySettledEvent(w.poolEvents(receipt, "EntrySettled")[0])
	if err != nil || settledEntry.BatchId != batchID("all of it") || settledEntry.From != w.alice.address ||
		settledEntry.To != w.supplier.address || settledEntry.Amount.Int64() != 500 || settledEntry.Fee.Int64() != 5 {
		t.Fatalf("EntrySettled = %+v, %v", settledEntry, err)
	}
	w.adjustTime(testWithdrawalDelay)
	receipt = w.mustSend(w.alice, w.pool, w.poolBinding.PackFinalizeWithdrawal())
	withdrawn, err := w.poolBinding.UnpackWithdrawnEvent(w.poolEvents(receipt, "Withdrawn")[0])
	if err != nil || withdrawn.Amount.Sign() != 0 {
		t.Fatalf("Withdrawn = %+v, %v; want 0", withdrawn, err)
	}
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 0)
	if p := w.pending(w.alice.address); p.AvailableAt.Sign() != 0 {
		t.Fatalf("pendingWithdrawal after finalize = %+v, want none", p)
	}
	w.requirePoolSolvent()
}
