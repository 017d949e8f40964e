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
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestLoginState(t *testing.T) {
	t.Run("replay", func(t *testing.T) {
		fx, k, ch, opts := startedLogin(t)
		var err error
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
		fx, k, ch, opts := startedLogin(t)
		var err error
		answer := string(k.get(t, opts))
		_, err = fx.f.Verify(fx.ctx, ch, answer)
		require.NoError(t, err)
		_, err = fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		_, err = fx.f.Verify(fx.ctx, ch, answer)
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound, "an old assertion stays a replay when a ceremony began since")
	})
	t.Run("each start is a ceremony of its own", func(t *testing.T) {
		fx, k, ch, first := startedLogin(t)
		second, err := fx.f.Start(fx.ctx, ch) // the same millisecond
		require.NoError(t, err)
		assert.NotEqual(t, parseOptions(t, first).PublicKey.Challenge, parseOptions(t, second).PublicKey.Challenge)
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, first, assertOpts{origin: "https://evil.test"})))
		require.ErrorIs(t, err, webauthn.ErrRejected)
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, first)))
		require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound, "the first ceremony took its one answer")
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, second)))
		require.NoError(t, err, "the second is untouched")
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
		require.ErrorIs(t, err, webauthn.ErrRejected, "another challenge's ceremony does not answer this one")
		_, err = fx.f.Verify(fx.ctx, other, string(k.get(t, opts)))
		require.NoError(t, err, "another challenge's ceremony is untouched")

		// Nor the same challenge named for another user.
		theirs := *ch
		theirs.User = twofactor.User{ID: "user-2"}
		opts, err = fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		_, err = fx.f.Verify(fx.ctx, &theirs, string(k.get(t, opts)))
		require.ErrorIs(t, err, webauthn.ErrRejected)
	})
	t.Run("expires with timeout", func(t *testing.T) {
		fx := newFixture(t, withConfig(func(c *webauthn.Config) { c.Timeout = time.Minute }))
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		assert.Equal(t, 60000, parseOptions(t, opts).PublicKey.Timeout)
		early, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		fx.clk.Advance(time.Minute - time.Millisecond)
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, early)))
		require.NoError(t, err, "a millisecond before its end")
		fx.clk.Advance(time.Millisecond)
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
		require.ErrorIs(t, err, webauthn.ErrCeremonyExpired)
		assert.ErrorIs(t, err, twofactor.ErrInvalidCode)
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
		_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
		require.ErrorIs(t, err, webauthn.ErrCeremonyExpired)
		_, err = fx.f.Start(fx.ctx, ch)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	})
	t.Run("cancel", func(t *testing.T) {
		// The ceremony keeps nothing to delete; the Service refuses every
		// answer to a cancelled challenge before the factor sees it.
		fx := newFixture(t)
		svc := newService(t, fx)
		k := newSoftKey(t, testRPID, testOrigin)
		fx.register(k, "key")
		b, err := svc.Begin(fx.ctx, fx.user, twofactor.Client{})
		require.NoError(t, err)
		opts, err := svc.Start(fx.ctx, b.Challenge.ID, twofactor.MethodWebAuthn)
		require.NoError(t, err)
		calls := fx.st.Calls.Load()
		require.NoError(t, fx.f.Cancel(fx.ctx, b.Challenge))
		assert.Equal(t, calls, fx.st.Calls.Load(), "nothing to delete")
		require.NoError(t, svc.Cancel(fx.ctx, b.Challenge.ID))
		_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts))})
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
		assert.True(t, fx.credentials()[0].LastUsedAt.IsZero())
	})
	t.Run("not enrolled", func(t *testing.T) {
		fx := newFixture(t)
		_, err := fx.f.Start(fx.ctx, fx.challenge())
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	})
}

func TestLoginBadInput(t *testing.T) {
	fx, k, ch, opts := startedLogin(t)
	var err error
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
			fx := newFixture(t, withConfig(func(c *webauthn.Config) {
				if tt.uv {
					c.UserVerification = webauthn.Required
				}
			}))
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
			_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
			if tt.name == "wrong challenge" {
				require.NoError(t, err, "an answer to no ceremony of this challenge spends none")
			} else {
				require.ErrorIs(t, err, webauthn.ErrCeremonyNotFound, "the ceremony took its one answer")
			}
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		fx, k, ch, opts := startedLogin(t)
		var err error
		var m map[string]any
		require.NoError(t, json.Unmarshal(k.get(t, opts), &m))
		other := newSoftKey(t, testRPID, testOrigin)
		var o map[string]any
		require.NoError(t, json.Unmarshal(other.get(t, opts), &o))
		m["response"].(map[string]any)["signature"] = o["response"].(map[string]any)["signature"]
		forged, _ := json.Marshal(m)
		_, err = fx.f.Verify(fx.ctx, ch, string(forged))
		require.ErrorIs(t, err, webauthn.ErrRejected)
		assert.True(t, fx.credentials()[0].LastUsedAt.IsZero())
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
	fx, k, ch, opts := startedLogin(t)
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
	assert.Len(t, fx.events(event.Warning), 63)
}

// A challenge too short to hold a ceremony (its end, nonce and keyed hash)
// is refused like any other that Start did not make, and spends nothing.
func TestLoginShortChallenge(t *testing.T) {
	fx, k, ch, opts := startedLogin(t)
	for _, n := range []int{1, 4, 8, 23, 24, 25} {
		calls := fx.st.Calls.Load()
		_, err := fx.f.Verify(fx.ctx, ch, string(k.get(t, opts, assertOpts{challenge: b64.EncodeToString(make([]byte, n))})))
		require.ErrorIs(t, err, webauthn.ErrRejected, "%d bytes", n)
		assert.Equal(t, calls, fx.st.Calls.Load(), "%d bytes: no store call", n)
	}
	_, err := fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
	require.NoError(t, err)
}
