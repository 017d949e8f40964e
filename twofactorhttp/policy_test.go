package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// roles is the host's own knowledge of its users' roles; PolicyFor reads
// it at every request, and tests change it between requests.
type roles struct {
	mu sync.Mutex
	of map[string]string
}

func (r *roles) set(user, role string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.of[user] = role
}

func (r *roles) policyFor(_ context.Context, u twofactor.User) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.of[u.ID], nil
}

// newPolicyEnv is an env whose "admin" users must have a second factor,
// "staff" within grace, "keys" a security key; everyone else may.
func newPolicyEnv(t *testing.T, grace twofactor.Grace) (*env, *roles) {
	r := &roles{of: map[string]string{}}
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) {
		c.Policies = map[string]twofactor.Policy{
			"admin": {Required: true},
			"staff": {Required: true, Grace: grace},
			"keys":  {Required: true, Methods: []twofactor.Method{twofactor.MethodWebAuthn, twofactor.MethodBackupCode}},
		}
		c.PolicyFor = r.policyFor
	}})
	return e, r
}

// A user is not asked to enroll when their policy does not require it,
// though another user's does; a policy that changes applies at the next
// request.
func TestEnforcePerUserPolicy(t *testing.T) {
	e, r := newPolicyEnv(t, twofactor.Grace{})
	r.set("dave", "admin")

	b := e.browser()
	requireRedirect(t, b.login("carol", "/account"), "/account")
	w := b.get("/account")
	require.Equal(t, http.StatusOK, w.Code, "carol's policy does not require a factor")

	r.set("carol", "admin")
	requireRedirect(t, b.get("/account"), "/enroll?next=%2Faccount")
	requireRedirect(t, e.browser().login("carol", "/account"), "/enroll?next=%2Faccount")
	r.set("carol", "")
	require.Equal(t, http.StatusOK, b.get("/account").Code)
}

// The enrolled mark is bound to the method that proved it: when the
// user's policy stops allowing that method, the mark no longer lets them
// through.
func TestEnforceMarkFollowsThePolicysMethods(t *testing.T) {
	e, r := newPolicyEnv(t, twofactor.Grace{})
	r.set("bob", "admin")
	const mark = twofactorhttp.DefaultStepUpCookie + "_enrolled"
	b := e.browser()
	b.login("bob", "/account")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/account")
	require.Contains(t, b.cookies, mark)
	require.Equal(t, http.StatusOK, b.get("/account").Code)

	r.set("bob", "keys") // bob has an authenticator app only
	requireRedirect(t, b.get("/account"), "/enroll?next=%2Faccount")
}

func TestSettingsShowTheUsersAllowedMethods(t *testing.T) {
	e, r := newPolicyEnv(t, twofactor.Grace{})
	r.set("carol", "keys")
	a := e.api()
	a.cookies["session"] = &http.Cookie{Name: "session", Value: "carol"}
	m := decodeJSON(t, a.get("/2fa/settings/"))
	canAdd := map[string]bool{}
	for _, f := range m["methods"].([]any) {
		f := f.(map[string]any)
		canAdd[f["method"].(string)] = f["can_add"] == true
	}
	assert.True(t, canAdd["webauthn"])
	assert.NotContains(t, canAdd, "totp", "carol's policy does not allow an authenticator app")
	assert.NotContains(t, canAdd, "sms")
	requireError(t, a.get("/2fa/settings/totp"), http.StatusNotFound, twofactorhttp.CodeNotFound)

	r.set("carol", "")
	require.Equal(t, http.StatusOK, a.get("/2fa/settings/totp").Code, "Config.Policy allows it")
}

// A user in grace is prompted at sign-in, may skip, is prompted again at
// the next sign-in with less time left, and once the deadline passes
// must enroll before reaching the app.
func TestEnrollPromptDuringGrace(t *testing.T) {
	e, r := newPolicyEnv(t, twofactor.Grace{Days: 7})
	r.set("carol", "staff")

	b := e.browser()
	requireRedirect(t, b.login("carol", "/account"), "/2fa/enroll-prompt?next=%2Faccount")
	require.Len(t, e.signIns(), 1, "signed in, then prompted")
	w := b.get("/2fa/enroll-prompt?next=%2Faccount")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "You have 7 days left to set up two-step verification.")
	assert.Contains(t, w.Body.String(), `href="/enroll?next=%2Faccount"`)
	assert.Contains(t, w.Body.String(), "Skip for now")

	// Ignoring the prompt does not reach the app.
	requireRedirect(t, b.get("/account"), "/2fa/enroll-prompt?next=%2Faccount")

	// Skipping is a POST that passes the cross-origin check.
	x := e.browser()
	x.cookies = b.cookies
	x.header.Set("Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, x.post("/2fa/enroll-prompt", url.Values{"next": {"/account"}}).Code)
	requireRedirect(t, b.get("/account"), "/2fa/enroll-prompt?next=%2Faccount")
	requireRedirect(t, b.post("/2fa/enroll-prompt", url.Values{"next": {"/account"}}), "/account")
	require.Equal(t, http.StatusOK, b.get("/account").Code, "skipped for this session")
	// The settings overview says what is left of the grace, beside the
	// status; viewing it counts no skip.
	ov := b.get("/2fa/settings/")
	require.Equal(t, http.StatusOK, ov.Code, ov.Body.String())
	assert.Contains(t, ov.Body.String(), `<p class="tf-warn">You have 7 days left to set up two-step verification.</p>`)

	// Two days on, the next sign-in prompts with five days left.
	e.clock.Advance(2 * 24 * time.Hour)
	c := e.browser()
	requireRedirect(t, c.login("carol", ""), "/2fa/enroll-prompt")
	assert.Contains(t, c.get("/2fa/enroll-prompt").Body.String(), "You have 5 days left")

	// The deadline passes: the skipped session is caught, and the next
	// sign-in goes to enrollment.
	e.clock.Advance(5 * 24 * time.Hour)
	requireRedirect(t, b.get("/account"), "/enroll?next=%2Faccount")
	requireRedirect(t, e.browser().login("carol", "/account"), "/enroll?next=%2Faccount")
	requireRedirect(t, c.get("/2fa/enroll-prompt"), "/enroll")
	requireRedirect(t, c.post("/2fa/enroll-prompt", url.Values{}), "/enroll")
}

func TestEnrollPromptSkipsAndJSON(t *testing.T) {
	e, r := newPolicyEnv(t, twofactor.Grace{Skips: 2})
	r.set("carol", "staff")
	a := e.api()
	m := decodeJSON(t, a.login("carol", ""))
	assert.Equal(t, map[string]any{"ok": true, "status": "enroll_suggested", "next": "/2fa/enroll-prompt"}, m)
	m = decodeJSON(t, a.get("/2fa/enroll-prompt"))
	assert.Equal(t, map[string]any{"status": "enroll_suggested", "skips_left": 2.0, "set_up": "/enroll", "skip": "/2fa/enroll-prompt", "next": "/"}, m)
	m = requireError(t, a.get("/account"), http.StatusForbidden, twofactorhttp.CodeEnrollRequired)
	assert.Equal(t, "/2fa/enroll-prompt", m["next"])

	b := e.browser()
	b.login("carol", "")
	assert.Contains(t, b.get("/2fa/enroll-prompt").Body.String(), "You can skip this 2 more times.")
	requireRedirect(t, b.post("/2fa/enroll-prompt", url.Values{}), "/")
	b = e.browser()
	b.login("carol", "")
	assert.Contains(t, b.get("/2fa/enroll-prompt").Body.String(), "You can skip this once more.")
	requireRedirect(t, b.post("/2fa/enroll-prompt", url.Values{}), "/")
	require.Equal(t, http.StatusOK, b.get("/account").Code, "the last skip lets this session through")
	requireRedirect(t, e.browser().login("carol", "/account"), "/enroll?next=%2Faccount")

	// A user who has a factor meanwhile is not prompted.
	e.who.set("carol", twofactor.MethodTOTP)
	requireRedirect(t, e.session("carol").get("/2fa/enroll-prompt?next=%2Faccount"), "/account")
}

func TestGraceNeedsUserID(t *testing.T) {
	svc, err := twofactor.New(twofactor.Config{Store: newEnv(t, envOpt{}).mem, Keys: newEnv(t, envOpt{}).keys,
		Factors: built(&appFactor{who: &enrolled{}}), Policy: twofactor.Policy{Required: true, Grace: twofactor.Grace{Days: 3}}})
	require.NoError(t, err)
	_, err = twofactorhttp.New(twofactorhttp.Config{Service: svc, Mux: http.NewServeMux(), EnrollURL: "/enroll",
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.ErrorContains(t, err, "grace")
}

// The administrator's user page names the user's policy and, for a user
// without a factor in grace, until when; the policy page lists the named
// policies and the users in grace.
func TestAdminPagesShowPolicies(t *testing.T) {
	r := &roles{of: map[string]string{"ben": "staff"}}
	s := newSettingsEnv(t, senvOpt{
		svc: func(c *twofactor.Config) {
			c.Policies = map[string]twofactor.Policy{
				"staff": {Required: true, Grace: twofactor.Grace{Days: 7, Skips: 3}},
				"admin": {Required: true, Methods: []twofactor.Method{twofactor.MethodWebAuthn, twofactor.MethodBackupCode}},
			}
			c.PolicyFor = r.policyFor
		},
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/enroll" },
	})
	ctx := context.Background()
	es, err := s.svc.Enrollments(ctx, ben)
	require.NoError(t, err)
	require.Empty(t, es, "ben has no factor")

	body := text(s.admin(false).get("/admin/2fa/user?id=ben"))
	assert.Contains(t, body, "staff</span> · Two-step verification required. Grace: 7 days from the first prompt, 3 skips.")
	assert.Contains(t, body, "In a grace period until 9 Mar 2026")
	assert.Contains(t, body, "Skips left: 3.")
	m := decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=ben"))
	assert.Equal(t, "staff", m["policy"])
	assert.Equal(t, map[string]any{"until": "2026-03-09T09:00:00Z", "skips_left": 3.0}, m["grace"])

	r.set("cat", "admin")
	body = text(s.admin(false).get("/admin/2fa/user?id=cat"))
	assert.Contains(t, body, `data-method="webauthn"`)
	assert.NotContains(t, body, `data-method="totp"`, "the methods cat's policy allows, and those cat has")
	assert.Contains(t, body, `data-method="email"`, "cat has email codes")
	r.set("cat", "")
	body = text(s.admin(false).get("/admin/2fa/user?id=cat"))
	assert.Contains(t, body, "default</span> · Two-step verification optional.")
	assert.NotContains(t, body, "grace period")

	body = text(s.admin(false).get("/admin/2fa/policy"))
	assert.Contains(t, body, "Policies by user")
	assert.Contains(t, body, "<dt>admin</dt>\n<dd>Two-step verification required. Allowed: Security key, Backup code.</dd>")
	assert.Contains(t, body, "No second factor · In a grace period until 9 Mar 2026 09:00 UTC")
	m = decodeJSON(t, s.admin(true).get("/admin/2fa/policy"))
	gaps := m["cannot_comply"].([]any)
	require.Len(t, gaps, 1)
	assert.Equal(t, "staff", gaps[0].(map[string]any)["policy"])
}
