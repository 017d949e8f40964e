package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
)

// migrationRows counts the rows of the version table.
func migrationRows(t *testing.T, db *sql.DB, prefix string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM `+prefix+`schema_migrations`).Scan(&n))
	return n
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			s, err := sqlstore.New(db, sqlstore.Options{Dialect: b.dialect, TablePrefix: uniquePrefix()})
			require.NoError(t, err)
			t.Cleanup(func() { dropTables(t, db, b.dialect, s.TablePrefix()) })

			v, err := s.Version(ctx)
			require.NoError(t, err)
			assert.Zero(t, v, "version before the first Migrate")

			require.NoError(t, s.Migrate(ctx))
			v, err = s.Version(ctx)
			require.NoError(t, err)
			assert.Equal(t, sqlstore.LatestVersion(), v)
			require.NoError(t, s.PutState(ctx, "kept", []byte("data"), time.Time{}))

			require.NoError(t, s.Migrate(ctx), "second Migrate")
			v, err = s.Version(ctx)
			require.NoError(t, err)
			assert.Equal(t, sqlstore.LatestVersion(), v)
			assert.Equal(t, sqlstore.LatestVersion(), migrationRows(t, db, s.TablePrefix()), "one row per migration")
			got, err := s.GetState(ctx, "kept")
			require.NoError(t, err, "data survives a second Migrate")
			assert.Equal(t, []byte("data"), got)
		})
	}
}

// TestMigrateConcurrently starts 8 instances, each with its own pool, that
// migrate the same fresh prefix at once.
func TestMigrateConcurrently(t *testing.T) {
	const instances = 8
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			first := b.open(t)
			prefix := uniquePrefix()
			t.Cleanup(func() { dropTables(t, first, b.dialect, prefix) })
			pools := []*sql.DB{first}
			for len(pools) < instances {
				pools = append(pools, samePlace(t, b, first))
			}
			var wg sync.WaitGroup
			errs := make([]error, instances)
			gate := make(chan struct{})
			for i, db := range pools {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := sqlstore.New(db, sqlstore.Options{Dialect: b.dialect, TablePrefix: prefix})
					if err != nil {
						errs[i] = err
						return
					}
					<-gate
					errs[i] = s.Migrate(ctx)
				}()
			}
			close(gate)
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "instance %d", i)
			}
			assert.Equal(t, sqlstore.LatestVersion(), migrationRows(t, first, prefix), "each migration applied once")
			s, err := sqlstore.New(first, sqlstore.Options{Dialect: b.dialect, TablePrefix: prefix})
			require.NoError(t, err)
			won, err := s.MarkUsed(ctx, "step", time.Now().Add(time.Minute))
			require.NoError(t, err)
			assert.True(t, won, "the schema works")
		})
	}
}

// TestUpgradeFromVersion1 migrates a database that holds states written
// under version 1 (no owner column) to the latest version: the states
// survive, unowned, and owned states work beside them.
func TestUpgradeFromVersion1(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			s, err := sqlstore.New(db, sqlstore.Options{Dialect: b.dialect, TablePrefix: uniquePrefix()})
			require.NoError(t, err)
			t.Cleanup(func() { dropTables(t, db, b.dialect, s.TablePrefix()) })
			require.NoError(t, s.MigrateTo(ctx, 1))
			v, err := s.Version(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, v)
			insert := `INSERT INTO ` + s.TablePrefix() + `states (k, v, expires_at) VALUES (?, ?, NULL)`
			if b.dialect == sqlstore.Postgres {
				insert = `INSERT INTO ` + s.TablePrefix() + `states (k, v, expires_at) VALUES ($1, $2, NULL)`
			}
			_, err = db.ExecContext(ctx, insert, "old", []byte("from v1"))
			require.NoError(t, err)

			require.NoError(t, s.Migrate(ctx))
			v, err = s.Version(ctx)
			require.NoError(t, err)
			assert.Equal(t, sqlstore.LatestVersion(), v)
			assert.Equal(t, sqlstore.LatestVersion(), migrationRows(t, db, s.TablePrefix()))
			require.NoError(t, s.PutOwnedState(ctx, "alice", "new", []byte("owned"), time.Time{}))
			require.NoError(t, s.DeleteOwnedStates(ctx, "alice"))
			_, err = s.GetState(ctx, "new")
			require.ErrorIs(t, err, store.ErrNotFound)
			got, err := s.GetState(ctx, "old")
			require.NoError(t, err, "a state written before the upgrade survives, filed under no owner")
			assert.Equal(t, []byte("from v1"), got)
		})
	}
}

// TestUpgradeFromVersion3 migrates a database that holds a row in every
// table, written under version 3, to the latest version, which on SQLite
// rebuilds each table in its primary key's order: every row survives and
// reads back as it was written, the tables have no rowid, and each table
// keeps the indexes it had.
func TestUpgradeFromVersion3(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			db := b.open(t)
			s, err := sqlstore.New(db, sqlstore.Options{Dialect: b.dialect, TablePrefix: uniquePrefix(), Now: func() time.Time { return now }})
			require.NoError(t, err)
			t.Cleanup(func() { dropTables(t, db, b.dialect, s.TablePrefix()) })
			require.NoError(t, s.MigrateTo(ctx, 3))
			indexesBefore := sqliteIndexes(t, db, b.dialect, s.TablePrefix())

			later := now.Add(time.Hour)
			require.NoError(t, s.PutOwnedState(ctx, "alice", "state", []byte("v3 state"), later))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "c", Hash: []byte("hash"), ExpiresAt: later, MaxAttempts: 3}))
			_, _, err = s.Incr(ctx, "counter", time.Hour)
			require.NoError(t, err)
			first, err := s.MarkUsed(ctx, "mark", later)
			require.NoError(t, err)
			require.True(t, first)
			enr := store.EnrollmentRecord{UserID: "alice", ID: "e1", Method: "totp", Label: "phone", Data: []byte("sealed"), CreatedAt: now, LastUsedAt: now}
			require.NoError(t, s.PutEnrollment(ctx, enr))
			dev := store.Device{ID: "d1", UserID: "alice", Label: "laptop", IP: "192.0.2.0/24", UserAgent: "ua", CreatedAt: now, ExpiresAt: later, LastSeenAt: now}
			require.NoError(t, s.PutDevice(ctx, dev))

			require.NoError(t, s.Migrate(ctx))
			v, err := s.Version(ctx)
			require.NoError(t, err)
			assert.Equal(t, sqlstore.LatestVersion(), v)

			got, err := s.GetState(ctx, "state")
			require.NoError(t, err)
			assert.Equal(t, []byte("v3 state"), got)
			n, reset, err := s.Peek(ctx, "counter")
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
			assert.True(t, reset.Equal(now.Add(time.Hour)), "the counter's window end: %v", reset)
			first, err = s.MarkUsed(ctx, "mark", later)
			require.NoError(t, err)
			assert.False(t, first, "the mark survives")
			enrs, err := s.ListEnrollments(ctx, "alice")
			require.NoError(t, err)
			require.Len(t, enrs, 1)
			assert.Equal(t, enr.Data, enrs[0].Data)
			assert.Equal(t, enr.Label, enrs[0].Label)
			assert.True(t, enrs[0].LastUsedAt.Equal(now))
			gotDev, err := s.GetDevice(ctx, "d1")
			require.NoError(t, err)
			assert.Equal(t, dev.IP, gotDev.IP)
			assert.True(t, gotDev.ExpiresAt.Equal(later))
			status, err := s.ConsumeCode(ctx, "g", "c", []byte("wrong"))
			require.NoError(t, err)
			assert.Equal(t, store.CodeMismatch, status, "the code survives")
			status, err = s.ConsumeCode(ctx, "g", "c", []byte("hash"))
			require.NoError(t, err)
			assert.Equal(t, store.CodeMatched, status)
			require.NoError(t, s.DeleteOwnedStates(ctx, "alice"))
			_, err = s.GetState(ctx, "state")
			require.ErrorIs(t, err, store.ErrNotFound, "the state keeps its owner")

			if b.dialect != sqlstore.SQLite {
				return
			}
			assert.Equal(t, indexesBefore, sqliteIndexes(t, db, b.dialect, s.TablePrefix()), "every table keeps its indexes")
			for _, table := range []string{"states", "codes", "counters", "ledger", "enrollments", "devices"} {
				var ddl string
				require.NoError(t, db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, s.TablePrefix()+table).Scan(&ddl))
				assert.Contains(t, ddl, "WITHOUT ROWID", table)
			}
			assert.Empty(t, column(t, db, `SELECT name FROM sqlite_master WHERE name LIKE ?`, s.TablePrefix()+"%_v4"), "no table of the rebuild is left")
		})
	}
}

// sqliteIndexes lists the named indexes of the tables under prefix, as
// "table.index", on SQLite (nil elsewhere).
func sqliteIndexes(t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string) []string {
	t.Helper()
	if d != sqlstore.SQLite {
		return nil
	}
	return column(t, db, `SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND substr(tbl_name, 1, length(?)) = ? ORDER BY 1`, prefix, prefix)
}

// TestMySQLMigrationsRunAgain: MySQL commits DDL at once, so a migration
// interrupted after some statements is applied again from its first
// statement. Forgetting every applied version and migrating again must
// succeed and leave a working schema.
func TestMySQLMigrationsRunAgain(t *testing.T) {
	ctx := context.Background()
	db := openMySQL(t)
	s := migrated(t, db, sqlstore.MySQL, nil)
	require.NoError(t, s.PutOwnedState(ctx, "alice", "k", []byte("v"), time.Time{}))
	_, err := db.ExecContext(ctx, `DELETE FROM `+s.TablePrefix()+`schema_migrations`)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx), "every migration again over an up-to-date schema")
	assert.Equal(t, sqlstore.LatestVersion(), migrationRows(t, db, s.TablePrefix()))

	_, err = db.ExecContext(ctx, `DELETE FROM `+s.TablePrefix()+`schema_migrations WHERE version > 1`)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx), "the later migrations again")
	v, err := s.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, sqlstore.LatestVersion(), v)

	var indexes int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'owner'`, s.TablePrefix()+"states").Scan(&indexes))
	assert.Equal(t, 1, indexes, "the owner column has one index, not one per run")
	got, err := s.GetState(ctx, "k")
	require.NoError(t, err, "the data survives")
	assert.Equal(t, []byte("v"), got)
	require.NoError(t, s.DeleteOwnedStates(ctx, "alice"))
	_, err = s.GetState(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestSplitSQL: a migration is cut at semicolons outside dollar-quoted
// bodies, whose semicolons stay in their statement; -- lines go.
func TestSplitSQL(t *testing.T) {
	src := "-- a comment; with a semicolon\nCREATE TABLE t (a INT);\n" +
		"CREATE FUNCTION f() RETURNS INT LANGUAGE plpgsql AS $fn$\nBEGIN\n\tRETURN 1;\nEND\n$fn$;\n" +
		"SELECT $$a;b$$, $x$ $$; $x$;\nSELECT '$[*]' ; SELECT 2"
	assert.Equal(t, []string{
		"CREATE TABLE t (a INT)",
		"CREATE FUNCTION f() RETURNS INT LANGUAGE plpgsql AS $fn$\nBEGIN\n\tRETURN 1;\nEND\n$fn$",
		"SELECT $$a;b$$, $x$ $$; $x$",
		"SELECT '$[*]'",
		"SELECT 2",
	}, sqlstore.SplitSQL(src))
}
