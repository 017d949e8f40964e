package twofactorhttp

import (
	"cmp"
	"context"
	"encoding/base64"
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
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/trust"
)

// The settings pages: the signed-in user's own second factors, under
// <prefix>settings/. Every page answers JSON on the same route as well.
// A change that removes or replaces a factor, makes new codes, or adds a
// factor when the user already has one needs a fresh step-up: the page
// sends the browser through the step-up challenge and back (a JSON client
// gets 401 step_up_required, as from the StepUp middleware).

// Pages of the settings, by template file name without ".html".
const (
	PageSettings        = "settings_overview" // the user's factors, default method, codes left, devices
	PageSettingsMethod  = "settings_method"   // a method's page, for a method without a page of its own (GenericUI)
	PageSettingsTOTP    = "settings_totp"     // the authenticator app: status, QR code, code step
	PageSettingsPhone   = "settings_phone"    // the phone for SMS: number form, code step
	PageSettingsKeys    = "settings_keys"     // security keys: list, add, rename
	PageSettingsEmail   = "settings_email"    // email codes: status, turn on
	PageSettingsBackup  = "settings_backup"   // backup codes: how many are left, make new ones
	PageSettingsCodes   = "settings_codes"    // a new set of codes, shown once
	PageSettingsDevices = "settings_devices"  // trusted devices: list, revoke
	PageSettingsConfirm = "settings_confirm"  // confirm a removal, a new set of codes, or turning two-step verification off
)

var settingsPages = []string{PageSettings, PageSettingsMethod, PageSettingsTOTP, PageSettingsPhone, PageSettingsKeys,
	PageSettingsEmail, PageSettingsBackup, PageSettingsCodes, PageSettingsDevices, PageSettingsConfirm}

// Routes of the settings, relative to the prefix. A method's page is
// settings/<its MethodUI's route>, with /verify, /resend and /rename.
const (
	routeSettings          = "settings/"
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
	CodeUnknownUser  = "unknown_user"  // 404 on the administrator pages, 403 for the signed-in user: a user id the host's Users does not know
	// CodeConfirmRequired is 400: revoking every trusted device without
	// "confirm"; "next" is the page that asks.
	CodeConfirmRequired = "confirm_required"
)

// SettingsView is what the settings pages show. Each page fills the
// fields it needs; the others are zero.
type SettingsView struct {
	Base   string // the overview's URL ("/2fa/settings/")
	Notice string // a change just saved ("Your authenticator app is set up."), or ""

	// The overview. Its status line says whether two-step verification is
	// On, and Since when ("Since 2 Mar 2026", or ""); when it is off,
	// SetUp is the page of the method to set up first, or "".
	On    bool
	Since string
	SetUp string
	// Grace says, when it is off, what is left of an enrollment grace
	// the user's policy gives ("You have 5 days left to set up two-step
	// verification."), or "".
	Grace string
	// Methods are the methods the user may have, set up or not, the
	// recovery ones (Recovery) last. A method the user cannot turn on
	// (email codes without an address) is left out.
	Methods []FactorView
	Default string       // "Default method: %s" (the default method's name), or ""
	Devices *DevicesView // nil without a trusted-device manager
	// Disable is the page that turns two-step verification off, or ""
	// when the user has nothing to turn off or the policy requires a
	// second factor.
	Disable string
	// Notifications names the security emails the user gets
	// (Config.Notifications), or nil when the account has no email
	// address to get them at.
	Notifications []string

	// A method's page.
	Factor    *FactorView    // the method and its enrollments
	Enrolling *EnrollingView // a set-up waiting for its code: what to look at (a QR code, a secret)
	Code      *CodeView      // the form of a confirmation code
	Phone     *PhoneView     // the phone number form
	Email     *EmailView     // email codes
	Keys      *KeysView      // security keys
	Codes     []string       // a new set of codes, shown once
	// Download is the new set's text file, on the page that shows it.
	Download string
	// The header of a new set of codes, on its page, printed and in its
	// text file: the product (SettingsStrings.Product, else the
	// authenticator app's issuer, or ""), "Account: ada", "Generated 2 Mar
	// 2026 09:00 UTC".
	Product, Account, Generated string
	// Confirm asks before a change.
	Confirm *ConfirmView
	// StepUp is set when the page's change first needs a fresh
	// verification: its button leads through the step-up challenge.
	StepUp bool
}

// FactorView is one method on the settings pages.
type FactorView struct {
	Method twofactor.Method
	MethodText
	URL         string // its settings page, or "" on the administrator's pages
	Enrollments []EnrollmentView
	Default     bool // the policy's default method
	CanAdd      bool // the user may set it up (or add another)
	// Implicit is set when the method follows the account (an email
	// factor counting the account's address): it is neither added nor
	// removed here.
	Implicit bool
	// Recovery is set for a fallback (backup codes): it does not count
	// as a second factor.
	Recovery bool
	// Remaining is how many codes are left, for a factor that counts them
	// (twofactor.CodeCounter), else -1; Status says it in words ("7
	// backup codes left."), and Low is set at two or fewer.
	Remaining int
	Status    string
	Low       bool
	// New is the page that asks before making a new set of codes, or "".
	New string
	// Rename is the rename form's action (fields id, name), or "" when
	// the method's enrollments cannot be renamed here.
	Rename string
	// Summary is the overview's detail of a method set up, so that its row
	// does not repeat its name: the one enrollment's label (a masked number
	// or address) or, when the label is the method's name, when it was
	// added; how many there are ("2 keys"); for a factor that counts codes,
	// Status.
	Summary string
	// LastUsed is the last use of any of its enrollments ("Last used 3 Mar
	// 2026 09:15 UTC"), or "".
	LastUsed string
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
	// Kind says what a security key is, when it is a passkey: synced
	// across the user's devices, or kept on one.
	Kind string
}

// EnrollingView is a set-up waiting for its code: what BeginEnroll gave
// the user to look at. Only a set-up's page ever shows a secret.
type EnrollingView struct {
	QR     template.URL // a data: URI of the PNG QR code, for <img src>, or ""
	URI    template.URL // the otpauth:// URI, for a link on a phone, or ""
	Secret string       // the secret in groups of four ("JBSW Y3DP ..."), or ""
	// Groups is Secret's groups of four, which the page keeps whole when it
	// wraps the secret on a narrow screen.
	Groups  []string
	Expires string // "Finish before 09:10 UTC, or start again."
	Step    string // "scan" (the QR code, then Next) or "code" (the code form alone)
	Next    string // the code step's URL
	Back    string // the QR step's URL
}

// CodeView is the form of a confirmation code.
type CodeView struct {
	Action string           // where it posts
	Method twofactor.Method // the method being set up
	Label  string           // the input's label
	CodeField
	Sent   *SentView // where the code went, or nil
	Resend string    // the resend form's action, or ""
	Other  *Link     // another number, or nil
}

// PhoneView is the phone number form.
type PhoneView struct {
	Action  string       // where it posts
	Regions []RegionView // the country picker
	// Held is the masked number of a set-up held for its step-up: the
	// page offers to send its code with one click (the number itself
	// stays in the sealed set-up cookie, never on a page), or another
	// number.
	Held string
	// Other is the page with the empty number form, when Held is set.
	Other string
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
	StepUp    string // the step-up page, coming back to this one
	Done      string // where the page goes once a key was added
	ShowCodes string // where it goes when backup codes came with the key
	// Passkeys is set when the factor signs in with passkeys
	// (twofactor.Discoverer): the page offers to create one.
	Passkeys bool
	// Signal is the JSON the security-key script gives the browser's
	// WebAuthn signal methods: the user's handle, the credentials the
	// site still accepts and the user's names, so that a password manager
	// stops offering a passkey removed here. Empty when the factor cannot
	// say.
	Signal string
}

// DevicesView lists the user's trusted devices.
type DevicesView struct {
	URL       string // the trusted devices page
	List      []DeviceView
	Revoke    string // the revoke form's action (field "id")
	RevokeAll string // the page that asks before revoking every device
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
	// Confirmed is the hidden field "confirm", for a change its POST
	// refuses without it (revoking every trusted device), or "".
	Confirmed string
	Cancel    string // where Cancel leads
	// Danger marks a change that takes something away (a removal,
	// turning two-step verification off, revoking every device): its
	// button is styled as such.
	Danger bool
}

// settingsPage renders a settings page. keyScript loads the security-key
// script.
func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, status int, page, title string, v *SettingsView, e *ErrorView, keyScript bool) {
	v.Base = h.url(routeSettings)
	if v.Notice == "" {
		v.Notice = h.notice(r, r.URL.Query().Get("done"))
	}
	h.render(w, r, status, &PageData{Page: page, Title: title, Settings: v, Error: e, WebAuthn: keyScript})
}

// notice returns the notice of a change, by the key in ?done=: one of
// SettingsStrings.Saved, or for a method's set-up confirmed (the key is
// its route) "<name> is set up.".
func (h *Handler) notice(r *http.Request, key string) string {
	t := &h.tr(r).Settings
	if n, ok := t.Saved[key]; ok || key == "" {
		return n
	}
	if ui, ok := h.ui.byRoute[key]; ok {
		return fmt.Sprintf(t.SetUpDone, h.tr(r).method(ui.Method).Name)
	}
	return ""
}

// settingsProblem classifies err as classify does, with the errors of the
// settings pages.
func (h *Handler) settingsProblem(r *http.Request, err error, m twofactor.Method) problem {
	t := &h.tr(r).Settings
	var fe *formError
	switch {
	case errors.As(err, &fe):
		return problem{http.StatusBadRequest, ErrorBody{Error: fe.code, Message: fe.message}}
	case errors.Is(err, errImplicit):
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
	return h.classify(r, err, m)
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
	p := h.settingsProblem(r, err, m)
	if p.status == http.StatusInternalServerError {
		h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: settings request failed",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	if p.body.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(p.body.RetryAfter))
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, p.status, p.body)
		return
	}
	ev := &ErrorView{Code: p.body.Error, Message: p.body.Message, RetryAfter: p.body.RetryAfter}
	if again != nil && p.status != http.StatusInternalServerError {
		again(p.status, ev)
		return
	}
	d := &PageData{Page: PageMessage, Title: h.tr(r).Settings.Title, Message: p.body.Message, Error: ev,
		Link: &Link{URL: h.url(routeSettings), Text: h.tr(r).Settings.Back}}
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
		h.writeJSON(w, r, http.StatusUnauthorized, ErrorBody{Error: CodeStepUpRequired, Message: h.tr(r).StepUpRequired, Next: h.url(routeStepUp)})
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

// needsStepUp reports whether a change needs a fresh step-up first: the
// user has an enrollment and no fresh proof.
func (h *Handler) needsStepUp(r *http.Request, u twofactor.User, es []twofactor.Enrollment) bool {
	if len(es) == 0 {
		return false
	}
	_, err := h.freshProof(r, u)
	return err != nil
}

// done redirects a browser to path with the notice of key; a JSON client
// gets {"ok": true, "status": status, "next": path}.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, status, path, key string) {
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, doneJSON{OK: true, Status: status, Next: path})
		return
	}
	if key != "" {
		path += "?done=" + url.QueryEscape(key)
	}
	seeOther(w, path)
}

// lowCodes is the count of codes left at which the pages prompt for a
// new set.
const lowCodes = 2

// factorView builds the view of ui from the user's enrollments es.
func (h *Handler) factorView(ctx context.Context, ui *methodUI, u twofactor.User, es []twofactor.Enrollment) (FactorView, error) {
	t := &h.trc(ctx).Settings
	_, enroller := ui.enroller()
	fv := FactorView{Method: ui.Method, MethodText: h.trc(ctx).method(ui.Method), URL: h.settingsURL(ui),
		Default: h.policyIn(ctx).Default == ui.Method, Implicit: ui.implicit(), Recovery: ui.recovery(), Remaining: -1,
		CanAdd: enroller && !ui.implicit() && h.allowed(ctx, ui.Method)}
	for _, e := range es {
		if e.Method != ui.Method {
			continue
		}
		ev := EnrollmentView{ID: e.ID, Label: shownLabel(e, fv.Name), AddedAt: e.CreatedAt, LastUsedAt: e.LastUsedAt, LastUsed: t.NeverUsed}
		switch {
		case e.Passkey && e.Synced:
			ev.Kind = t.PasskeySynced
		case e.Passkey:
			ev.Kind = t.PasskeyDevice
		}
		if !e.CreatedAt.IsZero() {
			ev.Added = fmt.Sprintf(t.Added, h.trc(ctx).date(e.CreatedAt))
		}
		if !e.LastUsedAt.IsZero() {
			ev.LastUsed = fmt.Sprintf(t.LastUsed, h.trc(ctx).dateTime(e.LastUsedAt))
		}
		if ui.removable() {
			ev.Remove = h.removeURL(ui.Method, e.ID)
		}
		fv.Enrollments = append(fv.Enrollments, ev)
	}
	if _, ok := ui.factor.(twofactor.Renamer); ok {
		fv.Rename = fv.URL + "/rename"
	}
	h.summarize(h.trc(ctx), &fv)
	if cc, ok := ui.factor.(twofactor.CodeCounter); ok {
		n, err := cc.Remaining(ctx, u)
		if err != nil {
			return fv, err
		}
		fv.Remaining, fv.Low = n, n > 0 && n <= lowCodes
		fv.Status = t.BackupNone
		if n > 0 {
			fv.Status = h.trc(ctx).n(t.BackupLeft, n)
		}
		fv.Summary = fv.Status
	}
	ui.kind().row(h, h.trc(ctx), &fv)
	return fv, nil
}

// summarize sets the overview's Summary and LastUsed of fv from its
// enrollments.
// shownLabel is the name the pages show for e: its label, or, when the
// label is its method's English name (Method.Label: the name the library's
// factors give an enrollment its user did not name, totp.DefaultLabel and
// webauthn.DefaultName), name, the method's name in the page's language,
// so that a page in German does not show "Authenticator app".
func shownLabel(e twofactor.Enrollment, name string) string {
	if e.Label == e.Method.Label() {
		return name
	}
	return e.Label
}

func (h *Handler) summarize(tx *Strings, fv *FactorView) {
	t := &tx.Settings
	var last time.Time
	for _, e := range fv.Enrollments {
		if e.LastUsedAt.After(last) {
			last = e.LastUsedAt
		}
	}
	if !last.IsZero() {
		fv.LastUsed = fmt.Sprintf(t.LastUsed, tx.dateTime(last))
	}
	switch n := len(fv.Enrollments); {
	case n > 1:
		fv.Summary = tx.n(t.Count, n)
	case n == 1 && fv.Enrollments[0].Label != "" && fv.Enrollments[0].Label != fv.Name:
		fv.Summary = fv.Enrollments[0].Label
	case n == 1:
		fv.Summary = fv.Enrollments[0].Added
	}
}

func (h *Handler) removeURL(m twofactor.Method, id string) string {
	return h.url(routeSettingsRemove) + "?method=" + url.QueryEscape(string(m)) + "&id=" + url.QueryEscape(id)
}

// factorViews lists the methods the pages list, then the methods of the
// user's enrollments the pages do not list, the recovery ones last.
func (h *Handler) factorViews(ctx context.Context, u twofactor.User, es []twofactor.Enrollment) ([]FactorView, error) {
	// The methods the user's policy allows, and any they have.
	uis := slices.DeleteFunc(slices.Clone(h.ui.list), func(ui *methodUI) bool { return !h.allowed(ctx, ui.Method) })
	for _, e := range es {
		if !slices.ContainsFunc(uis, func(ui *methodUI) bool { return ui.Method == e.Method }) {
			if ui, ok := h.ui.of(h, e.Method); ok {
				uis = append(uis, ui)
			}
		}
	}
	slices.SortStableFunc(uis, func(a, b *methodUI) int { return boolCmp(a.recovery(), b.recovery()) })
	out := make([]FactorView, 0, len(uis))
	for _, ui := range uis {
		fv, err := h.factorView(ctx, ui, u, es)
		if err != nil {
			return nil, err
		}
		out = append(out, fv)
	}
	return out, nil
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
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
	Implicit    bool             `json:"implicit,omitempty"` // follows the account: not added or removed here
	Recovery    bool             `json:"recovery,omitempty"` // a fallback, not a second factor
	Remaining   *int             `json:"remaining,omitempty"`
	Low         bool             `json:"low,omitempty"`
	URL         string           `json:"url,omitempty"`
	Enrollments []enrollmentOut  `json:"enrollments"`
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
	On             bool             `json:"enabled"`        // two-step verification is on: a second factor is set up
	Since          time.Time        `json:"since,omitzero"` // when the first second factor still set up was added
	Methods        []factorOut      `json:"methods"`
	DefaultMethod  twofactor.Method `json:"default_method,omitempty"`
	TrustedDevices []deviceOut      `json:"trusted_devices,omitempty"`
	Disable        string           `json:"disable,omitempty"` // the route that turns two-step verification off
	Notifications  []string         `json:"notifications,omitempty"`
}

func factorJSON(fv FactorView) factorOut {
	out := factorOut{Method: fv.Method, Name: fv.Name, Enrolled: len(fv.Enrollments) > 0, Default: fv.Default,
		CanAdd: fv.CanAdd, Implicit: fv.Implicit, Recovery: fv.Recovery, Low: fv.Low, URL: fv.URL, Enrollments: []enrollmentOut{}}
	if fv.Remaining >= 0 {
		n := fv.Remaining
		out.Remaining = &n
	}
	for _, e := range fv.Enrollments {
		out.Enrollments = append(out.Enrollments, enrollmentOut{ID: e.ID, Label: e.Label, CreatedAt: utc(e.AddedAt), LastUsedAt: utc(e.LastUsedAt)})
	}
	return out
}

func factorsJSON(fvs []FactorView) []factorOut {
	out := make([]factorOut, 0, len(fvs))
	for _, fv := range fvs {
		out = append(out, factorJSON(fv))
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
// was added and last used, the default method, the codes left and the
// trusted devices.
func (h *Handler) serveOverview(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	ctx := r.Context()
	es, err := h.svc.Enrollments(ctx, u)
	var v SettingsView
	if err == nil {
		v.Methods, err = h.factorViews(ctx, u, es)
	}
	var devs devicesOut
	if err == nil {
		devs, err = h.devicesView(r, u)
	}
	if err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	pol := h.policyIn(ctx)
	if pol.Default != "" {
		v.Default = fmt.Sprintf(h.tr(r).Settings.Default, h.tr(r).method(pol.Default).Name)
	}
	v.Methods = slices.DeleteFunc(v.Methods, func(fv FactorView) bool { return h.uiOf(fv.Method).kind().hidden(u, &fv) })
	since := h.status(ctx, &v)
	if !v.On && pol.Required && !pol.Grace.IsZero() {
		// Read only: viewing the page is no prompt, and counts no skip.
		if left, open, err := h.svc.EnrollGrace(ctx, u); err == nil && open {
			until, skips := h.graceWords(r, left)
			v.Grace = cmp.Or(until, skips)
		}
	}
	v.Devices = devs.view
	if !pol.Required && (len(es) > 0 || len(devs.out) > 0) {
		v.Disable = h.url(routeSettingsDisable)
	}
	if h.notices != nil && u.Email != "" {
		v.Notifications = h.notices(r)
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, overviewOut{On: v.On, Since: utc(since), Methods: factorsJSON(v.Methods), DefaultMethod: pol.Default,
			TrustedDevices: devs.out, Disable: v.Disable, Notifications: v.Notifications})
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettings, h.tr(r).Settings.Title, &v, nil, false)
}

// status fills the overview's status line from v.Methods: on with any
// second factor set up (recovery methods do not count), since the first
// of them still set up was added; off, with the method to set up first:
// the policy's default when it can be set up, else the first one that
// can. It returns when it was turned on, or zero.
func (h *Handler) status(ctx context.Context, v *SettingsView) time.Time {
	var since time.Time
	def := h.policyIn(ctx).Default
	for _, fv := range v.Methods {
		if fv.Recovery {
			continue
		}
		for _, e := range fv.Enrollments {
			v.On = true
			if !e.AddedAt.IsZero() && (since.IsZero() || e.AddedAt.Before(since)) {
				since = e.AddedAt
			}
		}
		if fv.CanAdd && fv.URL != "" && (v.SetUp == "" || fv.Method == def) {
			v.SetUp = fv.URL
		}
	}
	if v.On {
		v.SetUp = ""
		if !since.IsZero() {
			v.Since = fmt.Sprintf(h.trc(ctx).Settings.Since, h.trc(ctx).date(since))
		}
	}
	return since
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

// lastRequired reports whether removing an enrollment of ui would leave
// the user, under a policy that requires a second factor, with none.
func (h *Handler) lastRequired(ctx context.Context, ui *methodUI, es []twofactor.Enrollment) bool {
	if !h.policyIn(ctx).Required || ui.recovery() {
		return false
	}
	n := 0
	for _, e := range es {
		if h.allowed(ctx, e.Method) && !h.uiOf(e.Method).recovery() {
			n++
		}
	}
	return n <= 1
}

var errImplicit = errors.New("twofactorhttp: the method follows the account")

// removal reads the method and enrollment of a removal, and checks that
// the pages remove it.
func (h *Handler) removal(m twofactor.Method, id string) (*methodUI, error) {
	ui, ok := h.ui.of(h, m)
	switch {
	case !ok || id == "":
		return nil, twofactor.ErrNotEnrolled
	case ui.implicit():
		return ui, errImplicit
	case !ui.removable():
		return ui, twofactor.ErrNotEnrolled
	}
	return ui, nil
}

// serveRemovePage (GET settings/remove?method=&id=) asks before removing
// an enrollment, after a fresh step-up.
func (h *Handler) serveRemovePage(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	q := r.URL.Query()
	m, id := twofactor.Method(q.Get("method")), q.Get("id")
	ui, err := h.removal(m, id)
	back := h.url(routeSettings)
	if ui != nil {
		back = h.settingsURL(ui)
	}
	var e twofactor.Enrollment
	var es []twofactor.Enrollment
	if err == nil {
		e, es, err = h.findEnrollment(r.Context(), u, m, id)
	}
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	t := &h.tr(r).Settings
	c := &ConfirmView{Message: fmt.Sprintf(t.RemoveTitle, h.tr(r).method(m).Name), Warning: t.RemoveWarn, Danger: true,
		Button: t.Remove, Method: m, ID: id, Cancel: back}
	if h.lastRequired(r.Context(), ui, es) {
		c.Warning = t.RemoveLast
	} else {
		if _, err := h.freshProof(r, u); err != nil {
			h.settingsFail(w, r, m, r.URL.RequestURI(), err, nil)
			return
		}
		c.Action = h.url(routeSettingsRemove)
	}
	fv, err := h.factorView(r.Context(), ui, u, []twofactor.Enrollment{e})
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, factorJSON(fv))
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, &SettingsView{Confirm: c, Factor: &fv}, nil, false)
}

// serveRemove (POST settings/remove, method and id) removes an enrollment
// with the fresh step-up proof (Service.RemoveEnrollment).
func (h *Handler) serveRemove(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	f, err := readSettingsForm(w, r)
	m, id := twofactor.Method(f.get("method")), f.get("id")
	var ui *methodUI
	if err == nil {
		ui, err = h.removal(m, id)
	}
	var gone []byte
	if err == nil {
		// A removed security key's credential id, read first, lets the
		// page tell the browser the site no longer accepts it.
		gone = h.credentialID(r.Context(), ui, u, id)
		err = h.svc.RemoveEnrollment(r.Context(), u, m, id, h.stepUpProof(r, u.ID))
	}
	if err != nil {
		h.settingsFail(w, r, m, h.removeURL(m, id), err, nil)
		return
	}
	h.clearEnrolled(w, r) // the next guarded request looks again
	page := h.settingsURL(ui)
	if len(gone) > 0 && !wantsJSON(r) {
		seeOther(w, page+"?done="+url.QueryEscape(savedRemoved)+"&"+goneParam+"="+base64.RawURLEncoding.EncodeToString(gone))
		return
	}
	h.done(w, r, "removed", page, savedRemoved)
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
	this, _ := h.trust.DeviceID(u.ID, h.client(r).DeviceToken)
	out := devicesOut{view: &DevicesView{URL: h.url(routeSettingsDevices), Revoke: h.url(routeSettingsRevoke),
		RevokeAll: h.url(routeSettingsRevokeAll)}, out: []deviceOut{}}
	for _, d := range ds {
		if d.UserID != u.ID {
			continue
		}
		dv, do := h.deviceView(r, d)
		dv.This = this != "" && d.ID == this
		do.This = dv.This
		out.view.List = append(out.view.List, dv)
		out.out = append(out.out, do)
	}
	return out, nil
}

// deviceView describes one trusted device.
func (h *Handler) deviceView(r *http.Request, d store.Device) (DeviceView, deviceOut) {
	t := &h.tr(r).Settings
	// A device trusted until the browser closes carries no expiry in its
	// cookie; its record lives a fixed session lifetime.
	session := d.ExpiresAt.Sub(d.CreatedAt) < trust.MinDuration || h.trust.Duration() == trust.SessionOnly
	dv := DeviceView{ID: d.ID, Label: d.Label, Added: fmt.Sprintf(t.Added, h.tr(r).date(d.CreatedAt)),
		Expires: fmt.Sprintf(t.Expires, h.tr(r).date(d.ExpiresAt))}
	if session {
		dv.Expires = t.ExpiresSession
	}
	if d.IP != "" {
		dv.Network = fmt.Sprintf(t.Network, d.IP)
	}
	if !d.LastSeenAt.IsZero() {
		dv.LastSeen = fmt.Sprintf(t.LastSeen, h.tr(r).dateTime(d.LastSeenAt))
	}
	return dv, deviceOut{ID: d.ID, Label: d.Label, Network: d.IP, CreatedAt: d.CreatedAt.UTC(),
		LastSeenAt: utc(d.LastSeenAt), ExpiresAt: d.ExpiresAt.UTC(), Session: session}
}

// serveDevices (GET settings/devices) lists the trusted devices.
func (h *Handler) serveDevices(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	devs, err := h.devicesView(r, u)
	if err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, struct {
			Devices []deviceOut `json:"trusted_devices"`
		}{devs.out})
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsDevices, h.tr(r).Settings.DevicesTitle, &SettingsView{Devices: devs.view}, nil, false)
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

// Revoking every trusted device asks first (GET settings/devices/revoke-all)
// and its POST needs the page's "confirm" field: one press of a button
// among the devices would otherwise sign every browser out of its trust.
// It needs no step-up: it only takes away what lets the user skip the
// second step, which whoever holds the session could not use to get more,
// and a user who fears a device was stolen must be able to do it at once,
// even without the factor they would step up with.

// revokeAllOut is the JSON of the confirmation page.
type revokeAllOut struct {
	Message string      `json:"message"`
	Warning string      `json:"warning"`
	Devices []deviceOut `json:"trusted_devices"`
	// Confirm is the field the POST needs: {"confirm": "yes"}.
	Confirm string `json:"confirm"`
}

// confirmValue is what the confirmation page's form sends as "confirm".
const confirmValue = "yes"

// serveRevokeAllPage (GET settings/devices/revoke-all) lists the user's
// trusted devices and asks before revoking all of them.
func (h *Handler) serveRevokeAllPage(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	devs, err := h.devicesView(r, u)
	if err != nil {
		h.settingsFail(w, r, "", h.url(routeSettingsDevices), err, nil)
		return
	}
	t := &h.tr(r).Settings
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, revokeAllOut{Message: t.RevokeAllTitle, Warning: t.RevokeAllWarn, Devices: devs.out, Confirm: confirmValue})
		return
	}
	c := &ConfirmView{Message: t.RevokeAllTitle, Warning: t.RevokeAllWarn, Danger: true, Action: h.url(routeSettingsRevokeAll),
		Button: t.RevokeAll, Confirmed: confirmValue, Cancel: h.url(routeSettingsDevices)}
	if len(devs.out) == 0 {
		c.Warning, c.Action = t.DevicesNone, ""
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, &SettingsView{Confirm: c, Devices: devs.view}, nil, false)
}

// serveRevokeAll (POST settings/devices/revoke-all, confirm) revokes every
// device of the user. Without "confirm" nothing changes: a browser goes to
// the page that asks, a JSON client gets 400 confirm_required.
func (h *Handler) serveRevokeAll(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	f, err := readSettingsForm(w, r)
	if err == nil && !checked(f.get("confirm")) {
		page := h.url(routeSettingsRevokeAll)
		if wantsJSON(r) {
			h.writeJSON(w, r, http.StatusBadRequest, ErrorBody{Error: CodeConfirmRequired, Message: h.tr(r).Settings.RevokeAllTitle, Next: page})
			return
		}
		seeOther(w, page)
		return
	}
	if err == nil {
		err = h.trust.RevokeAll(r.Context(), u.ID, "")
	}
	if err != nil {
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
