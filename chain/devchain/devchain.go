package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"
)

const (
	// ChainID is the embedded chain's id, geth's developer chain id.
	ChainID = 1337
	// DefaultListen is where the JSON-RPC endpoint listens unless told.
	DefaultListen = "127.0.0.1:8545"

	// instanceName is the node's instance directory under Dir. "geth", as
	// geth names it, so that `geth --datadir Dir` can open the same chain.
	instanceName = "geth"
	// blockGasLimit is the genesis gas limit, and the miner's target: one
	// transaction is still capped at 16,777,216 gas (EIP-7825).
	blockGasLimit = 60_000_000
	// minimumTipWei is both the pool's price limit and the miner's: a
	// transaction the pool admits is never refused by the miner for its tip
	// (the gap between the two is what makes geth's dev loop spin).
	minimumTipWei = 1
	// The caches, in megabytes: a development chain holds little state and
	// shares the machine with the server, so these are far below geth's
	// defaults (2 GB for the database alone). No snapshot: the state is read
	// from the trie, and there is no snapshot to rebuild after a crash.
	databaseCacheMB  = 64
	trieCleanCacheMB = 16
	trieDirtyCacheMB = 16
	databaseHandles  = 128

	txIndexWaitMax      = 10 * time.Second
	txIndexPollInterval = 5 * time.Millisecond
)

// funderGenesisWei is the funder's balance in the genesis: 10^9 ETH, large
// enough never to run out and small enough for every wallet to show.
var funderGenesisWei = new(big.Int).Exp(big.NewInt(10), big.NewInt(27), nil)

// ErrClosed is returned by calls on a chain that Close stopped, or whose
// sealer stopped after a failed database sync.
var ErrClosed = errors.New("devchain: chain is closed")

// Config configures Open.
type Config struct {
	// Dir holds the chain: its database, the funder key, the metadata.
	Dir string
	// Listen is the JSON-RPC HTTP address, DefaultListen if empty. Port 0
	// picks a free port (see URL). An empty host means 127.0.0.1: the chain
	// is reachable from other machines only when asked, e.g. "0.0.0.0:8545".
	Listen string
	// Logger receives the chain's logs (go-ethereum's node logs included);
	// slog.Default() if nil.
	Logger *slog.Logger
	// OnFirstStart runs once the chain is up, at every start until it has
	// returned nil once (recorded in the metadata): the place to deploy
	// contracts and keep their addresses with SetMeta. A crash during it
	// makes it run again at the next start, so it must tolerate a partial
	// earlier run (e.g. deploy again and overwrite the addresses).
	OnFirstStart func(ctx context.Context, c *Chain) error
}

// firstStartDoneKey is the metadata key that records OnFirstStart's success.
const firstStartDoneKey = "devchain.firstStartDone"

// Chain is a running embedded chain.
type Chain struct {
	logger *slog.Logger
	stack  *node.Node
	eth    *eth.Ethereum
	beacon *catalyst.SimulatedBeacon
	rpc    *rpcEndpoint
	client *ethclient.Client // over the JSON-RPC endpoint
	inproc *ethclient.Client // in-process, for Fund and WaitReceipt
	funder *ecdsa.PrivateKey
	meta   *metaStore
	url    string

	sealer *sealer

	// fundMu serializes Fund's nonce choice and send.
	fundMu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

// Open starts the chain in config.Dir, creating it at the first start.
func Open(config Config) (*Chain, error) {
	if config.Dir == "" {
		return nil, errors.New("devchain: Config.Dir is empty")
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	host, port, err := parseListen(config.Listen)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(config.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devchain: create %s: %w", config.Dir, err)
	}
	meta, err := openMeta(config.Dir)
	if err != nil {
		return nil, err
	}
	stack, err := node.New(nodeConfig(config))
	if err != nil {
		return nil, fmt.Errorf("devchain: node in %s: %w", config.Dir, err)
	}
	c := &Chain{logger: config.Logger, stack: stack, meta: meta}
	if err := c.start(config.Dir, host, port); err != nil {
		return nil, errors.Join(err, c.Close()) // stops whatever started
	}
	if err := c.runFirstStart(config.OnFirstStart); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// start loads or creates the funder key, brings up eth, the RPC endpoints,
// the beacon and the sealer.
func (c *Chain) start(dir, host string, port int) error {
	exists, err := chainExists(c.stack)
	if err != nil {
		return err
	}
	funder, err := loadOrCreateFunderKey(dir, exists)
	if err != nil {
		return err
	}
	c.funder = funder
	funderAddress := crypto.PubkeyToAddress(funder.PublicKey)
	ethConfig := ethConfig(funderAddress)
	if !exists {
		ethConfig.Genesis = developerGenesis(funderAddress)
	}
	backend, err := eth.New(c.stack, &ethConfig)
	if err != nil {
		return fmt.Errorf("devchain: start eth in %s: %w", dir, err)
	}
	c.eth = backend
	if id := backend.BlockChain().Config().ChainID; id == nil || id.Cmp(big.NewInt(ChainID)) != 0 {
		return fmt.Errorf("devchain: the chain in %s has chain id %v, want %d", dir, id, ChainID)
	}
	// eth_getLogs and eth_newFilter live in the filter API, which eth.New
	// does not register.
	filterAPI := rpc.API{Namespace: "eth", Service: filters.NewFilterAPI(filters.NewFilterSystem(backend.APIBackend, filters.Config{
		LogCacheSize: ethConfig.FilterLogCacheSize, LogQueryLimit: ethConfig.LogQueryLimit, RangeLimit: ethConfig.RangeLimit,
	}))}
	c.stack.RegisterAPIs([]rpc.API{filterAPI})
	if err := c.stack.Start(); err != nil {
		return fmt.Errorf("devchain: start node in %s: %w", dir, err)
	}
	// The beacon's own dev loop (RegisterSimulatedBeaconAPIs) is not
	// started: the sealer drives Commit instead, with a bound.
	beacon, err := catalyst.NewSimulatedBeacon(0, funderAddress, backend)
	if err != nil {
		return fmt.Errorf("devchain: start beacon: %w", err)
	}
	c.beacon = beacon
	waitTxIndex(backend, c.logger)
	c.inproc = ethclient.NewClient(c.stack.Attach())
	c.sealer = startSealer(backend, beacon, c.logger)
	c.rpc, err = startRPC(host, port, append(backend.APIs(), filterAPI), func(ctx context.Context) error {
		return c.sealer.waitSynced(ctx, backend.BlockChain().CurrentBlock().Number.Uint64())
	})
	if err != nil {
		return err
	}
	c.url = c.rpc.url()
	httpClient, err := rpc.DialHTTP(c.url)
	if err != nil {
		return fmt.Errorf("devchain: client of %s: %w", c.url, err)
	}
	c.client = ethclient.NewClient(httpClient)
	head := backend.BlockChain().CurrentBlock()
	c.logger.Info("embedded chain started", "url", c.url, "chainId", ChainID,
		"head", head.Number, "firstStart", !exists, "funder", funderAddress)
	return nil
}

// waitTxIndex waits, bounded, for the transaction index to catch up after a
// restart, which takes milliseconds on a development chain: until then geth
// answers a receipt query for a missing transaction with an error
// ("transaction indexing is in progress") instead of null. NB: on a new
// chain the index starts with the first block, so geth answers so for a
// few milliseconds after it; clients of geth retry on it.
func waitTxIndex(backend *eth.Ethereum, logger *slog.Logger) {
	if backend.BlockChain().CurrentBlock().Number.Sign() == 0 {
		return
	}
	deadline := time.Now().Add(txIndexWaitMax)
	for !backend.BlockChain().TxIndexDone() {
		if time.Now().After(deadline) {
			logger.Warn("embedded chain: the transaction index is still catching up", "waited", txIndexWaitMax)
			return
		}
		time.Sleep(txIndexPollInterval)
	}
}

// runFirstStart runs hook unless it has succeeded at an earlier start.
func (c *Chain) runFirstStart(hook func(context.Context, *Chain) error) error {
	if hook == nil {
		return nil
	}
	if _, done := c.meta.get(firstStartDoneKey); done {
		return nil
	}
	if err := hook(context.Background(), c); err != nil {
		return fmt.Errorf("devchain: first start: %w", err)
	}
	return c.meta.set(firstStartDoneKey, "true")
}

// Close stops sealing, then the node, which flushes and closes the database.
// It is safe to call more than once.
func (c *Chain) Close() error {
	c.closeOnce.Do(func() {
		if c.client != nil {
			c.client.Close()
		}
		if c.rpc != nil {
			c.closeErr = c.rpc.close()
		}
		if c.sealer != nil {
			c.sealer.stop()
		}
		if c.inproc != nil {
			c.inproc.Close()
		}
		if c.beacon != nil {
			c.closeErr = errors.Join(c.closeErr, c.beacon.Stop())
		}
		c.closeErr = errors.Join(c.closeErr, c.stack.Close())
		if c.closeErr != nil {
			c.closeErr = fmt.Errorf("devchain: close: %w", c.closeErr)
		}
	})
	return c.closeErr
}

// URL is the JSON-RPC HTTP endpoint, e.g. http://127.0.0.1:8545.
func (c *Chain) URL() string { return c.url }

// ChainID is the chain's id, ChainID.
func (c *Chain) ChainID() *big.Int { return big.NewInt(ChainID) }

// InProcClient is a client of the node in this process, no HTTP between:
// for reads the process makes itself. Unlike Client's, its answers may
// show a head not yet on disk, which a crash would undo.
func (c *Chain) InProcClient() *ethclient.Client { return c.inproc }

// Client is a client of the chain's JSON-RPC endpoint: what it shows is on
// disk. Close closes it.
func (c *Chain) Client() *ethclient.Client { return c.client }

// FunderKey is the genesis-funded developer key. NB: Fund assigns the
// funder's nonces; whoever else sends from this key must not do so while a
// Fund call is in flight.
func (c *Chain) FunderKey() *ecdsa.PrivateKey { return c.funder }

// FunderAddress is FunderKey's address.
func (c *Chain) FunderAddress() common.Address {
	return crypto.PubkeyToAddress(c.funder.PublicKey)
}

// Head is the number of the newest sealed block.
func (c *Chain) Head() uint64 { return c.eth.BlockChain().CurrentBlock().Number.Uint64() }

// SetMeta records value under key in the chain's metadata, durably.
func (c *Chain) SetMeta(key, value string) error { return c.meta.set(key, value) }

// GetMeta returns the value recorded under key.
func (c *Chain) GetMeta(key string) (string, bool) { return c.meta.get(key) }

// parseListen splits listen into host and port; an empty host is loopback.
func parseListen(listen string) (string, int, error) {
	if listen == "" {
		listen = DefaultListen
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("devchain: listen address %q: %w", listen, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("devchain: listen address %q: bad port", listen)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, int(port), nil
}

// nodeConfig is geth --dev's node without its endpoints: no IPC, no HTTP or
// WebSocket (the chain serves JSON-RPC itself, see rpc.go), no peer-to-peer
// listener or discovery.
func nodeConfig(config Config) *node.Config {
	c := node.DefaultConfig
	c.Name = instanceName
	c.DataDir = config.Dir
	c.IPCPath = ""
	c.HTTPHost = ""
	c.WSHost = ""
	c.P2P = p2p.Config{NoDiscovery: true, NoDial: true, MaxPeers: 0, ListenAddr: ""}
	c.Logger = log.NewLogger(errorsOnly{config.Logger.Handler()})
	return &c
}

// errorsOnly passes on only errors: the node's warnings in this setup are
// always the same ("P2P server will be useless…"), at every start.
type errorsOnly struct{ slog.Handler }

func (h errorsOnly) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelError && h.Handler.Enabled(ctx, level)
}

func (h errorsOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return errorsOnly{h.Handler.WithAttrs(attrs)}
}

func (h errorsOnly) WithGroup(name string) slog.Handler { return errorsOnly{h.Handler.WithGroup(name)} }

// ethConfig is geth --dev's Ethereum service, made persistent: full sync,
// hash state scheme in archive mode (every block's state is written with
// the block, so nothing is left in memory to lose at a kill -9).
func ethConfig(funder common.Address) ethconfig.Config {
	c := ethconfig.Defaults
	c.NetworkId = ChainID
	c.SyncMode = ethconfig.FullSync
	c.StateScheme = rawdb.HashScheme
	c.NoPruning = true
	c.DatabaseCache = databaseCacheMB
	c.DatabaseHandles = databaseHandles
	c.TrieCleanCache = trieCleanCacheMB
	c.TrieDirtyCache = trieDirtyCacheMB
	c.SnapshotCache = 0
	// No local-transaction tracking: every transaction meets the pool's
	// price rules, and there is no journal to replay.
	c.TxPool.NoLocals = true
	c.TxPool.PriceLimit = minimumTipWei
	c.Miner.GasPrice = big.NewInt(minimumTipWei)
	c.Miner.GasCeil = blockGasLimit
	c.Miner.PendingFeeRecipient = funder
	return c
}

// developerGenesis is geth's developer genesis (every fork from block 0, the
// precompiles and system contracts) with the funder's balance.
func developerGenesis(funder common.Address) *core.Genesis {
	genesis := core.DeveloperGenesisBlock(blockGasLimit, &funder)
	genesis.Alloc[funder] = types.Account{Balance: new(big.Int).Set(funderGenesisWei)}
	return genesis
}

// chainExists reports whether the node's database already holds a chain
// (a genesis block), reading it without writing, as geth --dev does.
func chainExists(stack *node.Node) (bool, error) {
	if rawdb.PreexistingDatabase(stack.ResolvePath("chaindata")) == "" {
		return false, nil
	}
	db, err := stack.OpenDatabaseWithOptions("chaindata", node.DatabaseOptions{ReadOnly: true})
	if err != nil {
		return false, fmt.Errorf("devchain: open the chain database read-only: %w", err)
	}
	exists := rawdb.ReadCanonicalHash(db, 0) != (common.Hash{})
	if err := db.Close(); err != nil {
		return false, fmt.Errorf("devchain: close the chain database: %w", err)
	}
	return exists, nil
}
