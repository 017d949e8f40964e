// Package event is the vocabulary of what the library reports: an [Event]
// for every step of a flow, typed, with the constants consumers branch on
// ([Type], [Reason], [Action]) and typed fields for the facts (the
// enrollment, an end time, a count, the first or last factor, the client's
// address and user agent, the acting administrator). A [Sink] logs events
// through log/slog and hands them to a hook; the twofactor Service also
// hands them to its listeners (package notify sends security emails from
// them). No event ever holds a code, a secret or a full phone number.
package event

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// A Method names a kind of second factor: the twofactor package names the
// library's own (twofactor.MethodTOTP, MethodEmail, MethodSMS,
// MethodBackupCode, MethodWebAuthn); a host's factor picks another short
// lower-case name.
type Method string

// Label returns a name for m to show users: "Authenticator app", "Email",
// "Text message", "Backup code", "Security key"; another method shows as
// its name.
func (m Method) Label() string {
	switch m {
	case "totp":
		return "Authenticator app"
	case "email":
		return "Email"
	case "sms":
		return "Text message"
	case "backup_code":
		return "Backup code"
	case "webauthn":
		return "Security key"
	}
	return string(m)
}

// A Purpose says what a challenge is for: twofactor.PurposeLogin,
// PurposeStepUp, PurposeEnroll.
type Purpose string

// A Type names what happened.
type Type string

// Event types. The factor packages use these too (and add a few of their
// own), so a host filters one set.
const (
	Begin            Type = "challenge.begin"       // a challenge was created
	Trusted          Type = "challenge.trusted"     // Begin skipped the second factor: trusted device
	NoFactor         Type = "challenge.nofactor"    // Begin found no enrolled factor
	Send             Type = "code.sent"             // a code was delivered
	SendFailed       Type = "code.send_failed"      // issuing or delivering a code failed
	Start            Type = "challenge.start"       // a factor's begin step (WebAuthn options)
	Success          Type = "verify.success"        // a challenge was answered
	Failure          Type = "verify.failure"        // an answer was refused; Reason says why
	Lockout          Type = "user.locked"           // a user reached the failure limit
	RateLimited      Type = "rate_limited"          // a rate limit refused a request
	Cancel           Type = "challenge.cancel"      // a challenge was cancelled
	EnrollBegin      Type = "factor.enroll_begin"   // an enrollment is pending proof of possession
	Enroll           Type = "factor.enrolled"       // an enrollment became active
	Remove           Type = "factor.removed"        // an enrollment was removed
	AdminReset       Type = "admin.reset"           // an administrator removed all of a user's factors
	AdminAction      Type = "admin.action"          // another administrator action; Action says which
	DeviceRemembered Type = "device.remembered"     // a device became trusted
	DeviceRevoked    Type = "device.revoked"        // a trusted device was revoked; Reason says why
	Warning          Type = "factor.warning"        // a factor noticed something odd (clock drift, key clone)
	Disabled         Type = "user.disabled_2fa"     // the user turned two-factor authentication off
	PasswordChanged  Type = "user.password_changed" // the host reported a password change; pending state ended
	BudgetReached    Type = "budget.reached"        // a sending budget (SMS per country, in total) was used up
	EnrollSkipped    Type = "user.enroll_skipped"   // a user in an enrollment grace put enrolling off; Until and Count say what is left
)

// A Reason says why, in a word, on failure, revocation and warning events.
// Factors may add their own ("unknown_credential").
type Reason string

// Reasons recorded in events.
const (
	ReasonInvalid         Reason = "invalid"
	ReasonExpired         Reason = "expired"
	ReasonReplay          Reason = "replay"
	ReasonTooManyAttempts Reason = "too_many_attempts"
	ReasonLocked          Reason = "locked"
	ReasonRateLimited     Reason = "rate_limited"
	ReasonNotAllowed      Reason = "method_not_allowed"
	ReasonError           Reason = "error"
	ReasonDelivery        Reason = "delivery" // a code was not taken by the mail server or SMS gateway
	ReasonNoCode          Reason = "no_code"
	ReasonChallengeEnded  Reason = "challenge_ended" // the challenge ended (another answer completed it, it was cancelled) or was revoked before this answer or send counted
	ReasonMalformed       Reason = "malformed"
	ReasonNotEnrolled     Reason = "not_enrolled"           // an answer for a method whose enrollment was removed while the challenge was pending
	ReasonCancelFailed    Reason = "cancel_failed"          // a warning: what was issued for an ended challenge could not be cancelled
	ReasonMarkSpentFailed Reason = "mark_spent_failed"      // a warning: a completed challenge could not be marked spent
	ReasonResetFailed     Reason = "reset_failures_failed"  // a warning: a success could not end the user's run of wrong answers
	ReasonTouchFailed     Reason = "touch_failed"           // a warning: a success could not be recorded as its enrollment's last use
	ReasonRememberFailed  Reason = "remember_device_failed" // a warning: the device asked to be trusted could not be
	ReasonTakeBackFailed  Reason = "take_back_failed"       // a warning: a count for an answer that was no guess could not be taken back
	ReasonLastFactor      Reason = "last_factor_removed"    // Remove of a recovery factor removed with the user's last second factor
	ReasonClockDrift      Reason = "clock_drift"            // a warning: an authenticator app's clock is off (Details "drift")
	ReasonSignCount       Reason = "sign_count_regressed"   // a warning: a security key's counter went back, a sign of a cloned key
	ReasonDeviceTouch     Reason = "device_touch_failed"    // a warning: a trusted device's last visit could not be recorded
	ReasonVetoed          Reason = "vetoed"                 // the factor accepted the answer, the host's veto refused it (Details "veto")
	ReasonSameChannel     Reason = "same_channel"           // Begin: every factor of the user is on the first step's channel
	ReasonNoQualifying    Reason = "no_qualifying_method"   // a step-up asked for more than any of the user's factors gives
)

// An Action names what an administrator, or a factor's management step,
// did: the Action of AdminAction and of some factor events.
type Action string

// Actions.
const (
	ActionUnlock              Action = "unlock"                // an administrator lifted a lockout
	ActionRevokeDevices       Action = "revoke_devices"        // an administrator revoked trusted devices (Count)
	ActionRecoveryCodeIssued  Action = "recovery_code_issued"  // an administrator issued a one-time recovery code (Until)
	ActionBackupCodesCreated  Action = "backup_codes_created"  // a first set of backup codes (Count)
	ActionBackupCodesReplaced Action = "backup_codes_replaced" // a new set replaced the old one (Count)
)

// Keys of Event.Details the library writes. Their values are free-form
// text for logs and audits; what a consumer branches on is in the typed
// fields instead.
const (
	DetailError        = "error"        // the error a warning is about
	DetailReason       = "reason"       // the administrator's stated reason (AdminReset)
	DetailDrift        = "drift"        // an authenticator app's clock offset in time steps, "+1" (Success, Warning)
	DetailCountry      = "country"      // the region of an SMS budget (BudgetReached)
	DetailDevice       = "device"       // a short reference to a trusted device's id
	DetailIPBinding    = "ip_bind"      // how a trusted device is bound to its network (DeviceRemembered)
	DetailUABinding    = "ua_bind"      // how a trusted device is bound to its browser (DeviceRemembered)
	DetailSession      = "session"      // "true" when a device is trusted until the browser closes (DeviceRemembered)
	DetailPolicy       = "policy"       // a security key's sign-count policy, "reject" or "warn" (Warning)
	DetailNotification = "notification" // the kind of security email a warning is about
	DetailVeto         = "veto"         // the error the host's veto gave (Failure with ReasonVetoed)
	// DetailSignIn is "passkey" on the events of a sign-in with a passkey
	// and no password, "passkey_first_factor" on its success when the
	// passkey stood for the password only.
	DetailSignIn = "sign_in"
)

// An Event records one step of a flow for audit and monitoring. It never
// holds a code, a secret or a full phone number: destinations are masked.
// What consumers branch on is in typed fields; Details holds free-form
// extras only.
type Event struct {
	Type        Type
	Time        time.Time
	UserID      string
	ChallengeID string
	Method      Method
	Purpose     Purpose
	// Reason says why for failures, revocations and warnings.
	Reason Reason
	// Action is what was done, for AdminAction and backup codes'
	// Enroll.
	Action Action
	// EnrollmentID is the enrollment verified, added or removed.
	EnrollmentID string
	// Label is the enrollment's or device's label, or where a code went,
	// masked ("+1 *** *** **12", "a***@example.com").
	Label string
	// IP and UserAgent describe the client, when the step had one.
	IP        string
	UserAgent string
	// Actor is the administrator who acted, for administrator events.
	Actor string
	// Until is when something ends: a lockout lifts (Lockout), a
	// recovery code expires, a trusted device's trust ends.
	Until time.Time
	// Count is a number the event is about: backup codes left after one
	// was used or made (MethodBackupCode), wrong answers in a row
	// (Lockout), devices revoked.
	Count int
	// FirstFactor is set on Enroll when the user had no second factor
	// before (two-factor authentication just turned on); LastFactor on
	// Remove, Disabled and AdminReset when the user has none
	// left (it just turned off).
	FirstFactor, LastFactor bool
	// Methods are the methods a challenge offers (Begin), the default
	// first. The slice is the challenge's: do not change it.
	Methods []Method
	// Details are free-form extras for logs, under the Detail keys.
	Details map[string]string
}

// A Sink delivers events to a structured logger and an optional hook. The
// zero value logs to slog.Default. A nil *Sink discards nothing: it also
// logs to slog.Default. A Sink is safe for concurrent use if the hook is.
type Sink struct {
	// Logger receives every event. Nil means slog.Default().
	Logger *slog.Logger
	// Hook, if set, is called synchronously with every event (after the log
	// line), for metrics, alerts or an audit table. It must not block long.
	Hook func(context.Context, Event)
	// Now stamps events whose Time is zero. Nil means time.Now.
	Now func() time.Time
	// Discard, if true, drops the log line (the hook still runs).
	Discard bool
}

// Emit records ev.
func (e *Sink) Emit(ctx context.Context, ev Event) {
	if e == nil {
		e = &Sink{}
	}
	if ev.Time.IsZero() {
		if e.Now != nil {
			ev.Time = e.Now()
		} else {
			ev.Time = time.Now()
		}
	}
	if !e.Discard {
		logger := e.Logger
		if logger == nil {
			logger = slog.Default()
		}
		level := slog.LevelInfo
		switch ev.Type {
		case Failure, SendFailed, RateLimited, Warning:
			level = slog.LevelWarn
		case Lockout:
			level = slog.LevelError
		}
		if logger.Enabled(ctx, level) {
			logger.LogAttrs(ctx, level, "twofactor: "+string(ev.Type), ev.attrs()...)
		}
	}
	if e.Hook != nil {
		e.Hook(ctx, ev)
	}
}

func (ev Event) attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 10)
	add := func(k, v string) {
		if v != "" {
			a = append(a, slog.String(k, v))
		}
	}
	add("event", string(ev.Type))
	add("user", ev.UserID)
	add("challenge", ev.ChallengeID)
	add("method", string(ev.Method))
	add("purpose", string(ev.Purpose))
	add("reason", string(ev.Reason))
	add("action", string(ev.Action))
	add("enrollment", ev.EnrollmentID)
	add("label", ev.Label)
	add("ip", ev.IP)
	add("user_agent", ev.UserAgent)
	add("actor", ev.Actor)
	if !ev.Until.IsZero() {
		a = append(a, slog.Time("until", ev.Until))
	}
	if ev.Count != 0 {
		a = append(a, slog.Int("count", ev.Count))
	}
	if ev.FirstFactor {
		a = append(a, slog.Bool("first_factor", true))
	}
	if ev.LastFactor {
		a = append(a, slog.Bool("last_factor", true))
	}
	if len(ev.Methods) > 0 {
		ms := make([]string, len(ev.Methods))
		for i, m := range ev.Methods {
			ms[i] = string(m)
		}
		a = append(a, slog.String("methods", strings.Join(ms, ",")))
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		add(k, ev.Details[k])
	}
	return a
}
