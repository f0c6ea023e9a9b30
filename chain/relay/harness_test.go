package relay

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/engine"
)

const (
	testLedger = engine.LedgerID("test:USDC")
	testFeeBps = 100 // 1%
)

var simChainID = big.NewInt(1337) // the simulated backend's

type party struct {
	key     *ecdsa.PrivateKey
	address common.Address
	opts    *bind.TransactOpts
}

func newParty(t *testing.T) party {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return party{key: key, address: crypto.PubkeyToAddress(key.PublicKey), opts: bind.NewKeyedTransactor(key, simChainID)}
}

// world is a simulated chain with the test USDC and the pool, an engine,
// and a relayer between them. Blocks are mined only when the test calls
// mine: a transaction the relayer sends waits in the pool until then,
// which is how tests hold one "stuck".
type world struct {
	t        *testing.T
	sim      *simulated.Backend
	client   simulated.Client
	backend  Backend // the relayer's: client unless a test wraps it
	admin    party
	relayer  party
	feeTo    party
	usdcAddr common.Address
	poolAddr common.Address
	usdc     *bind.BoundContract
	pool     *bind.BoundContract
	usdcABI  *contracts.TestUSDC
	poolABI  *contracts.SettlementPool

	dir     string
	eng     *engine.Engine
	r       *Relayer
	now     time.Time // the relayer's clock
	nowMu   sync.Mutex
	wallets map[engine.AccountID]common.Address
	walMu   sync.Mutex
}

func newWorld(t *testing.T, parties ...*party) *world {
	t.Helper()
	w := &world{t: t, admin: newParty(t), relayer: newParty(t), feeTo: newParty(t), dir: t.TempDir(),
		wallets: make(map[engine.AccountID]common.Address), now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil)
	alloc := types.GenesisAlloc{w.admin.address: {Balance: ether}, w.relayer.address: {Balance: ether}}
	for _, p := range parties {
		*p = newParty(t)
		alloc[p.address] = types.Account{Balance: ether}
	}
	w.sim = simulated.NewBackend(alloc)
	t.Cleanup(func() { w.sim.Close() })
	w.client = w.sim.Client()
	w.usdcABI, w.poolABI = contracts.NewTestUSDC(), contracts.NewSettlementPool()
	w.usdcAddr = w.deploy(contracts.TestUSDCMetaData.Bin, w.usdcABI.PackConstructor(w.admin.address))
	w.poolAddr = w.deploy(contracts.SettlementPoolMetaData.Bin, w.poolABI.PackConstructor(
		w.usdcAddr, w.feeTo.address, w.relayer.address, w.admin.address, big.NewInt(3600)))
	w.usdc = w.usdcABI.Instance(w.client, w.usdcAddr)
	w.pool = w.poolABI.Instance(w.client, w.poolAddr)
	w.openEngine()
	t.Cleanup(func() { w.closeAll() })
	return w
}

func (w *world) deploy(bin string, input []byte) common.Address {
	w.t.Helper()
	address, tx, err := bind.DeployContract(w.admin.opts, common.FromHex(bin), w.client, input)
	if err != nil {
		w.t.Fatalf("deploy: %v", err)
	}
	w.mine()
	w.mustSucceed(tx.Hash())
	return address
}

func (w *world) mine() { w.sim.Commit() }

func (w *world) mustSucceed(hash common.Hash) {
	w.t.Helper()
	receipt, err := w.client.TransactionReceipt(context.Background(), hash)
	if err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		w.t.Fatalf("transaction %s: receipt %v, err %v", hash, receipt, err)
	}
}

func (w *world) send(from party, contract *bind.BoundContract, data []byte) {
	w.t.Helper()
	tx, err := bind.Transact(contract, from.opts, data)
	if err != nil {
		w.t.Fatalf("transaction from %s: %v", from.address, err)
	}
	w.mine()
	w.mustSucceed(tx.Hash())
}

// fund mints USDC to p and deposits amount of it into the pool.
func (w *world) deposit(p party, amount int64) {
	w.t.Helper()
	w.send(w.admin, w.usdc, w.usdcABI.PackMint(p.address, big.NewInt(amount)))
	w.send(p, w.usdc, w.usdcABI.PackApprove(w.poolAddr, big.NewInt(amount)))
	w.send(p, w.pool, w.poolABI.PackDeposit(big.NewInt(amount)))
}

func (w *world) poolBalance(a common.Address) uint64 {
	w.t.Helper()
	out, err := w.pool.CallRaw(&bind.CallOpts{}, w.poolABI.PackBalanceOf(a))
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := w.poolABI.UnpackBalanceOf(out)
	if err != nil {
		w.t.Fatal(err)
	}
	return v.Uint64()
}

func (w *world) usdcBalance(a common.Address) uint64 {
	w.t.Helper()
	out, err := w.usdc.CallRaw(&bind.CallOpts{}, w.usdcABI.PackBalanceOf(a))
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := w.usdcABI.UnpackBalanceOf(out)
	if err != nil {
		w.t.Fatal(err)
	}
	return v.Uint64()
}

func (w *world) setPaused(paused bool) {
	w.t.Helper()
	if paused {
		w.send(w.admin, w.pool, w.poolABI.PackPause())
	} else {
		w.send(w.admin, w.pool, w.poolABI.PackUnpause())
	}
}

func (w *world) bindWallet(account engine.AccountID, wallet common.Address) {
	w.walMu.Lock()
	w.wallets[account] = wallet
	w.walMu.Unlock()
}

func (w *world) wallet(account engine.AccountID) (common.Address, bool) {
	w.walMu.Lock()
	defer w.walMu.Unlock()
	a, ok := w.wallets[account]
	return a, ok
}

func (w *world) clock() time.Time {
	w.nowMu.Lock()
	defer w.nowMu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.nowMu.Lock()
	w.now = w.now.Add(d)
	w.nowMu.Unlock()
}

func (w *world) openEngine() {
	w.t.Helper()
	eng, err := engine.Open(engine.Options{Dir: w.dir, FeeBps: testFeeBps, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		w.t.Fatal(err)
	}
	w.eng = eng
}

// openRelayer starts a relayer; rounds run only when the test asks
// (roundNow): the ticker's interval is an hour.
func (w *world) openRelayer() {
	w.t.Helper()
	r, err := Open(Config{
		Engine: w.eng, Backend: w.backendOf(), ChainID: simChainID, Pool: w.poolAddr, Key: w.relayer.key,
		Ledger: testLedger, Wallets: w.wallet, Window: time.Second, PollInterval: time.Hour,
		ReplaceAfter: time.Minute, Logger: slog.New(slog.DiscardHandler), Now: w.clock,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.r = r
}

func (w *world) backendOf() Backend {
	if w.backend != nil {
		return w.backend
	}
	return w.client
}

func (w *world) closeRelayer() {
	if w.r != nil {
		w.r.Close()
		w.r = nil
	}
}

func (w *world) closeAll() {
	w.closeRelayer()
	if w.eng != nil {
		w.eng.Close()
		w.eng = nil
	}
}

// restart closes the relayer and the engine and opens both again.
func (w *world) restart() {
	w.t.Helper()
	w.closeAll()
	w.openEngine()
	w.openRelayer()
}

// settle waits for the relayer to fold up to position, then runs rounds
// (the window passed), mining between them, until nothing is in flight.
func (w *world) settle(position uint64) {
	w.t.Helper()
	w.r.waitFolded(w.t, position)
	w.advance(2 * time.Second)
	for range 20 {
		w.r.roundNow(w.t)
		w.mine()
		w.r.roundNow(w.t)
		if w.r.Stats().InFlight == 0 {
			return
		}
	}
	w.t.Fatalf("batches still in flight: %+v", w.r.Stats())
}

func (w *world) account(id engine.AccountID) {
	w.t.Helper()
	if err := w.eng.CreateAccount(context.Background(), engine.Account{ID: id, Ledger: testLedger}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) credit(id engine.AccountID, amount uint64, clientID string) {
	w.t.Helper()
	if _, err := w.eng.Credit(context.Background(), engine.TransferID(clientID), id, engine.NewAmount(amount)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) charge(id string, from, to engine.AccountID, amount uint64) engine.Transfer {
	w.t.Helper()
	tr, err := w.eng.Charge(context.Background(), engine.Charge{ID: engine.TransferID(id), From: from, To: to, Amount: engine.NewAmount(amount)})
	if err != nil {
		w.t.Fatalf("charge %s: %v", id, err)
	}
	return tr
}

func (w *world) balance(id engine.AccountID) engine.Balance {
	w.t.Helper()
	b, err := w.eng.Balance(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) verify() {
	w.t.Helper()
	if err := w.eng.Verify(context.Background()); err != nil {
		w.t.Fatalf("invariants: %v", err)
	}
}

func amountOf(v uint64) engine.Amount { return engine.NewAmount(v) }
