package twofactorhttp

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// MethodUI is how the pages present one method: its form on the challenge
// page, its row on the settings overview (and the administrator's user
// page), and its settings page, where users set it up, confirm it, rename
// and remove its enrollments. Every method gets one: the library's five
// factors have their own (TOTPUI, SecurityKeyUI, PhoneUI, EmailUI,
// BackupCodesUI), and any other method GenericUI, which serves a factor
// by what it is:
//
//   - on the challenge page, a code field, with a send button when it is
//     a twofactor.Sender, sized by twofactor.CodeFormat when it is one;
//   - on the overview, its enrollments, with remove when it is a
//     twofactor.Remover (and not a twofactor.OptInFactor that follows the
//     account), and how many codes are left when it is a
//     twofactor.CodeCounter;
//   - on its page, when it is a twofactor.Enroller, a set-up button, then
//     what BeginEnroll's Enrolling holds (a secret, a QR code, the link of
//     its URI, where a code was sent; new codes go to the page that shows
//     them once) and a code field for ConfirmEnroll; a rename form when it
//     is a twofactor.Renamer.
//
// Config.Methods registers them by method (the pages list methods in the
// Service's order, Service.Methods); a host changes a built-in one by
// changing its fields:
//
//	phone := twofactorhttp.PhoneUI()
//	phone.Route = "sms"
type MethodUI struct {
	// Method is the method the pages present.
	Method twofactor.Method
	// Route is the method's settings page, below <prefix>settings/:
	// a path segment of [a-z0-9_-]. Empty: the method's name.
	Route string
	// Page is the template file, without ".html", of the method's settings
	// page; Config.Templates may hold it. Empty: PageSettingsMethod, the
	// generic page.
	Page string
	// Code describes the code field of the challenge and of the set-up,
	// when the factor is not a twofactor.CodeFormat. Zero: free text of
	// any length.
	Code CodeField

	kind uiKind // a built-in UI's own steps; nil: the generic ones alone
}

// CodeField describes a code input.
type CodeField struct {
	Length  int  // characters in a code: the script submits the form at this length; 0 when it varies
	Numeric bool // digits only: a numeric keypad, and spaces and dashes taken out of what is pasted
	WebOTP  bool // the code comes by SMS: let the browser fill it in (WebOTP)
}

// GenericUI returns the pages of a method that has no UI of its own,
// which a factor gets from what it implements (see MethodUI).
func GenericUI(m twofactor.Method) MethodUI { return MethodUI{Method: m} }

// methodUI is a MethodUI of the Service's factor, ready for the pages.
type methodUI struct {
	MethodUI
	route  string
	page   string
	factor twofactor.Factor
	rank   int // place in the pages' order
}

func (ui *methodUI) kind() uiKind {
	if ui.MethodUI.kind == nil {
		return baseKind{}
	}
	return ui.MethodUI.kind
}

// methods are the Handler's method UIs.
type methods struct {
	list     []*methodUI // the methods the pages list, in order
	byMethod map[twofactor.Method]*methodUI
	byRoute  map[string]*methodUI
}

// reservedRoutes are the settings routes no method may take.
var reservedRoutes = []string{"devices", "remove", "disable", "settings"}

// setMethods registers a UI for every method of the Service: the one
// given in Config.Methods, else the built-in one, else the generic one.
// The pages list them in the Service's order (Service.Methods), the one
// place that order is decided.
func (h *Handler) setMethods(given []MethodUI) error {
	h.ui = methods{byMethod: map[twofactor.Method]*methodUI{}, byRoute: map[string]*methodUI{}}
	chosen := map[twofactor.Method]MethodUI{}
	for i, ui := range given {
		if _, ok := h.svc.Factor(ui.Method); !ok {
			return configErr("Config.Methods[%d]: the Service has no factor for method %q", i, ui.Method)
		}
		if _, dup := chosen[ui.Method]; dup {
			return configErr("Config.Methods has two UIs for method %q", ui.Method)
		}
		chosen[ui.Method] = ui
	}
	for _, ui := range builtinUIs() {
		if _, ok := chosen[ui.Method]; !ok {
			chosen[ui.Method] = ui
		}
	}
	for _, m := range h.svc.Methods() {
		ui, ok := chosen[m]
		if !ok {
			ui = GenericUI(m)
		}
		if err := h.addMethod(ui); err != nil {
			return configErr("the UI of %q: %v", m, err)
		}
	}
	// A UI given for a method the policy does not allow is registered
	// (its enrollments still show) but not listed.
	for _, ui := range given {
		if h.ui.byMethod[ui.Method] == nil {
			if err := h.addMethod(ui); err != nil {
				return configErr("the UI of %q: %v", ui.Method, err)
			}
		}
	}
	for i, ui := range h.ui.list {
		ui.rank = i
	}
	return nil
}

// addMethod registers ui, and lists it when the policy allows it.
func (h *Handler) addMethod(given MethodUI) error {
	ui, err := h.newMethodUI(given)
	if err != nil {
		return err
	}
	if other := h.ui.byRoute[ui.route]; other != nil {
		return configErr("route %q is taken by method %q", ui.route, other.Method)
	}
	h.ui.byMethod[ui.Method] = ui
	h.ui.byRoute[ui.route] = ui
	if slices.Contains(h.svc.Methods(), ui.Method) {
		h.ui.list = append(h.ui.list, ui)
	}
	return nil
}

func (h *Handler) newMethodUI(given MethodUI) (*methodUI, error) {
	f, ok := h.svc.Factor(given.Method)
	if !ok {
		return nil, configErr("no factor for method %q", given.Method)
	}
	ui := &methodUI{MethodUI: given, route: given.Route, page: given.Page, factor: f, rank: len(h.ui.list)}
	if ui.route == "" {
		ui.route = string(given.Method)
	}
	if ui.page == "" {
		ui.page = PageSettingsMethod
	}
	if !validRoute(ui.route) || slices.Contains(reservedRoutes, ui.route) {
		return nil, configErr("route %q of method %q must be a path segment of [a-z0-9_-], other than %s",
			ui.route, given.Method, strings.Join(reservedRoutes, ", "))
	}
	if !validRoute(ui.page) {
		return nil, configErr("page %q of method %q must be a template file name of [a-z0-9_-], without .html", ui.page, given.Method)
	}
	return ui, nil
}

func validRoute(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// of returns the UI of method m: its registered one, or the generic one
// of a factor the pages did not list (a method only found in a user's
// enrollments). ok is false when the Service has no factor for m.
func (ms *methods) of(h *Handler, m twofactor.Method) (*methodUI, bool) {
	if ui := ms.byMethod[m]; ui != nil {
		return ui, true
	}
	f, ok := h.svc.Factor(m)
	if !ok || !validRoute(string(m)) || slices.Contains(reservedRoutes, string(m)) {
		return nil, false
	}
	return &methodUI{MethodUI: GenericUI(m), route: string(m), page: PageSettingsMethod, factor: f, rank: len(ms.list)}, true
}

// atRoute returns the UI whose settings page is route, when some policy
// allows its method (asMethod checks the user's).
func (ms *methods) atRoute(h *Handler, route string) (*methodUI, bool) {
	ui := ms.byRoute[route]
	if ui == nil {
		if _, taken := ms.byMethod[twofactor.Method(route)]; taken {
			return nil, false
		}
		var ok bool
		if ui, ok = ms.of(h, twofactor.Method(route)); !ok {
			return nil, false
		}
	}
	return ui, slices.Contains(h.svc.Methods(), ui.Method)
}

// uiOf returns the UI of m, generic when the Service has no factor for it.
func (h *Handler) uiOf(m twofactor.Method) *methodUI {
	if ui, ok := h.ui.of(h, m); ok {
		return ui
	}
	return &methodUI{MethodUI: GenericUI(m), route: string(m), page: PageSettingsMethod, rank: len(h.ui.list)}
}

// allowed reports whether the policy of ctx's user allows m (see
// withPolicy).
func (h *Handler) allowed(ctx context.Context, m twofactor.Method) bool {
	pol := h.policyIn(ctx)
	return pol.Methods == nil || slices.Contains(pol.Methods, m)
}

type policyKey struct{}

// withPolicy returns r with the policy of its signed-in user u, as the
// Service's PolicyFor decides it now, for the rest of this request only.
func (h *Handler) withPolicy(r *http.Request, u twofactor.User) (*http.Request, error) {
	_, pol, err := h.svc.PolicyFor(r.Context(), u)
	if err != nil {
		return r, err
	}
	return r.WithContext(context.WithValue(r.Context(), policyKey{}, pol)), nil
}

// policyIn returns the policy withPolicy put in ctx; Config.Policy
// outside a request of a signed-in user.
func (h *Handler) policyIn(ctx context.Context) twofactor.Policy {
	if pol, ok := ctx.Value(policyKey{}).(twofactor.Policy); ok {
		return pol
	}
	return h.svc.Policy()
}

// codeField is the code input of ui: the factor's own format when it
// says, else the UI's.
func (ui *methodUI) codeField() CodeField {
	field := ui.Code
	if cf, ok := ui.factor.(twofactor.CodeFormat); ok {
		field.Length, field.Numeric = cf.CodeLength(), cf.NumericCode()
	}
	return field
}

func (ui *methodUI) sends() bool {
	_, ok := ui.factor.(twofactor.Sender)
	return ok
}

func (ui *methodUI) starts() bool {
	_, ok := ui.factor.(twofactor.Starter)
	return ok
}

func (ui *methodUI) recovery() bool {
	rf, ok := ui.factor.(twofactor.RecoveryFactor)
	return ok && rf.Recovery()
}

func (ui *methodUI) enroller() (twofactor.Enroller, bool) {
	en, ok := ui.factor.(twofactor.Enroller)
	return en, ok
}

// implicit reports whether the factor's enrollments follow the account
// (an email factor counting the account's address): users neither add
// nor remove them.
func (ui *methodUI) implicit() bool {
	o, ok := ui.factor.(twofactor.OptInFactor)
	return ok && !o.OptIn()
}

// removable reports whether users remove its enrollments on the pages.
func (ui *methodUI) removable() bool {
	_, ok := ui.factor.(twofactor.Remover)
	return ok && !ui.recovery() && !ui.implicit()
}

// uiKind is a built-in UI's own steps beside the generic ones. baseKind
// is the generic: it adds nothing.
type uiKind interface {
	// challenge adjusts the method's view on the challenge page.
	challenge(v *MethodView)
	// row adjusts the method's settings view, wherever it is shown.
	row(h *Handler, tx *Strings, fv *FactorView)
	// hidden reports whether the overview leaves the method out for u:
	// u has none and could not turn it on.
	hidden(u twofactor.User, fv *FactorView) bool
	// page adds what the method's settings page shows beyond the generic.
	page(h *Handler, tx *Strings, p *methodPage)
	// enroll reads the set-up form into req; an error the form shows is
	// a *formError.
	enroll(h *Handler, tx *Strings, ui *methodUI, f settingsForm, req *twofactor.EnrollRequest) error
	// refused words an error of BeginEnroll the form shows, or returns it.
	refused(h *Handler, tx *Strings, err error) error
	// beginBack is where a set-up that first needs a step-up comes back to.
	beginBack(h *Handler, ui *methodUI, enrolled bool) string
	// stays says that the method stays on when two-step verification is
	// turned off, for a factor that follows the account.
	stays(h *Handler, tx *Strings, ui *methodUI) string
	// missing is the heading of the administrator's list of users who do
	// not have the method, or "" for no such list.
	missing(t *Strings) string
	// codeLabel is the label of the set-up's code field.
	codeLabel(t *Strings) string
	// keyScript reports whether its pages load the security-key script.
	keyScript() bool
	// routes are its own routes, beside the generic ones.
	routes(h *Handler, ui *methodUI) []route
}

type baseKind struct{}

func (baseKind) challenge(*MethodView)               {}
func (baseKind) row(*Handler, *Strings, *FactorView) {}
func (baseKind) hidden(twofactor.User, *FactorView) bool {
	return false
}
func (baseKind) page(*Handler, *Strings, *methodPage) {}
func (baseKind) enroll(*Handler, *Strings, *methodUI, settingsForm, *twofactor.EnrollRequest) error {
	return nil
}
func (baseKind) refused(_ *Handler, _ *Strings, err error) error { return err }
func (baseKind) missing(*Strings) string                         { return "" }
func (baseKind) keyScript() bool                                 { return false }

func (baseKind) codeLabel(t *Strings) string        { return "" }
func (baseKind) routes(*Handler, *methodUI) []route { return nil }

func (baseKind) beginBack(h *Handler, ui *methodUI, enrolled bool) string {
	back := h.settingsURL(ui)
	if enrolled {
		// Replacing or adding one: the set-up form again, not the status.
		back += "?change=1"
	}
	return back
}

func (baseKind) stays(h *Handler, tx *Strings, ui *methodUI) string {
	return fmt.Sprintf(tx.Settings.DisableStays, tx.method(ui.Method).Name)
}

// formError is a set-up form's field refused, with what is wrong with it:
// the form is shown again with the message (400, and the JSON code).
type formError struct {
	code    string
	message string
}

func (e *formError) Error() string { return "twofactorhttp: form refused: " + e.message }

// Is makes a formError match twofactor.ErrInvalidInput.
func (e *formError) Is(target error) bool { return target == twofactor.ErrInvalidInput }

// settingsURL returns the settings page of ui.
func (h *Handler) settingsURL(ui *methodUI) string { return h.url(routeSettings + ui.route) }

// methodPage is what the settings page of a method is built from; the
// UI's kind adds to it.
type methodPage struct {
	r      *http.Request
	u      twofactor.User
	ui     *methodUI
	es     []twofactor.Enrollment
	v      *SettingsView
	out    *methodOut
	form   settingsForm // the refused form, shown again
	change bool         // the set-up form, not a pending set-up
	held   *enrolling   // a set-up held for its step-up (enrolling.Held), or nil
}
