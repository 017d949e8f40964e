package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // MySQL and MariaDB
	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

func init() {
	commands["migrate"] = command{summary: "create or upgrade the SQL store's tables", run: runMigrate}
}

const migrateHelp = `usage: twofactor migrate --db DSN [--dialect sqlite|postgres|mysql] [--prefix P] [--timeout D]

Creates or upgrades the tables of the SQL store (package store/sqlstore) to
the latest schema version. Running it again is a no-op, and it is safe while
app instances start and migrate at the same time: a database lock makes
each migration run once. A SQLite file is created if missing. A Redis store
needs no migration: for redis:// the command only checks that it answers.

` + dbForms + `

Example:
  twofactor migrate --db postgres://app@db.internal:5432/app

Exit status: 0 migrated (or already up to date), 1 the migration failed,
2 bad usage or input, 3 the database is unreachable.

flags:`

func runMigrate(e *env, args []string) int {
	const prefix = "twofactor migrate"
	fs := flag.NewFlagSet(prefix, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("db", "", "the store (see above); default $"+dbEnv)
	dialect := fs.String("dialect", "", "sqlite, postgres or mysql; inferred from --db when empty")
	tablePrefix := fs.String("prefix", "", "table-name prefix, [a-z_][a-z0-9_]{0,31} (default "+sqlstore.DefaultTablePrefix+"), or Redis key prefix")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fail := func(status int, err error) int {
		fmt.Fprintf(e.stderr, "%s: %s\n", prefix, oneLine(err))
		return status
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.stdout, migrateHelp)
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			return exitOK
		}
		return fail(exitUsage, err)
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *timeout <= 0 {
		return fail(exitUsage, errors.New("--timeout must be positive"))
	}
	if *dsn == "" {
		*dsn = e.getenv(dbEnv)
	}
	target, err := parseStoreTarget(*dsn, *dialect)
	if err != nil {
		return fail(exitUsage, err)
	}
	if err := checkPrefix(target, *tablePrefix); err != nil {
		return fail(exitUsage, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if target.redis != nil {
		rdb := redis.NewClient(target.redis)
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fail(exitStore, fmt.Errorf("redis at %s: %w", target.redis.Addr, err))
		}
		fmt.Fprintf(e.stdout, "redis at %s answers; a Redis store needs no migration\n", target.redis.Addr)
		return exitOK
	}
	var db *sql.DB
	if target.dialect == sqlstore.SQLite {
		db, err = sqlite.Open(target.dsn)
	} else {
		db, err = sql.Open(target.driver, target.dsn)
	}
	if err != nil {
		return fail(exitStore, err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fail(exitStore, err)
	}
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: target.dialect, TablePrefix: *tablePrefix, SweepInterval: -1})
	if err != nil {
		return fail(exitUsage, err)
	}
	defer st.Close()
	before, err := st.Version(ctx)
	if err != nil {
		return fail(exitNegative, err)
	}
	if err := st.Migrate(ctx); err != nil {
		return fail(exitNegative, err)
	}
	after, err := st.Version(ctx)
	if err != nil {
		return fail(exitNegative, err)
	}
	if before == after {
		fmt.Fprintf(e.stdout, "%s tables %s* already at schema version %d\n", target.dialect, st.TablePrefix(), after)
	} else {
		fmt.Fprintf(e.stdout, "%s tables %s* migrated from schema version %d to %d\n", target.dialect, st.TablePrefix(), before, after)
	}
	return exitOK
}

// oneLine is err's message on one line: the lines of a joined error are
// separated by "; ".
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
