package twofactorhttp

import (
	"errors"
	"net/http"

	"github.com/twofactorkit/twofactor"
)

// Turning two-step verification off: GET settings/disable asks, after a
// fresh step-up, and POST settings/disable calls Service.Disable, which
// removes every factor, the backup codes and the trusted devices, and
// voids every proof. A policy that requires a second factor refuses it:
// the page says so instead of offering the button, and the POST answers
// 409 last_factor.

var errDisableRequired = errors.New("twofactorhttp: the policy requires a second factor")

// disableOut is the JSON of the confirmation page.
type disableOut struct {
	// Allowed is false when the policy requires a second factor; Message
	// then says so.
	Allowed bool   `json:"allowed"`
	Message string `json:"message,omitempty"`
	// StaysOn lists the methods that follow the account (email codes to
	// the account's address): they stay on while it holds them.
	StaysOn []twofactor.Method `json:"stays_on,omitempty"`
	Methods []factorOut        `json:"methods"` // what will be removed
	Devices int                `json:"trusted_devices"`
}

// serveDisablePage (GET settings/disable) lists what turning two-step
// verification off removes and asks, after a fresh step-up. Under a
// policy that requires a second factor it says so, with no button.
func (h *Handler) serveDisablePage(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	ctx := r.Context()
	back := h.url(routeSettings)
	es, err := h.svc.Enrollments(ctx, u)
	var fvs []FactorView
	if err == nil {
		fvs, err = h.factorViews(ctx, u, es)
	}
	var devs devicesOut
	if err == nil {
		devs, err = h.devicesView(r, u)
	}
	if err != nil {
		h.settingsFail(w, r, "", back, err, nil)
		return
	}
	t := &h.tr(r).Settings
	required := h.policyIn(ctx).Required
	c := &ConfirmView{Message: t.DisableTitle, Warning: t.DisableWarn, Button: t.DisableButton, Cancel: back, Danger: true}
	v := &SettingsView{Confirm: c}
	out := disableOut{Allowed: !required, Methods: []factorOut{}, Devices: len(devs.out)}
	for _, fv := range fvs {
		switch {
		case fv.Implicit && len(fv.Enrollments) > 0:
			ui := h.uiOf(fv.Method)
			out.StaysOn = append(out.StaysOn, fv.Method)
			c.Note = ui.kind().stays(h, h.tr(r), ui)
		case len(fv.Enrollments) > 0 || fv.Remaining > 0:
			v.Methods = append(v.Methods, fv)
			out.Methods = append(out.Methods, factorJSON(fv))
		}
	}
	if devs.view != nil && len(devs.view.List) > 0 {
		v.Devices = devs.view
	}
	if required {
		c.Warning, out.Message = t.DisableRequired, t.DisableRequired
	} else {
		if _, err := h.freshProof(r, u); err != nil {
			h.settingsFail(w, r, "", r.URL.RequestURI(), err, nil)
			return
		}
		c.Action = h.url(routeSettingsDisable)
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, out)
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, v, nil, false)
}

// serveDisable (POST settings/disable) turns two-step verification off
// with the fresh step-up proof (Service.Disable), then drops this
// browser's step-up, set-up, new-codes and trusted-device cookies,
// which no longer stand for anything.
func (h *Handler) serveDisable(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	_, err := readSettingsForm(w, r)
	if err == nil && h.policyIn(r.Context()).Required {
		err = errDisableRequired
	}
	if err == nil {
		err = h.svc.Disable(r.Context(), u, h.stepUpProof(r, u.ID))
	}
	if errors.Is(err, twofactor.ErrLastFactor) {
		err = errDisableRequired
	}
	if err != nil {
		back := h.url(routeSettingsDisable)
		if errors.Is(err, errDisableRequired) {
			back = h.url(routeSettings)
		}
		h.settingsFail(w, r, "", back, err, nil)
		return
	}
	h.clearStepUp(w, r)
	h.clearEnrolled(w, r)
	h.clearEnrolling(w, r)
	h.dropCookie(w, r, h.codesName())
	if h.trust != nil && hasCookie(r, h.trust.CookieName()) {
		h.trust.ClearCookie(w)
	}
	h.done(w, r, "disabled", h.url(routeSettings), savedDisabled)
}
