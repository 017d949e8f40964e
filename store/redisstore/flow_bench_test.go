package redisstore

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/internal/flowtest"
)

// BenchmarkLoginFlow: complete logins (Begin, Send an email code, Verify)
// per second on Redis at 1, 8 and 64 goroutines, against PING through the
// same client in the same run.
func BenchmarkLoginFlow(b *testing.B) {
	s, rdb := newStore(b, nil)
	flowtest.BenchLogin(b, s, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
}

// BenchmarkLoginFlowRealistic: BenchmarkLoginFlow with the factors a real
// app offers, for a TOTP login and an email login.
func BenchmarkLoginFlowRealistic(b *testing.B) {
	s, rdb := newStore(b, nil)
	flowtest.BenchLoginRealistic(b, s, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
}

// BenchmarkLoginFlowCluster: BenchmarkLoginFlow on a Redis Cluster of
// three masters (started as TestCluster's is), against PING to one node
// through the same client.
func BenchmarkLoginFlowCluster(b *testing.B) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(b)})
	b.Cleanup(func() { _ = rdb.Close() })
	s, err := New(rdb, Options{Prefix: testPrefix(b, rdb)})
	if err != nil {
		b.Fatal(err)
	}
	flowtest.BenchLogin(b, s, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
}
