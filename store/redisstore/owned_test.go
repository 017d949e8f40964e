package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// indexEntries returns the owner's index: state key -> "<exp>:<token>".
func indexEntries(t *testing.T, s *Store, owner string) map[string]string {
	t.Helper()
	m, err := s.rdb.HGetAll(context.Background(), s.ownerKey(owner)).Result()
	require.NoError(t, err)
	return m
}

// stateToken returns the token stored in an owned state.
func stateToken(t *testing.T, s *Store, key string) string {
	t.Helper()
	b, err := s.rdb.Get(context.Background(), s.stateKey(key)).Bytes()
	require.NoError(t, err)
	_, token, _, _, ok := parseOwned(b)
	require.True(t, ok, "%q is not an owned state", b)
	return token
}

// TestOwnedIndex checks the owner's index beyond the conformance suite:
// the entry and the state share a token, DeleteOwnedStates removes the
// entries of what it deleted and keeps those it may not, and stale
// entries are pruned.
func TestOwnedIndex(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newStore(t, clk.Now)
	ctx := context.Background()
	exp := clk.Now().Add(time.Hour)

	require.NoError(t, s.PutOwnedState(ctx, "u", "a", []byte("A"), exp))
	require.NoError(t, s.PutOwnedState(ctx, "u", "b", []byte("B"), exp))
	idx := indexEntries(t, s, "u")
	require.Len(t, idx, 2)
	assert.Equal(t, expiryMillisString(exp)+":"+stateToken(t, s, "a"), idx["a"], "the entry repeats the state's expiry and token")
	require.NoError(t, s.PutOwnedState(ctx, "u", "a", []byte("A2"), exp))
	assert.Equal(t, expiryMillisString(exp)+":"+stateToken(t, s, "a"), indexEntries(t, s, "u")["a"], "a put again gets a new token in both")
	require.NoError(t, s.DeleteOwnedStates(ctx, "u"))
	n, err := s.rdb.Exists(ctx, s.ownerKey("u")).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "an index whose states were all deleted is removed")

	t.Run("ReputElsewhere", func(t *testing.T) {
		require.NoError(t, s.PutOwnedState(ctx, "u", "moved", []byte("u's"), exp))
		require.NoError(t, s.PutOwnedState(ctx, "v", "moved", []byte("v's"), exp))
		require.NoError(t, s.DeleteOwnedStates(ctx, "u"))
		got, err := s.GetState(ctx, "moved")
		require.NoError(t, err)
		assert.Equal(t, []byte("v's"), got)
		assert.Contains(t, indexEntries(t, s, "v"), "moved")
		require.NoError(t, s.DeleteOwnedStates(ctx, "v"))
		_, err = s.GetState(ctx, "moved")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ConcurrentPut", func(t *testing.T) {
		// A put that has filed its new token but not yet written the state
		// when DeleteOwnedStates runs: the delete removes the old state
		// and must keep the new entry, so that a later delete finds the
		// state once the put completes.
		require.NoError(t, s.PutOwnedState(ctx, "w", "k", []byte("old"), exp))
		const next = "00112233445566ff"
		entry := expiryMillisString(exp) + ":" + next
		require.NoError(t, indexOwned.Run(ctx, s.rdb, []string{s.ownerKey("w")}, "k", entry, s.clock(), s.grace).Err())
		require.NoError(t, s.DeleteOwnedStates(ctx, "w"))
		_, err := s.GetState(ctx, "k")
		require.ErrorIs(t, err, store.ErrNotFound, "the state filed before the delete is gone")
		assert.Equal(t, entry, indexEntries(t, s, "w")["k"], "the entry of the put in flight is kept")

		require.NoError(t, s.rdb.Set(ctx, s.stateKey("k"), appendOwned(expiryMillis(exp), next, "w", []byte("new")), time.Hour).Err())
		got, err := s.GetState(ctx, "k")
		require.NoError(t, err, "the put completes")
		assert.Equal(t, []byte("new"), got)
		require.NoError(t, s.DeleteOwnedStates(ctx, "w"))
		_, err = s.GetState(ctx, "k")
		require.ErrorIs(t, err, store.ErrNotFound, "the next delete finds it")
	})

	t.Run("Prune", func(t *testing.T) {
		require.NoError(t, s.PutOwnedState(ctx, "p", "short", []byte("x"), clk.Now().Add(time.Minute)))
		require.NoError(t, s.PutOwnedState(ctx, "p", "taken", []byte("x"), exp))
		_, err := s.TakeState(ctx, "taken")
		require.NoError(t, err)
		clk.Advance(time.Minute + DefaultGrace)
		require.NoError(t, s.PutOwnedState(ctx, "p", "fresh", []byte("x"), clk.Now().Add(time.Hour)))
		idx := indexEntries(t, s, "p")
		assert.NotContains(t, idx, "short", "an entry expired for longer than the grace period is pruned")
		assert.Contains(t, idx, "taken", "an entry not yet expired is kept, its state gone or not")
		assert.Contains(t, idx, "fresh")
	})

	t.Run("Sweep", func(t *testing.T) {
		clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
		s, _ := newStore(t, clk.Now)
		require.NoError(t, s.PutOwnedState(ctx, "q", "old", []byte("x"), clk.Now().Add(time.Minute)))
		require.NoError(t, s.PutOwnedState(ctx, "q", "new", []byte("x"), clk.Now().Add(time.Hour)))
		clk.Advance(time.Minute)
		n, err := s.Sweep(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the expired owned state")
		idx := indexEntries(t, s, "q")
		assert.NotContains(t, idx, "old", "Sweep drops the expired entry")
		assert.Contains(t, idx, "new")
		_, err = s.GetState(ctx, "new")
		require.NoError(t, err)
	})
}

// TestOwnedValueRejectedAsPlain: an owned state is not a plain envelope,
// so a reader that knows only plain states fails on it instead of
// returning the owner as part of the value.
func TestOwnedValueRejectedAsPlain(t *testing.T) {
	b := appendOwned(1_800_000_000_000, "0123456789abcdef", "alice|x", []byte("1|v"))
	_, _, ok := parseEnvelope(b)
	assert.False(t, ok)
	exp, token, owner, v, ok := parseOwned(b)
	require.True(t, ok)
	assert.Equal(t, int64(1_800_000_000_000), exp)
	assert.Equal(t, "0123456789abcdef", token)
	assert.Equal(t, "alice|x", owner)
	assert.Equal(t, []byte("1|v"), v)
	exp, v, ok = parseState(b)
	require.True(t, ok)
	assert.Equal(t, int64(1_800_000_000_000), exp)
	assert.Equal(t, []byte("1|v"), v)
}

func expiryMillisString(t time.Time) string { return strconv.FormatInt(expiryMillis(t), 10) }

// TestUnindexKeepsRewritten: the index clean-up removes an entry only if
// it still holds the value the caller read, so an entry a concurrent put
// rewrote in between survives.
func TestUnindexKeepsRewritten(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	idx := s.ownerKey("u")
	exp := expiryMillisString(clk.Now().Add(time.Hour))
	require.NoError(t, rdb.HSet(ctx, idx, "rewritten", exp+":0000000000000002", "same", exp+":0000000000000001").Err())
	n, err := unindex.Run(ctx, rdb, []string{idx}, s.clock(), s.grace, "rewritten", exp+":0000000000000001", "same", exp+":0000000000000001").Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.Equal(t, map[string]string{"rewritten": exp + ":0000000000000002"}, indexEntries(t, s, "u"))
}
