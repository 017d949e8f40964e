package twofactorhttp_test

import (
	"html"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// Every field of Strings has its key in the English catalogue, and every
// "page." key names a field: a new field without its text, or a text
// left behind by a removed field, fails here.
func TestEveryStringHasAKey(t *testing.T) {
	fields := slices.Sorted(maps.Keys(i18n.Extract("page.", twofactorhttp.DefaultStrings())))
	require.Equal(t, i18n.Default().Keys(language.English, "page.", "Months"), fields)
}

// A page is served in the language the browser prefers, with its
// direction; JSON messages too.
func TestPagesInTheBrowsersLanguage(t *testing.T) {
	e := newEnv(t, envOpt{})
	for header, want := range map[string]struct{ lang, dir, title string }{
		"de-DE,de;q=0.9,en;q=0.8": {"de", "ltr", i18n.Default().String(language.German, "page.TitleLogin")},
		"ja":                      {"ja", "ltr", i18n.Default().String(language.Japanese, "page.TitleLogin")},
		"ar-EG":                   {"ar", "rtl", i18n.Default().String(language.Arabic, "page.TitleLogin")},
		"nl":                      {"en", "ltr", "Two-step verification"},
	} {
		b := e.browser()
		b.header.Set("Accept-Language", header)
		b.login("bob", "")
		body := b.get("/2fa/").Body.String()
		assert.Contains(t, body, `<html lang="`+want.lang+`" dir="`+want.dir+`">`, header)
		assert.Contains(t, html.UnescapeString(body), "<h1>"+want.title+"</h1>", header)
	}

	api := e.api()
	api.header.Set("Accept-Language", "fr-CA")
	api.login("bob", "")
	got := requireError(t, api.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}}), http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
	assert.Equal(t, i18n.Default().String(language.French, "page.InvalidCode"), got["message"])
}

// The host's choice of language (a cookie here) comes before the
// browser's; a language the catalogue lacks gets the closest it has.
func TestConfigLanguage(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) {
		c.Language = func(r *http.Request) language.Tag {
			if ck, err := r.Cookie("lang"); err == nil {
				return language.Make(ck.Value)
			}
			return language.English
		}
	}})
	b := e.browser()
	b.header.Set("Accept-Language", "de")
	b.cookies["lang"] = &http.Cookie{Name: "lang", Value: "pt-PT"}
	b.login("bob", "")
	body := b.get("/2fa/").Body.String()
	assert.Contains(t, body, `<html lang="pt-BR" dir="ltr">`)
	delete(b.cookies, "lang")
	assert.Contains(t, b.get("/2fa/").Body.String(), `<html lang="en" dir="ltr">`, "the host said English; the header is not asked")
}

// A host changes a string of one language, or adds a language, through
// Config.Languages.
func TestConfigLanguages(t *testing.T) {
	cat, err := i18n.Default().With(language.German, i18n.Messages{"page.TitleLogin": "Anmeldung bestätigen"})
	require.NoError(t, err)
	cat, err = cat.With(language.Dutch, i18n.Messages{"page.TitleLogin": "Verificatie in twee stappen"})
	require.NoError(t, err)
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.Languages = cat }})
	for header, want := range map[string]string{"de": "Anmeldung bestätigen", "nl-NL": "Verificatie in twee stappen"} {
		b := e.browser()
		b.header.Set("Accept-Language", header)
		b.login("bob", "")
		assert.Contains(t, html.UnescapeString(b.get("/2fa/").Body.String()), "<h1>"+want+"</h1>")
	}
	b := e.browser()
	b.header.Set("Accept-Language", "nl")
	b.login("bob", "")
	assert.Contains(t, b.get("/2fa/").Body.String(), ">Verify</button>", "Dutch has no text of its own for the button: English")

	_, err = i18n.Default().With(language.German, i18n.Messages{"page.SentTo": "Code gesendet."})
	require.ErrorIs(t, err, i18n.ErrCatalog, "a translation that loses a placeholder is refused")
}

// Waits, counts and dates are in the language's words and forms.
func TestWordsInTheLanguage(t *testing.T) {
	e := lockedEnv(t, nil)
	b := e.browser()
	b.header.Set("Accept-Language", "de")
	b.login("bob", "")
	for range 3 {
		b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}})
	}
	page := html.UnescapeString(b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}).Body.String())
	de, err := twofactorhttp.StringsFor(i18n.Default(), language.German)
	require.NoError(t, err)
	assert.Contains(t, page, strings.Replace(de.LockedFor, "%s", "15 Minuten", 1))

	api := e.api()
	api.header.Set("Accept-Language", "de")
	got := requireError(t, api.login("bob", ""), http.StatusTooManyRequests, twofactorhttp.CodeLocked)
	assert.Contains(t, got["message"], "in 15 Minuten", "a wait from now is the relative phrase")

	ar, err := twofactorhttp.StringsFor(i18n.Default(), language.Arabic)
	require.NoError(t, err)
	assert.Equal(t, "rtl", ar.Dir)
	assert.NotEqual(t, ar.Plural(ar.Days, 2), ar.Plural(ar.Days, 3), "Arabic's dual")
	assert.NotEqual(t, ar.Plural(ar.Days, 3), ar.Plural(ar.Days, 11))
	assert.Equal(t, "\u2066+1 *** *** **75\u2069", ar.Isolate("+1 *** *** **75"), "numbers keep their order in a right-to-left sentence")
	assert.Equal(t, "+1 *** *** **75", de.Isolate("+1 *** *** **75"))
}

// The settings pages speak the language too: the country picker names
// regions in it and sorts them its way, and dates use its month names.
func TestSettingsInTheLanguage(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	b.header.Set("Accept-Language", "de")
	body := html.UnescapeString(b.get("/2fa/settings/phone").Body.String())
	assert.Contains(t, body, ">Deutschland (+49)</option>")
	assert.Contains(t, body, ">Vereinigte Staaten (+1)</option>")
	assert.Less(t, strings.Index(body, ">Österreich"), strings.Index(body, ">Polen"), "Ö sorts with O in German")

	b.header.Set("Accept-Language", "ja")
	assert.Contains(t, html.UnescapeString(b.get("/2fa/settings/phone").Body.String()), ">日本 (+81)</option>")
}

// The email a sign-in sends speaks the language of the request that
// sent it; the same user signing in with another language gets that one.
func TestEmailInTheRequestsLanguage(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	for header, lang := range map[string]language.Tag{"de": language.German, "ja-JP": language.Japanese, "en-US": language.English} {
		b := s.browser()
		b.header.Set("Accept-Language", header)
		s.mail.Reset()
		b.login("ann", "") // sends the first code: email is ann's only method
		m, ok := s.mail.Last(ann.Email)
		require.True(t, ok)
		assert.Equal(t, i18n.Default().String(lang, "email.Subject"), m.Subject, header)
		assert.Contains(t, m.HTML, `lang="`+lang.String()+`"`)
	}
}
