package webauthn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"github.com/twofactorkit/twofactor/webauthn"
)

// browserPage is the host's page for a signed-in user: add a key, or
// answer a pending challenge from the page itself.
const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Second factor</title></head>
<body>
<input id="keyname" value="Virtual key">
<button id="register" data-webauthn="register" data-webauthn-name-input="#keyname" data-webauthn-status="#msg">Add a security key</button>
<button id="login" data-webauthn="login" data-webauthn-status="#msg">Use your security key</button>
<p id="msg"></p>
<script src="/2fa/webauthn/webauthn.js"></script>
</body></html>`

// homePage is where a sign-in ends.
const homePage = `<!doctype html><html><head><meta charset="utf-8"><title>Home</title></head><body><p id="home">Signed in</p></body></html>`

// clickAndWait clicks a data-webauthn button and waits for its outcome.
const clickAndWait = `new Promise((resolve) => {
	const el = document.querySelector(%q);
	const press = () => {
		// webauthn.js marks a button it has bound; a click before that
		// does nothing.
		if (!el.hasAttribute("data-webauthn-bound")) {
			setTimeout(press, 20);
			return;
		}
		el.click();
		check();
	};
	const check = () => {
		const s = el.getAttribute("data-webauthn-state");
		if (s === "done" || s === "error") {
			resolve({state: s, error: el.getAttribute("data-webauthn-error") || "", message: document.querySelector("#msg").textContent});
		} else {
			setTimeout(check, 20);
		}
	};
	press();
})`

type outcome struct {
	State   string `json:"state"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

// loginDiscoverable signs in with whatever credential the authenticator
// holds for the site, ignoring the allow list, so the server (not the
// browser) has to refuse a key it does not know.
const loginDiscoverable = `(async () => {
	const W = window.TwoFactorWebAuthn;
	const post = async (path, body) => {
		const res = await fetch("/2fa/webauthn" + path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
		return {status: res.status, body: await res.json()};
	};
	const begin = await post("/login/begin", {});
	const pk = Object.assign({}, begin.body.options.publicKey);
	pk.challenge = W.toBuffer(pk.challenge);
	pk.allowCredentials = [];
	const cred = await navigator.credentials.get({publicKey: pk});
	const r = cred.response;
	const finish = await post("/login/finish", {credential: {
		id: cred.id, rawId: W.toBase64url(cred.rawId), type: cred.type, clientExtensionResults: {},
		response: {clientDataJSON: W.toBase64url(r.clientDataJSON), authenticatorData: W.toBase64url(r.authenticatorData),
			signature: W.toBase64url(r.signature), userHandle: r.userHandle ? W.toBase64url(r.userHandle) : undefined}}});
	return {state: String(finish.status), error: finish.body.error || "", message: finish.body.message || ""};
})()`

func chromiumOptions(t *testing.T) []chromedp.ExecAllocatorOption {
	if testing.Short() {
		t.Skip("a browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
	)
	for _, f := range testenv.ChromiumFlags {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	return opts
}

// TestBrowserEndToEnd registers a CTAP2 virtual authenticator through a
// real page in headless Chromium and the security-key script served by
// twofactorhttp, steps up with it before adding another, signs in with it
// on the challenge page as the second factor of a login challenge, and
// checks that an unregistered authenticator is refused.
func TestBrowserEndToEnd(t *testing.T) {
	opts := chromiumOptions(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)

	mem := store.NewMemory()
	keys := newKeys(t)
	var evMu sync.Mutex
	var events []event.Event
	hook := func(_ context.Context, ev event.Event) {
		evMu.Lock()
		defer evMu.Unlock()
		events = append(events, ev)
	}
	user := twofactor.User{ID: "user-42", Name: "alice@example.com"}
	svc, err := twofactor.New(twofactor.Config{Store: mem, Keys: keys,
		Factors: []twofactor.FactorConfig{webauthn.Config{
			RPID: "localhost", RPDisplayName: "Browser test", RPOrigins: []string{origin},
			Timeout: 20 * time.Second, ResidentKey: webauthn.Preferred,
		}},
		Users: func(_ context.Context, id string) (twofactor.User, error) {
			if id != user.ID {
				return twofactor.User{}, twofactor.ErrUnknownUser
			}
			return user, nil
		},
		Events: &event.Sink{Discard: true, Hook: hook}})
	require.NoError(t, err)
	built, ok := svc.Factor(twofactor.MethodWebAuthn)
	require.True(t, ok)
	f := built.(*webauthn.Factor)

	var mu sync.Mutex
	var results []*twofactor.Result
	mux := http.NewServeMux()
	h, err := twofactorhttp.New(twofactorhttp.Config{
		Service: svc,
		Mux:     mux,
		SignIn: func(w http.ResponseWriter, r *http.Request, _ string) error {
			res, _ := twofactorhttp.ResultFrom(r)
			mu.Lock()
			defer mu.Unlock()
			results = append(results, res)
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "1", Path: "/", HttpOnly: true})
			return nil
		},
		UserID: func(r *http.Request) (string, bool) {
			_, err := r.Cookie("session")
			return user.ID, err == nil
		},
		ReturnURL: "/home",
	})
	require.NoError(t, err)
	html := func(page string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		}
	}
	// The host's pages: "/" for the signed-in user (a session cookie), the
	// password step (/signin: Begin, here on GET for the test), and home.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "1", Path: "/", HttpOnly: true})
		html(browserPage)(w, r)
	})
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) { h.Begin(w, r, user.ID) })
	mux.HandleFunc("GET /home", html(homePage))
	bctx := serveToBrowser(t, mux, ln, origin, opts)
	ctx := context.Background()
	addAuthenticator := func() cdpwebauthn.AuthenticatorID {
		t.Helper()
		res, err := chromedp.Call(bctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
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
		return res.AuthenticatorID
	}
	click := func(sel string) outcome {
		t.Helper()
		out, err := chromedp.Run(bctx, chromedp.Evaluate[outcome](fmt.Sprintf(clickAndWait, sel), chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		return out
	}
	// goTo navigates to path and waits for sel on the page it ends on.
	goTo := func(path, sel string) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(origin+path), chromedp.WaitVisible(chromedp.CSS(sel))))
	}
	// answer signs in from the challenge page (GET /2fa/ after the password
	// step) with its security-key button, and waits for the page the
	// Handler then sends the browser to.
	answer := func(then string) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx,
			chromedp.WaitVisible(chromedp.CSS(`button[data-webauthn="login"][data-webauthn-bound]`)),
			chromedp.Click(chromedp.CSS(`button[data-webauthn="login"]`)),
			chromedp.WaitVisible(chromedp.CSS(then))))
	}
	// Register the first authenticator through the page.
	first := addAuthenticator()
	out := click("#register")
	require.Equal(t, outcome{State: "done"}, out, "registration")
	creds, err := f.Credentials(ctx, user)
	require.NoError(t, err)
	require.Len(t, creds, 1)
	assert.Equal(t, "Virtual key", creds[0].Name)
	assert.Equal(t, []string{"internal"}, creds[0].Transports)
	onKey, err := chromedp.Call(bctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: first})
	require.NoError(t, err)
	require.Len(t, onKey.Credentials, 1)
	assert.Equal(t, creds[0].CredentialID, onKey.Credentials[0].CredentialID)
	assert.Len(t, onKey.Credentials[0].UserHandle, 32, "the authenticator holds the random handle")
	assert.NotEqual(t, []byte(user.ID), onKey.Credentials[0].UserHandle)

	// A second key needs a fresh verification of the first: a step-up
	// through the challenge page, with the key.
	out = click("#register")
	assert.Equal(t, "error", out.State)
	assert.Equal(t, "step_up_required", out.Error)
	// The step-up page goes straight to the key's button: nothing to
	// send, so no Continue first.
	goTo("/2fa/step-up?next=%2F", `button[data-webauthn="login"]`)
	answer("#register")
	mu.Lock()
	require.Empty(t, results, "a step-up signs nobody in")
	mu.Unlock()

	// The same authenticator cannot be registered twice.
	out = click("#register")
	assert.Equal(t, "error", out.State)
	assert.Equal(t, "already_registered", out.Error)
	creds, err = f.Credentials(ctx, user)
	require.NoError(t, err)
	require.Len(t, creds, 1)

	// Sign in with it as the second factor of a login challenge, on the
	// challenge page.
	goTo("/signin", "h1")
	answer("#home")
	mu.Lock()
	require.Len(t, results, 1)
	res := results[0]
	mu.Unlock()
	assert.Equal(t, user.ID, res.User.ID)
	assert.Equal(t, twofactor.MethodWebAuthn, res.Method)
	assert.Equal(t, creds[0].ID, res.EnrollmentID)
	p, err := svc.ParseProof(res.Proof)
	require.NoError(t, err)
	assert.Equal(t, user.ID, p.UserID)
	creds, err = f.Credentials(ctx, user)
	require.NoError(t, err)
	assert.False(t, creds[0].LastUsedAt.IsZero())
	es, err := f.Enrollments(ctx, user)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.False(t, es[0].CreatedAt.IsZero())
	assert.Equal(t, creds[0].LastUsedAt, es[0].LastUsedAt)
	// The challenge is complete: it cannot be answered again.
	goTo("/", "#login")
	out = click("#login")
	assert.Equal(t, "error", out.State)
	assert.Equal(t, "challenge_ended", out.Error)

	// Replace the key with an unregistered one.
	_, err = chromedp.Call(bctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: first})
	require.NoError(t, err)
	second := addAuthenticator()
	goTo("/signin", "h1")
	goTo("/", "#login")
	out = click("#login")
	assert.Equal(t, "error", out.State, "a key without the registered credential cannot answer")
	assert.NotEmpty(t, out.Error)

	// Even when it answers with its own credential for the site, the
	// server refuses it.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	// The generated Credential type always sends the CMTG fields, which
	// this authenticator refuses; send only what the command needs.
	addCredential := cdp.Command[map[string]any, cdp.Empty]{Method: cdpwebauthn.CommandAddCredential}
	_, err = chromedp.Call(bctx, addCredential, map[string]any{
		"authenticatorId": second,
		"credential": map[string]any{
			"credentialId":         b64std(pkcs8[:16]),
			"isResidentCredential": true,
			"rpId":                 "localhost",
			"privateKey":           b64std(pkcs8),
			"userHandle":           b64std(onKey.Credentials[0].UserHandle),
			"signCount":            100,
		},
	})
	require.NoError(t, err)
	out, err = chromedp.Run(bctx, chromedp.Evaluate[outcome](loginDiscoverable, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, outcome{State: "401", Error: "invalid_code", Message: "The security key was not accepted. Try again."}, out)
	mu.Lock()
	assert.Len(t, results, 1, "no second sign-in")
	mu.Unlock()

	evMu.Lock()
	defer evMu.Unlock()
	var kinds []string
	for _, ev := range events {
		kinds = append(kinds, string(ev.Type)+"/"+string(ev.Reason))
	}
	assert.Contains(t, kinds, string(event.Enroll)+"/")
	assert.Contains(t, kinds, string(event.Success)+"/")
	assert.Contains(t, kinds, string(event.Failure)+"/unknown_credential", "the unregistered key's refusal says why")
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// serveToBrowser serves mux on ln, starts Chromium with opts (stopped at
// the end of the test, within a minute), opens origin and enables
// WebAuthn's virtual authenticators, without their UI.
func serveToBrowser(t *testing.T, mux http.Handler, ln net.Listener, origin string, opts []chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(origin+"/")))
	_, err := chromedp.Call(bctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{EnableUI: new(bool)})
	require.NoError(t, err)
	return bctx
}
