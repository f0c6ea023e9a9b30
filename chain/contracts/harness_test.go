package contracts

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/rpc"
)

// testWithdrawalDelay is the pool's delay in these tests: long against the
// simulated chain's one second per block, so "before the delay" is certain.
const testWithdrawalDelay = time.Hour

// chainID is the simulated backend's, fixed by go-ethereum.
var chainID = big.NewInt(1337)

// party is a funded externally owned account.
type party struct {
	key     *ecdsa.PrivateKey
	address common.Address
	opts    *bind.TransactOpts
}

func newParty(t *testing.T) party {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return party{key: key, address: crypto.PubkeyToAddress(key.PublicKey), opts: bind.NewKeyedTransactor(key, chainID)}
}

// world is a simulated chain with both contracts deployed: admin owns the
// token (the faucet) and administers the pool, relayer holds RELAYER_ROLE,
// fees go to feeRecipient.
type world struct {
	t            *testing.T
	sim          *simulated.Backend
	client       simulated.Client
	admin        party
	relayer      party
	feeRecipient party
	alice        party // a consumer
	bob          party // another consumer
	supplier     party // a payee

	usdcBinding *TestUSDC
	poolBinding *SettlementPool
	usdc        *bind.BoundContract
	pool        *bind.BoundContract
	usdcABI     *abi.ABI
	poolABI     *abi.ABI
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t}
	w.admin, w.relayer, w.feeRecipient = newParty(t), newParty(t), newParty(t)
	w.alice, w.bob, w.supplier = newParty(t), newParty(t), newParty(t)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil) // 1,000 ETH
	alloc := types.GenesisAlloc{}
	for _, p := range []party{w.admin, w.relayer, w.feeRecipient, w.alice, w.bob, w.supplier} {
		alloc[p.address] = types.Account{Balance: ether}
	}
	w.sim = simulated.NewBackend(alloc)
	t.Cleanup(func() { w.sim.Close() })
	w.client = w.sim.Client()

	w.usdcBinding, w.poolBinding = NewTestUSDC(), NewSettlementPool()
	var err error
	if w.usdcABI, err = TestUSDCMetaData.ParseABI(); err != nil {
		t.Fatalf("TestUSDC ABI: %v", err)
	}
	if w.poolABI, err = SettlementPoolMetaData.ParseABI(); err != nil {
		t.Fatalf("SettlementPool ABI: %v", err)
	}
	usdcAddress := w.deploy(TestUSDCMetaData.Bin, w.usdcBinding.PackConstructor(w.admin.address))
	poolAddress := w.deploy(SettlementPoolMetaData.Bin, w.poolBinding.PackConstructor(
		usdcAddress, w.feeRecipient.address, w.relayer.address, w.admin.address,
		big.NewInt(int64(testWithdrawalDelay/time.Second))))
	w.usdc = w.usdcBinding.Instance(w.client, usdcAddress)
	w.pool = w.poolBinding.Instance(w.client, poolAddress)
	return w
}

// adjustTime moves the simulated chain's clock forward by d. The simulated
// backend refuses while its pending block holds a transaction, which a
// transaction just mined can still be for a moment (its pool reorganizes
// asynchronously): then it seals that block and tries again.
func (w *world) adjustTime(d time.Duration) {
	w.t.Helper()
	var err error
	for range 10 {
		if err = w.sim.AdjustTime(d); err == nil {
			return
		}
		w.sim.Commit()
	}
	w.t.Fatalf("AdjustTime(%v): %v", d, err)
}

func (w *world) deploy(bin string, constructorInput []byte) common.Address {
	w.t.Helper()
	address, tx, err := bind.DeployContract(w.admin.opts, common.FromHex(bin), w.client, constructorInput)
	if err != nil {
		w.t.Fatalf("deploy: %v", err)
	}
	w.sim.Commit()
	w.mustSucceed(tx)
	return address
}

// send submits a transaction and mines it, returning the receipt whatever
// its status; err is the submission's (a revert found by gas estimation).
func (w *world) send(from party, contract *bind.BoundContract, data []byte) (*types.Receipt, error) {
	w.t.Helper()
	tx, err := bind.Transact(contract, from.opts, data)
	if err != nil {
		return nil, err
	}
	w.sim.Commit()
	return w.receipt(tx), nil
}

func (w *world) receipt(tx *types.Transaction) *types.Receipt {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receipt, err := bind.WaitMined(ctx, w.client, tx.Hash())
	if err != nil {
		w.t.Fatalf("WaitMined(%s): %v", tx.Hash(), err)
	}
	return receipt
}

func (w *world) mustSucceed(tx *types.Transaction) *types.Receipt {
	w.t.Helper()
	receipt := w.receipt(tx)
	if receipt.Status != types.ReceiptStatusSuccessful {
		w.t.Fatalf("transaction %s failed", tx.Hash())
	}
	return receipt
}

// mustSend sends and requires success.
func (w *world) mustSend(from party, contract *bind.BoundContract, data []byte) *types.Receipt {
	w.t.Helper()
	receipt, err := w.send(from, contract, data)
	if err != nil {
		w.t.Fatalf("transaction from %s: %v", from.address, err)
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		w.t.Fatalf("transaction %s from %s reverted", receipt.TxHash, from.address)
	}
	return receipt
}

// mustRevert requires that `from` calling `contract` with `data` reverts
// with the custom error `errorName` of contractABI: the call is simulated
// (eth_call) for its revert data, then sent with a fixed gas limit, which
// must be mined as failed.
func (w *world) mustRevert(from party, contract *bind.BoundContract, contractABI *abi.ABI, data []byte, errorName string) {
	w.t.Helper()
	_, err := contract.CallRaw(&bind.CallOpts{From: from.address}, data)
	if err == nil {
		w.t.Fatalf("call from %s succeeded, want revert %s", from.address, errorName)
	}
	selector := revertSelector(err)
	want, ok := contractABI.Errors[errorName]
	if !ok {
		w.t.Fatalf("no error %s in the ABI", errorName)
	}
	if selector != hex.EncodeToString(want.ID[:4]) {
		w.t.Fatalf("call from %s reverted with %v (selector %q), want %s", from.address, err, selector, errorName)
	}
	opts := *from.opts
	opts.GasLimit = 1_000_000 // skip estimation, which would refuse to send
	tx, err := bind.Transact(contract, &opts, data)
	if err != nil {
		w.t.Fatalf("send from %s: %v", from.address, err)
	}
	w.sim.Commit()
	if receipt := w.receipt(tx); receipt.Status != types.ReceiptStatusFailed {
		w.t.Fatalf("transaction %s succeeded on chain, want revert %s", tx.Hash(), errorName)
	}
}

// revertSelector is the hex 4-byte selector of the revert data carried by
// an eth_call error, or "" when there is none.
func revertSelector(err error) string {
	var dataErr rpc.DataError
	if !errors.As(err, &dataErr) {
		return ""
	}
	data, ok := dataErr.ErrorData().(string)
	if !ok {
		return ""
	}
	data = strings.TrimPrefix(data, "0x")
	if len(data) < 8 {
		return ""
	}
	return data[:8]
}

func (w *world) usdcBalance(account common.Address) *big.Int {
	w.t.Helper()
	balance, err := bind.Call(w.usdc, nil, w.usdcBinding.PackBalanceOf(account), w.usdcBinding.UnpackBalanceOf)
	if err != nil {
		w.t.Fatalf("USDC balanceOf(%s): %v", account, err)
	}
	return balance
}

func (w *world) poolBalance(account common.Address) *big.Int {
	w.t.Helper()
	balance, err := bind.Call(w.pool, nil, w.poolBinding.PackBalanceOf(account), w.poolBinding.UnpackBalanceOf)
	if err != nil {
		w.t.Fatalf("pool balanceOf(%s): %v", account, err)
	}
	return balance
}

// requireBalances checks a USDC or pool balance exactly.
func (w *world) requireBalance(what string, got *big.Int, want int64) {
	w.t.Helper()
	if got.Cmp(big.NewInt(want)) != 0 {
		w.t.Fatalf("%s = %v, want %d", what, got, want)
	}
}

// requirePoolSolvent checks the pool's invariant: it holds exactly the sum
// of its balances (nobody sends it USDC except through deposit here).
func (w *world) requirePoolSolvent() {
	w.t.Helper()
	total, err := bind.Call(w.pool, nil, w.poolBinding.PackTotalBalances(), w.poolBinding.UnpackTotalBalances)
	if err != nil {
		w.t.Fatalf("totalBalances: %v", err)
	}
	held := w.usdcBalance(w.pool.Address())
	if total.Cmp(held) != 0 {
		w.t.Fatalf("pool holds %v USDC, its balances sum to %v", held, total)
	}
}

// mint gives `to` test USDC from the faucet (the token's owner).
func (w *world) mint(to common.Address, amount int64) {
	w.t.Helper()
	w.mustSend(w.admin, w.usdc, w.usdcBinding.PackMint(to, big.NewInt(amount)))
}

// fund mints `amount` to `p` and deposits it into the pool after approve.
func (w *world) fund(p party, amount int64) *types.Receipt {
	w.t.Helper()
	w.mint(p.address, amount)
	w.mustSend(p, w.usdc, w.usdcBinding.PackApprove(w.pool.Address(), big.NewInt(amount)))
	return w.mustSend(p, w.pool, w.poolBinding.PackDeposit(big.NewInt(amount)))
}

func entry(from, to common.Address, amount, fee int64) SettlementPoolEntry {
	return SettlementPoolEntry{From: from, To: to, Amount: big.NewInt(amount), Fee: big.NewInt(fee)}
}

func batchID(name string) [32]byte {
	return crypto.Keccak256Hash([]byte(name))
}

// blockTime is the timestamp of the latest block.
func (w *world) blockTime() uint64 {
	w.t.Helper()
	header, err := w.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		w.t.Fatalf("HeaderByNumber: %v", err)
	}
	return header.Time
}
