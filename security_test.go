package twofactor_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

// An attacker who knows the password opens many challenges and fires
// wrong answers at all of them at once: however the requests interleave,
// no more than the user's limit reach a factor, every round.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 1 << 30 })
	for round := 0; round < 5; round++ {
		chs := make([]*twofactor.Challenge, 60)
		for i := range chs {
			chs[i] = e.begin()
		}
		before := e.app.verifies.Load()
		var invalid, locked atomic.Int64
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := 0; i < len(chs)*5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				_, err := e.verify(chs[i%len(chs)], twofactor.MethodTOTP, wrongCode(i))
				switch {
				case errors.Is(err, twofactor.ErrInvalidCode), errors.Is(err, twofactor.ErrTooManyAttempts):
					invalid.Add(1)
				case errors.Is(err, twofactor.ErrLocked):
					locked.Add(1)
				default:
					t.Errorf("unexpected answer: %v", err)
				}
			}()
		}
		close(gate)
		wg.Wait()
		reached := e.app.verifies.Load() - before
		require.EqualValues(t, defaultMaxUserFailures, reached, "round %d: wrong answers that reached the factor", round)
		require.EqualValues(t, reached, invalid.Load())
		require.EqualValues(t, 300-reached, locked.Load())
		// The refused answers were taken back: the count is the limit.
		n, _, err := e.mem.Peek(ctx, "tf:fail:alice")
		require.NoError(t, err)
		require.EqualValues(t, defaultMaxUserFailures, n, "round %d: failures counted", round)
		require.NoError(t, e.svc.Unlock(ctx, "alice", "test"))
	}
}

// batchless has only the memory store's store.Store methods, as a host's
// own store might: no batches, no batch or bounded increments. The service
// must run each operation on its own, count one increment after another,
// and still hold the lockout.
type batchless struct{ store.Store }

func TestLockoutWithoutBatchCounters(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) {
		c.Store = batchless{c.Store.(*store.Memory)}
		c.Limits.MaxUserFailures = 3
	})
	for name, ok := range map[string]bool{
		"BatchCounters":   implements[store.BatchCounters](batchless{}),
		"BoundedCounters": implements[store.BoundedCounters](batchless{}),
		"Batcher":         implements[store.Batcher](batchless{}),
	} {
		require.False(t, ok, name)
	}
	for i := 0; i < 3; i++ {
		_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	_, err := e.svc.Begin(ctx, alice, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)
	require.EqualValues(t, 3, e.app.verifies.Load())
}

func implements[I any](s any) bool { _, ok := s.(I); return ok }

// A failure to count is a refusal: no answer reaches the factor while the
// counters cannot be written.
func TestCountingFailureIsARefusal(t *testing.T) {
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
	chs := []*twofactor.Challenge{e.begin(), e.begin()}
	spy.Fail("Incr", errBoom)
	for i := 0; i < 100; i++ {
		res, err := e.verify(chs[i%2], twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, errBoom)
		require.Nil(t, res)
		require.NotErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	_, err := e.verify(chs[0], twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, errBoom, "even the right answer is refused while nothing can be counted")
	assert.Zero(t, e.app.verifies.Load(), "answers reached the factor uncounted")
}

func TestUserIDBounds(t *testing.T) {
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
	long := strings.Repeat("é", twofactor.MaxUserIDLen/2) // non-ASCII, exactly the bound
	require.Len(t, long, twofactor.MaxUserIDLen)
	e.app.enrolled[long] = true
	b, err := e.svc.Begin(ctx, twofactor.User{ID: long}, client)
	require.NoError(t, err)
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: client})
	require.NoError(t, err)
	assert.Equal(t, long, res.User.ID)

	calls := spy.Calls.Load()
	for _, id := range []string{"", long + "x", "a\x00b", "line\nbreak", "tab\tbed", "\xff\xfe", "del\x7f"} {
		_, err := e.svc.Begin(ctx, twofactor.User{ID: id}, client)
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", id)
		_, err = e.svc.StepUp(ctx, twofactor.User{ID: id}, client, "")
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", id)
		require.ErrorIs(t, e.svc.PasswordChanged(ctx, id), twofactor.ErrInvalidInput, "%q", id)
		require.ErrorIs(t, e.svc.Unlock(ctx, id, "admin"), twofactor.ErrInvalidInput, "%q", id)
		require.ErrorIs(t, twofactor.CheckUserID(id), twofactor.ErrInvalidInput, "%q", id)
	}
	assert.Equal(t, calls, spy.Calls.Load(), "a bad user id reached the store")
}

// keyRecorder records every key the service writes, to check their length.
type keyRecorder struct {
	*store.Memory
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) rec(s ...string) {
	k.mu.Lock()
	k.keys = append(k.keys, s...)
	k.mu.Unlock()
}
func (k *keyRecorder) PutOwnedState(ctx context.Context, o, key string, v []byte, e time.Time) error {
	k.rec(o, key)
	return k.Memory.PutOwnedState(ctx, o, key, v, e)
}
func (k *keyRecorder) PutState(ctx context.Context, key string, v []byte, e time.Time) error {
	k.rec(key)
	return k.Memory.PutState(ctx, key, v, e)
}
func (k *keyRecorder) IncrBatch(ctx context.Context, in []store.CounterIncr) ([]store.CounterValue, error) {
	for _, i := range in {
		k.rec(i.Key)
	}
	return k.Memory.IncrBatch(ctx, in)
}
func (k *keyRecorder) RunBatch(ctx context.Context, ops []store.Op) error {
	for _, op := range ops {
		if op.Kind == store.OpIncrBelow || op.Kind == store.OpMarkUsed || op.Kind == store.OpResetCounter {
			k.rec(batchKeys([]store.Op{op})...)
		}
	}
	return k.Memory.RunBatch(ctx, ops)
}
func (k *keyRecorder) IncrBelow(ctx context.Context, in []store.BoundedIncr) ([]store.BoundedValue, error) {
	for _, i := range in {
		k.rec(i.Key)
	}
	return k.Memory.IncrBelow(ctx, in)
}

func TestKeysFitEveryStore(t *testing.T) {
	rec := &keyRecorder{}
	e := newEnv(t, func(c *twofactor.Config) { rec.Memory = c.Store.(*store.Memory); c.Store = rec })
	id := strings.Repeat("u", twofactor.MaxUserIDLen)
	u := twofactor.User{ID: id}
	e.app.enrolled[id] = true
	b, err := e.svc.Begin(ctx, u, twofactor.Client{IP: netip.MustParseAddr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")})
	require.NoError(t, err)
	_, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: wrongCode(1),
		Client: twofactor.Client{IP: netip.MustParseAddr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")}})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	require.NoError(t, e.svc.PasswordChanged(ctx, id))
	require.NotEmpty(t, rec.keys)
	for _, k := range rec.keys {
		assert.LessOrEqual(t, len(k), store.MaxKeyLen, "key %q", k)
	}
}

// The lockout escalates: every MaxUserFailures wrong answers the lockout
// doubles, and MaxConsecutiveFailures ends the run until the lock is
// lifted. An attacker who knows the password and answers as fast as the
// schedule allows, for a year, gets exactly MaxConsecutiveFailures
// answers checked; the package doc states the odds that leaves.
func TestLockoutEscalatesAndCaps(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 1 << 30 })
	start := e.clock.Now()
	var lockouts []time.Duration
	var ch *twofactor.Challenge
	var lockedAt time.Time
	// The loop is bounded by the schedule it expects: every wrong answer
	// checked, one Begin per challenge (each ends after MaxAttempts answers
	// or at a lockout), and per lockout one refused answer, one refused
	// Begin that says when it lifts and the Begin after it. A lockout that
	// lifts earlier than the schedule says (an off-by-one in the unlock
	// time) sends the clock forward a second at a time and answers
	// ErrLocked again: without the bound that is 31 million turns.
	const blocks = defaultMaxConsecutiveFailures / defaultMaxUserFailures
	const maxSteps = 2 * (defaultMaxConsecutiveFailures + (defaultMaxConsecutiveFailures/defaultMaxAttempts + blocks) + 3*blocks)
	steps := 0
	for e.clock.Now().Sub(start) < 365*24*time.Hour {
		if steps++; steps > maxSteps {
			lk, _ := e.svc.Lockout(ctx, "alice")
			t.Fatalf("the lockout schedule did not settle within %d steps (at %s, %d answers checked, lockouts so far %v, lockout state %+v): "+
				"a lockout lifts at another time than its RetryAfter says",
				maxSteps, e.clock.Now().Sub(start), e.app.verifies.Load(), lockouts, lk)
		}
		if ch == nil {
			b, err := e.svc.Begin(ctx, alice, client)
			var re *twofactor.RetryError
			if errors.As(err, &re) {
				require.ErrorIs(t, err, twofactor.ErrLocked)
				if lockedAt.IsZero() {
					lockedAt = e.clock.Now()
				}
				e.clock.Advance(re.RetryAfter)
				continue
			}
			require.NoError(t, err)
			if !lockedAt.IsZero() {
				lockouts = append(lockouts, e.clock.Now().Sub(lockedAt))
				lockedAt = time.Time{}
			}
			ch = b.Challenge
		}
		_, err := e.verify(ch, twofactor.MethodTOTP, wrongCode(int(e.app.verifies.Load())))
		switch {
		case errors.Is(err, twofactor.ErrTooManyAttempts):
			ch = nil
		case errors.Is(err, twofactor.ErrLocked):
			ch = nil
		default:
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		}
		e.clock.Advance(time.Second)
	}
	checked := e.app.verifies.Load()
	require.EqualValues(t, defaultMaxConsecutiveFailures, checked, "answers checked in a year")
	// 15 min, 30 min, 1 h ... 64 h (less the seconds the answers took), then
	// locked for the rest of the year.
	require.Len(t, lockouts, 9)
	for i, d := range lockouts {
		want := defaultLockoutDuration << i
		assert.InDelta(t, float64(want), float64(d), float64(time.Minute), "lockout %d", i+1)
	}
	events := e.eventsOf(event.Lockout)
	require.Len(t, events, 10, "one lockout event per step, the last when the run is capped")
	assert.Equal(t, 100, events[9].Count, "the wrong answers in a row, typed")
	for i, ev := range events[:9] {
		assert.InDelta(t, float64(defaultLockoutDuration<<i), float64(ev.Until.Sub(ev.Time)), float64(time.Minute), "lockout %d lifts at Until", i+1)
	}

	// The odds: a TOTP code is accepted in a window of three time steps
	// (the default skew of one step each way), out of 10^6 codes.
	odds := float64(checked) * 3 / 1e6
	require.Less(t, odds, 0.001)
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	assert.Contains(t, string(doc), fmt.Sprintf("%d wrong answers", checked))
	assert.Contains(t, string(doc), fmt.Sprintf("%.2f%%", odds*100), "the doc states the odds")

	// A password change lifts the cap.
	require.NoError(t, e.svc.PasswordChanged(ctx, "alice"))
	e.begin()
}

func TestCorrectAnswerEndsTheRun(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < defaultMaxUserFailures-1; i++ {
		_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	_, err := e.verify(e.begin(), twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	n, _, err := e.mem.Peek(ctx, "tf:fail:alice")
	require.NoError(t, err)
	assert.Zero(t, n)
	for i := 0; i < defaultMaxUserFailures; i++ {
		_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "failure %d after a success", i+1)
	}
	_, err = e.svc.Begin(ctx, alice, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)
	lk, err := e.svc.Lockout(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, defaultMaxUserFailures, lk.Failures)
	assert.True(t, lk.Locked)
	assert.Equal(t, e.clock.Now().Add(defaultLockoutDuration), lk.Until)
	require.NoError(t, e.svc.Unlock(ctx, "alice", "support"))
	lk, err = e.svc.Lockout(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, twofactor.Lockout{}, lk)
	_, err = e.svc.Lockout(ctx, "")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

func TestTrustedDeviceSkipsLockout(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < defaultMaxUserFailures; i++ {
		_, _ = e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
	}
	_, err := e.svc.Begin(ctx, alice, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)
	trusted := client
	trusted.DeviceToken = "good"
	b, err := e.svc.Begin(ctx, alice, trusted)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusTrusted, b.Status, "the owner on a trusted device is let in")
	trusted.DeviceToken = "forged"
	_, err = e.svc.Begin(ctx, alice, trusted)
	require.ErrorIs(t, err, twofactor.ErrLocked)
}

// Clients are counted by their IPv6 /64: rotating addresses inside one
// does not get past the limit.
func TestIPv6ClientsCountedByPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix  int
		limited bool
	}{{0, true}, {48, true}, {128, false}} {
		t.Run(fmt.Sprint(tc.prefix), func(t *testing.T) {
			e := newEnv(t, func(c *twofactor.Config) {
				c.Limits.MaxIPAttempts = 3
				c.Limits.IPv6Prefix = tc.prefix
				c.Limits.MaxUserFailures = 100
			})
			var limited int
			for i := 0; i < 10; i++ {
				ch := e.begin()
				c := client
				c.IP = netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1))
				_, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: wrongCode(i), Client: c})
				if errors.Is(err, twofactor.ErrRateLimited) {
					limited++
				}
			}
			if tc.limited {
				assert.Equal(t, 7, limited)
			} else {
				assert.Zero(t, limited)
			}
			// Another /64 (and another /48) is not affected.
			ch := e.begin()
			c := client
			c.IP = netip.MustParseAddr("2001:db8:2:3::1")
			_, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: c})
			require.NoError(t, err)
		})
	}
	_, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: newKeys(t),
		Factors: factors(&codeFactor{method: "x"}), Limits: twofactor.Limits{IPv6Prefix: 40}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}

func TestProofsDieWithResetAndPasswordChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(e *env) error
	}{
		{"admin reset", func(e *env) error { return e.svc.AdminReset(ctx, alice, "support", "identity checked") }},
		{"password change", func(e *env) error { return e.svc.PasswordChanged(ctx, "alice") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			proof := stepUpProof(t, e)
			require.NoError(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp))
			e.clock.Advance(time.Second)
			require.NoError(t, tc.revoke(e))
			require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired)
			require.ErrorIs(t, e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodEmail, "email-1", proof), twofactor.ErrStepUpRequired)

			e.clock.Advance(time.Second)
			e.app.enrolled["alice"] = true
			fresh := stepUpProof(t, e)
			require.NoError(t, e.svc.CheckProof(ctx, fresh, "alice", twofactor.PurposeStepUp), "a proof issued after it")
			// Once the revoked proofs are stale anyway, the record may go.
			e.clock.Advance(defaultStepUpMaxAge + 3*time.Minute)
			require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired)
		})
	}
	t.Run("store failure", func(t *testing.T) {
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
		proof := stepUpProof(t, e)
		spy.Fail("GetState", errBoom)
		require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), errBoom, "fails closed")
	})
}

func TestPendingChallengesEndWithResetAndPasswordChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(e *env) error
	}{
		{"admin reset", func(e *env) error { return e.svc.AdminReset(ctx, alice, "support", "identity checked") }},
		{"password change", func(e *env) error { return e.svc.PasswordChanged(ctx, "alice") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			bob := twofactor.User{ID: "bob", Email: "bob@example.com"}
			e.email.enrolled["bob"] = true
			login := e.begin()
			_, err := e.svc.Send(ctx, login.ID, twofactor.MethodEmail, client)
			require.NoError(t, err)
			step, err := e.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
			require.NoError(t, err)
			bobs, err := e.svc.Begin(ctx, bob, client)
			require.NoError(t, err)

			require.NoError(t, tc.revoke(e))

			_, err = e.verify(login, twofactor.MethodEmail, "123456")
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "a challenge opened before")
			_, err = e.svc.Send(ctx, login.ID, twofactor.MethodEmail, client)
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
			_, err = e.svc.Challenge(ctx, step.ID)
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
			_, err = e.svc.Challenge(ctx, bobs.Challenge.ID)
			require.NoError(t, err, "another user's challenge lives on")
		})
	}
}

// A challenge's id holds nothing personal in the clear (name, address,
// client IP and user id are sealed), Begin writes nothing to the store,
// and an id altered anywhere fails closed, with nothing reaching a factor.
func TestChallengeRecordHoldsNoPersonalData(t *testing.T) {
	rec := &keyRecorder{}
	e := newEnv(t, func(c *twofactor.Config) { rec.Memory = c.Store.(*store.Memory); c.Store = rec })
	u := twofactor.User{ID: "alice", Name: "Alice Liddell", Email: "alice@example.com"}
	c := client
	c.IP = netip.MustParseAddr("2001:db8:77::5")
	b, err := e.svc.Begin(ctx, u, c)
	require.NoError(t, err)
	id := b.Challenge.ID
	for _, secret := range []string{"Alice Liddell", "alice@example.com", "2001:db8:77::5", "Liddell", "example.com", "alice"} {
		assert.NotContains(t, id, secret)
	}
	assert.Empty(t, rec.keys, "Begin wrote nothing")
	got, err := e.svc.Challenge(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, u, got.User)
	assert.Equal(t, "2001:db8:77::5", got.IP)

	for i := range len(id) {
		bad := []byte(id)
		bad[i] ^= 0x01
		altered := *b.Challenge
		altered.ID = string(bad)
		res, err := e.verify(&altered, twofactor.MethodTOTP, "654321")
		require.Error(t, err, "character %d", i)
		require.Nil(t, res)
	}
	assert.Zero(t, e.app.verifies.Load())
}

// The losers of a double submit of the right answer do not count toward
// the lockout, so a user who double-clicks is never locked out by it.
func TestDoubleSubmitIsNoGuess(t *testing.T) {
	for _, method := range []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP} {
		t.Run(string(method), func(t *testing.T) {
			e := newEnv(t, nil)
			if method == twofactor.MethodTOTP {
				e.app.static = ""
				e.app.codes, e.app.groups, e.app.keys, e.app.code, e.app.ttl = e.mem, e.mem, e.keys, "654321", time.Minute
			}
			code := map[twofactor.Method]string{twofactor.MethodEmail: "123456", twofactor.MethodTOTP: "654321"}[method]
			for round := 0; round < 20; round++ {
				ch := e.begin()
				_, err := sendingFactor{map[twofactor.Method]*codeFactor{twofactor.MethodEmail: e.email, twofactor.MethodTOTP: e.app}[method]}.Send(ctx, ch, client)
				require.NoError(t, err)
				var wins atomic.Int64
				var wg sync.WaitGroup
				gate := make(chan struct{})
				for i := 0; i < 5; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-gate
						if res, err := e.verify(ch, method, code); err == nil && res != nil {
							wins.Add(1)
						}
					}()
				}
				close(gate)
				wg.Wait()
				require.EqualValues(t, 1, wins.Load())
				n, _, err := e.mem.Peek(ctx, "tf:fail:alice")
				require.NoError(t, err)
				require.Zero(t, n, "round %d: a lost double submit counted as a failure", round)
			}
		})
	}
}

// The failure paths of Verify: whatever fails after the answer was
// counted, the user is never let in by mistake, and a warning says what
// went wrong.
func TestVerifyFailurePaths(t *testing.T) {
	t.Run("a spent challenge", func(t *testing.T) {
		// Its attempt counter refuses every later answer and send; there
		// is no record to mark.
		e := newEnv(t, nil)
		ch := e.begin()
		for i := 1; i <= 4; i++ {
			_, err := e.verify(ch, twofactor.MethodTOTP, wrongCode(i))
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		}
		_, err := e.verify(ch, twofactor.MethodTOTP, wrongCode(5))
		require.ErrorIs(t, err, twofactor.ErrTooManyAttempts)
		_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
		require.ErrorIs(t, err, twofactor.ErrTooManyAttempts, "the attempt counter still refuses")
		_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
		require.ErrorIs(t, err, twofactor.ErrTooManyAttempts, "and sends no code")
		_, err = e.svc.Challenge(ctx, ch.ID)
		require.ErrorIs(t, err, twofactor.ErrTooManyAttempts)
		assert.EqualValues(t, 5, e.app.verifies.Load())
		assert.Empty(t, e.eventsOf(event.Send))
	})
	t.Run("resetting the failure run fails", func(t *testing.T) {
		// On a store without TakeStateReset the reset comes after the
		// challenge was taken.
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) {
			spy = storespy.New(c.Store.(store.Store))
			c.Store = struct{ store.Store }{spy}
		})
		ch := e.begin()
		spy.Fail("ResetCounter", errBoom)
		res, err := e.verify(ch, twofactor.MethodTOTP, "654321")
		require.NoError(t, err, "the user answered correctly")
		require.NotNil(t, res)
		assert.Equal(t, event.ReasonResetFailed, lastWarning(e))
		n, _, err := e.mem.Peek(ctx, "tf:fail:alice")
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "the count stays on the safe side")
	})
	t.Run("a refused answer needs no take-back", func(t *testing.T) {
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) {
			spy = storespy.New(c.Store.(store.Store))
			c.Store = spy
			c.Limits.MaxIPAttempts = 1
		})
		_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(1))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		spy.Fail("Decr", errBoom)
		_, err = e.verify(e.begin(), twofactor.MethodTOTP, "654321")
		require.ErrorIs(t, err, twofactor.ErrRateLimited, "refused in the counting step itself: nothing to give back")
		assert.Empty(t, e.eventsOf(event.Warning))
		assert.EqualValues(t, 1, e.app.verifies.Load())
		n, _, err := e.mem.Peek(ctx, "tf:fail:alice")
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "the refused answer is not counted against the user")
	})
	t.Run("other codes of a completed challenge", func(t *testing.T) {
		// They are not deleted (a round trip a factor on every login),
		// and cannot be used: every answer reads the challenge first.
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
		ch := e.begin()
		_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
		require.NoError(t, err)
		e.email.groups = spy
		spy.Fail("DeleteGroup", errBoom)
		res, err := e.verify(ch, twofactor.MethodTOTP, "654321")
		require.NoError(t, err)
		require.NotNil(t, res)
		assert.Empty(t, e.eventsOf(event.Warning), "nothing was cancelled, so nothing failed")
		verifies := e.email.verifies.Load()
		_, err = e.verify(ch, twofactor.MethodEmail, "123456")
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "the completed challenge's code is still refused")
		assert.Equal(t, verifies, e.email.verifies.Load(), "the code never reached its factor")
	})
}

func lastWarning(e *env) event.Reason {
	w := e.eventsOf(event.Warning)
	if len(w) == 0 {
		return ""
	}
	return w[len(w)-1].Reason
}

// Verify's store round trips with a sending factor: the count (one
// bounded increment of the counters, with the check that the challenge is
// live, and the read of the user's revocation, in one batch), the
// factor's consume, and the completion of the challenge with the end of
// the failure run in one. The verifying factor consumed its own code; the
// other factors' are left to expire with the challenge.
func TestVerifyRoundTrips(t *testing.T) {
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
	e.email.codes, e.email.groups = spy, spy
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	before := spy.Calls.Load()
	_, err = e.verify(ch, twofactor.MethodEmail, "123456")
	require.NoError(t, err)
	assert.EqualValues(t, 3, spy.Calls.Load()-before, "round trips of a successful Verify")

	ch = e.begin()
	before = spy.Calls.Load()
	_, err = e.verify(ch, twofactor.MethodTOTP, wrongCode(1))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.EqualValues(t, 1, spy.Calls.Load()-before, "round trips of a wrong answer to a factor without a store")
}

// A malformed answer is a wrong code to the user: the challenge stays
// live, nothing is counted, and the event says it was malformed.
func TestMalformedAnswerIsAWrongCode(t *testing.T) {
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
	ch := e.begin()
	calls := spy.Calls.Load()
	for _, bad := range []string{"12345", "abcdef", "1234567", "", strings.Repeat("1", 20000)} {
		res, err := e.verify(ch, twofactor.MethodTOTP, bad)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "%q", bad)
		require.NotErrorIs(t, err, twofactor.ErrInvalidInput)
		assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error())
		require.Nil(t, res)
	}
	assert.Equal(t, calls, spy.Calls.Load(), "a malformed answer reached the store")
	fails := e.eventsOf(event.Failure)
	require.Len(t, fails, 5)
	assert.Equal(t, event.ReasonMalformed, fails[0].Reason)
	// Five malformed answers spent none of the challenge's five attempts.
	_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
}

// Events name a challenge by its key, never by its id: the id's sealed
// part answers the challenge, and logs must not hold it. Every kind of
// event a challenge makes is checked, the malformed answer's included.
func TestEventsCarryTheKeyNotTheID(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	_, err = e.verify(ch, twofactor.MethodTOTP, "12")
	require.Error(t, err, "malformed")
	_, err = e.verify(ch, twofactor.MethodTOTP, wrongCode(1))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	require.NoError(t, e.svc.Cancel(ctx, ch.ID))
	done := e.begin()
	_, err = e.verify(done, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)

	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[event.Type]bool{}
	for _, ev := range e.events {
		if ev.ChallengeID == "" {
			continue
		}
		seen[ev.Type] = true
		assert.Len(t, ev.ChallengeID, 43, "%s names a key", ev.Type)
		assert.True(t, strings.HasPrefix(ch.ID, ev.ChallengeID+".") || strings.HasPrefix(done.ID, ev.ChallengeID+"."), "%s: %q", ev.Type, ev.ChallengeID)
	}
	for _, typ := range []event.Type{event.Begin, event.Send, event.Failure, event.Cancel, event.Success} {
		assert.True(t, seen[typ], "no %s event was checked", typ)
	}
}
