package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// A pending cookie altered anywhere, or pointing its sealed state at
// another challenge, is no pending sign-in: nothing reaches the Service,
// and the real challenge is untouched.
func TestTamperedPendingCookie(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("bob", "/account")
	id := b.challengeID()
	good := b.cookies[twofactorhttp.DefaultPendingCookie].Value

	other := e.browser()
	other.login("alice", "")
	otherID := other.challengeID()

	_, sealed, _ := strings.Cut(good, "~")
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for name, v := range map[string]string{
		"flipped tail":      flip(good, len(good)-3),
		"flipped middle":    flip(good, len(good)/2+10),
		"other challenge":   otherID + "." + sealed,
		"no seal":           id,
		"empty":             "",
		"garbage":           "x.y.z",
		"truncated":         good[:len(good)-5],
		"unknown key":       id + ".v1:k9:" + sealed[len("v1:k1:"):],
		"huge":              id + "." + strings.Repeat("A", 5000),
		"challenge id only": id + ".",
	} {
		t.Run(name, func(t *testing.T) {
			for _, asJSON := range []bool{false, true} {
				tb := e.browser()
				tb.json = asJSON
				tb.cookies[twofactorhttp.DefaultPendingCookie] = &http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: v}
				w := tb.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
				require.Equal(t, http.StatusGone, w.Code, w.Body.String())
				if asJSON {
					requireError(t, w, http.StatusGone, twofactorhttp.CodeChallengeEnded)
				} else {
					assert.Contains(t, w.Body.String(), "This sign-in has expired or ended.")
					requireRedirect(t, tb.get("/2fa/"), "/login")
				}
				assert.NotContains(t, tb.cookies, twofactorhttp.DefaultPendingCookie, "a bad cookie is dropped")
			}
		})
	}
	assert.Empty(t, e.signIns())
	// Both real challenges are untouched, and the real cookie works.
	for _, c := range []string{id, otherID} {
		_, err := e.svc.Challenge(context.Background(), c)
		require.NoError(t, err)
	}
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/account")
}

// An expired pending cookie is refused by the layer as the challenge is
// by the store.
func TestExpiredPendingCookie(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("bob", "")
	id := b.challengeID()
	c := b.cookies[twofactorhttp.DefaultPendingCookie]
	assert.Equal(t, int((15*time.Minute)/time.Second), c.MaxAge, "the cookie lives as long as the challenge")

	e.clock.Advance((15 * time.Minute) + time.Second)
	requireRedirect(t, b.get("/2fa/"), "/login")
	b.cookies[c.Name] = c // a browser that kept it anyway
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusGone, w.Code)
	b.cookies[c.Name] = c
	b.json = true
	requireError(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), http.StatusGone, twofactorhttp.CodeChallengeEnded)
	_, err := e.svc.Challenge(context.Background(), id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	assert.Empty(t, e.signIns())
}

// A pending cookie is bound to its user: one sealed for bob around alice's
// challenge is refused by the Service, and alice's challenge is not
// touched; a step-up cookie of alice's does nothing for bob's session.
func TestPendingCookieOfAnotherUser(t *testing.T) {
	e := newEnv(t, envOpt{})
	a := e.browser()
	a.login("alice", "")
	id := a.challengeID()

	forged := twofactorhttp.SealPendingForTest(e.h, id, "bob", twofactor.PurposeLogin, "", e.clock.Now().Add(time.Minute))
	for _, asJSON := range []bool{false, true} {
		m := e.browser()
		m.json = asJSON
		m.cookies[twofactorhttp.DefaultPendingCookie] = &http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: forged}
		w := m.post("/2fa/verify", url.Values{"method": {"email"}, "code": {e.email.code(id)}})
		require.Equal(t, http.StatusGone, w.Code, w.Body.String())
		w = m.post("/2fa/send", url.Values{"method": {"email"}})
		require.Equal(t, http.StatusGone, w.Code, "send refuses it too")
	}
	assert.Empty(t, e.signIns())
	_, err := e.svc.Challenge(context.Background(), id)
	require.NoError(t, err)
	requireRedirect(t, a.post("/2fa/verify", url.Values{"method": {"email"}, "code": {e.email.code(id)}}), "/")

	// Alice's pending step-up, presented with bob's session.
	s := e.browser()
	s.cookies["session"] = &http.Cookie{Name: "session", Value: "alice"}
	requireRedirect(t, s.post("/2fa/step-up", url.Values{"next": {"/danger"}}), "/2fa/")
	stepID := s.challengeID()
	s.cookies["session"] = &http.Cookie{Name: "session", Value: "bob"}
	w := s.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusGone, w.Code)
	_, err = e.svc.Challenge(context.Background(), stepID)
	require.NoError(t, err, "alice's step-up challenge is untouched")
	assert.NotContains(t, s.cookies, twofactorhttp.DefaultStepUpCookie)
}

// Every unsafe request goes through CrossOriginProtection: a cross-site
// POST is refused before anything happens.
func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	b := e.browser()
	b.login("alice", "")
	id := b.challengeID()

	for _, hdr := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
		{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": nil},
	} {
		for _, asJSON := range []bool{false, true} {
			for _, route := range []string{"/2fa/verify", "/2fa/send", "/2fa/cancel", "/2fa/step-up", "/2fa/start", "/login"} {
				x := e.browser()
				x.json = asJSON
				x.cookies = b.cookies
				x.header = hdr // a nil Sec-Fetch-Site removes the browser's header: Origin decides
				form := url.Values{"method": {"email"}, "code": {"123456"}, "user": {"carol"}, "password": {"pw"}}
				w := x.post(route, form)
				require.Equal(t, http.StatusForbidden, w.Code, "%s %v", route, hdr)
				if asJSON {
					requireError(t, w, http.StatusForbidden, twofactorhttp.CodeCrossOrigin)
				} else {
					assert.Contains(t, w.Body.String(), "This request came from another site and was refused.")
				}
			}
		}
	}
	// Nothing happened: no code sent, nobody signed in, the challenge lives.
	assert.EqualValues(t, 0, e.email.sends.Load())
	assert.Empty(t, e.signIns())
	_, err := e.svc.Challenge(context.Background(), id)
	require.NoError(t, err)

	// A trusted origin may post.
	e = newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.TrustedOrigins = []string{"https://app.example.org"} }})
	x := e.api()
	x.header = http.Header{"Origin": {"https://app.example.org"}, "Sec-Fetch-Site": {"cross-site"}}
	x.login("bob", "")
	require.Equal(t, http.StatusOK, x.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}).Code)
}

// The return path is relative to this site or ignored: every attempt at
// an open redirect ends on the default page.
func TestOpenRedirectRefused(t *testing.T) {
	attacks := []string{
		"//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
		"https://evil.example/", "http:evil.example", "javascript:alert(1)", "data:text/html,x",
		"/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", " /account", "/%2F%2Fevil.example",
		"/%5Cevil.example", "evil.example", "", "/account\x00", "/a b", "/\u200b/evil.example",
		"//evil.example/%2e%2e", "\x7f/evil", "/%zz", "/.\\evil.example",
	}
	e := newEnv(t, envOpt{})
	for _, next := range attacks {
		// Straight through (no factor), and through a challenge.
		b := e.browser()
		w := b.login("carol", next)
		requireRedirect(t, w, "/")
		b = e.browser()
		b.login("bob", next)
		requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/")
		b = e.api()
		b.login("bob", next)
		w = b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
		assert.Equal(t, "/", decodeJSON(t, w)["next"], "next=%q", next)
	}
	require.Len(t, e.signIns(), 3*len(attacks))
	// Paths on this site survive, odd ones too ("/@evil.example" is a
	// path here, not a user-info part).
	for _, next := range []string{"/settings?tab=security#keys", "/@evil.example", "/caf%C3%A9"} {
		requireRedirect(t, e.browser().login("carol", next), next)
	}
}

// Pages send the security headers; the CSP allows no inline script.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("alice", "")
	for _, w := range []*httptest.ResponseRecorder{
		b.get("/2fa/"),
		b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}}),
		e.api().get("/2fa/"),
		e.browser().get("/2fa/nope"),
		b.get("/2fa/step-up"),
	} {
		h := w.Header()
		assert.Equal(t, "no-store", h.Get("Cache-Control"))
		assert.Equal(t, "same-origin", h.Get("Referrer-Policy"))
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
		csp := h.Get("Content-Security-Policy")
		assert.Contains(t, csp, "frame-ancestors 'none'")
		assert.Contains(t, csp, "script-src 'self'")
		assert.NotContains(t, csp, "unsafe-inline")
		assert.NotContains(t, w.Body.String(), "<script>", "no inline script")
		assert.NotContains(t, w.Body.String(), " style=", "no inline style")
		assert.NotContains(t, w.Body.String(), " onclick=", "no inline handler")
	}
	// The redirects of the flow too.
	w := e.browser().login("bob", "")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
}

// The pending cookie: HttpOnly, SameSite=Lax, scoped to the prefix, Secure
// except on http://localhost.
func TestPendingCookieAttributes(t *testing.T) {
	e := newEnv(t, envOpt{})
	for host, secure := range map[string]bool{
		"https://example.com":    true,
		"http://example.com":     true, // behind a TLS proxy: the browser saw https
		"http://localhost:8080":  false,
		"http://127.0.0.1:8080":  false,
		"http://[::1]:8080":      false,
		"https://localhost:8443": true,
		"http://app.localhost":   false,
	} {
		r := httptest.NewRequest(http.MethodPost, host+"/login", strings.NewReader("user=bob&password=pw"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		require.Equal(t, http.StatusSeeOther, w.Code)
		var c *http.Cookie
		for _, ck := range w.Result().Cookies() {
			if ck.Name == twofactorhttp.DefaultPendingCookie {
				c = ck
			}
		}
		require.NotNil(t, c, host)
		assert.True(t, c.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
		assert.Equal(t, "/2fa/", c.Path)
		assert.Equal(t, secure, c.Secure, host)
		assert.Empty(t, c.Domain)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	w := b.get("/2fa/verify")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "POST", w.Header().Get("Allow"))
	requireError(t, e.api().get("/2fa/verify"), http.StatusMethodNotAllowed, twofactorhttp.CodeMethodNotAllowed)
	require.Equal(t, http.StatusNotFound, b.get("/2fa/nope").Code)
	requireError(t, e.api().get("/2fa/nope"), http.StatusNotFound, twofactorhttp.CodeNotFound)
	w = b.post("/2fa/assets/style.css", nil)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"))

	for path, ctype := range map[string]string{
		"/2fa/assets/style.css":     "text/css; charset=utf-8",
		"/2fa/assets/twofactor.js":  "text/javascript; charset=utf-8",
		"/2fa/webauthn/webauthn.js": "text/javascript; charset=utf-8",
	} {
		w := b.get(path)
		require.Equal(t, http.StatusOK, w.Code, path)
		assert.Equal(t, ctype, w.Header().Get("Content-Type"))
		assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		assert.NotEmpty(t, w.Body.String())
		head := b.do(http.MethodHead, path, nil)
		require.Equal(t, http.StatusOK, head.Code)
		assert.Empty(t, head.Body.String())
	}

	// Without a WebAuthn factor, its routes do not exist.
	e = newEnv(t, envOpt{svc: func(c *twofactor.Config) {
		c.Factors = []twofactor.FactorConfig{c.Factors[0], c.Factors[2]}
	}, layer: func(c *twofactorhttp.Config) { c.Methods = nil }})
	require.Equal(t, http.StatusNotFound, e.browser().get("/2fa/webauthn/webauthn.js").Code)
	require.Equal(t, http.StatusNotFound, e.api().post("/2fa/webauthn/login/begin", nil).Code)
}

// The layer reads the client address through trust.ClientIP: forwarding
// headers only from the configured proxies.
func TestClientIP(t *testing.T) {
	var ips []string
	hook := func(c *twofactor.Config) {
		c.Events = &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) {
			if ev.Type == event.Begin {
				ips = append(ips, ev.IP)
			}
		}}
	}
	e := newEnv(t, envOpt{svc: hook})
	b := e.browser()
	b.header = http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	b.login("bob", "")
	assert.Equal(t, []string{"203.0.113.9"}, ips, "no proxy is trusted by default")

	ips = nil
	trusted := func(c *twofactorhttp.Config) { c.TrustedProxies = mustPrefixes("203.0.113.0/24") }
	e = newEnv(t, envOpt{svc: func(c *twofactor.Config) { hook(c); c.Trust = nil }, layer: trusted})
	b = e.browser()
	b.header = http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.5"}}
	b.login("bob", "")
	assert.Equal(t, []string{"198.51.100.1"}, ips)
}
