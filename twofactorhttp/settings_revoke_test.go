package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Revoking every trusted device asks first, as a page and as JSON; the
// POST without the confirmation changes nothing and leads to the page
// that asks; with it, every device of the user goes, and no other user's.
// No step-up is needed: the user may have lost the factor they would step
// up with, and what is revoked only ever let them skip the second step.
func TestRevokeAllAsksFirst(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	trustDevice := func(user, ua string) *browser {
		b := s.browser()
		b.header.Set("User-Agent", ua)
		b.login(user, "")
		u := s.users[user]
		requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {s.mailCode(u.Email)}, "remember": {"on"}}), "/")
		return b
	}
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	ann := trustDevice("ann", firefox)
	trustDevice("ann", chrome)
	trustDevice("cat", firefox)
	count := func(user string) int {
		t.Helper()
		l, err := s.devices.List(t.Context(), user)
		require.NoError(t, err)
		return len(l)
	}
	require.Equal(t, 2, count("ann"))

	// The devices page links to the page that asks; it posts nothing.
	body := ann.get("/2fa/settings/devices").Body.String()
	assert.Contains(t, body, `<a href="/2fa/settings/devices/revoke-all"`)
	assert.NotContains(t, body, `action="/2fa/settings/devices/revoke-all"`)

	// The page that asks: what it does, the devices, and a form with the
	// confirmation.
	w := ann.get("/2fa/settings/devices/revoke-all")
	require.Equal(t, http.StatusOK, w.Code)
	page := text(w)
	assert.Contains(t, page, "Revoke every trusted device?")
	assert.Contains(t, page, "this one included, will ask for your second step")
	assert.Contains(t, page, "2 trusted devices")
	// Each browser is named, this one marked, as the warning says.
	assert.Contains(t, page, `<li><span class="tf-label">Firefox on Linux</span> <strong class="tf-badge">This device</strong>`)
	assert.Contains(t, page, `<li><span class="tf-label">Chrome on Windows</span> <span class="tf-meta">`)
	assert.Contains(t, w.Body.String(), `class="tf-danger" autofocus>Revoke all</button>`)
	assert.Contains(t, w.Body.String(), `<form method="post" action="/2fa/settings/devices/revoke-all">`)
	assert.Contains(t, w.Body.String(), `<input type="hidden" name="confirm" value="yes">`)
	assert.Contains(t, w.Body.String(), `<a href="/2fa/settings/devices">`)
	m := decodeJSON(t, s.as("ann", true).get("/2fa/settings/devices/revoke-all"))
	assert.Equal(t, "Revoke every trusted device?", m["message"])
	assert.Equal(t, "yes", m["confirm"])
	assert.Len(t, m["trusted_devices"], 2)
	require.Equal(t, 2, count("ann"), "asking changes nothing")

	// A POST without the confirmation changes nothing.
	requireRedirect(t, ann.post("/2fa/settings/devices/revoke-all", nil), "/2fa/settings/devices/revoke-all")
	requireRedirect(t, ann.post("/2fa/settings/devices/revoke-all", url.Values{"confirm": {"no"}}), "/2fa/settings/devices/revoke-all")
	e := requireError(t, s.as("ann", true).post("/2fa/settings/devices/revoke-all", url.Values{}), http.StatusBadRequest, "confirm_required")
	assert.Equal(t, "/2fa/settings/devices/revoke-all", e["next"])
	require.Equal(t, 2, count("ann"), "revoked without the confirmation")

	// With it, in JSON and from the page's form: every device of ann's,
	// no step-up asked for, and none of cat's.
	m = decodeJSON(t, s.as("ann", true).post("/2fa/settings/devices/revoke-all", url.Values{"confirm": {"yes"}}))
	assert.Equal(t, "revoked", m["status"])
	assert.Zero(t, count("ann"))
	assert.Equal(t, 1, count("cat"))
	ann = trustDevice("ann", firefox)
	requireRedirect(t, ann.post("/2fa/settings/devices/revoke-all", url.Values{"confirm": {"yes"}}), "/2fa/settings/devices?done=revoked_all")
	assert.Zero(t, count("ann"))
	assert.Equal(t, 1, count("cat"))

	// With nothing to revoke, the page says so and offers no button.
	w = ann.get("/2fa/settings/devices/revoke-all")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, text(w), "No trusted device.")
	assert.NotContains(t, w.Body.String(), `name="confirm"`)
}
