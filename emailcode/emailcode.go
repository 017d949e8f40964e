package emailcode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/internal/onetime"
	"github.com/twofactorkit/twofactor/store"
)

// Store is what the email factor needs from the Env's store: store.Codes,
// store.CodeGroups and store.Counters for the codes and their caps,
// store.Enrollments for the enrolled address, and store.States with
// store.OwnedStates for an address awaiting its code. It is the same type
// as smscode.Store; every store of this module implements it, and New
// names what a store lacks.
type Store = onetime.Store

// Defaults applied by New to zero Config fields. The code rules are the
// same for email and SMS (see Codes); the caps are per hour.
const (
	DefaultTTL                      = onetime.DefaultTTL
	DefaultResendCooldown           = onetime.DefaultResendCooldown
	DefaultCodeLength               = onetime.DefaultCodeLength
	DefaultMaxAttempts              = onetime.DefaultMaxAttempts
	DefaultCapWindow                = onetime.DefaultCapWindow
	DefaultCapUser                  = 10
	DefaultCapDestination           = 10
	DefaultCapIP                    = 100
	DefaultCapVerifyUser            = 5
	DefaultCapVerifyUserDestination = 3
	DefaultCapVerifyDestination     = 20
)

// defaultCaps are the email caps, applied to zero Caps fields.
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
)

// PurposeEmailVerify is the purpose of the codes BeginEnroll sends to
// confirm an address (Data.Purpose in the templates).
const PurposeEmailVerify = "email_verify"

// EnrollmentID is the id of a user's email enrollment: one address per
// user.
const EnrollmentID = "email"

// ErrDelivery is wrapped by the error Send and BeginEnroll return when the
// message could not be handed to the mail server. No usable code is left
// behind and the resend cooldown is not started. The Service's
// send-failure event gives ReasonDelivery as its reason.
var ErrDelivery = onetime.ErrDelivery

// Reasons of the factor's events.
const (
	// ReasonDelivery is the reason of a event.SendFailed whose
	// error wraps ErrDelivery.
	ReasonDelivery = onetime.ReasonDelivery
	// ReasonTouchFailed is the reason of the Service's event.Warning: a
	// login succeeded but its time could not be recorded as the
	// enrollment's LastUsedAt (event.ReasonTouchFailed).
	ReasonTouchFailed = onetime.ReasonTouchFailed
	// ReasonDeletePendingFailed is the reason of a event.Warning:
	// a confirmed address's pending record could not be deleted (its code
	// is used, so it confirms nothing; it expires within Codes.TTL).
	ReasonDeletePendingFailed = onetime.ReasonDeletePendingFailed
)

// Codes set how codes live: TTL (15 minutes), ResendCooldown (60
// seconds), Length (6 digits) and MaxAttempts (5 wrong answers kill a
// code); zero fields take these defaults. It is the same type as
// smscode.Codes.
type Codes = onetime.Codes

// Caps bound how many codes are sent per window (Window, one hour by
// default), counted in the store so they hold across app instances. It is
// the same type as smscode.Caps; the email defaults are:
//
//   - PerUser: login and step-up codes per user, 10. A sign-in needs one
//     code, two with a resend, so 10 an hour covers several sign-ins and
//     slips while stopping a script from mail-bombing a user.
//   - PerDestination: login and step-up codes per address, across users,
//     10, the same as PerUser: an address normally belongs to one account.
//   - PerIP: codes of any kind requested from one client network (an IPv4
//     address, or the /64 of an IPv6 one, which a subscriber holds whole),
//     100: generous because offices and carrier NAT put many users behind
//     one address, yet it bounds one machine walking through accounts.
//   - VerifyPerUser: codes confirming an address (BeginEnroll) one account
//     may request, whatever the addresses, 5: a sign-up, a resend and a
//     typo or two.
//   - VerifyPerUserDestination: codes confirming an address one account
//     may send to one address, 3: the first and two resends.
//   - VerifyPerDestination: accounts that may send codes confirming one
//     address, 20. An account takes one of these slots with its first
//     code to the address in its window and its resends take none, so
//     mail to an address that is not theirs stays bounded (20 × 3 codes
//     an hour) while a few accounts cannot use it up: keeping the owner
//     from her own confirmation code takes 20 other accounts (10 timed
//     across the edge of a window), and once she has a code her resends
//     are never refused by others. It must be more than 2 (New refuses
//     it otherwise): one account takes at most two slots in a window.
//
// Codes confirming an address never count on PerUser or PerDestination:
// any account can ask to confirm any address, so if they did, a few
// accounts could spend a victim's login budget and leave them without a
// login code for an hour. A request refused by any limit still counts on
// its own account's and network's caps (a client ignoring RetryAfter
// spends its own budget) but not on VerifyPerDestination.
//
// A zero field takes the default; a negative one disables that cap (not
// recommended). A negative Window is a configuration error.
type Caps = onetime.Caps

// EnrollmentMode says which address counts as a user's email factor.
type EnrollmentMode int

const (
	// EnrollImplicit, the zero value: the address the host gives
	// (twofactor.User.Email) counts as enrolled, with nothing for the user
	// to set up, which is the common "a code by email is the default
	// second step" product behaviour. Codes go to the address the host
	// gives at each login, so whatever the host requires before changing
	// an address protects the factor too. The factor records the address
	// the first time it sees it (the first Enrollments, that is the first
	// sign-in, for it), which gives the enrollment its CreatedAt; a new
	// address is a new enrollment. The enrollment cannot be removed on its
	// own ([Factor.Remove]): clear the address, or use EnrollOptIn.
	EnrollImplicit EnrollmentMode = iota
	// EnrollOptIn: only an address the user confirmed with a code
	// ([Factor.BeginEnroll], then [Factor.ConfirmEnroll], through
	// Service.BeginEnroll and ConfirmEnroll) counts. A user who has an
	// address but confirmed none is not challenged by email. Codes go to
	// the confirmed address, whatever twofactor.User.Email says later: to
	// move the factor, the user enrolls the new address, which replaces
	// the old one once confirmed. Users remove it like any other factor.
	EnrollOptIn
)

func (m EnrollmentMode) valid() bool { return m == EnrollImplicit || m == EnrollOptIn }

// Config configures the email factor: what is specific to email. The
// store, keys, events, clock and randomness come from the twofactor.Env it
// is built with. Only Sender is required; zero fields take the documented
// defaults, and New validates the whole. Config is a
// twofactor.FactorConfig: give it to twofactor.Config.Factors and the
// Service builds the factor with its Env.
type Config struct {
	// Sender delivers messages. Required, so that a product learns when it
	// starts, not at a user's first sign-in, that mail is not configured:
	// NewSMTP in production, an *Outbox in development.
	Sender Sender
	// Enrollment says which address counts as the user's email factor:
	// the address on file (EnrollImplicit, the zero value) or only one the
	// user confirmed (EnrollOptIn).
	Enrollment EnrollmentMode
	// ProductName appears in the subject and body. Empty leaves it out.
	ProductName string
	// Templates override the message. Nil fields use the defaults, whose
	// sentences come from Languages.
	Templates Templates
	// Languages are the message's texts by language (the "email." keys of
	// package i18n's catalogue). Nil means i18n.Default(). A message is
	// written in the language of the request that sends it (see
	// i18n.WithLanguage), else twofactor.User.Language, else English.
	Languages *i18n.Catalog
	// Codes set the codes' lifetime, resend cooldown, length and attempts.
	Codes Codes
	// Caps limit sends per user, address and client network, with
	// separate caps for codes confirming an address; see Caps for the
	// defaults.
	Caps Caps
}

var _ twofactor.FactorConfig = Config{}

// The optional abilities the pages (package twofactorhttp) use.
var _ twofactor.OptInFactor = (*Factor)(nil)

var _ twofactor.CodeFormat = (*Factor)(nil)

// NewFactor builds the factor with env: New(env, c). twofactor.New calls
// it with the Service's Env.
func (c Config) NewFactor(env twofactor.Env) (twofactor.Factor, error) { return New(env, c) }

// Factor is the email one-time code factor. It implements
// twofactor.Factor, twofactor.Enroller, twofactor.Sender,
// twofactor.Canceler, twofactor.Remover and twofactor.AnswerChecker. It is
// complete when New returns and safe for concurrent use.
type Factor struct {
	issuer  *onetime.Issuer
	st      Store
	env     twofactor.Env // with its defaults
	sender  Sender
	mode    EnrollmentMode
	product string
	tmpl    templates
	langs   *languages
}

var (
	_ twofactor.Enroller      = (*Factor)(nil)
	_ twofactor.Sender        = (*Factor)(nil)
	_ twofactor.Canceler      = (*Factor)(nil)
	_ twofactor.Remover       = (*Factor)(nil)
	_ twofactor.AnswerChecker = (*Factor)(nil)
)

const pkg = "emailcode"

// channel separates the factor's hash domains and store keys.
const channel = "email"

// New validates cfg and returns the factor, which keeps its codes, counters
// and sealed addresses in env's store, hashes and seals with env's keys,
// and emits to env's events; Env.Now and Env.Rand are its clock and
// source of codes. Errors wrap twofactor.ErrConfig and say what to change:
// a nil Env.Store or Env.Keys, a store that lacks an interface Store needs
// (named), or a Config that cannot work.
func New(env twofactor.Env, cfg Config) (*Factor, error) {
	st, env, err := onetime.Wire(pkg, env)
	if err != nil {
		return nil, err
	}
	if cfg.Sender == nil {
		return nil, onetime.ConfigError(pkg, "Config.Sender is nil: email needs an SMTP server configured first (NewSMTP), or an *Outbox in development")
	}
	if !cfg.Enrollment.valid() {
		return nil, onetime.ConfigError(pkg, "Config.Enrollment %d is not EnrollImplicit or EnrollOptIn", cfg.Enrollment)
	}
	if strings.ContainsAny(cfg.ProductName, "\r\n") {
		return nil, onetime.ConfigError(pkg, "ProductName must be one line")
	}
	is, err := onetime.New(pkg, env, onetime.Config{
		Channel:       channel,
		Method:        twofactor.MethodEmail,
		Codes:         cfg.Codes,
		Caps:          cfg.Caps,
		CapDefaults:   defaultCaps,
		EnrollPurpose: PurposeEmailVerify,
		Mask:          Mask,
		FoldCase:      true,
	})
	if err != nil {
		return nil, err
	}
	langs, err := newLanguages(cmp.Or(cfg.Languages, i18n.Default()))
	if err != nil {
		return nil, err
	}
	t, err := cfg.Templates.resolve(langs, cfg.ProductName, is.CodeLength(), is.TTL())
	if err != nil {
		return nil, err
	}
	return &Factor{issuer: is, st: st, env: env, sender: cfg.Sender, mode: cfg.Enrollment, product: cfg.ProductName, tmpl: t, langs: langs}, nil
}

// Method returns twofactor.MethodEmail.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodEmail }

var _ twofactor.Assurer = (*Factor)(nil)

// Assurance reports what an email code assures: "otp", since RFC 8176
// registers no value for email and the code is a one-time password; on
// the email channel, so it is never offered after a sign-in link by
// email; and AAL1, because NIST SP 800-63B (section 5.1.3.1) does not
// accept email as an out-of-band authenticator: it proves no possession
// of a device. It is not phishing resistant.
func (f *Factor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelEmail, AAL: 1}
}

// maxAddress bounds an address (RFC 5321, section 4.5.3.1.3).
const maxAddress = 254

// parseAddress returns s if it is one plain address ("jane@example.com",
// no display name, no list).
func parseAddress(s string) (string, bool) {
	if s == "" || len(s) > maxAddress {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", false
	}
	return a.Address, true
}

// Kinds of enrollment record. The kind is bound into the sealed address,
// so a record cannot be turned from one kind into the other without the
// keys.
const (
	kindOnFile    = "on-file"   // EnrollImplicit: the host's address, recorded when first seen
	kindConfirmed = "confirmed" // confirmed with a code
)

func addressAD(userID, kind string) []byte {
	return []byte("emailcode address\x00" + kind + "\x00" + userID)
}

// newRecord returns the enrollment record of addr for userID: the address
// sealed, its masked form as the label.
func (f *Factor) newRecord(userID, addr, kind string) (store.EnrollmentRecord, error) {
	sealed, err := f.env.Keys.Seal([]byte(addr), addressAD(userID, kind))
	if err != nil {
		return store.EnrollmentRecord{}, fmt.Errorf("sealing address: %w", err)
	}
	return store.EnrollmentRecord{UserID: userID, ID: EnrollmentID, Method: string(twofactor.MethodEmail),
		Label: Mask(addr), Data: []byte(kind + " " + sealed), CreatedAt: f.env.Now()}, nil
}

// kindOf returns the kind of rec, empty for a record that is not the
// email factor's.
func kindOf(rec store.EnrollmentRecord) string {
	if rec.Method != string(twofactor.MethodEmail) {
		return ""
	}
	kind, _, _ := strings.Cut(string(rec.Data), " ")
	if kind != kindOnFile && kind != kindConfirmed {
		return ""
	}
	return kind
}

// openAddress returns the address sealed in rec.
func (f *Factor) openAddress(rec store.EnrollmentRecord) (string, error) {
	kind, sealed, _ := strings.Cut(string(rec.Data), " ")
	addr, err := f.env.Keys.Open(sealed, addressAD(rec.UserID, kind))
	if err != nil {
		return "", fmt.Errorf("opening address: %w", err)
	}
	return string(addr), nil
}

// record returns the user's enrollment record, or store.ErrNotFound.
func (f *Factor) record(ctx context.Context, userID string) (store.EnrollmentRecord, error) {
	rec, err := f.st.GetEnrollment(ctx, userID, EnrollmentID)
	if err != nil {
		return rec, err
	}
	if kindOf(rec) == "" {
		return rec, store.ErrNotFound
	}
	return rec, nil
}

// Offered reports whether the user has an email enrollment: with
// EnrollImplicit a valid twofactor.User.Email, without a store call or a
// write; with EnrollOptIn a confirmed address among the user's enrollment
// records, which Begin reads once for every factor.
func (f *Factor) Offered(user twofactor.User, records func() ([]store.EnrollmentRecord, error)) (bool, error) {
	if f.mode == EnrollImplicit {
		_, ok := parseAddress(user.Email)
		return ok, nil
	}
	recs, err := records()
	return slices.ContainsFunc(recs, func(r store.EnrollmentRecord) bool {
		return r.ID == EnrollmentID && kindOf(r) == kindConfirmed
	}), err
}

// Enrollments returns the user's email enrollment (ID "email", label
// masked like "j***@example.com"), or none. One store round trip, and one
// write the first time a host's address is seen in EnrollImplicit mode.
//
// With EnrollImplicit, a valid twofactor.User.Email is the enrollment; it
// is recorded the first time it is seen here, which gives CreatedAt, and
// again when it changes. Begin does not record it (it asks Offered, which
// writes nothing): sign-ins are recorded as LastUsedAt once the record
// exists. With EnrollOptIn only a confirmed address is,
// whatever User.Email says.
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	if err := f.issuer.CheckUser(user); err != nil {
		return nil, err
	}
	var onFile string
	if f.mode == EnrollImplicit {
		a, ok := parseAddress(user.Email)
		if !ok {
			return nil, nil
		}
		onFile = a
	}
	rec, err := f.record(ctx, user.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("emailcode: reading enrollment: %w", err)
	}
	found := err == nil
	if f.mode == EnrollOptIn {
		if !found || kindOf(rec) != kindConfirmed {
			return nil, nil
		}
		return []twofactor.Enrollment{onetime.Enrollment(rec)}, nil
	}
	if found {
		// A record that does not open (its key retired) is one of an
		// address no longer known: it is recorded anew.
		if addr, err := f.openAddress(rec); err == nil && strings.EqualFold(addr, onFile) {
			return []twofactor.Enrollment{onetime.Enrollment(rec)}, nil
		}
	}
	rec, err = f.newRecord(user.ID, onFile, kindOnFile)
	if err == nil {
		err = f.st.PutEnrollment(ctx, rec)
	}
	if err != nil {
		return nil, fmt.Errorf("emailcode: recording the address on file: %w", err)
	}
	return []twofactor.Enrollment{onetime.Enrollment(rec)}, nil
}

// destination returns where user's codes go: the address on file, or the
// confirmed one (EnrollOptIn).
func (f *Factor) destination(ctx context.Context, user twofactor.User) (string, error) {
	if f.mode == EnrollImplicit {
		addr, ok := parseAddress(user.Email)
		if !ok {
			return "", fmt.Errorf("emailcode: user has no valid email address: %w", twofactor.ErrNotEnrolled)
		}
		return addr, nil
	}
	rec, err := f.record(ctx, user.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && kindOf(rec) != kindConfirmed {
		return "", fmt.Errorf("emailcode: no confirmed address: %w", twofactor.ErrNotEnrolled)
	}
	if err != nil {
		return "", fmt.Errorf("emailcode: reading enrollment: %w", err)
	}
	addr, err := f.openAddress(rec)
	if err != nil {
		return "", fmt.Errorf("emailcode: %w", err)
	}
	return addr, nil
}

// Send issues a code for the challenge and mails it to the user's address
// (with EnrollOptIn, the confirmed one). A new code replaces the previous
// one. A resend inside the cooldown, or a send over a cap, answers a
// *twofactor.RetryError matching twofactor.ErrRateLimited; a delivery
// failure an error wrapping ErrDelivery; a user without an address
// twofactor.ErrNotEnrolled.
//
// Store round trips: one through the Service (the caps with the
// Service's checks and, when they admit the send, the code's storing, in
// one batch), two called on its own (the caps, the code), and with
// EnrollOptIn one more to read the confirmed address.
func (f *Factor) Send(ctx context.Context, ch *twofactor.Challenge, c twofactor.Client) (twofactor.Sent, error) {
	if ch == nil {
		return twofactor.Sent{}, fmt.Errorf("emailcode: nil challenge: %w", twofactor.ErrInvalidInput)
	}
	if err := f.issuer.CheckUser(ch.User); err != nil {
		return twofactor.Sent{}, err
	}
	addr, err := f.destination(ctx, ch.User)
	if err != nil {
		return twofactor.Sent{}, err
	}
	req := onetime.Request{
		Group:       ch.Key(),
		Purpose:     string(ch.Purpose),
		Binding:     ch.User.ID,
		UserID:      ch.User.ID,
		Destination: strings.ToLower(addr),
		IP:          c.IP,
		Gate:        ch.Gate(),
	}
	iss, err := f.issuer.Issue(ctx, req, f.deliver(addr, ch.User, string(ch.Purpose)))
	if err != nil {
		return twofactor.Sent{}, f.issuer.Wrap(err)
	}
	return twofactor.Sent{Destination: Mask(addr), ExpiresAt: iss.ExpiresAt, ResendAt: iss.ResendAt}, nil
}

// deliver returns the delivery of a code to addr for u.
func (f *Factor) deliver(addr string, u twofactor.User, purpose string) onetime.Deliver {
	return func(ctx context.Context, code string, expires time.Time) error {
		now := f.env.Now()
		d := Data{
			ProductName: f.product,
			DisplayName: u.DisplayName,
			Code:        code,
			Minutes:     minutesLeft(expires, now),
			ExpiresAt:   expires,
			Purpose:     purpose,
		}
		d.Text = f.langs.text(ctx, u.Language, &d)
		m, err := f.tmpl.render(d)
		if err != nil {
			return err
		}
		m.To, m.Time = addr, now
		return f.sender.Send(ctx, m)
	}
}

func minutesLeft(expires, now time.Time) int {
	d := expires.Sub(now)
	return int((d + time.Minute - 1) / time.Minute)
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
// login as the enrollment's LastUsedAt: two store round trips (three on a
// store without store.EnrollmentToucher). A wrong code returns
// twofactor.ErrInvalidCode, no live code twofactor.ErrNoCode, an expired
// one twofactor.ErrCodeExpired, a malformed one twofactor.ErrMalformedCode
// (all match ErrInvalidCode and print the same). Other errors are store
// failures.
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if err := f.issuer.VerifyChallenge(ctx, ch, answer); err != nil {
		return twofactor.Verified{}, err
	}
	return twofactor.Verified{EnrollmentID: EnrollmentID, RecordUse: true}, nil
}

// ConsumeOp and VerifyConsumed make the email factor a
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

// BeginEnroll mails a code that confirms req.Destination, or user.Email
// when it is empty, as the user's address: at sign-up, when the address
// changes, or to turn the factor on with EnrollOptIn. The address waits,
// sealed, for ConfirmEnroll; the current enrollment stays until then. The
// result's Sent says where the code went.
//
// A pending enrollment of the same address whose code is still live is
// shown again, with nothing sent, unless req.Restart: that is the resend.
// Another address replaces the pending one. The pending address is filed
// under the user, so a password change, an admin reset or
// Service.Disable ends it.
//
// An address that is not one plain address is an error matching
// twofactor.ErrInvalidInput, before any store access. The cooldown applies
// as for Send. The caps are the verification ones (Caps.VerifyPerUser,
// VerifyPerUserDestination, VerifyPerDestination) and PerIP, never the
// address's login budget: an account asking to confirm someone else's
// address cannot stop that person from receiving login codes. Over a cap
// it answers a *twofactor.RetryError matching twofactor.ErrRateLimited
// whose Limit names it. A send emits event.EnrollBegin with the
// masked address as its Label.
func (f *Factor) BeginEnroll(ctx context.Context, user twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	if err := f.issuer.CheckUser(user); err != nil {
		return nil, err
	}
	dest := req.Destination
	if dest == "" {
		dest = user.Email
	}
	addr, ok := parseAddress(dest)
	if !ok {
		return nil, fmt.Errorf("emailcode: %q is not one plain email address: %w", Mask(dest), twofactor.ErrInvalidInput)
	}
	return f.issuer.BeginEnroll(ctx, onetime.EnrollStart{User: user, Destination: addr, Client: req.Client, Restart: req.Restart},
		f.deliver(addr, user, PurposeEmailVerify))
}

// ConfirmEnroll checks the code BeginEnroll mailed and records the address
// as the user's email enrollment (sealed, with its masked label and
// CreatedAt), replacing any other. A wrong code emits
// event.Failure with the masked address as its Label; the
// enrollment's event.Enroll is Service.ConfirmEnroll's to emit.
//
// A code sent to another address, or for a login, never matches. A
// malformed code returns twofactor.ErrMalformedCode without touching the
// store; a wrong one twofactor.ErrInvalidCode (ErrCodeExpired when too
// old), keeping the pending address; none pending an error matching
// twofactor.ErrNotEnrolled.
//
// With EnrollImplicit the recorded address is the enrollment only while it
// is the address the host gives: update twofactor.User.Email to it once
// confirmed.
func (f *Factor) ConfirmEnroll(ctx context.Context, user twofactor.User, answer string) (twofactor.Enrollment, error) {
	return f.issuer.ConfirmEnroll(ctx, user, answer, func(ctx context.Context, addr, _ string) (twofactor.Enrollment, error) {
		rec, err := f.newRecord(user.ID, addr, kindConfirmed)
		if err != nil {
			return twofactor.Enrollment{}, err
		}
		if err := f.st.PutEnrollment(ctx, rec); err != nil {
			return twofactor.Enrollment{}, fmt.Errorf("storing enrollment: %w", err)
		}
		return onetime.Enrollment(rec), nil
	})
}

// Remove deletes the user's confirmed address (EnrollOptIn) and any
// address awaiting its code. The root Service calls it after a fresh
// verification (Service.RemoveEnrollment). An id other than "email" is
// twofactor.ErrNotEnrolled. With EnrollImplicit the address on file is the
// enrollment, which only the host can remove (by clearing
// twofactor.User.Email): Remove returns an error matching
// twofactor.ErrMethodNotAllowed.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if err := f.issuer.CheckUser(user); err != nil {
		return err
	}
	if enrollmentID != EnrollmentID {
		return fmt.Errorf("emailcode: unknown enrollment %q: %w", enrollmentID, twofactor.ErrNotEnrolled)
	}
	if f.mode == EnrollImplicit {
		return fmt.Errorf("emailcode: the address on file is the enrollment (EnrollImplicit): clear the user's address to stop email codes: %w", twofactor.ErrMethodNotAllowed)
	}
	return f.RemoveAll(ctx, user)
}

// RemoveAll deletes the user's email enrollment and any address awaiting
// its code, with its code (admin reset, Service.Disable). With
// EnrollImplicit the address on file still counts afterwards, recorded
// anew when next seen: only the host can take it away.
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	return f.issuer.RemoveAll(ctx, user, EnrollmentID)
}

// Rekey re-seals the user's recorded address (on file or confirmed) under
// the keyring's current key and reports how many records it rewrote: 1,
// or 0 when there is none or it is sealed under the current key already.
// Run it for every user after putting a new key first in the ring; once
// it reports 0 everywhere, the old key can leave the ring (addresses
// awaiting their code expire with it, within Codes.TTL). Safe to run
// again.
//
// The record is read again right before it is written and left alone if
// it changed meanwhile; a concurrent removal is never undone. An address
// that opens under no key of the ring is an error wrapping
// keyring.ErrInvalidKey.
func (f *Factor) Rekey(ctx context.Context, userID string) (int, error) {
	return rekey(ctx, f.issuer.Records(), userID)
}

// Rekey is Factor.Rekey with only an Env: it re-seals userID's recorded
// address under the current key of env.Keys, for a tool that re-seals
// after a key rotation without sending mail (twofactor rekey), and so has
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

// rekey re-seals the address in userID's record with r.
func rekey(ctx context.Context, r *onetime.Records, userID string) (int, error) {
	return r.Rekey(ctx, userID, EnrollmentID, func(rec store.EnrollmentRecord) (string, string, []byte, bool) {
		kind, sealed, ok := strings.Cut(string(rec.Data), " ")
		if !ok || kindOf(rec) == "" {
			return "", "", nil, false
		}
		return kind + " ", sealed, addressAD(rec.UserID, kind), true
	})
}

// Mask returns an address for display: the first character of the local
// part, "***", and the domain ("j***@example.com"). Anything that is not an
// address is masked whole.
func Mask(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "***"
	}
	local := addr[:at]
	first := local[:1]
	if first[0] >= 0x80 { // keep to whole ASCII characters
		first = ""
	}
	return first + "***" + addr[at:]
}

// OptIn reports whether the factor counts only addresses the user confirmed
// (EnrollOptIn), so a settings page can offer to turn email codes on and
// off; with EnrollImplicit the host's address keeps them on.
func (f *Factor) OptIn() bool { return f.mode == EnrollOptIn }
