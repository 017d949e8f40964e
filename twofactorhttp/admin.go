package twofactorhttp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/trust"
)

// DefaultAdminPrefix is where New mounts the administrator pages when
// AdminConfig.Prefix is empty.
const DefaultAdminPrefix = "/admin/2fa/"

// AdminConfig configures the administrator pages: support staff look a
// user up, see their factors, devices and lockout, reset their two-step
// verification after checking their identity, issue a one-time recovery
// code, lift a lockout, and see the policy with the users who cannot
// comply with it. Users are looked up by id through the Service
// (twofactor.Config.Users), like everywhere else in the layer: an id it
// does not know is 404 unknown_user. Audit events go to the Service's
// Events, with the Service's own.
//
// The pages exist when Actor is set: New mounts them on Config.Mux at
// Prefix, behind Guard.
type AdminConfig struct {
	// Prefix is the path the administrator pages are mounted at; it
	// starts and ends with "/". Empty means "/admin/2fa/".
	Prefix string

	// Guard is the host's administrator check, as middleware: New mounts
	// the pages behind it. The pages check nobody's rights themselves.
	// Required with Actor.
	Guard func(next http.Handler) http.Handler

	// Actor names the administrator making a request ("support:jane"),
	// recorded in the audit events of resets, recovery codes, unlocks and
	// device revocations. A request it names nobody for is refused with
	// 403.
	Actor func(r *http.Request) string

	// Users lists the users the policy page checks (Service.Check), and
	// those without a method a UI lists them for (a phone number). Nil:
	// the policy page shows the policy alone.
	Users func(ctx context.Context) iter.Seq2[twofactor.User, error]
}

// Pages of the administrator, by template file name without ".html".
const (
	PageAdmin       = "admin_index"  // look a user up; the way to the policy
	PageAdminUser   = "admin_user"   // a user's factors, devices and lockout, with reset, recovery code and unlock
	PageAdminCode   = "admin_code"   // a recovery code, shown once
	PageAdminPolicy = "admin_policy" // the policy and the users who cannot comply
)

var adminPages = []string{PageAdmin, PageAdminUser, PageAdminCode, PageAdminPolicy}

// Routes of the administrator pages, relative to AdminConfig.Prefix.
const (
	routeAdmin          = ""
	routeAdminUser      = "user"
	routeAdminReset     = "user/reset"
	routeAdminRecovery  = "user/recovery-code"
	routeAdminUnlock    = "user/unlock"
	routeAdminRevoke    = "user/devices/revoke"
	routeAdminRevokeAll = "user/devices/revoke-all"
	routeAdminPolicy    = "policy"
)

// CodeForbidden (403): an administrator page the request names no
// administrator for (AdminConfig.Actor).
const CodeForbidden = "forbidden"

// AdminView is what the administrator pages show.
type AdminView struct {
	Base   string // the lookup page's URL ("/admin/2fa/")
	Notice string // a change just made, or ""
	Lookup string // the user page's URL: a GET form with the field "id"
	Policy string // the policy page's URL
	// Query is the id typed in the lookup field, shown again when no user
	// has it.
	Query string

	User       *AdminUserView   // the user page
	Code       *AdminCodeView   // a recovery code, shown once
	PolicyView *AdminPolicyView // the policy page
}

// AdminUserView is one user as support staff see them.
type AdminUserView struct {
	ID   string
	Name string // the account name (twofactor.User.AccountName)
	// DisplayName is how the host names the person
	// (twofactor.User.DisplayName), or "": the page is titled with it,
	// else with Name. Email is their address, or "". The page shows the
	// account name and address beside the title when they differ from it.
	DisplayName, Email string
	Factors            []FactorView // each configured method with the user's enrollments, and codes left
	Devices            []DeviceView
	// Lockout is the state of the user's wrong answers in a row: "Not
	// locked out.", "3 wrong codes in a row.", or "Locked out after 10
	// wrong codes" with Locked set and Lifts saying when it ends by
	// itself ("lifts at 12:55 UTC, in 14 minutes").
	Lockout  string
	Lifts    string
	Locked   bool
	Failures int    // wrong answers in a row since the last correct one
	Reset    string // the reset form's action (fields id, reason, identity_checked)
	Recovery string // the recovery code form's action, or "" without backup codes
	// Unlock is the unlock form's action, or "" when there is nothing to
	// lift (no wrong answer in a row).
	Unlock string
	// Revoke and RevokeAll are the actions of the forms that revoke one
	// of the user's trusted devices (fields id, device) or all of them
	// (field id); "" without a trusted-device manager.
	Revoke, RevokeAll string
	Reason            string // the reason typed, when the reset was refused
	// Policy names the user's policy (a key of twofactor.Config.Policies,
	// or AdminStrings.DefaultRule) and Rule says what it asks; Grace says
	// until when the user may still skip enrolling, or "".
	Policy, Rule, Grace string
}

// AdminCodeView is a recovery code shown once.
type AdminCodeView struct {
	Code string // the code
	Text string // "Give this code to the user ... until ..."
	Back string // the user's page
	// ID, Name, DisplayName and Email are the user the code is for, as
	// in AdminUserView.
	ID, Name, DisplayName, Email string
	BackText                     string // the link to the user's page: "Back to Ada Lovelace"
}

// AdminPolicyView is the policy, as configured, and who cannot comply.
type AdminPolicyView struct {
	Fixed     string   // the policy is the configuration
	Allowed   []string // names of the allowed methods; empty: every configured one
	Required  bool
	Default   string   // the default method's name, or ""
	Mandatory []string // names of the methods every user must have
	Trust     string   // how long devices stay trusted, or that they never are
	Choices   []TrustChoice
	Checked   bool // a user list was given and checked
	Users     int  // how many users were checked
	Gaps      []AdminGapView
	// Without lists, for each method whose UI asks for it (a phone
	// number) and the policy requires, the users who do not have it.
	Without []AdminWithoutView
	// Rules are the named policies (twofactor.Config.Policies), by name.
	Rules []AdminRuleView
}

// AdminRuleView is one named policy.
type AdminRuleView struct {
	Name string
	Rule string // what it asks, in words: required or not, the methods, the grace
}

// AdminWithoutView is the users without one method.
type AdminWithoutView struct {
	Method  twofactor.Method
	Heading string // "Users without a phone number"
	Users   []AdminGapView
}

// TrustChoice is one trust duration a product usually offers.
type TrustChoice struct {
	Label   string // "1 week"
	Current bool   // the configured one
}

// AdminGapView is a user who cannot comply.
type AdminGapView struct {
	ID, Name    string // Name is the account name (twofactor.User.AccountName)
	DisplayName string // how the host names the person, or "": listed by it, else by Name
	URL         string // their page
	Problem     string // "No second factor", "Missing: Text message"
}

func (h *Handler) adminURL(route string) string { return h.adminPrefix + route }

var (
	errForbidden   = errors.New("twofactorhttp: no administrator named for the request")
	errUnknownUser = errors.New("twofactorhttp: no such user")
)

// adminFail answers err on an administrator page.
func (h *Handler) adminFail(w http.ResponseWriter, r *http.Request, err error) {
	t := &h.tr(r).Admin
	var p problem
	switch {
	case errors.Is(err, errForbidden):
		p = problem{http.StatusForbidden, ErrorBody{Error: CodeForbidden, Message: t.Forbidden}}
	case errors.Is(err, errUnknownUser):
		p = problem{http.StatusNotFound, ErrorBody{Error: CodeUnknownUser, Message: t.UnknownUser}}
	case errors.Is(err, trust.ErrNotFound):
		p = problem{http.StatusNotFound, ErrorBody{Error: CodeNotFound, Message: t.DeviceNotFound}}
	default:
		p = h.settingsProblem(r, err, "")
	}
	if p.status == http.StatusInternalServerError {
		h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: administrator request failed",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, p.status, p.body)
		return
	}
	e := &ErrorView{Code: p.body.Error, Message: p.body.Message}
	if errors.Is(err, errUnknownUser) {
		// The lookup page again, with the id typed, to correct it.
		h.adminPage(w, r, p.status, PageAdmin, t.Title, &AdminView{Query: adminQuery(r)}, e)
		return
	}
	d := &PageData{Page: PageMessage, Title: t.Title, Message: p.body.Message, Error: e,
		Link: &Link{URL: h.adminURL(routeAdmin), Text: t.Back}}
	if p.status != http.StatusForbidden {
		// Still the administrator's pages: the host's layout keeps its
		// navigation for them (PageData.Admin).
		d.Admin = h.adminView(&AdminView{})
	}
	h.render(w, r, p.status, d)
}

// adminQuery is the id the request looked up, as typed, for the lookup
// field: at most the longest id there is.
func adminQuery(r *http.Request) string {
	id := strings.TrimSpace(r.FormValue("id"))
	if len(id) > twofactor.MaxUserIDLen || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// adminView fills the URLs every administrator page links to.
func (h *Handler) adminView(v *AdminView) *AdminView {
	v.Base, v.Lookup, v.Policy = h.adminURL(routeAdmin), h.adminURL(routeAdminUser), h.adminURL(routeAdminPolicy)
	return v
}

func (h *Handler) adminPage(w http.ResponseWriter, r *http.Request, status int, page, title string, v *AdminView, e *ErrorView) {
	h.render(w, r, status, &PageData{Page: page, Title: title, Admin: h.adminView(v), Error: e})
}

// lookup finds the user named by id, through the Service.
func (h *Handler) lookup(r *http.Request, id string) (twofactor.User, error) {
	u, err := h.lookupUser(r, strings.TrimSpace(id))
	if errors.Is(err, twofactor.ErrUnknownUser) {
		err = fmt.Errorf("%w: %w", errUnknownUser, err)
	}
	return u, err
}

// serveAdminIndex (GET /) is the lookup form; ?id= goes to that user.
func (h *Handler) serveAdminIndex(w http.ResponseWriter, r *http.Request, _ string) {
	if id := r.URL.Query().Get("id"); id != "" {
		seeOther(w, h.adminUserURL(id))
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, struct {
			User   string `json:"user"`
			Policy string `json:"policy"`
		}{h.adminURL(routeAdminUser) + "?id=", h.adminURL(routeAdminPolicy)})
		return
	}
	h.adminPage(w, r, http.StatusOK, PageAdmin, h.tr(r).Admin.Title, &AdminView{}, nil)
}

func (h *Handler) adminUserURL(id string) string {
	return h.adminURL(routeAdminUser) + "?id=" + url.QueryEscape(id)
}

type lockoutOut struct {
	Failures int       `json:"failures"`
	Locked   bool      `json:"locked"`
	Until    time.Time `json:"until,omitzero"`
}

type adminUserOut struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	DisplayName    string      `json:"display_name,omitempty"`
	Methods        []factorOut `json:"methods"`
	TrustedDevices []deviceOut `json:"trusted_devices"`
	Lockout        lockoutOut  `json:"lockout"`
	Policy         string      `json:"policy"` // "" for Config.Policy
	Grace          *graceOut   `json:"grace,omitempty"`
}

// graceOut is what is left of a user's enrollment grace.
type graceOut struct {
	Until     *time.Time `json:"until,omitempty"`
	SkipsLeft *int       `json:"skips_left,omitempty"`
}

func graceJSON(g *twofactor.GraceLeft) *graceOut {
	if g == nil {
		return nil
	}
	out := &graceOut{}
	if !g.Until.IsZero() {
		until := g.Until.UTC()
		out.Until = &until
	}
	if g.SkipsLeft >= 0 {
		n := g.SkipsLeft
		out.SkipsLeft = &n
	}
	return out
}

// serveAdminUser (GET /user?id=) shows a user's factors, devices and
// lockout, with the reset, recovery code and unlock forms.
func (h *Handler) serveAdminUser(w http.ResponseWriter, r *http.Request, _ string) {
	h.adminUserPage(w, r, r.URL.Query().Get("id"), http.StatusOK, nil, "")
}

func (h *Handler) adminUserPage(w http.ResponseWriter, r *http.Request, id string, status int, e *ErrorView, reason string) {
	ctx := r.Context()
	t := &h.tr(r).Admin
	u, err := h.lookup(r, id)
	var lo twofactor.Lockout
	if err == nil {
		lo, err = h.svc.Lockout(ctx, u.ID)
	}
	v := &AdminUserView{ID: u.ID, Name: u.AccountName(), DisplayName: u.DisplayName, Email: u.Email,
		Reset: h.adminURL(routeAdminReset), Reason: reason, Failures: lo.Failures}
	out := adminUserOut{ID: u.ID, Name: u.AccountName(), DisplayName: u.DisplayName, Methods: []factorOut{}, TrustedDevices: []deviceOut{},
		Lockout: lockoutOut{Failures: lo.Failures, Locked: lo.Locked, Until: utc(lo.Until)}}
	if err == nil {
		// The methods listed are those the user's policy allows, and
		// any they have.
		r, err = h.withPolicy(r, u)
	}
	if err == nil {
		err = h.adminFactors(r, u, v, &out)
	}
	if err == nil {
		err = h.adminPolicy(r, u, v, &out)
	}
	if err != nil {
		h.adminFail(w, r, err)
		return
	}
	h.lockoutView(r, v, lo)
	if wantsJSON(r) {
		if e != nil {
			h.writeJSON(w, r, status, ErrorBody{Error: e.Code, Message: e.Message})
			return
		}
		h.writeJSON(w, r, http.StatusOK, out)
		return
	}
	av := &AdminView{User: v, Notice: t.Done[r.URL.Query().Get("done")]}
	h.adminPage(w, r, status, PageAdminUser, fmt.Sprintf(t.UserTitle, cmp.Or(v.DisplayName, v.Name)), av, e)
}

// adminPolicy fills the user's policy and, when they have no second
// factor and are within its grace, what is left of it.
func (h *Handler) adminPolicy(r *http.Request, u twofactor.User, v *AdminUserView, out *adminUserOut) error {
	name, pol, err := h.svc.PolicyFor(r.Context(), u)
	if err != nil {
		return err
	}
	out.Policy = name
	v.Policy, v.Rule = cmp.Or(name, h.tr(r).Admin.DefaultRule), h.ruleText(r, pol)
	if !pol.Required || pol.Grace.IsZero() {
		return nil
	}
	if _, has, err := h.hasPrimary(r, u); err != nil || has {
		return err
	}
	left, open, err := h.svc.EnrollGrace(r.Context(), u)
	if err != nil || !open {
		return err
	}
	v.Grace, out.Grace = h.graceText(r, &left), graceJSON(&left)
	return nil
}

// ruleText says what a policy asks.
func (h *Handler) ruleText(r *http.Request, p twofactor.Policy) string {
	t := &h.tr(r).Admin
	parts := []string{t.RuleOptional}
	if p.Required {
		parts[0] = t.RuleRequired
	}
	if p.Methods != nil {
		var names []string
		for _, m := range p.Methods {
			names = append(names, h.tr(r).method(m).Name)
		}
		parts = append(parts, fmt.Sprintf(t.RuleMethods, strings.Join(names, h.tr(r).ListSep)))
	}
	if g := p.Grace; !g.IsZero() {
		var limits []string
		if !g.Until.IsZero() {
			limits = append(limits, fmt.Sprintf(t.GraceDate, h.tr(r).date(g.Until)))
		}
		if g.Days > 0 {
			limits = append(limits, h.tr(r).n(t.GraceDays, g.Days))
		}
		if g.Skips > 0 {
			limits = append(limits, h.tr(r).n(t.GraceMax, g.Skips))
		}
		parts = append(parts, fmt.Sprintf(t.GraceRule, strings.Join(limits, h.tr(r).ListSep)))
	}
	return strings.Join(parts, " ")
}

// graceText says what is left of a user's grace, for support staff.
func (h *Handler) graceText(r *http.Request, g *twofactor.GraceLeft) string {
	return h.graceTextIn(h.tr(r), g)
}

func (h *Handler) graceTextIn(tx *Strings, g *twofactor.GraceLeft) string {
	t := &tx.Admin
	var parts []string
	if !g.Until.IsZero() {
		parts = append(parts, fmt.Sprintf(t.GraceUntil, tx.dateTime(g.Until)))
	}
	if g.SkipsLeft >= 0 {
		parts = append(parts, fmt.Sprintf(t.GraceSkips, g.SkipsLeft))
	}
	return strings.Join(parts, " ")
}

// lockoutView says the user's lockout as support staff read it: how many
// wrong answers led to it, and when it lifts by itself, as a time and a
// wait from now. The unlock form is there when there is something to
// lift.
func (h *Handler) lockoutView(r *http.Request, v *AdminUserView, lo twofactor.Lockout) {
	t := &h.tr(r).Admin
	switch {
	case lo.Locked:
		v.Locked, v.Lockout = true, h.tr(r).n(t.LockedAfter, lo.Failures)
		now, until := h.now().UTC(), lo.Until.UTC()
		at := h.tr(r).dateTime(until)
		if y, m, d := now.Date(); until.Year() == y && until.Month() == m && until.Day() == d {
			at = h.tr(r).Dates.Format(until, cmp.Or(t.Time, h.tr(r).Settings.DateTime))
		}
		v.Lifts = fmt.Sprintf(t.Lifts, at, h.tr(r).in(until.Sub(now)))
	case lo.Failures > 0:
		v.Lockout = h.tr(r).n(t.Failures, lo.Failures)
	default:
		v.Lockout = t.NotLocked
	}
	if lo.Locked || lo.Failures > 0 {
		v.Unlock = h.adminURL(routeAdminUnlock)
	}
}

// adminFactors fills the user's factors, recovery code form and trusted
// devices, as support staff see them: nothing to change there.
func (h *Handler) adminFactors(r *http.Request, u twofactor.User, v *AdminUserView, out *adminUserOut) error {
	ctx := r.Context()
	es, err := h.svc.Enrollments(ctx, u)
	if err != nil {
		return err
	}
	fvs, err := h.factorViews(ctx, u, es)
	if err != nil {
		return err
	}
	for _, fv := range fvs {
		fv.CanAdd, fv.URL, fv.New, fv.Rename = false, "", "", ""
		for i := range fv.Enrollments {
			fv.Enrollments[i].Remove = ""
		}
		v.Factors = append(v.Factors, fv)
		out.Methods = append(out.Methods, factorJSON(fv))
	}
	if _, ok := h.recoveryIssuer(); ok {
		v.Recovery = h.adminURL(routeAdminRecovery)
	}
	if h.trust == nil {
		return nil
	}
	v.Revoke, v.RevokeAll = h.adminURL(routeAdminRevoke), h.adminURL(routeAdminRevokeAll)
	ds, err := h.trust.List(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, d := range ds {
		dv, do := h.deviceView(r, d)
		v.Devices = append(v.Devices, dv)
		out.TrustedDevices = append(out.TrustedDevices, do)
	}
	return nil
}

// recoveryIssuer returns the first factor of the pages that issues
// recovery codes (twofactor.RecoveryIssuer).
func (h *Handler) recoveryIssuer() (twofactor.RecoveryIssuer, bool) {
	for _, ui := range h.ui.list {
		if ri, ok := ui.factor.(twofactor.RecoveryIssuer); ok {
			return ri, true
		}
	}
	return nil, false
}

// adminForm reads an administrator POST and looks its user up.
func (h *Handler) adminForm(w http.ResponseWriter, r *http.Request) (settingsForm, twofactor.User, bool) {
	f, err := readSettingsForm(w, r)
	var u twofactor.User
	if err == nil {
		u, err = h.lookup(r, f.get("id"))
	}
	if err != nil {
		h.adminFail(w, r, err)
		return f, u, false
	}
	return f, u, true
}

// serveAdminReset (POST /user/reset, id, reason, identity_checked=on)
// resets the user's two-step verification (Service.AdminReset, audited
// with the actor and the reason). It needs a reason and the ticked
// identity check: without either, the page asks again (400).
func (h *Handler) serveAdminReset(w http.ResponseWriter, r *http.Request, actor string) {
	f, u, ok := h.adminForm(w, r)
	if !ok {
		return
	}
	t := &h.tr(r).Admin
	reason := strings.TrimSpace(f.get("reason"))
	var msg string
	switch {
	case reason == "":
		msg = t.ReasonMissing
	case !checked(f.get("identity_checked")):
		msg = t.IdentityMissing
	case len(reason) > 1000:
		msg = t.ReasonMissing
	}
	if msg != "" {
		if wantsJSON(r) {
			h.writeJSON(w, r, http.StatusBadRequest, ErrorBody{Error: CodeBadRequest, Message: msg})
			return
		}
		h.adminUserPage(w, r, u.ID, http.StatusBadRequest, &ErrorView{Code: CodeBadRequest, Message: msg}, reason)
		return
	}
	if err := h.svc.AdminReset(r.Context(), u, actor, stripControl(reason)); err != nil {
		h.adminFail(w, r, err)
		return
	}
	h.adminDone(w, r, u.ID, "reset")
}

// serveAdminUnlock (POST /user/unlock, id) lifts the user's lockout
// (Service.Unlock, audited).
func (h *Handler) serveAdminUnlock(w http.ResponseWriter, r *http.Request, actor string) {
	_, u, ok := h.adminForm(w, r)
	if !ok {
		return
	}
	if err := h.svc.Unlock(r.Context(), u.ID, actor); err != nil {
		h.adminFail(w, r, err)
		return
	}
	h.adminDone(w, r, u.ID, "unlocked")
}

// Keys of AdminStrings.Done for the device revocations.
const (
	adminRevoked    = "revoked"
	adminRevokedAll = "revoked_all"
)

// serveAdminRevoke (POST /user/devices/revoke, id, device) ends the trust
// of one of the user's devices. A device that is not the user's, or no
// longer trusted, is 404 and nothing changes.
func (h *Handler) serveAdminRevoke(w http.ResponseWriter, r *http.Request, actor string) {
	f, u, ok := h.adminForm(w, r)
	if !ok {
		return
	}
	device := strings.TrimSpace(f.get("device"))
	if err := h.trust.Revoke(r.Context(), u.ID, device); err != nil {
		h.adminFail(w, r, err)
		return
	}
	h.adminAudit(r, u.ID, actor, 1, map[string]string{event.DetailDevice: deviceRef(device)})
	h.adminDone(w, r, u.ID, adminRevoked)
}

// serveAdminRevokeAll (POST /user/devices/revoke-all, id) ends the trust
// of every device of the user.
func (h *Handler) serveAdminRevokeAll(w http.ResponseWriter, r *http.Request, actor string) {
	_, u, ok := h.adminForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	ds, err := h.trust.List(ctx, u.ID)
	if err == nil {
		err = h.trust.RevokeAll(ctx, u.ID, trust.ReasonRevoked)
	}
	if err != nil {
		h.adminFail(w, r, err)
		return
	}
	h.adminAudit(r, u.ID, actor, len(ds), nil)
	h.adminDone(w, r, u.ID, adminRevokedAll)
}

// adminAudit records a revocation of devices by the pages, with the
// actor, through the Service's Events.
func (h *Handler) adminAudit(r *http.Request, userID, actor string, devices int, details map[string]string) {
	h.env.Events.Emit(r.Context(), event.Event{Type: event.AdminAction, Time: h.now(), UserID: userID,
		Actor: actor, Action: event.ActionRevokeDevices, Count: devices, Details: details})
}

// deviceRef is the part of a device id an audit event carries, as in the
// trust package's own events: enough to tell devices apart, not the whole
// id.
func deviceRef(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (h *Handler) adminDone(w http.ResponseWriter, r *http.Request, id, status string) {
	next := h.adminUserURL(id)
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, doneJSON{OK: true, Status: status, Next: next})
		return
	}
	seeOther(w, next+"&done="+status)
}

type recoveryOut struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// serveAdminRecovery (POST /user/recovery-code, id) issues a one-time
// recovery code for the user and shows it, once.
func (h *Handler) serveAdminRecovery(w http.ResponseWriter, r *http.Request, actor string) {
	_, u, ok := h.adminForm(w, r)
	if !ok {
		return
	}
	ri, ok := h.recoveryIssuer()
	if !ok {
		h.adminFail(w, r, errNotFound)
		return
	}
	code, exp, err := ri.IssueRecoveryCode(r.Context(), u, actor)
	if err != nil {
		h.adminFail(w, r, err)
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, recoveryOut{Code: code, ExpiresAt: exp.UTC()})
		return
	}
	t := &h.tr(r).Admin
	h.adminPage(w, r, http.StatusOK, PageAdminCode, t.RecoveryTitle, &AdminView{Code: &AdminCodeView{Code: code,
		Text: fmt.Sprintf(t.RecoveryShown, h.tr(r).dateTime(exp)), Back: h.adminUserURL(u.ID),
		ID: u.ID, Name: u.AccountName(), DisplayName: u.DisplayName, Email: u.Email,
		BackText: fmt.Sprintf(t.BackTo, cmp.Or(u.DisplayName, u.AccountName()))}}, nil)
}

type policyOut struct {
	Methods   []twofactor.Method `json:"allowed_methods"` // empty: every configured method
	Required  bool               `json:"required"`
	Default   twofactor.Method   `json:"default_method,omitempty"`
	Mandatory []twofactor.Method `json:"mandatory_methods"`
	// TrustSeconds is how long a device stays trusted: 0 until the
	// browser closes, -1 when devices are never trusted.
	TrustSeconds int64    `json:"trust_seconds"`
	Checked      bool     `json:"checked"`
	Users        int      `json:"users_checked"`
	Gaps         []gapOut `json:"cannot_comply"`
	// Without lists, by method, the users who do not have a method a UI
	// asks the list for (a phone number), when the policy requires that
	// method.
	Without    map[twofactor.Method][]userOut `json:"without,omitempty"`
	Configured []twofactor.Method             `json:"configured_methods"`
}

type gapOut struct {
	User     userOut            `json:"user"`
	NoFactor bool               `json:"no_factor,omitempty"`
	Missing  []twofactor.Method `json:"missing,omitempty"`
	Policy   string             `json:"policy,omitempty"` // the user's named policy, "" for Config.Policy
	Grace    *graceOut          `json:"grace,omitempty"`  // what is left of the grace of a user without a factor
}

type userOut struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
}

// gapView and gapUser are u as the policy page lists them.
func (h *Handler) gapView(u twofactor.User) AdminGapView {
	return AdminGapView{ID: u.ID, Name: u.AccountName(), DisplayName: u.DisplayName, URL: h.adminUserURL(u.ID)}
}

func gapUser(u twofactor.User) userOut {
	return userOut{ID: u.ID, Name: u.AccountName(), DisplayName: u.DisplayName}
}

// maxListed bounds the users the policy page lists in each list.
const maxListed = 500

// serveAdminPolicy (GET /policy) shows the policy as configured: the
// allowed, default and mandatory methods and how long devices stay
// trusted, with the users who cannot comply (Service.Check over
// AdminConfig.Users) and those without a phone number (or another method
// whose UI asks for the list).
func (h *Handler) serveAdminPolicy(w http.ResponseWriter, r *http.Request, _ string) {
	ctx := r.Context()
	t := &h.tr(r).Admin
	pol := h.svc.Policy()
	v := &AdminPolicyView{Fixed: t.PolicyFixed, Required: pol.Required}
	out := policyOut{Methods: slices.Clone(pol.Methods), Required: pol.Required, Default: pol.Default,
		Mandatory: slices.Clone(pol.Mandatory), Gaps: []gapOut{}}
	if out.Methods == nil {
		out.Methods = []twofactor.Method{}
	}
	if out.Mandatory == nil {
		out.Mandatory = []twofactor.Method{}
	}
	out.Configured = []twofactor.Method{}
	for _, ui := range h.ui.list {
		out.Configured = append(out.Configured, ui.Method)
	}
	for _, m := range pol.Methods {
		v.Allowed = append(v.Allowed, h.tr(r).method(m).Name)
	}
	for _, m := range pol.Mandatory {
		v.Mandatory = append(v.Mandatory, h.tr(r).method(m).Name)
	}
	if pol.Default != "" {
		v.Default = h.tr(r).method(pol.Default).Name
	}
	h.trustChoices(r, v, &out)
	pols := h.svc.Policies()
	for _, name := range slices.Sorted(maps.Keys(pols)) {
		v.Rules = append(v.Rules, AdminRuleView{Name: name, Rule: h.ruleText(r, pols[name])})
	}
	if h.admin.Users != nil {
		if err := h.checkUsers(ctx, v, &out); err != nil {
			h.adminFail(w, r, err)
			return
		}
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, out)
		return
	}
	h.adminPage(w, r, http.StatusOK, PageAdminPolicy, t.Policy, &AdminView{PolicyView: v}, nil)
}

// trustChoices fills the trust duration and the usual choices.
func (h *Handler) trustChoices(r *http.Request, v *AdminPolicyView, out *policyOut) {
	t := &h.tr(r).Admin
	var cur time.Duration
	if h.trust == nil {
		v.Trust, out.TrustSeconds = t.TrustOff, -1
	} else {
		cur = h.trust.Duration()
		if cur == trust.SessionOnly {
			v.Trust = t.SessionOnly
		} else {
			v.Trust = h.tr(r).span(cur)
			out.TrustSeconds = int64(cur / time.Second)
		}
	}
	for _, d := range []time.Duration{trust.SessionOnly, trust.Day, trust.Week, trust.Month} {
		c := TrustChoice{Label: t.SessionOnly, Current: h.trust != nil && d == cur}
		if d != trust.SessionOnly {
			c.Label = h.tr(r).span(d)
		}
		v.Choices = append(v.Choices, c)
	}
}

// checkUsers runs Service.Check over the host's users, and lists those
// without each method whose UI asks for the list.
func (h *Handler) checkUsers(ctx context.Context, v *AdminPolicyView, out *policyOut) error {
	var users []twofactor.User
	for u, err := range h.admin.Users(ctx) {
		if err != nil {
			return err
		}
		users = append(users, u)
	}
	v.Checked, v.Users = true, len(users)
	out.Checked, out.Users = true, len(users)
	gaps, err := h.svc.Check(ctx, slices.Values(users))
	if err != nil {
		return err
	}
	for _, g := range gaps {
		gv := h.gapView(g.User)
		gv.Problem = h.gapProblem(h.trc(ctx), g)
		if len(v.Gaps) < maxListed {
			v.Gaps = append(v.Gaps, gv)
			out.Gaps = append(out.Gaps, gapOut{User: gapUser(g.User), NoFactor: g.NoFactor, Missing: g.Missing, Policy: g.Policy, Grace: graceJSON(g.Grace)})
		}
	}
	for _, ui := range h.ui.list {
		heading := ui.kind().missing(h.trc(ctx))
		if heading == "" || !h.requires(ui.Method) {
			continue
		}
		wv, wo, err := h.without(ctx, ui, users)
		if err != nil {
			return err
		}
		wv.Heading = heading
		v.Without = append(v.Without, wv)
		if out.Without == nil {
			out.Without = map[twofactor.Method][]userOut{}
		}
		out.Without[ui.Method] = wo
	}
	return nil
}

// requires reports whether the policy makes every user have method m: it
// is mandatory, or the only allowed method besides recovery codes when a
// second factor is required. A list of the users without a method the
// policy does not require would name nearly everyone, and ask nothing of
// support staff.
func (h *Handler) requires(m twofactor.Method) bool {
	pol := h.svc.Policy()
	if slices.Contains(pol.Mandatory, m) {
		return true
	}
	if !pol.Required {
		return false
	}
	for _, ui := range h.ui.list {
		if ui.Method != m && !ui.recovery() && (len(pol.Methods) == 0 || slices.Contains(pol.Methods, ui.Method)) {
			return false
		}
	}
	return true
}

// gapProblem says in words why a user cannot comply.
func (h *Handler) gapProblem(tx *Strings, g twofactor.PolicyGap) string {
	t := &tx.Admin
	var probs []string
	if g.NoFactor {
		probs = append(probs, t.GapNoFactor)
	}
	if len(g.Missing) > 0 {
		var names []string
		for _, m := range g.Missing {
			names = append(names, tx.method(m).Name)
		}
		probs = append(probs, fmt.Sprintf(t.GapMissing, strings.Join(names, tx.ListSep)))
	}
	if g.Grace != nil {
		return strings.Join(probs, "; ") + " · " + h.graceTextIn(tx, g.Grace)
	}
	return strings.Join(probs, "; ")
}

// without lists the users who have no enrollment of ui's method.
func (h *Handler) without(ctx context.Context, ui *methodUI, users []twofactor.User) (AdminWithoutView, []userOut, error) {
	v := AdminWithoutView{Method: ui.Method}
	out := []userOut{}
	for _, u := range users {
		es, err := ui.factor.Enrollments(ctx, u)
		if err != nil {
			return v, nil, fmt.Errorf("twofactorhttp: listing the %s enrollments of %q: %w", ui.Method, u.ID, err)
		}
		if len(es) == 0 && len(v.Users) < maxListed {
			v.Users = append(v.Users, h.gapView(u))
			out = append(out, gapUser(u))
		}
	}
	return v, out, nil
}
