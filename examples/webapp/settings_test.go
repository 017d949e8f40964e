package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Flows through the settings pages of twofactorhttp, mounted by the app.

const (
	onSettings = `body[data-page="settings_overview"]`
	onCodes    = `body[data-page="settings_codes"]`
	afterCodes = `body[data-page^="settings"]:not([data-page="settings_codes"])`
)

// signInWithoutFactor signs alan in: nothing enrolled, no challenge.
func (b *tab) signInWithoutFactor() {
	b.t.Helper()
	b.signIn("alan", "turing")
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Contains(b.t, b.text("main"), "Two-step verification is off")
}

// chooseRegion picks a country in the phone form.
func (b *tab) chooseRegion(code string) {
	b.t.Helper()
	require.True(b.t, eval[bool](b, `(() => { const s = document.querySelector("#tf-region"); s.value = "`+code+`"; return s.value === "`+code+`"; })()`))
}

// savedCodes reads the backup codes shown once, and checks their download.
func (b *tab) savedCodes() []string {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(onCodes)))
	b.checkPage()
	codes := eval[[]string](b, `Array.from(document.querySelectorAll("#tf-codes code")).map(c => c.textContent)`)
	assert.Equal(b.t, "backup-codes.txt", eval[string](b, `document.querySelector('a[download]').getAttribute("download")`))
	txt := eval[string](b, `fetch(document.querySelector('a[download]').href).then(r => r.text())`)
	for _, c := range codes {
		assert.Contains(b.t, txt, c, "the download holds every code")
	}
	return codes
}

func TestBrowserEnrollAuthenticatorApp(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()

	b.click(`a[href="/2fa/settings/"]`, onSettings)
	b.checkPage()
	assert.Contains(t, b.text(`section[data-section="notifications"]`), "Someone with your password failed the second step",
		"the overview says which security emails are on")
	b.click(`section[data-method="totp"] a`, `body[data-page="settings_totp"]`)
	b.checkPage()
	b.click(`form[action="/2fa/settings/totp"] button`, `.tf-qr img`)
	b.checkPage()
	assert.True(t, eval[bool](b, `document.querySelector(".tf-qr img").src.startsWith("data:image/png")`), "the QR code is an inline image")
	assert.NotEmpty(t, eval[string](b, `document.querySelector(".tf-qr img").alt`))
	secret := b.text("#tf-secret")
	assert.Regexp(t, regexp.MustCompile(`^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`), secret, "the secret in groups of four")
	b.screenshot("totp-setup", 760, 1000, false)

	// "Next", then the code the app would show.
	b.click(`a.tf-button`, codeField)
	assert.Equal(t, "tf-code", b.focused())
	code := app.codeFor(t, secret)
	b.typeCode(wrongCode(code))
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.NotEmpty(t, b.announced())
	b.typeCode(code)

	// The first factor brings backup codes, shown once.
	codes := b.savedCodes()
	require.Len(t, codes, 10)
	b.screenshot("backup-codes", 760, 560, false)
	b.click(`form.tf-done button`, afterCodes)

	// From now on, signing in asks for the app's code.
	b.open("/", onHome)
	b.signOut()
	b.signIn("alan", "turing")
	b.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="totp"]`)))
	b.typeCode(app.codeFor(t, secret))
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Contains(t, b.text(`li[data-method="totp"]`), "Authenticator app")
	assert.True(t, strings.Contains(b.text(`li[data-method="backup_code"]`), "Backup codes"))
}

func TestBrowserAddPhoneAndSignInBySMS(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()

	b.open("/2fa/settings/phone", "#tf-number")
	b.checkPage()
	assert.Equal(t, "tf-number", b.focused())
	// A number that cannot be one is refused, and the page says why.
	b.chooseRegion("US")
	b.do(chromedp.SendKeys(chromedp.ID("tf-number"), "555 01"),
		chromedp.Click(chromedp.CSS(`form.tf-phone button`)), chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.Contains(t, b.announced(), "too short")
	b.checkPage()

	b.chooseRegion("US")
	b.do(chromedp.SendKeys(chromedp.ID("tf-number"), "(202) 555-0175"),
		chromedp.Click(chromedp.CSS(`form.tf-phone button`)), chromedp.WaitVisible(chromedp.CSS(codeField)))
	assert.Contains(t, b.announced(), "**75")
	code := b.outboxCode("SMS", "+12025550175", "")
	b.open("/2fa/settings/phone", codeField)
	b.checkPage()
	b.typeCode(code) // six digits: it verifies by itself
	require.Len(t, b.savedCodes(), 10)
	b.click(`form.tf-done button`, afterCodes)

	// Signing in now texts a code to the phone.
	b.open("/", onHome)
	b.signOut()
	b.signIn("alan", "turing")
	b.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="sms"] p.tf-sent`)))
	assert.Contains(t, b.announced(), "**75")
	code = b.outboxCode("SMS", "+12025550175", code)
	b.open("/2fa/", codeField)
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Contains(t, b.text(`li[data-method="sms"]`), "**75")
}

func TestBrowserSecurityKey(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	key := b.addAuthenticator()

	b.open("/2fa/settings/keys", "#tf-key-name")
	b.checkPage()
	b.do(chromedp.SendKeys(chromedp.ID("tf-key-name"), "Blue key"),
		chromedp.Click(chromedp.CSS(`button[data-webauthn="register"]`)))
	require.Len(t, b.savedCodes(), 10, "the first factor brings backup codes")
	require.Len(t, b.credentials(key), 1, "the authenticator holds the new credential")
	b.click(`form.tf-done button`, afterCodes)
	b.open("/2fa/settings/keys", `ul.tf-keys`)
	assert.Contains(t, b.text(`ul.tf-keys`), "Blue key")

	// Signing in asks for the key.
	b.open("/", onHome)
	b.signOut()
	b.signIn("alan", "turing")
	b.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="webauthn"]`)))
	b.checkPage()
	b.click(`button[data-webauthn="login"]`, onHome)
	assert.Contains(t, b.text(`li[data-method="webauthn"]`), "Blue key")
}

func TestBrowserNewBackupCodesAfterStepUp(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	old := app.Seed.BackupCodes

	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("backup_code")
	b.typeCode(old[0])
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))

	b.open("/2fa/settings/backup-codes", `body[data-page="settings_backup"]`)
	b.checkPage()
	assert.Contains(t, b.text("p.tf-status"), "9")
	// Making new codes needs a fresh verification.
	b.do(chromedp.Click(chromedp.CSS(`a.tf-button`)))
	require.True(t, b.throughStepUp(`body[data-page="settings_confirm"]`, func() { b.typeCode(app.totpCode(t)) }), "a step-up")
	b.checkPage()
	b.do(chromedp.Click(chromedp.CSS(`main form[method="post"] button`)))
	codes := b.savedCodes()
	require.Len(t, codes, 10)
	assert.NotContains(t, codes, old[1])
	b.click(`form.tf-done button`, afterCodes)

	// The old set is dead, the new one works.
	b.open("/", onHome)
	b.signOut()
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("backup_code")
	b.typeCode(old[1])
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.Contains(t, b.announced(), "didn't work")
	b.typeCode(codes[0])
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
}

func TestBrowserRemoveFactorAfterStepUp(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	b.signIn("ada", "lovelace")
	b.typeCode(app.totpCode(t))
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))

	// Removing it needs a fresh verification: by email this time.
	b.open("/2fa/settings/totp", `a.tf-action`)
	b.do(chromedp.Click(chromedp.CSS(`a.tf-action`)))
	require.True(t, b.throughStepUp(`body[data-page="settings_confirm"]`, func() {
		b.chooseMethod("email")
		b.do(chromedp.Click(chromedp.CSS(`form.tf-send button`)), chromedp.WaitVisible(chromedp.CSS(`p.tf-sent`)))
		code := b.outboxCode("Email", "ada@example.com", "")
		b.open("/2fa/?method=email", codeField)
		b.typeCode(code)
	}), "a step-up")
	b.checkPage()
	b.do(chromedp.Click(chromedp.CSS(`main form[method="post"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/2fa/settings/totp"] button`)))
	assert.NotEmpty(t, b.announced(), "the removal is announced")

	// Signing in no longer offers the app.
	b.open("/", onHome)
	assert.Empty(t, eval[int](b, `document.querySelectorAll('li[data-method="totp"]').length`))
	b.signOut()
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="email"]`)))
	assert.Zero(t, eval[int](b, `document.querySelectorAll('a[href*="method=totp"]').length`))
}

func TestBrowserAdminResetsAndIssuesRecoveryCode(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	admin := newTab(t, app)
	admin.signIn("admin", "admin")
	admin.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="email"]`)))
	code := admin.outboxCode("Email", "admin@example.com", "")
	admin.open("/2fa/", codeField)
	admin.typeCode(code)
	admin.do(chromedp.WaitVisible(chromedp.CSS(onHome)))

	admin.click(`a[href="/admin/2fa/policy"]`, `body[data-page="admin_policy"]`)
	admin.checkPage()
	admin.screenshot("admin-policy", 760, 1000, false)

	// Ada lost her phone: support resets her two-step verification, then
	// gives her a recovery code.
	admin.open("/admin/2fa/", "#tf-user")
	admin.checkPage()
	assert.Equal(t, "tf-user", admin.focused())
	admin.do(chromedp.SendKeys(chromedp.ID("tf-user"), app.App.users.byLogin["ada"].ID), chromedp.Submit(chromedp.ID("tf-user")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="admin_user"]`)))
	admin.checkPage()
	assert.Contains(t, admin.text(`li[data-method="totp"]`), "Authenticator app")
	admin.do(chromedp.SendKeys(chromedp.ID("tf-reason"), "Lost her phone; identity checked on a video call"),
		chromedp.Click(chromedp.CSS(`form.tf-reset input[name="identity_checked"]`)),
		chromedp.Click(chromedp.CSS(`form.tf-reset button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.tf-notice`)))
	assert.NotEmpty(t, admin.announced())
	assert.NotContains(t, admin.text(`li[data-method="totp"]`), "Authenticator app ", "no app left")
	admin.click(`form[action="/admin/2fa/user/recovery-code"] button`, `body[data-page="admin_code"]`)
	admin.checkPage()
	recovery := admin.text(`.tf-codes code`)
	require.NotEmpty(t, recovery)

	// The code works once.
	ada := newTab(t, app)
	ada.signIn("ada", "lovelace")
	ada.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	ada.chooseMethod("backup_code")
	ada.typeCode(recovery)
	ada.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	ada.signOut()
	ada.signIn("ada", "lovelace")
	ada.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	assert.Zero(t, eval[int](ada, `document.querySelectorAll('a[href*="method=backup_code"]').length`), "no code left to offer")
	ada.open("/2fa/?method=backup_code", onChallenge)
	assert.Equal(t, "email", eval[string](ada, `document.querySelector("section.tf-method").dataset.method`))
	assert.Equal(t, "400 method_not_offered", answer(ada, "backup_code", recovery), "the used code is refused")

	// The administrator pages are the administrator's only.
	ada.open("/2fa/?method=email", `form.tf-send button`)
	ada.click(`form.tf-send button`, `p.tf-sent`)
	code = ada.outboxCode("Email", "ada@example.com", "")
	ada.open("/2fa/?method=email", codeField)
	ada.typeCode(code)
	ada.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	ada.open("/admin/2fa/", alert)
	assert.Equal(t, "Only administrators can open this page.", ada.announced())
}

func TestBrowserAdminUnlocks(t *testing.T) {
	t.Parallel()
	app := startApp(t)

	// Someone with grace's password types ten wrong codes: she is locked
	// out.
	c := newClient(t)
	grace := url.Values{"user": {"grace"}, "password": {"hopper"}}
	wrong := func() string {
		m, ok := app.App.mailOutbox.Last("grace@example.com")
		require.True(t, ok)
		return wrongCode(sixDigits.FindString(m.Text))
	}
	var status int
	var body map[string]any
	for range 2 {
		status, body = c.post(app.URL, "/login", grace)
		require.Equal(t, http.StatusOK, status, "%v", body)
		for range 5 {
			status, body = c.post(app.URL, "/2fa/verify", url.Values{"method": {"email"}, "code": {wrong()}})
			require.NotEqual(t, http.StatusOK, status, "%v", body)
		}
	}
	status, body = c.post(app.URL, "/login", grace)
	require.Equal(t, http.StatusTooManyRequests, status, "%v", body)
	require.Equal(t, "locked", body["error"])

	admin := newTab(t, app)
	admin.signIn("admin", "admin")
	admin.do(chromedp.WaitVisible(chromedp.CSS(codeField)))
	code := admin.outboxCode("Email", "admin@example.com", "")
	admin.open("/2fa/", codeField)
	admin.typeCode(code)
	admin.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	admin.click(`a[href="/admin/2fa/user?id=u3"]`, `body[data-page="admin_user"]`)
	assert.Contains(t, admin.text(`p.tf-warn`), "Locked")
	admin.click(`form[action="/admin/2fa/user/unlock"] button`, `p.tf-notice`)
	assert.NotEmpty(t, admin.announced())

	status, body = c.post(app.URL, "/login", grace)
	require.Equal(t, http.StatusOK, status, "unlocked: %v", body)
	assert.Equal(t, "challenge", body["status"])
}
