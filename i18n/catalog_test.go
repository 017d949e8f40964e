package i18n_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// shipped are the languages the library ships; each must have every
// key English has.
var shipped = []language.Tag{
	language.English, language.German, language.French, language.Spanish,
	language.BrazilianPortuguese, language.Japanese, language.Arabic,
}

func TestEveryCatalogueIsComplete(t *testing.T) {
	c := i18n.Default()
	require.ElementsMatch(t, shipped, c.Languages())
	for _, tag := range shipped {
		t.Run(tag.String(), func(t *testing.T) {
			require.Empty(t, c.Missing(tag), "keys %s lacks", tag)
			require.NoError(t, c.Check(tag))
		})
	}
}

// A translation that drops a placeholder, a key English lacks, a value of
// another kind or a plural without a category its language uses is
// refused, and the catalogue stays as it was.
func TestCheckRefusesWhatDoesNotFit(t *testing.T) {
	c := i18n.Default()
	for name, msgs := range map[string]i18n.Messages{
		"dropped placeholder": {"page.SentTo": "Wir haben Ihnen einen Code gesendet."},
		"extra placeholder":   {"page.Verify": "Bestätigen %s"},
		"unknown key":         {"page.Verfy": "Bestätigen"},
		"string for a plural": {"page.Minutes": "%d Minuten"},
		"list too short":      {"Months": []string{"Januar"}},
		"dropped count":       {"page.Minutes": i18n.Plural{One: "1 Minute", Other: "%s Minuten"}},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := c.With(language.German, msgs)
			require.ErrorIs(t, err, i18n.ErrCatalog)
			require.Nil(t, n)
		})
	}
	// Arabic uses six categories: a plural with English's two is refused.
	_, err := c.With(language.Arabic, i18n.Messages{"page.Minutes": i18n.Plural{One: "دقيقة واحدة", Other: "%d دقيقة"}})
	require.ErrorIs(t, err, i18n.ErrCatalog)
	require.ErrorContains(t, err, `"zero"`)
	require.Equal(t, "Wir haben einen Code an %s gesendet.", c.String(language.German, "page.SentTo"), "unchanged")
}

// Placeholders may change order with explicit indexes.
func TestCheckAcceptsIndexedVerbs(t *testing.T) {
	c, err := i18n.Default().With(language.Japanese, i18n.Messages{"sms.CodeProduct": "【%[2]s】確認コード：%[1]s"})
	require.NoError(t, err)
	require.Equal(t, "【%[2]s】確認コード：%[1]s", c.String(language.Japanese, "sms.CodeProduct"))
}

// A host changes one string, or adds a language in part, without copying
// the rest: what it does not set falls back to the parent language, then
// English.
func TestWithOverridesAndAdds(t *testing.T) {
	base := i18n.Default()
	c, err := base.With(language.German, i18n.Messages{"page.TitleLogin": "Anmeldung bestätigen"})
	require.NoError(t, err)
	require.Equal(t, "Anmeldung bestätigen", c.String(language.German, "page.TitleLogin"))
	require.Equal(t, base.String(language.German, "page.Verify"), c.String(language.German, "page.Verify"))
	require.NotEqual(t, "Anmeldung bestätigen", base.String(language.German, "page.TitleLogin"), "the default is not changed")

	nl := language.Dutch
	c, err = base.With(nl, i18n.Messages{"page.Verify": "Verifiëren"})
	require.NoError(t, err)
	require.Contains(t, c.Languages(), nl)
	require.Equal(t, nl, c.MatchHeader("nl-BE, en;q=0.5"))
	require.Equal(t, "Verifiëren", c.String(nl, "page.Verify"))
	require.Equal(t, base.String(language.English, "page.Cancel"), c.String(nl, "page.Cancel"), "English where Dutch has no text")
	require.Contains(t, c.Missing(nl), "page.Cancel")
	require.NotContains(t, c.Missing(nl), "page.Verify")

	// Swiss German takes German's texts for what it does not set.
	gsw, err := language.Parse("de-CH")
	require.NoError(t, err)
	c, err = base.With(gsw, i18n.Messages{"page.Verify": "Bestätige"})
	require.NoError(t, err)
	require.Equal(t, base.String(language.German, "page.Cancel"), c.String(gsw, "page.Cancel"))

	// A host's own method may be named in each language.
	c, err = base.With(language.German, i18n.Messages{"page.Methods.push.Name": "Push-Nachricht"})
	require.NoError(t, err)
	require.Equal(t, "Push-Nachricht", c.String(language.German, "page.Methods.push.Name"))
}

// Accept-Language picks the closest language, by its quality values and
// with region fallback; anything else is served English.
func TestMatchHeader(t *testing.T) {
	c := i18n.Default()
	for header, want := range map[string]string{
		"de-AT":                           "de",
		"de-CH, en;q=0.8":                 "de",
		"fr-CA,fr;q=0.9,en;q=0.8":         "fr",
		"es-419":                          "es",
		"es-MX,es;q=0.9":                  "es",
		"pt":                              "pt-BR",
		"pt-PT":                           "pt-BR",
		"pt-BR":                           "pt-BR",
		"ja-JP":                           "ja",
		"ar-EG":                           "ar",
		"ar":                              "ar",
		"en-GB":                           "en",
		"en;q=0.5, de":                    "de",
		"nl, de;q=0.7, en;q=0.5":          "de",
		"zh-CN":                           "en",
		"":                                "en",
		"*":                               "en",
		"not a header;;q=x":               "en",
		"x-klingon":                       "en",
		"da, ja;q=0.9":                    "ja",
		"sv-SE,sv;q=0.9,fr;q=0.8":         "fr",
		"es-ES;q=0.1, ar-SA;q=0.2, *;q=0": "ar",
	} {
		require.Equal(t, want, c.MatchHeader(header).String(), "Accept-Language: %q", header)
	}
}

// The plural forms follow each language's CLDR rules.
func TestPluralForms(t *testing.T) {
	c := i18n.Default()
	minutes := func(tag language.Tag, n int) string {
		v, ok := c.Lookup(tag, "page.Minutes")
		require.True(t, ok)
		return v.(i18n.Plural).Format(tag, n)
	}
	require.Equal(t, "1 minute", minutes(language.English, 1))
	require.Equal(t, "0 minutes", minutes(language.English, 0))
	require.Equal(t, "15 minutes", minutes(language.English, 15))
	require.Equal(t, "1 Minute", minutes(language.German, 1))
	require.Equal(t, "2 Minuten", minutes(language.German, 2))
	// French and Portuguese treat 0 as singular, English as plural.
	require.Equal(t, i18n.Plural{One: "a", Other: "b"}.Form(language.French, 0), "a")
	require.Equal(t, i18n.Plural{One: "a", Other: "b"}.Form(language.BrazilianPortuguese, 0), "a")
	require.Equal(t, i18n.Plural{One: "a", Other: "b"}.Form(language.English, 0), "b")
	// Japanese has one form.
	require.Equal(t, minutes(language.Japanese, 1), strings.Replace(minutes(language.Japanese, 7), "7", "1", 1))
	// Arabic has six, each used where CLDR says.
	ar := i18n.Plural{Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"}
	for n, want := range map[int]string{0: "zero", 1: "one", 2: "two", 3: "few", 10: "few", 11: "many", 99: "many", 100: "other", 102: "other", 103: "few", 111: "many"} {
		require.Equal(t, want, ar.Form(language.Arabic, n), "Arabic %d", n)
	}
	require.Equal(t, []string{"zero", "one", "two", "few", "many", "other"}, i18n.Categories(language.Arabic))
	require.Equal(t, []string{"other"}, i18n.Categories(language.Japanese))
	require.NotEqual(t, minutes(language.Arabic, 2), minutes(language.Arabic, 3))
	require.NotEqual(t, minutes(language.Arabic, 3), minutes(language.Arabic, 11))
}

// Dates use the language's month names in its own layout.
func TestDates(t *testing.T) {
	c := i18n.Default()
	at := time.Date(2026, time.March, 7, 9, 5, 0, 0, time.UTC)
	format := func(tag language.Tag, key string) string {
		var d i18n.Dates
		var holder struct {
			Dates  i18n.Dates
			Layout string `i18n:"/page.Settings.DateTime"`
		}
		require.NoError(t, c.Fill(tag, "", &holder))
		d = holder.Dates
		return d.Format(at, c.String(tag, key))
	}
	require.Equal(t, "7 Mar 2026 09:05 UTC", format(language.English, "page.Settings.DateTime"))
	require.Contains(t, format(language.German, "page.Settings.DateTime"), "März 2026")
	require.Contains(t, format(language.French, "notify.TimeFormat"), "mars 2026")
	require.Contains(t, format(language.Spanish, "notify.TimeFormat"), "marzo")
	require.Equal(t, "2026年3月7日", format(language.Japanese, "page.Settings.Date"))
	require.Contains(t, format(language.Arabic, "page.Settings.Date"), "مارس")
	// Without month names, time.Format's own.
	require.Equal(t, "7 Mar", i18n.Dates{}.Format(at, "2 Jan"))
}

// Fill and Extract are each other's inverse.
func TestFillExtract(t *testing.T) {
	type inner struct{ B string }
	type table struct {
		A     string
		In    inner
		M     map[string]inner
		P     i18n.Plural
		Skip  string   `i18n:"-"`
		Month []string `i18n:"/Months"`
	}
	c, err := i18n.Default().With(language.German, i18n.Messages{})
	require.NoError(t, err)
	var got table
	require.NoError(t, c.Fill(language.German, "page.", &got))
	require.Empty(t, got.A, "no such key: left alone")
	require.Equal(t, "März", got.Month[2])
	src := table{A: "a", In: inner{B: "b"}, M: map[string]inner{"x": {B: "c"}}, P: i18n.Plural{One: "1", Other: "%d"}, Skip: "s"}
	msgs := i18n.Extract("t.", src)
	require.Equal(t, i18n.Messages{"t.A": "a", "t.In.B": "b", "t.M.x.B": "c", "t.P": src.P}, msgs)
	require.ErrorIs(t, c.Fill(language.German, "", got), i18n.ErrCatalog, "not a pointer")
}

// Catalogue files parse strictly.
func TestParseFile(t *testing.T) {
	_, err := i18n.ParseFile([]byte(`{"language":"de","messages":{"page.Verify":"Bestätigen","page.Minutes":{"one":"1","other":"%d"}}}`))
	require.NoError(t, err)
	for _, bad := range []string{
		`{"language":"de","messages":{"page.Verify":3}}`,
		`{"language":"de","messages":{"page.Minutes":{"one":"1"}}}`,
		`{"language":"de","messages":{"page.Minutes":{"one":"1","other":"%d","dual":"x"}}}`,
		`{"language":"de","extra":1,"messages":{}}`,
		`not json`,
	} {
		_, err := i18n.ParseFile([]byte(bad))
		require.ErrorIs(t, err, i18n.ErrCatalog, bad)
	}
	_, err = i18n.Default().Add(i18n.File{Language: "de", Direction: "up"})
	require.ErrorIs(t, err, i18n.ErrCatalog)
	_, err = i18n.Default().Add(i18n.File{Language: "not a tag!"})
	require.ErrorIs(t, err, i18n.ErrCatalog)
}

// The request's language travels in its context.
func TestContext(t *testing.T) {
	c := i18n.Default()
	ctx := i18n.WithLanguage(context.Background(), language.German)
	got, ok := i18n.FromContext(ctx)
	require.True(t, ok)
	require.Equal(t, language.German, got)
	_, ok = i18n.FromContext(context.Background())
	require.False(t, ok)
	require.Equal(t, language.German, c.MessageLanguage(ctx, "ja"), "the request's language first")
	require.Equal(t, language.Japanese, c.MessageLanguage(context.Background(), "ja"), "then the user's")
	require.Equal(t, language.English, c.MessageLanguage(context.Background(), "not a tag!"))
	require.Equal(t, "rtl", c.Direction(language.Arabic))
	require.Equal(t, "ltr", c.Direction(language.German))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Accept-Language", "fr")
	require.Equal(t, language.French, c.MatchRequest(r))
	require.Equal(t, language.German, c.MatchRequest(r.WithContext(ctx)), "the context over the header")
}

// A host's own keys go to English first, then to other languages.
func TestHostKeys(t *testing.T) {
	_, err := i18n.Default().With(language.German, i18n.Messages{"app.Home": "Start"})
	require.ErrorIs(t, err, i18n.ErrCatalog, "English does not have it yet")
	c, err := i18n.Default().With(language.English, i18n.Messages{"app.Home": "Home"})
	require.NoError(t, err)
	c, err = c.With(language.German, i18n.Messages{"app.Home": "Start"})
	require.NoError(t, err)
	require.Equal(t, "Start", c.String(language.German, "app.Home"))
	require.Equal(t, "Home", c.String(language.Japanese, "app.Home"))
	_, err = c.With(language.German, i18n.Messages{"app.Home": "Start %s"})
	require.ErrorIs(t, err, i18n.ErrCatalog, "and keep English's placeholders")
}
