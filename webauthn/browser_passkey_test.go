package webauthn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

// passkeyScript registers a passkey, then signs in with it through
// discovery, with the browser's own JSON forms of the options and the
// credentials (PublicKeyCredential.parseCreationOptionsFromJSON, toJSON).
const passkeyScript = `(async () => {
	const post = async (path, body) => {
		const res = await fetch(path, {method: "POST", body: body === undefined ? "" : JSON.stringify(body)});
		return {status: res.status, text: await res.text()};
	};
	const begin = JSON.parse((await post("/begin-enroll")).text);
	const created = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey)});
	const confirm = await post("/confirm-enroll", created.toJSON());
	if (confirm.status !== 200) return {step: "register", status: confirm.status, text: confirm.text};
	const disc = JSON.parse((await post("/begin-discovery")).text);
	const got = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(disc.publicKey)});
	const finish = await post("/finish-discovery", got.toJSON());
	return {step: "sign-in", status: finish.status, text: finish.text};
})()`

// TestBrowserPasskey registers a passkey on a CTAP2 virtual authenticator
// with resident keys and user verification in headless Chromium, and signs
// in with it through discovery: the browser's credProps output, user
// handle and flags are what the factor expects.
func TestBrowserPasskey(t *testing.T) {
	opts := chromiumOptions(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)

	user := twofactor.User{ID: "user-42", Name: "alice@example.com"}
	f, err := webauthn.New(twofactor.Env{Store: store.NewMemory(), Keys: newKeys(t), Events: &event.Sink{Discard: true}},
		webauthn.Config{RPID: "localhost", RPDisplayName: "Passkey test", RPOrigins: []string{origin}, Timeout: 20 * time.Second})
	require.NoError(t, err)

	const ceremony = "ceremony-1"
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><title>Passkeys</title></head><body></body></html>`)
	})
	mux.HandleFunc("POST /begin-enroll", func(w http.ResponseWriter, r *http.Request) {
		en, err := f.BeginEnroll(r.Context(), user, twofactor.EnrollRequest{Label: "Phone", Passkey: true})
		if err != nil {
			reply(w, nil, err)
			return
		}
		_, _ = w.Write(en.Options)
	})
	mux.HandleFunc("POST /confirm-enroll", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e, err := f.ConfirmEnroll(r.Context(), user, string(b))
		reply(w, e, err)
	})
	mux.HandleFunc("POST /begin-discovery", func(w http.ResponseWriter, r *http.Request) {
		o, err := f.BeginDiscovery(r.Context(), ceremony, time.Now().Add(time.Minute))
		if err != nil {
			reply(w, nil, err)
			return
		}
		_, _ = w.Write(o)
	})
	mux.HandleFunc("POST /finish-discovery", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d, err := f.FinishDiscovery(r.Context(), ceremony, string(b))
		reply(w, d, err)
	})
	bctx := serveToBrowser(t, mux, ln, origin, opts)
	ctx := context.Background()
	added, err := chromedp.Call(bctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                cdpwebauthn.Ctap2versionCtap21,
			Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	require.NoError(t, err)

	type result struct {
		Step   string `json:"step"`
		Status int    `json:"status"`
		Text   string `json:"text"`
	}
	out, err := chromedp.Run(bctx, chromedp.Evaluate[result](passkeyScript, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, "sign-in", out.Step, out.Text)
	require.Equal(t, http.StatusOK, out.Status, out.Text)
	var d twofactor.Discovered
	require.NoError(t, json.Unmarshal([]byte(out.Text), &d))
	assert.Equal(t, user.ID, d.UserID)
	assert.True(t, d.UserVerified)
	assert.Contains(t, d.AMR, "mfa")

	creds, err := f.Credentials(ctx, user)
	require.NoError(t, err)
	require.Len(t, creds, 1)
	assert.True(t, creds[0].Passkey)
	assert.Equal(t, d.EnrollmentID, creds[0].ID)
	onKey, err := chromedp.Call(bctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams(added))
	require.NoError(t, err)
	require.Len(t, onKey.Credentials, 1)
	assert.True(t, onKey.Credentials[0].IsResidentCredential, "the authenticator keeps a discoverable credential")
	handle, err := f.UserHandle(ctx, user.ID)
	require.NoError(t, err)
	assert.Equal(t, handle, onKey.Credentials[0].UserHandle)
}
