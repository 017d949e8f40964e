package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
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
	// Off, with the way to turn it on first; alan has no email address, so
	// neither email codes nor security emails are offered.
	assert.Equal(t, "Two-step verification is off", b.text(`section[data-section="status"] .tf-status`))
	assert.Equal(t, "Set up a method", b.text(`section[data-section="status"] a.tf-button`))
	assert.Zero(t, eval[int](b, `document.querySelectorAll('[data-method="email"], [data-section="notifications"]').length`))
	b.click(`li[data-method="totp"] a.tf-row-action`, `body[data-page="settings_totp"]`)
	b.checkPage()
	b.click(`form[action="/2fa/settings/totp"] button`, `.tf-qr img`)
	b.checkPage()
	assert.True(t, eval[bool](b, `document.querySelector(".tf-qr img").src.startsWith("data:image/png")`), "the QR code is an inline image")
	assert.NotEmpty(t, eval[string](b, `document.querySelector(".tf-qr img").alt`))
	secret := strings.Join(strings.Fields(b.text("#tf-secret")), " ")
	assert.Regexp(t, regexp.MustCompile(`^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`), secret, "the secret in groups of four")

	// "Next", then the code the app would show.
	b.click(`a.tf-button[href$="step=code"]`, codeField)
	assert.Equal(t, "tf-code", b.focused())
	code := app.codeFor(t, secret)
	b.typeCode(wrongCode(code))
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.NotEmpty(t, b.announced())
	b.typeCode(code)

	// The first factor brings backup codes, shown once.
	codes := b.savedCodes()
	require.Len(t, codes, 10)
	b.click(`form.tf-done button`, onSettings)
	assert.Equal(t, "Backup codes saved. Keep them somewhere safe: each one works once.", b.announced())
	assert.Equal(t, "Two-step verification is on", b.text(`section[data-section="status"] .tf-status`))
	row := b.text(`li[data-method="totp"] .tf-row-text`)
	assert.Equal(t, 1, strings.Count(row, "Authenticator app"), "the name once: %q", row)
	assert.Contains(t, row, "On · Added")
	assert.Contains(t, b.text(`li[data-method="backup_code"]`), "10 backup codes left.")

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
		ready(addSecurityKey), chromedp.Click(chromedp.CSS(addSecurityKey)))
	require.Len(t, b.savedCodes(), 10, "the first factor brings backup codes")
	require.Len(t, b.credentials(key), 1, "the authenticator holds the new credential")
	b.click(`form.tf-done button`, afterCodes)
	b.open("/2fa/settings/keys", `ul.tf-enrollments`)
	assert.Contains(t, b.text(`ul.tf-enrollments`), "Blue key")

	// Rename is a button that opens its form; the form is closed until then.
	assert.False(t, eval[bool](b, `document.querySelector("#tf-rename-0").checkVisibility()`), "no rename field open at first")
	// Both actions sit on the key's row, side by side at its right end.
	b.do(chromedp.EmulateViewport(1280, 800))
	assert.True(t, eval[bool](b, `(() => {
		const row = document.querySelector("ul.tf-enrollments li.tf-row").getBoundingClientRect();
		const ren = document.querySelector("details.tf-rename summary").getBoundingClientRect();
		const rem = document.querySelector("form.tf-remove button").getBoundingClientRect();
		return Math.abs(ren.top - rem.top) < 2 && ren.right < rem.left && Math.abs(rem.right - row.right) < 2;
	})()`), "Rename and Remove side by side, at the row's right end")
	b.do(chromedp.ResetViewport())
	rename := func(then string) {
		b.click(`details.tf-rename summary`, `#tf-rename-0`)
		assert.Equal(t, "Blue key", eval[string](b, `document.querySelector("#tf-rename-0").value`))
		eval[bool](b, `(document.querySelector("#tf-rename-0").value = "") === ""`)
		b.do(chromedp.SendKeys(chromedp.ID("tf-rename-0"), "Spare key"),
			chromedp.Click(chromedp.CSS(`details.tf-rename button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(then)))
	}
	// Renaming asks for a fresh step-up, answered with the key; then the
	// rename is done again.
	rename(`p.tf-notice, ` + stepUpForm + ", " + stepUpChallenge)
	if b.throughStepUp(`ul.tf-enrollments`, func() { b.click(`button[data-webauthn="login"]`, `ul.tf-enrollments`) }) {
		rename(`p.tf-notice`)
	}
	assert.Equal(t, "Security key renamed.", b.announced())
	assert.Contains(t, b.text(`ul.tf-enrollments`), "Spare key")
	// Remove is a button, which asks first.
	assert.Equal(t, "BUTTON", eval[string](b, `document.querySelector("form.tf-remove button").tagName`))

	// Signing in asks for the key.
	b.open("/", onHome)
	b.signOut()
	b.signIn("alan", "turing")
	b.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="webauthn"]`)))
	b.checkPage()
	b.click(`button[data-webauthn="login"]`, onHome)
	assert.Contains(t, b.text(`li[data-method="webauthn"]`), "Spare key")
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

	const note = "you'll confirm it's you before this change"
	b.open("/2fa/settings/phone", "#tf-number")
	assert.Contains(t, b.text("main"), note, "a step-up will be needed")
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
	b.open("/2fa/settings/phone", "#tf-number")
	assert.NotContains(t, b.text("main"), note, "stepped up: no step-up will be needed")

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
	b.open("/2fa/settings/totp", `form.tf-remove button`)
	b.do(chromedp.Click(chromedp.CSS(`form.tf-remove button`)))
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

// call runs a DevTools command on the tab within stepTimeout.
func (b *tab) call(f func(ctx context.Context) error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	require.NoError(b.t, f(ctx))
}

// New backup codes without JavaScript: no Print button that would do
// nothing; on paper, no navigation bar and no buttons, but the product,
// the account and the date above the codes. "I saved my codes" says so.
func TestBrowserBackupCodesOnPaper(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	b.call(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
	b.open("/2fa/settings/backup-codes", `a.tf-button`)
	b.click(`a.tf-button`, `body[data-page="settings_confirm"]`)
	b.click(`main form[method="post"] button`, onCodes)
	b.checkPage()
	assert.False(t, eval[bool](b, `document.querySelector("button[data-print]").offsetParent !== null`), "no Print button without a script")
	assert.True(t, eval[bool](b, `document.querySelector("a[download]").offsetParent !== null`), "the download works without one")
	head := b.text(".tf-codes-for")
	assert.Contains(t, head, "Acme")
	assert.Contains(t, head, "Account: alan")
	assert.Regexp(t, regexp.MustCompile(`Generated \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} UTC`), head)

	b.call(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return err
	})
	shown := func(sel string) bool {
		return eval[bool](b, `Array.from(document.querySelectorAll(`+"`"+sel+"`"+`)).some(e => e.offsetParent !== null)`)
	}
	assert.False(t, shown("header, nav"), "the host's navigation is not printed")
	assert.False(t, shown("main button, main a.tf-button"), "nor the buttons")
	assert.True(t, shown(".tf-codes-for") && shown("#tf-codes"), "the codes and what they are for are")
	b.call(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		return err
	})

	b.click(`form.tf-done button`, onSettings)
	assert.Equal(t, "Backup codes saved. Keep them somewhere safe: each one works once.", b.text("p.tf-notice"))
}

// On a phone, the authenticator app's set-up says that tapping the QR
// code opens the app, with a button that does the same, and the set-up
// key wraps between whole groups of four, within the card.
func TestBrowserTOTPSetUpOnPhone(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	b.open("/2fa/settings/totp", `form[action="/2fa/settings/totp"] button`)
	b.click(`form[action="/2fa/settings/totp"] button`, `.tf-qr img`)
	assert.False(t, eval[bool](b, `document.querySelector(".tf-on-phone").offsetParent !== null`), "on a laptop, the QR code is to be scanned")

	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
	defer b.do(chromedp.ResetViewport())
	eval[bool](b, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	assert.Contains(t, b.text("#tf-tap"), "Tap the QR code")
	assert.True(t, eval[bool](b, `document.querySelector(".tf-on-phone a.tf-button").href.startsWith("otpauth://totp/")`))
	assert.True(t, eval[bool](b, `document.querySelector(".tf-qr a").href.startsWith("otpauth://totp/")`))

	groups := eval[[]map[string]float64](b, `Array.from(document.querySelectorAll("#tf-secret span")).map(s => {
		const r = s.getBoundingClientRect(); return {top: r.top, height: r.height, right: r.right, rects: s.getClientRects().length};
	})`)
	require.Len(t, groups, 8, "a 160-bit key: eight groups")
	lines := map[float64]int{}
	card := eval[float64](b, `document.querySelector("main.tf-card").getBoundingClientRect().right`)
	for _, g := range groups {
		assert.Equal(t, float64(1), g["rects"], "a group is never split")
		assert.LessOrEqual(t, g["right"], card, "the key stays inside the card")
		lines[g["top"]]++
	}
	assert.LessOrEqual(t, len(lines), 2, "two lines at most: %v", lines)
	for _, n := range lines {
		assert.GreaterOrEqual(t, n, 4, "whole groups of four per line: %v", lines)
	}
}

// Ada adds a phone: the number waits for her step-up, and after it the
// page offers to send its code, masked, with one click; nothing is sent
// before that click.
func TestBrowserAddPhoneGoesOnAfterStepUp(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.typeCode(app.totpCode(t))
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))

	b.open("/2fa/settings/phone", "#tf-number")
	b.chooseRegion("US")
	b.do(chromedp.SendKeys(chromedp.ID("tf-number"), "(202) 555-0175"),
		chromedp.Click(chromedp.CSS(`form.tf-phone button`)), chromedp.WaitVisible(chromedp.CSS(stepUpChallenge)))
	// Her app's codes are used up for this half-minute: the step-up by
	// email.
	b.chooseMethod("email")
	b.click(`form.tf-send button`, `p.tf-sent`)
	mailed := b.outboxCode("Email", "ada@example.com", "")
	b.open("/2fa/?method=email", codeField)
	b.enterCode(mailed)
	b.do(chromedp.WaitVisible(chromedp.CSS(heldPhone)))
	b.checkPage()
	assert.Contains(t, b.text("main"), "Send a code to +1 *** *** **75 to finish adding it.")
	assert.NotContains(t, b.text("main"), "confirm it's you")
	assert.NotContains(t, eval[string](b, `document.documentElement.outerHTML`), "555-0175", "the number is not on the page")

	b.open("/outbox", "main h1")
	assert.Zero(t, eval[int](b, `document.querySelectorAll('article.msg[data-to="+12025550175"]').length`), "nothing sent yet")
	b.open("/2fa/settings/phone", heldPhone)
	b.click(heldPhone, codeField)
	code := b.outboxCode("SMS", "+12025550175", "")
	b.open("/2fa/settings/phone", codeField)
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(`p.tf-notice`)))
	b.open("/2fa/settings/", `li[data-method="sms"]`)
	assert.Contains(t, b.text(`li[data-method="sms"]`), "**75")
}
