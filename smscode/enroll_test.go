package smscode_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
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

// A login asks the Service to record it as the phone's last use, with the
// challenge's end: the factor itself writes nothing more than the code's
// consumption, on a store with TouchEnrollment or without.
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
			fx := newFixture(t, func(c *setup) { c.Store = tc.wrap(c.Store.(smscode.Store)) })
			fx.enroll(t, bob, usNumber)
			fx.clock.Advance(time.Hour)
			ch := challenge("chal-1", bob, twofactor.PurposeLogin)
			_, err := fx.f.Send(ctx, ch, client)
			require.NoError(t, err)
			fx.clock.Advance(time.Minute)
			got, err := fx.f.Verify(ctx, ch, fx.lastCode(t, usNumber))
			require.NoError(t, err)
			assert.Equal(t, twofactor.Verified{EnrollmentID: "phone", RecordUse: true}, got)
			es, err := fx.f.Enrollments(ctx, bob)
			require.NoError(t, err)
			assert.Equal(t, []twofactor.Enrollment{{ID: "phone", Method: twofactor.MethodSMS, Label: usMasked, CreatedAt: t0}}, es)
		})
	}
}

// noToucher hides the memory store's TouchEnrollment.
type noToucher struct{ smscode.Store }

// Given to twofactor.New, the Config is built into a factor with the
// Service's store, keys, events and clock; the factor's events reach the
// Service's hook, and the Service announces the enrollment.
func TestBuiltByTheService(t *testing.T) {
	ctx := context.Background()
	outbox := &smscode.Outbox{}
	clock := func() time.Time { return t0 }
	var evs eventlog.Log
	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(clock), Keys: keys(t),
		Factors: []twofactor.FactorConfig{smscode.Config{Sender: outbox}},
		Events:  &event.Sink{Hook: evs.Hook, Discard: true}, Now: clock})
	require.NoError(t, err)
	en, err := svc.BeginEnroll(ctx, bob, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: usNumber, Client: client}, "")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(smscode.DefaultTTL), en.ExpiresAt, "the Service's clock")
	m := outbox.Messages()[0]
	assert.Equal(t, t0, m.Time, "the message's time is the Service's clock's")
	done, err := svc.ConfirmEnroll(ctx, bob, twofactor.MethodSMS, codeRE.FindString(m.Body))
	require.NoError(t, err)
	assert.Equal(t, t0, done.Enrollment.CreatedAt)
	var types []event.Type
	for _, ev := range evs.All() {
		types = append(types, ev.Type)
		if ev.Type == event.EnrollBegin || ev.Type == event.Enroll {
			assert.Equal(t, usMasked, ev.Label)
		}
	}
	assert.Equal(t, []event.Type{event.EnrollBegin, event.Enroll}, types,
		"the factor's begin and the Service's enrollment, once")

	// A Service with a second phone needs a proof of the first.
	_, err = svc.BeginEnroll(ctx, bob, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: ukNumber}, "")
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired)

	// A Service store without what the factor needs fails New, by name.
	mem := store.NewMemory()
	_, err = twofactor.New(twofactor.Config{Store: countersOnly{mem, mem, mem}, Keys: keys(t),
		Factors: []twofactor.FactorConfig{smscode.Config{Sender: outbox}}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Codes, store.CodeGroups, store.Enrollments")
}

// Store round trips of the hot paths, on a store with batches and
// TouchEnrollment: Send 3 (the phone, one batch of caps and budgets, the
// code); Verify 1 (the code; the Service records the last use); BeginEnroll 5 (the pending
// enrollment, the batch, the account's slot of the number's verification
// cap, the code, the pending number), 3 with Restart (a resend holds its
// slot already).
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	fx := newFixture(t, func(c *setup) {
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	calls := func(f func() error) int64 {
		t.Helper()
		before := spy.Calls.Load()
		require.NoError(t, f())
		return spy.Calls.Load() - before
	}
	assert.Equal(t, int64(5), calls(func() error {
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
	assert.Equal(t, int64(1), calls(func() error { _, err := fx.f.Verify(ctx, ch, code); return err }), "verify")
	assert.Equal(t, int64(1), calls(func() error { _, err := fx.f.Enrollments(ctx, bob); return err }), "enrollments")
}

// sealPhone seals plain as the SMS factor seals a user's phone.
func sealPhone(t *testing.T, kr *keyring.Ring, userID, plain string) []byte {
	t.Helper()
	sealed, err := kr.Seal([]byte(plain), []byte("smscode phone\x00"+userID+"\x00"+smscode.EnrollmentID))
	require.NoError(t, err)
	return []byte(sealed)
}

// The number's region is recorded with it, sealed, at enrollment: a send
// counts on the budget of that region without parsing the number again.
// A record of an older version, the number alone, is still read, its
// region found from the number.
func TestRegionRecordedWithNumber(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, nil)
	fx.enroll(t, bob, "+1 876 210 1234")
	rec, err := fx.store.GetEnrollment(ctx, bob.ID, smscode.EnrollmentID)
	require.NoError(t, err)
	plain, err := fx.keys.Open(string(rec.Data), []byte("smscode phone\x00"+bob.ID+"\x00"+smscode.EnrollmentID))
	require.NoError(t, err)
	assert.Equal(t, "+18762101234 JM", string(plain))
	assert.NotContains(t, string(rec.Data), " JM", "sealed") // a space is never in the sealed form

	country := func(region string) int64 {
		n, _, err := fx.store.Peek(ctx, "otc:budget:country:sms:"+region)
		require.NoError(t, err)
		return n
	}
	fx.clock.Advance(time.Hour)
	_, err = fx.f.Send(ctx, challenge("c1", bob, twofactor.PurposeLogin), client)
	require.NoError(t, err)
	assert.Equal(t, int64(1), country("JM"))

	// What is recorded is what counts: a record saying CA is counted on
	// CA, whatever the number.
	rec.Data, rec.Label = sealPhone(t, fx.keys, bob.ID, usNumber+" CA"), usMasked
	require.NoError(t, fx.store.PutEnrollment(ctx, rec))
	_, err = fx.f.Send(ctx, challenge("c2", bob, twofactor.PurposeLogin), client)
	require.NoError(t, err)
	assert.Equal(t, int64(1), country("CA"))
	assert.Zero(t, country("US"))
	_, ok := fx.outbox.Last(usNumber)
	assert.True(t, ok)

	// An older record, the number alone: its region comes from the number.
	rec.Data = sealPhone(t, fx.keys, bob.ID, usNumber)
	require.NoError(t, fx.store.PutEnrollment(ctx, rec))
	sent, err := fx.f.Send(ctx, challenge("c3", bob, twofactor.PurposeLogin), client)
	require.NoError(t, err)
	assert.Equal(t, usMasked, sent.Destination)
	assert.Equal(t, int64(1), country("US"))
	m, ok := fx.outbox.Last(usNumber)
	require.True(t, ok)
	_, err = fx.f.Verify(ctx, challenge("c3", bob, twofactor.PurposeLogin), codeRE.FindString(m.Body))
	require.NoError(t, err)

	// Re-sealing keeps the value as it is, region or not.
	n, err := fx.f.Rekey(ctx, bob.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "under the current key already")
}

// A number awaiting its code since an older version, kept without its
// region, is confirmed with the region found from the number.
func TestPendingNumberWithoutRegion(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, nil)
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: "+1 876 210 1234", Client: client})
	require.NoError(t, err)
	code := fx.lastCode(t, "+18762101234")
	expires := t0.Add(smscode.DefaultTTL)
	old := fmt.Sprintf(`{"d":"+18762101234","e":%q,"r":%q}`, expires.Format(time.RFC3339), t0.Add(time.Minute).Format(time.RFC3339))
	sealed, err := fx.keys.Seal([]byte(old), []byte("onetime pending\x00sms\x00"+bob.ID))
	require.NoError(t, err)
	require.NoError(t, fx.store.PutOwnedState(ctx, bob.ID, "otc:enroll:sms:"+bob.ID, []byte(sealed), expires.Add(smscode.DefaultTTL)))

	_, err = fx.f.ConfirmEnroll(ctx, bob, code)
	require.NoError(t, err)
	rec, err := fx.store.GetEnrollment(ctx, bob.ID, smscode.EnrollmentID)
	require.NoError(t, err)
	plain, err := fx.keys.Open(string(rec.Data), []byte("smscode phone\x00"+bob.ID+"\x00"+smscode.EnrollmentID))
	require.NoError(t, err)
	assert.Equal(t, "+18762101234 JM", string(plain))
}
