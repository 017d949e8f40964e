package webauthn_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/secure"
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
	st   *spyStore
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
	fx.st = &spyStore{Memory: fx.mem}
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

// register enrolls k for the fixture's user.
func (fx *fixture) register(k *softKey, name string) twofactor.Enrollment {
	fx.t.Helper()
	opts, id, err := fx.f.BeginRegistration(fx.ctx, fx.user, name)
	require.NoError(fx.t, err)
	e, err := fx.f.FinishRegistration(fx.ctx, fx.user, id, k.create(fx.t, opts))
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

// spyStore counts store calls and can fail chosen operations.
type spyStore struct {
	*store.Memory
	calls atomic.Int64
	fail  sync.Map // operation name -> error
}

var errStore = errors.New("store unavailable")

func (s *spyStore) hit(op string) error {
	s.calls.Add(1)
	if err, ok := s.fail.Load(op); ok {
		return err.(error)
	}
	return nil
}

func (s *spyStore) PutState(ctx context.Context, key string, v []byte, exp time.Time) error {
	if err := s.hit("PutState"); err != nil {
		return err
	}
	return s.Memory.PutState(ctx, key, v, exp)
}

func (s *spyStore) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := s.hit("GetState"); err != nil {
		return nil, err
	}
	return s.Memory.GetState(ctx, key)
}

func (s *spyStore) TakeState(ctx context.Context, key string) ([]byte, error) {
	if err := s.hit("TakeState"); err != nil {
		return nil, err
	}
	return s.Memory.TakeState(ctx, key)
}

func (s *spyStore) DeleteState(ctx context.Context, key string) error {
	if err := s.hit("DeleteState"); err != nil {
		return err
	}
	return s.Memory.DeleteState(ctx, key)
}

func (s *spyStore) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	if err := s.hit("PutEnrollment"); err != nil {
		return err
	}
	return s.Memory.PutEnrollment(ctx, e)
}

func (s *spyStore) GetEnrollment(ctx context.Context, userID, id string) (store.EnrollmentRecord, error) {
	if err := s.hit("GetEnrollment"); err != nil {
		return store.EnrollmentRecord{}, err
	}
	return s.Memory.GetEnrollment(ctx, userID, id)
}

func (s *spyStore) ListEnrollments(ctx context.Context, userID string) ([]store.EnrollmentRecord, error) {
	if err := s.hit("ListEnrollments"); err != nil {
		return nil, err
	}
	return s.Memory.ListEnrollments(ctx, userID)
}

func (s *spyStore) DeleteEnrollment(ctx context.Context, userID, id string) error {
	if err := s.hit("DeleteEnrollment"); err != nil {
		return err
	}
	return s.Memory.DeleteEnrollment(ctx, userID, id)
}

var discardLogger = slog.New(slog.DiscardHandler)

func (s *spyStore) Advance(ctx context.Context, key string, value int64, exp time.Time) (bool, error) {
	if err := s.hit("Advance"); err != nil {
		return false, err
	}
	return s.Memory.Advance(ctx, key, value, exp)
}
