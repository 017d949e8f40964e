package twofactorhttp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

func TestNewValidates(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }
	ok := twofactorhttp.Config{Service: e.svc, Mux: http.NewServeMux(), SignIn: signIn}
	_, err := twofactorhttp.New(ok)
	require.NoError(t, err, "Service, Mux and SignIn are enough")

	bad := func(s string) *twofactorhttp.Strings {
		st := twofactorhttp.DefaultStrings()
		st.SentTo = s
		return st
	}
	required, err := twofactor.New(twofactor.Config{Store: e.mem, Keys: e.keys, Factors: built(e.app), Policy: twofactor.Policy{Required: true}})
	require.NoError(t, err)
	for name, mod := range map[string]func(*twofactorhttp.Config){
		"no service":         func(c *twofactorhttp.Config) { c.Service = nil },
		"no mux":             func(c *twofactorhttp.Config) { c.Mux = nil },
		"no sign-in":         func(c *twofactorhttp.Config) { c.SignIn = nil },
		"prefix no slash":    func(c *twofactorhttp.Config) { c.Prefix = "/2fa" },
		"prefix absolute":    func(c *twofactorhttp.Config) { c.Prefix = "//evil/" },
		"prefix pattern":     func(c *twofactorhttp.Config) { c.Prefix = "/{x}/" },
		"login absolute":     func(c *twofactorhttp.Config) { c.LoginURL = "https://evil.example/login" },
		"return relative":    func(c *twofactorhttp.Config) { c.ReturnURL = "home" },
		"enroll absolute":    func(c *twofactorhttp.Config) { c.EnrollURL = "//evil.example" },
		"required, no enrol": func(c *twofactorhttp.Config) { c.Service = required },
		"proxies twice":      func(c *twofactorhttp.Config) { c.TrustedProxies = mustPrefixes("10.0.0.0/8") },
		"cookie name":        func(c *twofactorhttp.Config) { c.PendingCookie = "bad name" },
		"host cookie":        func(c *twofactorhttp.Config) { c.PendingCookie = "__Host-x" },
		"same cookies":       func(c *twofactorhttp.Config) { c.StepUpCookie = twofactorhttp.DefaultPendingCookie },
		"bad origin":         func(c *twofactorhttp.Config) { c.TrustedOrigins = []string{"not an origin"} },
		"string verb":        func(c *twofactorhttp.Config) { c.Strings = bad("We sent a code.") },
		"string two verbs":   func(c *twofactorhttp.Config) { c.Strings = bad("%s %s") },
		"admin, no guard":    func(c *twofactorhttp.Config) { c.Admin.Actor = func(*http.Request) string { return "x" } },
		"admin, no actor":    func(c *twofactorhttp.Config) { c.Admin.Guard = func(h http.Handler) http.Handler { return h } },
		"admin in prefix":    func(c *twofactorhttp.Config) { c.Admin.Prefix = "/2fa/admin/" },
		"UI, no factor":      func(c *twofactorhttp.Config) { c.Methods = []twofactorhttp.MethodUI{twofactorhttp.GenericUI("pin")} },
		"UI twice": func(c *twofactorhttp.Config) {
			c.Methods = []twofactorhttp.MethodUI{twofactorhttp.TOTPUI(), twofactorhttp.TOTPUI()}
		},
		"UI reserved route": func(c *twofactorhttp.Config) {
			ui := twofactorhttp.TOTPUI()
			ui.Route = "devices"
			c.Methods = []twofactorhttp.MethodUI{ui}
		},
		"UI route taken": func(c *twofactorhttp.Config) {
			ui := twofactorhttp.TOTPUI()
			ui.Route = "phone"
			c.Methods = []twofactorhttp.MethodUI{ui}
		},
		"UI page missing": func(c *twofactorhttp.Config) {
			ui := twofactorhttp.TOTPUI()
			ui.Page = "settings_mine"
			c.Methods = []twofactorhttp.MethodUI{ui}
		},
		"template syntax": func(c *twofactorhttp.Config) {
			c.Templates = fstest.MapFS{"ended.html": {Data: []byte("{{define \"content\"}}{{.Nope")}}
		},
		"template no content": func(c *twofactorhttp.Config) {
			c.Templates = fstest.MapFS{"layout.html": {Data: []byte(`{{define "layout"}}x{{end}}`)}, "ended.html": {Data: []byte("plain")}}
		},
		"template fails": func(c *twofactorhttp.Config) {
			c.Templates = fstest.MapFS{"ended.html": {Data: []byte(`{{define "content"}}{{.Nope}}{{end}}`)}}
		},
	} {
		c := ok
		c.Mux = http.NewServeMux()
		mod(&c)
		_, err := twofactorhttp.New(c)
		require.ErrorIs(t, err, twofactor.ErrConfig, name)
		assert.Contains(t, err.Error(), "twofactorhttp: ", name)
	}
}

// New mounts the routes on the host's mux at the prefix: nothing for the
// host to mount, so nothing to mount at the wrong path; a mux that would
// send a route elsewhere fails at New and says what to change.
func TestMountMismatch(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }

	// The host mounted something at the prefix already.
	mux := http.NewServeMux()
	mux.Handle("/2fa/", http.NotFoundHandler())
	_, err := twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: mux, SignIn: signIn})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, `Config.Mux cannot take the Handler at Config.Prefix "/2fa/"`)
	require.ErrorContains(t, err, "remove the host's own handler for it")

	// A pattern of the host shadows one route.
	mux = http.NewServeMux()
	mux.HandleFunc("POST /2fa/verify", func(http.ResponseWriter, *http.Request) {})
	_, err = twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: mux, SignIn: signIn})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, `Config.Mux sends POST /2fa/verify to "POST /2fa/verify", not to the Handler mounted at "/2fa/"`)

	// The administrator pages too.
	mux = http.NewServeMux()
	mux.HandleFunc("/admin/2fa/policy", func(http.ResponseWriter, *http.Request) {})
	_, err = twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: mux, SignIn: signIn, Admin: twofactorhttp.AdminConfig{
		Guard: func(h http.Handler) http.Handler { return h }, Actor: func(*http.Request) string { return "jo" }}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, "GET /admin/2fa/policy")

	// Mounted by New, at another prefix: every route is there.
	mux = http.NewServeMux()
	_, err = twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: mux, SignIn: signIn, Prefix: "/auth/"})
	require.NoError(t, err)
	for _, path := range []string{"/auth/", "/auth/verify", "/auth/settings/totp", "/auth/webauthn/login/begin"} {
		_, pattern := mux.Handler(httptest.NewRequest(http.MethodPost, path, nil))
		require.Equal(t, "/auth/", pattern, path)
	}
}

// New renders every page with sample data: a layout that leaves out the
// page's content fails there, not in front of a user.
func TestLayoutWithoutContent(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }
	_, err := twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: http.NewServeMux(), SignIn: signIn,
		Templates: fstest.MapFS{"layout.html": {Data: []byte(`{{define "layout"}}<!doctype html><title>{{.Title}}</title><main></main>{{end}}`)}}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, `layout.html leaves out the content of challenge.html: call {{template "content" .}} in "layout"`)

	_, err = twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: http.NewServeMux(), SignIn: signIn,
		Templates: fstest.MapFS{"layout.html": {Data: []byte(`{{define "layout"}}<!doctype html><title>{{.Title}}</title><main>{{template "content" .}}</main>{{end}}`)}}})
	require.NoError(t, err)
}

// A host replaces one page and keeps the others; it translates through the
// string table, pages and JSON messages alike.
func TestTemplatesAndStrings(t *testing.T) {
	fr := twofactorhttp.DefaultStrings()
	fr.Lang = "fr"
	fr.InvalidCode = "Ce code ne fonctionne pas."
	fr.Verify = "Vérifier"
	fr.Methods[twofactor.MethodTOTP] = twofactorhttp.MethodText{Name: "Application", Prompt: "Saisissez le code.", Input: "Code à %d chiffres"}
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) {
		c.Strings = fr
		c.Templates = fstest.MapFS{"ended.html": {Data: []byte(`{{define "content"}}<p id="gone">{{.Message}} <a href="{{.Link.URL}}">{{.Link.Text}}</a></p>{{end}}`)}}
	}})
	assert.Equal(t, "That code didn't work. Check it and try again.", twofactorhttp.DefaultStrings().InvalidCode, "DefaultStrings returns a copy")

	b := e.browser()
	b.login("bob", "")
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	body := w.Body.String()
	assert.Contains(t, body, `<html lang="fr" dir="ltr">`)
	assert.Contains(t, body, "Ce code ne fonctionne pas.")
	assert.Contains(t, body, "Vérifier")
	assert.Contains(t, body, "Code à 6 chiffres")
	b.json = true
	m := requireError(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"111111"}}), http.StatusUnauthorized, twofactorhttp.CodeInvalidCode)
	assert.Equal(t, "Ce code ne fonctionne pas.", m["message"])

	b.json = false
	b.post("/2fa/cancel", nil)
	b.cookies[twofactorhttp.DefaultPendingCookie] = &http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: "x"}
	w = b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusGone, w.Code)
	assert.Contains(t, w.Body.String(), `<p id="gone">`, "the replaced page")
	assert.Contains(t, w.Body.String(), `<html lang="fr" dir="ltr">`, "in the embedded layout")
}

// A prefix of the host's choosing moves every route and URL.
func TestPrefix(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.Prefix = "/auth/second/" }})
	b := e.browser()
	requireRedirect(t, b.login("bob", ""), "/auth/second/")
	assert.Equal(t, "/auth/second/", b.cookies[twofactorhttp.DefaultPendingCookie].Path)
	page := b.get("/auth/second/").Body.String()
	assert.Contains(t, page, `action="/auth/second/verify"`)
	assert.Contains(t, page, `href="/auth/second/assets/style.css"`)
	requireRedirect(t, b.post("/auth/second/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/")
}

// The layer takes the keys, the clock and the trusted devices from the
// Service: there is nothing to give it twice.
func TestNewDefaultsFromService(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	b.login("bob", "")
	assert.Contains(t, b.get("/2fa/").Body.String(), "Trust this device", "the Service's trust manager")
	c := b.cookies[twofactorhttp.DefaultPendingCookie]
	assert.Equal(t, e.clock.Now().Add(15*time.Minute).Unix(), c.Expires.Unix(), "the Service's clock")
	forged := twofactorhttp.SealPendingForTest(e.h, b.challengeID(), "bob", twofactor.PurposeLogin, "", e.clock.Now().Add(time.Minute))
	_, sealed, _ := strings.Cut(forged, "~")
	_, err := e.keys.Open(sealed, []byte("twofactorhttp pending v1\x00"+twofactorhttp.DefaultPendingCookie+"\x00"+b.challengeID()))
	assert.NoError(t, err, "the Service's keys")

	e = newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Trust = nil }})
	b = e.browser()
	b.login("bob", "")
	assert.NotContains(t, b.get("/2fa/").Body.String(), "Trust this device", "no trusted devices")
}

// The whole set-up can be one call: New builds the Service from
// Config.TwoFactor, and a mistake anywhere in it is New's one error.
func TestNewBuildsTheService(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }
	tc := twofactor.Config{Store: e.mem, Keys: e.keys, Factors: built(e.app), Users: lookup(users)}
	h, err := twofactorhttp.New(twofactorhttp.Config{TwoFactor: tc, Mux: http.NewServeMux(), SignIn: signIn})
	require.NoError(t, err)
	require.NotNil(t, h.Service())
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP}, h.Service().Methods())

	// A mistake in the Service's part is New's error.
	tc.Keys = nil
	_, err = twofactorhttp.New(twofactorhttp.Config{TwoFactor: tc, Mux: http.NewServeMux(), SignIn: signIn})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.ErrorContains(t, err, "Config.Keys")
	// So is one in the layer's part.
	tc.Keys = e.keys
	_, err = twofactorhttp.New(twofactorhttp.Config{TwoFactor: tc, Mux: http.NewServeMux()})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.ErrorContains(t, err, "SignIn")
	// Both a Service and its configuration: which one is meant?
	_, err = twofactorhttp.New(twofactorhttp.Config{Service: e.svc, TwoFactor: tc, Mux: http.NewServeMux(), SignIn: signIn})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}

// SignIn gets the user's id, and what was verified through ResultFrom;
// outside SignIn there is no result.
func TestSignInGetsTheUserAndResult(t *testing.T) {
	var gotID string
	var got *twofactor.Result
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) {
		next := c.SignIn
		c.SignIn = func(w http.ResponseWriter, r *http.Request, userID string) error {
			gotID = userID
			got, _ = twofactorhttp.ResultFrom(r)
			return next(w, r, userID)
		}
	}})
	_, ok := twofactorhttp.ResultFrom(httptest.NewRequest("GET", "/", nil))
	assert.False(t, ok)
	b := e.browser()
	requireRedirect(t, b.login("bob", "/account"), "/2fa/")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/account")
	assert.Equal(t, "bob", gotID)
	require.NotNil(t, got)
	assert.Equal(t, "bob", got.User.ID)
	assert.Equal(t, twofactor.MethodTOTP, got.Method)
	assert.NotEmpty(t, got.Proof)
}
