package twofactorhttp

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twofactorkit/twofactor"
)

// Security keys (SecurityKeyUI): the challenge and the set-up run the
// browser's ceremony through the security-key script, which posts JSON to
// the routes below; the keys page lists the keys, with rename and remove.
//
//	POST <prefix>webauthn/login/begin      {}: Service.Start
//	POST <prefix>webauthn/login/finish     {"credential": {...the assertion...}}: Service.Verify
//	POST <prefix>webauthn/register/begin   {"name": "YubiKey 5"}
//	200 {"options": {"publicKey": {...}}, "expires_at": "2026-03-02T09:05:00Z"}
//	POST <prefix>webauthn/register/finish  {"credential": {...the attestation...}}
//	200 {"enrollment": {"id": "...", "name": "YubiKey 5", "created_at": "..."},
//	     "backup_codes": ["...", ...]}   (backup codes only with the first factor, shown once)
//
// Adding a key is for the signed-in user (Config.UserID), through
// Service.BeginEnroll and ConfirmEnroll; a user who already has a second
// factor must have stepped up first (401 step_up_required otherwise).

// Routes of the security-key script: it posts to <base>/login/begin and
// finish, and to add a key to <base>/register/begin and finish.
const (
	routeKeyScript   = "webauthn/webauthn.js"
	routeKeyBegin    = "webauthn/login/begin"
	routeKeyFinish   = "webauthn/login/finish"
	routeKeyRegister = "webauthn/register/begin"
	routeKeyConfirm  = "webauthn/register/finish"
)

type keysKind struct{ baseKind }

func (keysKind) challenge(v *MethodView) { v.WebAuthn, v.Numeric, v.Length = true, false, 0 }

func (keysKind) keyScript() bool { return true }

// row counts keys as keys on the overview: "2 keys".
func (keysKind) row(h *Handler, tx *Strings, fv *FactorView) {
	if n := len(fv.Enrollments); n > 1 {
		fv.Summary = tx.n(tx.Settings.KeysCount, n)
	}
}

func (k keysKind) routes(h *Handler, ui *methodUI) []route {
	get, post := http.MethodGet, http.MethodPost
	return []route{
		{treeMain, get, routeKeyScript, serveWebAuthnScript},
		{treeMain, post, routeKeyBegin, func(w http.ResponseWriter, r *http.Request) {
			if _, err := readRequest(w, r); err != nil {
				h.fail(w, r, nil, err)
				return
			}
			h.start(w, r, ui.Method)
		}},
		{treeMain, post, routeKeyFinish, func(w http.ResponseWriter, r *http.Request) { h.verify(w, r, ui.Method) }},
		{treeMain, post, routeKeyRegister, h.asUser(func(w http.ResponseWriter, r *http.Request, u twofactor.User) { h.serveRegisterBegin(w, r, u, ui) })},
		{treeMain, post, routeKeyConfirm, h.asUser(func(w http.ResponseWriter, r *http.Request, u twofactor.User) { h.serveRegisterFinish(w, r, u, ui) })},
		{treeMain, post, routePasskeyBegin, h.servePasskeyBegin},
		{treeMain, post, routePasskeyFinish, h.servePasskeyFinish},
	}
}

// page adds what the add button needs: where it goes once a key is added
// (or backup codes came with it), and the step-up it leads through first
// when one is needed.
func (keysKind) page(h *Handler, tx *Strings, p *methodPage) {
	page := h.settingsURL(p.ui)
	p.v.Keys = &KeysView{Done: page + "?done=" + p.ui.route, ShowCodes: h.url(routeSettingsCodes), StepUp: h.stepUpURL(page)}
	_, p.v.Keys.Passkeys = p.ui.factor.(twofactor.Discoverer)
	p.v.Keys.Signal = h.passkeySignal(p.r, p.ui, p.u)
	// The ceremony runs in the browser: no set-up is kept in a cookie.
	p.v.Code, p.v.Enrolling, p.out.Pending = nil, nil, nil
	p.v.StepUp = p.v.Factor.CanAdd && h.needsStepUp(p.r, p.u, p.es)
}

type registerBeginJSON struct {
	Options   any       `json:"options"`
	ExpiresAt time.Time `json:"expires_at"`
}

type enrollmentJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

type registerFinishJSON struct {
	Enrollment  enrollmentJSON `json:"enrollment"`
	BackupCodes []string       `json:"backup_codes,omitempty"`
}

func (h *Handler) serveRegisterBegin(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	req, ok := h.registerRequest(w, r, ui)
	if !ok {
		return
	}
	en, err := h.svc.BeginEnroll(r.Context(), u, ui.Method,
		twofactor.EnrollRequest{Client: h.client(r), Label: req.Name, Passkey: req.Passkey}, h.stepUpProof(r, u.ID))
	if err != nil {
		h.failAs(w, r, nil, ui.Method, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, registerBeginJSON{Options: en.Options, ExpiresAt: en.ExpiresAt.UTC()})
}

func (h *Handler) serveRegisterFinish(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	req, ok := h.registerRequest(w, r, ui)
	if !ok {
		return
	}
	if len(req.Credential) == 0 {
		h.failAs(w, r, nil, ui.Method, fmt.Errorf("%w: no credential", errBadRequest))
		return
	}
	out, err := h.svc.ConfirmEnroll(r.Context(), u, ui.Method, string(req.Credential))
	if errors.Is(err, twofactor.ErrNotEnrolled) {
		err = errNoEnrollment
	}
	if err != nil {
		h.failAs(w, r, nil, ui.Method, err)
		return
	}
	if len(out.BackupCodes) > 0 {
		// For the settings page that shows them once, and their download.
		h.keepCodes(w, r, u, out.BackupCodes)
	}
	e := out.Enrollment
	h.writeJSON(w, r, http.StatusOK, registerFinishJSON{
		Enrollment:  enrollmentJSON{ID: e.ID, Name: e.Label, CreatedAt: e.CreatedAt.UTC()},
		BackupCodes: out.BackupCodes,
	})
}

// registerRequest reads the JSON body of a registration route.
func (h *Handler) registerRequest(w http.ResponseWriter, r *http.Request, ui *methodUI) (request, bool) {
	req, err := readRequest(w, r)
	if err == nil && !wantsJSON(r) {
		err = fmt.Errorf("%w: send JSON", errBadRequest)
	}
	if err != nil {
		h.failAs(w, r, nil, ui.Method, err)
		return req, false
	}
	return req, true
}
