package twofactortest

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// Host describes the app under test: what Run needs to drive it as its
// users, and an attacker, would. Handler, Service, AddUser and SignedIn
// are required; every other zero field takes the default its
// documentation gives, or turns off the part of a check that needs it
// (which the check then logs).
type Host struct {
	// Handler is the whole app as it serves requests in production: the
	// host's own routes and the twofactorhttp layer on the same mux,
	// behind the same middleware (cross-origin protection, a proxy's
	// client address). Run calls it directly, without a network.
	Handler http.Handler

	// Service is the app's Service (twofactorhttp.Handler.Service), or
	// another one on the same store and keys. Run enrolls the test users'
	// factors through it (BeginEnroll, ConfirmEnroll), and reads what only
	// it knows: a challenge's client address, a user's lockout and trusted
	// devices. The Service needs the totp and backupcodes factors.
	Service *twofactor.Service

	// AddUser adds a user to the host's user table: u.ID is the user's id
	// for the Service (twofactor.Config.Users must then know it, with
	// u.Email as its address) and what LoginForm types as the user name.
	// Run calls it from one goroutine, never while a request of Run is
	// being served.
	AddUser func(u User) error

	// SignedIn returns the id of the signed-in user of a request, as the
	// host's sessions see it: the function given as
	// twofactorhttp.Config.UserID.
	SignedIn func(r *http.Request) (userID string, ok bool)

	// Code returns the newest one-time code sent to an email address or an
	// E.164 phone number: from the app's development outbox or a test
	// sender. Nil: the email and SMS parts of the checks are skipped.
	Code func(to string) (code string, ok bool)

	// LoginPath is the host's password form, posted with LoginForm; after
	// the right password it calls twofactorhttp.Handler.Begin. Empty
	// means "/login".
	LoginPath string
	// LoginForm returns the fields of the password form for u. Nil means
	// user=<u.ID>&password=<u.Password>.
	LoginForm func(u User) url.Values
	// LogoutPath is the host's logout, posted with an empty form. Empty
	// means "/logout".
	LogoutPath string
	// Protected are pages (GET paths) only a signed-in user sees: a
	// signed-out browser gets another answer than 2xx (a redirect to the
	// login page, 401, 403). Empty means "/".
	Protected []string

	// Prefix is twofactorhttp.Config.Prefix. Empty means "/2fa/".
	Prefix string
	// AdminPrefix is twofactorhttp.Config.Admin.Prefix when the host
	// mounts the administrator pages; AddUser must then make a User with
	// Admin set an administrator. Empty: no administrator pages.
	AdminPrefix string
	// PendingCookie and StepUpCookie are twofactorhttp.Config's. Empty
	// means the defaults, "tf_pending" and "tf_stepup".
	PendingCookie, StepUpCookie string

	// StepUpRoutes are the host's own routes behind
	// twofactorhttp.Handler.StepUp, as "METHOD /path" ("POST
	// /account/delete"): a signed-in user without a fresh step-up must be
	// refused by each.
	StepUpRoutes []string
	// UnsafeRoutes are the host's other routes that change something, as
	// "METHOD /path". With the login, logout and step-up routes and every
	// unsafe route of the layer, each must refuse a cross-origin request.
	UnsafeRoutes []string
	// SignInRoutes are routes of the host that finish a sign-in of their
	// own (an OAuth callback, a "continue" page), as "METHOD /path": after
	// the password alone, none may sign the user in. A few usual callback
	// paths are tried as well.
	SignInRoutes []string

	// TrustedProxy is the address of a reverse proxy whose forwarding
	// header the host believes (trust.Config.TrustedProxies or
	// twofactorhttp.Config.TrustedProxies). The zero Addr means none:
	// X-Forwarded-For must then be ignored from everyone. Run's own
	// browsers come from 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24
	// (addresses for documentation), which no proxy setting may trust.
	TrustedProxy netip.Addr

	// ChangePassword runs the host's own password change (or reset) for a
	// user, which must call Service.PasswordChanged. Nil: Run calls
	// Service.PasswordChanged itself, and checks only what follows.
	ChangePassword func(ctx context.Context, userID, newPassword string) error

	// Advance moves forward by d the clock the host gave
	// twofactor.Config.Now (and its store), for the checks that need a
	// code or a step-up to grow old: storetest.Clock's Advance. Nil: those
	// parts are skipped.
	Advance func(d time.Duration)
}

// User is a test user Run asks the host to add (Host.AddUser).
type User struct {
	// ID is the user's id, also the name typed in the login form. It is
	// "tft-" and a random run id, then a number and a word.
	ID string
	// Password is the user's password.
	Password string
	// Email is the user's address, at example.com, or empty for a user
	// without one (no email codes).
	Email string
	// Admin makes the user an administrator of the administrator pages.
	Admin bool
}

// route is one "METHOD /path" of the description.
type route struct{ method, path string }

func (r route) String() string { return r.method + " " + r.path }

// parseRoutes reads the routes of a field of Host, adding what is wrong
// with them to problems.
func parseRoutes(problems *[]string, field string, rs []string) []route {
	var out []route
	for _, s := range rs {
		m, p, ok := strings.Cut(strings.TrimSpace(s), " ")
		p = strings.TrimSpace(p)
		if !ok || m == "" || m != strings.ToUpper(m) || !strings.HasPrefix(p, "/") {
			*problems = append(*problems, fmt.Sprintf("Host.%s: %q is not \"METHOD /path\", like \"POST /account/delete\"", field, s))
			continue
		}
		out = append(out, route{m, p})
	}
	return out
}

// desc is a Host with its defaults applied and its routes parsed.
type desc struct {
	Host
	stepUp, unsafe, signIn []route
}

func (h Host) withDefaults() (*desc, error) {
	var errs []string
	if h.Handler == nil {
		errs = append(errs, "Host.Handler is nil: give the app's http.Handler, with its middleware")
	}
	if h.Service == nil {
		errs = append(errs, "Host.Service is nil: give the app's *twofactor.Service (twofactorhttp.Handler.Service())")
	}
	if h.AddUser == nil {
		errs = append(errs, "Host.AddUser is nil: give a function that adds a user to the app's user table")
	}
	if h.SignedIn == nil {
		errs = append(errs, "Host.SignedIn is nil: give the function the app gave twofactorhttp.Config.UserID")
	}
	d := &desc{Host: h}
	d.LoginPath = cmp.Or(h.LoginPath, "/login")
	d.LogoutPath = cmp.Or(h.LogoutPath, "/logout")
	d.Prefix = cmp.Or(h.Prefix, twofactorhttp.DefaultPrefix)
	d.PendingCookie = cmp.Or(h.PendingCookie, twofactorhttp.DefaultPendingCookie)
	d.StepUpCookie = cmp.Or(h.StepUpCookie, twofactorhttp.DefaultStepUpCookie)
	if len(h.Protected) == 0 {
		d.Protected = []string{"/"}
	}
	if d.LoginForm == nil {
		d.LoginForm = func(u User) url.Values { return url.Values{"user": {u.ID}, "password": {u.Password}} }
	}
	for _, f := range [][2]string{{"LoginPath", d.LoginPath}, {"LogoutPath", d.LogoutPath}, {"Prefix", d.Prefix}} {
		if !strings.HasPrefix(f[1], "/") {
			errs = append(errs, fmt.Sprintf("Host.%s %q must be a path that starts with \"/\"", f[0], f[1]))
		}
	}
	for _, p := range d.Protected {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Sprintf("Host.Protected: %q must be a path that starts with \"/\"", p))
		}
	}
	if !strings.HasSuffix(d.Prefix, "/") {
		errs = append(errs, fmt.Sprintf("Host.Prefix %q must end with \"/\", like \"/2fa/\"", d.Prefix))
	}
	if d.AdminPrefix != "" && (!strings.HasPrefix(d.AdminPrefix, "/") || !strings.HasSuffix(d.AdminPrefix, "/")) {
		errs = append(errs, fmt.Sprintf("Host.AdminPrefix %q must start and end with \"/\", like \"/admin/2fa/\"", d.AdminPrefix))
	}
	d.stepUp = parseRoutes(&errs, "StepUpRoutes", h.StepUpRoutes)
	d.unsafe = parseRoutes(&errs, "UnsafeRoutes", h.UnsafeRoutes)
	d.signIn = parseRoutes(&errs, "SignInRoutes", h.SignInRoutes)
	if h.TrustedProxy.IsValid() && ownNetwork(h.TrustedProxy) {
		errs = append(errs, fmt.Sprintf("Host.TrustedProxy %s is in a network the kit's own browsers come from: give the address of the proxy in front of the app", h.TrustedProxy))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("twofactortest: %s", strings.Join(errs, "\n\t"))
	}
	return d, nil
}
