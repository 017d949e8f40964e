package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/notify"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"github.com/twofactorkit/twofactor/webauthn"
)

// product is the app's name, in pages, messages and authenticator apps.
const product = "Acme"

// app is the example product: its users and sessions, and two-factor
// authentication wired in one place (newApp).
type app struct {
	origin     string
	users      *users
	sessions   *sessions
	keys       *twofactor.Keyring
	svc        *twofactor.Service
	totp       *totp.Factor
	backup     *backupcodes.Factor
	devices    *trust.Manager
	notifier   *notify.Notifier
	tf         *twofactorhttp.Handler
	mailOutbox *emailcode.Outbox
	smsOutbox  *smscode.Outbox
	log        *slog.Logger
	closeStore func()
	storeInfo  string
	keysInfo   string
	mailInfo   string
	smsInfo    string
}

// newApp opens the store and keys and builds the Service with every
// factor, and the HTTP layer over it.
func newApp(ctx context.Context, cfg *config, origin string, logw io.Writer) (*app, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	a := &app{origin: origin, log: slog.New(slog.NewTextHandler(logw, nil)),
		mailOutbox: &emailcode.Outbox{}, smsOutbox: &smscode.Outbox{},
		mailInfo: "kept in the outbox", smsInfo: "kept in the outbox"}
	if a.users, err = newUsers(demoAccounts()); err != nil {
		return nil, err
	}
	if a.keys, a.keysInfo, err = loadKeys(cfg.dataDir); err != nil {
		return nil, err
	}
	a.sessions = &sessions{keys: a.keys, users: a.users, secure: u.Scheme == "https"}
	mail := &mailSender{outbox: a.mailOutbox}
	if cfg.smtp != "" {
		if mail.smtp, err = newSMTP(cfg.smtp, cfg.mailFrom); err != nil {
			return nil, err
		}
		if su, err := url.Parse(cfg.smtp); err == nil {
			a.mailInfo = "sent through " + su.Redacted() + " (example.com: kept in the outbox)"
		}
	}
	sms := &smsSender{outbox: a.smsOutbox}
	if cfg.smsURL != "" {
		if sms.gateway, err = newGateway(cfg.smsURL, cfg.smsAuth, cfg.smsFrom); err != nil {
			return nil, err
		}
		a.smsInfo = "sent through the gateway (555-01xx numbers: kept in the outbox)"
	}

	st, storeInfo, closeStore, err := openStore(ctx, cfg.db, cfg.prefix, cfg.dataDir)
	if err != nil {
		return nil, err
	}
	a.storeInfo, a.closeStore = storeInfo, closeStore
	if err := a.wire(st, u, cfg, mail, sms); err != nil {
		a.close(ctx)
		return nil, err
	}
	return a, nil
}

// wire builds the Service with every factor, security notifications by
// email, and the HTTP layer.
func (a *app) wire(st twofactor.Store, origin *url.URL, cfg *config, mail emailcode.Sender, sms smscode.Sender) error {
	var err error
	a.notifier, err = notify.New(notify.Config{
		Sender:      mail,
		Users:       a.user,
		Store:       st,
		ProductName: product,
		Links:       notify.Links{Security: a.origin + "/2fa/settings/", Devices: a.origin + "/2fa/settings/devices"},
		Grace:       notifyGrace(cfg.grace),
	})
	if err != nil {
		return err
	}
	events := a.notifier.Events(&twofactor.Events{Logger: a.log})
	if a.totp, err = totp.New(totp.Config{Issuer: product}); err != nil {
		return err
	}
	email, err := emailcode.New(emailcode.Config{Sender: mail, ProductName: product})
	if err != nil {
		return err
	}
	phone, err := smscode.New(smscode.Config{Sender: sms, ProductName: product, WebOTPDomain: origin.Hostname()})
	if err != nil {
		return err
	}
	if a.backup, err = backupcodes.New(backupcodes.Config{}); err != nil {
		return err
	}
	keys, err := webauthn.New(webauthn.Config{RPID: origin.Hostname(), RPDisplayName: product, RPOrigins: []string{a.origin}})
	if err != nil {
		return err
	}
	if a.devices, err = trust.New(trust.Config{Duration: trust.Month, TrustedProxies: cfg.proxies, ProxyHeader: cfg.header}); err != nil {
		return err
	}
	a.svc, err = twofactor.New(twofactor.Config{
		Store:   st,
		Keys:    a.keys,
		Factors: []twofactor.Factor{a.totp, email, phone, keys, a.backup},
		Trust:   a.devices,
		Events:  events,
	})
	if err != nil {
		return err
	}
	a.notifier.Attach(a.svc)
	a.tf, err = twofactorhttp.New(twofactorhttp.Config{
		Service: a.svc,
		SignIn: func(w http.ResponseWriter, r *http.Request, res *twofactor.Result) error {
			return a.sessions.start(w, res.User.ID)
		},
		User:          a.sessions.user,
		Notifications: a.notifications,
		EnrollURL:     "/2fa/settings/",
		Templates:     libraryTemplates,
		Admin: twofactorhttp.AdminConfig{
			Prefix: adminPrefix,
			Actor:  a.actor,
			User:   a.lookup,
			Users:  a.list,
		},
		Logger: a.log,
	})
	return err
}

// adminPrefix is where the administrator pages are mounted.
const adminPrefix = "/admin/2fa/"

// actor names the administrator of a request, for the audit events.
func (a *app) actor(r *http.Request) string {
	if acct, ok := a.sessions.account(r); ok && acct.Admin {
		return "admin:" + acct.Login
	}
	return ""
}

// lookup finds a user by id, for the administrator pages.
func (a *app) lookup(_ context.Context, id string) (twofactor.User, bool, error) {
	acct, ok := a.users.byID[id]
	if !ok {
		return twofactor.User{}, false, nil
	}
	return acct.user(), true, nil
}

// list is every user, for the policy page.
func (a *app) list(context.Context) iter.Seq2[twofactor.User, error] {
	return func(yield func(twofactor.User, error) bool) {
		for _, acct := range demoAccountsOf(a.users) {
			if !yield(acct.user(), nil) {
				return
			}
		}
	}
}

// requireAdmin lets administrators through: others are sent to sign in,
// or refused.
func (a *app) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct, ok := a.sessions.account(r)
		switch {
		case !ok:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case !acct.Admin:
			a.render(w, r, http.StatusForbidden, "error", &pageData{Title: "Administrators only", Account: acct,
				Error: "Only administrators can open this page."})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// close sends the notifications still queued, within ctx, and closes
// the store.
func (a *app) close(ctx context.Context) {
	if a.notifier != nil {
		if err := a.notifier.Shutdown(ctx); err != nil {
			a.log.Warn("webapp: notifications left unsent", "error", err.Error())
		}
	}
	if a.closeStore != nil {
		a.closeStore()
	}
}

// user looks a user up by id, for the notifications.
func (a *app) user(_ context.Context, id string) (twofactor.User, error) {
	acct, ok := a.users.byID[id]
	if !ok {
		return twofactor.User{}, fmt.Errorf("webapp: no user %q", id)
	}
	return acct.user(), nil
}

// handler is the app's routes.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(a.tf.Prefix(), notify.Middleware(a.tf)) // notifications name the browser
	mux.Handle(adminPrefix, a.requireAdmin(a.tf.Admin()))
	mux.Handle("GET /static/", serveStatic)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /outbox", a.outbox)
	mux.HandleFunc("GET /{$}", a.home)
	return http.NewCrossOriginProtection().Handler(mux)
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.sessions.account(r); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "login", &pageData{Title: "Sign in", Next: r.URL.Query().Get("next"), Accounts: demoAccountsOf(a.users)})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	acct, ok := a.users.check(r.FormValue("user"), r.FormValue("password"))
	if !ok {
		a.render(w, r, http.StatusUnauthorized, "login", &pageData{Title: "Sign in", Login: r.FormValue("user"),
			Next: r.FormValue("next"), Error: "Wrong user name or password.", Accounts: demoAccountsOf(a.users)})
		return
	}
	// The password is right: the second step, then sessions.start.
	a.tf.Begin(w, r, acct.user())
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.sessions.end(w)
	a.tf.ClearStepUp(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	acct, ok := a.sessions.account(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	u := acct.user()
	es, err := a.svc.Enrollments(r.Context(), u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	devs, err := a.devices.List(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "home", &pageData{Title: "Home", Account: acct, Enrollments: es, Devices: len(devs),
		Accounts: demoAccountsOf(a.users)})
}

func (a *app) outbox(w http.ResponseWriter, r *http.Request) {
	d := &pageData{Title: "Outbox", Account: a.signedIn(r)}
	mails := a.mailOutbox.Messages()
	for i := len(mails) - 1; i >= 0; i-- {
		m := mails[i]
		d.Messages = append(d.Messages, message{Kind: "Email", To: m.To, Subject: m.Subject, Body: m.Text, Code: sixDigits.FindString(m.Text)})
	}
	texts := a.smsOutbox.Messages()
	for i := len(texts) - 1; i >= 0; i-- {
		m := texts[i]
		d.Messages = append(d.Messages, message{Kind: "SMS", To: m.To, Body: m.Body, Code: sixDigits.FindString(m.Body)})
	}
	a.render(w, r, http.StatusOK, "outbox", d)
}

func (a *app) signedIn(r *http.Request) *account {
	acct, _ := a.sessions.account(r)
	return acct
}

// fail answers a request the store could not serve; the details go to
// the log only.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the browser left
	}
	a.log.LogAttrs(r.Context(), slog.LevelError, "webapp: request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	a.render(w, r, http.StatusInternalServerError, "error", &pageData{Title: "Error", Error: "Something went wrong. Try again.", Account: a.signedIn(r)})
}

// banner is what the app prints once it listens on addr.
func (a *app) banner(w io.Writer, addr net.Addr) {
	fmt.Fprintf(w, "%s is running at %s (Ctrl-C stops it)\n\nDemo logins (user / password):\n", product, a.origin)
	for _, acct := range demoAccountsOf(a.users) {
		fmt.Fprintf(w, "  %-6s/ %-10s %s\n", acct.Login, acct.Password, acct.About)
	}
	fmt.Fprintf(w, "\nEmail and SMS codes: %s/outbox\nStore: %s\nKeys: %s\nEmail: %s\nSMS: %s\n\n",
		a.origin, a.storeInfo, a.keysInfo, a.mailInfo, a.smsInfo)
	if ip, ok := addr.(*net.TCPAddr); ok && !ip.IP.IsLoopback() {
		fmt.Fprintf(w, "WARNING: listening on %s, beyond this machine: anyone who reaches it can read the codes in /outbox\n"+
			"and sign in with the demo logins. It is a demo: keep it on 127.0.0.1, or behind your own access control.\n\n", addr)
	}
}

// notifyGrace turns the -notify-grace flag into notify.Config.Grace, where
// zero means the default and NoGrace means none.
func notifyGrace(d time.Duration) time.Duration {
	if d == 0 {
		return notify.NoGrace
	}
	return d
}

// notifications names the security emails that are on, for the settings
// overview.
func (a *app) notifications(*http.Request) []string {
	var out []string
	for _, k := range notify.Kinds() {
		if a.notifier.On(k) {
			out = append(out, a.notifier.Strings().Kinds[k].Name)
		}
	}
	return out
}
