package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
)

func TestDevices(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		a.enrollTOTP("ann")
		a.trustDevice("ann")
		a.trustDevice("ann")
		c := newCLI(t, b, k)

		r := c.run("devices", "ann")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Equal(t, 2, strings.Count(r.stdout, "Firefox on Linux"), r.stdout)
		assert.Contains(t, r.stdout, "LAST SEEN")

		r = c.run("devices", "ann", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got userDevices
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, "ann", got.User)
		require.Len(t, got.TrustedDevices, 2)
		for _, d := range got.TrustedDevices {
			assert.NotEmpty(t, d.ID)
			assert.Equal(t, "203.0.113.0/24", d.IP)
			assert.True(t, d.ExpiresAt.After(d.CreatedAt))
		}

		r = c.run("devices", "bob")
		assert.Equal(t, 1, r.status)
		assert.Equal(t, "trusted devices: none\n", r.stdout)
		assert.Equal(t, "twofactor devices: user \"bob\" has no trusted device\n", r.stderr)
		r = c.run("devices", "bob", "--json")
		assert.Equal(t, 1, r.status)
		assert.JSONEq(t, `{"user":"bob","trusted_devices":[]}`, r.stdout)
	})
}

func TestRevokeDevices(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		a.enrollTOTP("ann")
		first := a.trustDevice("ann")
		second := a.trustDevice("ann")
		ids := map[string]string{}
		for _, tok := range []string{first, second} {
			id, ok := a.devices.DeviceID("ann", tok)
			require.True(t, ok)
			ids[tok] = id
		}
		c := newCLI(t, b, k)
		trusted := func(tok string) bool {
			ok, err := a.devices.Trusted(ctx, twofactor.User{ID: "ann"}, twofactor.Client{
				IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
				DeviceToken: tok,
			})
			require.NoError(t, err)
			return ok
		}
		require.True(t, trusted(first))
		before := a.snapshot("ann")

		// Refused: no actor; a device that is not one of the user's.
		r := c.run("revoke-devices", "ann")
		assert.Equal(t, 2, r.status)
		assert.Equal(t, "twofactor revoke-devices: --actor is required\n", r.stderr)
		r = c.run("revoke-devices", "ann", "--actor", "alice", "--device", "AAAAAAAAAAAAAAAAAAAAAA")
		assert.Equal(t, 1, r.status)
		assert.Contains(t, r.errLines(), `user "ann" has no trusted device "AAAAAAAAAAAAAAAAAAAAAA"`)
		assert.Empty(t, r.events(t))
		r = c.run("revoke-devices", "bob", "--actor", "alice", "--device", ids[first])
		assert.Equal(t, 1, r.status, "another user's device")
		assert.Equal(t, before, a.snapshot("ann"))

		// One device.
		r = c.run("revoke-devices", "ann", "--actor", "alice", "--device", ids[first])
		require.Equal(t, 0, r.status, r.stderr)
		assert.Contains(t, r.stdout, "revoked 1 trusted device of user ann:")
		assert.Contains(t, r.stdout, ids[first])
		assert.NotContains(t, r.stdout, ids[second])
		ev := r.event(t, "device.revoked", "ann")
		require.NotNil(t, ev, r.stderr)
		ev = r.event(t, "admin.action", "ann")
		require.NotNil(t, ev, r.stderr)
		assert.Equal(t, "alice", ev["actor"])
		assert.Equal(t, "revoke_devices", ev["action"])
		assert.Equal(t, float64(1), ev["count"])
		assert.Equal(t, ids[first], ev["device"])
		assert.False(t, trusted(first))
		assert.True(t, trusted(second))

		// All the rest.
		r = c.run("revoke-devices", "ann", "--actor", "alice", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got revoked
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		require.Len(t, got.Revoked, 1)
		assert.Equal(t, ids[second], got.Revoked[0].ID)
		ev = r.event(t, "admin.action", "ann")
		require.NotNil(t, ev, r.stderr)
		assert.Equal(t, "revoke_devices", ev["action"])
		assert.Equal(t, float64(1), ev["count"])
		assert.NotContains(t, ev, "device", "all of them")
		assert.False(t, trusted(second))

		r = c.run("revoke-devices", "ann", "--actor", "alice")
		assert.Equal(t, 1, r.status)
		assert.Equal(t, "twofactor revoke-devices: user \"ann\" has no trusted device: nothing to revoke\n", r.stderr)
		after := a.snapshot("ann")
		assert.Empty(t, after.Devices)
		assert.Equal(t, before.Enrollments, after.Enrollments, "factors are kept")
	})
}
