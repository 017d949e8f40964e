package twofactor

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Store is the storage the Service itself uses: challenges as states filed
// under their user (so a password change or a reset can end them all), and
// counters for limits. Every store in this module implements it; factors ask
// for their own small sets of store interfaces.
type Store interface {
	store.States
	store.OwnedStates
	store.Counters
}

// Defaults applied by New to zero fields.
const (
	defaultChallengeTTL           = 15 * time.Minute
	defaultMaxAttempts            = 5
	defaultMaxUserFailures        = 10
	defaultLockoutDuration        = 15 * time.Minute
	defaultMaxConsecutiveFailures = 100
	defaultFailureMemory          = 365 * 24 * time.Hour
	defaultMaxIPAttempts          = 100
	defaultIPWindow               = 15 * time.Minute
	defaultIPv6Prefix             = 64
	defaultStepUpMaxAge           = 5 * time.Minute
)

// A StoreOpener opens a store when [New] runs, so that opening it shares
// the one error check of the whole set-up: sqlite.File is one. The
// Service closes a store it opened (when the store is an io.Closer) at
// [Service.Shutdown].
type StoreOpener interface {
	OpenStore(ctx context.Context) (Store, error)
}

// Config configures a Service and everything it is built with. Zero fields
// take the documented defaults; New validates the whole once, builds every
// factor, the device trust and every listener, and reports what to fix.
type Config struct {
	// Store keeps challenges, limit counters and every factor's records.
	// Use store.NewMemory for one instance; a shared store (sqlstore,
	// redisstore) when several instances serve the same users, or limits
	// will not hold across them. Set Store or OpenStore.
	Store Store

	// OpenStore, when Store is nil, opens the store as New runs (for
	// example sqlite.File("twofactor.db")).
	OpenStore StoreOpener

	// Keys are the server keys: they sign step-up proofs, hash codes and
	// seal secrets. Required: keyring.Env("TWOFACTOR_KEYS") reads them
	// from the environment, keyring.Dev("dev.keys") makes a file of them in
	// development, and a *keyring.Ring is given as it is.
	Keys keyring.Source

	// Factors configure the second factors offered, in the order users
	// see them: totp.Config, emailcode.Config, smscode.Config,
	// backupcodes.Config, webauthn.Config, or a FactorFunc for the host's
	// own. At least one is required; methods must be unique.
	Factors []FactorConfig

	// Trust, if set, lets login challenges be skipped on trusted devices
	// and lets Verify remember a device: trust.Config.
	Trust TrustConfig

	// Listeners hear every event, after it is logged: notify.Config sends
	// security emails. Service.Shutdown stops them.
	Listeners []ListenerConfig

	// Users turns a user id into the host's User, for the parts that
	// start from an id: security emails, the settings and administrator
	// pages, the administrator's commands. It returns an error matching
	// ErrUnknownUser for an id it does not know. Nil: those parts know a
	// user by id alone (no address, no name).
	Users func(ctx context.Context, id string) (User, error)

	// Policy says which factors are allowed and required: for every user
	// when PolicyFor is nil, else for those it gives no named policy.
	Policy Policy

	// Policies are named policies for some users, chosen by PolicyFor
	// (see "Policies" in the package documentation). Each is checked by
	// New as Policy is.
	Policies map[string]Policy

	// PolicyFor names the policy of a user, from what the host knows of
	// them (a role, a group, a tenant): a key of Policies, or "" for
	// Policy. It is asked wherever the policy is used (Begin, enrollment,
	// removal, Check, the HTTP layer's pages and middleware) and its answer
	// is never cached, so a change applies at the next request. An error,
	// or a name Policies lacks, fails the request closed. Nil: Policy for
	// everyone.
	PolicyFor func(ctx context.Context, u User) (string, error)

	// Limits bound attempts. Zero fields take defaults.
	Limits Limits

	// StepUpMaxAge is how old a verification may be and still count as
	// fresh for RemoveEnrollment and CheckProof. Zero means 5 minutes.
	StepUpMaxAge time.Duration

	// Veto, if set, may refuse a verification the factor accepted: a risk
	// check, a list of blocked networks. It is called with what was
	// verified, after the factor consumed the answer and before the
	// challenge completes; a non-nil error refuses it, and Verify returns
	// an error matching ErrVetoed (see "Vetoing a verification" in the
	// package documentation). It must not block long. Nil: no veto.
	Veto func(ctx context.Context, in VetoInput) error

	// Events receives every event. Nil logs to slog.Default().
	Events *event.Sink

	// Now is the clock. Nil means time.Now. Give the store the same clock.
	Now func() time.Time

	// MeterProvider makes the meter the Service records its metrics with
	// (see "Metrics and traces" in the package documentation), for
	// example otel.GetMeterProvider() for OpenTelemetry's global one. Nil
	// records no metrics.
	MeterProvider metric.MeterProvider

	// TracerProvider makes the tracer of the Service's spans: one per
	// step, with the store's calls as its children; for example
	// otel.GetTracerProvider(). Nil records no spans. With neither
	// provider, or only OpenTelemetry's no-op ones, the Service is built
	// without telemetry and costs nothing more.
	TracerProvider trace.TracerProvider

	// Rand is the source of codes, secrets and ids. Nil means crypto/rand.
	Rand io.Reader
}

// Limits bound how often users and clients may try. They are counted in the
// store, so they hold across app instances sharing it, and every answer is
// counted before any factor looks at it, so concurrent answers can never
// exceed a limit.
//
// Wrong answers of one user escalate: after MaxUserFailures wrong answers in
// a row (across challenges) the user is locked out for LockoutDuration;
// each further MaxUserFailures wrong answers double the lockout, and after
// MaxConsecutiveFailures the user stays locked until a lock is lifted by
// [Service.PasswordChanged], [Service.Unlock] or [Service.AdminReset], or
// FailureMemory has passed since the first of them. A correct answer ends
// the run. The package documentation gives the odds these defaults leave
// an attacker who knows the password.
type Limits struct {
	// ChallengeTTL is how long a challenge lives. Zero means 15 minutes.
	ChallengeTTL time.Duration
	// MaxAttempts is how many answers a challenge accepts before it dies.
	// Zero means 5.
	MaxAttempts int
	// MaxUserFailures is how many wrong answers in a row a user may give
	// before the first lockout, and again between lockouts. Zero means 10.
	MaxUserFailures int
	// LockoutDuration is the first lockout; each further one doubles it.
	// Zero means 15 minutes.
	LockoutDuration time.Duration
	// MaxConsecutiveFailures is how many wrong answers in a row a user may
	// give in all; it must be at least MaxUserFailures. Zero means 100, the
	// most NIST SP 800-63B (section 5.2.2) allows.
	MaxConsecutiveFailures int
	// FailureMemory is how long a run of wrong answers is remembered, from
	// its first, when no correct answer ends it. Zero means 365 days.
	FailureMemory time.Duration
	// MaxIPAttempts is how many answers one client network may submit
	// within IPWindow, across users. Zero means 100.
	MaxIPAttempts int
	// IPWindow is the per-IP window. Zero means 15 minutes.
	IPWindow time.Duration
	// IPv6Prefix is the prefix length by which IPv6 clients are counted:
	// one subscriber usually holds a whole /64, so counting single
	// addresses would let a client rotate past the limit. Zero means 64;
	// 48 to 128 are accepted. IPv4 clients are counted by address.
	IPv6Prefix int
}

// Policy says which factors users may and must use.
type Policy struct {
	// Methods lists the allowed methods. Nil allows every configured factor.
	Methods []Method
	// Required means every user must have a second factor: Begin answers
	// StatusEnrollRequired for a user without one instead of StatusNoFactor.
	// Recovery factors (backup codes) do not count.
	Required bool
	// Default is the method offered first on a challenge, when the user has
	// it, and the one a host's sign-up and settings pages set up first. It
	// must be allowed.
	Default Method
	// Mandatory lists methods every user must have enrolled (for example SMS
	// once the administrator makes a phone number mandatory). Check reports
	// the users who lack them.
	Mandatory []Method
	// Grace, with Required, lets a user without a second factor put off
	// enrolling until a date, for a number of days from the first prompt,
	// or for a number of skips. Zero: no grace, enroll at once.
	Grace Grace
	// Passkey says what a sign-in with a passkey and no password proves
	// (Service.FinishPasskey): PasskeyBothFactors, the zero value, or
	// PasskeyFirstFactor.
	Passkey PasskeyRule
}

// A PasskeyRule says what a passkey sign-in proves.
type PasskeyRule int

const (
	// PasskeyBothFactors: a passkey that verified its user (a PIN or a
	// biometric on the device) is both factors: something the user has,
	// the device's key, and something they know or are, which the device
	// checked. NIST SP 800-63B counts such a multi-factor cryptographic
	// authenticator as AAL2, and phishing resistant, on its own. The user
	// is signed in with no further step.
	PasskeyBothFactors PasskeyRule = iota
	// PasskeyFirstFactor: a passkey replaces the password only; the
	// second step follows, on a factor other than a security key (two
	// separate devices).
	PasskeyFirstFactor
)

func (l Limits) withDefaults() Limits {
	l.ChallengeTTL = cmp.Or(l.ChallengeTTL, defaultChallengeTTL)
	l.MaxAttempts = cmp.Or(l.MaxAttempts, defaultMaxAttempts)
	l.MaxUserFailures = cmp.Or(l.MaxUserFailures, defaultMaxUserFailures)
	l.LockoutDuration = cmp.Or(l.LockoutDuration, defaultLockoutDuration)
	l.MaxConsecutiveFailures = cmp.Or(l.MaxConsecutiveFailures, defaultMaxConsecutiveFailures)
	l.FailureMemory = cmp.Or(l.FailureMemory, defaultFailureMemory)
	l.MaxIPAttempts = cmp.Or(l.MaxIPAttempts, defaultMaxIPAttempts)
	l.IPWindow = cmp.Or(l.IPWindow, defaultIPWindow)
	l.IPv6Prefix = cmp.Or(l.IPv6Prefix, defaultIPv6Prefix)
	return l
}

// check validates l after defaults.
func (l Limits) check() error {
	switch {
	case l.ChallengeTTL < 0 || l.LockoutDuration < 0 || l.FailureMemory < 0 || l.IPWindow < 0:
		return configErr("Limits durations must not be negative (zero means the default)")
	case l.MaxAttempts < 0 || l.MaxUserFailures < 0 || l.MaxConsecutiveFailures < 0 || l.MaxIPAttempts < 0:
		return configErr("Limits counts must not be negative (zero means the default)")
	case l.ChallengeTTL > 24*time.Hour:
		return configErr("Limits.ChallengeTTL %s is longer than 24h; a second-factor challenge should live minutes", l.ChallengeTTL)
	case l.MaxConsecutiveFailures < l.MaxUserFailures:
		return configErr("Limits.MaxConsecutiveFailures %d is below MaxUserFailures %d", l.MaxConsecutiveFailures, l.MaxUserFailures)
	case l.MaxConsecutiveFailures > 100:
		return configErr("Limits.MaxConsecutiveFailures %d is above 100, the most NIST SP 800-63B allows", l.MaxConsecutiveFailures)
	case l.FailureMemory < l.LockoutDuration:
		return configErr("Limits.FailureMemory %s is shorter than LockoutDuration %s", l.FailureMemory, l.LockoutDuration)
	case l.IPv6Prefix < 48 || l.IPv6Prefix > 128:
		return configErr("Limits.IPv6Prefix %d is out of range: use 48 to 128 (zero means 64)", l.IPv6Prefix)
	}
	return nil
}

// check validates what New needs before it builds anything.
func (cfg *Config) check() error {
	switch {
	case cfg.Store == nil && cfg.OpenStore == nil:
		return configErr("Config.Store is nil: use store.NewMemory() for a single instance, a shared store (sqlstore, redisstore), or OpenStore")
	case cfg.Store != nil && cfg.OpenStore != nil:
		return configErr("Config.Store and Config.OpenStore are both set: give one")
	case cfg.Keys == nil:
		return configErr("Config.Keys is nil: use keyring.Env(\"TWOFACTOR_KEYS\") with a key from `twofactor keygen`, or keyring.Dev(file) in development")
	case len(cfg.Factors) == 0:
		return configErr("Config.Factors is empty: add at least one factor (totp, emailcode, smscode, backupcodes, webauthn, or your own)")
	case cfg.StepUpMaxAge < 0:
		return configErr("StepUpMaxAge must not be negative")
	}
	for i, f := range cfg.Factors {
		if f == nil {
			return configErr("Config.Factors[%d] is nil", i)
		}
	}
	for i, l := range cfg.Listeners {
		if l == nil {
			return configErr("Config.Listeners[%d] is nil", i)
		}
	}
	return cfg.Limits.withDefaults().check()
}

// index checks the built factors against each other and the policy, and
// returns them by method.
func (cfg *Config) index(factors []Factor) (map[Method]Factor, error) {
	byMethod := make(map[Method]Factor, len(factors))
	for i, f := range factors {
		m := f.Method()
		if err := checkMethodName(m); err != nil {
			return nil, configErr("Config.Factors[%d]: %v", i, err)
		}
		if _, dup := byMethod[m]; dup {
			return nil, configErr("Config.Factors has two factors for method %q", m)
		}
		byMethod[m] = f
	}
	if err := checkPolicy("Policy", cfg.Policy, factors, byMethod); err != nil {
		return nil, err
	}
	if err := cfg.checkPolicies(factors, byMethod); err != nil {
		return nil, err
	}
	return byMethod, nil
}

func checkMethodName(m Method) error {
	if m == "" || len(m) > 32 {
		return fmt.Errorf("method name must be 1 to 32 characters, got %q", m)
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("method name %q: use [a-z0-9_-]", m)
		}
	}
	return nil
}
