// Command tollway runs the Tollway settlement engine and its HTTP API.
//
//	tollway serve [--listen ADDR] [--data DIR] [--admin-token T] [--jwt-secret S]
//	              [--fee-bps N] [--rate-limit N/D] [--log-level L] [--pprof ADDR]
//	              [--recover-truncated-log]
//	              [--max-conns N] [--max-conns-per-ip N] [--body-budget-bytes N]
//	              [--metrics-public]
//	tollway bench [--scenarios …] [--connections …] [--baselines …] [--out DIR] …
//
// cmd/ owns configuration: flags, environment variables and signals are read
// here and nowhere else. Every flag has a TOLLWAY_* variable; flags win.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

// drainTimeout bounds how long shutdown waits for requests in flight.
const drainTimeout = 15 * time.Second

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tollway:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: tollway serve [flags]")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "bench":
		return benchCommand(args[1:])
	}
	return fmt.Errorf("unknown command %q (want: serve)", args[0])
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

type serveConfig struct {
	listen, data, adminToken, jwtSecret string
	feeBps                              uint32
	rateLimit                           access.RateLimit
	logLevel                            slog.Level
	pprof                               string // address of the profiling endpoint; empty: none
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
}

// recoverTruncatedLogFlag names the override in the refusal's message.
const recoverTruncatedLogFlag = "--recover-truncated-log (TOLLWAY_RECOVER_TRUNCATED_LOG=true)"

func parseServe(args []string) (serveConfig, error) {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := flags.String("listen", envOr("TOLLWAY_LISTEN", "127.0.0.1:8080"), "address to listen on (TOLLWAY_LISTEN)")
	data := flags.String("data", envOr("TOLLWAY_DATA", "./data"), "data directory (TOLLWAY_DATA)")
	adminToken := flags.String("admin-token", envOr("TOLLWAY_ADMIN_TOKEN", ""), "admin token; generated on first start when empty (TOLLWAY_ADMIN_TOKEN)")
	jwtSecret := flags.String("jwt-secret", envOr("TOLLWAY_JWT_SECRET", ""), "secret signing access tokens, 32+ bytes; generated on first start when empty (TOLLWAY_JWT_SECRET)")
	feeBps := flags.String("fee-bps", envOr("TOLLWAY_FEE_BPS", "0"), "platform fee in basis points (TOLLWAY_FEE_BPS)")
	rateLimit := flags.String("rate-limit", envOr("TOLLWAY_RATE_LIMIT", "1000/1s"), "default token bucket per API key, requests/duration (TOLLWAY_RATE_LIMIT)")
	logLevel := flags.String("log-level", envOr("TOLLWAY_LOG_LEVEL", "info"), "debug, info, warn or error (TOLLWAY_LOG_LEVEL)")
	pprofAddr := flags.String("pprof", envOr("TOLLWAY_PPROF", ""), "address for net/http/pprof (CPU, heap, mutex profiles), e.g. 127.0.0.1:6060; off when empty (TOLLWAY_PPROF)")
	idempotencyStoreBytes := flags.String("idempotency-store-bytes", envOr("TOLLWAY_IDEMPOTENCY_STORE_BYTES", strconv.Itoa(httpapi.IdempotencyStoreBytesDefault)),
		"memory for stored Idempotency-Key responses; an owner (account, user) may use 1/128 of it, one response 1/512 (TOLLWAY_IDEMPOTENCY_STORE_BYTES)")
	accountsPerUser := flags.String("accounts-per-user", envOr("TOLLWAY_ACCOUNTS_PER_USER", strconv.Itoa(httpapi.AccountsPerUserMax)), "accounts a user may create (TOLLWAY_ACCOUNTS_PER_USER)")
	keysPerAccount := flags.String("keys-per-account", envOr("TOLLWAY_KEYS_PER_ACCOUNT", strconv.Itoa(httpapi.KeysPerAccountMax)), "API keys an account may have, revoked ones included (TOLLWAY_KEYS_PER_ACCOUNT)")
	auth := addAuthFlags(flags)
	recoverDefault, err := strconv.ParseBool(envOr("TOLLWAY_RECOVER_TRUNCATED_LOG", "false"))
	if err != nil {
		return serveConfig{}, fmt.Errorf("TOLLWAY_RECOVER_TRUNCATED_LOG: %w", err)
	}
	recoverTruncatedLog := flags.Bool("recover-truncated-log", recoverDefault, "start even if the log lost acknowledged operations "+
		"(a corrupted or truncated WAL); the lost positions are logged at error level. Without it the server refuses to start (TOLLWAY_RECOVER_TRUNCATED_LOG)")
	maxConns := flags.String("max-conns", envOr("TOLLWAY_MAX_CONNS", "0"), "most HTTP connections open at once; 0: the file limit less a reserve for the log, which also caps it (TOLLWAY_MAX_CONNS)")
	maxConnsPerIP := flags.String("max-conns-per-ip", envOr("TOLLWAY_MAX_CONNS_PER_IP", "0"), "most HTTP connections open at once from one address; 0: half of --max-conns; behind a proxy, set it to --max-conns (TOLLWAY_MAX_CONNS_PER_IP)")
	bodyBudget := flags.String("body-budget-bytes", envOr("TOLLWAY_BODY_BUDGET_BYTES", strconv.Itoa(httpapi.BodyBudgetBytesDefault)), "most bytes of request bodies over 16 KiB (batches) read or handled at once; beyond, 503 with Retry-After (TOLLWAY_BODY_BUDGET_BYTES)")
	metricsPublicEnv := envOr("TOLLWAY_METRICS_PUBLIC", "false")
	metricsPublicDefault, metricsPublicErr := strconv.ParseBool(metricsPublicEnv)
	metricsPublic := flags.Bool("metrics-public", metricsPublicDefault, "serve /metrics without the admin token (TOLLWAY_METRICS_PUBLIC)")
	if err := flags.Parse(args); err != nil {
		return serveConfig{}, err
	}
	c := serveConfig{listen: *listen, data: *data, adminToken: *adminToken, jwtSecret: *jwtSecret, pprof: *pprofAddr,
		recoverTruncatedLog: *recoverTruncatedLog}
	for _, limit := range []struct {
		flag, text string
		min        int
		dst        *int
	}{
		{"--idempotency-store-bytes", *idempotencyStoreBytes, httpapi.IdempotencyStoreBytesMin, &c.idempotencyStoreBytes},
		{"--accounts-per-user", *accountsPerUser, 1, &c.accountsPerUser},
		{"--keys-per-account", *keysPerAccount, 1, &c.keysPerAccount},
	} {
		n, err := strconv.Atoi(limit.text)
		if err != nil || n < limit.min {
			return c, fmt.Errorf("%s %q: want an integer of at least %d", limit.flag, limit.text, limit.min)
		}
		*limit.dst = n
	}
	if c.maxConns, err = strconv.Atoi(*maxConns); err != nil || c.maxConns < 0 {
		return c, fmt.Errorf("--max-conns %q: want a count, 0 for the default", *maxConns)
	}
	if c.maxConnsPerIP, err = strconv.Atoi(*maxConnsPerIP); err != nil || c.maxConnsPerIP < 0 {
		return c, fmt.Errorf("--max-conns-per-ip %q: want a count, 0 for the default", *maxConnsPerIP)
	}
	if c.bodyBudgetBytes, err = strconv.ParseInt(*bodyBudget, 10, 64); err != nil || c.bodyBudgetBytes < httpapi.BodyBytesMax {
		return c, fmt.Errorf("--body-budget-bytes %q: want at least %d (one batch body)", *bodyBudget, httpapi.BodyBytesMax)
	}
	if metricsPublicErr != nil {
		return c, fmt.Errorf("TOLLWAY_METRICS_PUBLIC %q: want true or false", metricsPublicEnv)
	}
	c.metricsPublic = *metricsPublic
	fee, err := strconv.ParseUint(*feeBps, 10, 32)
	if err != nil || fee > 10_000 {
		return c, fmt.Errorf("--fee-bps %q: want 0-10000", *feeBps)
	}
	c.feeBps = uint32(fee)
	if c.rateLimit, err = access.ParseRateLimit(*rateLimit); err != nil {
		return c, fmt.Errorf("--rate-limit: %w", err)
	}
	if c.auth, err = auth.parse(); err != nil {
		return c, err
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return c, fmt.Errorf("--log-level: %w", err)
	}
	return c, nil
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

func serve(args []string) error {
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
	config := httpapi.Config{
		Engine: eng, Logger: logger, AdminTokenHash: secrets.AdminTokenHash, JWTSecret: secrets.JWTSecret,
		Pepper: secrets.Pepper, FeeBps: c.feeBps, RateLimit: c.rateLimit, Domain: ln.Addr().String(), Version: version,
		IdempotencyStoreBytes: c.idempotencyStoreBytes, AccountsPerUser: c.accountsPerUser, KeysPerAccount: c.keysPerAccount,
		FileLimit: fileLimit, ConnectionsMax: maxConns, ConnectionsPerIPMax: maxConnsPerIP,
		BodyBudgetBytes: c.bodyBudgetBytes, MetricsPublic: c.metricsPublic,
	}
	c.auth.apply(&config)
	server, err := httpapi.New(config)
	if err != nil {
		ln.Close()
		return err
	}
	// These lines go to stdout, for people and for scripts (tests read them).
	fmt.Printf("tollway listening on http://%s\n", ln.Addr())
	if generated != "" {
		fmt.Printf("admin token (shown once; only its hash is stored): %s\n", generated)
	}
	if c.pprof != "" {
		if err := servePprof(c.pprof, logger); err != nil {
			return err
		}
	}
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
	// stopped (Shutdown), then the engine's actors and log (deferred Close).
	if closeErr := eng.Close(); closeErr != nil && err == nil {
		err = closeErr
	}
	return err
}
