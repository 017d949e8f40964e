package twofactorhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

// JSON error codes: the "error" of every JSON error answer.
const (
	CodeInvalidCode      = "invalid_code"       // 401: wrong, expired or malformed code (one message for all)
	CodeResendWait       = "resend_wait"        // 429: a new code may be sent after retry_after (a cooldown)
	CodeRateLimited      = "rate_limited"       // 429: a cap on sends or answers; retry_after says when it lifts
	CodeLocked           = "locked"             // 429: the user is locked out for retry_after
	CodeChallengeEnded   = "challenge_ended"    // 410: no pending challenge (expired, cancelled, completed, or no valid cookie)
	CodeTooManyAttempts  = "too_many_attempts"  // 410: the challenge used up its answers
	CodeMethodNotOffered = "method_not_offered" // 400: the challenge does not offer that method
	CodeNotEnrolled      = "not_enrolled"       // 403: step-up for a user with no second factor
	CodeCrossOrigin      = "cross_origin"       // 403: a cross-origin request refused
	CodeBadRequest       = "bad_request"        // 400: a body or field that does not parse
	CodeTooLarge         = "too_large"          // 413: a body over 68 KiB
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeStepUpRequired   = "step_up_required"   // 401: the StepUp middleware wants a fresh verification
	CodeEnrollRequired   = "enroll_required"    // 403: the Enforce middleware wants a second factor enrolled
	CodeSignedOut        = "signed_out"         // 401: a route that needs a signed-in user
	CodeAlreadyEnrolled  = "already_enrolled"   // 409: adding a security key that is registered already
	CodeKeyRefused       = "key_refused"        // 400: a security key the host's authenticator policy refuses (its model, or a synced passkey)
	// CodeNoPendingEnrollment (409): confirming an enrollment that was
	// never begun or has expired.
	CodeNoPendingEnrollment = "no_pending_enrollment"
	// CodeVetoed (403): the code was right, but the host's veto
	// (twofactor.Config.Veto) refused the sign-in; the challenge has
	// ended.
	CodeVetoed = "vetoed"
	// CodeNoQualifyingMethod (403): a step-up asks for a kind of factor
	// (phishing resistant) the user has none of; next is where to add a
	// security key.
	CodeNoQualifyingMethod = "no_qualifying_method"
	// CodeNoIndependentFactor (403): every second factor of the user is on
	// the channel of the first step of sign-in (an email code after a
	// sign-in link by email).
	CodeNoIndependentFactor = "no_independent_factor"
	CodeInternal            = "internal" // 500: anything else; logged, never detailed
)

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error      string `json:"error"`                 // one of the Code constants
	Message    string `json:"message"`               // for people, from Strings
	RetryAfter int    `json:"retry_after,omitempty"` // seconds, with 429 (also in the Retry-After header)
	// Next is where the client goes from here, when there is a place: the
	// login page after an ended challenge, the step-up or enrollment page.
	Next string `json:"next,omitempty"`
}

// problem is an error answer.
type problem struct {
	status int
	body   ErrorBody
}

// classify maps err to a status, a code and a message. Wrong, expired and
// malformed codes share one status and message, so an answer never tells
// someone guessing whether a code was once right; the events tell them
// apart.
//
// m is the method the request was about, if any: a security key that is
// refused gets words about a key, not a code.
func (h *Handler) classify(r *http.Request, err error, m twofactor.Method) problem {
	t := h.tr(r)
	var re *twofactor.RetryError
	switch {
	case errors.As(err, &re):
		secs := int(re.RetryAfter.Round(time.Second) / time.Second)
		words := t.in(re.RetryAfter)
		switch {
		case re.Cooldown():
			return problem{http.StatusTooManyRequests, ErrorBody{Error: CodeResendWait, Message: fmt.Sprintf(t.ResendWait, words), RetryAfter: secs}}
		case errors.Is(err, twofactor.ErrLocked):
			return problem{http.StatusTooManyRequests, ErrorBody{Error: CodeLocked, Message: fmt.Sprintf(t.Locked, words), RetryAfter: secs}}
		case re.Limit == twofactor.LimitIP:
			return problem{http.StatusTooManyRequests, ErrorBody{Error: CodeRateLimited, Message: fmt.Sprintf(t.RateLimited, words), RetryAfter: secs}}
		default:
			// Per-user, per-destination and the factors' own caps limit
			// sends.
			return problem{http.StatusTooManyRequests, ErrorBody{Error: CodeRateLimited, Message: fmt.Sprintf(t.SendCap, words), RetryAfter: secs}}
		}
	case errors.Is(err, twofactor.ErrUnknownUser):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeUnknownUser, Message: t.UnknownUser, Next: h.loginURL}}
	case errors.Is(err, twofactor.ErrTooManyAttempts):
		return problem{http.StatusGone, ErrorBody{Error: CodeTooManyAttempts, Message: t.TooManyAttempts, Next: h.loginURL}}
	case errors.Is(err, twofactor.ErrChallengeNotFound), errors.Is(err, errNoPending):
		return problem{http.StatusGone, ErrorBody{Error: CodeChallengeEnded, Message: t.ChallengeEnded, Next: h.loginURL}}
	case errors.Is(err, twofactor.ErrInvalidCode) && m != "" && h.uiOf(m).kind().keyScript():
		return problem{http.StatusUnauthorized, ErrorBody{Error: CodeInvalidCode, Message: t.KeyRejected}}
	case errors.Is(err, twofactor.ErrInvalidCode):
		return problem{http.StatusUnauthorized, ErrorBody{Error: CodeInvalidCode, Message: t.InvalidCode}}
	case errors.Is(err, errNoEnrollment):
		return problem{http.StatusConflict, ErrorBody{Error: CodeNoPendingEnrollment, Message: t.NoPendingEnrollment}}
	case errors.Is(err, twofactor.ErrAlreadyEnrolled):
		return problem{http.StatusConflict, ErrorBody{Error: CodeAlreadyEnrolled, Message: t.AlreadyEnrolled}}
	case errors.Is(err, twofactor.ErrMethodNotAllowed):
		return problem{http.StatusBadRequest, ErrorBody{Error: CodeMethodNotOffered, Message: t.MethodNotOffered}}
	case errors.Is(err, twofactor.ErrNotEnrolled):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeNotEnrolled, Message: t.NotEnrolled, Next: h.enrollURL}}
	case errors.Is(err, twofactor.ErrVetoed):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeVetoed, Message: t.Vetoed, Next: h.loginURL}}
	case errors.Is(err, twofactor.ErrNoQualifyingMethod):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeNoQualifyingMethod, Message: t.NoQualifyingMethod, Next: h.securityKeyURL()}}
	case errors.Is(err, twofactor.ErrNoIndependentFactor):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeNoIndependentFactor, Message: t.NoIndependentFactor, Next: h.loginURL}}
	case errors.Is(err, errCrossOrigin):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeCrossOrigin, Message: t.CrossOrigin}}
	case errors.As(err, new(keyRefusal)):
		var kr keyRefusal
		errors.As(err, &kr)
		msg := t.KeyModelRefused
		if kr.KeyRefusal() == "synced" {
			msg = t.KeySyncedRefused
		}
		return problem{http.StatusBadRequest, ErrorBody{Error: CodeKeyRefused, Message: msg}}
	case errors.Is(err, errBadRequest), errors.Is(err, twofactor.ErrInvalidInput):
		return problem{http.StatusBadRequest, ErrorBody{Error: CodeBadRequest, Message: t.BadRequest}}
	case errors.Is(err, errTooLarge):
		return problem{http.StatusRequestEntityTooLarge, ErrorBody{Error: CodeTooLarge, Message: t.BadRequest}}
	case errors.Is(err, errNotFound):
		return problem{http.StatusNotFound, ErrorBody{Error: CodeNotFound, Message: t.NotFound}}
	case errors.Is(err, errMethod):
		return problem{http.StatusMethodNotAllowed, ErrorBody{Error: CodeMethodNotAllowed, Message: t.MethodNotAllowed}}
	case errors.Is(err, twofactor.ErrStepUpRequired):
		return problem{http.StatusUnauthorized, ErrorBody{Error: CodeStepUpRequired, Message: t.StepUpRequired, Next: h.url(routeStepUp)}}
	case errors.Is(err, ErrEnrollPrompt):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeEnrollRequired, Message: t.EnrollRequired, Next: h.url(routeEnrollPrompt)}}
	case errors.Is(err, ErrEnrollRequired), errors.Is(err, twofactor.ErrEnrollRequired):
		return problem{http.StatusForbidden, ErrorBody{Error: CodeEnrollRequired, Message: t.EnrollRequired, Next: h.enrollURL}}
	case errors.Is(err, errSignedOut), errors.Is(err, ErrSignedOut):
		return problem{http.StatusUnauthorized, ErrorBody{Error: CodeSignedOut, Message: t.SignedOut, Next: h.loginURL}}
	}
	return problem{http.StatusInternalServerError, ErrorBody{Error: CodeInternal, Message: t.Internal}}
}

// fail answers err. With a challenge view, a page answer shows the
// challenge again with the message (a wrong code, a wait); otherwise a
// page with the message alone. An ended challenge also drops the pending
// cookie. Internal errors are logged and never detailed to the client.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var m twofactor.Method
	if v != nil {
		m = v.active
	}
	h.failAs(w, r, v, m, err)
}

// failAs is fail for a request about method m.
func (h *Handler) failAs(w http.ResponseWriter, r *http.Request, v *view, m twofactor.Method, err error) {
	p := h.classify(r, err, m)
	if p.status == http.StatusInternalServerError {
		h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: request failed",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	if p.body.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.body.RetryAfter))
	}
	if p.status == http.StatusGone || p.body.Error == CodeVetoed {
		h.clearPending(w, r)
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, p.status, p.body)
		return
	}
	switch {
	case p.body.Error == CodeLocked:
		purpose := twofactor.PurposeLogin
		if v != nil {
			purpose = v.p.Purpose
		}
		h.lockedPage(w, r, purpose, v, "", err)
	case p.status == http.StatusGone:
		h.render(w, r, p.status, &PageData{Page: PageEnded, Title: h.tr(r).TitleLogin, Message: p.body.Message,
			Link: &Link{URL: h.loginURL, Text: h.tr(r).SignInAgain}})
	case p.body.Error == CodeVetoed, p.body.Error == CodeNoQualifyingMethod, p.body.Error == CodeNoIndependentFactor:
		h.refusedPage(w, r, v, p)
	case v != nil && (p.status == http.StatusUnauthorized || p.status == http.StatusTooManyRequests || p.status == http.StatusBadRequest):
		v.err = &ErrorView{Code: p.body.Error, Message: p.body.Message, RetryAfter: p.body.RetryAfter}
		h.renderChallenge(w, r, p.status, v)
	default:
		d := &PageData{Page: PageMessage, Title: h.tr(r).TitleLogin, Message: p.body.Message, Error: &ErrorView{Code: p.body.Error, Message: p.body.Message, RetryAfter: p.body.RetryAfter}}
		if p.body.Next != "" {
			d.Link = &Link{URL: p.body.Next, Text: h.tr(r).Continue}
		}
		h.render(w, r, p.status, d)
	}
}

// lockedPage answers a lockout (err matches twofactor.ErrLocked) with the
// lockout page, 429 with Retry-After. The user's run of wrong answers
// locks every method, backup codes included (the Service counts it per
// user, before any factor), so the page offers none: it says when the
// lockout lifts, by the clock and as a wait, that nothing works
// meanwhile, what to do when it was not them (on a sign-in), the way
// back and, when the host gave one, where to get help. The way back ends
// a pending challenge (v) with the cancel form; without one it is a link
// to the login page, or on a step-up to back (else Config.ReturnURL).
func (h *Handler) lockedPage(w http.ResponseWriter, r *http.Request, purpose twofactor.Purpose, v *view, back string, err error) {
	t := h.tr(r)
	wait := time.Duration(0)
	if re := (*twofactor.RetryError)(nil); errors.As(err, &re) {
		wait = re.RetryAfter
	}
	secs := ceil(wait, time.Second)
	until := h.now().Add(time.Duration(secs) * time.Second).Truncate(time.Second)
	lv := &LockedView{Until: until, Clock: t.Dates.Format(until.UTC(), t.ClockTime), All: t.LockedAll, Purpose: purpose}
	lv.Before, lv.After, _ = strings.Cut(t.LockedAt, "%s")
	d := &PageData{Page: PageLocked, Title: t.TitleLocked, Purpose: purpose, Locked: lv,
		Message: fmt.Sprintf(t.LockedFor, t.wait(wait)),
		Error:   &ErrorView{Code: CodeLocked, Message: fmt.Sprintf(t.Locked, t.in(wait)), RetryAfter: secs}}
	button, to := t.BackToSignIn, h.loginURL
	if purpose == twofactor.PurposeStepUp {
		button, to = t.GoBack, cmpReturn(back, h.returnURL)
	} else {
		lv.NotYou = t.LockedNotYou
	}
	if v != nil {
		d.Form = &Form{Action: h.url(routeCancel), Button: button}
	} else {
		d.Link = &Link{URL: to, Text: button}
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	h.render(w, r, http.StatusTooManyRequests, d)
}

// wantsJSON reports whether the client asked for JSON: an Accept header
// naming application/json (or a +json type) before any HTML type, or a
// JSON request body.
func wantsJSON(r *http.Request) bool {
	ctype, accept := r.Header.Get("Content-Type"), r.Header.Get("Accept")
	if !strings.Contains(ctype, "json") && !strings.Contains(accept, "json") {
		return false // a browser's navigation: no parsing needed
	}
	if mt, _, err := mime.ParseMediaType(ctype); err == nil && isJSONType(mt) {
		return true
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" {
			continue
		}
		if mt == "text/html" || mt == "application/xhtml+xml" {
			return false
		}
		if isJSONType(mt) {
			return true
		}
	}
	return false
}

func isJSONType(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// Security headers. Pages load scripts and styles from the prefix only, as
// files (no inline script), images from the prefix or as data: URIs (the
// authenticator app's QR code), and may not be framed (frame-ancestors 'none',
// with X-Frame-Options for older browsers). Nothing is cached: every
// answer is about one person's sign-in.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// The header values are shared, read-only slices of capacity one: an
// Add by a later handler copies rather than writes into them.
var (
	hdrNoStore     = []string{"no-store"}
	hdrSameOrigin  = []string{"same-origin"}
	hdrNoSniff     = []string{"nosniff"}
	hdrDeny        = []string{"DENY"}
	hdrCSP         = []string{csp}
	hdrJSON        = []string{"application/json; charset=utf-8"}
	hdrHTML        = []string{"text/html; charset=utf-8"}
	hdrSecurityKey = [...]string{"Cache-Control", "Referrer-Policy", "X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"}
	hdrSecurityVal = [...][]string{hdrNoStore, hdrSameOrigin, hdrNoSniff, hdrDeny, hdrCSP}
)

func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	for i, k := range hdrSecurityKey {
		hd[k] = hdrSecurityVal[i]
	}
}

func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorBody{Error: CodeInternal, Message: h.tr(r).Internal})
	}
	securityHeaders(w)
	w.Header()["Content-Type"] = hdrJSON
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// redirect sends a browser to path with 303 See Other, so a POST becomes a
// GET; a JSON client gets {"ok": true, "status": ..., "next": path}.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, status, path string) {
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, doneJSON{OK: true, Status: status, Next: path})
		return
	}
	seeOther(w, path)
}

// seeOther redirects with 303 See Other to path, a path on this site
// already checked (cleanReturn or the configuration's own).
func seeOther(w http.ResponseWriter, path string) {
	securityHeaders(w)
	w.Header()["Location"] = []string{path}
	w.WriteHeader(http.StatusSeeOther)
}

// doneJSON answers a step that moves the client on.
type doneJSON struct {
	OK     bool   `json:"ok"`
	Status string `json:"status"` // signed_in, stepped_up, enroll_required, cancelled
	Next   string `json:"next"`
}

// request is the body of a POST, as a form or as JSON.
type request struct {
	Method         twofactor.Method `json:"method"`
	Code           string           `json:"code"`
	Credential     json.RawMessage  `json:"credential"` // a security key's assertion or attestation, as the security-key script sends it
	Name           string           `json:"name"`       // a new security key's name
	Passkey        bool             `json:"passkey"`    // a new security key is to be a passkey
	Ceremony       string           `json:"ceremony"`   // a passkey sign-in's ceremony
	RememberDevice bool             `json:"remember_device"`
	Next           string           `json:"next"`
	Back           string           `json:"back"` // the page a step-up was asked from
}

// maxBody bounds request bodies: a WebAuthn attestation may take 64 KiB
// (webauthn.MaxAttestationSize), with room for the fields around it.
const maxBody = 68 << 10

// readRequest decodes the body: JSON when the Content-Type says so, else
// a form. Errors match errBadRequest.
func readRequest(w http.ResponseWriter, r *http.Request) (request, error) {
	var req request
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ctype := r.Header.Get("Content-Type")
	if strings.Contains(ctype, "json") {
		if mt, _, _ := mime.ParseMediaType(ctype); !isJSONType(mt) {
			return req, fmt.Errorf("%w: content type %q", errBadRequest, ctype)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return req, bodyErr(err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(b, &req); err != nil {
				return req, fmt.Errorf("%w: body is not the expected JSON object", errBadRequest)
			}
		}
		if len(req.Credential) > 0 && req.Code == "" {
			req.Code = string(req.Credential)
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return req, bodyErr(err)
	}
	req.Method = twofactor.Method(r.PostForm.Get("method"))
	req.Code = r.PostForm.Get("code")
	switch r.PostForm.Get("remember") {
	case "on", "1", "true":
		req.RememberDevice = true
	}
	req.Next = r.PostForm.Get(ReturnParam)
	req.Back = r.PostForm.Get(backParam)
	return req, nil
}

func bodyErr(err error) error {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return fmt.Errorf("%w: %v", errTooLarge, err)
	}
	return fmt.Errorf("%w: %v", errBadRequest, err)
}

// keyRefusal is an error of a security key the host's authenticator
// policy refuses (package webauthn's): KeyRefusal says why, "model" or
// "synced".
type keyRefusal interface {
	error
	KeyRefusal() string
}
