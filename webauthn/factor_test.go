package webauthn_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestRegisterAndLogin(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)

	opts, regID, err := fx.f.BeginRegistration(fx.ctx, fx.user, "  YubiKey 5  ")
	require.NoError(t, err)
	o := parseOptions(t, opts)
	assert.Equal(t, testRPID, o.PublicKey.RP.ID)
	assert.Empty(t, o.PublicKey.ExcludeCredentials)
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	require.NoError(t, err)
	assert.Len(t, handle, 32, "user handle is a 32-byte keyed hash")
	assert.NotContains(t, string(handle), fx.user.ID, "the raw user id never reaches the authenticator")
	assert.Equal(t, 300000, o.PublicKey.Timeout)

	e, err := fx.f.FinishRegistration(fx.ctx, fx.user, regID, k.create(t, opts))
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodWebAuthn, e.Method)
	assert.Equal(t, "YubiKey 5", e.Label)
	assert.Equal(t, t0, e.CreatedAt)
	require.Len(t, fx.events(twofactor.EventEnrollBegin), 1)
	require.Len(t, fx.events(twofactor.EventEnroll), 1)

	cs := fx.credentials()
	require.Len(t, cs, 1)
	c := cs[0]
	assert.Equal(t, e.ID, c.ID)
	assert.Equal(t, k.credID, c.CredentialID)
	assert.Equal(t, []string{"usb"}, c.Transports)
	assert.Equal(t, "74776f66-6163-746f-722d-736f66746b79", c.AAGUID)
	assert.False(t, c.BackupEligible)
	assert.Zero(t, c.SignCount)
	assert.True(t, c.LastUsedAt.IsZero())

	es, err := fx.f.Enrollments(fx.ctx, fx.user)
	require.NoError(t, err)
	require.Equal(t, []twofactor.Enrollment{e}, es)

	// A second registration excludes the first key and keeps the handle.
	opts2, _, err := fx.f.BeginRegistration(fx.ctx, fx.user, "")
	require.NoError(t, err)
	o2 := parseOptions(t, opts2)
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
	c = fx.credentials()[0]
	assert.Equal(t, uint32(1), c.SignCount)
	assert.Equal(t, t0.Add(time.Minute), c.LastUsedAt)
	assert.False(t, fx.hasLoginState(ch), "ceremony state is single use")
}

func TestRegisterSameAuthenticatorTwice(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	first := fx.register(k, "key")

	// A browser honours the exclude list; a response for the same
	// credential is refused on the server too.
	opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "again")
	require.NoError(t, err)
	_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, k.create(t, opts))
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
	cs := fx.credentials()
	require.Len(t, cs, 1)
	assert.Equal(t, first.ID, cs[0].ID)
	assert.Equal(t, "key", cs[0].Name)

	// Another authenticator is fine.
	fx.register(newSoftKey(t, testRPID, testOrigin), "backup key")
	assert.Len(t, fx.credentials(), 2)
}

func TestRegistrationState(t *testing.T) {
	t.Run("single use", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
		require.NoError(t, err)
		resp := k.create(t, opts)
		_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, resp)
		require.NoError(t, err)
		_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, resp)
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound)
		assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Len(t, fx.credentials(), 1)
	})
	t.Run("expires", func(t *testing.T) {
		fx := newFixture(t, func(c *webauthn.Config) { c.Timeout = time.Minute })
		k := newSoftKey(t, testRPID, testOrigin)
		opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
		require.NoError(t, err)
		fx.clk.Advance(time.Minute)
		_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, k.create(t, opts))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Empty(t, fx.credentials())
	})
	t.Run("other user", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
		require.NoError(t, err)
		mallory := twofactor.User{ID: "mallory"}
		_, err = fx.f.FinishRegistration(fx.ctx, mallory, id, k.create(t, opts))
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound)
		cs, err := fx.f.Credentials(fx.ctx, mallory)
		require.NoError(t, err)
		assert.Empty(t, cs)
		assert.Empty(t, fx.credentials())
	})
	t.Run("cancel", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
		require.NoError(t, err)
		require.NoError(t, fx.f.CancelRegistration(fx.ctx, id))
		_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, k.create(t, opts))
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound)
	})
	t.Run("wrong origin", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, "https://evil.test")
		opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
		require.NoError(t, err)
		_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, k.create(t, opts))
		require.ErrorIs(t, err, webauthn.ErrRejected)
		assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Empty(t, fx.credentials())
	})
	t.Run("too many credentials", func(t *testing.T) {
		fx := newFixture(t, func(c *webauthn.Config) { c.MaxCredentials = 1 })
		fx.register(newSoftKey(t, testRPID, testOrigin), "one")
		_, _, err := fx.f.BeginRegistration(fx.ctx, fx.user, "two")
		require.ErrorIs(t, err, webauthn.ErrTooManyCredentials)
	})
}

func TestRegistrationBadInput(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
	require.NoError(t, err)
	good := k.create(t, opts)
	tests := []struct {
		name string
		user twofactor.User
		id   string
		resp []byte
	}{
		{"empty user", twofactor.User{}, id, good},
		{"short id", fx.user, id[:10], good},
		{"id not base64url", fx.user, strings.Repeat("*", 43), good},
		{"empty response", fx.user, id, nil},
		{"not json", fx.user, id, []byte("hello")},
		{"json array", fx.user, id, []byte(`[1,2]`)},
		{"truncated", fx.user, id, good[:len(good)/2]},
		{"empty object", fx.user, id, []byte(`{}`)},
		{"too large", fx.user, id, append([]byte(`{"x":"`), append(bytes.Repeat([]byte("a"), webauthn.MaxAttestationSize), '"', '}')...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fx.st.Calls.Load()
			_, err := fx.f.FinishRegistration(fx.ctx, tt.user, tt.id, tt.resp)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.Equal(t, before, fx.st.Calls.Load(), "bad input costs no store access")
			if !bytes.Equal(tt.resp, good) {
				require.ErrorIs(t, webauthn.CheckRegistration(tt.resp), twofactor.ErrInvalidInput)
			}
		})
	}
	// The registration is still pending after all that.
	_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, good)
	require.NoError(t, err)

	_, _, err = fx.f.BeginRegistration(fx.ctx, fx.user, strings.Repeat("x", webauthn.MaxNameLength+1))
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, _, err = fx.f.BeginRegistration(fx.ctx, fx.user, "bad\x00name")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

func TestLoginState(t *testing.T) {
	t.Run("replay", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		answer := string(k.get(t, opts))
		_, err = fx.f.Verify(fx.ctx, ch, answer)
		require.NoError(t, err)
		before := fx.credentials()
		_, err = fx.f.Verify(fx.ctx, ch, answer)
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound)
		assert.ErrorIs(t, err, twofactor.ErrCodeReused)
		assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Equal(t, before, fx.credentials(), "a replay changes nothing")
	})
	t.Run("replay into a new ceremony", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		answer := string(k.get(t, opts))
		_, err = fx.f.Verify(fx.ctx, ch, answer)
		require.NoError(t, err)
		_, err = fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		_, err = fx.f.Verify(fx.ctx, ch, answer)
		require.ErrorIs(t, err, webauthn.ErrRejected, "an old assertion does not answer a new challenge")
	})
	t.Run("no start", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		other := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, other)
		require.NoError(t, err)
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound)
		assert.True(t, fx.hasLoginState(other), "another challenge's ceremony is untouched")
	})
	t.Run("expires with timeout", func(t *testing.T) {
		fx := newFixture(t, func(c *webauthn.Config) { c.Timeout = time.Minute })
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		assert.Equal(t, 60000, parseOptions(t, opts).PublicKey.Timeout)
		fx.clk.Advance(time.Minute - time.Second)
		assert.True(t, fx.hasLoginState(ch))
		fx.clk.Advance(time.Second)
		assert.False(t, fx.hasLoginState(ch))
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Zero(t, fx.credentials()[0].SignCount)
	})
	t.Run("never outlives the challenge", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		ch.ExpiresAt = fx.clk.Now().Add(30 * time.Second)
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		assert.Equal(t, 30000, parseOptions(t, opts).PublicKey.Timeout)
		fx.clk.Advance(30 * time.Second)
		assert.False(t, fx.hasLoginState(ch))
		_, err = fx.f.Start(fx.ctx, ch)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	})
	t.Run("cancel", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		require.NoError(t, fx.f.Cancel(fx.ctx, ch))
		assert.False(t, fx.hasLoginState(ch))
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound)
	})
	t.Run("not enrolled", func(t *testing.T) {
		fx := newFixture(t)
		_, err := fx.f.Start(fx.ctx, fx.challenge())
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	})
}

func TestLoginBadInput(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	ch := fx.challenge()
	opts, err := fx.f.Start(fx.ctx, ch)
	require.NoError(t, err)
	good := k.get(t, opts)
	tests := map[string]string{
		"empty":        "",
		"spaces":       "   ",
		"not json":     "123456",
		"json string":  `"abc"`,
		"json array":   `[{}]`,
		"truncated":    string(good[:len(good)-3]),
		"empty object": `{}`,
		"wrong type":   strings.Replace(string(good), `"public-key"`, `"password"`, 1),
		"bad id":       strings.Replace(string(good), `"id":"`, `"id":"!!`, 1),
		"too large":    `{"x":"` + strings.Repeat("a", webauthn.MaxAssertionSize) + `"}`,
	}
	before := fx.credentials()
	for name, answer := range tests {
		t.Run(name, func(t *testing.T) {
			calls := fx.st.Calls.Load()
			require.ErrorIs(t, fx.f.CheckAnswer(answer), twofactor.ErrInvalidInput)
			_, err := fx.f.Verify(fx.ctx, ch, answer)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.NotErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Equal(t, calls, fx.st.Calls.Load(), "bad input costs no store access")
			assert.True(t, fx.hasLoginState(ch), "bad input leaves the ceremony alone")
		})
	}
	assert.Equal(t, before, fx.credentials())
	require.NoError(t, fx.f.CheckAnswer(string(good)))
	_, err = fx.f.Verify(fx.ctx, ch, string(good))
	require.NoError(t, err, "the ceremony still accepts the right answer")
}

func TestLoginWrongAnswers(t *testing.T) {
	stranger := func(t *testing.T, k *softKey) *softKey { return newSoftKey(t, testRPID, testOrigin) }
	self := func(t *testing.T, k *softKey) *softKey { return k }
	tests := []struct {
		name string
		key  func(*testing.T, *softKey) *softKey
		mod  assertOpts
		bits byte
		uv   bool
		want error
	}{
		{"wrong challenge", self, assertOpts{challenge: b64.EncodeToString(bytes.Repeat([]byte{7}, 32))}, 0, false, webauthn.ErrRejected},
		{"wrong origin", self, assertOpts{origin: "https://evil.test"}, 0, false, webauthn.ErrRejected},
		{"subdomain not listed", self, assertOpts{origin: "https://login.example.com"}, 0, false, webauthn.ErrRejected},
		{"wrong rp id", self, assertOpts{rpID: "evil.test"}, 0, false, webauthn.ErrRejected},
		{"unknown credential", stranger, assertOpts{}, 0, false, webauthn.ErrUnknownCredential},
		{"no user presence", self, assertOpts{}, 0xff, false, webauthn.ErrRejected},
		{"user verification required", self, assertOpts{}, 0, true, webauthn.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, func(c *webauthn.Config) {
				if tt.uv {
					c.UserVerification = webauthn.Required
				}
			})
			k := newSoftKey(t, testRPID, testOrigin)
			if tt.uv {
				k.flags = flagUP | flagUV
			}
			fx.register(k, "key")
			k.flags = flagUP
			if tt.bits == 0xff {
				k.flags = 0
			}
			ch := fx.challenge()
			opts, err := fx.f.Start(fx.ctx, ch)
			require.NoError(t, err)
			before := fx.credentials()
			_, err = fx.f.Verify(fx.ctx, ch, string(tt.key(t, k).get(t, opts, tt.mod)))
			require.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Equal(t, before, fx.credentials(), "a refused answer changes no credential")
			assert.False(t, fx.hasLoginState(ch), "the ceremony is used up")
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(k.get(t, opts), &m))
		other := newSoftKey(t, testRPID, testOrigin)
		var o map[string]any
		require.NoError(t, json.Unmarshal(other.get(t, opts), &o))
		m["response"].(map[string]any)["signature"] = o["response"].(map[string]any)["signature"]
		forged, _ := json.Marshal(m)
		_, err = fx.f.Verify(fx.ctx, ch, string(forged))
		require.ErrorIs(t, err, webauthn.ErrRejected)
		assert.Zero(t, fx.credentials()[0].SignCount)
	})
}

func TestSignCount(t *testing.T) {
	login := func(fx *fixture, k *softKey, count *uint32) error {
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(fx.t, err)
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(fx.t, opts, assertOpts{count: count})))
		return err
	}
	u32 := func(v uint32) *uint32 { return &v }

	t.Run("reject", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		require.NoError(t, login(fx, k, u32(10)))
		before := fx.credentials()
		for _, c := range []uint32{10, 9, 0} {
			err := login(fx, k, u32(c))
			require.ErrorIs(t, err, webauthn.ErrSignCountRegressed, "count %d", c)
			assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
		}
		assert.Equal(t, before, fx.credentials(), "a regressed count changes nothing")
		ws := fx.events(twofactor.EventWarning)
		require.Len(t, ws, 3)
		assert.Equal(t, "sign_count_regressed", ws[0].Reason)
		assert.Equal(t, "10", ws[0].Details["stored"])
		assert.Equal(t, "10", ws[0].Details["received"])
		assert.Equal(t, "reject", ws[0].Details["policy"])
		assert.Equal(t, fx.user.ID, ws[0].UserID)
		require.NoError(t, login(fx, k, u32(11)))
	})
	t.Run("warn only", func(t *testing.T) {
		fx := newFixture(t, func(c *webauthn.Config) { c.SignCountPolicy = webauthn.SignCountWarn })
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		require.NoError(t, login(fx, k, u32(10)))
		require.NoError(t, login(fx, k, u32(3)))
		ws := fx.events(twofactor.EventWarning)
		require.Len(t, ws, 1)
		assert.Equal(t, "sign_count_regressed", ws[0].Reason)
		assert.Equal(t, "warn", ws[0].Details["policy"])
		assert.Equal(t, uint32(10), fx.credentials()[0].SignCount, "the high-water mark is kept")
	})
	t.Run("counter from registration", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		k.count = 50
		fx.register(k, "key")
		assert.Equal(t, uint32(50), fx.credentials()[0].SignCount)
		require.ErrorIs(t, login(fx, k, u32(20)), webauthn.ErrSignCountRegressed)
		require.NoError(t, login(fx, k, u32(51)))
	})
	t.Run("always zero", func(t *testing.T) {
		fx := newFixture(t)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		for range 3 {
			require.NoError(t, login(fx, k, u32(0)))
		}
		assert.Empty(t, fx.events(twofactor.EventWarning))
	})
}

func TestStoreErrorsFailClosed(t *testing.T) {
	for _, op := range []string{"TakeState", "ListEnrollments", "Advance", "PutEnrollment"} {
		t.Run("verify/"+op, func(t *testing.T) {
			fx := newFixture(t)
			k := newSoftKey(t, testRPID, testOrigin)
			fx.register(k, "key")
			ch := fx.challenge()
			opts, err := fx.f.Start(fx.ctx, ch)
			require.NoError(t, err)
			fx.st.Fail(op, errStore)
			v, err := fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
			require.ErrorIs(t, err, errStore)
			assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a store failure is a system error")
			assert.Empty(t, v.EnrollmentID)
		})
	}
	for _, op := range []string{"ListEnrollments", "PutState"} {
		t.Run("start/"+op, func(t *testing.T) {
			fx := newFixture(t)
			fx.register(newSoftKey(t, testRPID, testOrigin), "key")
			fx.st.Fail(op, errStore)
			_, err := fx.f.Start(fx.ctx, fx.challenge())
			require.ErrorIs(t, err, errStore)
		})
	}
	for _, op := range []string{"TakeState", "ListEnrollments", "PutEnrollment"} {
		t.Run("register/"+op, func(t *testing.T) {
			fx := newFixture(t)
			k := newSoftKey(t, testRPID, testOrigin)
			opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
			require.NoError(t, err)
			fx.st.Fail(op, errStore)
			_, err = fx.f.FinishRegistration(fx.ctx, fx.user, id, k.create(t, opts))
			require.ErrorIs(t, err, errStore)
			fx.st.Fail(op, nil)
			assert.Empty(t, fx.credentials())
		})
	}
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

func TestRenameAndRemove(t *testing.T) {
	fx := newFixture(t)
	a := fx.register(newSoftKey(t, testRPID, testOrigin), "a")
	fx.clk.Advance(time.Second)
	b := fx.register(newSoftKey(t, testRPID, testOrigin), "b")
	other := store.EnrollmentRecord{UserID: fx.user.ID, ID: "totp-1", Method: "totp", Data: []byte("x")}
	require.NoError(t, fx.mem.PutEnrollment(fx.ctx, other))

	require.NoError(t, fx.f.Rename(fx.ctx, fx.user, a.ID, "Blue key"))
	assert.Equal(t, "Blue key", fx.credentials()[0].Name)
	require.ErrorIs(t, fx.f.Rename(fx.ctx, fx.user, a.ID, strings.Repeat("n", 65)), twofactor.ErrInvalidInput)
	require.ErrorIs(t, fx.f.Rename(fx.ctx, fx.user, "webauthn-missing", "x"), twofactor.ErrNotEnrolled)
	require.ErrorIs(t, fx.f.Rename(fx.ctx, fx.user, "totp-1", "x"), twofactor.ErrNotEnrolled)
	assert.Equal(t, "Blue key", fx.credentials()[0].Name)

	require.ErrorIs(t, fx.f.Remove(fx.ctx, fx.user, "totp-1"), twofactor.ErrNotEnrolled)
	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, "webauthn-missing"))
	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, a.ID))
	cs := fx.credentials()
	require.Len(t, cs, 1)
	assert.Equal(t, b.ID, cs[0].ID)

	require.NoError(t, fx.f.RemoveAll(fx.ctx, fx.user))
	assert.Empty(t, fx.credentials())
	_, err := fx.mem.GetEnrollment(fx.ctx, fx.user.ID, "totp-1")
	require.NoError(t, err, "other factors' enrollments stay")
}

// TestVerifyRace: of 64 concurrent answers with the same assertion, exactly
// one succeeds.
func TestVerifyRace(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	ch := fx.challenge()
	opts, err := fx.f.Start(fx.ctx, ch)
	require.NoError(t, err)
	answer := string(k.get(t, opts))
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			_, err := fx.f.Verify(fx.ctx, ch, answer)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, twofactor.ErrInvalidCode):
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Equal(t, int64(63), refused.Load())
}

// TestRegistrationRace: of 64 concurrent finishes of one registration,
// exactly one stores the credential.
func TestRegistrationRace(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, "key")
	require.NoError(t, err)
	resp := k.create(t, opts)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if _, err := fx.f.FinishRegistration(fx.ctx, fx.user, id, resp); err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Len(t, fx.credentials(), 1)
}

// TestClonedKeyRace: 64 logins on separate challenges present assertions
// with the same signature counter, as copies of one key would; exactly one
// is accepted, whatever the interleaving.
func TestClonedKeyRace(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	count := uint32(5)
	type attempt struct {
		ch     *twofactor.Challenge
		answer string
	}
	attempts := make([]attempt, 64)
	for i := range attempts {
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		attempts[i] = attempt{ch, string(k.get(t, opts, assertOpts{count: &count}))}
	}
	var ok, regressed atomic.Int64
	var wg sync.WaitGroup
	for _, a := range attempts {
		wg.Go(func() {
			_, err := fx.f.Verify(fx.ctx, a.ch, a.answer)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, webauthn.ErrSignCountRegressed):
				regressed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Equal(t, int64(63), regressed.Load())
	assert.Equal(t, uint32(5), fx.credentials()[0].SignCount)
	assert.Len(t, fx.events(twofactor.EventWarning), 63)
}
