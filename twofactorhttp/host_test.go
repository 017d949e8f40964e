package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// The host's side: one shape of the user (an id, turned into the User by
// the Service's Users), a SignIn that may answer itself, one call at
// sign-out.

// A session whose id the Service's Users does not know (a deleted
// account) fails closed everywhere the layer meets it: the settings, the
// step-up route, the middleware, Begin. Nothing is shown, nobody signed
// in, and the page says what happened.
func TestUnknownUserFailsClosed(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Policy.Required = true }})
	ghost := e.session("mallory")
	for _, path := range []string{"/2fa/settings/", "/2fa/settings/totp", "/danger", "/account"} {
		w := ghost.get(path)
		require.Equal(t, http.StatusForbidden, w.Code, path)
		requireAlert(t, w.Body.String(), "We could not find your account. Please sign in again.")
		assert.Contains(t, w.Body.String(), `href="/login"`, path)
	}
	api := e.api()
	api.cookies["session"] = &http.Cookie{Name: "session", Value: "mallory"}
	for _, path := range []string{"/2fa/settings/", "/danger", "/account"} {
		m := requireError(t, api.get(path), http.StatusForbidden, twofactorhttp.CodeUnknownUser)
		assert.Equal(t, "/login", m["next"])
	}
	requireError(t, api.post("/2fa/step-up", url.Values{"next": {"/danger"}}), http.StatusForbidden, twofactorhttp.CodeUnknownUser)
	requireError(t, api.post("/2fa/settings/totp", url.Values{}), http.StatusForbidden, twofactorhttp.CodeUnknownUser)
	require.Empty(t, ghost.challengeID())

	// Begin takes the id the host checked the password of, and the
	// Service says who that is: an unknown one signs nobody in.
	e.mux.HandleFunc("POST /login-id", func(w http.ResponseWriter, r *http.Request) { e.h.Begin(w, r, r.FormValue("id")) })
	b := e.browser()
	w := b.post("/login-id", url.Values{"id": {"mallory"}})
	require.Equal(t, http.StatusForbidden, w.Code)
	requireAlert(t, w.Body.String(), "We could not find your account.")
	w = b.post("/login-id", url.Values{"id": {"bad\x00id"}})
	require.Equal(t, http.StatusForbidden, w.Code, "an id that is no user id is unknown too")
	assert.Empty(t, e.signIns())
	assert.NotContains(t, b.cookies, "session")

	// A known id: the Service's User, with its details.
	requireRedirect(t, b.post("/login-id", url.Values{"id": {"bob"}}), "/2fa/")
	ch, err := e.svc.Challenge(context.Background(), b.challengeID())
	require.NoError(t, err)
	assert.Equal(t, bob, ch.User, "the User of twofactor.Config.Users")
}

// SignIn may answer the request itself: its answer stands, with the
// layer's cookies (the device it trusted, the end of the pending
// sign-in) set before it. When it writes nothing, the layer redirects.
func TestSignInWritesItsOwnResponse(t *testing.T) {
	own := func(c *twofactorhttp.Config) {
		c.SignIn = func(w http.ResponseWriter, r *http.Request, _ string) error {
			res, _ := twofactorhttp.ResultFrom(r)
			http.SetCookie(w, &http.Cookie{Name: "session", Value: res.User.ID, Path: "/"})
			if r.Header.Get("Accept") == "application/json" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, err := w.Write([]byte(`{"welcome":"` + res.User.ID + `"}`))
				return err
			}
			http.Redirect(w, r, "/welcome", http.StatusFound)
			return nil
		}
	}
	e := newEnv(t, envOpt{layer: own})
	b := e.browser()
	b.login("bob", "/account")
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}, "remember": {"on"}})
	require.Equal(t, http.StatusFound, w.Code, w.Body.String())
	res := w.Result()
	assert.Equal(t, "/welcome", res.Header.Get("Location"), "the host's redirect, not the return path")
	assert.Equal(t, "bob", b.cookies["session"].Value)
	names := map[string]*http.Cookie{}
	for _, c := range res.Cookies() {
		names[c.Name] = c
	}
	require.Contains(t, names, trust.DefaultCookieName, "the trusted device's cookie went out with the host's answer")
	require.Contains(t, names, twofactorhttp.DefaultPendingCookie)
	assert.Negative(t, names[twofactorhttp.DefaultPendingCookie].MaxAge, "the pending sign-in ended")
	devs, err := e.devices.List(context.Background(), "bob")
	require.NoError(t, err)
	assert.Len(t, devs, 1)

	a := e.api()
	a.login("bob", "")
	w = a.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusCreated, w.Code)
	assert.Equal(t, `{"welcome":"bob"}`, w.Body.String(), "the host's body alone")
	assert.NotContains(t, a.cookies, twofactorhttp.DefaultPendingCookie)

	// Writing nothing: the layer's redirect to the return path.
	e = newEnv(t, envOpt{})
	b = e.browser()
	b.login("bob", "/account")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/account")
	a = e.api()
	a.login("bob", "/account")
	assert.Equal(t, map[string]any{"ok": true, "status": "signed_in", "next": "/account"},
		decodeJSON(t, a.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})))
}

// SignOut, in the host's logout handler, ends the step-up and a pending
// challenge (its codes die) with the session.
func TestSignOut(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.session("bob")
	b.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/danger")
	require.Equal(t, http.StatusOK, b.get("/danger").Code)
	require.Contains(t, b.cookies, twofactorhttp.DefaultStepUpCookie)

	// A step-up begun and not finished, then sign-out.
	b.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	id := b.challengeID()
	require.NotEmpty(t, id)
	w := b.post("/logout", nil)
	requireRedirect(t, w, "/login")
	assert.NotContains(t, b.cookies, twofactorhttp.DefaultStepUpCookie)
	assert.NotContains(t, b.cookies, twofactorhttp.DefaultPendingCookie)
	_, err := e.svc.Challenge(context.Background(), id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "the pending challenge was cancelled")

	// Signed in again, the step-up of the earlier session is gone.
	b.cookies["session"] = &http.Cookie{Name: "session", Value: "bob"}
	requireRedirect(t, b.get("/danger"), "/2fa/step-up?next=%2Fdanger")

	// Nothing to end: nothing sent but the host's own answer.
	w = e.browser().post("/logout", nil)
	requireRedirect(t, w, "/login")
	for _, c := range w.Result().Cookies() {
		assert.Equal(t, "session", c.Name)
	}
}
