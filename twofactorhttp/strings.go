package twofactorhttp

import (
	"cmp"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor"
)

// Strings is every text the layer shows or sends: page text, error
// messages (in pages and in JSON answers alike) and the words for
// durations. Translate by copying DefaultStrings and replacing fields.
// Fields with a verb take one argument, as their default shows; New
// checks that each has its verb.
type Strings struct {
	Lang string // the pages' lang attribute: "en"

	TitleLogin   string // page title of a sign-in challenge
	TitleStepUp  string // page title of a step-up challenge
	IntroLogin   string // first paragraph of a sign-in challenge
	IntroStepUp  string // first paragraph of a step-up challenge
	Verify       string // the code form's submit button
	SendCode     string // the button that sends a first code
	Resend       string // the button that sends a new code
	Sent         string // a code was sent, to a destination the factor did not name
	SentTo       string // "We sent a code to %s." (the masked destination)
	ResendIn     string // "You can ask for a new code in %s." (a duration in words)
	Countdown    string // the same, updated each second by the script: "{s}" is the seconds left
	ResendReload string // without scripts, after ResendIn: the button comes back on a reload
	OtherMethods string // heading of the links to the other methods
	UseBackup    string // link to the backup-code form
	TrustFor     string // "Trust this device for %s" (a duration in words)
	TrustSession string // trust until the browser closes
	Cancel       string // ends the challenge
	Continue     string // the step-up interstitial's button
	SignInAgain  string // link to the login page once a challenge ended
	NoScript     string // shown by the security-key method when scripts are off

	// The lockout page: too many wrong answers in a row lock every
	// method of the user (backup codes included) for a while. Locked,
	// below, is its first line.
	TitleLocked  string // its title
	LockedFor    string // "For your security, you can't verify for %s." (the wait in words), its first line
	LockedAt     string // "You can try again at %s." (the clock time the lockout lifts)
	LockedAll    string // says that no method, backup codes included, works until then
	LockedNotYou string // on a sign-in: what to do when it was not them
	BackToSignIn string // the button that ends the sign-in and goes back to the login page
	GoBack       string // the button that ends a step-up and goes back to the page the user was on
	// ClockTime is the time.Format layout of LockedAt's clock time, in
	// UTC; the script rewrites it in the browser's time zone.
	ClockTime string

	// Methods are each method's name, prompt and input label. A method
	// missing here (a host's own factor) uses Method.Label and Prompt.
	// An Input may hold one %d, the code's length when the method knows
	// it ("%d-digit code from your authenticator app").
	Methods map[twofactor.Method]MethodText
	Prompt  string // prompt of a method missing from Methods
	Input   string // input label of a method missing from Methods

	// Error messages, for pages and the "message" of JSON errors.
	InvalidCode      string // a wrong, expired or malformed code: one message for all
	KeyRejected      string // a security key that did not verify
	ResendWait       string // "%s" until a new code may be sent (a cooldown)
	SendCap          string // "%s" until codes may be sent again (a cap on sends)
	RateLimited      string // "%s" until answers are accepted again (a cap on answers)
	Locked           string // "%s" until the lockout ends
	ChallengeEnded   string // the challenge expired, was cancelled or completed
	TooManyAttempts  string // the challenge used up its answers
	MethodNotOffered string // a method the challenge does not offer
	NotEnrolled      string // step-up for a user with no second factor
	CrossOrigin      string // a cross-origin request refused
	BadRequest       string // a request that does not parse
	NotFound         string // no such route
	MethodNotAllowed string // wrong HTTP method
	Internal         string // anything that went wrong on the server
	StepUpRequired   string // the step-up middleware's message
	EnrollRequired   string // the enforcement middleware's message
	SignedOut        string // a route that needs a signed-in user
	UnknownUser      string // the signed-in user's id names no user the Service knows
	AlreadyEnrolled  string // adding a security key that is registered already
	// NoPendingEnrollment: confirming an enrollment that was never begun
	// or has expired.
	NoPendingEnrollment string
	// TitleVetoed and Vetoed: the code was right but the host's veto
	// refused the sign-in.
	TitleVetoed string
	Vetoed      string
	// NoQualifyingMethod: a step-up asks for a security key or passkey
	// and the user has none; AddSecurityKey is the link to add one.
	NoQualifyingMethod string
	AddSecurityKey     string
	// NoIndependentFactor: every second factor of the user is on the
	// channel they signed in with.
	NoIndependentFactor string

	// The enrollment prompt, shown at sign-in to a user whose policy
	// requires a second factor while its grace lasts.
	TitleEnrollPrompt string // its title
	PromptReason      string // why it asks
	PromptLeft        string // "You have %s left to set up two-step verification." (the time left in words)
	PromptSkipOne     string // one skip is left
	PromptSkips       string // "You can skip this %d more times." (the skips left)
	SetUpNow          string // the link to the enrollment page
	SkipForNow        string // the button that skips

	// Durations in words, each with a %d: "1 second", "%d seconds"...
	Second, Seconds string
	Minute, Minutes string
	Hour, Hours     string
	Day, Days       string
	Week, Weeks     string

	// Settings and Admin are the text of the settings and administrator
	// pages.
	Settings SettingsStrings
	Admin    AdminStrings
}

// MethodText is how the pages present one method.
type MethodText struct {
	Name   string // in links and headings: "Authenticator app"
	Prompt string // above the form: "Enter the code your authenticator app shows."
	// Input is the input's label ("Code from the email"); for a method
	// answered in the browser (a security key), the button's text ("Use
	// your security key").
	Input string
}

var defaultStrings = Strings{
	Lang:         "en",
	TitleLogin:   "Two-step verification",
	TitleStepUp:  "Confirm it's you",
	IntroLogin:   "Your account is protected with two-step verification.",
	IntroStepUp:  "To keep your account safe, confirm it's you before you continue.",
	Verify:       "Verify",
	SendCode:     "Send me a code",
	Resend:       "Send a new code",
	Sent:         "We sent you a code.",
	SentTo:       "We sent a code to %s.",
	ResendIn:     "You can ask for a new code in %s.",
	Countdown:    "You can ask for a new code in {s} s.",
	ResendReload: "Reload this page once the wait is over.",
	OtherMethods: "Other ways to verify",
	UseBackup:    "Use a backup code",
	TrustFor:     "Trust this device for %s",
	TrustSession: "Trust this device until I close the browser",
	Cancel:       "Cancel",
	Continue:     "Continue",
	SignInAgain:  "Sign in again",
	NoScript:     "Security keys need JavaScript. Turn it on, or choose another way to verify.",

	TitleLocked:  "Too many wrong codes",
	LockedFor:    "For your security, you can't verify for %s.",
	LockedAt:     "You can try again at %s.",
	LockedAll:    "Until then, no code is accepted, not even a backup code, and no new code can be sent.",
	LockedNotYou: "If you didn't just try to sign in, someone may know your password. Change it once you're back in.",
	BackToSignIn: "Back to sign in",
	GoBack:       "Go back",
	ClockTime:    "15:04 MST",
	Methods: map[twofactor.Method]MethodText{
		twofactor.MethodTOTP:       {Name: "Authenticator app", Prompt: "Open your authenticator app and enter the code it shows.", Input: "%d-digit code from your authenticator app"},
		twofactor.MethodEmail:      {Name: "Email", Prompt: "We email you a code.", Input: "Code from the email"},
		twofactor.MethodSMS:        {Name: "Text message", Prompt: "We text you a code.", Input: "Code from the text message"},
		twofactor.MethodBackupCode: {Name: "Backup code", Prompt: "Enter one of the backup codes you saved when you turned on two-step verification. Each works once.", Input: "Backup code"},
		twofactor.MethodWebAuthn:   {Name: "Security key", Prompt: "Use your security key or passkey.", Input: "Use your security key"},
	},
	Prompt: "Enter your code.",
	Input:  "Code",

	InvalidCode:      "That code didn't work. Check it and try again.",
	KeyRejected:      "The security key was not accepted. Try again.",
	ResendWait:       "You can ask for a new code in %s.",
	SendCap:          "Too many codes were sent. Try again in %s.",
	RateLimited:      "Too many attempts. Try again in %s.",
	Locked:           "Too many wrong codes. For your security, try again in %s.",
	ChallengeEnded:   "This sign-in has expired or ended. Please sign in again.",
	TooManyAttempts:  "Too many wrong codes for this sign-in. Please sign in again.",
	MethodNotOffered: "That way of verifying is not available here.",
	NotEnrolled:      "Your account has no second factor to confirm with.",
	CrossOrigin:      "This request came from another site and was refused.",
	BadRequest:       "The request could not be read.",
	NotFound:         "There is nothing here.",
	MethodNotAllowed: "This address does not accept that kind of request.",
	Internal:         "Something went wrong on our side. Please try again.",
	StepUpRequired:   "Confirm it's you to continue.",
	EnrollRequired:   "Set up two-step verification to continue.",
	SignedOut:        "Please sign in first.",
	UnknownUser:      "We could not find your account. Please sign in again.",
	AlreadyEnrolled:  "This security key is already registered.",

	NoPendingEnrollment: "This registration has expired. Please start again.",

	TitleVetoed:         "We couldn't verify this sign-in",
	Vetoed:              "We couldn't verify this sign-in, so it was stopped to protect your account. Please try again later, or contact support.",
	NoQualifyingMethod:  "This needs a security key or passkey, and your account has none yet. Add one, then try again.",
	AddSecurityKey:      "Set up a security key",
	NoIndependentFactor: "Your second step can't use the same email or phone you signed in with. Please sign in with your password instead.",

	TitleEnrollPrompt: "Set up two-step verification",
	PromptReason:      "Your account must have two-step verification: a code or a security key after your password.",
	PromptLeft:        "You have %s left to set up two-step verification.",
	PromptSkipOne:     "You can skip this once more.",
	PromptSkips:       "You can skip this %d more times.",
	SetUpNow:          "Set up now",
	SkipForNow:        "Skip for now",

	Second: "1 second", Seconds: "%d seconds",
	Minute: "1 minute", Minutes: "%d minutes",
	Hour: "1 hour", Hours: "%d hours",
	Day: "1 day", Days: "%d days",
	Week: "1 week", Weeks: "%d weeks",

	Settings: defaultSettingsStrings,
	Admin:    defaultAdminStrings,
}

// withFlowDefaults returns s with the default lockout-page and resend
// strings for those it lacks (a table written before they existed),
// leaving s itself as it is.
func withFlowDefaults(s *Strings) *Strings {
	d := &defaultStrings
	if s.TitleLocked != "" && s.LockedFor != "" && s.LockedAt != "" && s.LockedAll != "" && s.LockedNotYou != "" &&
		s.BackToSignIn != "" && s.GoBack != "" && s.ClockTime != "" && s.ResendReload != "" &&
		s.TitleEnrollPrompt != "" && s.PromptReason != "" && s.PromptLeft != "" && s.PromptSkipOne != "" && s.PromptSkips != "" &&
		s.SetUpNow != "" && s.SkipForNow != "" {
		return s
	}
	c := *s
	c.TitleLocked = cmp.Or(c.TitleLocked, d.TitleLocked)
	c.LockedFor = cmp.Or(c.LockedFor, d.LockedFor)
	c.LockedAt = cmp.Or(c.LockedAt, d.LockedAt)
	c.LockedAll = cmp.Or(c.LockedAll, d.LockedAll)
	c.LockedNotYou = cmp.Or(c.LockedNotYou, d.LockedNotYou)
	c.BackToSignIn = cmp.Or(c.BackToSignIn, d.BackToSignIn)
	c.GoBack = cmp.Or(c.GoBack, d.GoBack)
	c.TitleVetoed = cmp.Or(c.TitleVetoed, d.TitleVetoed)
	c.Vetoed = cmp.Or(c.Vetoed, d.Vetoed)
	c.NoQualifyingMethod = cmp.Or(c.NoQualifyingMethod, d.NoQualifyingMethod)
	c.AddSecurityKey = cmp.Or(c.AddSecurityKey, d.AddSecurityKey)
	c.NoIndependentFactor = cmp.Or(c.NoIndependentFactor, d.NoIndependentFactor)
	c.ClockTime = cmp.Or(c.ClockTime, d.ClockTime)
	c.ResendReload = cmp.Or(c.ResendReload, d.ResendReload)
	c.TitleEnrollPrompt = cmp.Or(c.TitleEnrollPrompt, d.TitleEnrollPrompt)
	c.PromptReason = cmp.Or(c.PromptReason, d.PromptReason)
	c.PromptLeft = cmp.Or(c.PromptLeft, d.PromptLeft)
	c.PromptSkipOne = cmp.Or(c.PromptSkipOne, d.PromptSkipOne)
	c.PromptSkips = cmp.Or(c.PromptSkips, d.PromptSkips)
	c.SetUpNow = cmp.Or(c.SetUpNow, d.SetUpNow)
	c.SkipForNow = cmp.Or(c.SkipForNow, d.SkipForNow)
	return &c
}

// DefaultStrings returns a copy of the English strings.
func DefaultStrings() *Strings {
	s := defaultStrings
	s.Methods = maps.Clone(defaultStrings.Methods)
	s.Settings = defaultStrings.Settings.clone()
	s.Admin = defaultStrings.Admin.clone()
	return &s
}

// check reports a field that lost its verb or is empty.
func (s *Strings) check() error {
	for name, f := range map[string]string{
		"SentTo": s.SentTo, "ResendIn": s.ResendIn, "TrustFor": s.TrustFor, "ResendWait": s.ResendWait,
		"SendCap": s.SendCap, "RateLimited": s.RateLimited, "Locked": s.Locked, "LockedFor": s.LockedFor, "LockedAt": s.LockedAt,
		"PromptLeft": s.PromptLeft,
	} {
		if strings.Count(f, "%s") != 1 || strings.Count(f, "%") != 1 {
			return configErr("Strings.%s %q must hold exactly one %%s", name, f)
		}
	}
	for name, f := range map[string]string{"Seconds": s.Seconds, "Minutes": s.Minutes, "Hours": s.Hours, "Days": s.Days, "Weeks": s.Weeks,
		"PromptSkips": s.PromptSkips} {
		if strings.Count(f, "%d") != 1 || strings.Count(f, "%") != 1 {
			return configErr("Strings.%s %q must hold exactly one %%d", name, f)
		}
	}
	if !strings.Contains(s.Countdown, "{s}") {
		return configErr("Strings.Countdown %q must hold {s}", s.Countdown)
	}
	return s.checkSettings()
}

// method returns the text of m.
func (s *Strings) method(m twofactor.Method) MethodText {
	t, ok := s.Methods[m]
	if !ok {
		t = MethodText{Name: m.Label()}
	}
	if t.Name == "" {
		t.Name = m.Label()
	}
	if t.Prompt == "" {
		t.Prompt = s.Prompt
	}
	if t.Input == "" {
		t.Input = s.Input
	}
	return t
}

// inputLabel returns the label of a code input: text's Input, with the
// code's length in place of its %d when the length is known (else the
// number and the word after it are left out: "code from your
// authenticator app").
func inputLabel(input string, length int) string {
	if !strings.Contains(input, "%d") {
		return input
	}
	if length > 0 {
		return strings.Replace(input, "%d", strconv.Itoa(length), 1)
	}
	before, after, _ := strings.Cut(input, "%d")
	if _, rest, ok := strings.Cut(after, " "); ok {
		after = rest
	} else {
		after = ""
	}
	out := before + after
	if before == "" && out != "" {
		r, n := utf8.DecodeRuneInString(out)
		out = string(unicode.ToUpper(r)) + out[n:]
	}
	return out
}

// wait returns d in words, rounded up to the unit shown: seconds up to 90
// seconds, minutes up to 90 minutes, hours up to 48 hours, then days. A
// wait is never shown shorter than it is.
func (s *Strings) wait(d time.Duration) string {
	switch {
	case d <= 90*time.Second:
		return s.count(ceil(d, time.Second), s.Second, s.Seconds)
	case d <= 90*time.Minute:
		return s.count(ceil(d, time.Minute), s.Minute, s.Minutes)
	case d <= 48*time.Hour:
		return s.count(ceil(d, time.Hour), s.Hour, s.Hours)
	}
	return s.count(ceil(d, 24*time.Hour), s.Day, s.Days)
}

// left returns the time left before a deadline in words: days, to the
// nearest, from two days on ("7 days" a moment after a week began), else
// as wait does.
func (s *Strings) left(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= 2*day {
		return s.count(int((d+day/2)/day), s.Day, s.Days)
	}
	return s.wait(d)
}

// span returns a trust duration in words: weeks when it is a whole number
// of them, else days, else hours ("30 days", "1 week", "12 hours").
func (s *Strings) span(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 7*day && d%(7*day) == 0:
		return s.count(int(d/(7*day)), s.Week, s.Weeks)
	case d >= day:
		return s.count(ceil(d, day), s.Day, s.Days)
	case d >= time.Hour:
		return s.count(ceil(d, time.Hour), s.Hour, s.Hours)
	}
	return s.count(ceil(d, time.Minute), s.Minute, s.Minutes)
}

func ceil(d, unit time.Duration) int {
	n := int((d + unit - 1) / unit)
	return max(n, 1)
}

func (s *Strings) count(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}
