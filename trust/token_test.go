package trust_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/trust"
)

// A cookie whose key id or signature has the right length but not the
// right form is refused before any cryptography and any store access:
// a key id with a character the keyring never uses, a signature whose
// last character carries bits beyond the 32 bytes (two spellings of one
// signature would let a cookie be altered and still verify).
func TestTokenKeyIDAndSignatureForm(t *testing.T) {
	e := newEnv(t, nil)
	c, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	tok := g.Token
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 4)
	id, kid, sig := parts[1], parts[2], parts[3]
	require.Len(t, sig, 43)
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	require.NoError(t, err)
	require.Len(t, raw, 32)

	// The same 32 bytes spelled with a non-zero padding bit: a decoder
	// that is not strict reads the same signature.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[42])
	loose := sig[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	same, err := base64.RawURLEncoding.DecodeString(loose)
	require.NoError(t, err)
	require.Equal(t, raw, same, "the test's premise: a lax decoder reads one signature")

	for name, bad := range map[string]string{
		"signature with padding bits": "v1." + id + "." + kid + "." + loose,
		"key id with a plus":          "v1." + id + ".k+1." + sig,
		"key id with a slash":         "v1." + id + ".k/1." + sig,
		"key id with a space":         "v1." + id + ".k 1." + sig,
		"key id non-ASCII":            "v1." + id + ".kï." + sig,
		"key id of one dot":           "v1." + id + ".." + sig[1:],
		"signature short by one":      "v1." + id + "." + kid + "." + sig[:42],
		"signature long by one":       "v1." + id + "." + kid + "." + sig + "A",
		"key id over 32":              "v1." + id + "." + strings.Repeat("k", 33) + "." + sig,
	} {
		t.Run(name, func(t *testing.T) {
			before := e.store.calls()
			tc := c
			tc.DeviceToken = bad
			assert.False(t, e.trusted(t, alice, tc))
			_, ok := e.m.DeviceID(alice.ID, bad)
			assert.False(t, ok)
			assert.Equal(t, before, e.store.calls(), "a malformed cookie cost a store call")
		})
	}
	assert.True(t, e.trusted(t, alice, c), "the real cookie still works")
}

// othersInList is a store whose ListDevices also answers another user's
// device, as a store with a broken index might: RevokeAll must revoke
// only the user's own.
type othersInList struct {
	*countingStore
	other store.Device
}

func (s othersInList) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	ds, err := s.countingStore.ListDevices(ctx, userID)
	return append(ds, s.other), err
}

func TestRevokeAllOnlyTheUsersDevices(t *testing.T) {
	e := newEnv(t, nil)
	e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	bob := alice
	bob.ID = "bob"
	g, err := e.m.Remember(context.Background(), bob, client("198.51.100.9", uaChromeLinux))
	require.NoError(t, err)
	bobs, err := e.mem.ListDevices(context.Background(), "bob")
	require.NoError(t, err)
	require.Len(t, bobs, 1)
	_, ok := e.m.DeviceID("bob", g.Token)
	require.True(t, ok)

	st := othersInList{countingStore: e.store, other: bobs[0]}
	m := e.manager(t, st, e.keys, trust.Config{})
	require.NoError(t, m.RevokeAll(context.Background(), "alice", ""))
	assert.Zero(t, e.deviceCount(t, "alice"))
	assert.Equal(t, 1, e.deviceCount(t, "bob"), "another user's device, listed by mistake, was revoked")
	for _, ev := range e.events.OfType(event.DeviceRevoked) {
		assert.Equal(t, "alice", ev.UserID)
	}
	require.Len(t, e.events.OfType(event.DeviceRevoked), 1)
}
