package twofactor_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

// Removing the last second factor is audited as such: the Remove event
// says LastFactor.
func TestRemoveLastFactorEvent(t *testing.T) {
	ee := newEnrollEnv(t, nil)
	ee.app.enrolled["alice"] = true
	ch, err := ee.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := ee.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Purpose: twofactor.PurposeStepUp, Client: client})
	require.NoError(t, err)
	require.NoError(t, ee.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", res.Proof))
	evs := ee.eventsOf(event.Remove)
	require.NotEmpty(t, evs)
	assert.Equal(t, twofactor.MethodTOTP, evs[0].Method)
	assert.True(t, evs[0].LastFactor)
}

// An administrator's reset that cannot delete the user's enrollment
// records says so, and is audited as failed.
func TestAdminResetReportsRecordsLeft(t *testing.T) {
	boom := errors.New("enrollments down")
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) {
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	require.NoError(t, e.mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: alice.ID, ID: "old-1", Method: "retired", CreatedAt: e.clock.Now()}))
	spy.Fail("DeleteEnrollment", boom)
	err := e.svc.AdminReset(ctx, alice, "admin:jane", "lost phone")
	require.ErrorIs(t, err, boom)
	evs := e.eventsOf(event.AdminReset)
	require.Len(t, evs, 1)
	assert.Equal(t, event.ReasonError, evs[0].Reason)
	_, err = e.mem.GetEnrollment(ctx, alice.ID, "old-1")
	require.NoError(t, err, "the record is still there")
}

// A proof revoked by a password change stays revoked for as long as its
// age lets it pass: up to StepUpMaxAge, and the revocation record outlives
// that.
func TestRevokedProofStaysRevokedToMaxAge(t *testing.T) {
	e := newEnv(t, nil)
	proof := stepUpProof(t, e)
	require.NoError(t, e.svc.PasswordChanged(ctx, "alice"))
	e.clock.Advance(defaultStepUpMaxAge)
	require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired)
}

// A challenge revoked by a password change stays revoked until it ends,
// even when the store's clock runs up to two minutes ahead of the
// Service's (another instance's clock): the revocation record outlives
// the freshest challenge it revokes by that leeway.
func TestRevokedChallengeStaysRevokedToItsEnd(t *testing.T) {
	for _, ahead := range []time.Duration{0, 90 * time.Second} {
		e := newEnv(t, func(c *twofactor.Config) {
			now := c.Now
			c.Store = store.NewMemory(func() time.Time { return now().Add(ahead) })
		})
		ch := e.begin()
		require.NoError(t, e.svc.PasswordChanged(ctx, "alice"))
		e.clock.Advance(defaultChallengeTTL - 30*time.Second)
		_, err := e.svc.Challenge(ctx, ch.ID)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "store clock ahead by %v", ahead)
		_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "store clock ahead by %v", ahead)
	}
}

// An instance whose clock is behind accepts a proof verified up to one
// minute in its future (another instance's clock), not more.
func TestProofFromAClockAheadByAMinute(t *testing.T) {
	a := newEnv(t, nil)
	proof := stepUpProof(t, a)
	behind := func(d time.Duration) *twofactor.Service {
		b := newEnv(t, func(c *twofactor.Config) {
			c.Store, c.Keys = a.mem, a.keys
			c.Now = func() time.Time { return a.clock.Now().Add(-d) }
		})
		return b.svc
	}
	require.NoError(t, behind(time.Minute).CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp))
	require.ErrorIs(t, behind(time.Minute+time.Millisecond).CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp),
		twofactor.ErrStepUpRequired)
}

// A factor's method name is 1 to 32 of [a-z0-9_-], each range's ends
// included.
func TestMethodNameRule(t *testing.T) {
	build := func(m twofactor.Method) error {
		_, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: newKeys(t),
			Factors: factors(&codeFactor{method: m, static: "123456", enrolled: map[string]bool{}})})
		return err
	}
	for _, m := range []twofactor.Method{"a", "z", "0", "9", "_", "-", "pin_2-x", twofactor.Method(strings.Repeat("z", 32))} {
		assert.NoError(t, build(m), "%q", m)
	}
	for _, m := range []twofactor.Method{"", "`", "{", "/", ":", "A", "p in", "pin.2", twofactor.Method(strings.Repeat("z", 33))} {
		assert.ErrorIs(t, build(m), twofactor.ErrConfig, "%q", m)
	}
}

// The first second factor a user sets up is audited as such: the Enroll
// event says FirstFactor.
func TestEnrollFirstFactorEvent(t *testing.T) {
	ee := newEnrollEnv(t, nil)
	bob := twofactor.User{ID: "bob"}
	_, err := ee.svc.BeginEnroll(ctx, bob, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.NoError(t, err)
	_, err = ee.svc.ConfirmEnroll(ctx, bob, twofactor.MethodTOTP, "246810")
	require.NoError(t, err)
	var first []event.Event
	for _, ev := range ee.eventsOf(event.Enroll) {
		if ev.Method == twofactor.MethodTOTP {
			first = append(first, ev)
		}
	}
	require.Len(t, first, 1)
	assert.True(t, first[0].FirstFactor)
}

// A step-up for a purpose the library does not know is refused.
func TestStepUpUnknownPurpose(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.svc.StepUp(ctx, alice, client, twofactor.Purpose("bogus"))
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = e.svc.StepUp(ctx, alice, client, twofactor.PurposeLogin)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = e.svc.StepUp(ctx, alice, client, twofactor.PurposeEnroll)
	require.NoError(t, err)
}

// The Begin event lists the offered methods, comma-separated, and is
// stamped with the Service's clock (the sink has no clock of its own).
func TestBeginEventDetails(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.Advance(90 * time.Second)
	e.begin()
	evs := e.eventsOf(event.Begin)
	require.Len(t, evs, 1)
	assert.Equal(t, []twofactor.Method{"email", "totp"}, evs[0].Methods)
	assert.True(t, evs[0].Time.Equal(e.clock.Now()), "stamped %s, clock %s", evs[0].Time, e.clock.Now())
}

// The Env a factor gets stamps its events with the Service's clock when
// the host's sink has no clock of its own.
func TestFactorEventsUseTheServiceClock(t *testing.T) {
	clock := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var got []event.Event
	sink := &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) { got = append(got, ev) }}
	var env twofactor.Env
	_, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: newKeys(t), Events: sink,
		Now: func() time.Time { return clock },
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(e twofactor.Env) (twofactor.Factor, error) {
			env = e
			return &codeFactor{method: "x"}, nil
		})}})
	require.NoError(t, err)
	env.Events.Emit(ctx, event.Event{Type: event.Warning, UserID: "alice"})
	require.Len(t, got, 1)
	assert.True(t, got[0].Time.Equal(clock), "stamped %s", got[0].Time)
	assert.Nil(t, sink.Now, "the host's sink is not changed")
}

// An answer on a challenge opened before the lockout is refused with the
// lockout's RetryAfter: until the next block of answers opens.
func TestVerifyLockedRetryAfter(t *testing.T) {
	e := newEnv(t, nil)
	open := e.begin()
	for i := 0; i < defaultMaxUserFailures; i++ {
		ch := e.begin()
		_, err := e.verify(ch, twofactor.MethodTOTP, "000000")
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		e.clock.Advance(time.Second)
	}
	_, err := e.verify(open, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrLocked)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, defaultLockoutDuration-10*time.Second, re.RetryAfter)
	assert.Equal(t, "user", re.Limit)
}
