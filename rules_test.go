package twofactor_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

// Each test here guards one rule of the Service on the memory store, so
// that breaking the rule fails a test that needs no database.

// fixedFactor answers every answer with err: a factor whose code was
// already used (ErrCodeReused), that has nothing live to check against
// (ErrNoCode), or whose enrollment is gone (ErrNotEnrolled).
type fixedFactor struct {
	*codeFactor
	err error
}

func (f fixedFactor) Verify(context.Context, *twofactor.Challenge, string) (twofactor.Verified, error) {
	f.verifies.Add(1)
	return twofactor.Verified{}, f.err
}

func failures(t *testing.T, e *env) int64 {
	t.Helper()
	n, _, err := e.mem.Peek(ctx, "tf:fail:alice")
	require.NoError(t, err)
	return n
}

// A replayed code and an answer with nothing live to check are no guess
// (the loser of a double submit gets one of them): however many the user
// sends, the run of wrong answers keeps its count and nobody is locked
// out. The answers do reach the factor, and each challenge still takes at
// most MaxAttempts of them.
func TestNoGuessAnswersNeverLockOut(t *testing.T) {
	for _, tc := range []struct {
		err    error
		reason event.Reason
	}{
		{twofactor.ErrCodeReused, event.ReasonReplay},
		{twofactor.ErrNoCode, event.ReasonNoCode},
		{fmt.Errorf("hw: %w", twofactor.ErrNoCode), event.ReasonNoCode},
	} {
		t.Run(string(tc.reason), func(t *testing.T) {
			f := fixedFactor{&codeFactor{method: "hw", enrolled: map[string]bool{"alice": true}}, tc.err}
			e := newEnv(t, func(c *twofactor.Config) { c.Factors = append(c.Factors, factors(f)...) })
			// A run of real wrong answers first: the no-guess answers must
			// leave it as it is, neither raise nor end it.
			const before = 3
			for i := 0; i < before; i++ {
				_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
				require.ErrorIs(t, err, twofactor.ErrInvalidCode)
			}
			require.EqualValues(t, before, failures(t, e))

			const answers = 3 * defaultMaxUserFailures // three lockouts' worth
			var ch *twofactor.Challenge
			for i := 0; i < answers; i++ {
				if i%defaultMaxAttempts == 0 {
					ch = e.begin()
				}
				res, err := e.verify(ch, "hw", wrongCode(i))
				require.Nil(t, res)
				require.NotErrorIs(t, err, twofactor.ErrLocked, "answer %d locked the user out", i+1)
				if (i+1)%defaultMaxAttempts == 0 {
					require.ErrorIs(t, err, twofactor.ErrTooManyAttempts, "answer %d: the challenge's attempts still count", i+1)
				} else {
					require.ErrorIs(t, err, twofactor.ErrInvalidCode, "answer %d", i+1)
					assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error(), "the user sees a wrong code")
				}
			}
			assert.EqualValues(t, answers, f.verifies.Load(), "every answer reached the factor")
			assert.EqualValues(t, before, failures(t, e), "the no-guess answers changed the run of wrong answers")
			lk, err := e.svc.Lockout(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, twofactor.Lockout{Failures: before}, lk)
			assert.Empty(t, e.eventsOf(event.Lockout))
			fails := e.eventsOf(event.Failure)
			require.Len(t, fails, before+answers)
			assert.Equal(t, tc.reason, fails[before].Reason, "the event says why it was no guess")
			_, err = e.verify(e.begin(), twofactor.MethodTOTP, "654321")
			require.NoError(t, err)
		})
	}
}

// An enrollment removed while a challenge is pending (on another device,
// by support) makes an answer for it a wrong code to the user, like any
// factor's, never a system error; the event says "not_enrolled". Nothing
// was left to check the answer against, so it is no guess either.
func TestRemovedEnrollmentIsAWrongCode(t *testing.T) {
	for _, gone := range []error{twofactor.ErrNotEnrolled, fmt.Errorf("totp: %w", twofactor.ErrNotEnrolled)} {
		t.Run(gone.Error(), func(t *testing.T) {
			f := fixedFactor{&codeFactor{method: "hw", enrolled: map[string]bool{"alice": true}}, gone}
			e := newEnv(t, func(c *twofactor.Config) { c.Factors = append(c.Factors, factors(f)...) })
			ch := e.begin()
			require.Contains(t, ch.Methods, twofactor.Method("hw"))
			delete(f.enrolled, "alice") // removed while the challenge is pending
			for i := 1; i < defaultMaxAttempts; i++ {
				res, err := e.verify(ch, "hw", wrongCode(i))
				require.Nil(t, res)
				require.ErrorIs(t, err, twofactor.ErrInvalidCode, "answer %d", i)
				assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error(), "the user sees a wrong code, not %q", gone)
				require.NotErrorIs(t, err, twofactor.ErrNotEnrolled)
			}
			fails := e.eventsOf(event.Failure)
			require.Len(t, fails, defaultMaxAttempts-1)
			assert.Equal(t, event.ReasonNotEnrolled, fails[0].Reason)
			assert.Zero(t, failures(t, e), "an answer with no enrollment to check was counted as a guess")
			// It still spends the challenge's attempts.
			_, err := e.verify(ch, "hw", wrongCode(9))
			require.ErrorIs(t, err, twofactor.ErrTooManyAttempts)
			// Any other factor error is still a failure of the system.
			f2 := fixedFactor{&codeFactor{method: "hw2", enrolled: map[string]bool{"alice": true}}, errBoom}
			e2 := newEnv(t, func(c *twofactor.Config) { c.Factors = append(c.Factors, factors(f2)...) })
			_, err = e2.verify(e2.begin(), "hw2", wrongCode(1))
			require.ErrorIs(t, err, errBoom)
			require.NotErrorIs(t, err, twofactor.ErrInvalidCode)
		})
	}
}

// A challenge's sealed part is bound to its key: one moved under another
// challenge's key (by a client that holds both) is neither challenge, and
// nothing is counted on either.
func TestChallengeRecordUnderAnotherKey(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.begin(), e.begin()
	moved := *b
	moved.ID = b.Key() + a.ID[len(a.Key()):]

	res, err := e.verify(&moved, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	require.Nil(t, res)
	_, err = e.svc.Challenge(ctx, moved.ID)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	_, err = e.svc.Send(ctx, moved.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	assert.Zero(t, e.app.verifies.Load(), "the moved record reached the factor")
	assert.Empty(t, e.eventsOf(event.Send))
	for _, ch := range []*twofactor.Challenge{a, b} {
		n, _, err := e.mem.Peek(ctx, "tf:att:"+ch.Key())
		require.NoError(t, err)
		assert.Zero(t, n, "an answer to the moved record was counted")
	}

	// a itself is untouched.
	got, err := e.svc.Challenge(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
	_, err = e.verify(a, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
}

// lostRace is a memory store on which, once armed, another instance
// completes a challenge between the factor's check and this one's
// completion: the done counter is taken just before the batch that would
// take it.
type lostRace struct {
	*store.Memory
	armed atomic.Bool
}

func (l *lostRace) RunBatch(ctx context.Context, ops []store.Op) error {
	for _, op := range ops {
		if l.armed.Load() && op.Kind == store.OpIncrBelow && !op.Incrs[0].Check && strings.HasPrefix(op.Incrs[0].Key, "tf:done:") {
			if _, err := l.Memory.IncrBelow(ctx, op.Incrs); err != nil {
				return err
			}
		}
	}
	return l.Memory.RunBatch(ctx, ops)
}

// A correct answer that the factor accepted but that loses the completion
// of the challenge to another gets ErrChallengeNotFound and lets nobody
// in. It is no guess: like the answer that won, it ends the user's run of
// wrong answers (the factor accepted it, which proves the factor), in the
// same store round trip as the completion.
func TestCorrectAnswerLosingCompletionIsNoGuess(t *testing.T) {
	lr := &lostRace{}
	e := newEnv(t, func(c *twofactor.Config) { lr.Memory = c.Store.(*store.Memory); c.Store = lr })
	for i := 0; i < 2; i++ {
		_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	ch := e.begin()
	lr.armed.Store(true)
	res, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	require.Nil(t, res)
	assert.EqualValues(t, 3, e.app.verifies.Load(), "the factor accepted the answer")
	assert.Zero(t, failures(t, e), "the lost completion did not end the run")
	assert.Empty(t, e.eventsOf(event.Success))
	fails := e.eventsOf(event.Failure)
	require.Len(t, fails, 3)
	assert.Equal(t, ch.Key(), fails[2].ChallengeID)
}

// Past the failure memory the schedule has no later block: the lockout
// lasts until the run is forgotten.
func TestLockoutPastFailureMemoryLiftsAtRunEnd(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) {
		c.Limits.MaxUserFailures = 1
		c.Limits.MaxConsecutiveFailures = 10
		c.Limits.LockoutDuration = 15 * time.Minute
		c.Limits.FailureMemory = time.Hour
	})
	start := e.clock.Now()
	// Block j opens 15 min × (2^(j−1) − 1) after the first failure: 0,
	// 15 min, 45 min, then 105 min, which is past the hour the run is
	// remembered, so the third wrong answer locks until the run ends.
	for i, opens := range []time.Duration{15 * time.Minute, 45 * time.Minute, time.Hour} {
		_, err := e.verify(e.begin(), twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "answer %d", i+1)
		_, err = e.svc.Begin(ctx, alice, client)
		var re *twofactor.RetryError
		require.ErrorAs(t, err, &re, "after answer %d", i+1)
		assert.Equal(t, start.Add(opens), e.clock.Now().Add(re.RetryAfter), "after answer %d", i+1)
		lk, err := e.svc.Lockout(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, start.Add(opens), lk.Until, "after answer %d", i+1)
		e.clock.Advance(re.RetryAfter)
	}
	lk, err := e.svc.Lockout(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, twofactor.Lockout{}, lk, "the run is forgotten after an hour")
	_, err = e.verify(e.begin(), twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
}

// The proof's signed payload is checked for its shape too: a payload this
// server signed but with another number of fields, or a time that is not
// a number, is refused like a forgery. (Signing them needs the keys: the
// check guards a future format change, not an attacker.)
func TestProofPayloadShape(t *testing.T) {
	e := newEnv(t, nil)
	sign := func(fields ...string) string {
		payload := []byte(strings.Join(fields, "\x00"))
		kid, sig := e.keys.Sign("twofactor proof v2", payload)
		return base64.RawURLEncoding.EncodeToString(payload) + "." + kid + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	now := fmt.Sprint(e.clock.Now().UnixMilli())
	good := sign("alice", "step_up", "totp", now)
	p, err := e.svc.ParseProof(good)
	require.NoError(t, err, "the test signs as the service does")
	require.NoError(t, e.svc.CheckProof(ctx, good, "alice", twofactor.PurposeStepUp))
	assert.Equal(t, e.clock.Now().UnixMilli(), p.VerifiedAt.UnixMilli())
	for name, bad := range map[string]string{
		"three fields":   sign("alice", "step_up", now),
		"five fields":    sign("alice", "step_up", "totp", now, "x"),
		"no separator":   sign("alice step_up totp " + now),
		"time not a num": sign("alice", "step_up", "totp", "soon"),
		"time in float":  sign("alice", "step_up", "totp", now+".5"),
		"time too large": sign("alice", "step_up", "totp", "99999999999999999999"),
		"empty time":     sign("alice", "step_up", "totp", ""),
	} {
		_, err := e.svc.ParseProof(bad)
		require.ErrorIs(t, err, twofactor.ErrStepUpRequired, name)
		require.ErrorIs(t, e.svc.CheckProof(ctx, bad, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired, name)
	}
}

// A revocation record that does not parse fails closed: the proof is not
// taken as valid.
func TestProofRevocationRecordCorrupt(t *testing.T) {
	e := newEnv(t, nil)
	proof := stepUpProof(t, e)
	require.NoError(t, e.mem.PutState(ctx, "tf:pnb:alice", []byte("yesterday"), e.clock.Now().Add(time.Hour)))
	err := e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp)
	require.Error(t, err)
	require.NotErrorIs(t, err, twofactor.ErrStepUpRequired, "a corrupt record is a failure, not a verdict")
}

// enrollmentsFail is a factor whose enrollment store fails.
type enrollmentsFail struct{ *codeFactor }

func (enrollmentsFail) Enrollments(context.Context, twofactor.User) ([]twofactor.Enrollment, error) {
	return nil, errBoom
}

// startFactor is a factor with a start step (as WebAuthn's).
type startFactor struct{ *codeFactor }

func (startFactor) Start(_ context.Context, ch *twofactor.Challenge) (json.RawMessage, error) {
	return json.RawMessage(`{"challenge":"` + ch.ID[:8] + `"}`), nil
}

// recordStartFactor is a factor whose start step takes the user's
// records from the Service (as WebAuthn's), and counts its starts.
type recordStartFactor struct {
	startFactor
	starts  atomic.Int64
	records atomic.Int64 // records handed to the last start
}

func (f *recordStartFactor) StartRecords(ctx context.Context, ch *twofactor.Challenge, recs []store.EnrollmentRecord) (json.RawMessage, error) {
	f.starts.Add(1)
	f.records.Store(int64(len(recs)))
	return f.startFactor.Start(ctx, ch)
}

// Start, as Send does, refuses a step on a challenge that can no longer be
// answered before the factor runs, so nobody is asked to touch a key for
// an answer that would be refused: completed, revoked, used up, or its
// user locked out. With a RecordStarter the check and the user's records
// are one round trip; any other Starter has its own after the check.
func TestStartRefusals(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	sf := &recordStartFactor{startFactor: startFactor{&codeFactor{method: "hw", enrolled: map[string]bool{"alice": true}}}}
	plain := startFactor{&codeFactor{method: "plain", enrolled: map[string]bool{"alice": true}}}
	e := newEnv(t, func(c *twofactor.Config) {
		c.Limits = twofactor.Limits{MaxAttempts: 2, MaxUserFailures: 2}
		spy = storespy.New(c.Store.(store.Store))
		c.Store = spy
		c.Factors = append(c.Factors, factors(sf, plain)...)
	})
	require.NoError(t, e.mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "alice", ID: "k1", Method: "hw", CreatedAt: e.clock.Now()}))

	live := e.begin()
	before := spy.Calls.Load()
	_, err := e.svc.Start(ctx, live.ID, "hw")
	require.NoError(t, err)
	assert.EqualValues(t, 1, spy.Calls.Load()-before, "a RecordStarter's start: the check and the records in one round trip")
	assert.EqualValues(t, 1, sf.records.Load(), "the user's records reach the factor")
	before = spy.Calls.Load()
	_, err = e.svc.Start(ctx, live.ID, "plain")
	require.NoError(t, err)
	assert.EqualValues(t, 1, spy.Calls.Load()-before, "another Starter's start: the check")

	starts := sf.starts.Load()
	refused := func(ch *twofactor.Challenge, want error, msg string) {
		t.Helper()
		for _, m := range []twofactor.Method{"hw", "plain"} {
			out, err := e.svc.Start(ctx, ch.ID, m)
			require.ErrorIs(t, err, want, "%s, %s", msg, m)
			assert.Nil(t, out)
		}
		assert.Equal(t, starts, sf.starts.Load(), "%s: the factor did not start", msg)
	}

	done := e.begin()
	_, err = e.verify(done, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	refused(done, twofactor.ErrChallengeNotFound, "a completed challenge")

	cancelled := e.begin()
	require.NoError(t, e.svc.Cancel(ctx, cancelled.ID))
	refused(cancelled, twofactor.ErrChallengeNotFound, "a cancelled challenge")

	revoked := e.begin()
	require.NoError(t, e.svc.PasswordChanged(ctx, alice.ID))
	refused(revoked, twofactor.ErrChallengeNotFound, "a revoked challenge")
	e.clock.Advance(time.Second) // challenges begun at the revocation's millisecond are void too

	held, spent := e.begin(), e.begin()
	for i := range 2 {
		_, err := e.verify(spent, twofactor.MethodTOTP, wrongCode(i))
		require.Error(t, err)
	}
	refused(spent, twofactor.ErrTooManyAttempts, "a spent challenge")
	refused(held, twofactor.ErrLocked, "a locked-out user")

	e.clock.Advance(time.Hour) // the lockout is over
	fresh := e.begin()
	spy.Fail("*", errBoom)
	for _, m := range []twofactor.Method{"hw", "plain"} {
		out, err := e.svc.Start(ctx, fresh.ID, m)
		require.ErrorIs(t, err, errBoom, "a store failure fails the start, %s", m)
		assert.Nil(t, out)
	}
	assert.Equal(t, starts, sf.starts.Load(), "a store failure: the factor did not start")
	spy.Fail("*", nil)
	_, err = e.svc.Start(ctx, fresh.ID, "hw")
	require.NoError(t, err)
	assert.Equal(t, starts+1, sf.starts.Load())
}

// Store failures in every step of the Service are errors, never a
// success, a challenge, a verdict or a wrong code.
func TestStoreFailuresFailClosedEverywhere(t *testing.T) {
	t.Run("listing enrollments at Begin", func(t *testing.T) {
		e := newEnv(t, func(c *twofactor.Config) {
			c.Factors = append(c.Factors, factors(enrollmentsFail{&codeFactor{method: "hw"}})...)
		})
		b, err := e.svc.Begin(ctx, alice, client)
		require.ErrorIs(t, err, errBoom)
		assert.Nil(t, b)
		_, err = e.svc.StepUp(ctx, alice, client, "")
		require.ErrorIs(t, err, errBoom)
		assert.Empty(t, e.eventsOf(event.Begin))
	})
	// In one round trip with the end of the failure run (on a store
	// without Batcher that comes after, and its failure is only
	// reported: TestVerifyFailurePaths).
	for range 1 {
		t.Run("completing the challenge", func(t *testing.T) {
			var spy *storespy.Spy
			e := newEnv(t, func(c *twofactor.Config) {
				spy = storespy.New(c.Store.(store.Store))
				c.Store = spy
			})
			ch := e.begin()
			spy.Fail("ResetCounter", errBoom) // only the completion resets a counter
			res, err := e.verify(ch, twofactor.MethodTOTP, "654321")
			require.ErrorIs(t, err, errBoom)
			require.Nil(t, res)
			require.NotErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.EqualValues(t, 1, e.app.verifies.Load(), "the factor accepted the answer")
			assert.Empty(t, e.eventsOf(event.Success))
			assert.Equal(t, event.ReasonError, e.eventsOf(event.Failure)[0].Reason)
		})
	}
	t.Run("cancelling", func(t *testing.T) {
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
		ch := e.begin()
		spy.Fail("Incr", errBoom)
		err := e.svc.Cancel(ctx, ch.ID)
		require.ErrorIs(t, err, errBoom)
		require.NotErrorIs(t, err, twofactor.ErrChallengeNotFound)
		assert.Empty(t, e.eventsOf(event.Cancel))
	})
	t.Run("reading the lockout", func(t *testing.T) {
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
		spy.Fail("Peek", errBoom)
		lk, err := e.svc.Lockout(ctx, "alice")
		require.ErrorIs(t, err, errBoom)
		assert.Equal(t, twofactor.Lockout{}, lk)
	})
	for _, op := range []string{"PutState", "DeleteOwnedStates"} {
		t.Run("revoking on a password change: "+op, func(t *testing.T) {
			var spy *storespy.Spy
			e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
			ch := e.begin()
			proof := stepUpProof(t, e)
			e.clock.Advance(time.Second)
			spy.Fail(op, errBoom)
			require.ErrorIs(t, e.svc.PasswordChanged(ctx, "alice"), errBoom)
			require.ErrorIs(t, e.svc.AdminReset(ctx, alice, "support", "checked"), errBoom)
			spy.Fail(op, nil)
			if op == "PutState" {
				// Nothing was revoked, and the caller was told: the proof
				// still stands until the host retries.
				require.NoError(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp))
			} else {
				require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired)
				_, err := e.svc.Challenge(ctx, ch.ID)
				require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "the revocation's record ended the challenge")
			}
		})
	}
	t.Run("a malformed id costs no store access", func(t *testing.T) {
		var spy *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
		calls := spy.Calls.Load()
		for _, id := range []string{"", "x", strings.Repeat("A", 43) + "!"} {
			_, err := e.svc.Challenge(ctx, id)
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
			_, err = e.svc.Send(ctx, id, twofactor.MethodEmail, client)
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
			_, err = e.svc.Start(ctx, id, "hw")
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
		}
		assert.Equal(t, calls, spy.Calls.Load())
	})
	t.Run("starting a method", func(t *testing.T) {
		var spy *storespy.Spy
		sf := startFactor{&codeFactor{method: "hw", enrolled: map[string]bool{"alice": true}}}
		e := newEnv(t, func(c *twofactor.Config) {
			spy = storespy.New(c.Store.(store.Store))
			c.Store = spy
			c.Factors = append(c.Factors, factors(sf)...)
		})
		ch := e.begin()
		out, err := e.svc.Start(ctx, ch.ID, "hw")
		require.NoError(t, err)
		assert.JSONEq(t, `{"challenge":"`+ch.ID[:8]+`"}`, string(out))
		require.Len(t, e.eventsOf(event.Start), 1)
		_, err = e.svc.Start(ctx, ch.ID, twofactor.MethodTOTP)
		require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed, "TOTP has no start step")
		_, err = e.svc.Start(ctx, ch.ID, "carrier-pigeon")
		require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
		calls := spy.Calls.Load()
		_, err = e.svc.Start(ctx, ch.ID, "hw")
		require.NoError(t, err)
		assert.Equal(t, calls+1, spy.Calls.Load(), "a start checks the challenge, in one round trip")
		spy.Fail("*", errBoom)
		_, err = e.svc.Start(ctx, ch.ID, "hw")
		require.ErrorIs(t, err, errBoom, "a start whose check fails")
		spy.Fail("*", nil)
	})
}

// The per-network counter's key holds no client address: it is a keyed
// hash of the network, of fixed length, which differs between networks
// and between servers with other keys, and is the same for addresses of
// one counted network.
func TestIPCounterKeyHoldsNoAddress(t *testing.T) {
	recorded := func() (*env, *keyRecorder) {
		rec := &keyRecorder{}
		return newEnv(t, func(c *twofactor.Config) { rec.Memory = c.Store.(*store.Memory); c.Store = rec }), rec
	}
	e, rec := recorded()
	other, otherRec := recorded() // another server, other keys
	ipKeys := func(e *env, rec *keyRecorder, ip string) string {
		t.Helper()
		c := client
		c.IP = netip.MustParseAddr(ip)
		b, err := e.svc.Begin(ctx, alice, c)
		require.NoError(t, err)
		_, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: c})
		require.NoError(t, err)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var found string
		for _, k := range rec.keys {
			if strings.HasPrefix(k, "tf:ip:") {
				found = k
			}
		}
		return found
	}
	v4 := ipKeys(e, rec, "203.0.113.7")
	v6 := ipKeys(e, rec, "2001:db8:77:1::5")
	v6same := ipKeys(e, rec, "2001:db8:77:1:ffff::9") // the same /64
	mapped := ipKeys(e, rec, "::ffff:203.0.113.7")    // the same IPv4 address
	for _, k := range []string{v4, v6} {
		require.NotEmpty(t, k)
		assert.Len(t, k, len("tf:ip:")+22, "fixed length")
		_, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(k, "tf:ip:"))
		require.NoError(t, err, "base64url")
		for _, clear := range []string{"203.0.113", "2001:db8", "2001:db8:77:1::/64", "203.0.113.7"} {
			assert.NotContains(t, k, clear)
		}
	}
	assert.NotEqual(t, v4, v6)
	assert.Equal(t, v6, v6same, "addresses of one /64 are one network")
	assert.Equal(t, v4, mapped, "an IPv4-mapped address is its IPv4 address")
	assert.NotEqual(t, v4, ipKeys(other, otherRec, "203.0.113.7"), "another key, another counter key")
}

// tape records every key and value the Service (and the test's factors)
// write to the store.
type tape struct {
	*store.Memory
	mu  sync.Mutex
	out []string
}

func (tp *tape) rec(s ...string) {
	tp.mu.Lock()
	tp.out = append(tp.out, s...)
	tp.mu.Unlock()
}
func (tp *tape) PutState(ctx context.Context, k string, v []byte, e time.Time) error {
	tp.rec(k, string(v))
	return tp.Memory.PutState(ctx, k, v, e)
}
func (tp *tape) PutOwnedState(ctx context.Context, o, k string, v []byte, e time.Time) error {
	tp.rec(o, k, string(v))
	return tp.Memory.PutOwnedState(ctx, o, k, v, e)
}
func (tp *tape) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	tp.rec(k)
	return tp.Memory.Incr(ctx, k, w)
}
func (tp *tape) IncrBatch(ctx context.Context, in []store.CounterIncr) ([]store.CounterValue, error) {
	for _, i := range in {
		tp.rec(i.Key)
	}
	return tp.Memory.IncrBatch(ctx, in)
}
func (tp *tape) IncrBelow(ctx context.Context, in []store.BoundedIncr) ([]store.BoundedValue, error) {
	for _, i := range in {
		tp.rec(i.Key)
	}
	return tp.Memory.IncrBelow(ctx, in)
}
func (tp *tape) RunBatch(ctx context.Context, ops []store.Op) error {
	tp.rec(batchKeys(ops)...)
	return tp.Memory.RunBatch(ctx, ops)
}

// batchKeys returns the keys and user ids a batch names.
func batchKeys(ops []store.Op) []string {
	var keys []string
	for _, op := range ops {
		for _, in := range op.Incrs {
			keys = append(keys, in.Key)
		}
		keys = append(keys, op.Key, op.UserID, op.ID)
	}
	return keys
}
func (tp *tape) PutCode(ctx context.Context, c store.Code) error {
	tp.rec(c.Group, c.Key, string(c.Hash))
	return tp.Memory.PutCode(ctx, c)
}

// Nothing the Service writes holds a secret or a personal detail in the
// clear: no code, no name or address of the user, and no client address
// (the per-network counter is a keyed hash of the network; the challenge
// record seals the address).
func TestNothingSecretStored(t *testing.T) {
	tp := &tape{}
	e := newEnv(t, func(c *twofactor.Config) { tp.Memory = c.Store.(*store.Memory); c.Store = tp })
	e.email.codes, e.email.groups = tp, tp
	u := twofactor.User{ID: "alice", Name: "Alice Liddell", DisplayName: "Alice L.", Email: "alice.liddell@example.org"}
	for _, ip := range []string{"198.51.100.23", "2001:db8:99:4::17"} {
		c := client
		c.IP = netip.MustParseAddr(ip)
		b, err := e.svc.Begin(ctx, u, c)
		require.NoError(t, err)
		_, err = e.svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, c)
		require.NoError(t, err)
		for _, code := range []string{"999999", "123456"} {
			_, _ = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodEmail, Code: code, UserID: u.ID, Client: c})
		}
		step, err := e.svc.StepUp(ctx, u, c, "")
		require.NoError(t, err)
		_, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: step.ID, Method: twofactor.MethodTOTP, Code: wrongCode(1),
			Purpose: twofactor.PurposeStepUp, Client: c})
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	require.NoError(t, e.svc.PasswordChanged(ctx, u.ID))
	tp.mu.Lock()
	defer tp.mu.Unlock()
	require.True(t, slices.ContainsFunc(tp.out, func(s string) bool { return strings.HasPrefix(s, "tf:ip:") }), "the flow counted networks")
	for _, s := range tp.out {
		for _, secret := range []string{"123456", "999999", "654321", "Liddell", "Alice L", "alice.liddell", "example.org",
			"198.51.100", "2001:db8:99:4", "2001:db8:99:4::/64", "2001:0db8"} {
			assert.NotContains(t, s, secret, "a stored key or value holds a secret or a personal detail")
		}
	}
}

// Taking back the count of an answer that was no guess reports nothing
// when it works, and a warning when the store fails it: the count then
// stays one higher, the safe side, and the answer is still a wrong code to
// the user.
func TestTakeBackWarnsOnlyOnFailure(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("failing=", fail), func(t *testing.T) {
			var spy *storespy.Spy
			f := fixedFactor{&codeFactor{method: "hw", enrolled: map[string]bool{"alice": true}}, twofactor.ErrCodeReused}
			e := newEnv(t, func(c *twofactor.Config) {
				c.Factors = append(c.Factors, factors(f)...)
				spy = storespy.New(c.Store.(store.Store))
				c.Store = spy
			})
			if fail {
				spy.Fail("Decr", errBoom)
			}
			_, err := e.verify(e.begin(), "hw", "123456")
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
			warnings := e.eventsOf(event.Warning)
			if !fail {
				assert.Empty(t, warnings)
				assert.Zero(t, failures(t, e))
				return
			}
			require.Len(t, warnings, 1)
			assert.Equal(t, event.ReasonTakeBackFailed, warnings[0].Reason)
			assert.Contains(t, warnings[0].Details[event.DetailError], errBoom.Error())
			assert.EqualValues(t, 1, failures(t, e), "the count stays higher")
		})
	}
}

// A revocation record that does not parse fails every step of a challenge
// closed, as it fails a proof: Verify (its count given back), Send through
// a factor that joins the Service's checks and through one that does not,
// and Challenge are errors, never a verdict, and nothing is sent.
func TestChallengeRevocationRecordCorrupt(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	require.NoError(t, e.mem.PutState(ctx, "tf:pnb:alice", []byte("yesterday"), e.clock.Now().Add(time.Hour)))
	notVerdict := func(err error, what string) {
		t.Helper()
		require.Error(t, err, what)
		require.NotErrorIs(t, err, twofactor.ErrChallengeNotFound, what)
		require.NotErrorIs(t, err, twofactor.ErrInvalidCode, what)
	}
	_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	notVerdict(err, "Verify")
	assert.Zero(t, e.app.verifies.Load())
	assert.Zero(t, failures(t, e), "the count was given back")
	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	notVerdict(err, "Send")
	_, err = e.svc.Challenge(ctx, ch.ID)
	notVerdict(err, "Challenge")
	assert.Empty(t, e.eventsOf(event.Send))

	outbox := &emailcode.Outbox{}
	mem := store.NewMemory()
	svc, err := twofactor.New(twofactor.Config{Store: mem, Keys: e.keys, Events: &event.Sink{Discard: true},
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: outbox}}})
	require.NoError(t, err)
	b, err := svc.Begin(ctx, twofactor.User{ID: "alice", Email: "alice@example.com"}, client)
	require.NoError(t, err)
	require.NoError(t, mem.PutState(ctx, "tf:pnb:alice", []byte("yesterday"), time.Now().Add(time.Hour)))
	_, err = svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
	notVerdict(err, "a gated Send")
	assert.Empty(t, outbox.Messages())
}

// On a store without batches the last use is written after the
// challenge's end; a failure to write it is a warning, and the answer
// stands.
func TestLastUseFailureWithoutBatches(t *testing.T) {
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) {
		spy = storespy.New(c.Store.(store.Store))
		c.Store = struct{ store.Store }{spy}
	})
	e.app.record = true
	require.NoError(t, e.mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "alice", ID: "totp-1", Method: "totp", CreatedAt: e.clock.Now()}))
	spy.Fail("PutEnrollment", errBoom) // a store without TouchEnrollment rewrites the record
	res, err := e.verify(e.begin(), twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	require.NotNil(t, res)
	assert.Equal(t, event.ReasonTouchFailed, e.eventsOf(event.Warning)[0].Reason)
}

// uncheckedFactor takes answers of any form, and refuses them all.
type uncheckedFactor struct{ verifies atomic.Int64 }

func (*uncheckedFactor) Method() twofactor.Method { return "free" }
func (*uncheckedFactor) Enrollments(context.Context, twofactor.User) ([]twofactor.Enrollment, error) {
	return []twofactor.Enrollment{{ID: "free-1", Method: "free"}}, nil
}
func (f *uncheckedFactor) Verify(context.Context, *twofactor.Challenge, string) (twofactor.Verified, error) {
	f.verifies.Add(1)
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

// An answer of up to 16 KiB reaches a factor that checks no form (a
// WebAuthn assertion is a few kilobytes); one byte more is malformed and
// reaches nothing.
func TestAnswerLengthBound(t *testing.T) {
	free := &uncheckedFactor{}
	e := newEnv(t, func(c *twofactor.Config) { c.Factors = append(c.Factors, factors(free)...) })
	_, err := e.verify(e.begin(), "free", strings.Repeat("9", 16<<10))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.EqualValues(t, 1, free.verifies.Load(), "the longest answer reached the factor")
	_, err = e.verify(e.begin(), "free", strings.Repeat("9", 16<<10+1))
	require.ErrorIs(t, err, twofactor.ErrMalformedCode)
	assert.EqualValues(t, 1, free.verifies.Load(), "one byte more reached nothing")
}
