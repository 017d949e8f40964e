package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With -metrics the app serves the library's metrics for Prometheus: after
// a sign-in by authenticator app, the verification is counted by method
// and outcome, and no metric names the user. Without it there is no
// /metrics.
func TestMetricsAfterASignIn(t *testing.T) {
	t.Parallel()
	app := startApp(t, "-metrics")
	b := newTab(t, app)
	b.signIn("ada", "lovelace")
	b.do(chromedp.WaitVisible(chromedp.CSS(onChallenge)))
	b.typeCode(app.totpCode(t))
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))

	get := func(a *testApp) (int, string) {
		res, err := http.Get(a.URL + "/metrics")
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}
	status, body := get(app)
	require.Equal(t, http.StatusOK, status)
	assert.Regexp(t, `(?m)^twofactor_verifications_total\{[^}]*twofactor_method="totp"[^}]*twofactor_outcome="success"[^}]*\} 1$`, body)
	assert.Regexp(t, `(?m)^twofactor_step_duration_seconds_count\{[^}]*twofactor_step="verify"`, body)
	for _, personal := range []string{`"ada"`, "Lovelace", `"u2"`, "example.com", app.Seed.TOTPSecret} {
		assert.NotContains(t, body, personal)
	}

	status, _ = get(startApp(t))
	assert.Equal(t, http.StatusNotFound, status, "no -metrics, no /metrics")
}
