package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/storetest"
)

// What a person meets on the challenge's own pages: the lockout, the
// step-up, the code form, and the app's bar on each of them.

// barLinks are the texts of the app's bar: its links and buttons.
func barLinks(b *tab) string {
	b.t.Helper()
	return eval[string](b, `[...document.querySelectorAll("header.bar nav a, header.bar nav button")].map(e => e.textContent.trim()).join(", ")`)
}

const (
	signedInBar  = "Home, Security, Outbox, Sign out"
	signedOutBar = "Outbox"
	onLocked     = `body[data-page="locked"]`
)

// wrongAnswers gives n wrong authenticator codes to the pending
// challenge, as its form would with scripts.
func wrongAnswers(b *tab, n int) {
	b.t.Helper()
	for range n {
		require.Equal(b.t, "401 invalid_code", answer(b, "totp", "000000"))
	}
}

// A lockout says when it lifts, by the clock in the person's time zone
// and as a wait, that nothing works meanwhile, and offers the way back
// and the app's support line; the bar shows a signed-out person's links.
func TestBrowserLockoutPage(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	// Ten wrong answers in a row, over three sign-ins (a challenge takes
	// five), lock ada out; the eleventh, typed, meets the lockout.
	for _, n := range []int{4, 4, 2} {
		b.signIn("ada", "lovelace")
		b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
		wrongAnswers(b, n)
	}
	b.open("/2fa/", codeField)
	b.do(chromedp.SendKeys(chromedp.CSS(codeField), app.totpCode(t)), chromedp.Click(chromedp.CSS(`#tf-verify button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(onLocked)))
	b.checkPage()
	assert.Equal(t, "Too many wrong codes", b.text("h1"))
	assert.Equal(t, "For your security, you can't verify for 15 minutes.", b.announced())
	clock := b.text("time[data-local-time]")
	assert.NotContains(t, clock, "UTC", "the clock time is the browser's")
	want := eval[string](b, `new Date(document.querySelector("time").getAttribute("datetime")).toLocaleTimeString("en", {hour: "numeric", minute: "2-digit"})`)
	assert.Equal(t, want, clock)
	until, err := time.Parse(time.RFC3339, eval[string](b, `document.querySelector("time").getAttribute("datetime")`))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), until, time.Minute)
	body := b.text("main")
	assert.Contains(t, body, "not even a backup code")
	assert.Contains(t, body, "someone may know your password")
	assert.Zero(t, eval[int](b, `document.querySelectorAll("#tf-code, nav.tf-others").length`), "no code form, no other method")
	assert.Equal(t, "mailto:support@example.com", eval[string](b, `document.querySelector(".tf-support a").getAttribute("href")`))
	assert.Equal(t, signedOutBar, barLinks(b))

	// The way back: to sign in, where a new sign-in meets the lockout.
	b.click(`form.tf-cancel button`, onLogin)
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onLocked)))
	assert.Equal(t, signedOutBar, barLinks(b))
	b.click(`main a.tf-button`, onLogin)
}

// A step-up goes straight to the challenge: the authenticator app's form
// at once, or one click to send an email code; and the set-up that asked
// for it goes on after it. The bar keeps the signed-in person's links on
// the step-up's pages.
func TestBrowserStepUpGoesStraightToTheMethod(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	// Ada's step-up asks for her authenticator app's code at once.
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	first := app.totpCode(t)
	b.typeCode(first)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	b.open("/2fa/step-up?next=/", stepUpChallenge)
	b.checkPage()
	assert.Equal(t, "totp", eval[string](b, `document.querySelector("section.tf-method").dataset.method`))
	assert.Equal(t, "tf-code", b.focused())
	assert.Equal(t, "6-digit code from your authenticator app", b.text(`label[for="tf-code"]`))
	assert.Equal(t, signedInBar, barLinks(b))
	// A wrong code: the page again, the bar too.
	b.typeCode(wrongCode(first))
	b.do(chromedp.WaitVisible(chromedp.CSS(alert)))
	assert.Equal(t, signedInBar, barLinks(b))
	// Cancel goes back to the page she was on.
	b.click(`form.tf-cancel button`, onHome)

	// Grace sets up an authenticator app: the step-up shows her email
	// method's send button (nothing is sent until she asks), and after it
	// the set-up goes on with the QR code.
	g := newTab(t, app)
	g.signIn("grace", "hopper")
	g.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	code := g.outboxCode("Email", "grace@example.com", "")
	g.open("/2fa/", codeField)
	g.typeCode(code)
	g.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	g.open("/2fa/settings/totp", `body[data-page="settings_totp"]`)
	g.click(`main form[action="/2fa/settings/totp"] button[type="submit"]`, stepUpChallenge)
	g.checkPage()
	assert.Equal(t, "email", eval[string](g, `document.querySelector("section.tf-method").dataset.method`))
	assert.Equal(t, signedInBar, barLinks(g))
	g.click(`form.tf-send button`, `p.tf-sent`)
	code = g.outboxCode("Email", "grace@example.com", code)
	g.open("/2fa/?method=email", codeField)
	g.typeCode(code)
	g.do(chromedp.WaitVisible(chromedp.CSS(`#tf-secret`)))
	assert.Equal(t, "/2fa/settings/totp", g.path())
	assert.Equal(t, signedInBar, barLinks(g))
}

// The code field does not submit itself while the "trust this device"
// box waits to be ticked: a person who types the code first can still
// tick it, then verify.
func TestBrowserTrustBoxBeforeSubmit(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	assert.Equal(t, "6-digit code from your authenticator app", b.text(`label[for="tf-code"]`))
	eval[bool](b, `(window.tfSubmitted = false, document.addEventListener("submit", () => { window.tfSubmitted = true }, true), true)`)
	b.do(chromedp.SendKeys(chromedp.CSS(codeField), app.totpCode(t)))
	assert.False(t, eval[bool](b, `window.tfSubmitted`), "the form waited")
	assert.Equal(t, "/2fa/", b.path())
	b.do(chromedp.Click(chromedp.ID("tf-remember")))
	b.click(`#tf-verify button[type="submit"]`, onHome)
	assert.Equal(t, "1 trusted device.", b.text("#devices"))
}

// The bar shows a signed-in person's links on the pages of a challenge
// that ended and on a message page, and a signed-out person's on them
// before the sign-in completes.
func TestBrowserBarOnEndedAndMessagePages(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	// Signed out: an ended sign-in, a page that does not exist.
	b.open("/2fa/nothing-here", "main h1")
	assert.Equal(t, signedOutBar, barLinks(b))
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	pending := b.cookie("tf_pending")
	require.NotNil(t, pending)
	b.do(chromedp.Click(chromedp.CSS(`form.tf-cancel button`)), chromedp.WaitVisible(chromedp.CSS(onLogin)))
	b.setCookie(pending)
	b.open("/2fa/?method=totp", `body[data-page="ended"]`)
	assert.Equal(t, signedOutBar, barLinks(b))

	// Signed in: the same pages.
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.typeCode(app.totpCode(t))
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
	b.open("/2fa/nothing-here", `body[data-page="message"]`)
	assert.Equal(t, signedInBar, barLinks(b))
	b.open("/2fa/step-up?next=/", stepUpChallenge)
	stepUp := b.cookie("tf_pending")
	b.do(chromedp.Click(chromedp.CSS(`form.tf-cancel button`)), chromedp.WaitVisible(chromedp.CSS(onHome)))
	b.setCookie(stepUp)
	b.open("/2fa/?method=totp", `body[data-page="ended"]`)
	assert.Equal(t, signedInBar, barLinks(b))
}

// Without scripts, the resend button is disabled while the page says to
// wait, and a reload after the wait enables it; with scripts, the
// countdown enables it in place.
func TestBrowserResendWaitWithoutScripts(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Now())
	app := startAppWithClock(t, clock)
	b := newTab(t, app)
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	cancel()
	require.NoError(t, err)

	// The administrator's email code is sent as the challenge begins.
	b.open("/login", "#user")
	b.do(chromedp.SendKeys(chromedp.ID("user"), "admin"), chromedp.SendKeys(chromedp.ID("password"), "admin"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.tf-method[data-method="email"]`)))
	assert.True(t, eval[bool](b, `document.querySelector("#tf-send").disabled`), "disabled during the wait")
	assert.Equal(t, "You can ask for a new code in 60 seconds.", b.text("p.tf-wait"))

	clock.Advance(61 * time.Second)
	b.open("/2fa/?method=email", "#tf-send")
	assert.False(t, eval[bool](b, `document.querySelector("#tf-send").disabled`), "enabled after the wait")
	assert.Zero(t, eval[int](b, `document.querySelectorAll("p.tf-wait").length`))
	// The old page has a p.tf-sent too: wait for the new page's disabled
	// button, which the new wait brings.
	b.click("#tf-send", `#tf-send[disabled]`)
	assert.Equal(t, "You can ask for a new code in 60 seconds.", b.text("p.tf-wait"), "a new wait")
}
