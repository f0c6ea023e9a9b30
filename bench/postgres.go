package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollway/tollway/engine"
)

const (
	// postgresBinaries is where Debian's postgresql-15 installs its server.
	postgresBinaries = "/usr/lib/postgresql/15/bin"
	// postgresConnectionsMax is the server's max_connections; a baseline
	// needs one per worker.
	postgresConnectionsMax = 300
	// postgresReservedConnections are max_connections the pool leaves free
	// (superuser_reserved_connections is 3).
	postgresReservedConnections = 3
	// postgresInitTimeout bounds initdb.
	postgresInitTimeout = 2 * time.Minute
	// postgresStopTimeout bounds an immediate shutdown.
	postgresStopTimeout = 10 * time.Second
	// postgresSuperuser is the database role initdb creates.
	postgresSuperuser = "postgres"
)

// postgresUnprivilegedUsers run the server when the benchmark is root, the
// first that exists: Debian's postgresql package creates "postgres".
var postgresUnprivilegedUsers = []string{"postgres", "nobody"}

// StartPostgres creates a cluster in dir/pgdata with initdb and starts
// PostgreSQL on 127.0.0.1, durable per commit (fsync on, synchronous_commit
// on, full_page_writes on). It returns once the server answers queries, with
// a DSN for its superuser, postgres, trusted without a password.
//
// PostgreSQL refuses to run as root: when the benchmark is root, initdb and
// the server run as the postgres user (else nobody), the data directory is
// given to that user, and dir and its ancestors get search permission for
// others (o+x, not read) if they lack it, so that user can reach the data
// directory.
func StartPostgres(ctx context.Context, dir string) (*Process, string, error) {
	initdb, postgres, err := postgresPaths()
	if err != nil {
		return nil, "", err
	}
	credential, err := postgresCredential()
	if err != nil {
		return nil, "", err
	}
	data := filepath.Join(dir, "pgdata")
	if err := preparePostgresDirectory(data, credential); err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(dir, "postgres.log")
	if err := runInitdb(ctx, initdb, data, logPath, credential); err != nil {
		return nil, "", err
	}
	process, port, err := startOnFreePort(ctx, func(port int) ProcessConfig {
		return ProcessConfig{
			Name: "postgres",
			Path: postgres,
			Args: []string{
				"-D", data,
				"-p", strconv.Itoa(port),
				"-c", "listen_addresses=127.0.0.1",
				// TCP only: a socket path under a deep temporary directory
				// can exceed the 107 bytes of sun_path.
				"-c", "unix_socket_directories=",
				"-c", "fsync=on",
				"-c", "synchronous_commit=on",
				"-c", "full_page_writes=on",
				"-c", "max_connections=" + strconv.Itoa(postgresConnectionsMax),
				"-c", "shared_buffers=256MB",
				// Room for a whole run's WAL, so no checkpoint is forced by
				// WAL volume in a measured window.
				"-c", "max_wal_size=4GB",
				"-c", "log_min_messages=warning",
			},
			Dir:     data,
			LogPath: logPath,
			// Immediate shutdown: the cluster is thrown away, so a shutdown
			// checkpoint would be wasted work.
			StopSignal:  syscall.SIGQUIT,
			StopTimeout: postgresStopTimeout,
			Credential:  credential,
		}
	})
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dsn := "postgres://" + postgresSuperuser + "@" + addr + "/postgres?sslmode=disable"
	if err := waitPostgresReady(ctx, process, dsn); err != nil {
		return nil, "", errors.Join(err, process.Stop())
	}
	return process, dsn, nil
}

// postgresPaths finds initdb and, beside it, the postgres of the same
// version: Debian's PostgreSQL 15 first, then PATH.
func postgresPaths() (initdb, postgres string, err error) {
	initdb = filepath.Join(postgresBinaries, "initdb")
	if _, err := os.Stat(initdb); err != nil {
		if initdb, err = exec.LookPath("initdb"); err != nil {
			return "", "", fmt.Errorf("initdb neither in %s nor in PATH: %w", postgresBinaries, ErrServerNotInstalled)
		}
	}
	// Debian links /usr/local/bin or /usr/bin entries to the versioned
	// directory; the server is beside the real initdb.
	if resolved, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = resolved
	}
	postgres = filepath.Join(filepath.Dir(initdb), "postgres")
	if _, err := os.Stat(postgres); err != nil {
		return "", "", fmt.Errorf("postgres not beside %s: %w", initdb, ErrServerNotInstalled)
	}
	return initdb, postgres, nil
}

// postgresCredential returns nil when the benchmark is not root, else the
// credential of an unprivileged user to run PostgreSQL as.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range postgresUnprivilegedUsers {
		account, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.ParseUint(account.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %s: uid %q: %w", name, account.Uid, err)
		}
		gid, err := strconv.ParseUint(account.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %s: gid %q: %w", name, account.Gid, err)
		}
		// No supplementary groups: the server needs none.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("postgres refuses to run as root and none of the users %v exists", postgresUnprivilegedUsers)
}

// preparePostgresDirectory creates the empty data directory and, when the
// server runs as another user, hands it over and makes it reachable.
func preparePostgresDirectory(data string, credential *syscall.Credential) error {
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return fmt.Errorf("postgres data directory: %w", err)
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("postgres data directory: %w", err)
	}
	if credential == nil {
		return nil
	}
	if err := os.Chown(data, int(credential.Uid), int(credential.Gid)); err != nil {
		return fmt.Errorf("postgres data directory: %w", err)
	}
	return allowSearch(filepath.Dir(data))
}

// allowSearch adds search permission for others to dir and each of its
// ancestors that lacks it.
func allowSearch(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("postgres data directory: %w", err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, info.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("postgres data directory: %w", err)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// runInitdb creates the cluster, trusting local connections.
func runInitdb(ctx context.Context, initdb, data, logPath string, credential *syscall.Credential) error {
	ctx, cancel := context.WithTimeout(ctx, postgresInitTimeout)
	defer cancel()
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	defer log.Close()
	command := exec.CommandContext(ctx, initdb,
		"-D", data, "--username="+postgresSuperuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C",
		// The cluster lives for one run; its server fsyncs every commit.
		"--no-sync", "--no-instructions")
	command.Dir = data
	command.Stdout = log
	command.Stderr = log
	command.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: credential}
	// initdb runs postgres in bootstrap mode as its child: a cancelled
	// context kills its whole group.
	command.Cancel = func() error { return syscall.Kill(-command.Process.Pid, syscall.SIGKILL) }
	if err := command.Run(); err != nil {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > logTailBytes {
			tail = tail[len(tail)-logTailBytes:]
		}
		return fmt.Errorf("initdb %s: %w\n%s", data, err, tail)
	}
	return nil
}

// waitPostgresReady connects until the server answers: it accepts TCP
// connections before it has finished starting up.
func waitPostgresReady(ctx context.Context, process *Process, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		connection, err := pgx.Connect(ctx, dsn)
		if err == nil {
			return connection.Close(ctx)
		}
		select {
		case <-process.Exited():
			return fmt.Errorf("postgres %w%s", errExited, process.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %v: %w%s", serverStartTimeout, err, process.logTail())
		case <-ticker.C:
		}
	}
}

// Account ids of the Postgres baseline: the fee account, then the
// consumers, then the suppliers.
const postgresFeeAccount = 0

const (
	postgresSchema = `
CREATE TABLE accounts (
	id int PRIMARY KEY,
	balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE ledger (
	idempotency_key text PRIMARY KEY,
	consumer int NOT NULL,
	supplier int NOT NULL,
	amount bigint NOT NULL,
	fee bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
)`
	// $1 consumers, $2 suppliers, $3 funding.
	postgresFund = `
INSERT INTO accounts (id, balance)
SELECT g, CASE WHEN g BETWEEN 1 AND $1::int THEN $3::bigint ELSE 0 END
FROM generate_series(0, $1::int + $2::int) AS g`
	postgresRecord = `
INSERT INTO ledger (idempotency_key, consumer, supplier, amount, fee)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING`
	postgresRecorded = `SELECT consumer, supplier, amount FROM ledger WHERE idempotency_key = $1`
	postgresDebit    = `UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1`
	postgresCredit   = `UPDATE accounts SET balance = balance + $1 WHERE id = $2`
	// $1 consumers.
	postgresTotals = `
SELECT coalesce(sum(balance) FILTER (WHERE id BETWEEN 1 AND $1::int), 0)::bigint,
       coalesce(sum(balance) FILTER (WHERE id > $1::int), 0)::bigint,
       coalesce(sum(balance) FILTER (WHERE id = 0), 0)::bigint,
       count(*) FILTER (WHERE balance < 0)
FROM accounts`
	postgresDebits = `SELECT count(*) FROM ledger`
)

// Postgres is the usual SQL stack: a ledger table with a unique idempotency
// key and an accounts table, the debit as one transaction through pgx.
type Postgres struct {
	feeBps  uint32
	process *Process
	pool    *postgresPool

	// Written by Setup before any Debit.
	consumers, suppliers int
}

var _ Baseline = (*Postgres)(nil)

// NewPostgresBaseline starts PostgreSQL in dir and opens one connection per
// worker.
func NewPostgresBaseline(ctx context.Context, dir string, workers int, feeBps uint32) (Baseline, error) {
	if err := checkBaselineOptions(workers, feeBps); err != nil {
		return nil, err
	}
	if workers > postgresConnectionsMax-postgresReservedConnections {
		return nil, fmt.Errorf("%w: %d workers, above PostgreSQL's %d connections", engine.ErrInvalid,
			workers, postgresConnectionsMax-postgresReservedConnections)
	}
	process, dsn, err := StartPostgres(ctx, dir)
	if err != nil {
		return nil, err
	}
	pool, err := openPostgresPool(ctx, dsn, workers)
	if err != nil {
		return nil, errors.Join(err, process.Stop())
	}
	return &Postgres{feeBps: feeBps, process: process, pool: pool}, nil
}

// Name is "postgres".
func (p *Postgres) Name() string { return "postgres" }

// Durable is true: every commit is fsynced before it is acknowledged.
func (p *Postgres) Durable() bool { return true }

// Process returns the postmaster; its backends are its children.
func (p *Postgres) Process() *Process { return p.process }

// Setup creates the tables and the accounts.
func (p *Postgres) Setup(ctx context.Context, consumers, suppliers int, funding uint64) error {
	if err := checkSetup(consumers, suppliers, funding); err != nil {
		return err
	}
	if p.consumers != 0 {
		return fmt.Errorf("%w: setup twice", engine.ErrInvalidState)
	}
	err := p.pool.with(ctx, func(connection *pgx.Conn) error {
		if _, err := connection.Exec(ctx, postgresSchema); err != nil {
			return fmt.Errorf("postgres schema: %w", err)
		}
		if _, err := connection.Exec(ctx, postgresFund, consumers, suppliers, int64(funding)); err != nil {
			return fmt.Errorf("postgres accounts: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.consumers, p.suppliers = consumers, suppliers
	return nil
}

// Debit is one transaction: record the key (a conflict is a replay), debit
// the consumer only if it can pay, credit the supplier and the fee account.
// Every transaction locks the key, then a consumer, then a supplier, then
// the fee account, so two debits cannot deadlock.
func (p *Postgres) Debit(ctx context.Context, idempotencyKey string, consumer, supplier int, amount uint64) error {
	if err := checkDebit(p.consumers, p.suppliers, consumer, supplier, amount); err != nil {
		return err
	}
	fee := baselineFee(amount, p.feeBps)
	consumerID, supplierID := 1+consumer, 1+p.consumers+supplier
	err := p.pool.with(ctx, func(connection *pgx.Conn) error {
		return pgx.BeginFunc(ctx, connection, func(tx pgx.Tx) error {
			return p.debit(ctx, tx, idempotencyKey, consumerID, supplierID, amount, fee)
		})
	})
	if err != nil && !errors.Is(err, ErrInsufficientFunds) && !errors.Is(err, ErrIdempotencyConflict) {
		return fmt.Errorf("postgres debit: %w", err)
	}
	return err
}

// debit is the transaction's body; an error rolls it back.
func (p *Postgres) debit(ctx context.Context, tx pgx.Tx, idempotencyKey string, consumerID, supplierID int, amount, fee uint64) error {
	tag, err := tx.Exec(ctx, postgresRecord, idempotencyKey, consumerID, supplierID, int64(amount), int64(fee))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return postgresReplay(ctx, tx, idempotencyKey, consumerID, supplierID, amount)
	}
	if tag, err = tx.Exec(ctx, postgresDebit, int64(amount), consumerID); err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrInsufficientFunds // and the ledger row goes with the rollback
	}
	if _, err := tx.Exec(ctx, postgresCredit, int64(amount-fee), supplierID); err != nil {
		return err
	}
	if fee == 0 {
		return nil // as in Redis: a zero fee does not lock the hot fee row
	}
	_, err = tx.Exec(ctx, postgresCredit, int64(fee), postgresFeeAccount)
	return err
}

// postgresReplay compares a recorded debit with a new one under its key.
// The INSERT that conflicted waited for the recording transaction to
// commit, so this statement's snapshot sees its row.
func postgresReplay(ctx context.Context, tx pgx.Tx, idempotencyKey string, consumerID, supplierID int, amount uint64) error {
	var recordedConsumer, recordedSupplier int
	var recordedAmount int64
	err := tx.QueryRow(ctx, postgresRecorded, idempotencyKey).Scan(&recordedConsumer, &recordedSupplier, &recordedAmount)
	if err != nil {
		return err
	}
	if recordedConsumer != consumerID || recordedSupplier != supplierID || uint64(recordedAmount) != amount {
		return ErrIdempotencyConflict
	}
	return nil
}

// Totals sums the balances by role and counts the ledger rows.
func (p *Postgres) Totals(ctx context.Context) (consumers, suppliers, fees uint64, debits int, err error) {
	var consumerSum, supplierSum, feeSum, negative, rows int64
	err = p.pool.with(ctx, func(connection *pgx.Conn) error {
		err := connection.QueryRow(ctx, postgresTotals, p.consumers).Scan(&consumerSum, &supplierSum, &feeSum, &negative)
		if err != nil {
			return err
		}
		return connection.QueryRow(ctx, postgresDebits).Scan(&rows)
	})
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("postgres totals: %w", err)
	}
	if negative != 0 || consumerSum < 0 || supplierSum < 0 || feeSum < 0 {
		return 0, 0, 0, 0, fmt.Errorf("postgres totals: %d negative balances", negative)
	}
	return uint64(consumerSum), uint64(supplierSum), uint64(feeSum), int(rows), nil
}

// Close closes the connections and stops the server.
// REQUIRES: no Debit in flight.
func (p *Postgres) Close() error {
	return errors.Join(p.pool.close(), p.process.Stop())
}

// postgresPool is a fixed set of connections, one per worker, opened before
// the run so no backend is forked inside a measured window.
//
// NB: pgxpool would do, but it needs github.com/jackc/puddle/v2 listed in
// go.mod, which this change may not edit; a channel of connections is all a
// closed-loop benchmark needs.
type postgresPool struct {
	dsn         string
	connections chan *pgx.Conn // nil entries are connections to reopen
}

func openPostgresPool(ctx context.Context, dsn string, size int) (*postgresPool, error) {
	pool := &postgresPool{dsn: dsn, connections: make(chan *pgx.Conn, size)}
	for range size {
		connection, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("postgres connect: %w", err), pool.close())
		}
		pool.connections <- connection
	}
	return pool, nil
}

// with runs f on a connection of its own, waiting for one to be free, and
// reopens a connection that an earlier error closed.
func (pool *postgresPool) with(ctx context.Context, f func(*pgx.Conn) error) error {
	var connection *pgx.Conn
	select {
	case connection = <-pool.connections:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { pool.connections <- connection }()
	if connection == nil || connection.IsClosed() {
		var err error
		if connection, err = pgx.Connect(ctx, pool.dsn); err != nil {
			return fmt.Errorf("postgres reconnect: %w", err)
		}
	}
	return f(connection)
}

// close closes every connection. REQUIRES: none in use.
func (pool *postgresPool) close() error {
	var errs []error
	for {
		select {
		case connection := <-pool.connections:
			if connection != nil {
				ctx, cancel := context.WithTimeout(context.Background(), postgresStopTimeout)
				errs = append(errs, connection.Close(ctx))
				cancel()
			}
		default:
			return errors.Join(errs...)
		}
	}
}
