package smscode_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
)

// BeginEnroll shows a pending number again, sending nothing, until the
// user asks for a new code (Restart) or types another number.
func TestBeginEnrollShownAgain(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	first, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: "(415) 555-0112", Region: "US", Client: client})
	require.NoError(t, err)
	fx.clock.Advance(10 * time.Second)
	again, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err, "the same number, typed another way")
	assert.Equal(t, first, again)
	assert.Len(t, fx.outbox.Messages(), 1, "nothing sent")

	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client, Restart: true})
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re, "a resend waits for the cooldown")
	assert.Equal(t, smscode.LimitResend, re.Limit)
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client, Restart: true})
	require.NoError(t, err)
	assert.Len(t, fx.outbox.Messages(), 2)

	// Another number replaces the pending one.
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: ukNumber, Client: client})
	require.NoError(t, err)
	assert.Len(t, fx.outbox.Messages(), 3)
	e, err := fx.f.ConfirmEnroll(ctx, bob, fx.lastCode(t, ukNumber))
	require.NoError(t, err)
	assert.Equal(t, ukMasked, e.Label)
}

// A login records the phone's LastUsedAt, with or without
// store.EnrollmentToucher; CreatedAt stays.
func TestLastUsed(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(smscode.Store) smscode.Store
	}{
		{"toucher", func(s smscode.Store) smscode.Store { return s }},
		{"rewrite", func(s smscode.Store) smscode.Store { return noToucher{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fx := newFixture(t, func(c *smscode.Config) { c.Store = tc.wrap(c.Store) })
			fx.enroll(t, bob, usNumber)
			fx.clock.Advance(time.Hour)
			ch := challenge("chal-1", bob, twofactor.PurposeLogin)
			_, err := fx.f.Send(ctx, ch, client)
			require.NoError(t, err)
			fx.clock.Advance(time.Minute)
			_, err = fx.f.Verify(ctx, ch, fx.lastCode(t, usNumber))
			require.NoError(t, err)
			es, err := fx.f.Enrollments(ctx, bob)
			require.NoError(t, err)
			assert.Equal(t, []twofactor.Enrollment{{ID: "phone", Method: twofactor.MethodSMS, Label: usMasked,
				CreatedAt: t0, LastUsedAt: t0.Add(time.Hour + time.Minute)}}, es)
		})
	}
}

// noToucher hides the memory store's TouchEnrollment.
type noToucher struct{ smscode.Store }

// Given to twofactor.New, a factor with only a Sender takes the Service's
// store, keys, events and clock; used alone without a store, its methods
// say so instead of panicking.
func TestOneWiringPoint(t *testing.T) {
	ctx := context.Background()
	outbox := &smscode.Outbox{}
	f, err := smscode.New(smscode.Config{Sender: outbox})
	require.NoError(t, err)

	ch := challenge("chal-1", bob, twofactor.PurposeLogin)
	_, err = f.Enrollments(ctx, bob)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = f.Send(ctx, ch, client)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = f.Verify(ctx, ch, "123456")
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorIs(t, f.Cancel(ctx, ch), twofactor.ErrConfig)
	_, err = f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = f.ConfirmEnroll(ctx, bob, "123456")
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorIs(t, f.Remove(ctx, bob, "phone"), twofactor.ErrConfig)
	assert.Empty(t, outbox.Messages())

	clock := func() time.Time { return t0 }
	var evs eventLog
	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(clock), Keys: keys(t), Factors: []twofactor.Factor{f},
		Events: &twofactor.Events{Hook: evs.hook, Discard: true}, Now: clock})
	require.NoError(t, err)
	en, err := svc.BeginEnroll(ctx, bob, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: usNumber, Client: client}, "")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(smscode.DefaultTTL), en.ExpiresAt, "the Service's clock")
	done, err := svc.ConfirmEnroll(ctx, bob, twofactor.MethodSMS, codeRE.FindString(outbox.Messages()[0].Body))
	require.NoError(t, err)
	assert.Equal(t, t0, done.Enrollment.CreatedAt)
	var types []twofactor.EventType
	for _, ev := range evs.all() {
		types = append(types, ev.Type)
	}
	assert.Equal(t, []twofactor.EventType{twofactor.EventEnrollBegin, twofactor.EventEnroll}, types,
		"the factor's events go to the Service's hook")

	// A Service with a second phone needs a proof of the first.
	_, err = svc.BeginEnroll(ctx, bob, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: ukNumber}, "")
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
}

// Store round trips of the hot paths, on a store with batches and
// TouchEnrollment: Send 3 (the phone, one batch of caps and budgets, the
// code); Verify 2 (the code, the last use); BeginEnroll 4 (the pending
// enrollment, the batch, the code, the pending number), 3 with Restart.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	fx := newFixture(t, func(c *smscode.Config) {
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	calls := func(f func() error) int64 {
		t.Helper()
		before := spy.Calls.Load()
		require.NoError(t, f())
		return spy.Calls.Load() - before
	}
	assert.Equal(t, int64(4), calls(func() error {
		_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
		return err
	}), "begin enroll")
	fx.clock.Advance(time.Minute)
	assert.Equal(t, int64(3), calls(func() error {
		_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client, Restart: true})
		return err
	}), "resend")
	_, err := fx.f.ConfirmEnroll(ctx, bob, fx.lastCode(t, usNumber))
	require.NoError(t, err)
	fx.clock.Advance(time.Minute)

	ch := challenge("chal-1", bob, twofactor.PurposeLogin)
	assert.Equal(t, int64(3), calls(func() error { _, err := fx.f.Send(ctx, ch, client); return err }), "send")
	code := fx.lastCode(t, usNumber)
	assert.Equal(t, int64(2), calls(func() error { _, err := fx.f.Verify(ctx, ch, code); return err }), "verify")
	assert.Equal(t, int64(1), calls(func() error { _, err := fx.f.Enrollments(ctx, bob); return err }), "enrollments")
}
