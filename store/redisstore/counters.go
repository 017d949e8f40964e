package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// Incr implements store.Counters with one script call. The window is fixed
// from the first increment; its end is stored in the counter and compared
// with the store's clock, so the injected clock decides when it is over. A
// window of zero or less gives a counter that has already ended, as in
// store.Memory.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, time.Time{}, err
	}
	if err := checkID("counter key", key); err != nil {
		return 0, time.Time{}, err
	}
	t := s.now()
	now, end := t.UnixMilli(), t.Add(window).UnixMilli()
	ttl := max(end-now+s.grace, 1)
	res, err := incr.Run(ctx, s.rdb, []string{s.counterKey(key)}, now, end, ttl).Slice()
	if err != nil {
		return 0, time.Time{}, wrap("incr", err)
	}
	return parseIncr(res)
}

func parseIncr(res []any) (int64, time.Time, error) {
	if len(res) != 2 {
		return 0, time.Time{}, malformed("incr: unexpected reply")
	}
	n, ok := res[0].(int64)
	r, ok2 := res[1].(string)
	if !ok || !ok2 || n < 1 {
		return 0, time.Time{}, malformed("incr: unexpected reply")
	}
	resetAt, err := strconv.ParseInt(r, 10, 64)
	if err != nil {
		return 0, time.Time{}, malformed("incr")
	}
	return n, time.UnixMilli(resetAt), nil
}

// IncrBatch implements store.BatchCounters: the Incr script for every
// counter, pipelined in one round trip (on a cluster, one per node, in
// parallel). Each increment is atomic on its own.
func (s *Store) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	for _, in := range incrs {
		if err := checkID("counter key", in.Key); err != nil {
			return nil, err
		}
	}
	t := s.now()
	now := t.UnixMilli()
	args := func(in store.CounterIncr) []any {
		end := t.Add(in.Window).UnixMilli()
		return []any{now, end, max(end-now+s.grace, 1)}
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(incrs))
	for i, in := range incrs {
		cmds[i] = incr.EvalSha(ctx, pipe, []string{s.counterKey(in.Key)}, args(in)...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return nil, wrap("incr batch", err)
	}
	// A command refused with NOSCRIPT did not run: its node had not cached
	// the script yet (first use, SCRIPT FLUSH, or on a cluster one node of
	// several). Run those again, alone, with the EVAL fallback; the others
	// ran and must not run twice.
	for i, c := range cmds {
		if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			cmds[i] = incr.Run(ctx, s.rdb, []string{s.counterKey(incrs[i].Key)}, args(incrs[i])...)
		}
	}
	out := make([]store.CounterValue, len(cmds))
	for i, c := range cmds {
		res, err := c.Slice()
		if err != nil {
			return nil, wrap("incr batch", err)
		}
		n, reset, err := parseIncr(res)
		if err != nil {
			return nil, err
		}
		out[i] = store.CounterValue{N: n, ResetAt: reset}
	}
	return out, nil
}

// Peek implements store.Counters with one HMGET.
func (s *Store) Peek(ctx context.Context, key string) (int64, time.Time, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, time.Time{}, err
	}
	if err := checkID("counter key", key); err != nil {
		return 0, time.Time{}, err
	}
	vals, err := s.rdb.HMGet(ctx, s.counterKey(key), "n", "r").Result()
	if err != nil {
		return 0, time.Time{}, wrap("peek", err)
	}
	if len(vals) != 2 || vals[0] == nil || vals[1] == nil {
		return 0, time.Time{}, nil
	}
	ns, ok := vals[0].(string)
	rs, ok2 := vals[1].(string)
	if !ok || !ok2 {
		return 0, time.Time{}, malformed("peek")
	}
	n, err1 := strconv.ParseInt(ns, 10, 64)
	r, err2 := strconv.ParseInt(rs, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, malformed("peek")
	}
	if s.clock() >= r {
		return 0, time.Time{}, nil
	}
	return n, time.UnixMilli(r), nil
}

// Decr implements store.Counters with one script call that subtracts one
// from a live count above zero, keeping the window and the TTL; a missing
// or ended counter is left alone and never created.
func (s *Store) Decr(ctx context.Context, key string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("counter key", key); err != nil {
		return err
	}
	if err := decr.Run(ctx, s.rdb, []string{s.counterKey(key)}, s.clock()).Err(); err != nil {
		return wrap("decr", err)
	}
	return nil
}

// ResetCounter implements store.Counters with one DEL.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("counter key", key); err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, s.counterKey(key)).Err(); err != nil {
		return wrap("reset counter", err)
	}
	return nil
}

// MarkUsed implements store.Ledger with one script call: the first caller
// sets the mark, every later caller finds it live.
func (s *Store) MarkUsed(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	return s.mark(ctx, "mark used", key, 1, expiresAt, true)
}

// Advance implements store.Ledger with one script call that compares the
// stored mark and the new value as 64-bit integers and sets the larger.
func (s *Store) Advance(ctx context.Context, key string, value int64, expiresAt time.Time) (bool, error) {
	return s.mark(ctx, "advance", key, value, expiresAt, false)
}

func (s *Store) mark(ctx context.Context, op, key string, value int64, expiresAt time.Time, once bool) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := checkID("ledger key", key); err != nil {
		return false, err
	}
	now, exp := s.clock(), expiryMillis(expiresAt)
	hi, lo := value>>32, value&0xffffffff
	onceArg := "0"
	if once {
		onceArg = "1"
	}
	n, err := advance.Run(ctx, s.rdb, []string{s.ledgerKey(key)}, now, hi, lo, exp, s.ttlMillis(exp, now), onceArg).Int64()
	if err != nil {
		return false, wrap(op, err)
	}
	switch n {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, malformed(op + ": unexpected reply")
}

// isNil reports whether err is Redis's "no such key".
func isNil(err error) bool { return errors.Is(err, redis.Nil) }
