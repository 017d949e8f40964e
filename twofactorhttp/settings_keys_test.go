package twofactorhttp_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/emailcode"
)

// Security keys: several per user, added through the register routes
// (the first brings backup codes for the page that shows them), renamed,
// removed after a step-up; another user's key is out of reach.
func TestSettingsKeys(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	w := b.get("/2fa/settings/keys")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	require.Contains(t, body, "No security key yet.")
	require.Contains(t, body, `<label for="tf-key-name">Name</label>`)
	require.Contains(t, body, `data-webauthn="register"`)
	require.Contains(t, body, `data-webauthn-done="/2fa/settings/keys?done=keys"`)
	require.Contains(t, body, `data-webauthn-codes="/2fa/settings/backup-codes/show"`)
	require.Contains(t, body, `<script src="/2fa/webauthn/webauthn.js" defer data-msg-cancelled=`)

	// The script's calls, with the page's cookies.
	api := s.as("ben", true)
	decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Blue key"}`))
	m := decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"ben"}}`))
	require.Len(t, m["backup_codes"], 10)
	w = api.get("/2fa/settings/backup-codes/show")
	m = decodeJSON(t, w)
	require.Len(t, m["backup_codes"], 10)

	// A second key needs a step-up: the page's button leads through it.
	w = b.get("/2fa/settings/keys")
	body = text(w)
	require.Contains(t, body, "Blue key")
	require.Contains(t, body, `href="/2fa/step-up?next=%2F2fa%2Fsettings%2Fkeys">Add a security key`)
	require.NotContains(t, body, `data-webauthn="register"`)
	requireError(t, api.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Red key"}`), http.StatusUnauthorized, "step_up_required")

	// Ben has no email: a step-up by backup code.
	codes := m["backup_codes"].([]any)
	w = api.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/keys"}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	m = decodeJSON(t, api.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {codes[0].(string)}}))
	require.Equal(t, "stepped_up", m["status"])
	decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Red key"}`))
	m = decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"ben"}}`))
	require.Nil(t, m["backup_codes"])

	m = decodeJSON(t, api.get("/2fa/settings/keys"))
	keys := m["enrollments"].([]any)
	require.Len(t, keys, 2)
	red := keys[1].(map[string]any)["id"].(string)

	// Renaming asks for a fresh step-up too, as adding and removing do.
	requireRedirect(t, b.post("/2fa/settings/keys/rename", url.Values{"id": {red}, "name": {"Spare key"}}), "/2fa/step-up?next=%2F2fa%2Fsettings%2Fkeys")
	require.NotContains(t, b.get("/2fa/settings/keys").Body.String(), "Spare key")
	b.cookies["tf_stepup"] = api.cookies["tf_stepup"]

	// Rename, with a visible label per key.
	w = b.get("/2fa/settings/keys")
	require.Contains(t, text(w), `<label for="tf-rename-1">New name for Red key</label>`)
	requireRedirect(t, b.post("/2fa/settings/keys/rename", url.Values{"id": {red}, "name": {"Spare key"}}), "/2fa/settings/keys?done=renamed")
	require.Contains(t, b.get("/2fa/settings/keys?done=renamed").Body.String(), "Spare key")
	w = b.post("/2fa/settings/keys/rename", url.Values{"id": {red}, "name": {"   "}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), `role="alert"`)

	// Another user cannot rename or remove ben's key.
	other := s.as("cat", true)
	s.stepUp(other, "/2fa/settings/keys")
	requireError(t, other.post("/2fa/settings/keys/rename", url.Values{"id": {red}, "name": {"Mine"}}), http.StatusNotFound, "not_found")
	requireError(t, other.post("/2fa/settings/remove", url.Values{"method": {"webauthn"}, "id": {red}}), http.StatusNotFound, "not_found")
	requireError(t, other.get("/2fa/settings/remove?method=webauthn&id="+red), http.StatusNotFound, "not_found")

	// Removing, with the step-up still fresh (the same browser).
	b.cookies["tf_stepup"] = api.cookies["tf_stepup"]
	w = b.get("/2fa/settings/remove?method=webauthn&id=" + red)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "Remove Security key?")
	require.Contains(t, w.Body.String(), "Spare key")
	gone := base64.RawURLEncoding.EncodeToString([]byte("cred-" + red))
	requireRedirect(t, b.post("/2fa/settings/remove", url.Values{"method": {"webauthn"}, "id": {red}}), "/2fa/settings/keys?done=removed&gone="+gone)
	m = decodeJSON(t, api.get("/2fa/settings/keys"))
	require.Len(t, m["enrollments"], 1)

	// The page tells the browser the site no longer accepts the removed
	// key, and which keys it still does.
	signal := keysSignal(t, b.get("/2fa/settings/keys?done=removed&gone="+gone))
	assert.Equal(t, "example.com", signal["rpId"])
	assert.Equal(t, gone, signal["unknownCredentialId"])
	assert.Equal(t, base64.RawURLEncoding.EncodeToString([]byte("h-ben")), signal["userId"])
	require.Len(t, signal["allAcceptedCredentialIds"], 1)
	assert.Equal(t, "ben", signal["name"])
	// A gone parameter that is not a credential id is left out, as is
	// one longer than a credential id may be (1023 bytes).
	assert.NotContains(t, keysSignal(t, b.get("/2fa/settings/keys?gone=%25%25")), "unknownCredentialId")
	longest := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 1023))
	assert.Equal(t, longest, keysSignal(t, b.get("/2fa/settings/keys?gone="+longest))["unknownCredentialId"])
	tooLong := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 1024))
	assert.NotContains(t, keysSignal(t, b.get("/2fa/settings/keys?gone="+tooLong)), "unknownCredentialId")

	// The last key removed: the page tells the browser which, and no
	// longer names a handle or the user.
	last := m["enrollments"].([]any)[0].(map[string]any)["id"].(string)
	lastGone := base64.RawURLEncoding.EncodeToString([]byte("cred-" + last))
	requireRedirect(t, b.post("/2fa/settings/remove", url.Values{"method": {"webauthn"}, "id": {last}}), "/2fa/settings/keys?done=removed&gone="+lastGone)
	signal = keysSignal(t, b.get("/2fa/settings/keys?done=removed&gone="+lastGone))
	assert.Equal(t, map[string]any{"rpId": "example.com", "unknownCredentialId": lastGone}, signal)
	assert.NotContains(t, b.get("/2fa/settings/keys").Body.String(), "data-webauthn-signal", "nothing to tell without keys or a removal")
}

// keysSignal returns the keys page's data-webauthn-signal.
func keysSignal(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	m := regexp.MustCompile(`data-webauthn-signal="([^"]*)"`).FindStringSubmatch(w.Body.String())
	require.NotNil(t, m, "the keys page carries the signal")
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &out))
	return out
}

// With email codes the user opts into, the page turns them on with a
// code, and they can be removed.
func TestSettingsEmailOptIn(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{email: emailcode.EnrollOptIn})
	b := s.as("ann", false)
	w := b.get("/2fa/settings/email")
	require.Contains(t, w.Body.String(), "Email codes are off.")
	require.Contains(t, w.Body.String(), ">Send a code to my email<")
	requireRedirect(t, b.post("/2fa/settings/email", nil), "/2fa/settings/email")
	w = b.get("/2fa/settings/email")
	require.Contains(t, w.Body.String(), "We sent a code to a***@example.com.")
	require.Contains(t, w.Body.String(), `<label for="tf-code">Code from the email</label>`)
	code := s.mailCode(ann.Email)
	w = b.post("/2fa/settings/email/verify", url.Values{"code": {wrongCode(code)}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	requireAlert(t, w.Body.String(), "That code didn't work.")
	w = b.post("/2fa/settings/email/resend", nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	requireRedirect(t, b.post("/2fa/settings/email/verify", url.Values{"code": {code}}), "/2fa/settings/backup-codes/show")
	w = b.get("/2fa/settings/email")
	require.Contains(t, w.Body.String(), "Codes are emailed to a***@example.com.")
	// The factor says it is opt-in: they can be turned off again.
	require.Contains(t, w.Body.String(), removeForm("email", "email"))

	m := decodeJSON(t, s.as("ben", true).get("/2fa/settings/email"))
	require.Equal(t, false, m["enrolled"])
	require.Contains(t, s.as("ben", false).get("/2fa/settings/email").Body.String(), "Your account has no email address.")
}

// New backup codes need a step-up and kill the old set.
func TestSettingsBackupRegenerate(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	w := b.get("/2fa/settings/backup-codes")
	require.Contains(t, w.Body.String(), "You have no backup codes.")
	require.Contains(t, w.Body.String(), `href="/2fa/settings/backup-codes/new">Get backup codes`)
	requireRedirect(t, b.get("/2fa/settings/backup-codes/new"), "/2fa/step-up?next=%2F2fa%2Fsettings%2Fbackup-codes%2Fnew")
	requireRedirect(t, b.post("/2fa/settings/backup-codes", nil), "/2fa/step-up?next=%2F2fa%2Fsettings%2Fbackup-codes%2Fnew")
	s.stepUp(b, "/2fa/settings/backup-codes/new")
	w = b.get("/2fa/settings/backup-codes/new")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `action="/2fa/settings/backup-codes"`)
	requireRedirect(t, b.post("/2fa/settings/backup-codes", nil), "/2fa/settings/backup-codes/show")
	old := pageCodes(b.get("/2fa/settings/backup-codes/show").Body.String())
	require.Len(t, old, 10)

	w = b.get("/2fa/settings/backup-codes/new")
	require.Contains(t, w.Body.String(), "Your current backup codes will stop working.")
	api := s.as("ann", true)
	s.stepUp(api, "/2fa/settings/backup-codes/new")
	m := decodeJSON(t, api.post("/2fa/settings/backup-codes", url.Values{}))
	require.Equal(t, "generated", m["status"])
	fresh := m["backup_codes"].([]any)
	require.Len(t, fresh, 10)

	// The old set is dead, the new one works.
	c := s.browser()
	c.login("ann", "")
	w = c.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {old[0]}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	w = c.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {fresh[0].(string)}})
	requireRedirect(t, w, "/")

	// Few left: the prompt.
	for _, code := range fresh[1:8] {
		c := s.browser()
		c.login("ann", "")
		requireRedirect(t, c.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {code.(string)}}), "/")
	}
	w = b.get("/2fa/settings/backup-codes")
	require.Contains(t, w.Body.String(), "2 backup codes left.")
	require.Contains(t, w.Body.String(), "You are running out of backup codes.")
	m = decodeJSON(t, api.get("/2fa/settings/backup-codes"))
	require.Equal(t, true, m["enrolled"])
	require.Equal(t, float64(2), m["remaining"])
	require.Equal(t, true, m["low"])
	w = b.get("/2fa/settings/")
	require.Contains(t, w.Body.String(), "You are running out of backup codes.")
	require.Contains(t, w.Body.String(), "2 backup codes left.")
}

// Trusted devices: labelled, this one marked; one revoked, then all; an
// id of another user's device changes nothing.
func TestSettingsDevices(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	trustDevice := func(user, ua string) *browser {
		b := s.browser()
		b.header.Set("User-Agent", ua)
		b.login(user, "")
		u := s.users[user]
		requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {s.mailCode(u.Email)}, "remember": {"on"}}), "/")
		return b
	}
	firefox := trustDevice("ann", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	s.clock.Advance(time.Hour)
	chrome := trustDevice("ann", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	trustDevice("cat", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")

	w := firefox.get("/2fa/settings/devices")
	require.Equal(t, http.StatusOK, w.Code)
	body := text(w)
	require.Contains(t, body, "Firefox on Linux")
	require.Contains(t, body, "Chrome on Windows")
	require.Contains(t, body, "Network 203.0.113.0/24")
	require.Contains(t, body, "Added 2 Mar 2026")
	require.Contains(t, body, "Last seen 2 Mar 2026 09:00 UTC")
	require.Contains(t, body, "Trusted until 1 Apr 2026")
	require.Regexp(t, `<li class="tf-this" aria-current="true"><span class="tf-label">Firefox on Linux</span> <strong class="tf-badge">This device</strong>`, body)

	m := decodeJSON(t, s.as("ann", true).get("/2fa/settings/devices"))
	devs := m["trusted_devices"].([]any)
	require.Len(t, devs, 2)
	chromeID := devs[1].(map[string]any)["id"].(string)
	require.Equal(t, "203.0.113.0/24", devs[0].(map[string]any)["network"])
	catList, err := s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, catList, 1)

	// Cat's device through ann's page: 404, nothing changes.
	w = firefox.post("/2fa/settings/devices/revoke", url.Values{"id": {catList[0].ID}})
	require.Equal(t, http.StatusNotFound, w.Code)
	requireAlert(t, w.Body.String(), "That device is not one of yours")
	requireError(t, s.as("ann", true).post("/2fa/settings/devices/revoke", url.Values{"id": {catList[0].ID}}), http.StatusNotFound, "not_found")
	catList, err = s.devices.List(t.Context(), "cat")
	require.NoError(t, err)
	require.Len(t, catList, 1)

	requireRedirect(t, firefox.post("/2fa/settings/devices/revoke", url.Values{"id": {chromeID}}), "/2fa/settings/devices?done=revoked")
	require.Contains(t, firefox.get("/2fa/settings/devices?done=revoked").Body.String(), "Device revoked.")
	chrome.login("ann", "")
	require.NotEmpty(t, chrome.challengeID(), "asked again")

	m = decodeJSON(t, s.as("ann", true).post("/2fa/settings/devices/revoke-all", url.Values{"confirm": {"yes"}}))
	require.Equal(t, "revoked", m["status"])
	list, err := s.devices.List(t.Context(), "ann")
	require.NoError(t, err)
	require.Empty(t, list)

	// Revoking this device also drops its cookie.
	firefox = trustDevice("ann", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	w = firefox.post("/2fa/settings/devices/revoke-all", url.Values{"confirm": {"yes"}})
	requireRedirect(t, w, "/2fa/settings/devices?done=revoked_all")
	var dropped bool
	for _, c := range w.Result().Cookies() {
		dropped = dropped || c.Name == s.devices.CookieName() && c.MaxAge < 0
	}
	require.True(t, dropped)

	// Without a trust manager, no devices pages.
	s2 := newSettingsEnv(t, senvOpt{noTrust: true})
	require.Equal(t, http.StatusNotFound, s2.as("ann", false).get("/2fa/settings/devices").Code)
	require.NotContains(t, s2.as("ann", false).get("/2fa/settings/").Body.String(), "Trusted devices")
}

// Every settings POST is refused from another origin before anything
// happens.
func TestSettingsCrossOrigin(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	for _, path := range []string{"/2fa/settings/totp", "/2fa/settings/totp/verify", "/2fa/settings/phone",
		"/2fa/settings/phone/resend", "/2fa/settings/phone/verify", "/2fa/settings/keys/rename", "/2fa/settings/email",
		"/2fa/settings/email/resend", "/2fa/settings/email/verify", "/2fa/settings/backup-codes",
		"/2fa/settings/backup-codes/done", "/2fa/settings/devices/revoke", "/2fa/settings/devices/revoke-all",
		"/2fa/settings/remove"} {
		for _, asJSON := range []bool{false, true} {
			b := s.as("ben", asJSON)
			b.header.Set("Sec-Fetch-Site", "cross-site")
			w := b.post(path, url.Values{"region": {"US"}, "number": {"4155550112"}, "code": {"123456"}})
			require.Equal(t, http.StatusForbidden, w.Code, path)
			if asJSON {
				requireError(t, w, http.StatusForbidden, "cross_origin")
			}
		}
	}
	require.Empty(t, s.text.Messages())
	es, err := s.svc.Enrollments(t.Context(), ben)
	require.NoError(t, err)
	require.Empty(t, es)
}
