package twofactorhttp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor"
)

// A method's settings page, the same for every method: its enrollments,
// its set-up (begin, then what Enrolling holds and a code field, then
// confirm), resend, rename. A set-up the user has begun is remembered in
// the enrollment cookie, so the page shows it again; its state is the
// factor's, in the store. The method's UI adds its own parts (the phone
// form, the security-key script).

// enrolling is what the enrollment cookie remembers of a set-up waiting
// for its code: which method, until when, and for a code sent, where it
// went (masked) and when a new one may be asked for; and what the set-up
// asked for (a phone number), for a resend. The cookie is sealed and
// bound to the user, and never shown.
type enrolling struct {
	Method      twofactor.Method `json:"m"`
	Expires     int64            `json:"e"`           // Unix seconds
	Destination string           `json:"d,omitempty"` // masked
	ResendAt    int64            `json:"r,omitempty"` // Unix milliseconds
	Request     string           `json:"n,omitempty"` // EnrollRequest.Destination (E.164 for a phone), for a resend
	Region      string           `json:"g,omitempty"` // EnrollRequest.Region
	Label       string           `json:"l,omitempty"` // EnrollRequest.Label
	// Held marks a set-up that sends a code, asked for before its
	// step-up and not begun: the method's page shows its form filled in
	// with Request, Region and Label, and sending stays the user's click.
	Held bool `json:"h,omitempty"`
}

func (h *Handler) enrollAD(name, userID string) []byte {
	return []byte("twofactorhttp enroll v1\x00" + name + "\x00" + userID)
}

func (h *Handler) codesName() string { return h.enrollName + "_codes" }

// readEnrolling returns the set-up of method m the request's cookie
// remembers for u, if any and unexpired.
func (h *Handler) readEnrolling(r *http.Request, u twofactor.User, m twofactor.Method) (*enrolling, bool) {
	var e enrolling
	if !h.openCookie(r, h.enrollName, u.ID, &e) || e.Method != m || !h.now().Before(time.Unix(e.Expires, 0)) {
		return nil, false
	}
	return &e, true
}

// setEnrolling remembers a set-up for u in the enrollment cookie, scoped
// to the settings pages.
func (h *Handler) setEnrolling(w http.ResponseWriter, r *http.Request, u twofactor.User, e *enrolling) {
	h.sealCookie(w, r, h.enrollName, u.ID, e, time.Unix(e.Expires, 0))
}

func (h *Handler) clearEnrolling(w http.ResponseWriter, r *http.Request) {
	h.dropCookie(w, r, h.enrollName)
}

// ---- JSON ----

// pendingOut is a set-up waiting for its code: what BeginEnroll gave to
// look at, or where a code was sent.
type pendingOut struct {
	Secret      string           `json:"secret,omitempty"`
	URI         string           `json:"uri,omitempty"`
	QR          string           `json:"qr,omitempty"`      // a data: URI of a PNG
	Options     json.RawMessage  `json:"options,omitempty"` // what the browser needs to create a credential (a security key)
	Method      twofactor.Method `json:"method,omitempty"`
	Destination string           `json:"destination,omitempty"` // masked
	ResendAt    time.Time        `json:"resend_at,omitzero"`
	ResendAfter int              `json:"resend_after,omitempty"` // seconds until resend_at
	ExpiresAt   time.Time        `json:"expires_at,omitzero"`
}

// methodOut is a method's page as JSON.
type methodOut struct {
	factorOut
	Status  string      `json:"status,omitempty"` // after a begin: "pending", or "code_sent"
	Pending *pendingOut `json:"pending,omitempty"`
}

type codesOut struct {
	OK          bool     `json:"ok"`
	Status      string   `json:"status"` // "generated"
	BackupCodes []string `json:"backup_codes"`
	Next        string   `json:"next"`
}

type enrolledOut struct {
	OK          bool          `json:"ok"`
	Status      string        `json:"status"` // "enrolled"
	Enrollment  enrollmentOut `json:"enrollment"`
	BackupCodes []string      `json:"backup_codes,omitempty"` // with the first factor: shown once
	Next        string        `json:"next"`
}

// enrollingOut describes en for JSON.
func (h *Handler) enrollingOut(en *twofactor.Enrolling) *pendingOut {
	out := &pendingOut{Secret: en.Secret, Options: en.Options, ExpiresAt: utc(en.ExpiresAt)}
	if uri, ok := otpauthURI(en.URI); ok {
		out.URI = string(uri)
	}
	if len(en.QR) > 0 {
		out.QR = string(pngURI(en.QR))
	}
	return out
}

// sentOut describes the code the cookie says a set-up sent.
func (h *Handler) sentOut(e *enrolling) *pendingOut {
	out := &pendingOut{Method: e.Method, Destination: e.Destination}
	if e.ResendAt > 0 {
		out.ResendAt = time.UnixMilli(e.ResendAt).UTC()
		if left := out.ResendAt.Sub(h.now()); left > 0 {
			out.ResendAfter = ceil(left, time.Second)
		}
	}
	return out
}

// otpauthURI returns uri for a link when it is an otpauth:// URI (Key
// Uri Format), and false for anything else, which is never linked.
func otpauthURI(uri string) (template.URL, bool) {
	if !strings.HasPrefix(uri, "otpauth://") || len(uri) > 4096 || strings.ContainsAny(uri, "\"'<> \t\r\n") {
		return "", false
	}
	return template.URL(uri), true
}

// pngURI returns a PNG as a data: URI, for an image.
func pngURI(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

// ---- views ----

// enrollingView describes a pending set-up. A secret is shown in groups
// of four, as apps show it.
func (h *Handler) enrollingView(r *http.Request, ui *methodUI, en *twofactor.Enrolling, step string) *EnrollingView {
	t := &h.tr(r).Settings
	page := h.settingsURL(ui)
	v := &EnrollingView{Secret: groupSecret(en.Secret), Step: step, Next: page + "?step=code", Back: page}
	if v.Secret != "" {
		v.Groups = strings.Fields(v.Secret)
	}
	if !en.ExpiresAt.IsZero() {
		v.Expires = fmt.Sprintf(t.TOTPExpires, h.tr(r).dateTime(en.ExpiresAt))
	}
	v.URI, _ = otpauthURI(en.URI)
	if len(en.QR) > 0 {
		v.QR = pngURI(en.QR)
	}
	return v
}

// groupSecret writes a base32 secret in groups of four characters.
func groupSecret(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// codeView is the form of a confirmation code for ui.
func (h *Handler) codeView(r *http.Request, ui *methodUI) *CodeView {
	label := ui.kind().codeLabel(h.tr(r))
	if label == "" {
		label = h.tr(r).method(ui.Method).Input
	}
	return &CodeView{Action: h.settingsURL(ui) + "/verify", Method: ui.Method, Label: label, CodeField: ui.codeField()}
}

// sentView describes the code a set-up sent.
func (h *Handler) sentView(r *http.Request, e *enrolling) *SentView {
	t := h.tr(r)
	s := &SentView{Text: t.Sent}
	if e.Destination != "" {
		s.Text = fmt.Sprintf(t.SentTo, t.Isolate(e.Destination))
	}
	if left := time.UnixMilli(e.ResendAt).Sub(h.now()); e.ResendAt > 0 && left > 0 {
		s.ResendIn = ceil(left, time.Second)
		s.Wait = fmt.Sprintf(t.ResendIn, t.in(left))
	}
	return s
}

// ---- the page ----

// serveMethodPage (GET settings/<route>) shows a method: its enrollments,
// a set-up waiting for its code (?step=code: the code form alone;
// ?change=1: the set-up form instead), or how to set it up.
func (h *Handler) serveMethodPage(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	h.methodPage(w, r, u, ui, http.StatusOK, nil, nil)
}

// methodPage renders ui's page with status, and e, the error of a form
// (shown again with form's values), if any.
func (h *Handler) methodPage(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI, status int, e *ErrorView, form settingsForm) {
	ctx := r.Context()
	es, err := h.svc.Enrollments(ctx, u)
	var fv FactorView
	if err == nil {
		fv, err = h.factorView(ctx, ui, u, es)
	}
	if err != nil {
		h.settingsFail(w, r, ui.Method, "", err, nil)
		return
	}
	p := &methodPage{r: r, u: u, ui: ui, es: es, form: form, v: &SettingsView{Factor: &fv}, out: &methodOut{factorOut: factorJSON(fv)},
		change: r.URL.Query().Get("change") != "" || (r.Method == http.MethodPost && form != nil && r.URL.Path == h.settingsURL(ui))}
	if pend, ok := h.readEnrolling(r, u, ui.Method); ok && pend.Held {
		// A set-up held for its step-up: its form, which offers to go
		// on with it, unless another one is asked for.
		if !p.change {
			p.change, p.held = true, pend
		}
	} else if ok && !p.change {
		if !h.pendingView(w, r, p, pend, e) {
			return
		}
	}
	if p.v.Code == nil && p.v.Enrolling == nil {
		p.v.StepUp = fv.CanAdd && h.needsStepUp(r, u, es)
	}
	ui.kind().page(h, h.tr(r), p)
	if wantsJSON(r) {
		if e != nil {
			h.writeJSON(w, r, status, ErrorBody{Error: e.Code, Message: e.Message, RetryAfter: e.RetryAfter})
			return
		}
		h.writeJSON(w, r, http.StatusOK, p.out)
		return
	}
	h.settingsPage(w, r, status, ui.page, fv.Name, p.v, e, ui.kind().keyScript())
}

// pendingView shows the set-up the cookie remembers: where its code
// went, or what BeginEnroll gives again to look at (a QR code, a secret)
// unless the code step alone is asked for.
func (h *Handler) pendingView(w http.ResponseWriter, r *http.Request, p *methodPage, pend *enrolling, e *ErrorView) bool {
	ui := p.ui
	p.v.Code = h.codeView(r, ui)
	back := h.settingsURL(ui)
	if pend.Destination != "" || pend.ResendAt > 0 {
		p.v.Code.Sent = h.sentView(r, pend)
		p.v.Code.Resend = back + "/resend"
		p.out.Pending = h.sentOut(pend)
		return true
	}
	// The code step alone when it is asked for, or when a code typed on
	// it was refused: the error sits above the field, and the step's
	// link goes back to the QR code for one scanned wrong.
	if r.URL.Query().Get("step") == "code" && e == nil || e != nil && p.form.get("step") == "code" {
		p.v.Enrolling = &EnrollingView{Step: "code", Back: back}
		return true
	}
	req := twofactor.EnrollRequest{Client: h.client(r), Destination: pend.Request, Region: pend.Region, Label: pend.Label}
	en, err := h.svc.BeginEnroll(r.Context(), p.u, ui.Method, req, h.stepUpProof(r, p.u.ID))
	switch {
	case err == nil:
		h.setEnrolling(w, r, p.u, &enrolling{Method: ui.Method, Expires: en.ExpiresAt.Unix(), Request: pend.Request, Region: pend.Region, Label: pend.Label})
		p.v.Enrolling = h.enrollingView(r, ui, en, "scan")
		p.out.Pending = h.enrollingOut(en)
	case e != nil && errors.Is(err, twofactor.ErrStepUpRequired):
		// A wrong code after the step-up went stale: the code form
		// alone, and the way back to the QR code.
		p.v.Enrolling = &EnrollingView{Step: "code", Back: back}
	default:
		h.settingsFail(w, r, ui.Method, back, err, nil)
		return false
	}
	return true
}

// maxName bounds a set-up's name, in characters, as the WebAuthn factor
// bounds a key's (webauthn.MaxNameLength): the name travels in the
// sealed set-up cookie, and a name long enough to push the cookie past
// its bound would make the set-up start over with no word why.
const maxName = 64

// serveBegin (POST settings/<route>; restart=true to start over) begins a
// set-up with what the form asks for (the UI reads it: a phone number, a
// name), and goes to the page that shows it; JSON clients get what to
// look at, or where the code went. New codes (Enrolling.Codes) go to the
// page that shows them once.
func (h *Handler) serveBegin(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	back := h.settingsURL(ui)
	f, err := readSettingsForm(w, r)
	if err != nil {
		h.settingsFail(w, r, ui.Method, back, err, nil)
		return
	}
	again := func(status int, e *ErrorView) { h.methodPage(w, r, u, ui, status, e, f) }
	req := twofactor.EnrollRequest{Client: h.client(r), Restart: checked(f.get("restart")), Label: strings.TrimSpace(f.get("name"))}
	if n := utf8.RuneCountInString(req.Label); n > maxName {
		h.settingsFail(w, r, ui.Method, back, &formError{code: CodeBadRequest, message: h.tr(r).n(h.tr(r).Settings.NameTooLong, maxName)}, again)
		return
	}
	if held, ok := h.readEnrolling(r, u, ui.Method); ok && held.Held && checked(f.get("held")) {
		// Going on with the set-up held for its step-up: what it asked
		// for is in the sealed cookie, bound to this user.
		req.Destination, req.Region, req.Label = held.Request, held.Region, held.Label
	} else if err := ui.kind().enroll(h, h.tr(r), ui, f, &req); err != nil {
		h.settingsFail(w, r, ui.Method, back, err, again)
		return
	}
	h.begin(w, r, u, ui, req, again)
}

// resumeAfterStepUp remembers a first set-up that waits for a step-up,
// so that the method's page begins it once the step-up is done (its GET
// shows a set-up the cookie remembers, by BeginEnroll with the fresh
// proof) instead of showing its set-up button again. It is only for a
// set-up that sends nothing (an authenticator app), so that a GET never
// sends a code, and only a browser's: a JSON client asks again itself.
// It is safe against cross-site requests: only this POST, which passed
// CrossOriginProtection, sets the cookie, sealed and bound to the user;
// the GET only goes on with what it holds, with a fresh proof. Cancelling
// the step-up drops it.
//
// A set-up that sends a code (a phone number) is held instead: the
// method's page shows its form again, filled in with what was typed, so
// one click sends the code once the step-up is done, and a GET still sends
// nothing.
func (h *Handler) resumeAfterStepUp(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI, req twofactor.EnrollRequest, enrolled bool) bool {
	if wantsJSON(r) || ui.recovery() || ui.kind().keyScript() {
		return false
	}
	held := ui.sends()
	if held && req.Destination == "" || !held && enrolled {
		return false
	}
	h.setEnrolling(w, r, u, &enrolling{Method: ui.Method, Expires: h.now().Add(10 * time.Minute).Unix(),
		Request: req.Destination, Region: req.Region, Label: req.Label, Held: held})
	return true
}

// begin runs BeginEnroll for req and answers it.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI, req twofactor.EnrollRequest, again func(int, *ErrorView)) {
	en, err := h.svc.BeginEnroll(r.Context(), u, ui.Method, req, h.stepUpProof(r, u.ID))
	if err != nil {
		back := h.settingsURL(ui)
		if errors.Is(err, twofactor.ErrStepUpRequired) {
			es, lerr := h.svc.Enrollments(r.Context(), u)
			enrolled := lerr == nil && containsMethod(es, ui.Method)
			back = ui.kind().beginBack(h, ui, enrolled)
			if h.resumeAfterStepUp(w, r, u, ui, req, enrolled) {
				back = h.settingsURL(ui)
			}
		}
		h.settingsFail(w, r, ui.Method, back, ui.kind().refused(h, h.tr(r), err), again)
		return
	}
	if len(en.Codes) > 0 {
		h.keepCodes(w, r, u, en.Codes)
		if wantsJSON(r) {
			h.writeJSON(w, r, http.StatusOK, codesOut{OK: true, Status: "generated", BackupCodes: en.Codes, Next: h.url(routeSettings)})
			return
		}
		seeOther(w, h.url(routeSettingsCodes))
		return
	}
	e := &enrolling{Method: ui.Method, Expires: en.ExpiresAt.Unix(), Request: req.Destination, Region: req.Region, Label: req.Label}
	out := methodOut{factorOut: factorOut{Method: ui.Method, Name: h.tr(r).method(ui.Method).Name, URL: h.settingsURL(ui),
		Enrollments: []enrollmentOut{}}, Status: "pending", Pending: h.enrollingOut(en)}
	if s := en.Sent; s != nil {
		// The set-up is remembered past the code's life, so a new code
		// can be asked for.
		e.Expires = en.ExpiresAt.Add(max(en.ExpiresAt.Sub(h.now()), 10*time.Minute)).Unix()
		e.Destination, e.ResendAt = stripControl(s.Destination), s.ResendAt.UnixMilli()
		out.Status, out.Pending = "code_sent", h.sentOut(e)
		out.Pending.ExpiresAt = utc(s.ExpiresAt)
	}
	h.setEnrolling(w, r, u, e)
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, out)
		return
	}
	seeOther(w, h.settingsURL(ui))
}

func containsMethod(es []twofactor.Enrollment, m twofactor.Method) bool {
	for _, e := range es {
		if e.Method == m {
			return true
		}
	}
	return false
}

// serveResend (POST settings/<route>/resend) sends a new code for the
// set-up the cookie remembers: BeginEnroll again, with Restart.
func (h *Handler) serveResend(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	back := h.settingsURL(ui)
	if _, err := readSettingsForm(w, r); err != nil {
		h.settingsFail(w, r, ui.Method, back, err, nil)
		return
	}
	e, ok := h.readEnrolling(r, u, ui.Method)
	if !ok {
		h.settingsFail(w, r, ui.Method, back, errNoEnrollment, nil)
		return
	}
	req := twofactor.EnrollRequest{Client: h.client(r), Destination: e.Request, Region: e.Region, Label: e.Label, Restart: true}
	h.begin(w, r, u, ui, req, func(status int, ev *ErrorView) { h.methodPage(w, r, u, ui, status, ev, nil) })
}

// serveConfirm (POST settings/<route>/verify, code) confirms the pending
// set-up (Service.ConfirmEnroll). A wrong code shows the page again with
// the error; no pending set-up is 409 no_pending_enrollment.
func (h *Handler) serveConfirm(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	back := h.settingsURL(ui)
	f, err := readSettingsForm(w, r)
	if err != nil {
		h.settingsFail(w, r, ui.Method, back, err, nil)
		return
	}
	// A refused code shows the page again, on the step it was typed on.
	step := settingsForm{"step": f.get("step")}
	again := func(status int, e *ErrorView) { h.methodPage(w, r, u, ui, status, e, step) }
	out, err := h.svc.ConfirmEnroll(r.Context(), u, ui.Method, normalizeCode(ui.codeField(), f.get("code")))
	if errors.Is(err, twofactor.ErrNotEnrolled) {
		h.clearEnrolling(w, r)
		err, again = errNoEnrollment, nil
	}
	if err != nil {
		h.settingsFail(w, r, ui.Method, back, err, again)
		return
	}
	h.clearEnrolling(w, r)
	h.enrolled(w, r, u, out, ui.route)
}

// enrolled answers a confirmed set-up. When it was the user's first
// factor and brought backup codes, the browser goes to the page that
// shows them once; a JSON client gets them in the answer.
func (h *Handler) enrolled(w http.ResponseWriter, r *http.Request, u twofactor.User, out *twofactor.Enrolled, saved string) {
	next := h.url(routeSettings)
	if len(out.BackupCodes) > 0 {
		h.keepCodes(w, r, u, out.BackupCodes)
		next = h.url(routeSettingsCodes)
	}
	if wantsJSON(r) {
		e := out.Enrollment
		h.writeJSON(w, r, http.StatusOK, enrolledOut{OK: true, Status: "enrolled", BackupCodes: out.BackupCodes, Next: next,
			Enrollment: enrollmentOut{ID: e.ID, Label: e.Label, CreatedAt: utc(e.CreatedAt), LastUsedAt: utc(e.LastUsedAt)}})
		return
	}
	if len(out.BackupCodes) > 0 {
		seeOther(w, next)
		return
	}
	seeOther(w, next+"?done="+saved)
}

// serveRename (POST settings/<route>/rename, id and name) renames one of
// the user's enrollments (twofactor.Renamer). Another user's id is 404.
func (h *Handler) serveRename(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	rn, ok := ui.factor.(twofactor.Renamer)
	if !ok {
		h.fail(w, r, nil, errNotFound)
		return
	}
	back := h.settingsURL(ui)
	f, err := readSettingsForm(w, r)
	if err == nil {
		// A name is what a person tells keys and passkeys apart by, on
		// this page and when a key is removed: changing it asks for a
		// fresh step-up, as adding and removing do.
		_, err = h.freshProof(r, u)
	}
	if err == nil {
		err = rn.Rename(r.Context(), u, f.get("id"), f.get("name"))
	}
	if err != nil {
		h.settingsFail(w, r, ui.Method, back, err, func(status int, e *ErrorView) { h.methodPage(w, r, u, ui, status, e, nil) })
		return
	}
	h.done(w, r, "renamed", back, savedRenamed)
}
