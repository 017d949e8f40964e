package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatementCache: a statement with arguments is prepared once per
// connection and reused; one without arguments is not kept; a statement
// whose rows are open when its text runs again gets a statement of its
// own; a failed statement is prepared again; past the bound statements
// still run, unkept; and every result is what SQLite returns unprepared.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "c.db"))
	require.NoError(t, err)
	defer db.Close()
	keptQueries := func() map[string]bool {
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		out := map[string]bool{}
		require.NoError(t, conn.Raw(func(dc any) error {
			for q := range dc.(*cachedConn).stmts {
				out[q] = true
			}
			return nil
		}))
		return out
	}
	_, err = db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)`)
	require.NoError(t, err)
	assert.Empty(t, keptQueries(), "a statement without arguments is not kept")

	insert := `INSERT INTO t (k, n) VALUES (?, ?)`
	for i := range 3 {
		_, err = db.Exec(insert, fmt.Sprint("k", i), i)
		require.NoError(t, err)
	}
	assert.Equal(t, map[string]bool{insert: true}, keptQueries())

	_, err = db.Exec(insert, "k0", 9)
	require.Error(t, err, "a duplicate key")
	assert.NotContains(t, keptQueries(), insert, "a statement that failed is dropped")
	_, err = db.Exec(insert, "k3", 3)
	require.NoError(t, err, "and prepared again")

	// The same query while its rows are open, in one transaction (one
	// connection): the inner call cannot reuse the outer's statement.
	sel := `SELECT k, n FROM t WHERE n >= ? ORDER BY k`
	tx, err := db.Begin()
	require.NoError(t, err)
	outer, err := tx.Query(sel, 0)
	require.NoError(t, err)
	var got []string
	for outer.Next() {
		var k string
		var n int
		require.NoError(t, outer.Scan(&k, &n))
		var count int
		require.NoError(t, tx.QueryRow(`SELECT COUNT(*) FROM (`+sel+`)`, n).Scan(&count))
		inner, err := tx.Query(sel, n)
		require.NoError(t, err)
		require.True(t, inner.Next())
		var ik string
		var in int
		require.NoError(t, inner.Scan(&ik, &in))
		require.NoError(t, inner.Close())
		got = append(got, fmt.Sprintf("%s=%d:%s:%d", k, n, ik, count))
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.NoError(t, tx.Commit())
	assert.Equal(t, []string{"k0=0:k0:4", "k1=1:k1:3", "k2=2:k2:2", "k3=3:k3:1"}, got)

	for i := range maxCached + 10 {
		var n int
		require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT n + %d FROM t WHERE k = ?`, i), "k1").Scan(&n))
		require.Equal(t, 1+i, n)
	}
	assert.Len(t, keptQueries(), maxCached)
}
