package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/sqlstore"
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

func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	st, err := sqlite.OpenStore(ctx, path)
	require.NoError(t, err)
	v, err := st.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, sqlstore.LatestVersion(), v, "migrated")
	require.NoError(t, st.PutState(ctx, "k", []byte("v"), time.Now().Add(time.Minute)))
	require.NoError(t, st.Close())
	again, err := sqlite.OpenStore(ctx, path)
	require.NoError(t, err, "a second open finds the tables migrated")
	got, err := again.GetState(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
	_, err = sqlite.OpenStore(ctx, "")
	require.Error(t, err)
}

func TestFileOpensAtNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tf.db")
	st, err := sqlite.File(path).OpenStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Incr(context.Background(), "k", time.Minute); err != nil {
		t.Fatalf("the opened store is migrated and usable: %v", err)
	}
	if _, err := sqlite.File("").OpenStore(context.Background()); err == nil {
		t.Fatal("an empty path opened")
	}
}
