package totp_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

// svcEnv is a Service whose only factor is built from a TOTP Config
// holding nothing but its issuer.
type svcEnv struct {
	svc    *twofactor.Service
	f      *totp.Factor
	mem    *store.Memory
	clock  *storetest.Clock
	events eventlog.Log
}

func newSvcEnv(t *testing.T) *svcEnv {
	t.Helper()
	e := &svcEnv{clock: storetest.NewClock(t0)}
	e.mem = store.NewMemory(e.clock.Now)
	var err error
	e.svc, err = twofactor.New(twofactor.Config{
		Store: e.mem, Keys: testKeyring(t, mustKey(t, "k1")), Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}},
		Now: e.clock.Now, Events: &event.Sink{Discard: true, Hook: e.events.Hook},
	})
	require.NoError(t, err)
	f, ok := e.svc.Factor(twofactor.MethodTOTP)
	require.True(t, ok)
	e.f = f.(*totp.Factor)
	return e
}

func (e *svcEnv) begin(t *testing.T, u twofactor.User) *twofactor.Enrolling {
	t.Helper()
	p, err := e.svc.BeginEnroll(context.Background(), u, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.NoError(t, err)
	return p
}

// enroll enrolls u through the Service and returns the secret.
func (e *svcEnv) enroll(t *testing.T, u twofactor.User) string {
	t.Helper()
	p := e.begin(t, u)
	_, err := e.svc.ConfirmEnroll(context.Background(), u, twofactor.MethodTOTP, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.NoError(t, err)
	return p.Secret
}

// stepUp answers a step-up challenge with the app's current code and
// returns the proof.
func (e *svcEnv) stepUp(t *testing.T, u twofactor.User, secret string) string {
	t.Helper()
	ctx := context.Background()
	e.clock.Advance(30 * time.Second) // a step no code has used yet
	ch, err := e.svc.StepUp(ctx, u, twofactor.Client{}, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Purpose: twofactor.PurposeStepUp,
		Code: codeAt(t, secret, e.clock.Now(), e.f.Params())})
	require.NoError(t, err)
	return res.Proof
}

// A Config given to twofactor.New is built with the Service's store,
// keys, clock and events.
func TestBuiltByService(t *testing.T) {
	e := newSvcEnv(t)
	ctx := context.Background()
	p := e.begin(t, alice)
	assert.Equal(t, t0.Add(totp.DefaultPendingTTL), p.ExpiresAt, "the Service's clock")
	k, err := totp.ParseURI(p.URI)
	require.NoError(t, err)
	assert.Equal(t, "Acme", k.Issuer)
	require.Len(t, e.events.OfType(event.EnrollBegin), 1, "the Service's events")
	done, err := e.svc.ConfirmEnroll(ctx, alice, twofactor.MethodTOTP, codeAt(t, p.Secret, t0, e.f.Params()))
	require.NoError(t, err)
	recs, err := e.mem.ListEnrollments(ctx, alice.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1, "in the Service's store")
	assert.Equal(t, done.Enrollment.ID, recs[0].ID)
}

// Confirming through the Service gives one EventEnroll, the Service's,
// naming the enrollment: the factor emits none of its own.
func TestEnrollEventFromService(t *testing.T) {
	e := newSvcEnv(t)
	ctx := context.Background()
	p := e.begin(t, alice)
	done, err := e.svc.ConfirmEnroll(ctx, alice, twofactor.MethodTOTP, codeAt(t, p.Secret, t0, e.f.Params()))
	require.NoError(t, err)
	enrolled := e.events.OfType(event.Enroll)
	require.Len(t, enrolled, 1)
	assert.Equal(t, twofactor.MethodTOTP, enrolled[0].Method)
	assert.Equal(t, done.Enrollment.ID, enrolled[0].EnrollmentID)
	assert.Equal(t, totp.DefaultLabel, enrolled[0].Label)
	assert.True(t, enrolled[0].FirstFactor)
}

// A factor a host builds alone, with its own Env, keeps it when it is given
// to a Service (through a FactorFunc): its store and events, not the
// Service's.
func TestOwnEnvKept(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(t0)
	own := store.NewMemory(clock.Now)
	keys := testKeyring(t, mustKey(t, "k1"))
	var emitted atomic.Int32
	f, err := totp.New(twofactor.Env{Store: own, Keys: keys, Now: clock.Now, Events: &event.Sink{Discard: true,
		Hook: func(context.Context, event.Event) { emitted.Add(1) }}}, totp.Config{})
	require.NoError(t, err)
	svcStore := store.NewMemory(clock.Now)
	_, err = twofactor.New(twofactor.Config{Store: svcStore, Keys: keys,
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return f, nil })},
		Now:     clock.Now, Events: &event.Sink{Discard: true}})
	require.NoError(t, err)
	_, err = f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{})
	require.NoError(t, err)
	_, err = own.GetState(ctx, "totp:pending:"+alice.ID)
	require.NoError(t, err, "the factor's own store")
	_, err = svcStore.GetState(ctx, "totp:pending:"+alice.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, int32(1), emitted.Load(), "the factor's own events")
}

// statesOnly is a store with only what the Service itself needs.
type statesOnly struct{ twofactor.Store }

// A store without the interfaces the factor needs is a configuration
// error at New, naming them, alone or through twofactor.New.
func TestNewNeedsStoreInterfaces(t *testing.T) {
	keys := testKeyring(t, mustKey(t, "k1"))
	f, err := totp.New(twofactor.Env{Store: statesOnly{store.NewMemory()}, Keys: keys}, totp.Config{Issuer: "Acme"})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Nil(t, f)
	assert.Contains(t, err.Error(), "store.Ledger, store.Enrollments")
	assert.NotContains(t, err.Error(), "store.States,")
	assert.True(t, strings.HasPrefix(err.Error(), "totp: "), err.Error())

	_, err = twofactor.New(twofactor.Config{Store: statesOnly{store.NewMemory()}, Keys: keys,
		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Ledger, store.Enrollments")
}

// An Env without a store or keys is a configuration error at New: a
// factor is complete when New returns it, or there is none.
func TestNewNeedsStoreAndKeys(t *testing.T) {
	for name, env := range map[string]twofactor.Env{
		"nothing":  {},
		"no keys":  {Store: store.NewMemory()},
		"no store": {Keys: testKeyring(t, mustKey(t, "k1"))},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := totp.New(env, totp.Config{})
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, f)
			assert.True(t, strings.HasPrefix(err.Error(), "totp: "), err.Error())
			_, err = totp.Config{}.NewFactor(env)
			require.ErrorIs(t, err, twofactor.ErrConfig)
		})
	}
}

// A password change and an admin reset end a pending enrollment: whoever
// started it with the old password cannot finish it.
func TestPendingEndedWithTheUsersState(t *testing.T) {
	ctx := context.Background()
	end := map[string]func(e *svcEnv) error{
		"password change": func(e *svcEnv) error { return e.svc.PasswordChanged(ctx, alice.ID) },
		"admin reset":     func(e *svcEnv) error { return e.svc.AdminReset(ctx, alice, "support@example.com", "lost phone") },
	}
	for name, endIt := range end {
		t.Run(name, func(t *testing.T) {
			e := newSvcEnv(t)
			p := e.begin(t, alice)
			require.NoError(t, endIt(e))
			_, err := e.svc.ConfirmEnroll(ctx, alice, twofactor.MethodTOTP, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
			require.ErrorIs(t, err, totp.ErrNoPending)
			require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
			assert.NotEqual(t, p.Secret, e.begin(t, alice).Secret, "a new enrollment, with a new secret")
		})
	}
}

// Service.Disable (after a step-up with a current code) removes the TOTP
// enrollment and any pending one: what the factor's own code-checked
// removal did, under the Service's policy and limits.
func TestServiceDisable(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t)
	secret := e.enroll(t, alice)
	proof := e.stepUp(t, alice, secret)
	require.NoError(t, e.svc.Disable(ctx, alice, proof))
	es, err := e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)
	b, err := e.svc.Begin(ctx, alice, twofactor.Client{})
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusNoFactor, b.Status)
}

// A sign-in whose drift changed rewrites the record with it and the last
// use, in one store write, whether the store can touch an enrollment or
// not; any other asks the Service to record the last use with the
// challenge's end, and writes nothing.
func TestVerifyRecordsLastUse(t *testing.T) {
	for _, toucher := range []bool{true, false} {
		name := "rewrite"
		if toucher {
			name = "touch"
		}
		t.Run(name, func(t *testing.T) {
			ws := &writeCounter{}
			e := newEnv(t, totp.Config{}, func(m *store.Memory) store.Store {
				ws.Store = m
				if toucher {
					return touchCounter{ws}
				}
				return ws
			})
			ctx := context.Background()
			secret, en := e.enroll(t, alice)
			for i, shift := range []time.Duration{0, 30 * time.Second, 30 * time.Second, 0} { // drift 0, +1, +1, 0
				e.clock.Advance(2 * time.Minute)
				ws.writes.Store(0)
				before, err := e.f.Enrollments(ctx, alice)
				require.NoError(t, err)
				got, err := e.f.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now().Add(shift), e.f.Params()))
				require.NoError(t, err)
				es, err := e.f.Enrollments(ctx, alice)
				require.NoError(t, err)
				require.Len(t, es, 1)
				assert.Equal(t, en.CreatedAt, es[0].CreatedAt)
				if changed := i%2 == 1; changed {
					assert.Equal(t, int32(1), ws.writes.Load(), "login %d: the drift and the last use in one write", i)
					assert.Equal(t, e.clock.Now(), es[0].LastUsedAt, "login %d", i)
					assert.False(t, got.RecordUse, "login %d: written already", i)
				} else {
					assert.Zero(t, ws.writes.Load(), "login %d: the Service records the last use", i)
					assert.Equal(t, before[0].LastUsedAt, es[0].LastUsedAt, "login %d", i)
					assert.True(t, got.RecordUse, "login %d", i)
					assert.Equal(t, en.ID, got.EnrollmentID)
				}
			}

			// A wrong code records nothing.
			e.clock.Advance(2 * time.Minute)
			ws.writes.Store(0)
			_, err := e.f.Verify(ctx, challenge(alice), "000000")
			if err == nil {
				t.Skip("000000 happened to be the code")
			}
			assert.Zero(t, ws.writes.Load())
		})
	}
}

// writeCounter counts enrollment writes; embedding store.Store hides the
// memory store's TouchEnrollment.
type writeCounter struct {
	store.Store
	writes atomic.Int32
}

func (w *writeCounter) PutEnrollment(ctx context.Context, r store.EnrollmentRecord) error {
	w.writes.Add(1)
	return w.Store.PutEnrollment(ctx, r)
}

// touchCounter adds TouchEnrollment to a writeCounter.
type touchCounter struct{ *writeCounter }

func (t touchCounter) TouchEnrollment(ctx context.Context, userID, id string, used time.Time) error {
	t.writes.Add(1)
	return t.Store.(store.EnrollmentToucher).TouchEnrollment(ctx, userID, id, used)
}

// On a store without TouchEnrollment, a sign-in racing a removal never
// brings the enrollment back.
func TestLastUseRewriteRacingRemoval(t *testing.T) {
	ws := &writeCounter{}
	e := newEnv(t, totp.Config{}, func(m *store.Memory) store.Store { ws.Store = m; return ws })
	ctx := context.Background()
	secret, en := e.enroll(t, alice)
	saved, err := e.mem.GetEnrollment(ctx, alice.ID, en.ID)
	require.NoError(t, err)
	for round := range 50 {
		require.NoError(t, e.mem.PutEnrollment(ctx, saved))
		e.clock.Advance(61 * time.Minute) // past the previous round's tombstone
		code := codeAt(t, secret, e.clock.Now(), e.f.Params())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = e.f.Verify(ctx, challenge(alice), code)
		}()
		assert.NoError(t, e.f.Remove(ctx, alice, en.ID))
		<-done
		es, err := e.f.Enrollments(ctx, alice)
		require.NoError(t, err)
		require.Empty(t, es, "round %d: removed enrollment came back", round)
	}
}

// An authenticator app removed while a sign-in is pending (on another
// device, by support) makes the pending challenge's answer a wrong code to
// the user, as for every factor, never a system error; the event's reason
// says why, and it is no guess.
func TestRemovedWhileChallengePending(t *testing.T) {
	e := newSvcEnv(t)
	ctx := context.Background()
	u := twofactor.User{ID: "alice"}
	secret := e.enroll(t, u)
	b, err := e.svc.Begin(ctx, u, twofactor.Client{})
	require.NoError(t, err)
	require.Equal(t, []twofactor.Method{twofactor.MethodTOTP}, b.Challenge.Methods)
	es, err := e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.NoError(t, e.f.Remove(ctx, u, es[0].ID))

	e.clock.Advance(30 * time.Second) // a step the enrollment did not use
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP,
		Code: codeAt(t, secret, e.clock.Now(), e.f.Params()), UserID: u.ID})
	require.Nil(t, res)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error(), "the user sees a wrong code, not %q", err)
	assert.NotContains(t, err.Error(), "not enrolled")
	fails := e.events.OfType(event.Failure)
	require.NotEmpty(t, fails)
	assert.Equal(t, event.ReasonNotEnrolled, fails[len(fails)-1].Reason)
	lk, err := e.svc.Lockout(ctx, u.ID)
	require.NoError(t, err)
	assert.Zero(t, lk.Failures, "an answer with no enrollment to check was counted as a guess")
}

// VerifyRecords answers as Verify does, from the records it is handed:
// the user's TOTP record among every method's is used, and without one
// (none, another method's, another user's) the user is not enrolled.
func TestVerifyRecords(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, totp.Config{}, nil)
	secret, _ := e.enroll(t, alice)
	recs, err := e.mem.ListEnrollments(ctx, alice.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	e.clock.Advance(2 * time.Minute)
	code := codeAt(t, secret, e.clock.Now(), e.f.Params())

	other := recs[0]
	other.Method = "sms"
	stolen := recs[0]
	stolen.UserID = "mallory"
	for name, given := range map[string][]store.EnrollmentRecord{
		"none":          nil,
		"other methods": {other},
		"another user":  {stolen},
	} {
		_, err := e.f.VerifyRecords(ctx, challenge(alice), code, given)
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled, name)
	}
	got, err := e.f.VerifyRecords(ctx, challenge(alice), code, []store.EnrollmentRecord{other, recs[0]})
	require.NoError(t, err)
	assert.Equal(t, recs[0].ID, got.EnrollmentID)
	_, err = e.f.Verify(ctx, challenge(alice), code)
	require.ErrorIs(t, err, twofactor.ErrCodeReused, "the step VerifyRecords took")
}
