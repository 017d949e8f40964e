package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL
	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/redisstore"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// dbEnv names the store when --db is not given.
const dbEnv = "TWOFACTOR_DB"

// dbForms is the help text on the forms --db takes.
const dbForms = `--db takes the store in one of these forms (default $TWOFACTOR_DB); a SQL
dialect is inferred from it unless --dialect is given:
  postgres://user:pass@host:5432/db?sslmode=disable   PostgreSQL (also postgresql://,
                                                      or key=value pairs with --dialect postgres)
  mysql://user:pass@host:3306/db                      MySQL or MariaDB
  user:pass@tcp(host:3306)/db                         MySQL, go-sql-driver form
  sqlite:path/to/file.db, file:path/to/file.db,
  or a plain file path                                SQLite
  redis://[user:pass@]host:6379[/db]                  Redis (package store/redisstore)
  rediss://[user:pass@]host:6380[/db]                 Redis over TLS`

// storeTarget is a store a command opens: a SQL database or a Redis
// server.
type storeTarget struct {
	dialect sqlstore.Dialect // SQL dialect; "" for Redis
	driver  string           // database/sql driver name; "" for SQLite via the sqlite package
	dsn     string           // driver DSN, or the SQLite file path
	redis   *redis.Options   // set for Redis
}

func (t storeTarget) String() string {
	if t.redis != nil {
		return "redis"
	}
	return string(t.dialect)
}

// parseStoreTarget reads --db and --dialect. It never echoes a password:
// errors name the scheme or the problem, not the DSN.
func parseStoreTarget(dsn, dialect string) (storeTarget, error) {
	if strings.TrimSpace(dsn) == "" {
		return storeTarget{}, errors.New("--db is required (a postgres://, mysql:// or redis:// URL, or a SQLite file path)")
	}
	var d sqlstore.Dialect
	if dialect != "" {
		var err error
		if d, err = sqlstore.ParseDialect(dialect); err != nil {
			return storeTarget{}, fmt.Errorf("--dialect %q: want sqlite, postgres or mysql", dialect)
		}
	}
	scheme, rest, hasScheme := strings.Cut(dsn, "://")
	if !hasScheme || strings.ContainsAny(scheme, "/@():") {
		scheme, rest = "", dsn
	}
	scheme = strings.ToLower(scheme)
	if scheme == "redis" || scheme == "rediss" {
		if d != "" {
			return storeTarget{}, errors.New("--dialect is for SQL databases, not redis://")
		}
		opt, err := redis.ParseURL(dsn)
		if err != nil {
			return storeTarget{}, fmt.Errorf("--db: not a Redis URL (%s): want %s://[user:pass@]host:port[/db]", redisReason(err), scheme)
		}
		return storeTarget{redis: opt}, nil
	}
	if d == "" {
		switch {
		case scheme == "postgres" || scheme == "postgresql":
			d = sqlstore.Postgres
		case scheme == "mysql" || scheme == "mariadb":
			d = sqlstore.MySQL
		case scheme == "sqlite" || scheme == "sqlite3" || scheme == "file":
			d = sqlstore.SQLite
		case scheme != "":
			return storeTarget{}, fmt.Errorf("--db: unknown scheme %q: use postgres://, mysql://, redis://, or a SQLite file path", scheme)
		case strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
			d = sqlstore.MySQL
		case strings.Contains(dsn, "host=") || strings.Contains(dsn, "dbname="):
			d = sqlstore.Postgres
		default:
			d = sqlstore.SQLite
		}
	}
	switch d {
	case sqlstore.Postgres:
		if _, err := pgx.ParseConfig(dsn); err != nil {
			return storeTarget{}, fmt.Errorf("--db: not a PostgreSQL URL or key=value DSN (%s)", pgReason(err))
		}
		return storeTarget{dialect: d, driver: "pgx", dsn: dsn}, nil
	case sqlstore.MySQL:
		m := dsn
		if scheme != "" {
			var err error
			if m, err = sqlstore.MySQLDSN(dsn); err != nil {
				return storeTarget{}, fmt.Errorf("--db: %w", err)
			}
		}
		if _, err := mysql.ParseDSN(m); err != nil {
			return storeTarget{}, fmt.Errorf("--db: not a MySQL DSN (%s)", strings.TrimPrefix(err.Error(), "invalid DSN: "))
		}
		return storeTarget{dialect: d, driver: "mysql", dsn: m}, nil
	default:
		path := dsn
		switch {
		case scheme == "sqlite" || scheme == "sqlite3" || scheme == "file":
			path = rest
		case strings.HasPrefix(dsn, "sqlite:"):
			path = strings.TrimPrefix(dsn, "sqlite:")
		case strings.HasPrefix(dsn, "file:"):
			path = strings.TrimPrefix(dsn, "file:")
		}
		if path == "" || strings.ContainsAny(path, "?#") {
			return storeTarget{}, errors.New("--db: a SQLite database is a file path without ? or #")
		}
		return storeTarget{dialect: d, dsn: path}, nil
	}
}

// pgReason is what pgx says is wrong with a DSN, without the DSN it
// quotes (with the password masked, but the user and host shown).
func pgReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// redisReason is what go-redis says is wrong with a URL, without the URL
// that url.Parse quotes in its errors.
func redisReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return strings.TrimPrefix(err.Error(), "redis: ")
}

// checkPrefix checks --prefix for the target: a table-name prefix for SQL,
// a key prefix for Redis. Empty means the store's default.
func checkPrefix(t storeTarget, prefix string) error {
	if prefix == "" {
		return nil
	}
	if t.redis != nil {
		if strings.ContainsAny(prefix, "{}") || len(prefix) > 128 {
			return fmt.Errorf("--prefix %q: a Redis key prefix is at most 128 bytes without { or }", prefix)
		}
		return nil
	}
	if err := sqlstore.CheckTablePrefix(prefix); err != nil {
		return fmt.Errorf("--prefix %q: a table prefix matches [a-z_][a-z0-9_]{0,31}", prefix)
	}
	return nil
}

// openedStore is a store a command opened, and how to close it.
type openedStore struct {
	store.Store
	close func()
}

// openStore opens the store at t and checks, within timeout, that it
// answers and, for SQL, that its tables are at the schema version this
// command knows. It creates nothing: a SQLite file that does not exist is
// bad input. Errors are *exitError values: exitStore when the store does
// not answer, exitUsage when it is not a usable store.
func openStore(ctx context.Context, t storeTarget, prefix string, timeout time.Duration) (*openedStore, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.redis != nil {
		opt := *t.redis
		if opt.DialTimeout == 0 || opt.DialTimeout > timeout {
			opt.DialTimeout = timeout
		}
		rdb := redis.NewClient(&opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, storeDown(fmt.Errorf("redis at %s: %w", opt.Addr, err))
		}
		st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
		if err != nil {
			rdb.Close()
			return nil, usageErr(err)
		}
		return &openedStore{Store: st, close: func() { rdb.Close() }}, nil
	}
	var db *sql.DB
	var err error
	if t.dialect == sqlstore.SQLite {
		if _, serr := os.Stat(t.dsn); serr != nil {
			return nil, usageErrf("--db: no SQLite database at %s (twofactor migrate creates one)", t.dsn)
		}
		db, err = sqlite.Open(t.dsn)
	} else {
		db, err = sql.Open(t.driver, t.dsn)
	}
	if err != nil {
		return nil, storeDown(err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, storeDown(fmt.Errorf("%s: %w", t.dialect, err))
	}
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: t.dialect, TablePrefix: prefix, SweepInterval: -1})
	if err != nil {
		db.Close()
		return nil, usageErr(err)
	}
	closeAll := func() { st.Close(); db.Close() }
	v, err := st.Version(ctx)
	if err != nil {
		closeAll()
		return nil, storeDown(err)
	}
	switch latest := sqlstore.LatestVersion(); {
	case v == 0:
		closeAll()
		return nil, usageErrf("--db: no twofactor tables named %s* in this %s database: check --db and --prefix", st.TablePrefix(), t.dialect)
	case v < latest:
		closeAll()
		return nil, usageErrf("--db: the tables are at schema version %d, this command needs %d: run twofactor migrate first", v, latest)
	case v > latest:
		closeAll()
		return nil, usageErrf("--db: the tables are at schema version %d, newer than this command knows (%d): use a newer twofactor command", v, latest)
	}
	return &openedStore{Store: st, close: closeAll}, nil
}

// quietRedis drops go-redis's own log lines (failed dials, pool
// messages): a command reports the store's errors itself, on one line.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }
