package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/devchain"
)

// Terms of the local chain's deployment.
const (
	// LocalWithdrawalDelay is the pool's withdrawal delay on the local
	// chain: a day, far longer than the relayer's settlement deadline, so
	// no consumer withdraws before its charges are settled.
	LocalWithdrawalDelay = 24 * time.Hour
	// LocalConfirmations is how many blocks a deposit on the local chain
	// waits for: none, since it has one sealer and never reorganizes (and
	// seals no block when idle, so a deposit waiting for one more block
	// would wait for someone else's transaction).
	LocalConfirmations = 0
)

// Faucet bounds: what one POST /v1/admin/chain/faucet may send, so that a
// test wallet gets plenty and the funder never runs dry.
var (
	// FaucetWeiMax is 100 ETH; FaucetWeiDefault 1 ETH.
	FaucetWeiMax     = new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))
	FaucetWeiDefault = big.NewInt(1e18)
	// FaucetUSDCMax is 1,000,000 USDC; FaucetUSDCDefault 1,000 USDC (6 decimals).
	FaucetUSDCMax     = big.NewInt(1_000_000 * 1e6)
	FaucetUSDCDefault = big.NewInt(1_000 * 1e6)
)

// Amounts given at the first start.
var (
	relayerWei     = new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)) // the relayer's gas for a long time
	testWalletWei  = new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18))
	testWalletUSDC = big.NewInt(1_000_000 * 1e6)
)

// Metadata keys of the deployment, in the chain's metadata.
const (
	metaUSDC         = "tollway.usdc"
	metaPool         = "tollway.pool"
	metaFeeRecipient = "tollway.feeRecipient"
	metaX402Batcher  = "tollway.x402Batcher"
)

// Local is the embedded chain with Tollway's contracts: the test USDC, the
// settlement pool and the x402 batcher, deployed at its first start and kept across
// restarts, with a relayer key that holds the pool's relayer role and a
// funded test wallet, as local chains give one.
//
// The funder (the chain's developer key) owns the token and administers
// the pool; everything it sends goes through Local, one transaction at a
// time, so its nonces never collide.
type Local struct {
	Chain        *devchain.Chain
	USDC         common.Address
	Pool         common.Address
	FeeRecipient common.Address
	Relayer      *ecdsa.PrivateKey
	TestWallet   *ecdsa.PrivateKey
	// X402Signer sends the x402 facilitator's settlements (its own key:
	// the relayer owns its nonces), funded at every start it runs low.
	X402Signer *ecdsa.PrivateKey
	// X402Batcher is the AuthorizationBatcher of the facilitator's batch
	// mode, deployed with the rest (or, on a chain from before it existed,
	// at the next start) and kept across restarts.
	X402Batcher common.Address

	mu sync.Mutex // serializes the funder's transactions
}

// LocalConfig configures OpenLocal.
type LocalConfig struct {
	Dir    string // the chain's directory, e.g. DATA/chain
	Listen string // JSON-RPC HTTP address; devchain.DefaultListen if empty
	Logger *slog.Logger
}

// OpenLocal starts the local chain in config.Dir, deploying the contracts
// and funding the relayer and the test wallet at its first start.
func OpenLocal(ctx context.Context, config LocalConfig) (*Local, error) {
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	l := &Local{}
	var err error
	// The keys exist before the chain, so the first start's hook uses them.
	if l.Relayer, err = devchain.LoadOrCreateKey(filepath.Join(config.Dir, "relayer.key"), true); err != nil {
		return nil, err
	}
	if l.TestWallet, err = devchain.LoadOrCreateKey(filepath.Join(config.Dir, "test-wallet.key"), true); err != nil {
		return nil, err
	}
	if l.X402Signer, err = devchain.LoadOrCreateKey(filepath.Join(config.Dir, "x402-signer.key"), true); err != nil {
		return nil, err
	}
	l.Chain, err = devchain.Open(devchain.Config{Dir: config.Dir, Listen: config.Listen, Logger: config.Logger,
		OnFirstStart: func(ctx context.Context, c *devchain.Chain) error {
			l.Chain = c
			return l.deploy(ctx)
		}})
	if err != nil {
		return nil, fmt.Errorf("chain: open the local chain: %w", err)
	}
	for key, address := range map[string]*common.Address{metaUSDC: &l.USDC, metaPool: &l.Pool, metaFeeRecipient: &l.FeeRecipient} {
		value, ok := l.Chain.GetMeta(key)
		if !ok || !common.IsHexAddress(value) {
			_ = l.Chain.Close()
			return nil, fmt.Errorf("chain: the local chain in %s has no %s: its deployment did not finish", config.Dir, key)
		}
		*address = common.HexToAddress(value)
	}
	if err := l.loadOrDeployX402Batcher(ctx); err != nil {
		_ = l.Chain.Close()
		return nil, err
	}
	if err := l.fundLow(ctx, crypto.PubkeyToAddress(l.X402Signer.PublicKey), x402SignerWei); err != nil {
		_ = l.Chain.Close()
		return nil, err
	}
	return l, nil
}

// loadOrDeployX402Batcher reads the batcher's address, deploying it first
// on a chain whose first start predates it. NB: a crash between the
// deployment and the metadata's write leaves one batcher unused on chain;
// the next start deploys another.
func (l *Local) loadOrDeployX402Batcher(ctx context.Context) error {
	if value, ok := l.Chain.GetMeta(metaX402Batcher); ok && common.IsHexAddress(value) {
		l.X402Batcher = common.HexToAddress(value)
		return nil
	}
	l.mu.Lock()
	address, err := DeployX402Batcher(ctx, l.funder())
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if err := l.Chain.SetMeta(metaX402Batcher, address.Hex()); err != nil {
		return fmt.Errorf("chain: record the x402 batcher: %w", err)
	}
	l.X402Batcher = address
	return nil
}

// x402SignerWei is what the x402 signer is topped up to: gas for many
// thousands of settlements on the local chain.
var x402SignerWei = new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))

// fundLow sends account wei when it holds less than a tenth of it.
func (l *Local) fundLow(ctx context.Context, account common.Address, wei *big.Int) error {
	balance, err := l.Chain.Client().BalanceAt(ctx, account, nil)
	if err != nil {
		return fmt.Errorf("chain: balance of %s: %w", account, err)
	}
	if new(big.Int).Mul(balance, big.NewInt(10)).Cmp(wei) >= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.Chain.Fund(ctx, account, wei); err != nil {
		return fmt.Errorf("chain: fund %s: %w", account, err)
	}
	return nil
}

// Close stops the chain.
func (l *Local) Close() error { return l.Chain.Close() }

// RelayerAddress and TestWalletAddress are the keys' addresses.
func (l *Local) RelayerAddress() common.Address { return crypto.PubkeyToAddress(l.Relayer.PublicKey) }
func (l *Local) TestWalletAddress() common.Address {
	return crypto.PubkeyToAddress(l.TestWallet.PublicKey)
}

// deploy deploys the token and the pool and funds the relayer and the test
// wallet. It may run again after a crash part-way (devchain reruns the
// hook until it succeeds once): it then deploys anew, and the new
// addresses overwrite the old.
func (l *Local) deploy(ctx context.Context) error {
	l.mu.Lock()
	// The fee recipient is the local chain's operator, the funder (Deploy's
	// default); an admin may set another (setFeeRecipient).
	deployment, err := Deploy(ctx, l.funder(), DeployTerms{Relayer: l.RelayerAddress(), WithdrawalDelay: LocalWithdrawalDelay})
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.USDC = deployment.USDC
	if _, err := l.Chain.Fund(ctx, l.RelayerAddress(), relayerWei); err != nil {
		return err
	}
	if _, err := l.Faucet(ctx, l.TestWalletAddress(), testWalletWei, testWalletUSDC); err != nil {
		return err
	}
	for key, address := range map[string]common.Address{metaUSDC: deployment.USDC, metaPool: deployment.Pool,
		metaFeeRecipient: deployment.FeeRecipient, metaX402Batcher: deployment.X402Batcher} {
		if err := l.Chain.SetMeta(key, address.Hex()); err != nil {
			return err
		}
	}
	return nil
}

// funder is the funder's Transactor: over the chain's JSON-RPC, as any
// client, and waiting for receipts until their blocks are on disk.
// REQUIRES: l.mu held while it sends.
func (l *Local) funder() *Transactor {
	return &Transactor{Backend: l.Chain.Client(), Key: l.Chain.FunderKey(), ChainID: l.Chain.ChainID(), WaitReceipt: l.Chain.WaitReceipt}
}

// ErrFaucetLimit refuses a faucet request above FaucetWeiMax or
// FaucetUSDCMax.
var ErrFaucetLimit = errors.New("chain: faucet amount above its limit")

// Faucet sends to an address wei of ETH (its gas) and mints usdc base
// units of the test USDC, each when positive, and returns the transactions'
// hashes once their blocks are on disk.
func (l *Local) Faucet(ctx context.Context, to common.Address, wei, usdc *big.Int) ([]common.Hash, error) {
	if wei.Sign() < 0 || usdc.Sign() < 0 || wei.Cmp(FaucetWeiMax) > 0 || usdc.Cmp(FaucetUSDCMax) > 0 {
		return nil, fmt.Errorf("%w: at most %s wei and %s USDC base units", ErrFaucetLimit, FaucetWeiMax, FaucetUSDCMax)
	}
	var hashes []common.Hash
	if wei.Sign() > 0 {
		l.mu.Lock()
		hash, err := l.Chain.Fund(ctx, to, wei)
		l.mu.Unlock()
		if err != nil {
			return hashes, fmt.Errorf("chain: faucet ETH: %w", err)
		}
		hashes = append(hashes, hash)
	}
	if usdc.Sign() > 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		token := contracts.NewTestUSDC().Instance(l.Chain.Client(), l.USDC)
		tx, err := l.funder().Transact(ctx, token, contracts.NewTestUSDC().PackMint(to, usdc))
		if err != nil {
			return hashes, fmt.Errorf("chain: faucet USDC: %w", err)
		}
		hashes = append(hashes, tx.Hash())
	}
	return hashes, nil
}

// Settlement is the local chain as the watcher and the relayer see it.
func (l *Local) Settlement() Settlement {
	return Settlement{Client: l.Chain.Client(), Reader: l.Chain.InProcClient(), ChainID: l.Chain.ChainID(), Pool: l.Pool, USDC: l.USDC,
		FeeRecipient: l.FeeRecipient, Relayer: l.Relayer, WithdrawalDelay: LocalWithdrawalDelay,
		Confirmations: LocalConfirmations, RPCURL: l.Chain.URL(), X402Signer: l.X402Signer, X402Batcher: l.X402Batcher}
}
