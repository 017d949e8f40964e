package redisstore

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// sweepBatch is how many keys one SCAN step asks for and one pipeline of
// sweep scripts carries.
const sweepBatch = 500

// Sweep implements store.Sweeper. It is optional: every key the store
// writes has a Redis TTL (the logical expiry plus Options.Grace), so Redis
// removes expired records by itself and nothing piles up without Sweep.
// Sweep removes records that have expired by the store's clock now, without
// waiting for the grace period: expired states, codes, counters, ledger
// marks and devices, and stale entries of device and owner indexes (which
// it does not count). It returns how many records it removed.
//
// Sweep walks the keys under the prefix with SCAN (on every master of a
// cluster or shard of a ring), so its cost grows with the whole keyspace;
// run it rarely, if at all.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	var mu sync.Mutex // a cluster's masters are scanned concurrently
	total := 0
	err := s.scan(ctx, func(keys []string) error {
		n, err := s.sweepKeys(ctx, keys)
		mu.Lock()
		total += n
		mu.Unlock()
		return err
	})
	mu.Lock()
	defer mu.Unlock()
	return total, err
}

// sweepKeys runs the sweep script on each key in one pipeline. If the
// server has not cached the script yet, the keys that reported NOSCRIPT are
// retried one by one with EVALSHA falling back to EVAL.
func (s *Store) sweepKeys(ctx context.Context, keys []string) (int, error) {
	now := s.clock()
	type item struct {
		key, kind string
		cmd       *redis.Cmd
	}
	items := make([]item, 0, len(keys))
	for _, k := range keys {
		kind, ok := s.kindOf(k)
		if !ok {
			continue
		}
		items = append(items, item{key: k, kind: kind})
	}
	if len(items) == 0 {
		return 0, nil
	}
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range items {
			items[i].cmd = sweep.EvalSha(ctx, p, []string{items[i].key}, items[i].kind, now, s.grace)
		}
		return nil
	})
	n := 0
	for _, it := range items {
		v, err := it.cmd.Int64()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			v, err = sweep.Run(ctx, s.rdb, []string{it.key}, it.kind, now, s.grace).Int64()
		}
		if err != nil {
			return n, wrap("sweep", err)
		}
		n += int(v)
	}
	return n, nil
}

// kindOf returns the kind segment of a key under the prefix.
func (s *Store) kindOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok {
		return "", false
	}
	kind, _, ok := strings.Cut(rest, ":")
	if !ok {
		return "", false
	}
	switch kind {
	case kindState, kindCodes, kindCounter, kindLedger, kindDevice, kindDevIdx, kindOwner:
		return kind, true
	}
	return "", false // enrollments never expire; anything else is not ours
}

// scan calls fn with batches of the keys under the prefix, on every node
// that holds keys.
func (s *Store) scan(ctx context.Context, fn func(keys []string) error) error {
	match := globEscape(s.prefix) + "*"
	each := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, sweepBatch).Result()
			if err != nil {
				return wrap("scan", err)
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return each(ctx, node) })
	case *redis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error { return each(ctx, node) })
	}
	return each(ctx, s.rdb)
}

// globEscape quotes the characters SCAN MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
