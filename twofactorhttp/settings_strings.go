package twofactorhttp

import "github.com/twofactorkit/twofactor/i18n"

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
	TOTPTitle     string   // its page's title
	TOTPIntro     string   // before set-up
	TOTPOn        string   // set up: how sign-in uses it
	TOTPScan      string   // above the QR code
	TOTPQRAlt     string   // the QR code's alternative text
	TOTPManual    string   // above the secret
	TOTPSecret    string   // the secret's label
	TOTPCopy      string   // the copy button
	TOTPCopied    string   // announced once copied
	TOTPApps      string   // any RFC 6238 app works; the list follows
	Apps          []string `i18n:"-"`
	TOTPEnterCode string   // the code step's prompt
	TOTPCodeLabel string   // the code input's label
	TOTPBackToQR  string   // from the code step back to the QR code
	TOTPExpires   string   // "Finish before %s, or start again." (the time the set-up expires)

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
	KeysTitle    string      // its page's title
	KeysIntro    string      // what a security key is
	KeysNone     string      // no key yet
	KeyName      string      // the name input's label
	KeyNameHint  string      // below it
	KeyAdd       string      // the button that runs the browser's ceremony
	KeyRename    string      // the button that opens an enrollment's rename form
	KeyNewName   string      // the rename input's label ("New name for %s")
	NameTooLong  i18n.Plural // a set-up's name over the bound: "%d" is the most characters
	KeysNoScript string      // adding a key needs JavaScript
	// Passkeys: security keys that sign in on their own.
	PasskeyAdd    string // the button that creates a passkey
	PasskeyIntro  string // what a passkey is, above it
	PasskeySynced string // a passkey synced across the user's devices
	PasskeyDevice string // a passkey kept on one device

	// Email codes.
	EmailTitle     string // its page's title
	EmailOn        string // "Codes are emailed to %s." (the masked address)
	EmailImplicit  string // they follow the account's address
	EmailOff       string // not on
	EmailNoAddress string // the account has no address
	EmailTurnOn    string // sends a code to the account's address
	EmailCodeLabel string // the code input's label

	// Backup codes.
	BackupTitle      string      // its page's title
	BackupIntro      string      // what they are
	BackupLeft       i18n.Plural // "%d backup codes left."
	BackupNone       string      // no set
	BackupLow        string      // two or fewer left: make a new set
	BackupGenerate   string      // makes a first set
	BackupRegenerate string      // makes a new set (step-up)
	BackupRegenNote  string      // the old set stops working
	BackupShownTitle string      // the page that shows a set once
	BackupShownIntro string      // save them now: they are shown once
	BackupDownload   string      // download as .txt
	BackupPrint      string      // print
	BackupDone       string      // leave the page: "I saved them"
	BackupGone       string      // the download after it expired
	BackupFileHead   string      // first line of the .txt file

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

	// Regions overrides the country picker's names, by region code
	// ("US"). Nil keeps the names of the page's language: RegionNames in
	// English, the Unicode CLDR's names (golang.org/x/text) in others.
	Regions map[string]string `i18n:"-"`

	// The overview's status line and rows.
	StatusOn      string      // two-step verification is on
	StatusOff     string      // it is off
	Since         string      // "Since %s" (a date): when the first method still set up was added
	OffIntro      string      // below StatusOff: why to turn it on
	SetUpFirst    string      // the main action when it is off: "Set up a method"
	MethodsTitle  string      // heading of the methods
	RecoveryTitle string      // heading of the recovery options (backup codes, trusted devices)
	Count         i18n.Plural // "%d set up": a method with more than one enrollment
	KeysCount     i18n.Plural // "%d keys": more than one security key
	Devices       i18n.Plural // "%d trusted devices"

	// A new set of backup codes, on its page, printed and downloaded.
	// Product is the product's name above the codes; empty: the
	// authenticator app's issuer (totp.Config.Issuer), when one is set.
	Product       string `i18n:"-"`
	BackupAccount string // "Account: %s" (the account's name)
	BackupMade    string // "Generated %s" (a date and time)

	// The authenticator app's set-up on a phone, where the QR code is a
	// link that opens the app.
	TOTPTap     string // says so, on a small screen
	TOTPOpenApp string // the button that opens the app

	KeySave string // the rename form's button
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
	Title        string      // the user lookup page's title
	Lookup       string      // the user id input's label
	LookupButton string      // its button
	UnknownUser  string      // no such user
	UserTitle    string      // "Two-step verification of %s" (the person's name, else the account name)
	Factors      string      // heading of the user's factors
	NoFactors    string      // the user has none
	Devices      string      // heading of the user's trusted devices
	NoDevices    string      // none
	Lockout      string      // heading of the lockout state
	NotLocked    string      // no lockout and no wrong codes in a row: "Not locked out."
	Failures     i18n.Plural // "%d wrong codes in a row."
	Unlock       string      // the unlock button
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
	RecoveryShown                  string // "Give this code to the user ... It works once, until %s, ..." (its expiry)
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
	TrustDuration                  string // heading of how long a device stays trusted: "Trust duration"
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
	LockedAfter i18n.Plural
	// Lifts says when a lockout lifts by itself, as a time and a wait:
	// "lifts at %s, %s" ("12:55 UTC", "in 14 minutes").
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
	UserPolicy   string      // the user page's label of the user's policy
	DefaultRule  string      // the name of Config.Policy among the named ones: "default"
	RuleRequired string      // a policy that requires a second factor
	RuleOptional string      // a policy that does not
	RuleMethods  string      // "Allowed: %s" (the methods' names)
	Rules        string      // heading of the named policies
	RulesIntro   string      // how the application picks a user's policy
	GraceUntil   string      // "In a grace period until %s." (a date): prompted at each sign-in, may skip
	GraceSkips   string      // "Skips left: %d."
	GraceRule    string      // "Grace: %s." (a grace's limits in words)
	GraceDays    i18n.Plural // "%d days from the first prompt"
	GraceDate    string      // "until %s" (a date)
	GraceMax     i18n.Plural // "%d skips"
}
