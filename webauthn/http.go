package webauthn

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

//go:embed webauthn.js
var script []byte

// Script returns the browser script the Handler serves at /webauthn.js,
// for hosts that serve static files themselves.
func Script() []byte { return slices.Clone(script) }

// LoginService is what the login endpoints need of the core flow;
// *twofactor.Service implements it.
type LoginService interface {
	Start(ctx context.Context, challengeID string, m twofactor.Method) (json.RawMessage, error)
	Verify(ctx context.Context, a twofactor.Answer) (*twofactor.Result, error)
}

var _ LoginService = (*twofactor.Service)(nil)

// HandlerConfig configures a Handler. Registration endpoints need User;
// login endpoints need Service, ChallengeID and OnLogin. Endpoints whose
// configuration is missing answer 404.
type HandlerConfig struct {
	// Factor is the WebAuthn factor. Required.
	Factor *Factor

	// User returns the signed-in user adding a key. An error answers 401.
	// Guard registration here too: when the user already has a second
	// factor, return an error unless the session holds a fresh proof
	// (twofactor.Service.CheckProof).
	User func(*http.Request) (twofactor.User, error)

	// Service runs the login challenge; pass the *twofactor.Service.
	Service LoginService

	// ChallengeID reads the pending challenge id from the host's session
	// (the id Service.Begin returned). An error answers 401.
	ChallengeID func(*http.Request) (string, error)

	// Purpose is the purpose of the challenges answered here. Zero means
	// twofactor.PurposeLogin; mount a second Handler for step-up.
	Purpose twofactor.Purpose

	// Client describes the browser for rate limits and trusted devices.
	// Nil uses the connection's address and the User-Agent header; behind
	// a proxy, use the trust package's client-IP helper here.
	Client func(*http.Request) twofactor.Client

	// OnLogin completes the host's sign-in after a successful verification
	// (session, trusted-device cookie) and returns where the browser goes
	// next ("" to stay). An error answers 500 and the user is not signed in
	// by this request.
	OnLogin func(w http.ResponseWriter, r *http.Request, res *twofactor.Result) (next string, err error)

	// Logger receives internal errors (never secrets). Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Handler serves the JSON endpoints of both ceremonies and the browser
// script. Mount it under a prefix with http.StripPrefix:
//
//	mux.Handle("/2fa/webauthn/", http.StripPrefix("/2fa/webauthn", h))
//
// Routes, relative to the prefix:
//
//	GET  /webauthn.js      the browser script
//	POST /register/begin   {"name"} -> {"options", "expires_at"}
//	POST /register/finish  {"credential"} -> {"enrollment"}
//	POST /login/begin      {} -> {"options"}
//	POST /login/finish     {"credential", "remember_device"} -> {"ok", "next"}
//
// POST endpoints accept only application/json from the configured origins
// (checked with net/http's CrossOriginProtection and the Origin header),
// which stops cross-site form posts. Errors are {"error": code, "message":
// text} with a status code; internal errors are logged, never sent.
type Handler struct {
	cfg  HandlerConfig
	cop  *http.CrossOriginProtection
	mux  *http.ServeMux
	log  *slog.Logger
	purp twofactor.Purpose
}

// NewHandler validates cfg and returns the Handler. Errors wrap
// twofactor.ErrConfig.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Factor == nil {
		return nil, configErr("HandlerConfig.Factor is nil")
	}
	if cfg.User == nil && cfg.Service == nil {
		return nil, configErr("HandlerConfig needs User (registration), Service (login), or both")
	}
	if cfg.Service != nil && (cfg.ChallengeID == nil || cfg.OnLogin == nil) {
		return nil, configErr("HandlerConfig.Service needs ChallengeID (read the pending challenge from the session) and OnLogin (complete the sign-in)")
	}
	h := &Handler{cfg: cfg, cop: http.NewCrossOriginProtection(), mux: http.NewServeMux(), log: cfg.Logger, purp: cfg.Purpose}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.purp == "" {
		h.purp = twofactor.PurposeLogin
	}
	h.mux.HandleFunc("/webauthn.js", h.serveScript)
	if cfg.User != nil {
		h.mux.HandleFunc("/register/begin", h.post(h.registerBegin))
		h.mux.HandleFunc("/register/finish", h.post(h.registerFinish))
	}
	if cfg.Service != nil {
		h.mux.HandleFunc("/login/begin", h.post(h.loginBegin))
		h.mux.HandleFunc("/login/finish", h.post(h.loginFinish))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "No such endpoint.")
	})
	return h, nil
}

// ServeHTTP routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) serveScript(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use GET.")
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(script)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(script)
	}
}

// post wraps a JSON endpoint with the request checks.
func (h *Handler) post(next func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use POST.")
			return
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send application/json.")
			return
		}
		if err := h.cop.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross_origin", "Cross-origin request refused.")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !slices.Contains(h.cfg.Factor.origins, strings.ToLower(o)) {
			writeError(w, http.StatusForbidden, "cross_origin", "Request from an origin this site does not serve.")
			return
		}
		body, err := readBody(w, r, MaxAttestationSize+4096)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "too_large", "Request too large.")
				return
			}
			writeError(w, http.StatusBadRequest, "invalid_input", "Could not read the request.")
			return
		}
		next(w, r, body)
	}
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func decode(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return invalidInput("request body is not the expected JSON object")
	}
	return nil
}

type registerBeginRequest struct {
	Name string `json:"name"`
}

type registerBeginResponse struct {
	Options   json.RawMessage `json:"options"`
	ExpiresAt string          `json:"expires_at"`
}

func (h *Handler) registerBegin(w http.ResponseWriter, r *http.Request, body []byte) {
	var req registerBeginRequest
	if err := decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	user, err := h.cfg.User(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "Sign in first.")
		return
	}
	// Each click starts a new ceremony: the page calls the authenticator
	// right away with the options it gets.
	en, err := h.cfg.Factor.BeginEnroll(r.Context(), user, twofactor.EnrollRequest{
		Client: h.client(r), Label: req.Name, Restart: true,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, registerBeginResponse{Options: en.Options, ExpiresAt: en.ExpiresAt.UTC().Format(time.RFC3339)})
}

type registerFinishRequest struct {
	Credential json.RawMessage `json:"credential"`
}

type enrollmentJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

func (h *Handler) registerFinish(w http.ResponseWriter, r *http.Request, body []byte) {
	var req registerFinishRequest
	if err := decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	user, err := h.cfg.User(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "Sign in first.")
		return
	}
	e, err := h.cfg.Factor.ConfirmEnroll(r.Context(), user, string(req.Credential))
	if errors.Is(err, twofactor.ErrNotEnrolled) {
		writeError(w, http.StatusConflict, "no_registration", "Adding the security key timed out. Try again.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"enrollment": enrollmentJSON{
		ID: e.ID, Name: e.Label, CreatedAt: e.CreatedAt.UTC().Format(time.RFC3339),
	}})
}

func (h *Handler) loginBegin(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct{}
	if err := decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := h.cfg.ChallengeID(r)
	if err != nil || id == "" {
		writeError(w, http.StatusUnauthorized, "no_challenge", "Sign in with your password first.")
		return
	}
	opts, err := h.cfg.Service.Start(r.Context(), id, twofactor.MethodWebAuthn)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]json.RawMessage{"options": opts})
}

type loginFinishRequest struct {
	Credential     json.RawMessage `json:"credential"`
	RememberDevice bool            `json:"remember_device"`
}

func (h *Handler) loginFinish(w http.ResponseWriter, r *http.Request, body []byte) {
	var req loginFinishRequest
	if err := decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.cfg.Factor.CheckAnswer(string(req.Credential)); err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := h.cfg.ChallengeID(r)
	if err != nil || id == "" {
		writeError(w, http.StatusUnauthorized, "no_challenge", "Sign in with your password first.")
		return
	}
	res, err := h.cfg.Service.Verify(r.Context(), twofactor.Answer{
		ChallengeID:    id,
		Method:         twofactor.MethodWebAuthn,
		Code:           string(req.Credential),
		Purpose:        h.purp,
		Client:         h.client(r),
		RememberDevice: req.RememberDevice,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res == nil {
		h.fail(w, r, errors.New("webauthn: verification returned no result"))
		return
	}
	next, err := h.cfg.OnLogin(w, r, res)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "next": next})
}

func (h *Handler) client(r *http.Request) twofactor.Client {
	if h.cfg.Client != nil {
		return h.cfg.Client(r)
	}
	c := twofactor.Client{UserAgent: r.UserAgent()}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		c.IP = ip.Unmap()
	}
	return c
}

// fail answers err with a status and a code the browser script knows; the
// message is fixed text, so nothing internal leaks.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *twofactor.RetryError
	switch {
	case errors.As(err, &re):
		w.Header().Set("Retry-After", strconv.Itoa(int(re.RetryAfter.Seconds())))
		if errors.Is(err, twofactor.ErrLocked) {
			writeError(w, http.StatusTooManyRequests, "locked", "Too many failed attempts. Try again later.")
		} else {
			writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests. Try again later.")
		}
	case errors.Is(err, twofactor.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, "invalid_input", "The request was malformed.")
	case errors.Is(err, twofactor.ErrTooManyAttempts):
		writeError(w, http.StatusForbidden, "too_many_attempts", "Too many attempts. Sign in again.")
	case errors.Is(err, twofactor.ErrChallengeNotFound):
		writeError(w, http.StatusNotFound, "challenge_not_found", "This sign-in has expired. Sign in again.")
	case errors.Is(err, twofactor.ErrInvalidCode):
		writeError(w, http.StatusUnauthorized, "rejected", "The security key was not accepted. Try again.")
	case errors.Is(err, twofactor.ErrAlreadyEnrolled):
		writeError(w, http.StatusConflict, "already_registered", "This security key is already registered.")
	case errors.Is(err, ErrTooManyCredentials):
		writeError(w, http.StatusConflict, "too_many_credentials", "You have registered the maximum number of security keys.")
	case errors.Is(err, twofactor.ErrNotEnrolled), errors.Is(err, twofactor.ErrMethodNotAllowed):
		writeError(w, http.StatusForbidden, "not_allowed", "Security keys cannot be used for this sign-in.")
	default:
		h.log.LogAttrs(r.Context(), slog.LevelError, "webauthn: request failed",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong. Try again.")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal","message":"Something went wrong. Try again."}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}
