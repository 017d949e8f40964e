package twofactorhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
)

// Begin starts the second step after the host has checked the password
// of the user with userID, and answers the request itself:
//
//   - a trusted device, or a user with no second factor, is signed in at
//     once: SignIn is called and the browser goes to the return path;
//   - a user the policy requires to have a factor but who has none is
//     signed in, then sent to EnrollURL; while the policy's grace lasts,
//     to the enrollment prompt instead, which offers to set one up now or
//     to skip for now;
//   - otherwise a challenge is created, kept in the pending cookie, and
//     the browser goes to the challenge page (for a method that sends a
//     code first, a code is already on its way unless Config.ManualSend).
//
// The user is the Service's for userID (twofactor.Config.Users): an id it
// does not know fails closed, with a page that says the account was not
// found (403 unknown_user), and nobody is signed in. The return path is
// the request's "next" query or form field when it is a path on this site
// (see the package documentation), else Config.ReturnURL. A JSON client
// (Accept: application/json) gets the outcome as JSON instead of a
// redirect. A locked-out user gets 429 with the time to wait; a store
// failure gets 500 and nobody is signed in.
//
// Unsafe requests are checked with http.CrossOriginProtection, as every
// route of the Handler is: a cross-origin POST to the host's login form is
// refused with 403 before the Service is asked anything.
func (h *Handler) Begin(w http.ResponseWriter, r *http.Request, userID string) {
	h.BeginAfter(w, r, userID, twofactor.FirstPassword)
}

// BeginAfter is Begin after a first step other than a password (a sign-in
// link by email, a passkey, a social login: see twofactor.FirstFactor):
// the challenge offers no second factor on the first step's channel. A
// user whose every factor is on it is signed in by neither: 403
// no_independent_factor, with a page that asks them to sign in with
// their password.
func (h *Handler) BeginAfter(w http.ResponseWriter, r *http.Request, userID string, first twofactor.FirstFactor) {
	r = h.withLanguage(r)
	if err := h.cop.Check(r); err != nil {
		h.fail(w, r, nil, errCrossOrigin)
		return
	}
	user, err := h.lookupUser(r, userID)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	ret := cleanReturn(r.FormValue(ReturnParam))
	c := h.client(r)
	c.FirstFactor = first
	begun, err := h.svc.Begin(r.Context(), user, c)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.begun(w, r, user, begun, ret, c)
}

// begun moves the client on from a Begin: to the challenge, to the
// enrollment a policy requires, or signed in.
func (h *Handler) begun(w http.ResponseWriter, r *http.Request, user twofactor.User, begun *twofactor.Begun, ret string, c twofactor.Client) {
	res := &twofactor.Result{User: user, Purpose: twofactor.PurposeLogin, VerifiedAt: h.now(), FirstFactor: c.FirstFactor}
	switch begun.Status {
	case twofactor.StatusChallenge:
		h.startChallenge(w, r, begun.Challenge, ret, "", c, true)
	case twofactor.StatusEnrollRequired:
		h.signedIn(w, r, res, h.withNext(h.enrollURL, ret), statusEnrollRequired)
	case twofactor.StatusEnrollSuggested:
		h.signedIn(w, r, res, h.withNext(h.url(routeEnrollPrompt), cmpReturn(ret, h.returnURL)), statusEnrollSuggested)
	default: // StatusTrusted, StatusNoFactor
		h.signedIn(w, r, res, cmpReturn(ret, h.returnURL), statusSignedIn)
	}
}

// Outcomes in JSON answers.
const (
	statusChallenge      = "challenge"
	statusSignedIn       = "signed_in"
	statusSteppedUp      = "stepped_up"
	statusEnrollRequired = "enroll_required"
	statusCancelled      = "cancelled"
)

func cmpReturn(ret, def string) string {
	if ret == "" {
		return def
	}
	return ret
}

// startChallenge keeps ch in the pending cookie, sends a first code when
// the first method sends one (and send is set), and moves the client to
// the challenge page. back is the page a step-up was asked from.
func (h *Handler) startChallenge(w http.ResponseWriter, r *http.Request, ch *twofactor.Challenge, ret, back string, c twofactor.Client, send bool) {
	p := &pending{ChallengeID: ch.ID, UserID: ch.User.ID, Purpose: ch.Purpose, Return: ret, Back: back, Expires: ch.ExpiresAt.Unix()}
	asJSON := wantsJSON(r)
	send = send && !h.manualSend
	var methods []twofactor.Method
	if asJSON || send {
		methods = h.ordered(r.Context(), ch)
	}
	if send && len(methods) > 0 && h.uiOf(methods[0]).sends() {
		sent, err := h.svc.Send(r.Context(), ch.ID, methods[0], c)
		if err == nil {
			p.Sent = &sentCode{Method: methods[0], Destination: sent.Destination, ResendAt: sent.ResendAt.UnixMilli()}
		} else {
			// The page offers "Send me a code" and shows the reason
			// when the user asks; nothing was sent.
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "twofactorhttp: first code not sent",
				slog.String("method", string(methods[0])), slog.String("error", err.Error()))
		}
	}
	if err := h.setPending(w, r, p); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if asJSON {
		h.writeJSON(w, r, http.StatusOK, h.state(h.tr(r), ch, p, methods))
		return
	}
	seeOther(w, h.url(routeChallenge))
}

// pendingFor returns the request's pending challenge, or answers 410. A
// step-up challenge belongs to the signed-in user only: its cookie is
// refused for anyone else.
func (h *Handler) pendingFor(w http.ResponseWriter, r *http.Request) (*pending, bool) {
	p, err := h.readPending(r)
	if err == nil && p.Purpose == twofactor.PurposeStepUp {
		if id, ok := h.sessionID(r); !ok || id != p.UserID {
			err = errNoPending
		}
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return nil, false
	}
	return p, true
}

// serveChallenge shows the challenge page (GET prefix), or its state as
// JSON. Without a pending challenge a browser goes to the login page.
func (h *Handler) serveChallenge(w http.ResponseWriter, r *http.Request) {
	if _, err := h.readPending(r); err != nil && !wantsJSON(r) {
		h.clearPending(w, r)
		seeOther(w, h.loginURL)
		return
	}
	p, ok := h.pendingFor(w, r)
	if !ok {
		return
	}
	v := &view{p: p, active: twofactor.Method(r.URL.Query().Get("method"))}
	if !h.loadView(w, r, v) {
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, h.state(h.tr(r), v.ch, p, h.ordered(r.Context(), v.ch)))
		return
	}
	h.renderChallenge(w, r, http.StatusOK, v)
}

// serveSend sends a code (POST prefix/send, method=email|sms).
func (h *Handler) serveSend(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	p, ok := h.pendingFor(w, r)
	if !ok {
		return
	}
	v := &view{p: p, active: req.Method}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	sent, err := h.svc.Send(r.Context(), p.ChallengeID, req.Method, h.client(r))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p.Sent = &sentCode{Method: req.Method, Destination: sent.Destination, ResendAt: sent.ResendAt.UnixMilli()}
	if err := h.setPending(w, r, p); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, h.sentJSON(p.Sent, sent.ExpiresAt))
		return
	}
	seeOther(w, h.url(routeChallenge)+"?method="+url.QueryEscape(string(req.Method)))
}

// serveStart returns what the browser needs before answering (POST
// prefix/start, {"method": "webauthn"}): the request options of a security
// key. Without a method, the first method of the pages that has a start
// step.
func (h *Handler) serveStart(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	m := req.Method
	for _, ui := range h.ui.list {
		if m != "" {
			break
		}
		if ui.starts() {
			m = ui.Method
		}
	}
	h.start(w, r, m)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request, m twofactor.Method) {
	p, ok := h.pendingFor(w, r)
	if !ok {
		return
	}
	opts, err := h.svc.Start(r.Context(), p.ChallengeID, m)
	if err != nil {
		h.fail(w, r, &view{p: p, active: m}, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, startJSON{Method: m, Options: opts})
}

type startJSON struct {
	Method  twofactor.Method `json:"method"`
	Options json.RawMessage  `json:"options"`
}

// serveVerify checks an answer (POST prefix/verify, method and code; or
// the security-key script's credential). On success a sign-in calls
// SignIn and a step-up keeps the proof in the step-up cookie; then the
// browser goes to the return path.
func (h *Handler) serveVerify(w http.ResponseWriter, r *http.Request) { h.verify(w, r, "") }

// verify is serveVerify, with the method of a request that names none.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, def twofactor.Method) {
	req, err := readRequest(w, r)
	if req.Method == "" {
		req.Method = def
	}
	p, ok := h.pendingFor(w, r)
	if !ok {
		return
	}
	v := &view{p: p, active: req.Method, remember: req.RememberDevice}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if req.Method == "" {
		h.fail(w, r, v, fmt.Errorf("%w: no method", errBadRequest))
		return
	}
	res, err := h.svc.Verify(r.Context(), twofactor.Answer{
		ChallengeID:    p.ChallengeID,
		Method:         req.Method,
		Code:           normalizeCode(h.uiOf(req.Method).codeField(), req.Code),
		Purpose:        p.Purpose,
		UserID:         p.UserID,
		Client:         h.client(r),
		RememberDevice: req.RememberDevice && h.trust != nil && p.Purpose == twofactor.PurposeLogin,
	})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	next := cmpReturn(p.Return, h.returnURL)
	if p.Purpose == twofactor.PurposeStepUp {
		if err := h.setStepUp(w, r, p.UserID, res.Proof); err != nil {
			h.fail(w, r, nil, err)
			return
		}
		h.clearPending(w, r)
		h.redirect(w, r, statusSteppedUp, next)
		return
	}
	h.signedIn(w, r, res, next, statusSignedIn)
}

// normalizeCode trims what people paste around a code: spaces around any
// answer, and spaces and dashes inside the digits of a numeric one
// ("123 456").
func normalizeCode(f CodeField, code string) string {
	code = strings.TrimSpace(code)
	if f.Numeric {
		code = strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '\u00a0' {
				return -1
			}
			return r
		}, code)
	}
	return code
}

// serveCancel ends the challenge (POST prefix/cancel): every code issued
// for it dies, the pending cookie is dropped, and a sign-in goes back to
// the login page (a step-up to the page it was asked from, else
// Config.ReturnURL).
func (h *Handler) serveCancel(w http.ResponseWriter, r *http.Request) {
	p, err := h.readPending(r)
	if err != nil {
		if wantsJSON(r) {
			h.fail(w, r, nil, err)
			return
		}
		h.clearPending(w, r)
		h.redirect(w, r, statusCancelled, h.loginURL)
		return
	}
	next := h.loginURL
	if p.Purpose == twofactor.PurposeStepUp {
		// Back to the page the step-up was asked from; a set-up that
		// waited for it is dropped, so that page does not ask again.
		next = cmpReturn(p.Back, h.returnURL)
		h.clearEnrolling(w, r)
	}
	err = h.svc.Cancel(r.Context(), p.ChallengeID)
	switch {
	case errors.Is(err, twofactor.ErrChallengeNotFound) && !wantsJSON(r):
		// Already over: the user only wants out.
	case err != nil:
		h.fail(w, r, nil, err)
		return
	}
	h.clearPending(w, r)
	h.redirect(w, r, statusCancelled, next)
}

// serveStepUpPage (GET prefix/step-up?next=) takes the signed-in user
// straight to the challenge page of a step-up, on their first method: a
// security key or an authenticator app shows its form at once; a method
// that sends a code shows its send button, so one click sends it.
//
// Creating the challenge on a GET is safe because:
//
//   - it sends nothing: no code, no email, no text message (a GET never
//     makes the Service deliver anything), so it cannot be used to spam
//     the user, and no event of a step-up makes a security email;
//   - it is only done for the browser's own navigations: Sec-Fetch-Site
//     "same-origin" (a link or redirect of this site) or "none" (typed,
//     a bookmark). A navigation from another site, or a browser that
//     does not say, gets the page with a Continue button instead, whose
//     POST goes through CrossOriginProtection;
//   - it answers no guess and counts nothing: the lockout is only read
//     (a locked-out user gets the lockout page), so it can neither lock
//     the user out nor use up a limit; and a pending step-up of the same
//     user is taken up again rather than a new one made, so reloading
//     the page does not pile up challenges.
func (h *Handler) serveStepUpPage(w http.ResponseWriter, r *http.Request) {
	ret := cleanReturn(r.URL.Query().Get(ReturnParam))
	u, ok, err := h.user(r)
	switch {
	case !ok && wantsJSON(r):
		h.fail(w, r, nil, errSignedOut)
		return
	case !ok:
		seeOther(w, h.withNext(h.loginURL, ret))
		return
	case err != nil:
		h.fail(w, r, nil, err)
		return
	}
	need := requirementOf(r)
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusUnauthorized, ErrorBody{Error: CodeStepUpRequired, Message: h.tr(r).StepUpRequired, Next: h.stepUpRoute(need)})
		return
	}
	back := h.stepUpBack(r, cleanReturn(r.URL.Query().Get(backParam)))
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
	default:
		h.render(w, r, http.StatusOK, &PageData{Page: PageMessage, Title: h.tr(r).TitleStepUp, Message: h.tr(r).IntroStepUp,
			Form: &Form{Action: h.stepUpRoute(need), Next: ret, Back: back, Button: h.tr(r).Continue,
				Cancel: &Link{URL: cmpReturn(back, h.returnURL), Text: h.tr(r).Cancel}}})
		return
	}
	if p, err := h.readPending(r); err == nil && p.Purpose == twofactor.PurposeStepUp && p.UserID == u.ID {
		if ch, err := h.svc.Challenge(r.Context(), p.ChallengeID); err == nil && ch.User.ID == u.ID && h.meets(ch, need) {
			p.Return, p.Back = ret, back
			if err := h.setPending(w, r, p); err != nil {
				h.fail(w, r, nil, err)
				return
			}
			seeOther(w, h.url(routeChallenge))
			return
		}
	}
	h.beginStepUp(w, r, u, need, ret, back, false)
}

// backParam is the form field and query parameter of the page a step-up
// was asked from.
const backParam = "back"

// stepUpBack returns the page a step-up was asked from: back when given,
// else the Referer when it is a page of this site other than the
// challenge's own, else "".
func (h *Handler) stepUpBack(r *http.Request, back string) string {
	if back == "" {
		if rest, ok := strings.CutPrefix(r.Header.Get("Referer"), origin(r)); ok {
			back = cleanReturn(rest)
		}
	}
	path, _, _ := strings.Cut(back, "?")
	switch {
	case path == h.url(routeChallenge), path == h.url(routeStepUp), path == h.url(routeVerify), path == h.url(routeSend):
		return ""
	}
	return back
}

// serveStepUp (POST prefix/step-up, next=, back=) creates a step-up
// challenge for the signed-in user and moves to the challenge page; the
// first code of a method that sends one is sent (a POST, checked by
// CrossOriginProtection).
func (h *Handler) serveStepUp(w http.ResponseWriter, r *http.Request) {
	u, ok, err := h.user(r)
	switch {
	case !ok:
		h.fail(w, r, nil, errSignedOut)
		return
	case err != nil:
		h.fail(w, r, nil, err)
		return
	}
	req, err := readRequest(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.beginStepUp(w, r, u, requirementOf(r), cleanReturn(req.Next), h.stepUpBack(r, cleanReturn(req.Back)), true)
}

// beginStepUp creates a step-up challenge for u that offers the methods
// meeting need, and moves to the challenge page, sending a first code
// when send is set. A locked-out user gets the lockout page, whose way
// back is back; one with no method that meets need, a page that says so.
func (h *Handler) beginStepUp(w http.ResponseWriter, r *http.Request, u twofactor.User, need twofactor.Requirement, ret, back string, send bool) {
	c := h.client(r)
	ch, err := h.svc.StepUpFor(r.Context(), u, c, twofactor.PurposeStepUp, need)
	if err != nil {
		if !wantsJSON(r) && errors.Is(err, twofactor.ErrLocked) {
			h.lockedPage(w, r, twofactor.PurposeStepUp, nil, back, err)
			return
		}
		h.fail(w, r, nil, err)
		return
	}
	h.startChallenge(w, r, ch, ret, back, c, send)
}

// view is what the challenge page is built from.
type view struct {
	p        *pending
	ch       *twofactor.Challenge // loaded on demand
	active   twofactor.Method
	remember bool
	err      *ErrorView
}

// loadView loads the challenge of v, or answers why it cannot.
func (h *Handler) loadView(w http.ResponseWriter, r *http.Request, v *view) bool {
	if v.ch != nil {
		return true
	}
	ch, err := h.svc.Challenge(r.Context(), v.p.ChallengeID)
	if err == nil && ch.User.ID != v.p.UserID {
		err = errNoPending
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return false
	}
	v.ch = ch
	return true
}

func (h *Handler) renderChallenge(w http.ResponseWriter, r *http.Request, status int, v *view) {
	if !h.loadView(w, r, v) {
		return
	}
	h.render(w, r, status, h.pageData(r.Context(), v))
}

// pageData builds the challenge page.
func (h *Handler) pageData(ctx context.Context, v *view) *PageData {
	t := h.trc(ctx)
	ms := h.ordered(ctx, v.ch)
	active := v.active
	if !v.ch.Offers(active) {
		active = ""
		if v.p.Sent != nil && v.ch.Offers(v.p.Sent.Method) {
			active = v.p.Sent.Method
		} else if len(ms) > 0 {
			active = ms[0]
		}
	}
	d := &PageData{
		Page: PageChallenge, Purpose: v.ch.Purpose, Error: v.err,
		Title: t.TitleLogin, Intro: t.IntroLogin,
		Verify: h.url(routeVerify), Send: h.url(routeSend), Cancel: h.url(routeCancel),
	}
	if v.ch.Purpose == twofactor.PurposeStepUp {
		d.Title, d.Intro = t.TitleStepUp, t.IntroStepUp
	}
	for _, m := range ms {
		mv := h.methodView(t, m, active)
		if mv.Active {
			d.Active = &mv
		}
		if d.Backup == nil && h.uiOf(m).recovery() {
			d.Backup = &mv
			continue
		}
		d.Methods = append(d.Methods, mv)
	}
	d.WebAuthn = d.Active != nil && d.Active.WebAuthn
	if s := v.p.Sent; s != nil && s.Method == active {
		d.Sent = &SentView{Text: t.Sent}
		if s.Destination != "" {
			d.Sent.Text = fmt.Sprintf(t.SentTo, t.Isolate(s.Destination))
		}
		if left := time.UnixMilli(s.ResendAt).Sub(h.now()); left > 0 {
			d.Sent.ResendIn = ceil(left, time.Second)
			d.Sent.Wait = fmt.Sprintf(t.ResendIn, t.in(left))
		}
	}
	if label, ok := h.trustLabel(t, v.ch.Purpose); ok {
		d.Trust = &TrustView{Label: label, Checked: v.remember}
	}
	return d
}

// trustLabel returns the "trust this device" label, when the checkbox is
// offered: on sign-in, with a trust manager.
func (h *Handler) trustLabel(tx *Strings, p twofactor.Purpose) (string, bool) {
	if h.trust == nil || p != twofactor.PurposeLogin {
		return "", false
	}
	d := h.trust.Duration()
	if d == trust.SessionOnly {
		return tx.TrustSession, true
	}
	return fmt.Sprintf(tx.TrustFor, tx.span(d)), true
}

// methodView describes m on the challenge page: the form its UI gives,
// from what its factor does.
func (h *Handler) methodView(tx *Strings, m, active twofactor.Method) MethodView {
	ui := h.uiOf(m)
	field := ui.codeField()
	mv := MethodView{
		Method:     m,
		MethodText: tx.method(m),
		URL:        h.url(routeChallenge) + "?method=" + url.QueryEscape(string(m)),
		Active:     m == active,
		Sends:      ui.sends(),
		Numeric:    field.Numeric,
		Length:     field.Length,
		WebOTP:     field.WebOTP,
	}
	mv.Input = inputLabel(mv.Input, field.Length, tx.Input)
	ui.kind().challenge(&mv)
	return mv
}

// ordered returns the challenge's methods with the one the user last
// signed in with first and recovery methods (backup codes) last; ties
// keep the pages' order (see Config.Methods: the policy's default first).
// A failure to read the enrollments only loses the last-used ordering.
func (h *Handler) ordered(ctx context.Context, ch *twofactor.Challenge) []twofactor.Method {
	ms := slices.Clone(ch.Methods)
	last := make(map[twofactor.Method]time.Time, len(ms))
	es, err := h.svc.Enrollments(ctx, ch.User)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "twofactorhttp: listing enrollments to order methods", slog.String("error", err.Error()))
	}
	for _, e := range es {
		if e.LastUsedAt.After(last[e.Method]) {
			last[e.Method] = e.LastUsedAt
		}
	}
	slices.SortStableFunc(ms, func(a, b twofactor.Method) int {
		ua, ub := h.uiOf(a), h.uiOf(b)
		if c := boolCmp(ua.recovery(), ub.recovery()); c != 0 {
			return c
		}
		if c := last[b].Compare(last[a]); c != 0 {
			return c
		}
		return ua.rank - ub.rank
	})
	return ms
}

// stateJSON is a challenge's state for JSON clients.
type stateJSON struct {
	Status         string            `json:"status"` // "challenge"
	Purpose        twofactor.Purpose `json:"purpose"`
	Methods        []methodJSON      `json:"methods"`
	ExpiresAt      time.Time         `json:"expires_at"`
	Sent           *sentJSON         `json:"sent,omitempty"`
	RememberDevice *trustJSON        `json:"remember_device,omitempty"`
	Next           string            `json:"next"` // the challenge page
}

type methodJSON struct {
	Method twofactor.Method `json:"method"`
	Name   string           `json:"name"`
	Send   bool             `json:"send,omitempty"`   // POST send before verify
	Start  bool             `json:"start,omitempty"`  // POST start before verify (WebAuthn)
	Length int              `json:"length,omitempty"` // code length, when fixed
}

type sentJSON struct {
	Method      twofactor.Method `json:"method"`
	Destination string           `json:"destination,omitempty"` // masked
	ExpiresAt   time.Time        `json:"expires_at,omitzero"`
	ResendAt    time.Time        `json:"resend_at"`
	ResendAfter int              `json:"resend_after"` // seconds until resend_at; 0: now
}

type trustJSON struct {
	Label   string `json:"label"`
	Seconds int64  `json:"seconds"` // how long the device is trusted; 0: until the browser closes
}

func (h *Handler) state(tx *Strings, ch *twofactor.Challenge, p *pending, ms []twofactor.Method) stateJSON {
	st := stateJSON{Status: statusChallenge, Purpose: ch.Purpose, ExpiresAt: ch.ExpiresAt.UTC(), Next: h.url(routeChallenge)}
	for _, m := range ms {
		mv := h.methodView(tx, m, "")
		st.Methods = append(st.Methods, methodJSON{Method: m, Name: mv.Name, Send: mv.Sends, Start: h.uiOf(m).starts(), Length: mv.Length})
	}
	if p.Sent != nil {
		s := h.sentJSON(p.Sent, time.Time{})
		st.Sent = &s
	}
	if label, ok := h.trustLabel(tx, ch.Purpose); ok {
		st.RememberDevice = &trustJSON{Label: label}
		if d := h.trust.Duration(); d > 0 {
			st.RememberDevice.Seconds = int64(d / time.Second)
		}
	}
	return st
}

func (h *Handler) sentJSON(s *sentCode, expires time.Time) sentJSON {
	at := time.UnixMilli(s.ResendAt).UTC()
	out := sentJSON{Method: s.Method, Destination: s.Destination, ResendAt: at}
	if !expires.IsZero() {
		out.ExpiresAt = expires.UTC()
	}
	if left := at.Sub(h.now()); left > 0 {
		out.ResendAfter = ceil(left, time.Second)
	}
	return out
}
