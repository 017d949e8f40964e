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
}

// passkeySignal returns the keys page's data-webauthn-signal, or "".
func (h *Handler) passkeySignal(ctx context.Context, ui *methodUI, u twofactor.User) string {
	s, ok := ui.factor.(signaler)
	if !ok {
		return ""
	}
	handle, err := s.UserHandle(ctx, u.ID)
	if err != nil || len(handle) == 0 {
		return ""
	}
	ids, err := s.CredentialIDs(ctx, u.ID)
	if err != nil {
		return ""
	}
	enc := base64.RawURLEncoding
	v := struct {
		RPID        string   `json:"rpId"`
		UserID      string   `json:"userId"`
		Accepted    []string `json:"allAcceptedCredentialIds"`
		Name        string   `json:"name"`
		DisplayName string   `json:"displayName"`
	}{RPID: s.RPID(), UserID: enc.EncodeToString(handle), Accepted: []string{}, Name: u.AccountName(), DisplayName: cmp.Or(u.DisplayName, u.AccountName())}
	for _, id := range ids {
		v.Accepted = append(v.Accepted, enc.EncodeToString(id))
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
	http.SetCookie(w, &http.Cookie{Name: passkeyLaterCookie, Value: "1", Path: h.prefix, MaxAge: int(h.offer.Again / time.Second),
		HttpOnly: true, Secure: r.TLS != nil || !isLocalhost(r.Host), SameSite: http.SameSiteLaxMode})
	h.redirect(w, r, statusSignedIn, cmpReturn(cleanReturn(r.FormValue(ReturnParam)), h.returnURL))
}
