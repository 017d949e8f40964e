package emailcode_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

func optIn(c *setup) { c.Enrollment = emailcode.EnrollOptIn }

// enroll confirms u's address (or dest) through the factor.
func (fx *fixture) enroll(t testing.TB, u twofactor.User, dest string) twofactor.Enrollment {
	t.Helper()
	ctx := context.Background()
	en, err := fx.f.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: dest, Client: client})
	require.NoError(t, err)
	require.NotNil(t, en.Sent)
	to := dest
	if to == "" {
		to = u.Email
	}
	m, ok := fx.outbox.Last(to)
	require.True(t, ok)
	e, err := fx.f.ConfirmEnroll(ctx, u, codeRE.FindString(m.Text))
	require.NoError(t, err)
	return e
}

// The two modes: a user with an address and nothing enrolled is
// challenged by email with EnrollImplicit, and not with EnrollOptIn until
// they confirm an address.
func TestEnrollmentModes(t *testing.T) {
	ctx := context.Background()

	t.Run("implicit", func(t *testing.T) {
		fx := newFixture(t, nil)
		b, err := fx.service(t).Begin(ctx, alice, client)
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusChallenge, b.Status)
		assert.Equal(t, []twofactor.Method{twofactor.MethodEmail}, b.Challenge.Methods)
	})

	t.Run("opt-in", func(t *testing.T) {
		fx := newFixture(t, optIn)
		svc := fx.service(t)
		b, err := svc.Begin(ctx, alice, client)
		require.NoError(t, err)
		assert.Equal(t, twofactor.StatusNoFactor, b.Status, "an address alone is not an enrollment")
		es, err := fx.f.Enrollments(ctx, alice)
		require.NoError(t, err)
		assert.Empty(t, es)
		_, err = fx.f.Send(ctx, challenge("chal-1", twofactor.PurposeLogin), client)
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
		assert.Empty(t, fx.outbox.Messages())

		// Pending is not enrolled either.
		en, err := svc.BeginEnroll(ctx, alice, twofactor.MethodEmail, twofactor.EnrollRequest{Client: client}, "")
		require.NoError(t, err)
		assert.Equal(t, "a***@example.com", en.Sent.Destination)
		b, err = svc.Begin(ctx, alice, client)
		require.NoError(t, err)
		assert.Equal(t, twofactor.StatusNoFactor, b.Status)

		done, err := svc.ConfirmEnroll(ctx, alice, twofactor.MethodEmail, fx.lastCode(t))
		require.NoError(t, err)
		assert.Equal(t, twofactor.Enrollment{ID: "email", Method: twofactor.MethodEmail, Label: "a***@example.com", CreatedAt: t0}, done.Enrollment)
		b, err = svc.Begin(ctx, alice, client)
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusChallenge, b.Status)
		assert.Equal(t, []twofactor.Method{twofactor.MethodEmail}, b.Challenge.Methods)
	})
}

// With EnrollOptIn, codes go to the confirmed address, whatever the
// address on file says later; the user moves the factor by confirming the
// new address.
func TestOptInCodesGoToConfirmedAddress(t *testing.T) {
	fx := newFixture(t, optIn)
	ctx := context.Background()
	fx.enroll(t, alice, "")
	fx.clock.Advance(time.Minute)

	moved := alice
	moved.Email = "mallory@example.net"
	ch := challenge("chal-1", twofactor.PurposeLogin)
	ch.User = moved
	sent, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	assert.Equal(t, "a***@example.com", sent.Destination)
	_, ok := fx.outbox.Last(moved.Email)
	assert.False(t, ok, "nothing to the address on file")
	_, err = fx.f.Verify(ctx, ch, fx.lastCode(t))
	require.NoError(t, err)

	// The user confirms a new address: it replaces the old one, and only
	// then.
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Destination: "alice@example.org", Client: client})
	require.NoError(t, err)
	es, err := fx.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, "a***@example.com", es[0].Label, "the old address until the new one is confirmed")
	m, _ := fx.outbox.Last("alice@example.org")
	e, err := fx.f.ConfirmEnroll(ctx, alice, codeRE.FindString(m.Text))
	require.NoError(t, err)
	assert.Equal(t, "a***@example.org", e.Label)
	assert.Equal(t, t0.Add(2*time.Minute), e.CreatedAt)
	es, err = fx.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Enrollment{e}, es)

	// The factor's events carry the masked addresses only; the
	// enrollments themselves are the Service's to announce.
	var labels []string
	for _, ev := range fx.events.All() {
		assert.NotEqual(t, event.Enroll, ev.Type)
		if ev.Type == event.EnrollBegin {
			labels = append(labels, ev.Label)
		}
		assertClean(t, ev, alice.Email, "alice@example.org")
	}
	assert.Equal(t, []string{"a***@example.com", "a***@example.org"}, labels)
}

// EnrollImplicit records the address on file the first time it sees it:
// CreatedAt stays put afterwards, a new address is a new enrollment, and a
// login writes LastUsedAt.
func TestImplicitEnrollmentTimes(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	fx := newFixture(t, func(c *setup) {
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	calls := func(f func()) int64 {
		before := spy.Calls.Load()
		f()
		return spy.Calls.Load() - before
	}
	var es []twofactor.Enrollment
	var err error
	assert.Equal(t, int64(2), calls(func() { es, err = fx.f.Enrollments(ctx, alice) }), "first sight: read and record")
	require.NoError(t, err)
	assert.Equal(t, t0, es[0].CreatedAt)
	assert.Zero(t, es[0].LastUsedAt)

	fx.clock.Advance(time.Hour)
	assert.Equal(t, int64(1), calls(func() { es, err = fx.f.Enrollments(ctx, alice) }), "then a read")
	require.NoError(t, err)
	assert.Equal(t, t0, es[0].CreatedAt, "recorded once")

	// The case of an address does not make it another.
	upper := alice
	upper.Email = "Alice@Example.com"
	es, err = fx.f.Enrollments(ctx, upper)
	require.NoError(t, err)
	assert.Equal(t, t0, es[0].CreatedAt)

	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err = fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	fx.clock.Advance(time.Minute)
	got, err := fx.f.Verify(ctx, ch, fx.lastCode(t))
	require.NoError(t, err)
	assert.Equal(t, twofactor.Verified{EnrollmentID: "email", RecordUse: true}, got, "the Service records the last use")

	// No plain address at rest.
	rec, err := fx.store.GetEnrollment(ctx, alice.ID, "email")
	require.NoError(t, err)
	assert.NotContains(t, string(rec.Data), "alice")
	assert.Equal(t, "a***@example.com", rec.Label)

	// A new address on file is a new enrollment.
	fx.clock.Advance(time.Hour)
	moved := alice
	moved.Email = "bob@example.org"
	es, err = fx.f.Enrollments(ctx, moved)
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Enrollment{{ID: "email", Method: twofactor.MethodEmail, Label: "b***@example.org",
		CreatedAt: fx.clock.Now()}}, es)

	// A record sealed for another user does not count for this one.
	stolen := rec
	stolen.UserID = "u-carol"
	require.NoError(t, fx.store.PutEnrollment(ctx, stolen))
	carol := twofactor.User{ID: "u-carol", Email: alice.Email}
	es, err = fx.f.Enrollments(ctx, carol)
	require.NoError(t, err)
	assert.Equal(t, fx.clock.Now(), es[0].CreatedAt, "recorded anew")
}

// BeginEnroll shows a pending enrollment again, sending nothing, until the
// user asks for a new code (Restart).
func TestBeginEnrollShownAgain(t *testing.T) {
	fx := newFixture(t, optIn)
	ctx := context.Background()
	first, err := fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Client: client})
	require.NoError(t, err)
	fx.clock.Advance(10 * time.Second)
	again, err := fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Client: client})
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Len(t, fx.outbox.Messages(), 1)

	_, err = fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Client: client, Restart: true})
	require.ErrorIs(t, err, twofactor.ErrRateLimited, "a resend waits for the cooldown")
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Client: client, Restart: true})
	require.NoError(t, err)
	assert.Len(t, fx.outbox.Messages(), 2)
	fx.enroll(t, alice, "") // shown again, and confirmed with the last code

	// An address that is not one plain address is refused before any
	// store access.
	for _, bad := range []string{"nope", "Alice <alice@example.com>", "a@b.c, d@e.f"} {
		_, err := fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Destination: bad})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, bad)
	}
	_, err = fx.f.BeginEnroll(ctx, twofactor.User{ID: "u-x"}, twofactor.EnrollRequest{})
	require.ErrorIs(t, err, twofactor.ErrInvalidInput, "no address at all")
	_, err = fx.f.BeginEnroll(ctx, twofactor.User{Email: alice.Email}, twofactor.EnrollRequest{})
	require.ErrorIs(t, err, twofactor.ErrInvalidInput, "no user id")
}

// A password change or an admin reset ends an address awaiting its code.
func TestPasswordChangeEndsPendingAddress(t *testing.T) {
	fx := newFixture(t, optIn)
	ctx := context.Background()
	svc := fx.service(t)
	_, err := svc.BeginEnroll(ctx, alice, twofactor.MethodEmail, twofactor.EnrollRequest{Client: client}, "")
	require.NoError(t, err)
	code := fx.lastCode(t)
	require.NoError(t, svc.PasswordChanged(ctx, alice.ID))
	_, err = svc.ConfirmEnroll(ctx, alice, twofactor.MethodEmail, code)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	es, err := fx.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)
}

func TestRemove(t *testing.T) {
	ctx := context.Background()

	t.Run("implicit", func(t *testing.T) {
		fx := newFixture(t, nil)
		require.ErrorIs(t, fx.f.Remove(ctx, alice, "email"), twofactor.ErrMethodNotAllowed)
		require.ErrorIs(t, fx.f.Remove(ctx, alice, "other"), twofactor.ErrNotEnrolled)
		require.NoError(t, fx.f.RemoveAll(ctx, alice))
		es, err := fx.f.Enrollments(ctx, alice)
		require.NoError(t, err)
		assert.Len(t, es, 1, "the address on file still counts")
	})

	t.Run("opt-in", func(t *testing.T) {
		fx := newFixture(t, optIn)
		fx.enroll(t, alice, "")
		require.ErrorIs(t, fx.f.Remove(ctx, alice, "other"), twofactor.ErrNotEnrolled)
		require.NoError(t, fx.f.Remove(ctx, alice, "email"))
		es, err := fx.f.Enrollments(ctx, alice)
		require.NoError(t, err)
		assert.Empty(t, es)

		// RemoveAll ends an address awaiting its code too.
		fx.enroll(t, alice, "")
		fx.clock.Advance(time.Minute)
		_, err = fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Destination: "alice@example.org"})
		require.NoError(t, err)
		m, _ := fx.outbox.Last("alice@example.org")
		require.NoError(t, fx.f.RemoveAll(ctx, alice))
		_, err = fx.f.ConfirmEnroll(ctx, alice, codeRE.FindString(m.Text))
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
		es, err = fx.f.Enrollments(ctx, alice)
		require.NoError(t, err)
		assert.Empty(t, es)
	})
}

// Messages greet the user's DisplayName, never Name (the account label
// for authenticator apps); without one, no name at all.
func TestGreeting(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	m, _ := fx.outbox.Last(alice.Email)
	assert.True(t, strings.HasPrefix(m.Text, "Hello Alice,\n"), m.Text)
	assert.Contains(t, m.HTML, "<p>Hello Alice,</p>")

	nameless := challenge("chal-2", twofactor.PurposeLogin)
	nameless.User.DisplayName = ""
	_, err = fx.f.Send(ctx, nameless, client)
	require.NoError(t, err)
	m, _ = fx.outbox.Last(alice.Email)
	assert.True(t, strings.HasPrefix(m.Text, "Your Acme verification code is:"), m.Text)
	assert.NotContains(t, m.Text, "Hello")
	assert.NotContains(t, m.HTML, "Hello")
	assert.NotContains(t, m.Text, alice.Name, "Name is the account label, not a greeting")

	// A code confirming an address says so.
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{})
	require.NoError(t, err)
	m, _ = fx.outbox.Last(alice.Email)
	assert.Contains(t, m.Text, "If you did not ask to add this address")
	assert.NotContains(t, m.Text, "sign in")
}

// Given to twofactor.New, the Config is built into a factor with the
// Service's store, keys, events and clock; a store without what the factor
// needs fails New, by name, and nothing is left to fail later.
func TestBuiltByTheService(t *testing.T) {
	ctx := context.Background()
	outbox := &emailcode.Outbox{}
	clock := func() time.Time { return t0 }
	var evs eventlog.Log
	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(clock), Keys: keys(t),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: outbox}},
		Events:  &event.Sink{Hook: evs.Hook, Discard: true}, Now: clock})
	require.NoError(t, err)
	got, ok := svc.Factor(twofactor.MethodEmail)
	require.True(t, ok)
	f := got.(*emailcode.Factor)

	b, err := svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	sent, err := svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(emailcode.DefaultTTL), sent.ExpiresAt, "the Service's clock")
	m, _ := outbox.Last(alice.Email)
	assert.Equal(t, t0, m.Time, "the message's time is the Service's clock's")
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodEmail, Code: codeRE.FindString(m.Text)})
	require.NoError(t, err)

	// The factor's own events go to the Service's hook.
	_, err = svc.BeginEnroll(ctx, alice, twofactor.MethodEmail, twofactor.EnrollRequest{}, "")
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "alice has email already")
	_, err = f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Destination: "alice@example.org", Client: client})
	require.NoError(t, err)
	var begins []event.Event
	for _, ev := range evs.All() {
		if ev.Type == event.EnrollBegin {
			begins = append(begins, ev)
		}
	}
	require.Len(t, begins, 1)
	assert.Equal(t, "a***@example.org", begins[0].Label)
	assert.Equal(t, client.IP.String(), begins[0].IP)
	assert.Equal(t, client.UserAgent, begins[0].UserAgent)

	// A Service store without what the factor needs fails New, by name.
	_, err = twofactor.New(twofactor.Config{Store: statesOnly{store.NewMemory()}, Keys: keys(t),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: outbox}}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Codes, store.CodeGroups, store.Enrollments")
	assert.Len(t, outbox.Messages(), 2, "the login code and the confirmation: nothing from the Service that failed")
}

// A Service's confirmation emits the enrollment (the factor does not),
// with its masked address as Label and FirstFactor for a first factor.
func TestServiceEmitsEnroll(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, optIn)
	svc := fx.service(t)
	_, err := svc.BeginEnroll(ctx, alice, twofactor.MethodEmail, twofactor.EnrollRequest{Client: client}, "")
	require.NoError(t, err)
	_, err = svc.ConfirmEnroll(ctx, alice, twofactor.MethodEmail, fx.lastCode(t))
	require.NoError(t, err)
	var enrolls []event.Event
	for _, ev := range fx.events.All() {
		if ev.Type == event.Enroll {
			enrolls = append(enrolls, ev)
		}
	}
	require.Len(t, enrolls, 1, "one event, the Service's")
	assert.Equal(t, "a***@example.com", enrolls[0].Label)
	assert.Equal(t, emailcode.EnrollmentID, enrolls[0].EnrollmentID)
	assert.True(t, enrolls[0].FirstFactor)
}

// statesOnly is a store with states and counters only: what the root
// package needs, not what the email factor does.
type statesOnly struct{ m *store.Memory }

func (s statesOnly) PutState(ctx context.Context, k string, v []byte, e time.Time) error {
	return s.m.PutState(ctx, k, v, e)
}
func (s statesOnly) GetState(ctx context.Context, k string) ([]byte, error) {
	return s.m.GetState(ctx, k)
}
func (s statesOnly) TakeState(ctx context.Context, k string) ([]byte, error) {
	return s.m.TakeState(ctx, k)
}
func (s statesOnly) DeleteState(ctx context.Context, k string) error { return s.m.DeleteState(ctx, k) }
func (s statesOnly) PutOwnedState(ctx context.Context, o, k string, v []byte, e time.Time) error {
	return s.m.PutOwnedState(ctx, o, k, v, e)
}
func (s statesOnly) DeleteOwnedStates(ctx context.Context, o string) error {
	return s.m.DeleteOwnedStates(ctx, o)
}
func (s statesOnly) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	return s.m.Incr(ctx, k, w)
}
func (s statesOnly) Peek(ctx context.Context, k string) (int64, time.Time, error) {
	return s.m.Peek(ctx, k)
}
func (s statesOnly) Decr(ctx context.Context, k string) error { return s.m.Decr(ctx, k) }
func (s statesOnly) ResetCounter(ctx context.Context, k string) error {
	return s.m.ResetCounter(ctx, k)
}

// Store round trips of the hot paths, on a store with batches and
// TouchEnrollment: Send 2 (one batch of caps, the code), 3 with
// EnrollOptIn (the confirmed address first); Verify 1 (the code; the
// Service records the last use with the challenge's end).
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		mode       emailcode.EnrollmentMode
		send, verf int64
	}{
		{"implicit", emailcode.EnrollImplicit, 2, 1},
		{"opt-in", emailcode.EnrollOptIn, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var spy *storespy.Spy
			fx := newFixture(t, func(c *setup) {
				c.Enrollment = tc.mode
				spy = storespy.New(c.Store.(*store.Memory))
				c.Store = spy
			})
			if tc.mode == emailcode.EnrollOptIn {
				fx.enroll(t, alice, "")
				fx.clock.Advance(time.Minute)
			}
			ch := challenge("chal-1", twofactor.PurposeLogin)
			before := spy.Calls.Load()
			_, err := fx.f.Send(ctx, ch, client)
			require.NoError(t, err)
			assert.Equal(t, tc.send, spy.Calls.Load()-before, "send")
			before = spy.Calls.Load()
			_, err = fx.f.Verify(ctx, ch, fx.lastCode(t))
			require.NoError(t, err)
			assert.Equal(t, tc.verf, spy.Calls.Load()-before, "verify")
		})
	}
}

func TestOptInReported(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: keys(t)}
	implicit, err := emailcode.New(env, emailcode.Config{Sender: &emailcode.Outbox{}})
	require.NoError(t, err)
	assert.False(t, implicit.OptIn())
	optIn, err := emailcode.New(env, emailcode.Config{Sender: &emailcode.Outbox{}, Enrollment: emailcode.EnrollOptIn})
	require.NoError(t, err)
	assert.True(t, optIn.OptIn())
}
