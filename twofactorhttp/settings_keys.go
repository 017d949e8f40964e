package twofactorhttp

import (
	"context"
	"net/http"

	"github.com/twofactorkit/twofactor"
)

// Security keys: the list, with rename and remove; adding one runs the
// browser's ceremony through the security-key script, on the register
// routes (register.go).

// renamer is a factor whose enrollments users may rename (security keys).
type renamer interface {
	Rename(ctx context.Context, user twofactor.User, id, name string) error
}

// serveKeys (GET settings/keys) lists the user's security keys, with the
// form that adds one.
func (h *Handler) serveKeys(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.keysPage(w, r, u, http.StatusOK, nil)
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, u twofactor.User, status int, e *ErrorView) {
	const m = twofactor.MethodWebAuthn
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	es, err := h.svc.Enrollments(r.Context(), u)
	if err != nil {
		h.settingsFail(w, r, m, "", err, nil)
		return
	}
	fv := h.factorView(m, es)
	back := h.url(routeSettingsKeys)
	v := &SettingsView{Factor: &fv, Keys: &KeysView{Done: back + "?done=" + savedKey, ShowCodes: h.url(routeSettingsCodes),
		StepUp: h.stepUpURL(back)}}
	if h.renames() {
		v.Keys.Rename = h.url(routeSettingsKeyRename)
	}
	v.StepUp = fv.CanAdd && h.needsStepUp(r, u, es)
	if wantsJSON(r) {
		if e != nil {
			h.writeJSON(w, status, ErrorBody{Error: e.Code, Message: e.Message})
			return
		}
		h.writeJSON(w, http.StatusOK, factorJSON(fv))
		return
	}
	h.settingsPage(w, r, status, PageSettingsKeys, h.text.Settings.KeysTitle, v, e)
}

func (h *Handler) renames() bool {
	f, ok := h.svc.Factor(twofactor.MethodWebAuthn)
	if !ok {
		return false
	}
	_, ok = f.(renamer)
	return ok
}

// serveKeyRename (POST settings/keys/rename, id and name) renames one of
// the user's keys. Another user's key id is 404.
func (h *Handler) serveKeyRename(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodWebAuthn
	back := h.url(routeSettingsKeys)
	f, err := readSettingsForm(w, r)
	again := func(status int, e *ErrorView) { h.keysPage(w, r, u, status, e) }
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	fac, ok := h.svc.Factor(m)
	rn, canRename := fac.(renamer)
	if !ok || !canRename {
		h.fail(w, r, nil, errNotFound)
		return
	}
	if err := rn.Rename(r.Context(), u, f.get("id"), f.get("name")); err != nil {
		h.settingsFail(w, r, m, back, err, again)
		return
	}
	h.done(w, r, "renamed", back, savedRenamed)
}
