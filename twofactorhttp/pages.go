package twofactorhttp

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor"
)

//go:embed templates/*.html assets/*
var embedded embed.FS

// Pages, by template file name without ".html". Each is parsed with
// layout.html, which must define "layout" and call {{template "content" .}};
// each page defines "content".
const (
	PageChallenge = "challenge" // the second step: a method's form, the other methods, cancel
	PageEnded     = "ended"     // the challenge is over (410): a link to sign in again
	PageMessage   = "message"   // a message alone (an error, the step-up interstitial), maybe a link or a form
	PageLocked    = "locked"    // too many wrong answers: when it lifts, what works meanwhile, the way back, help
	// PageEnrollPrompt asks a user in an enrollment grace to set up a
	// second factor now, or to skip for now: PageData.Prompt.
	PageEnrollPrompt = "enroll_prompt"
	// PagePasskeyOffer offers a user who signed in with a password and a
	// second factor to create a passkey.
	PagePasskeyOffer = "passkey_offer"
)

var pageNames = append([]string{PageChallenge, PageEnded, PageMessage, PageLocked, PageEnrollPrompt, PagePasskeyOffer}, append(settingsPages, adminPages...)...)

type pages map[string]*template.Template

// setPages parses the pages, the embedded ones and those of
// Config.Templates, with the pages the method UIs name, and renders each
// with sample data: a page that fails, or a layout that leaves the page's
// content out, is a configuration error now rather than a broken page
// later.
func (h *Handler) setPages(override fs.FS) error {
	names := slices.Clone(pageNames)
	for _, ui := range h.ui.byMethod {
		if !slices.Contains(names, ui.page) {
			names = append(names, ui.page)
		}
	}
	var err error
	if h.pages, err = parsePages(override, names); err != nil {
		return err
	}
	for _, name := range names {
		if err := h.checkPage(name); err != nil {
			return err
		}
	}
	return nil
}

// parsePages parses the embedded templates, each file replaced by the one
// of the same name in override when it has one. Every page is parsed with
// layout.html and parts.html, which defines what several pages share.
func parsePages(override fs.FS, names []string) (pages, error) {
	read := func(name string) ([]byte, error) {
		if override != nil {
			b, err := fs.ReadFile(override, name)
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, configErr("Config.Templates: reading %s: %v", name, err)
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		if err != nil {
			return nil, configErr("page %s: no such file in Config.Templates or the embedded pages", name)
		}
		return b, nil
	}
	layout, err := read("layout.html")
	if err != nil {
		return nil, err
	}
	parts, err := read("parts.html")
	if err != nil {
		return nil, err
	}
	out := make(pages, len(names))
	for _, p := range names {
		src, err := read(p + ".html")
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Parse(string(layout))
		if err == nil {
			_, err = t.New("parts").Parse(string(parts))
		}
		if err == nil {
			_, err = t.New(p).Parse(string(src))
		}
		if err != nil {
			return nil, configErr("Config.Templates: %s.html: %v", p, err)
		}
		if t.Lookup("content") == nil {
			return nil, configErr("Config.Templates: %s.html must define \"content\"", p)
		}
		if t.Lookup("layout") == nil {
			return nil, configErr("Config.Templates: layout.html must define \"layout\"")
		}
		out[p] = t
	}
	return out, nil
}

// checkPage renders page with sample data, and checks that the layout
// holds the page's content.
func (h *Handler) checkPage(page string) error {
	d := h.samplePage(h.langs.first, page)
	var content, whole bytes.Buffer
	t := h.pages[page]
	if err := t.ExecuteTemplate(&content, "content", d); err != nil {
		return configErr("page %s.html does not render: %v", page, err)
	}
	if err := t.ExecuteTemplate(&whole, "layout", d); err != nil {
		return configErr("page %s.html does not render in layout.html: %v", page, err)
	}
	if c := bytes.TrimSpace(content.Bytes()); !bytes.Contains(whole.Bytes(), c) {
		return configErr("layout.html leaves out the content of %s.html: call {{template \"content\" .}} in \"layout\"", page)
	}
	return nil
}

// PageData is what every page template receives. Fields a page does not
// use are zero. Templates are html/template: every value is escaped for
// where it appears.
type PageData struct {
	Page   string   // PageChallenge, PageEnded, PageMessage, or a settings or administrator page
	Title  string   // the page's title and heading
	T      *Strings // every text, for the template to pick from
	Prefix string   // the handler's prefix, for asset and form URLs ("/2fa/")
	Status int      // the HTTP status of the answer

	// Who is signed in, for the host's layout (its navigation) on every
	// page, the challenge and error pages included. SignedIn is set when
	// Config.UserID names a signed-in user; User is that user when the
	// Service's Users knows the id (nil before a sign-in completes, and
	// for an id it does not know). Host is what Config.Layout returned for
	// the request, or nil.
	SignedIn bool
	User     *twofactor.User
	Host     any
	// SteppedUp is set on the settings pages when the signed-in user holds
	// a fresh step-up: a change that needs one goes through without
	// asking again.
	SteppedUp bool
	// Support is Config.Support, when set: the line that tells people
	// where to get help, shown on the lockout, ended and message pages.
	Support *Link

	// Error is the message of a refused request (a wrong code, a wait), or
	// nil.
	Error *ErrorView

	// The challenge page.
	Purpose  twofactor.Purpose // login or step_up
	Intro    string            // the first paragraph
	Methods  []MethodView      // the methods offered, last used first; backup codes apart
	Backup   *MethodView       // the backup-code method, when offered
	Active   *MethodView       // the method whose form is shown
	Sent     *SentView         // the last code sent for Active, or nil
	Trust    *TrustView        // the "trust this device" checkbox, or nil when not offered
	WebAuthn bool              // a security key is offered: load the WebAuthn script
	Verify   string            // the code form's action
	Send     string            // the send form's action
	Cancel   string            // the cancel form's action

	// The ended, message and lockout pages.
	Message string // the message
	Link    *Link  // where to go from here, or nil
	Form    *Form  // a form with one button (step-up), or nil
	// Locked is the lockout page's view (PageLocked), or nil. Its way back
	// is Form (ending the pending challenge) or Link.
	Locked *LockedView
	// Prompt is the enrollment prompt's view (PageEnrollPrompt), or nil.
	Prompt *PromptView
	// Offer is the passkey offer's view (PagePasskeyOffer), or nil.
	Offer *OfferView

	// Settings is what the settings pages show (nil on other pages).
	Settings *SettingsView
	// Admin is what the administrator pages show (nil on other pages).
	Admin *AdminView
}

// MethodView is one method on the challenge page.
type MethodView struct {
	Method twofactor.Method
	MethodText
	URL      string // the challenge page showing this method
	Active   bool   // this is the method shown
	Sends    bool   // a code is sent (email, SMS): show the send button
	WebAuthn bool   // answered in the browser by the security-key script (SecurityKeyUI)
	Numeric  bool   // the code is digits: numeric keyboard
	Length   int    // the code's length, 0 when unknown: the script submits at this length
	WebOTP   bool   // the code comes by SMS: the browser may fill it in (WebOTP)
}

// SentView describes the last code sent.
type SentView struct {
	Text     string // "We sent a code to j***@example.com."
	ResendIn int    // seconds until a new code may be asked for; 0: now
	Wait     string // "You can ask for a new code in 42 seconds.", or ""
}

// TrustView is the "trust this device" checkbox.
type TrustView struct {
	Label   string // "Trust this device for 30 days"
	Checked bool   // ticked in the request being answered
}

// ErrorView is a refused request's message.
type ErrorView struct {
	Code       string // the JSON error code
	Message    string
	RetryAfter int // seconds, for limits
}

// LockedView is the lockout page: too many wrong answers in a row lock
// every method of the user, backup codes included, until Until.
type LockedView struct {
	// Until is when the lockout lifts; Clock is its time of day in words
	// (Strings.ClockTime, in UTC), which the script rewrites in the
	// browser's time zone. Before and After are the text of
	// Strings.LockedAt around it: {{.Before}}<time>{{.Clock}}</time>{{.After}}.
	Until         time.Time
	Clock         string
	Before, After string
	All           string // nothing else works meanwhile (Strings.LockedAll)
	NotYou        string // on a sign-in, what to do when it was not them; "" on a step-up
	Purpose       twofactor.Purpose
}

// Link is a link.
type Link struct{ URL, Text string }

// Form is a form posting one hidden return path.
type Form struct {
	Action string
	Next   string
	Back   string // the page a step-up was asked from, posted as "back", or ""
	Button string
	Cancel *Link
}

// render executes a page into a buffer first, so a template error is a
// clean 500 instead of half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d *PageData) {
	d.T, d.Prefix, d.Status, d.Support = h.tr(r), h.prefix, status, h.support
	h.layoutData(r, d)
	var buf bytes.Buffer
	if err := h.pages[d.Page].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: rendering page",
			slog.String("page", d.Page), slog.String("error", err.Error()))
		securityHeaders(w)
		http.Error(w, h.tr(r).Internal, http.StatusInternalServerError)
		return
	}
	securityHeaders(w)
	w.Header()["Content-Type"] = hdrHTML
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// layoutData fills what the host's layout needs on every page: who is
// signed in, and Config.Layout's data. A failure to look the user up
// leaves User nil: the page still renders, with SignedIn set.
func (h *Handler) layoutData(r *http.Request, d *PageData) {
	if id, ok := h.sessionID(r); ok {
		d.SignedIn = true
		if u, err := h.lookupUser(r, id); err == nil {
			d.User = &u
			if d.Settings != nil {
				_, err := h.freshProof(r, u)
				d.SteppedUp = err == nil
			}
		}
	}
	if h.layout != nil {
		d.Host = h.layout(r)
	}
}

var (
	styleCSS = mustAsset("assets/style.css")
	scriptJS = mustAsset("assets/twofactor.js")
)

func serveStyle(w http.ResponseWriter, r *http.Request) {
	writeAsset(w, r, styleCSS, "text/css; charset=utf-8")
}

func serveScript(w http.ResponseWriter, r *http.Request) {
	writeAsset(w, r, scriptJS, "text/javascript; charset=utf-8")
}

func writeAsset(w http.ResponseWriter, r *http.Request, b []byte, contentType string) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// serveWebAuthnScript serves the security-key script. Its login buttons
// post to <prefix>webauthn/login/begin and <prefix>webauthn/login/finish,
// which the Handler answers through Service.Start and Service.Verify.
func serveWebAuthnScript(w http.ResponseWriter, r *http.Request) {
	writeAsset(w, r, webauthnScript, "text/javascript; charset=utf-8")
}

var webauthnScript = mustAsset("assets/webauthn.js")

func mustAsset(name string) []byte {
	b, err := embedded.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}
