// Command tollway runs the Tollway settlement engine and its HTTP API.
//
//	tollway serve [flags]        the engine and its HTTP API
//	tollway chain deploy [flags] the contracts, to a node for serve --chain-rpc
//	tollway bench [flags]        the load benchmark
//	tollway noop-server [flags]  the bench's no-op server
//	tollway version              the version and Go version
//	tollway help [command]       the usage, or a command's flags
//
// cmd/ owns configuration: flags, environment variables and signals are read
// here and nowhere else. Every flag of serve has a TOLLWAY_* variable; flags
// win. Exit status: 0 done (help included), 1 a failure at run time, 2 a bad
// command line (usageError).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain"
	"github.com/tollway/tollway/chain/facilitator"
	"github.com/tollway/tollway/chain/relay"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

// drainTimeout bounds how long shutdown waits for requests in flight.
const drainTimeout = 15 * time.Second

// Exit statuses, as the go command's.
const (
	exitFailure = 1 // a failure at run time
	exitUsage   = 2 // a bad command line
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is a subcommand. Each parses its flags with parseFlags, so that
// `tollway help NAME` (NAME --help) prints them.
type command struct {
	name, args, summary string
	run                 func(args []string, stdout io.Writer) error
}

// commands lists the subcommands in the usage's order; help is run's own.
var commands = []command{
	{"serve", "[flags]", "run the settlement engine and its HTTP API", serve},
	{"chain", "deploy [flags]", "deploy the test USDC and the settlement pool to a node, for serve --chain-rpc", chainCommand},
	{"bench", "[flags]", "measure the HTTP API under load beside the machine's ceiling and baselines (runs tollway-bench)", func(args []string, _ io.Writer) error { return benchCommand(args) }},
	{"version", "", "print the version, Go version and VCS revision", versionCommand},
}

// helpSummary is the usage's line for help.
const helpSummary = "print this usage, or a command's flags"

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Tollway settles metered API calls durably.\n\nusage: tollway <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-12s %s\n\nRun 'tollway help <command>' for a command's flags.\n", "help", helpSummary)
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return 0
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		switch {
		case len(rest) == 0:
			printUsage(stdout)
			return 0
		case len(rest) > 1:
			fmt.Fprintf(stderr, "tollway help: unexpected argument %q: help takes one command\n", rest[1])
			return exitUsage
		case rest[0] == "help":
			fmt.Fprintf(stdout, "usage: tollway help [command]\n\n%s%s.\n", strings.ToUpper(helpSummary[:1]), helpSummary[1:])
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	cmd, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "tollway: unknown command %q\n\n", name)
		printUsage(stderr)
		return exitUsage
	}
	err := cmd.run(rest, stdout)
	var help helpRequest
	var status exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status) // the command said why itself
	case errors.As(err, &help):
		fmt.Fprintf(stdout, "%s\n\n%s%s.\n", strings.TrimSpace("usage: tollway "+cmd.name+" "+cmd.args), strings.ToUpper(cmd.summary[:1]), cmd.summary[1:])
		if hasFlags(help.flags) {
			fmt.Fprintf(stdout, "\nflags:\n")
			printFlags(stdout, help.flags)
		}
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "tollway %s: %v (see 'tollway help %s')\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	fmt.Fprintln(stderr, "tollway:", err)
	return exitFailure
}

func hasFlags(flags *flag.FlagSet) bool {
	n := 0
	flags.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// versionCommand prints the version, the Go version and platform, and the
// VCS revision the build recorded (go build in a checkout does; go test and
// go run do not).
func versionCommand(args []string, stdout io.Writer) error {
	if err := parseFlags(newFlagSet("version"), args); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	_, err := fmt.Fprintln(stdout, versionLine(info))
	return err
}

// versionLine is `tollway VERSION GOVERSION GOOS/GOARCH [revision REV[+dirty]]`.
func versionLine(info *debug.BuildInfo) string {
	line := fmt.Sprintf("tollway %s %s %s/%s", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info == nil {
		return line
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision != "" {
		line += " revision " + revision
		if modified == "true" {
			line += "+dirty"
		}
	}
	return line
}

// servePprof serves net/http/pprof on addr, apart from the API, with mutex
// contention sampled: the profiles BENCHMARKS.md links were taken from it.
func servePprof(addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	runtime.SetMutexProfileFraction(10)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("profiling endpoint", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	go func() {
		server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := server.Serve(ln); err != nil {
			logger.Error("profiling endpoint stopped", "error", err)
		}
	}()
	return nil
}

// envOr returns the environment variable's value, or fallback.
func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// adminTokenBytesMin is the shortest admin token accepted. The token opens
// every admin route (credits, /metrics) and the server keeps only its
// unsalted SHA-256, a fast hash: it must be too long to guess online or to
// search for from a leaked hash. 32 bytes, as httpapi.JWTSecretBytesMin,
// are 128 bits even as hex (openssl rand -hex 16); a generated token is
// adm_ and 40 base62 characters, 44 bytes.
const adminTokenBytesMin = 32

type serveConfig struct {
	listen, data, adminToken, jwtSecret string
	// publicURL is the origin clients reach the server at; nil: http://
	// and the listen address. Sign-In with Ethereum messages name its host
	// as their domain and it as their URI.
	publicURL *url.URL
	feeBps    uint32
	rateLimit access.RateLimit
	logLevel  slog.Level
	pprof     string // address of the profiling endpoint; empty: none
	// Memory and creation limits of the HTTP API (httpapi.Config).
	idempotencyStoreBytes, accountsPerUser, keysPerAccount int
	auth                                                   authConfig
	// recoverTruncatedLog starts on a log that lost acknowledged positions
	// (engine.Options.AllowLogLoss) instead of refusing.
	recoverTruncatedLog bool
	// maxConns and maxConnsPerIP: 0 derives them (httpapi.ConnectionsMaxFor
	// of the file limit, httpapi.ConnectionsPerIPMaxFor).
	maxConns, maxConnsPerIP int
	bodyBudgetBytes         int64
	metricsPublic           bool
	x402Open                bool // serve /x402/* without an API key
	allowPrivateTargets     bool // gateway upstreams and webhook URLs on loopback, private or link-local addresses
	// chain is chainEmbedded (the local chain in DATA/chain, JSON-RPC on
	// chainListen), chainNone, or chainRemote (a node at chainRPC, with a
	// deployment made beforehand) when chainRPC is set.
	chain, chainListen string
	chainSet           bool // --chain was given, not defaulted
	remote             remoteChainConfig
	// batchWindow is the relayer's netting window.
	batchWindow time.Duration
	// x402Settle is the facilitator's settlement mode; x402BatchWindow
	// how long a batched authorization waits for others.
	x402Settle      facilitator.SettleMode
	x402BatchWindow time.Duration
}

// remoteChainConfig is --chain-rpc's node and its deployment.
type remoteChainConfig struct {
	rpc             string
	chainID         int64
	pool, usdc      common.Address
	relayerKeyFile  string
	x402SignerFile  string
	confirmations   int
	confirmationSet bool           // --chain-confirmations was given
	x402Batcher     common.Address // the x402 AuthorizationBatcher; zero: none
}

// remoteConfirmationsDefault is how many blocks a deposit on a node waits
// for unless told: a node may reorganize, and two blocks outlast the
// common one-block reorganizations of test networks. A chain that reorganizes
// deeper (mainnet: finality) wants more.
const remoteConfirmationsDefault = 2

// confirmationsMax bounds --chain-confirmations: hours of blocks on any
// chain; more is a typo.
const confirmationsMax = 10_000

// recoverTruncatedLogFlag names the override in the refusal's message.
const recoverTruncatedLogFlag = "--recover-truncated-log (TOLLWAY_RECOVER_TRUNCATED_LOG=true)"

// countMax bounds the integer flags that count things: far above any
// useful value, and within int on every platform.
const countMax = 1<<31 - 1

// serveFlags defines the flags of serve, writing into c.
func serveFlags(c *serveConfig) envFlags {
	flags := newEnvFlags("serve")
	flags.Var(newStringFlag(&c.listen, "127.0.0.1:8080"), "listen", "address to listen on")
	flags.Var(&urlFlag{&c.publicURL}, "public-url", "URL clients reach the server at, http(s)://host[:port]: Sign-In with Ethereum "+
		"messages name its host as their domain and it as their URI; when empty, http:// and the listen address")
	flags.Var(newStringFlag(&c.data, "./data"), "data", "data directory")
	flags.Var(newSecretFlag(&c.adminToken, adminTokenBytesMin), "admin-token",
		fmt.Sprintf("admin token, %d+ bytes; generated on first start when empty", adminTokenBytesMin))
	flags.Var(newSecretFlag(&c.jwtSecret, httpapi.JWTSecretBytesMin), "jwt-secret",
		fmt.Sprintf("secret signing access tokens, %d+ bytes; generated on first start when empty", httpapi.JWTSecretBytesMin))
	flags.Var(newIntFlag(&c.feeBps, 0, 0, 10_000, "want 0-10000"), "fee-bps", "platform fee in basis points")
	flags.Var(newRateFlag(&c.rateLimit, "1000/1s"), "rate-limit", "default token bucket per API key, requests/duration")
	flags.Var(&levelFlag{&c.logLevel}, "log-level", "debug, info, warn or error")
	flags.Var(newStringFlag(&c.pprof, ""), "pprof", "address for net/http/pprof (CPU, heap, mutex profiles), e.g. 127.0.0.1:6060; off when empty")
	flags.Var(newIntFlag(&c.idempotencyStoreBytes, httpapi.IdempotencyStoreBytesDefault, httpapi.IdempotencyStoreBytesMin, countMax,
		fmt.Sprintf("want an integer of at least %d", httpapi.IdempotencyStoreBytesMin)), "idempotency-store-bytes",
		"memory for stored Idempotency-Key responses; an owner (account, user) may use 1/128 of it, one response 1/512")
	flags.Var(newIntFlag(&c.accountsPerUser, httpapi.AccountsPerUserMax, 1, countMax, "want an integer of at least 1"),
		"accounts-per-user", "accounts a user may create")
	flags.Var(newIntFlag(&c.keysPerAccount, httpapi.KeysPerAccountMax, 1, countMax, "want an integer of at least 1"),
		"keys-per-account", "API keys an account may have, revoked ones included")
	addAuthFlags(flags, &c.auth)
	flags.Var(newBoolFlag(&c.recoverTruncatedLog), "recover-truncated-log", "start even if the log lost acknowledged operations "+
		"(a corrupted or truncated WAL); the lost positions are logged at error level. Without it the server refuses to start")
	flags.Var(newIntFlag(&c.maxConns, 0, 0, countMax, "want a count, 0 for the default"), "max-conns",
		"most HTTP connections open at once; 0: the file limit less a reserve for the log, which also caps it")
	flags.Var(newIntFlag(&c.maxConnsPerIP, 0, 0, countMax, "want a count, 0 for the default"), "max-conns-per-ip",
		"most HTTP connections open at once from one address; 0: half of --max-conns; behind a proxy, set it to --max-conns")
	flags.Var(newIntFlag(&c.bodyBudgetBytes, httpapi.BodyBudgetBytesDefault, httpapi.BodyBytesMax, 1<<62,
		fmt.Sprintf("want at least %d (one batch body)", httpapi.BodyBytesMax)), "body-budget-bytes",
		"most bytes of request bodies over 16 KiB (batches) read or handled at once; beyond, 503 with Retry-After")
	flags.Var(newBoolFlag(&c.metricsPublic), "metrics-public", "serve /metrics without the admin token")
	flags.Var(newBoolFlag(&c.x402Open), "x402-open", "serve the x402 facilitator (/x402/*) without an API key")
	flags.Var(newBoolFlag(&c.allowPrivateTargets), "allow-private-targets", "let gateway upstreams and webhook URLs be on "+
		"loopback, private or link-local addresses (local development and tests); refused otherwise, also at connect time")
	c.x402Settle = facilitator.SettlePerPayment
	flags.Var(&settleModeFlag{&c.x402Settle}, "x402-settle", "how the x402 facilitator settles: payment (one transaction per "+
		"settle, answered with its receipt) or batch (answered once durably queued; many authorizations per transaction "+
		"through the x402 batcher contract)")
	flags.Var(newDurationFlag(&c.x402BatchWindow, facilitator.BatchWindowDefault, x402BatchWindowMin, x402BatchWindowMax),
		"x402-batch-window", "with --x402-settle=batch: how long a queued authorization waits for others to share its transaction")
	c.chain = chainEmbedded
	flags.Var(setFlag{&chainFlag{&c.chain}, &c.chainSet}, "chain", "the chain settlements go to: embedded (an Ethereum dev chain in DATA/chain, "+
		"with the test USDC and the pool deployed) or none; --chain-rpc uses a node instead")
	flags.Var(newStringFlag(&c.chainListen, "127.0.0.1:8545"), "chain-listen", "address of the embedded chain's JSON-RPC (HTTP)")
	r := &c.remote
	flags.Var(&rpcURLFlag{stringFlag{&r.rpc}}, "chain-rpc", "JSON-RPC URL of an Ethereum node to settle on instead of the embedded chain "+
		"(e.g. geth --dev), with --chain-id, --pool-address, --usdc-address and --relayer-key-file; /v1/config publishes it (without user:password)")
	flags.Var(newIntFlag(&r.chainID, 0, 1, math.MaxInt64, "want a positive integer"), "chain-id", "the chain id --chain-rpc's node must be on")
	flags.Var(&addressFlag{&r.pool}, "pool-address", "the settlement pool on --chain-rpc's node")
	flags.Var(&addressFlag{&r.usdc}, "usdc-address", "the USDC token on --chain-rpc's node, the pool's")
	flags.Var(&addressFlag{&r.x402Batcher}, "x402-batcher-address", "the x402 AuthorizationBatcher on --chain-rpc's node "+
		"(tollway chain deploy makes one), for --x402-settle=batch")
	flags.Var(newStringFlag(&r.relayerKeyFile, ""), "relayer-key-file", "file holding the hex private key of the relayer, "+
		"which holds the pool's RELAYER_ROLE on --chain-rpc's node and pays for its gas")
	flags.Var(newStringFlag(&r.x402SignerFile, ""), "x402-signer-key-file", "file holding the hex private key that sends the x402 "+
		"facilitator's settlements on --chain-rpc's node (its own key, with gas); without it the facilitator verifies but does not settle")
	flags.Var(setFlag{newIntFlag(&r.confirmations, remoteConfirmationsDefault, 0, confirmationsMax,
		fmt.Sprintf("want 0-%d", confirmationsMax)), &r.confirmationSet}, "chain-confirmations",
		"blocks a deposit on --chain-rpc's node waits for on top of its own (the embedded chain never reorganizes: 0)")
	flags.Var(newDurationFlag(&c.batchWindow, relay.WindowDefault, batchWindowMin, batchWindowMax), "batch-window",
		"the relayer's netting window: it settles what was charged in each window in one transaction per 100 pairs")
	return flags
}

// checkChain resolves the chain mode: --chain-rpc selects the node, and
// needs its companions; they mean nothing without it.
func (c *serveConfig) checkChain() error {
	r := c.remote
	type companion struct {
		name string
		set  bool
	}
	required := []companion{{"chain-id", r.chainID != 0}, {"pool-address", r.pool != (common.Address{})},
		{"usdc-address", r.usdc != (common.Address{})}, {"relayer-key-file", r.relayerKeyFile != ""}}
	if r.rpc == "" {
		for _, f := range append(required, companion{"chain-confirmations", r.confirmationSet},
			companion{"x402-batcher-address", r.x402Batcher != (common.Address{})},
			companion{"x402-signer-key-file", r.x402SignerFile != ""}) {
			if f.set {
				return usageError{fmt.Errorf("--%s is for a node: it needs --chain-rpc (%s)", f.name, envName("chain-rpc"))}
			}
		}
		return nil
	}
	if c.chainSet {
		return usageError{fmt.Errorf("--chain %s and --chain-rpc conflict: --chain-rpc settles on its node instead of the embedded chain", c.chain)}
	}
	var missing []string
	for _, f := range required {
		if !f.set {
			missing = append(missing, fmt.Sprintf("--%s (%s)", f.name, envName(f.name)))
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("--chain-rpc needs %s", strings.Join(missing, ", "))}
	}
	c.chain = chainRemote
	return nil
}

// parseServe parses serve's command line and variables.
func parseServe(args []string) (serveConfig, error) {
	var c serveConfig
	c.logLevel = slog.LevelInfo
	if err := serveFlags(&c).parse(args); err != nil {
		return c, err
	}
	return c, c.checkChain()
}

// connectionLimits returns the connection limits: the file limit less the
// log's reserve (httpapi.ConnectionsMaxFor), lowered by --max-conns but
// never raised (more would run out of descriptors), and --max-conns-per-ip
// or half of that.
func connectionLimits(c serveConfig, fileLimit uint64, logger *slog.Logger) (maxConns, maxConnsPerIP int) {
	maxConns = httpapi.ConnectionsMaxFor(fileLimit)
	if c.maxConns > maxConns {
		logger.Warn("--max-conns is above what the file limit allows; raise the limit (ulimit -n) to allow more",
			"max_conns", c.maxConns, "file_limit", fileLimit, "file_reserve", httpapi.FileReserveFor(fileLimit), "using", maxConns)
	} else if c.maxConns > 0 {
		maxConns = c.maxConns
	}
	maxConnsPerIP = httpapi.ConnectionsPerIPMaxFor(maxConns)
	if c.maxConnsPerIP > 0 {
		maxConnsPerIP = min(c.maxConnsPerIP, maxConns)
	}
	logger.Info("connection limits", "file_limit", fileLimit, "max_conns", maxConns, "max_conns_per_ip", maxConnsPerIP)
	return maxConns, maxConnsPerIP
}

func serve(args []string, stdout io.Writer) error {
	c, err := parseServe(args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.logLevel}))
	// Before the engine opens its files: the limit is the process's.
	fileLimit, err := raiseFileLimit()
	if err != nil {
		logger.Warn("could not raise the file limit", "error", err, "file_limit", fileLimit)
	}
	maxConns, maxConnsPerIP := connectionLimits(c, fileLimit, logger)
	eng, err := engine.Open(engine.Options{Dir: c.data, FeeBps: c.feeBps, Logger: logger, AllowLogLoss: c.recoverTruncatedLog})
	if loss := (*engine.LogLossError)(nil); errors.As(err, &loss) {
		return fmt.Errorf("refusing to start: the log in %s ends at position %d but positions up to %d were acknowledged: "+
			"%d acknowledged write(s) lost (a corrupted or truncated WAL file, *.log). Restore the data directory from a backup, "+
			"or restart with %s to start without them (a retry of one applies it again as new): %w",
			loss.Dir, loss.Recovered, loss.Marked, loss.Marked-loss.Recovered, recoverTruncatedLogFlag, engine.ErrLogLoss)
	}
	if err != nil {
		return err
	}
	defer eng.Close()
	rec := eng.Recovered()
	logger.Info("engine ready", "data", c.data, "position", eng.Position(), "replayed", rec.Replayed, "recovery", rec.Duration)
	if rec.LostLast != 0 {
		logger.Error("started WITHOUT acknowledged operations lost from the log (--recover-truncated-log): "+
			"retries of them will apply again as new", "lost_first", rec.LostFirst, "lost_last", rec.LostLast)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	secrets, generated, err := httpapi.LoadSecrets(ctx, eng, c.data, c.adminToken, c.jwtSecret)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	publicURL := c.publicURL
	if publicURL == nil {
		publicURL = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	}
	config := httpapi.Config{
		Engine: eng, Logger: logger, AdminTokenHash: secrets.AdminTokenHash, JWTSecret: secrets.JWTSecret,
		Pepper: secrets.Pepper, FeeBps: c.feeBps, RateLimit: c.rateLimit, Version: version,
		Domain: publicURL.Host, Origin: publicURL.String(),
		IdempotencyStoreBytes: c.idempotencyStoreBytes, AccountsPerUser: c.accountsPerUser, KeysPerAccount: c.keysPerAccount,
		FileLimit: fileLimit, ConnectionsMax: maxConns, ConnectionsPerIPMax: maxConnsPerIP,
		BodyBudgetBytes: c.bodyBudgetBytes, MetricsPublic: c.metricsPublic, X402Open: c.x402Open,
		AllowPrivateTargets: c.allowPrivateTargets,
	}
	c.auth.apply(&config)
	settlement, err := openChain(ctx, c, logger)
	if err != nil {
		ln.Close()
		return err
	}
	if settlement != nil {
		// Closed last: after the server and the engine, which may use it.
		defer settlement.close()
		settlement.configure(&config)
		if config.Facilitator, err = openFacilitator(ctx, eng, settlement.Settlement, settlement.local != nil, c.x402Settle, c.x402BatchWindow); err != nil {
			ln.Close()
			return err
		}
		defer config.Facilitator.Close() // on an early return; Close is idempotent
	}
	var relayer atomic.Pointer[relay.Relayer]
	if settlement != nil {
		config.Settlements = &relay.Store{Engine: eng}
		config.WebhookRows = settlementWebhooks()
		config.RelayerStats = func() relay.Stats {
			if r := relayer.Load(); r != nil {
				return r.Stats()
			}
			return relay.Stats{}
		}
	}
	logger.Info("public URL (Sign-In with Ethereum domain and URI)", "url", config.Origin)
	server, err := httpapi.New(config)
	if err != nil {
		ln.Close()
		return err
	}
	if settlement != nil {
		r, err := startRelayer(eng, settlement.Settlement, server, c.batchWindow, logger)
		if err != nil {
			ln.Close()
			return err
		}
		relayer.Store(r)
		defer r.Close() // on an early return; Close is idempotent
	}
	// These lines go to stdout, for people and for scripts (tests read them).
	fmt.Fprintf(stdout, "tollway listening on http://%s\n", ln.Addr())
	if generated != "" {
		fmt.Fprintf(stdout, "admin token (shown once; only its hash is stored): %s\n", generated)
	}
	if settlement != nil {
		settlement.print(stdout)
	}
	fmt.Fprintf(stdout, "console on http://%s/console\n", ln.Addr())
	if c.pprof != "" {
		if err := servePprof(c.pprof, logger); err != nil {
			return err
		}
	}
	watching := make(chan struct{})
	watchCtx, stopWatching := context.WithCancel(context.Background())
	if settlement != nil {
		watcher := &chain.Watcher{Engine: eng, Client: settlement.Client, Heads: settlement.Client, Pool: settlement.Pool,
			Confirmations: settlement.Confirmations, Wallets: server.TestWalletAccount, Logger: logger}
		if r := relayer.Load(); r != nil {
			// Debits of a payer asking to withdraw are settled at once, well
			// before the withdrawal delay ends.
			watcher.OnWithdrawalRequested = func(common.Address, time.Time) { r.Hurry() }
		}
		go func() {
			defer close(watching)
			watcher.Run(watchCtx)
		}()
	} else {
		close(watching)
	}
	// The watcher stops before the engine closes (it credits through it).
	defer func() { stopWatching(); <-watching }()
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down: draining requests, then closing the engine")
		drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err = server.Shutdown(drain)
		cancel()
	}
	// Stop order: no new connections, requests drained, key actors
	// stopped (Shutdown), the deposit watcher and the relayer, then the engine's actors and
	// log (deferred Close), then the chain.
	stopWatching()
	<-watching
	if r := relayer.Load(); r != nil {
		r.Close() // before the engine: it writes through it
	}
	if config.Facilitator != nil {
		config.Facilitator.Close() // before the engine, too
	}
	if closeErr := eng.Close(); closeErr != nil && err == nil {
		err = closeErr
	}
	return err
}

// servedChain is the chain serve settles on, embedded or a node: the
// watcher, the relayer and /v1/config take its Settlement alike; only the
// embedded chain has a faucet and a test wallet.
type servedChain struct {
	chain.Settlement
	local *chain.Local // the embedded chain; nil for a node
	close func() error
}

// openChain opens the chain c names (nil for none): the embedded chain,
// deploying at its first start, or --chain-rpc's node, whose deployment
// it checks.
func openChain(ctx context.Context, c serveConfig, logger *slog.Logger) (*servedChain, error) {
	switch c.chain {
	case chainEmbedded:
		local, err := chain.OpenLocal(ctx, chain.LocalConfig{Dir: filepath.Join(c.data, "chain"), Listen: c.chainListen, Logger: logger})
		if err != nil {
			return nil, err
		}
		return &servedChain{Settlement: local.Settlement(), local: local, close: local.Close}, nil
	case chainRemote:
		r := c.remote
		remote, err := chain.OpenRemote(ctx, chain.RemoteConfig{URL: r.rpc, ChainID: uint64(r.chainID), Pool: r.pool, USDC: r.usdc,
			RelayerKeyFile: r.relayerKeyFile, Confirmations: uint64(r.confirmations), X402SignerKeyFile: r.x402SignerFile,
			X402Batcher: r.x402Batcher, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("--chain-rpc: %w", err)
		}
		return &servedChain{Settlement: remote.Settlement(), close: remote.Close}, nil
	}
	return nil, nil
}

// configure publishes the chain in /v1/config, makes Sign-In with
// Ethereum messages name it, and hands the embedded chain's faucet over
// (without it, the faucet answers 409).
func (s *servedChain) configure(config *httpapi.Config) {
	config.ChainID = s.ChainID.Uint64()
	config.Chain = &httpapi.ChainInfo{RPCURL: s.RPCURL, USDC: s.USDC.Hex(), Pool: s.Pool.Hex(), Relayer: s.RelayerAddress().Hex(),
		FeeRecipient: s.FeeRecipient.Hex(), WithdrawalDelay: s.WithdrawalDelay, Confirmations: s.Confirmations}
	if s.X402Batcher != (common.Address{}) {
		config.Chain.X402Batcher = s.X402Batcher.Hex()
	}
	if s.local != nil {
		config.Faucet = s.local.Faucet
		config.FaucetLimits = httpapi.FaucetLimits{WeiDefault: chain.FaucetWeiDefault, WeiMax: chain.FaucetWeiMax,
			USDCDefault: chain.FaucetUSDCDefault, USDCMax: chain.FaucetUSDCMax}
	}
}

// print writes the chain's lines to stdout, for people and for scripts:
// the endpoint and the contracts, and, as local chains do, a funded test
// wallet's key.
func (s *servedChain) print(stdout io.Writer) {
	if s.local == nil {
		fmt.Fprintf(stdout, "chain node %s (chain id %d)\n", s.RPCURL, s.ChainID)
		fmt.Fprintf(stdout, "USDC %s, pool %s, relayer %s\n", s.USDC.Hex(), s.Pool.Hex(), s.RelayerAddress().Hex())
		return
	}
	fmt.Fprintf(stdout, "chain JSON-RPC on %s (chain id %d)\n", s.RPCURL, s.ChainID)
	fmt.Fprintf(stdout, "test USDC %s, pool %s, relayer %s\n", s.USDC.Hex(), s.Pool.Hex(), s.RelayerAddress().Hex())
	fmt.Fprintf(stdout, "test wallet %s (1,000,000 USDC at its first start), private key %x (a local test key: never use it elsewhere)\n",
		s.local.TestWalletAddress().Hex(), crypto.FromECDSA(s.local.TestWallet))
}
