package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

func TestSettingsSignedOut(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.browser()
	w := b.get("/2fa/settings/totp")
	requireRedirect(t, w, "/login?next=%2F2fa%2Fsettings%2Ftotp")
	w = b.get("/2fa/settings")
	requireRedirect(t, w, "/2fa/settings/")

	api := s.api()
	requireError(t, api.get("/2fa/settings/"), http.StatusUnauthorized, "signed_out")
	requireError(t, api.post("/2fa/settings/totp", url.Values{}), http.StatusUnauthorized, "signed_out")
	requireError(t, api.get("/2fa/settings/nope"), http.StatusNotFound, "not_found")
	requireError(t, s.as("ann", true).do(http.MethodDelete, "/2fa/settings/totp", nil), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestSettingsOverview(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Policy.Default = twofactor.MethodEmail }})
	b := s.as("ann", false)
	w := b.get("/2fa/settings/")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	for _, want := range []string{"Authenticator app", "Security key", "Text message", "Email", "a***@example.com",
		"Backup codes", "You have no backup codes.",
		"Trusted devices", "No trusted device.", `href="/2fa/settings/totp"`, `href="/2fa/settings/devices"`} {
		require.Contains(t, body, want)
	}
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.Contains(t, w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.NotContains(t, body, "<script>")
	require.NotContains(t, body, "You are running out of backup codes", "no set: nothing to run out of")

	api := s.as("ann", true)
	m := decodeJSON(t, api.get("/2fa/settings/"))
	require.Equal(t, "email", m["default_method"])
	methods := m["methods"].([]any)
	require.Len(t, methods, 5)
	email := methods[0].(map[string]any)
	require.Equal(t, true, email["default"], "the default method first")
	require.Equal(t, "email", email["method"])
	require.Equal(t, true, email["enrolled"])
	en := email["enrollments"].([]any)[0].(map[string]any)
	require.Equal(t, "a***@example.com", en["label"])
	require.Equal(t, "2026-03-02T09:00:00Z", en["created_at"])
	backup := methods[4].(map[string]any)
	require.Equal(t, "backup_code", backup["method"])
	require.Equal(t, true, backup["recovery"], "the recovery method last")
	require.Equal(t, false, backup["enrolled"])
	require.Equal(t, float64(0), backup["remaining"])

	// Ben has no factor: nothing to fall back from, so no prompt.
	body = s.as("ben", false).get("/2fa/settings/").Body.String()
	require.NotContains(t, body, "running out")
}

// Setting up an authenticator app as a first factor: no step-up; the QR
// code, "Next", then the code; a wrong code shows the same QR code again;
// the right one brings the backup codes, shown once.
func TestSettingsTOTPFirstFactor(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	w := b.get("/2fa/settings/totp")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "Google Authenticator")
	require.Contains(t, w.Body.String(), `action="/2fa/settings/totp"`)
	require.NotContains(t, text(w), "confirm it's you before this change")

	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/settings/totp")
	w = b.get("/2fa/settings/totp")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	secret := pageSecret(t, body)
	require.Regexp(t, `^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`, secret)
	require.Contains(t, body, `<img src="data:image/png;base64,`)
	require.Contains(t, body, `href="otpauth://totp/Example:ben?`)
	require.Contains(t, body, `data-copy="#tf-secret"`)
	require.Contains(t, body, `href="/2fa/settings/totp?step=code">Next<`)
	require.NotContains(t, body, `name="code"`)

	// Next: the code form alone, focused, with its label.
	w = b.get("/2fa/settings/totp?step=code")
	body = w.Body.String()
	require.Contains(t, body, `<label for="tf-code">Code from the app</label>`)
	require.Contains(t, body, `id="tf-code" name="code" type="text" required autofocus`)
	require.Contains(t, body, `data-length="6"`)
	require.NotContains(t, body, secret)

	// A wrong code: the same pending QR code and secret, with the error.
	w = b.post("/2fa/settings/totp/verify", url.Values{"code": {"000000"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	requireAlert(t, w.Body.String(), "That code didn't work.")
	require.Equal(t, secret, pageSecret(t, w.Body.String()))
	require.Contains(t, w.Body.String(), `name="code"`)

	w = b.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}})
	requireRedirect(t, w, "/2fa/settings/backup-codes/show")

	// The backup codes, once; the download; then gone.
	w = b.get("/2fa/settings/backup-codes/show")
	require.Equal(t, http.StatusOK, w.Code)
	codes := pageCodes(w.Body.String())
	require.Len(t, codes, 10)
	require.Contains(t, w.Body.String(), `href="/2fa/settings/backup-codes.txt" download`)
	require.Contains(t, w.Body.String(), "data-print")
	w = b.get("/2fa/settings/backup-codes/show")
	require.Equal(t, http.StatusNotFound, w.Code)
	for _, c := range codes {
		require.NotContains(t, w.Body.String(), c)
	}
	w = b.get("/2fa/settings/backup-codes.txt")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, `attachment; filename="backup-codes.txt"`, w.Header().Get("Content-Disposition"))
	require.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))
	for _, c := range codes {
		require.Contains(t, w.Body.String(), c+"\r\n")
	}
	requireRedirect(t, b.post("/2fa/settings/backup-codes/done", nil), "/2fa/settings/?done=codes")
	require.Equal(t, http.StatusNotFound, b.get("/2fa/settings/backup-codes.txt").Code)

	// Another browser of the same user never sees them.
	require.Equal(t, http.StatusNotFound, s.as("ben", false).get("/2fa/settings/backup-codes.txt").Code)

	w = b.get("/2fa/settings/")
	require.Contains(t, w.Body.String(), "10 backup codes left.")
	w = b.get("/2fa/settings/totp")
	require.Contains(t, w.Body.String(), "Your authenticator app is set up.")
	require.Contains(t, w.Body.String(), "Added 2 Mar 2026")
	require.Contains(t, w.Body.String(), "Not used yet")
	require.NotContains(t, w.Body.String(), secret)
}

func TestSettingsTOTPJSON(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	api := s.as("ben", true)
	m := decodeJSON(t, api.get("/2fa/settings/totp"))
	require.Equal(t, false, m["enrolled"])
	require.Nil(t, m["pending"])

	m = decodeJSON(t, api.post("/2fa/settings/totp", url.Values{}))
	require.Equal(t, "pending", m["status"])
	p := m["pending"].(map[string]any)
	secret := p["secret"].(string)
	require.Regexp(t, `^[A-Z2-7]+$`, secret)
	require.True(t, strings.HasPrefix(p["qr"].(string), "data:image/png;base64,"))
	require.True(t, strings.HasPrefix(p["uri"].(string), "otpauth://totp/"))

	// Shown again while pending, the same secret.
	m = decodeJSON(t, api.get("/2fa/settings/totp"))
	require.Equal(t, secret, m["pending"].(map[string]any)["secret"])

	requireError(t, api.post("/2fa/settings/totp/verify", url.Values{"code": {"123"}}), http.StatusUnauthorized, "invalid_code")
	m = decodeJSON(t, api.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}}))
	require.Equal(t, true, m["ok"])
	require.Equal(t, "enrolled", m["status"])
	require.Len(t, m["backup_codes"], 10)
	require.NotEmpty(t, m["enrollment"].(map[string]any)["id"])

	requireError(t, api.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}}), http.StatusConflict, "no_pending_enrollment")
	m = decodeJSON(t, api.get("/2fa/settings/totp"))
	require.Equal(t, true, m["enrolled"])
	require.Nil(t, m["pending"])
}

// A user who has a factor (ann: email codes) steps up before adding one,
// and comes back to the page; removing needs a step-up too.
func TestSettingsTOTPStepUp(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	w := b.get("/2fa/settings/totp")
	require.Contains(t, text(w), "confirm it's you before this change")
	w = b.post("/2fa/settings/totp", nil)
	requireRedirect(t, w, "/2fa/step-up?next=%2F2fa%2Fsettings%2Ftotp")
	w = b.get(w.Header().Get("Location"))
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `value="/2fa/settings/totp"`)
	s.stepUp(b, "/2fa/settings/totp")

	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/settings/totp")
	secret := pageSecret(t, b.get("/2fa/settings/totp").Body.String())
	w = b.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}})
	// Not her first factor: no backup codes, back to the overview.
	requireRedirect(t, w, "/2fa/settings/?done=totp")
	require.Contains(t, b.get("/2fa/settings/?done=totp").Body.String(), "Your authenticator app is set up.")

	es, err := s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	var id string
	for _, e := range es {
		if e.Method == twofactor.MethodTOTP {
			id = e.ID
		}
	}
	require.NotEmpty(t, id)

	// Removing: the step-up of a moment ago is still fresh.
	remove := "/2fa/settings/remove?method=totp&id=" + id
	w = b.get(remove)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "Remove Authenticator app?")

	// Stale: through the step-up again, and back to the confirmation.
	s.clock.Advance(6 * time.Minute)
	w = b.get(remove)
	requireRedirect(t, w, "/2fa/step-up?next="+url.QueryEscape(remove))
	w = b.post("/2fa/settings/remove", url.Values{"method": {"totp"}, "id": {id}})
	requireRedirect(t, w, "/2fa/step-up?next="+url.QueryEscape(remove))
	s.stepUp(b, remove)
	w = b.get(remove)
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `<input type="hidden" name="id" value="`+id+`">`)
	w = b.post("/2fa/settings/remove", url.Values{"method": {"totp"}, "id": {id}})
	requireRedirect(t, w, "/2fa/settings/totp?done=removed")
	require.Contains(t, b.get("/2fa/settings/totp?done=removed").Body.String(), "Removed.")
	es, err = s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	for _, e := range es {
		require.NotEqual(t, twofactor.MethodTOTP, e.Method)
	}

	// JSON: 401 step_up_required pointing at the step-up route.
	s.clock.Advance(6 * time.Minute)
	api := s.as("ann", true)
	m := requireError(t, api.post("/2fa/settings/totp", url.Values{}), http.StatusUnauthorized, "step_up_required")
	require.Equal(t, "/2fa/step-up", m["next"])
	s.stepUp(api, "/2fa/settings/totp")
	m = decodeJSON(t, api.post("/2fa/settings/totp", url.Values{}))
	require.Equal(t, "pending", m["status"])
}

// Email codes that follow the account's address cannot be removed here.
func TestSettingsRemoveImplicitEmail(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ann", false)
	w := b.get("/2fa/settings/email")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "Codes are emailed to a***@example.com.")
	require.Contains(t, text(w), "follow your account's email address")
	require.NotContains(t, w.Body.String(), "/2fa/settings/remove")
	w = b.post("/2fa/settings/remove", url.Values{"method": {"email"}, "id": {"email"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	requireAlert(t, w.Body.String(), "cannot be turned off here")
	requireError(t, s.as("ann", true).get("/2fa/settings/remove?method=email&id=email"), http.StatusBadRequest, "method_not_offered")
}

// Under a policy that requires a second factor, the last one is not
// removed: the page says why instead of offering the button.
func TestSettingsLastFactor(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{
		svc:   func(c *twofactor.Config) { c.Policy.Required = true },
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/2fa/settings/" },
	})
	api := s.as("ben", true)
	m := decodeJSON(t, api.post("/2fa/settings/totp", url.Values{}))
	secret := m["pending"].(map[string]any)["secret"].(string)
	m = decodeJSON(t, api.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}}))
	id := m["enrollment"].(map[string]any)["id"].(string)
	codes := m["backup_codes"].([]any)
	decodeJSON(t, api.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/"}}))
	decodeJSON(t, api.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {codes[0].(string)}}))

	b := s.as("ben", false)
	b.cookies["tf_stepup"] = api.cookies["tf_stepup"]
	w := b.get("/2fa/settings/remove?method=totp&id=" + id)
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "This is your last second factor")
	require.NotContains(t, w.Body.String(), `<form method="post"`)
	requireError(t, api.post("/2fa/settings/remove", url.Values{"method": {"totp"}, "id": {id}}), http.StatusConflict, "last_factor")
	w = b.post("/2fa/settings/remove", url.Values{"method": {"totp"}, "id": {id}})
	require.Equal(t, http.StatusConflict, w.Code)
	requireAlert(t, w.Body.String(), "This is your last second factor")
}

// The settings pages are templates like the others: a file of the same
// name replaces one; a string table written before them gets their
// defaults.
func TestSettingsTemplatesAndStrings(t *testing.T) {
	st := &twofactorhttp.Strings{}
	*st = *twofactorhttp.DefaultStrings()
	st.Settings = twofactorhttp.SettingsStrings{}
	st.Admin = twofactorhttp.AdminStrings{}
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) {
		c.Templates = fstest.MapFS{"settings_overview.html": {Data: []byte(`{{define "content"}}<h1>Mine: {{.Title}}</h1>{{range .Settings.Methods}}[{{.Method}}]{{end}}{{end}}`)}}
		c.Strings = st
	}})
	w := s.as("ann", false).get("/2fa/settings/")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "<h1>Mine: Two-step verification</h1>[totp][webauthn][sms][email][backup_code]")
	w = s.as("ann", false).do(http.MethodHead, "/2fa/settings/totp", nil)
	require.Equal(t, http.StatusOK, w.Code)
	require.Empty(t, w.Body.String())

	bad := twofactorhttp.DefaultStrings()
	bad.Settings.PhoneInvalid = "Not valid."
	_, err := twofactorhttp.New(twofactorhttp.Config{Service: s.svc, Mux: http.NewServeMux(), Strings: bad,
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, "Settings.PhoneInvalid")

	_, err = twofactorhttp.New(twofactorhttp.Config{Service: s.svc, Mux: http.NewServeMux(), EnrollCookie: "tf_pending",
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = twofactorhttp.New(twofactorhttp.Config{Service: s.svc, Mux: http.NewServeMux(), Admin: twofactorhttp.AdminConfig{Prefix: "/2fa/"},
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	// Without an Actor there are no administrator pages: the host's mux
	// has nothing there.
	none := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) { c.Admin = twofactorhttp.AdminConfig{} }})
	w = none.admin(false).get("/admin/2fa/")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, "404 page not found\n", w.Body.String())
}

// The overview lists the security emails the user gets, when the host
// says which.
func TestSettingsListsNotifications(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) {
		c.Notifications = func(r *http.Request) []string {
			return []string{"A way to verify your sign-ins was added", "Someone with your password failed the second step"}
		}
	}})
	body := s.as("ann", false).get("/2fa/settings/").Body.String()
	require.Contains(t, body, "Security emails")
	require.Contains(t, body, "<li>Someone with your password failed the second step</li>")
	m := decodeJSON(t, s.as("ann", true).get("/2fa/settings/"))
	require.Equal(t, []any{"A way to verify your sign-ins was added", "Someone with your password failed the second step"}, m["notifications"])

	none := newSettingsEnv(t, senvOpt{})
	require.NotContains(t, none.as("ann", false).get("/2fa/settings/").Body.String(), "Security emails")
}
