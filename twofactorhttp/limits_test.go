package twofactorhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

const invalidCodeMsg = "That code didn&#39;t work. Check it and try again."

// A wrong code and an expired one get the same answer; the challenge lives
// on and the right code still works.
func TestWrongAndExpiredCodeSameAnswer(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		e := newEnv(t, envOpt{})
		b := e.browser()
		b.json = asJSON
		b.login("alice", "")
		id := b.challengeID()
		code := e.email.code(id)

		wrong := b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}})
		e.clock.Advance(11 * time.Minute) // the code lives 10 minutes, the challenge 15
		expired := b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {code}})
		malformed := b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"12ab"}})
		for _, w := range []*httptest.ResponseRecorder{wrong, expired, malformed} {
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			if asJSON {
				assert.JSONEq(t, `{"error":"invalid_code","message":"That code didn't work. Check it and try again."}`, w.Body.String())
			} else {
				assert.Contains(t, w.Body.String(), invalidCodeMsg)
				assert.Contains(t, w.Body.String(), `data-code="invalid_code"`)
				assert.Contains(t, w.Body.String(), `id="tf-code"`, "the form is shown again")
			}
		}
		if asJSON {
			assert.Equal(t, wrong.Body.String(), expired.Body.String(), "one answer for wrong and expired")
		}
		// Still live: a new code works.
		_, err := e.svc.Challenge(context.Background(), id)
		require.NoError(t, err)
		b.post("/2fa/send", url.Values{"method": {"email"}})
		w := b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {e.email.code(id)}})
		assert.Less(t, w.Code, 400, w.Body.String())
		require.Len(t, e.signIns(), 1)
	}
}

// A resend inside the cooldown gets 429 with the wait, in words on the
// page and in seconds in Retry-After; nothing is sent.
func TestResendCooldown(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("alice", "")
	require.EqualValues(t, 1, e.email.sends.Load())
	e.clock.Advance(18 * time.Second)

	w := b.post("/2fa/send", url.Values{"method": {"email"}})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "42", w.Header().Get("Retry-After"))
	body := w.Body.String()
	assert.Contains(t, body, `data-code="resend_wait"`)
	assert.Contains(t, body, "You can ask for a new code in 42 seconds.")
	assert.Contains(t, body, `data-countdown="42"`)
	assert.Contains(t, body, "We sent a code to a***@example.com.", "the last code is still the one to use")

	b.json = true
	m := requireError(t, b.post("/2fa/send", url.Values{"method": {"email"}}), http.StatusTooManyRequests, twofactorhttp.CodeResendWait)
	assert.EqualValues(t, 42, m["retry_after"])
	assert.Equal(t, "You can ask for a new code in 42 seconds.", m["message"])
	assert.EqualValues(t, 1, e.email.sends.Load(), "nothing sent inside the cooldown")

	e.clock.Advance(42 * time.Second)
	w = b.post("/2fa/send", url.Values{"method": {"email"}})
	require.Equal(t, http.StatusOK, w.Code)
	assert.EqualValues(t, 2, e.email.sends.Load())
}

// An hourly cap on sends gets 429 with the time until it lifts.
func TestHourlyCap(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	e.email.hourly = 3
	b := e.browser()
	b.login("alice", "")
	for i := range 3 {
		requireRedirect(t, b.post("/2fa/send", url.Values{"method": {"email"}}), "/2fa/?method=email")
		if i < 2 {
			e.clock.Advance(61 * time.Second)
		}
	}
	e.clock.Advance(61 * time.Second)
	w := b.post("/2fa/send", url.Values{"method": {"email"}})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	// The cap's window began at the first send, 3×61 s ago.
	assert.Equal(t, "3417", w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "Too many codes were sent. Try again in 57 minutes.")
	b.json = true
	m := requireError(t, b.post("/2fa/send", url.Values{"method": {"email"}}), http.StatusTooManyRequests, twofactorhttp.CodeRateLimited)
	assert.EqualValues(t, 3417, m["retry_after"])
	assert.EqualValues(t, 3, e.email.sends.Load())
}

// Wrong answers in a row lock the user out: 429 with the lockout in words,
// and the store refuses a new sign-in too.
func TestLockout(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 3 }})
	b := e.browser()
	b.login("bob", "")
	for range 3 {
		w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}})
		require.Equal(t, http.StatusUnauthorized, w.Code)
	}
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "900", w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "verify for 15 minutes.")
	assert.Contains(t, w.Body.String(), `data-code="locked"`)
	assert.Empty(t, e.signIns(), "the right code does not get through a lockout")

	b.json = true
	m := requireError(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), http.StatusTooManyRequests, twofactorhttp.CodeLocked)
	assert.EqualValues(t, 900, m["retry_after"])

	// Store state: the user is locked for a new sign-in as well.
	_, err := e.svc.Begin(context.Background(), bob, twofactor.Client{})
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, twofactor.ErrLocked)
	// And a new password step says so.
	b2 := e.browser()
	w = b2.login("bob", "")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Contains(t, w.Body.String(), "verify for 15 minutes")

	e.clock.Advance(15 * time.Minute)
	requireRedirect(t, e.browser().login("bob", ""), "/2fa/")
}

// A challenge that used up its answers is over: 410, the pending cookie
// is dropped, and the store refuses it even with the right code.
func TestSpentChallenge(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		e := newEnv(t, envOpt{})
		b := e.browser()
		b.json = asJSON
		b.login("bob", "")
		id := b.challengeID()
		pendingCookie := *b.cookies[twofactorhttp.DefaultPendingCookie]
		for range 4 {
			require.Equal(t, http.StatusUnauthorized, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}}).Code)
		}
		w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"222222"}})
		require.Equal(t, http.StatusGone, w.Code)
		if asJSON {
			m := requireError(t, w, http.StatusGone, twofactorhttp.CodeTooManyAttempts)
			assert.Equal(t, "/login", m["next"])
		} else {
			assert.Contains(t, w.Body.String(), "Too many wrong codes for this sign-in. Please sign in again.")
			assert.Contains(t, w.Body.String(), `href="/login"`)
		}
		assert.NotContains(t, b.cookies, twofactorhttp.DefaultPendingCookie)
		_, err := e.svc.Challenge(context.Background(), id)
		require.ErrorIs(t, err, twofactor.ErrTooManyAttempts)

		b.cookies[pendingCookie.Name] = &pendingCookie
		w = b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
		require.Equal(t, http.StatusGone, w.Code)
		assert.Empty(t, e.signIns())
	}
}

// Answers from one client network are capped across users.
func TestIPCap(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 2 }})
	b := e.api()
	b.login("bob", "")
	for range 2 {
		requireError(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}}), http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
	}
	m := requireError(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), http.StatusTooManyRequests, twofactorhttp.CodeRateLimited)
	assert.EqualValues(t, 900, m["retry_after"])
	assert.Equal(t, "Too many attempts. Try again in 15 minutes.", m["message"])
	assert.Empty(t, e.signIns())
}

// A method the challenge does not offer, and a body that does not parse.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.api()
	b.login("bob", "")
	requireError(t, b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"123456"}}), http.StatusBadRequest, twofactorhttp.CodeMethodNotOffered)
	requireError(t, b.post("/2fa/send", url.Values{"method": {"totp"}}), http.StatusBadRequest, twofactorhttp.CodeMethodNotOffered)
	requireError(t, b.do(http.MethodPost, "/2fa/verify", `{"method":`), http.StatusBadRequest, twofactorhttp.CodeBadRequest)
	requireError(t, b.do(http.MethodPost, "/2fa/verify", `{"code":"123456"}`), http.StatusBadRequest, twofactorhttp.CodeBadRequest)
	// Nothing was counted: the right code still works.
	require.Equal(t, http.StatusOK, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}).Code)

	// A delivery failure is a 500, and nothing is said about it.
	e = newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	e.email.fail = errors.New("smtp: 554 relay refused for a***@example.com")
	b = e.api()
	b.login("alice", "")
	w := b.post("/2fa/send", url.Values{"method": {"email"}})
	requireError(t, w, http.StatusInternalServerError, twofactorhttp.CodeInternal)
	assert.NotContains(t, w.Body.String(), "smtp")
}
