package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

func TestNewValidates(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, *twofactor.Result) error { return nil }
	ok := twofactorhttp.Config{Service: e.svc, Keys: e.keys, SignIn: signIn}
	_, err := twofactorhttp.New(ok)
	require.NoError(t, err, "Service, Keys and SignIn are enough")

	bad := func(s string) *twofactorhttp.Strings {
		st := twofactorhttp.DefaultStrings()
		st.SentTo = s
		return st
	}
	required, err := twofactor.New(twofactor.Config{Store: e.mem, Keys: e.keys, Factors: []twofactor.Factor{e.app}, Policy: twofactor.Policy{Required: true}})
	require.NoError(t, err)
	for name, mod := range map[string]func(*twofactorhttp.Config){
		"no service":         func(c *twofactorhttp.Config) { c.Service = nil },
		"no sign-in":         func(c *twofactorhttp.Config) { c.SignIn = nil },
		"prefix no slash":    func(c *twofactorhttp.Config) { c.Prefix = "/2fa" },
		"prefix absolute":    func(c *twofactorhttp.Config) { c.Prefix = "//evil/" },
		"login absolute":     func(c *twofactorhttp.Config) { c.LoginURL = "https://evil.example/login" },
		"return relative":    func(c *twofactorhttp.Config) { c.ReturnURL = "home" },
		"enroll absolute":    func(c *twofactorhttp.Config) { c.EnrollURL = "//evil.example" },
		"required, no enrol": func(c *twofactorhttp.Config) { c.Service = required },
		"proxies twice":      func(c *twofactorhttp.Config) { c.Trust = e.devices; c.TrustedProxies = mustPrefixes("10.0.0.0/8") },
		"cookie name":        func(c *twofactorhttp.Config) { c.PendingCookie = "bad name" },
		"host cookie":        func(c *twofactorhttp.Config) { c.PendingCookie = "__Host-x" },
		"same cookies":       func(c *twofactorhttp.Config) { c.StepUpCookie = twofactorhttp.DefaultPendingCookie },
		"bad origin":         func(c *twofactorhttp.Config) { c.TrustedOrigins = []string{"not an origin"} },
		"string verb":        func(c *twofactorhttp.Config) { c.Strings = bad("We sent a code.") },
		"string two verbs":   func(c *twofactorhttp.Config) { c.Strings = bad("%s %s") },
		"template syntax": func(c *twofactorhttp.Config) {
			c.Templates = fstest.MapFS{"ended.html": {Data: []byte("{{define \"content\"}}{{.Nope")}}
		},
		"template no content": func(c *twofactorhttp.Config) {
			c.Templates = fstest.MapFS{"layout.html": {Data: []byte(`{{define "layout"}}x{{end}}`)}, "ended.html": {Data: []byte("plain")}}
		},
	} {
		c := ok
		mod(&c)
		_, err := twofactorhttp.New(c)
		require.ErrorIs(t, err, twofactor.ErrConfig, name)
		assert.Contains(t, err.Error(), "twofactorhttp: ", name)
	}
}

// A host replaces one page and keeps the others; it translates through the
// string table, pages and JSON messages alike.
func TestTemplatesAndStrings(t *testing.T) {
	fr := twofactorhttp.DefaultStrings()
	fr.Lang = "fr"
	fr.InvalidCode = "Ce code ne fonctionne pas."
	fr.Verify = "Vérifier"
	fr.Methods[twofactor.MethodTOTP] = twofactorhttp.MethodText{Name: "Application", Prompt: "Saisissez le code.", Input: "Code à 6 chiffres"}
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
	assert.Contains(t, body, `<html lang="fr">`)
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
	assert.Contains(t, w.Body.String(), `<html lang="fr">`, "in the embedded layout")
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

// The layer takes the Service's keys and trusted-device manager unless it
// is given its own.
func TestNewDefaultsFromService(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.Keys, c.Trust = nil, nil }})
	b := e.browser()
	b.login("bob", "")
	assert.Contains(t, b.get("/2fa/").Body.String(), "Trust this device", "the Service's trust manager")
}
