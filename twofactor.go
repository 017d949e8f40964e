package twofactor

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// A Method names a kind of second factor. The library's factors use the
// constants below; a host's own factor picks any other short lower-case name.
type Method string

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
type Purpose string

// Purposes.
const (
	PurposeLogin  Purpose = "login"   // second step of sign-in; trusted devices may skip it
	PurposeStepUp Purpose = "step_up" // re-verification before a sensitive action
	PurposeEnroll Purpose = "enroll"  // proof of a current factor before adding or changing one
)

func (p Purpose) valid() bool {
	return p == PurposeLogin || p == PurposeStepUp || p == PurposeEnroll
}

// User is what the library knows of one of the host's users. Only ID is
// required; it must be stable and unique (use the host's primary key, not an
// email address that may change).
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`  // account name shown in authenticator apps and messages
	Email string `json:"email,omitempty"` // address for email codes, when the email factor is used
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
}

// Factor is a second factor the service can offer. It is all the root
// package knows of TOTP, email, SMS, backup codes and WebAuthn; a host adds
// its own factor by implementing it (see the package example).
//
// Factors may also implement [Sender], [Starter], [Canceler], [Remover] and
// [RecoveryFactor]; the service discovers them by type assertion.
type Factor interface {
	// Method returns the factor's method name, unique within a Service.
	Method() Method

	// Enrollments returns the user's active enrollments of this factor; none
	// means the factor is not offered to the user. An error fails the
	// operation (it is never read as "not enrolled").
	Enrollments(ctx context.Context, user User) ([]Enrollment, error)

	// Verify checks answer for the challenge and consumes whatever it used
	// (a code, a TOTP step) atomically, so the same answer succeeds at most
	// once. A wrong answer returns an error matching ErrInvalidCode
	// (ErrCodeExpired, ErrCodeReused for detail); any other error is a system
	// failure. Either way the user is not let in.
	Verify(ctx context.Context, ch *Challenge, answer string) (Verified, error)
}

// Verified is what a factor reports about a successful verification.
type Verified struct {
	// EnrollmentID is the enrollment that matched, if the factor has several.
	EnrollmentID string
	// Details are added to the success event. They must hold nothing secret:
	// no code, no secret, no full phone number.
	Details map[string]string
}

// Sender is a factor with a send step: it issues a code for the challenge and
// delivers it (email, SMS). Errors are typed: *RetryError for cooldowns and
// caps; a delivery failure leaves no usable code behind.
type Sender interface {
	Factor
	Send(ctx context.Context, ch *Challenge, c Client) (Sent, error)
}

// Sent describes a delivered code for the user interface.
type Sent struct {
	Destination string    // masked: "j***@example.com", "+1 *** *** **12"
	ExpiresAt   time.Time // when the code stops working
	ResendAt    time.Time // earliest time a new code may be requested
}

// Starter is a factor whose client needs data before it can answer (WebAuthn
// assertion options). Start returns that data as JSON.
type Starter interface {
	Factor
	Start(ctx context.Context, ch *Challenge) (json.RawMessage, error)
}

// Canceler is a factor that keeps state per challenge (issued codes, ceremony
// state). The service calls Cancel when the challenge ends in any way, so
// nothing issued for it stays usable.
type Canceler interface {
	Factor
	Cancel(ctx context.Context, ch *Challenge) error
}

// Remover is a factor whose enrollments the service can remove: one (after a
// fresh verification, [Service.RemoveEnrollment]) or all (admin reset).
type Remover interface {
	Factor
	Remove(ctx context.Context, user User, enrollmentID string) error
	RemoveAll(ctx context.Context, user User) error
}

// RecoveryFactor is implemented by factors that are a fallback only (backup
// codes): they can answer a challenge, but do not count as the user's second
// factor when a policy requires one.
type RecoveryFactor interface {
	Factor
	Recovery() bool
}

func isRecovery(f Factor) bool {
	r, ok := f.(RecoveryFactor)
	return ok && r.Recovery()
}

// DeviceTrust remembers devices that passed a second factor ("trust this
// device for 30 days"). The trust package implements it; Begin consults it
// for login challenges only.
type DeviceTrust interface {
	// Trusted reports whether c presents a valid trusted-device token for
	// the user whose environment (IP, user agent) still matches. A missing,
	// malformed or foreign token is (false, nil); err is for system failures.
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
