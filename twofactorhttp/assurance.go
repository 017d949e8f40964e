package twofactorhttp

import (
	"net/http"
	"net/url"

	"github.com/twofactorkit/twofactor"
)

// requireParam is the query parameter of the step-up route that carries a
// StepUp's requirement, so the challenge it makes offers only the methods
// that meet it. It only narrows what is offered: the middleware checks
// the proof against its own requirement whatever the parameter said.
const requireParam = "require"

// requirePhishingResistant is requireParam's value for
// twofactor.Requirement.PhishingResistant.
const requirePhishingResistant = "phishing_resistant"

// PhishingResistant returns a copy of s that also asks for a
// phishing-resistant factor (a security key or passkey, whose answer the
// browser binds to this site): a proof of a code does not pass it, and
// the step-up it leads to offers only such factors. A user who has none
// gets a page that says so, with a link to add a security key (JSON:
// 403 {"error": "no_qualifying_method"}).
func (s *StepUp) PhishingResistant() *StepUp {
	if s == nil || s.h == nil {
		return s
	}
	c := *s
	c.phr = true
	return &c
}

// requirement is what s asks of a proof.
func (s *StepUp) requirement() twofactor.Requirement {
	return twofactor.Requirement{PhishingResistant: s.phr, MaxAge: s.maxAge}
}

// requirementOf reads the requirement a step-up request carries.
func requirementOf(r *http.Request) twofactor.Requirement {
	return twofactor.Requirement{PhishingResistant: r.URL.Query().Get(requireParam) == requirePhishingResistant}
}

// stepUpRoute returns the step-up route's URL for req.
func (h *Handler) stepUpRoute(req twofactor.Requirement) string {
	u := h.url(routeStepUp)
	if req.PhishingResistant {
		u += "?" + requireParam + "=" + url.QueryEscape(requirePhishingResistant)
	}
	return u
}

// meets reports whether every method ch offers meets req, so that a
// pending step-up may be taken up again for it.
func (h *Handler) meets(ch *twofactor.Challenge, req twofactor.Requirement) bool {
	if !req.PhishingResistant {
		return true
	}
	for _, m := range ch.Methods {
		f, ok := h.svc.Factor(m)
		a, isAssurer := f.(twofactor.Assurer)
		if !ok || !isAssurer || !a.Assurance().PhishingResistant {
			return false
		}
	}
	return true
}

// securityKeyURL is where a user adds a security key: its settings page,
// or the settings overview when the Service has no WebAuthn factor.
func (h *Handler) securityKeyURL() string {
	if _, ok := h.svc.Factor(twofactor.MethodWebAuthn); ok {
		return h.settingsURL(h.uiOf(twofactor.MethodWebAuthn))
	}
	return h.url(routeSettings)
}

// refusedPage answers a refusal that no other answer mends, with the page
// that says why and the one way on (Config.Support's line below it, when
// the host gave one):
//
//   - vetoed: the code was right but the host's veto refused the
//     verification; the challenge has ended, and the way on is to sign
//     in again (a step-up: back to where it was asked from);
//   - no qualifying method: the step-up wants a security key and the
//     user has none; the way on is the page that adds one;
//   - no independent factor: every second factor of the user is on the
//     channel they signed in with; the way on is the login page.
func (h *Handler) refusedPage(w http.ResponseWriter, r *http.Request, v *view, p problem) {
	t := h.tr(r)
	d := &PageData{Page: PageMessage, Title: t.TitleLogin, Message: p.body.Message,
		Error: &ErrorView{Code: p.body.Error, Message: p.body.Message}}
	switch p.body.Error {
	case CodeVetoed:
		d.Title = t.TitleVetoed
		d.Link = &Link{URL: h.loginURL, Text: t.SignInAgain}
		if v != nil && v.p.Purpose == twofactor.PurposeStepUp {
			d.Link = &Link{URL: cmpReturn(v.p.Back, h.returnURL), Text: t.Continue}
		}
	case CodeNoQualifyingMethod:
		d.Title = t.TitleStepUp
		d.Link = &Link{URL: p.body.Next, Text: t.AddSecurityKey}
	default:
		d.Link = &Link{URL: h.loginURL, Text: t.SignInAgain}
	}
	h.render(w, r, p.status, d)
}
