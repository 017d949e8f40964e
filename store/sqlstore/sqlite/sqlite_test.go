package sqlite_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

func TestOpenSettings(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	defer db.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "10000", "synchronous": "1"} {
		var got string
		require.NoError(t, db.QueryRow("PRAGMA "+pragma).Scan(&got))
		assert.Equal(t, want, strings.ToLower(got), pragma)
	}
	assert.Equal(t, 1, db.Stats().MaxOpenConnections)
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", "x.db?mode=ro", "x#y", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		db, err := sqlite.Open(p)
		require.Error(t, err, "%q", p)
		assert.Nil(t, db)
		assert.True(t, strings.HasPrefix(err.Error(), "sqlite: "), err.Error())
	}
}
