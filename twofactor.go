package twofactor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor/event"
)

// A Method names a kind of second factor. The library's factors use the
// constants below; a host's own factor picks any other short lower-case name.
type Method = event.Method

// The methods of the library's factor packages.
const (
	MethodTOTP       Method = "totp"        // authenticator app (package totp)
	MethodEmail      Method = "email"       // code by email (package emailcode)
	MethodSMS        Method = "sms"         // code by SMS (package smscode)
	MethodBackupCode Method = "backup_code" // backup and admin-issued recovery codes (package backupcodes)
	MethodWebAuthn   Method = "webauthn"    // security keys and passkeys (package webauthn)
)

// A Purpose says what a challenge is for. A challenge, and every code issued
// for it, only ever completes the purpose it was made for.
type Purpose = event.Purpose

// Purposes.
const (
	PurposeLogin  Purpose = "login"   // second step of sign-in; trusted devices may skip it
	PurposeStepUp Purpose = "step_up" // re-verification before a sensitive action
	PurposeEnroll Purpose = "enroll"  // proof of a current factor before adding or changing one
)

func validPurpose(p Purpose) bool {
	return p == PurposeLogin || p == PurposeStepUp || p == PurposeEnroll
}

// User is what the library knows of one of the host's users. Only ID is
// required; it must be stable and unique (use the host's primary key, not an
// email address that may change).
type User struct {
	ID string `json:"id"`
	// Name is the account name authenticator apps show beside the issuer
	// ("Acme: ann@example.com"): what the user signs in with. Empty means
	// Email, then ID.
	Name string `json:"name,omitempty"`
	// DisplayName is how messages greet the user ("Hello Ann"). Empty
	// means no name in greetings.
	DisplayName string `json:"display_name,omitempty"`
	// Email is the address for email codes, when the email factor is used.
	Email string `json:"email,omitempty"`
	// Language is the language the user chose, a BCP 47 tag ("de",
	// "pt-BR"), for the messages sent to them outside a request of their
	// own: a notification after an administrator's change. Messages sent
	// while serving the user's request speak its language (see package
	// i18n). Empty means English.
	Language string `json:"language,omitempty"`
}

// AccountName returns the name for authenticator apps: Name, else Email,
// else ID.
func (u User) AccountName() string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Email != "":
		return u.Email
	}
	return u.ID
}

// MaxUserIDLen is the longest user id the library accepts, in bytes. Every
// store key the library builds is a short prefix, a user id and fixed-length
// ids, so with this bound each fits what every store accepts
// (store.MaxKeyLen). Use the host's primary key: a number, a UUID.
const MaxUserIDLen = 128

// CheckUserID returns an error matching ErrInvalidInput unless id is 1 to
// MaxUserIDLen bytes of valid UTF-8 without control characters (which
// some databases refuse in text keys). Factor packages call it for every
// user they are given, so a bad id is refused before any store access.
func CheckUserID(id string) error {
	if id == "" || len(id) > MaxUserIDLen {
		return invalidInput("user id must be 1 to %d bytes", MaxUserIDLen)
	}
	if !utf8.ValidString(id) {
		return invalidInput("user id must be valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return invalidInput("user id must not contain control characters")
		}
	}
	return nil
}

func (u User) check() error { return CheckUserID(u.ID) }

// Client describes the browser or device making a request: what rate limits
// and trusted devices are keyed on. Build it from an *http.Request with the
// trust package's client-IP helper, which only believes X-Forwarded-For from
// proxies the host trusts.
type Client struct {
	IP        netip.Addr // client address; the zero Addr when unknown
	UserAgent string     // User-Agent header
	// DeviceToken is the trusted-device cookie value, if the browser sent one.
	DeviceToken string
	// FirstFactor says how the first step of sign-in was done (for a
	// step-up: how the session began). Begin offers no second factor on
	// its channel, and the Result reports the assurance of both. Zero
	// means FirstPassword.
	FirstFactor FirstFactor
}

// A Challenge is one pending second-factor check for one user and purpose.
// It is created by [Service.Begin], kept in the store, and ends when it is
// verified, cancelled, expires or runs out of attempts.
type Challenge struct {
	ID        string    `json:"id"`
	User      User      `json:"user"`
	Purpose   Purpose   `json:"purpose"`
	Methods   []Method  `json:"methods"` // enrolled methods the policy allows, in the service's factor order
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip,omitempty"` // client IP at Begin, for events
	// FirstFactor is how the first step of sign-in was done
	// (Client.FirstFactor at Begin): no method on its channel is offered.
	FirstFactor FirstFactor `json:"first_factor,omitempty"`

	gate *SendGate // set during Service.Send for a GatedSender
	// noRecord has bit i set when Begin read the user's enrollment records
	// and Methods[i], a method whose factor is an Offerer, had none: a
	// sign-in with it has no record whose last use to write (an email
	// address the host gives, never recorded). Zero when unknown.
	noRecord uint64
}

// Offers reports whether the challenge can be answered with m.
func (c *Challenge) Offers(m Method) bool { return slices.Contains(c.Methods, m) }

// An Enrollment is one registered instance of a factor for a user: a TOTP
// app, a phone number, a security key, a set of backup codes.
type Enrollment struct {
	ID         string    `json:"id"`
	Method     Method    `json:"method"`
	Label      string    `json:"label,omitempty"` // for display: "Authenticator app", "+1 *** *** **12", "YubiKey 5"
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Passkey marks a WebAuthn credential that signs in on its own (a
	// discoverable credential that verifies its user); Synced one that
	// its platform backs up or syncs between devices (WebAuthn's backup
	// flags). A settings page says where a passkey lives with them.
	Passkey bool `json:"passkey,omitempty"`
	Synced  bool `json:"synced,omitempty"`
}

// DeviceTrust remembers devices that passed a second factor ("trust this
// device for 30 days"). The trust package implements it; Begin consults it
// for login challenges only.
type DeviceTrust interface {
	// Trusted reports whether c presents a valid trusted-device token for
	// the user whose environment (IP, user agent) still matches. A missing,
	// malformed or foreign token is (false, nil); an error is a bad user id
	// (ErrInvalidInput), a missing store or key (ErrConfig) or a system
	// failure, and Begin returns it: it never reads as trusted.
	Trusted(ctx context.Context, user User, c Client) (bool, error)
	// Remember records c as trusted for the user and returns the token for
	// the browser to keep.
	Remember(ctx context.Context, user User, c Client) (DeviceGrant, error)
	// ForgetUser revokes every trusted device of the user.
	ForgetUser(ctx context.Context, userID string) error
}

// DeviceGrant is a newly trusted device's token, for a cookie.
type DeviceGrant struct {
	Token     string
	ExpiresAt time.Time // zero: a session cookie (trust until the browser closes)
}

// Status is the outcome of Begin.
type Status int

// Outcomes of Begin.
const (
	// StatusChallenge: the user must answer Begun.Challenge.
	StatusChallenge Status = iota
	// StatusTrusted: the device is trusted; sign the user in.
	StatusTrusted
	// StatusNoFactor: the user has no second factor and the policy does not
	// require one; sign the user in.
	StatusNoFactor
	// StatusEnrollRequired: the policy requires a second factor and the user
	// has none; the host should send the user to enrollment before anything
	// else.
	StatusEnrollRequired
	// StatusEnrollSuggested: the policy requires a second factor, the user
	// has none, and the policy's Grace has not run out: prompt the user to
	// enroll, and let them skip (Service.SkipEnroll) and go on. Begun.Grace
	// says what is left.
	StatusEnrollSuggested
)

func (s Status) String() string {
	switch s {
	case StatusChallenge:
		return "challenge"
	case StatusTrusted:
		return "trusted"
	case StatusNoFactor:
		return "no_factor"
	case StatusEnrollRequired:
		return "enroll_required"
	case StatusEnrollSuggested:
		return "enroll_suggested"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Begun is the outcome of Begin.
type Begun struct {
	Status    Status
	Challenge *Challenge // set when Status is StatusChallenge
	Grace     *GraceLeft // set when Status is StatusEnrollSuggested
}

// Answer is one attempt at a challenge.
type Answer struct {
	ChallengeID string
	Method      Method
	// Code is the answer: the digits, the backup code, or the factor's JSON
	// (WebAuthn assertion).
	Code string
	// Purpose must match the challenge's. Zero means PurposeLogin.
	Purpose Purpose
	// UserID, if set, must match the challenge's user: pass the user the
	// session is signing in, so a challenge id never completes for another.
	UserID string
	// Client is the requesting browser: counted for per-IP limits.
	Client Client
	// RememberDevice asks, on success of a login challenge, to trust this
	// device (needs Config.Trust).
	RememberDevice bool
}

// Result describes a completed challenge.
type Result struct {
	User         User
	Method       Method
	Purpose      Purpose
	EnrollmentID string
	VerifiedAt   time.Time
	// Proof is a signed statement "this user verified a second factor at
	// VerifiedAt". Keep it in the session; RemoveEnrollment and CheckProof
	// accept it while it is fresh (Config.StepUpMaxAge).
	Proof string
	// Device is set when RememberDevice was asked and the device is now
	// trusted: put Device.Token in the trusted-device cookie.
	Device *DeviceGrant
	// FirstFactor is how the first step of sign-in was done, as Begin was
	// told.
	FirstFactor FirstFactor
	// AMR are the RFC 8176 method references of the verification (see
	// Claims), AAL its NIST SP 800-63B assurance level, and
	// PhishingResistant whether the factor bound its answer to this site.
	// The proof carries them too, for CheckProofFor. Claims returns them
	// for a session or a token.
	AMR               []string
	AAL               int
	PhishingResistant bool
	// Passwordless reports a sign-in by a passkey alone, as both factors
	// (Service.FinishPasskey): no password was asked.
	Passwordless bool
}
