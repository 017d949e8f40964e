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
	"slices"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
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
	langs      *languages
	origin     string
	users      *users
	sessions   *sessions
	svc        *twofactor.Service
	totp       *totp.Factor   // the Service's, for the seeding and the tests
	devices    *trust.Manager // the Service's trusted devices
	notify     notify.Config  // the security emails, for the settings overview
	tf         *twofactorhttp.Handler
	mux        *http.ServeMux
	mailOutbox *emailcode.Outbox
	smsOutbox  *smscode.Outbox
	log        *slog.Logger
	level      *slog.LevelVar // the log's level: start-up's until serving
	logLevel   slog.Level     // the log's level once serving
	now        func() time.Time
	storeInfo  string
	keysInfo   string
	mailInfo   string
	smsInfo    string
}

// newApp builds the app: its users, where mail and SMS go, the Service
// with the store, the keys and every factor, and the HTTP layer over it.
func newApp(cfg *config, origin string, logw io.Writer) (*app, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	level := new(slog.LevelVar)
	level.Set(startLevel(cfg.logLevel))
	a := &app{origin: origin, log: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level})), mux: http.NewServeMux(),
		level: level, logLevel: cfg.logLevel, now: now,
		mailOutbox: &emailcode.Outbox{Now: now}, smsOutbox: &smscode.Outbox{Now: now},
		mailInfo: "kept in the outbox", smsInfo: "kept in the outbox"}
	if a.users, err = newUsers(demoAccounts()); err != nil {
		return nil, err
	}
	if err := a.addLoadUsers(cfg.loadUsers); err != nil {
		return nil, err
	}
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
	if err := a.wire(u, cfg, mail, sms); err != nil {
		return nil, err
	}
	return a, nil
}

// wire builds the whole of two-factor authentication in one twofactor.New
// (the store, the keys, every factor, trusted devices, security emails
// and the users), then the HTTP layer on the app's mux.
func (a *app) wire(origin *url.URL, cfg *config, mail emailcode.Sender, sms smscode.Sender) error {
	db := &storeOpener{dsn: cfg.db, prefix: cfg.prefix, dataDir: cfg.dataDir, now: cfg.now}
	keys, keysInfo := keySource(cfg.dataDir)
	a.notify = notify.Config{
		Sender:      mail,
		ProductName: product,
		Links:       notify.Links{Security: a.origin + "/2fa/settings/", Devices: a.origin + "/2fa/settings/devices"},
		Grace:       notifyGrace(cfg.grace),
	}
	var err error
	meters, err := a.metrics(cfg.metrics)
	if err != nil {
		return err
	}
	// A passkey that verified its user signs in on its own; with
	// -passkey-first-factor it stands for the password only.
	passkeyRule := twofactor.PasskeyBothFactors
	if cfg.pkFirst {
		passkeyRule = twofactor.PasskeyFirstFactor
	}
	a.svc, err = twofactor.New(twofactor.Config{
		MeterProvider: meters,
		OpenStore:     db,
		Keys:          keys,
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: product},
			emailcode.Config{Sender: mail, ProductName: product},
			smscode.Config{Sender: sms, ProductName: product, WebOTPDomain: origin.Hostname()},
			webauthn.Config{RPID: origin.Hostname(), RPDisplayName: product, RPOrigins: []string{a.origin}},
			backupcodes.Config{},
		},
		Trust:     trust.Config{Duration: trust.Month, TrustedProxies: cfg.proxies, ProxyHeader: cfg.header},
		Listeners: []twofactor.ListenerConfig{a.notify},
		Users:     a.user,
		// Administrators must have two-step verification; staff too,
		// after a week's grace from their first prompt; everyone else
		// may turn it on.
		Policy: twofactor.Policy{Passkey: passkeyRule},
		Policies: map[string]twofactor.Policy{
			"admin": {Required: true, Passkey: passkeyRule},
			"staff": {Required: true, Grace: twofactor.Grace{Days: 7}, Passkey: passkeyRule},
		},
		PolicyFor: a.policyFor,
		Events:    &event.Sink{Logger: a.log},
		Now:       cfg.now,
	})
	if err != nil {
		return err
	}
	a.storeInfo, a.keysInfo = db.info, keysInfo()
	f, _ := a.svc.Factor(twofactor.MethodTOTP)
	a.totp = f.(*totp.Factor)
	a.devices = a.svc.Trust().(*trust.Manager)
	a.sessions = &sessions{keys: a.svc.Env().Keys, users: a.users, secure: origin.Scheme == "https"}
	a.routes()
	if a.langs, err = newLanguages(); err != nil {
		return err
	}
	a.tf, err = twofactorhttp.New(twofactorhttp.Config{
		Languages:     a.langs.cat,
		PasskeyOffer:  twofactorhttp.PasskeyOffer{Off: cfg.noOffer},
		Service:       a.svc,
		Mux:           a.mux,
		SignIn:        a.sessions.start,
		UserID:        a.sessions.userID,
		Notifications: a.notifications,
		EnrollURL:     "/2fa/settings/",
		Templates:     libraryTemplates,
		Layout:        a.layout,
		Support:       twofactorhttp.Link{Text: "Locked out or lost your phone? Contact Acme support.", URL: "mailto:support@example.com"},
		Admin: twofactorhttp.AdminConfig{
			Prefix: adminPrefix,
			Guard:  a.requireAdmin,
			Actor:  a.actor,
			Users:  a.list,
		},
		Logger: a.log,
	})
	if err != nil {
		a.close(context.Background())
		return err
	}
	// The home page is the app: a user whose policy requires two-step
	// verification reaches it once they have it, or, during staff's
	// week of grace, once they skipped the prompt.
	a.mux.Handle("GET /{$}", a.tf.Enforce().Handler(http.HandlerFunc(a.home)))
	return nil
}

// layout is twofactorhttp.Config.Layout: the signed-in account, for the
// bar of the library's pages (its Admin link), or nil.
func (a *app) layout(r *http.Request) any {
	v := layoutView{Nav: a.langs.navFor(r)}
	if acct, ok := a.sessions.account(r); ok {
		v.Account = acct
	}
	return v
}

// layoutView is what the bar of the library's pages shows.
type layoutView struct {
	Account *account // nil before the sign-in completes
	Nav     *nav     // the bar's words in the page's language
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

// close sends the security emails still queued, within ctx, and closes
// the store.
func (a *app) close(ctx context.Context) {
	if err := a.svc.Shutdown(ctx); err != nil {
		a.log.Warn("webapp: shutting down two-factor authentication", "error", err.Error())
	}
}

// user is twofactor.Config.Users: the user with an id, for the security
// emails, the settings and the administrator pages.
func (a *app) user(_ context.Context, id string) (twofactor.User, error) {
	acct, ok := a.users.find(id)
	if !ok {
		return twofactor.User{}, fmt.Errorf("%w: webapp: no user %q", twofactor.ErrUnknownUser, id)
	}
	return acct.user(), nil
}

// policyFor is twofactor.Config.PolicyFor: the policy of each account
// follows its role, read from the user table at every request.
func (a *app) policyFor(_ context.Context, u twofactor.User) (string, error) {
	acct, ok := a.users.find(u.ID)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: webapp: no user %q", twofactor.ErrUnknownUser, u.ID)
	case acct.Admin:
		return "admin", nil
	}
	return acct.Role, nil
}

// routes are the app's own routes; twofactorhttp.New mounts its own
// beside them on the same mux.
func (a *app) routes() {
	a.mux.Handle("GET /static/", serveStatic)
	a.mux.HandleFunc("GET /login", a.loginPage)
	a.mux.HandleFunc("POST /login", a.login)
	a.mux.HandleFunc("POST /logout", a.logout)
	a.mux.HandleFunc("GET /outbox", a.outbox)
}

// handler is the app's routes and the library's, refusing cross-origin
// POSTs.
func (a *app) handler() http.Handler {
	return http.NewCrossOriginProtection().Handler(a.mux)
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
	a.tf.Begin(w, r, acct.ID)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.sessions.end(w)
	a.tf.SignOut(w, r)
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

// outbox is the development outbox: every email and SMS kept instead of
// sent, newest first, with the code each holds.
func (a *app) outbox(w http.ResponseWriter, r *http.Request) {
	d := &pageData{Title: "Outbox", Account: a.signedIn(r)}
	now := a.now()
	for _, m := range a.mailOutbox.Messages() {
		d.Messages = append(d.Messages, message{Kind: "Email", Time: m.Time, Sent: sentAt{m.Time, now},
			To: m.To, Subject: m.Subject, Body: m.Text, Code: sixDigits.FindString(m.Text)})
	}
	for _, m := range a.smsOutbox.Messages() {
		d.Messages = append(d.Messages, message{Kind: "SMS", Time: m.Time, Sent: sentAt{m.Time, now},
			To: m.To, Body: m.Body, Code: sixDigits.FindString(m.Body)})
	}
	// Newest first; of messages sent at the same instant, the later kept.
	slices.Reverse(d.Messages)
	slices.SortStableFunc(d.Messages, func(x, y message) int { return y.Time.Compare(x.Time) })
	a.render(w, r, http.StatusOK, "outbox", d)
}

// sentAt is when an outbox message was sent, as the outbox shows it, in
// the machine's time zone: the app and the person reading its outbox are
// on one machine.
type sentAt struct {
	When time.Time // the message's time
	Now  time.Time // the page's
}

// Datetime is the time for a <time datetime> attribute: RFC 3339, UTC.
func (s sentAt) Datetime() string { return s.When.UTC().Format(time.RFC3339) }

// Title is the whole date and time, with the zone, for a tooltip.
func (s sentAt) Title() string { return s.When.Local().Format("Monday 2 January 2006, 15:04:05 MST") }

// Text is the time as a person reads it at a glance: the time of day
// with how long ago for today's messages, "yesterday" or the date before
// it for older ones, and the year only when it is not this year's.
func (s sentAt) Text() string {
	when, now := s.When.Local(), s.Now.Local()
	clock := when.Format("15:04:05")
	wy, wm, wd := when.Date()
	ny, nm, nd := now.Date()
	switch yy, ym, yd := now.AddDate(0, 0, -1).Date(); {
	case wy == ny && wm == nm && wd == nd:
		if ago := agoText(now.Sub(when)); ago != "" {
			return clock + " (" + ago + ")"
		}
		return clock
	case wy == yy && wm == ym && wd == yd:
		return "yesterday, " + clock
	case wy == ny:
		return when.Format("2 Jan, ") + clock
	default:
		return when.Format("2 Jan 2006, ") + clock
	}
}

// agoText says how long ago d was in words, in whole minutes or hours;
// "" for a time ahead of now.
func agoText(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	default:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
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

// banner is what the app prints once it listens on lns, its data in
// dataDir: where to open it and the demo logins first, then where its
// codes, data and keys are.
func (a *app) banner(w io.Writer, dataDir string, lns []net.Listener) {
	fmt.Fprintf(w, "%s is running at %s (Ctrl-C stops it)\n\nDemo logins (user / password):\n", product, a.origin)
	width := 0
	for _, acct := range demoAccountsOf(a.users) {
		width = max(width, len(acct.Login))
	}
	for _, acct := range demoAccountsOf(a.users) {
		fmt.Fprintf(w, "  %-*s / %-10s %s\n", width, acct.Login, acct.Password, acct.About)
	}
	fmt.Fprintf(w, "\nEmail and SMS codes: %s/outbox\nData: %s\nStore: %s\nKeys: %s\nEmail: %s\nSMS: %s\n\n",
		a.origin, dataDir, a.storeInfo, a.keysInfo, a.mailInfo, a.smsInfo)
	for _, ln := range lns {
		if ip, ok := ln.Addr().(*net.TCPAddr); ok && !ip.IP.IsLoopback() {
			fmt.Fprintf(w, "WARNING: listening on %s, beyond this machine: anyone who reaches it can read the codes in /outbox\n"+
				"and sign in with the demo logins. It is a demo: keep it on localhost, or behind your own access control.\n\n", ln.Addr())
		}
	}
}

// startLevel is the least level logged while the app starts: its routine
// events (the demo users' enrollments) only at debug, so that the
// start-up message is what a person reads first.
func startLevel(l slog.Level) slog.Level {
	if l <= slog.LevelDebug {
		return l
	}
	return max(l, slog.LevelWarn)
}

// serving logs at the level asked for, now that the app serves.
func (a *app) serving() { a.level.Set(a.logLevel) }

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
func (a *app) notifications(r *http.Request) []string { return a.notify.EnabledNames(r.Context()) }
