package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
)

// Transactor sends one key's transactions and waits for each to succeed.
// The local chain's funder and a test's deployer on a real node both
// deploy through it (Deploy), so there is one deployment, whatever the
// node.
//
// NB: not safe for concurrent use: each transaction takes the key's
// pending nonce, so two sent at once could take the same. A caller that
// shares the key serializes (Local does, with its mutex).
type Transactor struct {
	Backend bind.ContractBackend
	Key     *ecdsa.PrivateKey
	ChainID *big.Int
	// WaitReceipt waits until a transaction is mined and returns its
	// receipt: the local chain's waits until its block is on disk.
	WaitReceipt func(ctx context.Context, hash common.Hash) (*types.Receipt, error)
}

// ReceiptBackend is what NewTransactor needs of a node: an ethclient.Client
// is one.
type ReceiptBackend interface {
	bind.ContractBackend
	bind.DeployBackend
}

// NewTransactor returns a Transactor that waits for receipts by polling
// backend (bind.WaitMined, every second).
func NewTransactor(backend ReceiptBackend, key *ecdsa.PrivateKey, chainID *big.Int) *Transactor {
	return &Transactor{Backend: backend, Key: key, ChainID: chainID,
		WaitReceipt: func(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
			return bind.WaitMined(ctx, backend, hash)
		}}
}

// Address is the key's address.
func (t *Transactor) Address() common.Address { return crypto.PubkeyToAddress(t.Key.PublicKey) }

func (t *Transactor) opts(ctx context.Context) *bind.TransactOpts {
	opts := bind.NewKeyedTransactor(t.Key, t.ChainID)
	opts.Context = ctx
	return opts
}

// DeployContract deploys bin with its packed constructor arguments and
// returns the contract's address once the deployment succeeded.
func (t *Transactor) DeployContract(ctx context.Context, bin string, constructor []byte) (common.Address, error) {
	address, tx, err := bind.DeployContract(t.opts(ctx), common.FromHex(bin), t.Backend, constructor)
	if err != nil {
		return common.Address{}, err
	}
	if err := t.waitSuccess(ctx, tx); err != nil {
		return common.Address{}, err
	}
	return address, nil
}

// Transact calls contract with data and returns the transaction once it
// succeeded.
func (t *Transactor) Transact(ctx context.Context, contract *bind.BoundContract, data []byte) (*types.Transaction, error) {
	tx, err := bind.Transact(contract, t.opts(ctx), data)
	if err != nil {
		return nil, err
	}
	return tx, t.waitSuccess(ctx, tx)
}

func (t *Transactor) waitSuccess(ctx context.Context, tx *types.Transaction) error {
	receipt, err := t.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		return err
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("transaction %s failed in block %v", tx.Hash(), receipt.BlockNumber)
	}
	return nil
}

// DeployTerms are a deployment's parameters. The deployer (the
// Transactor's key) owns the test USDC, so it alone mints, and holds the
// pool's admin role.
type DeployTerms struct {
	Relayer         common.Address // granted the pool's relayer role
	FeeRecipient    common.Address // the pool's; zero: the deployer
	WithdrawalDelay time.Duration  // whole seconds, up to the pool's WITHDRAWAL_DELAY_MAX
}

// Deployment is where a deployment put Tollway's contracts.
type Deployment struct {
	USDC, Pool, FeeRecipient common.Address
	// X402Batcher is the AuthorizationBatcher the x402 facilitator's batch
	// mode settles through (any EIP-3009 token's, not only this USDC's).
	X402Batcher common.Address
}

// Deploy deploys the test USDC, the settlement pool and the x402
// AuthorizationBatcher with deployer's key and waits for each to succeed. A Deploy cut short leaves what it
// deployed unused on chain; running it again deploys anew.
func Deploy(ctx context.Context, deployer *Transactor, terms DeployTerms) (Deployment, error) {
	if terms.Relayer == (common.Address{}) {
		return Deployment{}, errors.New("chain: deploy: no relayer address")
	}
	if terms.WithdrawalDelay < 0 || terms.WithdrawalDelay%time.Second != 0 {
		return Deployment{}, fmt.Errorf("chain: deploy: withdrawal delay %v is not a whole number of seconds", terms.WithdrawalDelay)
	}
	owner := deployer.Address()
	d := Deployment{FeeRecipient: terms.FeeRecipient}
	if d.FeeRecipient == (common.Address{}) {
		d.FeeRecipient = owner
	}
	var err error
	if d.USDC, err = deployer.DeployContract(ctx, contracts.TestUSDCMetaData.Bin, contracts.NewTestUSDC().PackConstructor(owner)); err != nil {
		return Deployment{}, fmt.Errorf("chain: deploy the test USDC: %w", err)
	}
	d.Pool, err = deployer.DeployContract(ctx, contracts.SettlementPoolMetaData.Bin, contracts.NewSettlementPool().PackConstructor(
		d.USDC, d.FeeRecipient, terms.Relayer, owner, big.NewInt(int64(terms.WithdrawalDelay/time.Second))))
	if err != nil {
		return Deployment{}, fmt.Errorf("chain: deploy the pool: %w", err)
	}
	if d.X402Batcher, err = DeployX402Batcher(ctx, deployer); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// DeployX402Batcher deploys an AuthorizationBatcher (no constructor, no
// owner: anyone may call it) and waits for it to succeed.
func DeployX402Batcher(ctx context.Context, deployer *Transactor) (common.Address, error) {
	address, err := deployer.DeployContract(ctx, contracts.AuthorizationBatcherMetaData.Bin, nil)
	if err != nil {
		return common.Address{}, fmt.Errorf("chain: deploy the x402 batcher: %w", err)
	}
	return address, nil
}
