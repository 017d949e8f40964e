package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive the app in headless Chromium as a person would: the
// login page, the challenge pages of twofactorhttp, the outbox, the
// settings and administrator pages. Each starts its own copy of the app
// through run, on 127.0.0.1:0 with a fresh data directory, and opens it at
// http://localhost:<port>, the origin security keys are bound to.

// answer posts a code to the challenge from the page, as its form would
// with JavaScript, and returns the status and error code of the answer.
func answer(b *tab, method, code string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`fetch("/2fa/verify", {method: "POST",
		headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
		body: new URLSearchParams({method: %q, code: %q})}).then(r => r.json().then(j => r.status + " " + (j.error || j.status)))`, method, code))
}

// wrongCode is a six-digit code that differs from code in every digit.
func wrongCode(code string) string {
	return strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, code)
}

func TestBrowserSignInWithAuthenticatorApp(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.checkPage()
	assert.Equal(t, "totp", eval[string](b, `document.querySelector("section.tf-method").dataset.method`), "the authenticator app comes first")
	assert.Equal(t, "tf-code", b.focused(), "the code field has the focus")

	// A wrong code is refused, and the refusal announced.
	code := app.totpCode(t)
	b.typeCode(wrongCode(code))
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.Contains(t, b.announced(), "didn't work")
	assert.Equal(t, "tf-code", b.focused(), "the code field has the focus again")
	b.checkPage()

	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Equal(t, "Welcome, Ada Lovelace", b.text("h1"))
	assert.Equal(t, "/", b.path())
}

func TestBrowserSignInWithEmailCode(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	// The administrator has email codes only: the first one is sent at
	// once, and the page says where.
	b.signIn("admin", "admin")
	b.do(chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="email"]`)))
	assert.Contains(t, b.announced(), "a***@example.com")
	assert.Equal(t, "tf-code", b.focused())
	code := b.outboxCode("Email", "admin@example.com", "")

	b.open("/2fa/", codeField)
	b.checkPage()
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Equal(t, "Welcome, Site Administrator", b.text("h1"))
}

func TestBrowserBackupCodeWorksOnce(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	require.NotEmpty(t, app.Seed.BackupCodes)
	code := app.Seed.BackupCodes[0]

	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("backup_code")
	b.checkPage()
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	// The home page names each method once, with what its label adds.
	row := b.text(`li[data-method="backup_code"]`)
	assert.True(t, strings.HasPrefix(row, "Backup codes 9 left"), row)
	assert.Equal(t, 1, strings.Count(row, "Backup codes"), row)
	assert.Equal(t, "No trusted devices.", b.text("#devices"))
	b.signOut()

	// The same code again is refused.
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("backup_code")
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.Contains(t, b.announced(), "didn't work")
	assert.Equal(t, "/2fa/verify", b.path())

	// Another one works.
	b.typeCode(app.Seed.BackupCodes[1])
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
}

func TestBrowserSMSAndTrustThisDevice(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	// Grace has email and SMS; the email code goes first. She picks SMS.
	b.signIn("grace", "hopper")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("sms")
	b.do(chromedp.Click(chromedp.CSS(`form.tf-send button`)), chromedp.WaitVisible(chromedp.CSS(`p.tf-sent`)))
	assert.Contains(t, b.announced(), "**43")
	code := b.outboxCode("SMS", app.Seed.Phone, "")

	b.open("/2fa/?method=sms", codeField)
	b.checkPage()
	label := b.text(`label.tf-check`)
	assert.Equal(t, "Trust this device for 30 days", label)
	b.do(chromedp.Click(chromedp.ID("tf-remember")))
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Equal(t, "1 trusted device.", b.text("#devices"))

	// Signed out, the password alone signs her in on this browser.
	b.signOut()
	b.signIn("grace", "hopper")
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	assert.Equal(t, "Welcome, Grace Hopper", b.text("h1"))

	// She revokes it on the trusted devices page, and is asked again.
	b.open("/2fa/settings/devices", `ul.tf-devices`)
	b.checkPage()
	assert.Contains(t, b.text(`li[aria-current="true"]`), "Chrome on Linux", "this device is marked")
	b.do(chromedp.Click(chromedp.CSS(`li[aria-current="true"] form button`)))
	b.throughStepUp(`p.tf-notice`, func() {
		b.chooseMethod("sms")
		b.click(`form.tf-send button`, `p.tf-sent`)
		code := b.outboxCode("SMS", app.Seed.Phone, code)
		b.open("/2fa/?method=sms", codeField)
		b.typeCode(code)
	})
	assert.NotEmpty(t, b.announced())
	assert.Zero(t, eval[int](b, `document.querySelectorAll("ul.tf-devices li").length`))
	b.open("/", onHome)
	b.signOut()
	b.signIn("grace", "hopper")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
}

func TestBrowserCancelEndsTheChallenge(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("email")
	b.do(chromedp.Click(chromedp.CSS(`form.tf-send button`)), chromedp.WaitVisible(chromedp.CSS(`p.tf-sent`)))
	code := b.outboxCode("Email", "ada@example.com", "")
	b.open("/2fa/?method=email", codeField)
	pending := b.cookie("tf_pending")
	require.NotNil(t, pending, "the pending sign-in's cookie")

	b.do(chromedp.Click(chromedp.CSS(`form.tf-cancel button`)), chromedp.WaitVisible(chromedp.CSS(onLogin)))
	assert.Equal(t, "/login", b.path())
	assert.Nil(t, b.cookie("tf_pending"), "cancel drops the pending cookie")

	// Even with its cookie put back, the cancelled challenge takes no
	// answer: its code died with it.
	b.setCookie(pending)
	assert.Equal(t, "410 challenge_ended", answer(b, "email", code))
	b.setCookie(pending) // the 410 dropped it again
	b.open("/2fa/?method=email", alert)
	assert.Contains(t, b.announced(), "expired or ended")

	// Nor does a new sign-in take it.
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.chooseMethod("email")
	b.do(chromedp.Click(chromedp.CSS(`form.tf-send button`)), chromedp.WaitVisible(chromedp.CSS(`p.tf-sent`)))
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.Contains(t, b.announced(), "didn't work")
}

// Someone who has ada's password fails the second step: ada is emailed
// that someone has her password, in the outbox, with nothing secret in it.
func TestBrowserFailedSecondStepIsReported(t *testing.T) {
	t.Parallel()
	app := startApp(t, "-notify-grace", "0s")
	b := newTab(t, app)

	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	code := app.totpCode(t)
	b.typeCode(wrongCode(code))
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))

	sel := `article.msg[data-kind="Email"][data-to="ada@example.com"]`
	var subjects, body string
	for range 50 {
		b.open("/outbox", "main h1")
		subjects = eval[string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(a => a.querySelector("p.muted") ? a.querySelector("p.muted").textContent : "").join("\n")`, sel))
		if strings.Contains(subjects, "did not pass the second step") {
			body = eval[string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(a => a.querySelector("pre").textContent).join("\n")`, sel))
			break
		}
	}
	require.Contains(t, subjects, "Someone signed in with your password but did not pass the second step")
	assert.Contains(t, body, "change your password")
	assert.NotContains(t, body, code)
	assert.NotContains(t, body, wrongCode(code))
}
