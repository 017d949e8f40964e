package twofactor

import (
	"errors"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor/event"
)

// Errors callers branch on with errors.Is. Every error the package returns
// wraps at most one of them; none of their messages reveal a code, a secret or
// whether a code was wrong rather than expired.
var (
	// ErrInvalidCode means the answer did not verify: wrong, expired, already
	// used, or malformed. Users see one error for all of these (an expired code
	// is reported as an incorrect code); events tell them apart.
	ErrInvalidCode = errors.New("twofactor: invalid code")

	// ErrChallengeNotFound means the challenge id is unknown, malformed,
	// expired, cancelled, already completed, or belongs to another user or
	// purpose. The host should send the user back to the password step.
	ErrChallengeNotFound = errors.New("twofactor: challenge not found or expired")

	// ErrTooManyAttempts means the challenge has used up its wrong answers; it
	// is dead and the user must start again.
	ErrTooManyAttempts = errors.New("twofactor: too many attempts")

	// ErrRateLimited means a rate limit (per client IP, per destination, per
	// hour) was reached. The error is a *RetryError carrying RetryAfter.
	ErrRateLimited = errors.New("twofactor: rate limited")

	// ErrLocked means the user failed too often across challenges and is
	// locked out for a while. The error is a *RetryError carrying RetryAfter.
	ErrLocked = errors.New("twofactor: user temporarily locked")

	// ErrMethodNotAllowed means the method is not offered by this challenge:
	// not enrolled, not allowed by the policy, or not registered.
	ErrMethodNotAllowed = errors.New("twofactor: method not allowed")

	// ErrNotEnrolled means the user has no usable enrollment for the method
	// (or, for step-up, no second factor at all).
	ErrNotEnrolled = errors.New("twofactor: not enrolled")

	// ErrAlreadyEnrolled means an enrollment that must be unique exists.
	ErrAlreadyEnrolled = errors.New("twofactor: already enrolled")

	// ErrLastFactor means the removal would leave a user whose policy
	// requires a second factor without one (backup codes do not count).
	// Add another factor first; support can still use AdminReset.
	ErrLastFactor = errors.New("twofactor: cannot remove the last second factor while the policy requires one")

	// ErrEnrollRequired means the user's policy requires a second factor
	// they do not have and gives no grace, or none is left: they must
	// enroll before going on.
	ErrEnrollRequired = errors.New("twofactor: a second factor must be enrolled first")

	// ErrStepUpRequired means the operation needs a fresh verification of a
	// current factor (a step-up proof no older than the configured maximum).
	ErrStepUpRequired = errors.New("twofactor: fresh verification required")

	// ErrInvalidInput means an argument is malformed (empty user id, a value
	// that does not parse). Nothing was changed.
	ErrInvalidInput = errors.New("twofactor: invalid input")

	// ErrConfig is wrapped by every error New and the factor constructors
	// return for a configuration that cannot work.
	ErrConfig = errors.New("twofactor: invalid configuration")

	// ErrUnknownUser is returned by Config.Users for an id it does not
	// know, and passed on by the parts that look users up.
	ErrUnknownUser = errors.New("twofactor: unknown user")

	// ErrNoIndependentFactor means Begin found second factors for the
	// user, but every one is on the channel of the first step
	// ([Client].FirstFactor): an email code after a sign-in link by email
	// would be the same mailbox twice, one factor. Sign the user in
	// another way (a password), or have them add a factor on another
	// channel.
	ErrNoIndependentFactor = errors.New("twofactor: no second factor independent of the first")

	// ErrNoQualifyingMethod means a step-up asked for more than any of the
	// user's factors gives ([Requirement].PhishingResistant and only
	// codes enrolled): the user must add a factor that qualifies (a
	// security key) first.
	ErrNoQualifyingMethod = errors.New("twofactor: no enrolled method meets the requirement")

	// ErrVetoed means the factor accepted the answer but Config.Veto
	// refused the verification (a risk check, a blocked network). The
	// challenge has ended; nothing was signed in, trusted or proven.
	// The error also wraps the veto's own error.
	ErrVetoed = errors.New("twofactor: verification refused")
)

// ErrCodeExpired is what a factor returns for a code that was right but too
// old. It matches ErrInvalidCode with errors.Is and prints the same message,
// so it can reach users unchanged; the Service records "expired" as the
// reason in its events and returns plain ErrInvalidCode.
var ErrCodeExpired error = &reasonError{base: ErrInvalidCode, reason: event.ReasonExpired}

// ErrCodeReused is what a factor returns for a code that was right but was
// already accepted once (a replayed TOTP step). Like ErrCodeExpired it
// matches ErrInvalidCode and prints the same message; since whoever sent it
// knew a valid code and it can never succeed, it does not count toward the
// user's lockout.
var ErrCodeReused error = &reasonError{base: ErrInvalidCode, reason: event.ReasonReplay}

// ErrMalformedCode is what Verify returns for an answer that is not of the
// method's form ("12345" for a six-digit code, letters, an assertion that
// does not parse). To the user it is a wrong code: it matches
// ErrInvalidCode and prints the same message, so a page shows "wrong code"
// and keeps the challenge; the failure event's reason is "malformed". It
// reaches no factor and no store, and counts toward no limit.
var ErrMalformedCode error = &reasonError{base: ErrInvalidCode, reason: event.ReasonMalformed}

// ErrNoCode is what a factor returns when the challenge has nothing live to
// check the answer against: no code was sent, it was already consumed (by
// the twin of a double submit) or it died. Such an answer could not have
// succeeded, so, like ErrCodeReused, it does not count toward the user's
// lockout. It matches ErrInvalidCode and prints the same message.
var ErrNoCode error = &reasonError{base: ErrInvalidCode, reason: event.ReasonNoCode}

// errEnrollmentGone is what Verify returns for an answer to a method
// whose enrollment was removed while the challenge was pending (the user
// turned it off on another device, or support reset it): to the user it is
// a wrong code, as for every factor, and the event's reason is
// "not_enrolled". Nothing was left to check the answer against, so, like
// ErrNoCode, it does not count toward the user's lockout.
var errEnrollmentGone error = &reasonError{base: ErrInvalidCode, reason: event.ReasonNotEnrolled}

type reasonError struct {
	base   error
	reason event.Reason
}

func (e *reasonError) Error() string               { return e.base.Error() }
func (e *reasonError) Is(target error) bool        { return target == e.base }
func (e *reasonError) FailureReason() event.Reason { return e.reason }

// FailureReasoner is implemented by errors that say why an answer failed,
// in a word for the failure event ("expired", "replay", "unknown_credential",
// "sign_count_regressed"). A factor's error may carry one anywhere in its
// chain; the Service records the first it finds (errors.As). The reason is
// for logs and audits only: users still get plain ErrInvalidCode. It must
// hold nothing secret.
type FailureReasoner interface {
	FailureReason() event.Reason
}

// reasonOf returns the event reason for a verification error.
func reasonOf(err error) event.Reason {
	var fr FailureReasoner
	switch {
	case errors.As(err, &fr) && fr.FailureReason() != "":
		return fr.FailureReason()
	case errors.Is(err, ErrInvalidCode):
		return event.ReasonInvalid
	case errors.Is(err, ErrChallengeNotFound):
		return event.ReasonChallengeEnded
	case errors.Is(err, ErrTooManyAttempts):
		return event.ReasonTooManyAttempts
	case errors.Is(err, ErrLocked):
		return event.ReasonLocked
	case errors.Is(err, ErrRateLimited):
		return event.ReasonRateLimited
	case errors.Is(err, ErrMethodNotAllowed):
		return event.ReasonNotAllowed
	default:
		return event.ReasonError
	}
}

// RetryError is returned for limits that lift with time. It wraps ErrLocked
// or ErrRateLimited (match with errors.Is) and says when to try again (read
// with errors.As). Limit names the limit, so a page can tell a cooldown
// ("You can resend in 42 s") from a cap or a lockout ("Too many attempts,
// try again in 15 minutes"): see [RetryError.Cooldown].
type RetryError struct {
	Err        error         // ErrLocked or ErrRateLimited
	RetryAfter time.Duration // how long until the limit lifts, rounded up to a second
	Limit      string        // which limit: one of the Limit constants, or a factor package's own
}

// Limits named in a RetryError. Factor packages add their own (the SMS
// budgets, verification caps) and document them.
const (
	// LimitResend is the resend cooldown of a code: a cooldown, not a
	// refusal; the user may ask again at RetryAfter.
	LimitResend = "resend"
	// LimitUser is the user's lockout (with ErrLocked) or a per-user
	// sending cap (with ErrRateLimited).
	LimitUser = "user"
	// LimitIP is a per-client-network cap on answers or sends.
	LimitIP = "ip"
	// LimitDestination is a cap on codes sent to one address or number.
	LimitDestination = "destination"
)

// Cooldown reports whether the limit is a short wait between two sends
// (LimitResend) rather than a cap or a lockout.
func (e *RetryError) Cooldown() bool { return e.Limit == LimitResend }

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (%s limit; retry after %s)", e.Err, e.Limit, e.RetryAfter)
}

func (e *RetryError) Unwrap() error { return e.Err }

// NewRetryError returns a *RetryError for err (ErrLocked or ErrRateLimited)
// lifting at resetAt, as seen at now. RetryAfter is rounded up to whole
// seconds and is at least one second.
func NewRetryError(err error, limit string, now, resetAt time.Time) *RetryError {
	d := resetAt.Sub(now)
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	if d < time.Second {
		d = time.Second
	}
	return &RetryError{Err: err, RetryAfter: d, Limit: limit}
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}
