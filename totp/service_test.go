package totp_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

// svcEnv is a Service whose only factor is a TOTP factor configured with
// nothing but its issuer.
type svcEnv struct {
	svc   *twofactor.Service
	f     *totp.Factor
	mem   *store.Memory
	clock *storetest.Clock
}

func newSvcEnv(t *testing.T) *svcEnv {
	t.Helper()
	e := &svcEnv{clock: storetest.NewClock(t0)}
	e.mem = store.NewMemory(e.clock.Now)
	f, err := totp.New(totp.Config{Issuer: "Acme"})
	require.NoError(t, err)
	e.f = f
	e.svc, err = twofactor.New(twofactor.Config{
		Store: e.mem, Keys: testKeyring(t, mustKey(t, "k1")), Factors: []twofactor.Factor{f},
		Now: e.clock.Now, Events: &twofactor.Events{Discard: true},
	})
	require.NoError(t, err)
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

// A factor configured with its issuer only gets the store, keys, clock and
// events from the Service.
func TestBindFromService(t *testing.T) {
	e := newSvcEnv(t)
	ctx := context.Background()
	p := e.begin(t, alice)
	assert.Equal(t, t0.Add(totp.DefaultPendingTTL), p.ExpiresAt, "the Service's clock")
	k, err := totp.ParseURI(string(p.URI))
	require.NoError(t, err)
	assert.Equal(t, "Acme", k.Issuer)
	done, err := e.svc.ConfirmEnroll(ctx, alice, twofactor.MethodTOTP, codeAt(t, p.Secret, t0, e.f.Params()))
	require.NoError(t, err)
	recs, err := e.mem.ListEnrollments(ctx, alice.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1, "in the Service's store")
	assert.Equal(t, done.Enrollment.ID, recs[0].ID)
}

// Fields set in the factor's Config win over the Service's.
func TestBindKeepsExplicitFields(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(t0)
	own := store.NewMemory(clock.Now)
	var emitted atomic.Int32
	f, err := totp.New(totp.Config{Store: own, Events: &twofactor.Events{Discard: true,
		Hook: func(context.Context, twofactor.Event) { emitted.Add(1) }}})
	require.NoError(t, err)
	svcStore := store.NewMemory(clock.Now)
	_, err = twofactor.New(twofactor.Config{Store: svcStore, Keys: testKeyring(t, mustKey(t, "k1")),
		Factors: []twofactor.Factor{f}, Now: clock.Now, Events: &twofactor.Events{Discard: true}})
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

func TestBindNeedsStoreInterfaces(t *testing.T) {
	f, err := totp.New(totp.Config{Issuer: "Acme"})
	require.NoError(t, err)
	_, err = twofactor.New(twofactor.Config{Store: statesOnly{store.NewMemory()}, Keys: testKeyring(t, mustKey(t, "k1")),
		Factors: []twofactor.Factor{f}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Ledger, store.Enrollments")
	assert.NotContains(t, err.Error(), "store.States,")

	// The factor is left as it was: unbound.
	_, err = f.Enrollments(context.Background(), alice)
	require.ErrorIs(t, err, twofactor.ErrConfig)
}

// A factor with no store or no keys, configured or bound, answers every
// call that needs them with ErrConfig, never a panic.
func TestUnboundFactorIsAConfigError(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]totp.Config{
		"nothing":  {},
		"no keys":  {Store: store.NewMemory()},
		"no store": {Keys: testKeyring(t, mustKey(t, "k1"))},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := totp.New(cfg)
			require.NoError(t, err)
			_, err = f.Enrollments(ctx, alice)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			_, err = f.Verify(ctx, challenge(alice), "123456")
			require.ErrorIs(t, err, twofactor.ErrConfig)
			_, err = f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{})
			require.ErrorIs(t, err, twofactor.ErrConfig)
			_, err = f.ConfirmEnroll(ctx, alice, "123456")
			require.ErrorIs(t, err, twofactor.ErrConfig)
			require.ErrorIs(t, f.CancelEnroll(ctx, alice), twofactor.ErrConfig)
			require.ErrorIs(t, f.Remove(ctx, alice, "e"), twofactor.ErrConfig)
			require.ErrorIs(t, f.RemoveAll(ctx, alice), twofactor.ErrConfig)
			_, err = f.Rekey(ctx, alice.ID)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			require.NoError(t, f.CheckAnswer("123456"), "needs neither")
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

// Every successful sign-in records the enrollment's last use, in one
// store write, whether the store can touch an enrollment or not, and
// whether the drift changed or not.
func TestVerifyRecordsLastUse(t *testing.T) {
	for _, toucher := range []bool{true, false} {
		name := "rewrite"
		if toucher {
			name = "touch"
		}
		t.Run(name, func(t *testing.T) {
			ws := &writeCounter{}
			e := newEnv(t, totp.Config{}, func(m *store.Memory) totp.Store {
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
				_, err := e.f.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now().Add(shift), e.f.Params()))
				require.NoError(t, err)
				assert.Equal(t, int32(1), ws.writes.Load(), "login %d: one write", i)
				es, err := e.f.Enrollments(ctx, alice)
				require.NoError(t, err)
				require.Len(t, es, 1)
				assert.Equal(t, e.clock.Now(), es[0].LastUsedAt, "login %d", i)
				assert.Equal(t, en.CreatedAt, es[0].CreatedAt)
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

// writeCounter counts enrollment writes; embedding totp.Store hides the
// memory store's TouchEnrollment.
type writeCounter struct {
	totp.Store
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
	e := newEnv(t, totp.Config{}, func(m *store.Memory) totp.Store { ws.Store = m; return ws })
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
