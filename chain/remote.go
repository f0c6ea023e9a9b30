package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/devchain"
)

// RemoteCheckTimeout bounds OpenRemote's questions to the node, all of
// them: a node that does not answer fails the start instead of hanging it.
const RemoteCheckTimeout = 30 * time.Second

// ErrRemoteMismatch is wrapped by OpenRemote's errors that say the node,
// the contracts or the relayer key are not what the configuration claims.
var ErrRemoteMismatch = errors.New("chain: the node does not match the configuration")

// RemoteConfig configures OpenRemote: a node and a deployment on it,
// made beforehand (e.g. by Deploy), with a relayer key that holds the
// pool's relayer role.
type RemoteConfig struct {
	URL     string // the node's JSON-RPC endpoint, http(s) or ws(s)
	ChainID uint64 // the chain the node must be on
	Pool    common.Address
	USDC    common.Address
	// RelayerKeyFile holds the relayer's key, hex, as devchain.LoadOrCreateKey
	// writes it. It must exist: a new key would hold no role and no gas.
	RelayerKeyFile string
	// Confirmations is how many blocks a deposit waits for on top of its
	// own: more than the chain's likely reorganization depth.
	Confirmations uint64
	// X402SignerKeyFile, when set, holds the key that sends the x402
	// facilitator's settlements (hex, as devchain.LoadOrCreateKey writes
	// it; it must exist and hold gas). Unset: the facilitator verifies
	// but does not settle.
	X402SignerKeyFile string
	// X402Batcher is the x402 AuthorizationBatcher on the node (Deploy
	// makes one); zero: none, and the facilitator settles per payment.
	X402Batcher common.Address
	Logger      *slog.Logger
}

// Remote is a real node (e.g. geth --dev, a testnet's endpoint) with
// Tollway's contracts, checked at OpenRemote: the node is on the chain
// configured, the pool and the token are there and belong together, and
// the relayer key holds the pool's relayer role.
type Remote struct {
	Client  *ethclient.Client
	URL     string
	ChainID *big.Int
	Pool    common.Address
	USDC    common.Address
	// FeeRecipient and WithdrawalDelay are the pool's, read at OpenRemote.
	// NB: an admin may change the fee recipient later (setFeeRecipient).
	FeeRecipient    common.Address
	Relayer         *ecdsa.PrivateKey
	WithdrawalDelay time.Duration
	Confirmations   uint64
	X402Signer      *ecdsa.PrivateKey // nil: no x402 settlements
	X402Batcher     common.Address
}

// OpenRemote dials the node and checks the deployment on it; each
// mismatch is an error wrapping ErrRemoteMismatch that names what differs.
func OpenRemote(ctx context.Context, config RemoteConfig) (*Remote, error) {
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	switch {
	case config.URL == "":
		return nil, errors.New("chain: no JSON-RPC URL for the node")
	case config.ChainID == 0:
		return nil, errors.New("chain: no chain id for the node")
	case config.Pool == (common.Address{}):
		return nil, errors.New("chain: no pool address")
	case config.USDC == (common.Address{}):
		return nil, errors.New("chain: no USDC address")
	case config.RelayerKeyFile == "":
		return nil, errors.New("chain: no relayer key file")
	}
	// Read before dialing: a missing file is the likelier mistake, and
	// needs no node to report.
	relayer, err := devchain.LoadOrCreateKey(config.RelayerKeyFile, false)
	if err != nil {
		return nil, fmt.Errorf("chain: the relayer key: %w", err)
	}
	var x402Signer *ecdsa.PrivateKey
	if config.X402SignerKeyFile != "" {
		if x402Signer, err = devchain.LoadOrCreateKey(config.X402SignerKeyFile, false); err != nil {
			return nil, fmt.Errorf("chain: the x402 signer key: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, RemoteCheckTimeout)
	defer cancel()
	client, err := ethclient.DialContext(ctx, config.URL)
	if err != nil {
		return nil, fmt.Errorf("chain: dial %s: %w", redactURL(config.URL), err)
	}
	r := &Remote{Client: client, URL: config.URL, ChainID: new(big.Int).SetUint64(config.ChainID),
		Pool: config.Pool, USDC: config.USDC, Relayer: relayer, Confirmations: config.Confirmations, X402Signer: x402Signer,
		X402Batcher: config.X402Batcher}
	if err := r.check(ctx, config.Logger); err != nil {
		client.Close()
		return nil, err
	}
	return r, nil
}

// check asks the node what OpenRemote promises and reads the pool's terms.
func (r *Remote) check(ctx context.Context, logger *slog.Logger) error {
	node := redactURL(r.URL)
	id, err := r.Client.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("chain: %s does not answer eth_chainId: %w", node, err)
	}
	if id.Cmp(r.ChainID) != 0 {
		return fmt.Errorf("%w: %s is on chain %v, not %v", ErrRemoteMismatch, node, id, r.ChainID)
	}
	type named struct {
		name    string
		address common.Address
	}
	deployed := []named{{"pool", r.Pool}, {"USDC", r.USDC}}
	if r.X402Batcher != (common.Address{}) {
		deployed = append(deployed, named{"x402 batcher", r.X402Batcher})
	}
	for _, contract := range deployed {
		code, err := r.Client.CodeAt(ctx, contract.address, nil)
		if err != nil {
			return fmt.Errorf("chain: read the code at the %s address %s: %w", contract.name, contract.address, err)
		}
		if len(code) == 0 {
			return fmt.Errorf("%w: no contract at the %s address %s on chain %v", ErrRemoteMismatch, contract.name, contract.address, r.ChainID)
		}
	}
	binding := contracts.NewSettlementPool()
	pool := binding.Instance(r.Client, r.Pool)
	usdc, err := bind.Call(pool, nil, binding.PackUsdc(), binding.UnpackUsdc)
	if err != nil {
		return fmt.Errorf("%w: the contract at the pool address %s does not answer usdc() (is it the pool?): %v", ErrRemoteMismatch, r.Pool, err)
	}
	if usdc != r.USDC {
		return fmt.Errorf("%w: the pool %s holds USDC %s, not %s", ErrRemoteMismatch, r.Pool, usdc, r.USDC)
	}
	delay, err := bind.Call(pool, nil, binding.PackWithdrawalDelay(), binding.UnpackWithdrawalDelay)
	if err != nil {
		return fmt.Errorf("chain: read the pool's withdrawalDelay(): %w", err)
	}
	// The pool bounds it by WITHDRAWAL_DELAY_MAX (30 days); this bound
	// only keeps the conversion from overflowing.
	if !delay.IsInt64() || delay.Int64() < 0 || delay.Int64() > int64(withdrawalDelayMax/time.Second) {
		return fmt.Errorf("%w: the pool's withdrawal delay %v s is out of range", ErrRemoteMismatch, delay)
	}
	r.WithdrawalDelay = time.Duration(delay.Int64()) * time.Second
	if r.FeeRecipient, err = bind.Call(pool, nil, binding.PackFeeRecipient(), binding.UnpackFeeRecipient); err != nil {
		return fmt.Errorf("chain: read the pool's feeRecipient(): %w", err)
	}
	role, err := bind.Call(pool, nil, binding.PackRELAYERROLE(), binding.UnpackRELAYERROLE)
	if err != nil {
		return fmt.Errorf("chain: read the pool's RELAYER_ROLE(): %w", err)
	}
	relayer := r.RelayerAddress()
	hasRole, err := bind.Call(pool, nil, binding.PackHasRole(role, relayer), binding.UnpackHasRole)
	if err != nil {
		return fmt.Errorf("chain: read the pool's hasRole(RELAYER_ROLE, %s): %w", relayer, err)
	}
	if !hasRole {
		return fmt.Errorf("%w: the relayer %s lacks the pool's RELAYER_ROLE: its admin grants it with grantRole", ErrRemoteMismatch, relayer)
	}
	balance, err := r.Client.BalanceAt(ctx, relayer, nil)
	if err != nil {
		return fmt.Errorf("chain: read the relayer's balance: %w", err)
	}
	if balance.Sign() == 0 {
		logger.Warn("the relayer has no ETH for gas: settlements will fail until it is funded", "relayer", relayer)
	}
	if r.X402Signer != nil {
		signer := crypto.PubkeyToAddress(r.X402Signer.PublicKey)
		if signer == relayer {
			// Two senders of one key would take each other's nonces.
			return fmt.Errorf("%w: the x402 signer key is the relayer's: give it a key of its own", ErrRemoteMismatch)
		}
		wei, err := r.Client.BalanceAt(ctx, signer, nil)
		if err != nil {
			return fmt.Errorf("chain: read the x402 signer's balance: %w", err)
		}
		if wei.Sign() == 0 {
			logger.Warn("the x402 signer has no ETH for gas: x402 settlements will fail until it is funded", "signer", signer)
		}
	}
	logger.Info("chain node", "url", node, "chainId", r.ChainID, "pool", r.Pool, "usdc", r.USDC, "relayer", relayer,
		"relayerWei", balance, "withdrawalDelay", r.WithdrawalDelay, "confirmations", r.Confirmations)
	return nil
}

// withdrawalDelayMax bounds the withdrawal delay read from a pool: a year,
// far above the pool's own bound.
const withdrawalDelayMax = 365 * 24 * time.Hour

// Close closes the client.
func (r *Remote) Close() error {
	r.Client.Close()
	return nil
}

// RelayerAddress is the relayer key's address.
func (r *Remote) RelayerAddress() common.Address { return crypto.PubkeyToAddress(r.Relayer.PublicKey) }

// Settlement is the node as the watcher and the relayer see it. Its RPCURL
// is the node's URL without user credentials, which /v1/config publishes.
func (r *Remote) Settlement() Settlement {
	return Settlement{Client: r.Client, Reader: r.Client, ChainID: r.ChainID, Pool: r.Pool, USDC: r.USDC, FeeRecipient: r.FeeRecipient,
		Relayer: r.Relayer, WithdrawalDelay: r.WithdrawalDelay, Confirmations: r.Confirmations, RPCURL: redactURL(r.URL),
		X402Signer: r.X402Signer, X402Batcher: r.X402Batcher}
}

// redactURL drops a URL's user information (a password, an API key given
// as one), for logs and for publishing. NB: a key in the path (as some
// providers put it) is not recognized: such a URL is better kept apart.
func redactURL(text string) string {
	u, err := url.Parse(text)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User = nil
	return u.String()
}
