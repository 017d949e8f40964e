package twofactor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// enrollFactor is a codeFactor users add themselves: BeginEnroll keeps a
// pending enrollment, ConfirmEnroll accepts "246810".
type enrollFactor struct {
	*codeFactor
	mu      sync.Mutex
	pending map[string]bool
}

func (f *enrollFactor) BeginEnroll(_ context.Context, u twofactor.User, _ twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == nil {
		f.pending = map[string]bool{}
	}
	f.pending[u.ID] = true
	return &twofactor.Enrolling{Method: f.method, Secret: "PENDING"}, nil
}

func (f *enrollFactor) ConfirmEnroll(_ context.Context, u twofactor.User, answer string) (twofactor.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.pending[u.ID] {
		return twofactor.Enrollment{}, twofactor.ErrNotEnrolled
	}
	if answer != "246810" {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}
	delete(f.pending, u.ID)
	f.codeFactor.mu.Lock()
	f.enrolled[u.ID] = true
	f.codeFactor.mu.Unlock()
	return twofactor.Enrollment{ID: string(f.method) + "-1", Method: f.method}, nil
}

// enrollRecovery is a recovery factor that issues codes at once.
type enrollRecovery struct{ recoveryFactor }

func (f enrollRecovery) BeginEnroll(_ context.Context, u twofactor.User, _ twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	f.codeFactor.mu.Lock()
	f.enrolled[u.ID] = true
	f.codeFactor.mu.Unlock()
	return &twofactor.Enrolling{Method: f.method, Codes: []string{"112233", "445566"}}, nil
}

func (f enrollRecovery) ConfirmEnroll(context.Context, twofactor.User, string) (twofactor.Enrollment, error) {
	return twofactor.Enrollment{}, twofactor.ErrNotEnrolled
}

type enrollEnv struct {
	*env
	app    *enrollFactor
	backup enrollRecovery
}

func newEnrollEnv(t *testing.T, mod func(*twofactor.Config)) *enrollEnv {
	ee := &enrollEnv{}
	ee.env = newEnv(t, func(c *twofactor.Config) {
		ee.app = &enrollFactor{codeFactor: &codeFactor{method: twofactor.MethodTOTP, static: "654321", enrolled: map[string]bool{}}}
		ee.backup = enrollRecovery{recoveryFactor{&codeFactor{method: twofactor.MethodBackupCode, static: "112233", enrolled: map[string]bool{}}}}
		c.Factors = factors(ee.app, ee.backup)
		if mod != nil {
			mod(c)
		}
	})
	return ee
}

func TestNewBuildsFactorsWithOneEnv(t *testing.T) {
	var got twofactor.Env
	clock := func() time.Time { return time.Unix(1e9, 0) }
	keys := newKeys(t)
	mem := store.NewMemory()
	users := func(_ context.Context, id string) (twofactor.User, error) { return twofactor.User{ID: id}, nil }
	svc, err := twofactor.New(twofactor.Config{Store: mem, Keys: keys, Now: clock, Users: users,
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(env twofactor.Env) (twofactor.Factor, error) {
			got = env
			return &codeFactor{method: "x"}, nil
		})}})
	require.NoError(t, err)
	assert.Same(t, keys, got.Keys, "the factor gets the Service's keys")
	assert.Equal(t, store.Store(mem), twofactor.UnwrapStore(got.Store), "the factor gets the Service's store, wrapped to time its calls")
	assert.NotNil(t, got.Events)
	assert.NotNil(t, got.Rand, "defaults are applied before the factors are built")
	assert.NotNil(t, got.Users)
	assert.Equal(t, clock(), got.Now())
	assert.Same(t, keys, svc.Env().Keys)

	// A factor that cannot be built fails New, naming it.
	_, err = twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: newKeys(t),
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return nil, errBoom })}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorIs(t, err, errBoom)
	assert.Contains(t, err.Error(), "Config.Factors[0]")
	// One that builds nothing fails too.
	_, err = twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: newKeys(t),
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return nil, nil })}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}

func TestEnrollFirstFactorGivesBackupCodes(t *testing.T) {
	ee := newEnrollEnv(t, nil)
	bob := twofactor.User{ID: "bob"}
	p, err := ee.svc.BeginEnroll(ctx, bob, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.NoError(t, err, "nothing enrolled yet: no proof needed")
	assert.Equal(t, "PENDING", p.Secret)
	_, err = ee.svc.ConfirmEnroll(ctx, bob, twofactor.MethodTOTP, "000000")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	done, err := ee.svc.ConfirmEnroll(ctx, bob, twofactor.MethodTOTP, "246810")
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodTOTP, done.Enrollment.Method)
	assert.Equal(t, []string{"112233", "445566"}, done.BackupCodes, "the first factor comes with backup codes")
	assert.True(t, ee.backup.enrolled["bob"])

	_, err = ee.svc.BeginEnroll(ctx, bob, twofactor.MethodEmail, twofactor.EnrollRequest{}, "")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed, "not configured")
}

// Adding a factor when the user has one needs a fresh proof of it: the same
// rule as removing one.
func TestEnrollNeedsProofOfACurrentFactor(t *testing.T) {
	ee := newEnrollEnv(t, nil)
	ee.backup.enrolled["alice"] = true // alice has backup codes only
	_, err := ee.svc.BeginEnroll(ctx, alice, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
	assert.Empty(t, ee.app.pending)

	b, err := ee.svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	login, err := ee.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodBackupCode, Code: "112233", Client: client})
	require.NoError(t, err)
	_, err = ee.svc.BeginEnroll(ctx, alice, twofactor.MethodTOTP, twofactor.EnrollRequest{}, login.Proof)
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "a login proof")

	ch, err := ee.svc.StepUp(ctx, alice, client, twofactor.PurposeEnroll)
	require.NoError(t, err)
	res, err := ee.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodBackupCode, Code: "112233",
		Purpose: twofactor.PurposeEnroll, Client: client})
	require.NoError(t, err)
	_, err = ee.svc.BeginEnroll(ctx, alice, twofactor.MethodTOTP, twofactor.EnrollRequest{}, res.Proof)
	require.NoError(t, err)
	done, err := ee.svc.ConfirmEnroll(ctx, alice, twofactor.MethodTOTP, "246810")
	require.NoError(t, err)
	assert.Empty(t, done.BackupCodes, "alice had backup codes already")
}

func TestDisableTurnsEverythingOff(t *testing.T) {
	e := newEnv(t, nil)
	login := e.begin()
	proof := stepUpProof(t, e)
	require.ErrorIs(t, e.svc.Disable(ctx, alice, ""), twofactor.ErrStepUpRequired)
	require.ErrorIs(t, e.svc.Disable(ctx, alice, loginProof(t, e)), twofactor.ErrStepUpRequired)
	require.NoError(t, e.svc.Disable(ctx, alice, proof))
	assert.Equal(t, []string{"alice/*"}, e.app.removed)
	assert.Equal(t, []string{"alice/*"}, e.email.removed)
	assert.Equal(t, []string{"alice"}, e.trust.forgotten)
	require.Len(t, e.eventsOf(event.Disabled), 1)
	_, err := e.svc.Challenge(ctx, login.ID)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "pending challenges end")
	require.ErrorIs(t, e.svc.CheckProof(ctx, proof, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired, "proofs die")
	b, err := e.svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusNoFactor, b.Status)

	req := newEnv(t, func(c *twofactor.Config) { c.Policy.Required = true })
	require.ErrorIs(t, req.svc.Disable(ctx, alice, stepUpProof(t, req)), twofactor.ErrLastFactor)
	assert.Empty(t, req.app.removed)
}

func TestBackupCodesDieWithTheLastFactor(t *testing.T) {
	ee := newEnrollEnv(t, nil)
	ee.app.enrolled["alice"] = true
	ee.backup.enrolled["alice"] = true
	ch, err := ee.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := ee.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Purpose: twofactor.PurposeStepUp, Client: client})
	require.NoError(t, err)
	require.NoError(t, ee.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", res.Proof))
	assert.Equal(t, []string{"alice/*"}, ee.backup.removed, "backup codes outlived the last factor")
	b, err := ee.svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusNoFactor, b.Status)
}

func TestPolicyDefaultIsOfferedFirst(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Policy.Default = twofactor.MethodTOTP })
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodEmail}, e.begin().Methods)
	e = newEnv(t, nil)
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP}, e.begin().Methods)
}

func TestMethodLabelsAndAccountName(t *testing.T) {
	assert.Equal(t, "Authenticator app", twofactor.MethodTOTP.Label())
	assert.Equal(t, "Security key", twofactor.MethodWebAuthn.Label())
	assert.Equal(t, "pin", twofactor.Method("pin").Label())
	assert.Equal(t, "ann", twofactor.User{ID: "1", Name: "ann", Email: "a@x"}.AccountName())
	assert.Equal(t, "a@x", twofactor.User{ID: "1", Email: "a@x"}.AccountName())
	assert.Equal(t, "1", twofactor.User{ID: "1"}.AccountName())
}

func TestRetryErrorTellsCooldownFromCap(t *testing.T) {
	now := mustTime("2026-11-23T12:00:00Z")
	cool := twofactor.NewRetryError(twofactor.ErrRateLimited, twofactor.LimitResend, now, now.Add(41500*time.Millisecond))
	assert.True(t, cool.Cooldown())
	assert.Equal(t, 42*time.Second, cool.RetryAfter)
	for _, l := range []string{twofactor.LimitUser, twofactor.LimitIP, twofactor.LimitDestination} {
		assert.False(t, twofactor.NewRetryError(twofactor.ErrRateLimited, l, now, now).Cooldown(), l)
	}
}
