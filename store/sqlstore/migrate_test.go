package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
