package redisstore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// newRingStore returns a store on a redis.Ring of one shard, the test
// Redis, under the prefix of s: not a *redis.Client, so IncrBelow splits
// its calls by hash slot as on a cluster, and a test can take that path
// without one. It also returns the ring, to hook.
func newRingStore(t testing.TB, s *Store, now func() time.Time) (*Store, *redis.Ring) {
	t.Helper()
	addr := testenv.RedisAddr(t)
	if c, ok := s.rdb.(*redis.Client); ok {
		addr = c.Options().Addr // the server of s, which may be the test's own
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"one": addr}})
	t.Cleanup(func() { _ = ring.Close() })
	rs, err := New(ring, Options{Prefix: s.Prefix(), Now: now})
	require.NoError(t, err)
	return rs, ring
}

func TestIncrBelowInvalidInput(t *testing.T) {
	s, rdb := newStore(t, time.Now)
	ctx := context.Background()
	var calls atomic.Int64
	rdb.AddHook(countHook{&calls})
	for name, incrs := range map[string][]store.BoundedIncr{
		"empty key":        {{Key: "a", Window: time.Minute, Max: 1}, {Key: "", Window: time.Minute, Max: 1}},
		"long key":         {{Key: strings.Repeat("x", maxID+1), Window: time.Minute, Max: 1}},
		"key named twice":  {{Key: "a", Window: time.Minute, Max: 1}, {Key: "b", Window: time.Minute, Max: 1}, {Key: "a", Window: time.Hour, Max: 2}},
		"tagged key twice": {{Key: "{u:1}a", Window: time.Minute, Max: 1}, {Key: "{u:1}a", Window: time.Minute, Max: 1}},
	} {
		out, err := s.IncrBelow(ctx, incrs)
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, name)
		assert.Nil(t, out, name)
	}
	assert.Zero(t, calls.Load(), "no command was sent")
	out, err := s.IncrBelow(ctx, nil)
	require.NoError(t, err)
	assert.Nil(t, out)
}

// TestIncrBelowRoundTrips pins the round trips of IncrBelow: one on a
// *redis.Client whatever the keys, and on a client that splits by hash
// slot, one for keys of one slot, and for keys of several one to refuse
// (two when it counts CountRefused counters) and two to admit.
func TestIncrBelowRoundTrips(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	rs, ring := newRingStore(t, s, clk.Now)
	ctx := context.Background()
	require.NoError(t, incrBelow.Load(ctx, rdb).Err())
	var calls, ringCalls atomic.Int64
	rdb.AddHook(countHook{&calls})
	ring.AddHook(countHook{&ringCalls})
	in := func(key string, max int64) store.BoundedIncr {
		return store.BoundedIncr{Key: key, Window: time.Minute, Max: max}
	}
	own := in("own", 100)
	own.CountRefused = true
	_, err := s.IncrBelow(ctx, []store.BoundedIncr{in("full", 1)})
	require.NoError(t, err)
	ops := []struct {
		name  string
		s     *Store
		n     *atomic.Int64
		want  int64
		incrs []store.BoundedIncr
		full  int
	}{
		{"client, admitted", s, &calls, 1, []store.BoundedIncr{in("a", 10), in("b", 10), own}, -1},
		{"client, refused", s, &calls, 1, []store.BoundedIncr{in("a", 10), in("full", 1), own}, 1},
		{"split, one slot", rs, &ringCalls, 1, []store.BoundedIncr{in("{u:1}a", 10), in("{u:1}b", 10)}, -1},
		{"split, admitted", rs, &ringCalls, 2, []store.BoundedIncr{in("a", 10), in("b", 10), own}, -1},
		{"split, refused", rs, &ringCalls, 1, []store.BoundedIncr{in("a", 10), in("full", 1)}, 1},
		{"split, refused, counting", rs, &ringCalls, 2, []store.BoundedIncr{in("a", 10), in("full", 1), own}, 1},
	}
	for _, op := range ops {
		before := op.n.Load()
		out, err := op.s.IncrBelow(ctx, op.incrs)
		require.NoError(t, err, op.name)
		assert.Equal(t, op.full, store.FirstFull(out), op.name)
		assert.Equal(t, op.want, op.n.Load()-before, "%s: round trips", op.name)
	}
	n, _, err := s.Peek(ctx, "own")
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "every call but the plain refusal counted own")
}

// TestIncrBelowLoadsScript: a call sent before the script is cached on the
// server (first use, SCRIPT FLUSH) loads it and runs once, alone and
// pipelined.
func TestIncrBelowLoadsScript(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStoreOn(t, scriptClient(t), clk.Now)
	rs, _ := newRingStore(t, s, clk.Now)
	ctx := context.Background()
	incrs := []store.BoundedIncr{{Key: "a", Window: time.Minute, Max: 5}, {Key: "b", Window: time.Minute, Max: 5}}
	for i, st := range []*Store{s, rs} {
		require.NoError(t, rdb.ScriptFlush(ctx).Err())
		out, err := st.IncrBelow(ctx, incrs)
		require.NoError(t, err)
		assert.Equal(t, []int64{int64(i + 1), int64(i + 1)}, []int64{out[0].N, out[1].N}, "no increment ran twice")
	}
}

// TestIncrBelowTakesBack: on the split path, a counter that another caller
// fills between the check and the increments refuses the call, and the
// increments of the other slots are taken back.
func TestIncrBelowTakesBack(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	rs, ring := newRingStore(t, s, clk.Now)
	ctx := context.Background()
	for _, sc := range []*redis.Script{incrBelow, decr} {
		require.NoError(t, sc.Load(ctx, rdb).Err())
	}
	var calls atomic.Int64
	var filled atomic.Bool
	ring.AddHook(fillHook{after: func() {
		if filled.CompareAndSwap(false, true) {
			require.NoError(t, rdb.HSet(ctx, s.counterKey("tight"), "n", 3, "r", clk.Now().Add(time.Hour).UnixMilli()).Err())
		}
	}})
	ring.AddHook(countHook{&calls})
	own := store.BoundedIncr{Key: "own", Window: time.Minute, Max: 10, CountRefused: true}
	out, err := rs.IncrBelow(ctx, []store.BoundedIncr{{Key: "loose", Window: time.Minute, Max: 10}, {Key: "tight", Window: time.Minute, Max: 3}, own})
	require.NoError(t, err)
	require.True(t, filled.Load())
	assert.Equal(t, int64(3), calls.Load(), "check, increments, take-back")
	assert.Equal(t, 1, store.FirstFull(out))
	assert.Equal(t, store.BoundedValue{N: 0, ResetAt: time.UnixMilli(clk.Now().Add(time.Minute).UnixMilli()), Max: 10}, out[0],
		"an increment taken back leaves a counter live at zero")
	assert.Equal(t, int64(3), out[1].N)
	assert.True(t, out[2].Incremented, "a CountRefused counter keeps its count")
	for key, want := range map[string]int64{"loose": 0, "tight": 3, "own": 1} {
		n, _, err := s.Peek(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want, n, key)
	}
}

// fillHook calls after once each pipeline has run.
type fillHook struct{ after func() }

func (h fillHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h fillHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h fillHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.after()
		return err
	}
}

// TestIncrBelowMalformed: a counter this package did not write fails the
// call, which writes nothing, the script reading every counter first.
func TestIncrBelowMalformed(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	require.NoError(t, rdb.HSet(ctx, s.counterKey("bad"), "n", "x", "r", "y").Err())
	require.NoError(t, rdb.Set(ctx, s.counterKey("str"), "a string, not a hash", 0).Err())
	for _, bad := range []string{"bad", "str"} {
		out, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: "good", Window: time.Minute, Max: 5}, {Key: bad, Window: time.Minute, Max: 5}})
		require.Error(t, err, bad)
		assert.Nil(t, out)
	}
	n, r, err := s.Peek(ctx, "good")
	require.NoError(t, err)
	assert.Zero(t, n, "nothing written")
	assert.True(t, r.IsZero())
}

// TestIncrBelowTTL: a counter that IncrBelow starts expires in Redis its
// window plus the grace period after the store's clock, like Incr's.
func TestIncrBelowTTL(t *testing.T) {
	clk := storetest.NewClock(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) // far from the real time
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	_, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: "c", Window: 10 * time.Minute, Max: 5}})
	require.NoError(t, err)
	ttl, err := rdb.PTTL(ctx, s.counterKey("c")).Result()
	require.NoError(t, err)
	assert.InDelta(t, (10*time.Minute + DefaultGrace).Milliseconds(), ttl.Milliseconds(), 2000)
}

// TestReadBoundedMalformed: a reply of incrBelow that is not four
// entries per counter of the expected types, or names a step the entry
// does not have, is a malformed-value error, never a result.
func TestReadBoundedMalformed(t *testing.T) {
	incrs := []store.BoundedIncr{
		{Key: "a", Window: time.Minute, Max: 3},
		{Key: "b", Window: time.Minute, Max: 5, Steps: []store.BoundStep{{After: time.Minute, Max: 9}}},
	}
	g := &boundedGroup{idx: []int{0, 1}}
	reply := func(v ...any) redis.Cmder {
		c := redis.NewCmd(context.Background())
		c.SetVal(v)
		return c
	}
	out := make([]store.BoundedValue, 2)
	require.NoError(t, readBounded(reply(int64(1), "1800000000000", int64(0), int64(2), int64(5), "", int64(1), int64(1)), incrs, g, out))
	assert.Equal(t, store.BoundedValue{N: 1, Max: 3, ResetAt: time.UnixMilli(1_800_000_000_000), Incremented: true}, out[0])
	assert.Equal(t, store.BoundedValue{N: 5, Max: 9, Full: true}, out[1])

	for name, r := range map[string]redis.Cmder{
		"short":           reply(int64(1), "", int64(0), int64(2)),
		"long":            reply(int64(1), "", int64(0), int64(2), int64(1), "", int64(0), int64(2), int64(0)),
		"count not int":   reply("1", "", int64(0), int64(2), int64(1), "", int64(0), int64(2)),
		"negative count":  reply(int64(-1), "", int64(0), int64(2), int64(1), "", int64(0), int64(2)),
		"end not a time":  reply(int64(1), "soon", int64(0), int64(2), int64(1), "", int64(0), int64(2)),
		"step it lacks":   reply(int64(1), "", int64(1), int64(2), int64(1), "", int64(0), int64(2)),
		"step past steps": reply(int64(1), "", int64(0), int64(2), int64(1), "", int64(2), int64(2)),
		"flags not int":   reply(int64(1), "", int64(0), "2", int64(1), "", int64(0), int64(2)),
	} {
		err := readBounded(r, incrs, g, out)
		assert.ErrorIs(t, err, errMalformed, name)
	}
	assert.Error(t, readBounded(redis.NewCmd(context.Background()), incrs, g, out), "not an array")
}
