package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // MySQL and MariaDB
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL

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
each migration run once.

--db takes the database in one of these forms; the dialect is inferred
from it unless --dialect is given:
  postgres://user:pass@host:5432/db?sslmode=disable   PostgreSQL (also postgresql://,
                                                      or key=value pairs with --dialect postgres)
  mysql://user:pass@host:3306/db                      MySQL or MariaDB
  user:pass@tcp(host:3306)/db                         MySQL, go-sql-driver form
  sqlite:path/to/file.db, file:path/to/file.db,
  or a plain file path                                SQLite (created if missing)

Exit status: 0 migrated (or already up to date), 1 the database failed,
2 bad usage or input.

flags:`

// migrateTarget is a database the migrate command opens.
type migrateTarget struct {
	dialect sqlstore.Dialect
	driver  string // database/sql driver name; "" for SQLite via the sqlite package
	dsn     string // driver DSN, or the SQLite file path
}

func runMigrate(args []string, stdout, stderr io.Writer) int {
	const prefix = "twofactor migrate"
	fs := flag.NewFlagSet(prefix, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("db", "", "the database (see above); required")
	dialect := fs.String("dialect", "", "sqlite, postgres or mysql; inferred from --db when empty")
	tablePrefix := fs.String("prefix", sqlstore.DefaultTablePrefix, "table-name prefix, [a-z_][a-z0-9_]{0,31}")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fail := func(status int, err error) int {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
		return status
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, migrateHelp)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return fail(2, err)
	}
	if fs.NArg() > 0 {
		return fail(2, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *timeout <= 0 {
		return fail(2, errors.New("--timeout must be positive"))
	}
	target, err := parseMigrateTarget(*dsn, *dialect)
	if err != nil {
		return fail(2, err)
	}
	if err := sqlstore.CheckTablePrefix(*tablePrefix); err != nil {
		return fail(2, err)
	}
	var db *sql.DB
	if target.dialect == sqlstore.SQLite {
		db, err = sqlite.Open(target.dsn)
	} else {
		db, err = sql.Open(target.driver, target.dsn)
	}
	if err != nil {
		return fail(2, err)
	}
	defer db.Close()
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: target.dialect, TablePrefix: *tablePrefix})
	if err != nil {
		return fail(2, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	before, err := st.Version(ctx)
	if err != nil {
		return fail(1, err)
	}
	if err := st.Migrate(ctx); err != nil {
		return fail(1, err)
	}
	after, err := st.Version(ctx)
	if err != nil {
		return fail(1, err)
	}
	if before == after {
		fmt.Fprintf(stdout, "%s tables %s* already at schema version %d\n", target.dialect, *tablePrefix, after)
	} else {
		fmt.Fprintf(stdout, "%s tables %s* migrated from schema version %d to %d\n", target.dialect, *tablePrefix, before, after)
	}
	return 0
}

// parseMigrateTarget reads --db and --dialect. It never echoes a password:
// errors name the scheme or the problem, not the DSN.
func parseMigrateTarget(dsn, dialect string) (migrateTarget, error) {
	if strings.TrimSpace(dsn) == "" {
		return migrateTarget{}, errors.New("--db is required (a postgres:// or mysql:// URL, or a SQLite file path)")
	}
	var d sqlstore.Dialect
	if dialect != "" {
		var err error
		if d, err = sqlstore.ParseDialect(dialect); err != nil {
			return migrateTarget{}, fmt.Errorf("--dialect %q: want sqlite, postgres or mysql", dialect)
		}
	}
	scheme, rest, hasScheme := strings.Cut(dsn, "://")
	if !hasScheme || strings.ContainsAny(scheme, "/@():") {
		scheme, rest = "", dsn
	}
	scheme = strings.ToLower(scheme)
	if d == "" {
		switch {
		case scheme == "postgres" || scheme == "postgresql":
			d = sqlstore.Postgres
		case scheme == "mysql" || scheme == "mariadb":
			d = sqlstore.MySQL
		case scheme == "sqlite" || scheme == "sqlite3" || scheme == "file":
			d = sqlstore.SQLite
		case scheme != "":
			return migrateTarget{}, fmt.Errorf("--db: unknown scheme %q: use postgres://, mysql://, or a SQLite file path", scheme)
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
		return migrateTarget{dialect: d, driver: "pgx", dsn: dsn}, nil
	case sqlstore.MySQL:
		if scheme == "" {
			return migrateTarget{dialect: d, driver: "mysql", dsn: dsn}, nil
		}
		m, err := mysqlURL(dsn)
		if err != nil {
			return migrateTarget{}, err
		}
		return migrateTarget{dialect: d, driver: "mysql", dsn: m}, nil
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
			return migrateTarget{}, errors.New("--db: a SQLite database is a file path without ? or #")
		}
		return migrateTarget{dialect: d, dsn: path}, nil
	}
}

// mysqlURL turns mysql://user:pass@host:port/db?params into the
// go-sql-driver form user:pass@tcp(host:port)/db?params.
func mysqlURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", errors.New("--db: a mysql:// URL needs a host: mysql://user:pass@host:3306/db")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return "", errors.New("--db: a mysql:// URL needs a database name: mysql://user:pass@host:3306/db")
	}
	host := u.Host
	if u.Port() == "" {
		host += ":3306"
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			b.WriteString(":" + p)
		}
		b.WriteString("@")
	}
	b.WriteString("tcp(" + host + ")/" + db)
	if u.RawQuery != "" {
		b.WriteString("?" + u.RawQuery)
	}
	return b.String(), nil
}
