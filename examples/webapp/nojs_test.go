package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/storetest"
)

// The pages work without JavaScript: every flow that does not need it
// (all but security keys) is completed here in a tab whose scripts are
// off, by typing and pressing buttons only. JavaScript adds auto-submit,
// countdowns, copy buttons, WebOTP and WebAuthn; nothing else depends on
// it. The tests' own look at the page (eval) goes through the DevTools
// protocol, which a page's settings do not stop.

// newNoJSTab is a tab whose pages run no script, checked: a page parsed
// with scripting off shows what <noscript> holds.
func newNoJSTab(t *testing.T, app *testApp) *tab {
	t.Helper()
	b := newTab(t, app)
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	require.NoError(t, err)
	b.open("/login", "#user")
	require.True(t, eval[bool](b, `(() => {
		const d = document.createElement("div");
		d.innerHTML = "<noscript><p>off</p></noscript>";
		return d.querySelector("noscript p") !== null;
	})()`), "scripts are off in this tab")
	return b
}

// submitCode types code into the code field and presses the form's
// button, as a person without JavaScript does.
func (b *tab) submitCode(code string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(codeField)), chromedp.SendKeys(chromedp.CSS(codeField), code),
		chromedp.Click(chromedp.CSS(`form:has(#tf-code) button[type="submit"]`)))
}

// signInNoJS signs in on the login page by typing and pressing Sign in.
func (b *tab) signInNoJS(user, password string) {
	b.t.Helper()
	b.open("/login", "#user")
	b.do(chromedp.SendKeys(chromedp.ID("user"), user), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
}

// shownCodes awaits the page of new backup codes and reads them.
func (b *tab) shownCodes() []string {
	b.t.Helper()
	b.await(onCodes)
	codes := eval[[]string](b, `Array.from(document.querySelectorAll("#tf-codes code")).map(c => c.textContent)`)
	require.NotEmpty(b.t, codes, "backup codes shown")
	return codes
}

// doneWithCodes leaves the page of new backup codes, once they are shown.
func (b *tab) doneWithCodes() []string {
	b.t.Helper()
	codes := b.shownCodes()
	b.press(`form.tf-done button`, afterCodes)
	return codes
}

// Ada signs in with her authenticator app and has this browser trusted;
// the password alone then signs her in, until she revokes the device
// (after a step-up by backup code).
func TestNoJSAuthenticatorAppTrustAndRevoke(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newNoJSTab(t, app)

	b.signInNoJS("ada", "lovelace")
	b.await(`section.tf-method[data-method="totp"]`)
	b.do(chromedp.Click(chromedp.ID("tf-remember")))
	b.submitCode(app.totpCode(t))
	b.await(onHome)
	assert.Equal(t, "1 trusted device.", b.text("#devices"))

	b.signOut()
	b.signInNoJS("ada", "lovelace")
	b.await(onHome)

	b.open("/2fa/settings/devices", `ul.tf-devices`)
	b.do(chromedp.Click(chromedp.CSS(`ul.tf-devices form button`)))
	b.throughStepUp(`body[data-page="settings_devices"] p.tf-notice`, func() {
		b.chooseMethod("backup_code")
		b.submitCode(app.Seed.BackupCodes[0])
	})
	assert.Zero(t, eval[int](b, `document.querySelectorAll("ul.tf-devices li").length`))
	b.signOut()
	b.signInNoJS("ada", "lovelace")
	b.await(onChallenge)
}

// Ada picks email: she asks for a code, waits out the resend delay (the
// page says how long; without a countdown she reloads it), asks for a new
// one and signs in with it. The app's clock is moved, not waited for.
func TestNoJSEmailCodeAndResend(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Now())
	app := startAppWithClock(t, clock)
	b := newNoJSTab(t, app)

	b.signInNoJS("ada", "lovelace")
	b.await(onChallenge)
	b.chooseMethod("email")
	b.press(`form.tf-send button`, `p.tf-sent`)
	first := b.outboxCode("Email", "ada@example.com", "")
	b.open("/2fa/?method=email", `#tf-send`)
	assert.True(t, eval[bool](b, `document.querySelector("#tf-send").disabled`), "no new code before the wait is over")
	assert.Contains(t, b.text(`form.tf-send`), "Reload this page once the wait is over.", "without scripts the page says how the button comes back")

	clock.Advance(61 * time.Second)
	b.open("/2fa/?method=email", `#tf-send:not([disabled])`)
	// Sent: the wait starts again.
	b.press(`#tf-send`, `#tf-send[disabled]`)
	second := b.outboxCode("Email", "ada@example.com", first)
	b.open("/2fa/?method=email", codeField)
	b.submitCode(second)
	b.await(onHome)
}

// Grace signs in with a code sent by SMS.
func TestNoJSSMS(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newNoJSTab(t, app)

	b.signInNoJS("grace", "hopper")
	b.await(onChallenge)
	b.chooseMethod("sms")
	b.press(`form.tf-send button`, `p.tf-sent`)
	code := b.outboxCode("SMS", app.Seed.Phone, "")
	b.open("/2fa/?method=sms", codeField)
	b.submitCode(code)
	b.await(onHome)
}

// Ada signs in with a backup code.
func TestNoJSBackupCode(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newNoJSTab(t, app)

	b.signInNoJS("ada", "lovelace")
	b.await(onChallenge)
	b.chooseMethod("backup_code")
	b.submitCode(app.Seed.BackupCodes[0])
	b.await(onHome)
}

// Alan sets up an authenticator app (the key shown, no copy button
// without a script), gets his first backup codes, makes new ones, and
// removes the app again.
func TestNoJSSettingsAuthenticatorAppCodesAndRemove(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newNoJSTab(t, app)
	b.signInNoJS("alan", "turing")
	b.await(onHome)

	b.open("/2fa/settings/totp", `form[action="/2fa/settings/totp"] button`)
	b.press(`form[action="/2fa/settings/totp"] button`, `#tf-secret`)
	secret := b.text("#tf-secret")
	assert.False(t, eval[bool](b, `(() => { const c = document.querySelector("button[data-copy]"); return !!c && !c.hidden; })()`),
		"the copy button needs a script: hidden without one")
	b.press(`main a.tf-button:not([href^="otpauth:"])`, codeField)
	b.submitCode(app.codeFor(t, secret))
	codes := b.doneWithCodes()

	// New backup codes, after a step-up with one of the first ones.
	b.open("/2fa/settings/backup-codes", `body[data-page="settings_backup"] main a.tf-button`)
	b.do(chromedp.Click(chromedp.CSS(`main a.tf-button`)))
	b.throughStepUp(`body[data-page="settings_confirm"]`, func() {
		b.chooseMethod("backup_code")
		b.submitCode(codes[0])
	})
	b.do(chromedp.Click(chromedp.CSS(`main form[method="post"] button`)))
	fresh := b.doneWithCodes()
	assert.NotContains(t, fresh, codes[1])

	// Removing the app.
	b.open("/2fa/settings/totp", removeButton)
	b.do(chromedp.Click(chromedp.CSS(removeButton)))
	b.throughStepUp(`body[data-page="settings_confirm"]`, func() {
		b.chooseMethod("backup_code")
		b.submitCode(fresh[0])
	})
	b.do(chromedp.Click(chromedp.CSS(`main form[method="post"] button`)))
	b.await(`form[action="/2fa/settings/totp"] button`)
	assert.Zero(t, eval[int](b, `document.querySelectorAll('`+enrolled+`').length`), "no app left")
}

// Alan adds a phone number: a code by SMS confirms it.
func TestNoJSAddPhone(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newNoJSTab(t, app)
	b.signInNoJS("alan", "turing")
	b.await(onHome)

	b.open("/2fa/settings/phone", "#tf-number")
	b.do(chromedp.SetValue(chromedp.ID("tf-region"), "US"), chromedp.SendKeys(chromedp.ID("tf-number"), "(202) 555-0175"),
		chromedp.Click(chromedp.CSS(`form.tf-phone button`)))
	b.await(codeField)
	code := b.outboxCode("SMS", "+12025550175", "")
	b.open("/2fa/settings/phone", codeField)
	b.submitCode(code)
	b.doneWithCodes()
	b.open("/2fa/settings/phone", enrolled)
	assert.Contains(t, b.text(enrolled), "75")
}

// The administrator lifts grace's lockout, then resets ada's two-step
// verification.
func TestNoJSAdminUnlockAndReset(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	lockOutUser(t, app, "grace", "hopper")
	b := newNoJSTab(t, app)
	b.signInNoJS("admin", "admin")
	b.await(codeField)
	code := b.outboxCode("Email", "admin@example.com", "")
	b.open("/2fa/", codeField)
	b.submitCode(code)
	b.await(onHome)

	b.open("/admin/2fa/user?id="+url.QueryEscape(app.App.users.byLogin["grace"].ID), `form[action="/admin/2fa/user/unlock"] button`)
	b.press(`form[action="/admin/2fa/user/unlock"] button`, `p.tf-notice`)
	status, body := newClient(t).post(app.URL, "/login", url.Values{"user": {"grace"}, "password": {"hopper"}})
	require.Equal(t, http.StatusOK, status, "unlocked: %v", body)

	b.open("/admin/2fa/user?id="+url.QueryEscape(app.App.users.byLogin["ada"].ID), `form.tf-reset`)
	b.do(chromedp.SendKeys(chromedp.ID("tf-reason"), "Lost her phone; identity checked on a video call"),
		chromedp.Click(chromedp.CSS(`form.tf-reset input[name="identity_checked"]`)),
		chromedp.Click(chromedp.CSS(`form.tf-reset button`)))
	b.await(`p.tf-notice`)
	assert.Zero(t, eval[int](b, `document.querySelectorAll('li[data-method="totp"] .tf-on, ul[data-method="totp"] li').length`))
}

// Security keys need JavaScript; without it, the pages say so: the page
// to add one, and the challenge of a user who has one.
func TestNoJSSecurityKeysSayWhy(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newNoJSTab(t, app)
	b.signInNoJS("alan", "turing")
	b.await(onHome)
	b.open("/2fa/settings/keys", `main noscript p`)
	assert.NotEmpty(t, b.text(`main noscript p`), "the page says why adding a key needs a script")

	// A key added with scripts on, in another browser.
	js := newTab(t, app)
	js.signInWithoutFactor()
	js.addAuthenticator()
	js.open("/2fa/settings/keys", "#tf-key-name")
	js.do(chromedp.SendKeys(chromedp.ID("tf-key-name"), "Blue key"),
		ready(addSecurityKey), chromedp.Click(chromedp.CSS(addSecurityKey)))
	js.await(onCodes + `, ` + enrolled)

	b.open("/", onHome)
	b.signOut()
	b.signInNoJS("alan", "turing")
	b.await(`section.tf-method[data-method="webauthn"] noscript p`)
	assert.NotEmpty(t, b.text(`section.tf-method[data-method="webauthn"] noscript p`), "the challenge says why the key needs a script")
}

// startAppWithClock starts the app as run does, on a clock the test moves.
func startAppWithClock(t *testing.T, clock *storetest.Clock) *testApp {
	t.Helper()
	data := t.TempDir()
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-data", data, "-passkey-offer=false"}, io.Discard)
	require.NoError(t, err)
	cfg.now = clock.Now
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{ln}
	if ln6, err := net.Listen("tcp", "[::1]:"+strconv.Itoa(port)); err == nil {
		lns = append(lns, ln6) // browsers may try ::1 for localhost first
	}
	out := &syncBuffer{}
	origin := "http://localhost:" + strconv.Itoa(port)
	a, err := newApp(cfg, origin, out)
	require.NoError(t, err)
	seed, err := a.seed(context.Background())
	require.NoError(t, err)
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	for _, ln := range lns {
		go func() { _ = srv.Serve(ln) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		a.close(ctx)
		if t.Failed() {
			t.Logf("the app's output:\n%s", out)
		}
	})
	return &testApp{started: started{App: a, URL: origin, Addr: ln.Addr().String(), Seed: seed}, out: out, data: data,
		steps: map[string]int64{seed.TOTPSecret: seed.TOTPStep}}
}
