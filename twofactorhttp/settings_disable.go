package twofactorhttp

import (
	"errors"
	"net/http"
	"slices"

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
	// EmailStaysOn is set when email codes follow the account's address
	// (an email factor in implicit mode): they stay on while it has one.
	EmailStaysOn bool        `json:"email_stays_on,omitempty"`
	Methods      []factorOut `json:"methods"` // what will be removed
	BackupCodes  *backupOut  `json:"backup_codes,omitempty"`
	Devices      int         `json:"trusted_devices"`
}

// emailStays reports whether email codes survive turning two-step
// verification off: an email factor that counts the account's address as
// enrolled (not opt-in) while the user has one.
func (h *Handler) emailStays(es []twofactor.Enrollment) bool {
	if !h.configured(twofactor.MethodEmail) || h.emailOptIn() {
		return false
	}
	return slices.ContainsFunc(es, func(e twofactor.Enrollment) bool { return e.Method == twofactor.MethodEmail })
}

// serveDisablePage (GET settings/disable) lists what turning two-step
// verification off removes and asks, after a fresh step-up. Under a
// policy that requires a second factor it says so, with no button.
func (h *Handler) serveDisablePage(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	ctx := r.Context()
	back := h.url(routeSettings)
	es, err := h.svc.Enrollments(ctx, u)
	if err != nil {
		h.settingsFail(w, r, "", back, err, nil)
		return
	}
	t := &h.text.Settings
	required := h.svc.Policy().Required
	c := &ConfirmView{Message: t.DisableTitle, Warning: t.DisableWarn, Button: t.DisableButton, Cancel: back}
	stays := h.emailStays(es)
	if stays {
		c.Note = t.DisableEmailStays
	}
	if required {
		c.Warning = t.DisableRequired
	} else {
		if _, err := h.freshProof(r, u); err != nil {
			h.settingsFail(w, r, "", r.URL.RequestURI(), err, nil)
			return
		}
		c.Action = h.url(routeSettingsDisable)
	}
	v := &SettingsView{Confirm: c}
	for _, fv := range h.factorViews(es) {
		if len(fv.Enrollments) > 0 {
			v.Methods = append(v.Methods, fv)
		}
	}
	b, err := h.backupView(ctx, u, es)
	if err != nil {
		h.settingsFail(w, r, "", back, err, nil)
		return
	}
	if b != nil && b.On {
		v.Backup = b
	}
	devs, err := h.devicesView(r, u)
	if err != nil {
		h.settingsFail(w, r, "", back, err, nil)
		return
	}
	if devs.view != nil && len(devs.view.List) > 0 {
		v.Devices = devs.view
	}
	if wantsJSON(r) {
		out := disableOut{Allowed: !required, EmailStaysOn: stays, Methods: []factorOut{}, Devices: len(devs.out)}
		if required {
			out.Message = t.DisableRequired
		}
		for _, fv := range v.Methods {
			out.Methods = append(out.Methods, factorJSON(fv))
		}
		if v.Backup != nil {
			out.BackupCodes = &backupOut{On: true, Remaining: max(v.Backup.Remaining, 0), Low: v.Backup.Low}
		}
		h.writeJSON(w, http.StatusOK, out)
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, v, nil)
}

// serveDisable (POST settings/disable) turns two-step verification off
// with the fresh step-up proof (Service.Disable), then drops this
// browser's step-up, set-up, backup-code and trusted-device cookies,
// which no longer stand for anything.
func (h *Handler) serveDisable(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	_, err := readSettingsForm(w, r)
	if err == nil && h.svc.Policy().Required {
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
	h.ClearStepUp(w, r)
	h.clearEnrolling(w, r)
	h.dropCookie(w, r, h.codesName())
	if h.trust != nil && hasCookie(r, h.trust.CookieName()) {
		h.trust.ClearCookie(w)
	}
	h.done(w, r, "disabled", h.url(routeSettings), savedDisabled)
}
