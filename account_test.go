package twofactor_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

func loginProof(t *testing.T, e *env) string {
	t.Helper()
	res, err := e.verify(e.begin(), twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	return res.Proof
}

// stepUpProof answers a step-up challenge of alice's and returns its proof.
func stepUpProof(t *testing.T, e *env) string {
	t.Helper()
	ch, err := e.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321",
		Purpose: twofactor.PurposeStepUp, UserID: "alice", Client: client})
	require.NoError(t, err)
	return res.Proof
}

func TestProof(t *testing.T) {
	e := newEnv(t, nil)
	login := loginProof(t, e)
	p, err := e.svc.ParseProof(login)
	require.NoError(t, err)
	assert.Equal(t, "alice", p.UserID)
	assert.Equal(t, twofactor.MethodTOTP, p.Method)
	assert.Equal(t, twofactor.PurposeLogin, p.Purpose)
	assert.True(t, p.VerifiedAt.Equal(e.clock.Now()))
	require.ErrorIs(t, e.svc.CheckProof(ctx, login, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired,
		"a login proof is not a step-up")
	require.ErrorIs(t, e.svc.CheckProof(ctx, login, "alice", twofactor.PurposeEnroll), twofactor.ErrStepUpRequired)
	require.ErrorIs(t, e.svc.CheckProof(ctx, login, "alice", twofactor.PurposeLogin), twofactor.ErrInvalidInput)

	proof := stepUpProof(t, e)
	p, err = e.svc.ParseProof(proof)
	require.NoError(t, err)
	assert.Equal(t, twofactor.PurposeStepUp, p.Purpose)
	require.NoError(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp))
	require.NoError(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeEnroll), "a step-up proof may add a factor")
	require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "bob", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired, "another user's proof")

	e.clock.Advance(defaultStepUpMaxAge)
	require.NoError(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), "exactly the max age")
	e.clock.Advance(time.Second)
	require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired, "stale proof")

	// Tampering anywhere breaks it.
	for i := 0; i < len(proof); i++ {
		b := []byte(proof)
		b[i] ^= 1
		_, err := e.svc.ParseProof(string(b))
		require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "flipped byte %d", i)
	}
	// Another server's proof does not verify.
	other := newEnv(t, nil)
	other.clock = e.clock
	_, err = other.svc.ParseProof(proof)
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
	for _, bad := range []string{"", ".", "..", "a.b.c", strings.Repeat("a", 5000)} {
		_, err := e.svc.ParseProof(bad)
		require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "%q", bad)
	}
}

func TestRemoveEnrollmentNeedsFreshProof(t *testing.T) {
	e := newEnv(t, nil)
	proof := stepUpProof(t, e)
	err := e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", loginProof(t, e))
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "a login proof")

	err = e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", "")
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
	e.clock.Advance(defaultStepUpMaxAge + time.Second)
	err = e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", proof)
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "stale proof")
	assert.Empty(t, e.app.removed, "removed without a fresh verification")

	proof = stepUpProof(t, e)
	bobProof := proof
	err = e.svc.RemoveEnrollment(ctx, twofactor.User{ID: "bob"}, twofactor.MethodTOTP, "totp-1", bobProof)
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "alice's proof used for bob")
	err = e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "nope", proof)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	err = e.svc.RemoveEnrollment(ctx, alice, "nope", "x", proof)
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)

	require.NoError(t, e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", proof))
	assert.Equal(t, []string{"alice/totp-1"}, e.app.removed)
	rm := e.eventsOf(event.Remove)
	require.Len(t, rm, 1)
	assert.Equal(t, twofactor.MethodTOTP, rm[0].Method)

	list, err := e.svc.Enrollments(ctx, alice)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, twofactor.MethodEmail, list[0].Method)
}

func TestAdminReset(t *testing.T) {
	e := newEnv(t, nil)
	require.ErrorIs(t, e.svc.AdminReset(ctx, alice, " ", "lost phone"), twofactor.ErrInvalidInput, "reset without an actor")
	assert.Empty(t, e.app.removed)

	// lock alice out first: the reset lifts it
	for i := 0; i < defaultMaxUserFailures; i++ {
		_, _ = e.verify(e.begin(), twofactor.MethodTOTP, "000000")
	}
	_, err := e.svc.Begin(ctx, alice, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)

	// A record of a factor this Service was not built with (an
	// administration tool builds only what it needs) goes too; another
	// user's stays.
	require.NoError(t, e.mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "alice", ID: "sms-1", Method: "sms", CreatedAt: e.clock.Now()}))
	require.NoError(t, e.mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "bob", ID: "sms-2", Method: "sms", CreatedAt: e.clock.Now()}))
	require.NoError(t, e.svc.AdminReset(ctx, alice, "support@example.com", "identity checked by phone"))
	left, err := e.mem.ListEnrollments(ctx, "alice")
	require.NoError(t, err)
	assert.Empty(t, left)
	left, err = e.mem.ListEnrollments(ctx, "bob")
	require.NoError(t, err)
	assert.Len(t, left, 1)
	assert.Equal(t, []string{"alice/*"}, e.app.removed)
	assert.Equal(t, []string{"alice/*"}, e.email.removed)
	assert.Equal(t, []string{"alice"}, e.trust.forgotten)
	ev := e.eventsOf(event.AdminReset)
	require.Len(t, ev, 1)
	assert.Equal(t, "support@example.com", ev[0].Actor)
	assert.Equal(t, "identity checked by phone", ev[0].Details["reason"])
	assert.True(t, ev[0].LastFactor, "a reset turns two-factor authentication off")

	b, err := e.svc.Begin(ctx, alice, client)
	require.NoError(t, err, "reset lifts the lockout")
	assert.Equal(t, twofactor.StatusNoFactor, b.Status)

	e.trust.err = errBoom
	err = e.svc.AdminReset(ctx, alice, "support", "again")
	require.ErrorIs(t, err, errBoom, "a partial reset reports its failure")
}

func TestPasswordChangedForgetsDevices(t *testing.T) {
	e := newEnv(t, nil)
	require.NoError(t, e.svc.PasswordChanged(ctx, "alice"))
	assert.Equal(t, []string{"alice"}, e.trust.forgotten)
	require.Len(t, e.eventsOf(event.PasswordChanged), 1)
	assert.Empty(t, e.eventsOf(event.DeviceRevoked), "devices report their own revocations")
}

func TestPolicyCheck(t *testing.T) {
	e := newEnv(t, nil)
	backup := recoveryFactor{&codeFactor{method: twofactor.MethodBackupCode, static: "x", enrolled: map[string]bool{"carol": true, "alice": true}}}
	sms := &codeFactor{method: twofactor.MethodSMS, static: "x", enrolled: map[string]bool{"alice": true, "dave": true}}
	svc, err := twofactor.New(twofactor.Config{
		Store: e.mem, Keys: e.keys,
		Factors: factors(e.app, sms, backup),
		Policy:  twofactor.Policy{Required: true, Default: twofactor.MethodSMS, Mandatory: []twofactor.Method{twofactor.MethodSMS}},
		Events:  &event.Sink{Discard: true},
	})
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodSMS, svc.Policy().Default)
	users := []twofactor.User{{ID: "alice"}, {ID: "bob"}, {ID: "carol"}, {ID: "dave"}}
	gaps, err := svc.Check(ctx, slices.Values(users))
	require.NoError(t, err)
	require.Len(t, gaps, 2)
	assert.Equal(t, "bob", gaps[0].User.ID)
	assert.True(t, gaps[0].NoFactor)
	assert.Equal(t, []twofactor.Method{twofactor.MethodSMS}, gaps[0].Missing)
	assert.Equal(t, "carol", gaps[1].User.ID)
	assert.True(t, gaps[1].NoFactor, "backup codes alone are not a second factor")
	assert.Equal(t, []twofactor.Method{twofactor.MethodSMS}, gaps[1].Missing)

	// A user with only backup codes still gets them offered at login.
	b, err := svc.Begin(ctx, twofactor.User{ID: "carol"}, client)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	assert.Equal(t, []twofactor.Method{twofactor.MethodBackupCode}, b.Challenge.Methods)
}

func TestRemoveLastFactorUnderRequiredPolicy(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Policy.Required = true })
	proof := stepUpProof(t, e)
	require.NoError(t, e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", proof), "a second factor remains (email)")
	err := e.svc.RemoveEnrollment(ctx, alice, twofactor.MethodEmail, "email-1", proof)
	require.ErrorIs(t, err, twofactor.ErrLastFactor)
	assert.Empty(t, e.email.removed, "the last factor was removed")

	// Without the requirement the user may turn 2FA off.
	e2 := newEnv(t, nil)
	proof = stepUpProof(t, e2)
	require.NoError(t, e2.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", proof))
	require.NoError(t, e2.svc.RemoveEnrollment(ctx, alice, twofactor.MethodEmail, "email-1", proof))
}
