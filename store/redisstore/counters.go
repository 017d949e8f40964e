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
	return readIncr(s.incrCmd(key, window, s.now()).run(ctx, s.rdb), "incr")
}

// incrCmd is the incr script's call for the counter key at t.
func (s *Store) incrCmd(key string, window time.Duration, t time.Time) command {
	now, end := t.UnixMilli(), t.Add(window).UnixMilli()
	return scriptCommand(incr, []string{s.counterKey(key)}, now, end, max(end-now+s.grace, 1))
}

// readIncr reads the reply of the incr script.
func readIncr(c redis.Cmder, op string) (int64, time.Time, error) {
	res, err := c.(*redis.Cmd).Slice()
	if err != nil {
		return 0, time.Time{}, wrap(op, err)
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
	cmds := make([]command, len(incrs))
	for i, in := range incrs {
		cmds[i] = s.incrCmd(in.Key, in.Window, t)
	}
	replies, err := s.sendAll(ctx, cmds)
	if err != nil {
		return nil, wrap("incr batch", err)
	}
	out := make([]store.CounterValue, len(replies))
	for i, c := range replies {
		n, reset, err := readIncr(c, "incr batch")
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
	c, err := s.peekCmd(key)
	if err != nil {
		return 0, time.Time{}, err
	}
	return s.readPeek(c.run(ctx, s.rdb))
}

// peekCmd checks key and returns Peek's HMGET.
func (s *Store) peekCmd(key string) (command, error) {
	if err := checkID("counter key", key); err != nil {
		return command{}, err
	}
	k := s.counterKey(key)
	return plainCommand(k, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.HMGet(ctx, k, "n", "r")
	}), nil
}

// readPeek reads the reply of Peek's HMGET: a missing or ended counter
// is zero.
func (s *Store) readPeek(c redis.Cmder) (int64, time.Time, error) {
	vals, err := c.(*redis.SliceCmd).Result()
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
	if err := s.decrCmd(key, s.clock()).run(ctx, s.rdb).Err(); err != nil {
		return wrap("decr", err)
	}
	return nil
}

// decrCmd is the decr script's call for the counter key at now (Unix ms).
func (s *Store) decrCmd(key string, now int64) command {
	return scriptCommand(decr, []string{s.counterKey(key)}, now)
}

// ResetCounter implements store.Counters with one DEL.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	c, err := s.resetCmd(key)
	if err != nil {
		return err
	}
	return readReset(c.run(ctx, s.rdb))
}

// resetCmd checks key and returns ResetCounter's DEL.
func (s *Store) resetCmd(key string) (command, error) {
	if err := checkID("counter key", key); err != nil {
		return command{}, err
	}
	k := s.counterKey(key)
	return plainCommand(k, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.Del(ctx, k)
	}), nil
}

// readReset reads the reply of ResetCounter's DEL.
func readReset(c redis.Cmder) error {
	if err := c.Err(); err != nil {
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
	c, err := s.markCmd(key, value, expiresAt, once, s.clock())
	if err != nil {
		return false, err
	}
	return readMark(c.run(ctx, s.rdb), op)
}

// markCmd checks key and returns the advance script's call that sets the
// mark value (once: only where no mark is live, MarkUsed's rule) at now
// (Unix ms).
func (s *Store) markCmd(key string, value int64, expiresAt time.Time, once bool, now int64) (command, error) {
	if err := checkID("ledger key", key); err != nil {
		return command{}, err
	}
	exp := expiryMillis(expiresAt)
	hi, lo := value>>32, value&0xffffffff
	onceArg := "0"
	if once {
		onceArg = "1"
	}
	return scriptCommand(advance, []string{s.ledgerKey(key)}, now, hi, lo, exp, s.ttlMillis(exp, now), onceArg), nil
}

// readMark reads the reply of the advance script: whether it set the mark.
func readMark(c redis.Cmder, op string) (bool, error) {
	n, err := c.(*redis.Cmd).Int64()
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
