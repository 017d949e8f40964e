package trust_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
)

// svcEnv is a Service whose DeviceTrust is a Manager configured with
// nothing but its own settings.
type svcEnv struct {
	svc    *twofactor.Service
	m      *trust.Manager
	mem    *store.Memory
	clock  *storetest.Clock
	events *recorder
}

func newSvcEnv(t *testing.T, cfg trust.Config) *svcEnv {
	t.Helper()
	e := &svcEnv{clock: storetest.NewClock(t0), events: &recorder{}}
	e.mem = store.NewMemory(e.clock.Now)
	m, err := trust.New(cfg)
	require.NoError(t, err)
	e.m = m
	e.svc, err = twofactor.New(twofactor.Config{
		Store: e.mem, Keys: testKeyring(t, testKey(t, "k1")), Factors: []twofactor.Factor{codeFactor{}},
		Trust: m, Now: e.clock.Now, Events: &twofactor.Events{Discard: true, Hook: e.events.hook, Now: e.clock.Now},
	})
	require.NoError(t, err)
	return e
}

// login signs alice in from c, ticking "trust this device", and returns c
// with the device cookie.
func (e *svcEnv) login(t *testing.T, c twofactor.Client) (twofactor.Client, *twofactor.DeviceGrant) {
	t.Helper()
	ctx := context.Background()
	b, err := e.svc.Begin(ctx, alice, c)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: "code", Code: "123456",
		Client: c, RememberDevice: true})
	require.NoError(t, err)
	require.NotNil(t, res.Device)
	c.DeviceToken = res.Device.Token
	return c, res.Device
}

// A Manager configured with its own settings only gets the store, keys,
// clock and events from the Service.
func TestBindFromService(t *testing.T) {
	e := newSvcEnv(t, trust.Config{Duration: trust.Week})
	ctx := context.Background()
	c, g := e.login(t, client("203.0.113.7", uaFirefoxLinux))
	assert.Equal(t, t0.Add(trust.Week), g.ExpiresAt, "the Service's clock")
	ds, err := e.mem.ListDevices(ctx, alice.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1, "in the Service's store")
	assert.Len(t, e.events.ofType(twofactor.EventDeviceRemembered), 1, "through the Service's events")

	b, err := e.svc.Begin(ctx, alice, c)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusTrusted, b.Status)
	id, ok := e.m.DeviceID(alice.ID, c.DeviceToken)
	require.True(t, ok, "signed with the Service's keys")
	assert.Equal(t, ds[0].ID, id)
}

// Fields set in the Manager's Config win over the Service's.
func TestBindKeepsExplicitFields(t *testing.T) {
	clock := storetest.NewClock(t0)
	own := store.NewMemory(clock.Now)
	ownEvents := &recorder{}
	e := newSvcEnv(t, trust.Config{Store: own, Events: &twofactor.Events{Discard: true, Hook: ownEvents.hook}})
	e.login(t, client("203.0.113.7", uaFirefoxLinux))
	ds, err := own.ListDevices(context.Background(), alice.ID)
	require.NoError(t, err)
	assert.Len(t, ds, 1, "the Manager's own store")
	ds, err = e.mem.ListDevices(context.Background(), alice.ID)
	require.NoError(t, err)
	assert.Empty(t, ds)
	assert.Len(t, ownEvents.ofType(twofactor.EventDeviceRemembered), 1, "the Manager's own events")
	assert.Empty(t, e.events.ofType(twofactor.EventDeviceRemembered))
}

// statesOnly is a store with only what the Service itself needs.
type statesOnly struct{ twofactor.Store }

func TestBindNeedsDevicesStore(t *testing.T) {
	m, err := trust.New(trust.Config{})
	require.NoError(t, err)
	_, err = twofactor.New(twofactor.Config{Store: statesOnly{store.NewMemory()}, Keys: testKeyring(t, testKey(t, "k1")),
		Factors: []twofactor.Factor{codeFactor{}}, Trust: m})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Devices")
	_, err = m.List(context.Background(), alice.ID)
	require.ErrorIs(t, err, twofactor.ErrConfig, "left unbound")
}

// A Manager with no store or no keys, configured or bound, answers every
// call that needs them with ErrConfig, never a panic.
func TestUnboundManagerIsAConfigError(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]trust.Config{
		"nothing":  {},
		"no keys":  {Store: store.NewMemory()},
		"no store": {Keys: testKeyring(t, testKey(t, "k1"))},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := trust.New(cfg)
			require.NoError(t, err)
			c := client("203.0.113.7", uaFirefoxLinux)
			ok, err := m.Trusted(ctx, alice, c)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.False(t, ok)
			_, err = m.Remember(ctx, alice, c)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			_, err = m.RememberFor(ctx, alice, c, trust.Day)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			_, err = m.List(ctx, alice.ID)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			require.ErrorIs(t, m.Revoke(ctx, alice.ID, strings.Repeat("A", 22)), twofactor.ErrConfig)
			require.ErrorIs(t, m.RevokeAll(ctx, alice.ID, ""), twofactor.ErrConfig)
			require.ErrorIs(t, m.ForgetUser(ctx, alice.ID), twofactor.ErrConfig)
			_, ok = m.DeviceID(alice.ID, "v1."+strings.Repeat("A", 22)+".k1."+strings.Repeat("A", 43))
			assert.False(t, ok)
		})
	}
}

// A password change, an admin reset and turning two-factor authentication
// off are each one event from the Service, and each revoked device one
// event from the Manager: nothing else, no summary.
func TestOneEventPerFactWhenForgettingUser(t *testing.T) {
	ctx := context.Background()
	for name, forget := range map[string]struct {
		event twofactor.EventType
		do    func(*svcEnv) error
	}{
		"password change": {twofactor.EventPasswordChanged, func(e *svcEnv) error { return e.svc.PasswordChanged(ctx, alice.ID) }},
		"admin reset": {twofactor.EventAdminReset, func(e *svcEnv) error {
			return e.svc.AdminReset(ctx, alice, "support@example.com", "lost phone")
		}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newSvcEnv(t, trust.Config{})
			e.login(t, client("203.0.113.7", uaFirefoxLinux))
			e.login(t, client("198.51.100.1", uaChromeLinux))
			e.events.mu.Lock()
			e.events.events = nil
			e.events.mu.Unlock()

			require.NoError(t, forget.do(e))
			var types []twofactor.EventType
			for _, ev := range e.events.events {
				types = append(types, ev.Type)
			}
			assert.ElementsMatch(t, []twofactor.EventType{forget.event, twofactor.EventDeviceRevoked, twofactor.EventDeviceRevoked}, types)
			assert.Equal(t, []string{trust.ReasonReset, trust.ReasonReset}, e.events.reasons(twofactor.EventDeviceRevoked))
			ds, err := e.m.List(ctx, alice.ID)
			require.NoError(t, err)
			assert.Empty(t, ds)

			// Nothing left: the next one is the Service's event alone.
			e.events.mu.Lock()
			e.events.events = nil
			e.events.mu.Unlock()
			require.NoError(t, forget.do(e))
			require.Len(t, e.events.events, 1)
			assert.Equal(t, forget.event, e.events.events[0].Type)
		})
	}
}

// Trusted refuses a user id that twofactor.CheckUserID refuses, with an
// error and before any store access.
func TestTrustedRefusesBadUserID(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	before := e.store.calls()
	for _, id := range []string{"", strings.Repeat("u", twofactor.MaxUserIDLen+1), "a\nb"} {
		ok, err := e.m.Trusted(context.Background(), twofactor.User{ID: id}, c)
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", id)
		assert.False(t, ok)
	}
	assert.Equal(t, before, e.store.calls())
}
