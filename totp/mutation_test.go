package totp

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// The bounds of Params are inclusive: 6 and 8 digits, periods of 1 s and
// MaxPeriod.
func TestParamsCheckBounds(t *testing.T) {
	for _, p := range []Params{
		{Algorithm: SHA1, Digits: MinDigits, Period: 30},
		{Algorithm: SHA256, Digits: MaxDigits, Period: 30},
		{Algorithm: SHA512, Digits: 6, Period: 1},
		{Algorithm: SHA1, Digits: 6, Period: MaxPeriod},
	} {
		assert.NoError(t, p.Check(), "%+v", p)
	}
}

// A code padded with spaces to exactly maxCodeInput bytes is read; one
// byte more is refused.
func TestParseCodeMaxInput(t *testing.T) {
	code := strings.Repeat(" ", maxCodeInput-6) + "123456"
	v, err := ParseCode(code, 6)
	assert.NoError(t, err)
	assert.Equal(t, uint32(123456), v)
	_, err = ParseCode(" "+code, 6)
	assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// When the codes of two steps of the window are equal, the earlier step
// wins (the order is 0, -1, +1, ...): the key below was searched for a
// code shared by the steps either side of now.
func TestMatchTieGoesToEarlierStep(t *testing.T) {
	key, err := hex.DecodeString("74776f666163746f722074696520736500035417")
	require.NoError(t, err)
	p := Params{Algorithm: SHA1, Digits: 6, Period: 30}
	now := time.Unix(59_000_000*30, 0)
	require.Equal(t, uint32(820731), value(SHA1, 6, key, 59_000_000-1))
	require.Equal(t, uint32(820731), value(SHA1, 6, key, 59_000_000+1))
	step, offset, ok, err := p.Match(key, "820731", now, 1)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, -1, offset)
	assert.Equal(t, int64(59_000_000-1), step)
}

// The largest skew allowed is MaxSkew.
func TestMatchMaxSkew(t *testing.T) {
	_, _, _, err := DefaultParams.Match(make([]byte, 20), "123456", time.Unix(0, 0), MaxSkew)
	require.NoError(t, err)
	_, _, _, err = DefaultParams.Match(make([]byte, 20), "123456", time.Unix(0, 0), MaxSkew+1)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// The bounds of Config are inclusive: each limit itself is accepted.
func TestConfigBounds(t *testing.T) {
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := keyring.New(k)
	require.NoError(t, err)
	env := twofactor.Env{Store: store.NewMemory(), Keys: kr}
	for _, cfg := range []Config{
		{Period: time.Second}, {Period: MaxPeriod * time.Second},
		{Skew: MaxSkew},
		{SecretSize: 16}, {SecretSize: 64},
		{PendingTTL: time.Minute}, {PendingTTL: 24 * time.Hour},
		{QRSize: 64}, {QRSize: 1024},
	} {
		cfg.Issuer = "Acme"
		_, err := New(env, cfg)
		assert.NoError(t, err, "%+v", cfg)
	}
	for _, cfg := range []Config{
		{Period: time.Second / 2}, {Period: (MaxPeriod + 1) * time.Second},
		{Skew: MaxSkew + 1},
		{SecretSize: 15}, {SecretSize: 65},
		{PendingTTL: time.Minute - time.Second}, {PendingTTL: 24*time.Hour + time.Second},
		{QRSize: 63}, {QRSize: 1025},
	} {
		cfg.Issuer = "Acme"
		_, err := New(env, cfg)
		assert.ErrorIs(t, err, twofactor.ErrConfig, "%+v", cfg)
	}
	f, err := New(env, Config{Issuer: "Acme", Period: time.Second})
	require.NoError(t, err)
	assert.Equal(t, 1, f.params.Period)
}

// DecodeSecret's bounds are inclusive: MinSecretSize and MaxSecretSize
// bytes decode, one byte less or more does not; a typed secret may carry
// spaces up to twice the length of the longest.
func TestDecodeSecretBounds(t *testing.T) {
	for _, n := range []int{MinSecretSize, MaxSecretSize} {
		b, err := DecodeSecret(EncodeSecret(make([]byte, n)))
		require.NoError(t, err, n)
		assert.Len(t, b, n)
	}
	for _, n := range []int{MinSecretSize - 1, MaxSecretSize + 1} {
		_, err := DecodeSecret(EncodeSecret(make([]byte, n)))
		assert.ErrorIs(t, err, twofactor.ErrInvalidInput, n)
	}
	longest := EncodeSecret(make([]byte, MaxSecretSize))
	limit := 2 * MaxSecretSize * 8 / 5
	spaced := longest + strings.Repeat(" ", limit-len(longest))
	b, err := DecodeSecret(spaced)
	require.NoError(t, err)
	assert.Len(t, b, MaxSecretSize)
	_, err = DecodeSecret(spaced + " ")
	assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// Letters and digits are written as they are, their neighbours escaped.
func TestEscapeBounds(t *testing.T) {
	assert.Equal(t, "azAZ09-._~@", escape("azAZ09-._~@"))
	assert.Equal(t, "%60%7B%3F%5B%2F%3A%20", escape("`{?[/: "))
}

// ParseURI's bounds are inclusive: a period of 1 s and of MaxPeriod, a URI
// of maxURI bytes.
func TestParseURIBounds(t *testing.T) {
	const base = "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme"
	for _, p := range []int{1, MaxPeriod} {
		k, err := ParseURI(base + "&period=" + strconv.Itoa(p))
		require.NoError(t, err, p)
		assert.Equal(t, p, k.Period)
	}
	for _, p := range []int{0, MaxPeriod + 1} {
		_, err := ParseURI(base + "&period=" + strconv.Itoa(p))
		assert.ErrorIs(t, err, twofactor.ErrInvalidInput, p)
	}
	const prefix, suffix = "otpauth://totp/Acme:", "?secret=JBSWY3DPEHPK3PXP&issuer=Acme"
	long := prefix + strings.Repeat("a", maxURI-len(prefix)-len(suffix)) + suffix
	require.Len(t, long, maxURI)
	_, err := ParseURI(long)
	require.NoError(t, err)
	_, err = ParseURI(prefix + "a" + long[len(prefix):])
	assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// An escaped separator at the very start of the label is a separator: no
// issuer, the rest is the account.
func TestSplitLabelEscapedSeparatorFirst(t *testing.T) {
	issuer, account := splitLabel("/%3Aalice", "")
	assert.Empty(t, issuer)
	assert.Equal(t, "alice", account)
}
