package notify

import (
	"slices"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
)

// A Kind is one notification. Every kind is on unless Config.Off names it.
type Kind string

// The kinds, in the order Kinds lists them. Each says which event sends it.
const (
	// TurnedOn: the user's first second factor became active
	// (event.Enroll with FirstFactor set).
	TurnedOn Kind = "turned_on"
	// TurnedOff: the user turned two-factor authentication off
	// (event.Disabled), or removed their last second factor
	// (event.Remove with LastFactor set).
	TurnedOff Kind = "turned_off"
	// MethodAdded: another second factor became active
	// (event.Enroll without FirstFactor), named by its method and
	// masked label (Event.Label).
	MethodAdded Kind = "method_added"
	// MethodRemoved: an enrollment was removed, and another second factor
	// is left (event.Remove without LastFactor).
	MethodRemoved Kind = "method_removed"
	// BackupCodesRegenerated: a new set of backup codes replaced the old
	// one (event.Enroll with Action
	// event.ActionBackupCodesReplaced). The first set comes with
	// turning two-factor authentication on.
	BackupCodesRegenerated Kind = "backup_codes_regenerated"
	// BackupCodesLow: a backup code was used and two or fewer are left
	// (backupcodes.EventLow, at the factor's LowThreshold), saying how
	// many (Event.Count).
	BackupCodesLow Kind = "backup_codes_low"
	// DeviceTrusted: a browser was trusted to skip the second step
	// (event.DeviceRemembered), with its label (Event.Label),
	// network, until when (Event.Until) and a link to the devices page
	// (Links.Devices).
	DeviceTrusted Kind = "device_trusted"
	// AdminReset: an administrator removed every factor
	// (event.AdminReset), saying who and when.
	AdminReset Kind = "admin_reset"
	// RecoveryCodeIssued: an administrator issued a recovery code
	// (event.AdminAction with Action
	// event.ActionRecoveryCodeIssued, from
	// backupcodes.Factor.IssueRecoveryCode), saying who, when and until
	// when it works (Event.Until).
	RecoveryCodeIssued Kind = "recovery_code_issued"
	// Lockout: wrong answers locked sign-in (event.Lockout): how
	// many in a row (Event.Count), from which network and browser, and
	// until when (Event.Until).
	Lockout Kind = "lockout"
	// FailedSecondStep: someone who gave the user's password then failed
	// the second step of a sign-in (event.Failure of a login
	// challenge), from which network and browser (Event.UserAgent), and
	// when. At most one per user per Config.Period; see the package
	// documentation.
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
var failureReasons = []event.Reason{
	event.ReasonInvalid, event.ReasonExpired, event.ReasonReplay,
	event.ReasonTooManyAttempts, event.ReasonLocked,
}

// isFailedStep reports whether ev is a failed answer to the second step of
// a sign-in.
func isFailedStep(ev event.Event) bool {
	return ev.Type == event.Failure && ev.Purpose == twofactor.PurposeLogin &&
		ev.UserID != "" && ev.ChallengeID != "" && slices.Contains(failureReasons, ev.Reason)
}

// isLoginSuccess reports whether ev completed the second step of a sign-in.
func isLoginSuccess(ev event.Event) bool {
	return ev.Type == event.Success && ev.Purpose == twofactor.PurposeLogin && ev.ChallengeID != ""
}

// classify returns the kind of message an event sends, from its typed
// fields alone.
func classify(ev event.Event) (Kind, bool) {
	switch ev.Type {
	case event.Disabled:
		return TurnedOff, true
	case event.Enroll:
		switch {
		case ev.Action == event.ActionBackupCodesReplaced:
			return BackupCodesRegenerated, true
		case ev.Action != "" || ev.Method == twofactor.MethodBackupCode:
			// A first set of backup codes comes with turning two-factor
			// authentication on, which has its own message.
			return "", false
		case ev.FirstFactor:
			return TurnedOn, true
		}
		return MethodAdded, true
	case event.Remove:
		switch {
		case ev.Reason == event.ReasonLastFactor:
			// Backup codes removed with the last second factor: part of
			// turning off, which has its own message.
			return "", false
		case ev.LastFactor:
			return TurnedOff, true
		}
		return MethodRemoved, true
	case backupcodes.EventLow:
		return BackupCodesLow, true
	case event.DeviceRemembered:
		return DeviceTrusted, true
	case event.AdminReset:
		return AdminReset, true
	case event.AdminAction:
		if ev.Action == event.ActionRecoveryCodeIssued {
			return RecoveryCodeIssued, true
		}
	case event.Lockout:
		return Lockout, true
	}
	return "", false
}
