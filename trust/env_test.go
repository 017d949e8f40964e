package trust_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
)

// svcEnv is a Service built with a trust.Config as its Config.Trust, and
// the Manager it built.
type svcEnv struct {
	svc    *twofactor.Service
	m      *trust.Manager
	mem    *store.Memory
	clock  *storetest.Clock
	events *eventlog.Log
}

func newSvcEnv(t *testing.T, cfg trust.Config) *svcEnv {
	t.Helper()
	e := &svcEnv{clock: storetest.NewClock(t0), events: &eventlog.Log{}}
	e.mem = store.NewMemory(e.clock.Now)
	var err error
	e.svc, err = twofactor.New(twofactor.Config{
		Store: e.mem, Keys: testKeyring(t, testKey(t, "k1")), Factors: []twofactor.FactorConfig{codeFactor{}},
		Trust: cfg, Now: e.clock.Now, Events: &event.Sink{Discard: true, Hook: e.events.Hook, Now: e.clock.Now},
	})
	require.NoError(t, err)
	m, ok := e.svc.Trust().(*trust.Manager)
	require.True(t, ok, "svc.Trust() is the *trust.Manager built from Config.Trust")
	e.m = m
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

// Given to twofactor.New as Config.Trust, a Config is built into a Manager
// with the Service's store, keys, clock and events.
func TestBuiltByService(t *testing.T) {
	e := newSvcEnv(t, trust.Config{Duration: trust.Week})
	ctx := context.Background()
	assert.Equal(t, trust.Week, e.m.Duration(), "the Config's own settings")
	c, g := e.login(t, client("203.0.113.7", uaFirefoxLinux))
	assert.Equal(t, t0.Add(trust.Week), g.ExpiresAt, "the Service's clock")
	ds, err := e.mem.ListDevices(ctx, alice.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1, "in the Service's store")
	assert.Len(t, e.events.OfType(event.DeviceRemembered), 1, "through the Service's events")

	b, err := e.svc.Begin(ctx, alice, c)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusTrusted, b.Status)
	id, ok := e.m.DeviceID(alice.ID, c.DeviceToken)
	require.True(t, ok, "signed with the Service's keys")
	assert.Equal(t, ds[0].ID, id)
}

// statesOnly is a store with only what the Service itself needs.
type statesOnly struct{ twofactor.Store }

// A store without store.Devices is a configuration error when the Manager
// is built, alone or by the Service, and the error names the interface.
func TestNewNeedsDevicesStore(t *testing.T) {
	keys := testKeyring(t, testKey(t, "k1"))
	m, err := trust.New(twofactor.Env{Store: statesOnly{store.NewMemory()}, Keys: keys}, trust.Config{})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Nil(t, m)
	assert.Contains(t, err.Error(), "store.Devices")
	assert.Regexp(t, `^trust: `, err.Error())
	dt, err := trust.Config{}.NewTrust(twofactor.Env{Store: statesOnly{store.NewMemory()}, Keys: keys})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.True(t, dt == nil, "a nil DeviceTrust, not a nil *Manager in one")

	_, err = twofactor.New(twofactor.Config{Store: statesOnly{store.NewMemory()}, Keys: keys,
		Factors: []twofactor.FactorConfig{codeFactor{}}, Trust: trust.Config{}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "Config.Trust")
	assert.Contains(t, err.Error(), "store.Devices")
}

// An Env without a store or keys is a configuration error at New: a
// Manager, once built, never answers with one.
func TestNewNeedsStoreAndKeys(t *testing.T) {
	for name, tt := range map[string]struct {
		env  twofactor.Env
		want string
	}{
		"nothing":  {twofactor.Env{}, "Env.Store"},
		"no keys":  {twofactor.Env{Store: store.NewMemory()}, "Env.Keys"},
		"no store": {twofactor.Env{Keys: testKeyring(t, testKey(t, "k1"))}, "Env.Store"},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := trust.New(tt.env, trust.Config{})
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tt.want)
			assert.Regexp(t, `^trust: `, err.Error())
		})
	}
}

// Used alone, a Manager takes the Env's defaults: the real clock, crypto
// randomness and slog.
func TestNewAloneTakesEnvDefaults(t *testing.T) {
	ctx := context.Background()
	m, err := trust.New(twofactor.Env{Store: store.NewMemory(), Keys: testKeyring(t, testKey(t, "k1"))}, trust.Config{})
	require.NoError(t, err)
	var _ twofactor.DeviceTrust = m
	before := time.Now()
	g, err := m.Remember(ctx, alice, client("203.0.113.7", uaFirefoxLinux))
	require.NoError(t, err)
	assert.WithinDuration(t, before.Add(trust.Month), g.ExpiresAt, time.Minute)
	c := client("203.0.113.7", uaFirefoxLinux)
	c.DeviceToken = g.Token
	ok, err := m.Trusted(ctx, alice, c)
	require.NoError(t, err)
	assert.True(t, ok)
}

// A password change, an admin reset and turning two-factor authentication
// off are each one event from the Service, and each revoked device one
// event from the Manager: nothing else, no summary.
func TestOneEventPerFactWhenForgettingUser(t *testing.T) {
	ctx := context.Background()
	for name, forget := range map[string]struct {
		event event.Type
		do    func(*svcEnv) error
	}{
		"password change": {event.PasswordChanged, func(e *svcEnv) error { return e.svc.PasswordChanged(ctx, alice.ID) }},
		"admin reset": {event.AdminReset, func(e *svcEnv) error {
			return e.svc.AdminReset(ctx, alice, "support@example.com", "lost phone")
		}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newSvcEnv(t, trust.Config{})
			e.login(t, client("203.0.113.7", uaFirefoxLinux))
			e.login(t, client("198.51.100.1", uaChromeLinux))
			e.events.Reset()

			require.NoError(t, forget.do(e))
			var types []event.Type
			for _, ev := range e.events.All() {
				types = append(types, ev.Type)
			}
			assert.ElementsMatch(t, []event.Type{forget.event, event.DeviceRevoked, event.DeviceRevoked}, types)
			assert.Equal(t, []event.Reason{trust.ReasonReset, trust.ReasonReset}, e.events.Reasons(event.DeviceRevoked))
			ds, err := e.m.List(ctx, alice.ID)
			require.NoError(t, err)
			assert.Empty(t, ds)

			// Nothing left: the next one is the Service's event alone.
			e.events.Reset()
			require.NoError(t, forget.do(e))
			require.Len(t, e.events.All(), 1)
			assert.Equal(t, forget.event, e.events.All()[0].Type)
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
