package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// backend opens one database of a dialect for a test.
type backend struct {
	name    string
	dialect sqlstore.Dialect
	open    func(t testing.TB) *sql.DB
}

var backends = []backend{
	{"SQLite", sqlstore.SQLite, openSQLite},
	{"Postgres", sqlstore.Postgres, openPostgres},
	{"MySQL", sqlstore.MySQL, openMySQL},
}

func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "twofactor.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t testing.TB) *sql.DB {
	t.Helper()
	return openServer(t, "pgx", testenv.PostgresDSN(t))
}

func openMySQL(t testing.TB) *sql.DB {
	t.Helper()
	return openServer(t, "mysql", testenv.MySQLDSN(t))
}

func openServer(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Missing(t, driver+" database", err.Error())
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// uniquePrefix returns a table prefix no other test run uses.
func uniquePrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + "_"
}

// migrated returns a store on db under a fresh table prefix, migrated, whose
// tables are dropped when the test ends.
func migrated(t testing.TB, db *sql.DB, d sqlstore.Dialect, now func() time.Time) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: d, TablePrefix: uniquePrefix(), Now: now})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	t.Cleanup(func() { dropTables(t, db, d, s.TablePrefix()) })
	return s
}

// dropTables drops a prefix's tables through a store of its own, as the
// store under test may have been closed.
func dropTables(t testing.TB, db *sql.DB, d sqlstore.Dialect, prefix string) {
	t.Helper()
	if db.PingContext(context.Background()) != nil {
		return // the pool was closed by the test; use a new one
	}
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: d, TablePrefix: prefix})
	require.NoError(t, err)
	require.NoError(t, s.DropTables(context.Background()))
}

// column returns the first column of every row of the query q, as text.
func column(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}
