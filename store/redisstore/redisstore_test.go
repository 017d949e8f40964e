package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
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

// newClient connects to the test Redis (skipped locally, failed in CI when
// it is missing) and closes the client when the test ends.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// testPrefix returns a prefix no other run uses, and deletes every key
// under it when the test ends, checking that none is left.
func testPrefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "tftest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		s, err := New(rdb, Options{Prefix: prefix})
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if err := s.deleteAll(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		left := 0
		_ = s.scan(ctx, func(keys []string) error { left += len(keys); return nil })
		if left != 0 {
			t.Errorf("cleanup: %d keys left under %s", left, prefix)
		}
	})
	return prefix
}

// deleteAll removes every key under the prefix (tests only).
func (s *Store) deleteAll(ctx context.Context) error {
	return s.scan(ctx, func(keys []string) error {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		return err
	})
}

// newStore returns a store on the test Redis with a fresh prefix.
func newStore(t testing.TB, now func() time.Time) (*Store, *redis.Client) {
	t.Helper()
	return newStoreOn(t, newClient(t), now)
}

// newStoreOn is newStore on the server of rdb.
func newStoreOn(t testing.TB, rdb *redis.Client, now func() time.Time) (*Store, *redis.Client) {
	t.Helper()
	s, err := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: now})
	require.NoError(t, err)
	return s, rdb
}

// TestConformance runs the suite with stores that take turns between two
// clients (two connection pools) on one Redis, so that the two the suite
// races as app instances have connections of their own.
func TestConformance(t *testing.T) {
	rdbs := []*redis.Client{newClient(t), newClient(t)}
	prefix := testPrefix(t, rdbs[0])
	var turn atomic.Int64
	storetest.RunWith(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := New(rdbs[int(turn.Add(1))%len(rdbs)], Options{Prefix: prefix, Now: now})
		require.NoError(t, err)
		return s
	}, storetest.Options{Shared: true})
}

func TestNewValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	tests := []struct {
		name string
		rdb  redis.UniversalClient
		opt  Options
		want string // in the error; "" means valid
	}{
		{"zero options", rdb, Options{}, ""},
		{"custom prefix", rdb, Options{Prefix: "app:2fa:", Grace: time.Minute}, ""},
		{"nil client", nil, Options{}, "client is nil"},
		{"brace in prefix", rdb, Options{Prefix: "app{x}:"}, "hash tags"},
		{"long prefix", rdb, Options{Prefix: strings.Repeat("p", 129)}, "at most 128"},
		{"negative grace", rdb, Options{Grace: -time.Second}, "negative"},
		{"grace under a millisecond", rdb, Options{Grace: time.Microsecond}, "millisecond"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.rdb, tt.opt)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), err.Error())
			assert.Nil(t, s)
		})
	}
	s, err := New(rdb, Options{})
	require.NoError(t, err)
	assert.Equal(t, DefaultPrefix, s.Prefix())
	assert.Equal(t, DefaultGrace.Milliseconds(), s.grace)
}

// TestInvalidInput checks that malformed arguments get ErrInvalidInput
// before any round trip and leave the store as it was.
func TestInvalidInput(t *testing.T) {
	s, _, clk, calls := countedStore(t)
	ctx := context.Background()
	exp := clk.Now().Add(time.Minute)
	long := strings.Repeat("x", maxID+1)
	hash := []byte("h")
	bad := []struct {
		name string
		call func() error
	}{
		{"PutState empty key", func() error { return s.PutState(ctx, "", []byte("v"), exp) }},
		{"PutState long key", func() error { return s.PutState(ctx, long, []byte("v"), exp) }},
		{"GetState empty key", func() error { _, err := s.GetState(ctx, ""); return err }},
		{"TakeState empty key", func() error { _, err := s.TakeState(ctx, ""); return err }},
		{"DeleteState empty key", func() error { return s.DeleteState(ctx, "") }},
		{"PutCode empty group", func() error { return s.PutCode(ctx, store.Code{Key: "k", Hash: hash}) }},
		{"PutCode empty key", func() error { return s.PutCode(ctx, store.Code{Group: "g", Hash: hash}) }},
		{"PutCode empty hash", func() error { return s.PutCode(ctx, store.Code{Group: "g", Key: "k"}) }},
		{"PutCode negative attempts", func() error {
			return s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: hash, MaxAttempts: -1})
		}},
		{"ConsumeCode empty group", func() error { return consumeErr(s.ConsumeCode(ctx, "", "k", hash)) }},
		{"ConsumeCode empty key", func() error { return consumeErr(s.ConsumeCode(ctx, "g", "", hash)) }},
		{"ConsumeCode empty hash", func() error { return consumeErr(s.ConsumeCode(ctx, "g", "k", nil)) }},
		{"ConsumeCode long hash", func() error { return consumeErr(s.ConsumeCode(ctx, "g", "k", []byte(long))) }},
		{"DeleteCode empty key", func() error { return s.DeleteCode(ctx, "g", "") }},
		{"DeleteGroup empty", func() error { return s.DeleteGroup(ctx, "") }},
		{"CountGroup empty", func() error { _, err := s.CountGroup(ctx, ""); return err }},
		{"Incr empty key", func() error { _, _, err := s.Incr(ctx, "", time.Minute); return err }},
		{"Peek empty key", func() error { _, _, err := s.Peek(ctx, ""); return err }},
		{"ResetCounter empty key", func() error { return s.ResetCounter(ctx, "") }},
		{"Decr empty key", func() error { return s.Decr(ctx, "") }},
		{"Decr long key", func() error { return s.Decr(ctx, long) }},
		{"PutOwnedState empty owner", func() error { return s.PutOwnedState(ctx, "", "k", []byte("v"), exp) }},
		{"PutOwnedState long owner", func() error { return s.PutOwnedState(ctx, long, "k", []byte("v"), exp) }},
		{"PutOwnedState empty key", func() error { return s.PutOwnedState(ctx, "u", "", []byte("v"), exp) }},
		{"DeleteOwnedStates empty owner", func() error { return s.DeleteOwnedStates(ctx, "") }},
		{"MarkUsed empty key", func() error { _, err := s.MarkUsed(ctx, "", exp); return err }},
		{"Advance empty key", func() error { _, err := s.Advance(ctx, "", 1, exp); return err }},
		{"PutEnrollment empty user", func() error { return s.PutEnrollment(ctx, store.EnrollmentRecord{ID: "e"}) }},
		{"PutEnrollment empty id", func() error { return s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u"}) }},
		{"PutEnrollment unencodable time", func() error {
			return s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
		}},
		{"GetEnrollment empty id", func() error { _, err := s.GetEnrollment(ctx, "u", ""); return err }},
		{"ListEnrollments empty user", func() error { _, err := s.ListEnrollments(ctx, ""); return err }},
		{"DeleteEnrollment empty user", func() error { return s.DeleteEnrollment(ctx, "", "e") }},
		{"TouchEnrollment empty user", func() error { return s.TouchEnrollment(ctx, "", "e", exp) }},
		{"TouchEnrollment long id", func() error { return s.TouchEnrollment(ctx, "u", long, exp) }},
		{"TouchEnrollment unencodable time", func() error {
			return s.TouchEnrollment(ctx, "u", "e", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
		}},
		{"PutDevice empty id", func() error { return s.PutDevice(ctx, store.Device{UserID: "u", ExpiresAt: exp}) }},
		{"PutDevice empty user", func() error { return s.PutDevice(ctx, store.Device{ID: "d", ExpiresAt: exp}) }},
		{"GetDevice empty id", func() error { _, err := s.GetDevice(ctx, ""); return err }},
		{"ListDevices empty user", func() error { _, err := s.ListDevices(ctx, ""); return err }},
		{"DeleteDevice empty id", func() error { return s.DeleteDevice(ctx, "") }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			err := tt.call()
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), err.Error())
			assert.Equal(t, before, calls.Load(), "no command was sent")
		})
	}
	n := 0
	require.NoError(t, s.scan(ctx, func(keys []string) error { n += len(keys); return nil }))
	assert.Zero(t, n, "rejected calls wrote nothing")
}

// consumeErr turns a ConsumeCode result into an error, failing on a
// success status that came with an error.
func consumeErr(st store.CodeStatus, err error) error {
	if err != nil && st != store.CodeNotFound {
		return fmt.Errorf("status %v with error %w", st, err)
	}
	return err
}

// countedStore is a store on a clock of its own whose commands calls
// counts (round trips: a pipeline is one), on a Redis server of the
// test's own (scriptClient) with every script of the store cached.
func countedStore(t *testing.T) (*Store, *redis.Client, *storetest.Clock, *atomic.Int64) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStoreOn(t, scriptClient(t), clk.Now)
	loadScripts(t, rdb) // as on a server that has run the store for a while
	var calls atomic.Int64
	rdb.AddHook(countHook{&calls})
	return s, rdb, clk, &calls
}

// countHook counts commands and pipelines sent: each is one round trip.
// The handshake of a new connection (HELLO, CLIENT ...) is not counted.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !handshake(cmd) {
				h.n.Add(1)
				break
			}
		}
		return next(ctx, cmds)
	}
}

func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// TestRoundTrips pins the number of round trips of every operation, once
// the scripts are cached on the server.
func TestRoundTrips(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	exp := clk.Now().Add(time.Minute)
	// Warm the script cache so EVALSHA never falls back to EVAL below.
	for _, sc := range []*redis.Script{putCode, consumeCode, deleteCode, incr, decr, advance, indexDevice, unindex, indexOwned, deleteOwned, sweep, touchEnrollment, touchDevice} {
		require.NoError(t, sc.Load(ctx, rdb).Err())
	}
	var calls atomic.Int64
	rdb.AddHook(countHook{&calls})
	dev := store.Device{ID: "dev-1", UserID: "u1", CreatedAt: clk.Now(), ExpiresAt: exp}
	ops := []struct {
		name string
		want int64
		call func() error
	}{
		{"PutState", 1, func() error { return s.PutState(ctx, "st", []byte("v"), exp) }},
		{"GetState", 1, func() error { _, err := s.GetState(ctx, "st"); return err }},
		{"TakeState", 1, func() error { _, err := s.TakeState(ctx, "st"); return err }},
		{"DeleteState", 1, func() error { return s.DeleteState(ctx, "st") }},
		{"PutCode", 1, func() error {
			return s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: []byte("h"), ExpiresAt: exp, MaxAttempts: 3})
		}},
		{"ConsumeCode mismatch", 1, func() error { return consumeErr(s.ConsumeCode(ctx, "g", "k", []byte("x"))) }},
		{"CountGroup", 1, func() error { _, err := s.CountGroup(ctx, "g"); return err }},
		{"ConsumeCode match", 1, func() error { return consumeErr(s.ConsumeCode(ctx, "g", "k", []byte("h"))) }},
		{"DeleteCode", 1, func() error { return s.DeleteCode(ctx, "g", "k") }},
		{"DeleteGroup", 1, func() error { return s.DeleteGroup(ctx, "g") }},
		{"Incr", 1, func() error { _, _, err := s.Incr(ctx, "c", time.Minute); return err }},
		{"Peek", 1, func() error { _, _, err := s.Peek(ctx, "c"); return err }},
		{"IncrBatch", 1, func() error {
			_, err := s.IncrBatch(ctx, []store.CounterIncr{{Key: "c", Window: time.Minute}, {Key: "c2", Window: time.Hour}, {Key: "c3", Window: time.Hour}})
			return err
		}},
		{"Decr", 1, func() error { return s.Decr(ctx, "c") }},
		{"ResetCounter", 1, func() error { return s.ResetCounter(ctx, "c") }},
		{"PutOwnedState", 2, func() error { return s.PutOwnedState(ctx, "u1", "os1", []byte("v"), exp) }},
		{"PutOwnedState again", 2, func() error { return s.PutOwnedState(ctx, "u1", "os2", []byte("v"), exp) }},
		{"DeleteOwnedStates", 3, func() error { return s.DeleteOwnedStates(ctx, "u1") }},
		{"DeleteOwnedStates none", 1, func() error { return s.DeleteOwnedStates(ctx, "u1") }},
		{"MarkUsed", 1, func() error { _, err := s.MarkUsed(ctx, "m", exp); return err }},
		{"Advance", 1, func() error { _, err := s.Advance(ctx, "a", 7, exp); return err }},
		{"PutEnrollment", 1, func() error {
			return s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "e1", Method: "totp"})
		}},
		{"GetEnrollment", 1, func() error { _, err := s.GetEnrollment(ctx, "u1", "e1"); return err }},
		{"ListEnrollments", 1, func() error { _, err := s.ListEnrollments(ctx, "u1"); return err }},
		{"TouchEnrollment", 1, func() error { return s.TouchEnrollment(ctx, "u1", "e1", clk.Now()) }},
		{"DeleteEnrollment", 1, func() error { return s.DeleteEnrollment(ctx, "u1", "e1") }},
		{"PutDevice", 2, func() error { return s.PutDevice(ctx, dev) }},
		{"GetDevice", 1, func() error { _, err := s.GetDevice(ctx, dev.ID); return err }},
		{"TouchDevice", 1, func() error { return s.TouchDevice(ctx, dev.ID, clk.Now()) }},
		{"ListDevices", 2, func() error { _, err := s.ListDevices(ctx, "u1"); return err }},
		{"DeleteDevice", 2, func() error { return s.DeleteDevice(ctx, dev.ID) }},
		{"ListDevices none", 1, func() error { _, err := s.ListDevices(ctx, "u1"); return err }},
	}
	for _, op := range ops {
		before := calls.Load()
		require.NoError(t, op.call(), op.name)
		assert.Equal(t, op.want, calls.Load()-before, "%s round trips", op.name)
	}
}

// TestIncrBatchLoadsScript: a batch sent before the script is cached on
// the server (first use, or after SCRIPT FLUSH) loads it and still counts
// every counter exactly once.
func TestIncrBatchLoadsScript(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStoreOn(t, scriptClient(t), clk.Now)
	ctx := context.Background()
	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	out, err := s.IncrBatch(ctx, []store.CounterIncr{{Key: "a", Window: time.Minute}, {Key: "b", Window: time.Minute}, {Key: "a", Window: time.Minute}})
	require.NoError(t, err)
	require.Len(t, out, 3)
	assert.Equal(t, []int64{1, 1, 2}, []int64{out[0].N, out[1].N, out[2].N})
	n, _, err := s.Peek(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "no increment ran twice")
	_, err = s.IncrBatch(ctx, []store.CounterIncr{{Key: "", Window: time.Minute}})
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// TestTTLs checks that every key carries a Redis TTL equal to the time left
// by the store's clock plus the grace period, whichever side of the real
// time the clock is, and that keys without expiry have none.
func TestTTLs(t *testing.T) {
	clocks := map[string]time.Time{
		"clock in the past":   time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC),
		"clock in the future": time.Date(2101, 2, 3, 4, 5, 6, 0, time.UTC),
		"real time":           time.Now(),
	}
	for name, start := range clocks {
		t.Run(name, func(t *testing.T) {
			clk := storetest.NewClock(start)
			rdb := newClient(t)
			s, err := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now, Grace: 10 * time.Minute})
			require.NoError(t, err)
			ctx := context.Background()
			in := func(d time.Duration) time.Time { return clk.Now().Add(d) }
			require.NoError(t, s.PutState(ctx, "st", []byte("v"), in(time.Minute)))
			require.NoError(t, s.PutState(ctx, "forever", []byte("v"), time.Time{}))
			require.NoError(t, s.PutOwnedState(ctx, "u", "owned", []byte("v"), in(4*time.Minute)))
			require.NoError(t, s.PutOwnedState(ctx, "u", "owned2", []byte("v"), in(3*time.Minute)))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "email", Key: "k", Hash: []byte("h"), ExpiresAt: in(15 * time.Minute)}))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "email", Key: "k2", Hash: []byte("h"), ExpiresAt: in(5 * time.Minute)}))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "backup", Key: "k", Hash: []byte("h")}))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "backup", Key: "k2", Hash: []byte("h"), ExpiresAt: in(time.Minute)}))
			_, _, err = s.Incr(ctx, "ctr", time.Hour)
			require.NoError(t, err)
			_, err = s.MarkUsed(ctx, "mark", in(2*time.Minute))
			require.NoError(t, err)
			_, err = s.Advance(ctx, "step", 5, in(3*time.Minute))
			require.NoError(t, err)
			require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e", Method: "totp", CreatedAt: clk.Now()}))
			require.NoError(t, s.PutDevice(ctx, store.Device{ID: "d1", UserID: "u", CreatedAt: clk.Now(), ExpiresAt: in(24 * time.Hour)}))
			require.NoError(t, s.PutDevice(ctx, store.Device{ID: "d2", UserID: "u", CreatedAt: clk.Now(), ExpiresAt: in(48 * time.Hour)}))

			grace := 10 * time.Minute
			want := map[string]time.Duration{ // 0: no TTL
				s.stateKey("st"):      time.Minute + grace,
				s.stateKey("forever"): 0,
				s.stateKey("owned"):   4*time.Minute + grace,
				s.stateKey("owned2"):  3*time.Minute + grace,
				s.ownerKey("u"):       4*time.Minute + grace,  // the latest state filed
				s.groupKey("email"):   15*time.Minute + grace, // the latest code of the group
				s.groupKey("backup"):  0,                      // holds a code that never expires
				s.counterKey("ctr"):   time.Hour + grace,
				s.ledgerKey("mark"):   2*time.Minute + grace,
				s.ledgerKey("step"):   3*time.Minute + grace,
				s.enrollKey("u"):      0,
				s.deviceKey("d1"):     24*time.Hour + grace,
				s.deviceKey("d2"):     48*time.Hour + grace,
				s.devIdxKey("u"):      48*time.Hour + grace,
			}
			var keys []string
			require.NoError(t, s.scan(ctx, func(k []string) error { keys = append(keys, k...); return nil }))
			assert.ElementsMatch(t, keysOf(want), keys, "key layout")
			for key, ttl := range want {
				got, err := rdb.PTTL(ctx, key).Result()
				require.NoError(t, err, key)
				if ttl == 0 {
					assert.Equal(t, time.Duration(-1), got, "%s has no TTL", key)
					continue
				}
				// TTLs only count down from what was set; allow a few
				// seconds for a slow machine.
				assert.LessOrEqual(t, got, ttl, key)
				assert.Greater(t, got, ttl-5*time.Second, key)
			}

			// Deleting the code that never expires gives the group a TTL
			// again; consuming the last code removes the group.
			require.NoError(t, s.DeleteCode(ctx, "backup", "k"))
			got, err := rdb.PTTL(ctx, s.groupKey("backup")).Result()
			require.NoError(t, err)
			assert.Greater(t, got, grace, "group TTL follows its remaining code")
			assert.LessOrEqual(t, got, time.Minute+grace)
			st, err := s.ConsumeCode(ctx, "backup", "k2", []byte("h"))
			require.NoError(t, err)
			require.Equal(t, store.CodeMatched, st)
			n, err := rdb.Exists(ctx, s.groupKey("backup")).Result()
			require.NoError(t, err)
			assert.Zero(t, n, "an empty group is no key")
		})
	}
}

func keysOf(m map[string]time.Duration) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestExpiredKeptForGrace checks that expiry is decided by the store's clock
// while the key is still in Redis: an expired code answers CodeExpired, not
// CodeNotFound, and a counter whose window ended by the clock restarts even
// though its key is still there.
func TestExpiredKeptForGrace(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute)}))
	_, _, err := s.Incr(ctx, "c", time.Minute)
	require.NoError(t, err)
	clk.Advance(30 * time.Minute)
	n, err := rdb.Exists(ctx, s.groupKey("g"), s.counterKey("c")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "keys outlive their logical expiry by the grace period")
	cnt, err := s.CountGroup(ctx, "g")
	require.NoError(t, err)
	assert.Zero(t, cnt)
	st, err := s.ConsumeCode(ctx, "g", "k", []byte("h"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeExpired, st)
	c, reset, err := s.Incr(ctx, "c", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(1), c)
	assert.Equal(t, clk.Now().Add(time.Minute), reset.UTC())
}

// TestAdvanceInt64 compares marks across the whole int64 range, where Lua
// numbers (doubles) would round.
func TestAdvanceInt64(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newStore(t, clk.Now)
	ctx := context.Background()
	exp := clk.Now().Add(time.Hour)
	steps := []struct {
		value int64
		want  bool
	}{
		{math.MinInt64, true},
		{math.MinInt64, false},
		{-1 << 32, true},
		{-(1 << 32) - 1, false},
		{-1, true},
		{0, true},
		{1<<32 - 1, true},
		{1 << 32, true},
		{1<<53 + 1, true},
		{1 << 53, false},
		{1<<53 + 1, false},
		{math.MaxInt64 - 1, true},
		{math.MaxInt64 - 2, false},
		{math.MaxInt64, true},
		{math.MaxInt64, false},
	}
	for i, st := range steps {
		got, err := s.Advance(ctx, "hw", st.value, exp)
		require.NoError(t, err)
		assert.Equal(t, st.want, got, "step %d: Advance(%d)", i, st.value)
	}
}

// TestMalformedValues checks that a key holding something this package did
// not write makes operations fail with an error, never a success.
func TestMalformedValues(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, s.stateKey("bad"), "no envelope", 0).Err())
	require.NoError(t, rdb.HSet(ctx, s.groupKey("bad"), "k:k", "garbage").Err())
	require.NoError(t, rdb.HSet(ctx, s.counterKey("bad"), "n", "x", "r", "y").Err())
	require.NoError(t, rdb.Set(ctx, s.ledgerKey("bad"), "a string, not a hash", 0).Err())
	require.NoError(t, rdb.HSet(ctx, s.enrollKey("u"), "e", "{not json").Err())
	require.NoError(t, rdb.Set(ctx, s.deviceKey("bad"), "0|{}", 0).Err())
	require.NoError(t, rdb.HSet(ctx, s.devIdxKey("u"), "bad", "soon").Err())
	require.NoError(t, rdb.HSet(ctx, s.ownerKey("bad"), "k", "soon").Err())

	_, err := s.GetState(ctx, "bad")
	assert.ErrorIs(t, err, errMalformed)
	_, err = s.TakeState(ctx, "bad")
	assert.ErrorIs(t, err, errMalformed)
	st, err := s.ConsumeCode(ctx, "bad", "k", []byte("garbage"))
	assert.Error(t, err)
	assert.Equal(t, store.CodeNotFound, st)
	_, err = s.CountGroup(ctx, "bad")
	assert.ErrorIs(t, err, errMalformed)
	_, _, err = s.Peek(ctx, "bad")
	assert.ErrorIs(t, err, errMalformed)
	assert.Error(t, s.Decr(ctx, "bad"), "Decr of a malformed counter")
	assert.Error(t, s.PutOwnedState(ctx, "bad", "k", []byte("v"), clk.Now().Add(time.Minute)), "a malformed owner index")
	ok, err := s.MarkUsed(ctx, "bad", clk.Now().Add(time.Minute))
	assert.Error(t, err, "WRONGTYPE")
	assert.False(t, ok)
	ok, err = s.Advance(ctx, "bad", 1, clk.Now().Add(time.Minute))
	assert.Error(t, err)
	assert.False(t, ok)
	_, err = s.GetEnrollment(ctx, "u", "e")
	assert.ErrorIs(t, err, errMalformed)
	_, err = s.ListEnrollments(ctx, "u")
	assert.ErrorIs(t, err, errMalformed)
	assert.Error(t, s.TouchEnrollment(ctx, "u", "e", clk.Now()), "TouchEnrollment of a malformed record")
	require.NoError(t, rdb.HSet(ctx, s.enrollKey("u"), "e2", `{"user":"u","id":"e2","used":"yesterday"}`).Err())
	assert.Error(t, s.TouchEnrollment(ctx, "u", "e2", clk.Now()), "TouchEnrollment of a record whose time is malformed")
	_, err = s.GetDevice(ctx, "bad")
	assert.ErrorIs(t, err, errMalformed)
	_, err = s.ListDevices(ctx, "u")
	assert.ErrorIs(t, err, errMalformed)
	_, err = s.Sweep(ctx)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, store.ErrNotFound))
}

// TestListDevicesCleansIndex checks that expired, deleted and moved devices
// leave the user's index.
func TestListDevicesCleansIndex(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	t0 := clk.Now()
	dev := func(id, user string, ttl time.Duration) store.Device {
		return store.Device{ID: id, UserID: user, CreatedAt: t0, ExpiresAt: t0.Add(ttl)}
	}
	require.NoError(t, s.PutDevice(ctx, dev("short", "u", time.Hour)))
	require.NoError(t, s.PutDevice(ctx, dev("long", "u", 30*24*time.Hour)))
	require.NoError(t, s.PutDevice(ctx, dev("moved", "u", 30*24*time.Hour)))
	require.NoError(t, s.PutDevice(ctx, dev("gone", "u", 30*24*time.Hour)))
	require.NoError(t, s.PutDevice(ctx, dev("moved", "v", 30*24*time.Hour)), "the device now belongs to v")
	require.NoError(t, rdb.Del(ctx, s.deviceKey("gone")).Err(), "the device key vanished")
	clk.Advance(2 * time.Hour)

	list, err := s.ListDevices(ctx, "u")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "long", list[0].ID)
	idx, err := rdb.HKeys(ctx, s.devIdxKey("u")).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"long"}, idx, "stale index entries removed")
	list, err = s.ListDevices(ctx, "v")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "moved", list[0].ID)

	require.NoError(t, s.DeleteDevice(ctx, "long"))
	n, err := rdb.Exists(ctx, s.devIdxKey("u")).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "deleting the last device removes the index")
}

// TestSweep checks what Sweep removes and what it keeps, beyond the
// conformance suite.
func TestSweep(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	soon, later := clk.Now().Add(time.Minute), clk.Now().Add(time.Hour)
	require.NoError(t, s.PutState(ctx, "old", []byte("x"), soon))
	require.NoError(t, s.PutState(ctx, "new", []byte("x"), later))
	require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "old", Hash: []byte("h"), ExpiresAt: soon, MaxAttempts: 3}))
	_, err := s.ConsumeCode(ctx, "g", "old", []byte("wrong"))
	require.NoError(t, err)
	require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "new", Hash: []byte("h"), ExpiresAt: later}))
	_, _, err = s.Incr(ctx, "c-old", time.Minute)
	require.NoError(t, err)
	_, _, err = s.Incr(ctx, "c-new", time.Hour)
	require.NoError(t, err)
	_, err = s.MarkUsed(ctx, "m-old", soon)
	require.NoError(t, err)
	_, err = s.Advance(ctx, "m-new", 3, later)
	require.NoError(t, err)
	require.NoError(t, s.PutDevice(ctx, store.Device{ID: "d-old", UserID: "u", ExpiresAt: soon}))
	require.NoError(t, s.PutDevice(ctx, store.Device{ID: "d-new", UserID: "u", ExpiresAt: later}))
	require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e"}))
	// A key under the prefix that is not the store's is left alone.
	require.NoError(t, rdb.Set(ctx, s.prefix+"other", "x", time.Minute).Err())

	clk.Advance(time.Minute)
	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, n, "state, code, counter, mark and device")
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a second sweep finds nothing")

	gone := []string{s.stateKey("old"), s.counterKey("c-old"), s.ledgerKey("m-old"), s.deviceKey("d-old")}
	kept := []string{s.stateKey("new"), s.groupKey("g"), s.counterKey("c-new"), s.ledgerKey("m-new"), s.deviceKey("d-new"), s.enrollKey("u"), s.devIdxKey("u"), s.prefix + "other"}
	for _, k := range gone {
		c, err := rdb.Exists(ctx, k).Result()
		require.NoError(t, err)
		assert.Zero(t, c, "%s swept", k)
	}
	for _, k := range kept {
		c, err := rdb.Exists(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(1), c, "%s kept", k)
	}
	fields, err := rdb.HKeys(ctx, s.groupKey("g")).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"k:new"}, fields, "the expired code and its attempts are gone")
	idx, err := rdb.HKeys(ctx, s.devIdxKey("u")).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"d-new"}, idx)
}

func TestGlobEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"twofactor:", "twofactor:"},
		{"a*b?c[d]e\\f", `a\*b\?c\[d\]e\\f`},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, globEscape(tt.in))
		})
	}
}

// TestPrefixWithGlobCharacters checks that SCAN treats the prefix
// literally: a neighbour whose keys match the prefix as a pattern is not
// swept.
func TestPrefixWithGlobCharacters(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	rdb := newClient(t)
	base := testPrefix(t, rdb)
	s, err := New(rdb, Options{Prefix: base + "a?", Now: clk.Now})
	require.NoError(t, err)
	neighbour, err := New(rdb, Options{Prefix: base + "ab", Now: clk.Now})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.PutState(ctx, "k", []byte("x"), clk.Now().Add(time.Second)))
	require.NoError(t, neighbour.PutState(ctx, "k", []byte("x"), clk.Now().Add(time.Second)))
	clk.Advance(time.Second)
	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	c, err := rdb.Exists(ctx, neighbour.stateKey("k")).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), c, "the neighbour's key is not swept")
}

// TestTwoClientsRace races 64 goroutines split over two Stores with their
// own connection pools, as two app instances would, on one code, one
// state, one mark and one step: exactly one wins each round.
func TestTwoClientsRace(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	a, rdb := newStore(t, clk.Now)
	other := newClient(t)
	b, err := New(other, Options{Prefix: a.Prefix(), Now: clk.Now})
	require.NoError(t, err)
	require.NotSame(t, rdb, other)
	ctx := context.Background()
	exp := clk.Now().Add(time.Minute)
	race := func(t *testing.T, fn func(s *Store) (bool, error)) int {
		t.Helper()
		var wins atomic.Int64
		var wg sync.WaitGroup
		gate := make(chan struct{})
		errs := make(chan error, 64)
		for i := range 64 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				ok, err := fn(s)
				if err != nil {
					errs <- err
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		return int(wins.Load())
	}
	for r := range 25 {
		g := fmt.Sprintf("race-%d", r)
		require.NoError(t, a.PutCode(ctx, store.Code{Group: g, Key: "email", Hash: []byte("h"), ExpiresAt: exp, MaxAttempts: 5}))
		require.NoError(t, b.PutState(ctx, g, []byte("challenge"), exp))
		assert.Equal(t, 1, race(t, func(s *Store) (bool, error) {
			st, err := s.ConsumeCode(ctx, g, "email", []byte("h"))
			return st == store.CodeMatched, err
		}), "round %d: code consumed once", r)
		assert.Equal(t, 1, race(t, func(s *Store) (bool, error) {
			_, err := s.TakeState(ctx, g)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		}), "round %d: state taken once", r)
		assert.Equal(t, 1, race(t, func(s *Store) (bool, error) { return s.MarkUsed(ctx, g, exp) }), "round %d: marked once", r)
		assert.Equal(t, 1, race(t, func(s *Store) (bool, error) { return s.Advance(ctx, g+"-step", 59_000_000, exp) }), "round %d: step accepted once", r)
	}
}

// TestIncrEndedWindow checks that a window of zero or less behaves as in
// store.Memory: the counter starts and has already ended.
func TestIncrEndedWindow(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newStore(t, clk.Now)
	mem := store.NewMemory(clk.Now)
	ctx := context.Background()
	for _, w := range []time.Duration{0, -time.Second} {
		for range 2 {
			n, reset, err := s.Incr(ctx, "c", w)
			require.NoError(t, err)
			mn, mreset, err := mem.Incr(ctx, "c", w)
			require.NoError(t, err)
			assert.Equal(t, mn, n)
			assert.True(t, mreset.Equal(reset), "window end %v, memory %v", reset, mreset)
			n, _, err = s.Peek(ctx, "c")
			require.NoError(t, err)
			assert.Zero(t, n)
		}
	}
}
