// Package pg opens the PostgreSQL pool, applies the embedded migrations, and runs transactions,
// retrying the ones that lost a race for a unique identity.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"

	"github.com/wazapin/wazapin/db"
)

// Plans says how a pool's sessions plan prepared statements.
type Plans int

const (
	// GenericPlans plans each statement once. The hot queries are key lookups whose plan does
	// not depend on the values; left to choose, PostgreSQL re-plans those that take arrays
	// (resolve, upsert) on every execution, because a plan for arrays of known length looks
	// cheaper than one for any length, which costs it several times the execution.
	GenericPlans Plans = iota
	// CustomPlans leaves PostgreSQL to plan executions for their values when that pays (its
	// default), for statements whose best plan depends on them: the staging tables of an
	// import. PostgreSQL may still settle on the generic plan after five executions; a
	// statement that must be planned for its values every time goes through OneShot.
	CustomPlans
)

// DefaultConnectTimeout bounds connecting when the URL sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Open connects a pool to url. Without an explicit pool_max_conns in the URL, the pool is sized
// for the machine: a few connections per core keep PostgreSQL busy without thrashing it.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return OpenWith(ctx, url, GenericPlans)
}

// OpenWith is Open with a choice of plans.
func OpenWith(ctx context.Context, url string, plans Plans) (*pgxpool.Pool, error) {
	cfg, err := Config(url, plans)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig connects a pool configured by Config and perhaps adjusted, and checks that the
// database answers.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// Config is the pool configuration OpenWith connects with. Session settings given as URL
// parameters (plan_cache_mode=…, jit=…) are kept; ones given in an options=-c … parameter are
// overridden by these defaults, which pgx sends as parameters of their own.
func Config(url string, plans Plans) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without a bound, connecting to a host that drops packets waits for the kernel's
		// TCP timeout, minutes, and so does every request that needs a new connection.
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(4, 4*runtime.GOMAXPROCS(0)))
	}
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = map[Plans]string{GenericPlans: "force_generic_plan", CustomPlans: "auto"}[plans]
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		// A generic plan's cost estimate can pass JIT's threshold for a cheap statement, which
		// then compiles at every execution; no statement here gains from JIT (measurements in
		// docs/PERFORMANCE.md, "Why the statements are written as they are").
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerUUID(c.TypeMap())
		return nil
	}
	return cfg, nil
}

// Migrate moves the schema of the database at url up to the newest migration, or down by steps
// when steps is negative.
func Migrate(url string, steps int) error {
	src, err := iofs.New(db.Migrations, "migrations")
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	drv, err := migratepgx.WithInstance(sqlDB, &migratepgx.Config{})
	if err != nil {
		return fmt.Errorf("open migrations driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return err
	}
	defer m.Close()
	if steps == 0 {
		err = m.Up()
	} else {
		err = m.Steps(steps)
	}
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	return err
}

// ErrRetry asks WithTx to run the transaction again from the start: the data it decided on
// changed under it (typically an identity another request inserted first).
var ErrRetry = errors.New("transaction lost a race; retry")

// ErrContended is returned when a transaction lost its race too many times in a row.
var ErrContended = errors.New("too much contention on the same identities; try again")

const maxAttempts = 10

// Beginner starts transactions: a pool, or a transaction (which then starts a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithTx runs fn in a transaction of db, committing when it returns nil; in a transaction db, fn
// runs in a savepoint of it instead. A transaction that fails with ErrRetry, a unique violation,
// a deadlock or a serialization failure is rolled back and run again, a bounded number of times
// (see Retry).
func WithTx(ctx context.Context, db Beginner, fn func(pgx.Tx) error) error {
	return Retry(ctx, func() error { return pgx.BeginFunc(ctx, db, fn) })
}

// Retry runs attempt, a whole transaction, until it does not fail with ErrRetry, a unique
// violation, a deadlock or a serialization failure, a bounded number of times: each of those
// means it raced another transaction, and running it again decides from the data as it is now.
func Retry(ctx context.Context, attempt func() error) error {
	for n := range maxAttempts {
		if n > 0 {
			// The winners of the race are committing; running again at once would meet them
			// still at it. A random wait, doubling up to ~40 ms, lets a long transaction (an
			// import) get its turn among short ones that keep taking the same identities.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) << min(n, 6)))):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := attempt()
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrRetry) && !Raced(err) {
			return err
		}
	}
	return ErrContended
}

// Raced tells whether err means a statement lost a race with another transaction (a unique
// violation, a deadlock or a serialization failure), so that deciding again may succeed.
func Raced(err error) bool {
	switch sqlState(err) {
	case "23505", "40P01", "40001": // unique_violation, deadlock_detected, serialization_failure
		return true
	}
	return false
}

// IsForeignKeyViolation tells whether err is PostgreSQL's foreign_key_violation; for rows that
// hang off a contact it means the contact is gone.
func IsForeignKeyViolation(err error) bool {
	return sqlState(err) == "23503"
}

// IsUnstorableText tells whether PostgreSQL refused text it cannot hold, such as a NUL character
// in a query parameter.
func IsUnstorableText(err error) bool {
	switch sqlState(err) {
	case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
		return true
	}
	return false
}

// Unavailable tells whether err means the database could not be reached or is not serving:
// connecting failed, the connection broke, or the server is starting, shutting down or out of
// connections. Such a request may succeed if sent again shortly.
func Unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	switch code := sqlState(err); {
	case strings.HasPrefix(code, "08"): // connection_exception
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	case code == "53300": // too_many_connections
		return true
	case code != "":
		return false // the server answered this statement
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) || pgconn.SafeToRetry(err)
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// OneShotPool is a pool whose statements are planned for their values on every execution.
type OneShotPool struct{ *pgxpool.Pool }

// OneShot sends pool's statements as unnamed ones (their descriptions cached, still one round
// trip each), which PostgreSQL plans anew for the values bound at every execution. Searches need
// that: a generic plan cannot turn a prefix into an index range (docs/PERFORMANCE.md). Sessions
// that force generic plans force them on unnamed statements too, so pool is a CustomPlans one.
func OneShot(pool *pgxpool.Pool) OneShotPool { return OneShotPool{pool} }

func oneShot(args []any) []any { return append([]any{pgx.QueryExecModeCacheDescribe}, args...) }

// Exec runs sql as an unnamed statement.
func (p OneShotPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return p.Pool.Exec(ctx, sql, oneShot(args)...)
}

// Query runs sql as an unnamed statement.
func (p OneShotPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return p.Pool.Query(ctx, sql, oneShot(args)...)
}

// QueryRow runs sql as an unnamed statement.
func (p OneShotPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return p.Pool.QueryRow(ctx, sql, oneShot(args)...)
}

// ReplicaRefused tells whether a read that failed on a streaming replica would be served by its
// primary: the replica could not be reached or is not serving (Unavailable), it cancelled the
// read for a conflict with the WAL it replays, or its database was dropped meanwhile by the
// primary, or the statement tried to write.
func ReplicaRefused(err error) bool {
	switch sqlState(err) {
	case "40001", "57P04", "25006": // serialization_failure (a recovery conflict), database_dropped, read_only_sql_transaction
		return true
	}
	return Unavailable(err)
}
