package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// trustDevice signs user in on a new browser with a code by email and
// "remember this device".
func (s *senv) trustDevice(user, ua string) *browser {
	s.t.Helper()
	b := s.browser()
	b.header.Set("User-Agent", ua)
	b.login(user, "")
	requireRedirect(s.t, b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {s.mailCode(s.users[user].Email)}, "remember": {"on"}}), "/")
	return b
}

// turnOnEmail turns opt-in email codes on for b's user (the first factor:
// backup codes come with it).
func (s *senv) turnOnEmail(b *browser) {
	s.t.Helper()
	u := s.users[b.cookies["session"].Value]
	w := b.post("/2fa/settings/email", url.Values{})
	require.Less(s.t, w.Code, 400, w.Body.String())
	w = b.post("/2fa/settings/email/verify", url.Values{"code": {s.mailCode(u.Email)}})
	require.Less(s.t, w.Code, 400, w.Body.String())
}

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// Turning two-step verification off: the overview links to a
// confirmation, which needs a fresh step-up and comes back; the POST
// removes every factor, the backup codes and the trusted devices, and the
// overview then shows nothing enrolled.
func TestSettingsDisable(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{email: emailcode.EnrollOptIn})
	b := s.as("ann", false)
	s.turnOnEmail(b)
	s.turnOnEmail(s.as("cat", false))
	s.trustDevice("ann", firefoxUA)
	s.trustDevice("cat", firefoxUA)
	es, err := s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Len(t, es, 2, "email codes and backup codes")

	w := b.get("/2fa/settings/")
	require.Contains(t, w.Body.String(), `<a href="/2fa/settings/disable">Turn off two-step verification</a>`)

	// Not fresh: through the step-up and back, for the page and the POST.
	s.clock.Advance(10 * time.Minute)
	requireRedirect(t, b.get("/2fa/settings/disable"), "/2fa/step-up?next=%2F2fa%2Fsettings%2Fdisable")
	requireRedirect(t, b.post("/2fa/settings/disable", nil), "/2fa/step-up?next=%2F2fa%2Fsettings%2Fdisable")
	es, err = s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Len(t, es, 2, "nothing changed")
	s.stepUp(b, "/2fa/settings/disable")

	w = b.get("/2fa/settings/disable")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := text(w)
	for _, want := range []string{"<title>Turn off two-step verification?</title>", `<span class="tf-label">Email</span> <span class="tf-meta">a***@example.com</span>`,
		"10 backup codes left.", "1 trusted device", "your trusted devices will be removed",
		`<form method="post" action="/2fa/settings/disable">`, ">Turn off</button>", `<a href="/2fa/settings/">Cancel</a>`} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "Email codes stay on", "opt-in email codes go too")
	// The warning comes before what it takes away, each method is named
	// once, and the button looks like what it does.
	require.Less(t, strings.Index(body, "will be removed"), strings.Index(body, `<ul class="tf-list">`))
	require.Contains(t, body, `<button type="submit" class="tf-danger" autofocus>Turn off</button>`)
	require.NotContains(t, body, `<span class="tf-meta">Backup codes`, "the count once, not the label too")
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.Contains(t, w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")

	// From another origin: refused, nothing changes.
	x := s.as("ann", false)
	x.cookies["tf_stepup"] = b.cookies["tf_stepup"]
	x.header.Set("Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, x.post("/2fa/settings/disable", nil).Code)
	es, err = s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Len(t, es, 2)

	w = b.post("/2fa/settings/disable", nil)
	requireRedirect(t, w, "/2fa/settings/?done=disabled")
	var dropped bool
	for _, c := range w.Result().Cookies() {
		dropped = dropped || c.Name == "tf_stepup" && c.MaxAge < 0
	}
	require.True(t, dropped, "the step-up cookie goes with the proofs")

	es, err = s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Empty(t, es)
	list, err := s.devices.List(t.Context(), "ann")
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, list, 1, "another user's device stays")
	n, err := s.codes.Remaining(t.Context(), ann)
	require.NoError(t, err)
	require.Zero(t, n)
	ev := s.events.OfType(event.Disabled)
	require.Len(t, ev, 1)
	require.Equal(t, "ann", ev[0].UserID)

	w = b.get("/2fa/settings/?done=disabled")
	require.Equal(t, http.StatusOK, w.Code)
	body = text(w)
	require.Contains(t, body, "Two-step verification is off.")
	require.NotContains(t, body, `class="tf-status tf-on"`)
	require.Contains(t, body, "You have no backup codes.")
	require.Contains(t, body, "No trusted device.")
	require.NotContains(t, body, "/2fa/settings/disable", "nothing left to turn off")

	// Signing in asks for no second step now.
	c := s.browser()
	requireRedirect(t, c.login("ann", ""), "/")
	require.Equal(t, "ann", c.cookies["session"].Value)
}

func TestSettingsDisableJSON(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{email: emailcode.EnrollOptIn})
	api := s.as("cat", true)
	s.turnOnEmail(api)
	m := decodeJSON(t, api.get("/2fa/settings/"))
	require.Equal(t, "/2fa/settings/disable", m["disable"])

	s.clock.Advance(10 * time.Minute)
	m = requireError(t, api.get("/2fa/settings/disable"), http.StatusUnauthorized, "step_up_required")
	require.Equal(t, "/2fa/step-up", m["next"])
	requireError(t, api.post("/2fa/settings/disable", url.Values{}), http.StatusUnauthorized, "step_up_required")
	s.stepUp(api, "/2fa/settings/disable")

	m = decodeJSON(t, api.get("/2fa/settings/disable"))
	require.Equal(t, true, m["allowed"])
	require.Nil(t, m["stays_on"])
	require.Nil(t, m["message"])
	methods := m["methods"].([]any)
	require.Len(t, methods, 2)
	require.Equal(t, "email", methods[0].(map[string]any)["method"])
	backup := methods[1].(map[string]any)
	require.Equal(t, "backup_code", backup["method"])
	require.Equal(t, true, backup["recovery"])
	require.Equal(t, float64(10), backup["remaining"])
	require.Equal(t, float64(0), m["trusted_devices"])

	m = decodeJSON(t, api.post("/2fa/settings/disable", url.Values{}))
	require.Equal(t, map[string]any{"ok": true, "status": "disabled", "next": "/2fa/settings/"}, m)
	es, err := s.svc.Enrollments(t.Context(), cat)
	require.NoError(t, err)
	require.Empty(t, es)

	m = decodeJSON(t, api.get("/2fa/settings/"))
	for _, f := range m["methods"].([]any) {
		require.Equal(t, false, f.(map[string]any)["enrolled"], f)
		if f.(map[string]any)["recovery"] == true {
			require.Equal(t, float64(0), f.(map[string]any)["remaining"])
		}
	}
	require.Nil(t, m["disable"])

	// The proof was voided with the rest: doing it again needs a step-up
	// (which, with no factor left, cannot be had).
	requireError(t, api.post("/2fa/settings/disable", url.Values{}), http.StatusUnauthorized, "step_up_required")
}

// Email codes that follow the account's address stay on: the page says
// so, and they are what is left afterwards.
func TestSettingsDisableImplicitEmail(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	s.stepUp(b, "/2fa/settings/disable")
	w := b.get("/2fa/settings/disable")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, text(w), "<p>Email codes stay on while your account has an email address: they follow it, and are not removed here.</p>")
	m := decodeJSON(t, s.as("ann", true).withCookies(b).get("/2fa/settings/disable"))
	require.Equal(t, []any{"email"}, m["stays_on"])

	// Ben has nothing: nothing to turn off.
	require.NotContains(t, s.as("ben", false).get("/2fa/settings/").Body.String(), "/2fa/settings/disable")

	requireRedirect(t, b.post("/2fa/settings/disable", nil), "/2fa/settings/?done=disabled")
	es, err := s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.Equal(t, twofactor.MethodEmail, es[0].Method)
	require.Len(t, s.events.OfType(event.Disabled), 1)
}

// Under a policy that requires a second factor, turning it off is
// refused with a message, in HTML and JSON, even after a step-up.
func TestSettingsDisableRequired(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{
		svc:   func(c *twofactor.Config) { c.Policy.Required = true },
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/2fa/settings/" },
	})
	b := s.as("ann", false)
	require.NotContains(t, b.get("/2fa/settings/").Body.String(), "/2fa/settings/disable")
	require.Nil(t, decodeJSON(t, s.as("ann", true).get("/2fa/settings/"))["disable"])

	w := b.get("/2fa/settings/disable")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, text(w), "Your account needs two-step verification: it cannot be turned off.")
	require.NotContains(t, w.Body.String(), `<form method="post"`)
	m := decodeJSON(t, s.as("ann", true).get("/2fa/settings/disable"))
	require.Equal(t, false, m["allowed"])
	require.Equal(t, "Your account needs two-step verification: it cannot be turned off.", m["message"])

	s.stepUp(b, "/2fa/settings/")
	w = b.post("/2fa/settings/disable", nil)
	require.Equal(t, http.StatusConflict, w.Code)
	requireAlert(t, w.Body.String(), "it cannot be turned off")
	require.Contains(t, w.Body.String(), `href="/2fa/settings/"`)
	requireError(t, s.as("ann", true).withCookies(b).post("/2fa/settings/disable", url.Values{}), http.StatusConflict, "last_factor")

	es, err := s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.Empty(t, s.events.OfType(event.Disabled))
}

// withCookies gives b the cookies of o (the same browser, asking for JSON
// or HTML) and returns b.
func (b *browser) withCookies(o *browser) *browser {
	for k, c := range o.cookies {
		b.cookies[k] = c
	}
	return b
}
