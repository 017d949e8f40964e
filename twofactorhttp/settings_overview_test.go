package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"github.com/twofactorkit/twofactor/webauthn"
)

// rowOf returns the overview's row of a method (or section), from its
// opening tag to its end.
func rowOf(t *testing.T, body, attr string) string {
	t.Helper()
	i := strings.Index(body, `<li class="tf-row" `+attr)
	require.GreaterOrEqual(t, i, 0, "no row %s:\n%s", attr, body)
	j := strings.Index(body[i:], "</li>")
	require.Greater(t, j, 0)
	return body[i : i+j]
}

// The overview opens with one status line: off, with the method to set
// up first (the policy's default when it has one); on, since the first
// method still set up was added. As JSON too.
func TestSettingsOverviewStatusLine(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	body := text(s.as("ben", false).get("/2fa/settings/"))
	assert.Contains(t, body, `<p class="tf-status">Two-step verification is off</p>`)
	assert.Contains(t, body, `<a class="tf-button tf-row-action" href="/2fa/settings/totp">Set up a method</a>`)
	assert.NotContains(t, body, "Two-step verification is on")
	m := decodeJSON(t, s.as("ben", true).get("/2fa/settings/"))
	assert.Equal(t, false, m["enabled"])
	assert.Nil(t, m["since"])

	s.clock.Advance(48 * 60 * 60 * 1e9)
	body = text(s.as("ann", false).get("/2fa/settings/"))
	assert.Contains(t, body, `<p class="tf-status tf-on">Two-step verification is on</p>`)
	assert.Contains(t, body, `<p class="tf-meta">Since 4 Mar 2026</p>`, "ann's address counts from its first look")
	assert.NotContains(t, body, "Set up a method")
	m = decodeJSON(t, s.as("ann", true).get("/2fa/settings/"))
	assert.Equal(t, true, m["enabled"])
	assert.Equal(t, "2026-03-04T09:00:00Z", m["since"])

	def := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Policy.Default = twofactor.MethodSMS }})
	body = text(def.as("ben", false).get("/2fa/settings/"))
	assert.Contains(t, body, `href="/2fa/settings/phone">Set up a method</a>`, "the policy's default first")
}

// One compact row per method: its state, a detail that does not repeat
// its name, when it was last used, and its action; backup codes and
// trusted devices below, as recovery options.
func TestSettingsOverviewRows(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/settings/totp")
	secret := pageSecret(t, b.get("/2fa/settings/totp").Body.String())
	requireRedirect(t, b.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}}), "/2fa/settings/backup-codes/show")

	body := text(b.get("/2fa/settings/"))
	app := rowOf(t, body, `data-method="totp"`)
	visible := regexp.MustCompile(`<span class="tf-sr">[^<]*</span>`).ReplaceAllString(app, "")
	assert.Equal(t, 1, strings.Count(visible, "Authenticator app"), "the name once: %s", app)
	assert.Contains(t, app, `<span class="tf-state tf-on">On</span> · Added 2 Mar 2026`)
	assert.Contains(t, app, `href="/2fa/settings/totp">Manage<span class="tf-sr"> Authenticator app</span></a>`)
	phone := rowOf(t, body, `data-method="sms"`)
	assert.Contains(t, phone, `<span class="tf-state">Off</span>`)
	assert.Contains(t, phone, `href="/2fa/settings/phone">Set up`)

	methods := strings.Index(body, "<h2>Ways to confirm it's you</h2>")
	recovery := strings.Index(body, "<h2>Recovery options</h2>")
	require.Greater(t, recovery, methods)
	codes := strings.Index(body, `data-method="backup_code"`)
	devices := strings.Index(body, `data-section="devices"`)
	assert.Greater(t, codes, recovery, "backup codes are a recovery option")
	assert.Greater(t, devices, recovery, "so are trusted devices")
	assert.Contains(t, rowOf(t, body, `data-method="backup_code"`), "10 backup codes left.")
	assert.Contains(t, rowOf(t, body, `data-section="devices"`), "No trusted device.")

	// In German, the name the factor gave the enrollment (in English) is
	// the method's German name, which the row does not repeat.
	b.header.Set("Accept-Language", "de")
	de := rowOf(t, text(b.get("/2fa/settings/")), `data-method="totp"`)
	assert.NotContains(t, de, "Authenticator app")
	assert.Contains(t, de, `<span class="tf-state tf-on">An</span> · Hinzugefügt am 2. März 2026`)
	assert.NotContains(t, text(b.get("/2fa/settings/totp")), "Authenticator app", "nor on the method's page")
	b.header.Del("Accept-Language")

	// The last use, once there is one.
	s.clock.Advance(60 * 1e9)
	api := s.browser()
	api.login("ben", "")
	requireRedirect(t, api.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {s.totpCode(secret)}}), "/")
	app = rowOf(t, text(b.get("/2fa/settings/")), `data-method="totp"`)
	assert.Contains(t, app, "Added 2 Mar 2026 · Last used 2 Mar 2026 09:01 UTC")
}

// A user without an email address is not offered email codes on the
// overview, nor the security emails she could not get.
func TestSettingsOverviewWithoutEmail(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) {
		c.Notifications = func(*http.Request) []string { return []string{"A new way to sign in was added"} }
	}})
	body := s.as("ben", false).get("/2fa/settings/").Body.String()
	assert.NotContains(t, body, `data-method="email"`)
	assert.NotContains(t, body, "Security emails")
	assert.NotContains(t, body, "A new way to sign in was added")
	m := decodeJSON(t, s.as("ben", true).get("/2fa/settings/"))
	for _, f := range m["methods"].([]any) {
		assert.NotEqual(t, "email", f.(map[string]any)["method"])
	}
	assert.Nil(t, m["notifications"])

	body = s.as("ann", false).get("/2fa/settings/").Body.String()
	assert.Contains(t, body, `data-method="email"`)
	assert.Contains(t, body, "<li>A new way to sign in was added</li>")
}

// "I saved my codes" comes back to the overview, which says so once.
func TestSettingsCodesSavedNotice(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/backup-codes", nil), "/2fa/settings/backup-codes/show")
	require.Len(t, pageCodes(b.get("/2fa/settings/backup-codes/show").Body.String()), 10)
	w := b.post("/2fa/settings/backup-codes/done", nil)
	requireRedirect(t, w, "/2fa/settings/?done=codes")
	body := text(b.get("/2fa/settings/?done=codes"))
	assert.Contains(t, body, `<p class="tf-notice" role="status">Backup codes saved. Keep them somewhere safe: each one works once.</p>`)
	assert.NotContains(t, text(b.get("/2fa/settings/")), "Backup codes saved.")
}

// A new set of codes says what it is for, on its page, on paper and in
// its file: the product, the account and when it was made. The print
// button waits for the script, and a printed page leaves out the host's
// navigation and the buttons.
func TestSettingsCodesHeader(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/backup-codes", nil), "/2fa/settings/backup-codes/show")
	body := text(b.get("/2fa/settings/backup-codes/show"))
	assert.Contains(t, body, `<p class="tf-codes-for"><strong>Example</strong> <span>Account: ben</span> <span>Generated 2 Mar 2026 09:00 UTC</span></p>`)
	assert.Contains(t, body, `<button type="button" class="tf-secondary" data-print hidden>Print</button>`)
	txt := b.get("/2fa/settings/backup-codes.txt").Body.String()
	assert.True(t, strings.HasPrefix(txt, "Example\r\nBackup codes. Each works once.\r\nAccount: ben\r\nGenerated 2 Mar 2026 09:00 UTC\r\n\r\n"), txt)

	css := s.browser().get("/2fa/assets/style.css").Body.String()
	assert.Contains(t, css, "[hidden] { display: none !important; }", "a button's display does not undo hidden")
	assert.Regexp(t, regexp.MustCompile(`@media print \{[^}]*header, nav[^}]*display: none`), css)

	// The product of the string table wins over the app's issuer.
	own := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) {
		st := twofactorhttp.DefaultStrings()
		st.Settings.Product = "Acme Mail"
		c.Strings = st
	}})
	ob := own.as("ann", false)
	own.stepUp(ob, "/2fa/settings/backup-codes/new")
	requireRedirect(t, ob.post("/2fa/settings/backup-codes", nil), "/2fa/settings/backup-codes/show")
	assert.Contains(t, text(ob.get("/2fa/settings/backup-codes/show")), `<strong>Acme Mail</strong> <span>Account: ann@example.com</span>`)
}

// A security key's rename form opens from its Rename button (a
// <details>, no script needed), and Remove is a button that leads to the
// page that asks first.
func TestSettingsKeysRowActions(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	api := s.as("ben", true)
	decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Blue key"}`))
	decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"ben"}}`))

	b := s.as("ben", false)
	body := text(b.get("/2fa/settings/keys"))
	assert.Contains(t, body, `<details class="tf-rename">
<summary class="tf-button tf-secondary">Rename<span class="tf-sr"> Blue key</span></summary>
<form method="post" action="/2fa/settings/keys/rename">`)
	assert.Contains(t, body, `<input id="tf-rename-0" name="name" type="text" required maxlength="64" autocomplete="off" value="Blue key">`)
	assert.Contains(t, body, `<button type="submit" class="tf-primary">Save name</button>`)
	assert.Contains(t, body, removeForm("webauthn", "key-1"))
	assert.NotContains(t, body, `class="tf-action"`, "no bare link")

	// The button's GET is the page that asks; nothing is removed yet.
	w := b.get("/2fa/settings/remove?method=webauthn&id=key-1")
	requireRedirect(t, w, "/2fa/step-up?next="+url.QueryEscape("/2fa/settings/remove?method=webauthn&id=key-1"))
	m := decodeJSON(t, api.get("/2fa/settings/keys"))
	assert.Len(t, m["enrollments"], 1)
}

// On a phone, the authenticator app's set-up says that tapping the QR
// code (or a button) opens the app, and the key is shown in groups of
// four the page keeps whole; copying it drops the spaces.
func TestSettingsTOTPSetupOnPhone(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/settings/totp")
	body := text(b.get("/2fa/settings/totp"))
	assert.Regexp(t, regexp.MustCompile(`<p class="tf-qr"><a href="otpauth://totp/Example:ben\?[^"]+" aria-describedby="tf-tap"><img `), body)
	assert.Regexp(t, regexp.MustCompile(`<div class="tf-on-phone">
<p id="tf-tap">On this phone\? Tap the QR code, or the button below, to add the account to your authenticator app.</p>
<p><a class="tf-button" href="otpauth://totp/Example:ben\?[^"]+">Open authenticator app</a></p>
</div>`), body)
	assert.Regexp(t, regexp.MustCompile(`<code id="tf-secret" class="tf-secret" aria-labelledby="tf-secret-label"><span>[A-Z2-7]{4}</span>( <span>[A-Z2-7]{1,4}</span>)+</code>`), body)
	css := b.get("/2fa/assets/style.css").Body.String()
	assert.Contains(t, css, ".tf-secret span { white-space: nowrap; }")
	assert.Contains(t, css, "@media (max-width: 40rem), (pointer: coarse) {\n  .tf-on-phone { display: block; }")
	assert.Contains(t, b.get("/2fa/assets/twofactor.js").Body.String(), `target.textContent.replace(/\s+/g, "")`, "copied without spaces")
}

// The note that a change needs a fresh verification shows only while it
// does: not once the user has stepped up.
func TestSettingsStepUpNoteOnlyWhenNeeded(t *testing.T) {
	const note = "you'll confirm it's you before this change"
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	for _, page := range []string{"/2fa/settings/phone", "/2fa/settings/totp", "/2fa/settings/keys"} {
		assert.Contains(t, text(b.get(page)), note, page)
	}
	s.stepUp(b, "/2fa/settings/phone")
	for _, page := range []string{"/2fa/settings/phone", "/2fa/settings/totp", "/2fa/settings/keys"} {
		assert.NotContains(t, text(b.get(page)), note, page)
	}
	w := b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"41"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.NotContains(t, text(w), note, "the form shown again")

	// Once the step-up is stale, the note is back.
	s.clock.Advance(16 * 60 * 1e9)
	assert.Contains(t, text(b.get("/2fa/settings/phone")), note)
}

// The pages show an enrollment's own name as given, and the name a factor
// gives an unnamed one (its method's English name) in the page's language.
func TestDefaultLabelsShownInTheLanguage(t *testing.T) {
	assert.Equal(t, webauthn.DefaultName, twofactor.MethodWebAuthn.Label())
	assert.Equal(t, totp.DefaultLabel, twofactor.MethodTOTP.Label())

	s := newSettingsEnv(t, senvOpt{})
	s.keys.keys[ben.ID] = []twofactor.Enrollment{
		{ID: "k1", Method: twofactor.MethodWebAuthn, Label: webauthn.DefaultName, CreatedAt: s.clock.Now()},
		{ID: "k2", Method: twofactor.MethodWebAuthn, Label: "Blue key", CreatedAt: s.clock.Now()},
	}
	b := s.as("ben", false)
	b.header.Set("Accept-Language", "de")
	page := text(b.get("/2fa/settings/keys"))
	assert.NotContains(t, page, "Security key")
	assert.Contains(t, page, "Sicherheitsschlüssel")
	assert.Contains(t, page, "Blue key", "a name the user gave stays as given")
}
