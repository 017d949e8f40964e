package twofactorhttp_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// passkeyBegin starts a passkey sign-in and returns its ceremony and the
// challenge the browser signs.
func passkeyBegin(t *testing.T, b *browser) (ceremony, challenge string) {
	t.Helper()
	w := b.do(http.MethodPost, "/2fa/webauthn/passkey/begin", "{}")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got struct {
		Ceremony string `json:"ceremony"`
		Options  struct {
			PublicKey struct {
				Challenge        string `json:"challenge"`
				UserVerification string `json:"userVerification"`
			} `json:"publicKey"`
		} `json:"options"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.NotEmpty(t, got.Ceremony)
	assert.Equal(t, "required", got.Options.PublicKey.UserVerification)
	return got.Ceremony, got.Options.PublicKey.Challenge
}

func passkeyFinish(b *browser, ceremony, user, challenge string, uv bool, next string) *httptest.ResponseRecorder {
	cred, _ := json.Marshal(map[string]any{"user": user, "challenge": challenge, "uv": uv})
	body, _ := json.Marshal(map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred), "next": next})
	return b.do(http.MethodPost, "/2fa/webauthn/passkey/finish", string(body))
}

// A passkey signs its user in on its own, with no password: the host's
// SignIn runs with a Result that says so, and the browser goes on to the
// page it asked for.
func TestPasskeySignIn(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.api()
	ceremony, challenge := passkeyBegin(t, b)
	w := passkeyFinish(b, ceremony, "alice", challenge, true, "/inbox")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got := decodeJSON(t, w)
	assert.Equal(t, "signed_in", got["status"])
	assert.Equal(t, "/inbox", got["next"])
	require.Len(t, e.signIns(), 1)
	res := e.signIns()[0]
	assert.Equal(t, "alice", res.User.ID)
	assert.True(t, res.Passwordless)
	assert.Equal(t, twofactor.FirstPasskey, res.FirstFactor)
	assert.Contains(t, res.AMR, "mfa")
	assert.Equal(t, "alice", b.cookies["session"].Value)

	// The ceremony answers once.
	w = passkeyFinish(e.api(), ceremony, "alice", challenge, true, "")
	requireError(t, w, http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
}

// Under the first-factor rule, the passkey stands for the password: the
// challenge follows, without the security key.
func TestPasskeyFirstFactorAsksTheSecondStep(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Policy.Passkey = twofactor.PasskeyFirstFactor }})
	b := e.api()
	ceremony, challenge := passkeyBegin(t, b)
	w := passkeyFinish(b, ceremony, "alice", challenge, true, "/inbox")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got := decodeJSON(t, w)
	assert.Equal(t, "challenge", got["status"])
	assert.Empty(t, e.signIns(), "not signed in yet")
	var methods []string
	for _, m := range got["methods"].([]any) {
		methods = append(methods, m.(map[string]any)["method"].(string))
	}
	assert.NotContains(t, methods, "webauthn")
	assert.Contains(t, methods, "totp")
	res := e.api()
	res.cookies = b.cookies
	w = res.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Len(t, e.signIns(), 1)
	assert.False(t, e.signIns()[0].Passwordless)
	assert.Equal(t, twofactor.FirstPasskey, e.signIns()[0].FirstFactor)
}

// A refused passkey is the same answer whatever the reason: no account
// for the credential, a wrong signature, a user without keys.
func TestPasskeyRefusalsAlike(t *testing.T) {
	e := newEnv(t, envOpt{})
	var bodies []string
	for _, c := range []struct {
		user  string
		right bool
	}{{"nobody", true}, {"alice", false}, {"carol", true}} {
		b := e.api()
		ceremony, challenge := passkeyBegin(t, b)
		if !c.right {
			challenge = "wrong"
		}
		w := passkeyFinish(b, ceremony, c.user, challenge, true, "")
		requireError(t, w, http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
		bodies = append(bodies, w.Body.String())
	}
	assert.Equal(t, bodies[0], bodies[1])
	assert.Equal(t, bodies[0], bodies[2])
	assert.Empty(t, e.signIns())

	// A POST from another site is refused before anything happens.
	b := e.api()
	b.header.Set("Sec-Fetch-Site", "cross-site")
	w := b.do(http.MethodPost, "/2fa/webauthn/passkey/begin", "{}")
	require.Equal(t, http.StatusForbidden, w.Code)
}

// After a password and a second factor, a user without a passkey passes
// by the offer to create one; "Not now" puts it off in that browser. A
// passkey sign-in, a JSON client and a turned-off offer skip it.
func TestPasskeyOffer(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.PasskeyOffer = twofactorhttp.PasskeyOffer{} }})
	b := e.browser()
	b.login("alice", "/inbox")
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	requireRedirect(t, w, "/2fa/passkey-offer?next=%2Finbox")
	require.Len(t, e.signIns(), 1, "signed in before the offer")

	page := b.get("/2fa/passkey-offer?next=%2Finbox")
	require.Equal(t, http.StatusOK, page.Code)
	body := html.UnescapeString(page.Body.String())
	assert.Contains(t, body, "<h1>Sign in faster with a passkey</h1>")
	assert.Contains(t, body, `data-webauthn-passkey data-webauthn-offer`)
	assert.Contains(t, body, `data-webauthn-done="/inbox"`)
	assert.Contains(t, body, `<script src="/2fa/webauthn/webauthn.js"`)

	w = b.post("/2fa/passkey-offer", url.Values{"next": {"/inbox"}})
	requireRedirect(t, w, "/inbox")
	later := b.cookies["tf_passkey_later"]
	require.NotNil(t, later)
	assert.Equal(t, 30*24*3600, later.MaxAge)
	assert.True(t, later.HttpOnly)
	assert.True(t, later.Secure, "over https")

	b.login("alice", "/inbox")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/inbox")

	// Another browser is offered again; a JSON client is not.
	api := e.api()
	api.login("alice", "")
	w = api.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.NotContains(t, decodeJSON(t, w)["next"], "passkey-offer")

	// A passkey sign-in is not offered a passkey.
	pb := e.api()
	ceremony, challenge := passkeyBegin(t, pb)
	w = passkeyFinish(pb, ceremony, "alice", challenge, true, "/inbox")
	assert.Equal(t, "/inbox", decodeJSON(t, w)["next"])

	off := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.PasskeyOffer = twofactorhttp.PasskeyOffer{Off: true} }})
	ob := off.browser()
	ob.login("alice", "/inbox")
	requireRedirect(t, ob.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/inbox")
}

// A key the host's authenticator policy refuses gets a message that says
// why: its model, or a passkey that syncs where keys must stay on one
// device.
func TestKeyRefusedSaysWhy(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.api()
	b.cookies["session"] = &http.Cookie{Name: "session", Value: "carol"}
	for why, want := range map[string]string{
		"model":  "This model of security key isn't accepted here. Use another key.",
		"synced": "Passkeys synced across devices aren't accepted here. Use a security key, or a passkey kept on this device only.",
	} {
		require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name": "Key", "passkey": true}`).Code)
		w := b.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential": {"attest": "`+why+`"}}`)
		got := requireError(t, w, http.StatusBadRequest, twofactorhttp.CodeKeyRefused)
		assert.Equal(t, want, got["message"])
	}
}
