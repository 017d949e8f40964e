package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// withoutParams returns the test DSN without the named query parameters.
func withoutParams(t *testing.T, names ...string) string {
	dsn := testenv.MySQLDSN(t)
	base, query, _ := strings.Cut(dsn, "?")
	var keep []string
	for _, p := range strings.Split(query, "&") {
		name, _, _ := strings.Cut(p, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop && p != "" {
			keep = append(keep, p)
		}
	}
	return base + "?" + strings.Join(keep, "&")
}

// TestPipelinesProbe: a MySQL store pipelines its transactions only on a
// pool that takes several statements with arguments in one request, and
// runs batches either way.
func TestPipelinesProbe(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop []string
		want bool
	}{
		{"both", nil, true},
		{"no multiStatements", []string{"multiStatements"}, false},
		{"no interpolateParams", []string{"interpolateParams"}, false},
		{"neither", []string{"multiStatements", "interpolateParams"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := migrated(t, openServer(t, "mysql", withoutParams(t, tc.drop...)), sqlstore.MySQL, nil)
			assert.Equal(t, tc.want, s.Pipelines(ctx))
			ops := []store.Op{
				{Kind: store.OpGetState, Key: "s"},
				{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 2}}},
				store.PutCodeOp(store.Code{Group: "g", Key: "k", Hash: []byte("h"), ExpiresAt: time.Now().Add(time.Minute)}),
			}
			ops[2].If = 2
			require.NoError(t, s.RunBatch(ctx, ops))
			assert.False(t, ops[0].Found)
			assert.True(t, ops[1].Bounded[0].Incremented)
			status, err := s.ConsumeCode(ctx, "g", "k", []byte("h"))
			require.NoError(t, err)
			assert.Equal(t, store.CodeMatched, status, "the held put reached the server with the commit")
		})
	}
}

// TestConformanceMySQLStatements runs the suite on a MySQL pool without
// multiStatements, whose transactions send each statement on its own.
func TestConformanceMySQLStatements(t *testing.T) {
	db := openServer(t, "mysql", withoutParams(t, "multiStatements"))
	s := migrated(t, db, sqlstore.MySQL, nil)
	require.False(t, s.Pipelines(context.Background()))
	conformance(t, []*sql.DB{db, openServer(t, "mysql", withoutParams(t, "multiStatements"))}, sqlstore.MySQL, storetest.Options{Rounds: 3})
}

// TestConformanceMySQLReadBack runs the suite on the pipelining test pool
// with the stores reading back what their upserts lock and mark, as on
// MySQL, whose upserts return no rows (on MariaDB they return them).
func TestConformanceMySQLReadBack(t *testing.T) {
	dbs := []*sql.DB{openMySQL(t), openMySQL(t)}
	conformance(t, dbs, sqlstore.MySQL, storetest.Options{Rounds: 3}, (*sqlstore.Store).UseReadBack)
}

// TestPipelineFailureRollsBack: when a held statement fails, in the
// request of a later read or in that of the commit (after the result set
// of a read that waited for it, too), the error says from which operation
// on the request carried statements, and the server runs no
// statement after it, and the store rolls the whole transaction back and
// leaves no connection in it: nothing of the batch is written, and its
// rows are not left locked.
func TestPipelineFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	s := migrated(t, openMySQL(t), sqlstore.MySQL, nil)
	require.True(t, s.Pipelines(ctx))
	_, err := s.DB().ExecContext(ctx, `DROP TABLE `+s.TablePrefix()+`codes`)
	require.NoError(t, err)
	put := store.PutCodeOp(store.Code{Group: "g", Key: "k", Hash: []byte("h"), ExpiresAt: time.Now().Add(time.Minute)})
	incr := func(key string) store.Op {
		return store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: key, Window: time.Minute, Max: 5}}}
	}
	for _, tc := range []struct {
		name, key string
		ops       []store.Op
		held      string // what the error says of the request's statements
	}{
		{"in the commit's request", "c1", []store.Op{incr("c1"), put}, "held since operation 1 of the batch"},
		{"in a read's request", "c2", []store.Op{put, incr("c2")}, "held since operation 0 of the batch) (operation 1 of the batch"},
		// The state's read waits for the commit's request, which then
		// returns its rows before the failing write.
		{"in the commit's request, after a read", "c3", []store.Op{incr("c3"), {Kind: store.OpGetState, Key: "s"}, put}, "held since operation 1 of the batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RunBatch(ctx, tc.ops)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "codes", "the missing table's error")
			assert.Contains(t, err.Error(), tc.held, "the operations whose statements the failed request carried")
			n, _, err := s.Peek(ctx, tc.key)
			require.NoError(t, err)
			assert.Zero(t, n, "the increment before the failure was rolled back")
			// Rows a transaction left open would hold locked: another
			// transaction on them would wait for MySQL's lock timeout.
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			for range 20 { // more than the pool's connections
				out, err := s.IncrBelow(lctx, incr(tc.key).Incrs)
				require.NoError(t, err)
				require.True(t, out[0].Incremented || out[0].Full)
			}
		})
	}
}

func TestServerRefused(t *testing.T) {
	assert.True(t, sqlstore.ServerRefused(errors.New("Error 1064 (42000): You have an error in your SQL syntax")))
	assert.False(t, sqlstore.ServerRefused(errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")))
	assert.False(t, sqlstore.ServerRefused(errors.New("Error: something else")))
	assert.False(t, sqlstore.ServerRefused(context.Canceled))
}

// TestReturningOnMariaDB: on MariaDB the upserts that lock counters and
// mark the ledger return their rows rather than reading them back, and
// the server is asked what it is before a transaction starts, never
// inside one, where on a pool of one connection the question would wait
// for the connection the transaction holds.
func TestReturningOnMariaDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db := openMySQL(t)
	var version string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version))
	s := migrated(t, db, sqlstore.MySQL, nil)
	one := openMySQL(t)
	one.SetMaxOpenConns(1)
	fresh, err := sqlstore.New(one, sqlstore.Options{Dialect: sqlstore.MySQL, TablePrefix: s.TablePrefix()})
	require.NoError(t, err)
	exp := time.Now().Add(time.Minute)
	for _, ops := range [][]store.Op{
		{{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 3}}}, {Kind: store.OpMarkUsed, Key: "m", Time: exp}},
		{{Kind: store.OpMarkUsed, Key: "m", Time: exp}, {Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 3}}}},
	} {
		require.NoError(t, fresh.RunBatch(ctx, ops))
	}
	assert.Equal(t, strings.Contains(version, "MariaDB"), fresh.Returning(ctx), "server %s", version)
	n, _, err := fresh.Peek(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	first, err := fresh.MarkUsed(ctx, "m", exp)
	require.NoError(t, err)
	assert.False(t, first, "marked by the first batch")
}
