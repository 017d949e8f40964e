package twofactor

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
)

// Env is what every part of the library is built with: the store, the
// server keys, where events go, the clock and the randomness, and how a
// user id becomes a [User]. [New] makes one from its Config and builds
// every factor, the device trust and every listener with it, so each of
// them is given these once and is complete when it is built.
//
// A factor package used on its own takes an Env too:
//
//	app, err := totp.New(twofactor.Env{Store: st, Keys: keys}, totp.Config{Issuer: "Acme"})
type Env struct {
	// Store keeps everything the library stores. Required. Each part
	// checks, when it is built, that the store has the interfaces it
	// needs (package store lists them), and names any that is missing.
	// When Config has a provider that records (see "Metrics and traces"
	// in the package documentation), the Env New gives the parts holds
	// the store wrapped to time and trace its calls; [UnwrapStore]
	// returns the one New was given.
	Store Store
	// Keys hashes codes, seals secrets and signs proofs. Required.
	Keys *keyring.Ring
	// Events receives every event. Nil logs to slog.Default().
	Events *event.Sink
	// Users turns a user id into the User, for the parts that start from
	// an id (security emails, administrator pages and commands, the
	// settings pages). Nil: those parts know only the id.
	Users func(ctx context.Context, id string) (User, error)
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Rand is the source of codes, secrets and ids. Nil means crypto/rand.
	Rand io.Reader
}

// WithDefaults returns e with its nil optional parts set to their
// defaults (slog, time.Now, crypto/rand), or an error matching ErrConfig
// when Store or Keys is missing. Every constructor that takes an Env calls
// it first, so each has the same defaults.
func (e Env) WithDefaults() (Env, error) {
	switch {
	case e.Store == nil:
		return e, configErr("Env.Store is nil: use store.NewMemory() for a single instance, or a shared store (sqlstore, redisstore)")
	case e.Keys == nil:
		return e, configErr("Env.Keys is nil: load the server keys with LoadKeys, or make a keyring with keyring.New")
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Rand == nil {
		e.Rand = rand.Reader
	}
	if e.Events == nil {
		e.Events = &event.Sink{Now: e.Now}
	} else if e.Events.Now == nil {
		ev := *e.Events
		ev.Now = e.Now // events are stamped with the Env's clock
		e.Events = &ev
	}
	return e, nil
}

// User returns the user with id through Env.Users, or a User holding only
// the id when Users is nil. An unknown id is an error matching
// ErrUnknownUser.
func (e Env) User(ctx context.Context, id string) (User, error) {
	if err := CheckUserID(id); err != nil {
		return User{}, err
	}
	if e.Users == nil {
		return User{ID: id}, nil
	}
	u, err := e.Users(ctx, id)
	if err != nil {
		return User{}, err
	}
	if u.ID != id {
		return User{}, fmt.Errorf("twofactor: Config.Users returned user %q for id %q", u.ID, id)
	}
	return u, nil
}

// A FactorConfig is a factor's configuration: [New] builds the factor from
// it with the Service's Env. Every factor package's Config is one, and
// [FactorFunc] makes one of a function.
type FactorConfig interface {
	NewFactor(env Env) (Factor, error)
}

// FactorFunc builds a factor from the Env: a host's own factor given to
// Config.Factors.
type FactorFunc func(env Env) (Factor, error)

// NewFactor calls f.
func (f FactorFunc) NewFactor(env Env) (Factor, error) { return f(env) }

// A TrustConfig builds the Service's [DeviceTrust]: trust.Config is one.
type TrustConfig interface {
	NewTrust(env Env) (DeviceTrust, error)
}

// A ListenerConfig builds a [Listener] with the Service's Env: notify.Config
// is one.
type ListenerConfig interface {
	NewListener(env Env) (Listener, error)
}

// A Listener hears every event of the Service after it is logged, and is
// stopped by [Service.Shutdown]. HandleEvent is called on the request's
// goroutine: a listener that does slow work (sending an email) queues it.
type Listener interface {
	HandleEvent(ctx context.Context, ev event.Event)
	// Shutdown finishes or drops queued work by ctx's deadline.
	Shutdown(ctx context.Context) error
}
