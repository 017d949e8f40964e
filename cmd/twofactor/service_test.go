package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// TestAdminBuildsNoDelivery: the commands' Service has the factors they
// call and that send nothing. SMS and email are read from their records;
// security keys too, unless the command has the RP ID: then through the
// WebAuthn factor, which frees their claims on removal.
func TestAdminBuildsNoDelivery(t *testing.T) {
	r, err := parseRing(newKey(t, "k1").Encode(), "test")
	require.NoError(t, err)
	a, err := newAdmin(store.NewMemory(), r, io.Discard, 0, "")
	require.NoError(t, err)
	for _, m := range []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodBackupCode} {
		_, ok := a.svc.Factor(m)
		assert.True(t, ok, "%s", m)
	}
	for _, m := range []twofactor.Method{twofactor.MethodSMS, twofactor.MethodEmail, twofactor.MethodWebAuthn} {
		_, ok := a.svc.Factor(m)
		assert.False(t, ok, "%s", m)
	}
	assert.NotNil(t, a.totp)
	assert.NotNil(t, a.backup)
	assert.NotNil(t, a.devices)
	assert.Nil(t, a.webauthn)

	a, err = newAdmin(store.NewMemory(), r, io.Discard, 0, "example.com")
	require.NoError(t, err)
	_, ok := a.svc.Factor(twofactor.MethodWebAuthn)
	assert.True(t, ok)
	assert.NotNil(t, a.webauthn)
}
