package webauthn_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/webauthn"
)

// TestCheckClaims: a Factor built with the RP ID the keys were registered
// under finds their claims; one built with another RP ID reports the
// credential by name and changes nothing, so the key is still claimed and
// still works; after RemoveAll through the right RP ID, the same key
// registers again.
func TestCheckClaims(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "YubiKey 5")
	require.NoError(t, fx.f.CheckClaims(fx.ctx, fx.user))

	other, err := webauthn.New(fx.env, webauthn.Config{RPID: "example.org", RPOrigins: []string{"https://example.org"}})
	require.NoError(t, err)
	err = other.CheckClaims(fx.ctx, fx.user)
	require.ErrorIs(t, err, webauthn.ErrClaimNotFound)
	assert.Contains(t, err.Error(), `"YubiKey 5"`)
	assert.Contains(t, err.Error(), `"example.org"`)
	require.NoError(t, fx.f.CheckClaims(fx.ctx, fx.user), "a check changes nothing")
	assert.Len(t, fx.credentials(), 1)

	// Removed through the wrong RP ID, the id would stay claimed: the
	// same key could not be registered again.
	require.NoError(t, other.RemoveAll(fx.ctx, fx.user))
	_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, fx.begin("again"))))
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)

	// No credentials: nothing to check.
	require.NoError(t, other.CheckClaims(fx.ctx, fx.user))

	assert.ErrorIs(t, fx.f.CheckClaims(fx.ctx, twofactor.User{}), twofactor.ErrInvalidInput)
}

// TestCheckClaimsThenRemoveAll: through the right RP ID, the check passes
// and RemoveAll frees the id, so the same key registers again.
func TestCheckClaimsThenRemoveAll(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "YubiKey 5")
	require.NoError(t, fx.f.CheckClaims(fx.ctx, fx.user))
	require.NoError(t, fx.f.RemoveAll(fx.ctx, fx.user))
	fx.register(k, "YubiKey 5 again")
	assert.Len(t, fx.credentials(), 1)
}
