package main

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// speak makes the tab's browser ask for lang first, as a browser set to
// that language does (Accept-Language).
func (b *tab) speak(lang string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(b.t, err)
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": lang + ";q=1, en;q=0.5"}})
	require.NoError(b.t, err)
}

// The challenge and settings pages in German, Japanese and Arabic (laid
// out right to left), at a laptop's and a phone's size, checked with
// axe-core and photographed like the tour's: the challenge of an
// authenticator app and of email (a code sent, its resend wait), the
// settings overview and the phone page with its country picker.
func TestTourLanguages(t *testing.T) {
	t.Parallel()
	for _, lang := range []struct{ tag, dir, verify string }{
		{"de", "ltr", "Bestätigen"},
		{"ja", "ltr", "確認"},
		{"ar", "rtl", "تحقق"},
	} {
		// An app each: ada's authenticator codes are each used once.
		app := startApp(t)
		b := newTab(t, app)
		b.speak(lang.tag)
		page := func(b *tab) {
			b.t.Helper()
			assert.Equal(b.t, lang.tag, eval[string](b, `document.documentElement.lang`))
			assert.Equal(b.t, lang.dir, eval[string](b, `document.documentElement.dir`))
			assert.Equal(b.t, lang.dir, eval[string](b, `getComputedStyle(document.querySelector("main")).direction`))
		}
		tour(t, []stop{
			step(b, "lang-"+lang.tag+"-challenge", func(b *tab) {
				b.signIn("ada", "lovelace")
				b.await(`section.tf-method[data-method="totp"]`)
				page(b)
				// Codes are typed left to right in every language.
				assert.Equal(b.t, "ltr", eval[string](b, `getComputedStyle(document.querySelector("#tf-code")).direction`))
				assert.Contains(b.t, eval[string](b, `document.querySelector("form.tf-verify button[type=submit]").textContent`), lang.verify)
			}),
			step(b, "lang-"+lang.tag+"-challenge-email", func(b *tab) {
				b.chooseMethod("email")
				b.press(`form.tf-send button`, `p.tf-sent`)
				page(b)
				assert.Contains(b.t, eval[string](b, `document.querySelector("p.tf-sent").textContent`), "@example.com")
			}),
			step(b, "lang-"+lang.tag+"-settings-overview", func(b *tab) {
				b.chooseMethod("totp")
				b.typeCode(app.totpCode(b.t))
				b.await(onHome)
				b.open("/2fa/settings/", onSettings)
				page(b)
				// The app's own bar speaks the language too.
				assert.NotEqual(b.t, "Security", eval[string](b, `document.querySelector('header nav a[href="/2fa/settings/"]').textContent`))
			}),
			step(b, "lang-"+lang.tag+"-settings-phone", func(b *tab) {
				b.open("/2fa/settings/phone", "#tf-number")
				page(b)
				// Regions are named in the language.
				assert.NotEqual(b.t, "Germany", eval[string](b, `document.querySelector('#tf-region option[value="DE"]').textContent.replace(/ \(.*$/, "")`))
			}),
		})
	}
}
