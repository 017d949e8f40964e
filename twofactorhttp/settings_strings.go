package twofactorhttp

import (
	"maps"
	"slices"
	"strings"
)

// SettingsStrings is the text of the settings pages, part of [Strings].
// Fields with a verb take one argument, as their default shows.
type SettingsStrings struct {
	Title        string // the overview's title
	Intro        string // the overview's first paragraph
	Back         string // link from a factor's page back to the overview
	On           string // a factor that is set up
	Off          string // a factor that is not
	Added        string // "Added %s" (a date)
	LastUsed     string // "Last used %s" (a date)
	NeverUsed    string // an enrollment never used to sign in
	Default      string // "Default method: %s" (a method's name)
	DefaultBadge string // beside the default method in the list
	Manage       string // link to a factor's page
	SetUp        string // link or button that adds a factor
	Remove       string // button that removes a factor
	Replace      string // button that replaces a phone number
	Cancel       string // leaves a page without a change
	Verify       string // submits a confirmation code
	Next         string // from the QR code to the code form
	StepUpNote   string // says a change needs a fresh verification first
	SetUpDone    string // "%s is set up." (a method's name): the notice after a method without one of its own in Saved
	QRAlt        string // a set-up's QR code's alternative text, on a method's generic page
	SetUpSecret  string // the label of a set-up's secret, on a method's generic page
	Date         string // time layout of dates, shown in UTC: "2 Jan 2006"
	DateTime     string // time layout of times, shown in UTC: "2 Jan 2006 15:04 MST"

	// Authenticator app.
	TOTPTitle     string // its page's title
	TOTPIntro     string // before set-up
	TOTPOn        string // set up: how sign-in uses it
	TOTPScan      string // above the QR code
	TOTPQRAlt     string // the QR code's alternative text
	TOTPManual    string // above the secret
	TOTPSecret    string // the secret's label
	TOTPCopy      string // the copy button
	TOTPCopied    string // announced once copied
	TOTPApps      string // any RFC 6238 app works; the list follows
	Apps          []string
	TOTPEnterCode string // the code step's prompt
	TOTPCodeLabel string // the code input's label
	TOTPBackToQR  string // from the code step back to the QR code
	TOTPExpires   string // "This set-up expires at %s." (a time)

	// Phone (SMS).
	PhoneTitle     string // its page's title
	PhoneIntro     string // before a phone is added
	PhoneOn        string // "Codes are texted to %s." (the masked number)
	PhoneOne       string // one phone per account: adding replaces
	PhoneHeld      string // "Send a code to %s to finish adding it." (the masked number of a set-up held for its step-up)
	Country        string // the country picker's label
	CountryChoose  string // the picker's empty choice
	Number         string // the number input's label
	NumberHint     string // below the number input
	SendCode       string // sends the confirmation code
	Resend         string // sends a new one
	OtherNumber    string // back to the number form
	PhoneCodeLabel string // the code input's label
	// Why a number is refused.
	PhoneEmpty      string // nothing typed
	PhoneNeedRegion string // a national number without a country
	PhoneTooShort   string // too few digits
	PhoneTooLong    string // too many digits
	PhoneBadCountry string // an unknown country calling code
	PhoneInvalid    string // "That is not a valid number for %s." (a country)
	PhoneInvalidAny string // not a valid number, no country known
	PhoneRefused    string // the factor refused it: premium, toll-free, a country not served

	// Security keys.
	KeysTitle    string // its page's title
	KeysIntro    string // what a security key is
	KeysNone     string // no key yet
	KeyName      string // the name input's label
	KeyNameHint  string // below it
	KeyAdd       string // the button that runs the browser's ceremony
	KeyRename    string // the button that opens an enrollment's rename form
	KeyNewName   string // the rename input's label ("New name for %s")
	NameTooLong  string // a set-up's name over the bound: "%d" is the most characters
	KeysNoScript string // adding a key needs JavaScript

	// Email codes.
	EmailTitle     string // its page's title
	EmailOn        string // "Codes are emailed to %s." (the masked address)
	EmailImplicit  string // they follow the account's address
	EmailOff       string // not on
	EmailNoAddress string // the account has no address
	EmailTurnOn    string // sends a code to the account's address
	EmailCodeLabel string // the code input's label

	// Backup codes.
	BackupTitle      string // its page's title
	BackupIntro      string // what they are
	BackupLeft       string // "%d backup codes left."
	BackupOneLeft    string // one left
	BackupNone       string // no set
	BackupLow        string // two or fewer left: make a new set
	BackupGenerate   string // makes a first set
	BackupRegenerate string // makes a new set (step-up)
	BackupRegenNote  string // the old set stops working
	BackupShownTitle string // the page that shows a set once
	BackupShownIntro string // save them now: they are shown once
	BackupDownload   string // download as .txt
	BackupPrint      string // print
	BackupDone       string // leave the page: "I saved them"
	BackupGone       string // the download after it expired
	BackupFileHead   string // first line of the .txt file

	// Trusted devices.
	DevicesTitle   string // its page's title
	DevicesIntro   string // what trusting a device means
	DevicesNone    string // no device trusted
	ThisDevice     string // marks the browser making the request
	Network        string // "Network %s" (an address or a range)
	Expires        string // "Trusted until %s" (a date)
	ExpiresSession string // trusted until the browser closes
	LastSeen       string // "Last seen %s" (a date)
	Revoke         string // revokes one device
	RevokeAll      string // revokes every device
	DeviceNotFound string // revoking a device that is not the user's
	RevokeAllTitle string // the confirmation before revoking every device
	RevokeAllWarn  string // what revoking every device means

	// Confirmations before a change.
	RemoveTitle         string // "Remove %s?" (a factor's name)
	RemoveWarn          string // what removing means
	RemoveLast          string // the last factor under a policy that requires one
	RemoveNothing       string // no such enrollment
	EmailImplicitRemove string // email codes that follow the account's address cannot be turned off here

	// The security emails the user gets, on the overview.
	NotificationsTitle string // heading: "Security emails"
	NotificationsIntro string // "We email you when:"

	// Turning two-step verification off.
	DisableLink       string // the overview's link to the confirmation
	DisableTitle      string // the confirmation's title
	DisableWarn       string // what turning it off removes
	DisableButton     string // the button that turns it off
	DisableRequired   string // the policy requires a second factor
	DisableEmailStays string // email codes follow the account's address and stay on
	DisableStays      string // "%s stays on: ..." (a method's name) another method that follows the account stays on

	// Notices after a change, by the key in ?done=: a method's set-up
	// confirmed is the route of its page ("totp", "phone", "keys",
	// "email"); a method missing here gets SetUpDone.
	Saved map[string]string

	// Regions overrides RegionNames, the country picker's names, by
	// region code ("US"). Nil keeps every English name.
	Regions map[string]string

	// The overview's status line and rows.
	StatusOn      string // two-step verification is on
	StatusOff     string // it is off
	Since         string // "Since %s" (a date): when the first method still set up was added
	OffIntro      string // below StatusOff: why to turn it on
	SetUpFirst    string // the main action when it is off: "Set up a method"
	MethodsTitle  string // heading of the methods
	RecoveryTitle string // heading of the recovery options (backup codes, trusted devices)
	Count         string // "%d set up": a method with more than one enrollment
	KeysCount     string // "%d keys": more than one security key
	DevicesOne    string // one trusted device
	DevicesMany   string // "%d trusted devices"

	// A new set of backup codes, on its page, printed and downloaded.
	// Product is the product's name above the codes; empty: the
	// authenticator app's issuer (totp.Config.Issuer), when one is set.
	Product       string
	BackupAccount string // "Account: %s" (the account's name)
	BackupMade    string // "Generated %s" (a date and time)

	// The authenticator app's set-up on a phone, where the QR code is a
	// link that opens the app.
	TOTPTap     string // says so, on a small screen
	TOTPOpenApp string // the button that opens the app

	KeySave string // the rename form's button
}

var defaultSettingsStrings = SettingsStrings{
	Title:        "Two-step verification",
	Intro:        "Choose how you confirm it's you when you sign in.",
	Back:         "Back to two-step verification",
	On:           "On",
	Off:          "Off",
	Added:        "Added %s",
	LastUsed:     "Last used %s",
	NeverUsed:    "Not used yet",
	Default:      "Default method: %s",
	DefaultBadge: "Default",
	Manage:       "Manage",
	SetUp:        "Set up",
	Remove:       "Remove",
	Replace:      "Replace",
	Cancel:       "Cancel",
	Verify:       "Verify",
	Next:         "Next",
	StepUpNote:   "For your security, you'll confirm it's you before this change.",
	SetUpDone:    "%s is set up.",
	QRAlt:        "QR code to set this up",
	SetUpSecret:  "Setup key",
	Date:         "2 Jan 2006",
	DateTime:     "2 Jan 2006 15:04 MST",

	TOTPTitle:     "Authenticator app",
	TOTPIntro:     "Use an app on your phone that shows a new 6-digit code every 30 seconds.",
	TOTPOn:        "Your authenticator app is set up. Enter the code it shows when you sign in.",
	TOTPScan:      "Scan this QR code with your authenticator app.",
	TOTPQRAlt:     "QR code to add this account to an authenticator app",
	TOTPManual:    "Can't scan it? Add the account by hand with this key:",
	TOTPSecret:    "Setup key",
	TOTPCopy:      "Copy key",
	TOTPCopied:    "Key copied.",
	TOTPApps:      "Any standard (RFC 6238) authenticator app works, for example:",
	Apps:          []string{"Google Authenticator", "Microsoft Authenticator", "Authy", "Duo Mobile", "Okta Verify", "1Password", "Bitwarden"},
	TOTPEnterCode: "Enter the 6-digit code your app now shows for this account.",
	TOTPCodeLabel: "Code from the app",
	TOTPBackToQR:  "Show the QR code again",
	TOTPExpires:   "Finish before %s, or start again.",

	PhoneTitle:     "Text message (SMS)",
	PhoneIntro:     "Get a code by text message when you sign in.",
	PhoneOn:        "Codes are texted to %s.",
	PhoneOne:       "One phone number per account: a new number replaces this one once confirmed.",
	PhoneHeld:      "Send a code to %s to finish adding it.",
	Country:        "Country or region",
	CountryChoose:  "Choose…",
	Number:         "Phone number",
	NumberHint:     "It must be able to receive text messages.",
	SendCode:       "Send code",
	Resend:         "Send a new code",
	OtherNumber:    "Use another number",
	PhoneCodeLabel: "Code from the text message",

	PhoneEmpty:      "Enter your phone number.",
	PhoneNeedRegion: "Choose your country, or start the number with + and its country code.",
	PhoneTooShort:   "That number is too short.",
	PhoneTooLong:    "That number is too long.",
	PhoneBadCountry: "That country calling code does not exist. Check the digits after the +.",
	PhoneInvalid:    "That is not a valid phone number for %s.",
	PhoneInvalidAny: "That is not a valid phone number.",
	PhoneRefused:    "We can't send codes to that number. Premium-rate, toll-free and some countries' numbers are not supported.",

	KeysTitle:    "Security keys",
	KeysIntro:    "Use a hardware key (like a YubiKey) or a passkey on this device.",
	KeysNone:     "No security key yet.",
	KeyName:      "Name",
	KeyNameHint:  "So you can tell your keys apart, for example \"Blue YubiKey\".",
	KeyAdd:       "Add a security key",
	KeyRename:    "Rename",
	KeyNewName:   "New name for %s",
	NameTooLong:  "Use a name of at most %d characters.",
	KeysNoScript: "Adding a security key needs JavaScript.",

	EmailTitle:     "Email codes",
	EmailOn:        "Codes are emailed to %s.",
	EmailImplicit:  "Email codes follow your account's email address: they stay on while it has one.",
	EmailOff:       "Email codes are off.",
	EmailNoAddress: "Your account has no email address.",
	EmailTurnOn:    "Send a code to my email",
	EmailCodeLabel: "Code from the email",

	BackupTitle:      "Backup codes",
	BackupIntro:      "Each backup code signs you in once, when you can't use your other methods. Keep them somewhere safe, like a password manager.",
	BackupLeft:       "%d backup codes left.",
	BackupOneLeft:    "1 backup code left.",
	BackupNone:       "You have no backup codes.",
	BackupLow:        "You are running out of backup codes. Make a new set.",
	BackupGenerate:   "Get backup codes",
	BackupRegenerate: "Make new codes",
	BackupRegenNote:  "Your current backup codes will stop working.",
	BackupShownTitle: "Save your backup codes",
	BackupShownIntro: "This is the only time these codes are shown. Download or print them now, and keep them somewhere safe. Each works once.",
	BackupDownload:   "Download (.txt)",
	BackupPrint:      "Print",
	BackupDone:       "I saved my codes",
	BackupGone:       "These backup codes can no longer be downloaded. Make a new set if you did not save them.",
	BackupFileHead:   "Backup codes. Each works once.",

	DevicesTitle:   "Trusted devices",
	DevicesIntro:   "These browsers skip the second step when you sign in. A new network or browser asks again.",
	DevicesNone:    "No trusted device.",
	ThisDevice:     "This device",
	Network:        "Network %s",
	Expires:        "Trusted until %s",
	ExpiresSession: "Trusted until the browser closes",
	LastSeen:       "Last seen %s",
	Revoke:         "Revoke",
	RevokeAll:      "Revoke all",
	DeviceNotFound: "That device is not one of yours, or is no longer trusted.",
	RevokeAllTitle: "Revoke every trusted device?",
	RevokeAllWarn:  "Every browser below, this one included, will ask for your second step at its next sign-in.",

	RemoveTitle:         "Remove %s?",
	RemoveWarn:          "You will no longer be able to sign in with it.",
	RemoveLast:          "This is your last second factor, and your account needs one. Add another first.",
	RemoveNothing:       "There is nothing to remove.",
	EmailImplicitRemove: "Email codes follow your account's email address and cannot be turned off here.",

	NotificationsTitle: "Security emails",
	NotificationsIntro: "We email you when:",

	DisableLink:       "Turn off two-step verification",
	DisableTitle:      "Turn off two-step verification?",
	DisableWarn:       "Every method below, your backup codes and your trusted devices will be removed. You will sign in with your password alone until you set up a method again.",
	DisableButton:     "Turn off",
	DisableRequired:   "Your account needs two-step verification: it cannot be turned off.",
	DisableEmailStays: "Email codes stay on while your account has an email address: they follow it, and are not removed here.",
	DisableStays:      "%s stays on: it follows your account, and is not removed here.",

	Saved: map[string]string{
		savedTOTP:       "Your authenticator app is set up.",
		savedPhone:      "Your phone number is confirmed.",
		savedEmail:      "Email codes are on.",
		savedKey:        "Security key added.",
		savedRenamed:    "Security key renamed.",
		savedRemoved:    "Removed.",
		savedRevoked:    "Device revoked.",
		savedRevokedAll: "Every device was revoked.",
		savedDisabled:   "Two-step verification is off.",
		savedCodes:      "Backup codes saved. Keep them somewhere safe: each one works once.",
	},

	StatusOn:      "Two-step verification is on",
	StatusOff:     "Two-step verification is off",
	Since:         "Since %s",
	OffIntro:      "Add a second step, so that your password alone is not enough to sign in to your account.",
	SetUpFirst:    "Set up a method",
	MethodsTitle:  "Ways to confirm it's you",
	RecoveryTitle: "Recovery options",
	Count:         "%d set up",
	KeysCount:     "%d keys",
	DevicesOne:    "1 trusted device",
	DevicesMany:   "%d trusted devices",

	BackupAccount: "Account: %s",
	BackupMade:    "Generated %s",

	TOTPTap:     "On this phone? Tap the QR code, or the button below, to add the account to your authenticator app.",
	TOTPOpenApp: "Open authenticator app",

	KeySave: "Save name",
}

// Keys of SettingsStrings.Saved, the notices after a change: the routes
// of the built-in UIs' pages, and the other changes.
const (
	savedTOTP       = "totp"
	savedPhone      = "phone"
	savedEmail      = "email"
	savedKey        = "keys"
	savedRenamed    = "renamed"
	savedRemoved    = "removed"
	savedRevoked    = "revoked"
	savedRevokedAll = "revoked_all"
	savedDisabled   = "disabled"
	savedCodes      = "codes" // "I saved my codes"
)

// AdminStrings is the text of the administrator pages, part of [Strings].
type AdminStrings struct {
	Title        string // the user lookup page's title
	Lookup       string // the user id input's label
	LookupButton string // its button
	UnknownUser  string // no such user
	UserTitle    string // "Two-step verification of %s" (the person's name, else the account name)
	Factors      string // heading of the user's factors
	NoFactors    string // the user has none
	Devices      string // heading of the user's trusted devices
	NoDevices    string // none
	Lockout      string // heading of the lockout state
	NotLocked    string // "No wrong codes in a row." / or the count
	Failures     string // "%d wrong codes in a row."
	// LockedUntil is no longer shown: a lockout is LockedAfter and Lifts.
	// A table may leave it empty.
	LockedUntil string
	Unlock      string // the unlock button
	// RevokeDevice and RevokeAllDevices are the buttons that end the
	// trust of one of the user's devices, or of all of them.
	RevokeDevice, RevokeAllDevices string
	DeviceNotFound                 string // the device is not the user's, or no longer trusted
	Reset                          string // heading and button of the reset
	ResetWarn                      string // what a reset does
	Reason                         string // the reason input's label
	ReasonMissing                  string // no reason given
	IdentityCheck                  string // the identity-check checkbox's label
	IdentityMissing                string // the box was not ticked
	Recovery                       string // heading and button of the recovery code
	RecoveryNote                   string // what a recovery code is
	RecoveryTitle                  string // the page showing the code once
	RecoveryShown                  string // "Give this code to the user ... valid until %s."
	RecoveryNone                   string // no backup-code factor configured
	Policy                         string // the policy page's title and link
	PolicyFixed                    string // the policy is the configuration given at start
	Allowed                        string // allowed methods
	AllMethods                     string // every configured method is allowed
	Required                       string // "Every user must have a second factor: %s" yes/no
	Yes, No                        string
	DefaultMethod                  string // the default method
	NoDefault                      string // none set
	Mandatory                      string // methods every user must have
	NoMandatory                    string // none
	TrustDuration                  string // how long a device stays trusted
	TrustChoices                   string // the usual durations, listed as plain text: the page changes nothing
	Current                        string // marks the configured duration among them: "current"
	TrustOff                       string // devices are never trusted
	SessionOnly                    string // trust until the browser closes
	Gaps                           string // users who cannot comply
	NoGaps                         string // every user complies
	GapNoFactor                    string // the user has no second factor
	GapMissing                     string // "Missing: %s" (methods)
	NoPhone                        string // heading: users without a phone number, when the policy requires one
	NoUserList                     string // the host gave no user list
	Back                           string // back to the lookup page
	Forbidden                      string // the request names no administrator
	// LockedAfter says a lockout and the wrong answers in a row that led
	// to it: "Locked out after %d wrong codes".
	LockedAfter string
	// Lifts says when a lockout lifts by itself, as a time and a wait:
	// "lifts at %s, in %s" ("12:55 UTC", "14 minutes").
	Lifts string
	// Time is the Go layout of a time of today, in UTC ("15:04 MST"); a
	// time on another day is shown with Settings.DateTime.
	Time string
	// ClearFailures is the unlock button when the user has wrong answers
	// in a row but is not locked out: it sets the count back to zero.
	ClearFailures string
	// BackTo is the link from a recovery code to the user's page: "Back
	// to %s" (the person's name, else the account name).
	BackTo string
	// Done are the notices after a change, by the key in ?done=.
	Done map[string]string

	// The policy of each user (Config.Policies and PolicyFor).
	UserPolicy   string // the user page's label of the user's policy
	DefaultRule  string // the name of Config.Policy among the named ones: "default"
	RuleRequired string // a policy that requires a second factor
	RuleOptional string // a policy that does not
	RuleMethods  string // "Allowed: %s" (the methods' names)
	Rules        string // heading of the named policies
	RulesIntro   string // how the application picks a user's policy
	GraceUntil   string // "In a grace period until %s." (a date): prompted at each sign-in, may skip
	GraceSkips   string // "Skips left: %d."
	GraceRule    string // "Grace: %s." (a grace's limits in words)
	GraceDays    string // "%d days from the first prompt"
	GraceDate    string // "until %s" (a date)
	GraceMax     string // "%d skips"
}

var defaultAdminStrings = AdminStrings{
	Title:            "Two-step verification: support",
	Lookup:           "User ID",
	LookupButton:     "Look up",
	UnknownUser:      "No user with that ID.",
	UserTitle:        "Two-step verification of %s",
	Factors:          "Methods",
	NoFactors:        "No second factor.",
	Devices:          "Trusted devices",
	NoDevices:        "No trusted device.",
	Lockout:          "Wrong codes",
	NotLocked:        "Not locked out.",
	Failures:         "%d wrong codes in a row.",
	LockedUntil:      "Locked out until %s.",
	LockedAfter:      "Locked out after %d wrong codes",
	Lifts:            "lifts at %s, in %s",
	Time:             "15:04 MST",
	ClearFailures:    "Clear the count",
	BackTo:           "Back to %s",
	Unlock:           "Unlock",
	RevokeDevice:     "Revoke",
	RevokeAllDevices: "Revoke all devices",
	DeviceNotFound:   "That device is not one of this user's, or is no longer trusted.",
	Reset:            "Reset two-step verification",
	ResetWarn:        "Removes every method, backup code and trusted device of this user, ends their pending sign-ins and lifts a lockout. They sign in with their password alone until they set up a method again. The reset is recorded with your name and the reason.",
	Reason:           "Reason",
	ReasonMissing:    "Give the reason for the reset.",
	IdentityCheck:    "I checked this person's identity by other means (an ID document, a call to a known number).",
	IdentityMissing:  "Confirm that you checked the person's identity.",
	Recovery:         "Issue a recovery code",
	RecoveryNote:     "A one-time code the user types where a backup code goes. It replaces any earlier recovery code.",
	RecoveryTitle:    "Recovery code",
	RecoveryShown:    "Give this code to the user by a channel you trust. It works once, until %s, and is not shown again.",
	RecoveryNone:     "Recovery codes need the backup-code method.",
	Policy:           "Policy",
	PolicyFixed:      "The policy is the configuration the application was started with: change it there and restart. This page shows it, and the users who cannot comply with it.",
	Allowed:          "Allowed methods",
	AllMethods:       "Every configured method.",
	Required:         "Second factor required",
	Yes:              "Yes",
	No:               "No",
	DefaultMethod:    "Default method",
	NoDefault:        "None set.",
	Mandatory:        "Methods every user must have",
	NoMandatory:      "None.",
	TrustDuration:    "Trusted devices",
	TrustChoices:     "Usual durations",
	Current:          "current",
	TrustOff:         "Devices are never trusted.",
	SessionOnly:      "Session only",
	Gaps:             "Users who cannot comply",
	NoGaps:           "Every user complies.",
	GapNoFactor:      "No second factor",
	UserPolicy:       "Policy",
	DefaultRule:      "default",
	RuleRequired:     "Two-step verification required.",
	RuleOptional:     "Two-step verification optional.",
	RuleMethods:      "Allowed: %s.",
	Rules:            "Policies by user",
	RulesIntro:       "The application picks each user's policy from what it knows of them (a role, a group, a tenant) at every request; users it picks none for follow the policy above.",
	GraceUntil:       "In a grace period until %s: asked to set up two-step verification at each sign-in, and may skip.",
	GraceSkips:       "Skips left: %d.",
	GraceRule:        "Grace: %s.",
	GraceDays:        "%d days from the first prompt",
	GraceDate:        "until %s",
	GraceMax:         "%d skips",
	GapMissing:       "Missing: %s",
	NoPhone:          "Users without a phone number",
	NoUserList:       "The application gives no user list to check.",
	Back:             "Back to support",
	Forbidden:        "You are not allowed to do this.",
	Done: map[string]string{
		"reset":         "Two-step verification was reset.",
		"unlocked":      "The lockout was lifted.",
		adminRevoked:    "The device was revoked.",
		adminRevokedAll: "Every trusted device of this user was revoked.",
	},
}

func (s AdminStrings) clone() AdminStrings {
	s.Done = maps.Clone(s.Done)
	return s
}

// withPageDefaults returns s with the default settings and administrator
// strings when it has none (a table written before those pages existed),
// leaving s itself as it is.
func withPageDefaults(s *Strings) *Strings {
	if s.Settings.Title != "" && s.Admin.Title != "" && s.Settings.DisableTitle != "" && s.Admin.RevokeDevice != "" &&
		s.Settings.SetUpDone != "" && s.UnknownUser != "" && s.Settings.RevokeAllTitle != "" && s.Admin.LockedAfter != "" &&
		s.Settings.StatusOn != "" && s.Settings.PhoneHeld != "" && s.Settings.NameTooLong != "" && s.Admin.UserPolicy != "" {
		return s
	}
	c := *s
	if c.Settings.Title == "" {
		c.Settings = defaultSettingsStrings.clone()
	}
	if c.Admin.Title == "" {
		c.Admin = defaultAdminStrings.clone()
	}
	// A table written before turning two-step verification off and the
	// administrator's device revocation existed gets their defaults.
	if st, d := &c.Settings, &defaultSettingsStrings; st.DisableTitle == "" {
		st.DisableLink, st.DisableTitle, st.DisableWarn = d.DisableLink, d.DisableTitle, d.DisableWarn
		st.DisableButton, st.DisableRequired, st.DisableEmailStays = d.DisableButton, d.DisableRequired, d.DisableEmailStays
	}
	if st, d := &c.Settings, &defaultSettingsStrings; st.SetUpDone == "" {
		st.SetUpDone, st.QRAlt, st.SetUpSecret, st.DisableStays = d.SetUpDone, d.QRAlt, d.SetUpSecret, d.DisableStays
	}
	if st, d := &c.Settings, &defaultSettingsStrings; st.NotificationsTitle == "" {
		st.NotificationsTitle, st.NotificationsIntro = d.NotificationsTitle, d.NotificationsIntro
	}
	if st, d := &c.Settings, &defaultSettingsStrings; st.RevokeAllTitle == "" {
		st.RevokeAllTitle, st.RevokeAllWarn = d.RevokeAllTitle, d.RevokeAllWarn
	}
	if c.UnknownUser == "" {
		c.UnknownUser = defaultStrings.UnknownUser
	}
	if ad, d := &c.Admin, &defaultAdminStrings; ad.RevokeDevice == "" {
		ad.RevokeDevice, ad.RevokeAllDevices, ad.DeviceNotFound = d.RevokeDevice, d.RevokeAllDevices, d.DeviceNotFound
	}
	// A table written before the lockout's count and end were shown gets
	// their defaults.
	if ad, d := &c.Admin, &defaultAdminStrings; ad.LockedAfter == "" {
		ad.LockedAfter, ad.Lifts, ad.Time, ad.ClearFailures, ad.BackTo = d.LockedAfter, d.Lifts, d.Time, d.ClearFailures, d.BackTo
	}
	// A table written before the overview's status line, the header of
	// new backup codes and the set-up on a phone gets their defaults.
	if st, d := &c.Settings, &defaultSettingsStrings; st.StatusOn == "" {
		st.StatusOn, st.StatusOff, st.Since, st.OffIntro, st.SetUpFirst = d.StatusOn, d.StatusOff, d.Since, d.OffIntro, d.SetUpFirst
		st.MethodsTitle, st.RecoveryTitle, st.Count, st.KeysCount = d.MethodsTitle, d.RecoveryTitle, d.Count, d.KeysCount
		st.DevicesOne, st.DevicesMany, st.BackupAccount, st.BackupMade = d.DevicesOne, d.DevicesMany, d.BackupAccount, d.BackupMade
		st.TOTPTap, st.TOTPOpenApp, st.KeySave = d.TOTPTap, d.TOTPOpenApp, d.KeySave
		if _, ok := st.Saved[savedCodes]; !ok {
			st.Saved = maps.Clone(st.Saved)
			if st.Saved == nil {
				st.Saved = map[string]string{}
			}
			st.Saved[savedCodes] = d.Saved[savedCodes]
		}
	}
	// A table written before policies by user and enrollment graces gets
	// their defaults.
	if ad, d := &c.Admin, &defaultAdminStrings; ad.UserPolicy == "" {
		ad.UserPolicy, ad.DefaultRule, ad.RuleRequired, ad.RuleOptional, ad.RuleMethods = d.UserPolicy, d.DefaultRule, d.RuleRequired, d.RuleOptional, d.RuleMethods
		ad.Rules, ad.RulesIntro, ad.GraceUntil, ad.GraceSkips, ad.GraceRule = d.Rules, d.RulesIntro, d.GraceUntil, d.GraceSkips, d.GraceRule
		ad.GraceDays, ad.GraceDate, ad.GraceMax = d.GraceDays, d.GraceDate, d.GraceMax
	}
	if st := &c.Settings; st.PhoneHeld == "" {
		st.PhoneHeld = defaultSettingsStrings.PhoneHeld
	}
	if st := &c.Settings; st.NameTooLong == "" {
		st.NameTooLong = defaultSettingsStrings.NameTooLong
	}
	return &c
}

func (s SettingsStrings) clone() SettingsStrings {
	s.Apps = slices.Clone(s.Apps)
	s.Saved = maps.Clone(s.Saved)
	s.Regions = maps.Clone(s.Regions)
	return s
}

// check reports a settings or admin field that lost its verb.
func (s *Strings) checkSettings() error {
	st, ad := &s.Settings, &s.Admin
	for name, f := range map[string]string{
		"Settings.Added": st.Added, "Settings.LastUsed": st.LastUsed, "Settings.Default": st.Default,
		"Settings.TOTPExpires": st.TOTPExpires, "Settings.PhoneOn": st.PhoneOn, "Settings.PhoneHeld": st.PhoneHeld, "Settings.PhoneInvalid": st.PhoneInvalid,
		"Settings.KeyNewName": st.KeyNewName, "Settings.EmailOn": st.EmailOn, "Settings.Network": st.Network,
		"Settings.Expires": st.Expires, "Settings.LastSeen": st.LastSeen, "Settings.RemoveTitle": st.RemoveTitle,
		"Admin.UserTitle": ad.UserTitle, "Admin.RecoveryShown": ad.RecoveryShown, "Admin.BackTo": ad.BackTo,
		"Admin.GapMissing": ad.GapMissing, "Settings.SetUpDone": st.SetUpDone, "Settings.DisableStays": st.DisableStays,
		"Settings.Since": st.Since, "Settings.BackupAccount": st.BackupAccount, "Settings.BackupMade": st.BackupMade,
	} {
		if strings.Count(f, "%s") != 1 || strings.Count(f, "%") != 1 {
			return configErr("Strings.%s %q must hold exactly one %%s", name, f)
		}
	}
	if strings.Count(ad.Lifts, "%s") != 2 || strings.Count(ad.Lifts, "%") != 2 {
		return configErr("Strings.Admin.Lifts %q must hold exactly two %%s", ad.Lifts)
	}
	for name, f := range map[string]string{"Settings.BackupLeft": st.BackupLeft, "Admin.Failures": ad.Failures, "Admin.LockedAfter": ad.LockedAfter,
		"Settings.Count": st.Count, "Settings.KeysCount": st.KeysCount, "Settings.DevicesMany": st.DevicesMany,
		"Settings.NameTooLong": st.NameTooLong} {
		if strings.Count(f, "%d") != 1 || strings.Count(f, "%") != 1 {
			return configErr("Strings.%s %q must hold exactly one %%d", name, f)
		}
	}
	return nil
}
