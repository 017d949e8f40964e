package notify

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/i18n"
	"golang.org/x/text/language"
)

// Strings is every text the messages show in one language: one KindText
// per kind, the lines that state the facts, the greeting and the footer.
// The notifier builds one from its catalogue (Config.Languages) for each
// language; StringsFor does the same for a host. Fields with a verb take
// the arguments their default shows: the catalogue's English file
// (package i18n, keys "notify.") is the reference, and a table must keep
// its placeholders.
type Strings struct {
	Lang string `i18n:"-"` // the HTML part's lang attribute: "en"
	Dir  string `i18n:"-"` // its dir attribute: "ltr" or "rtl"

	tag language.Tag // Lang, parsed: for plural forms

	Greeting       string // "Hello %s," (twofactor.User.DisplayName)
	GreetingNoName string // the greeting when the user has no display name

	// Kinds are each kind's texts. A kind missing here takes its default.
	Kinds map[Kind]KindText

	// Methods name the methods in messages ("a method added": which one).
	// A method missing here (a host's own factor) uses Method.Label.
	Methods map[twofactor.Method]string

	// Fact lines, each with one verb.
	When      string      // "When: %s" (the time, in TimeFormat and Config.Location)
	Network   string      // "Network: %s" (the client's address, and its place when Config.Locate names one)
	Browser   string      // "Browser: %s" ("Firefox on Linux")
	Device    string      // "Device: %s" (a trusted device's label)
	Method    string      // "Method: %s" (the method's name, and its masked label)
	By        string      // "By: %s" (the administrator)
	Until     string      // "Until: %s" (a lockout's end, a trust's or a recovery code's expiry)
	Remaining string      // "Backup codes left: %d"
	Attempts  string      // "Wrong answers: %d" (of the attempt this message is about)
	Folded    i18n.Plural // "%d more attempts since our previous message."

	Unknown    string // a fact nobody knows: "unknown"
	TimeFormat string // a time.Format layout: "2 January 2006, 15:04 MST"

	// Links, shown with the URL from Config.Links.
	LinkSecurity string // "Review your security settings"
	LinkDevices  string // "Review your trusted devices"
	LinkPassword string // "Change your password"

	Footer string // last line of every message

	// Dates are the month names of TimeFormat.
	Dates i18n.Dates
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

// DefaultStrings returns a copy of the English strings.
func DefaultStrings() *Strings {
	s, err := StringsFor(i18n.Default(), language.English)
	if err != nil {
		panic(err) // the shipped catalogue is checked by its tests
	}
	return s
}

// stringsPrefix is the catalogue keys' prefix of the messages' strings.
const stringsPrefix = "notify."

// StringsFor returns the strings of the language of c that best serves
// tag, with English where c's language lacks a key. The result is the
// caller's to change.
func StringsFor(c *i18n.Catalog, tag language.Tag) (*Strings, error) {
	tag = c.Match(tag)
	s := &Strings{Lang: tag.String(), Dir: c.Direction(tag), tag: tag}
	if err := c.Fill(tag, stringsPrefix, s); err != nil {
		return nil, configErr("%v", err)
	}
	return s, nil
}

// complete returns a table in which each field s leaves empty takes c's
// text for s's language; a field that lost one of English's
// placeholders is an error.
func (s *Strings) complete(c *i18n.Catalog) (*Strings, error) {
	tag, err := language.Parse(cmp.Or(s.Lang, "en"))
	if err != nil {
		return nil, configErr("Strings.Lang %q is not a BCP 47 tag", s.Lang)
	}
	for k := range s.Kinds {
		if !k.valid() {
			return nil, configErr("Strings.Kinds has %q, which is not a kind", k)
		}
	}
	if c, err = c.With(tag, i18n.Extract(stringsPrefix, s)); err != nil {
		return nil, configErr("Strings: %v", err)
	}
	out, err := StringsFor(c, tag)
	if err != nil {
		return nil, err
	}
	out.Dir = cmp.Or(s.Dir, out.Dir)
	return out, out.check()
}

// check reports a subject on more than one line.
func (s *Strings) check() error {
	for k, t := range s.Kinds {
		if strings.ContainsAny(t.Subject, "\r\n") {
			return configErr("Strings.Kinds[%s].Subject must be one line", k)
		}
	}
	return nil
}

// kind returns the texts of k.
func (s *Strings) kind(k Kind) KindText { return s.Kinds[k] }

// method returns the name of m.
func (s *Strings) method(m twofactor.Method) string {
	if n := s.Methods[m]; n != "" {
		return n
	}
	return m.Label()
}

func (s *Strings) fact(format string, arg any) string { return fmt.Sprintf(format, arg) }

// when returns t written by TimeFormat in s's language.
func (s *Strings) when(t time.Time) string { return s.Dates.Format(t, s.TimeFormat) }
