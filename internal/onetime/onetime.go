package onetime

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// ErrDelivery is wrapped by every error that means the message could not be
// handed to the mail server or SMS gateway. Its failure reason, recorded in
// the Service's send-failure events, is ReasonDelivery.
var ErrDelivery error = deliveryError{}

type deliveryError struct{}

func (deliveryError) Error() string               { return "delivery failed" }
func (deliveryError) FailureReason() event.Reason { return ReasonDelivery }

// Reasons of the events the issuer emits, and of ErrDelivery.
const (
	// ReasonDelivery is the failure reason of ErrDelivery: the mail
	// server or SMS gateway did not take the message.
	ReasonDelivery = event.ReasonDelivery
	// ReasonTouchFailed is the reason of the event.Warning of a
	// login whose last use could not be recorded (see Touch).
	ReasonTouchFailed = event.ReasonTouchFailed
	// ReasonDeletePendingFailed is the reason of the event.Warning
	// of a confirmed enrollment whose pending record could not be deleted
	// (its code is consumed: it can confirm nothing).
	ReasonDeletePendingFailed event.Reason = "delete_pending_failed"
	// ReasonBudgetCountry and ReasonBudgetTotal are the reasons of a
	// event.BudgetReached: a country's budget or the total one.
	// They read as the limits that refuse the next sends.
	ReasonBudgetCountry event.Reason = LimitCountry
	ReasonBudgetTotal   event.Reason = LimitTotal
)

// Limits named by RetryError.Limit when the issuer refuses a send.
const (
	LimitResend                = twofactor.LimitResend      // the resend cooldown of one challenge or verification
	LimitIP                    = twofactor.LimitIP          // Caps.PerIP
	LimitUser                  = twofactor.LimitUser        // Caps.PerUser
	LimitDestination           = twofactor.LimitDestination // Caps.PerDestination
	LimitVerifyUser            = "verify_user"              // Caps.VerifyPerUser
	LimitVerifyUserDestination = "verify_user_destination"  // Caps.VerifyPerUserDestination
	LimitVerifyDestination     = "verify_destination"       // Caps.VerifyPerDestination
	LimitCountry               = "country"                  // Budgets.PerCountry, Budgets.Countries
	LimitTotal                 = "total"                    // Budgets.Total
)

// Issuer issues and verifies codes for one channel. It is complete when New
// returns and safe for concurrent use.
type Issuer struct {
	pkg      string // the factor package, prefixing its errors
	channel  string
	domain   string
	method   twofactor.Method
	length   int
	ttl      time.Duration
	cooldown time.Duration
	attempts int
	caps     Caps
	budgets  Budgets
	purpose  string // of enrollment codes
	mask     func(string) string
	fold     bool

	store   Store
	env     twofactor.Env // with its defaults
	records *Records
}

// New validates cfg and returns an Issuer that keeps its codes, counters
// and pending enrollments in env's store, hashes and seals with env's
// keys, emits to env's events and reads env's clock and randomness. pkg
// prefixes error messages ("emailcode", "smscode"). Errors wrap
// twofactor.ErrConfig: a missing store or keys, a store without what
// Store needs (named), or rules out of range.
func New(pkg string, env twofactor.Env, cfg Config) (*Issuer, error) {
	st, env, err := Wire(pkg, env)
	if err != nil {
		return nil, err
	}
	if cfg.Channel == "" {
		return nil, ConfigError(pkg, "channel is empty")
	}
	codes, err := cfg.Codes.resolve()
	if err != nil {
		return nil, ConfigError(pkg, "%v", err)
	}
	caps, err := cfg.Caps.resolve(cfg.CapDefaults)
	if err != nil {
		return nil, ConfigError(pkg, "%v", err)
	}
	is := &Issuer{
		pkg:      pkg,
		channel:  cfg.Channel,
		domain:   "twofactor onetime v1 " + cfg.Channel,
		method:   cfg.Method,
		length:   codes.Length,
		ttl:      codes.TTL,
		cooldown: codes.ResendCooldown,
		attempts: codes.MaxAttempts,
		caps:     caps,
		budgets:  cfg.Budgets,
		purpose:  cmp.Or(cfg.EnrollPurpose, cfg.Channel+"_verify"),
		mask:     cfg.Mask,
		fold:     cfg.FoldCase,
		store:    st,
		env:      env,
	}
	if is.mask == nil {
		is.mask = func(string) string { return "***" }
	}
	is.records = &Records{pkg: pkg, channel: cfg.Channel, store: st, env: env}
	return is, nil
}

// Store returns the store the issuer was built with.
func (is *Issuer) Store() Store { return is.store }

// Env returns the Env the issuer was built with, its defaults applied:
// Events, Now and Rand are always set.
func (is *Issuer) Env() twofactor.Env { return is.env }

// CodeLength returns the number of digits of a code.
func (is *Issuer) CodeLength() int { return is.length }

// TTL returns how long a code lives.
func (is *Issuer) TTL() time.Duration { return is.ttl }

// Now returns the issuer's clock reading.
func (is *Issuer) Now() time.Time { return is.env.Now() }

// A Request names one code to issue.
type Request struct {
	// Group is the challenge id, or an id of the verification in progress
	// (a user's pending phone number).
	Group string
	// Purpose is what the code is for: "login", "step_up", "phone_verify".
	Purpose string
	// Binding is mixed into the hash and must be given again to Verify: the
	// user id for a login code, the number being verified for a phone. It
	// is never stored.
	Binding string
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
	// Gate is the Service's checks of a send on a challenge
	// (twofactor.Challenge.Gate), joined to the count of the limits in
	// one store round trip; nil for none.
	Gate *twofactor.SendGate
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

// notDelivered is the error of a Deliver that failed before handing the
// message over (storing a pending enrollment): Issue returns the error it
// holds, not ErrDelivery.
type notDelivered struct{ err error }

func (e notDelivered) Error() string { return e.err.Error() }
func (e notDelivered) Unwrap() error { return e.err }

func (is *Issuer) group(g string) string { return "otc:" + is.channel + ":" + g }

func (is *Issuer) hash(r Request, code string) []byte {
	data := make([]byte, 0, len(r.Group)+len(r.Purpose)+len(r.Binding)+len(code)+3)
	data = append(data, r.Group...)
	data = append(data, 0)
	data = append(data, r.Purpose...)
	data = append(data, 0)
	data = append(data, r.Binding...)
	data = append(data, 0)
	data = append(data, code...)
	return is.env.Keys.Hash(is.domain, data)
}

// destKey returns a counter key fragment for a destination that does not
// reveal it: a keyed hash, truncated to 128 bits.
func (is *Issuer) destKey(dest string) string {
	h := is.env.Keys.Hash(is.domain+" destination", []byte(dest))
	return base64.RawURLEncoding.EncodeToString(h[len(h)-16:])
}

// pairKey is destKey for a (user, destination) pair: fixed length whatever
// the user id, and revealing neither.
func (is *Issuer) pairKey(userID, dest string) string {
	data := make([]byte, 0, len(userID)+1+len(dest))
	data = append(data, userID...)
	data = append(data, 0)
	data = append(data, dest...)
	h := is.env.Keys.Hash(is.domain+" user destination", data)
	return base64.RawURLEncoding.EncodeToString(h[len(h)-16:])
}

// netKey is destKey for a client network (clientNet): a copy of the store
// holds no client address, as it holds no destination.
func (is *Issuer) netKey(ip netip.Addr) string {
	h := is.env.Keys.Hash(is.domain+" client network", []byte(clientNet(ip)))
	return base64.RawURLEncoding.EncodeToString(h[len(h)-16:])
}

func (is *Issuer) cooldownKey(r Request) string {
	return "otc:cool:" + is.channel + ":" + r.Group + ":" + r.Purpose
}

// accountsCounter is the counter of the accounts that sent verification
// codes to r's destination (Caps.VerifyPerDestination).
func (is *Issuer) accountsCounter(r Request) string {
	return "otc:cap:vacct:" + is.channel + ":" + is.destKey(r.Destination)
}

// heldCounter is the counter of r's account's hold on a slot of r's
// destination: above zero while it holds one.
func (is *Issuer) heldCounter(r Request) string {
	return "otc:cap:vheld:" + is.channel + ":" + is.pairKey(r.UserID, r.Destination)
}

// Issue checks the cooldown and caps, issues a new code replacing any
// previous one for (Group, Purpose), stores its hash and delivers it.
//
// Store round trips: two on success (one bounded increment for the
// cooldown and every cap, then PutCode), one on a refusal; one either way
// through the Service's gate (Request.Gate), which stores the code in the
// round trip of the count, on the condition that it admits the send. An account's
// first verification code to a destination in a window takes one more,
// for the destination's slot (see take). Every request counts toward the
// caps of its own user, pair and client network, up to their bounds,
// including one the cooldown refuses: a client that ignores ResendAt
// spends its own budget. A refused request takes nothing from the
// counters shared with other accounts (the budgets) and starts no
// cooldown, so that nobody spends those by being refused. The send that
// takes the last unit of a budget emits an event.BudgetReached event.
//
// A cooldown or cap answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited, with one of the Limit names. A request without
// Group or Purpose, or a verification without UserID or Destination, is an
// error matching twofactor.ErrInvalidInput and touches no store. A delivery
// failure returns an error wrapping ErrDelivery; see the package doc for
// what it leaves behind.
func (is *Issuer) Issue(ctx context.Context, r Request, deliver Deliver) (Issued, error) {
	if err := checkRequest(r); err != nil {
		return Issued{}, err
	}
	now := is.env.Now()
	code, err := secure.Digits(is.env.Rand, is.length)
	if err != nil {
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
	t, err := is.take(ctx, r, now, c)
	if err != nil {
		return Issued{}, err
	}
	if !t.stored {
		if err := is.store.PutCode(ctx, c); err != nil {
			t.undo(ctx)
			return Issued{}, fmt.Errorf("storing code: %w", err)
		}
	}
	for i, check := range t.checks {
		if check.alert && t.counts[i].N == int64(check.max) {
			is.budgetReached(ctx, r, check, t.counts[i].ResetAt)
		}
	}
	if err := deliver(ctx, code, expires); err != nil {
		return Issued{}, is.undeliverable(ctx, t, c, err)
	}
	return Issued{ExpiresAt: expires, ResendAt: now.Add(is.cooldown)}, nil
}

// checkRequest refuses a request Issue cannot count, before any store
// access.
func checkRequest(r Request) error {
	switch {
	case r.Group == "" || r.Purpose == "":
		return fmt.Errorf("onetime: empty group or purpose: %w", twofactor.ErrInvalidInput)
	case r.Verification && (r.UserID == "" || r.Destination == ""):
		return fmt.Errorf("onetime: a verification needs a user and a destination: %w", twofactor.ErrInvalidInput)
	case !validCountry(r.Country):
		return fmt.Errorf("onetime: country must be 1 to 3 capital letters or digits: %w", twofactor.ErrInvalidInput)
	}
	return nil
}

// taken is what Issue counted for one request: the checks and their
// counts, and what it holds of the destination's slots.
type taken struct {
	is      *Issuer
	coolKey string
	checks  []limitCheck
	counts  []store.BoundedValue
	// heldKey is the counter of the account's hold on one of the
	// destination's slots (Caps.VerifyPerDestination) when this request
	// took it: the account's first code to the destination in the
	// window, which undo gives back with the slot.
	heldKey string
	// slotKey is the destination's accounts counter while this request
	// holds a slot in it that undo must give back.
	slotKey string
	// stored is set when the code was stored with the count, in the
	// round trip of the Service's gate.
	stored bool
}

// take counts r on the cooldown and every cap and budget in one atomic
// bounded increment (store.IncrAllBelow), which refuses it when one is
// full and then takes nothing that a refusal must give back: the request
// counts on its own caps (CountRefused), never on the cooldown or on a
// budget shared with other accounts.
//
// Caps.VerifyPerDestination counts accounts rather than codes, so that a
// few accounts sending all they may cannot keep the owner of an address or
// number from confirming it. The same call counts the account's hold on
// the destination (a counter per account and destination that is above
// zero while the account holds one of the destination's slots) when the
// request is admitted: when it was zero, this is the account's first code
// to the destination in the window, which takes a slot in one more bounded
// increment; otherwise the account holds one already and the code is a
// resend, which takes none. Only a first code refused there gives back
// what the first call took (its hold, the budgets, the cooldown), so a
// refused first code leaves no hold and the account's next request is
// checked against the slots again.
func (is *Issuer) take(ctx context.Context, r Request, now time.Time, c store.Code) (*taken, error) {
	t := &taken{is: is, coolKey: is.cooldownKey(r)}
	t.checks = is.limitChecks(r, t.coolKey)
	incrs := make([]store.BoundedIncr, len(t.checks), len(t.checks)+1)
	for i, c := range t.checks {
		incrs[i] = store.BoundedIncr{Key: c.key, Window: c.window, Max: int64(c.max), CountRefused: c.own}
	}
	var held string
	if r.Verification && is.caps.VerifyPerDestination > 0 {
		held = is.heldCounter(r)
		incrs = append(incrs, store.BoundedIncr{Key: held, Window: is.caps.Window, Max: math.MaxInt64})
	}
	var counts []store.BoundedValue
	var err error
	if r.Gate != nil {
		// The code is stored in the gate's round trip, when it admits the
		// send, unless a destination's slot must be taken first.
		var then []store.Op
		if held == "" {
			then = []store.Op{store.PutCodeOp(c)}
		}
		var refused error
		counts, refused, err = r.Gate.AdmitThen(ctx, is.store, incrs, now, then)
		t.stored = err == nil && len(then) > 0 && !then[0].Skipped
		if err == nil && refused != nil {
			if store.FirstFull(counts) < 0 {
				// Admitted here, refused by a revocation seen with it:
				// give back what a code that is not sent may not keep.
				t.counts = counts[:len(t.checks)]
				if held != "" && counts[len(t.checks)].Incremented {
					t.heldKey = held
				}
				t.undo(ctx)
			}
			return nil, refused
		}
	} else {
		counts, err = store.IncrAllBelow(ctx, is.store, incrs, now)
	}
	if err != nil {
		return nil, fmt.Errorf("counting send limits: %w", err)
	}
	t.counts = counts[:len(t.checks)]
	if i := store.FirstFull(t.counts); i >= 0 {
		return nil, twofactor.NewRetryError(twofactor.ErrRateLimited, t.checks[i].limit, now, t.counts[i].ResetAt)
	}
	if held != "" && counts[len(t.checks)].N == 1 {
		t.heldKey = held
		slot := is.accountsCounter(r)
		vals, err := store.IncrAllBelow(ctx, is.store, []store.BoundedIncr{
			{Key: slot, Window: is.caps.Window, Max: int64(is.caps.VerifyPerDestination)},
		}, now)
		if err != nil {
			t.undo(ctx)
			return nil, fmt.Errorf("counting send limits: %w", err)
		}
		if vals[0].Full {
			t.undo(ctx)
			return nil, twofactor.NewRetryError(twofactor.ErrRateLimited, LimitVerifyDestination, now, vals[0].ResetAt)
		}
		t.slotKey = slot
	}
	return t, nil
}

// undo gives back what t took when no code goes out after all: its counts
// on the counters shared with other accounts (the budgets), the
// destination's slot and its hold on it, and the cooldown. Its own caps
// keep the count. The hold goes back before the cooldown is lifted: a
// request of the same account that the lifted cooldown lets through then
// finds no hold left by a first code that sent nothing.
func (t *taken) undo(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, c := range t.checks {
		if !c.own && c.limit != LimitResend {
			_ = t.is.store.Decr(ctx, c.key)
		}
	}
	for _, k := range []string{t.slotKey, t.heldKey} {
		if k != "" {
			_ = t.is.store.Decr(ctx, k)
		}
	}
	t.slotKey, t.heldKey = "", ""
	t.liftCooldown(ctx)
}

// liftCooldown ends the cooldown t started: nothing was sent.
func (t *taken) liftCooldown(ctx context.Context) {
	if t.is.cooldown > 0 {
		_ = t.is.store.ResetCounter(context.WithoutCancel(ctx), t.coolKey)
	}
}

// undeliverable cleans up after deliver failed with err and returns the
// error for Issue. No usable code may be left: the one just stored
// replaced the previous one and was not delivered. The caps keep the
// attempt: the channel may have charged for it.
func (is *Issuer) undeliverable(ctx context.Context, t *taken, c store.Code, err error) error {
	derr := is.store.DeleteCode(context.WithoutCancel(ctx), c.Group, c.Key)
	t.liftCooldown(ctx)
	var nd notDelivered
	if errors.As(err, &nd) {
		// It failed before the message was handed over: not a delivery
		// failure.
		if derr != nil {
			return fmt.Errorf("%w (and removing the unsent code failed: %v)", nd.err, derr)
		}
		return nd.err
	}
	if derr != nil {
		return fmt.Errorf("%w: %w (and removing the undelivered code failed: %v)", ErrDelivery, err, derr)
	}
	return fmt.Errorf("%w: %w", ErrDelivery, err)
}

// limitCheck is one counter Issue takes, with its bound.
type limitCheck struct {
	limit, key string
	window     time.Duration
	max        int
	// own marks a cap of the request's own (its user, pair, client
	// network, destination), which a request counts on even when another
	// limit refuses it. The cooldown and the budgets shared with other
	// accounts count only a request that is admitted.
	own bool
	// alert marks a budget: the send that takes its last unit emits an
	// event.
	alert bool
}

// budgetReached emits the event of a send that took the last unit of the
// budget c, which holds until resetAt: its Reason names the budget, Count
// is the budget, Until the end of its window, and Details["country"] the
// country of a country's budget.
func (is *Issuer) budgetReached(ctx context.Context, r Request, c limitCheck, resetAt time.Time) {
	ev := event.Event{
		Type:    event.BudgetReached,
		Time:    is.env.Now(),
		UserID:  r.UserID,
		Method:  is.method,
		Purpose: twofactor.Purpose(r.Purpose),
		Reason:  event.Reason(c.limit),
		IP:      ipString(r.IP),
		Count:   c.max,
		Until:   resetAt,
	}
	if c.limit == LimitCountry {
		ev.Details = map[string]string{event.DetailCountry: r.Country}
	}
	is.env.Events.Emit(ctx, ev)
}

// limitChecks lists the cooldown (first, when enabled) and the caps.
func (is *Issuer) limitChecks(r Request, coolKey string) []limitCheck {
	checks := make([]limitCheck, 0, 7)
	add := func(limit, key string, max int) {
		if max > 0 {
			checks = append(checks, limitCheck{limit, key, is.caps.Window, max, true, false})
		}
	}
	if is.cooldown > 0 {
		checks = append(checks, limitCheck{LimitResend, coolKey, is.cooldown, 1, false, false})
	}
	if r.IP.IsValid() {
		add(LimitIP, "otc:cap:ip:"+is.channel+":"+is.netKey(r.IP), is.caps.PerIP)
	}
	if r.Verification {
		add(LimitVerifyUser, "otc:cap:vuser:"+is.channel+":"+r.UserID, is.caps.VerifyPerUser)
		add(LimitVerifyUserDestination, "otc:cap:vpair:"+is.channel+":"+is.pairKey(r.UserID, r.Destination), is.caps.VerifyPerUserDestination)
		// VerifyPerDestination counts accounts, not codes: see take.
	} else {
		if r.Destination != "" {
			add(LimitDestination, "otc:cap:dest:"+is.channel+":"+is.destKey(r.Destination), is.caps.PerDestination)
		}
		if r.UserID != "" {
			add(LimitUser, "otc:cap:user:"+is.channel+":"+r.UserID, is.caps.PerUser)
		}
	}
	// The budgets come last, so that a request another limit refuses is
	// reported as such.
	if n := is.budgets.country(r.Country); r.Country != "" && n > 0 {
		checks = append(checks, limitCheck{LimitCountry, "otc:budget:country:" + is.channel + ":" + r.Country, is.caps.Window, n, false, true})
	}
	if n := is.budgets.Total; n > 0 {
		checks = append(checks, limitCheck{LimitTotal, "otc:budget:total:" + is.channel, is.caps.Window, n, false, true})
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

// Verify consumes the code for r (Group, Purpose, Binding) if code matches,
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
	return statusErr(st)
}

// statusErr is the outcome of a code's check that ConsumeCode answered
// st: nil for a match, else the error Verify documents.
func statusErr(st store.CodeStatus) error {
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
// user-facing answers (a *twofactor.RetryError, ErrInvalidCode and its
// detailed forms), which go to users as they are.
func (is *Issuer) Wrap(err error) error {
	var re *twofactor.RetryError
	switch {
	case err == nil, errors.As(err, &re),
		err == twofactor.ErrInvalidCode, err == twofactor.ErrCodeExpired,
		err == twofactor.ErrNoCode, err == twofactor.ErrMalformedCode:
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

// VerifyChallenge is the factors' Verify: it consumes the login or step-up
// code of ch if answer matches (one store round trip). The factors'
// Verified asks the Service to record the login as the last use of their
// enrollment, in the round trip that completes the challenge. A malformed answer returns twofactor.ErrMalformedCode
// without touching the store, a wrong one twofactor.ErrInvalidCode, an
// unknown or exhausted one twofactor.ErrNoCode, an expired one
// twofactor.ErrCodeExpired; other errors are store failures.
func (is *Issuer) VerifyChallenge(ctx context.Context, ch *twofactor.Challenge, answer string) error {
	op, err := is.ConsumeOp(ch, answer)
	if err != nil {
		return err
	}
	op.Status, err = is.store.ConsumeCode(ctx, op.Group, op.Key, op.Hash)
	if err != nil {
		return is.Wrap(fmt.Errorf("checking code: %w", err))
	}
	return is.Consumed(op)
}

// ConsumeOp returns the store operation that checks answer to ch, as
// VerifyChallenge does, for the factors' twofactor.CodeConsumer: an
// OpConsumeCode. A nil challenge, a user the factor cannot serve, or a
// malformed code is the error VerifyChallenge returns, before any store
// access.
func (is *Issuer) ConsumeOp(ch *twofactor.Challenge, answer string) (store.Op, error) {
	if ch == nil {
		return store.Op{}, fmt.Errorf("%s: nil challenge: %w", is.pkg, twofactor.ErrInvalidInput)
	}
	if err := is.CheckUser(ch.User); err != nil {
		return store.Op{}, err
	}
	code, err := Normalize(is.pkg, answer, is.length)
	if err != nil {
		return store.Op{}, twofactor.ErrMalformedCode
	}
	r := Request{Group: ch.Key(), Purpose: string(ch.Purpose), Binding: ch.User.ID}
	return store.Op{Kind: store.OpConsumeCode, Group: is.group(r.Group), Key: r.Purpose, Hash: is.hash(r, code)}, nil
}

// Verified is a factor's VerifyConsumed: what its Verify returns for op,
// an operation of ConsumeOp that ran, the sign-in being recorded as the
// last use of enrollmentID.
func (is *Issuer) Verified(op store.Op, enrollmentID string) (twofactor.Verified, error) {
	if err := is.Consumed(op); err != nil {
		return twofactor.Verified{}, err
	}
	return twofactor.Verified{EnrollmentID: enrollmentID, RecordUse: true}, nil
}

// Consumed returns the outcome of op, an operation of ConsumeOp that ran:
// what VerifyChallenge returns for its status. An operation that was
// skipped (store.Op.Skipped) checked nothing, which is an error.
func (is *Issuer) Consumed(op store.Op) error {
	if op.Skipped {
		return fmt.Errorf("%s: the code's check did not run", is.pkg)
	}
	return is.Wrap(statusErr(op.Status))
}

// CancelChallenge deletes every code issued for ch: the factors' Cancel.
func (is *Issuer) CancelChallenge(ctx context.Context, ch *twofactor.Challenge) error {
	if ch == nil {
		return nil
	}
	if err := is.Cancel(ctx, ch.Key()); err != nil {
		return fmt.Errorf("%s: deleting codes: %w", is.pkg, err)
	}
	return nil
}
