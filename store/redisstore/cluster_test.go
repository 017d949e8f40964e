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
