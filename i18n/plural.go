package i18n

import (
	"fmt"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Plural is a message with one form per plural category of the Unicode
// CLDR plural rules. A language uses the categories its rules name:
// English and German one and other; Japanese other alone; Arabic zero,
// one, two, few, many and other. A form may hold one %d, the count.
// Other is required; a category left empty uses Other.
type Plural struct {
	Zero  string `json:"zero,omitempty"`
	One   string `json:"one,omitempty"`
	Two   string `json:"two,omitempty"`
	Few   string `json:"few,omitempty"`
	Many  string `json:"many,omitempty"`
	Other string `json:"other"`
}

// Format returns the form that lang's rules choose for n, with n in
// place of its %d.
func (p Plural) Format(lang language.Tag, n int) string {
	f := p.Form(lang, n)
	if strings.Contains(f, "%d") {
		return fmt.Sprintf(f, n)
	}
	return f
}

// Form returns the form that lang's rules choose for n, unformatted.
func (p Plural) Form(lang language.Tag, n int) string {
	var f string
	switch plural.Cardinal.MatchPlural(lang, abs(n), 0, 0, 0, 0) {
	case plural.Zero:
		f = p.Zero
	case plural.One:
		f = p.One
	case plural.Two:
		f = p.Two
	case plural.Few:
		f = p.Few
	case plural.Many:
		f = p.Many
	}
	if f == "" {
		return p.Other
	}
	return f
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// forms returns the categories p sets, by name.
func (p Plural) forms() map[string]string {
	m := map[string]string{}
	for name, f := range map[string]string{"zero": p.Zero, "one": p.One, "two": p.Two, "few": p.Few, "many": p.Many, "other": p.Other} {
		if f != "" {
			m[name] = f
		}
	}
	return m
}

// Categories returns the plural categories lang's rules use for whole
// numbers, "other" last: what a catalogue's Plural must set for lang.
func Categories(lang language.Tag) []string {
	seen := map[plural.Form]bool{}
	// The integer rules of every CLDR language repeat within 0..1099
	// (they depend on n mod 100 and ranges below 1000 at most).
	for n := 0; n < 1100; n++ {
		seen[plural.Cardinal.MatchPlural(lang, n, 0, 0, 0, 0)] = true
	}
	var out []string
	for _, c := range []struct {
		f    plural.Form
		name string
	}{{plural.Zero, "zero"}, {plural.One, "one"}, {plural.Two, "two"}, {plural.Few, "few"}, {plural.Many, "many"}} {
		if seen[c.f] {
			out = append(out, c.name)
		}
	}
	return append(out, "other")
}
