package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/tollway/tollway/engine"
)

// Redis appendfsync policies a baseline may use.
const (
	RedisFsyncAlways   = "always"   // fsync before every reply: durable per operation
	RedisFsyncEverysec = "everysec" // fsync once a second: a crash loses up to a second of acknowledged debits
)

const (
	redisStopTimeout = 10 * time.Second
	// redisKeysPerCommand bounds the keys of one MSET or MGET.
	redisKeysPerCommand = 1000
)

// StartRedis starts Debian's redis-server on 127.0.0.1 with its append-only
// file in dir, fsynced as fsync says (RedisFsyncAlways or
// RedisFsyncEverysec), and no RDB snapshots. It returns once the server
// accepts connections.
func StartRedis(ctx context.Context, dir string, fsync string) (*Process, string, error) {
	if fsync != RedisFsyncAlways && fsync != RedisFsyncEverysec {
		return nil, "", fmt.Errorf("%w: appendfsync %q, want %q or %q", engine.ErrInvalid, fsync, RedisFsyncAlways, RedisFsyncEverysec)
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("redis-server not in PATH: %w", ErrServerNotInstalled)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("start redis: %w", err)
	}
	process, port, err := startOnFreePort(ctx, func(port int) ProcessConfig {
		return ProcessConfig{
			Name: "redis-server",
			Path: path,
			Args: []string{
				"--port", strconv.Itoa(port),
				"--bind", "127.0.0.1",
				"--protected-mode", "no",
				"--daemonize", "no",
				"--dir", dir,
				"--appendonly", "yes",
				"--appendfsync", fsync,
				"--save", "",
				"--logfile", "", // standard output, which is the log file
			},
			LogPath: filepath.Join(dir, "redis.log"),
			// SIGTERM: Redis flushes the append-only file and exits.
			StopSignal:  syscall.SIGTERM,
			StopTimeout: redisStopTimeout,
		}
	})
	if err != nil {
		return nil, "", err
	}
	return process, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// redisDebitScript is the whole debit, atomic because Redis runs one script
// at a time, and durable before the reply under appendfsync always because
// Redis writes a script's effects to the append-only file, and fsyncs it,
// before it answers. A failed check writes nothing.
//
// KEYS: idempotency key, consumer, supplier, fee account.
// ARGV: amount, the supplier's share (amount - fee), fee, and the debit as
// recorded under the idempotency key ("consumer:supplier:amount").
// Returns one of the redisDebit* codes.
var redisDebitScript = redis.NewScript(`
local recorded = redis.call('GET', KEYS[1])
if recorded then
  if recorded == ARGV[4] then return 1 end
  return 3
end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[1]) then return 2 end
redis.call('DECRBY', KEYS[2], ARGV[1])
redis.call('INCRBY', KEYS[3], ARGV[2])
if ARGV[3] ~= '0' then redis.call('INCRBY', KEYS[4], ARGV[3]) end
redis.call('SET', KEYS[1], ARGV[4])
return 0
`)

// Answers of redisDebitScript.
const (
	redisDebitApplied      = 0
	redisDebitReplayed     = 1
	redisDebitInsufficient = 2
	redisDebitConflict     = 3
)

// redisFeeKey holds the fee account's balance.
const redisFeeKey = "fees"

// Redis is the baseline most users reach for first: balances as integer
// keys, the debit as one Lua script run with EVALSHA through go-redis.
type Redis struct {
	fsync   string
	feeBps  uint32
	process *Process
	client  *redis.Client

	// Written by Setup before any Debit.
	consumers, suppliers int
}

var _ Baseline = (*Redis)(nil)

// NewRedisBaseline starts redis-server in dir with appendfsync fsync and
// connects a client with one connection per worker.
func NewRedisBaseline(ctx context.Context, dir, fsync string, workers int, feeBps uint32) (Baseline, error) {
	if err := checkBaselineOptions(workers, feeBps); err != nil {
		return nil, err
	}
	process, addr, err := StartRedis(ctx, dir, fsync)
	if err != nil {
		return nil, err
	}
	client := redis.NewClient(&redis.Options{
		Addr:           addr,
		PoolSize:       workers,
		MaxActiveConns: workers,
		// A benchmark counts errors; retries would hide them.
		MaxRetries: -1,
		// Redis 7.0 knows neither CLIENT SETINFO nor maintenance
		// notifications: skip both handshakes.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	r := &Redis{fsync: fsync, feeBps: feeBps, process: process, client: client}
	// Load the script once, so every Debit's EVALSHA finds it.
	if err := redisDebitScript.Load(ctx, client).Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("load the debit script: %w", err), r.Close())
	}
	return r, nil
}

// Name says which appendfsync policy the server runs with.
func (r *Redis) Name() string { return "redis-aof-" + r.fsync }

// Durable is true only for appendfsync always.
func (r *Redis) Durable() bool { return r.fsync == RedisFsyncAlways }

// Process returns the redis-server process.
func (r *Redis) Process() *Process { return r.process }

// Setup writes every account's balance.
func (r *Redis) Setup(ctx context.Context, consumers, suppliers int, funding uint64) error {
	if err := checkSetup(consumers, suppliers, funding); err != nil {
		return err
	}
	if r.consumers != 0 {
		return fmt.Errorf("%w: setup twice", engine.ErrInvalidState)
	}
	pairs := []any{redisFeeKey, 0}
	for i := range consumers {
		pairs = append(pairs, redisConsumerKey(i), funding)
		if len(pairs) >= 2*redisKeysPerCommand {
			if err := r.client.MSet(ctx, pairs...).Err(); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			pairs = pairs[:0]
		}
	}
	for i := range suppliers {
		pairs = append(pairs, redisSupplierKey(i), 0)
		if len(pairs) >= 2*redisKeysPerCommand {
			if err := r.client.MSet(ctx, pairs...).Err(); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			pairs = pairs[:0]
		}
	}
	if len(pairs) > 0 {
		if err := r.client.MSet(ctx, pairs...).Err(); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	r.consumers, r.suppliers = consumers, suppliers
	return nil
}

// Debit runs redisDebitScript.
func (r *Redis) Debit(ctx context.Context, idempotencyKey string, consumer, supplier int, amount uint64) error {
	if err := checkDebit(r.consumers, r.suppliers, consumer, supplier, amount); err != nil {
		return err
	}
	fee := baselineFee(amount, r.feeBps)
	keys := []string{"i:" + idempotencyKey, redisConsumerKey(consumer), redisSupplierKey(supplier), redisFeeKey}
	recorded := strconv.Itoa(consumer) + ":" + strconv.Itoa(supplier) + ":" + strconv.FormatUint(amount, 10)
	answer, err := redisDebitScript.Run(ctx, r.client, keys, amount, amount-fee, fee, recorded).Int64()
	if err != nil {
		return fmt.Errorf("%s debit: %w", r.Name(), err)
	}
	switch answer {
	case redisDebitApplied, redisDebitReplayed:
		return nil
	case redisDebitInsufficient:
		return ErrInsufficientFunds
	case redisDebitConflict:
		return ErrIdempotencyConflict
	}
	return fmt.Errorf("%s debit: unknown answer %d from the script", r.Name(), answer)
}

// Totals reads every balance; every key that is not an account is a
// recorded debit.
func (r *Redis) Totals(ctx context.Context) (consumers, suppliers, fees uint64, debits int, err error) {
	if consumers, err = r.sum(ctx, r.consumers, redisConsumerKey); err != nil {
		return 0, 0, 0, 0, err
	}
	if suppliers, err = r.sum(ctx, r.suppliers, redisSupplierKey); err != nil {
		return 0, 0, 0, 0, err
	}
	if fees, err = r.sum(ctx, 1, func(int) string { return redisFeeKey }); err != nil {
		return 0, 0, 0, 0, err
	}
	keys, err := r.client.DBSize(ctx).Result()
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("totals: %w", err)
	}
	return consumers, suppliers, fees, int(keys) - r.consumers - r.suppliers - 1, nil
}

// sum adds the balances of key(0)..key(n-1), which must all exist and be
// non-negative.
func (r *Redis) sum(ctx context.Context, n int, key func(int) string) (uint64, error) {
	var total uint64
	keys := make([]string, 0, redisKeysPerCommand)
	for start := 0; start < n; start += redisKeysPerCommand {
		keys = keys[:0]
		for i := start; i < min(start+redisKeysPerCommand, n); i++ {
			keys = append(keys, key(i))
		}
		values, err := r.client.MGet(ctx, keys...).Result()
		if err != nil {
			return 0, fmt.Errorf("totals: %w", err)
		}
		for i, value := range values {
			text, ok := value.(string)
			if !ok {
				return 0, fmt.Errorf("totals: %s missing", keys[i])
			}
			balance, err := strconv.ParseUint(text, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("totals: %s = %q, not a non-negative balance", keys[i], text)
			}
			total += balance
		}
	}
	return total, nil
}

// Close closes the client and stops the server.
func (r *Redis) Close() error {
	return errors.Join(r.client.Close(), r.process.Stop())
}

func redisConsumerKey(i int) string { return "c:" + strconv.Itoa(i) }
func redisSupplierKey(i int) string { return "s:" + strconv.Itoa(i) }
