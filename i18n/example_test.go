package i18n_test

import (
	"fmt"
	"time"

	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// A host changes one text of one language; every other text of every
// language stays the library's.
func ExampleCatalog_With() {
	cat, err := i18n.Default().With(language.German, i18n.Messages{
		"page.TitleLogin": "Anmeldung bestätigen",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(cat.String(language.German, "page.TitleLogin"))
	fmt.Println(cat.String(language.German, "page.Cancel"))

	// A translation that loses a placeholder is refused.
	_, err = i18n.Default().With(language.German, i18n.Messages{"page.SentTo": "Code gesendet."})
	fmt.Println(err != nil)
	// Output:
	// Anmeldung bestätigen
	// Abbrechen
	// true
}

// The language of a browser's Accept-Language header, among the
// catalogue's.
func ExampleCatalog_MatchHeader() {
	cat := i18n.Default()
	for _, h := range []string{"de-AT,de;q=0.9", "pt-PT", "nl, fr;q=0.5", "zh-CN"} {
		fmt.Println(h, "→", cat.MatchHeader(h))
	}
	// Output:
	// de-AT,de;q=0.9 → de
	// pt-PT → pt-BR
	// nl, fr;q=0.5 → fr
	// zh-CN → en
}

// Plural forms follow each language's rules: Arabic has six.
func ExamplePlural_Format() {
	days := i18n.Plural{One: "1 day", Other: "%d days"}
	fmt.Println(days.Format(language.English, 1), "·", days.Format(language.English, 3))
	v, _ := i18n.Default().Lookup(language.Arabic, "page.Days")
	ar := v.(i18n.Plural)
	fmt.Println(ar.Form(language.Arabic, 2) != ar.Form(language.Arabic, 3))
	// Output:
	// 1 day · 3 days
	// true
}

// Dates in the language's words and order.
func ExampleDates_Format() {
	at := time.Date(2026, time.March, 7, 9, 5, 0, 0, time.UTC)
	de := i18n.Dates{MonthsShort: []string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."}}
	fmt.Println(de.Format(at, "2. Jan 2006"))
	// Output:
	// 7. März 2026
}
