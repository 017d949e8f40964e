package twofactorhttp

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twofactorkit/twofactor"
)

// Adding a security key, for the security-key script's register buttons
// (data-webauthn="register"): JSON only, for the signed-in user
// (Config.User), through Service.BeginEnroll and ConfirmEnroll. A user who
// already has a second factor must have stepped up first (the step-up
// cookie holds the proof BeginEnroll asks for); otherwise the answer is
// 401 step_up_required with the step-up route in "next".
//
//	POST <prefix>webauthn/register/begin   {"name": "YubiKey 5"}
//	200 {"options": {"publicKey": {...}}, "expires_at": "2026-03-02T09:05:00Z"}
//	POST <prefix>webauthn/register/finish  {"credential": {...the attestation...}}
//	200 {"enrollment": {"id": "...", "name": "YubiKey 5", "created_at": "..."},
//	     "backup_codes": ["...", ...]}   (backup codes only with the first factor, shown once)

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

func (h *Handler) serveRegisterBegin(w http.ResponseWriter, r *http.Request) {
	u, req, ok := h.enrollRequest(w, r)
	if !ok {
		return
	}
	en, err := h.svc.BeginEnroll(r.Context(), u, twofactor.MethodWebAuthn,
		twofactor.EnrollRequest{Client: h.client(r), Label: req.Name}, h.stepUpProof(r, u.ID))
	if err != nil {
		h.failAs(w, r, nil, twofactor.MethodWebAuthn, err)
		return
	}
	h.writeJSON(w, http.StatusOK, registerBeginJSON{Options: en.Options, ExpiresAt: en.ExpiresAt.UTC()})
}

func (h *Handler) serveRegisterFinish(w http.ResponseWriter, r *http.Request) {
	u, req, ok := h.enrollRequest(w, r)
	if !ok {
		return
	}
	if len(req.Credential) == 0 {
		h.failAs(w, r, nil, twofactor.MethodWebAuthn, fmt.Errorf("%w: no credential", errBadRequest))
		return
	}
	out, err := h.svc.ConfirmEnroll(r.Context(), u, twofactor.MethodWebAuthn, string(req.Credential))
	if errors.Is(err, twofactor.ErrNotEnrolled) {
		err = errNoEnrollment
	}
	if err != nil {
		h.failAs(w, r, nil, twofactor.MethodWebAuthn, err)
		return
	}
	if len(out.BackupCodes) > 0 {
		// For the settings page that shows them once, and their download.
		h.keepCodes(w, r, u, out.BackupCodes)
	}
	e := out.Enrollment
	h.writeJSON(w, http.StatusOK, registerFinishJSON{
		Enrollment:  enrollmentJSON{ID: e.ID, Name: e.Label, CreatedAt: e.CreatedAt.UTC()},
		BackupCodes: out.BackupCodes,
	})
}

// enrollRequest reads the request of a registration route: the signed-in
// user and the JSON body.
func (h *Handler) enrollRequest(w http.ResponseWriter, r *http.Request) (twofactor.User, request, bool) {
	u, ok := h.user(r)
	if !ok {
		h.fail(w, r, nil, errSignedOut)
		return u, request{}, false
	}
	req, err := readRequest(w, r)
	if err == nil && !wantsJSON(r) {
		err = fmt.Errorf("%w: send JSON", errBadRequest)
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return u, req, false
	}
	return u, req, true
}
