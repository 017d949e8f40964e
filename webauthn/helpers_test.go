package webauthn_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/webauthn"
)

const (
	testRPID   = "example.com"
	testOrigin = "https://example.com"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a factor on a memory store with a manual clock, recording its
// events.
type fixture struct {
	t    testing.TB
	clk  *storetest.Clock
	mem  *store.Memory
	st   *storespy.Spy
	keys *keyring.Ring
	f    *webauthn.Factor
	user twofactor.User
	mu   sync.Mutex
	evs  []event.Event
	ctx  context.Context
	env  twofactor.Env
	cfg  webauthn.Config
}

func newKeys(t testing.TB) *keyring.Ring {
	t.Helper()
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := keyring.New(k)
	require.NoError(t, err)
	return kr
}

// newFixture builds the factor alone, with an Env on a spied memory store;
// mod may change the Env and the Config before New.
func newFixture(t testing.TB, mod ...func(*twofactor.Env, *webauthn.Config)) *fixture {
	t.Helper()
	fx := &fixture{t: t, clk: storetest.NewClock(t0), keys: newKeys(t), ctx: context.Background(),
		user: twofactor.User{ID: "user-1", Name: "alice"}}
	fx.mem = store.NewMemory(fx.clk.Now)
	fx.st = storespy.New(fx.mem)
	fx.env = twofactor.Env{
		Store: fx.st, Keys: fx.keys, Now: fx.clk.Now,
		Events: &event.Sink{Discard: true, Now: fx.clk.Now, Hook: fx.record},
	}
	fx.cfg = webauthn.Config{RPID: testRPID, RPDisplayName: "Example", RPOrigins: []string{testOrigin}}
	for _, m := range mod {
		m(&fx.env, &fx.cfg)
	}
	f, err := webauthn.New(fx.env, fx.cfg)
	require.NoError(t, err)
	fx.f = f
	return fx
}

// withConfig is a newFixture option that changes the Config only.
func withConfig(mod func(*webauthn.Config)) func(*twofactor.Env, *webauthn.Config) {
	return func(_ *twofactor.Env, c *webauthn.Config) { mod(c) }
}

// users is the host's lookup of the fixture's user, for twofactor.Config.Users.
func (fx *fixture) users(_ context.Context, id string) (twofactor.User, error) {
	if id != fx.user.ID {
		return twofactor.User{}, twofactor.ErrUnknownUser
	}
	return fx.user, nil
}

func (fx *fixture) record(_ context.Context, ev event.Event) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.evs = append(fx.evs, ev)
}

func (fx *fixture) events(typ event.Type) []event.Event {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	var out []event.Event
	for _, ev := range fx.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// begin starts a registration named name for the fixture's user and
// returns the creation options.
func (fx *fixture) begin(name string) []byte {
	fx.t.Helper()
	en, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: name, Restart: true})
	require.NoError(fx.t, err)
	require.Equal(fx.t, twofactor.MethodWebAuthn, en.Method)
	return en.Options
}

// register enrolls k for the fixture's user.
func (fx *fixture) register(k *softKey, name string) twofactor.Enrollment {
	fx.t.Helper()
	e, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(fx.t, fx.begin(name))))
	require.NoError(fx.t, err)
	return e
}

// beginPasskey starts a passkey registration named name for user and
// returns the creation options.
func (fx *fixture) beginPasskey(user twofactor.User, name string) []byte {
	fx.t.Helper()
	en, err := fx.f.BeginEnroll(fx.ctx, user, twofactor.EnrollRequest{Label: name, Restart: true, Passkey: true})
	require.NoError(fx.t, err)
	return en.Options
}

// registerPasskey enrolls k for user as a passkey.
func (fx *fixture) registerPasskey(user twofactor.User, k *softKey, name string) twofactor.Enrollment {
	fx.t.Helper()
	e, err := fx.f.ConfirmEnroll(fx.ctx, user, string(k.create(fx.t, fx.beginPasskey(user, name))))
	require.NoError(fx.t, err)
	return e
}

// discovery begins a discovery ceremony that lasts 10 minutes and returns
// its id and options.
func (fx *fixture) discovery() (string, []byte) {
	fx.t.Helper()
	id, err := secure.Token(nil, 32)
	require.NoError(fx.t, err)
	opts, err := fx.f.BeginDiscovery(fx.ctx, id, fx.clk.Now().Add(10*time.Minute))
	require.NoError(fx.t, err)
	return id, opts
}

// challenge makes a login challenge for the user, as Service.Begin would.
func (fx *fixture) challenge() *twofactor.Challenge {
	fx.t.Helper()
	id, err := secure.Token(nil, 32)
	require.NoError(fx.t, err)
	now := fx.clk.Now()
	return &twofactor.Challenge{ID: id, User: fx.user, Purpose: twofactor.PurposeLogin,
		Methods: []twofactor.Method{twofactor.MethodWebAuthn}, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
}

func (fx *fixture) credentials() []webauthn.Credential {
	fx.t.Helper()
	cs, err := fx.f.Credentials(fx.ctx, fx.user)
	require.NoError(fx.t, err)
	return cs
}

var errStore = errors.New("store unavailable")

var discardLogger = slog.New(slog.DiscardHandler)

// startedLogin is a fixture whose user has one security key, k, and a
// login ceremony started for challenge ch, with its options.
func startedLogin(t *testing.T) (*fixture, *softKey, *twofactor.Challenge, []byte) {
	t.Helper()
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	ch := fx.challenge()
	opts, err := fx.f.Start(fx.ctx, ch)
	require.NoError(t, err)
	return fx, k, ch, opts
}
