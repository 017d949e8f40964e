package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// TestCluster runs the conformance suite, the device index and a login
// flow on a Redis Cluster, where a script touching keys of two slots fails
// with CROSSSLOT. It starts a throwaway three-master cluster from the
// installed redis-server, or uses the nodes listed in
// TWOFACTOR_REDIS_CLUSTER ("127.0.0.1:7101,127.0.0.1:7102,...").
func TestCluster(t *testing.T) {
	addrs := clusterAddrs(t)
	rdbs := make([]*redis.ClusterClient, 2) // two app instances' clients
	for i := range rdbs {
		rdbs[i] = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { _ = rdbs[i].Close() })
	}
	rdb := rdbs[0]
	ctx := context.Background()
	require.NoError(t, rdb.Ping(ctx).Err())
	prefix := testPrefix(t, rdb)

	t.Run("Conformance", func(t *testing.T) {
		var turn atomic.Int64
		storetest.RunWith(t, func(t *testing.T, now func() time.Time) store.Store {
			s, err := New(rdbs[int(turn.Add(1))%len(rdbs)], Options{Prefix: prefix, Now: now})
			require.NoError(t, err)
			return s
		}, storetest.Options{Rounds: 10, Shared: true, AtomicPerHashSlot: true})
	})

	t.Run("Devices", func(t *testing.T) {
		clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
		s, err := New(rdb, Options{Prefix: prefix + "dev:", Now: clk.Now})
		require.NoError(t, err)
		// Device keys of one user land in many slots; the index is in one.
		for i := range 20 {
			id := "device-" + strings.Repeat("x", i)
			require.NoError(t, s.PutDevice(ctx, store.Device{ID: id, UserID: "u", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Duration(i+1) * time.Hour)}))
		}
		clk.Advance(10*time.Hour + time.Minute)
		list, err := s.ListDevices(ctx, "u")
		require.NoError(t, err)
		assert.Len(t, list, 10)
		n, err := s.Sweep(ctx)
		require.NoError(t, err)
		assert.Equal(t, 10, n, "expired devices swept on every master")
	})

	t.Run("Isolated", func(t *testing.T) {
		// The commands of a batch on the keys of one slot are one
		// transaction: of two batches run at once from two pools, each
		// sees its increments of a counter follow one another, in each
		// of two slots. (Plain pipelines this long reach a node in
		// several reads, between which it serves the other pool's.)
		a, err := New(rdbs[0], Options{Prefix: prefix + "iso:"})
		require.NoError(t, err)
		b, err := New(rdbs[1], Options{Prefix: prefix + "iso:"})
		require.NoError(t, err)
		keys := []string{"{iso-a}n", "{iso-b}n"}
		const perBatch = 800
		run := func(s *Store) error {
			ops := make([]store.Op, perBatch, perBatch+1)
			for i := range ops {
				ops[i] = store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: keys[i%2], Window: time.Hour, Max: 1 << 40}}}
			}
			ops = append(ops, store.Op{Kind: store.OpPeek, Key: "{iso-c}n"}) // alone in its slot
			if err := s.RunBatch(ctx, ops); err != nil {
				return err
			}
			for i := 2; i < perBatch; i++ {
				if got, prev := ops[i].Bounded[0].N, ops[i-2].Bounded[0].N; got != prev+1 {
					return fmt.Errorf("an increment of %s counted %d after %d: another batch's ran between", keys[i%2], got, prev)
				}
			}
			return nil
		}
		raceBatches(t, a, b, 10, run)
		for _, k := range keys {
			n, _, err := a.Peek(ctx, k)
			require.NoError(t, err)
			assert.Equal(t, int64(10*perBatch), n, k)
		}
	})

	t.Run("BackupCodeDoubleSubmit", func(t *testing.T) {
		clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
		sa, err := New(rdbs[0], Options{Prefix: prefix + "double:", Now: clock.Now})
		require.NoError(t, err)
		sb, err := New(rdbs[1], Options{Prefix: prefix + "double:", Now: clock.Now})
		require.NoError(t, err)
		a, b := flowtest.NewPair(t, sa, sb, flowtest.Options{Now: clock.Now})
		// The race is run where the nodes have the scripts cached: a
		// script's first call on a node is sent again in a second
		// transaction (see sendAll), which the twins may interleave.
		loadScripts(t, rdb)
		const rounds = 20
		flowtest.BackupCodeDoubleSubmit(t, a, b, clock.Now, "cluster-double-", rounds, 8)
		flowtest.BackupCodeDoubleSubmitService(t, a, b, peeker(t, sa), "cluster-svc-double-", rounds, 8)

		// What made it hold: each submission's mark is in the slot of
		// its user's codes, so the two went in one transaction.
		var marks []string
		var mu sync.Mutex
		require.NoError(t, rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			keys, err := c.Keys(ctx, sa.counterKey("backupcodes:sub:")+"*").Result()
			mu.Lock()
			marks = append(marks, keys...)
			mu.Unlock()
			return err
		}))
		require.Len(t, marks, 2*rounds, "one mark per code submitted, directly and through the Service")
		for _, m := range marks {
			user := m[strings.Index(m, "{g:backup:")+len("{g:backup:") : strings.IndexByte(m, '}')]
			assert.Equal(t, rdb.ClusterKeySlot(ctx, sa.groupKey("backup:"+user)).Val(), rdb.ClusterKeySlot(ctx, m).Val(), "the mark %s and its user's codes", m)
		}
	})

	t.Run("Flow", func(t *testing.T) {
		clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
		fl := newFlow(t, rdb, prefix+"flow:", clk.Now)
		for range 5 {
			a := fl.begin(t)
			res, err := fl.svc.Verify(ctx, a)
			require.NoError(t, err)
			require.NotNil(t, res)
		}
	})
}

// TestGroupTag: a counter whose key contains store.GroupTag(g) hashes as
// the codes of g do, whatever braces the group holds, and two groups'
// tags differ.
func TestGroupTag(t *testing.T) {
	s := &Store{prefix: "app:2fa:"}
	for _, g := range []string{"backup:42", "recovery:a{b", "backup:a}b", "backup:{x}", "backup:}"} {
		want := hashTag(s.groupKey(g))
		for _, key := range []string{store.GroupTag(g), "mark:" + store.GroupTag(g) + "ab01", "a:b:" + store.GroupTag(g) + "}{z}"} {
			assert.Equal(t, want, hashTag(s.counterKey(key)), "group %q, counter %q", g, key)
		}
	}
	assert.NotEqual(t, hashTag(s.groupKey("backup:1")), hashTag(s.groupKey("backup:2")))
	assert.Equal(t, "g:backup:1", hashTag(s.counterKey("x"+store.GroupTag("backup:1"))))
}
