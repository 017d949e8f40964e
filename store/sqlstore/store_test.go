package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// conformance runs the store suite on one database, reached through the
// pools dbs: every store the factory returns shares the tables (the suite
// uses random keys) and gets the suite's clock, and the stores take turns
// among the pools, so that the two the suite races as app instances have
// connections of their own when dbs holds two.
func conformance(t *testing.T, dbs []*sql.DB, d sqlstore.Dialect, opt storetest.Options, configure ...func(*sqlstore.Store)) {
	base := migrated(t, dbs[0], d, nil)
	var turn atomic.Int64
	opt.Shared = true
	storetest.RunWith(t, func(t *testing.T, now func() time.Time) store.Store {
		db := dbs[int(turn.Add(1))%len(dbs)]
		s, err := sqlstore.New(db, sqlstore.Options{Dialect: d, TablePrefix: base.TablePrefix(), Now: now})
		require.NoError(t, err)
		for _, c := range configure {
			c(s)
		}
		return s
	}, opt)
}

// twoPools opens two pools on one database of b: two connections to one
// file for SQLite.
func twoPools(t *testing.T, b backend) []*sql.DB {
	if b.dialect != sqlstore.SQLite {
		return []*sql.DB{b.open(t), b.open(t)}
	}
	path := filepath.Join(t.TempDir(), "twofactor.db")
	dbs := make([]*sql.DB, 2)
	for i := range dbs {
		db, err := sqlite.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			opt := storetest.Options{}
			switch {
			case raceEnabled && b.dialect == sqlstore.SQLite:
				opt.Rounds = 8
			case raceEnabled:
				opt.Rounds = 10
			}
			conformance(t, twoPools(t, b), b.dialect, opt)
		})
	}
}

// TestConformanceSQLitePool runs the suite on SQLite through a pool of many
// connections, where writers meet SQLITE_BUSY and the store must wait or
// retry instead of failing.
func TestConformanceSQLitePool(t *testing.T) {
	db, err := sql.Open("sqlite", sqlite.DSN(filepath.Join(t.TempDir(), "pool.db")))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(8)
	conformance(t, []*sql.DB{db}, sqlstore.SQLite, storetest.Options{Rounds: 3})
}

// TestConformanceSQLiteDeferred runs the suite on SQLite through a pool of
// many connections opened with deferred transactions (a DSN of the host's
// own without _txlock=immediate): a transaction that read before another
// writer committed cannot write on what it read, SQLite refuses its first
// write with SQLITE_BUSY, and the store must run it again rather than
// fail, or decide on what it read.
func TestConformanceSQLiteDeferred(t *testing.T) {
	dsn := strings.Replace(sqlite.DSN(filepath.Join(t.TempDir(), "deferred.db")), "&_txlock=immediate", "", 1)
	require.NotContains(t, dsn, "_txlock")
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(8)
	conformance(t, []*sql.DB{db}, sqlstore.SQLite, storetest.Options{Rounds: 3})
}

func TestNewOptions(t *testing.T) {
	db := openSQLite(t)
	tests := []struct {
		name string
		db   *sql.DB
		opt  sqlstore.Options
		ok   bool
	}{
		{"zero options detect the driver", db, sqlstore.Options{}, true},
		{"explicit dialect", db, sqlstore.Options{Dialect: sqlstore.SQLite, TablePrefix: "app_2fa_"}, true},
		{"nil db", nil, sqlstore.Options{}, false},
		{"unknown dialect", db, sqlstore.Options{Dialect: "oracle"}, false},
		{"prefix with a dash", db, sqlstore.Options{TablePrefix: "two-factor"}, false},
		{"prefix with a quote", db, sqlstore.Options{TablePrefix: "x\"; DROP TABLE users; --"}, false},
		{"upper-case prefix", db, sqlstore.Options{TablePrefix: "TF_"}, false},
		{"prefix starting with a digit", db, sqlstore.Options{TablePrefix: "1tf_"}, false},
		{"prefix too long", db, sqlstore.Options{TablePrefix: "abcdefghijklmnopqrstuvwxyz0123456"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlstore.New(tt.db, tt.opt)
			if !tt.ok {
				require.ErrorIs(t, err, twofactor.ErrConfig)
				assert.Contains(t, err.Error(), "sqlstore: ")
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, sqlstore.SQLite, s.Dialect())
			if tt.opt.TablePrefix == "" {
				assert.Equal(t, sqlstore.DefaultTablePrefix, s.TablePrefix())
			}
		})
	}
}

func TestParseDialect(t *testing.T) {
	for in, want := range map[string]sqlstore.Dialect{
		"sqlite": sqlstore.SQLite, "SQLite3": sqlstore.SQLite,
		"postgres": sqlstore.Postgres, "postgresql": sqlstore.Postgres, "pgx": sqlstore.Postgres,
		"mysql": sqlstore.MySQL, "MariaDB": sqlstore.MySQL,
	} {
		got, err := sqlstore.ParseDialect(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := sqlstore.ParseDialect("oracle")
	require.Error(t, err)
}

// TestKeysAreExact checks that keys compare byte for byte in every
// database: no case folding, no trailing-space padding, no collation.
func TestKeysAreExact(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := migrated(t, b.open(t), b.dialect, nil)
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			keys := []string{"Key", "key", "key ", "kéy", "ke\u0301y"}
			for i, k := range keys {
				require.NoError(t, s.PutState(ctx, k, []byte{byte(i)}, exp))
			}
			for i, k := range keys {
				v, err := s.GetState(ctx, k)
				require.NoError(t, err, "%q", k)
				assert.Equal(t, []byte{byte(i)}, v, "%q", k)
			}
		})
	}
}

// TestNotMigrated checks that a store used before Migrate fails with an
// error, never a success.
func TestNotMigrated(t *testing.T) {
	s, err := sqlstore.New(openSQLite(t), sqlstore.Options{})
	require.NoError(t, err)
	st, err := s.ConsumeCode(context.Background(), "g", "k", []byte("h"))
	require.Error(t, err)
	assert.NotEqual(t, store.CodeMatched, st)
	_, err = s.GetState(context.Background(), "k")
	require.Error(t, err)
	assert.False(t, errors.Is(err, store.ErrNotFound), "a missing table is a failure, not a missing key")
}

// TestDetectDialect checks that zero Options find the dialect from each
// supported driver.
func TestDetectDialect(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, err := sqlstore.New(b.open(t), sqlstore.Options{})
			require.NoError(t, err)
			assert.Equal(t, b.dialect, s.Dialect())
		})
	}
}
