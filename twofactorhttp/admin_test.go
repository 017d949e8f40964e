package twofactorhttp_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// admin returns a browser (or API client) of the administrator pages,
// named "support:jo".
func (s *senv) admin(asJSON bool) *browser {
	b := s.browser()
	b.json = asJSON
	b.header.Set("X-Admin", "support:jo")
	return b
}

func TestAdminUserPage(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	a := s.admin(false)
	w := a.get("/admin/2fa/")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `<label for="tf-user">User ID</label>`)
	require.Contains(t, w.Body.String(), `href="/admin/2fa/policy"`)
	requireRedirect(t, a.get("/admin/2fa/?id=ann"), "/admin/2fa/user?id=ann")

	w = a.get("/admin/2fa/user?id=ann")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := text(w)
	for _, want := range []string{"Two-step verification of ann@example.com", "a***@example.com", "Not locked out.",
		"No trusted device.", `<label for="tf-reason">Reason</label>`, "I checked this person's identity",
		`action="/admin/2fa/user/recovery-code"`} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `action="/admin/2fa/user/unlock"`, "nothing to lift")

	m := decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=ann"))
	require.Equal(t, "ann", m["id"])
	require.Equal(t, map[string]any{"failures": float64(0), "locked": false}, m["lockout"])

	requireError(t, s.admin(true).get("/admin/2fa/user?id=nobody"), http.StatusNotFound, "unknown_user")
	require.Equal(t, http.StatusNotFound, a.get("/admin/2fa/user?id=nobody").Code)

	// Without an administrator named, nothing.
	requireError(t, s.api().get("/admin/2fa/user?id=ann"), http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusForbidden, s.browser().post("/admin/2fa/user/unlock", url.Values{"id": {"ann"}}).Code)
}

// A reset asks for a reason and the identity check, then removes every
// factor, audited with the administrator and the reason.
func TestAdminReset(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	// Ben gets an authenticator app and backup codes.
	b := s.as("ben", true)
	m := decodeJSON(t, b.post("/2fa/settings/totp", url.Values{}))
	secret := m["pending"].(map[string]any)["secret"].(string)
	decodeJSON(t, b.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}}))

	a := s.admin(false)
	// The backup codes' row says how many are left once: its label does,
	// and the count is not repeated below it.
	page := text(a.get("/admin/2fa/user?id=ben"))
	i := strings.Index(page, `<li data-method="backup_code">`)
	require.GreaterOrEqual(t, i, 0, page)
	row := page[i : i+strings.Index(page[i:], "</section>")]
	require.Equal(t, 1, strings.Count(row, "left"), row)
	// The authenticator app's row names it once: its enrollment's label
	// is the method's name, so the row says On.
	i = strings.Index(page, `<li data-method="totp">`)
	require.GreaterOrEqual(t, i, 0, page)
	row = page[i : i+strings.Index(page[i:], `<li data-method="`+"backup_code")]
	require.Equal(t, 1, strings.Count(row, "Authenticator app"), row)
	require.Contains(t, row, "<li>On <span")

	w := a.post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "identity_checked": {"on"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	requireAlert(t, w.Body.String(), "Give the reason for the reset.")
	w = a.post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"lost phone, ID seen on call"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	requireAlert(t, w.Body.String(), "Confirm that you checked the person's identity.")
	require.Contains(t, w.Body.String(), ">lost phone, ID seen on call</textarea>", "the reason stays")
	requireError(t, s.admin(true).post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"x"}}), http.StatusBadRequest, "bad_request")
	es, err := s.svc.Enrollments(t.Context(), ben)
	require.NoError(t, err)
	require.Len(t, es, 2, "nothing changed")

	w = a.post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"lost phone, ID seen on call"}, "identity_checked": {"on"}})
	requireRedirect(t, w, "/admin/2fa/user?id=ben&done=reset")
	page = a.get("/admin/2fa/user?id=ben&done=reset").Body.String()
	require.Contains(t, page, "Two-step verification was reset.")
	require.NotContains(t, page, "You have", "the page speaks to the administrator, not the user")
	es, err = s.svc.Enrollments(t.Context(), ben)
	require.NoError(t, err)
	require.Empty(t, es)
	ev := s.events.OfType(event.AdminReset)
	require.Len(t, ev, 1)
	require.Equal(t, "support:jo", ev[0].Actor)
	require.Equal(t, "lost phone, ID seen on call", ev[0].Details["reason"])

	m = decodeJSON(t, s.admin(true).post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"again"}, "identity_checked": {"true"}}))
	require.Equal(t, "reset", m["status"])
}

var recoveryRe = regexp.MustCompile(`<p class="tf-codes tf-admin-code"><code>([0-9a-z-]+)</code>`)

// A recovery code is shown once and signs the user in once.
func TestAdminRecoveryCode(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	a := s.admin(false)
	w := a.post("/admin/2fa/user/recovery-code", url.Values{"id": {"ann"}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	match := recoveryRe.FindStringSubmatch(w.Body.String())
	require.NotNil(t, match)
	code := match[1]
	require.Contains(t, w.Body.String(), "not shown again")
	require.NotContains(t, a.get("/admin/2fa/user?id=ann").Body.String(), code)

	b := s.browser()
	b.login("ann", "")
	w = b.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {code}})
	requireRedirect(t, w, "/")
	c := s.browser()
	c.login("ann", "")
	w = c.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {code}})
	require.Equal(t, http.StatusBadRequest, w.Code, "used up: no longer offered")
	require.NotContains(t, c.cookies, "session")

	m := decodeJSON(t, s.admin(true).post("/admin/2fa/user/recovery-code", url.Values{"id": {"ann"}}))
	require.Regexp(t, `^[0-9a-z]{4}(-[0-9a-z]{4}){3}$`, m["code"])
	require.Equal(t, "2026-03-03T09:00:00Z", m["expires_at"])
	ev := s.events.OfType(event.AdminAction)
	require.Equal(t, "support:jo", ev[len(ev)-1].Actor)
}

func TestAdminUnlock(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 3 }})
	for range 3 {
		b := s.browser()
		b.login("ann", "")
		b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}})
	}
	w := s.admin(false).get("/admin/2fa/user?id=ann")
	require.Contains(t, text(w), "Locked out after 3 wrong codes · lifts at 09:15 UTC, in 15 minutes")
	m := decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=ann"))
	require.Equal(t, map[string]any{"failures": float64(3), "locked": true, "until": "2026-03-02T09:15:00Z"}, m["lockout"])

	requireRedirect(t, s.admin(false).post("/admin/2fa/user/unlock", url.Values{"id": {"ann"}}), "/admin/2fa/user?id=ann&done=unlocked")
	lo, err := s.svc.Lockout(t.Context(), "ann")
	require.NoError(t, err)
	require.False(t, lo.Locked)
	require.Zero(t, lo.Failures)
	require.Equal(t, "support:jo", s.events.OfType(event.AdminAction)[0].Actor)
	w = s.admin(false).get("/admin/2fa/user?id=ann&done=unlocked")
	require.Contains(t, w.Body.String(), "The lockout was lifted.")
	require.Contains(t, w.Body.String(), "Not locked out.")
	require.NotContains(t, w.Body.String(), `action="/admin/2fa/user/unlock"`)

	// Locked again, lifted through JSON.
	for range 3 {
		b := s.browser()
		b.login("ann", "")
		b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}})
	}
	m = decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=ann"))
	require.Equal(t, true, m["lockout"].(map[string]any)["locked"])
	m = decodeJSON(t, s.admin(true).post("/admin/2fa/user/unlock", url.Values{"id": {"ann"}}))
	require.Equal(t, map[string]any{"ok": true, "status": "unlocked", "next": "/admin/2fa/user?id=ann"}, m)
	lo, err = s.svc.Lockout(t.Context(), "ann")
	require.NoError(t, err)
	require.False(t, lo.Locked)
	require.Zero(t, lo.Failures)
	ev := s.events.OfType(event.AdminAction)
	require.Len(t, ev, 2)
	require.Equal(t, "support:jo", ev[1].Actor)
	require.Equal(t, event.ActionUnlock, ev[1].Action)
	requireError(t, s.admin(true).post("/admin/2fa/user/unlock", url.Values{"id": {"nobody"}}), http.StatusNotFound, "unknown_user")
}

// The policy page shows the configuration and who cannot comply.
func TestAdminPolicy(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Policy = twofactor.Policy{Required: true, Default: twofactor.MethodSMS, Mandatory: []twofactor.Method{twofactor.MethodSMS}}
	}, layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/enroll" }})
	w := s.admin(false).get("/admin/2fa/policy")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := text(w)
	for _, want := range []string{"The policy is the configuration the application was started with",
		"Every configured method.", "Text message", "30 days", "Session only", "1 day", "1 week",
		"Users who cannot comply", "No second factor", "Missing: Text message", "Users without a phone number",
		`href="/admin/2fa/user?id=ben"`} {
		require.Contains(t, body, want)
	}
	require.Contains(t, body, `<dd class="tf-plain">Session only, 1 day, 1 week, 30 days (current)</dd>`)

	m := decodeJSON(t, s.admin(true).get("/admin/2fa/policy"))
	require.Equal(t, true, m["required"])
	require.Equal(t, "sms", m["default_method"])
	require.Equal(t, float64(30*24*3600), m["trust_seconds"])
	require.Equal(t, float64(3), m["users_checked"])
	require.Len(t, m["cannot_comply"], 3)
	require.Len(t, m["without"].(map[string]any)["sms"], 3)
}

func TestAdminCrossOrigin(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	for _, path := range []string{"/admin/2fa/user/reset", "/admin/2fa/user/recovery-code", "/admin/2fa/user/unlock",
		"/admin/2fa/user/devices/revoke", "/admin/2fa/user/devices/revoke-all"} {
		a := s.admin(false)
		a.header.Set("Sec-Fetch-Site", "cross-site")
		w := a.post(path, url.Values{"id": {"ann"}, "reason": {"x"}, "identity_checked": {"on"}})
		require.Equal(t, http.StatusForbidden, w.Code, path)
	}
	require.Empty(t, s.events.OfType(event.AdminReset))
	require.Empty(t, s.events.OfType(event.AdminAction))
}

// Support staff revoke one of a user's trusted devices, or all of them,
// audited with their name; another user's device is out of reach.
func TestAdminRevokeDevices(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	s.trustDevice("ann", firefoxUA)
	s.trustDevice("ann", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	s.trustDevice("cat", firefoxUA)
	list, err := s.devices.List(t.Context(), "ann")
	require.NoError(t, err)
	require.Len(t, list, 2)
	catList, err := s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, catList, 1)

	a := s.admin(false)
	w := a.get("/admin/2fa/user?id=ann")
	require.Equal(t, http.StatusOK, w.Code)
	body := text(w)
	for _, want := range []string{"Firefox on Linux", "Chrome on Windows", `action="/admin/2fa/user/devices/revoke"`,
		`<input type="hidden" name="device" value="` + list[0].ID + `">`, `action="/admin/2fa/user/devices/revoke-all"`,
		">Revoke all devices</button>"} {
		require.Contains(t, body, want)
	}

	// Cat's device through ann's id: 404, nothing changes, nothing audited.
	w = a.post("/admin/2fa/user/devices/revoke", url.Values{"id": {"ann"}, "device": {catList[0].ID}})
	require.Equal(t, http.StatusNotFound, w.Code)
	requireAlert(t, w.Body.String(), "That device is not one of this user's")
	requireError(t, s.admin(true).post("/admin/2fa/user/devices/revoke", url.Values{"id": {"ann"}, "device": {catList[0].ID}}), http.StatusNotFound, "not_found")
	requireError(t, s.admin(true).post("/admin/2fa/user/devices/revoke", url.Values{"id": {"nobody"}, "device": {catList[0].ID}}), http.StatusNotFound, "unknown_user")
	catList, err = s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, catList, 1)
	require.Empty(t, s.events.OfType(event.AdminAction))

	w = a.post("/admin/2fa/user/devices/revoke", url.Values{"id": {"ann"}, "device": {list[0].ID}})
	requireRedirect(t, w, "/admin/2fa/user?id=ann&done=revoked")
	require.Contains(t, a.get("/admin/2fa/user?id=ann&done=revoked").Body.String(), "The device was revoked.")
	left, err := s.devices.List(t.Context(), "ann")
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.Equal(t, list[1].ID, left[0].ID)
	ev := s.events.OfType(event.AdminAction)
	require.Len(t, ev, 1)
	require.Equal(t, "support:jo", ev[0].Actor)
	require.Equal(t, "ann", ev[0].UserID)
	require.Equal(t, event.ActionRevokeDevices, ev[0].Action)
	require.Equal(t, 1, ev[0].Count)
	require.Equal(t, map[string]string{"device": list[0].ID[:8]}, ev[0].Details)
	require.Len(t, s.events.OfType(event.DeviceRevoked), 1)

	m := decodeJSON(t, s.admin(true).post("/admin/2fa/user/devices/revoke-all", url.Values{"id": {"ann"}}))
	require.Equal(t, map[string]any{"ok": true, "status": "revoked_all", "next": "/admin/2fa/user?id=ann"}, m)
	left, err = s.devices.List(t.Context(), "ann")
	require.NoError(t, err)
	require.Empty(t, left)
	catList, err = s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, catList, 1, "another user's device stays")
	ev = s.events.OfType(event.AdminAction)
	require.Len(t, ev, 2)
	require.Equal(t, "support:jo", ev[1].Actor)
	require.Equal(t, event.ActionRevokeDevices, ev[1].Action)
	require.Equal(t, 1, ev[1].Count)
	require.Empty(t, ev[1].Details)
	m = decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=ann"))
	require.Empty(t, m["trusted_devices"])

	// HTML revoke-all, and its notice.
	s.trustDevice("ann", firefoxUA)
	requireRedirect(t, a.post("/admin/2fa/user/devices/revoke-all", url.Values{"id": {"ann"}}), "/admin/2fa/user?id=ann&done=revoked_all")
	w = a.get("/admin/2fa/user?id=ann&done=revoked_all")
	require.Contains(t, w.Body.String(), "Every trusted device of this user was revoked.")
	require.Contains(t, w.Body.String(), "No trusted device.")
	require.NotContains(t, w.Body.String(), `name="device"`)

	// Without an administrator named: refused.
	requireError(t, s.api().post("/admin/2fa/user/devices/revoke-all", url.Values{"id": {"cat"}}), http.StatusForbidden, "forbidden")
	catList, err = s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, catList, 1)
}

// The pages' audit goes to the Service's Events, logged there with the
// actor; without a trust manager there is nothing to revoke.
func TestAdminRevokeDevicesLogged(t *testing.T) {
	var buf bytes.Buffer
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Events = &event.Sink{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	}})
	s.trustDevice("ann", firefoxUA)
	requireRedirect(t, s.admin(false).post("/admin/2fa/user/devices/revoke-all", url.Values{"id": {"ann"}}), "/admin/2fa/user?id=ann&done=revoked_all")
	require.Contains(t, buf.String(), `msg="twofactor: admin.action" event=admin.action user=ann action=revoke_devices actor=support:jo count=1`)

	s2 := newSettingsEnv(t, senvOpt{noTrust: true})
	requireError(t, s2.admin(true).post("/admin/2fa/user/devices/revoke-all", url.Values{"id": {"ann"}}), http.StatusNotFound, "not_found")
	requireError(t, s2.admin(true).post("/admin/2fa/user/devices/revoke", url.Values{"id": {"ann"}, "device": {"x"}}), http.StatusNotFound, "not_found")
	require.NotContains(t, s2.admin(false).get("/admin/2fa/user?id=ann").Body.String(), "/admin/2fa/user/devices/")
}

// The pages name a person as the host does (User.DisplayName), with the
// account name and address beside it; a user without a display name is
// named by their account name alone.
func TestAdminNamesThePerson(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Policy = twofactor.Policy{Mandatory: []twofactor.Method{twofactor.MethodSMS}}
	}})
	s.users["dan"] = twofactor.User{ID: "dan", Name: "dlee", DisplayName: "Dan Lee", Email: "dan@example.com"}
	a := s.admin(false)

	body := text(a.get("/admin/2fa/user?id=dan"))
	require.Contains(t, body, "<title>Two-step verification of Dan Lee</title>")
	require.Contains(t, body, "<h1>Two-step verification of Dan Lee</h1>")
	require.Contains(t, body, `<p class="tf-meta tf-who"><span>dlee</span> · <span>dan@example.com</span> · User ID <code>dan</code></p>`)
	m := decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=dan"))
	require.Equal(t, "dlee", m["name"])
	require.Equal(t, "Dan Lee", m["display_name"])

	// Ann's account name is her address: it is not said twice.
	body = text(a.get("/admin/2fa/user?id=ann"))
	require.Contains(t, body, "<h1>Two-step verification of ann@example.com</h1>")
	require.Contains(t, body, `<p class="tf-meta tf-who">User ID <code>ann</code></p>`)
	require.NotContains(t, decodeJSON(t, s.admin(true).get("/admin/2fa/user?id=ann")), "display_name")

	// A recovery code says who it is for, and leads back to them.
	body = text(a.post("/admin/2fa/user/recovery-code", url.Values{"id": {"dan"}}))
	require.Contains(t, body, `<p class="tf-meta tf-who"><span>Dan Lee</span> · <span>dlee</span> · User ID <code>dan</code></p>`)
	require.Contains(t, body, `<a class="tf-button" href="/admin/2fa/user?id=dan" autofocus>Back to Dan Lee</a>`)
	body = text(a.post("/admin/2fa/user/recovery-code", url.Values{"id": {"ben"}}))
	require.Contains(t, body, `<p class="tf-meta tf-who"><span>ben</span> · User ID <code>ben</code></p>`)
	require.Contains(t, body, ">Back to ben</a>")

	body = text(a.get("/admin/2fa/policy"))
	require.Contains(t, body, `<li><a href="/admin/2fa/user?id=dan">Dan Lee</a> <span class="tf-meta">dlee</span> <span class="tf-meta">Missing: Text message</span></li>`)
	require.Contains(t, body, `<li><a href="/admin/2fa/user?id=ben">ben</a> <span class="tf-meta">Missing: Text message</span></li>`)
	require.Contains(t, body, `<li><a href="/admin/2fa/user?id=dan">Dan Lee</a> <span class="tf-meta">dlee</span></li>`, "among the users without a phone number")
	m = decodeJSON(t, s.admin(true).get("/admin/2fa/policy"))
	var dan map[string]any
	for _, g := range m["cannot_comply"].([]any) {
		if u := g.(map[string]any)["user"].(map[string]any); u["id"] == "dan" {
			dan = u
		}
	}
	require.Equal(t, map[string]any{"id": "dan", "name": "dlee", "display_name": "Dan Lee"}, dan)
}

var lockoutRe = regexp.MustCompile(`(?s)<section class="tf-lockout">.*?</section>`)

// lockoutSection is the lockout part of a user's page, as text.
func lockoutSection(t *testing.T, a *browser, id string) string {
	t.Helper()
	w := a.get("/admin/2fa/user?id=" + id)
	require.Equal(t, http.StatusOK, w.Code)
	sec := lockoutRe.FindString(text(w))
	require.NotEmpty(t, sec)
	return sec
}

// A lockout says how many wrong codes led to it and when it lifts, as a
// time (with the date when it is not today) and a wait, with the unlock
// button beside it; a run of wrong codes short of a lockout can be
// cleared; with none there is nothing to lift.
func TestAdminLockoutSaysCountAndEnd(t *testing.T) {
	wrong := func(s *senv, n int) {
		for range n {
			b := s.browser()
			b.login("ann", "")
			b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}})
		}
	}
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 3 }})
	a := s.admin(false)
	sec := lockoutSection(t, a, "ann")
	require.Contains(t, sec, "<p>Not locked out.</p>")
	require.NotContains(t, sec, "<form")

	wrong(s, 2)
	sec = lockoutSection(t, a, "ann")
	require.Contains(t, sec, "<p>2 wrong codes in a row.</p>")
	require.Contains(t, sec, `<form method="post" action="/admin/2fa/user/unlock">`)
	require.Contains(t, sec, `<button type="submit" class="tf-secondary">Clear the count</button>`)

	wrong(s, 1)
	s.clock.Advance(time.Minute)
	sec = lockoutSection(t, a, "ann")
	require.Contains(t, sec, `<p class="tf-warn">Locked out after 3 wrong codes · lifts at 09:15 UTC, in 14 minutes</p>`)
	require.Regexp(t, `<div class="tf-lockout-row">\s*<p class="tf-warn">[^<]*</p>\s*<form method="post" action="/admin/2fa/user/unlock">`, sec,
		"the unlock button is next to the lockout")
	require.Contains(t, sec, `<button type="submit" class="tf-primary">Unlock</button>`)

	// Past the most wrong codes in a row, the lockout lasts as long as the
	// run is remembered: another day, so the date is given.
	s = newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Limits.MaxUserFailures, c.Limits.MaxConsecutiveFailures, c.Limits.FailureMemory = 3, 3, 48*time.Hour
	}})
	wrong(s, 3)
	sec = lockoutSection(t, s.admin(false), "ann")
	require.Contains(t, sec, "Locked out after 3 wrong codes · lifts at 4 Mar 2026 09:00 UTC, in 48 hours")
}

// A string table with its own lockout words keeps them; one without them
// gets the defaults, and a Lifts without its two verbs is refused.
func TestAdminLockoutStrings(t *testing.T) {
	st := twofactorhttp.DefaultStrings()
	st.Admin.LockedAfter = i18n.Plural{One: "Gesperrt nach %d falschen Code", Other: "Gesperrt nach %d falschen Codes"}
	st.Admin.Lifts, st.Admin.Time = "endet um %s, %s", "15:04 Uhr"
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 1 },
		layer: func(c *twofactorhttp.Config) { c.Strings = st }})
	b := s.browser()
	b.login("ann", "")
	b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}})
	require.Contains(t, lockoutSection(t, s.admin(false), "ann"), "Gesperrt nach 1 falschen Code · endet um 09:15 Uhr, in 15 minutes")

	old := twofactorhttp.DefaultStrings()
	old.Admin.LockedAfter, old.Admin.Lifts, old.Admin.Time, old.Admin.ClearFailures = i18n.Plural{}, "", "", ""
	s = newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 1 },
		layer: func(c *twofactorhttp.Config) { c.Strings = old }})
	b = s.browser()
	b.login("ann", "")
	b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"000000"}})
	require.Contains(t, lockoutSection(t, s.admin(false), "ann"), "Locked out after 1 wrong code · lifts at 09:15 UTC, in 15 minutes")

	bad := twofactorhttp.DefaultStrings()
	bad.Admin.Lifts = "lifts at %s"
	_, err := twofactorhttp.New(twofactorhttp.Config{Service: s.svc, Mux: http.NewServeMux(), Strings: bad,
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, "Admin.Lifts")
}

// navLayout prints what a host's layout decides its navigation by.
var navLayout = fstest.MapFS{"layout.html": {Data: []byte(`{{define "layout"}}[page {{.Page}}]` +
	`{{with .Admin}}[admin nav {{.Base}}]{{end}}{{template "content" .}}{{end}}`)}}

// An id nobody has gives the lookup page again with the id typed, to
// correct it; every other refusal on the administrator's pages keeps the
// administrator's navigation (PageData.Admin) and a way back, except the
// refusal of someone the host names no administrator for.
func TestAdminMessagesKeepNavigation(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) { c.Templates = navLayout }})
	a := s.admin(false)
	for _, w := range []*httptest.ResponseRecorder{a.get("/admin/2fa/user?id=nobdy"),
		a.post("/admin/2fa/user/unlock", url.Values{"id": {"nobdy"}})} {
		require.Equal(t, http.StatusNotFound, w.Code)
		body := text(w)
		require.Contains(t, body, "[page admin_index][admin nav /admin/2fa/]")
		requireAlert(t, body, "No user with that ID.")
		require.Contains(t, body, `<input id="tf-user" name="id" type="text" required autofocus autocomplete="off" spellcheck="false" maxlength="128" value="nobdy">`)
		require.Contains(t, body, `<a href="/admin/2fa/policy">Policy</a>`)
	}

	w := a.post("/admin/2fa/user/devices/revoke", url.Values{"id": {"ann"}, "device": {"gone"}})
	require.Equal(t, http.StatusNotFound, w.Code)
	body := text(w)
	require.Contains(t, body, "[page message][admin nav /admin/2fa/]")
	requireAlert(t, body, "That device is not one of this user's")
	require.Contains(t, body, `<a class="tf-button" href="/admin/2fa/">Back to support</a>`)

	w = s.browser().get("/admin/2fa/user?id=ann")
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Contains(t, text(w), "[page message]<h1>")
	require.NotContains(t, text(w), "[admin nav")
}

// The policy page lists the usual trust durations as plain text (the page
// changes nothing), and the users without a phone number only when the
// policy requires one.
func TestAdminPolicyListsOnlyWhatItRequires(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	body := text(s.admin(false).get("/admin/2fa/policy"))
	require.Contains(t, body, "<dt>Usual durations</dt>\n<dd class=\"tf-plain\">Session only, 1 day, 1 week, 30 days (current)</dd>")
	require.NotRegexp(t, `<li[ >]`, body, "no list the page cannot act on")
	require.NotContains(t, body, "Users without a phone number")
	require.NotContains(t, body, `data-method="sms"`)
	require.NotContains(t, decodeJSON(t, s.admin(true).get("/admin/2fa/policy")), "without")

	for name, pol := range map[string]twofactor.Policy{
		"mandatory": {Mandatory: []twofactor.Method{twofactor.MethodSMS}},
		"only one":  {Required: true, Methods: []twofactor.Method{twofactor.MethodSMS, twofactor.MethodBackupCode}},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Policy = pol },
				layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/enroll" }})
			body := text(s.admin(false).get("/admin/2fa/policy"))
			require.Contains(t, body, "<section data-method=\"sms\">\n<h2>Users without a phone number</h2>")
			m := decodeJSON(t, s.admin(true).get("/admin/2fa/policy"))
			require.Len(t, m["without"].(map[string]any)["sms"], 3)
		})
	}

	// Required, but any method does: a phone number is not asked of anyone.
	s = newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Policy = twofactor.Policy{Required: true} },
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/enroll" }})
	require.NotContains(t, text(s.admin(false).get("/admin/2fa/policy")), "Users without a phone number")
}
