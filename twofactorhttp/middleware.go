package twofactorhttp

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

// Errors of the middleware's Check methods. A missing or stale step-up
// proof matches twofactor.ErrStepUpRequired.
var (
	// ErrSignedOut means the request has no signed-in user (Config.UserID
	// answered false).
	ErrSignedOut = errors.New("twofactorhttp: not signed in")
	// ErrEnrollRequired means the policy requires a second factor and the
	// signed-in user has none.
	ErrEnrollRequired = errors.New("twofactorhttp: a second factor must be enrolled first")
	// ErrEnrollPrompt means the signed-in user's policy requires a second
	// factor they do not have, but its grace lasts and they have not
	// skipped the enrollment prompt in this session: show it to them. It
	// matches ErrEnrollRequired.
	ErrEnrollPrompt = fmt.Errorf("%w: show the enrollment prompt", ErrEnrollRequired)

	errZeroMiddleware = errors.New("twofactorhttp: middleware not made by a Handler (use Handler.StepUp or Handler.Enforce); refusing every request")
)

// StepUp is middleware that lets a request through only when the signed-in
// user verified a second factor recently, for sensitive pages and actions
// (change the password, remove a factor, delete the account). It has the
// shape of net/http's CrossOriginProtection: Check decides, Handler wraps.
//
// Without a fresh verification, a page request (GET or HEAD, not asking
// for JSON) is sent through a step-up challenge and back: to the step-up
// route, which goes straight to the challenge page of the user's first
// method (sending nothing: a method that sends a code shows its send
// button), then to the URL it asked for. Cancelling goes back to the page
// the user came from. Any other request gets
// 401: JSON clients the body {"error": "step_up_required", "next":
// "<prefix>step-up"} (POST there to begin), others a page with a Continue
// button. The proof of the verification (Result.Proof of a step-up
// challenge) is kept in a session cookie sealed to the user, and checked
// with Service.CheckProof, so a password change or an admin reset voids it.
//
// A route may ask for more than a fresh verification: StepUp.PhishingResistant
// passes only a proof of a phishing-resistant factor (a security key or
// passkey), and the step-up it leads to offers only those; a user who has
// none gets a page that says so and links to adding a security key (403
// no_qualifying_method). The proof is checked with
// Service.CheckProofFor.
//
//	mux.Handle("/account/payout", h.StepUp(2*time.Minute).PhishingResistant().Handler(payout))
//
// A StepUp is made by Handler.StepUp and is safe for concurrent use. The
// zero value refuses every request.
type StepUp struct {
	h      *Handler
	maxAge time.Duration
	phr    bool // a phishing-resistant factor is required (PhishingResistant)
}

// StepUp returns step-up middleware. maxAge is how long a verification
// stays fresh for the pages it guards; zero (or anything longer than the
// Service's StepUpMaxAge, which CheckProof enforces) means the Service's.
// It panics if Config.UserID is nil: step-up needs to know who is signed
// in.
func (h *Handler) StepUp(maxAge time.Duration) *StepUp {
	if h.userID == nil {
		panic("twofactorhttp: Handler.StepUp needs Config.UserID")
	}
	return &StepUp{h: h, maxAge: max(maxAge, 0)}
}

// Check returns nil when the request's signed-in user has a fresh step-up
// proof. Otherwise it returns ErrSignedOut, an error matching
// twofactor.ErrStepUpRequired, one matching twofactor.ErrUnknownUser for
// a user id the Service's Users does not know, or a store failure (never
// nil on failure).
func (s *StepUp) Check(r *http.Request) error {
	if s == nil || s.h == nil {
		return errZeroMiddleware
	}
	u, ok, err := s.h.user(r)
	if !ok {
		return ErrSignedOut
	}
	if err != nil {
		return err
	}
	proof := s.h.stepUpProof(r, u.ID)
	if proof == "" {
		return twofactor.ErrStepUpRequired
	}
	return s.h.svc.CheckProofFor(r.Context(), proof, u.ID, twofactor.PurposeStepUp, s.requirement())
}

// Handler returns next guarded by Check.
func (s *StepUp) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.Check(r)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		if errors.Is(err, errZeroMiddleware) {
			denyZero(w, r)
			return
		}
		h := s.h
		ret := cleanReturn(r.URL.RequestURI())
		page := isPage(r)
		switch {
		case errors.Is(err, ErrSignedOut) && page:
			seeOther(w, h.withNext(h.loginURL, ret))
		case errors.Is(err, twofactor.ErrStepUpRequired) && page:
			seeOther(w, h.withNext(h.stepUpRoute(s.requirement()), ret))
		case errors.Is(err, twofactor.ErrStepUpRequired) && wantsJSON(r):
			h.writeJSON(w, r, http.StatusUnauthorized, ErrorBody{Error: CodeStepUpRequired, Message: h.tr(r).StepUpRequired, Next: h.stepUpRoute(s.requirement())})
		case errors.Is(err, twofactor.ErrStepUpRequired):
			h.render(w, r, http.StatusUnauthorized, &PageData{Page: PageMessage, Title: h.tr(r).TitleStepUp, Message: h.tr(r).StepUpRequired,
				Error: &ErrorView{Code: CodeStepUpRequired, Message: h.tr(r).StepUpRequired},
				Form:  &Form{Action: h.stepUpRoute(s.requirement()), Next: h.stepUpReturn(r, ret), Button: h.tr(r).Continue, Cancel: &Link{URL: h.returnURL, Text: h.tr(r).Cancel}}})
		default:
			h.fail(w, r, nil, err)
		}
	})
}

// stepUpReturn is where a step-up started by a refused POST returns: the
// page the form was on, when the browser said so and it is on this site;
// a POST itself cannot be replayed.
func (h *Handler) stepUpReturn(r *http.Request, ret string) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ret
	}
	ref := r.Header.Get("Referer")
	if rest, ok := strings.CutPrefix(ref, origin(r)); ok && rest != "" {
		return cleanReturn(rest)
	}
	return ""
}

// origin returns the scheme and host the request was made to, as a
// browser writes it in Referer.
func origin(r *http.Request) string {
	scheme := "https://"
	if r.TLS == nil && isLocalhost(r.Host) {
		scheme = "http://"
	}
	return scheme + r.Host
}

// Enforce is middleware for a policy that requires a second factor
// (Policy.Required; each user's own, as the Service's PolicyFor decides it
// at each request): a signed-in user with no second factor (backup codes
// do not count) is sent to Config.EnrollURL, with the page they asked for
// as ?next=, before any page it guards. While the policy's grace
// (Policy.Grace) lasts, such a user is sent to the enrollment prompt
// instead, and once they skipped it the session passes until the grace
// ends. A page request is redirected;
// other requests get 403, JSON clients {"error": "enroll_required",
// "next": EnrollURL}. Requests without a signed-in user, requests to
// EnrollURL and below it, and requests under the Handler's prefix pass, so
// the host's sign-in and enrollment keep working; put it after the host's
// own sign-in middleware.
//
// When no policy requires a factor it lets everything through without
// asking who is signed in. Otherwise a user whose policy does not require
// one passes; a user who signed in with a second factor passes with no
// store call: the sign-in left a sealed mark, bound to the user and to
// the method that proved it, in a session cookie, good for an hour while
// the user's policy allows that method. Without a fresh mark, a request
// lists the user's enrollments, and Handler leaves a mark when they have
// a factor; a store failure answers 500: it fails closed. Removing a
// factor or turning two-step verification off through the settings pages
// drops the mark; an administrator's reset is seen within the hour (end
// the user's sessions as well).
//
// An Enforce is made by Handler.Enforce and is safe for concurrent use.
// The zero value refuses every request.
type Enforce struct {
	h *Handler
}

// Enforce returns the enforcement middleware. It panics if Config.UserID
// is nil: enforcement needs to know who is signed in.
func (h *Handler) Enforce() *Enforce {
	if h.userID == nil {
		panic("twofactorhttp: Handler.Enforce needs Config.UserID")
	}
	return &Enforce{h: h}
}

// Check returns nil when the request may proceed, ErrEnrollRequired when
// the signed-in user must first enroll a second factor, an error matching
// twofactor.ErrUnknownUser for a user id the Service's Users does not
// know, or a store failure.
func (e *Enforce) Check(r *http.Request) error {
	_, _, err := e.check(r)
	return err
}

// check is Check, and names the user whose enrollments it read from the
// store and the method of the factor it found in them ("" when it read
// none).
func (e *Enforce) check(r *http.Request) (read string, m twofactor.Method, err error) {
	if e == nil || e.h == nil {
		return "", "", errZeroMiddleware
	}
	h := e.h
	if !h.required || h.exempt(r.URL.Path) {
		return "", "", nil
	}
	u, ok, err := h.user(r)
	if !ok {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	if r, err = h.withPolicy(r, u); err != nil {
		return "", "", err
	}
	pol := h.policyIn(r.Context())
	if !pol.Required || h.enrolledMark(r, u.ID) {
		return "", "", nil
	}
	m, has, err := h.hasPrimary(r, u)
	if err != nil {
		return "", "", err
	}
	if has {
		return u.ID, m, nil
	}
	if pol.Grace.IsZero() {
		return "", "", ErrEnrollRequired
	}
	if h.skippedMark(r, u.ID) && (pol.Grace.Until.IsZero() || h.now().Before(pol.Grace.Until)) {
		return "", "", nil
	}
	if _, open, err := h.svc.EnrollGrace(r.Context(), u); err != nil || !open {
		return "", "", cmp.Or(err, ErrEnrollRequired)
	}
	return "", "", ErrEnrollPrompt
}

// Handler returns next guarded by Check.
func (e *Enforce) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read, m, err := e.check(r)
		switch {
		case err == nil:
			if read != "" {
				e.h.setEnrolled(w, r, read, m)
			}
			next.ServeHTTP(w, r)
		case errors.Is(err, errZeroMiddleware):
			denyZero(w, r)
		case errors.Is(err, ErrEnrollPrompt) && isPage(r):
			seeOther(w, e.h.withNext(e.h.url(routeEnrollPrompt), cleanReturn(r.URL.RequestURI())))
		case errors.Is(err, ErrEnrollRequired) && isPage(r):
			seeOther(w, e.h.withNext(e.h.enrollURL, cleanReturn(r.URL.RequestURI())))
		default:
			e.h.fail(w, r, nil, err)
		}
	})
}

// exempt reports whether path is the enrollment page (or below it) or
// under the Handler's prefix.
func (h *Handler) exempt(path string) bool {
	enroll, _, _ := strings.Cut(h.enrollURL, "?")
	enroll = strings.TrimSuffix(enroll, "/")
	return strings.HasPrefix(path, h.prefix) || path == enroll || strings.HasPrefix(path, enroll+"/")
}

// hasPrimary reports whether u has an enrollment of a factor their policy
// (withPolicy) allows that is not recovery-only, and its method.
func (h *Handler) hasPrimary(r *http.Request, u twofactor.User) (twofactor.Method, bool, error) {
	es, err := h.svc.Enrollments(r.Context(), u)
	if err != nil {
		return "", false, err
	}
	for _, e := range es {
		if h.allowed(r.Context(), e.Method) && !h.uiOf(e.Method).recovery() {
			return e.Method, true, nil
		}
	}
	return "", false, nil
}

// anyGrace reports whether some policy gives an enrollment grace.
func anyGrace(svc *twofactor.Service) bool {
	if !svc.Policy().Grace.IsZero() {
		return true
	}
	for _, p := range svc.Policies() {
		if !p.Grace.IsZero() {
			return true
		}
	}
	return false
}

// anyRequired reports whether some policy requires a second factor.
func anyRequired(svc *twofactor.Service) bool {
	if svc.Policy().Required {
		return true
	}
	for _, p := range svc.Policies() {
		if p.Required {
			return true
		}
	}
	return false
}

func denyZero(w http.ResponseWriter, r *http.Request) {
	slog.Default().LogAttrs(r.Context(), slog.LevelError, errZeroMiddleware.Error(), slog.String("path", r.URL.Path))
	securityHeaders(w)
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}
