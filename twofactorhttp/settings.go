package twofactorhttp

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
)

// The settings pages: the signed-in user's own second factors, under
// <prefix>settings/. Every page answers JSON on the same route as well.
// A change that removes or replaces a factor, makes new backup codes, or
// adds a factor when the user already has one needs a fresh step-up: the
// page sends the browser through the step-up challenge and back (a JSON
// client gets 401 step_up_required, as from the StepUp middleware).

// Pages of the settings, by template file name without ".html".
const (
	PageSettings        = "settings_overview" // the user's factors, default method, backup codes, devices
	PageSettingsTOTP    = "settings_totp"     // the authenticator app: status, QR code, code step
	PageSettingsPhone   = "settings_phone"    // the phone for SMS: number form, code step
	PageSettingsKeys    = "settings_keys"     // security keys: list, add, rename
	PageSettingsEmail   = "settings_email"    // email codes: status, turn on
	PageSettingsBackup  = "settings_backup"   // backup codes: how many are left, make new ones
	PageSettingsCodes   = "settings_codes"    // a new set of backup codes, shown once
	PageSettingsDevices = "settings_devices"  // trusted devices: list, revoke
	PageSettingsConfirm = "settings_confirm"  // confirm a removal, a new set of backup codes, or turning two-step verification off
)

var settingsPages = []string{PageSettings, PageSettingsTOTP, PageSettingsPhone, PageSettingsKeys, PageSettingsEmail,
	PageSettingsBackup, PageSettingsCodes, PageSettingsDevices, PageSettingsConfirm}

// Routes of the settings, relative to the prefix.
const (
	routeSettings          = "settings/"
	routeSettingsTOTP      = "settings/totp"
	routeSettingsTOTPCode  = "settings/totp/verify"
	routeSettingsPhone     = "settings/phone"
	routeSettingsPhoneSend = "settings/phone/resend"
	routeSettingsPhoneCode = "settings/phone/verify"
	routeSettingsKeys      = "settings/keys"
	routeSettingsKeyRename = "settings/keys/rename"
	routeSettingsEmail     = "settings/email"
	routeSettingsEmailSend = "settings/email/resend"
	routeSettingsEmailCode = "settings/email/verify"
	routeSettingsBackup    = "settings/backup-codes"
	routeSettingsBackupNew = "settings/backup-codes/new"
	routeSettingsCodes     = "settings/backup-codes/show"
	routeSettingsCodesDone = "settings/backup-codes/done"
	routeSettingsCodesTxt  = "settings/backup-codes.txt"
	routeSettingsDevices   = "settings/devices"
	routeSettingsRevoke    = "settings/devices/revoke"
	routeSettingsRevokeAll = "settings/devices/revoke-all"
	routeSettingsRemove    = "settings/remove"
	routeSettingsDisable   = "settings/disable"
)

// JSON error codes of the settings and administrator pages, beside the
// Code constants of the sign-in.
const (
	CodeLastFactor   = "last_factor"   // 409: removing the last second factor, or turning two-step verification off, while the policy requires one
	CodeInvalidPhone = "invalid_phone" // 400: a phone number that is refused; the message says why
	CodeUnknownUser  = "unknown_user"  // 404: an administrator page for a user the host does not know
)

// settingsMethods are the methods the settings pages manage, in the order
// the overview lists them. Backup codes have their own section.
var settingsMethods = []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodWebAuthn, twofactor.MethodSMS, twofactor.MethodEmail}

func settingsRoute(m twofactor.Method) string {
	switch m {
	case twofactor.MethodTOTP:
		return routeSettingsTOTP
	case twofactor.MethodWebAuthn:
		return routeSettingsKeys
	case twofactor.MethodSMS:
		return routeSettingsPhone
	case twofactor.MethodEmail:
		return routeSettingsEmail
	case twofactor.MethodBackupCode:
		return routeSettingsBackup
	}
	return routeSettings
}

// SettingsView is what the settings pages show. Each page fills the
// fields it needs; the others are zero.
type SettingsView struct {
	Base   string // the overview's URL ("/2fa/settings/")
	Notice string // a change just saved ("Your authenticator app is set up."), or ""

	// The overview.
	Methods []FactorView // each method the user may have, set up or not
	Default string       // the default method's name, or ""
	Backup  *BackupView  // nil without a backup-code factor
	Devices *DevicesView // nil without a trusted-device manager
	// Disable is the page that turns two-step verification off, or ""
	// when the user has nothing to turn off or the policy requires a
	// second factor.
	Disable string
	// Notifications names the security emails the user gets
	// (Config.Notifications), or nil.
	Notifications []string

	// A factor's page.
	Factor *FactorView // the method and its enrollments
	TOTP   *TOTPView   // an authenticator app being set up
	Code   *CodeView   // the form of a confirmation code
	Phone  *PhoneView  // the phone number form
	Email  *EmailView  // email codes
	Keys   *KeysView   // security keys
	Codes  []string    // a new set of backup codes, shown once
	// Download is the new set's text file, on the page that shows it.
	Download string
	Confirm  *ConfirmView // a confirmation before a change
	// StepUp is set when the page's change first needs a fresh
	// verification: its button leads through the step-up challenge.
	StepUp bool
}

// FactorView is one method on the settings pages.
type FactorView struct {
	Method twofactor.Method
	MethodText
	URL         string // its settings page
	Enrollments []EnrollmentView
	Default     bool // the policy's default method
	CanAdd      bool // the user may set it up (or add another)
}

// EnrollmentView is one enrollment: an app, a phone, a key, an address.
type EnrollmentView struct {
	ID         string
	Label      string    // masked for phones and addresses: "+1 *** *** **12"
	Added      string    // "Added 2 Mar 2026"
	LastUsed   string    // "Last used 3 Mar 2026 09:15 UTC", or "Not used yet"
	AddedAt    time.Time // zero when unknown
	LastUsedAt time.Time // zero when never used
	Remove     string    // the removal's confirmation page, or "" when it cannot be removed here
}

// TOTPView is an authenticator app being set up: the QR code and the
// secret. Only this page ever shows a secret.
type TOTPView struct {
	QR      template.URL // a data: URI of a PNG, for <img src>
	URI     template.URL // the otpauth:// URI, for a link on a phone
	Secret  string       // the secret in groups of four ("JBSW Y3DP ...")
	Expires string       // "Finish before 09:10 UTC, or start again."
	Apps    []string     // apps known to work
	Step    string       // "scan" (the QR code, then Next) or "code" (the code form)
	Next    string       // the code step's URL
	Back    string       // the QR step's URL
}

// CodeView is the form of a confirmation code.
type CodeView struct {
	Action string           // where it posts
	Method twofactor.Method // totp, sms or email
	Label  string           // the input's label
	Length int              // digits: the script submits at this length
	Sent   *SentView        // where the code went, or nil
	Resend string           // the resend form's action, or ""
	Other  *Link            // another number, or nil
}

// PhoneView is the phone number form.
type PhoneView struct {
	Action  string       // where it posts
	Regions []RegionView // the country picker
}

// EmailView is the email codes page's state.
type EmailView struct {
	On        bool   // codes are sent by email
	Address   string // the masked address, when on
	Implicit  bool   // codes follow the account's address: they cannot be turned off here
	NoAddress bool   // the account has no address
	TurnOn    string // the form that sends a confirmation code, or ""
}

// KeysView is the security keys page's state. Adding a key runs in the
// browser (the security-key script); when SettingsView.StepUp is set, the
// add button leads through StepUp first.
type KeysView struct {
	Rename    string // the rename form's action (fields id, name), or "" when keys cannot be renamed
	StepUp    string // the step-up page, coming back to this one
	Done      string // where the page goes once a key was added
	ShowCodes string // where it goes when backup codes came with the key
}

// BackupView is the state of the user's backup codes.
type BackupView struct {
	URL       string // the backup codes page
	On        bool   // the user has a set
	Remaining int    // unused codes
	Text      string // "7 backup codes left."
	Low       bool   // two or fewer: make a new set
	Added     string // when the set was made
	LastUsed  string
	New       string // the page that makes a new set
}

// DevicesView lists the user's trusted devices.
type DevicesView struct {
	URL       string // the trusted devices page
	List      []DeviceView
	Revoke    string // the revoke form's action (field "id")
	RevokeAll string // the revoke-all form's action
}

// DeviceView is one trusted device.
type DeviceView struct {
	ID       string
	Label    string // "Firefox on Linux"
	Network  string // "Network 203.0.113.0/24", or ""
	Added    string
	LastSeen string
	Expires  string // "Trusted until ...", or "Trusted until the browser closes"
	This     bool   // the browser making the request
}

// ConfirmView asks before a change.
type ConfirmView struct {
	Message string // what will change
	Warning string // what it means
	Note    string // what stays as it is, or ""
	Action  string // where the form posts, or "" when the change is not possible
	Button  string
	Method  twofactor.Method // hidden field "method", for a removal
	ID      string           // hidden field "id", for a removal
	Cancel  string           // where Cancel leads
}

// serveSettings routes a request under <prefix>settings.
func (h *Handler) serveSettings(w http.ResponseWriter, r *http.Request, rest string) {
	if rest == "settings" {
		h.onlyGet(w, r, func(w http.ResponseWriter, r *http.Request) { seeOther(w, h.url(routeSettings)) })
		return
	}
	type route struct {
		get, post func(http.ResponseWriter, *http.Request, twofactor.User)
	}
	var rt route
	switch rest {
	case routeSettings:
		rt.get = h.serveOverview
	case routeSettingsTOTP:
		rt = route{h.serveTOTP, h.serveTOTPBegin}
	case routeSettingsTOTPCode:
		rt.post = h.serveTOTPConfirm
	case routeSettingsPhone:
		rt = route{h.servePhone, h.servePhoneSend}
	case routeSettingsPhoneSend:
		rt.post = h.servePhoneResend
	case routeSettingsPhoneCode:
		rt.post = h.servePhoneConfirm
	case routeSettingsKeys:
		rt.get = h.serveKeys
	case routeSettingsKeyRename:
		rt.post = h.serveKeyRename
	case routeSettingsEmail:
		rt = route{h.serveEmail, h.serveEmailSend}
	case routeSettingsEmailSend:
		rt.post = h.serveEmailResend
	case routeSettingsEmailCode:
		rt.post = h.serveEmailConfirm
	case routeSettingsBackup:
		rt = route{h.serveBackup, h.serveBackupGenerate}
	case routeSettingsBackupNew:
		rt.get = h.serveBackupNew
	case routeSettingsCodes:
		rt.get = h.serveCodes
	case routeSettingsCodesDone:
		rt.post = h.serveCodesDone
	case routeSettingsCodesTxt:
		rt.get = h.serveCodesText
	case routeSettingsDevices:
		rt.get = h.serveDevices
	case routeSettingsRevoke:
		rt.post = h.serveRevoke
	case routeSettingsRevokeAll:
		rt.post = h.serveRevokeAll
	case routeSettingsRemove:
		rt = route{h.serveRemovePage, h.serveRemove}
	case routeSettingsDisable:
		rt = route{h.serveDisablePage, h.serveDisable}
	}
	if (rest == routeSettingsDevices || rest == routeSettingsRevoke || rest == routeSettingsRevokeAll) && h.trust == nil {
		rt = route{}
	}
	if rt.get == nil && rt.post == nil {
		h.fail(w, r, nil, errNotFound)
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case safe && rt.get != nil:
	case r.Method == http.MethodPost && rt.post != nil:
		if err := h.cop.Check(r); err != nil {
			h.fail(w, r, nil, errCrossOrigin)
			return
		}
	default:
		var allow []string
		if rt.get != nil {
			allow = append(allow, "GET, HEAD")
		}
		if rt.post != nil {
			allow = append(allow, http.MethodPost)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.fail(w, r, nil, errMethod)
		return
	}
	u, ok := h.user(r)
	if !ok {
		if safe && !wantsJSON(r) {
			seeOther(w, h.withNext(h.loginURL, cleanReturn(r.URL.RequestURI())))
			return
		}
		h.fail(w, r, nil, errSignedOut)
		return
	}
	if safe {
		rt.get(w, r, u)
		return
	}
	rt.post(w, r, u)
}

// settingsPage renders a settings page.
func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, status int, page, title string, v *SettingsView, e *ErrorView) {
	v.Base = h.url(routeSettings)
	if v.Notice == "" {
		v.Notice = h.text.Settings.Saved[r.URL.Query().Get("done")]
	}
	h.render(w, r, status, &PageData{Page: page, Title: title, Settings: v, Error: e,
		WebAuthn: page == PageSettingsKeys && h.webauthn})
}

// settingsProblem classifies err as classify does, with the errors of the
// settings pages.
func (h *Handler) settingsProblem(err error, m twofactor.Method) problem {
	t := &h.text.Settings
	var pe *phoneError
	switch {
	case errors.As(err, &pe):
		return problem{http.StatusBadRequest, ErrorBody{Error: CodeInvalidPhone, Message: pe.message}}
	case errors.Is(err, errImplicitEmail):
		return problem{http.StatusBadRequest, ErrorBody{Error: CodeMethodNotOffered, Message: t.EmailImplicitRemove}}
	case errors.Is(err, errDisableRequired):
		return problem{http.StatusConflict, ErrorBody{Error: CodeLastFactor, Message: t.DisableRequired}}
	case errors.Is(err, twofactor.ErrLastFactor):
		return problem{http.StatusConflict, ErrorBody{Error: CodeLastFactor, Message: t.RemoveLast}}
	case errors.Is(err, trust.ErrNotFound):
		return problem{http.StatusNotFound, ErrorBody{Error: CodeNotFound, Message: t.DeviceNotFound}}
	case errors.Is(err, twofactor.ErrNotEnrolled):
		return problem{http.StatusNotFound, ErrorBody{Error: CodeNotFound, Message: t.RemoveNothing}}
	}
	return h.classify(err, m)
}

// settingsFail answers err. A step-up that is needed sends the browser
// through the step-up challenge, back to the page back. An error a form
// can show (a wrong code, a refused number, a wait) re-renders the page
// through again when it is given; others get a message page.
func (h *Handler) settingsFail(w http.ResponseWriter, r *http.Request, m twofactor.Method, back string, err error, again func(int, *ErrorView)) {
	if errors.Is(err, twofactor.ErrStepUpRequired) {
		h.askStepUp(w, r, back)
		return
	}
	p := h.settingsProblem(err, m)
	if p.status == http.StatusInternalServerError {
		h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: settings request failed",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	if p.body.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(p.body.RetryAfter))
	}
	if wantsJSON(r) {
		h.writeJSON(w, p.status, p.body)
		return
	}
	ev := &ErrorView{Code: p.body.Error, Message: p.body.Message, RetryAfter: p.body.RetryAfter}
	if again != nil && p.status != http.StatusInternalServerError {
		again(p.status, ev)
		return
	}
	d := &PageData{Page: PageMessage, Title: h.text.Settings.Title, Message: p.body.Message, Error: ev,
		Link: &Link{URL: h.url(routeSettings), Text: h.text.Settings.Back}}
	if back != "" {
		d.Link.URL = back
	}
	h.render(w, r, p.status, d)
}

// askStepUp answers a change that needs a fresh verification: a browser
// goes to the step-up page, which comes back to back; a JSON client gets
// 401 step_up_required with the step-up route in "next".
func (h *Handler) askStepUp(w http.ResponseWriter, r *http.Request, back string) {
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: CodeStepUpRequired, Message: h.text.StepUpRequired, Next: h.url(routeStepUp)})
		return
	}
	seeOther(w, h.stepUpURL(back))
}

func (h *Handler) stepUpURL(back string) string {
	return h.url(routeStepUp) + "?" + ReturnParam + "=" + url.QueryEscape(back)
}

// freshProof returns the request's step-up proof for u when it is fresh,
// else an error matching twofactor.ErrStepUpRequired (or a store failure).
func (h *Handler) freshProof(r *http.Request, u twofactor.User) (string, error) {
	proof := h.stepUpProof(r, u.ID)
	if proof == "" {
		return "", twofactor.ErrStepUpRequired
	}
	if err := h.svc.CheckProof(r.Context(), proof, u.ID, twofactor.PurposeStepUp); err != nil {
		return "", err
	}
	return proof, nil
}

// done redirects a browser to path with the notice of key; a JSON client
// gets {"ok": true, "status": status, "next": path}.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, status, path, key string) {
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, doneJSON{OK: true, Status: status, Next: path})
		return
	}
	if key != "" {
		path += "?done=" + url.QueryEscape(key)
	}
	seeOther(w, path)
}

// Dates on the settings pages are shown in UTC.
func (h *Handler) date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(h.text.Settings.Date)
}

func (h *Handler) dateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(h.text.Settings.DateTime)
}

// policyAllows reports whether the policy allows m.
func (h *Handler) policyAllows(m twofactor.Method) bool {
	pol := h.svc.Policy()
	return pol.Methods == nil || slices.Contains(pol.Methods, m)
}

// configured reports whether the Service has m and the policy allows it.
func (h *Handler) configured(m twofactor.Method) bool {
	_, ok := h.svc.Factor(m)
	return ok && h.policyAllows(m)
}

func (h *Handler) enroller(m twofactor.Method) bool {
	f, ok := h.svc.Factor(m)
	if !ok {
		return false
	}
	_, ok = f.(twofactor.Enroller)
	return ok && h.policyAllows(m)
}

func (h *Handler) remover(m twofactor.Method) bool {
	f, ok := h.svc.Factor(m)
	if !ok {
		return false
	}
	_, ok = f.(twofactor.Remover)
	return ok
}

// optIn is implemented by an email factor whose enrollment the user
// confirms and may remove (opt-in), as opposed to one that counts the
// account's address as enrolled. Without it, email codes are taken to
// follow the account's address, and the page offers no way to turn them
// off.
type optIn interface{ OptIn() bool }

func (h *Handler) emailOptIn() bool {
	f, ok := h.svc.Factor(twofactor.MethodEmail)
	if !ok {
		return false
	}
	o, ok := f.(optIn)
	return ok && o.OptIn()
}

// removable reports whether the settings pages offer to remove an
// enrollment of m.
func (h *Handler) removable(m twofactor.Method) bool {
	if !h.remover(m) || m == twofactor.MethodBackupCode {
		return false
	}
	return m != twofactor.MethodEmail || h.emailOptIn()
}

// factorView builds the view of m from the user's enrollments es.
func (h *Handler) factorView(m twofactor.Method, es []twofactor.Enrollment) FactorView {
	t := &h.text.Settings
	fv := FactorView{Method: m, MethodText: h.text.method(m), URL: h.url(settingsRoute(m)),
		Default: h.svc.Policy().Default == m}
	for _, e := range es {
		if e.Method != m {
			continue
		}
		ev := EnrollmentView{ID: e.ID, Label: e.Label, AddedAt: e.CreatedAt, LastUsedAt: e.LastUsedAt, LastUsed: t.NeverUsed}
		if !e.CreatedAt.IsZero() {
			ev.Added = fmt.Sprintf(t.Added, h.date(e.CreatedAt))
		}
		if !e.LastUsedAt.IsZero() {
			ev.LastUsed = fmt.Sprintf(t.LastUsed, h.dateTime(e.LastUsedAt))
		}
		if h.removable(m) {
			ev.Remove = h.removeURL(m, e.ID)
		}
		fv.Enrollments = append(fv.Enrollments, ev)
	}
	switch m {
	case twofactor.MethodWebAuthn:
		fv.CanAdd = h.enroller(m) && h.webauthn
	case twofactor.MethodEmail:
		fv.CanAdd = h.enroller(m) && len(fv.Enrollments) == 0
	default:
		fv.CanAdd = h.enroller(m)
	}
	return fv
}

func (h *Handler) removeURL(m twofactor.Method, id string) string {
	return h.url(routeSettingsRemove) + "?method=" + url.QueryEscape(string(m)) + "&id=" + url.QueryEscape(id)
}

// factorViews lists the methods the settings pages manage that the
// Service has, then the host's own methods the user has enrollments of
// (shown, not managed here).
func (h *Handler) factorViews(es []twofactor.Enrollment) []FactorView {
	var out []FactorView
	for _, m := range settingsMethods {
		if h.configured(m) {
			out = append(out, h.factorView(m, es))
		}
	}
	var seen []twofactor.Method
	for _, e := range es {
		m := e.Method
		if slices.Contains(settingsMethods, m) || h.recovery(m) || m == twofactor.MethodBackupCode || slices.Contains(seen, m) {
			continue
		}
		seen = append(seen, m)
		fv := h.factorView(m, es)
		fv.URL, fv.CanAdd = "", false
		out = append(out, fv)
	}
	return out
}

// ---- JSON views ----

type enrollmentOut struct {
	ID         string    `json:"id"`
	Label      string    `json:"label,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

type factorOut struct {
	Method      twofactor.Method `json:"method"`
	Name        string           `json:"name"`
	Enrolled    bool             `json:"enrolled"`
	Default     bool             `json:"default,omitempty"`
	CanAdd      bool             `json:"can_add,omitempty"`
	URL         string           `json:"url,omitempty"`
	Enrollments []enrollmentOut  `json:"enrollments"`
}

type backupOut struct {
	On        bool `json:"on"`
	Remaining int  `json:"remaining"`
	Low       bool `json:"low,omitempty"`
}

type deviceOut struct {
	ID         string    `json:"id"`
	Label      string    `json:"label"`
	Network    string    `json:"network,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at"`
	Session    bool      `json:"session,omitempty"` // trusted until the browser closes
	This       bool      `json:"this_device,omitempty"`
}

type overviewOut struct {
	Methods        []factorOut      `json:"methods"`
	DefaultMethod  twofactor.Method `json:"default_method,omitempty"`
	BackupCodes    *backupOut       `json:"backup_codes,omitempty"`
	TrustedDevices []deviceOut      `json:"trusted_devices,omitempty"`
	Disable        string           `json:"disable,omitempty"` // the route that turns two-step verification off
	Notifications  []string         `json:"notifications,omitempty"`
}

func factorJSON(fv FactorView) factorOut {
	out := factorOut{Method: fv.Method, Name: fv.Name, Enrolled: len(fv.Enrollments) > 0, Default: fv.Default,
		CanAdd: fv.CanAdd, URL: fv.URL, Enrollments: []enrollmentOut{}}
	for _, e := range fv.Enrollments {
		out.Enrollments = append(out.Enrollments, enrollmentOut{ID: e.ID, Label: e.Label, CreatedAt: utc(e.AddedAt), LastUsedAt: utc(e.LastUsedAt)})
	}
	return out
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// ---- the overview ----

// serveOverview (GET settings/) lists the user's factors with when each
// was added and last used, the default method, the backup codes left and
// the trusted devices.
func (h *Handler) serveOverview(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	ctx := r.Context()
	es, err := h.svc.Enrollments(ctx, u)
	if err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	v := &SettingsView{Methods: h.factorViews(es)}
	if d := h.svc.Policy().Default; d != "" {
		v.Default = fmt.Sprintf(h.text.Settings.Default, h.text.method(d).Name)
	}
	if v.Backup, err = h.backupView(ctx, u, es); err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	devs, err := h.devicesView(r, u)
	if err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	v.Devices = devs.view
	if !h.svc.Policy().Required && (len(es) > 0 || len(devs.out) > 0) {
		v.Disable = h.url(routeSettingsDisable)
	}
	if h.notices != nil {
		v.Notifications = h.notices(r)
	}
	if wantsJSON(r) {
		out := overviewOut{Methods: []factorOut{}, DefaultMethod: h.svc.Policy().Default, TrustedDevices: devs.out, Disable: v.Disable,
			Notifications: v.Notifications}
		for _, fv := range v.Methods {
			out.Methods = append(out.Methods, factorJSON(fv))
		}
		if b := v.Backup; b != nil {
			out.BackupCodes = &backupOut{On: b.On, Remaining: b.Remaining, Low: b.Low}
		}
		h.writeJSON(w, http.StatusOK, out)
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettings, h.text.Settings.Title, v, nil)
}

// ---- removal ----

// findEnrollment returns the user's enrollment of m with id.
func (h *Handler) findEnrollment(ctx context.Context, u twofactor.User, m twofactor.Method, id string) (twofactor.Enrollment, []twofactor.Enrollment, error) {
	es, err := h.svc.Enrollments(ctx, u)
	if err != nil {
		return twofactor.Enrollment{}, nil, err
	}
	for _, e := range es {
		if e.Method == m && e.ID == id {
			return e, es, nil
		}
	}
	return twofactor.Enrollment{}, es, twofactor.ErrNotEnrolled
}

// lastRequired reports whether removing an enrollment of m would leave
// the user, under a policy that requires a second factor, with none.
func (h *Handler) lastRequired(m twofactor.Method, es []twofactor.Enrollment) bool {
	pol := h.svc.Policy()
	if !pol.Required || h.recovery(m) {
		return false
	}
	n := 0
	for _, e := range es {
		if h.policyAllows(e.Method) && !h.recovery(e.Method) {
			n++
		}
	}
	return n <= 1
}

// serveRemovePage (GET settings/remove?method=&id=) asks before removing
// an enrollment, after a fresh step-up.
func (h *Handler) serveRemovePage(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	q := r.URL.Query()
	m, id := twofactor.Method(q.Get("method")), q.Get("id")
	back := h.url(settingsRoute(m))
	if !slices.Contains(settingsMethods, m) || id == "" {
		h.settingsFail(w, r, m, h.url(routeSettings), twofactor.ErrNotEnrolled, nil)
		return
	}
	e, es, err := h.findEnrollment(r.Context(), u, m, id)
	if err == nil && !h.removable(m) {
		err = errImplicitEmail
	}
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	t := &h.text.Settings
	c := &ConfirmView{Message: fmt.Sprintf(t.RemoveTitle, h.text.method(m).Name), Warning: t.RemoveWarn,
		Button: t.Remove, Method: m, ID: id, Cancel: back}
	if h.lastRequired(m, es) {
		c.Warning = t.RemoveLast
	} else {
		if _, err := h.freshProof(r, u); err != nil {
			h.settingsFail(w, r, m, r.URL.RequestURI(), err, nil)
			return
		}
		c.Action = h.url(routeSettingsRemove)
	}
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, factorJSON(FactorView{Method: m, MethodText: h.text.method(m), URL: back,
			Enrollments: []EnrollmentView{{ID: e.ID, Label: e.Label, AddedAt: e.CreatedAt, LastUsedAt: e.LastUsedAt}}}))
		return
	}
	v := &SettingsView{Confirm: c}
	fv := h.factorView(m, []twofactor.Enrollment{e})
	v.Factor = &fv
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, v, nil)
}

var errImplicitEmail = errors.New("twofactorhttp: email codes follow the account's address")

// serveRemove (POST settings/remove, method and id) removes an enrollment
// with the fresh step-up proof (Service.RemoveEnrollment).
func (h *Handler) serveRemove(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	f, err := readSettingsForm(w, r)
	m, id := twofactor.Method(f.get("method")), f.get("id")
	back := h.url(settingsRoute(m))
	confirm := h.removeURL(m, id)
	if err == nil && (!slices.Contains(settingsMethods, m) || id == "") {
		err = twofactor.ErrNotEnrolled
	}
	if err == nil && !h.removable(m) {
		err = errImplicitEmail
	}
	if err == nil {
		err = h.svc.RemoveEnrollment(r.Context(), u, m, id, h.stepUpProof(r, u.ID))
	}
	if err != nil {
		h.settingsFail(w, r, m, confirm, err, nil)
		return
	}
	h.done(w, r, "removed", back, savedRemoved)
}

// ---- the enrollment cookie ----

// enrolling is what the enrollment cookie remembers of a set-up waiting
// for its code: which method, until when, and for a code sent, where it
// went (masked) and when a new one may be asked for. For a phone it also
// holds the number, for the resend; the cookie is sealed and bound to the
// user, and never shown.
type enrolling struct {
	Method      twofactor.Method `json:"m"`
	Expires     int64            `json:"e"`           // Unix seconds
	Destination string           `json:"d,omitempty"` // masked
	ResendAt    int64            `json:"r,omitempty"` // Unix milliseconds
	Number      string           `json:"n,omitempty"` // E.164, for a resend
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

// ---- the trusted devices ----

type devicesOut struct {
	view *DevicesView
	out  []deviceOut
}

// devicesView lists the user's trusted devices, this one marked.
func (h *Handler) devicesView(r *http.Request, u twofactor.User) (devicesOut, error) {
	if h.trust == nil {
		return devicesOut{}, nil
	}
	ds, err := h.trust.List(r.Context(), u.ID)
	if err != nil {
		return devicesOut{}, err
	}
	t := &h.text.Settings
	this, _ := h.trust.DeviceID(u.ID, h.client(r).DeviceToken)
	out := devicesOut{view: &DevicesView{URL: h.url(routeSettingsDevices), Revoke: h.url(routeSettingsRevoke), RevokeAll: h.url(routeSettingsRevokeAll)}, out: []deviceOut{}}
	for _, d := range ds {
		if d.UserID != u.ID {
			continue
		}
		// A device trusted until the browser closes carries no expiry in
		// its cookie; its record lives a fixed session lifetime.
		session := d.ExpiresAt.Sub(d.CreatedAt) < trust.MinDuration || h.trust.Duration() == trust.SessionOnly
		dv := DeviceView{ID: d.ID, Label: d.Label, Added: fmt.Sprintf(t.Added, h.date(d.CreatedAt)),
			This: this != "" && d.ID == this, Expires: fmt.Sprintf(t.Expires, h.date(d.ExpiresAt))}
		if session {
			dv.Expires = t.ExpiresSession
		}
		if d.IP != "" {
			dv.Network = fmt.Sprintf(t.Network, d.IP)
		}
		if !d.LastSeenAt.IsZero() {
			dv.LastSeen = fmt.Sprintf(t.LastSeen, h.dateTime(d.LastSeenAt))
		}
		out.view.List = append(out.view.List, dv)
		out.out = append(out.out, deviceOut{ID: d.ID, Label: d.Label, Network: d.IP, CreatedAt: d.CreatedAt.UTC(),
			LastSeenAt: utc(d.LastSeenAt), ExpiresAt: d.ExpiresAt.UTC(), Session: session, This: dv.This})
	}
	return out, nil
}

// serveDevices (GET settings/devices) lists the trusted devices.
func (h *Handler) serveDevices(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	devs, err := h.devicesView(r, u)
	if err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, struct {
			Devices []deviceOut `json:"trusted_devices"`
		}{devs.out})
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsDevices, h.text.Settings.DevicesTitle, &SettingsView{Devices: devs.view}, nil)
}

// serveRevoke (POST settings/devices/revoke, id) revokes one of the
// user's devices. Another user's device, or one that is gone, is 404 and
// nothing changes.
func (h *Handler) serveRevoke(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	f, err := readSettingsForm(w, r)
	id := f.get("id")
	if err == nil {
		err = h.trust.Revoke(r.Context(), u.ID, id)
	}
	if err != nil {
		h.settingsFail(w, r, "", h.url(routeSettingsDevices), err, nil)
		return
	}
	if this, ok := h.trust.DeviceID(u.ID, h.client(r).DeviceToken); ok && this == id {
		h.trust.ClearCookie(w)
	}
	h.done(w, r, "revoked", h.url(routeSettingsDevices), savedRevoked)
}

// serveRevokeAll (POST settings/devices/revoke-all) revokes every device
// of the user.
func (h *Handler) serveRevokeAll(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	if _, err := readSettingsForm(w, r); err != nil {
		h.settingsFail(w, r, "", h.url(routeSettingsDevices), err, nil)
		return
	}
	if err := h.trust.RevokeAll(r.Context(), u.ID, ""); err != nil {
		h.settingsFail(w, r, "", h.url(routeSettingsDevices), err, nil)
		return
	}
	if hasCookie(r, h.trust.CookieName()) {
		h.trust.ClearCookie(w)
	}
	h.done(w, r, "revoked", h.url(routeSettingsDevices), savedRevokedAll)
}

// ---- forms ----

// settingsForm is the body of a settings POST, a form or a JSON object
// of strings.
type settingsForm map[string]string

func (f settingsForm) get(k string) string { return f[k] }

// readSettingsForm decodes a settings POST: JSON when the Content-Type
// says so (an object whose values are strings), else a form.
func readSettingsForm(w http.ResponseWriter, r *http.Request) (settingsForm, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	out := settingsForm{}
	ctype := r.Header.Get("Content-Type")
	if strings.Contains(ctype, "json") {
		obj, err := readJSONObject(r, ctype)
		if err != nil {
			return out, err
		}
		for k, v := range obj {
			out[k] = v
		}
		return out, nil
	}
	if err := r.ParseForm(); err != nil {
		return out, bodyErr(err)
	}
	for k := range r.PostForm {
		out[k] = r.PostForm.Get(k)
	}
	return out, nil
}
