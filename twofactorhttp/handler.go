package twofactorhttp

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultPrefix        = "/2fa/"
	DefaultLoginURL      = "/login"
	DefaultReturnURL     = "/"
	DefaultPendingCookie = "tf_pending"
	DefaultStepUpCookie  = "tf_stepup"
	DefaultEnrollCookie  = "tf_enroll"
)

// ReturnParam is the query or form field Begin, the step-up route and the
// enforcement redirect read and write the return path in ("/login?next=/account").
const ReturnParam = "next"

// Config configures a Handler. Only Service and SignIn are required; every
// other zero field takes the default its documentation gives.
type Config struct {
	// Service runs the flows. Required.
	Service *twofactor.Service

	// Keys seals the layer's cookies (the pending sign-in, the step-up
	// proof) with AES-256-GCM. Nil means the Service's keyring.
	Keys *twofactor.Keyring

	// SignIn is called once the second step is done, or was not needed
	// (trusted device, no factor): the host creates its session here and
	// renews its session token. res.Method is empty when no second factor
	// was asked; res.Proof is set when one was. It may set cookies and
	// headers but must not write the body. An error fails the sign-in (500)
	// and is logged. Required.
	SignIn func(w http.ResponseWriter, r *http.Request, res *twofactor.Result) error

	// User returns the signed-in user of a request, or false. Needed by the
	// StepUp and Enforce middleware and the step-up route; nil means no
	// request has a signed-in user, and those answer 401.
	User func(r *http.Request) (twofactor.User, bool)

	// Trust is the trusted-device manager given to the Service as
	// Config.Trust, if any. With it the challenge page offers "Trust this
	// device for N days" (N from its Duration), the device cookie is read
	// and written through it, and the client address comes from its
	// trusted proxies. Nil means the Service's Config.Trust when it is a
	// *trust.Manager; with neither, no device is trusted.
	Trust *trust.Manager

	// TrustedProxies lists the reverse proxies whose forwarding header
	// (ProxyHeader) is believed for the client address, as in trust.Config.
	// Nil means none: the connection's address is the client. Set it only
	// when Trust is nil; with a Manager, give the proxies to trust.Config
	// instead, so that both read the same address.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header the trusted proxies write. Zero is
	// X-Forwarded-For.
	ProxyHeader trust.ProxyHeader

	// Prefix is the path the handler tree is mounted at; it starts and
	// ends with "/". Empty means "/2fa/". Mount the Handler on exactly this
	// pattern: mux.Handle(prefix, h).
	Prefix string

	// LoginURL is the host's login page, a path on this site: Cancel and
	// an ended challenge lead back to it. Empty means "/login".
	LoginURL string

	// ReturnURL is where users go after signing in or stepping up when no
	// safe return path was given. Empty means "/".
	ReturnURL string

	// EnrollURL is the host's page for adding a second factor, a path on
	// this site. A signed-in user whom the policy requires to have one is
	// sent there, with the page they wanted as ?next=. Required when the
	// Service's Policy.Required is set.
	EnrollURL string

	// TrustedOrigins are other origins ("https://app.example.com") whose
	// requests may POST to the layer, for a single-page app served from
	// another origin. Nil allows same-origin requests only.
	TrustedOrigins []string

	// ManualSend, if set, waits for the user to press "Send code" instead
	// of sending a code by itself when a challenge first offers email or
	// SMS.
	ManualSend bool

	// Templates overrides pages: a file in it named like one of the pages
	// (layout.html, parts.html, challenge.html, ended.html, message.html,
	// the settings_*.html and admin_*.html pages) replaces the embedded
	// one; the others stay. See the package documentation for the
	// data each page receives. Nil keeps every embedded page.
	Templates fs.FS

	// Strings is the text of every page and JSON message. Nil means
	// DefaultStrings() (English). Copy it and change what you translate.
	Strings *Strings

	// PendingCookie and StepUpCookie name the layer's cookies. Empty means
	// "tf_pending" and "tf_stepup".
	PendingCookie, StepUpCookie string

	// EnrollCookie names the cookie of the settings pages: which set-up
	// is waiting for its code (sealed, scoped to the settings pages), and,
	// with the suffix "_codes", a new set of backup codes for the page
	// that shows it and its download. Empty means "tf_enroll".
	EnrollCookie string

	// Admin configures the administrator pages served by Handler.Admin.
	Admin AdminConfig

	// Notifications returns the names of the security emails the signed-in
	// user gets (a method added, a failed second step...), which the
	// settings overview lists so people know they will be told. Nil lists
	// none. Package notify gives them: see its Notifier.On and Strings.
	Notifications func(r *http.Request) []string

	// Logger receives internal errors (never codes or secrets). Nil means
	// slog.Default().
	Logger *slog.Logger

	// Now is the clock for cookie expiry. Nil means time.Now; give it the
	// Service's clock.
	Now func() time.Time
}

// Handler serves the second step of sign-in and step-up: pages, a JSON API
// on the same routes, and their scripts and stylesheet, all under one
// prefix. Build it with New and mount it once:
//
//	mux.Handle("/2fa/", h)
//
// It is safe for concurrent use.
type Handler struct {
	svc         *twofactor.Service
	keys        *twofactor.Keyring
	signIn      func(http.ResponseWriter, *http.Request, *twofactor.Result) error
	user        func(*http.Request) (twofactor.User, bool)
	userSet     bool // Config.User was given
	trust       *trust.Manager
	proxies     []netip.Prefix
	proxyHeader trust.ProxyHeader
	prefix      string
	loginURL    string
	returnURL   string
	enrollURL   string
	manualSend  bool
	pendingName string
	stepUpName  string
	enrollName  string
	admin       AdminConfig
	notices     func(*http.Request) []string
	text        *Strings
	pages       pages
	cop         *http.CrossOriginProtection
	log         *slog.Logger
	now         func() time.Time
	webauthn    bool // the Service has a WebAuthn factor
}

// New validates cfg and returns the Handler. Errors wrap
// twofactor.ErrConfig and say what to change.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Service == nil:
		return nil, configErr("Config.Service is nil: pass the *twofactor.Service")
	case cfg.SignIn == nil:
		return nil, configErr("Config.SignIn is nil: create the host's session there")
	case cfg.Trust != nil && len(cfg.TrustedProxies) > 0:
		return nil, configErr("Config.TrustedProxies is set with Config.Trust: give the proxies to trust.Config instead, so both read the same client address")
	}
	if cfg.Keys == nil {
		cfg.Keys = cfg.Service.Keys()
	}
	if m, ok := cfg.Service.Trust().(*trust.Manager); ok && cfg.Trust == nil && len(cfg.TrustedProxies) == 0 {
		cfg.Trust = m
	}
	h := &Handler{
		svc:         cfg.Service,
		keys:        cfg.Keys,
		signIn:      cfg.SignIn,
		user:        cfg.User,
		trust:       cfg.Trust,
		proxyHeader: cfg.ProxyHeader,
		prefix:      cmp.Or(cfg.Prefix, DefaultPrefix),
		loginURL:    cmp.Or(cfg.LoginURL, DefaultLoginURL),
		returnURL:   cmp.Or(cfg.ReturnURL, DefaultReturnURL),
		enrollURL:   cfg.EnrollURL,
		manualSend:  cfg.ManualSend,
		pendingName: cmp.Or(cfg.PendingCookie, DefaultPendingCookie),
		stepUpName:  cmp.Or(cfg.StepUpCookie, DefaultStepUpCookie),
		enrollName:  cmp.Or(cfg.EnrollCookie, DefaultEnrollCookie),
		admin:       cfg.Admin,
		notices:     cfg.Notifications,
		text:        cfg.Strings,
		log:         cfg.Logger,
		now:         cfg.Now,
		cop:         http.NewCrossOriginProtection(),
	}
	h.userSet = h.user != nil
	if h.user == nil {
		h.user = func(*http.Request) (twofactor.User, bool) { return twofactor.User{}, false }
	}
	if h.text == nil {
		h.text = DefaultStrings()
	}
	h.text = withPageDefaults(h.text)
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if !strings.HasPrefix(h.prefix, "/") || !strings.HasSuffix(h.prefix, "/") || cleanReturn(h.prefix) != h.prefix {
		return nil, configErr("Config.Prefix %q must be a path that starts and ends with \"/\", like \"/2fa/\"", h.prefix)
	}
	for name, v := range map[string]string{"LoginURL": h.loginURL, "ReturnURL": h.returnURL} {
		if cleanReturn(v) != v {
			return nil, configErr("Config.%s %q must be a path on this site, like \"/login\"", name, v)
		}
	}
	if h.enrollURL != "" && cleanReturn(h.enrollURL) != h.enrollURL {
		return nil, configErr("Config.EnrollURL %q must be a path on this site, like \"/settings/2fa\"", h.enrollURL)
	}
	if cfg.Service.Policy().Required && h.enrollURL == "" {
		return nil, configErr("Config.EnrollURL is empty but the policy requires a second factor: name the page where users add one")
	}
	for _, name := range []string{h.pendingName, h.stepUpName, h.enrollName, h.codesName()} {
		if err := (&http.Cookie{Name: name, Value: "x"}).Valid(); err != nil || strings.HasPrefix(name, "__Host-") {
			return nil, configErr("cookie name %q is not valid (and cannot take the __Host- prefix: the pending cookie is scoped to Prefix)", name)
		}
	}
	if h.pendingName == h.stepUpName || h.enrollName == h.pendingName || h.enrollName == h.stepUpName ||
		h.codesName() == h.pendingName || h.codesName() == h.stepUpName {
		return nil, configErr("Config.PendingCookie, Config.StepUpCookie and Config.EnrollCookie (and it with \"_codes\") must differ")
	}
	if err := h.checkAdmin(); err != nil {
		return nil, err
	}
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, configErr("Config.TrustedProxies[%d] is not a valid prefix", i)
		}
		h.proxies = append(h.proxies, p.Masked())
	}
	for _, o := range cfg.TrustedOrigins {
		if err := h.cop.AddTrustedOrigin(o); err != nil {
			return nil, configErr("Config.TrustedOrigins: %v", err)
		}
	}
	if err := h.text.check(); err != nil {
		return nil, err
	}
	var err error
	if h.pages, err = parsePages(cfg.Templates); err != nil {
		return nil, err
	}
	_, h.webauthn = cfg.Service.Factor(twofactor.MethodWebAuthn)
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, errCrossOrigin)
	}))
	return h, nil
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: twofactorhttp: %s", twofactor.ErrConfig, fmt.Sprintf(format, args...))
}

// Prefix returns the path the Handler is mounted at.
func (h *Handler) Prefix() string { return h.prefix }

// Routes, relative to the prefix.
const (
	routeChallenge = ""
	routeSend      = "send"
	routeStart     = "start"
	routeVerify    = "verify"
	routeCancel    = "cancel"
	routeStepUp    = "step-up"
	routeStyle     = "assets/style.css"
	routeScript    = "assets/twofactor.js"
	// The WebAuthn script posts to <base>/login/begin and <base>/login/finish.
	routeWebAuthnScript = "webauthn/webauthn.js"
	routeWebAuthnBegin  = "webauthn/login/begin"
	routeWebAuthnFinish = "webauthn/login/finish"
	// ... and, to add a key, <base>/register/begin and <base>/register/finish.
	routeWebAuthnRegister = "webauthn/register/begin"
	routeWebAuthnConfirm  = "webauthn/register/finish"
)

// ServeHTTP routes a request under the prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok && r.URL.Path+"/" == h.prefix {
		rest, ok = "", true
	}
	if !ok {
		h.fail(w, r, nil, errNotFound)
		return
	}
	if rest == "settings" || strings.HasPrefix(rest, routeSettings) {
		h.serveSettings(w, r, rest)
		return
	}
	var post func(http.ResponseWriter, *http.Request)
	switch rest {
	case routeChallenge:
		h.onlyGet(w, r, h.serveChallenge)
		return
	case routeStyle:
		h.onlyGet(w, r, serveStyle)
		return
	case routeScript:
		h.onlyGet(w, r, serveScript)
		return
	case routeWebAuthnScript:
		if h.webauthn {
			h.onlyGet(w, r, serveWebAuthnScript)
			return
		}
	case routeStepUp:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			h.serveStepUpPage(w, r)
			return
		}
		post = h.serveStepUp
	case routeSend:
		post = h.serveSend
	case routeStart:
		post = h.serveStart
	case routeVerify:
		post = h.serveVerify
	case routeCancel:
		post = h.serveCancel
	case routeWebAuthnBegin:
		if h.webauthn {
			post = h.serveWebAuthnBegin
		}
	case routeWebAuthnFinish:
		if h.webauthn {
			post = h.serveVerify
		}
	case routeWebAuthnRegister:
		if h.webauthn {
			post = h.serveRegisterBegin
		}
	case routeWebAuthnConfirm:
		if h.webauthn {
			post = h.serveRegisterFinish
		}
	}
	if post == nil {
		h.fail(w, r, nil, errNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, nil, errMethod)
		return
	}
	if err := h.cop.Check(r); err != nil {
		h.fail(w, r, nil, errCrossOrigin)
		return
	}
	post(w, r)
}

func (h *Handler) onlyGet(w http.ResponseWriter, r *http.Request, f func(http.ResponseWriter, *http.Request)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, nil, errMethod)
		return
	}
	f(w, r)
}

// client describes the request for the Service: the client address through
// the trust package (proxy-aware), the User-Agent and the device cookie.
func (h *Handler) client(r *http.Request) twofactor.Client {
	if h.trust != nil {
		return h.trust.Client(r)
	}
	return twofactor.Client{IP: trust.ClientIP(r, h.proxies, h.proxyHeader), UserAgent: r.UserAgent()}
}

// url returns the path of a route under the prefix.
func (h *Handler) url(route string) string { return h.prefix + route }

// withNext appends ?next=ret to path, when ret is not the default.
func (h *Handler) withNext(path, ret string) string {
	if ret == "" || ret == h.returnURL {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + ReturnParam + "=" + url.QueryEscape(ret)
}

var (
	errNotFound     = errors.New("twofactorhttp: no such route")
	errMethod       = errors.New("twofactorhttp: method not allowed")
	errCrossOrigin  = errors.New("twofactorhttp: cross-origin request refused")
	errBadRequest   = errors.New("twofactorhttp: malformed request")
	errTooLarge     = errors.New("twofactorhttp: request body too large")
	errNoPending    = errors.New("twofactorhttp: no pending sign-in")
	errSignedOut    = errors.New("twofactorhttp: not signed in")
	errSignIn       = errors.New("twofactorhttp: the host's sign-in failed")
	errNoEnrollment = errors.New("twofactorhttp: no pending enrollment")
)
