package notify

import (
	"slices"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
)

// A Kind is one notification. Every kind is on unless Config.Off names it.
type Kind string

// The kinds, in the order Kinds lists them. Each says which event sends it.
const (
	// TurnedOn: the user's first second factor became active
	// (twofactor.EventEnroll of a method that is not recovery-only, with
	// no other such enrollment before it; needs Notifier.Attach, without
	// which every such enrollment is a MethodAdded).
	TurnedOn Kind = "turned_on"
	// TurnedOff: the user turned two-factor authentication off
	// (twofactor.EventDisabled), or removed their last second factor.
	TurnedOff Kind = "turned_off"
	// MethodAdded: another second factor became active
	// (twofactor.EventEnroll), named by its method and masked label.
	MethodAdded Kind = "method_added"
	// MethodRemoved: an enrollment was removed (twofactor.EventRemove).
	MethodRemoved Kind = "method_removed"
	// BackupCodesRegenerated: a new set of backup codes replaced the old
	// one (twofactor.EventEnroll of backup codes, action "regenerated").
	// The first set comes with turning two-factor authentication on.
	BackupCodesRegenerated Kind = "backup_codes_regenerated"
	// BackupCodesLow: a backup code was used and two or fewer are left
	// (backupcodes.EventLow, at the factor's LowThreshold).
	BackupCodesLow Kind = "backup_codes_low"
	// DeviceTrusted: a browser was trusted to skip the second step
	// (twofactor.EventDeviceRemembered), with its label, network and a
	// link to the devices page (Links.Devices).
	DeviceTrusted Kind = "device_trusted"
	// AdminReset: an administrator removed every factor
	// (twofactor.EventAdminReset), saying who and when.
	AdminReset Kind = "admin_reset"
	// RecoveryCodeIssued: an administrator issued a recovery code
	// (twofactor.EventAdminAction, action "recovery_code_issued", from
	// backupcodes.Factor.IssueRecoveryCode), saying who, when and until
	// when it works.
	RecoveryCodeIssued Kind = "recovery_code_issued"
	// Lockout: wrong answers locked sign-in (twofactor.EventLockout), and
	// until when.
	Lockout Kind = "lockout"
	// FailedSecondStep: someone who gave the user's password then failed
	// the second step of a sign-in (twofactor.EventFailure of a login
	// challenge), from which network and browser, and when. At most one
	// per user per Config.Period; see the package documentation.
	FailedSecondStep Kind = "failed_second_step"
)

var allKinds = []Kind{TurnedOn, TurnedOff, MethodAdded, MethodRemoved, BackupCodesRegenerated, BackupCodesLow,
	DeviceTrusted, AdminReset, RecoveryCodeIssued, Lockout, FailedSecondStep}

// Kinds returns every kind, in the order a settings page lists them.
func Kinds() []Kind { return slices.Clone(allKinds) }

func (k Kind) valid() bool { return slices.Contains(allKinds, k) }

// String returns the kind's name as Config.Off and events spell it.
func (k Kind) String() string { return string(k) }

// failureReasons are the reasons of a failed login answer that count as an
// attempt at the second step: a wrong or expired code, a code already
// used, and answers refused because the challenge was used up or the user
// locked out. Malformed answers (which reach no factor and whose events
// name no user), answers with no live code to check them against (the twin
// of a double submit), rate-limited and system failures do not count.
var failureReasons = []string{
	twofactor.ReasonInvalid, twofactor.ReasonExpired, twofactor.ReasonReplay,
	twofactor.ReasonTooManyAttempts, twofactor.ReasonLocked,
}

// isFailedStep reports whether ev is a failed answer to the second step of
// a sign-in.
func isFailedStep(ev twofactor.Event) bool {
	return ev.Type == twofactor.EventFailure && ev.Purpose == twofactor.PurposeLogin &&
		ev.UserID != "" && ev.ChallengeID != "" && slices.Contains(failureReasons, ev.Reason)
}

// isLoginSuccess reports whether ev completed the second step of a sign-in.
func isLoginSuccess(ev twofactor.Event) bool {
	return ev.Type == twofactor.EventSuccess && ev.Purpose == twofactor.PurposeLogin && ev.ChallengeID != ""
}

// classify returns the kind an event may send, before what only the
// Service can tell (first factor, last factor) is looked up.
func classify(ev twofactor.Event) (Kind, bool) {
	switch ev.Type {
	case twofactor.EventDisabled:
		return TurnedOff, true
	case twofactor.EventEnroll:
		if ev.Method == twofactor.MethodBackupCode {
			if ev.Details["action"] == "regenerated" {
				return BackupCodesRegenerated, true
			}
			return "", false
		}
		return MethodAdded, true
	case twofactor.EventRemove:
		if ev.Reason == "last_factor_removed" {
			// Part of removing the last factor, which has its own message.
			return "", false
		}
		return MethodRemoved, true
	case backupcodes.EventLow:
		return BackupCodesLow, true
	case twofactor.EventDeviceRemembered:
		return DeviceTrusted, true
	case twofactor.EventAdminReset:
		return AdminReset, true
	case twofactor.EventAdminAction:
		if ev.Details["action"] == "recovery_code_issued" {
			return RecoveryCodeIssued, true
		}
	case twofactor.EventLockout:
		return Lockout, true
	}
	return "", false
}
