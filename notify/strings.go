package notify

import (
	"fmt"
	"maps"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// Strings is every text the messages show: one KindText per kind, the
// lines that state the facts, the greeting and the footer. Translate by
// copying DefaultStrings and replacing fields, as with the pages'
// twofactorhttp.Strings. Fields with a verb take one argument, as their
// default shows; New checks that each has its verb.
type Strings struct {
	Lang string // the HTML part's lang attribute: "en"

	Greeting       string // "Hello %s," (twofactor.User.DisplayName)
	GreetingNoName string // the greeting when the user has no display name

	// Kinds are each kind's texts. A kind missing here takes its default.
	Kinds map[Kind]KindText

	// Methods name the methods in messages ("a method added": which one).
	// A method missing here (a host's own factor) uses Method.Label.
	Methods map[twofactor.Method]string

	// Fact lines, each with one verb.
	When      string // "When: %s" (the time, in TimeFormat and Config.Location)
	Network   string // "Network: %s" (the client's address, and its place when Config.Locate names one)
	Browser   string // "Browser: %s" ("Firefox on Linux")
	Device    string // "Device: %s" (a trusted device's label)
	Method    string // "Method: %s" (the method's name, and its masked label)
	By        string // "By: %s" (the administrator)
	Until     string // "Until: %s" (a lockout's end, a trust's or a recovery code's expiry)
	Remaining string // "Backup codes left: %d"
	Attempts  string // "Wrong answers: %d" (of the attempt this message is about)
	Folded    string // "%d more attempts since our previous message."

	Unknown    string // a fact nobody knows: "unknown"
	TimeFormat string // a time.Format layout: "2 January 2006, 15:04 MST"

	// Links, shown with the URL from Config.Links.
	LinkSecurity string // "Review your security settings"
	LinkDevices  string // "Review your trusted devices"
	LinkPassword string // "Change your password"

	Footer string // last line of every message
}

// KindText is how the messages present one kind.
type KindText struct {
	// Name is the kind's name for a settings page: "Someone with your
	// password failed the second step".
	Name string
	// Subject says what happened, without any code or secret: the subject
	// template puts the product name before it.
	Subject string
	// Intro is the message's first sentence. For MethodAdded and
	// MethodRemoved it holds one %s, the method ("Text message
	// (+1 *** *** **12)").
	Intro string
	// Advice says what to do if it was not the user.
	Advice string
}

var defaultKinds = map[Kind]KindText{
	TurnedOn: {
		Name:    "Two-step verification turned on",
		Subject: "Two-step verification was turned on",
		Intro:   "Two-step verification was turned on for your account: signing in now needs a second step after your password.",
		Advice:  "If you did not do this, someone else may be signed in as you: change your password and contact us.",
	},
	TurnedOff: {
		Name:    "Two-step verification turned off",
		Subject: "Two-step verification was turned off",
		Intro:   "Two-step verification was turned off for your account: your password alone now signs you in.",
		Advice:  "If you did not do this, change your password now and turn two-step verification on again.",
	},
	MethodAdded: {
		Name:    "A sign-in method added",
		Subject: "A way to verify your sign-ins was added",
		Intro:   "A way to verify your sign-ins was added to your account: %s.",
		Advice:  "If you did not add it, remove it from your security settings and change your password.",
	},
	MethodRemoved: {
		Name:    "A sign-in method removed",
		Subject: "A way to verify your sign-ins was removed",
		Intro:   "A way to verify your sign-ins was removed from your account: %s.",
		Advice:  "If you did not remove it, change your password and check your security settings.",
	},
	BackupCodesRegenerated: {
		Name:    "New backup codes",
		Subject: "New backup codes were created",
		Intro:   "A new set of backup codes was created for your account. The old codes no longer work.",
		Advice:  "If you did not do this, change your password and create a new set yourself.",
	},
	BackupCodesLow: {
		Name:    "Few backup codes left",
		Subject: "You are running out of backup codes",
		Intro:   "A backup code was just used to sign in, and few are left.",
		Advice:  "Create a new set in your security settings before you run out. If you did not sign in, change your password.",
	},
	DeviceTrusted: {
		Name:    "A device trusted",
		Subject: "A device was trusted to skip the second step",
		Intro:   "A browser was trusted to sign in to your account without the second step.",
		Advice:  "If this was not you, revoke the device and change your password.",
	},
	AdminReset: {
		Name:    "Reset by an administrator",
		Subject: "An administrator reset your two-step verification",
		Intro:   "An administrator removed every way to verify your sign-ins, and every trusted device, from your account.",
		Advice:  "If you did not ask us for this, contact us and change your password.",
	},
	RecoveryCodeIssued: {
		Name:    "Recovery code issued by an administrator",
		Subject: "An administrator issued a recovery code for your account",
		Intro:   "An administrator issued a one-time recovery code that signs in to your account in place of the second step.",
		Advice:  "If you did not ask us for this, contact us and change your password.",
	},
	Lockout: {
		Name:    "Sign-in locked after wrong codes",
		Subject: "Sign-in to your account is locked for a while",
		Intro:   "Too many wrong codes were entered after your password, so signing in is locked for a while.",
		Advice:  "Whoever entered them knows your password. If it was not you, change your password.",
	},
	FailedSecondStep: {
		Name:    "Someone with your password failed the second step",
		Subject: "Someone signed in with your password but did not pass the second step",
		Intro:   "Someone signed in with your password but did not pass the second step.",
		Advice:  "If this was not you, change your password: someone else knows it.",
	},
}

var defaultStrings = Strings{
	Lang:           "en",
	Greeting:       "Hello %s,",
	GreetingNoName: "Hello,",
	Methods: map[twofactor.Method]string{
		twofactor.MethodTOTP:       "Authenticator app",
		twofactor.MethodEmail:      "Email",
		twofactor.MethodSMS:        "Text message",
		twofactor.MethodBackupCode: "Backup codes",
		twofactor.MethodWebAuthn:   "Security key",
	},
	When:         "When: %s",
	Network:      "Network: %s",
	Browser:      "Browser: %s",
	Device:       "Device: %s",
	Method:       "Method: %s",
	By:           "By: %s",
	Until:        "Until: %s",
	Remaining:    "Backup codes left: %d",
	Attempts:     "Wrong answers: %d",
	Folded:       "%d more attempts since our previous message.",
	Unknown:      "unknown",
	TimeFormat:   "2 January 2006, 15:04 MST",
	LinkSecurity: "Review your security settings",
	LinkDevices:  "Review your trusted devices",
	LinkPassword: "Change your password",
	Footer:       "This is an automatic security notice about your account.",
}

// DefaultStrings returns a copy of the English strings.
func DefaultStrings() *Strings {
	s := defaultStrings
	s.Kinds = maps.Clone(defaultKinds)
	s.Methods = maps.Clone(defaultStrings.Methods)
	return &s
}

// check reports a field that lost its verb or is empty.
func (s *Strings) check() error {
	for name, f := range map[string]string{
		"Greeting": s.Greeting, "When": s.When, "Network": s.Network, "Browser": s.Browser,
		"Device": s.Device, "Method": s.Method, "By": s.By, "Until": s.Until,
	} {
		if strings.Count(f, "%s") != 1 || strings.Count(f, "%") != 1 {
			return configErr("Strings.%s %q must hold exactly one %%s", name, f)
		}
	}
	for name, f := range map[string]string{"Remaining": s.Remaining, "Attempts": s.Attempts, "Folded": s.Folded} {
		if strings.Count(f, "%d") != 1 || strings.Count(f, "%") != 1 {
			return configErr("Strings.%s %q must hold exactly one %%d", name, f)
		}
	}
	for name, f := range map[string]string{
		"GreetingNoName": s.GreetingNoName, "Unknown": s.Unknown, "TimeFormat": s.TimeFormat,
		"LinkSecurity": s.LinkSecurity, "LinkDevices": s.LinkDevices, "LinkPassword": s.LinkPassword,
	} {
		if strings.TrimSpace(f) == "" {
			return configErr("Strings.%s is empty", name)
		}
	}
	for k, t := range s.Kinds {
		if !k.valid() {
			return configErr("Strings.Kinds has %q, which is not a kind", k)
		}
		if err := t.check(k); err != nil {
			return err
		}
	}
	return nil
}

func (t KindText) check(k Kind) error {
	for name, f := range map[string]string{"Name": t.Name, "Subject": t.Subject, "Intro": t.Intro, "Advice": t.Advice} {
		if strings.TrimSpace(f) == "" {
			return configErr("Strings.Kinds[%s].%s is empty", k, name)
		}
	}
	if strings.ContainsAny(t.Subject, "\r\n") {
		return configErr("Strings.Kinds[%s].Subject must be one line", k)
	}
	if k == MethodAdded || k == MethodRemoved {
		if strings.Count(t.Intro, "%s") != 1 || strings.Count(t.Intro, "%") != 1 {
			return configErr("Strings.Kinds[%s].Intro %q must hold exactly one %%s", k, t.Intro)
		}
	}
	return nil
}

// kind returns the texts of k: the table's, else the default.
func (s *Strings) kind(k Kind) KindText {
	if t, ok := s.Kinds[k]; ok {
		return t
	}
	return defaultKinds[k]
}

// method returns the name of m.
func (s *Strings) method(m twofactor.Method) string {
	if n := s.Methods[m]; n != "" {
		return n
	}
	return m.Label()
}

func (s *Strings) fact(format string, arg any) string { return fmt.Sprintf(format, arg) }
