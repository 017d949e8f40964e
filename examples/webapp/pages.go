package main

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

//go:embed templates/*.html templates/twofactorhttp/*.html
var templateFS embed.FS

//go:embed static/*.css
var staticFS embed.FS

// libraryTemplates replaces pages of twofactorhttp (Config.Templates):
// its layout, with the app's bar above every page.
var libraryTemplates = func() fs.FS {
	sub, err := fs.Sub(templateFS, "templates/twofactorhttp")
	if err != nil {
		panic(err)
	}
	return sub
}()

var methodNames = map[twofactor.Method]string{
	twofactor.MethodTOTP:       "Authenticator app",
	twofactor.MethodEmail:      "Email codes",
	twofactor.MethodSMS:        "Text message (SMS)",
	twofactor.MethodWebAuthn:   "Security key",
	twofactor.MethodBackupCode: "Backup codes",
}

var funcs = template.FuncMap{
	"date":       func(t time.Time) string { return t.Local().Format("2 Jan 2006 15:04") },
	"methodName": methodName,
	// detail is what an enrollment's label adds to its method's name:
	// "a***@example.com", "9 left" for "Backup codes (9 left)", or "".
	"detail": func(m twofactor.Method, label string) string {
		rest, ok := strings.CutPrefix(label, methodName(m))
		if !ok {
			return label
		}
		return strings.Trim(rest, " ()")
	},
}

func methodName(m twofactor.Method) string {
	if n, ok := methodNames[m]; ok {
		return n
	}
	return string(m)
}

// templates holds each page parsed with the layout.
var templates = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "home", "outbox", "error"} {
		out[name] = template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

// pageData is what the app's pages show.
type pageData struct {
	Page    string // the template's name
	Title   string
	Account *account // the signed-in user, or nil
	Links   links
	Error   string

	// The login page.
	Login    string
	Next     string
	Accounts []*account

	// The home page.
	Enrollments []twofactor.Enrollment
	Devices     int

	// The outbox.
	Messages []message
}

// links are the library's pages the app mounts, "" for those it has not.
type links struct {
	Settings string
	Admin    string
}

// message is an email or SMS in the outbox.
type message struct {
	Kind                    string // "Email" or "SMS"
	Time                    time.Time
	Sent                    sentAt // Time, as the page shows it
	To, Subject, Body, Code string
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	d.Page, d.Links = name, a.links()
	var b bytes.Buffer
	if err := templates[name].ExecuteTemplate(&b, "layout", d); err != nil {
		a.log.Error("webapp: rendering "+name, "error", err.Error())
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// serveStatic serves the stylesheets.
var serveStatic = http.FileServerFS(staticFS)

// demoAccountsOf lists the accounts in the order they are introduced.
func demoAccountsOf(u *users) []*account {
	var out []*account
	for _, a := range demoAccounts() {
		acct, _ := u.named(a.Login)
		out = append(out, acct)
	}
	return out
}

// links returns the library's pages the app mounts.
func (a *app) links() links {
	return links{Settings: a.tf.Prefix() + "settings/", Admin: adminPrefix}
}
