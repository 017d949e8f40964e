package twofactor

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"time"
)

// Factor is a second factor the service can offer. It is all the root
// package knows of TOTP, email, SMS, backup codes and WebAuthn; a host adds
// its own factor by implementing it (see the package example).
//
// A factor may also implement any of these, which the Service discovers by
// type assertion:
//
//   - [Binder]: take the Service's store, keys, events and clock, so the
//     factor's own config holds only what is specific to it;
//   - [Enroller]: let users add it themselves, begin then confirm;
//   - [Sender]: a send step that delivers a code (email, SMS);
//   - [Starter]: data the client needs before answering (WebAuthn);
//   - [Canceler]: per-challenge state to end with the challenge;
//   - [Remover]: enrollments the Service may remove;
//   - [RecoveryFactor]: a fallback that is not a second factor of its own
//     (backup codes);
//   - [AnswerChecker]: reject a malformed answer before any store access.
//
// An error a factor returns may name its reason for the events through
// [FailureReasoner].
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
	// (ErrCodeExpired, ErrCodeReused, ErrNoCode for detail); any other
	// error is a system failure. Either way the user is not let in.
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

// Shared is what a Service hands to each factor, and to its DeviceTrust,
// when New builds it.
type Shared struct {
	Store  Store // the factor asserts the store interfaces it needs
	Keys   *Keyring
	Events *Events
	Now    func() time.Time
	Rand   io.Reader // nil: crypto/rand
	// Service is the Service being built, for factors that check proofs
	// (regenerating backup codes needs a fresh step-up). Its methods may be
	// called only after New has returned.
	Service *Service
}

// Binder is a factor (or a DeviceTrust) that takes the Service's shared
// parts: New calls Bind once, and the factor fills every field its own
// config left zero from shared (fields set explicitly win), then checks
// that it has all it needs. An error fails New. A factor used without a
// Service gets the same parts from its own config instead.
type Binder interface {
	Bind(shared Shared) error
}

// Enroller is a factor users add themselves, in two steps, through
// [Service.BeginEnroll] and [Service.ConfirmEnroll]: begin returns what the
// user needs to prove possession (a QR code, a code sent to their phone,
// the browser's creation options) and keeps a pending enrollment; confirm
// checks the proof and makes the enrollment active.
type Enroller interface {
	Factor
	// BeginEnroll starts, or shows again, an enrollment for user. A
	// pending one of the same kind is returned again unless req.Restart
	// is set or req asks for something else (another phone number).
	BeginEnroll(ctx context.Context, user User, req EnrollRequest) (*Enrolling, error)
	// ConfirmEnroll checks answer (the code the app or the message shows,
	// the browser's attestation JSON) against the pending enrollment and
	// makes it active. A wrong answer returns an error matching
	// ErrInvalidCode and keeps the pending enrollment; none pending
	// returns ErrNotEnrolled.
	ConfirmEnroll(ctx context.Context, user User, answer string) (Enrollment, error)
}

// EnrollRequest says what to enroll. Factors read the fields that concern
// them.
type EnrollRequest struct {
	Client Client
	// Label is the user's name for the enrollment ("YubiKey 5").
	Label string
	// Destination is a phone number for SMS (as typed; see Region) or an
	// email address for email.
	Destination string
	// Region is the ISO 3166 region of a phone number typed without its
	// country code ("US").
	Region string
	// Restart drops a pending enrollment of the same kind and starts over.
	Restart bool
}

// Enrolling describes a pending enrollment: what the user needs to see to
// prove possession. Each factor fills the fields that concern it.
type Enrolling struct {
	Method    Method
	ExpiresAt time.Time
	// Sent is where a confirmation code went (email, SMS).
	Sent *Sent
	// Secret is the TOTP secret in base32, for typing into an app.
	Secret string
	// URI is the otpauth:// URI of a TOTP secret, for a link.
	URI template.URL
	// QR is the TOTP URI as a PNG QR code in a data: URI, for an <img>.
	QR template.URL
	// Options is what the browser needs to create a credential (WebAuthn).
	Options json.RawMessage
	// Codes are backup codes, shown once: they are active already, and no
	// confirmation follows.
	Codes []string
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
// nothing issued for it stays usable: except on the factor whose Verify
// just completed the challenge, which must itself have consumed what it
// issued for it (one code or ceremony per challenge).
type Canceler interface {
	Factor
	Cancel(ctx context.Context, ch *Challenge) error
}

// Remover is a factor whose enrollments the service can remove: one (after a
// fresh verification, [Service.RemoveEnrollment]) or all (admin reset,
// [Service.Disable]).
type Remover interface {
	Factor
	Remove(ctx context.Context, user User, enrollmentID string) error
	RemoveAll(ctx context.Context, user User) error
}

// RecoveryFactor is implemented by factors that are a fallback only (backup
// codes): they can answer a challenge, but do not count as the user's second
// factor when a policy requires one, and they are removed with the user's
// last second factor.
type RecoveryFactor interface {
	Factor
	Recovery() bool
}

func isRecovery(f Factor) bool {
	r, ok := f.(RecoveryFactor)
	return ok && r.Recovery()
}

// AnswerChecker is implemented by factors that can reject a malformed answer
// (letters in a numeric code, JSON that does not parse) without touching the
// store. Verify calls it before any store access and answers
// ErrMalformedCode when it returns an error.
type AnswerChecker interface {
	CheckAnswer(answer string) error
}

// Label returns a name for m to show users: "Authenticator app", "Email",
// "Text message", "Backup code", "Security key"; a host's own method shows
// as its name.
func (m Method) Label() string {
	switch m {
	case MethodTOTP:
		return "Authenticator app"
	case MethodEmail:
		return "Email"
	case MethodSMS:
		return "Text message"
	case MethodBackupCode:
		return "Backup code"
	case MethodWebAuthn:
		return "Security key"
	}
	return string(m)
}
