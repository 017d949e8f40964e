package twofactor_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

func TestEnvWithDefaults(t *testing.T) {
	_, err := twofactor.Env{Keys: newKeys(t)}.WithDefaults()
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.ErrorContains(t, err, "Env.Store")
	_, err = twofactor.Env{Store: store.NewMemory()}.WithDefaults()
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.ErrorContains(t, err, "Env.Keys")
	env, err := twofactor.Env{Store: store.NewMemory(), Keys: newKeys(t)}.WithDefaults()
	require.NoError(t, err)
	assert.NotNil(t, env.Now)
	assert.NotNil(t, env.Rand)
	assert.NotNil(t, env.Events)
}

func TestEnvUser(t *testing.T) {
	env := twofactor.Env{}
	u, err := env.User(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, twofactor.User{ID: "ada"}, u, "without Users, the id alone")
	_, err = env.User(ctx, "")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	env.Users = func(_ context.Context, id string) (twofactor.User, error) {
		switch id {
		case "ada":
			return twofactor.User{ID: "ada", Email: "ada@example.com"}, nil
		case "liar":
			return twofactor.User{ID: "someone-else"}, nil
		}
		return twofactor.User{}, twofactor.ErrUnknownUser
	}
	u, err = env.User(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", u.Email)
	_, err = env.User(ctx, "bob")
	require.ErrorIs(t, err, twofactor.ErrUnknownUser)
	_, err = env.User(ctx, "liar")
	require.Error(t, err, "a lookup that answers for another user is refused")
}

// listener records what it hears.
type listener struct {
	mu       sync.Mutex
	events   []event.Event
	env      twofactor.Env
	shutdown int
}

func (l *listener) NewListener(env twofactor.Env) (twofactor.Listener, error) {
	l.env = env
	return l, nil
}

func (l *listener) HandleEvent(_ context.Context, ev event.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *listener) Shutdown(context.Context) error {
	l.shutdown++
	return nil
}

func (l *listener) types() []event.Type {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event.Type
	for _, ev := range l.events {
		out = append(out, ev.Type)
	}
	return out
}

// Listeners hear the Service's events and the factors' own (emitted
// through the Env), are stopped by Shutdown, and do not hear their own
// events back.
func TestListeners(t *testing.T) {
	l := &listener{}
	var factorEnv twofactor.Env
	e := newEnv(t, func(c *twofactor.Config) {
		f := c.Factors[0]
		c.Factors[0] = twofactor.FactorFunc(func(env twofactor.Env) (twofactor.Factor, error) {
			factorEnv = env
			return f.NewFactor(env)
		})
		c.Listeners = []twofactor.ListenerConfig{l}
	})
	ch := e.begin()
	assert.Contains(t, l.types(), event.Begin)
	factorEnv.Events.Emit(ctx, event.Event{Type: event.Warning, ChallengeID: ch.ID})
	assert.Contains(t, l.types(), event.Warning, "a factor's event reaches the listener")
	n := len(l.types())
	l.env.Events.Emit(ctx, event.Event{Type: event.Warning})
	assert.Len(t, l.types(), n, "a listener's own event does not come back to it")
	require.NoError(t, e.svc.Shutdown(ctx))
	assert.Equal(t, 1, l.shutdown)
}

type failingListener struct{}

func (failingListener) NewListener(twofactor.Env) (twofactor.Listener, error) { return nil, errBoom }

func TestListenerThatFailsFailsNew(t *testing.T) {
	ok := &listener{}
	_, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: newKeys(t),
		Factors:   factors(&codeFactor{method: "x"}),
		Listeners: []twofactor.ListenerConfig{ok, failingListener{}}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorIs(t, err, errBoom)
	assert.Equal(t, 1, ok.shutdown, "the listeners already started are stopped")
}

// opener opens a memory store and records its closing.
type opener struct {
	err    error
	closed bool
}

type closingMemory struct {
	*store.Memory
	o *opener
}

func (c closingMemory) Close() error { c.o.closed = true; return nil }

func (o *opener) OpenStore(context.Context) (twofactor.Store, error) {
	if o.err != nil {
		return nil, o.err
	}
	return closingMemory{store.NewMemory(), o}, nil
}

// The whole set-up has one error check: the store opener and the key
// source run inside New, and New's error is theirs.
func TestNewOpensStoreAndLoadsKeys(t *testing.T) {
	k, err := keyring.GenerateKey("env")
	require.NoError(t, err)
	t.Setenv("TF_ENV_KEYS", k.Encode())
	o := &opener{}
	svc, err := twofactor.New(twofactor.Config{OpenStore: o, Keys: keyring.Env("TF_ENV_KEYS"), Factors: factors(&codeFactor{method: "x"})})
	require.NoError(t, err)
	assert.Equal(t, "env", svc.Env().Keys.CurrentKeyID())
	require.NoError(t, svc.Shutdown(ctx))
	assert.True(t, o.closed, "Shutdown closes the store New opened")

	_, err = twofactor.New(twofactor.Config{OpenStore: &opener{err: errBoom}, Keys: newKeys(t), Factors: factors(&codeFactor{method: "x"})})
	require.ErrorIs(t, err, errBoom)
	_, err = twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: keyring.Env("TF_UNSET_KEYS"), Factors: factors(&codeFactor{method: "x"})})
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	assert.ErrorContains(t, err, "twofactor keygen", "without development mode, the missing key says how to make one")
	_, err = twofactor.New(twofactor.Config{Store: store.NewMemory(), OpenStore: o, Keys: newKeys(t), Factors: factors(&codeFactor{method: "x"})})
	require.ErrorIs(t, err, twofactor.ErrConfig, "Store and OpenStore both set")

	// A factor that fails closes the store New opened.
	o = &opener{}
	_, err = twofactor.New(twofactor.Config{OpenStore: o, Keys: newKeys(t),
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return nil, errBoom })}})
	require.ErrorIs(t, err, errBoom)
	assert.True(t, o.closed)
}
