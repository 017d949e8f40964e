package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

func TestLoginEmailPage(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()

	requireRedirect(t, b.login("alice", "/account"), "/2fa/")
	id := b.challengeID()
	require.NotEmpty(t, id)
	require.EqualValues(t, 1, e.email.sends.Load(), "the first method sends a code by itself")

	page := b.get("/2fa/")
	require.Equal(t, http.StatusOK, page.Code)
	body := page.Body.String()
	for _, want := range []string{
		`<h2>Email</h2>`,
		`We sent a code to a***@example.com.`,
		`<label for="tf-code">Code from the email</label>`,
		`autocomplete="one-time-code"`, `inputmode="numeric"`, `autofocus`, `data-length="6"`,
		`data-countdown="60"`, `You can ask for a new code in 60 seconds.`,
		`Send a new code`,
		`Trust this device for 30 days`,
		`href="/2fa/?method=totp">Authenticator app</a>`,
		`href="/2fa/?method=sms">Text message</a>`,
		`href="/2fa/?method=webauthn">Security key</a>`,
		`href="/2fa/?method=backup_code">Use a backup code</a>`,
		`action="/2fa/cancel"`,
		`<script src="/2fa/assets/twofactor.js" defer></script>`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "webauthn.js", "the security-key script loads only with that method")
	assert.NotContains(t, body, "<script>", "no inline script")

	w := b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {e.email.code(id)}, "remember": {"on"}})
	requireRedirect(t, w, "/account")

	// The host signed the user in once, with a proof of the second factor.
	ins := e.signIns()
	require.Len(t, ins, 1)
	assert.Equal(t, "alice", ins[0].User.ID)
	assert.Equal(t, twofactor.MethodEmail, ins[0].Method)
	assert.NotEmpty(t, ins[0].Proof)
	// The challenge is over, the pending cookie gone, the device trusted.
	_, err := e.svc.Challenge(context.Background(), id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	assert.NotContains(t, b.cookies, twofactorhttp.DefaultPendingCookie)
	assert.Contains(t, b.cookies, trust.DefaultCookieName)
	devs, err := e.devices.List(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, devs, 1)

	// The next sign-in from this device skips the second step.
	requireRedirect(t, b.login("alice", "/account"), "/account")
	ins = e.signIns()
	require.Len(t, ins, 2)
	assert.Empty(t, ins[1].Method, "no second factor was asked")
	assert.EqualValues(t, 1, e.email.sends.Load())
}

// Each factor, in HTML and JSON: begin, send or start when the method has
// that step, verify; then the host signed the user in and the challenge is
// gone.
func TestLoginEachFactor(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		for _, m := range []twofactor.Method{twofactor.MethodEmail, twofactor.MethodSMS, twofactor.MethodTOTP, twofactor.MethodBackupCode, twofactor.MethodWebAuthn} {
			name := string(m) + "/html"
			if asJSON {
				name = string(m) + "/json"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
				b := e.browser()
				b.json = asJSON
				w := b.login("alice", "/account?tab=1")
				id := b.challengeID()
				require.NotEmpty(t, id)
				if asJSON {
					st := decodeJSON(t, w)
					require.Equal(t, http.StatusOK, w.Code)
					assert.Equal(t, "challenge", st["status"])
					assert.Equal(t, "/2fa/", st["next"])
					assert.Len(t, st["methods"], 5)
				} else {
					requireRedirect(t, w, "/2fa/")
				}
				var code string
				switch m {
				case twofactor.MethodEmail, twofactor.MethodSMS:
					w := b.post("/2fa/send", url.Values{"method": {string(m)}})
					if asJSON {
						require.Equal(t, http.StatusOK, w.Code, w.Body.String())
						sent := decodeJSON(t, w)
						assert.Equal(t, string(m), sent["method"])
						assert.EqualValues(t, 60, sent["resend_after"])
						assert.NotEmpty(t, sent["destination"])
					} else {
						requireRedirect(t, w, "/2fa/?method="+string(m))
					}
					f := map[twofactor.Method]*sendFactor{twofactor.MethodEmail: e.email, twofactor.MethodSMS: e.sms}[m]
					code = f.code(id)
				case twofactor.MethodTOTP:
					code = appCode
				case twofactor.MethodBackupCode:
					code = backupCode
				}
				if !asJSON {
					page := b.get("/2fa/?method=" + string(m))
					require.Equal(t, http.StatusOK, page.Code)
					assert.Contains(t, page.Body.String(), `data-method="`+string(m)+`"`)
				}
				form := url.Values{"method": {string(m)}, "code": {code}}
				if m == twofactor.MethodWebAuthn {
					b.json = true // the security-key script speaks JSON
					w := b.post("/2fa/start", url.Values{"method": {"webauthn"}})
					require.Equal(t, http.StatusOK, w.Code, w.Body.String())
					opts := decodeJSON(t, w)["options"].(map[string]any)["publicKey"].(map[string]any)
					w = b.do(http.MethodPost, "/2fa/verify", `{"method":"webauthn","credential":{"challenge":"`+opts["challenge"].(string)+`"}}`)
					require.Equal(t, http.StatusOK, w.Code, w.Body.String())
					assert.Equal(t, map[string]any{"ok": true, "status": "signed_in", "next": "/account?tab=1"}, decodeJSON(t, w))
				} else if asJSON {
					w := b.post("/2fa/verify", form)
					require.Equal(t, http.StatusOK, w.Code, w.Body.String())
					assert.Equal(t, map[string]any{"ok": true, "status": "signed_in", "next": "/account?tab=1"}, decodeJSON(t, w))
				} else {
					requireRedirect(t, b.post("/2fa/verify", form), "/account?tab=1")
				}
				ins := e.signIns()
				require.Len(t, ins, 1)
				assert.Equal(t, m, ins[0].Method)
				_, err := e.svc.Challenge(context.Background(), id)
				require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
				assert.NotContains(t, b.cookies, twofactorhttp.DefaultPendingCookie)
				assert.NotContains(t, b.cookies, trust.DefaultCookieName, "the device was not to be trusted")
			})
		}
	}
}

// The security-key script's own routes (webauthn/login/begin and finish)
// reach the same challenge, and the page loads the script for that method.
func TestWebAuthnScriptRoutes(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	b := e.browser()
	requireRedirect(t, b.login("alice", ""), "/2fa/")
	id := b.challengeID()
	page := b.get("/2fa/?method=webauthn").Body.String()
	assert.Contains(t, page, `<script src="/2fa/webauthn/webauthn.js" defer data-msg-cancelled=`)
	assert.Contains(t, page, `data-webauthn="login" data-webauthn-remember="#tf-remember"`)
	assert.Contains(t, page, `<noscript>`)

	js := b.get("/2fa/webauthn/webauthn.js")
	require.Equal(t, http.StatusOK, js.Code)
	assert.Equal(t, "text/javascript; charset=utf-8", js.Header().Get("Content-Type"))
	assert.Contains(t, js.Body.String(), `post("/login/begin"`)

	b.json = true
	w := b.do(http.MethodPost, "/2fa/webauthn/login/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.NotEmpty(t, decodeJSON(t, w)["options"].(map[string]any)["publicKey"].(map[string]any)["challenge"])
	w = b.do(http.MethodPost, "/2fa/webauthn/login/finish", `{"credential":{"challenge":"wrong"},"remember_device":true}`)
	requireError(t, w, http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
	// The ceremony state was used up by the wrong answer: start again.
	w = b.do(http.MethodPost, "/2fa/webauthn/login/begin", `{}`)
	nonce := decodeJSON(t, w)["options"].(map[string]any)["publicKey"].(map[string]any)["challenge"].(string)
	w = b.do(http.MethodPost, "/2fa/webauthn/login/finish", `{"credential":{"challenge":"`+nonce+`"},"remember_device":true}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "/", decodeJSON(t, w)["next"])
	assert.Contains(t, b.cookies, trust.DefaultCookieName, "remember_device trusted the device")
	_, err := e.svc.Challenge(context.Background(), id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	require.Len(t, e.signIns(), 1)
}

func TestLoginWithoutFactorOrTrusted(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, asJSON := range []bool{false, true} {
		b := e.browser()
		b.json = asJSON
		w := b.login("carol", "/account")
		if asJSON {
			require.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, map[string]any{"ok": true, "status": "signed_in", "next": "/account"}, decodeJSON(t, w))
		} else {
			requireRedirect(t, w, "/account")
		}
		assert.Empty(t, b.challengeID(), "no challenge")
		assert.Equal(t, "carol", b.cookies["session"].Value)
	}
	ins := e.signIns()
	require.Len(t, ins, 2)
	assert.Empty(t, ins[0].Method)
	assert.Empty(t, ins[0].Proof)
}

// The method the user last signed in with is offered first: no email is
// sent to a user who uses the app.
func TestLastUsedMethodFirst(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.who.touch("alice", twofactor.MethodTOTP, e.clock.Now().Add(-time.Hour))
	b := e.browser()
	requireRedirect(t, b.login("alice", ""), "/2fa/")
	assert.EqualValues(t, 0, e.email.sends.Load())
	page := b.get("/2fa/").Body.String()
	assert.Contains(t, page, `data-method="totp"`)
	assert.Contains(t, page, `href="/2fa/?method=email">Email</a>`)

	b.json = true
	st := decodeJSON(t, b.get("/2fa/"))
	first := st["methods"].([]any)[0].(map[string]any)
	assert.Equal(t, "totp", first["method"])
	last := st["methods"].([]any)[4].(map[string]any)
	assert.Equal(t, "backup_code", last["method"], "recovery codes come last")
}

func TestManualSend(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	b := e.browser()
	requireRedirect(t, b.login("alice", ""), "/2fa/")
	assert.EqualValues(t, 0, e.email.sends.Load())
	page := b.get("/2fa/").Body.String()
	assert.Contains(t, page, `>Send me a code</button>`)
	assert.NotContains(t, page, `We sent`)
}

// The checkbox names the trust duration the Manager is configured with.
func TestTrustLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{
		trust.Month:       "Trust this device for 30 days",
		trust.Quarter:     "Trust this device for 90 days",
		trust.Day:         "Trust this device for 1 day",
		trust.Week:        "Trust this device for 1 week",
		trust.SessionOnly: "Trust this device until I close the browser",
	} {
		e := newEnv(t, envOpt{trust: &trust.Config{Duration: d}})
		b := e.browser()
		b.login("bob", "")
		assert.Contains(t, b.get("/2fa/").Body.String(), want)
		b.json = true
		rd := decodeJSON(t, b.get("/2fa/"))["remember_device"].(map[string]any)
		assert.Equal(t, want, rd["label"])
		if d > 0 {
			assert.EqualValues(t, d/time.Second, rd["seconds"])
		}
	}
	// No checkbox on a step-up, nor without a trust manager.
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Trust = nil }})
	b := e.browser()
	b.login("bob", "")
	assert.NotContains(t, b.get("/2fa/").Body.String(), "Trust this device")
}

// When the host's SignIn fails nobody is signed in and no device is
// trusted; the challenge, answered, is over.
func TestSignInFailure(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.signErr = assert.AnError
	for _, asJSON := range []bool{false, true} {
		b := e.browser()
		b.json = asJSON
		b.login("bob", "")
		id := b.challengeID()
		w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}, "remember": {"on"}, "remember_device": {"true"}})
		require.Equal(t, http.StatusInternalServerError, w.Code)
		if asJSON {
			requireError(t, w, http.StatusInternalServerError, twofactorhttp.CodeInternal)
		}
		assert.NotContains(t, w.Body.String(), assert.AnError.Error(), "internal errors are not detailed")
		assert.NotContains(t, b.cookies, trust.DefaultCookieName)
		assert.NotContains(t, b.cookies, "session")
		_, err := e.svc.Challenge(context.Background(), id)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
		devs, _ := e.devices.List(context.Background(), "bob")
		assert.Empty(t, devs)
	}
}

func TestCancel(t *testing.T) {
	t.Run("html", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		b := e.browser()
		b.login("alice", "")
		id := b.challengeID()
		pendingCookie := *b.cookies[twofactorhttp.DefaultPendingCookie]
		code := e.email.code(id)
		requireRedirect(t, b.post("/2fa/cancel", nil), "/login")
		// The challenge and its code are gone from the store.
		_, err := e.svc.Challenge(context.Background(), id)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
		n, err := e.mem.CountGroup(context.Background(), id)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.NotContains(t, b.cookies, twofactorhttp.DefaultPendingCookie)
		// The cookie, replayed, leads nowhere.
		b.cookies[pendingCookie.Name] = &pendingCookie
		w := b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {code}})
		require.Equal(t, http.StatusGone, w.Code)
		assert.Contains(t, w.Body.String(), "This sign-in has expired or ended.")
		assert.Contains(t, w.Body.String(), `href="/login"`)
		assert.Empty(t, e.signIns())
		// Cancelling again just leads back to the login page.
		requireRedirect(t, b.post("/2fa/cancel", nil), "/login")
	})
	t.Run("json", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		e.who.set("alice", twofactor.MethodTOTP, twofactor.MethodWebAuthn)
		b := e.api()
		b.login("alice", "")
		id := b.challengeID()
		pendingCookie := *b.cookies[twofactorhttp.DefaultPendingCookie]
		w := b.post("/2fa/cancel", nil)
		require.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, map[string]any{"ok": true, "status": "cancelled", "next": "/login"}, decodeJSON(t, w))
		_, err := e.svc.Challenge(context.Background(), id)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
		b.cookies[pendingCookie.Name] = &pendingCookie
		m := requireError(t, b.post("/2fa/cancel", nil), http.StatusGone, twofactorhttp.CodeChallengeEnded)
		assert.Equal(t, "/login", m["next"])
		requireError(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), http.StatusGone, twofactorhttp.CodeChallengeEnded)
		// Nor does a security key's ceremony start for it.
		b.cookies[pendingCookie.Name] = &pendingCookie
		requireError(t, b.post("/2fa/start", url.Values{"method": {"webauthn"}}), http.StatusGone, twofactorhttp.CodeChallengeEnded)
		assert.Empty(t, e.signIns())
	})
}

// The challenge page without a pending sign-in sends a browser to the
// login page; a JSON client gets 410.
func TestChallengePageWithoutPending(t *testing.T) {
	e := newEnv(t, envOpt{})
	requireRedirect(t, e.browser().get("/2fa/"), "/login")
	requireError(t, e.api().get("/2fa/"), http.StatusGone, twofactorhttp.CodeChallengeEnded)
	requireError(t, e.api().post("/2fa/send", url.Values{"method": {"email"}}), http.StatusGone, twofactorhttp.CodeChallengeEnded)
	w := e.browser().post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusGone, w.Code)
	assert.True(t, strings.Contains(w.Body.String(), "Sign in again"))
}

// Adding a key: a signed-in user, JSON, and a step-up first when the user
// already has a second factor. The webauthn package's tests run these
// routes with its real factor and a browser.
func TestRegisterRoutes(t *testing.T) {
	e := newEnv(t, envOpt{})
	requireError(t, e.api().do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Key"}`), http.StatusUnauthorized, twofactorhttp.CodeSignedOut)

	// Carol has no factor: no proof needed.
	c := e.session("carol")
	c.json = true
	w := c.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Key"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "2026-03-02T09:05:00Z", decodeJSON(t, w)["expires_at"])
	requireError(t, c.do(http.MethodPost, "/2fa/webauthn/register/finish", `{}`), http.StatusBadRequest, twofactorhttp.CodeBadRequest)
	m := requireError(t, c.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"bob"}}`), http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
	assert.Equal(t, "The security key was not accepted. Try again.", m["message"])
	w = c.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"carol"}}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, map[string]any{"id": "key-1", "name": "Key"}, decodeJSON(t, w)["enrollment"])
	es, err := e.svc.Enrollments(context.Background(), carol)
	require.NoError(t, err)
	require.Len(t, es, 1)

	// Now she has one: a second key needs a step-up, and then goes through.
	m = requireError(t, c.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Spare"}`), http.StatusUnauthorized, twofactorhttp.CodeStepUpRequired)
	assert.Equal(t, "/2fa/step-up", m["next"])
	c.post("/2fa/step-up", url.Values{"next": {"/"}})
	w = c.post("/2fa/start", url.Values{"method": {"webauthn"}})
	nonce := decodeJSON(t, w)["options"].(map[string]any)["publicKey"].(map[string]any)["challenge"].(string)
	require.Equal(t, http.StatusOK, c.do(http.MethodPost, "/2fa/webauthn/login/finish", `{"credential":{"challenge":"`+nonce+`"}}`).Code)
	require.Equal(t, http.StatusOK, c.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Spare"}`).Code)

	// A form is not JSON.
	c.json = false
	require.Equal(t, http.StatusBadRequest, c.post("/2fa/webauthn/register/begin", url.Values{"name": {"Key"}}).Code)
}
