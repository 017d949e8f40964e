package onetime

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// NewRecords re-seals a channel's records with an Env alone, as the
// channel's Issuer does, and checks the Env as New does.
func TestNewRecords(t *testing.T) {
	ctx := context.Background()
	key := func(id string) keyring.Key {
		k, err := keyring.GenerateKey(id)
		require.NoError(t, err)
		return k
	}
	ring := func(keys ...keyring.Key) *keyring.Ring {
		kr, err := keyring.New(keys...)
		require.NoError(t, err)
		return kr
	}
	k1, k2 := key("k1"), key("k2")
	e := newEnv(t, func(s *setup) { s.Keys = ring(k1) })
	ad := []byte("test number\x00u1")
	sealed, err := ring(k1).Seal([]byte("+14155550112"), ad)
	require.NoError(t, err)
	require.NoError(t, e.store.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "phone", Method: "test",
		Label: "+1 *** *** **12", Data: []byte("head " + sealed), CreatedAt: t0}))
	layout := func(rec store.EnrollmentRecord) (string, string, []byte, bool) {
		return "head ", string(rec.Data[len("head "):]), ad, rec.Method == "test"
	}

	r, err := NewRecords("test", "test", twofactor.Env{Store: e.store, Keys: ring(k2, k1), Now: e.clock.Now})
	require.NoError(t, err)
	n, err := r.Rekey(ctx, "u1", "phone", layout)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = r.Rekey(ctx, "u1", "phone", layout)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to do")
	rec, err := e.store.GetEnrollment(ctx, "u1", "phone")
	require.NoError(t, err)
	plain, err := ring(k2).Open(string(rec.Data[len("head "):]), ad)
	require.NoError(t, err, "only the new key opens it")
	assert.Equal(t, "+14155550112", string(plain))
	_, err = r.Rekey(ctx, "", "phone", layout)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	// The Issuer's removal, marked, is seen by Records of the channel.
	require.NoError(t, e.is.DeleteEnrollment(ctx, "u1", "phone"))
	removed, err := r.removal(ctx, "u1", "phone")
	require.NoError(t, err)
	assert.Contains(t, removed, "removed ")

	_, err = NewRecords("test", "test", twofactor.Env{Store: e.store})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = NewRecords("test", "", twofactor.Env{Store: e.store, Keys: ring(k1)})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = NewRecords("test", "test", twofactor.Env{Store: struct{ twofactor.Store }{e.store}, Keys: ring(k1)})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Codes")
}
