package twofactortest

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// The test host is a small app on twofactorhttp, the way the README
// shows: its own users, password form, sessions, logout, a password
// change behind the step-up middleware, administrator pages for its
// administrators, behind a proxy at 10.0.0.1. Each flaw plants one
// mistake a host can make in its own code or set-up.
type flaw int

const (
	noFlaw flaw = iota
	// The login handler starts the session, then the second step.
	sessionBeforeSecondStep
	// The login handler sends users without an authenticator app (email
	// codes only) straight in.
	emailUsersSkipSecondStep
	// GET /login/done signs in the user the password step remembered in
	// a cookie ("the layer already checked").
	callbackRoute
	// SignIn starts the session of the user the password step remembered,
	// not of the userID it is given.
	signInRemembersLogin
	// POST /account/password is mounted without the step-up middleware.
	stepUpRouteUnguarded
	// The administrator guard lets any signed-in user in.
	guardLetsAnyoneIn
	// The app's handler is not wrapped in cross-origin protection.
	noCrossOriginProtection
	// trust.Config.TrustedProxies is 0.0.0.0/0: every client is a proxy.
	forwardedForFromAnyone
	// A middleware rewrites RemoteAddr from X-Forwarded-For.
	realIPMiddleware
	// The logout ends the session and forgets Handler.SignOut.
	logoutKeepsStepUp
	// The password change does not call Service.PasswordChanged.
	passwordChangeKeepsState
	// The store's ConsumeCode does not delete a code it matches.
	codesReusable
	// The store's replay ledger accepts every time step.
	totpReplayable
	// The store's counters read, then write: not atomic.
	racyCounters
	// A page of the host's shows the code a wrong answer typed.
	echoesCode
)

type testHost struct {
	flaw  flaw
	clock *storetest.Clock
	mail  *emailcode.Outbox
	text  *smscode.Outbox
	svc   *twofactor.Service
	tf    *twofactorhttp.Handler
	h     http.Handler

	mu       sync.Mutex
	users    map[string]User
	sessions map[string]string // token -> user id
}

// proxy is the address of the test host's reverse proxy.
var proxy = netip.MustParseAddr("10.0.0.1")

func newTestHost(t testing.TB, f flaw) *testHost {
	t.Helper()
	h := &testHost{flaw: f, clock: storetest.NewClock(time.Now()), mail: &emailcode.Outbox{}, text: &smscode.Outbox{},
		users: map[string]User{}, sessions: map[string]string{}}
	mem := store.NewMemory(h.clock.Now)
	var st twofactor.Store = mem
	switch f {
	case codesReusable:
		st = reusableCodes{mem}
	case totpReplayable:
		st = noLedger{mem}
	case racyCounters:
		st = newRacyStore(mem, h.clock.Now)
	}
	k, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(k)
	if err != nil {
		t.Fatal(err)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if f == forwardedForFromAnyone {
		proxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	}
	h.svc, err = twofactor.New(twofactor.Config{
		Store: st,
		Keys:  ring,
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Test"},
			emailcode.Config{Sender: h.mail, ProductName: "Test"},
			smscode.Config{Sender: h.text, ProductName: "Test"},
			backupcodes.Config{},
		},
		Trust:  trust.Config{TrustedProxies: proxies},
		Users:  h.user,
		Events: &event.Sink{Discard: true},
		Now:    h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.svc.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	h.tf, err = twofactorhttp.New(twofactorhttp.Config{
		Service: h.svc,
		Mux:     mux,
		SignIn:  h.signIn,
		UserID:  h.userID,
		Admin:   twofactorhttp.AdminConfig{Prefix: "/admin/2fa/", Guard: h.guard, Actor: h.actor},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("GET /{$}", h.home)
	password := http.Handler(http.HandlerFunc(h.passwordPage))
	if f != stepUpRouteUnguarded {
		password = h.tf.StepUp(0).Handler(password)
	}
	mux.Handle("POST /account/password", password)
	mux.HandleFunc("POST /account/name", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.userID(r); !ok {
			http.Error(w, "Sign in first.", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	if f == callbackRoute {
		mux.HandleFunc("GET /login/done", func(w http.ResponseWriter, r *http.Request) {
			if c, err := r.Cookie("login_user"); err == nil {
				h.startSession(w, c.Value)
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})
	}
	h.h = mux
	if f != noCrossOriginProtection {
		h.h = http.NewCrossOriginProtection().Handler(h.h)
	}
	if f == realIPMiddleware {
		next := h.h
		h.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				r.RemoteAddr = strings.TrimSpace(strings.Split(xff, ",")[0]) + ":0"
			}
			next.ServeHTTP(w, r)
		})
	}
	if f == echoesCode {
		next := h.h
		h.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			// Read before the layer does: it serves a copy of the request
			// (with the language in its context), whose parsed form this
			// one would not see.
			code := r.PostFormValue("code")
			next.ServeHTTP(sw, r)
			if r.URL.Path == "/2fa/verify" && sw.status == http.StatusUnauthorized {
				fmt.Fprintf(w, "<p>The code %s did not work.</p>", html.EscapeString(code))
			}
		})
	}
	return h
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// describe is the host's description for the kit.
func (h *testHost) describe() Host {
	return Host{
		Handler:        h.h,
		Service:        h.svc,
		AddUser:        h.addUser,
		SignedIn:       h.userID,
		Code:           h.code,
		AdminPrefix:    "/admin/2fa/",
		StepUpRoutes:   []string{"POST /account/password"},
		UnsafeRoutes:   []string{"POST /account/name"},
		TrustedProxy:   proxy,
		ChangePassword: h.changePassword,
		Advance:        h.clock.Advance,
	}
}

func (h *testHost) addUser(u User) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.users[u.ID]; ok {
		return fmt.Errorf("user %q exists", u.ID)
	}
	h.users[u.ID] = u
	return nil
}

func (h *testHost) user(_ context.Context, id string) (twofactor.User, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.users[id]
	if !ok {
		return twofactor.User{}, fmt.Errorf("%w: %q", twofactor.ErrUnknownUser, id)
	}
	return twofactor.User{ID: u.ID, Email: u.Email}, nil
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

func (h *testHost) code(to string) (string, bool) {
	var text string
	if strings.HasPrefix(to, "+") {
		m, ok := h.text.Last(to)
		if !ok {
			return "", false
		}
		text = m.Body
	} else {
		msgs := h.mail.Messages()
		for i := len(msgs) - 1; i >= 0 && text == ""; i-- {
			if strings.EqualFold(msgs[i].To, to) && strings.Contains(msgs[i].Subject, "code") {
				text = msgs[i].Text
			}
		}
	}
	c := sixDigits.FindString(text)
	return c, c != ""
}

func (h *testHost) startSession(w http.ResponseWriter, id string) {
	token := rand.Text()
	h.mu.Lock()
	h.sessions[token] = id
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (h *testHost) userID(r *http.Request) (string, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return "", false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.sessions[c.Value]
	return id, ok
}

func (h *testHost) signIn(w http.ResponseWriter, r *http.Request, userID string) error {
	if h.flaw == signInRemembersLogin {
		if c, err := r.Cookie("login_user"); err == nil {
			userID = c.Value
		}
	}
	h.startSession(w, userID)
	return nil
}

func (h *testHost) login(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("user")
	h.mu.Lock()
	u, ok := h.users[name]
	h.mu.Unlock()
	if !ok || u.Password != r.FormValue("password") {
		http.Error(w, "Wrong user name or password.", http.StatusUnauthorized)
		return
	}
	switch h.flaw {
	case sessionBeforeSecondStep:
		h.startSession(w, name)
	case emailUsersSkipSecondStep:
		es, _ := h.svc.Enrollments(r.Context(), twofactor.User{ID: u.ID, Email: u.Email})
		if !slices.ContainsFunc(es, func(e twofactor.Enrollment) bool { return e.Method == twofactor.MethodTOTP }) {
			h.startSession(w, name)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
	case callbackRoute, signInRemembersLogin:
		http.SetCookie(w, &http.Cookie{Name: "login_user", Value: name, Path: "/", HttpOnly: true})
	}
	h.tf.Begin(w, r, name)
}

func (h *testHost) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("session"); err == nil {
		h.mu.Lock()
		delete(h.sessions, c.Value)
		h.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "session", Path: "/", MaxAge: -1})
	if h.flaw != logoutKeepsStepUp {
		h.tf.SignOut(w, r)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (h *testHost) home(w http.ResponseWriter, r *http.Request) {
	id, ok := h.userID(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	fmt.Fprintf(w, "<p>Hello %s</p>", html.EscapeString(id))
}

// passwordPage is POST /account/password: the signed-in user's new
// password.
func (h *testHost) passwordPage(w http.ResponseWriter, r *http.Request) {
	id, ok := h.userID(r)
	if !ok {
		http.Error(w, "Sign in first.", http.StatusUnauthorized)
		return
	}
	pw := r.FormValue("password")
	if pw == "" {
		http.Error(w, "Type a new password.", http.StatusBadRequest)
		return
	}
	if err := h.changePassword(r.Context(), id, pw); err != nil {
		http.Error(w, "Try again.", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *testHost) changePassword(ctx context.Context, id, pw string) error {
	h.mu.Lock()
	u, ok := h.users[id]
	u.Password = pw
	h.users[id] = u
	h.mu.Unlock()
	if !ok {
		return fmt.Errorf("no user %q", id)
	}
	if h.flaw == passwordChangeKeepsState {
		return nil
	}
	return h.svc.PasswordChanged(ctx, id)
}

func (h *testHost) isAdmin(r *http.Request) (string, bool) {
	id, ok := h.userID(r)
	if !ok {
		return "", false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return id, h.users[id].Admin || h.flaw == guardLetsAnyoneIn
}

func (h *testHost) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.userID(r); !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if _, admin := h.isAdmin(r); !admin {
			http.Error(w, "Administrators only.", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *testHost) actor(r *http.Request) string {
	if id, admin := h.isAdmin(r); admin {
		return "admin:" + id
	}
	return ""
}

// Stores with a planted mistake, over the memory store.

// reusableCodes matches a code and keeps it, in a batch too.
type reusableCodes struct{ *store.Memory }

func (s reusableCodes) RunBatch(ctx context.Context, ops []store.Op) error {
	return store.RunEach(ctx, s, ops, time.Now())
}

func (s reusableCodes) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	st, err := s.Memory.ConsumeCode(ctx, group, key, hash)
	if err == nil && st == store.CodeMatched {
		err = s.PutCode(ctx, store.Code{Group: group, Key: key, Hash: hash})
	}
	return st, err
}

// noLedger forgets which time steps were used.
type noLedger struct{ *store.Memory }

func (noLedger) Advance(context.Context, string, int64, time.Time) (bool, error) { return true, nil }

// racyStore counts with a read, a round trip, then a write.
type racyStore struct {
	store.States
	store.OwnedStates
	store.Codes
	store.CodeGroups
	store.Ledger
	store.Enrollments
	store.Devices
	now func() time.Time

	mu     sync.Mutex
	counts map[string]racyCount
}

type racyCount struct {
	n     int64
	reset time.Time
}

func newRacyStore(m *store.Memory, now func() time.Time) *racyStore {
	return &racyStore{States: m, OwnedStates: m, Codes: m, CodeGroups: m, Ledger: m, Enrollments: m, Devices: m, now: now, counts: map[string]racyCount{}}
}

func (s *racyStore) read(key string) racyCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts[key]
	if !s.now().Before(c.reset) {
		c = racyCount{}
	}
	return c
}

func (s *racyStore) write(key string, c racyCount) {
	time.Sleep(5 * time.Millisecond) // the round trip between the read and the write
	s.mu.Lock()
	s.counts[key] = c
	s.mu.Unlock()
}

func (s *racyStore) Incr(_ context.Context, key string, window time.Duration) (int64, time.Time, error) {
	c := s.read(key)
	if c.reset.IsZero() {
		c.reset = s.now().Add(window)
	}
	c.n++
	s.write(key, c)
	return c.n, c.reset, nil
}

func (s *racyStore) Peek(_ context.Context, key string) (int64, time.Time, error) {
	c := s.read(key)
	return c.n, c.reset, nil
}

func (s *racyStore) Decr(_ context.Context, key string) error {
	if c := s.read(key); c.n > 0 {
		c.n--
		s.write(key, c)
	}
	return nil
}

func (s *racyStore) ResetCounter(_ context.Context, key string) error {
	s.mu.Lock()
	delete(s.counts, key)
	s.mu.Unlock()
	return nil
}
