package redisstore

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// Benchmarks of the basic operations against the test Redis, next to a raw
// PING through the same client: the PING figure is the round-trip limit
// the operations are measured against. roundtrips/op counts commands and
// pipelines sent per iteration.
//
//	go test -run '^$' -bench . -benchtime 2s ./store/redisstore/

// parallelism is the number of goroutines each benchmark runs at.
var parallelism = []int{1, 8}

// benchEach runs fn at every parallelism with a fresh store and reports
// round trips per operation. fn gets a worker number (distinct per
// goroutine) and an iteration number.
func benchEach(b *testing.B, fn func(s *Store, rdb *redis.Client, worker, i int) error) {
	benchEachOn(b, func(b *testing.B) (*Store, *redis.Client, hooker) {
		s, rdb := newStore(b, time.Now)
		return s, rdb, rdb
	}, fn)
}

// hooker is a client whose commands can be counted.
type hooker interface{ AddHook(redis.Hook) }

// benchEachOn is benchEach on the store that open returns, with the
// client under it, for PING, and the client whose round trips count.
func benchEachOn(b *testing.B, open func(*testing.B) (*Store, *redis.Client, hooker), fn func(s *Store, rdb *redis.Client, worker, i int) error) {
	for _, g := range parallelism {
		procs := runtime.GOMAXPROCS(0)
		per := max(1, (g+procs-1)/procs) // RunParallel starts per*GOMAXPROCS goroutines
		actual := g
		if g > 1 {
			actual = per * procs
		}
		b.Run("goroutines="+strconv.Itoa(actual), func(b *testing.B) {
			s, rdb, counted := open(b)
			var calls atomic.Int64
			counted.AddHook(countHook{&calls})
			// Warm the connection and the script cache.
			if err := fn(s, rdb, 0, -1); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			calls.Store(0)
			b.ResetTimer()
			if g == 1 {
				for i := 0; b.Loop(); i++ {
					if err := fn(s, rdb, 0, i); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				var workers atomic.Int64
				b.SetParallelism(per)
				b.RunParallel(func(pb *testing.PB) {
					w := int(workers.Add(1))
					for i := 0; pb.Next(); i++ {
						if err := fn(s, rdb, w, i); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(calls.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

func BenchmarkPing(b *testing.B) {
	benchEach(b, func(_ *Store, rdb *redis.Client, _, _ int) error {
		return rdb.Ping(context.Background()).Err()
	})
}

// BenchmarkCode issues a code and consumes it with the right hash: what
// every email or SMS login does.
func BenchmarkCode(b *testing.B) {
	hash := make([]byte, 32)
	benchEach(b, func(s *Store, _ *redis.Client, w, _ int) error {
		ctx := context.Background()
		group := "bench-code-" + strconv.Itoa(w)
		err := s.PutCode(ctx, store.Code{Group: group, Key: "email", Hash: hash, ExpiresAt: time.Now().Add(time.Minute), MaxAttempts: 5})
		if err != nil {
			return err
		}
		st, err := s.ConsumeCode(ctx, group, "email", hash)
		if err == nil && st != store.CodeMatched {
			err = fmt.Errorf("status %v", st)
		}
		return err
	})
}

func BenchmarkIncr(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, _, _ int) error {
		_, _, err := s.Incr(context.Background(), "bench-incr", time.Minute)
		return err
	})
}

// counterPair returns the keys of worker w's two counters of a limit
// check, cycling over 64 pairs.
func counterPair(w, i int, a, b string) (string, string) {
	k := ":" + strconv.Itoa(w) + ":" + strconv.Itoa(i%64)
	return "bench-" + a + k, "bench-" + b + k
}

// BenchmarkIncrBatch2 counts two counters at once, as the limit check
// before IncrBelow did.
func BenchmarkIncrBatch2(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, w, i int) error {
		ip, att := counterPair(w, i, "ip", "att")
		_, err := s.IncrBatch(context.Background(), []store.CounterIncr{{Key: ip, Window: time.Minute}, {Key: att, Window: time.Minute}})
		return err
	})
}

// BenchmarkIncrBatch2Decr is a refused limit check before IncrBelow: the
// batch, then the Decr that gives a count back.
func BenchmarkIncrBatch2Decr(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, w, i int) error {
		ctx := context.Background()
		ip, att := counterPair(w, i, "ip", "att")
		if _, err := s.IncrBatch(ctx, []store.CounterIncr{{Key: ip, Window: time.Minute}, {Key: att, Window: time.Minute}}); err != nil {
			return err
		}
		return s.Decr(ctx, ip)
	})
}

// incrBelow2 is an IncrBelow call on two counters: admitted when refused
// is false (the bounds are never reached), refused by the second counter,
// at its bound after its first call, otherwise.
func incrBelow2(s *Store, w, i int, refused bool) error {
	ip, other := counterPair(w, i, "ip", "att")
	bound := int64(1 << 40)
	if refused {
		ip, other = counterPair(w, i, "ip", "full")
		bound = 1
	}
	_, err := s.IncrBelow(context.Background(), []store.BoundedIncr{{Key: ip, Window: time.Minute, Max: 1 << 40}, {Key: other, Window: time.Minute, Max: bound}})
	return err
}

func BenchmarkIncrBelow2(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, w, i int) error { return incrBelow2(s, w, i, false) })
}

func BenchmarkIncrBelow2Refused(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, w, i int) error { return incrBelow2(s, w, i, true) })
}

// openRing returns a store on a one-shard redis.Ring over the test Redis,
// on which IncrBelow splits a call by hash slot as on a cluster: the cost
// of a call whose keys are in two slots, without starting a cluster.
func openRing(b *testing.B) (*Store, *redis.Client, hooker) {
	s, rdb := newStore(b, time.Now)
	rs, ring := newRingStore(b, s, time.Now)
	return rs, rdb, ring
}

func BenchmarkIncrBelow2Split(b *testing.B) {
	benchEachOn(b, openRing, func(s *Store, _ *redis.Client, w, i int) error { return incrBelow2(s, w, i, false) })
}

func BenchmarkIncrBelow2SplitRefused(b *testing.B) {
	benchEachOn(b, openRing, func(s *Store, _ *redis.Client, w, i int) error { return incrBelow2(s, w, i, true) })
}

// BenchmarkTakeState stores a challenge and takes it, as Begin and a
// successful Verify do.
func BenchmarkTakeState(b *testing.B) {
	value := make([]byte, 256)
	benchEach(b, func(s *Store, _ *redis.Client, w, _ int) error {
		ctx := context.Background()
		key := "bench-state-" + strconv.Itoa(w)
		if err := s.PutState(ctx, key, value, time.Now().Add(time.Minute)); err != nil {
			return err
		}
		_, err := s.TakeState(ctx, key)
		return err
	})
}

// BenchmarkAdvance raises a TOTP-style high-water mark, one step further
// each time.
func BenchmarkAdvance(b *testing.B) {
	base := time.Now().Unix() / 30
	benchEach(b, func(s *Store, _ *redis.Client, w, i int) error {
		ok, err := s.Advance(context.Background(), "bench-adv-"+strconv.Itoa(w), base+int64(i)+1, time.Now().Add(time.Minute))
		if err == nil && !ok {
			err = fmt.Errorf("step %d not accepted", i)
		}
		return err
	})
}

// benchUser is the user whose records the batch benchmarks read.
const benchUser = "bench-user"

// seedUser writes what the start of a login reads of benchUser: a run of
// wrong answers, two enrollments and a state.
func seedUser(ctx context.Context, s *Store) error {
	if _, _, err := s.Incr(ctx, "{u:"+benchUser+"}fail", time.Hour); err != nil {
		return err
	}
	for _, id := range []string{"totp-1", "webauthn-1"} {
		e := store.EnrollmentRecord{UserID: benchUser, ID: id, Method: "totp", Label: "Phone", Data: make([]byte, 64), CreatedAt: time.Now()}
		if err := s.PutEnrollment(ctx, e); err != nil {
			return err
		}
	}
	return s.PutState(ctx, "{u:"+benchUser+"}st", make([]byte, 64), time.Now().Add(time.Hour))
}

// BenchmarkBatch3 reads benchUser's run of wrong answers, enrollments and
// state in one RunBatch: one round trip.
func BenchmarkBatch3(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, _, i int) error {
		ctx := context.Background()
		if i < 0 {
			if err := seedUser(ctx, s); err != nil {
				return err
			}
		}
		ops := []store.Op{
			{Kind: store.OpPeek, Key: "{u:" + benchUser + "}fail"},
			{Kind: store.OpListEnrollments, UserID: benchUser},
			{Kind: store.OpGetState, Key: "{u:" + benchUser + "}st"},
		}
		if err := s.RunBatch(ctx, ops); err != nil {
			return err
		}
		if ops[0].Counter.N != 1 || len(ops[1].Records) != 2 || !ops[2].Found {
			return fmt.Errorf("unexpected results: %+v", ops)
		}
		return nil
	})
}

// BenchmarkBatch3Sequential reads what BenchmarkBatch3 reads with Peek,
// ListEnrollments and GetState one after another: three round trips.
func BenchmarkBatch3Sequential(b *testing.B) {
	benchEach(b, func(s *Store, _ *redis.Client, _, i int) error {
		ctx := context.Background()
		if i < 0 {
			if err := seedUser(ctx, s); err != nil {
				return err
			}
		}
		n, _, err := s.Peek(ctx, "{u:"+benchUser+"}fail")
		if err != nil {
			return err
		}
		recs, err := s.ListEnrollments(ctx, benchUser)
		if err != nil {
			return err
		}
		v, err := s.GetState(ctx, "{u:"+benchUser+"}st")
		if err != nil {
			return err
		}
		if n != 1 || len(recs) != 2 || v == nil {
			return fmt.Errorf("unexpected results: %d %d %v", n, len(recs), v != nil)
		}
		return nil
	})
}
