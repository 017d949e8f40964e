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
// call and that send nothing; SMS, email and security keys are read from
// their records.
func TestAdminBuildsNoDelivery(t *testing.T) {
	r, err := parseRing(newKey(t, "k1").Encode(), "test")
	require.NoError(t, err)
	a, err := newAdmin(store.NewMemory(), r, io.Discard, 0)
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
}
