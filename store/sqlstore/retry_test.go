package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// TestRetriesSQLiteBusy makes SQLite answer SQLITE_BUSY for real: another
// connection holds the write lock and the store's connection waits for no
// lock (busy_timeout 0). The first attempt of the write fails, the other
// writer then commits, and the store must run the write again rather than
// return the error.
func TestRetriesSQLiteBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sqlite.Open(path) // another process's pool on the file
	require.NoError(t, err)
	t.Cleanup(func() { holder.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	s := migrated(t, db, sqlstore.SQLite, nil)
	insert := `INSERT INTO ` + s.TablePrefix() + `states (k, v) VALUES ('k', x'01')`

	lock, err := holder.Conn(ctx)
	require.NoError(t, err)
	defer lock.Close()
	_, err = lock.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.NoError(t, err)

	attempts := 0
	err = s.Do(ctx, "test write", func() error {
		attempts++
		_, err := db.ExecContext(ctx, insert)
		if attempts == 1 {
			require.Error(t, err, "the write lock is held: SQLite must refuse the write")
			assert.True(t, sqlstore.Retryable(err), "SQLite's busy error is classified as contention: %v", err)
			_, cerr := lock.ExecContext(ctx, `COMMIT`) // the other writer finishes
			require.NoError(t, cerr)
		}
		return err
	})
	require.NoError(t, err, "the write was not run again after SQLITE_BUSY")
	assert.Equal(t, 2, attempts)
	got, err := s.GetState(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, got)
}

// sqliteErr is an error with the Code method of modernc.org/sqlite errors.
type sqliteErr int

func (e sqliteErr) Error() string { return fmt.Sprintf("sqlite error %d", int(e)) }
func (e sqliteErr) Code() int     { return int(e) }

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"SQLITE_BUSY", sqliteErr(5), true},
		{"SQLITE_LOCKED", sqliteErr(6), true},
		{"SQLITE_BUSY_SNAPSHOT (extended)", sqliteErr(5 | 2<<8), true},
		{"SQLITE_LOCKED_SHAREDCACHE (extended)", sqliteErr(6 | 1<<8), true},
		{"wrapped SQLITE_BUSY", fmt.Errorf("exec: %w", sqliteErr(5)), true},
		{"PostgreSQL serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"PostgreSQL deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"MySQL deadlock", &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}, true},
		{"nil", nil, false},
		{"no rows", sql.ErrNoRows, false},
		{"canceled", context.Canceled, false},
		{"SQLITE_CONSTRAINT", sqliteErr(19), false},
		{"PostgreSQL unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"PostgreSQL undefined table", &pgconn.PgError{Code: "42P01"}, false},
		{"MySQL lock wait timeout", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, false},
		{"closed pool", sql.ErrConnDone, false},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sqlstore.Retryable(tt.err))
		})
	}
}
