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
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/internal/storespy"
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
	keys *twofactor.Keyring
	f    *webauthn.Factor
	user twofactor.User
	mu   sync.Mutex
	evs  []twofactor.Event
	ctx  context.Context
	cfg  webauthn.Config
}

func newKeys(t testing.TB) *twofactor.Keyring {
	t.Helper()
	k, err := twofactor.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := twofactor.NewKeyring(k)
	require.NoError(t, err)
	return kr
}

func newFixture(t testing.TB, mod ...func(*webauthn.Config)) *fixture {
	t.Helper()
	fx := &fixture{t: t, clk: storetest.NewClock(t0), keys: newKeys(t), ctx: context.Background(),
		user: twofactor.User{ID: "user-1", Name: "alice"}}
	fx.mem = store.NewMemory(fx.clk.Now)
	fx.st = storespy.New(fx.mem)
	fx.cfg = webauthn.Config{
		Store: fx.st, Keys: fx.keys, RPID: testRPID, RPDisplayName: "Example", RPOrigins: []string{testOrigin},
		Now:    fx.clk.Now,
		Events: &twofactor.Events{Discard: true, Now: fx.clk.Now, Hook: fx.record},
	}
	for _, m := range mod {
		m(&fx.cfg)
	}
	f, err := webauthn.New(fx.cfg)
	require.NoError(t, err)
	fx.f = f
	return fx
}

func (fx *fixture) record(_ context.Context, ev twofactor.Event) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.evs = append(fx.evs, ev)
}

func (fx *fixture) events(typ twofactor.EventType) []twofactor.Event {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	var out []twofactor.Event
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

// hasLoginState reports whether the challenge's ceremony state is stored.
func (fx *fixture) hasLoginState(ch *twofactor.Challenge) bool {
	fx.t.Helper()
	_, err := fx.mem.GetState(fx.ctx, "webauthn:login:"+ch.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(fx.t, err)
	return true
}

var errStore = errors.New("store unavailable")

var discardLogger = slog.New(slog.DiscardHandler)
