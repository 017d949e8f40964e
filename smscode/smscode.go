package smscode

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/onetime"
	"github.com/twofactorkit/twofactor/store"
)

// Store is what the SMS factor needs from a store: codes and counters like
// the email factor, enrollments for the phone number and states for a
// number awaiting verification. Every store of this module implements it.
type Store interface {
	store.Codes
	store.CodeGroups
	store.Counters
	store.Enrollments
	store.States
}

// Defaults applied by New to zero Config fields. The caps are per hour.
const (
	DefaultTTL                      = 15 * time.Minute
	DefaultResendCooldown           = 60 * time.Second
	DefaultCodeLength               = 6 // seed: the code auto-submits at 6 characters
	DefaultMaxAttempts              = 5
	DefaultCapUser                  = 5
	DefaultCapDestination           = 5
	DefaultCapIP                    = 30
	DefaultCapVerifyUser            = 5
	DefaultCapVerifyUserDestination = 3
	DefaultCapVerifyDestination     = 7
	DefaultCapWindow                = time.Hour
	DefaultBudgetPerCountry         = 200
	DefaultBudgetTotal              = 1000
)

// Limits named by twofactor.RetryError.Limit when a send is refused.
const (
	LimitResend                = onetime.LimitResend                // Config.ResendCooldown
	LimitIP                    = onetime.LimitIP                    // Caps.PerIP
	LimitUser                  = onetime.LimitUser                  // Caps.PerUser
	LimitDestination           = onetime.LimitDestination           // Caps.PerDestination
	LimitVerifyUser            = onetime.LimitVerifyUser            // Caps.VerifyPerUser
	LimitVerifyUserDestination = onetime.LimitVerifyUserDestination // Caps.VerifyPerUserDestination
	LimitVerifyDestination     = onetime.LimitVerifyDestination     // Caps.VerifyPerDestination
	LimitCountry               = onetime.LimitCountry               // Budgets.PerCountry, Budgets.Countries
	LimitTotal                 = onetime.LimitTotal                 // Budgets.Total
)

// ReasonBudgetReached is the Reason of the twofactor.EventRateLimited event
// the factor emits when a send takes the last unit of a budget: from then
// on, until the window ends, sends to that country (Details["limit"] is
// LimitCountry, Details["country"] the region) or all sends (LimitTotal)
// are refused. Details["budget"] is the budget, Details["until"] the end
// of the window (RFC 3339). Alert on it: it means toll fraud, or a budget
// set too low for your traffic.
const ReasonBudgetReached = onetime.ReasonBudgetReached

// EnrollmentID is the id of a user's phone enrollment: one phone per user.
const EnrollmentID = "phone"

// PurposePhoneVerify is the purpose of codes sent by BeginPhone.
const PurposePhoneVerify = "phone_verify"

// ErrDelivery is wrapped by the error Send and BeginPhone return when the
// gateway did not accept the message. No usable code is left behind and the
// resend cooldown is not started; the hourly caps still count it.
var ErrDelivery = onetime.ErrDelivery

// ErrNoPendingPhone is returned by ConfirmPhone when no number awaits
// verification (never begun, expired, or already confirmed). It matches
// twofactor.ErrChallengeNotFound: start again with BeginPhone.
var ErrNoPendingPhone = fmt.Errorf("smscode: no phone number awaiting verification: %w", twofactor.ErrChallengeNotFound)

// Caps bound how many SMS are sent per window (Window, one hour by
// default), counted in the store so they hold across app instances. It is
// the same type as emailcode.Caps; every SMS is paid for, and SMS pumping
// earns a fraudster money per message delivered to numbers they profit
// from, so the SMS defaults are lower than email's:
//
//   - PerUser: login and step-up codes per user, 5. A sign-in needs one
//     SMS, two with a resend; five an hour covers a few attempts.
//   - PerDestination: login and step-up codes per number, across users, 5.
//   - PerIP: codes of any kind requested from one client network (an IPv4
//     address, or the /64 of an IPv6 one, which a subscriber holds whole,
//     so rotating addresses does not escape it), 30: high enough for
//     offices and carrier NAT, low enough that one machine cannot pump
//     through many accounts.
//   - VerifyPerUser: BeginPhone codes one account may request, whatever the
//     numbers, 5: a number, a resend, a mistyped number and its fix.
//   - VerifyPerUserDestination: BeginPhone codes one account may send to
//     one number, 3: the first and two resends.
//   - VerifyPerDestination: BeginPhone codes to one number across all
//     accounts, 7. It bounds how much anyone can text a number that is not
//     theirs (and pump one premium number with fake accounts); it must be
//     more than twice what one account may send to one number (New refuses
//     it otherwise), so no account can use it up alone.
//
// Verification codes never count on PerUser or PerDestination: any account
// can start enrolling any number, so if they did, a few accounts could
// spend a victim's login budget and lock an SMS-only user out for an hour.
// A request refused by any limit still counts on its own account's and
// network's caps (a client ignoring RetryAfter spends its own budget) but
// not on VerifyPerDestination or the Budgets.
//
// A zero field takes the default; a negative one disables that cap (not
// recommended: every SMS costs money). A negative Window is a
// configuration error.
type Caps = onetime.Caps

// Budgets bound how many SMS the factor sends in all, whoever asks, per
// Caps.Window (one hour by default), counted in the store so they hold
// across app instances. The caps bound each user, number and client
// network; the budgets bound what a toll-fraud run spread over many
// accounts, numbers and networks can cost: at most the budget, per window.
//
// A send over a budget answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited, with Limit LimitCountry or LimitTotal and
// RetryAfter the end of the window. It refuses everyone's SMS, logins
// included, until then: users with another factor can use it, and the
// send that takes a budget's last unit emits twofactor.EventRateLimited
// with Reason ReasonBudgetReached so you can react. That event comes once
// per budget and window, except that a request refused at the same moment
// by another limit, which gives its unit back, can let a second send take
// the last unit, and emit again. Refused requests never spend a budget.
//
// The defaults fit a small-to-medium app, one that sends at most a few
// hundred SMS in its busiest hour: 1000 in all and 200 per country an
// hour. Legitimate traffic goes to the few countries where the users are,
// while pumping spreads over many countries, often ones the app has no
// users in (restrict those with Config.AllowedRegions). To raise them, set
// Total to about twice your busiest hour and give your main countries
// their own budget:
//
//	Budgets: smscode.Budgets{Total: 5000, Countries: map[string]int{"US": 4000, "CA": 500}}
//
// A zero field takes the default; a negative one disables that budget (not
// recommended: nothing else bounds what many accounts on many networks can
// make you pay).
type Budgets struct {
	// PerCountry is SMS to the numbers of one country per window, by the
	// number's region (ISO 3166-1, from the parsed number: "US", "JM";
	// "001" for numbers of no country). Zero means 200.
	PerCountry int
	// Countries overrides PerCountry for the regions it names ("US"). A
	// zero value takes PerCountry; a negative one disables that country's
	// budget.
	Countries map[string]int
	// Total is SMS per window in all. Zero means 1000.
	Total int
}

// resolve applies the defaults and checks the regions.
func (b Budgets) resolve() (onetime.Budgets, error) {
	r := onetime.Budgets{
		PerCountry: cmp.Or(b.PerCountry, DefaultBudgetPerCountry),
		Total:      cmp.Or(b.Total, DefaultBudgetTotal),
	}
	for region, n := range b.Countries {
		up := strings.ToUpper(region)
		if !phonenumbers.GetSupportedRegions()[up] && up != phonenumbers.UNKNOWN_REGION && up != nonGeoRegion {
			return r, fmt.Errorf("Budgets.Countries: %q is not a region code (use ISO 3166-1 alpha-2, e.g. \"US\")", region)
		}
		if n == 0 {
			continue
		}
		if r.Countries == nil {
			r.Countries = map[string]int{}
		}
		r.Countries[up] = n
	}
	return r, nil
}

// nonGeoRegion is the region phonenumbers gives numbers of no country
// (international networks).
const nonGeoRegion = "001"

// regionOf returns the region of an E.164 number, "ZZ" if it does not
// parse (numbers are checked when enrolled, so this does not happen).
func regionOf(e164 string) string {
	num, err := parse(e164, "")
	if err != nil {
		return phonenumbers.UNKNOWN_REGION
	}
	return cmp.Or(phonenumbers.GetRegionCodeForNumber(num), phonenumbers.UNKNOWN_REGION)
}

// Config configures the SMS factor. Zero fields take the documented
// defaults; New validates the whole.
type Config struct {
	// Store keeps hashed codes, counters, phone enrollments (numbers
	// encrypted) and numbers awaiting verification. Required.
	Store Store
	// Keys hashes codes and encrypts numbers. Required: pass the Service's
	// ring.
	Keys *twofactor.Keyring
	// Sender delivers SMS. Required: NewTwilio or NewGateway in production,
	// an *Outbox in development.
	Sender Sender
	// ProductName appears in the message. Empty leaves it out.
	ProductName string
	// Template overrides the message text; it sees Data. The WebOTP line is
	// appended after it. Nil means "123456 is your <product> code. It
	// expires in 15 minutes."
	Template *texttemplate.Template
	// WebOTPDomain, if set, ends every message with the line
	// "@<domain> #<code>" so browsers offer to fill the code in (WebOTP,
	// and iOS/Android autofill). Use the host name users sign in on,
	// without scheme or port: "example.com".
	WebOTPDomain string
	// AllowedRegions, if set, is the list of ISO 3166-1 regions ("US",
	// "GB") whose numbers may enroll; others get ErrRegionNotAllowed.
	// Regions rather than calling codes, because +1 also covers Caribbean
	// countries that SMS pumping favours. Nil allows every region.
	AllowedRegions []string
	// TTL is how long a code is valid. Zero means 15 minutes.
	TTL time.Duration
	// ResendCooldown is the wait before another code may be sent for the
	// same challenge or phone verification. Zero means 60 seconds.
	ResendCooldown time.Duration
	// CodeLength is the number of digits, 6 to 10. Zero means 6.
	CodeLength int
	// MaxAttempts is how many wrong answers kill a code, 1 to 10. Zero
	// means 5.
	MaxAttempts int
	// Caps limit sends per user, number and client network, with separate
	// caps for phone verification; see Caps for the defaults.
	Caps Caps
	// Budgets limit SMS in all and per destination country, whoever asks;
	// see Budgets for the defaults and how to raise them.
	Budgets Budgets
	// Events receives the phone enrollment events. Nil logs to
	// slog.Default.
	Events *twofactor.Events
	// Now is the clock. Nil means time.Now. Give the store the same clock.
	Now func() time.Time
	// Rand is the source of codes. Nil means crypto/rand.
	Rand io.Reader
}

// Data is what the message template sees.
type Data struct {
	ProductName string
	Code        string
	Minutes     int    // minutes until the code expires, rounded up
	Purpose     string // "login", "step_up", "enroll", "phone_verify"
}

const defaultTemplate = `{{.Code}} is your {{if .ProductName}}{{.ProductName}} {{end}}verification code. It expires in {{.Minutes}} minutes.`

var defTemplate = texttemplate.Must(texttemplate.New("sms").Parse(defaultTemplate))

// Factor is the SMS one-time code factor with phone enrollment. It
// implements twofactor.Factor, twofactor.Sender, twofactor.Canceler,
// twofactor.Remover and twofactor.AnswerChecker. It is safe for concurrent
// use.
type Factor struct {
	store   Store
	keys    *twofactor.Keyring
	issuer  *onetime.Issuer
	sender  Sender
	product string
	tmpl    *texttemplate.Template
	webOTP  string
	regions []string
	events  *twofactor.Events
	now     func() time.Time
}

var (
	_ twofactor.Sender        = (*Factor)(nil)
	_ twofactor.Canceler      = (*Factor)(nil)
	_ twofactor.Remover       = (*Factor)(nil)
	_ twofactor.AnswerChecker = (*Factor)(nil)
)

// New validates cfg and returns the factor. Errors wrap twofactor.ErrConfig.
func New(cfg Config) (*Factor, error) {
	bad := func(format string, args ...any) (*Factor, error) {
		return nil, fmt.Errorf("smscode: %w: %s", twofactor.ErrConfig, fmt.Sprintf(format, args...))
	}
	if cfg.Sender == nil {
		return bad("Config.Sender is nil: use NewTwilio or NewGateway, or an *Outbox in development")
	}
	budgets, err := cfg.Budgets.resolve()
	if err != nil {
		return bad("%v", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	events := cfg.Events
	if events == nil {
		events = &twofactor.Events{Now: now}
	}
	is, err := onetime.New("smscode", onetime.Config{
		Store:          cfg.Store,
		Keys:           cfg.Keys,
		Channel:        "sms",
		CodeLength:     cfg.CodeLength,
		TTL:            cmp.Or(cfg.TTL, DefaultTTL),
		ResendCooldown: cmp.Or(cfg.ResendCooldown, DefaultResendCooldown),
		MaxAttempts:    cfg.MaxAttempts,
		Caps:           cfg.Caps,
		CapDefaults:    defaultCaps,
		Budgets:        budgets,
		Events:         events,
		Method:         twofactor.MethodSMS,
		Now:            cfg.Now,
		Rand:           cfg.Rand,
	})
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.ProductName, "\r\n") {
		return bad("ProductName must be one line")
	}
	if d := cfg.WebOTPDomain; d != "" && !validDomain(d) {
		return bad("WebOTPDomain %q must be a bare host name such as example.com (no scheme, port or path)", d)
	}
	var regions []string
	for _, r := range cfg.AllowedRegions {
		r = strings.ToUpper(r)
		if !phonenumbers.GetSupportedRegions()[r] {
			return bad("AllowedRegions: %q is not a region code (use ISO 3166-1 alpha-2, e.g. \"US\")", r)
		}
		regions = append(regions, r)
	}
	if cfg.AllowedRegions != nil && len(regions) == 0 {
		return bad("AllowedRegions is empty but not nil: no number could enroll (nil allows every region)")
	}
	f := &Factor{
		store: cfg.Store, keys: cfg.Keys, issuer: is, sender: cfg.Sender,
		product: cfg.ProductName, tmpl: cfg.Template, webOTP: strings.ToLower(cfg.WebOTPDomain),
		regions: regions, events: events, now: now,
	}
	if f.tmpl == nil {
		f.tmpl = defTemplate
	}
	sample := strings.Repeat("0", is.CodeLength())
	body, err := f.render(Data{ProductName: f.product, Code: sample, Minutes: 15, Purpose: "login"})
	if err != nil {
		return bad("Template: %v", err)
	}
	if strings.Count(body, sample) < 1 {
		return bad("Template must show {{.Code}}")
	}
	return f, nil
}

var defaultCaps = Caps{
	PerUser:                  DefaultCapUser,
	PerDestination:           DefaultCapDestination,
	PerIP:                    DefaultCapIP,
	VerifyPerUser:            DefaultCapVerifyUser,
	VerifyPerUserDestination: DefaultCapVerifyUserDestination,
	VerifyPerDestination:     DefaultCapVerifyDestination,
	Window:                   DefaultCapWindow,
}

func validDomain(d string) bool {
	if len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// render builds the SMS text; with a WebOTP domain its last line is
// "@<domain> #<code>".
func (f *Factor) render(d Data) (string, error) {
	var b bytes.Buffer
	if err := f.tmpl.Execute(&b, d); err != nil {
		return "", err
	}
	body := strings.TrimRight(b.String(), " \r\n")
	if f.webOTP != "" {
		body += "\n\n@" + f.webOTP + " #" + d.Code
	}
	return body, nil
}

// Method returns twofactor.MethodSMS.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodSMS }

func phoneAD(userID string) []byte {
	return []byte("smscode phone\x00" + userID + "\x00" + EnrollmentID)
}

func pendingAD(userID string) []byte { return []byte("smscode pending\x00" + userID) }

func pendingKey(userID string) string { return "smscode:pending:" + userID }

func enrollGroup(userID string) string { return "enroll:" + userID }

// phone returns the user's enrolled number, or ErrNotEnrolled.
func (f *Factor) phone(ctx context.Context, userID string) (store.EnrollmentRecord, string, error) {
	rec, err := f.store.GetEnrollment(ctx, userID, EnrollmentID)
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.Method != string(twofactor.MethodSMS) {
		return rec, "", fmt.Errorf("smscode: no phone number: %w", twofactor.ErrNotEnrolled)
	}
	if err != nil {
		return rec, "", fmt.Errorf("smscode: reading phone enrollment: %w", err)
	}
	num, err := f.keys.Open(string(rec.Data), phoneAD(userID))
	if err != nil {
		return rec, "", fmt.Errorf("smscode: opening phone number: %w", err)
	}
	return rec, string(num), nil
}

// Enrollments returns the user's phone (ID "phone", label masked like
// "+1 *** *** **12"), or none. One store round trip.
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	rec, err := f.store.GetEnrollment(ctx, user.ID, EnrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("smscode: reading phone enrollment: %w", err)
	}
	if rec.Method != string(twofactor.MethodSMS) {
		return nil, nil
	}
	return []twofactor.Enrollment{{ID: rec.ID, Method: twofactor.MethodSMS, Label: rec.Label,
		CreatedAt: rec.CreatedAt, LastUsedAt: rec.LastUsedAt}}, nil
}

// Send issues a code for the challenge and texts it to the user's phone. A
// new code replaces the previous one. A resend inside the cooldown, or a
// send over a cap or a budget, answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited whose Limit names it; a gateway failure an error
// wrapping ErrDelivery; a user without a phone twofactor.ErrNotEnrolled.
func (f *Factor) Send(ctx context.Context, ch *twofactor.Challenge, c twofactor.Client) (twofactor.Sent, error) {
	if ch == nil {
		return twofactor.Sent{}, fmt.Errorf("smscode: nil challenge: %w", twofactor.ErrInvalidInput)
	}
	rec, num, err := f.phone(ctx, ch.User.ID)
	if err != nil {
		return twofactor.Sent{}, err
	}
	req := onetime.Request{Group: ch.ID, Purpose: string(ch.Purpose), Bind: ch.User.ID,
		UserID: ch.User.ID, Destination: num, IP: c.IP, Country: regionOf(num)}
	return f.send(ctx, req, num, rec.Label, nil)
}

func (f *Factor) send(ctx context.Context, req onetime.Request, num, masked string, before func(context.Context, time.Time) error) (twofactor.Sent, error) {
	iss, err := f.issuer.Issue(ctx, req, func(ctx context.Context, code string, expires time.Time) error {
		body, err := f.render(Data{ProductName: f.product, Code: code,
			Minutes: int((expires.Sub(f.now()) + time.Minute - 1) / time.Minute), Purpose: req.Purpose})
		if err != nil {
			return err
		}
		if before != nil {
			if err := before(ctx, expires); err != nil {
				return err
			}
		}
		return f.sender.Send(ctx, Message{To: num, Body: body})
	})
	if err != nil {
		return twofactor.Sent{}, f.issuer.Wrap(err)
	}
	return twofactor.Sent{Destination: masked, ExpiresAt: iss.ExpiresAt, ResendAt: iss.ResendAt}, nil
}

// CheckAnswer rejects an answer that is not CodeLength digits (spaces and
// hyphens between digits are ignored) with an error matching
// twofactor.ErrInvalidInput, without touching the store.
func (f *Factor) CheckAnswer(answer string) error { return f.issuer.CheckAnswer(answer) }

// Verify consumes the challenge's code if answer matches, in one store
// round trip. Wrong, unknown and exhausted codes return
// twofactor.ErrInvalidCode, an expired one twofactor.ErrCodeExpired; other
// errors are store failures.
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if err := f.issuer.VerifyChallenge(ctx, ch, answer); err != nil {
		return twofactor.Verified{}, err
	}
	return twofactor.Verified{EnrollmentID: EnrollmentID}, nil
}

// Cancel deletes every code issued for the challenge.
func (f *Factor) Cancel(ctx context.Context, ch *twofactor.Challenge) error {
	return f.issuer.CancelChallenge(ctx, ch)
}

// Remove deletes the user's phone. The root Service calls it after a fresh
// verification (Service.RemoveEnrollment). An id other than "phone" is
// twofactor.ErrNotEnrolled.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if enrollmentID != EnrollmentID {
		return fmt.Errorf("smscode: unknown enrollment %q: %w", enrollmentID, twofactor.ErrNotEnrolled)
	}
	if err := f.store.DeleteEnrollment(ctx, user.ID, EnrollmentID); err != nil {
		return fmt.Errorf("smscode: deleting phone: %w", err)
	}
	return nil
}

// RemoveAll deletes the user's phone and any number awaiting
// verification, with its code (admin reset).
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	return errors.Join(
		f.Remove(ctx, user, EnrollmentID),
		f.cancelPending(ctx, user.ID),
	)
}

func (f *Factor) cancelPending(ctx context.Context, userID string) error {
	err := errors.Join(
		f.store.DeleteState(ctx, pendingKey(userID)),
		f.issuer.Drop(ctx, enrollGroup(userID), PurposePhoneVerify),
	)
	if err != nil {
		return fmt.Errorf("smscode: deleting pending phone: %w", err)
	}
	return nil
}

func checkUser(u twofactor.User) error {
	if u.ID == "" || len(u.ID) > 255 {
		return fmt.Errorf("smscode: user id must be 1 to 255 bytes: %w", twofactor.ErrInvalidInput)
	}
	return nil
}

// ParsePhone is the package's ParsePhone with the factor's AllowedRegions:
// a number from another region is ErrRegionNotAllowed.
func (f *Factor) ParsePhone(number, region string) (string, error) {
	e164, _, err := f.parsePhone(number, region)
	return e164, err
}

func (f *Factor) parsePhone(number, region string) (e164, numberRegion string, err error) {
	e164, r, err := ParsePhone(number, region)
	if err != nil {
		return "", "", err
	}
	if f.regions != nil && !slices.Contains(f.regions, r) {
		return "", "", fmt.Errorf("%w (%s)", ErrRegionNotAllowed, r)
	}
	return e164, cmp.Or(r, phonenumbers.UNKNOWN_REGION), nil
}

// BeginPhone starts enrolling number (typed by the user; region is the
// hint from the country picker, e.g. "US") for user: it parses the number,
// keeps it (encrypted) as awaiting verification and texts it a code with
// purpose "phone_verify". The user's current phone, if any, stays active
// until ConfirmPhone succeeds.
//
// A number that does not parse, is of a refused type or from a region not
// allowed gets ErrInvalidPhone, ErrNumberType or ErrRegionNotAllowed (all
// matching twofactor.ErrInvalidInput) before any store access. The
// cooldown, the Budgets and delivery failures are as for Send. The caps
// are the verification ones (Caps.VerifyPerUser, VerifyPerUserDestination,
// VerifyPerDestination) and PerIP, never the number's login budget: an
// account that starts enrolling someone else's number cannot stop its
// owner from receiving login codes. Over a cap or a budget it answers a
// *twofactor.RetryError matching twofactor.ErrRateLimited whose Limit
// names it.
//
// Changing a phone number is a sensitive action: guard it in the host with
// Service.CheckProof (a fresh step-up) when the user already has a factor.
func (f *Factor) BeginPhone(ctx context.Context, user twofactor.User, number, region string, c twofactor.Client) (twofactor.Sent, error) {
	if err := checkUser(user); err != nil {
		return twofactor.Sent{}, err
	}
	num, country, err := f.parsePhone(number, region)
	if err != nil {
		return twofactor.Sent{}, err
	}
	sealed, err := f.keys.Seal([]byte(num), pendingAD(user.ID))
	if err != nil {
		return twofactor.Sent{}, fmt.Errorf("smscode: sealing number: %w", err)
	}
	req := onetime.Request{Group: enrollGroup(user.ID), Purpose: PurposePhoneVerify, Bind: num,
		UserID: user.ID, Destination: num, IP: c.IP, Verification: true, Country: country}
	stored := false
	sent, err := f.send(ctx, req, num, MaskPhone(num), func(ctx context.Context, expires time.Time) error {
		// The number outlives its code by one TTL, so a late answer is
		// reported as an expired (to the user: invalid) code, as at login.
		if err := f.store.PutState(ctx, pendingKey(user.ID), []byte(sealed), expires.Add(f.issuer.TTL())); err != nil {
			return fmt.Errorf("storing pending number: %w", err)
		}
		stored = true
		return nil
	})
	if err != nil {
		if stored {
			_ = f.store.DeleteState(context.WithoutCancel(ctx), pendingKey(user.ID))
		}
		return twofactor.Sent{}, err
	}
	f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventEnrollBegin, UserID: user.ID, Method: twofactor.MethodSMS,
		IP: ipString(c), Details: map[string]string{"destination": sent.Destination}})
	return sent, nil
}

// ConfirmPhone checks the code texted by BeginPhone and makes the number
// the user's phone, replacing the previous one only now. It emits
// twofactor.EventEnroll with the masked number.
//
// A malformed code is an error matching twofactor.ErrInvalidInput (nothing
// touched); a wrong one twofactor.ErrInvalidCode (ErrCodeExpired when too
// old); no number awaiting verification ErrNoPendingPhone.
func (f *Factor) ConfirmPhone(ctx context.Context, user twofactor.User, answer string) (twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return twofactor.Enrollment{}, err
	}
	code, err := onetime.Normalize("smscode", answer, f.issuer.CodeLength())
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	blob, err := f.store.GetState(ctx, pendingKey(user.ID))
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.Enrollment{}, ErrNoPendingPhone
	}
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("smscode: reading pending number: %w", err)
	}
	numb, err := f.keys.Open(string(blob), pendingAD(user.ID))
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("smscode: opening pending number: %w", err)
	}
	num := string(numb)
	label := MaskPhone(num)
	ev := twofactor.Event{UserID: user.ID, Method: twofactor.MethodSMS, Details: map[string]string{"destination": label}}
	req := onetime.Request{Group: enrollGroup(user.ID), Purpose: PurposePhoneVerify, Bind: num}
	if err := f.issuer.Verify(ctx, req, code); err != nil {
		ev.Type, ev.Reason = twofactor.EventFailure, reason(err)
		f.events.Emit(ctx, ev)
		return twofactor.Enrollment{}, f.issuer.Wrap(err)
	}
	_, err = f.store.GetEnrollment(ctx, user.ID, EnrollmentID)
	replaced := err == nil
	sealed, err := f.keys.Seal(numb, phoneAD(user.ID))
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("smscode: sealing number: %w", err)
	}
	now := f.now()
	rec := store.EnrollmentRecord{UserID: user.ID, ID: EnrollmentID, Method: string(twofactor.MethodSMS),
		Label: label, Data: []byte(sealed), CreatedAt: now}
	if err := f.store.PutEnrollment(ctx, rec); err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("smscode: storing phone: %w", err)
	}
	if err := f.store.DeleteState(ctx, pendingKey(user.ID)); err != nil {
		f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventWarning, UserID: user.ID, Method: twofactor.MethodSMS, Reason: "delete_pending_failed"})
	}
	ev.Type = twofactor.EventEnroll
	ev.Details["replaced"] = fmt.Sprint(replaced)
	f.events.Emit(ctx, ev)
	return twofactor.Enrollment{ID: EnrollmentID, Method: twofactor.MethodSMS, Label: label, CreatedAt: now}, nil
}

// CancelPhone forgets a number awaiting verification and its code.
func (f *Factor) CancelPhone(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	return f.cancelPending(ctx, user.ID)
}

func reason(err error) string {
	switch {
	case err == twofactor.ErrCodeExpired:
		return twofactor.ReasonExpired
	case errors.Is(err, twofactor.ErrInvalidCode):
		return twofactor.ReasonInvalid
	default:
		return twofactor.ReasonError
	}
}

func ipString(c twofactor.Client) string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.String()
}
