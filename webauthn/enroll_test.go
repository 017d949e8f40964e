package webauthn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestRegisterAndLogin(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)

	en, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "  YubiKey 5  "})
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodWebAuthn, en.Method)
	assert.Equal(t, t0.Add(webauthn.DefaultTimeout), en.ExpiresAt)
	o := parseOptions(t, en.Options)
	assert.Equal(t, testRPID, o.PublicKey.RP.ID)
	assert.Empty(t, o.PublicKey.ExcludeCredentials)
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	require.NoError(t, err)
	assert.Len(t, handle, 32, "user handle is 32 random bytes")
	assert.NotContains(t, string(handle), fx.user.ID, "the raw user id never reaches the authenticator")
	assert.Equal(t, 300000, o.PublicKey.Timeout)

	e, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, en.Options)))
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodWebAuthn, e.Method)
	assert.Equal(t, "YubiKey 5", e.Label)
	assert.Equal(t, t0, e.CreatedAt)
	assert.True(t, e.LastUsedAt.IsZero())
	begins := fx.events(event.EnrollBegin)
	require.Len(t, begins, 1)
	assert.Equal(t, "YubiKey 5", begins[0].Label)
	assert.Equal(t, twofactor.MethodWebAuthn, begins[0].Method)
	assert.Empty(t, fx.events(event.Enroll), "the Service emits EventEnroll, not the factor")

	cs := fx.credentials()
	require.Len(t, cs, 1)
	c := cs[0]
	assert.Equal(t, e.ID, c.ID)
	assert.Equal(t, k.credID, c.CredentialID)
	assert.Equal(t, []string{"usb"}, c.Transports)
	assert.Equal(t, "74776f66-6163-746f-722d-736f66746b79", c.AAGUID)
	assert.False(t, c.BackupEligible)
	assert.Equal(t, t0, c.CreatedAt)
	assert.True(t, c.LastUsedAt.IsZero())

	es, err := fx.f.Enrollments(fx.ctx, fx.user)
	require.NoError(t, err)
	require.Equal(t, []twofactor.Enrollment{e}, es)

	// A second registration excludes the first key and keeps the handle.
	o2 := parseOptions(t, fx.begin(""))
	require.Len(t, o2.PublicKey.ExcludeCredentials, 1)
	assert.Equal(t, b64.EncodeToString(k.credID), o2.PublicKey.ExcludeCredentials[0].ID)
	assert.Equal(t, o.PublicKey.User.ID, o2.PublicKey.User.ID)

	// Login.
	fx.clk.Advance(time.Minute)
	ch := fx.challenge()
	lopts, err := fx.f.Start(fx.ctx, ch)
	require.NoError(t, err)
	lo := parseOptions(t, lopts)
	require.Len(t, lo.PublicKey.AllowCredentials, 1)
	assert.Equal(t, b64.EncodeToString(k.credID), lo.PublicKey.AllowCredentials[0].ID)
	assert.Equal(t, "discouraged", lo.PublicKey.UserVerification)
	assert.Equal(t, testRPID, lo.PublicKey.RPID)

	v, err := fx.f.Verify(fx.ctx, ch, string(k.get(t, lopts)))
	require.NoError(t, err)
	assert.Equal(t, e.ID, v.EnrollmentID)
	assert.True(t, v.RecordUse, "the Service records the last use, with the challenge's end")
	assert.True(t, fx.credentials()[0].LastUsedAt.IsZero(), "the factor writes no last use itself")
	_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, lopts)))
	require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound, "a ceremony takes one answer")
}

func TestRegisterSameAuthenticatorTwice(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	first := fx.register(k, "key")

	// A browser honours the exclude list; a response for the same
	// credential is refused on the server too.
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, fx.begin("again"))))
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
	cs := fx.credentials()
	require.Len(t, cs, 1)
	assert.Equal(t, first.ID, cs[0].ID)
	assert.Equal(t, "key", cs[0].Name)

	// Another authenticator is fine, and several keys per user are.
	fx.register(newSoftKey(t, testRPID, testOrigin), "backup key")
	fx.register(newSoftKey(t, testRPID, testOrigin), "spare key")
	assert.Len(t, fx.credentials(), 3)
}

func TestRegistrationState(t *testing.T) {
	t.Run("single use", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		resp := string(k.create(t, fx.begin("key")))
		_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
		require.NoError(t, err)
		_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
		assert.Len(t, fx.credentials(), 1)
	})
	t.Run("shown again while pending", func(t *testing.T) {
		fx := newFixture(t)
		first, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "key"})
		require.NoError(t, err)
		fx.clk.Advance(time.Minute)
		again, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "key"})
		require.NoError(t, err)
		assert.Equal(t, first.ExpiresAt, again.ExpiresAt)
		o1, o2 := parseOptions(t, first.Options), parseOptions(t, again.Options)
		assert.Equal(t, o1.PublicKey.Challenge, o2.PublicKey.Challenge, "the same ceremony")
		assert.Equal(t, 240000, o2.PublicKey.Timeout, "the browser waits only as long as the ceremony lives")
		assert.Len(t, fx.events(event.EnrollBegin), 1, "showing it again is no new fact")
		_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(newSoftKey(t, testRPID, testOrigin).create(t, again.Options)))
		require.NoError(t, err)
	})
	for _, tt := range []struct {
		name string
		req  twofactor.EnrollRequest
	}{
		{"restart", twofactor.EnrollRequest{Label: "key", Restart: true}},
		{"another name", twofactor.EnrollRequest{Label: "other key"}},
	} {
		t.Run(tt.name+" starts anew", func(t *testing.T) {
			fx := newFixture(t)
			first, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "key"})
			require.NoError(t, err)
			second, err := fx.f.BeginEnroll(fx.ctx, fx.user, tt.req)
			require.NoError(t, err)
			assert.NotEqual(t, parseOptions(t, first.Options).PublicKey.Challenge, parseOptions(t, second.Options).PublicKey.Challenge)
			assert.Len(t, fx.events(event.EnrollBegin), 2)
			k := newSoftKey(t, testRPID, testOrigin)
			_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, first.Options)))
			require.ErrorIs(t, err, webauthn.ErrRejected, "the replaced ceremony's challenge is not the pending one")
			e, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, second.Options)))
			require.NoError(t, err)
			assert.Equal(t, strings.TrimSpace(tt.req.Label), e.Label)
		})
	}
	t.Run("expires", func(t *testing.T) {
		fx := newFixture(t, withConfig(func(c *webauthn.Config) { c.Timeout = time.Minute }))
		k := newSoftKey(t, testRPID, testOrigin)
		opts := fx.begin("key")
		fx.clk.Advance(time.Minute)
		_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, opts)))
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
		assert.Empty(t, fx.credentials())
	})
	t.Run("other user", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		resp := string(k.create(t, fx.begin("key")))
		mallory := twofactor.User{ID: "mallory"}
		_, err := fx.f.ConfirmEnroll(fx.ctx, mallory, resp)
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
		cs, err := fx.f.Credentials(fx.ctx, mallory)
		require.NoError(t, err)
		assert.Empty(t, cs)
		_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
		require.NoError(t, err, "the user's own registration is untouched")
	})
	t.Run("ended with the user's other states", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		opts := fx.begin("key")
		// What a password change, an admin reset or Service.Disable do.
		require.NoError(t, fx.mem.DeleteOwnedStates(fx.ctx, fx.user.ID))
		_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, opts)))
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
		assert.Empty(t, fx.credentials())
	})
	t.Run("wrong origin keeps it pending", func(t *testing.T) {
		fx := newFixture(t)
		opts := fx.begin("key")
		_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(newSoftKey(t, testRPID, "https://evil.test").create(t, opts)))
		require.ErrorIs(t, err, webauthn.ErrRejected)
		assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Empty(t, fx.credentials())
		_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(newSoftKey(t, testRPID, testOrigin).create(t, opts)))
		require.NoError(t, err, "the browser may try again")
	})
	t.Run("too many credentials", func(t *testing.T) {
		fx := newFixture(t, withConfig(func(c *webauthn.Config) { c.MaxCredentials = 1 }))
		opts := fx.begin("one")
		fx.register(newSoftKey(t, testRPID, testOrigin), "one")
		_, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "two"})
		require.ErrorIs(t, err, webauthn.ErrTooManyCredentials)
		_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(newSoftKey(t, testRPID, testOrigin).create(t, opts)))
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "the first registration replaced it")
	})
}

func TestRegistrationBadInput(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	good := k.create(t, fx.begin("key"))
	tests := []struct {
		name string
		user twofactor.User
		resp []byte
	}{
		{"empty user", twofactor.User{}, good},
		{"long user id", twofactor.User{ID: strings.Repeat("x", twofactor.MaxUserIDLen+1)}, good},
		{"empty response", fx.user, nil},
		{"not json", fx.user, []byte("hello")},
		{"json array", fx.user, []byte(`[1,2]`)},
		{"truncated", fx.user, good[:len(good)/2]},
		{"empty object", fx.user, []byte(`{}`)},
		{"too large", fx.user, append([]byte(`{"x":"`), append(bytes.Repeat([]byte("a"), webauthn.MaxAttestationSize), '"', '}')...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fx.st.Calls.Load()
			_, err := fx.f.ConfirmEnroll(fx.ctx, tt.user, string(tt.resp))
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.Equal(t, before, fx.st.Calls.Load(), "bad input costs no store access")
			if !bytes.Equal(tt.resp, good) {
				require.ErrorIs(t, webauthn.CheckRegistration(tt.resp), twofactor.ErrInvalidInput)
			}
		})
	}
	// The registration is still pending after all that.
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(good))
	require.NoError(t, err)

	for _, name := range []string{strings.Repeat("x", webauthn.MaxNameLength+1), "bad\x00name"} {
		_, err = fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: name})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	}
}

// TestCredentialUniqueAcrossAccounts: a credential id registered to one
// account is refused to every other until it is removed.
func TestCredentialUniqueAcrossAccounts(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	alice := fx.register(k, "alice's key")
	bob := twofactor.User{ID: "user-2", Name: "bob"}

	register := func(u twofactor.User) (twofactor.Enrollment, error) {
		en, err := fx.f.BeginEnroll(fx.ctx, u, twofactor.EnrollRequest{Label: "key", Restart: true})
		require.NoError(t, err)
		return fx.f.ConfirmEnroll(fx.ctx, u, string(k.create(t, en.Options)))
	}
	_, err := register(bob)
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
	cs, err := fx.f.Credentials(fx.ctx, bob)
	require.NoError(t, err)
	assert.Empty(t, cs)

	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, alice.ID))
	_, err = register(bob)
	require.NoError(t, err, "a removed credential may be registered again")
	_, err = register(fx.user)
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)

	require.NoError(t, fx.f.RemoveAll(fx.ctx, bob))
	_, err = register(fx.user)
	require.NoError(t, err, "RemoveAll frees the credential ids too")
}

// TestCredentialRaceAcrossAccounts: two accounts, on two app instances
// sharing the store, register the same credential at the same moment;
// exactly one wins, every round.
func TestCredentialRaceAcrossAccounts(t *testing.T) {
	fx := newFixture(t)
	other, err := webauthn.New(fx.env, fx.cfg) // a second app instance on the same store
	require.NoError(t, err)
	factors := []*webauthn.Factor{fx.f, other}
	for round := range 20 {
		k := newSoftKey(t, testRPID, testOrigin)
		const accounts = 8
		users := make([]twofactor.User, accounts)
		answers := make([]string, accounts)
		for i := range users {
			users[i] = twofactor.User{ID: fmt.Sprintf("r%d-u%d", round, i)}
			en, err := factors[i%2].BeginEnroll(fx.ctx, users[i], twofactor.EnrollRequest{Label: "key"})
			require.NoError(t, err)
			answers[i] = string(k.create(t, en.Options))
		}
		var wins, refused atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range users {
			wg.Go(func() {
				<-start
				_, err := factors[i%2].ConfirmEnroll(fx.ctx, users[i], answers[i])
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, twofactor.ErrAlreadyEnrolled):
					refused.Add(1)
				default:
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int64(1), wins.Load(), "round %d", round)
		require.Equal(t, int64(accounts-1), refused.Load(), "round %d", round)
		registered := 0
		for _, u := range users {
			cs, err := fx.f.Credentials(fx.ctx, u)
			require.NoError(t, err)
			registered += len(cs)
		}
		require.Equal(t, 1, registered, "round %d", round)
	}
}

// TestRegistrationRace: of 64 concurrent confirmations of one
// registration, exactly one stores the credential.
func TestRegistrationRace(t *testing.T) {
	fx := newFixture(t)
	opts := fx.begin("key")
	answers := make([]string, 64)
	same := string(newSoftKey(t, testRPID, testOrigin).create(t, opts))
	for i := range answers {
		answers[i] = same
		if i%2 == 1 { // another authenticator answering the same ceremony
			answers[i] = string(newSoftKey(t, testRPID, testOrigin).create(t, opts))
		}
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, a := range answers {
		wg.Go(func() {
			<-start
			_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, a)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, twofactor.ErrNotEnrolled), errors.Is(err, twofactor.ErrAlreadyEnrolled):
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Len(t, fx.credentials(), 1)
}

// login signs in through the factor alone with k's assertion carrying
// count.
func login(fx *fixture, k *softKey, count *uint32) error {
	ch := fx.challenge()
	opts, err := fx.f.Start(fx.ctx, ch)
	require.NoError(fx.t, err)
	_, err = fx.f.Verify(fx.ctx, ch, string(k.get(fx.t, opts, assertOpts{count: count})))
	return err
}

func u32(v uint32) *uint32 { return &v }

func TestSignCount(t *testing.T) {

	t.Run("reject", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		require.NoError(t, login(fx, k, u32(10)))
		before := fx.credentials()
		fx.clk.Advance(time.Minute)
		for _, c := range []uint32{10, 9, 0} {
			err := login(fx, k, u32(c))
			require.ErrorIs(t, err, webauthn.ErrSignCountRegressed, "count %d", c)
			assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
		}
		assert.Equal(t, before, fx.credentials(), "a regressed count changes nothing, not even the last use")
		ws := fx.events(event.Warning)
		require.Len(t, ws, 3)
		assert.Equal(t, event.ReasonSignCount, ws[0].Reason)
		assert.Equal(t, 10, ws[0].Count, "the counter the authenticator sent")
		assert.Equal(t, 0, ws[2].Count)
		assert.Equal(t, before[0].ID, ws[0].EnrollmentID)
		assert.Equal(t, "key", ws[0].Label)
		assert.Equal(t, twofactor.MethodWebAuthn, ws[0].Method)
		assert.Equal(t, "reject", ws[0].Details["policy"])
		assert.Equal(t, fx.user.ID, ws[0].UserID)
		require.NoError(t, login(fx, k, u32(11)))
	})
	t.Run("warn only", func(t *testing.T) {
		fx := newFixture(t, withConfig(func(c *webauthn.Config) { c.SignCountPolicy = webauthn.SignCountWarn }))
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		require.NoError(t, login(fx, k, u32(10)))
		require.NoError(t, login(fx, k, u32(3)))
		ws := fx.events(event.Warning)
		require.Len(t, ws, 1)
		assert.Equal(t, event.ReasonSignCount, ws[0].Reason)
		assert.Equal(t, 3, ws[0].Count)
		assert.Equal(t, "warn", ws[0].Details["policy"])
		require.NoError(t, login(fx, k, u32(4)))
		assert.Len(t, fx.events(event.Warning), 2, "the high-water mark is kept at 10")
	})
	t.Run("counter from registration", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		k.count = 50
		fx.register(k, "key")
		require.ErrorIs(t, login(fx, k, u32(20)), webauthn.ErrSignCountRegressed)
		require.ErrorIs(t, login(fx, k, u32(50)), webauthn.ErrSignCountRegressed)
		require.NoError(t, login(fx, k, u32(51)))
	})
	t.Run("always zero", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		for range 3 {
			require.NoError(t, login(fx, k, u32(0)))
		}
		assert.Empty(t, fx.events(event.Warning))
	})
	t.Run("zero after counting", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key") // counter zero at registration
		require.NoError(t, login(fx, k, u32(1)))
		require.NoError(t, login(fx, k, u32(2)))
		require.ErrorIs(t, login(fx, k, u32(0)), webauthn.ErrSignCountRegressed,
			"a counter that counted does not go back to zero")
		require.NoError(t, login(fx, k, u32(3)))
	})
}

// listCounter counts ListEnrollments calls, so a test can act while logins
// are between reading the credentials and writing their last use.
type listCounter struct {
	webauthn.Store
	lists atomic.Int64
}

func (s *listCounter) ListEnrollments(ctx context.Context, userID string) ([]store.EnrollmentRecord, error) {
	s.lists.Add(1)
	return s.Store.ListEnrollments(ctx, userID)
}

func (s *listCounter) TouchEnrollment(ctx context.Context, userID, id string, used time.Time) error {
	return s.Store.(store.EnrollmentToucher).TouchEnrollment(ctx, userID, id, used)
}

// TestRenameRacingLogins: a rename made while logins on many goroutines
// are under way (some have read the credential, none has finished) is
// never lost, and the last use is the logins'.
func TestRenameRacingLogins(t *testing.T) {
	var lc *listCounter
	fx := newFixture(t, func(e *twofactor.Env, _ *webauthn.Config) {
		lc = &listCounter{Store: e.Store.(webauthn.Store)}
		e.Store = lc
	})
	svc, err := twofactor.New(twofactor.Config{Store: lc, Keys: fx.keys, Factors: []twofactor.FactorConfig{fx.cfg},
		Users: fx.users, Now: fx.clk.Now, Events: fx.env.Events})
	require.NoError(t, err)
	f, _ := svc.Factor(twofactor.MethodWebAuthn)
	fx.f = f.(*webauthn.Factor)
	k := newSoftKey(t, testRPID, testOrigin)
	e := fx.register(k, "key")
	zero := uint32(0) // a counter-less authenticator: every login succeeds, in any order
	const logins, renames = 32, 8
	type attempt struct {
		ch     *twofactor.Challenge
		answer string
	}
	for r := range renames {
		attempts := make([]attempt, logins)
		for i := range attempts {
			b, err := svc.Begin(fx.ctx, fx.user, twofactor.Client{})
			require.NoError(t, err)
			opts, err := svc.Start(fx.ctx, b.Challenge.ID, twofactor.MethodWebAuthn)
			require.NoError(t, err)
			attempts[i] = attempt{b.Challenge, string(k.get(t, opts, assertOpts{count: &zero}))}
		}
		name := fmt.Sprintf("key %d", r)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, a := range attempts {
			wg.Go(func() {
				<-start
				if _, err := svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: a.ch.ID, Method: twofactor.MethodWebAuthn, Code: a.answer}); err != nil {
					t.Error(err)
				}
			})
		}
		before := lc.lists.Load()
		wg.Go(func() {
			<-start
			for lc.lists.Load() < before+logins/2 {
				runtime.Gosched()
			}
			if err := fx.f.Rename(fx.ctx, fx.user, e.ID, name); err != nil {
				t.Error(err)
			}
		})
		close(start)
		wg.Wait()
		cs := fx.credentials()
		require.Len(t, cs, 1)
		require.Equal(t, name, cs[0].Name, "round %d: the rename was kept", r)
		require.Equal(t, fx.clk.Now(), cs[0].LastUsedAt)
		fx.clk.Advance(time.Second)
	}
}

// noToucher is a store without store.EnrollmentToucher.
type noToucher struct{ webauthn.Store }

// On a store without store.EnrollmentToucher the last use of a login is
// written all the same (a read and a rewrite of the record), and of a
// passkey sign-in too.
func TestLastUseWithoutToucher(t *testing.T) {
	fx := newFixture(t, func(e *twofactor.Env, _ *webauthn.Config) { e.Store = noToucher{e.Store.(webauthn.Store)} })
	svc, err := twofactor.New(twofactor.Config{Store: fx.env.Store, Keys: fx.keys, Factors: []twofactor.FactorConfig{fx.cfg},
		Users: fx.users, Now: fx.clk.Now, Events: fx.env.Events})
	require.NoError(t, err)
	f, _ := svc.Factor(twofactor.MethodWebAuthn)
	fx.f = f.(*webauthn.Factor)
	k := newSoftKey(t, testRPID, testOrigin)
	e := fx.register(k, "key")
	fx.clk.Advance(time.Hour)
	b, err := svc.Begin(fx.ctx, fx.user, twofactor.Client{})
	require.NoError(t, err)
	opts, err := svc.Start(fx.ctx, b.Challenge.ID, twofactor.MethodWebAuthn)
	require.NoError(t, err)
	_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts))})
	require.NoError(t, err)
	es, err := fx.f.Enrollments(fx.ctx, fx.user)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, e.ID, es[0].ID)
	assert.Equal(t, t0, es[0].CreatedAt)
	assert.Equal(t, t0.Add(time.Hour), es[0].LastUsedAt)
	assert.Equal(t, "key", es[0].Label)
}

func TestStoreErrorsFailClosed(t *testing.T) {
	for _, op := range []string{"MarkUsed", "ListEnrollments", "Advance"} {
		t.Run("verify/"+op, func(t *testing.T) {
			fx, k, ch, opts := startedLogin(t)
			var err error
			fx.st.Fail(op, errStore)
			v, err := fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
			require.ErrorIs(t, err, errStore)
			assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a store failure is a system error")
			assert.Empty(t, v.EnrollmentID)
		})
	}
	for _, op := range []string{"GetState", "PutState"} {
		t.Run("verify zero counter/"+op, func(t *testing.T) {
			fx := newFixture(t)
			k := newSoftKey(t, testRPID, testOrigin)
			fx.register(k, "key")
			count := uint32(0)
			if op == "PutState" {
				count = 1 // the first count of a credential registered at zero is recorded
			}
			ch := fx.challenge()
			opts, err := fx.f.Start(fx.ctx, ch)
			require.NoError(t, err)
			fx.st.Fail(op, errStore)
			_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts, assertOpts{count: &count})))
			require.ErrorIs(t, err, errStore)
		})
	}
	for _, op := range []string{"ListEnrollments"} {
		t.Run("start/"+op, func(t *testing.T) {
			fx := newFixture(t)
			fx.register(newSoftKey(t, testRPID, testOrigin), "key")
			fx.st.Fail(op, errStore)
			_, err := fx.f.Start(fx.ctx, fx.challenge())
			require.ErrorIs(t, err, errStore)
		})
	}
	for _, op := range []string{"GetState", "ListEnrollments", "PutOwnedState"} {
		t.Run("begin/"+op, func(t *testing.T) {
			fx := newFixture(t)
			fx.st.Fail(op, errStore)
			_, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{})
			require.ErrorIs(t, err, errStore)
		})
	}
	for _, op := range []string{"GetState", "ListEnrollments", "Incr", "Advance", "TakeState", "PutEnrollment"} {
		t.Run("confirm/"+op, func(t *testing.T) {
			fx := newFixture(t)
			k := newSoftKey(t, testRPID, testOrigin)
			k.count = 7 // so the registration records a counter
			resp := string(k.create(t, fx.begin("key")))
			fx.st.Fail(op, errStore)
			_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
			require.ErrorIs(t, err, errStore)
			fx.st.Fail(op, nil)
			assert.Empty(t, fx.credentials())

			// Whether the credential id may be registered again: released
			// when nothing was written, kept when the record write failed
			// (it may have landed).
			_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, fx.begin("key"))))
			if op == "PutEnrollment" {
				require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
			} else {
				require.NoError(t, err)
			}
		})
	}
	t.Run("remove/ResetCounter", func(t *testing.T) {
		fx := newFixture(t)
		e := fx.register(newSoftKey(t, testRPID, testOrigin), "key")
		fx.st.Fail("ResetCounter", errStore)
		require.ErrorIs(t, fx.f.Remove(fx.ctx, fx.user, e.ID), errStore)
		assert.Empty(t, fx.credentials(), "the record went first")
	})
	t.Run("corrupt record", func(t *testing.T) {
		fx := newFixture(t)
		require.NoError(t, fx.mem.PutEnrollment(fx.ctx, store.EnrollmentRecord{UserID: fx.user.ID, ID: "webauthn-x", Method: "webauthn", Data: []byte("{")}))
		_, err := fx.f.Enrollments(fx.ctx, fx.user)
		require.Error(t, err)
		_, err = fx.f.Start(fx.ctx, fx.challenge())
		require.Error(t, err)
		assert.NotErrorIs(t, err, twofactor.ErrNotEnrolled)
	})
}

// The record keeps the counter a key registered with: a counter no
// higher is refused without the ledger's mark, once that has expired.
func TestSignCountMarkExpired(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	k.count = 50
	fx.register(k, "key")
	fx.clk.Advance(11 * 365 * 24 * time.Hour)
	require.ErrorIs(t, login(fx, k, u32(50)), webauthn.ErrSignCountRegressed)
	require.NoError(t, login(fx, k, u32(51)))
}
