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
	migrate := migrateSQL
	if target.redis != nil {
		migrate = pingRedis
	}
	msg, status, err := migrate(ctx, target, *tablePrefix)
	if err != nil {
		return fail(status, err)
	}
	fmt.Fprintln(e.stdout, msg)
	return exitOK
}

// pingRedis checks that the Redis server at t answers: a Redis store needs
// no migration. It returns what to print, or the exit status and error.
func pingRedis(ctx context.Context, t storeTarget, _ string) (string, int, error) {
	rdb := redis.NewClient(t.redis)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return "", exitStore, fmt.Errorf("redis at %s: %w", t.redis.Addr, err)
	}
	return fmt.Sprintf("redis at %s answers; a Redis store needs no migration", t.redis.Addr), exitOK, nil
}

// migrateSQL creates or upgrades the tables of the SQL store at t. It
// returns what to print, or the exit status and error.
func migrateSQL(ctx context.Context, t storeTarget, tablePrefix string) (string, int, error) {
	var db *sql.DB
	var err error
	if t.dialect == sqlstore.SQLite {
		db, err = sqlite.Open(t.dsn)
	} else {
		db, err = sql.Open(t.driver, t.dsn)
	}
	if err != nil {
		return "", exitStore, err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return "", exitStore, err
	}
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: t.dialect, TablePrefix: tablePrefix, SweepInterval: -1})
	if err != nil {
		return "", exitUsage, err
	}
	defer st.Close()
	before, err := st.Version(ctx)
	if err != nil {
		return "", exitNegative, err
	}
	if err := st.Migrate(ctx); err != nil {
		return "", exitNegative, err
	}
	after, err := st.Version(ctx)
	if err != nil {
		return "", exitNegative, err
	}
	if before == after {
		return fmt.Sprintf("%s tables %s* already at schema version %d", t.dialect, st.TablePrefix(), after), exitOK, nil
	}
	return fmt.Sprintf("%s tables %s* migrated from schema version %d to %d", t.dialect, st.TablePrefix(), before, after), exitOK, nil
}

// oneLine is err's message on one line: the lines of a joined error are
// separated by "; ".
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
