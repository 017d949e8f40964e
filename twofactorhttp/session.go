package twofactorhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/twofactorkit/twofactor"
)

// The host's side: who is signed in (Config.UserID, turned into the User
// through the Service), the sign-in callback (Config.SignIn), and the
// sign-out (Handler.SignOut).

// user returns the signed-in user of r: ok is false when nobody is signed
// in; err is set when the id does not name a user the Service's Users
// knows (matching twofactor.ErrUnknownUser), or the lookup failed.
func (h *Handler) user(r *http.Request) (u twofactor.User, ok bool, err error) {
	id, ok := h.sessionID(r)
	if !ok {
		return twofactor.User{}, false, nil
	}
	u, err = h.lookupUser(r, id)
	return u, true, err
}

// sessionID returns the id of the signed-in user, if any.
func (h *Handler) sessionID(r *http.Request) (string, bool) {
	if h.userID == nil {
		return "", false
	}
	id, ok := h.userID(r)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

// lookupUser turns id into the User through the Service's Env. An id
// that is not a valid user id is unknown too: the request fails closed.
func (h *Handler) lookupUser(r *http.Request, id string) (twofactor.User, error) {
	u, err := h.env.User(r.Context(), id)
	if errors.Is(err, twofactor.ErrInvalidInput) {
		err = fmt.Errorf("%w: %w", twofactor.ErrUnknownUser, err)
	}
	return u, err
}

// SignOut ends the layer's state of the request's browser: the step-up
// proof, a pending sign-in or step-up (its challenge is cancelled, so any
// code sent for it dies), and the settings pages' set-up and new-codes
// cookies. Call it from the host's logout handler, beside ending the
// host's own session; the trusted-device cookie stays, as it trusts the
// device, not the session.
func (h *Handler) SignOut(w http.ResponseWriter, r *http.Request) {
	if p, err := h.readPending(r); err == nil {
		if err := h.svc.Cancel(r.Context(), p.ChallengeID); err != nil && !errors.Is(err, twofactor.ErrChallengeNotFound) {
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "twofactorhttp: cancelling the pending challenge at sign-out", slog.String("error", err.Error()))
		}
	}
	h.clearPending(w, r)
	h.clearStepUp(w, r)
	h.clearEnrolled(w, r)
	h.clearSkipped(w, r)
	h.clearEnrolling(w, r)
	h.dropCookie(w, r, h.codesName())
}

// signInWriter is the ResponseWriter the SignIn callback gets: it notes
// whether the callback answered, and sets the layer's cookies just before
// the answer's headers go out, whoever writes them.
type signInWriter struct {
	http.ResponseWriter
	wrote  bool
	before func()
}

func (w *signInWriter) start() {
	if !w.wrote {
		w.wrote = true
		w.before()
	}
}

func (w *signInWriter) WriteHeader(status int) {
	w.start()
	w.ResponseWriter.WriteHeader(status)
}

func (w *signInWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Flush sends the headers (with the layer's cookies) and what was written.
func (w *signInWriter) Flush() {
	w.start()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *signInWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// signedIn completes a sign-in: the host's SignIn, then the
// trusted-device cookie and the end of the pending sign-in and of an
// earlier step-up, then the redirect to next unless SignIn answered the
// request itself. When SignIn fails nobody is signed in and no device is
// trusted by this request.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, res *twofactor.Result, next, status string) {
	sw := &signInWriter{ResponseWriter: w}
	sw.before = func() {
		if res.Device != nil && h.trust != nil {
			h.trust.SetCookie(w, *res.Device)
		}
		h.clearPending(w, r)
		// A new session starts without a step-up of an earlier one.
		h.clearStepUp(w, r)
		// Signed in with a second factor, the user has one: Enforce
		// lets the session's requests through without a store call
		// while their policy allows its method.
		if h.required && res.Method != "" && !h.uiOf(res.Method).recovery() {
			h.setEnrolled(w, r, res.User.ID, res.Method)
		} else {
			h.clearEnrolled(w, r)
		}
		h.clearSkipped(w, r)
	}
	r = r.WithContext(context.WithValue(r.Context(), resultKey{}, res))
	if err := h.signIn(sw, r, res.User.ID); err != nil {
		h.forgetDevice(r, res)
		if sw.wrote {
			h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: the host's sign-in failed after it answered",
				slog.String("error", err.Error()))
			return
		}
		h.clearPending(w, r)
		h.fail(w, r, nil, fmt.Errorf("%w: %w", errSignIn, err))
		return
	}
	if sw.wrote {
		return
	}
	sw.start()
	if h.offerPasskey(r, res) {
		next = h.withNext(h.url(routePasskeyOffer), next)
	}
	h.redirect(w, r, status, next)
}

// forgetDevice revokes the device a failed sign-in's answer trusted.
func (h *Handler) forgetDevice(r *http.Request, res *twofactor.Result) {
	if res.Device == nil || h.trust == nil {
		return
	}
	if id, ok := h.trust.DeviceID(res.User.ID, res.Device.Token); ok {
		if err := h.trust.Revoke(r.Context(), res.User.ID, id); err != nil {
			h.log.LogAttrs(r.Context(), slog.LevelError, "twofactorhttp: revoking the device of a failed sign-in", slog.String("error", err.Error()))
		}
	}
}

type resultKey struct{}

// ResultFrom returns what the second step verified, in the request the
// Handler passes to Config.SignIn: the user, the method (empty when a
// trusted device or the lack of a factor skipped the step), the proof and
// the time. Outside SignIn it returns false.
func ResultFrom(r *http.Request) (*twofactor.Result, bool) {
	res, ok := r.Context().Value(resultKey{}).(*twofactor.Result)
	return res, ok
}
