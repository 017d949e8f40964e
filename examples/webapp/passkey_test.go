package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor/internal/testenv"
)

// The passkey tests run in Chromium with a CTAP2 virtual authenticator
// that holds resident keys and verifies its user (addAuthenticator), as
// a phone's or a laptop's platform authenticator does.

const (
	passkeyButton   = `button[data-webauthn="passkey"]`
	createPasskey   = `button[data-webauthn="register"][data-webauthn-passkey]`
	addSecurityKey  = `button[data-webauthn="register"]:not([data-webauthn-passkey])`
	passkeyStatus   = `#passkey-status`
	onPasskeyOffer  = `body[data-page="passkey_offer"]`
	passkeyRefusal  = passkeyStatus + `:not(:empty)`
	enrollmentsList = `ul.tf-enrollments`
)

// addAuthenticatorWith plugs a CTAP2 virtual authenticator holding
// resident keys into the tab, that verifies its user when uv is set.
func (b *tab) addAuthenticatorWith(uv bool) cdpwebauthn.AuthenticatorID {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{EnableUI: new(bool)})
	require.NoError(b.t, err)
	res, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportUsb, HasResidentKey: true,
			HasUserVerification: uv, IsUserVerified: uv, AutomaticPresenceSimulation: true,
		},
	})
	require.NoError(b.t, err)
	return res.AuthenticatorID
}

// createPasskeyOnKeysPage creates a passkey named name on the keys page
// of a user with no factor yet, and saves the backup codes it brings.
func (b *tab) createPasskeyOnKeysPage(name string) {
	b.t.Helper()
	b.open("/2fa/settings/keys", "#tf-key-name")
	b.checkPage()
	b.do(chromedp.SendKeys(chromedp.ID("tf-key-name"), name), ready(createPasskey), chromedp.Click(chromedp.CSS(createPasskey)))
	require.Len(b.t, b.savedCodes(), 10, "the first factor brings backup codes")
	b.click(`form.tf-done button`, afterCodes)
}

// signInWithPasskey signs in from the login page's button, with no user
// name and no password.
func (b *tab) signInWithPasskey(then string) {
	b.t.Helper()
	b.open("/login", passkeyButton)
	b.click(passkeyButton, then)
}

// A passkey, created on the settings page, signs its user in with no user
// name and no password; its user handle is a random value, not the
// account's id, name or address; the page lists it as a passkey on this
// device and tells the browser which credentials the site accepts.
func TestBrowserPasskeySignIn(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	key := b.addAuthenticator()
	b.createPasskeyOnKeysPage("Laptop")

	creds := b.credentials(key)
	require.Len(t, creds, 1)
	cred := creds[0]
	assert.True(t, cred.IsResidentCredential, "a discoverable credential")
	handle := cred.UserHandle
	assert.Len(t, handle, 32)
	for _, who := range []string{"u1", "alan", "alan@example.com", "Alan Turing"} {
		assert.NotContains(t, string(handle), who, "the handle names no account")
	}

	b.open("/2fa/settings/keys", enrollmentsList)
	assert.Contains(t, b.text(enrollmentsList), "Laptop")
	assert.Contains(t, b.text(enrollmentsList), "Passkey, on this device only")
	testenv.Axe(t)
	b.auditAs("settings-keys-passkey")
	signal := eval[string](b, `document.querySelector("[data-webauthn-signal]").getAttribute("data-webauthn-signal")`)
	assert.Contains(t, signal, `"userId":"`+base64.RawURLEncoding.EncodeToString(handle)+`"`)
	assert.Contains(t, signal, base64.RawURLEncoding.EncodeToString(cred.CredentialID))

	b.open("/", onHome)
	b.signOut()
	b.open("/login", passkeyButton)
	b.auditAs("login-passkey")
	b.signInWithPasskey(onHome)
	assert.Contains(t, b.text("main"), "Alan", "signed in as alan, with no password")
}

// The login page's user-name field asks the browser for passkeys in its
// autofill (WebAuthn conditional mediation): the script starts a
// conditional request as the page loads. Where the browser resolves it by
// itself (the virtual authenticator picks the only passkey), the person is
// signed in; otherwise the request waits for them.
func TestBrowserPasskeyAutofill(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	b.addAuthenticator()
	b.createPasskeyOnKeysPage("Phone")
	b.open("/", onHome)
	b.signOut()

	b.open("/login", "#user")
	assert.Equal(t, "username webauthn", eval[string](b, `document.querySelector("#user").getAttribute("autocomplete")`))

	// Headless Chromium has no autofill to show passkeys in, so it says
	// conditional mediation is unavailable: the page is loaded with it said
	// available, and navigator.credentials.get records what it is asked.
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(true);
		const get = navigator.credentials.get.bind(navigator.credentials);
		navigator.credentials.get = (req) => {
			// Kept in the tab's session storage: the sign-in that follows
			// leaves the page.
			const asked = JSON.parse(sessionStorage.getItem("asked") || "[]");
			asked.push({mediation: req.mediation || "", allow: (req.publicKey.allowCredentials || []).length, uv: req.publicKey.userVerification});
			sessionStorage.setItem("asked", JSON.stringify(asked));
			return get(req);
		};`})
	cancel()
	require.NoError(t, err)
	b.do(chromedp.Navigate(b.app.URL + "/login"))
	// The script asks for the site's passkeys as the page loads, with
	// conditional mediation, no account named and user verification;
	// Chromium's virtual authenticator then answers with its only passkey,
	// as a person picking it in the autofill does, and that signs in.
	b.await(onHome)
	asked := eval[[]map[string]any](b, `JSON.parse(sessionStorage.getItem("asked") || "[]")`)
	require.Len(t, asked, 1, "one request, as the login page loaded")
	assert.Equal(t, "conditional", asked[0]["mediation"])
	assert.EqualValues(t, 0, asked[0]["allow"], "no account named: the passkey names it")
	assert.Equal(t, "required", asked[0]["uv"])
	assert.Contains(t, b.text("main"), "Alan")
}

// Under the first-factor rule a passkey stands for the password: the
// second step follows, and does not offer the security key again.
func TestBrowserPasskeyFirstFactor(t *testing.T) {
	t.Parallel()
	app := startApp(t, "-passkey-first-factor")
	b := newTab(t, app)
	b.signInWithoutFactor()
	b.addAuthenticator()
	b.open("/2fa/settings/keys", "#tf-key-name")
	b.do(chromedp.SendKeys(chromedp.ID("tf-key-name"), "Laptop"), ready(createPasskey), chromedp.Click(chromedp.CSS(createPasskey)))
	codes := b.savedCodes()
	b.click(`form.tf-done button`, afterCodes)
	b.open("/", onHome)
	b.signOut()

	b.signInWithPasskey(onChallenge)
	assert.False(t, b.on(`section.tf-method[data-method="webauthn"], a[href*="method=webauthn"]`), "not the same key twice")
	// Alan's other factor is his backup codes: the challenge shows them.
	b.await(`section.tf-method[data-method="backup_code"]`)
	b.typeCode(codes[0])
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
}

// A security key that cannot verify its user is never a sign-in on its
// own: the browser cannot answer a passkey request with it, and nobody is
// signed in.
func TestBrowserKeyWithoutUserVerificationIsNoSignIn(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	key := b.addAuthenticatorWith(false)
	b.open("/2fa/settings/keys", "#tf-key-name")
	b.do(chromedp.SendKeys(chromedp.ID("tf-key-name"), "Old key"), ready(addSecurityKey), chromedp.Click(chromedp.CSS(addSecurityKey)))
	b.savedCodes()
	require.Len(t, b.credentials(key), 1)
	b.click(`form.tf-done button`, afterCodes)
	b.open("/", onHome)
	b.signOut()

	b.open("/login", passkeyButton)
	b.click(passkeyButton, passkeyRefusal)
	assert.Equal(t, "/login", b.path())
	assert.False(t, b.on(onHome))
}

// Removing a passkey on the keys page tells the browser the site no
// longer accepts it (WebAuthn's signalUnknownCredential and
// signalAllAcceptedCredentials), and Chromium's authenticator drops it. A
// removed passkey that an authenticator still holds (removed by a client
// that told no browser) signs nobody in, and the refusal says nothing
// about the account.
func TestBrowserRemovedPasskeyIsRefused(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	b.signInWithoutFactor()
	key := b.addAuthenticator()
	b.createPasskeyOnKeysPage("Laptop")
	require.Len(t, b.credentials(key), 1)

	// Remove it: the removal asks for a step-up, by the passkey itself.
	b.open("/2fa/settings/keys", enrollmentsList)
	b.click(`form.tf-remove button`, `body[data-page="settings_confirm"], `+stepUpForm+", "+stepUpChallenge)
	if b.throughStepUp(`body[data-page="settings_confirm"]`, func() { b.click(`button[data-webauthn="login"]`, `body[data-page="settings_confirm"]`) }) {
		b.checkPage()
	}
	b.click(`body[data-page="settings_confirm"] form button.tf-danger`, `body[data-page="settings_keys"] p.tf-notice`)
	deadline := time.Now().Add(stepTimeout)
	for len(b.credentials(key)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.Empty(t, b.credentials(key), "the browser was told, and its authenticator dropped the passkey")

	// A second passkey, removed by a client that tells no browser (the
	// JSON answer, with the step-up still fresh): the authenticator keeps
	// it.
	b.createPasskeyOnKeysPage("Spare")
	require.Len(t, b.credentials(key), 1)
	b.open("/2fa/settings/keys", enrollmentsList)
	status := eval[int](b, `fetch("/2fa/settings/remove", {method: "POST", credentials: "same-origin",
		headers: {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
		body: "method=webauthn&id=" + encodeURIComponent(document.querySelector("form.tf-remove input[name=id]").value)}).then(r => r.status)`)
	require.Equal(t, 200, status)
	require.Len(t, b.credentials(key), 1, "no page told the browser")
	b.open("/", onHome)
	b.signOut()

	b.open("/login", passkeyButton)
	b.click(passkeyButton, passkeyRefusal)
	assert.Equal(t, "/login", b.path())
	msg := b.text(passkeyStatus)
	assert.Equal(t, "That passkey didn't sign you in. Try again, or sign in with your password.", msg)
	assert.NotContains(t, strings.ToLower(msg), "alan")
}

// After a sign-in with a password and a code, a user without a passkey is
// offered one: accepted, it is created (after the step-up a new factor
// needs) and the person goes on; dismissed, the offer does not come back
// in that browser.
func TestBrowserPasskeyOffer(t *testing.T) {
	t.Parallel()
	app := startApp(t, "-passkey-offer")
	b := newTab(t, app)
	key := b.addAuthenticator()
	b.signIn("ada", "lovelace")
	b.await(onChallenge)
	b.typeCode(app.totpCode(t))
	b.await(onPasskeyOffer)
	b.checkPage()
	testenv.Axe(t)
	b.auditAs("passkey-offer")
	// A new factor needs a fresh step-up; her authenticator codes of
	// this minute are used, so a backup code answers it.
	b.click(createPasskey, onHome+", "+stepUpForm+", "+stepUpChallenge)
	if b.throughStepUp(onPasskeyOffer, func() { b.chooseMethod("backup_code"); b.typeCode(app.Seed.BackupCodes[0]) }) {
		b.click(createPasskey, onHome)
	}
	require.Len(t, b.credentials(key), 1, "the passkey was created")
	b.signOut()
	b.signIn("ada", "lovelace")
	b.await(onChallenge)
	b.chooseMethod("backup_code")
	b.typeCode(app.Seed.BackupCodes[1])
	b.await(onHome) // a user with a passkey is not offered another

	// Dismissed in another browser: not offered again there.
	c := newTab(t, app)
	graceIn := func(then string) {
		c.signIn("grace", "hopper")
		c.await(`section.tf-method[data-method="email"] p.tf-sent`)
		m, ok := app.App.mailOutbox.Last("grace@example.com")
		require.True(t, ok)
		c.typeCode(sixDigits.FindString(m.Text))
		c.await(then)
	}
	graceIn(onPasskeyOffer)
	c.click(`form[action$="/passkey-offer"] button`, onHome)
	c.signOut()
	graceIn(onHome)
}
