package twofactorhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// The test factors say what they assure, as the library's do: the key is
// phishing resistant, email and SMS codes are on their channels.
func (f *keyFactor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"hwk"}, Channel: twofactor.ChannelAuthenticator, PhishingResistant: true, AAL: 2}
}

func (f *sendFactor) Assurance() twofactor.Assurance {
	if f.method == twofactor.MethodSMS {
		return twofactor.Assurance{AMR: []string{"sms"}, Channel: twofactor.ChannelPhone, AAL: 2}
	}
	return twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelEmail, AAL: 1}
}

// keysOnly mounts /keys-only behind a StepUp that wants a
// phishing-resistant factor.
func (e *env) keysOnly() {
	e.mux.Handle("/keys-only", e.h.StepUp(0).PhishingResistant().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := sessionUser(r)
		fmt.Fprintf(w, "keys only, %s", u.ID)
	})))
}

// useKey answers the pending challenge with the test security key.
func (b *browser) useKey(t *testing.T) *http.Response {
	t.Helper()
	was := b.json
	b.json = true
	defer func() { b.json = was }()
	w := b.do(http.MethodPost, "/2fa/webauthn/login/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	nonce := decodeJSON(t, w)["options"].(map[string]any)["publicKey"].(map[string]any)["challenge"].(string)
	w = b.do(http.MethodPost, "/2fa/webauthn/login/finish", `{"credential":{"challenge":"`+nonce+`"}}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	return w.Result()
}

// A route that wants a phishing-resistant factor sends the browser to a
// step-up that offers only the security key; a proof of a code does not
// pass it.
func TestStepUpPhishingResistant(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.keysOnly()
	b := e.session("alice")

	// A fresh proof of an email code passes /danger, not /keys-only.
	requireRedirect(t, b.post("/2fa/step-up", url.Values{"next": {"/danger"}}), "/2fa/")
	id := b.challengeID()
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {e.email.code(id)}}), "/danger")
	require.Equal(t, http.StatusOK, b.get("/danger").Code)
	requireRedirect(t, b.get("/keys-only"), "/2fa/step-up?require=phishing_resistant&next=%2Fkeys-only")

	b.header.Set("Sec-Fetch-Site", "same-origin")
	requireRedirect(t, b.get("/2fa/step-up?require=phishing_resistant&next=%2Fkeys-only"), "/2fa/")
	ch, err := e.svc.Challenge(context.Background(), b.challengeID())
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{twofactor.MethodWebAuthn}, ch.Methods, "only the key is offered")
	page := b.get("/2fa/").Body.String()
	assert.Contains(t, page, "Use your security key")
	assert.NotContains(t, page, "Authenticator app")

	// A code is refused by this challenge.
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())

	b.useKey(t)
	w = b.get("/keys-only")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "keys only, alice", w.Body.String())
	require.Equal(t, http.StatusOK, b.get("/danger").Code, "a key's proof passes the plain step-up too")
}

// The step-up route, asked for a phishing-resistant factor, does not take
// up a pending step-up that offers codes: it makes one that offers the
// key.
func TestStepUpPhishingResistantReplacesPending(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.keysOnly()
	b := e.session("alice")
	b.header.Set("Sec-Fetch-Site", "same-origin")
	requireRedirect(t, b.get("/2fa/step-up?next=%2Fdanger"), "/2fa/")
	plain := b.challengeID()
	requireRedirect(t, b.get("/2fa/step-up?require=phishing_resistant&next=%2Fkeys-only"), "/2fa/")
	assert.NotEqual(t, plain, b.challengeID())
	ch, err := e.svc.Challenge(context.Background(), b.challengeID())
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{twofactor.MethodWebAuthn}, ch.Methods)
}

func TestStepUpPhishingResistantAPI(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.keysOnly()
	b := e.session("alice")
	b.json = true
	m := requireError(t, b.get("/keys-only"), http.StatusUnauthorized, twofactorhttp.CodeStepUpRequired)
	assert.Equal(t, "/2fa/step-up?require=phishing_resistant", m["next"])
	w := b.post(m["next"].(string), url.Values{"next": {"/keys-only"}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	ch, err := e.svc.Challenge(context.Background(), b.challengeID())
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{twofactor.MethodWebAuthn}, ch.Methods)
}

// A user with no security key is told why, with the way to add one; JSON
// gets a typed error.
func TestStepUpPhishingResistantWithoutKey(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.keysOnly()
	b := e.session("bob") // an authenticator app only
	b.header.Set("Sec-Fetch-Site", "same-origin")
	requireRedirect(t, b.get("/keys-only"), "/2fa/step-up?require=phishing_resistant&next=%2Fkeys-only")
	w := b.get("/2fa/step-up?require=phishing_resistant&next=%2Fkeys-only")
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	page := w.Body.String()
	assert.Contains(t, page, "This needs a security key or passkey, and your account has none yet.")
	assert.Contains(t, page, `href="/2fa/settings/keys"`)
	assert.Contains(t, page, "Set up a security key")
	assert.Empty(t, b.challengeID(), "no challenge was made")

	api := e.session("bob")
	api.json = true
	m := requireError(t, api.post("/2fa/step-up?require=phishing_resistant", url.Values{"next": {"/keys-only"}}), http.StatusForbidden,
		twofactorhttp.CodeNoQualifyingMethod)
	assert.Equal(t, "/2fa/settings/keys", m["next"])
}

var errRisky = errors.New("risk score 97")

// A veto after a right code ends the challenge with a clear page and the
// host's support line; nobody is signed in.
func TestVetoPage(t *testing.T) {
	e := newEnv(t, envOpt{
		svc: func(c *twofactor.Config) {
			c.Veto = func(context.Context, twofactor.VetoInput) error { return errRisky }
		},
		layer: func(c *twofactorhttp.Config) {
			c.Support = twofactorhttp.Link{Text: "Call us on 0800 123", URL: "tel:0800123"}
		},
	})
	b := e.browser()
	requireRedirect(t, b.login("bob", ""), "/2fa/")
	id := b.challengeID()
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}, "remember": {"on"}})
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	page := w.Body.String()
	assert.Contains(t, page, "We couldn&#39;t verify this sign-in")
	assert.Contains(t, page, "Call us on 0800 123")
	assert.Contains(t, page, `href="/login"`)
	assert.NotContains(t, page, errRisky.Error(), "the host's reason is for the event, not the page")
	assert.Empty(t, e.signIns())
	assert.Empty(t, b.challengeID(), "the pending sign-in is dropped")
	_, err := e.svc.Challenge(context.Background(), id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	assert.NotContains(t, b.cookies, twofactorhttp.DefaultStepUpCookie)

	api := e.api()
	requireRedirectOrOK(t, api.login("bob", ""))
	m := requireError(t, api.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), http.StatusForbidden, twofactorhttp.CodeVetoed)
	assert.Equal(t, "/login", m["next"])
	assert.Empty(t, e.signIns())
}

// A vetoed step-up keeps no proof: the guarded page still asks for one.
func TestVetoStepUpPage(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) {
		c.Veto = func(_ context.Context, in twofactor.VetoInput) error {
			if in.Purpose == twofactor.PurposeStepUp {
				return errRisky
			}
			return nil
		}
	}})
	b := e.session("bob")
	requireRedirect(t, b.post("/2fa/step-up", url.Values{"next": {"/danger"}}), "/2fa/")
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "We couldn&#39;t verify this sign-in")
	requireRedirect(t, b.get("/danger"), "/2fa/step-up?next=%2Fdanger")
}

func requireRedirectOrOK(t *testing.T, w interface{ Result() *http.Response }) {
	t.Helper()
	code := w.Result().StatusCode
	require.True(t, code == http.StatusOK || code == http.StatusSeeOther, "status %d", code)
}

// After a sign-in link by email, no email code is the second step; a user
// with nothing else is refused with a page that says why.
func TestBeginAfterEmailLink(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.mux.HandleFunc("POST /magic", func(w http.ResponseWriter, r *http.Request) {
		e.h.BeginAfter(w, r, r.FormValue("user"), twofactor.FirstEmail)
	})
	b := e.browser()
	requireRedirect(t, b.post("/magic", url.Values{"user": {"alice"}}), "/2fa/")
	ch, err := e.svc.Challenge(context.Background(), b.challengeID())
	require.NoError(t, err)
	assert.NotContains(t, ch.Methods, twofactor.MethodEmail)
	assert.Contains(t, ch.Methods, twofactor.MethodTOTP)
	w := b.post("/2fa/send", url.Values{"method": {"email"}})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	assert.Zero(t, e.email.sends.Load())

	e.who.set("carol", twofactor.MethodEmail)
	c := e.browser()
	w = c.post("/magic", url.Values{"user": {"carol"}})
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "Your second step can&#39;t use the same email or phone you signed in with.")
	assert.Empty(t, e.signIns(), "nobody is signed in")

	api := e.api()
	requireError(t, api.post("/magic?user=carol", nil), http.StatusForbidden, twofactorhttp.CodeNoIndependentFactor)
}

// SignIn can read what the second step assured from ResultFrom.
func TestSignInClaims(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	requireRedirect(t, b.login("bob", ""), "/2fa/")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/")
	require.Len(t, e.signIns(), 1)
	cl := e.signIns()[0].Claims()
	assert.Equal(t, []string{"pwd", "mfa"}, cl.AMR, "the test app factor claims nothing of its own")
	assert.Equal(t, 1, cl.AAL)
}
