package onetime

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// Store is what the issuer needs from a store.
type Store interface {
	store.Codes
	store.CodeGroups
	store.Counters
}

// ErrDelivery is wrapped by every error that means the message could not be
// handed to the mail server or SMS gateway. Its failure reason, recorded in
// the Service's send-failure events, is "delivery".
var ErrDelivery error = deliveryError{}

type deliveryError struct{}

func (deliveryError) Error() string         { return "delivery failed" }
func (deliveryError) FailureReason() string { return "delivery" }

// Defaults applied to zero Config fields.
const (
	DefaultCodeLength     = 6
	DefaultTTL            = 15 * time.Minute
	DefaultResendCooldown = 60 * time.Second
	DefaultMaxAttempts    = 5
	DefaultCapWindow      = time.Hour
)

// Bounds on configuration.
const (
	MinCodeLength = 6
	MaxCodeLength = 10
)

// Limits named by RetryError.Limit when the issuer refuses a send.
const (
	LimitResend                = "resend"                  // the resend cooldown of one challenge or verification
	LimitIP                    = "ip"                      // Caps.PerIP
	LimitUser                  = "user"                    // Caps.PerUser
	LimitDestination           = "destination"             // Caps.PerDestination
	LimitVerifyUser            = "verify_user"             // Caps.VerifyPerUser
	LimitVerifyUserDestination = "verify_user_destination" // Caps.VerifyPerUserDestination
	LimitVerifyDestination     = "verify_destination"      // Caps.VerifyPerDestination
	LimitCountry               = "country"                 // Budgets.PerCountry, Budgets.Countries
	LimitTotal                 = "total"                   // Budgets.Total
)

// ReasonBudgetReached is the Reason of the twofactor.EventRateLimited event
// emitted by the send that takes the last unit of a budget.
const ReasonBudgetReached = "budget_reached"

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
	// VerifyPerDestination is verification codes per destination per
	// window across all accounts: it bounds how much anyone can message an
	// address or number that is not theirs. It must be more than twice what
	// one account may send to one destination, so that no account can use
	// it up alone, even across the edge of a window.
	VerifyPerDestination int
	// Window is the length of the fixed window. Zero takes the default
	// (one hour); it must not be negative.
	Window time.Duration
}

// resolve returns c with zero fields taken from def, and checks the
// result. pkg prefixes errors, which wrap twofactor.ErrConfig.
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
		// With fixed windows, one account may fit two of its own windows'
		// worth into one window of the destination's counter.
		one, name := r.oneAccountPerDestination()
		if one < 0 || r.VerifyPerDestination <= 2*one {
			return r, fmt.Errorf("Caps.VerifyPerDestination %d must be more than twice %s (%s): otherwise one account alone could use up the verification budget of anyone's address or number", r.VerifyPerDestination, name, capString(one))
		}
	}
	return r, nil
}

// oneAccountPerDestination returns how many verification codes one account
// may send to one destination per window, and the cap that says so; -1
// when no cap bounds it.
func (c Caps) oneAccountPerDestination() (int, string) {
	switch {
	case c.VerifyPerUserDestination > 0 && (c.VerifyPerUser <= 0 || c.VerifyPerUserDestination <= c.VerifyPerUser):
		return c.VerifyPerUserDestination, "VerifyPerUserDestination"
	case c.VerifyPerUser > 0:
		return c.VerifyPerUser, "VerifyPerUser"
	default:
		return -1, "VerifyPerUserDestination"
	}
}

func capString(n int) string {
	if n < 0 {
		return "disabled"
	}
	return strconv.Itoa(n)
}

// Config configures an Issuer. Factor packages fill it from their own
// configs and defaults.
type Config struct {
	Store          Store
	Keys           *twofactor.Keyring
	Channel        string // "email", "sms": separates hash domains and store keys
	CodeLength     int
	TTL            time.Duration
	ResendCooldown time.Duration
	MaxAttempts    int
	Caps           Caps    // as the host configured them
	CapDefaults    Caps    // the channel's defaults, every field set
	Budgets        Budgets // resolved; the zero value means none
	// Events receives the budget-reached events, with Method. Nil logs
	// to slog.Default.
	Events *twofactor.Events
	Method twofactor.Method
	Now    func() time.Time
	Rand   io.Reader
}

// Issuer issues and verifies codes for one channel. It is safe for
// concurrent use.
type Issuer struct {
	pkg      string // the factor package, prefixing its errors
	store    Store
	keys     *twofactor.Keyring
	channel  string
	domain   string
	length   int
	ttl      time.Duration
	cooldown time.Duration
	attempts int
	caps     Caps
	budgets  Budgets
	events   *twofactor.Events
	method   twofactor.Method
	now      func() time.Time
	rand     io.Reader
}

// New returns an Issuer for cfg with defaults applied. pkg prefixes error
// messages ("emailcode", "smscode").
func New(pkg string, cfg Config) (*Issuer, error) {
	conf := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", pkg, twofactor.ErrConfig, fmt.Sprintf(format, args...))
	}
	if cfg.Store == nil {
		return nil, conf("Config.Store is nil: use store.NewMemory(nil) for one instance, or a shared store (sqlstore, redisstore)")
	}
	if cfg.Keys == nil {
		return nil, conf("Config.Keys is nil: pass the same *twofactor.Keyring as the Service")
	}
	if cfg.Channel == "" {
		return nil, conf("channel is empty")
	}
	is := &Issuer{
		pkg:      pkg,
		store:    cfg.Store,
		keys:     cfg.Keys,
		channel:  cfg.Channel,
		domain:   "twofactor onetime v1 " + cfg.Channel,
		length:   cmp.Or(cfg.CodeLength, DefaultCodeLength),
		ttl:      cmp.Or(cfg.TTL, DefaultTTL),
		cooldown: cmp.Or(cfg.ResendCooldown, DefaultResendCooldown),
		attempts: cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts),
		budgets:  cfg.Budgets,
		events:   cfg.Events,
		method:   cfg.Method,
		now:      cfg.Now,
		rand:     cfg.Rand,
	}
	caps, err := cfg.Caps.resolve(cfg.CapDefaults)
	if err != nil {
		return nil, conf("%v", err)
	}
	is.caps = caps
	if is.now == nil {
		is.now = time.Now
	}
	switch {
	case is.length < MinCodeLength || is.length > MaxCodeLength:
		return nil, conf("CodeLength %d is out of range: use %d to %d digits (zero means %d)", is.length, MinCodeLength, MaxCodeLength, DefaultCodeLength)
	case is.ttl < time.Minute || is.ttl > 24*time.Hour:
		return nil, conf("TTL %s is out of range: use 1m to 24h (zero means %s)", is.ttl, DefaultTTL)
	case is.cooldown < 0:
		return nil, conf("ResendCooldown must not be negative (zero means %s)", DefaultResendCooldown)
	case is.cooldown >= is.ttl:
		return nil, conf("ResendCooldown %s must be shorter than TTL %s", is.cooldown, is.ttl)
	case is.attempts < 1 || is.attempts > 10:
		return nil, conf("MaxAttempts %d is out of range: use 1 to 10 (zero means %d)", is.attempts, DefaultMaxAttempts)
	}
	return is, nil
}

// CodeLength returns the number of digits of a code.
func (is *Issuer) CodeLength() int { return is.length }

// TTL returns how long a code lives.
func (is *Issuer) TTL() time.Duration { return is.ttl }

// Now returns the issuer's clock reading.
func (is *Issuer) Now() time.Time { return is.now() }

// A Request names one code to issue.
type Request struct {
	// Group is the challenge id, or an id of the verification in progress
	// (a user's pending phone number).
	Group string
	// Purpose is what the code is for: "login", "step_up", "phone_verify".
	Purpose string
	// Bind is mixed into the hash and must be given again to Verify: the
	// user id for a login code, the number being verified for a phone. It
	// is never stored.
	Bind string
	// UserID is counted for the per-user caps.
	UserID string
	// Destination is the email address or E.164 number, counted (as a keyed
	// hash) for the per-destination caps.
	Destination string
	// IP is counted for the per-IP cap when valid.
	IP netip.Addr
	// Verification marks a code that proves the user owns Destination (a
	// sign-up, a new address or number) rather than a login or step-up
	// code. It is counted on the Verify caps instead of PerUser and
	// PerDestination, so asking to verify someone else's address or number
	// never spends its login budget. UserID and Destination are required.
	Verification bool
	// Country is the destination's country (an ISO 3166-1 region such as
	// "GB", or "001"/"ZZ" for numbers of no region), counted on the
	// per-country budget when set: one to three ASCII letters or digits.
	Country string
}

// validCountry reports whether c is usable in a counter key.
func validCountry(c string) bool {
	if len(c) > 3 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
			return false
		}
	}
	return true
}

// Issued describes a delivered code.
type Issued struct {
	ExpiresAt time.Time
	ResendAt  time.Time
}

// A Deliver function hands code to the channel. It is called once the code
// is stored; its error is returned wrapped in ErrDelivery.
type Deliver func(ctx context.Context, code string, expiresAt time.Time) error

func (is *Issuer) group(g string) string { return "otc:" + is.channel + ":" + g }

func (is *Issuer) hash(r Request, code string) []byte {
	data := make([]byte, 0, len(r.Group)+len(r.Purpose)+len(r.Bind)+len(code)+3)
	data = append(data, r.Group...)
	data = append(data, 0)
	data = append(data, r.Purpose...)
	data = append(data, 0)
	data = append(data, r.Bind...)
	data = append(data, 0)
	data = append(data, code...)
	return is.keys.Hash(is.domain, data)
}

// destKey returns a counter key fragment for a destination that does not
// reveal it: a keyed hash, truncated to 128 bits.
func (is *Issuer) destKey(dest string) string {
	h := is.keys.Hash(is.domain+" destination", []byte(dest))
	return base64.RawURLEncoding.EncodeToString(h[len(h)-16:])
}

// pairKey is destKey for a (user, destination) pair: fixed length whatever
// the user id, and revealing neither.
func (is *Issuer) pairKey(userID, dest string) string {
	data := make([]byte, 0, len(userID)+1+len(dest))
	data = append(data, userID...)
	data = append(data, 0)
	data = append(data, dest...)
	h := is.keys.Hash(is.domain+" user destination", data)
	return base64.RawURLEncoding.EncodeToString(h[len(h)-16:])
}

func (is *Issuer) cooldownKey(r Request) string {
	return "otc:cool:" + is.channel + ":" + r.Group + ":" + r.Purpose
}

// Issue checks the cooldown and caps, issues a new code replacing any
// previous one for (Group, Purpose), stores its hash and delivers it.
//
// Store round trips on success: two with a store that implements
// store.BatchCounters (one batch for the cooldown and every cap, then
// PutCode); otherwise one counter for the cooldown, one per cap and PutCode.
// Every request counts toward the caps of its own user, pair and client
// network, including one the cooldown refuses: a client that ignores
// ResendAt spends its own budget. A refused request gives back what it took
// from counters shared with other accounts (VerifyPerDestination and the
// budgets), one store round trip each, so that nobody spends those by
// being refused. The send that takes the last unit of a budget emits a
// twofactor.EventRateLimited event with Reason ReasonBudgetReached.
//
// A cooldown or cap answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited, with one of the Limit names. A request without
// Group or Purpose, or a verification without UserID or Destination, is an
// error matching twofactor.ErrInvalidInput and touches no store. A delivery
// failure returns an error wrapping ErrDelivery; see the package doc for
// what it leaves behind.
func (is *Issuer) Issue(ctx context.Context, r Request, deliver Deliver) (Issued, error) {
	if r.Group == "" || r.Purpose == "" {
		return Issued{}, fmt.Errorf("onetime: empty group or purpose: %w", twofactor.ErrInvalidInput)
	}
	if r.Verification && (r.UserID == "" || r.Destination == "") {
		return Issued{}, fmt.Errorf("onetime: a verification needs a user and a destination: %w", twofactor.ErrInvalidInput)
	}
	if !validCountry(r.Country) {
		return Issued{}, fmt.Errorf("onetime: country must be 1 to 3 capital letters or digits: %w", twofactor.ErrInvalidInput)
	}
	now := is.now()
	coolKey := is.cooldownKey(r)
	checks := is.limitChecks(r, coolKey)
	incrs := make([]store.CounterIncr, len(checks))
	for i, c := range checks {
		incrs[i] = store.CounterIncr{Key: c.key, Window: c.window}
	}
	counts, err := store.IncrAll(ctx, is.store, incrs)
	if err != nil {
		return Issued{}, fmt.Errorf("counting send limits: %w", err)
	}
	// From here on a failure must lift the cooldown again (nothing was
	// sent), and give back the shared counts (nothing was spent).
	undoCooldown := func() {
		if is.cooldown > 0 {
			_ = is.store.ResetCounter(context.WithoutCancel(ctx), coolKey)
		}
	}
	giveBack := func() {
		for _, c := range checks {
			if c.shared {
				_ = is.store.Decr(context.WithoutCancel(ctx), c.key)
			}
		}
	}
	for i, c := range checks {
		if counts[i].N <= int64(c.max) {
			continue
		}
		giveBack()
		if c.limit != LimitResend {
			// The cooldown counter was taken in this same batch; a request
			// refused by a cap sends nothing, so it must not start one.
			undoCooldown()
		}
		return Issued{}, twofactor.NewRetryError(twofactor.ErrRateLimited, c.limit, now, counts[i].ResetAt)
	}
	code, err := secure.Digits(is.rand, is.length)
	if err != nil {
		giveBack()
		undoCooldown()
		return Issued{}, err
	}
	expires := now.Add(is.ttl)
	c := store.Code{
		Group:       is.group(r.Group),
		Key:         r.Purpose,
		Hash:        is.hash(r, code),
		ExpiresAt:   expires,
		MaxAttempts: is.attempts,
	}
	if err := is.store.PutCode(ctx, c); err != nil {
		giveBack()
		undoCooldown()
		return Issued{}, fmt.Errorf("storing code: %w", err)
	}
	for i, c := range checks {
		if c.alert && counts[i].N == int64(c.max) {
			is.budgetReached(ctx, r, c, counts[i].ResetAt)
		}
	}
	if err := deliver(ctx, code, expires); err != nil {
		// No usable code may be left: the one just stored replaced the
		// previous one and was not delivered. The caps keep the attempt:
		// the channel may have charged for it.
		dctx := context.WithoutCancel(ctx)
		derr := is.store.DeleteCode(dctx, c.Group, c.Key)
		undoCooldown()
		if derr != nil {
			return Issued{}, fmt.Errorf("%w: %w (and removing the undelivered code failed: %v)", ErrDelivery, err, derr)
		}
		return Issued{}, fmt.Errorf("%w: %w", ErrDelivery, err)
	}
	return Issued{ExpiresAt: expires, ResendAt: now.Add(is.cooldown)}, nil
}

// limitCheck is one counter Issue takes, with its bound.
type limitCheck struct {
	limit, key string
	window     time.Duration
	max        int
	// shared marks a counter that other accounts spend too: a refused
	// request gives its count back.
	shared bool
	// alert marks a budget: the send that takes its last unit emits an
	// event.
	alert bool
}

// budgetReached emits the event of a send that took the last unit of the
// budget c, which holds until resetAt.
func (is *Issuer) budgetReached(ctx context.Context, r Request, c limitCheck, resetAt time.Time) {
	ev := twofactor.Event{
		Type:    twofactor.EventRateLimited,
		Time:    is.now(),
		UserID:  r.UserID,
		Method:  is.method,
		Purpose: twofactor.Purpose(r.Purpose),
		Reason:  ReasonBudgetReached,
		Details: map[string]string{
			"limit":  c.limit,
			"budget": strconv.Itoa(c.max),
			"until":  resetAt.UTC().Format(time.RFC3339),
		},
	}
	if c.limit == LimitCountry {
		ev.Details["country"] = r.Country
	}
	if r.IP.IsValid() {
		ev.IP = r.IP.String()
	}
	is.events.Emit(ctx, ev)
}

// limitChecks lists the cooldown (first, when enabled) and the caps.
func (is *Issuer) limitChecks(r Request, coolKey string) []limitCheck {
	checks := make([]limitCheck, 0, 7)
	add := func(limit, key string, max int, shared bool) {
		if max > 0 {
			checks = append(checks, limitCheck{limit, key, is.caps.Window, max, shared, false})
		}
	}
	if is.cooldown > 0 {
		checks = append(checks, limitCheck{LimitResend, coolKey, is.cooldown, 1, false, false})
	}
	if r.IP.IsValid() {
		add(LimitIP, "otc:cap:ip:"+is.channel+":"+clientNet(r.IP), is.caps.PerIP, false)
	}
	if r.Verification {
		add(LimitVerifyUser, "otc:cap:vuser:"+is.channel+":"+r.UserID, is.caps.VerifyPerUser, false)
		add(LimitVerifyUserDestination, "otc:cap:vpair:"+is.channel+":"+is.pairKey(r.UserID, r.Destination), is.caps.VerifyPerUserDestination, false)
		add(LimitVerifyDestination, "otc:cap:vdest:"+is.channel+":"+is.destKey(r.Destination), is.caps.VerifyPerDestination, true)
	} else {
		if r.Destination != "" {
			add(LimitDestination, "otc:cap:dest:"+is.channel+":"+is.destKey(r.Destination), is.caps.PerDestination, false)
		}
		if r.UserID != "" {
			add(LimitUser, "otc:cap:user:"+is.channel+":"+r.UserID, is.caps.PerUser, false)
		}
	}
	// The budgets come last, so that a request another limit refuses is
	// reported as such.
	if n := is.budgets.country(r.Country); r.Country != "" && n > 0 {
		checks = append(checks, limitCheck{LimitCountry, "otc:budget:country:" + is.channel + ":" + r.Country, is.caps.Window, n, true, true})
	}
	if n := is.budgets.Total; n > 0 {
		checks = append(checks, limitCheck{LimitTotal, "otc:budget:total:" + is.channel, is.caps.Window, n, true, true})
	}
	return checks
}

// ipv6NetworkBits is the prefix length by which IPv6 clients are counted.
const ipv6NetworkBits = 64

// clientNet returns what the per-IP cap counts a client under: an IPv4
// address (or an IPv4-mapped IPv6 one) as itself, an IPv6 address by its
// /64. The low 64 bits of an IPv6 address are the interface identifier
// (RFC 4291, section 2.5.1), which a host picks and changes at will
// (temporary addresses, RFC 8981), and a subscriber is given at least a
// /64 (RFC 6177): counting single IPv6 addresses would let one client
// rotate through 2^64 of them.
func clientNet(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(ipv6NetworkBits)
	if err != nil { // unreachable for a valid IPv6 address
		return ip.String()
	}
	return p.String()
}

// Verify consumes the code for r (Group, Purpose, Bind) if code matches,
// in one store round trip. code must already be normalized (see
// Normalize). A wrong code gives twofactor.ErrInvalidCode; when no live
// code is there (none sent, already used, dead after its attempts)
// twofactor.ErrNoCode, which matches it; an expired one
// twofactor.ErrCodeExpired; any other error is a store failure.
func (is *Issuer) Verify(ctx context.Context, r Request, code string) error {
	st, err := is.store.ConsumeCode(ctx, is.group(r.Group), r.Purpose, is.hash(r, code))
	if err != nil {
		return fmt.Errorf("checking code: %w", err)
	}
	switch st {
	case store.CodeMatched:
		return nil
	case store.CodeExpired:
		return twofactor.ErrCodeExpired
	case store.CodeMismatch:
		return twofactor.ErrInvalidCode
	case store.CodeNotFound, store.CodeExhausted:
		// Nothing live to check against (never sent, consumed by the twin
		// of a double submit, cancelled, dead): no guess.
		return twofactor.ErrNoCode
	default:
		return fmt.Errorf("checking code: unexpected status %v", st)
	}
}

// Cancel deletes every code of group.
func (is *Issuer) Cancel(ctx context.Context, group string) error {
	return is.store.DeleteGroup(ctx, is.group(group))
}

// Drop deletes the code of group and purpose and lifts its cooldown.
func (is *Issuer) Drop(ctx context.Context, group, purpose string) error {
	err := is.store.DeleteCode(ctx, is.group(group), purpose)
	if is.cooldown > 0 {
		err = errors.Join(err, is.store.ResetCounter(ctx, is.cooldownKey(Request{Group: group, Purpose: purpose})))
	}
	return err
}

// maxInput bounds answers before normalization.
const maxInput = 64

// Normalize returns the digits of a typed code: ASCII spaces, tabs and
// hyphens are ignored ("123 456", "123-456"), anything else that is not an
// ASCII digit is an error, and the result must have exactly n digits. The
// error matches twofactor.ErrInvalidInput. It never touches a store.
func Normalize(pkg, answer string, n int) (string, error) {
	if len(answer) > maxInput {
		return "", fmt.Errorf("%s: code is too long: %w", pkg, twofactor.ErrInvalidInput)
	}
	var buf [maxInput]byte
	out := buf[:0]
	for i := 0; i < len(answer); i++ {
		switch c := answer[i]; {
		case c >= '0' && c <= '9':
			out = append(out, c)
		case c == ' ' || c == '\t' || c == '-':
		default:
			return "", fmt.Errorf("%s: code must be digits only: %w", pkg, twofactor.ErrInvalidInput)
		}
	}
	if len(out) != n {
		return "", fmt.Errorf("%s: code must be %d digits: %w", pkg, n, twofactor.ErrInvalidInput)
	}
	return string(out), nil
}

// Wrap prefixes err with the factor package's name unless it is one of the
// user-facing answers (a *twofactor.RetryError, ErrInvalidCode,
// ErrCodeExpired), which pass through unchanged.
func (is *Issuer) Wrap(err error) error {
	var re *twofactor.RetryError
	if err == nil || errors.As(err, &re) || err == twofactor.ErrInvalidCode || err == twofactor.ErrCodeExpired || err == twofactor.ErrNoCode {
		return err
	}
	return fmt.Errorf("%s: %w", is.pkg, err)
}

// CheckAnswer rejects an answer that is not CodeLength digits (spaces and
// hyphens between digits are ignored) with an error matching
// twofactor.ErrInvalidInput, without touching the store. It is the factors'
// twofactor.AnswerChecker.
func (is *Issuer) CheckAnswer(answer string) error {
	_, err := Normalize(is.pkg, answer, is.length)
	return err
}

// VerifyChallenge consumes the login or step-up code of ch if answer
// matches, in one store round trip: the factors' Verify. A malformed or
// wrong code returns twofactor.ErrInvalidCode, an unknown or exhausted one
// twofactor.ErrNoCode, an expired one twofactor.ErrCodeExpired; other
// errors are store failures.
func (is *Issuer) VerifyChallenge(ctx context.Context, ch *twofactor.Challenge, answer string) error {
	if ch == nil {
		return fmt.Errorf("%s: nil challenge: %w", is.pkg, twofactor.ErrInvalidInput)
	}
	code, err := Normalize(is.pkg, answer, is.length)
	if err != nil {
		return twofactor.ErrInvalidCode
	}
	return is.Wrap(is.Verify(ctx, Request{Group: ch.ID, Purpose: string(ch.Purpose), Bind: ch.User.ID}, code))
}

// CancelChallenge deletes every code issued for ch: the factors' Cancel.
func (is *Issuer) CancelChallenge(ctx context.Context, ch *twofactor.Challenge) error {
	if ch == nil {
		return nil
	}
	if err := is.Cancel(ctx, ch.ID); err != nil {
		return fmt.Errorf("%s: deleting codes: %w", is.pkg, err)
	}
	return nil
}
