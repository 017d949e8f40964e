package onetime

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/store"
)

// ConfigError returns an error wrapping twofactor.ErrConfig, prefixed with
// the factor package's name: "emailcode: twofactor: invalid configuration:
// ...". Every configuration error of the email and SMS packages is one.
func ConfigError(pkg, format string, args ...any) error {
	return errs.Config(pkg, format, args...)
}

// Defaults of Codes and Caps.Window, the same for every channel. The
// factor packages document them and export them under the same names.
const (
	// DefaultTTL: long enough for a message that is slow to arrive and a
	// user who switches apps to read it, short enough that a code found
	// later in a mailbox or on a lock screen is dead.
	DefaultTTL = 15 * time.Minute
	// DefaultResendCooldown: about how long users wait before asking
	// again, and a bound on how fast a client can flood a mailbox or run
	// up SMS costs through resends.
	DefaultResendCooldown = 60 * time.Second
	// DefaultCodeLength: six digits are 20 bits, the least NIST SP
	// 800-63B accepts for an out-of-band secret; with five wrong answers
	// per code a guess succeeds once in 200,000 codes. It is also the
	// length browsers and phones autofill and pages auto-submit.
	DefaultCodeLength = 6
	// DefaultMaxAttempts: enough for typos, few enough that guessing is
	// hopeless (see DefaultCodeLength).
	DefaultMaxAttempts = 5
	// DefaultCapWindow is the window of the caps and budgets.
	DefaultCapWindow = time.Hour
)

// Bounds on Codes.
const (
	MinCodeLength = 6
	MaxCodeLength = 10
	MaxAttempts   = 10
)

// Codes are the rules of one-time codes: how long they live, how often
// they may be resent, their length and how many wrong answers kill one.
// The email and SMS factors expose this type as their Codes. A zero field
// takes the default.
type Codes struct {
	// TTL is how long a code is valid, 1m to 24h. Zero means 15 minutes.
	TTL time.Duration
	// ResendCooldown is the wait before another code may be sent for the
	// same challenge or enrollment; it must be shorter than TTL. Zero
	// means 60 seconds.
	ResendCooldown time.Duration
	// Length is the number of digits, 6 to 10. Zero means 6.
	Length int
	// MaxAttempts is how many wrong answers kill a code, 1 to 10. Zero
	// means 5.
	MaxAttempts int
}

// resolve applies the defaults and checks the result.
func (c Codes) resolve() (Codes, error) {
	r := Codes{
		TTL:            cmp.Or(c.TTL, DefaultTTL),
		ResendCooldown: cmp.Or(c.ResendCooldown, DefaultResendCooldown),
		Length:         cmp.Or(c.Length, DefaultCodeLength),
		MaxAttempts:    cmp.Or(c.MaxAttempts, DefaultMaxAttempts),
	}
	switch {
	case r.Length < MinCodeLength || r.Length > MaxCodeLength:
		return r, fmt.Errorf("Codes.Length %d is out of range: use %d to %d digits (zero means %d)", r.Length, MinCodeLength, MaxCodeLength, DefaultCodeLength)
	case r.TTL < time.Minute || r.TTL > 24*time.Hour:
		return r, fmt.Errorf("Codes.TTL %s is out of range: use 1m to 24h (zero means %s)", r.TTL, DefaultTTL)
	case r.ResendCooldown < 0:
		return r, fmt.Errorf("Codes.ResendCooldown must not be negative (zero means %s)", DefaultResendCooldown)
	case r.ResendCooldown >= r.TTL:
		return r, fmt.Errorf("Codes.ResendCooldown %s must be shorter than Codes.TTL %s", r.ResendCooldown, r.TTL)
	case r.MaxAttempts < 1 || r.MaxAttempts > MaxAttempts:
		return r, fmt.Errorf("Codes.MaxAttempts %d is out of range: use 1 to %d (zero means %d)", r.MaxAttempts, MaxAttempts, DefaultMaxAttempts)
	}
	return r, nil
}

// Budgets bound a channel's sends across every user and client, per
// Caps.Window: what a toll-fraud run can cost the host. The factor
// resolves its defaults: here a value of zero or less means no budget.
type Budgets struct {
	// PerCountry is sends to the numbers of one country (Request.Country).
	PerCountry int
	// Countries overrides PerCountry for some countries; zero or less
	// means none for that country.
	Countries map[string]int
	// Total is sends in all.
	Total int
}

// country returns the budget of country, zero or less for none.
func (b Budgets) country(c string) int {
	if n, ok := b.Countries[c]; ok {
		return n
	}
	return b.PerCountry
}

// Caps bound how many codes may be issued per window, counted in the store
// so they hold across app instances. A zero field takes the channel's
// default (Config.CapDefaults); a negative one disables that cap.
//
// Login codes (and step-up codes) go to a destination the user already
// owns and are counted on PerUser and PerDestination. Verification codes
// go to a destination an account merely claims, which any account can aim
// at anyone's address or number, so they are counted on caps of their own
// and never spend the login budget of a destination. Every code counts on
// PerIP.
//
// The factor packages expose this type as their Caps and document their
// defaults.
type Caps struct {
	// PerUser is login codes per user per window.
	PerUser int
	// PerDestination is login codes per address or number per window,
	// across users.
	PerDestination int
	// PerIP is codes of any kind requested from one client network per
	// window: an IPv4 address, or the /64 of an IPv6 one.
	PerIP int
	// VerifyPerUser is verification codes one account may request per
	// window, whatever the destinations.
	VerifyPerUser int
	// VerifyPerUserDestination is verification codes one account may send
	// to one destination per window.
	VerifyPerUserDestination int
	// VerifyPerDestination is how many accounts may send verification
	// codes to one destination per window: an account takes one of these
	// slots with its first code to the destination in its own window, and
	// its resends take none. It bounds how much anyone can message an
	// address or number that is not theirs (VerifyPerDestination ×
	// VerifyPerUserDestination codes), and it counts accounts, not codes,
	// so that denying the owner her own confirmation takes that many
	// accounts: a few accounts sending all they may cannot use it up. One
	// account takes at most two slots in a window (its own window may end
	// within the destination's), so it must be more than 2.
	VerifyPerDestination int
	// Window is the length of the fixed window. Zero takes the default
	// (one hour); it must not be negative.
	Window time.Duration
}

// resolve returns c with zero fields taken from def, and checks the
// result.
func (c Caps) resolve(def Caps) (Caps, error) {
	if c.Window < 0 {
		return c, errors.New("Caps.Window must not be negative (zero means the default)")
	}
	r := Caps{
		PerUser:                  cmp.Or(c.PerUser, def.PerUser),
		PerDestination:           cmp.Or(c.PerDestination, def.PerDestination),
		PerIP:                    cmp.Or(c.PerIP, def.PerIP),
		VerifyPerUser:            cmp.Or(c.VerifyPerUser, def.VerifyPerUser),
		VerifyPerUserDestination: cmp.Or(c.VerifyPerUserDestination, def.VerifyPerUserDestination),
		VerifyPerDestination:     cmp.Or(c.VerifyPerDestination, def.VerifyPerDestination),
		Window:                   cmp.Or(c.Window, def.Window, DefaultCapWindow),
	}
	if r.PerUser == 0 || r.PerDestination == 0 || r.PerIP == 0 ||
		r.VerifyPerUser == 0 || r.VerifyPerUserDestination == 0 || r.VerifyPerDestination == 0 {
		return r, errors.New("caps are unset") // factor packages always pass their defaults
	}
	if r.Window < time.Minute {
		return r, fmt.Errorf("Caps.Window %s is too short: use at least 1m (zero means 1h)", r.Window)
	}
	if r.VerifyPerDestination > 0 {
		if r.VerifyPerDestination <= 2 {
			// With fixed windows one account may take a slot at the end of
			// its window and another at the start of its next, both within
			// one window of the destination.
			return r, fmt.Errorf("Caps.VerifyPerDestination %d must be more than 2: it counts accounts, one account may count twice in a window, and alone it could use up the verification budget of anyone's address or number", r.VerifyPerDestination)
		}
	}
	return r, nil
}

// Config is a channel's rules. Factor packages fill it from their own
// configs; New validates it.
type Config struct {
	Channel string           // "email", "sms": separates hash domains and store keys
	Method  twofactor.Method // recorded in events
	Codes   Codes            // as the host configured them
	Caps    Caps             // as the host configured them
	// CapDefaults are the channel's default caps, every field set.
	CapDefaults Caps
	// Budgets are resolved by the factor; the zero value means none.
	Budgets Budgets
	// EnrollPurpose is the purpose of the codes that confirm a destination
	// being enrolled ("email_verify", "phone_verify").
	EnrollPurpose string
	// Mask returns a destination for display and events
	// ("j***@example.com", "+1 *** *** **12").
	Mask func(dest string) string
	// FoldCase makes destinations compare, count and bind without regard
	// to case (email addresses).
	FoldCase bool
}

// Store is what the email and SMS factors need from a store: codes and
// counters for the issuer, enrollments for what users enrolled, and owned
// states for enrollments awaiting their code. Every store of this module
// implements it.
type Store interface {
	store.Codes
	store.CodeGroups
	store.Counters
	store.Enrollments
	store.States
	store.OwnedStates
}

// storeParts are the interfaces Store is made of, named when a store
// lacks one.
var storeParts = []reflect.Type{
	reflect.TypeFor[store.Codes](),
	reflect.TypeFor[store.CodeGroups](),
	reflect.TypeFor[store.Counters](),
	reflect.TypeFor[store.Enrollments](),
	reflect.TypeFor[store.States](),
	reflect.TypeFor[store.OwnedStates](),
}

// Wire returns env's store as a Store and env with its defaults applied
// (twofactor.Env.WithDefaults): the first step of the factors'
// constructors and of New. A nil store or keyring, or a store lacking
// one of the interfaces Store is made of, is an error matching
// twofactor.ErrConfig that names what is missing, prefixed with pkg.
func Wire(pkg string, env twofactor.Env) (Store, twofactor.Env, error) {
	return errs.Store[Store](pkg, env, storeParts...)
}
