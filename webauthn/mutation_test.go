package webauthn_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/webauthn"
)

// RemoveAll reports a credential it could not delete.
func TestRemoveAllReportsDeleteFailure(t *testing.T) {
	fx := newFixture(t)
	fx.register(newSoftKey(t, testRPID, testOrigin), "key")
	fx.st.Fail("DeleteEnrollment", errStore)
	require.ErrorIs(t, fx.f.RemoveAll(fx.ctx, fx.user), errStore)
	fx.st.Fail("DeleteEnrollment", nil)
	assert.Len(t, fx.credentials(), 1, "nothing was removed")
}

// residentKey reads the registration options' authenticator selection.
func residentKey(t *testing.T, raw []byte) (string, bool) {
	var o struct {
		PublicKey struct {
			AuthenticatorSelection struct {
				ResidentKey        string `json:"residentKey"`
				RequireResidentKey *bool  `json:"requireResidentKey"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	require.NoError(t, json.Unmarshal(raw, &o))
	sel := o.PublicKey.AuthenticatorSelection
	return sel.ResidentKey, sel.RequireResidentKey != nil && *sel.RequireResidentKey
}

// ResidentKey Required asks the authenticator for a discoverable
// credential; Preferred does not require one.
func TestResidentKeyOptions(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *webauthn.Config) { c.ResidentKey = webauthn.Required }))
	rk, required := residentKey(t, fx.begin("key"))
	assert.Equal(t, "required", rk)
	assert.True(t, required)

	fx = newFixture(t, withConfig(func(c *webauthn.Config) { c.ResidentKey = webauthn.Preferred }))
	rk, required = residentKey(t, fx.begin("key"))
	assert.Equal(t, "preferred", rk)
	assert.False(t, required)
}

// The name an authenticator shows for the account is the user's Name,
// else the Email, else the ID.
func TestRegistrationUserName(t *testing.T) {
	for _, tt := range []struct {
		user twofactor.User
		want string
	}{
		{twofactor.User{ID: "user-1", Name: "alice", Email: "alice@example.com"}, "alice"},
		{twofactor.User{ID: "user-1", Email: "alice@example.com"}, "alice@example.com"},
		{twofactor.User{ID: "user-1"}, "user-1"},
	} {
		fx := newFixture(t)
		fx.user = tt.user
		var o struct {
			PublicKey struct {
				User struct {
					Name        string `json:"name"`
					DisplayName string `json:"displayName"`
				} `json:"user"`
			} `json:"publicKey"`
		}
		require.NoError(t, json.Unmarshal(fx.begin("key"), &o))
		assert.Equal(t, tt.want, o.PublicKey.User.Name)
		assert.Equal(t, tt.want, o.PublicKey.User.DisplayName)
	}
}

// After a key rotation, a new registration keeps the user handle the
// user's credentials already carry: the handle is stored, not derived
// from a key.
func TestUserHandleKeptAcrossKeyRotation(t *testing.T) {
	k1, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	k2, err := keyring.GenerateKey("k2")
	require.NoError(t, err)
	ring := func(keys ...keyring.Key) *keyring.Ring {
		kr, err := keyring.New(keys...)
		require.NoError(t, err)
		return kr
	}
	fx := newFixture(t, func(env *twofactor.Env, _ *webauthn.Config) { env.Keys = ring(k1) })
	fx.register(newSoftKey(t, testRPID, testOrigin), "one")
	handle, err := fx.f.UserHandle(fx.ctx, fx.user.ID)
	require.NoError(t, err)
	require.Len(t, handle, 32)

	rotated := newFixture(t, func(env *twofactor.Env, _ *webauthn.Config) {
		env.Keys = ring(k2, k1)
		env.Store = fx.st
		env.Now = fx.clk.Now
	})
	again := rotated.begin("two")
	assert.Equal(t, b64.EncodeToString(handle), parseOptions(t, again).PublicKey.User.ID)
}

// A name of MaxNameLength characters (not bytes) is accepted; one more is
// not.
func TestRenameMaxNameLength(t *testing.T) {
	fx := newFixture(t)
	e := fx.register(newSoftKey(t, testRPID, testOrigin), "key")
	name := strings.Repeat("é", webauthn.MaxNameLength)
	require.NoError(t, fx.f.Rename(fx.ctx, fx.user, e.ID, name))
	assert.Equal(t, name, fx.credentials()[0].Name)
	require.ErrorIs(t, fx.f.Rename(fx.ctx, fx.user, e.ID, name+"é"), twofactor.ErrInvalidInput)
}

// A browser response may start with JSON whitespace of every kind.
func TestConfirmEnrollLeadingWhitespace(t *testing.T) {
	fx := newFixture(t)
	answer := newSoftKey(t, testRPID, testOrigin).create(t, fx.begin("key"))
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, " \t\r\n"+string(answer))
	require.NoError(t, err)
	assert.Len(t, fx.credentials(), 1)
}

// A registration response of exactly MaxAttestationSize bytes is read;
// one byte more is refused before parsing.
func TestConfirmEnrollMaxSize(t *testing.T) {
	fx := newFixture(t)
	answer := string(newSoftKey(t, testRPID, testOrigin).create(t, fx.begin("key")))
	padded := strings.Repeat(" ", webauthn.MaxAttestationSize-len(answer)) + answer
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, " "+padded)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, padded)
	require.NoError(t, err)
	assert.Len(t, fx.credentials(), 1)
}
