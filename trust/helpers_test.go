package trust_test

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaFirefoxLinux2 = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaChromeLinux   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// countingStore wraps a Devices store, counts every call and can be made
// to fail. It has what an Env's store needs besides (states and counters,
// from Store), and no TouchDevice: the Manager rewrites a seen device with
// PutDevice, which it counts.
type countingStore struct {
	twofactor.Store
	inner                   store.Devices
	gets, puts, lists, dels atomic.Int64
	fail                    atomic.Bool
}

var errBroken = errors.New("store broken")

func (s *countingStore) calls() int64 {
	return s.gets.Load() + s.puts.Load() + s.lists.Load() + s.dels.Load()
}

func (s *countingStore) PutDevice(ctx context.Context, d store.Device) error {
	s.puts.Add(1)
	if s.fail.Load() {
		return errBroken
	}
	return s.inner.PutDevice(ctx, d)
}

func (s *countingStore) GetDevice(ctx context.Context, id string) (store.Device, error) {
	s.gets.Add(1)
	if s.fail.Load() {
		return store.Device{}, errBroken
	}
	return s.inner.GetDevice(ctx, id)
}

func (s *countingStore) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	s.lists.Add(1)
	if s.fail.Load() {
		return nil, errBroken
	}
	return s.inner.ListDevices(ctx, userID)
}

func (s *countingStore) DeleteDevice(ctx context.Context, id string) error {
	s.dels.Add(1)
	if s.fail.Load() {
		return errBroken
	}
	return s.inner.DeleteDevice(ctx, id)
}

type env struct {
	m      *trust.Manager
	store  *countingStore
	mem    *store.Memory
	clock  *storetest.Clock
	key    keyring.Key
	keys   *keyring.Ring
	events *eventlog.Log
}

func testKey(t testing.TB, id string) keyring.Key {
	t.Helper()
	k, err := keyring.GenerateKey(id)
	require.NoError(t, err)
	return k
}

func testKeyring(t testing.TB, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	kr, err := keyring.New(keys...)
	require.NoError(t, err)
	return kr
}

// newEnv returns a manager over a counting memory store sharing a manual
// clock; edit may change the config before New.
func newEnv(t testing.TB, edit func(*trust.Config)) *env {
	t.Helper()
	e := &env{clock: storetest.NewClock(t0), events: &eventlog.Log{}, key: testKey(t, "k1")}
	e.mem = store.NewMemory(e.clock.Now)
	e.store = newCountingStore(e.mem)
	e.keys = testKeyring(t, e.key)
	var cfg trust.Config
	if edit != nil {
		edit(&cfg)
	}
	e.m = e.manager(t, e.store, e.keys, cfg)
	return e
}

func newCountingStore(mem *store.Memory) *countingStore {
	return &countingStore{Store: mem, inner: mem}
}

// manager builds another Manager on st with keys and cfg, sharing the
// env's clock and events: another app instance, or the same one after a
// configuration change.
func (e *env) manager(t testing.TB, st twofactor.Store, keys *keyring.Ring, cfg trust.Config) *trust.Manager {
	t.Helper()
	m, err := trust.New(twofactor.Env{Store: st, Keys: keys, Now: e.clock.Now,
		Events: &event.Sink{Discard: true, Hook: e.events.Hook, Now: e.clock.Now}}, cfg)
	require.NoError(t, err)
	return m
}

var alice = twofactor.User{ID: "alice"}

func client(ip, ua string) twofactor.Client {
	c := twofactor.Client{UserAgent: ua}
	if ip != "" {
		c.IP = netip.MustParseAddr(ip)
	}
	return c
}

// remember trusts c for alice and returns c carrying the cookie.
func (e *env) remember(t testing.TB, c twofactor.Client) (twofactor.Client, twofactor.DeviceGrant) {
	t.Helper()
	g, err := e.m.Remember(context.Background(), alice, c)
	require.NoError(t, err)
	c.DeviceToken = g.Token
	return c, g
}

func (e *env) trusted(t testing.TB, u twofactor.User, c twofactor.Client) bool {
	t.Helper()
	ok, err := e.m.Trusted(context.Background(), u, c)
	require.NoError(t, err)
	return ok
}

func (e *env) deviceCount(t testing.TB, userID string) int {
	t.Helper()
	ds, err := e.mem.ListDevices(context.Background(), userID)
	require.NoError(t, err)
	return len(ds)
}
