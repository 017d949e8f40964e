package twofactorhttp

import (
	"cmp"
	"context"
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
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/trust"
	"golang.org/x/text/language"
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

// Config configures a Handler. Service (or TwoFactor), Mux and SignIn are
// required; every other zero field takes the default its documentation
// gives.
type Config struct {
	// Service runs the flows. Required. The layer seals its cookies with
	// the Service's keys (Env().Keys), reads the clock from it
	// (Env().Now), turns user ids into users through it (Env().User, the
	// twofactor.Config.Users the host gave once), and uses its trusted
	// devices (Trust(), a *trust.Manager) when it has them.
	Service *twofactor.Service

	// TwoFactor, when Service is nil, configures the Service New builds
	// first, so that the whole two-factor set-up of an app is one call
	// with one error to check. Handler.Service returns it.
	TwoFactor twofactor.Config

	// Mux is the host's router: New mounts the Handler's routes on it at
	// Prefix, and the administrator pages at Admin.Prefix behind
	// Admin.Guard, and checks that the mux sends each route to them.
	// Required. A host on another router gives a ServeMux of its own and
	// hands that router's requests for both prefixes to it.
	Mux *http.ServeMux

	// SignIn is called once the second step is done, or was not needed
	// (trusted device, no factor), with the id of the user signing in:
	// the host creates its session here and renews its session token, so
	// an app's own sign-in function usually serves as it is. What was
	// verified (the method, the proof) is in ResultFrom(r). It may answer
	// the request itself (a redirect of its own, a page): when it writes
	// nothing, the browser goes to the return path (a JSON client gets
	// {"ok": true, "status": "signed_in", "next": ...}). An error fails the
	// sign-in (500, unless it already answered) and is logged. Required.
	SignIn func(w http.ResponseWriter, r *http.Request, userID string) error

	// UserID returns the id of the signed-in user of a request, or false.
	// The layer turns it into the User through the Service (Env().User):
	// the settings pages, the step-up route, the security-key routes and
	// the StepUp and Enforce middleware need it. An id the Service's Users
	// does not know fails closed. Nil means no request has a signed-in
	// user: those routes answer 401 and the middleware cannot be made.
	UserID func(r *http.Request) (id string, ok bool)

	// TrustedProxies lists the reverse proxies whose forwarding header
	// (ProxyHeader) is believed for the client address, as in trust.Config.
	// Nil means none: the connection's address is the client. It is for a
	// Service without trusted devices only: with them, the trust.Manager's
	// proxies decide, so that both read the same address.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header the trusted proxies write. Zero is
	// X-Forwarded-For.
	ProxyHeader trust.ProxyHeader

	// Prefix is the path the Handler's routes are mounted at on Mux; it
	// starts and ends with "/". Empty means "/2fa/".
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
	// of sending a code by itself when a challenge first offers a method
	// that sends one.
	ManualSend bool

	// Methods are the pages of methods (see MethodUI) that replace the
	// built-in ones: the library's five factors have theirs (TOTPUI,
	// SecurityKeyUI, PhoneUI, EmailUI, BackupCodesUI), and any other
	// method of the Service gets GenericUI. The pages list methods in the
	// Service's order (Service.Methods). Nil: the built-in ones alone.
	Methods []MethodUI

	// Templates overrides pages: a file in it named like one of the pages
	// (layout.html, parts.html, challenge.html, ended.html, message.html,
	// the settings_*.html and admin_*.html pages, and any page a MethodUI
	// names) replaces the embedded one; the others stay. See the package
	// documentation for the data each page receives. New renders every
	// page with sample data and fails when one errors or its layout leaves
	// the content out. Nil keeps every embedded page.
	Templates fs.FS

	// Languages are the texts of the pages, JSON messages, emails and
	// text messages, one language each. Nil means i18n.Default(): English,
	// German, French, Spanish, Brazilian Portuguese, Japanese and Arabic.
	// Change a few strings, or add a language, with its With method:
	//
	//	cat, err := i18n.Default().With(language.German, i18n.Messages{
	//		"page.TitleLogin": "Anmeldung bestätigen",
	//	})
	Languages *i18n.Catalog

	// Language chooses the language of a request: the host's choice for
	// the signed-in user, a path prefix, a cookie. The catalogue's closest
	// language serves it. Nil means the language i18n.WithLanguage put in
	// the request's context, else the one its Accept-Language header
	// prefers. The Service's emails and text messages sent while serving
	// the request follow it; the administrator pages follow the
	// administrator's, and leave the user's messages to
	// twofactor.User's own language or the host's default.
	Language func(*http.Request) language.Tag

	// PasskeyOffer: after a sign-in with a password and a second factor,
	// a user without a passkey is offered to create one, on a page of its
	// own, when the Service signs in with passkeys (a webauthn factor)
	// and the user's policy allows security keys. Where the browser can,
	// the page creates the passkey without asking (WebAuthn's conditional
	// create, right after a password manager filled the password).
	PasskeyOffer PasskeyOffer

	// Strings, when set, is the text of every request, whatever its
	// language: a table built before catalogues existed, or a single
	// language of the host's own. Its empty fields take the catalogue's
	// text for Strings.Lang. Nil means the catalogue, per request.
	Strings *Strings

	// PendingCookie and StepUpCookie name the layer's cookies. Empty means
	// "tf_pending" and "tf_stepup".
	PendingCookie, StepUpCookie string

	// EnrollCookie names the cookie of the settings pages: which set-up
	// is waiting for its code (sealed, scoped to the settings pages), and,
	// with the suffix "_codes", a new set of codes for the page that shows
	// it and its download. Empty means "tf_enroll".
	EnrollCookie string

	// Admin configures the administrator pages. They exist when
	// Admin.Actor is set.
	Admin AdminConfig

	// Notifications returns the names of the security emails the signed-in
	// user gets (a method added, a failed second step...), which the
	// settings overview lists so people know they will be told. Nil lists
	// none. Package notify gives them: see its Notifier.On and Strings.
	Notifications func(r *http.Request) []string

	// Logger receives internal errors (never codes or secrets). Nil means
	// slog.Default().
	Logger *slog.Logger

	// Support is where people get help when they are stuck: its Text
	// ("Still locked out? Contact Acme support.") is shown on the lockout
	// page and on the pages of a sign-in that ended or failed, as a link
	// when URL is set (a path on this site, or an https:, mailto: or tel:
	// URL). A zero Support shows no such line.
	Support Link

	// Layout returns what the host's layout.html needs of a request that
	// the layer cannot know (its navigation, its own user record): every
	// page gets it as PageData.Host. Nil: PageData.Host is nil. It runs on
	// each page the layer renders, so keep it cheap; it must not write to
	// the response.
	Layout func(r *http.Request) any
}

// Handler serves the second step of sign-in and step-up, the settings
// pages and the administrator pages: pages, a JSON API on the same
// routes, and their scripts and stylesheet. New builds it and mounts it on
// Config.Mux; the host calls Begin after its password check, SignOut at
// its logout, and guards pages with StepUp and Enforce. It is safe for
// concurrent use.
type Handler struct {
	svc         *twofactor.Service
	env         twofactor.Env
	signIn      func(http.ResponseWriter, *http.Request, string) error
	userID      func(*http.Request) (string, bool)
	trust       *trust.Manager
	proxies     []netip.Prefix
	proxyHeader trust.ProxyHeader
	prefix      string
	loginURL    string
	returnURL   string
	enrollURL   string
	required    bool // some policy requires a second factor
	grace       bool // some policy gives a grace
	manualSend  bool
	pendingName string
	stepUpName  string
	enrollName  string
	admin       AdminConfig
	adminPrefix string
	notices     func(*http.Request) []string
	support     *Link
	layout      func(*http.Request) any
	langs       *langs
	offer       PasskeyOffer
	pages       pages
	cop         *http.CrossOriginProtection
	log         *slog.Logger
	now         func() time.Time
	ui          methods
}

// New validates cfg, builds the Handler and mounts its routes on
// cfg.Mux. Every check happens here: errors wrap twofactor.ErrConfig and
// say what to change, and no request meets a configuration error later.
func New(cfg Config) (*Handler, error) {
	if cfg.Service != nil && cfg.TwoFactor.Factors != nil {
		return nil, configErr("Config.Service and Config.TwoFactor are both set: give one")
	}
	if cfg.Service != nil || cfg.TwoFactor.Factors == nil {
		return newHandler(cfg)
	}
	svc, err := twofactor.New(cfg.TwoFactor)
	if err != nil {
		return nil, err
	}
	cfg.Service = svc
	h, err := newHandler(cfg)
	if err != nil {
		svc.Shutdown(context.Background())
		return nil, err
	}
	return h, nil
}

// Service returns the Service the Handler runs on.
func (h *Handler) Service() *twofactor.Service { return h.svc }

func newHandler(cfg Config) (*Handler, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	env := cfg.Service.Env()
	h := &Handler{
		svc:         cfg.Service,
		env:         env,
		signIn:      cfg.SignIn,
		userID:      cfg.UserID,
		proxyHeader: cfg.ProxyHeader,
		prefix:      cmp.Or(cfg.Prefix, DefaultPrefix),
		loginURL:    cmp.Or(cfg.LoginURL, DefaultLoginURL),
		returnURL:   cmp.Or(cfg.ReturnURL, DefaultReturnURL),
		enrollURL:   cfg.EnrollURL,
		required:    anyRequired(cfg.Service),
		grace:       anyGrace(cfg.Service),
		manualSend:  cfg.ManualSend,
		pendingName: cmp.Or(cfg.PendingCookie, DefaultPendingCookie),
		stepUpName:  cmp.Or(cfg.StepUpCookie, DefaultStepUpCookie),
		enrollName:  cmp.Or(cfg.EnrollCookie, DefaultEnrollCookie),
		admin:       cfg.Admin,
		adminPrefix: cmp.Or(cfg.Admin.Prefix, DefaultAdminPrefix),
		notices:     cfg.Notifications,
		layout:      cfg.Layout,
		offer:       cfg.PasskeyOffer.withDefaults(),
		log:         cmp.Or(cfg.Logger, slog.Default()),
		now:         env.Now,
		cop:         http.NewCrossOriginProtection(),
	}
	h.trust, _ = cfg.Service.Trust().(*trust.Manager)
	steps := []func() error{
		func() error { return h.setSupport(cfg.Support) },
		h.checkPaths,
		h.checkCookies,
		func() error { return h.setNetwork(cfg) },
		func() error { return h.setLanguages(cfg) },
		func() error { return h.setMethods(cfg.Methods) },
		func() error { return h.setPages(cfg.Templates) },
		func() error { return h.mount(cfg.Mux) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// checkConfig checks what New needs before it builds anything.
func checkConfig(cfg *Config) error {
	switch {
	case cfg.Service == nil:
		return configErr("Config.Service is nil: pass the *twofactor.Service, or the twofactor.Config to build it with as Config.TwoFactor")
	case cfg.Mux == nil:
		return configErr("Config.Mux is nil: pass the *http.ServeMux the Handler mounts its routes on at Config.Prefix")
	case cfg.SignIn == nil:
		return configErr("Config.SignIn is nil: create the host's session there")
	case cfg.Service.Trust() != nil && len(cfg.TrustedProxies) > 0:
		return configErr("Config.TrustedProxies is set while the Service has trusted devices: give the proxies to trust.Config instead, so both read the same client address")
	case cfg.Service.Env().Keys == nil:
		return configErr("Config.Service has no keys: build it with twofactor.New")
	}
	if t := cfg.Service.Trust(); t != nil {
		if _, ok := t.(*trust.Manager); !ok {
			return configErr("the Service's trusted devices are a %T: the layer needs a *trust.Manager (trust.Config) for the device cookie", t)
		}
	}
	if cfg.Admin.Actor != nil && cfg.Admin.Guard == nil {
		return configErr("Config.Admin.Guard is nil: give the host's administrator check (middleware); the administrator pages check nobody's rights themselves")
	}
	if cfg.Admin.Actor == nil && (cfg.Admin.Guard != nil || cfg.Admin.Users != nil) {
		return configErr("Config.Admin.Actor is nil: name the administrator of a request, or leave Config.Admin empty for no administrator pages")
	}
	return nil
}

// checkPaths checks the prefixes and the host's URLs.
func (h *Handler) checkPaths() error {
	for name, p := range map[string]string{"Prefix": h.prefix, "Admin.Prefix": h.adminPrefix} {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || cleanReturn(p) != p || strings.ContainsAny(p, "{}?#") {
			return configErr("Config.%s %q must be a path that starts and ends with \"/\", like \"/2fa/\"", name, p)
		}
	}
	if (h.admin.Actor != nil || h.admin.Prefix != "") && (strings.HasPrefix(h.adminPrefix, h.prefix) || strings.HasPrefix(h.prefix, h.adminPrefix)) {
		return configErr("Config.Admin.Prefix %q and Config.Prefix %q must not contain one another", h.adminPrefix, h.prefix)
	}
	for name, v := range map[string]string{"LoginURL": h.loginURL, "ReturnURL": h.returnURL} {
		if cleanReturn(v) != v {
			return configErr("Config.%s %q must be a path on this site, like \"/login\"", name, v)
		}
	}
	if h.enrollURL != "" && cleanReturn(h.enrollURL) != h.enrollURL {
		return configErr("Config.EnrollURL %q must be a path on this site, like \"/settings/2fa\"", h.enrollURL)
	}
	if h.required && h.enrollURL == "" {
		return configErr("Config.EnrollURL is empty but a policy requires a second factor: name the page where users add one")
	}
	if h.userID == nil && h.grace {
		return configErr("Config.UserID is nil but a policy gives a grace: the enrollment prompt needs to know who is signed in")
	}
	return nil
}

// setSupport checks Config.Support: its URL is a path on this site or an
// https:, mailto: or tel: URL, so a page never links to script.
func (h *Handler) setSupport(l Link) error {
	if l == (Link{}) {
		return nil
	}
	if l.Text == "" {
		return configErr("Config.Support has a URL but no Text: give the line people read")
	}
	if l.URL != "" && cleanReturn(l.URL) != l.URL {
		u, err := url.Parse(l.URL)
		switch {
		case err != nil:
			return configErr("Config.Support.URL %q does not parse: %v", l.URL, err)
		case u.Scheme == "https" && u.Host != "", u.Scheme == "mailto" && u.Opaque != "", u.Scheme == "tel" && u.Opaque != "":
		default:
			return configErr("Config.Support.URL %q must be a path on this site or an https:, mailto: or tel: URL", l.URL)
		}
	}
	h.support = &l
	return nil
}

// checkCookies checks the names of the layer's cookies.
func (h *Handler) checkCookies() error {
	names := []string{h.pendingName, h.stepUpName, h.enrollName, h.codesName()}
	for i, name := range names {
		if err := (&http.Cookie{Name: name, Value: "x"}).Valid(); err != nil || strings.HasPrefix(name, "__Host-") {
			return configErr("cookie name %q is not valid (and cannot take the __Host- prefix: the pending cookie is scoped to Prefix)", name)
		}
		for _, other := range names[:i] {
			if other == name {
				return configErr("Config.PendingCookie, Config.StepUpCookie and Config.EnrollCookie (and it with \"_codes\") must differ")
			}
		}
	}
	return nil
}

// setNetwork takes the proxies and the trusted origins.
func (h *Handler) setNetwork(cfg Config) error {
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return configErr("Config.TrustedProxies[%d] is not a valid prefix", i)
		}
		h.proxies = append(h.proxies, p.Masked())
	}
	for _, o := range cfg.TrustedOrigins {
		if err := h.cop.AddTrustedOrigin(o); err != nil {
			return configErr("Config.TrustedOrigins: %v", err)
		}
	}
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, errCrossOrigin)
	}))
	return nil
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: twofactorhttp: %s", twofactor.ErrConfig, fmt.Sprintf(format, args...))
}

// Prefix returns the path the Handler is mounted at.
func (h *Handler) Prefix() string { return h.prefix }

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
