package twofactorhttp

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/i18n"
	"golang.org/x/text/language"
)

// Strings is every text the layer shows or sends in one language: page
// text, error messages (in pages and in JSON answers alike) and the words
// for durations. The layer builds one from its catalogue (Config.Languages)
// for each language a request may be served in; StringsFor does the same
// for a host's own use. Fields with a verb take the arguments their
// default shows: the catalogue's English file (package i18n) is the
// reference, and a table must keep its placeholders.
type Strings struct {
	Lang string `i18n:"-"` // the pages' lang attribute: "en"
	Dir  string `i18n:"-"` // the pages' dir attribute: "ltr" or "rtl"

	tag         language.Tag // Lang, parsed: for plural forms
	regionCache *regionCache // the country picker in this language

	TitleLogin   string // page title of a sign-in challenge
	TitleStepUp  string // page title of a step-up challenge
	IntroLogin   string // first paragraph of a sign-in challenge
	IntroStepUp  string // first paragraph of a step-up challenge
	Verify       string // the code form's submit button
	SendCode     string // the button that sends a first code
	Resend       string // the button that sends a new code
	Sent         string // a code was sent, to a destination the factor did not name
	SentTo       string // "We sent a code to %s." (the masked destination)
	ResendIn     string // "You can ask for a new code %s." (a wait, as InMinutes and the like say it: "in 15 minutes")
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
	ResendWait       string // "%s" when a new code may be sent ("in 15 minutes"), after a cooldown
	SendCap          string // "%s" when codes may be sent again, after a cap on sends
	RateLimited      string // "%s" when answers are accepted again, after a cap on answers
	Locked           string // "%s" when the lockout ends
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
	TitleEnrollPrompt string      // its title
	PromptReason      string      // why it asks
	PromptLeft        string      // "You have %s left to set up two-step verification." (the time left in words)
	PromptSkips       i18n.Plural // "You can skip this %d more times." (the skips left)
	SetUpNow          string      // the link to the enrollment page
	SkipForNow        string      // the button that skips

	// Durations in words, each with a %d: "1 second", "%d seconds"...
	Seconds, Minutes, Hours, Days, Weeks i18n.Plural
	// A wait from now in words: "in 1 second", "in %d seconds"...
	InSeconds, InMinutes, InHours, InDays i18n.Plural

	// Dates are the month names of the layouts above and below.
	Dates i18n.Dates

	// The messages of the security-key script.
	KeyCancelled   string // the person cancelled, or the browser timed out
	KeyInsecure    string // the page's address cannot use WebAuthn
	KeyBrowser     string // the browser failed for another reason
	KeyUnsupported string // the browser has no WebAuthn
	RequestFailed  string // the server's answer could not be read

	ListSep string // between the items of a list in a sentence: ", "

	// Passkeys.
	KeyModelRefused    string // a security key whose model (AAGUID) the host does not accept
	KeySyncedRefused   string // a synced passkey, where the host requires device-bound keys
	PasskeyNotAccepted string // a passkey sign-in refused, whatever the reason
	// The offer to create a passkey, after a sign-in with a password and
	// a second factor.
	TitlePasskeyOffer  string // its title
	PasskeyOfferText   string // what a passkey changes
	PasskeyOfferCreate string // the button that creates one
	PasskeyOfferLater  string // the button that puts the offer off

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

// DefaultStrings returns a copy of the English strings.
func DefaultStrings() *Strings {
	s, err := StringsFor(i18n.Default(), language.English)
	if err != nil {
		panic(err) // the shipped catalogue is checked by its tests
	}
	return s
}

// StringsFor returns the strings of the language of c that best serves
// tag (see i18n.Catalog.Match), with English where c's language lacks a
// key. The result is the caller's to change.
func StringsFor(c *i18n.Catalog, tag language.Tag) (*Strings, error) {
	tag = c.Match(tag)
	s := &Strings{Lang: tag.String(), Dir: c.Direction(tag), tag: tag, regionCache: &regionCache{}}
	s.Settings.Apps = slices.Clone(authenticatorApps)
	if err := c.Fill(tag, stringsPrefix, s); err != nil {
		return nil, configErr("%v", err)
	}
	return s, nil
}

// stringsPrefix is the catalogue keys' prefix of the page strings.
const stringsPrefix = "page."

// authenticatorApps are the apps the set-up page names: proper names, the
// same in every language.
var authenticatorApps = []string{"Google Authenticator", "Microsoft Authenticator", "Authy", "1Password", "Bitwarden"}

// complete returns a table in which each field s leaves empty, or sets
// to a value that lost one of English's placeholders, is an error or
// takes c's text for s's language: a table written for an earlier
// release, or for a few fields only, still shows every page.
func (s *Strings) complete(c *i18n.Catalog) (*Strings, error) {
	tag, err := language.Parse(cmp.Or(s.Lang, "en"))
	if err != nil {
		return nil, configErr("Strings.Lang %q is not a BCP 47 tag", s.Lang)
	}
	c, err = c.With(tag, i18n.Extract(stringsPrefix, s))
	if err != nil {
		return nil, configErr("Strings: %v", err)
	}
	out, err := StringsFor(c, tag)
	if err != nil {
		return nil, err
	}
	out.Dir = cmp.Or(s.Dir, out.Dir)
	if s.Settings.Apps != nil {
		out.Settings.Apps = slices.Clone(s.Settings.Apps)
	}
	out.Settings.Regions = maps.Clone(s.Settings.Regions)
	out.Settings.Product = s.Settings.Product
	return out, nil
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
// code's length in place of its %d when the length is known, else
// generic (Strings.Input: "Code"), since no language's words can be cut
// around a missing number the same way.
func inputLabel(input string, length int, generic string) string {
	if !strings.Contains(input, "%d") {
		return input
	}
	if length > 0 {
		return strings.Replace(input, "%d", strconv.Itoa(length), 1)
	}
	return generic
}

// Plural returns p's form for n in s's language, with n in place of its
// %d: a page template's {{$.T.Plural $.T.Settings.Devices 3}}.
func (s *Strings) Plural(p i18n.Plural, n int) string { return p.Format(s.tag, n) }

func (s *Strings) n(p i18n.Plural, n int) string { return s.Plural(p, n) }

// Isolate returns v ready to stand inside a sentence of s's language: in
// a language written right to left, between the Unicode bidirectional
// isolates LRI and PDI (UAX #9), so that a masked number ("+1 *** ***
// **75"), an address or a key's name keeps its own left-to-right order;
// v itself elsewhere. A page template's
// {{printf $.T.Settings.PhoneOn ($.T.Isolate .Label)}}.
func (s *Strings) Isolate(v string) string {
	if s.Dir != "rtl" || v == "" {
		return v
	}
	return "\u2066" + v + "\u2069"
}

// unit returns d in whole units, rounded up, as wait and in round it:
// seconds up to 90 seconds, minutes up to 90 minutes, hours up to 48
// hours, then days. A wait is never shown shorter than it is.
func unit(d time.Duration) (n int, u time.Duration) {
	switch {
	case d <= 90*time.Second:
		return ceil(d, time.Second), time.Second
	case d <= 90*time.Minute:
		return ceil(d, time.Minute), time.Minute
	case d <= 48*time.Hour:
		return ceil(d, time.Hour), time.Hour
	}
	return ceil(d, 24*time.Hour), 24 * time.Hour
}

// wait returns a wait of d in words ("15 minutes"), rounded as unit
// does.
func (s *Strings) wait(d time.Duration) string {
	return s.inUnits(d, s.Seconds, s.Minutes, s.Hours, s.Days)
}

// in returns the end of a wait of d from now in words ("in 15
// minutes"), rounded as unit does.
func (s *Strings) in(d time.Duration) string {
	return s.inUnits(d, s.InSeconds, s.InMinutes, s.InHours, s.InDays)
}

// inUnits returns d, rounded as unit does, in the words of its unit.
func (s *Strings) inUnits(d time.Duration, secs, mins, hours, days i18n.Plural) string {
	n, u := unit(d)
	switch u {
	case time.Second:
		return s.n(secs, n)
	case time.Minute:
		return s.n(mins, n)
	case time.Hour:
		return s.n(hours, n)
	}
	return s.n(days, n)
}

// left returns the time left before a deadline in words: days, to the
// nearest, from two days on ("7 days" a moment after a week began), else
// as wait does.
func (s *Strings) left(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= 2*day {
		return s.n(s.Days, int((d+day/2)/day))
	}
	return s.wait(d)
}

// span returns a trust duration in words: weeks when it is a whole number
// of them, else days, else hours ("30 days", "1 week", "12 hours").
func (s *Strings) span(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 7*day && d%(7*day) == 0:
		return s.n(s.Weeks, int(d/(7*day)))
	case d >= day:
		return s.n(s.Days, ceil(d, day))
	case d >= time.Hour:
		return s.n(s.Hours, ceil(d, time.Hour))
	}
	return s.n(s.Minutes, ceil(d, time.Minute))
}

func ceil(d, unit time.Duration) int {
	n := int((d + unit - 1) / unit)
	return max(n, 1)
}

// date returns t's date, in UTC, in s's language; the zero time is "".
func (s *Strings) date(t time.Time) string { return s.format(t, s.Settings.Date) }

// dateTime returns t's date and time, in UTC, in s's language.
func (s *Strings) dateTime(t time.Time) string { return s.format(t, s.Settings.DateTime) }

func (s *Strings) format(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return s.Dates.Format(t.UTC(), layout)
}
