package twofactorhttp

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/twofactorkit/twofactor"
)

// Passkey sign-in, from the host's login page: the security-key script
// asks the browser for a passkey of the site, in the user-name field's
// autofill (a field whose autocomplete holds "webauthn", WebAuthn's
// conditional mediation) or behind a button (data-webauthn="passkey"),
// and posts the answer here. No user is named: the passkey names its
// account.
//
//	POST <prefix>webauthn/passkey/begin   {}
//	200 {"ceremony": "...", "options": {"publicKey": {...}}, "expires_at": "..."}
//	POST <prefix>webauthn/passkey/finish  {"ceremony": "...", "credential": {...the assertion...}, "next": "/inbox"}
//	200 {"status": "signed_in", "next": "/inbox"}   (the passkey was both factors: Config.SignIn ran)
//	200 {"status": "challenge", "next": "<prefix>"} (it stood for the password: the second step follows)
//
// A refused passkey is 401 invalid_code, whatever the reason, as
// Service.FinishPasskey says.
const (
	routePasskeyBegin  = "webauthn/passkey/begin"
	routePasskeyFinish = "webauthn/passkey/finish"
)

type passkeyBeginJSON struct {
	Ceremony  string          `json:"ceremony"`
	Options   json.RawMessage `json:"options"`
	ExpiresAt time.Time       `json:"expires_at"`
}

func (h *Handler) servePasskeyBegin(w http.ResponseWriter, r *http.Request) {
	if _, err := readRequest(w, r); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	c, err := h.svc.BeginPasskey(r.Context(), h.client(r))
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, passkeyBeginJSON{Ceremony: c.ID, Options: c.Options, ExpiresAt: c.ExpiresAt.UTC()})
}

func (h *Handler) servePasskeyFinish(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	c := h.client(r)
	got, err := h.svc.FinishPasskey(r.Context(), twofactor.PasskeyAnswer{CeremonyID: req.Ceremony, Answer: req.Code, Client: c})
	if errors.Is(err, twofactor.ErrInvalidCode) || errors.Is(err, twofactor.ErrMalformedCode) {
		// One answer for every refusal: it says nothing of the account.
		h.writeJSON(w, r, http.StatusUnauthorized, ErrorBody{Error: CodeInvalidCode, Message: h.tr(r).PasskeyNotAccepted})
		return
	}
	if err != nil {
		h.failAs(w, r, nil, twofactor.MethodWebAuthn, err)
		return
	}
	ret := cleanReturn(req.Next)
	if got.Result != nil {
		h.signedIn(w, r, got.Result, cmpReturn(ret, h.returnURL), statusSignedIn)
		return
	}
	c.FirstFactor = twofactor.FirstPasskey
	h.begun(w, r, got.User, got.Begun, ret, c)
}

// signaler is a factor that names what the browser's WebAuthn signal
// methods need (package webauthn's factor).
type signaler interface {
	RPID() string
	UserHandle(ctx context.Context, userID string) ([]byte, error)
	CredentialIDs(ctx context.Context, userID string) ([][]byte, error)
	CredentialID(ctx context.Context, userID, enrollmentID string) ([]byte, error)
}

// goneParam carries, to the keys page, the credential id of a key just
// removed, for the browser's signalUnknownCredential. Credential ids are
// not secret: the browser holds them and sends them at each sign-in.
const goneParam = "gone"

// maxCredentialID bounds a credential id (WebAuthn §5.8.3: at most 1023
// bytes).
const maxCredentialID = 1023

// credentialID returns the credential id of a security key about to be
// removed, or nil.
func (h *Handler) credentialID(ctx context.Context, ui *methodUI, u twofactor.User, enrollmentID string) []byte {
	s, ok := ui.factor.(signaler)
	if !ok {
		return nil
	}
	id, err := s.CredentialID(ctx, u.ID, enrollmentID)
	if err != nil || len(id) > maxCredentialID {
		return nil
	}
	return id
}

// passkeySignal returns the keys page's data-webauthn-signal, or "":
// the user's handle, the credentials the site accepts and the user's
// names, when the user has keys; the credential of a key just removed
// (the gone parameter), when there is one.
func (h *Handler) passkeySignal(r *http.Request, ui *methodUI, u twofactor.User) string {
	s, ok := ui.factor.(signaler)
	if !ok {
		return ""
	}
	ctx, enc := r.Context(), base64.RawURLEncoding
	v := struct {
		RPID        string   `json:"rpId"`
		UserID      string   `json:"userId,omitempty"`
		Accepted    []string `json:"allAcceptedCredentialIds,omitempty"`
		Name        string   `json:"name,omitempty"`
		DisplayName string   `json:"displayName,omitempty"`
		Unknown     string   `json:"unknownCredentialId,omitempty"`
	}{RPID: s.RPID()}
	if g, err := enc.DecodeString(r.URL.Query().Get(goneParam)); err == nil && len(g) > 0 && len(g) <= maxCredentialID {
		v.Unknown = enc.EncodeToString(g)
	}
	handle, err := s.UserHandle(ctx, u.ID)
	if err != nil {
		return ""
	}
	if len(handle) > 0 {
		ids, err := s.CredentialIDs(ctx, u.ID)
		if err != nil {
			return ""
		}
		v.UserID, v.Name, v.DisplayName = enc.EncodeToString(handle), u.AccountName(), cmp.Or(u.DisplayName, u.AccountName())
		v.Accepted = make([]string, 0, len(ids))
		for _, id := range ids {
			v.Accepted = append(v.Accepted, enc.EncodeToString(id))
		}
	}
	if v.UserID == "" && v.Unknown == "" {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// PasskeyOffer configures the offer to create a passkey after a sign-in
// with a password and a second factor (Config.PasskeyOffer).
type PasskeyOffer struct {
	// Off turns the offer off.
	Off bool
	// Again is how long "Not now" puts the offer off, in that browser.
	// Zero means 30 days.
	Again time.Duration
}

func (o PasskeyOffer) withDefaults() PasskeyOffer {
	o.Again = cmp.Or(o.Again, 30*24*time.Hour)
	return o
}

const (
	routePasskeyOffer = "passkey-offer"
	// passkeyLaterCookie marks a browser whose user put the offer off.
	passkeyLaterCookie = "tf_passkey_later"
)

// OfferView is the passkey offer's view (PagePasskeyOffer).
type OfferView struct {
	Next   string // where the user goes after: the page the sign-in was for
	Later  string // the "Not now" form's action (field "next")
	StepUp string // the step-up the creation leads through when it needs one, coming back here
	Codes  string // where it goes when backup codes came with the passkey
}

// offerPasskey reports whether a browser page's sign-in res should pass
// by the passkey offer: a password and a second factor, a factor that
// signs in with passkeys and that the user may use, no passkey yet, and
// no "Not now" in this browser. It costs one store read (the user's
// security keys), only for such sign-ins.
func (h *Handler) offerPasskey(r *http.Request, res *twofactor.Result) bool {
	if h.offer.Off || wantsJSON(r) || res.Purpose != twofactor.PurposeLogin || res.Passwordless ||
		res.FirstFactor != twofactor.FirstPassword || res.Method == "" {
		return false
	}
	if _, err := r.Cookie(passkeyLaterCookie); err == nil {
		return false
	}
	ui := h.uiOf(twofactor.MethodWebAuthn)
	if _, ok := ui.factor.(twofactor.Discoverer); !ok {
		return false
	}
	if _, pol, err := h.svc.PolicyFor(r.Context(), res.User); err != nil || (pol.Methods != nil && !slices.Contains(pol.Methods, twofactor.MethodWebAuthn)) {
		return false
	}
	es, err := ui.factor.Enrollments(r.Context(), res.User)
	if err != nil {
		return false // the offer is a nicety: a failure skips it
	}
	for _, e := range es {
		if e.Passkey {
			return false
		}
	}
	return true
}

func (h *Handler) servePasskeyOffer(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	next := cmpReturn(cleanReturn(r.FormValue(ReturnParam)), h.returnURL)
	page := h.withNext(h.url(routePasskeyOffer), next)
	t := h.tr(r)
	v := &OfferView{Next: next, Later: h.url(routePasskeyOffer), StepUp: h.stepUpURL(page), Codes: h.url(routeSettingsCodes)}
	h.render(w, r, http.StatusOK, &PageData{Page: PagePasskeyOffer, Title: t.TitlePasskeyOffer, Offer: v, WebAuthn: true})
}

// servePasskeyLater puts the offer off in this browser, and goes on.
func (h *Handler) servePasskeyLater(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	if _, err := readRequest(w, r); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	c := h.cookie(r, passkeyLaterCookie, "1", h.prefix)
	c.MaxAge = int(h.offer.Again / time.Second)
	http.SetCookie(w, c)
	h.redirect(w, r, statusSignedIn, cmpReturn(cleanReturn(r.FormValue(ReturnParam)), h.returnURL))
}
