package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// signedIn returns a browser with a host session for user (as if signed
// in earlier).
func (e *env) session(user string) *browser {
	b := e.browser()
	b.cookies["session"] = &http.Cookie{Name: "session", Value: user}
	return b
}

// A page behind StepUp sends the browser through a step-up challenge and
// back; the proof lasts the Service's StepUpMaxAge.
func TestStepUpPage(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.session("alice")

	requireRedirect(t, b.get("/danger?x=1"), "/2fa/step-up?next=%2Fdanger%3Fx%3D1")
	// The interstitial changes nothing: a GET sends no code.
	w := b.get("/2fa/step-up?next=%2Fdanger%3Fx%3D1")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `<form method="post" action="/2fa/step-up">`)
	assert.Contains(t, w.Body.String(), `<input type="hidden" name="next" value="/danger?x=1">`)
	assert.Empty(t, b.challengeID())
	assert.EqualValues(t, 0, e.email.sends.Load())

	requireRedirect(t, b.post("/2fa/step-up", url.Values{"next": {"/danger?x=1"}}), "/2fa/")
	id := b.challengeID()
	ch, err := e.svc.Challenge(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, twofactor.PurposeStepUp, ch.Purpose)
	page := b.get("/2fa/").Body.String()
	assert.Contains(t, page, "Confirm it&#39;s you")
	assert.NotContains(t, page, "Trust this device", "no trust on a step-up")

	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {e.email.code(id)}}), "/danger?x=1")
	assert.Empty(t, e.signIns(), "a step-up signs nobody in")
	_, err = e.svc.Challenge(context.Background(), id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	c := b.cookies[twofactorhttp.DefaultStepUpCookie]
	require.NotNil(t, c)
	assert.Equal(t, "/", c.Path)
	assert.True(t, c.HttpOnly)

	w = b.get("/danger?x=1")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "danger zone of alice", w.Body.String())

	// Fresh for five minutes, then asked again.
	e.clock.Advance((5 * time.Minute))
	require.Equal(t, http.StatusOK, b.get("/danger").Code)
	e.clock.Advance(time.Second)
	requireRedirect(t, b.get("/danger"), "/2fa/step-up?next=%2Fdanger")
}

func TestStepUpAPI(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.session("bob")
	b.json = true
	m := requireError(t, b.get("/danger"), http.StatusUnauthorized, twofactorhttp.CodeStepUpRequired)
	assert.Equal(t, "/2fa/step-up", m["next"])
	m = requireError(t, b.post("/danger", nil), http.StatusUnauthorized, twofactorhttp.CodeStepUpRequired)
	assert.Equal(t, "/2fa/step-up", m["next"])

	w := b.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	st := decodeJSON(t, w)
	assert.Equal(t, "step_up", st["purpose"])
	assert.NotContains(t, st, "remember_device")
	w = b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, map[string]any{"ok": true, "status": "stepped_up", "next": "/danger"}, decodeJSON(t, w))
	require.Equal(t, http.StatusOK, b.post("/danger", nil).Code)
}

// A form POST without a fresh proof gets 401 and a page whose Continue
// returns to the page the form was on.
func TestStepUpRefusedPost(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.session("bob")
	b.header = http.Header{"Referer": {"https://example.com/settings/close"}}
	w := b.post("/danger", url.Values{"confirm": {"yes"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Body.String(), `<input type="hidden" name="next" value="/settings/close">`)
	b.header = http.Header{"Referer": {"https://evil.example/x"}}
	w = b.post("/danger", url.Values{"confirm": {"yes"}})
	assert.NotContains(t, w.Body.String(), `name="next"`)
}

func TestStepUpRefusals(t *testing.T) {
	e := newEnv(t, envOpt{})
	ctx := context.Background()

	// Signed out: to the login page, or 401.
	requireRedirect(t, e.browser().get("/danger"), "/login?next=%2Fdanger")
	requireError(t, e.api().get("/danger"), http.StatusUnauthorized, twofactorhttp.CodeSignedOut)
	requireError(t, e.api().post("/2fa/step-up", nil), http.StatusUnauthorized, twofactorhttp.CodeSignedOut)

	// Alice's step-up cookie does nothing for bob.
	a := e.session("alice")
	a.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	a.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusOK, a.get("/danger").Code)
	bb := e.session("bob")
	bb.cookies[twofactorhttp.DefaultStepUpCookie] = a.cookies[twofactorhttp.DefaultStepUpCookie]
	requireRedirect(t, bb.get("/danger"), "/2fa/step-up?next=%2Fdanger")

	// A password change voids the proof (CheckProof reads the store).
	require.NoError(t, e.svc.PasswordChanged(ctx, "alice"))
	e.clock.Advance(time.Millisecond)
	requireRedirect(t, a.get("/danger"), "/2fa/step-up?next=%2Fdanger")

	// A sign-in proof is not a step-up: signing in clears the step-up
	// cookie, and the login's proof is refused by CheckProof.
	s := e.browser()
	s.login("bob", "")
	s.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	assert.NotContains(t, s.cookies, twofactorhttp.DefaultStepUpCookie)
	ins := e.signIns()
	require.ErrorIs(t, e.svc.CheckProof(ctx, ins[len(ins)-1].Proof, "bob", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired)
	requireRedirect(t, s.get("/danger"), "/2fa/step-up?next=%2Fdanger")

	// A user with no second factor has nothing to step up with.
	c := e.session("carol")
	w := c.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	require.Equal(t, http.StatusForbidden, w.Code)
	c.json = true
	m := requireError(t, c.post("/2fa/step-up", nil), http.StatusForbidden, twofactorhttp.CodeNotEnrolled)
	assert.Equal(t, "/enroll", m["next"])
	assert.Empty(t, c.challengeID())

	// Cancelling a step-up goes back to the default page.
	a.post("/2fa/step-up", url.Values{"next": {"/danger"}})
	id := a.challengeID()
	requireRedirect(t, a.post("/2fa/cancel", nil), "/")
	_, err := e.svc.Challenge(ctx, id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
}

// A StepUp with a shorter max age than the Service's.
func TestStepUpMaxAge(t *testing.T) {
	e := newEnv(t, envOpt{})
	short := e.h.StepUp(time.Minute).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	e.mux.Handle("/short", short)
	b := e.session("bob")
	b.post("/2fa/step-up", url.Values{"next": {"/short"}})
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/short")
	require.Equal(t, http.StatusOK, b.get("/short").Code)
	e.clock.Advance(61 * time.Second)
	requireRedirect(t, b.get("/short"), "/2fa/step-up?next=%2Fshort")
	require.Equal(t, http.StatusOK, b.get("/danger").Code, "the Service's five minutes still hold elsewhere")
}

// The zero values refuse everything; the constructors need Config.UserID.
func TestMiddlewareZeroValue(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	var s twofactorhttp.StepUp
	require.Error(t, s.Check(r))
	var en twofactorhttp.Enforce
	require.Error(t, en.Check(r))
	for _, h := range []http.Handler{s.Handler(http.NotFoundHandler()), en.Handler(http.NotFoundHandler())} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, http.StatusInternalServerError, w.Code)
	}
	e := newEnv(t, envOpt{})
	h, err := twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: http.NewServeMux(),
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }})
	require.NoError(t, err)
	require.Panics(t, func() { h.StepUp(0) })
	require.Panics(t, func() { h.Enforce() })
}

// Under a policy that requires a second factor, a host session for user without
// one is sent to enrollment before any page Enforce guards.
func TestEnforce(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Policy.Required = true }})
	ctx := context.Background()

	// Sign-in of a user without a factor: signed in, then to enrollment.
	b := e.browser()
	requireRedirect(t, b.login("carol", "/account"), "/enroll?next=%2Faccount")
	require.Len(t, e.signIns(), 1)
	assert.Empty(t, b.challengeID(), "no challenge for a user with nothing to answer")
	a := e.api()
	w := a.login("carol", "")
	assert.Equal(t, map[string]any{"ok": true, "status": "enroll_required", "next": "/enroll"}, decodeJSON(t, w))

	// Every guarded page sends them there.
	requireRedirect(t, b.get("/account?tab=2"), "/enroll?next=%2Faccount%3Ftab%3D2")
	m := requireError(t, a.get("/account"), http.StatusForbidden, twofactorhttp.CodeEnrollRequired)
	assert.Equal(t, "/enroll", m["next"])
	es, err := e.svc.Enrollments(ctx, carol)
	require.NoError(t, err)
	assert.Empty(t, es)

	// Backup codes alone do not count.
	e.who.set("carol", twofactor.MethodBackupCode)
	requireRedirect(t, b.get("/account"), "/enroll?next=%2Faccount")

	// With a factor, the page opens; so does it for anyone signed out (the
	// host's own check answers them).
	e.who.set("carol", twofactor.MethodTOTP)
	w = b.get("/account")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "account of carol", w.Body.String())
	requireRedirect(t, e.browser().get("/account"), "/login")

	// Enrollment itself and the layer are never guarded.
	en := e.h.Enforce()
	for _, p := range []string{"/enroll", "/enroll/totp", "/2fa/", "/2fa/verify"} {
		r := httptest.NewRequest(http.MethodGet, p, nil)
		r.AddCookie(&http.Cookie{Name: "session", Value: "dave"})
		require.NoError(t, en.Check(r), p)
	}

	// Without the policy, nothing is enforced.
	e = newEnv(t, envOpt{})
	b = e.session("carol")
	require.Equal(t, http.StatusOK, b.get("/account").Code)
}

// A user who signed in with a second factor passes Enforce with no store
// call and no read of their enrollments: the sign-in left a sealed mark,
// bound to the user, that lasts an hour. After the hour a request reads
// the enrollments once and leaves a fresh mark; a mark copied into
// another user's session says nothing for them; signing out drops it.
func TestEnforceRemembersTheFactor(t *testing.T) {
	var spy *storespy.Spy
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) {
		c.Policy.Required = true
		spy = storespy.New(c.Store.(store.Store))
		c.Store = spy
	}})
	const mark = twofactorhttp.DefaultStepUpCookie + "_enrolled"
	b := e.browser()
	b.login("bob", "/account")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/account")
	require.Contains(t, b.cookies, mark, "the sign-in left the mark")

	guarded := func(b *browser) (*httptest.ResponseRecorder, int64) {
		t.Helper()
		calls, reads := spy.Calls.Load(), e.who.reads.Load()
		w := b.get("/account")
		return w, spy.Calls.Load() - calls + e.who.reads.Load() - reads
	}
	for range 3 {
		w, n := guarded(b)
		require.Equal(t, http.StatusOK, w.Code)
		assert.Zero(t, n, "store calls and enrollment reads of a guarded request")
	}

	// Another user's session with bob's mark: carol has no factor.
	c := e.session("carol")
	c.cookies[mark] = b.cookies[mark]
	w, n := guarded(c)
	requireRedirect(t, w, "/enroll?next=%2Faccount")
	assert.Positive(t, n, "the mark was read for another user")

	// An hour on, the mark is stale: one read, and a fresh mark.
	e.clock.Advance(time.Hour)
	stale := b.cookies[mark].Value
	w, n = guarded(b)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Positive(t, n)
	require.NotEqual(t, stale, b.cookies[mark].Value, "a fresh mark")
	_, n = guarded(b)
	assert.Zero(t, n)

	// Signing out drops it too.
	d := e.browser()
	d.login("alice", "")
	require.Equal(t, http.StatusSeeOther, d.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}).Code)
	require.Contains(t, d.cookies, mark)
	d.post("/logout", nil)
	assert.NotContains(t, d.cookies, mark, "signing out dropped the mark")
}
