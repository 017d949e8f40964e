package twofactorhttp_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// lockBob signs bob in and gives wrong codes until he is locked out; the
// browser is left on his pending challenge.
func lockBob(t *testing.T, e *env) *browser {
	t.Helper()
	b := e.browser()
	b.login("bob", "")
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}}).Code)
	}
	return b
}

func lockedEnv(t *testing.T, layer func(*twofactorhttp.Config)) *env {
	return newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 3 }, layer: layer})
}

// The lockout page says when it lifts (the clock time and the wait),
// that no method works meanwhile (the lockout covers them all, backup
// codes included, so none is offered), what to do if it was not them,
// and the way back; the host's help line when it set one. No code form.
func TestLockoutPage(t *testing.T) {
	e := lockedEnv(t, func(c *twofactorhttp.Config) {
		c.Support = twofactorhttp.Link{Text: "Still locked out? Contact support.", URL: "mailto:help@example.com"}
	})
	b := lockBob(t, e)
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "900", w.Header().Get("Retry-After"))
	body := w.Body.String()
	page := html.UnescapeString(body)
	assert.Contains(t, page, "<h1>Too many wrong codes</h1>")
	assert.Contains(t, page, "For your security, you can't verify for 15 minutes.")
	// 09:00 UTC plus the wait: the script shows it in local time.
	assert.Contains(t, page, `You can try again at <time datetime="2026-03-02T09:15:00Z" data-local-time>09:15 UTC</time>.`)
	assert.Contains(t, page, "not even a backup code")
	assert.Contains(t, page, "someone may know your password")
	assert.Contains(t, body, `<form method="post" action="/2fa/cancel" class="tf-cancel">`)
	assert.Contains(t, page, "Back to sign in")
	assert.Contains(t, body, `<a href="mailto:help@example.com">Still locked out? Contact support.</a>`)
	assert.NotContains(t, body, `name="code"`, "no code form while every code is refused")
	assert.NotContains(t, body, "tf-others", "no other method: the lockout covers them all")

	// The way back ends the challenge and goes to the login page.
	requireRedirect(t, b.post("/2fa/cancel", nil), "/login")
	assert.Empty(t, b.challengeID())

	// A new sign-in meanwhile gets the same page, with a link back (no
	// challenge to end).
	w = e.browser().login("bob", "")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Contains(t, w.Body.String(), `<a class="tf-button" href="/login">Back to sign in</a>`)
	assert.Contains(t, w.Body.String(), "help@example.com")

	// JSON keeps its shape.
	api := e.api()
	m := requireError(t, api.post("/login", url.Values{"user": {"bob"}, "password": {"pw"}}), http.StatusTooManyRequests, twofactorhttp.CodeLocked)
	assert.EqualValues(t, 900, m["retry_after"])
	assert.Len(t, m, 3, "error, message, retry_after: %v", m)
}

// Without Config.Support the lockout page has no help line; a step-up
// lockout goes back to the page it was asked from, and does not speak
// of someone else's sign-in.
func TestLockoutPageStepUp(t *testing.T) {
	e := lockedEnv(t, nil)
	lockBob(t, e)
	b := e.session("bob")
	b.header.Set("Sec-Fetch-Site", "same-origin")
	b.header.Set("Referer", "https://example.com/account?tab=keys")
	w := b.get("/2fa/step-up?next=%2Fdanger")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	page := html.UnescapeString(w.Body.String())
	assert.Contains(t, page, "For your security, you can't verify for 15 minutes.")
	assert.Contains(t, page, `<a class="tf-button" href="/account?tab=keys">Go back</a>`)
	assert.NotContains(t, page, "someone may know your password")
	assert.NotContains(t, page, "tf-support")
	assert.Empty(t, b.challengeID())
}

// A same-site GET of the step-up page goes straight to the challenge,
// without sending anything; a reload takes up the same challenge; a
// cross-site GET still gets the page with a Continue button.
func TestStepUpGoesStraightToTheChallenge(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.session("bob")
	b.header.Set("Sec-Fetch-Site", "same-origin")
	b.header.Set("Referer", "https://example.com/account")
	requireRedirect(t, b.get("/2fa/step-up?next=%2Fdanger"), "/2fa/")
	id := b.challengeID()
	require.NotEmpty(t, id)
	page := b.get("/2fa/").Body.String()
	assert.Contains(t, page, `data-method="totp"`)
	assert.Contains(t, page, `<label for="tf-code">6-digit code from your authenticator app</label>`)

	requireRedirect(t, b.get("/2fa/step-up?next=%2Fdanger"), "/2fa/")
	assert.Equal(t, id, b.challengeID(), "a reload takes up the pending step-up")

	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/danger")
	assert.Equal(t, "danger zone of bob", b.get("/danger").Body.String())

	// Alice's first method sends a code: the page shows its send button,
	// and the GET sent nothing.
	a := e.session("alice")
	a.header.Set("Sec-Fetch-Site", "none")
	requireRedirect(t, a.get("/2fa/step-up?next=%2Fdanger"), "/2fa/")
	page = a.get("/2fa/").Body.String()
	assert.Contains(t, page, `data-method="email"`)
	assert.Contains(t, page, `<form method="post" action="/2fa/send" class="tf-send">`)
	assert.EqualValues(t, 0, e.email.sends.Load()+e.sms.sends.Load(), "a GET sends no code")

	// From another site: the page that asks, and no challenge.
	c := e.session("bob")
	c.header.Set("Sec-Fetch-Site", "cross-site")
	w := c.get("/2fa/step-up?next=%2Fdanger")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `<form method="post" action="/2fa/step-up">`)
	assert.Empty(t, c.challengeID())
}

// Cancelling a step-up goes back to the page it was asked from, not to
// the page that asked for it (which would ask again).
func TestStepUpCancelGoesBack(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.session("bob")
	b.header.Set("Sec-Fetch-Site", "same-origin")
	b.header.Set("Referer", "https://example.com/account")
	requireRedirect(t, b.get("/danger"), "/2fa/step-up?next=%2Fdanger")
	requireRedirect(t, b.get("/2fa/step-up?next=%2Fdanger"), "/2fa/")
	b.header.Set("Referer", "https://example.com/2fa/")
	requireRedirect(t, b.post("/2fa/cancel", nil), "/account")

	// A Referer of another site is no way back.
	b.header.Set("Referer", "https://evil.example/account")
	requireRedirect(t, b.get("/2fa/step-up?next=%2Fdanger"), "/2fa/")
	requireRedirect(t, b.post("/2fa/cancel", nil), "/")
}

// A first set-up refused for a step-up goes on after it: the method's
// page shows the set-up (the QR code and secret), not its button again.
func TestSetUpGoesOnAfterStepUp(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/step-up?next=%2F2fa%2Fsettings%2Ftotp")
	s.stepUp(b, "/2fa/settings/totp")
	w := b.get("/2fa/settings/totp")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `id="tf-secret"`, "the set-up's secret and QR code")
	require.Contains(t, w.Body.String(), `otpauth://totp/`)
}

// Cancelling the step-up of a set-up drops the set-up, so its page does
// not ask again.
func TestSetUpStepUpCancelled(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	b.header.Set("Referer", "https://example.com/2fa/settings/totp")
	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/step-up?next=%2F2fa%2Fsettings%2Ftotp")
	requireRedirect(t, b.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/totp"}}), "/2fa/")
	requireRedirect(t, b.post("/2fa/cancel", nil), "/2fa/settings/totp")
	w := b.get("/2fa/settings/totp")
	require.Equal(t, http.StatusOK, w.Code)
	assert.NotContains(t, w.Body.String(), "tf-secret")
}

// The challenge page labels the authenticator app's field as a person
// expects, and the security key's button says what to do.
func TestChallengeLabels(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("alice", "")
	page := b.get("/2fa/?method=totp").Body.String()
	assert.Contains(t, page, `<label for="tf-code">6-digit code from your authenticator app</label>`)
	page = b.get("/2fa/?method=webauthn").Body.String()
	assert.Contains(t, page, `data-webauthn-status="#tf-status">Use your security key</button>`)
}

// Without scripts, the resend button is disabled while the page says to
// wait, and enabled on a reload after the wait.
func TestResendDisabledDuringTheWait(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("alice", "")
	page := b.get("/2fa/?method=email").Body.String()
	assert.Contains(t, page, `<button type="submit" class="tf-secondary" id="tf-send" disabled>`)
	assert.Contains(t, html.UnescapeString(page), "You can ask for a new code in 60 seconds.")
	// Without scripts nothing enables the button in place: the page says
	// how to get it back.
	assert.Contains(t, page, `<noscript><p class="tf-meta">Reload this page once the wait is over.</p></noscript>`)
	e.clock.Advance(time.Minute)
	page = b.get("/2fa/?method=email").Body.String()
	assert.Contains(t, page, `<button type="submit" class="tf-secondary" id="tf-send">`)
	assert.NotContains(t, page, "data-countdown")
	assert.NotContains(t, page, "Reload this page")
}

// Every page tells the host's layout who is signed in (and gives it
// Config.Layout's data): the step-up, lockout, ended and message pages
// as well as the settings.
func TestPagesKnowWhoIsSignedIn(t *testing.T) {
	layout := `{{define "layout"}}<nav data-signed-in="{{.SignedIn}}" data-user="{{with .User}}{{.ID}}{{end}}" data-host="{{.Host}}"></nav>{{template "content" .}}{{end}}`
	e := lockedEnv(t, func(c *twofactorhttp.Config) {
		c.Templates = fstest.MapFS{"layout.html": {Data: []byte(layout)}}
		c.Layout = func(r *http.Request) any {
			if id, ok := sessionID(r); ok {
				return "host:" + id
			}
			return "host:none"
		}
	})
	nav := func(w *httptest.ResponseRecorder) string {
		body := w.Body.String()
		i := strings.Index(body, "<nav ")
		require.GreaterOrEqual(t, i, 0, body)
		return body[i : i+strings.Index(body[i:], ">")+1]
	}
	signedIn := `<nav data-signed-in="true" data-user="alice" data-host="host:alice">`
	signedOut := `<nav data-signed-in="false" data-user="" data-host="host:none">`

	// A step-up: the page that asks, the challenge, a wrong code.
	a := e.session("alice")
	w := a.get("/2fa/step-up?next=%2Fdanger")
	assert.Equal(t, signedIn, nav(w), "step-up page")
	a.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	w = a.get("/2fa/")
	assert.Equal(t, signedIn, nav(w), "step-up challenge")
	w = a.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}})
	assert.Equal(t, signedIn, nav(w), "wrong code")
	// An ended challenge, and a message page.
	a.cookies[twofactorhttp.DefaultPendingCookie].Value = "x"
	w = a.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}})
	require.Equal(t, http.StatusGone, w.Code)
	assert.Equal(t, signedIn, nav(w), "ended")
	w = a.get("/2fa/nothing-here")
	require.Equal(t, http.StatusNotFound, w.Code)
	assert.Equal(t, signedIn, nav(w), "message")
	// A signed-in id the Service does not know: signed in, no user.
	z := e.session("zed")
	w = z.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	require.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, `<nav data-signed-in="true" data-user="" data-host="host:zed">`, nav(w), "unknown user")

	// A sign-in: nobody is signed in yet, on the challenge and the lockout.
	b := lockBob(t, e)
	w = b.get("/2fa/")
	assert.Equal(t, signedOut, nav(w), "sign-in challenge")
	w = b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, signedOut, nav(w), "lockout")
	// A step-up lockout: signed in.
	bob := e.session("bob")
	w = bob.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, `<nav data-signed-in="true" data-user="bob" data-host="host:bob">`, nav(w), "step-up lockout")
}

// Config.Support is checked once: a URL that is not a page of the site
// or an https, mailto or tel URL is refused, as is a URL without text.
func TestSupportConfig(t *testing.T) {
	for _, l := range []twofactorhttp.Link{
		{Text: "Help", URL: "javascript:alert(1)"},
		{Text: "Help", URL: "//evil.example/"},
		{Text: "Help", URL: "http://example.com/help"},
		{URL: "/help"},
	} {
		_, err := twofactorhttp.New(twofactorhttp.Config{Service: newEnv(t, envOpt{}).svc, Mux: http.NewServeMux(),
			SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }, Support: l})
		require.ErrorIs(t, err, twofactor.ErrConfig, "%+v", l)
	}
	for _, l := range []twofactorhttp.Link{{Text: "Help"}, {Text: "Help", URL: "/help"}, {Text: "Help", URL: "https://example.com/help"},
		{Text: "Help", URL: "mailto:help@example.com"}, {Text: "Help", URL: "tel:+15555550100"}} {
		_, err := twofactorhttp.New(twofactorhttp.Config{Service: newEnv(t, envOpt{}).svc, Mux: http.NewServeMux(),
			SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }, Support: l})
		require.NoError(t, err, "%+v", l)
	}
}
