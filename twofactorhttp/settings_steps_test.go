package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A wrong code typed on the authenticator app's code step shows that
// step again, with the error above its field and the way back to the QR
// code; a code typed on the page that shows the QR code keeps the QR
// code.
func TestSettingsWrongCodeStaysOnItsStep(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	b.post("/2fa/settings/totp", url.Values{})
	secret := strings.ReplaceAll(pageSecret(t, b.get("/2fa/settings/totp").Body.String()), " ", "")

	step := b.get("/2fa/settings/totp?step=code").Body.String()
	require.Contains(t, step, `<input type="hidden" name="step" value="code">`)
	require.NotContains(t, step, `id="tf-secret"`)

	w := b.post("/2fa/settings/totp/verify", url.Values{"step": {"code"}, "code": {"000000"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	page := w.Body.String()
	requireAlert(t, page, "That code didn't work.")
	require.NotContains(t, page, `id="tf-secret"`, "the code step alone")
	require.Contains(t, page, `id="tf-code"`)
	require.Contains(t, page, `href="/2fa/settings/totp"`, "the way back to the QR code")

	// Typed where the QR code is shown: the QR code stays.
	w = b.post("/2fa/settings/totp/verify", url.Values{"code": {"000000"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, w.Body.String(), `id="tf-secret"`)

	requireRedirect(t, b.post("/2fa/settings/totp/verify", url.Values{"step": {"code"}, "code": {s.totpCode(secret)}}), "/2fa/settings/backup-codes/show")

	// The backup codes that came with it: when added and last used, on
	// one line with a separator.
	require.Regexp(t, `<p class="tf-meta">Added [^<·]+ · [^<·]+</p>`, b.get("/2fa/settings/backup-codes").Body.String())
}

// Without scripts, a phone set-up's resend button is disabled while the
// page says to wait, and the page says a reload brings it back.
func TestSettingsResendDisabledDuringTheWait(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-0112"}}), "/2fa/settings/phone")
	page := b.get("/2fa/settings/phone").Body.String()
	require.Contains(t, page, `<button type="submit" class="tf-secondary" id="tf-send" disabled>`)
	require.Contains(t, page, `<noscript><p class="tf-meta">Reload this page once the wait is over.</p></noscript>`)
	s.clock.Advance(time.Minute)
	page = b.get("/2fa/settings/phone").Body.String()
	require.Contains(t, page, `<button type="submit" class="tf-secondary" id="tf-send">`)
	require.NotContains(t, page, "Reload this page")
}
