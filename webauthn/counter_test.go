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
	"github.com/twofactorkit/twofactor/store"
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
// Verify checks it (WebAuthn §6.1.1), with whether a key registered with
// zero has counted since read with the count, and the ceremony's mark and
// a counter that rose run in the round trip that ends the challenge:
// Verify is two round trips, whether the key counts or not, except for
// the first count of a key registered with zero (one more: that it
// counts, recorded) and under SignCountWarn (one more: the counter
// written first, and that a key registered with zero counts, recorded
// the first time). A counter that did not rise is refused under
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
			[]step{{0, true, 2}, {1, true, 3}, {1, false, 2}, {0, false, 2}, {2, true, 2}}, []int{1, 0}},
		{"reject, always zero", webauthn.SignCountReject, 0,
			[]step{{0, true, 2}, {0, true, 2}, {0, true, 2}}, nil},
		{"warn", webauthn.SignCountWarn, 5,
			[]step{{6, true, 3}, {6, true, 3}, {3, true, 2}, {7, true, 3}}, []int{6, 3}},
		{"warn, zero at registration", webauthn.SignCountWarn, 0,
			[]step{{0, true, 2}, {1, true, 4}, {2, true, 3}, {0, true, 2}}, []int{0}},
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
// challenge ended, as its event says, and none passes for a cloned key:
// no warning.
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
			require.Contains(t, []event.Reason{event.ReasonReplay, event.ReasonChallengeEnded}, f.Reason,
				"round %d: a replay of the ceremony, or the challenge found ended", round)
		}
	}
}

// A key registered with zero that counted since is refused a zero through
// the Service whatever id its record has: the count's read names the
// record by the id registration gives it, and a record under another id
// (one written by other means) has its mark read again under its own.
func TestServiceZeroAfterCountingOtherRecordID(t *testing.T) {
	l := newServiceLogin(t, webauthn.SignCountReject, 0)
	ctx := l.fx.ctx
	recs, err := l.fx.st.ListEnrollments(ctx, l.fx.user.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	moved := recs[0]
	moved.ID = "imported-1"
	require.NoError(t, l.fx.st.PutEnrollment(ctx, moved))
	require.NoError(t, l.fx.st.DeleteEnrollment(ctx, l.fx.user.ID, recs[0].ID))

	_, err = l.login(1)
	require.NoError(t, err, "it counts")
	trips, err := l.login(0)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a zero after counting")
	assert.Equal(t, int64(3), trips, "the count; the mark read again; the ceremony spent")
	ws := l.fx.events(event.Warning)
	require.Len(t, ws, 1)
	assert.Equal(t, "imported-1", ws[0].EnrollmentID)
}

// The read that VerifyOps and VerifyOpsMarked are given must be the one
// CheckOps made for the answer, and have run: any other (none, another
// key's, another kind, skipped) is an error that is not the user's, and
// never a finding that the key does not count.
func TestVerifyOpsChecksItsRead(t *testing.T) {
	fx, k, ch, opts := startedLogin(t)
	zero := uint32(0)
	answer := string(k.get(t, opts, assertOpts{count: &zero}))
	ops, err := fx.f.CheckOps(ch, answer)
	require.NoError(t, err)
	require.Len(t, ops, 1)
	_, err = fx.f.CheckOps(ch, "{}")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput, "an answer that is no assertion")

	other := ops[0]
	other.Key += "x"
	skipped := ops[0]
	skipped.Skipped = true
	kind := ops[0]
	kind.Kind = store.OpPeek
	for name, bad := range map[string][]store.Op{"none": nil, "another key's": {other}, "skipped": {skipped},
		"another kind": {kind}, "two": {ops[0], ops[0]}} {
		_, err := fx.f.VerifyOps(fx.ctx, ch, answer, bad)
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, name)
		_, err = fx.f.VerifyOpsMarked(fx.ctx, ch, answer, bad, []store.EnrollmentRecord{})
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, name)
	}

	counted := ops[0]
	counted.Found, counted.Value = true, []byte{1}
	before := fx.st.Calls.Load()
	_, err = fx.f.VerifyOps(fx.ctx, ch, answer, []store.Op{counted})
	require.ErrorIs(t, err, webauthn.ErrSignCountRegressed, "a zero from a key the read found counting")
	assert.Equal(t, int64(2), fx.st.Calls.Load()-before, "the records, the ceremony: the mark is not read again")
}
