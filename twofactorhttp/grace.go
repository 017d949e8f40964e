package twofactorhttp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twofactorkit/twofactor"
)

// The enrollment prompt: a user whose policy requires a second factor but
// gives a grace (twofactor.Policy.Grace) is signed in, then shown this page
// before the page they asked for: "Set up now" goes to Config.EnrollURL,
// "Skip for now" (a POST, so it passes the cross-origin check) counts a
// skip (Service.SkipEnroll) and goes on. The skip leaves a sealed mark in
// a session cookie, bound to the user and holding the grace's end, which
// Enforce accepts until then; without it Enforce sends the user back to
// this page while the grace lasts, and to EnrollURL once it is over.

const routeEnrollPrompt = "enroll-prompt"

// The statuses of JSON answers about the prompt.
const (
	statusEnrollSuggested = "enroll_suggested"
	statusSkipped         = "skipped"
)

// PromptView is the enrollment prompt page's view (PageEnrollPrompt).
type PromptView struct {
	Left   string // what is left of the grace, in words ("You have 5 days left to set up two-step verification.")
	Skips  string // how many skips are left, in words, or ""
	SetUp  Link   // the way to Config.EnrollURL, with the return path
	Skip   Form   // the POST that skips, with the return path
	Reason string // why: the policy requires it
}

// promptJSON is the prompt's state, for a JSON client.
type promptJSON struct {
	Status    string     `json:"status"`
	Until     *time.Time `json:"until,omitempty"`
	SkipsLeft *int       `json:"skips_left,omitempty"`
	SetUp     string     `json:"set_up"`
	Skip      string     `json:"skip"`
	Next      string     `json:"next"`
}

// serveEnrollPrompt (GET enroll-prompt) shows the prompt to the signed-in
// user: straight to the return path when they have a factor or their
// policy no longer requires one, to EnrollURL when the grace is over.
func (h *Handler) serveEnrollPrompt(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	ret := cmpReturn(cleanReturn(r.FormValue(ReturnParam)), h.returnURL)
	left, ok := h.inGrace(w, r, u, ret)
	if !ok {
		return
	}
	setUp := h.withNext(h.enrollURL, ret)
	if wantsJSON(r) {
		out := promptJSON{Status: statusEnrollSuggested, SetUp: setUp, Skip: h.url(routeEnrollPrompt), Next: ret}
		if !left.Until.IsZero() {
			until := left.Until.UTC()
			out.Until = &until
		}
		if left.SkipsLeft >= 0 {
			out.SkipsLeft = &left.SkipsLeft
		}
		h.writeJSON(w, r, http.StatusOK, out)
		return
	}
	t := h.tr(r)
	v := &PromptView{SetUp: Link{URL: setUp, Text: t.SetUpNow}, Reason: t.PromptReason,
		Skip: Form{Action: h.url(routeEnrollPrompt), Next: ret, Button: t.SkipForNow}}
	v.Left, v.Skips = h.graceWords(r, left)
	h.render(w, r, http.StatusOK, &PageData{Page: PageEnrollPrompt, Title: t.TitleEnrollPrompt, Prompt: v})
}

// graceWords says what is left of a grace.
func (h *Handler) graceWords(r *http.Request, left twofactor.GraceLeft) (until, skips string) {
	t := h.tr(r)
	if !left.Until.IsZero() {
		until = fmt.Sprintf(t.PromptLeft, t.left(left.Until.Sub(h.now())))
	}
	if left.SkipsLeft >= 0 {
		skips = t.n(t.PromptSkips, left.SkipsLeft)
	}
	return until, skips
}

// graceState reads where u stands: done when u needs no prompt (they have
// a factor, or their policy does not require one), else open while their
// grace lasts.
func (h *Handler) graceState(r *http.Request, u twofactor.User) (left twofactor.GraceLeft, open, done bool, err error) {
	pol := h.policyIn(r.Context())
	if !pol.Required {
		return left, false, true, nil
	}
	if _, has, err := h.hasPrimary(r, u); err != nil || has {
		return left, false, has, err
	}
	left, open, err = h.svc.EnrollGrace(r.Context(), u)
	return left, open, false, err
}

// inGrace reports whether u is in an enrollment grace, and what is left
// of it; otherwise it has answered: to ret when u has a factor or their
// policy no longer asks for one, to EnrollURL when the grace is over.
func (h *Handler) inGrace(w http.ResponseWriter, r *http.Request, u twofactor.User, ret string) (twofactor.GraceLeft, bool) {
	left, open, done, err := h.graceState(r, u)
	switch {
	case err != nil:
		h.fail(w, r, nil, err)
	case done:
		h.redirect(w, r, statusSignedIn, ret)
	case !open:
		h.redirect(w, r, statusEnrollRequired, h.withNext(h.enrollURL, ret))
	default:
		return left, true
	}
	return left, false
}

// serveEnrollSkip (POST enroll-prompt) counts a skip and goes on to the
// return path; once the grace is over, to EnrollURL.
func (h *Handler) serveEnrollSkip(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	f, err := readSettingsForm(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	ret := cmpReturn(cleanReturn(f[ReturnParam]), h.returnURL)
	if _, ok := h.inGrace(w, r, u, ret); !ok {
		return
	}
	left, err := h.svc.SkipEnroll(r.Context(), u)
	if errors.Is(err, twofactor.ErrEnrollRequired) {
		h.redirect(w, r, statusEnrollRequired, h.withNext(h.enrollURL, ret))
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setSkipped(w, r, u.ID, left.Until)
	h.redirect(w, r, statusSkipped, ret)
}

func (h *Handler) skippedName() string { return h.stepUpName + "_skipped" }

func (h *Handler) skippedAD(userID string) []byte {
	return []byte("twofactorhttp skipped v1\x00" + h.skippedName() + "\x00" + userID)
}

// setSkipped writes the skip mark for userID, good until until (zero:
// for the session), as a session cookie for the whole site.
func (h *Handler) setSkipped(w http.ResponseWriter, r *http.Request, userID string, until time.Time) {
	var end int64
	if !until.IsZero() {
		end = until.Unix()
	}
	v, err := h.env.Keys.Seal(binary.BigEndian.AppendUint64(nil, uint64(end)), h.skippedAD(userID))
	if err != nil {
		return // no mark: Enforce shows the prompt again
	}
	http.SetCookie(w, h.cookie(r, h.skippedName(), v, "/"))
}

// skippedMark reports whether the request carries a skip mark for userID
// whose grace has not ended.
func (h *Handler) skippedMark(r *http.Request, userID string) bool {
	now := h.env.Now().Unix()
	for _, c := range r.CookiesNamed(h.skippedName()) {
		if len(c.Value) > maxCookie {
			continue
		}
		b, err := h.env.Keys.Open(c.Value, h.skippedAD(userID))
		if err != nil || len(b) != 8 {
			continue
		}
		if end := int64(binary.BigEndian.Uint64(b)); end == 0 || now < end {
			return true
		}
	}
	return false
}

// clearSkipped drops the skip mark the request carries, if any.
func (h *Handler) clearSkipped(w http.ResponseWriter, r *http.Request) {
	if !hasCookie(r, h.skippedName()) {
		return
	}
	c := h.cookie(r, h.skippedName(), "", "/")
	c.MaxAge = -1
	http.SetCookie(w, c)
}
