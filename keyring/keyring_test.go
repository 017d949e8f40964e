package keyring_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/keyring"
)

func twoKeys(t testing.TB) (a, b keyring.Key) {
	a, err := keyring.GenerateKey("2026-01")
	require.NoError(t, err)
	b, err = keyring.GenerateKey("2026-06")
	require.NoError(t, err)
	return a, b
}

func TestKeyEncodeParse(t *testing.T) {
	k, _ := twoKeys(t)
	got, err := keyring.ParseKey(k.Encode())
	require.NoError(t, err)
	assert.Equal(t, k, got)
	assert.NotContains(t, k.String(), k.Encode()[len(k.ID)+1:], "String must not reveal the secret")

	for _, bad := range []string{"", "nocolon", ":AAAA", "id:", "id:!!!!", "id:AAAA", "bad id:" + strings.Repeat("A", 43), strings.Repeat("x", 33) + ":" + strings.Repeat("A", 43)} {
		_, err := keyring.ParseKey(bad)
		require.ErrorIs(t, err, keyring.ErrInvalidKey, "%q", bad)
	}
	_, err = keyring.GenerateKey("")
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
}

// A key id is 1 to 32 characters of [A-Za-z0-9._-]: it goes into
// hashes, signatures and sealed values, before a separator.
func TestKeyIDAlphabet(t *testing.T) {
	for _, id := range []string{"a", "z", "A", "Z", "0", "9", ".", "_", "-", "2026-01_k.v2", strings.Repeat("k", 32)} {
		_, err := keyring.GenerateKey(id)
		require.NoError(t, err, "%q", id)
	}
	for _, id := range []string{"", strings.Repeat("k", 33), "`", "{", "@", "[", "/", ":", " ", "\x00", "é", "a:b", "a b"} {
		_, err := keyring.GenerateKey(id)
		require.ErrorIs(t, err, keyring.ErrInvalidKey, "%q", id)
	}
}

func TestNewKeyringValidates(t *testing.T) {
	a, _ := twoKeys(t)
	_, err := keyring.New()
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	_, err = keyring.New(a, a)
	require.ErrorIs(t, err, keyring.ErrInvalidKey, "duplicate id")
	_, err = keyring.New(keyring.Key{ID: "short", Secret: []byte("x")})
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
}

func TestKeyringHash(t *testing.T) {
	a, b := twoKeys(t)
	ra, err := keyring.New(a)
	require.NoError(t, err)
	rba, err := keyring.New(b, a)
	require.NoError(t, err)

	h := ra.Hash("codes", []byte("123456"))
	assert.True(t, bytes.HasPrefix(h, []byte("2026-01\x00")), "hash names its key")
	assert.Equal(t, h, ra.Hash("codes", []byte("123456")), "deterministic")
	assert.NotEqual(t, h, ra.Hash("other", []byte("123456")), "domains separate")
	assert.NotEqual(t, h, ra.Hash("codes", []byte("123457")))
	assert.NotContains(t, string(h), "123456")

	assert.True(t, ra.MatchHash("codes", []byte("123456"), h))
	assert.True(t, rba.MatchHash("codes", []byte("123456"), h), "old key still matches after rotation")
	assert.False(t, rba.MatchHash("codes", []byte("654321"), h))
	assert.False(t, rba.MatchHash("other", []byte("123456"), h))
	rb, _ := keyring.New(b)
	assert.False(t, rb.MatchHash("codes", []byte("123456"), h), "a retired key no longer matches")
	assert.False(t, ra.MatchHash("codes", []byte("123456"), nil))

	all := rba.HashAll("codes", []byte("123456"))
	require.Len(t, all, 2)
	assert.Equal(t, rba.Hash("codes", []byte("123456")), all[0], "current key first")
	assert.Equal(t, h, all[1])
	assert.Equal(t, all[1:], rba.HashEarlier("codes", []byte("123456")), "the earlier keys'")
	assert.Empty(t, ra.HashEarlier("codes", []byte("123456")), "a ring of one key has no earlier key")
}

func TestKeyringSign(t *testing.T) {
	a, b := twoKeys(t)
	ra, _ := keyring.New(a)
	rba, _ := keyring.New(b, a)
	kid, sig := ra.Sign("cookie", []byte("device-1"))
	assert.Equal(t, "2026-01", kid)
	assert.True(t, rba.Verify("cookie", kid, []byte("device-1"), sig))
	assert.False(t, rba.Verify("cookie", kid, []byte("device-2"), sig))
	assert.False(t, rba.Verify("other", kid, []byte("device-1"), sig))
	assert.False(t, rba.Verify("cookie", "2026-06", []byte("device-1"), sig), "wrong key id")
	assert.False(t, rba.Verify("cookie", "unknown", []byte("device-1"), sig))
	assert.False(t, rba.Verify("cookie", kid, []byte("device-1"), sig[:31]))
}

func TestKeyringSealOpenRotate(t *testing.T) {
	a, b := twoKeys(t)
	ra, _ := keyring.New(a)
	rba, _ := keyring.New(b, a)
	secret := []byte("JBSWY3DPEHPK3PXP")
	ad := []byte("user-1/totp")

	sealed, err := ra.Seal(secret, ad)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(sealed, "v1:2026-01:"))
	assert.NotContains(t, sealed, string(secret))
	again, _ := ra.Seal(secret, ad)
	assert.NotEqual(t, sealed, again, "random nonce")
	empty, err := ra.Seal(nil, ad)
	require.NoError(t, err)
	pt, err := ra.Open(empty, ad)
	require.NoError(t, err, "an empty plaintext: the nonce and the tag alone")
	assert.Empty(t, pt)

	pt, err = rba.Open(sealed, ad)
	require.NoError(t, err, "old key opens after rotation")
	assert.Equal(t, secret, pt)
	_, err = rba.Open(sealed, []byte("user-2/totp"))
	require.ErrorIs(t, err, keyring.ErrInvalidKey, "bound to its additional data")

	assert.False(t, rba.SealedWithCurrent(sealed))
	resealed, changed, err := rba.Reseal(sealed, ad)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.True(t, strings.HasPrefix(resealed, "v1:2026-06:"))
	rb, _ := keyring.New(b)
	pt, err = rb.Open(resealed, ad)
	require.NoError(t, err, "resealed value opens without the old key")
	assert.Equal(t, secret, pt)
	same, changed, err := rb.Reseal(resealed, ad)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, resealed, same)

	for i := range len(sealed) {
		bad := []byte(sealed)
		bad[i] ^= 0x01
		_, err := rba.Open(string(bad), ad)
		require.ErrorIs(t, err, keyring.ErrInvalidKey, "flipped byte %d", i)
	}
	for _, bad := range []string{"", "v1:", "v1:2026-01", "v1:nokey:AAAA", "v2:2026-01:AAAA", "v1:2026-01:AAAA", "v1:2026-01:***"} {
		_, err := rba.Open(bad, ad)
		require.ErrorIs(t, err, keyring.ErrInvalidKey, "%q", bad)
	}
}
