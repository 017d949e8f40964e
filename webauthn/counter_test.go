package webauthn_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/webauthn"
)

// serviceLogin is a security-key login through a Service: Begin and Start,
// then the key's assertion with the counter it is given.
type serviceLogin struct {
	fx  *fixture
	svc *twofactor.Service
	k   *softKey
}

// start begins a login and its ceremony, returning the challenge's id
// and the ceremony's options.
func (l serviceLogin) start() (string, json.RawMessage) {
	l.fx.t.Helper()
	b, err := l.svc.Begin(l.fx.ctx, l.fx.user, twofactor.Client{})
	require.NoError(l.fx.t, err)
	opts, err := l.svc.Start(l.fx.ctx, b.Challenge.ID, twofactor.MethodWebAuthn)
	require.NoError(l.fx.t, err)
	return b.Challenge.ID, opts
}

func (l serviceLogin) verify(id, answer string) (*twofactor.Result, error) {
	return l.svc.Verify(l.fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: answer})
}

// login signs in with an assertion carrying count, and returns the store
// round trips its Verify took.
func (l serviceLogin) login(count uint32) (int64, error) {
	l.fx.t.Helper()
	id, opts := l.start()
	answer := string(l.k.get(l.fx.t, opts, assertOpts{count: &count}))
	before := l.fx.st.Calls.Load()
	_, err := l.verify(id, answer)
	return l.fx.st.Calls.Load() - before, err
}

// newServiceLogin is a login of a key registered with the counter
// registered, with the signature counter policy, through a Service whose
// lockout lets every wrong answer of a test count.
func newServiceLogin(t *testing.T, policy webauthn.SignCountPolicy, registered uint32) serviceLogin {
	fx := newFixture(t, withConfig(func(c *webauthn.Config) { c.SignCountPolicy = policy }))
	svc, err := twofactor.New(twofactor.Config{Store: fx.st, Keys: fx.keys, Factors: []twofactor.FactorConfig{fx.cfg},
		Users: fx.users, Now: fx.clk.Now, Events: fx.env.Events, Limits: twofactor.Limits{MaxUserFailures: 100}})
	require.NoError(t, err)
	f, ok := svc.Factor(twofactor.MethodWebAuthn)
	require.True(t, ok)
	fx.f = f.(*webauthn.Factor)
	k := newSoftKey(t, testRPID, testOrigin)
	k.count = registered
	fx.register(k, "key")
	return serviceLogin{fx, svc, k}
}

// Through the Service, a security key's signature counter is checked as
// Verify checks it (WebAuthn §6.1.1), with the ceremony's mark and a
// counter that rose run in the round trip that ends the challenge: a
// login of a key that registered with a counter is two round trips in
// Verify; one that registered with zero and counts, one more (that it
// counts recorded); a key that never counts, one more (the read of
// whether it ever did); any key under SignCountWarn, one more (the
// counter written first). A counter that did not rise is refused under
// SignCountReject, with the warning, the last use left alone; one known
// to be so without the ledger is refused after the count, its ceremony
// then spent. Under SignCountWarn it signs in with the warning.
func TestServiceSignCount(t *testing.T) {
	type step struct {
		count uint32
		ok    bool
		trips int64
	}
	for _, tc := range []struct {
		name       string
		policy     webauthn.SignCountPolicy
		registered uint32
		steps      []step
		warnings   []int // the counters warned of
	}{
		{"reject, counted from registration", webauthn.SignCountReject, 50,
			[]step{{51, true, 2}, {51, false, 2}, {20, false, 2}, {0, false, 2}, {52, true, 2}}, []int{51, 20, 0}},
		{"reject, zero at registration", webauthn.SignCountReject, 0,
			[]step{{0, true, 3}, {1, true, 3}, {1, false, 3}, {0, false, 3}, {2, true, 3}}, []int{1, 0}},
		{"reject, always zero", webauthn.SignCountReject, 0,
			[]step{{0, true, 3}, {0, true, 3}, {0, true, 3}}, nil},
		{"warn", webauthn.SignCountWarn, 5,
			[]step{{6, true, 3}, {6, true, 3}, {3, true, 2}, {7, true, 3}}, []int{6, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newServiceLogin(t, tc.policy, tc.registered)
			for i, s := range tc.steps {
				l.fx.clk.Advance(time.Minute)
				used := l.fx.credentials()[0].LastUsedAt
				trips, err := l.login(s.count)
				if s.ok {
					require.NoError(t, err, "step %d", i)
					assert.Equal(t, l.fx.clk.Now(), l.fx.credentials()[0].LastUsedAt, "step %d: the last use", i)
				} else {
					require.ErrorIs(t, err, twofactor.ErrInvalidCode, "step %d", i)
					assert.Equal(t, used, l.fx.credentials()[0].LastUsedAt, "step %d: a refused counter records no use", i)
				}
				assert.Equal(t, s.trips, trips, "step %d (counter %d): round trips", i, s.count)
			}
			ws := l.fx.events(event.Warning)
			counts := make([]int, len(ws))
			for i, w := range ws {
				assert.Equal(t, event.ReasonSignCount, w.Reason)
				assert.Equal(t, "key", w.Label)
				assert.Equal(t, l.fx.user.ID, w.UserID)
				assert.Equal(t, l.fx.credentials()[0].ID, w.EnrollmentID)
				counts[i] = w.Count
			}
			assert.Equal(t, tc.warnings, nilIfEmpty(counts), "the counters warned of")
			for _, f := range l.fx.events(event.Failure) {
				assert.Equal(t, event.ReasonSignCount, f.Reason, "a refusal's reason")
			}
		})
	}
}

func nilIfEmpty(s []int) []int {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Through the Service, 64 logins on their own challenges present
// assertions with the same signature counter, as copies of one key would:
// exactly one signs in, and each other is refused as a fallen counter,
// with its warning.
func TestServiceClonedKeyRace(t *testing.T) {
	l := newServiceLogin(t, webauthn.SignCountReject, 1)
	count := uint32(5)
	type attempt struct{ id, answer string }
	attempts := make([]attempt, 64)
	for i := range attempts {
		id, opts := l.start()
		attempts[i] = attempt{id, string(l.k.get(t, opts, assertOpts{count: &count}))}
	}
	errs := make([]error, len(attempts))
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Go(func() { _, errs[i] = l.verify(a.id, a.answer) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	assert.Equal(t, 1, wins)
	assert.Len(t, l.fx.events(event.Warning), 63)
	for _, f := range l.fx.events(event.Failure) {
		require.Equal(t, event.ReasonSignCount, f.Reason)
	}
}

// One assertion submitted 16 times at once to its challenge signs in
// once; every other submission is a replay of its ceremony or finds the
// challenge ended, and none passes for a cloned key: no warning.
func TestServiceAssertionDoubleSubmit(t *testing.T) {
	l := newServiceLogin(t, webauthn.SignCountReject, 1)
	for round := range 3 {
		id, opts := l.start()
		answer := string(l.k.get(t, opts))
		errs := make([]error, 16)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = l.verify(id, answer) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, twofactor.ErrInvalidCode) && !errors.Is(err, twofactor.ErrChallengeNotFound):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		require.Equal(t, 1, wins, "round %d", round)
		require.Empty(t, l.fx.events(event.Warning), "round %d: a double submit is no cloned key", round)
		for _, f := range l.fx.events(event.Failure) {
			require.NotEqual(t, event.ReasonSignCount, f.Reason, "round %d", round)
		}
	}
}
