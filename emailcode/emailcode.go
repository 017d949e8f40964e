package emailcode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/onetime"
	"github.com/twofactorkit/twofactor/store"
)

// Store is what the email factor needs from a store. Every store of this
// module implements it.
type Store interface {
	store.Codes
	store.CodeGroups
	store.Counters
}

// Defaults applied by New to zero Config fields. The caps are per hour.
const (
	DefaultTTL                      = 15 * time.Minute // seed: a code is valid 15 minutes
	DefaultResendCooldown           = 60 * time.Second // seed: resend only after 60 s
	DefaultCodeLength               = 6
	DefaultMaxAttempts              = 5
	DefaultCapUser                  = 10
	DefaultCapDestination           = 10
	DefaultCapIP                    = 100
	DefaultCapVerifyUser            = 5
	DefaultCapVerifyUserDestination = 3
	DefaultCapVerifyDestination     = 10
	DefaultCapWindow                = time.Hour
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
)

// PurposeEmailVerify is the purpose of codes sent by SendVerification.
const PurposeEmailVerify = "email_verify"

// verificationGroup prefixes the code group of an address verification.
const verificationGroup = "verify:"

// EnrollmentID is the id of the implicit enrollment: the user's address.
const EnrollmentID = "email"

// ErrDelivery is wrapped by the error Send returns when the message could
// not be handed to the mail server. No usable code is left behind and the
// resend cooldown is not started.
var ErrDelivery = onetime.ErrDelivery

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
//   - VerifyPerUser: SendVerification codes one account may request,
//     whatever the addresses, 5: a sign-up, a resend and a typo or two.
//   - VerifyPerUserDestination: SendVerification codes one account may
//     send to one address, 3: the first and two resends.
//   - VerifyPerDestination: SendVerification codes to one address across
//     all accounts, 10. It bounds how much anyone can mail an address that
//     is not theirs; it must be more than twice what one account may send
//     to one address (New refuses it otherwise), so no account can use it
//     up alone.
//
// Verification codes never count on PerUser or PerDestination: any account
// can ask to verify any address, so if they did, a few accounts could spend
// a victim's login budget and leave them without a login code for an hour.
// A request refused by any limit still counts on its own account's and
// network's caps (a client ignoring RetryAfter spends its own budget) but
// not on VerifyPerDestination.
//
// A zero field takes the default; a negative one disables that cap (not
// recommended). A negative Window is a configuration error.
type Caps = onetime.Caps

// Config configures the email factor. Zero fields take the documented
// defaults; New validates the whole.
type Config struct {
	// Store keeps hashed codes and counters. Required.
	Store Store
	// Keys hashes codes and destinations. Required: pass the Service's ring.
	Keys *twofactor.Keyring
	// Sender delivers messages. Required (seed: email needs an SMTP server
	// configured first): NewSMTP in production, an *Outbox in development.
	Sender Sender
	// ProductName appears in the subject and body. Empty leaves it out.
	ProductName string
	// Templates override the message. Nil fields use the defaults.
	Templates Templates
	// TTL is how long a code is valid. Zero means 15 minutes.
	TTL time.Duration
	// ResendCooldown is the wait before another code may be sent for the
	// same challenge. Zero means 60 seconds; it must be shorter than TTL.
	ResendCooldown time.Duration
	// CodeLength is the number of digits, 6 to 10. Zero means 6.
	CodeLength int
	// MaxAttempts is how many wrong answers kill a code, 1 to 10. Zero
	// means 5.
	MaxAttempts int
	// Caps limit sends per user, address and client network, with
	// separate caps for address verification; see Caps for the defaults.
	Caps Caps
	// Events receives the factor's own events (email verification,
	// warnings). Nil logs to slog.Default.
	Events *twofactor.Events
	// Now is the clock. Nil means time.Now. Give the store the same clock.
	Now func() time.Time
	// Rand is the source of codes. Nil means crypto/rand.
	Rand io.Reader
}

// Factor is the email one-time code factor. It implements
// twofactor.Factor, twofactor.Sender, twofactor.Canceler and
// twofactor.AnswerChecker. It is safe for concurrent use.
type Factor struct {
	issuer  *onetime.Issuer
	sender  Sender
	product string
	tmpl    templates
	events  *twofactor.Events
}

var (
	_ twofactor.Sender        = (*Factor)(nil)
	_ twofactor.Canceler      = (*Factor)(nil)
	_ twofactor.AnswerChecker = (*Factor)(nil)
)

// New validates cfg and returns the factor. Errors wrap twofactor.ErrConfig.
func New(cfg Config) (*Factor, error) {
	if cfg.Sender == nil {
		return nil, fmt.Errorf("emailcode: %w: Config.Sender is nil: email needs an SMTP server configured first (NewSMTP), or an *Outbox in development", twofactor.ErrConfig)
	}
	is, err := onetime.New("emailcode", onetime.Config{
		Store:          cfg.Store,
		Keys:           cfg.Keys,
		Channel:        "email",
		CodeLength:     cfg.CodeLength,
		TTL:            cmp.Or(cfg.TTL, DefaultTTL),
		ResendCooldown: cmp.Or(cfg.ResendCooldown, DefaultResendCooldown),
		MaxAttempts:    cfg.MaxAttempts,
		Caps:           cfg.Caps,
		CapDefaults:    defaultCaps,
		Now:            cfg.Now,
		Rand:           cfg.Rand,
	})
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.ProductName, "\r\n") {
		return nil, fmt.Errorf("emailcode: %w: ProductName must be one line", twofactor.ErrConfig)
	}
	t, err := cfg.Templates.resolve(cfg.ProductName, is.CodeLength(), is.TTL())
	if err != nil {
		return nil, err
	}
	ev := cfg.Events
	if ev == nil {
		ev = &twofactor.Events{Now: cfg.Now}
	}
	return &Factor{issuer: is, sender: cfg.Sender, product: cfg.ProductName, tmpl: t, events: ev}, nil
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

// Method returns twofactor.MethodEmail.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodEmail }

// address returns the user's address in canonical form, or false when it
// is missing or is not one plain address.
func address(u twofactor.User) (string, bool) {
	if u.Email == "" || len(u.Email) > 254 {
		return "", false
	}
	a, err := mail.ParseAddress(u.Email)
	if err != nil || a.Address != u.Email || a.Name != "" {
		return "", false
	}
	return a.Address, true
}

// Enrollments returns the user's email address as the factor's one implicit
// enrollment (ID "email", label masked like "j***@example.com"), or none
// when the user has no valid address. It touches no store.
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	addr, ok := address(user)
	if !ok {
		return nil, nil
	}
	return []twofactor.Enrollment{{ID: EnrollmentID, Method: twofactor.MethodEmail, Label: Mask(addr)}}, nil
}

// Send issues a code for the challenge and mails it to ch.User.Email. A new
// code replaces the previous one. A resend inside the cooldown, or a send
// over a cap, answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited; a delivery failure an error wrapping
// ErrDelivery.
func (f *Factor) Send(ctx context.Context, ch *twofactor.Challenge, c twofactor.Client) (twofactor.Sent, error) {
	if ch == nil {
		return twofactor.Sent{}, fmt.Errorf("emailcode: nil challenge: %w", twofactor.ErrInvalidInput)
	}
	addr, ok := address(ch.User)
	if !ok {
		return twofactor.Sent{}, fmt.Errorf("emailcode: user has no valid email address: %w", twofactor.ErrNotEnrolled)
	}
	req := onetime.Request{
		Group:       ch.ID,
		Purpose:     string(ch.Purpose),
		Bind:        ch.User.ID,
		UserID:      ch.User.ID,
		Destination: strings.ToLower(addr),
		IP:          c.IP,
	}
	return f.send(ctx, req, addr, ch.User, string(ch.Purpose))
}

func (f *Factor) send(ctx context.Context, req onetime.Request, addr string, u twofactor.User, purpose string) (twofactor.Sent, error) {
	iss, err := f.issuer.Issue(ctx, req, func(ctx context.Context, code string, expires time.Time) error {
		m, err := f.tmpl.render(Data{
			ProductName: f.product,
			UserName:    u.Name,
			Code:        code,
			Minutes:     minutesLeft(expires, f.issuer.Now()),
			ExpiresAt:   expires,
			Purpose:     purpose,
		})
		if err != nil {
			return err
		}
		m.To = addr
		return f.sender.Send(ctx, m)
	})
	if err != nil {
		return twofactor.Sent{}, f.issuer.Wrap(err)
	}
	return twofactor.Sent{Destination: Mask(addr), ExpiresAt: iss.ExpiresAt, ResendAt: iss.ResendAt}, nil
}

func minutesLeft(expires, now time.Time) int {
	d := expires.Sub(now)
	return int((d + time.Minute - 1) / time.Minute)
}

// CheckAnswer rejects an answer that is not CodeLength digits (spaces and
// hyphens between digits are ignored) with an error matching
// twofactor.ErrInvalidInput, without touching the store.
func (f *Factor) CheckAnswer(answer string) error { return f.issuer.CheckAnswer(answer) }

// Verify consumes the challenge's code if answer matches, in one store
// round trip. A wrong, unknown or exhausted code returns
// twofactor.ErrInvalidCode, an expired one twofactor.ErrCodeExpired (which
// matches ErrInvalidCode and prints the same). Other errors are store
// failures.
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

// SendVerification mails a code that proves the user owns user.Email (for
// a sign-up or an address change), outside any login challenge. The code
// only ever satisfies ConfirmVerification for the same user and address.
//
// The cooldown applies as for Send. The caps are the verification ones
// (Caps.VerifyPerUser, VerifyPerUserDestination, VerifyPerDestination) and
// PerIP, never the address's login budget: an account asking to verify
// someone else's address cannot stop that person from receiving login
// codes. Over a cap it answers a *twofactor.RetryError matching
// twofactor.ErrRateLimited whose Limit names it.
func (f *Factor) SendVerification(ctx context.Context, user twofactor.User, c twofactor.Client) (twofactor.Sent, error) {
	if user.ID == "" || len(user.ID) > 255 {
		return twofactor.Sent{}, fmt.Errorf("emailcode: user id must be 1 to 255 bytes: %w", twofactor.ErrInvalidInput)
	}
	addr, ok := address(user)
	if !ok {
		return twofactor.Sent{}, fmt.Errorf("emailcode: %q is not one plain email address: %w", Mask(user.Email), twofactor.ErrInvalidInput)
	}
	req := onetime.Request{
		Group:        verificationGroup + user.ID,
		Purpose:      PurposeEmailVerify,
		Bind:         strings.ToLower(addr),
		UserID:       user.ID,
		Destination:  strings.ToLower(addr),
		IP:           c.IP,
		Verification: true,
	}
	sent, err := f.send(ctx, req, addr, user, PurposeEmailVerify)
	if err == nil {
		f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventEnrollBegin, UserID: user.ID, Method: twofactor.MethodEmail,
			IP: ipString(c), Details: map[string]string{"destination": sent.Destination}})
	}
	return sent, err
}

// ConfirmVerification checks a code sent by SendVerification to
// user.Email. A code sent to another address, or for a login, never
// matches. A malformed code is an error matching twofactor.ErrInvalidInput
// (nothing touched); otherwise errors are as for Verify.
func (f *Factor) ConfirmVerification(ctx context.Context, user twofactor.User, answer string) error {
	addr, ok := address(user)
	if !ok || user.ID == "" {
		return fmt.Errorf("emailcode: user has no valid email address: %w", twofactor.ErrInvalidInput)
	}
	code, err := onetime.Normalize("emailcode", answer, f.issuer.CodeLength())
	if err != nil {
		return err
	}
	ev := twofactor.Event{UserID: user.ID, Method: twofactor.MethodEmail, Details: map[string]string{"destination": Mask(addr)}}
	req := onetime.Request{Group: verificationGroup + user.ID, Purpose: PurposeEmailVerify, Bind: strings.ToLower(addr)}
	if err := f.issuer.Verify(ctx, req, code); err != nil {
		ev.Type, ev.Reason = twofactor.EventFailure, reason(err)
		f.events.Emit(ctx, ev)
		return f.issuer.Wrap(err)
	}
	ev.Type = twofactor.EventEnroll
	f.events.Emit(ctx, ev)
	return nil
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
