package smscode

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/internal/onetime"
	"github.com/twofactorkit/twofactor/store"
)

// Store is what the SMS factor needs from the Env's store: store.Codes,
// store.CodeGroups and store.Counters for the codes, their caps and
// budgets, store.Enrollments for the phone number, and store.States with
// store.OwnedStates for a number awaiting its code. It is the same type as
// emailcode.Store; every store of this module implements it, and New names
// what a store lacks.
type Store = onetime.Store

// Defaults applied by New to zero Config fields. The code rules are the
// same for SMS and email (see Codes); the caps and budgets are per hour.
const (
	DefaultTTL                      = onetime.DefaultTTL
	DefaultResendCooldown           = onetime.DefaultResendCooldown
	DefaultCodeLength               = onetime.DefaultCodeLength
	DefaultMaxAttempts              = onetime.DefaultMaxAttempts
	DefaultCapWindow                = onetime.DefaultCapWindow
	DefaultCapUser                  = 5
	DefaultCapDestination           = 5
	DefaultCapIP                    = 30
	DefaultCapVerifyUser            = 5
	DefaultCapVerifyUserDestination = 3
	DefaultCapVerifyDestination     = 10
	DefaultBudgetPerCountry         = 200
	DefaultBudgetTotal              = 1000
)

// defaultCaps are the SMS caps, applied to zero Caps fields.
var defaultCaps = Caps{
	PerUser:                  DefaultCapUser,
	PerDestination:           DefaultCapDestination,
	PerIP:                    DefaultCapIP,
	VerifyPerUser:            DefaultCapVerifyUser,
	VerifyPerUserDestination: DefaultCapVerifyUserDestination,
	VerifyPerDestination:     DefaultCapVerifyDestination,
	Window:                   DefaultCapWindow,
}

// Limits named by twofactor.RetryError.Limit when a send is refused.
const (
	LimitResend                = onetime.LimitResend                // Codes.ResendCooldown
	LimitIP                    = onetime.LimitIP                    // Caps.PerIP
	LimitUser                  = onetime.LimitUser                  // Caps.PerUser
	LimitDestination           = onetime.LimitDestination           // Caps.PerDestination
	LimitVerifyUser            = onetime.LimitVerifyUser            // Caps.VerifyPerUser
	LimitVerifyUserDestination = onetime.LimitVerifyUserDestination // Caps.VerifyPerUserDestination
	LimitVerifyDestination     = onetime.LimitVerifyDestination     // Caps.VerifyPerDestination
	LimitCountry               = onetime.LimitCountry               // Budgets.PerCountry, Budgets.Countries
	LimitTotal                 = onetime.LimitTotal                 // Budgets.Total
)

// EnrollmentID is the id of a user's phone enrollment: one phone per user.
const EnrollmentID = "phone"

// PurposePhoneVerify is the purpose of the codes BeginEnroll sends to
// confirm a number (Data.Purpose in the template).
const PurposePhoneVerify = "phone_verify"

// ErrDelivery is wrapped by the error Send and BeginEnroll return when the
// gateway did not accept the message. No usable code is left behind and the
// resend cooldown is not started; the hourly caps still count it. The
// Service's send-failure event gives ReasonDelivery as its reason.
var ErrDelivery = onetime.ErrDelivery

// Reasons of the factor's events.
const (
	// ReasonBudgetCountry is the Reason of a event.BudgetReached
	// for a country's budget (Details["country"] names it).
	ReasonBudgetCountry = onetime.ReasonBudgetCountry
	// ReasonBudgetTotal is the Reason of a event.BudgetReached
	// for the total budget.
	ReasonBudgetTotal = onetime.ReasonBudgetTotal
	// ReasonDelivery is the reason of a event.SendFailed whose
	// error wraps ErrDelivery.
	ReasonDelivery = onetime.ReasonDelivery
	// ReasonTouchFailed is the reason of the Service's event.Warning: a
	// login succeeded but its time could not be recorded as the phone's
	// LastUsedAt (event.ReasonTouchFailed).
	ReasonTouchFailed = onetime.ReasonTouchFailed
	// ReasonDeletePendingFailed is the reason of a event.Warning:
	// a confirmed number's pending record could not be deleted (its code
	// is used, so it confirms nothing; it expires within Codes.TTL).
	ReasonDeletePendingFailed = onetime.ReasonDeletePendingFailed
)

// Codes set how codes live: TTL (15 minutes), ResendCooldown (60
// seconds), Length (6 digits) and MaxAttempts (5 wrong answers kill a
// code); zero fields take these defaults. It is the same type as
// emailcode.Codes.
type Codes = onetime.Codes

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
//   - VerifyPerUser: codes confirming a number (BeginEnroll) one account
//     may request, whatever the numbers, 5: a number, a resend, a mistyped
//     number and its fix.
//   - VerifyPerUserDestination: codes confirming a number one account may
//     send to one number, 3: the first and two resends.
//   - VerifyPerDestination: accounts that may send codes confirming one
//     number, 10. An account takes one of these slots with its first code
//     to the number in its window and its resends take none, so texts to
//     a number that is not theirs (and the pumping of one premium number
//     with fake accounts) stay bounded, 10 × 3 an hour, under the Budgets
//     besides, while a few accounts cannot use it up: keeping the owner
//     from her own confirmation code takes 10 other accounts (5 timed
//     across the edge of a window), and once she has a code her resends
//     are never refused by others. It must be more than 2 (New refuses
//     it otherwise): one account takes at most two slots in a window.
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
// send that takes a budget's last unit emits event.BudgetReached
// so you can react: its Reason is ReasonBudgetCountry (with
// Details["country"] the region) or ReasonBudgetTotal, its Count the
// budget and its Until the end of the window; its UserID, IP and Purpose
// are those of the send. Alert on it: it means toll
// fraud, or a budget set too low for your traffic. It comes once per
// budget and window, except that a request refused at the same moment
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

// Config configures the SMS factor: what is specific to SMS. The store,
// keys, events, clock and randomness come from the twofactor.Env it is
// built with. Only Sender is required; zero fields take the documented
// defaults, and New validates the whole. Config is a
// twofactor.FactorConfig: give it to twofactor.Config.Factors and the
// Service builds the factor with its Env.
type Config struct {
	// Sender delivers SMS. Required: NewTwilio or NewGateway in production,
	// an *Outbox in development.
	Sender Sender
	// ProductName appears in the message. Empty leaves it out.
	ProductName string
	// Template overrides the message text; it sees Data. The WebOTP line is
	// appended after it. Nil means Data.Text's two sentences: "123456 is
	// your <product> verification code. It expires in 15 minutes."
	Template *texttemplate.Template
	// Languages are the message's texts by language (the "sms." keys of
	// package i18n's catalogue). Nil means i18n.Default(). A message is
	// written in the language of the request that sends it (see
	// i18n.WithLanguage), else twofactor.User.Language, else English.
	Languages *i18n.Catalog
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
	// Codes set the codes' lifetime, resend cooldown, length and attempts.
	Codes Codes
	// Caps limit sends per user, number and client network, with separate
	// caps for codes confirming a number; see Caps for the defaults.
	Caps Caps
	// Budgets limit SMS in all and per destination country, whoever asks;
	// see Budgets for the defaults and how to raise them.
	Budgets Budgets
}

var _ twofactor.FactorConfig = Config{}

var _ twofactor.CodeFormat = (*Factor)(nil)

// NewFactor builds the factor with env: New(env, c). twofactor.New calls
// it with the Service's Env.
func (c Config) NewFactor(env twofactor.Env) (twofactor.Factor, error) { return New(env, c) }

// Data is what the message template sees.
type Data struct {
	ProductName string
	Code        string
	Minutes     int    // minutes until the code expires, rounded up
	Purpose     string // "login", "step_up", "enroll", or PurposePhoneVerify
	// Text is the default message's sentences in the message's language.
	Text Text
}

// Text is the default message in one language, from the catalogue's
// "sms." keys (package i18n).
type Text struct {
	Lang    string // the language's BCP 47 tag: "de"
	Code    string // "123456 is your Acme verification code."
	Expires string // "It expires in 10 minutes."
}

// texts are the catalogue's "sms." keys in one language.
type texts struct {
	tag               language.Tag
	Code, CodeProduct string
	Expires           i18n.Plural
}

func newTexts(cat *i18n.Catalog) (map[language.Tag]*texts, error) {
	by := map[language.Tag]*texts{}
	for _, tag := range cat.Languages() {
		t := &texts{tag: tag}
		if err := cat.Fill(tag, "sms.", t); err != nil {
			return nil, onetime.ConfigError(pkg, "Languages: %v", err)
		}
		by[tag] = t
	}
	return by, nil
}

// text returns d's sentences in the language of a message to a user of
// language userLang sent while serving ctx.
func (f *Factor) text(ctx context.Context, userLang string, d *Data) Text {
	t := f.texts[f.cat.MessageLanguage(ctx, userLang)]
	if t == nil {
		t = f.texts[language.English]
	}
	out := Text{Lang: t.tag.String(), Code: fmt.Sprintf(t.Code, d.Code), Expires: t.Expires.Format(t.tag, d.Minutes)}
	if d.ProductName != "" {
		out.Code = fmt.Sprintf(t.CodeProduct, d.Code, d.ProductName)
	}
	return out
}

const defaultTemplate = `{{.Text.Code}} {{.Text.Expires}}`

var defTemplate = texttemplate.Must(texttemplate.New("sms").Parse(defaultTemplate))

// Factor is the SMS one-time code factor with phone enrollment. It
// implements twofactor.Factor, twofactor.Enroller, twofactor.Sender,
// twofactor.Canceler, twofactor.Remover and twofactor.AnswerChecker. It is
// complete when New returns and safe for concurrent use.
type Factor struct {
	issuer  *onetime.Issuer
	st      Store
	env     twofactor.Env // with its defaults
	sender  Sender
	product string
	tmpl    *texttemplate.Template
	cat     *i18n.Catalog
	texts   map[language.Tag]*texts
	webOTP  string
	regions []string
}

var (
	_ twofactor.Enroller      = (*Factor)(nil)
	_ twofactor.Sender        = (*Factor)(nil)
	_ twofactor.Canceler      = (*Factor)(nil)
	_ twofactor.Remover       = (*Factor)(nil)
	_ twofactor.AnswerChecker = (*Factor)(nil)
)

const pkg = "smscode"

// channel separates the factor's hash domains and store keys.
const channel = "sms"

// New validates cfg and returns the factor, which keeps its codes,
// counters and sealed numbers in env's store, hashes and seals with env's
// keys, and emits to env's events; Env.Now and Env.Rand are its clock and
// source of codes. Errors wrap twofactor.ErrConfig and say what to change:
// a nil Env.Store or Env.Keys, a store that lacks an interface Store needs
// (named), or a Config that cannot work.
func New(env twofactor.Env, cfg Config) (*Factor, error) {
	st, env, err := onetime.Wire(pkg, env)
	if err != nil {
		return nil, err
	}
	if cfg.Sender == nil {
		return nil, onetime.ConfigError(pkg, "Config.Sender is nil: use NewTwilio or NewGateway, or an *Outbox in development")
	}
	if strings.ContainsAny(cfg.ProductName, "\r\n") {
		return nil, onetime.ConfigError(pkg, "ProductName must be one line")
	}
	if d := cfg.WebOTPDomain; d != "" && !validDomain(d) {
		return nil, onetime.ConfigError(pkg, "WebOTPDomain %q must be a bare host name such as example.com (no scheme, port or path)", d)
	}
	var regions []string
	for _, r := range cfg.AllowedRegions {
		r = strings.ToUpper(r)
		if !phonenumbers.GetSupportedRegions()[r] {
			return nil, onetime.ConfigError(pkg, "AllowedRegions: %q is not a region code (use ISO 3166-1 alpha-2, e.g. \"US\")", r)
		}
		regions = append(regions, r)
	}
	if cfg.AllowedRegions != nil && len(regions) == 0 {
		return nil, onetime.ConfigError(pkg, "AllowedRegions is empty but not nil: no number could enroll (nil allows every region)")
	}
	budgets, err := cfg.Budgets.resolve()
	if err != nil {
		return nil, onetime.ConfigError(pkg, "%v", err)
	}
	is, err := onetime.New(pkg, env, onetime.Config{
		Channel:       channel,
		Method:        twofactor.MethodSMS,
		Codes:         cfg.Codes,
		Caps:          cfg.Caps,
		CapDefaults:   defaultCaps,
		Budgets:       budgets,
		EnrollPurpose: PurposePhoneVerify,
		Mask:          MaskPhone,
	})
	if err != nil {
		return nil, err
	}
	f := &Factor{
		issuer: is, st: st, env: env, sender: cfg.Sender, product: cfg.ProductName, tmpl: cfg.Template,
		webOTP: strings.ToLower(cfg.WebOTPDomain), regions: regions, cat: cmp.Or(cfg.Languages, i18n.Default()),
	}
	if f.texts, err = newTexts(f.cat); err != nil {
		return nil, err
	}
	if f.tmpl == nil {
		f.tmpl = defTemplate
	}
	sample := strings.Repeat("0", is.CodeLength())
	sd := Data{ProductName: f.product, Code: sample, Minutes: int(is.TTL() / time.Minute), Purpose: "login"}
	sd.Text = f.text(context.Background(), "", &sd)
	body, err := f.render(sd)
	if err != nil {
		return nil, onetime.ConfigError(pkg, "Template: %v", err)
	}
	if !strings.Contains(body, sample) {
		return nil, onetime.ConfigError(pkg, "Template must show {{.Code}}")
	}
	return f, nil
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
// "@<domain> #<code>". The default template is not executed: its two
// sentences are joined directly, as it would print them.
func (f *Factor) render(d Data) (string, error) {
	var body string
	if f.tmpl == defTemplate {
		body = d.Text.Code + " " + d.Text.Expires
	} else {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, d); err != nil {
			return "", err
		}
		body = b.String()
	}
	body = strings.TrimRight(body, " \r\n")
	if f.webOTP != "" {
		body += "\n\n@" + f.webOTP + " #" + d.Code
	}
	return body, nil
}

// Method returns twofactor.MethodSMS.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodSMS }

var _ twofactor.Assurer = (*Factor)(nil)

// Assurance reports what an SMS code assures: "sms" (RFC 8176 section 2),
// on the phone channel, AAL2 with a password (NIST SP 800-63B section
// 5.1.3.3 accepts the public telephone network as a restricted
// out-of-band authenticator). It is not phishing resistant.
func (f *Factor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"sms"}, Channel: twofactor.ChannelPhone, AAL: 2}
}

// phoneAD binds a sealed number to its user and record.
func phoneAD(userID string) []byte {
	return []byte("smscode phone\x00" + userID + "\x00" + EnrollmentID)
}

// sealedPhone is what a phone enrollment seals: the E.164 number, a space
// and its region ("+14155550112 US"), so that a send need not parse the
// number again. Records of older versions seal the number alone.
func sealedPhone(p Phone) []byte { return []byte(p.E164 + " " + p.Region) }

// openedPhone reads what a phone enrollment sealed, finding the region of
// a number sealed alone.
func openedPhone(plain []byte) Phone {
	num, region, ok := strings.Cut(string(plain), " ")
	if !ok || region == "" {
		return Phone{E164: num, Region: regionOf(num)}
	}
	return Phone{E164: num, Region: region}
}

// phone returns the user's enrolled number, or ErrNotEnrolled.
func (f *Factor) phone(ctx context.Context, userID string) (store.EnrollmentRecord, Phone, error) {
	rec, err := f.st.GetEnrollment(ctx, userID, EnrollmentID)
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.Method != string(twofactor.MethodSMS) {
		return rec, Phone{}, fmt.Errorf("smscode: no phone number: %w", twofactor.ErrNotEnrolled)
	}
	if err != nil {
		return rec, Phone{}, fmt.Errorf("smscode: reading phone enrollment: %w", err)
	}
	plain, err := f.env.Keys.Open(string(rec.Data), phoneAD(userID))
	if err != nil {
		return rec, Phone{}, fmt.Errorf("smscode: opening phone number: %w", err)
	}
	return rec, openedPhone(plain), nil
}

// Offered reports whether the user's enrollment records hold an
// enrolled phone: Begin reads the records once for every factor.
func (f *Factor) Offered(_ twofactor.User, records func() ([]store.EnrollmentRecord, error)) (bool, error) {
	recs, err := records()
	return slices.ContainsFunc(recs, func(r store.EnrollmentRecord) bool {
		return r.ID == EnrollmentID && r.Method == string(twofactor.MethodSMS)
	}), err
}

// Enrollments returns the user's phone (ID "phone", label masked like
// "+1 *** *** **12", with CreatedAt and LastUsedAt), or none. One store
// round trip.
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	if err := f.issuer.CheckUser(user); err != nil {
		return nil, err
	}
	rec, err := f.st.GetEnrollment(ctx, user.ID, EnrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("smscode: reading phone enrollment: %w", err)
	}
	if rec.Method != string(twofactor.MethodSMS) {
		return nil, nil
	}
	return []twofactor.Enrollment{onetime.Enrollment(rec)}, nil
}

// Send issues a code for the challenge and texts it to the user's phone. A
// new code replaces the previous one. A resend inside the cooldown, or a
// send over a cap or a budget, answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited whose Limit names it; a gateway failure an error
// wrapping ErrDelivery; a user without a phone twofactor.ErrNotEnrolled.
// The number's region, counted on its country's budget, was recorded with
// it at enrollment.
//
// Store round trips: two through the Service (the phone; the caps and
// budgets with the Service's checks and, when they admit the send, the
// code's storing, in one batch), three called on its own (the phone, the
// caps and budgets, the code).
func (f *Factor) Send(ctx context.Context, ch *twofactor.Challenge, c twofactor.Client) (twofactor.Sent, error) {
	if ch == nil {
		return twofactor.Sent{}, fmt.Errorf("smscode: nil challenge: %w", twofactor.ErrInvalidInput)
	}
	if err := f.issuer.CheckUser(ch.User); err != nil {
		return twofactor.Sent{}, err
	}
	rec, p, err := f.phone(ctx, ch.User.ID)
	if err != nil {
		return twofactor.Sent{}, err
	}
	req := onetime.Request{Group: ch.Key(), Purpose: string(ch.Purpose), Binding: ch.User.ID,
		UserID: ch.User.ID, Destination: p.E164, IP: c.IP, Country: p.Region, Gate: ch.Gate()}
	iss, err := f.issuer.Issue(ctx, req, f.deliver(p.E164, req.Purpose, ch.User.Language))
	if err != nil {
		return twofactor.Sent{}, f.issuer.Wrap(err)
	}
	return twofactor.Sent{Destination: rec.Label, ExpiresAt: iss.ExpiresAt, ResendAt: iss.ResendAt}, nil
}

// deliver returns the delivery of a code to num.
func (f *Factor) deliver(num, purpose, userLang string) onetime.Deliver {
	return func(ctx context.Context, code string, expires time.Time) error {
		now := f.env.Now()
		d := Data{ProductName: f.product, Code: code,
			Minutes: int((expires.Sub(now) + time.Minute - 1) / time.Minute), Purpose: purpose}
		d.Text = f.text(ctx, userLang, &d)
		body, err := f.render(d)
		if err != nil {
			return err
		}
		return f.sender.Send(ctx, Message{To: num, Body: body, Time: now})
	}
}

// CheckAnswer rejects an answer that is not Codes.Length digits (spaces
// and hyphens between digits are ignored) with an error matching
// twofactor.ErrInvalidInput, without touching the store.
func (f *Factor) CheckAnswer(answer string) error { return f.issuer.CheckAnswer(answer) }

// CodeLength is the number of digits of the factor's codes
// (Config.Codes.Length), for pages that size their code field.
func (f *Factor) CodeLength() int { return f.issuer.CodeLength() }

// NumericCode reports that codes are digits.
func (f *Factor) NumericCode() bool { return true }

// Verify consumes the challenge's code if answer matches, then records the
// login as the phone's LastUsedAt: two store round trips (three on a store
// without store.EnrollmentToucher). A wrong code returns
// twofactor.ErrInvalidCode, no live code twofactor.ErrNoCode, an expired
// one twofactor.ErrCodeExpired, a malformed one twofactor.ErrMalformedCode
// (all match ErrInvalidCode and print the same); other errors are store
// failures.
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if err := f.issuer.VerifyChallenge(ctx, ch, answer); err != nil {
		return twofactor.Verified{}, err
	}
	return twofactor.Verified{EnrollmentID: EnrollmentID, RecordUse: true}, nil
}

// ConsumeOp and VerifyConsumed make the SMS factor a
// twofactor.CodeConsumer: the Service checks the code in the round trip
// that counts the answer.
func (f *Factor) ConsumeOp(ch *twofactor.Challenge, answer string) (store.Op, error) {
	return f.issuer.ConsumeOp(ch, answer)
}

// VerifyConsumed: see ConsumeOp.
func (f *Factor) VerifyConsumed(_ context.Context, _ *twofactor.Challenge, op store.Op) (twofactor.Verified, error) {
	return f.issuer.Verified(op, EnrollmentID)
}

// Gated reports that Send joins the Service's checks of a send to the
// count of its own limits (twofactor.GatedSender): one store round trip
// for both.
func (f *Factor) Gated() bool { return true }

// Cancel deletes every code issued for the challenge.
func (f *Factor) Cancel(ctx context.Context, ch *twofactor.Challenge) error {
	return f.issuer.CancelChallenge(ctx, ch)
}

// Remove deletes the user's phone, and a number awaiting its code if any.
// The root Service calls it after a fresh verification
// (Service.RemoveEnrollment). An id other than "phone" is
// twofactor.ErrNotEnrolled.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if err := f.issuer.CheckUser(user); err != nil {
		return err
	}
	if enrollmentID != EnrollmentID {
		return fmt.Errorf("smscode: unknown enrollment %q: %w", enrollmentID, twofactor.ErrNotEnrolled)
	}
	return f.RemoveAll(ctx, user)
}

// RemoveAll deletes the user's phone and any number awaiting its code,
// with its code (admin reset, Service.Disable).
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	return f.issuer.RemoveAll(ctx, user, EnrollmentID)
}

// Rekey re-seals the user's phone number under the keyring's current key
// and reports how many records it rewrote: 1, or 0 when there is no phone
// or it is sealed under the current key already. Run it for every user
// after putting a new key first in the ring; once it reports 0
// everywhere, the old key can leave the ring (numbers awaiting their code
// expire with it, within Codes.TTL). Safe to run again.
//
// The record is read again right before it is written and left alone if
// it changed meanwhile; a concurrent removal is never undone. A number
// that opens under no key of the ring is an error wrapping
// keyring.ErrInvalidKey.
func (f *Factor) Rekey(ctx context.Context, userID string) (int, error) {
	return rekey(ctx, f.issuer.Records(), userID)
}

// Rekey is Factor.Rekey with only an Env: it re-seals userID's phone
// number under the current key of env.Keys, for a tool that re-seals
// after a key rotation without sending SMS (twofactor rekey), and so has
// no Sender to build the factor with. It shares the factor's safeguards:
// a record changed or removed meanwhile is left alone. A nil Env.Store or
// Env.Keys, or a store lacking an interface Store needs, is an error
// matching twofactor.ErrConfig.
func Rekey(ctx context.Context, env twofactor.Env, userID string) (int, error) {
	r, err := onetime.NewRecords(pkg, channel, env)
	if err != nil {
		return 0, err
	}
	return rekey(ctx, r, userID)
}

// rekey re-seals the number in userID's record with r.
func rekey(ctx context.Context, r *onetime.Records, userID string) (int, error) {
	return r.Rekey(ctx, userID, EnrollmentID, func(rec store.EnrollmentRecord) (string, string, []byte, bool) {
		if rec.Method != string(twofactor.MethodSMS) {
			return "", "", nil, false
		}
		return "", string(rec.Data), phoneAD(rec.UserID), true
	})
}

// ParsePhone is the package's ParsePhone with the factor's
// AllowedRegions: exactly what BeginEnroll accepts. A valid number from a
// region not allowed is a *PhoneError wrapping ErrRegionNotAllowed, with
// the number's Region.
func (f *Factor) ParsePhone(number, region string) (Phone, error) {
	p, err := ParsePhone(number, region)
	if err != nil {
		return Phone{}, err
	}
	if f.regions != nil && !slices.Contains(f.regions, p.Region) {
		return Phone{}, &PhoneError{Err: ErrRegionNotAllowed, Region: p.Region}
	}
	return p, nil
}

// BeginEnroll starts enrolling req.Destination, a number as the user typed
// it, with req.Region the hint from the country picker ("US") for a
// number typed without its country code: it parses the number, keeps it
// (sealed) as the user's pending enrollment and texts it a code. The
// user's current phone, if any, stays active until ConfirmEnroll. The
// result's Sent says where the code went.
//
// A pending enrollment of the same number whose code is still live is
// shown again, with nothing sent, unless req.Restart: that is the resend.
// Another number replaces the pending one. The pending number is filed
// under the user, so a password change, an admin reset or Service.Disable
// ends it.
//
// A number that does not parse, is of a refused type or from a region not
// allowed gets the *PhoneError of Factor.ParsePhone, matching
// ErrInvalidPhone (with the reason: ErrPhoneTooShort, ...), ErrNumberType
// or ErrRegionNotAllowed, and twofactor.ErrInvalidInput, before any store
// access. The
// cooldown, the Budgets and delivery failures are as for Send. The caps
// are the verification ones (Caps.VerifyPerUser, VerifyPerUserDestination,
// VerifyPerDestination) and PerIP, never the number's login budget: an
// account that starts enrolling someone else's number cannot stop its
// owner from receiving login codes. Over a cap or a budget it answers a
// *twofactor.RetryError matching twofactor.ErrRateLimited whose Limit
// names it. A send emits event.EnrollBegin with the masked
// number as its Label.
//
// Changing a phone is a sensitive action: Service.BeginEnroll asks a user
// who has a factor to prove one first.
func (f *Factor) BeginEnroll(ctx context.Context, user twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	if err := f.issuer.CheckUser(user); err != nil {
		return nil, err
	}
	p, err := f.ParsePhone(req.Destination, req.Region)
	if err != nil {
		return nil, err
	}
	return f.issuer.BeginEnroll(ctx, onetime.EnrollStart{User: user, Destination: p.E164, Country: p.Region,
		Client: req.Client, Restart: req.Restart}, f.deliver(p.E164, PurposePhoneVerify, user.Language))
}

// ConfirmEnroll checks the code BeginEnroll texted and makes the number
// the user's phone (sealed with its region, with its masked label and
// CreatedAt), replacing the previous one only now. A wrong code emits
// event.Failure with the masked number as its Label; the
// enrollment's event.Enroll is Service.ConfirmEnroll's to emit.
//
// A code sent to another number, or for a login, never matches. A
// malformed code returns twofactor.ErrMalformedCode without touching the
// store; a wrong one twofactor.ErrInvalidCode (ErrCodeExpired when too
// old), keeping the pending number; none pending an error matching
// twofactor.ErrNotEnrolled.
func (f *Factor) ConfirmEnroll(ctx context.Context, user twofactor.User, answer string) (twofactor.Enrollment, error) {
	return f.issuer.ConfirmEnroll(ctx, user, answer, func(ctx context.Context, num, region string) (twofactor.Enrollment, error) {
		if region == "" { // a number awaiting its code since an older version
			region = regionOf(num)
		}
		sealed, err := f.env.Keys.Seal(sealedPhone(Phone{E164: num, Region: region}), phoneAD(user.ID))
		if err != nil {
			return twofactor.Enrollment{}, fmt.Errorf("sealing number: %w", err)
		}
		rec := store.EnrollmentRecord{UserID: user.ID, ID: EnrollmentID, Method: string(twofactor.MethodSMS),
			Label: MaskPhone(num), Data: []byte(sealed), CreatedAt: f.env.Now()}
		if err := f.st.PutEnrollment(ctx, rec); err != nil {
			return twofactor.Enrollment{}, fmt.Errorf("storing phone: %w", err)
		}
		return onetime.Enrollment(rec), nil
	})
}
