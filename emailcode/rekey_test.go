package emailcode_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// hookStore runs a hook before the first call it names.
type hookStore struct {
	*store.Memory
	mu    sync.Mutex
	hooks map[string]func()
}

func (s *hookStore) fire(name string) {
	s.mu.Lock()
	h := s.hooks[name]
	delete(s.hooks, name)
	s.mu.Unlock()
	if h != nil {
		h()
	}
}

func (s *hookStore) on(name string, h func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hooks == nil {
		s.hooks = map[string]func(){}
	}
	s.hooks[name] = h
}

func (s *hookStore) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	s.fire("PutEnrollment")
	return s.Memory.PutEnrollment(ctx, e)
}

func (s *hookStore) GetState(ctx context.Context, key string) ([]byte, error) {
	if strings.HasPrefix(key, "otc:removed:") {
		s.fire("GetRemoved")
	}
	return s.Memory.GetState(ctx, key)
}

func newKeyring(t testing.TB, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	kr, err := keyring.New(keys...)
	require.NoError(t, err)
	return kr
}

func genKey(t testing.TB, id string) keyring.Key {
	t.Helper()
	k, err := keyring.GenerateKey(id)
	require.NoError(t, err)
	return k
}

// rekeyFixture records alice's confirmed address under k1 and returns the fixture with a
// factor over the same store whose ring has k2 first.
func rekeyFixture(t *testing.T) (fx *fixture, hs *hookStore, rotated *emailcode.Factor, k2 keyring.Key) {
	k1 := genKey(t, "k1")
	k2 = genKey(t, "k2")
	fx = newFixture(t, func(c *setup) { c.Keys = newKeyring(t, k1); c.Enrollment = emailcode.EnrollOptIn })
	fx.keys = newKeyring(t, k1)
	fx.enroll(t, alice, "alice@example.com")
	hs = &hookStore{Memory: fx.store}
	rotated, err := emailcode.New(twofactor.Env{Store: hs, Keys: newKeyring(t, k2, k1), Events: &event.Sink{Discard: true}, Now: fx.clock.Now},
		emailcode.Config{Sender: fx.outbox, Enrollment: emailcode.EnrollOptIn})
	require.NoError(t, err)
	return fx, hs, rotated, k2
}

func TestRekey(t *testing.T) {
	ctx := context.Background()
	fx, _, rotated, k2 := rekeyFixture(t)
	before, err := fx.store.GetEnrollment(ctx, alice.ID, emailcode.EnrollmentID)
	require.NoError(t, err)

	n, err := rotated.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = rotated.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to do")
	n, err = rotated.Rekey(ctx, "u-carol")
	require.NoError(t, err)
	assert.Zero(t, n, "no address")

	after, err := fx.store.GetEnrollment(ctx, alice.ID, emailcode.EnrollmentID)
	require.NoError(t, err)
	assert.NotEqual(t, before.Data, after.Data)
	assert.Equal(t, before.Label, after.Label)
	assert.Equal(t, before.CreatedAt, after.CreatedAt)
	assert.Equal(t, before.LastUsedAt, after.LastUsedAt)

	// Only the new key opens it: a login code goes to the address.
	onlyNew, err := emailcode.New(twofactor.Env{Store: fx.store, Keys: newKeyring(t, k2), Events: &event.Sink{Discard: true}, Now: fx.clock.Now},
		emailcode.Config{Sender: fx.outbox, Enrollment: emailcode.EnrollOptIn})
	require.NoError(t, err)
	_, err = onlyNew.Send(ctx, challenge("ch-rekey", twofactor.PurposeLogin), client)
	require.NoError(t, err)
	_, ok := fx.outbox.Last("alice@example.com")
	assert.True(t, ok)
	n, err = onlyNew.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Zero(t, n)

	// An address no key opens is an error.
	_, err = onlyNew.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	other, err := emailcode.New(twofactor.Env{Store: fx.store, Keys: newKeyring(t, genKey(t, "k3")), Events: &event.Sink{Discard: true}, Now: fx.clock.Now},
		emailcode.Config{Sender: fx.outbox})
	require.NoError(t, err)
	_, err = other.Rekey(ctx, alice.ID)
	require.ErrorIs(t, err, keyring.ErrInvalidKey)

	_, err = rotated.Rekey(ctx, "")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// A removal racing with the re-seal is never undone, wherever it falls.
func TestRekeyConcurrentRemoval(t *testing.T) {
	ctx := context.Background()
	for _, hook := range []string{"GetRemoved", "PutEnrollment"} {
		t.Run(hook, func(t *testing.T) {
			fx, hs, rotated, _ := rekeyFixture(t)
			hs.on(hook, func() { require.NoError(t, fx.f.RemoveAll(ctx, alice)) })
			n, err := rotated.Rekey(ctx, alice.ID)
			require.NoError(t, err)
			assert.Zero(t, n)
			_, err = fx.store.GetEnrollment(ctx, alice.ID, emailcode.EnrollmentID)
			require.ErrorIs(t, err, store.ErrNotFound, "the address stays removed")
			es, err := rotated.Enrollments(ctx, alice)
			require.NoError(t, err)
			assert.Empty(t, es)
		})
	}

	// Removed and enrolled again before the re-seal: the new address
	// is re-sealed and kept.
	fx, _, rotated, _ := rekeyFixture(t)
	require.NoError(t, fx.f.RemoveAll(ctx, alice))
	fx.enroll(t, alice, "robert@example.org")
	n, err := rotated.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	es, err := rotated.Enrollments(ctx, alice)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, emailcode.Mask("robert@example.org"), es[0].Label)
}

// A login's last-use write just before the re-seal writes is kept.
func TestRekeyKeepsLastUse(t *testing.T) {
	ctx := context.Background()
	fx, hs, rotated, _ := rekeyFixture(t)
	used := fx.clock.Now().Add(time.Minute)
	hs.on("GetRemoved", func() { require.NoError(t, fx.store.TouchEnrollment(ctx, alice.ID, emailcode.EnrollmentID, used)) })
	n, err := rotated.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	rec, err := fx.store.GetEnrollment(ctx, alice.ID, emailcode.EnrollmentID)
	require.NoError(t, err)
	assert.True(t, used.Equal(rec.LastUsedAt), "%v", rec.LastUsedAt)
}

// envRekeyFixture records alice's confirmed address under k1 and returns
// the fixture, a store over it with hooks, and an Env on that store whose
// ring has k2 first.
func envRekeyFixture(t *testing.T) (fx *fixture, hs *hookStore, rotated twofactor.Env, k2 keyring.Key) {
	k1 := genKey(t, "k1")
	k2 = genKey(t, "k2")
	fx = newFixture(t, func(c *setup) { c.Keys = newKeyring(t, k1); c.Enrollment = emailcode.EnrollOptIn })
	fx.keys = newKeyring(t, k1)
	fx.enroll(t, alice, "alice@example.com")
	hs = &hookStore{Memory: fx.store}
	return fx, hs, twofactor.Env{Store: hs, Keys: newKeyring(t, k2, k1), Now: fx.clock.Now}, k2
}

// Rekey with an Env alone re-seals what the factor sealed, honours the
// factor's removals, and needs no Sender.
func TestRekeyWithEnv(t *testing.T) {
	ctx := context.Background()
	fx, _, rotated, k2 := envRekeyFixture(t)
	n, err := emailcode.Rekey(ctx, rotated, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = emailcode.Rekey(ctx, rotated, alice.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to do")
	n, err = emailcode.Rekey(ctx, rotated, "u-carol")
	require.NoError(t, err)
	assert.Zero(t, n, "no address")
	_, err = emailcode.Rekey(ctx, rotated, "")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	// Only the new key opens it: a login code goes to the address.
	onlyNew, err := emailcode.New(twofactor.Env{Store: fx.store, Keys: newKeyring(t, k2), Events: &event.Sink{Discard: true}, Now: fx.clock.Now},
		emailcode.Config{Sender: fx.outbox, Enrollment: emailcode.EnrollOptIn})
	require.NoError(t, err)
	_, err = onlyNew.Send(ctx, challenge("ch-rekey-env", twofactor.PurposeLogin), client)
	require.NoError(t, err)
	_, ok := fx.outbox.Last("alice@example.com")
	assert.True(t, ok)

	// A removal by the factor racing with it is never undone.
	fx, hs, rotated, _ := envRekeyFixture(t)
	hs.on("PutEnrollment", func() { require.NoError(t, fx.f.RemoveAll(ctx, alice)) })
	n, err = emailcode.Rekey(ctx, rotated, alice.ID)
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = fx.store.GetEnrollment(ctx, alice.ID, emailcode.EnrollmentID)
	require.ErrorIs(t, err, store.ErrNotFound, "the address stays removed")

	// The Env is checked as New checks it.
	_, err = emailcode.Rekey(ctx, twofactor.Env{Store: fx.store}, alice.ID)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = emailcode.Rekey(ctx, twofactor.Env{Store: struct{ twofactor.Store }{fx.store}, Keys: fx.keys}, alice.ID)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "store.Codes")
}
