package trust_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
)

func TestNewValidates(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: testKeyring(t, testKey(t, "k1"))}
	tests := []struct {
		name string
		cfg  trust.Config
		want string
	}{
		{"duration over max", trust.Config{Duration: 91 * trust.Day}, "MaxDuration"},
		{"duration too short", trust.Config{Duration: time.Second}, "too short"},
		{"negative duration", trust.Config{Duration: -time.Hour}, "too short"},
		{"max over ceiling", trust.Config{MaxDuration: 401 * trust.Day}, "400 days"},
		{"max negative", trust.Config{MaxDuration: -1}, "MaxDuration"},
		{"session lifetime over max", trust.Config{MaxDuration: trust.Week, Duration: trust.Day, SessionLifetime: 8 * trust.Day}, "SessionLifetime"},
		{"session lifetime tiny", trust.Config{SessionLifetime: time.Second}, "SessionLifetime"},
		{"ip binding", trust.Config{IPBinding: 9}, "IPBinding"},
		{"ua binding", trust.Config{UABinding: -1}, "UABinding"},
		{"v4 bits", trust.Config{IPv4PrefixLen: 33}, "IPv4PrefixLen"},
		{"v6 bits", trust.Config{IPv6PrefixLen: -1}, "IPv6PrefixLen"},
		{"proxy header", trust.Config{ProxyHeader: 5}, "ProxyHeader"},
		{"cookie name", trust.Config{CookieName: "bad name;"}, "CookieName"},
		{"proxy prefix", trust.Config{TrustedProxies: []netip.Prefix{{}}}, "TrustedProxies[0]"},
		{"mapped prefix", trust.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/64")}}, "TrustedProxies[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := trust.New(env, tt.cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "trust: ")
		})
	}

	t.Run("defaults", func(t *testing.T) {
		m, err := trust.New(env, trust.Config{})
		require.NoError(t, err)
		assert.Equal(t, trust.Month, m.Duration())
		assert.Equal(t, 30*24*time.Hour, m.Duration())
		assert.Equal(t, "__Host-tf_device", m.CookieName())
	})
	t.Run("presets", func(t *testing.T) {
		for _, d := range []time.Duration{trust.SessionOnly, trust.Day, trust.Week, trust.Month, trust.Quarter, 45 * time.Minute} {
			m, err := trust.New(env, trust.Config{Duration: d})
			require.NoError(t, err, d)
			assert.Equal(t, d, m.Duration())
		}
		_, err := trust.New(env, trust.Config{Duration: 180 * trust.Day, MaxDuration: 180 * trust.Day})
		require.NoError(t, err)
	})
}

func TestRememberThenTrusted(t *testing.T) {
	e := newEnv(t, nil)
	c, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	assert.Equal(t, t0.Add(trust.Month), g.ExpiresAt)
	assert.True(t, strings.HasPrefix(g.Token, "v1."), g.Token)

	reads := e.store.gets.Load()
	assert.True(t, e.trusted(t, alice, c))
	assert.Equal(t, reads+1, e.store.gets.Load(), "a check is one store read")

	ds, err := e.m.List(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, ds, 1)
	d := ds[0]
	assert.Equal(t, "Firefox on Linux", d.Label)
	assert.Equal(t, "203.0.113.0/24", d.IP)
	assert.Equal(t, "f:Firefox/Linux", d.UserAgent)
	assert.Equal(t, t0, d.CreatedAt)
	assert.Equal(t, t0, d.LastSeenAt)
	assert.Equal(t, t0.Add(trust.Month), d.ExpiresAt)
	assert.NotContains(t, g.Token, "alice")
	assert.Contains(t, g.Token, d.ID)

	id, ok := e.m.DeviceID("alice", g.Token)
	assert.True(t, ok)
	assert.Equal(t, d.ID, id)
	_, ok = e.m.DeviceID("bob", g.Token)
	assert.False(t, ok)

	ev := e.events.OfType(event.DeviceRemembered)
	require.Len(t, ev, 1)
	assert.Equal(t, "alice", ev[0].UserID)
	assert.Equal(t, "203.0.113.7", ev[0].IP)
	assert.Equal(t, uaFirefoxLinux, ev[0].UserAgent)
	assert.Equal(t, "Firefox on Linux", ev[0].Label)
	assert.Equal(t, t0.Add(trust.Month), ev[0].Until)
	assert.Equal(t, d.ID[:8], ev[0].Details["device"])
	assert.Equal(t, "network", ev[0].Details["ip_bind"])
	assert.Equal(t, "family", ev[0].Details["ua_bind"])
	assert.NotContains(t, ev[0].Details, "session")
	for _, v := range ev[0].Details {
		assert.NotContains(t, v, d.ID, "events carry a device reference, never the whole id")
	}
}

func TestIPBinding(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*trust.Config)
		from    string // address at Remember
		bound   string // what the record holds
		checks  map[string]bool
		revoked event.Reason // reason when not trusted
	}{
		{"network v4 default", nil, "203.0.113.7", "203.0.113.0/24", map[string]bool{
			"203.0.113.7": true, "203.0.113.200": true, "::ffff:203.0.113.9": true,
			"203.0.114.7": false, "198.51.100.7": false, "2001:db8::1": false, "": false,
		}, trust.ReasonIPChanged},
		{"network v6 default", nil, "2001:db8:1:2::10", "2001:db8:1:2::/64", map[string]bool{
			"2001:db8:1:2::10": true, "2001:db8:1:2:ffff::1": true,
			"2001:db8:1:3::10": false, "203.0.113.7": false,
		}, trust.ReasonIPChanged},
		{"network custom sizes", func(c *trust.Config) { c.IPv4PrefixLen = 16; c.IPv6PrefixLen = 48 }, "203.0.113.7", "203.0.0.0/16", map[string]bool{
			"203.0.200.1": true, "203.1.113.7": false,
		}, trust.ReasonIPChanged},
		{"network custom v6", func(c *trust.Config) { c.IPv6PrefixLen = 48 }, "2001:db8:1:2::10", "2001:db8:1::/48", map[string]bool{
			"2001:db8:1:ff::1": true, "2001:db8:2::1": false,
		}, trust.ReasonIPChanged},
		{"exact", func(c *trust.Config) { c.IPBinding = trust.IPExact }, "203.0.113.7", "203.0.113.7", map[string]bool{
			"203.0.113.7": true, "::ffff:203.0.113.7": true, "203.0.113.8": false, "": false,
		}, trust.ReasonIPChanged},
		{"exact v6", func(c *trust.Config) { c.IPBinding = trust.IPExact }, "2001:db8::1", "2001:db8::1", map[string]bool{
			"2001:db8::1": true, "2001:db8::2": false,
		}, trust.ReasonIPChanged},
		{"none", func(c *trust.Config) { c.IPBinding = trust.IPNone }, "203.0.113.7", "", map[string]bool{
			"203.0.113.7": true, "198.51.100.1": true, "2001:db8::1": true, "": true,
		}, ""},
	}
	for _, tt := range tests {
		for to, want := range tt.checks {
			t.Run(tt.name+"/"+to, func(t *testing.T) {
				e := newEnv(t, tt.edit)
				c, _ := e.remember(t, client(tt.from, uaFirefoxLinux))
				ds, _ := e.m.List(context.Background(), "alice")
				require.Len(t, ds, 1)
				assert.Equal(t, tt.bound, ds[0].IP)

				moved := client(to, uaFirefoxLinux)
				moved.DeviceToken = c.DeviceToken
				assert.Equal(t, want, e.trusted(t, alice, moved))
				if want {
					assert.Equal(t, 1, e.deviceCount(t, "alice"))
					assert.Empty(t, e.events.OfType(event.DeviceRevoked))
					return
				}
				assert.Equal(t, 0, e.deviceCount(t, "alice"), "a device whose environment changed is revoked")
				assert.Equal(t, []event.Reason{tt.revoked}, e.events.Reasons(event.DeviceRevoked))
				ev := e.events.OfType(event.DeviceRevoked)[0]
				assert.Equal(t, "Firefox on Linux", ev.Label)
				assert.Equal(t, uaFirefoxLinux, ev.UserAgent)
				assert.Equal(t, to, ev.IP)
				// Back on the original network it stays untrusted.
				assert.False(t, e.trusted(t, alice, c))
			})
		}
	}
}

func TestRememberNeedsIPWhenBound(t *testing.T) {
	for _, b := range []trust.IPBinding{trust.IPNetwork, trust.IPExact} {
		t.Run(b.String(), func(t *testing.T) {
			e := newEnv(t, func(c *trust.Config) { c.IPBinding = b })
			_, err := e.m.Remember(context.Background(), alice, client("", uaFirefoxLinux))
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.Equal(t, int64(0), e.store.calls(), "bad input changes no state")
		})
	}
}

func TestUABinding(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*trust.Config)
		checks map[string]bool
	}{
		{"family default", nil, map[string]bool{
			uaFirefoxLinux: true, uaFirefoxLinux2: true, uaChromeLinux: false, uaFirefoxWin: false, "": false,
		}},
		{"exact", func(c *trust.Config) { c.UABinding = trust.UAExact }, map[string]bool{
			uaFirefoxLinux: true, uaFirefoxLinux2: false, uaChromeLinux: false, uaFirefoxLinux + " ": false,
		}},
		{"none", func(c *trust.Config) { c.UABinding = trust.UANone }, map[string]bool{
			uaFirefoxLinux: true, uaChromeLinux: true, uaFirefoxWin: true, "": true,
		}},
	}
	for _, tt := range tests {
		i := 0
		for ua, want := range tt.checks {
			i++
			t.Run(fmt.Sprintf("%s/%d", tt.name, i), func(t *testing.T) {
				e := newEnv(t, tt.edit)
				c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
				ds, _ := e.m.List(context.Background(), "alice")
				require.Len(t, ds, 1)
				assert.NotContains(t, ds[0].UserAgent, "Mozilla", "the raw user agent is not stored")

				other := client("203.0.113.7", ua)
				other.DeviceToken = c.DeviceToken
				assert.Equal(t, want, e.trusted(t, alice, other), ua)
				if want {
					assert.Equal(t, 1, e.deviceCount(t, "alice"))
					return
				}
				assert.Equal(t, 0, e.deviceCount(t, "alice"))
				assert.Equal(t, []event.Reason{trust.ReasonBrowserChanged}, e.events.Reasons(event.DeviceRevoked))
			})
		}
	}
}

func TestDurations(t *testing.T) {
	for _, d := range []time.Duration{trust.Day, trust.Week, trust.Month, trust.Quarter, 2 * time.Hour, 45 * trust.Day} {
		t.Run(d.String(), func(t *testing.T) {
			e := newEnv(t, func(c *trust.Config) { c.Duration = d })
			c, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
			assert.Equal(t, t0.Add(d), g.ExpiresAt)

			e.clock.Advance(d - time.Second)
			assert.True(t, e.trusted(t, alice, c), "trusted until the last second")
			e.clock.Advance(time.Second)
			assert.False(t, e.trusted(t, alice, c), "not trusted once the duration is over")
			assert.Equal(t, 0, e.deviceCount(t, "alice"))
		})
	}

	t.Run("session only", func(t *testing.T) {
		e := newEnv(t, func(c *trust.Config) { c.Duration = trust.SessionOnly })
		c, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		assert.True(t, g.ExpiresAt.IsZero(), "a session grant has no expiry for the cookie")
		ds, _ := e.m.List(context.Background(), "alice")
		require.Len(t, ds, 1)
		assert.Equal(t, t0.Add(trust.DefaultSessionLifetime), ds[0].ExpiresAt, "the record still expires")
		ev := e.events.OfType(event.DeviceRemembered)
		require.Len(t, ev, 1)
		assert.Equal(t, ds[0].ExpiresAt, ev[0].Until, "the event says when the record ends")
		assert.Equal(t, "true", ev[0].Details["session"])
		e.clock.Advance(trust.DefaultSessionLifetime - time.Second)
		assert.True(t, e.trusted(t, alice, c))
		e.clock.Advance(time.Second)
		assert.False(t, e.trusted(t, alice, c))
	})

	t.Run("session lifetime configured", func(t *testing.T) {
		e := newEnv(t, func(c *trust.Config) { c.Duration = trust.SessionOnly; c.SessionLifetime = 8 * time.Hour })
		c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		e.clock.Advance(8*time.Hour - time.Second)
		assert.True(t, e.trusted(t, alice, c))
		e.clock.Advance(time.Second)
		assert.False(t, e.trusted(t, alice, c))
	})

	t.Run("remember for", func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		for _, d := range []time.Duration{trust.Day, trust.Week, trust.Quarter} {
			g, err := e.m.RememberFor(ctx, alice, client("203.0.113.7", uaFirefoxLinux), d)
			require.NoError(t, err)
			assert.Equal(t, t0.Add(d), g.ExpiresAt)
		}
		g, err := e.m.RememberFor(ctx, alice, client("203.0.113.7", uaFirefoxLinux), trust.SessionOnly)
		require.NoError(t, err)
		assert.True(t, g.ExpiresAt.IsZero())

		before := e.store.calls()
		for _, d := range []time.Duration{0, time.Second, -2, trust.Quarter + time.Second, 400 * trust.Day} {
			_, err := e.m.RememberFor(ctx, alice, client("203.0.113.7", uaFirefoxLinux), d)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput, d)
		}
		for _, u := range []twofactor.User{{}, {ID: strings.Repeat("x", 256)}} {
			_, err := e.m.Remember(ctx, u, client("203.0.113.7", uaFirefoxLinux))
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
		}
		assert.Equal(t, before, e.store.calls(), "bad input changes no state")
	})
}

// A store whose clock is behind the manager's still returns an expired
// record; the manager then revokes it itself with reason "expired".
func TestExpiredRecordRevoked(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	lagging := store.NewMemory(func() time.Time { return t0 })
	ds, _ := e.mem.ListDevices(context.Background(), "alice")
	require.NoError(t, lagging.PutDevice(context.Background(), ds[0]))
	m := e.manager(t, lagging, e.keys, trust.Config{})

	e.clock.Advance(trust.Month)
	ok, err := m.Trusted(context.Background(), alice, c)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, []event.Reason{trust.ReasonExpired}, e.events.Reasons(event.DeviceRevoked))
	_, err = lagging.GetDevice(context.Background(), ds[0].ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestTamperedCookiesCostNoStoreCall(t *testing.T) {
	e := newEnv(t, nil)
	c, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	tok := g.Token
	other := newEnv(t, nil) // another server, another key
	_, foreign := other.remember(t, client("203.0.113.7", uaFirefoxLinux))

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 4)
	tests := map[string]string{
		"empty":           "",
		"garbage":         "hello",
		"truncated":       tok[:len(tok)-1],
		"extended":        tok + "A",
		"id changed":      flip(tok, 3),
		"id last char":    flip(tok, 24),
		"sig first char":  flip(tok, len(tok)-43),
		"sig last char":   flip(tok, len(tok)-1),
		"unknown key id":  strings.Replace(tok, ".k1.", ".k2.", 1),
		"no prefix":       tok[3:],
		"v2":              "v2" + tok[2:],
		"foreign server":  foreign.Token,
		"dots swapped":    strings.Join([]string{parts[0], parts[2], parts[1], parts[3]}, "."),
		"padding":         tok[:len(tok)-1] + "=",
		"space":           " " + tok[1:],
		"non base64 id":   tok[:5] + "+" + tok[6:],
		"huge":            strings.Repeat("v1.", 10000),
		"another id":      "v1." + strings.Repeat("A", 22) + ".k1." + parts[3],
		"no separator":    strings.Replace(tok, ".", "", 1),
		"signature of id": "v1." + parts[1] + ".k1." + strings.Repeat("A", 43),
	}
	for name, bad := range tests {
		t.Run(name, func(t *testing.T) {
			before := e.store.calls()
			tc := c
			tc.DeviceToken = bad
			assert.False(t, e.trusted(t, alice, tc))
			assert.Equal(t, before, e.store.calls(), "a bad cookie costs no store call")
		})
	}
	t.Run("another user", func(t *testing.T) {
		before := e.store.calls()
		assert.False(t, e.trusted(t, twofactor.User{ID: "bob"}, c))
		assert.Equal(t, before, e.store.calls(), "another user's cookie costs no store call")
		assert.Equal(t, 1, e.deviceCount(t, "alice"), "and does not revoke the owner's device")
	})
	t.Run("still good", func(t *testing.T) {
		assert.True(t, e.trusted(t, alice, c))
	})
	assert.Empty(t, e.events.OfType(event.DeviceRevoked))
}

func TestLastSeenWrittenAtMostHourly(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	puts := e.store.puts.Load()
	for range 10 {
		e.clock.Advance(5 * time.Minute)
		require.True(t, e.trusted(t, alice, c))
	}
	assert.Equal(t, puts, e.store.puts.Load(), "no write within the hour")
	e.clock.Advance(10 * time.Minute) // 60 minutes since creation
	require.True(t, e.trusted(t, alice, c))
	assert.Equal(t, puts+1, e.store.puts.Load())
	ds, _ := e.m.List(context.Background(), "alice")
	require.Len(t, ds, 1)
	assert.Equal(t, t0.Add(time.Hour), ds[0].LastSeenAt)
	assert.Equal(t, t0.Add(trust.Month), ds[0].ExpiresAt, "trust does not slide")
	require.True(t, e.trusted(t, alice, c))
	assert.Equal(t, puts+1, e.store.puts.Load())
}

// touchStore is a store with the optional TouchDevice ability.
type touchStore struct {
	*store.Memory
	touched []string
}

func (s *touchStore) TouchDevice(ctx context.Context, id string, seen time.Time) error {
	s.touched = append(s.touched, id)
	d, err := s.GetDevice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d.LastSeenAt = seen
	return s.PutDevice(ctx, d)
}

func TestTouchDeviceUsedWhenAvailable(t *testing.T) {
	clock := storetest.NewClock(t0)
	s := &touchStore{Memory: store.NewMemory(clock.Now)}
	m, err := trust.New(twofactor.Env{Store: s, Keys: testKeyring(t, testKey(t, "k1")), Now: clock.Now,
		Events: &event.Sink{Discard: true}}, trust.Config{})
	require.NoError(t, err)
	var _ trust.DeviceToucher = s
	ctx := context.Background()
	c := client("203.0.113.7", uaFirefoxLinux)
	g, err := m.Remember(ctx, alice, c)
	require.NoError(t, err)
	c.DeviceToken = g.Token
	clock.Advance(2 * time.Hour)
	ok, err := m.Trusted(ctx, alice, c)
	require.NoError(t, err)
	require.True(t, ok)
	require.Len(t, s.touched, 1)
	ds, _ := m.List(ctx, "alice")
	assert.Equal(t, t0.Add(2*time.Hour), ds[0].LastSeenAt)
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	c1, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	e.clock.Advance(time.Minute)
	c2, _ := e.remember(t, client("198.51.100.2", uaChromeLinux))
	bob := twofactor.User{ID: "bob"}
	gb, err := e.m.Remember(ctx, bob, client("192.0.2.1", uaFirefoxWin))
	require.NoError(t, err)
	bobID, _ := e.m.DeviceID("bob", gb.Token)

	ds, err := e.m.List(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, "Firefox on Linux", ds[0].Label, "oldest first")
	assert.Equal(t, "Chrome on Linux", ds[1].Label)

	t.Run("not the owner", func(t *testing.T) {
		require.ErrorIs(t, e.m.Revoke(ctx, "alice", bobID), trust.ErrNotFound)
		assert.Equal(t, 1, e.deviceCount(t, "bob"))
	})
	t.Run("malformed ids", func(t *testing.T) {
		before := e.store.calls()
		for _, id := range []string{"", "x", strings.Repeat("A", 23), strings.Repeat("!", 22)} {
			require.ErrorIs(t, e.m.Revoke(ctx, "alice", id), trust.ErrNotFound)
		}
		for _, u := range []string{"", strings.Repeat("u", twofactor.MaxUserIDLen+1), "a\x00b"} {
			require.ErrorIs(t, e.m.Revoke(ctx, u, ds[0].ID), twofactor.ErrInvalidInput)
		}
		assert.Equal(t, before, e.store.calls())
	})
	t.Run("unknown id", func(t *testing.T) {
		require.ErrorIs(t, e.m.Revoke(ctx, "alice", strings.Repeat("A", 22)), trust.ErrNotFound)
	})
	t.Run("one", func(t *testing.T) {
		require.NoError(t, e.m.Revoke(ctx, "alice", ds[0].ID))
		assert.False(t, e.trusted(t, alice, c1))
		assert.True(t, e.trusted(t, alice, c2))
		assert.Equal(t, []event.Reason{trust.ReasonRevoked}, e.events.Reasons(event.DeviceRevoked))
		require.ErrorIs(t, e.m.Revoke(ctx, "alice", ds[0].ID), trust.ErrNotFound, "already gone")
	})
	t.Run("all", func(t *testing.T) {
		c3, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		require.NoError(t, e.m.RevokeAll(ctx, "alice", "signed_out_everywhere"))
		assert.False(t, e.trusted(t, alice, c2))
		assert.False(t, e.trusted(t, alice, c3))
		assert.Equal(t, 0, e.deviceCount(t, "alice"))
		assert.Equal(t, 1, e.deviceCount(t, "bob"), "other users keep their devices")
		assert.Equal(t, []event.Reason{trust.ReasonRevoked, "signed_out_everywhere", "signed_out_everywhere"},
			e.events.Reasons(event.DeviceRevoked))
		require.NoError(t, e.m.RevokeAll(ctx, "alice", ""), "nothing left is not an error")
	})
	t.Run("forget user", func(t *testing.T) {
		require.NoError(t, e.m.ForgetUser(ctx, "bob"))
		assert.Equal(t, 0, e.deviceCount(t, "bob"))
		evs := e.events.OfType(event.DeviceRevoked)
		assert.Equal(t, trust.ReasonReset, evs[len(evs)-1].Reason)
		assert.Equal(t, "bob", evs[len(evs)-1].UserID)
	})
	t.Run("bad user ids", func(t *testing.T) {
		_, err := e.m.List(ctx, "")
		require.ErrorIs(t, err, twofactor.ErrInvalidInput)
		require.ErrorIs(t, e.m.RevokeAll(ctx, "", ""), twofactor.ErrInvalidInput)
		require.ErrorIs(t, e.m.ForgetUser(ctx, strings.Repeat("u", 256)), twofactor.ErrInvalidInput)
	})
}

func TestRememberReplacesThisBrowsersOldDevice(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	c2, _ := e.remember(t, c) // same browser, still holding its cookie
	assert.Equal(t, 1, e.deviceCount(t, "alice"))
	assert.False(t, e.trusted(t, alice, c))
	assert.True(t, e.trusted(t, alice, c2))
}

func TestBindingTightenedRevokes(t *testing.T) {
	tests := []struct {
		name       string
		issue, now func(*trust.Config)
		want       bool
	}{
		{"ip none then network", func(c *trust.Config) { c.IPBinding = trust.IPNone }, nil, false},
		{"ip network then exact", nil, func(c *trust.Config) { c.IPBinding = trust.IPExact }, false},
		{"ip /16 then /24", func(c *trust.Config) { c.IPv4PrefixLen = 16 }, nil, false},
		{"ip exact then network", func(c *trust.Config) { c.IPBinding = trust.IPExact }, nil, true},
		{"ip /24 then none", nil, func(c *trust.Config) { c.IPBinding = trust.IPNone }, true},
		{"ua none then family", func(c *trust.Config) { c.UABinding = trust.UANone }, nil, false},
		{"ua family then exact", nil, func(c *trust.Config) { c.UABinding = trust.UAExact }, false},
		{"ua exact then family", func(c *trust.Config) { c.UABinding = trust.UAExact }, nil, true},
		{"ua family then none", nil, func(c *trust.Config) { c.UABinding = trust.UANone }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.issue)
			c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
			var cfg trust.Config
			if tt.now != nil {
				tt.now(&cfg)
			}
			m := e.manager(t, e.store, e.keys, cfg)
			ok, err := m.Trusted(context.Background(), alice, c)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
			if !tt.want {
				assert.Equal(t, []event.Reason{trust.ReasonBindingChanged}, e.events.Reasons(event.DeviceRevoked))
				assert.Equal(t, 0, e.deviceCount(t, "alice"))
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *trust.Config) { c.UABinding = trust.UAExact })
	k1, k2 := e.key, testKey(t, "k.2")
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))

	rotated := e.manager(t, e.store, testKeyring(t, k2, k1), trust.Config{UABinding: trust.UAExact})
	ok, err := rotated.Trusted(ctx, alice, c)
	require.NoError(t, err)
	assert.True(t, ok, "a device signed with an older key of the ring stays trusted")

	g, err := rotated.Remember(ctx, alice, client("203.0.113.7", uaFirefoxLinux))
	require.NoError(t, err)
	assert.Contains(t, g.Token, ".k.2.", "new cookies use the current key; a key id with dots parses")
	c2 := client("203.0.113.7", uaFirefoxLinux)
	c2.DeviceToken = g.Token
	ok, err = rotated.Trusted(ctx, alice, c2)
	require.NoError(t, err)
	assert.True(t, ok)

	dropped := e.manager(t, e.store, testKeyring(t, k2), trust.Config{})
	before := e.store.calls()
	ok, err = dropped.Trusted(ctx, alice, c)
	require.NoError(t, err)
	assert.False(t, ok, "a key removed from the ring no longer verifies")
	assert.Equal(t, before, e.store.calls())
}

func TestStoreFailuresFailClosed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	e.store.fail.Store(true)

	ok, err := e.m.Trusted(ctx, alice, c)
	require.ErrorIs(t, err, errBroken)
	assert.False(t, ok)
	assert.True(t, strings.HasPrefix(err.Error(), "trust: "))

	_, err = e.m.Remember(ctx, alice, client("203.0.113.7", uaFirefoxLinux))
	require.ErrorIs(t, err, errBroken)
	require.ErrorIs(t, e.m.Revoke(ctx, "alice", strings.Repeat("A", 22)), errBroken)
	require.ErrorIs(t, e.m.RevokeAll(ctx, "alice", ""), errBroken)
	_, err = e.m.List(ctx, "alice")
	require.ErrorIs(t, err, errBroken)

	t.Run("revocation that cannot be written", func(t *testing.T) {
		e := newEnv(t, nil)
		c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		moved := client("198.51.100.1", uaFirefoxLinux)
		moved.DeviceToken = c.DeviceToken
		m := e.manager(t, &failDeletes{countingStore: e.store}, e.keys, trust.Config{})
		ok, err := m.Trusted(ctx, alice, moved)
		require.ErrorIs(t, err, errBroken)
		assert.False(t, ok)
	})

	t.Run("touch failure keeps the answer", func(t *testing.T) {
		e := newEnv(t, nil)
		c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		e.clock.Advance(2 * time.Hour)
		m := e.manager(t, &failPuts{countingStore: e.store}, e.keys, trust.Config{})
		ok, err := m.Trusted(ctx, alice, c)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, []event.Reason{event.ReasonDeviceTouch}, e.events.Reasons(event.Warning))
		ev := e.events.OfType(event.Warning)[0]
		assert.Equal(t, "Firefox on Linux", ev.Label)
		assert.Contains(t, ev.Details["error"], errBroken.Error())
	})
}

type failDeletes struct{ *countingStore }

func (failDeletes) DeleteDevice(context.Context, string) error { return errBroken }

type failPuts struct{ *countingStore }

func (failPuts) PutDevice(context.Context, store.Device) error { return errBroken }

func TestConcurrentChecks(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	const n = 64
	var wg sync.WaitGroup
	results := make([]bool, n)
	ids := make([]string, n)
	errs := make([]error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.m.Trusted(context.Background(), alice, c)
		}()
		go func() {
			defer wg.Done()
			g, err := e.m.Remember(context.Background(), twofactor.User{ID: "bob"}, client("192.0.2.1", uaChromeLinux))
			errs[n+i] = err
			ids[i], _ = e.m.DeviceID("bob", g.Token)
		}()
	}
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i])
	}
	for i := range n {
		assert.True(t, results[i])
	}
	seen := map[string]bool{}
	for _, id := range ids {
		require.NotEmpty(t, id)
		seen[id] = true
	}
	assert.Len(t, seen, n, "every Remember makes a distinct device")
	assert.Equal(t, n, e.deviceCount(t, "bob"))
}

func TestUserMismatchRevoked(t *testing.T) {
	// A record whose owner differs from the user the valid signature names
	// can only come from a corrupted or hostile store; it is revoked.
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	ds, _ := e.mem.ListDevices(context.Background(), "alice")
	d := ds[0]
	d.UserID = "mallory"
	require.NoError(t, e.mem.PutDevice(context.Background(), d))
	assert.False(t, e.trusted(t, alice, c))
	assert.Equal(t, []event.Reason{trust.ReasonUserMismatch}, e.events.Reasons(event.DeviceRevoked))
	assert.Equal(t, 0, e.deviceCount(t, "mallory"))
}

func TestConcurrentRevoke(t *testing.T) {
	// The Devices interface has no atomic take, so concurrent revocations
	// of one device may each report success; what must hold is that none
	// fails, at least one succeeds, and the device ends untrusted.
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	id, _ := e.m.DeviceID("alice", c.DeviceToken)
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	trusted := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs[i] = e.m.Revoke(context.Background(), "alice", id)
				return
			}
			trusted[i], errs[i] = e.m.Trusted(context.Background(), alice, c)
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if i%2 == 1 {
			require.NoError(t, err)
			continue
		}
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, trust.ErrNotFound)
		}
	}
	assert.GreaterOrEqual(t, ok, 1)
	assert.False(t, e.trusted(t, alice, c))
	assert.Equal(t, 0, e.deviceCount(t, "alice"))
}
