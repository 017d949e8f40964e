package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

const onPrompt = `body[data-page="enroll_prompt"]`

// Staff must set up two-step verification within a week of their first
// prompt: katherine is prompted at sign-in with the days left, skips and
// reaches the app; the next sign-in, days later, counts from the first
// prompt; "Set up now" leads to the settings page, and leaving it without
// a factor brings the prompt back; once the week has passed (on the app's
// clock) she must set one up before she reaches the app, and does.
func TestEnrollmentGraceInTheBrowser(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	app := startAppWithClock(t, clock)
	b := newTab(t, app)

	b.signIn("katherine", "johnson")
	b.await(onPrompt)
	b.checkPage()
	assert.Equal(t, "You have 7 days left to set up two-step verification.", b.text(".tf-grace-left"))
	assert.Equal(t, "Set up now", b.text(`main a.tf-primary`))
	b.press(`form[action="/2fa/enroll-prompt"] button`, onHome)
	b.open("/", onHome) // skipped: the app lets the session in
	b.signOut()

	clock.Advance(3 * 24 * time.Hour)
	b.signIn("katherine", "johnson")
	b.await(onPrompt)
	assert.Equal(t, "You have 4 days left to set up two-step verification.", b.text(".tf-grace-left"))
	b.press(`main a.tf-primary`, onSettings)
	b.open("/", onPrompt) // not skipped, not set up: the prompt again
	b.signOut()

	clock.Advance(4 * 24 * time.Hour)
	b.signIn("katherine", "johnson")
	b.await(onSettings)
	require.Equal(t, "/2fa/settings/", b.path(), "no prompt and no skip once the week has passed")
	b.open("/", onSettings)

	// An authenticator app set up (its code on the app's clock), she
	// reaches the app.
	b.click(`li[data-method="totp"] a.tf-row-action`, `body[data-page="settings_totp"]`)
	b.click(`form[action="/2fa/settings/totp"] button`, `.tf-qr img`)
	key, err := totp.DecodeSecret(strings.Join(strings.Fields(b.text("#tf-secret")), ""))
	require.NoError(t, err)
	b.click(`a.tf-button[href$="step=code"]`, codeField)
	b.typeCode(app.App.totp.Params().Code(key, clock.Now()))
	require.Len(t, b.savedCodes(), 10)
	b.click(`form.tf-done button`, onSettings)
	b.open("/", onHome)
}
