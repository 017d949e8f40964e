package twofactor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
)

var (
	bob   = twofactor.User{ID: "bob", Email: "bob@example.com"}
	carol = twofactor.User{ID: "carol", Email: "carol@example.com"}
)

// roles is the host's own knowledge of its users, which PolicyFor reads
// at every call: tests change it between requests.
type roles map[string]string

func (r roles) policyFor(_ context.Context, u twofactor.User) (string, error) { return r[u.ID], nil }

// newPolicyEnv is an env whose users follow roles: "admin" must have a
// second factor at once, "staff" within a grace, everyone else may.
func newPolicyEnv(t *testing.T, r roles, grace twofactor.Grace) *env {
	return newEnv(t, func(c *twofactor.Config) {
		c.Policies = map[string]twofactor.Policy{
			"admin": {Required: true},
			"staff": {Required: true, Grace: grace},
			"keys":  {Methods: []twofactor.Method{twofactor.MethodEmail}},
		}
		c.PolicyFor = r.policyFor
	})
}

func begin(t *testing.T, e *env, u twofactor.User) *twofactor.Begun {
	t.Helper()
	b, err := e.svc.Begin(context.Background(), u, client)
	require.NoError(t, err)
	return b
}

// A user whose policy does not require a factor is not asked to enroll,
// though another user's policy requires one; and a change of role applies
// at the next Begin.
func TestPolicyPerUserRequiredOnlyForItsUsers(t *testing.T) {
	r := roles{"bob": "admin"}
	e := newPolicyEnv(t, r, twofactor.Grace{})
	assert.Equal(t, twofactor.StatusEnrollRequired, begin(t, e, bob).Status, "bob's policy requires a factor")
	assert.Equal(t, twofactor.StatusNoFactor, begin(t, e, carol).Status, "carol's policy does not require one")
	r["carol"] = "admin"
	assert.Equal(t, twofactor.StatusEnrollRequired, begin(t, e, carol).Status, "a new policy applies at the next Begin")
	delete(r, "bob")
	assert.Equal(t, twofactor.StatusNoFactor, begin(t, e, bob).Status)
}

func TestPolicyPerUserAllowedMethods(t *testing.T) {
	r := roles{}
	e := newPolicyEnv(t, r, twofactor.Grace{})
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP}, e.begin().Methods)
	r["alice"] = "keys"
	ch := e.begin()
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail}, ch.Methods, "alice's policy allows email only")
	_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	gaps, err := e.svc.Check(context.Background(), func(yield func(twofactor.User) bool) { yield(alice) })
	require.NoError(t, err)
	assert.Empty(t, gaps)
}

func TestPolicyPerUserEnrollment(t *testing.T) {
	r := roles{"alice": "keys"}
	ee := newEnrollEnv(t, func(c *twofactor.Config) {
		c.Policies = map[string]twofactor.Policy{"keys": {Methods: []twofactor.Method{twofactor.MethodBackupCode}}}
		c.PolicyFor = r.policyFor
	})
	ctx := context.Background()
	_, err := ee.svc.BeginEnroll(ctx, alice, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed, "a method alice's policy does not allow")
	_, err = ee.svc.ConfirmEnroll(ctx, alice, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	_, err = ee.svc.BeginEnroll(ctx, bob, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.NoError(t, err, "bob follows Config.Policy, which allows it")
}

func TestPolicyForErrorsFailClosed(t *testing.T) {
	boom := errors.New("directory down")
	e := newEnv(t, func(c *twofactor.Config) {
		c.Policies = map[string]twofactor.Policy{"admin": {Required: true}}
		c.PolicyFor = func(_ context.Context, u twofactor.User) (string, error) {
			if u.ID == "bob" {
				return "", boom
			}
			return "nobody-knows", nil
		}
	})
	_, err := e.svc.Begin(context.Background(), bob, client)
	require.ErrorIs(t, err, boom)
	_, err = e.svc.Begin(context.Background(), alice, client)
	require.ErrorContains(t, err, "nobody-knows")
	_, err = e.svc.BeginEnroll(context.Background(), carol, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.Error(t, err)
}

func TestPoliciesAreCheckedByNew(t *testing.T) {
	for name, tc := range map[string]struct {
		pols map[string]twofactor.Policy
		for_ bool
		want string
	}{
		"no PolicyFor":      {pols: map[string]twofactor.Policy{"a": {}}, want: "PolicyFor is nil"},
		"empty name":        {pols: map[string]twofactor.Policy{"": {}}, for_: true, want: "empty name"},
		"unknown method":    {pols: map[string]twofactor.Policy{"a": {Methods: []twofactor.Method{"sms"}}}, for_: true, want: `Policies["a"] names method "sms"`},
		"bad default":       {pols: map[string]twofactor.Policy{"a": {Methods: []twofactor.Method{"email"}, Default: "totp"}}, for_: true, want: `Policies["a"].Default`},
		"grace not needed":  {pols: map[string]twofactor.Policy{"a": {Grace: twofactor.Grace{Days: 3}}}, for_: true, want: "Required is not"},
		"negative grace":    {pols: map[string]twofactor.Policy{"a": {Required: true, Grace: twofactor.Grace{Days: -1}}}, for_: true, want: "negative"},
		"required recovery": {pols: map[string]twofactor.Policy{"a": {Required: true, Methods: []twofactor.Method{}}}, for_: true, want: "not recovery-only"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := twofactor.New(twofactor.Config{Store: newEnv(t, nil).mem, Keys: newKeys(t),
				Factors: factors(&codeFactor{method: twofactor.MethodEmail}, &codeFactor{method: twofactor.MethodTOTP}), Policies: tc.pols,
				PolicyFor: func() func(context.Context, twofactor.User) (string, error) {
					if tc.for_ {
						return roles{}.policyFor
					}
					return nil
				}()})
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// Grace by days from the first prompt, and by skips: prompted, skipped,
// then the deadline passes (on the injected clock) and enrolling is
// required.
func TestEnrollGraceDaysFromFirstPrompt(t *testing.T) {
	r := roles{"bob": "staff"}
	e := newPolicyEnv(t, r, twofactor.Grace{Days: 7})
	ctx := context.Background()
	start := e.clock.Now()

	_, ok, err := e.svc.EnrollGrace(ctx, bob)
	require.NoError(t, err)
	require.True(t, ok)
	_, _, err = e.mem.Peek(ctx, "tf:gp:bob")
	require.NoError(t, err)
	n, _, _ := e.mem.Peek(ctx, "tf:gp:bob")
	assert.Zero(t, n, "EnrollGrace writes nothing")

	b := begin(t, e, bob)
	require.Equal(t, twofactor.StatusEnrollSuggested, b.Status)
	assert.Equal(t, start.Add(7*24*time.Hour), b.Grace.Until)
	assert.Equal(t, -1, b.Grace.SkipsLeft)
	assert.Equal(t, start, b.Grace.Prompted)

	e.clock.Advance(2 * 24 * time.Hour)
	left, err := e.svc.SkipEnroll(ctx, bob)
	require.NoError(t, err)
	assert.Equal(t, start.Add(7*24*time.Hour), left.Until, "the days count from the first prompt, not from this one")
	require.Len(t, e.eventsOf(event.EnrollSkipped), 1)
	b = begin(t, e, bob)
	require.Equal(t, twofactor.StatusEnrollSuggested, b.Status)
	assert.Equal(t, start.Add(7*24*time.Hour), b.Grace.Until)

	e.clock.Advance(5*24*time.Hour - time.Second)
	assert.Equal(t, twofactor.StatusEnrollSuggested, begin(t, e, bob).Status, "one second left")
	e.clock.Advance(time.Second)
	assert.Equal(t, twofactor.StatusEnrollRequired, begin(t, e, bob).Status, "the deadline passed")
	_, err = e.svc.SkipEnroll(ctx, bob)
	require.ErrorIs(t, err, twofactor.ErrEnrollRequired)
	_, ok, err = e.svc.EnrollGrace(ctx, bob)
	require.NoError(t, err)
	assert.False(t, ok)

	// Carol, whom staff policy reaches only now, gets her own 7 days.
	r["carol"] = "staff"
	b = begin(t, e, carol)
	require.Equal(t, twofactor.StatusEnrollSuggested, b.Status)
	assert.Equal(t, e.clock.Now().Add(7*24*time.Hour), b.Grace.Until)
}

func TestEnrollGraceSkips(t *testing.T) {
	e := newPolicyEnv(t, roles{"bob": "staff"}, twofactor.Grace{Skips: 2})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		begin(t, e, bob) // prompts do not spend skips
	}
	b := begin(t, e, bob)
	require.Equal(t, twofactor.StatusEnrollSuggested, b.Status)
	assert.Equal(t, 2, b.Grace.SkipsLeft)
	assert.True(t, b.Grace.Until.IsZero())
	left, err := e.svc.SkipEnroll(ctx, bob)
	require.NoError(t, err)
	assert.Equal(t, 1, left.SkipsLeft)
	assert.Equal(t, 1, begin(t, e, bob).Grace.SkipsLeft)
	left, err = e.svc.SkipEnroll(ctx, bob)
	require.NoError(t, err)
	assert.Equal(t, 0, left.SkipsLeft, "the last skip goes through")
	assert.Equal(t, twofactor.StatusEnrollRequired, begin(t, e, bob).Status)
	_, err = e.svc.SkipEnroll(ctx, bob)
	require.ErrorIs(t, err, twofactor.ErrEnrollRequired)
}

func TestEnrollGraceUntilADate(t *testing.T) {
	e := newPolicyEnv(t, roles{"bob": "staff"}, twofactor.Grace{Until: mustTime("2026-12-01T00:00:00Z"), Days: 30})
	b := begin(t, e, bob)
	require.Equal(t, twofactor.StatusEnrollSuggested, b.Status)
	assert.Equal(t, mustTime("2026-12-01T00:00:00Z"), b.Grace.Until, "the date comes before 30 days")
	e.clock.Advance(8 * 24 * time.Hour)
	assert.Equal(t, twofactor.StatusEnrollRequired, begin(t, e, bob).Status)
}

// An enrolled user's login reads and writes no grace record; nor does a
// user whose policy gives no grace.
func TestEnrollGraceWritesOnlyWhenPrompting(t *testing.T) {
	e := newPolicyEnv(t, roles{"alice": "staff", "bob": "admin"}, twofactor.Grace{Days: 7, Skips: 3})
	ctx := context.Background()
	e.begin()
	assert.Equal(t, twofactor.StatusEnrollRequired, begin(t, e, bob).Status)
	for _, k := range []string{"tf:gp:alice", "tf:gs:alice", "tf:gp:bob", "tf:gs:bob"} {
		n, _, err := e.mem.Peek(ctx, k)
		require.NoError(t, err)
		assert.Zero(t, n, k)
	}
}

func TestEnrollGraceConcurrentSkipsHoldTheLimit(t *testing.T) {
	e := newPolicyEnv(t, roles{"bob": "staff"}, twofactor.Grace{Skips: 3})
	ctx := context.Background()
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func() {
			_, err := e.svc.SkipEnroll(ctx, bob)
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < 20; i++ {
		if err := <-errs; err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, twofactor.ErrEnrollRequired)
		}
	}
	assert.Equal(t, 3, ok)
}

func TestCheckNamesPolicyAndGrace(t *testing.T) {
	e := newPolicyEnv(t, roles{"bob": "staff", "carol": "admin"}, twofactor.Grace{Days: 7})
	gaps, err := e.svc.Check(context.Background(), func(yield func(twofactor.User) bool) {
		_ = yield(alice) && yield(bob) && yield(carol)
	})
	require.NoError(t, err)
	require.Len(t, gaps, 2)
	assert.Equal(t, "staff", gaps[0].Policy)
	require.NotNil(t, gaps[0].Grace)
	assert.Equal(t, e.clock.Now().Add(7*24*time.Hour), gaps[0].Grace.Until)
	assert.Equal(t, "admin", gaps[1].Policy)
	assert.True(t, gaps[1].NoFactor)
	assert.Nil(t, gaps[1].Grace)
}

func TestRemoveAndDisableFollowTheUsersPolicy(t *testing.T) {
	r := roles{}
	ee := newEnrollEnv(t, func(c *twofactor.Config) {
		c.Policies = map[string]twofactor.Policy{"admin": {Required: true}}
		c.PolicyFor = r.policyFor
	})
	ctx := context.Background()
	ee.app.enrolled["alice"] = true
	proof := func() string {
		ch, err := ee.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
		require.NoError(t, err)
		res, err := ee.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Purpose: twofactor.PurposeStepUp, Client: client})
		require.NoError(t, err)
		return res.Proof
	}
	r["alice"] = "admin"
	require.ErrorIs(t, ee.svc.Disable(ctx, alice, proof()), twofactor.ErrLastFactor)
	require.ErrorIs(t, ee.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", proof()), twofactor.ErrLastFactor)
	delete(r, "alice")
	require.NoError(t, ee.svc.Disable(ctx, alice, proof()))
}

func TestGraceRecord(t *testing.T) {
	e := newPolicyEnv(t, roles{"bob": "staff"}, twofactor.Grace{Days: 7, Skips: 5})
	ctx := context.Background()
	rec, err := e.svc.GraceRecord(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, twofactor.GraceRecord{}, rec)
	start := e.clock.Now()
	begin(t, e, bob)
	e.clock.Advance(time.Hour)
	_, err = e.svc.SkipEnroll(ctx, bob)
	require.NoError(t, err)
	rec, err = e.svc.GraceRecord(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, twofactor.GraceRecord{Prompted: start, Skips: 1}, rec)
}
