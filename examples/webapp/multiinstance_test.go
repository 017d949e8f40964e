package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store/sqlstore"
)

// Two copies of the app on two ports, sharing a store and the keys (the
// same -data directory), behave as one: a sign-in started on one is
// finished on the other, the attempt limit of a challenge counts the
// answers given to both, a TOTP code accepted by one is refused by the
// other, and a session of one is a session of the other.
func TestTwoCopiesShareAStore(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL, MySQL and Redis")
	}
	prefix := fmt.Sprintf("webapp_%d_", time.Now().UnixNano()%1e9)
	for _, tc := range []struct {
		name  string
		dsn   func(testing.TB) string
		clean func(t *testing.T, dsn, prefix string)
	}{
		{"Redis", func(t testing.TB) string { return "redis://" + testenv.RedisAddr(t) }, cleanRedis},
		{"PostgreSQL", testenv.PostgresDSN, dropTables("pgx")},
		{"MySQL", testenv.MySQLDSN, dropTables("mysql")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			t.Cleanup(func() { tc.clean(t, dsn, prefix) })
			shared(t, dsn, prefix)
		})
	}
}

func shared(t *testing.T, dsn, prefix string) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startOnce(t, ctx, dir, "-db", dsn, "-prefix", prefix)
	b := startOnce(t, ctx, dir, "-db", dsn, "-prefix", prefix)
	require.NotEmpty(t, a.Seed.TOTPSecret, "the first copy seeds")
	require.Empty(t, b.Seed.TOTPSecret, "the second finds the users seeded")
	codes := &testApp{started: a.started, steps: map[string]int64{a.Seed.TOTPSecret: a.Seed.TOTPStep}}
	c := newClient(t)
	ada := url.Values{"user": {"ada"}, "password": {"lovelace"}}

	// Five answers per challenge, wherever they are given.
	status, body := c.post(a.URL, "/login", ada)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "challenge", body["status"])
	code := codes.totpCode(t)
	for i, base := range []string{a.URL, b.URL, a.URL, b.URL} {
		status, body = c.post(base, "/2fa/verify", url.Values{"method": {"totp"}, "code": {wrongCode(code)}})
		require.Equal(t, http.StatusUnauthorized, status, "answer %d: %v", i+1, body)
		require.Equal(t, "invalid_code", body["error"])
	}
	status, body = c.post(a.URL, "/2fa/verify", url.Values{"method": {"totp"}, "code": {wrongCode(code)}})
	require.Equal(t, http.StatusGone, status, "the fifth wrong answer ends the challenge: %v", body)
	require.Equal(t, "too_many_attempts", body["error"])

	// Started on one copy, finished on the other; signed in on both.
	status, body = c.post(a.URL, "/login", ada)
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, body = c.post(b.URL, "/2fa/verify", url.Values{"method": {"totp"}, "code": {code}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "signed_in", body["status"])
	for _, base := range []string{a.URL, b.URL} {
		res, err := c.http.Get(base + "/")
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, "signed in on %s", base)
	}

	// The code that signed in on one copy is refused by the other.
	status, body = c.post(b.URL, "/login", ada)
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, body = c.post(a.URL, "/2fa/verify", url.Values{"method": {"totp"}, "code": {code}})
	require.Equal(t, http.StatusUnauthorized, status, "a used code: %v", body)
	require.Equal(t, "invalid_code", body["error"])

	cancel()
	require.NoError(t, <-a.done)
	require.NoError(t, <-b.done)
}

// cleanRedis deletes the keys the test's copies wrote.
func cleanRedis(t *testing.T, dsn, prefix string) {
	opt, err := redis.ParseURL(dsn)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
	require.NoError(t, iter.Err())
}

// dropTables drops the tables of the test's prefix.
func dropTables(driver string) func(*testing.T, string, string) {
	return func(t *testing.T, dsn, prefix string) {
		db, err := sql.Open(driver, dsn)
		require.NoError(t, err)
		defer db.Close()
		st, err := sqlstore.New(db, sqlstore.Options{TablePrefix: prefix, SweepInterval: -1})
		require.NoError(t, err)
		defer st.Close()
		require.NoError(t, st.DropTables(context.Background()))
	}
}

// A PostgreSQL store keeps its connections open once made, up to a
// bound: with database/sql's default of two idle connections, concurrent
// sign-ins opened and closed a connection for most queries (make load).
func TestSQLPoolKeepsConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	dsn := testenv.PostgresDSN(t)
	prefix := fmt.Sprintf("webapp_pool_%d_", time.Now().UnixNano()%1e9)
	ctx := context.Background()
	st, _, err := openStore(ctx, dsn, prefix, t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { dropTables("pgx")(t, dsn, prefix) })
	defer st.(sqlStore).Close()
	db := st.(sqlStore).db
	var conns []*sql.Conn
	for range 10 {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	s := db.Stats()
	assert.Equal(t, sqlConns, s.MaxOpenConnections, "the pool is bounded")
	assert.Equal(t, 10, s.Idle, "the ten connections stay open for the next requests")
}
