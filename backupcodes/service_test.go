package backupcodes_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
)

// serviceEnv is a twofactor.Service with a PIN factor and backup codes.
type serviceEnv struct {
	*env
	svc *twofactor.Service
}

// newServiceEnv builds the Service from a PIN factor and a backup-code
// Config; the env's factor is the one the Service built.
func newServiceEnv(t *testing.T, policy *twofactor.Policy) *serviceEnv {
	t.Helper()
	e := newEnv(t, nil)
	pin := pinFactor{enrolled: map[string]bool{"alice": true, "bob": true}}
	cfg := twofactor.Config{Store: e.store, Keys: e.keys,
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return pin, nil }), backupcodes.Config{}},
		Events:  e.events, Now: e.clock.Now}
	if policy != nil {
		cfg.Policy = *policy
	}
	svc, err := twofactor.New(cfg)
	require.NoError(t, err)
	f, ok := svc.Factor(twofactor.MethodBackupCode)
	require.True(t, ok)
	e.f = f.(*backupcodes.Factor)
	return &serviceEnv{env: e, svc: svc}
}

// proof signs the user in with the PIN factor and returns the step-up proof.
func (h *serviceEnv) proof(t *testing.T, u twofactor.User) string {
	t.Helper()
	ch, err := h.svc.StepUp(ctx, u, twofactor.Client{}, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := h.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: "pin", Code: "246810", Purpose: twofactor.PurposeStepUp})
	require.NoError(t, err)
	require.NotEmpty(t, res.Proof)
	return res.Proof
}

func TestServiceLogin(t *testing.T) {
	h := newServiceEnv(t, nil)
	carol := user("carol") // no PIN: backup codes only
	codes, err := enroll(ctx, h.f, carol)
	require.NoError(t, err)

	begun, err := h.svc.Begin(ctx, carol, twofactor.Client{})
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, begun.Status)
	assert.Equal(t, []twofactor.Method{twofactor.MethodBackupCode}, begun.Challenge.Methods)

	t.Run("malformed answer is refused before counting", func(t *testing.T) {
		_, err := h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode, Code: "hello"})
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	})

	res, err := h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode,
		Code: " " + codes[9] + " ", UserID: carol.ID})
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodBackupCode, res.Method)
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, res.EnrollmentID)
	p, err := h.svc.ParseProof(res.Proof)
	require.NoError(t, err)
	assert.Equal(t, carol.ID, p.UserID)

	success := h.log.OfType(event.Success)
	require.Len(t, success, 1)
	assert.Empty(t, success[0].Details)
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, success[0].EnrollmentID)
	assert.Equal(t, 9, success[0].Count, "the success event says how many codes are left")

	t.Run("used code fails on a new challenge", func(t *testing.T) {
		begun, err := h.svc.Begin(ctx, carol, twofactor.Client{})
		require.NoError(t, err)
		_, err = h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode, Code: codes[9]})
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	})

	t.Run("recovery code through the service", func(t *testing.T) {
		dave := user("dave") // nothing enrolled at all
		begun, err := h.svc.Begin(ctx, dave, twofactor.Client{})
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusNoFactor, begun.Status)

		code, _, err := h.f.IssueRecoveryCode(ctx, dave, "support:jane")
		require.NoError(t, err)
		begun, err = h.svc.Begin(ctx, dave, twofactor.Client{})
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusChallenge, begun.Status)
		res, err := h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode, Code: code})
		require.NoError(t, err)
		assert.Equal(t, backupcodes.EnrollmentRecoveryCode, res.EnrollmentID)
		require.Len(t, h.log.OfType(backupcodes.EventRecoveryUsed), 1)
	})

	t.Run("admin reset removes the codes", func(t *testing.T) {
		require.NoError(t, h.svc.AdminReset(ctx, carol, "support:jane", "lost everything"))
		n, err := h.f.Remaining(ctx, carol)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

func TestPolicyCheckBackupOnly(t *testing.T) {
	h := newServiceEnv(t, &twofactor.Policy{Required: true})
	alice, carol := user("alice"), user("carol") // alice has a PIN, carol does not
	for _, u := range []twofactor.User{alice, carol} {
		_, err := enroll(ctx, h.f, u)
		require.NoError(t, err)
	}
	gaps, err := h.svc.Check(ctx, slices.Values([]twofactor.User{alice, carol}))
	require.NoError(t, err)
	require.Len(t, gaps, 1)
	assert.Equal(t, carol.ID, gaps[0].User.ID)
	assert.True(t, gaps[0].NoFactor, "backup codes alone are no second factor")

	t.Run("an admin recovery code does not count either", func(t *testing.T) {
		erin := user("erin")
		_, _, err := h.f.IssueRecoveryCode(ctx, erin, "support:jane")
		require.NoError(t, err)
		gaps, err := h.svc.Check(ctx, slices.Values([]twofactor.User{erin}))
		require.NoError(t, err)
		require.Len(t, gaps, 1)
		assert.True(t, gaps[0].NoFactor)
	})
}

// A login with a set's last code leaves nothing to offer: the next Begin
// offers the user's other factor only, and a user with no other one has
// no factor left, as with no set at all.
func TestServiceUsedUpSet(t *testing.T) {
	h := newServiceEnv(t, nil)
	alice := user("alice") // a PIN too
	codes, err := enroll(ctx, h.f, alice)
	require.NoError(t, err)
	login := func(code string) {
		t.Helper()
		begun, err := h.svc.Begin(ctx, alice, twofactor.Client{})
		require.NoError(t, err)
		require.Contains(t, begun.Challenge.Methods, twofactor.MethodBackupCode)
		_, err = h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode, Code: code, UserID: alice.ID})
		require.NoError(t, err)
	}
	for _, c := range codes {
		login(c)
	}
	begun, err := h.svc.Begin(ctx, alice, twofactor.Client{})
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{"pin"}, begun.Challenge.Methods, "the used-up set is not offered")
	assert.Empty(t, h.log.OfType(event.Warning))
}
