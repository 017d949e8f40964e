package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, as "pgx"
	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store/redisstore"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// storeOpener opens the store -db names when twofactor.New runs (its
// Config.OpenStore), so that opening it shares the set-up's one error
// check; Service.Shutdown closes it.
type storeOpener struct {
	dsn, prefix, dataDir string
	now                  func() time.Time // the store's clock; nil: time.Now
	info                 string           // what OpenStore opened, for the start-up message
}

var _ twofactor.StoreOpener = (*storeOpener)(nil)

// OpenStore opens the store with openStore.
func (o *storeOpener) OpenStore(ctx context.Context) (twofactor.Store, error) {
	st, info, err := openStore(ctx, o.dsn, o.prefix, o.dataDir, o.now)
	if err != nil {
		return nil, err
	}
	o.info = info
	return st, nil
}

// sqlStore is a store over a database the app opened: closing it closes
// the database too.
type sqlStore struct {
	*sqlstore.Store
	db *sql.DB
}

func (s sqlStore) Close() error { return errors.Join(s.Store.Close(), s.db.Close()) }

// redisStore is a store over a Redis client the app opened: closing it
// closes the client.
type redisStore struct {
	*redisstore.Store
	rdb *redis.Client
}

func (s redisStore) Close() error { return s.rdb.Close() }

// openStore opens the store -db names (SQLite in dataDir when empty),
// creating or migrating SQL tables, and returns it with a description
// for the start-up message. Closing the store (an io.Closer) closes its
// database. now is the store's clock, the Service's (nil: time.Now).
func openStore(ctx context.Context, dsn, prefix, dataDir string, now func() time.Time) (twofactor.Store, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if dsn == "" {
		dsn = filepath.Join(dataDir, "webapp.db")
	}
	scheme, _, hasScheme := strings.Cut(dsn, "://")
	if !hasScheme || strings.ContainsAny(scheme, "/@():") {
		scheme = ""
	}
	switch scheme = strings.ToLower(scheme); {
	case scheme == "redis" || scheme == "rediss":
		opt, err := redis.ParseURL(dsn)
		if err != nil {
			return nil, "", errors.New("-db: not a Redis URL: want redis://[user:pass@]host:port[/db]")
		}
		rdb := redis.NewClient(opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, "", fmt.Errorf("-db: Redis at %s: %w", opt.Addr, err)
		}
		st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: now})
		if err != nil {
			rdb.Close()
			return nil, "", err
		}
		return redisStore{st, rdb}, "Redis at " + opt.Addr + ", keys " + st.Prefix() + "*", nil
	case scheme == "postgres" || scheme == "postgresql" || strings.Contains(dsn, "host=") || strings.Contains(dsn, "dbname="):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, "", errors.New("-db: not a PostgreSQL URL")
		}
		return openSQL(ctx, db, sqlstore.Postgres, prefix, "PostgreSQL", now)
	case scheme == "mysql" || scheme == "mariadb" || strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
		m := dsn
		if scheme != "" {
			var err error
			if m, err = sqlstore.MySQLDSN(dsn); err != nil {
				return nil, "", fmt.Errorf("-db: %w", err)
			}
		}
		cfg, err := mysql.ParseDSN(m)
		if err != nil {
			return nil, "", errors.New("-db: not a MySQL DSN: want mysql://user:pass@host:3306/db")
		}
		cfg.ParseTime = true
		cfg.MultiStatements = true
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return nil, "", err
		}
		return openSQL(ctx, db, sqlstore.MySQL, prefix, "MySQL", now)
	case scheme == "" || scheme == "sqlite" || scheme == "sqlite3" || scheme == "file":
		path := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(dsn, scheme+"://"), "sqlite:"), "file:")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, "", errors.New("-db: a SQLite database is a file path without ? or #")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, "", err
		}
		db, err := sqlite.Open(path)
		if err != nil {
			return nil, "", err
		}
		return openSQL(ctx, db, sqlstore.SQLite, prefix, "SQLite at "+path, now)
	default:
		return nil, "", fmt.Errorf("-db: unknown scheme %q: use postgres://, mysql://, redis://, or a SQLite file path", scheme)
	}
}

// sqlConns is the size of the connection pool of a PostgreSQL or MySQL
// store, kept open once made: database/sql keeps only two idle
// connections by default, so under concurrent sign-ins it would open and
// close a connection for most queries (a PostgreSQL backend process
// each), which the load test (make load) showed turning milliseconds into
// seconds. Bounded, so that several copies of the app stay under the
// server's limit (PostgreSQL's default is 100 connections).
const sqlConns = 20

// openSQL migrates the tables of db and returns the store over it.
func openSQL(ctx context.Context, db *sql.DB, d sqlstore.Dialect, prefix, what string, now func() time.Time) (twofactor.Store, string, error) {
	if d != sqlstore.SQLite { // sqlite.Open sizes its own pool: one connection
		db.SetMaxOpenConns(sqlConns)
		db.SetMaxIdleConns(sqlConns)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("-db: %s: %w", what, err)
	}
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: d, TablePrefix: prefix, Now: now})
	if err == nil {
		err = st.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, "", fmt.Errorf("-db: %s: %w", what, err)
	}
	return sqlStore{st, db}, what + ", tables " + st.TablePrefix() + "*", nil
}
