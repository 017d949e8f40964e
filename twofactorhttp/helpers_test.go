package twofactorhttp_test

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// Test factors, written the way a host writes its own: the layer knows
// factors only through the root package's interfaces.

// enrolled records which users have which methods, and their last use.
type enrolled struct {
	mu    sync.Mutex
	m     map[string]map[twofactor.Method]time.Time // user -> method -> last used
	reads atomic.Int64                              // list calls: a factor's enrollments read
}

func (e *enrolled) list(u string, m twofactor.Method) []twofactor.Enrollment {
	e.reads.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	last, ok := e.m[u][m]
	if !ok {
		return nil
	}
	return []twofactor.Enrollment{{ID: string(m) + "-1", Method: m, Label: string(m), LastUsedAt: last}}
}

func (e *enrolled) touch(u string, m twofactor.Method, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.m[u][m]; ok {
		e.m[u][m] = at
	}
}

func (e *enrolled) set(u string, ms ...twofactor.Method) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]map[twofactor.Method]time.Time{}
	}
	e.m[u] = map[twofactor.Method]time.Time{}
	for _, m := range ms {
		e.m[u][m] = time.Time{}
	}
}

// sendFactor sends random six-digit codes (email or SMS), with a resend
// cooldown and an hourly cap per user, kept as keyed hashes in the store.
type sendFactor struct {
	method   twofactor.Method
	st       store.Store
	keys     *keyring.Ring
	now      func() time.Time
	who      *enrolled
	dest     string // masked destination shown to users
	ttl      time.Duration
	cooldown time.Duration
	hourly   int // 0: no cap
	fail     error

	mu    sync.Mutex
	codes map[string]string // challenge id -> last code sent (the test's outbox)
	sends atomic.Int64
}

func (f *sendFactor) Method() twofactor.Method { return f.method }

func (f *sendFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	return f.who.list(u.ID, f.method), nil
}

func (f *sendFactor) CheckAnswer(a string) error {
	if len(a) != 6 || strings.Trim(a, "0123456789") != "" {
		return twofactor.ErrInvalidInput
	}
	return nil
}

func (f *sendFactor) Send(ctx context.Context, ch *twofactor.Challenge, _ twofactor.Client) (twofactor.Sent, error) {
	now := f.now()
	if f.fail != nil {
		return twofactor.Sent{}, f.fail
	}
	// The cooldown is counted first, atomically, so concurrent sends
	// deliver one code.
	coolKey := "test:cool:" + string(f.method) + ":" + ch.ID
	n, resetAt, err := f.st.Incr(ctx, coolKey, f.cooldown)
	if err != nil {
		return twofactor.Sent{}, err
	}
	if n > 1 {
		return twofactor.Sent{}, twofactor.NewRetryError(twofactor.ErrRateLimited, twofactor.LimitResend, now, resetAt)
	}
	if f.hourly > 0 {
		n, resetAt, err := f.st.Incr(ctx, "test:cap:"+string(f.method)+":"+ch.User.ID, time.Hour)
		if err != nil {
			return twofactor.Sent{}, err
		}
		if n > int64(f.hourly) {
			_ = f.st.ResetCounter(ctx, coolKey) // nothing sent: no cooldown
			return twofactor.Sent{}, twofactor.NewRetryError(twofactor.ErrRateLimited, twofactor.LimitUser, now, resetAt)
		}
	}
	r, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	code := fmt.Sprintf("%06d", r.Int64())
	exp := now.Add(f.ttl)
	if err := f.st.PutCode(ctx, store.Code{Group: ch.ID, Key: string(f.method), Hash: f.keys.Hash("test", []byte(code)), ExpiresAt: exp, MaxAttempts: 5}); err != nil {
		return twofactor.Sent{}, err
	}
	f.mu.Lock()
	f.codes[ch.ID] = code
	f.mu.Unlock()
	f.sends.Add(1)
	return twofactor.Sent{Destination: f.dest, ExpiresAt: exp, ResendAt: now.Add(f.cooldown)}, nil
}

func (f *sendFactor) code(chID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.codes[chID]
}

func (f *sendFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	st, err := f.st.ConsumeCode(ctx, ch.ID, string(f.method), f.keys.Hash("test", []byte(answer)))
	if err != nil {
		return twofactor.Verified{}, err
	}
	switch st {
	case store.CodeMatched:
		f.who.touch(ch.User.ID, f.method, f.now())
		return twofactor.Verified{EnrollmentID: string(f.method) + "-1"}, nil
	case store.CodeExpired:
		return twofactor.Verified{}, twofactor.ErrCodeExpired
	case store.CodeNotFound, store.CodeExhausted:
		return twofactor.Verified{}, twofactor.ErrNoCode
	}
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

func (f *sendFactor) Cancel(ctx context.Context, ch *twofactor.Challenge) error {
	return f.st.DeleteGroup(ctx, ch.ID)
}

// appFactor is an authenticator app whose current code is appCode.
type appFactor struct {
	who  *enrolled
	now  func() time.Time
	code string
}

func (f *appFactor) Method() twofactor.Method { return twofactor.MethodTOTP }

func (f *appFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	return f.who.list(u.ID, twofactor.MethodTOTP), nil
}

func (f *appFactor) CheckAnswer(a string) error {
	if len(a) != 6 || strings.Trim(a, "0123456789") != "" {
		return twofactor.ErrInvalidInput
	}
	return nil
}

func (f *appFactor) Verify(_ context.Context, ch *twofactor.Challenge, a string) (twofactor.Verified, error) {
	if subtle.ConstantTimeCompare([]byte(a), []byte(f.code)) != 1 {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	f.who.touch(ch.User.ID, twofactor.MethodTOTP, f.now())
	return twofactor.Verified{EnrollmentID: "totp-1"}, nil
}

// backupFactor accepts each of its codes once.
type backupFactor struct {
	who  *enrolled
	mu   sync.Mutex
	left map[string]bool
}

func (f *backupFactor) Method() twofactor.Method { return twofactor.MethodBackupCode }
func (f *backupFactor) Recovery() bool           { return true }

func (f *backupFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	return f.who.list(u.ID, twofactor.MethodBackupCode), nil
}

func (f *backupFactor) Verify(_ context.Context, _ *twofactor.Challenge, a string) (twofactor.Verified, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.left[a] {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	delete(f.left, a)
	return twofactor.Verified{EnrollmentID: "backup"}, nil
}

// keyFactor is a security key: Start returns request options, Verify
// accepts an assertion naming the challenge it was given.
type keyFactor struct {
	who *enrolled
	st  store.Store
}

func (f *keyFactor) Method() twofactor.Method { return twofactor.MethodWebAuthn }

func (f *keyFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	return f.who.list(u.ID, twofactor.MethodWebAuthn), nil
}

func (f *keyFactor) Start(ctx context.Context, ch *twofactor.Challenge) (json.RawMessage, error) {
	nonce := ch.ID[:16]
	if err := f.st.PutState(ctx, "test:wa:"+ch.ID, []byte(nonce), ch.ExpiresAt); err != nil {
		return nil, err
	}
	return json.RawMessage(`{"publicKey":{"challenge":"` + nonce + `","allowCredentials":[]}}`), nil
}

// BeginEnroll and ConfirmEnroll make keyFactor an Enroller: the
// "attestation" {"attest": "<user>"} adds a key for that user.
func (f *keyFactor) BeginEnroll(_ context.Context, u twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	return &twofactor.Enrolling{Method: twofactor.MethodWebAuthn, ExpiresAt: time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC),
		Options: json.RawMessage(`{"publicKey":{"rp":{"id":"example.com"},"user":{"name":"` + u.ID + `"}}}`)}, nil
}

func (f *keyFactor) ConfirmEnroll(_ context.Context, u twofactor.User, answer string) (twofactor.Enrollment, error) {
	var a struct {
		Attest string `json:"attest"`
	}
	if json.Unmarshal([]byte(answer), &a) != nil {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}
	if a.Attest == "model" || a.Attest == "synced" {
		return twofactor.Enrollment{}, keyRefused(a.Attest)
	}
	if a.Attest != u.ID {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}
	f.who.mu.Lock()
	f.who.m[u.ID][twofactor.MethodWebAuthn] = time.Time{}
	f.who.mu.Unlock()
	return twofactor.Enrollment{ID: "key-1", Method: twofactor.MethodWebAuthn, Label: "Key"}, nil
}

func (f *keyFactor) CheckAnswer(a string) error {
	if !json.Valid([]byte(a)) {
		return twofactor.ErrInvalidInput
	}
	return nil
}

func (f *keyFactor) Verify(ctx context.Context, ch *twofactor.Challenge, a string) (twofactor.Verified, error) {
	var as struct {
		Challenge string `json:"challenge"`
	}
	_ = json.Unmarshal([]byte(a), &as)
	want, err := f.st.TakeState(ctx, "test:wa:"+ch.ID)
	if err != nil {
		return twofactor.Verified{}, twofactor.ErrNoCode
	}
	if subtle.ConstantTimeCompare(want, []byte(as.Challenge)) != 1 {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	return twofactor.Verified{EnrollmentID: "key-1"}, nil
}

// BeginDiscovery and FinishDiscovery make keyFactor a Discoverer: the
// answer {"user": "<user>", "challenge": "<the options' challenge>",
// "uv": true} is a passkey of that user, when the user has a key.
func (f *keyFactor) BeginDiscovery(ctx context.Context, id string, exp time.Time) (json.RawMessage, error) {
	nonce := id[:16]
	if err := f.st.PutState(ctx, "test:disc:"+id, []byte(nonce), exp); err != nil {
		return nil, err
	}
	return json.RawMessage(`{"publicKey":{"challenge":"` + nonce + `","allowCredentials":[],"userVerification":"required"}}`), nil
}

func (f *keyFactor) FinishDiscovery(ctx context.Context, id, a string) (twofactor.Discovered, error) {
	var as struct {
		User      string `json:"user"`
		Challenge string `json:"challenge"`
		UV        bool   `json:"uv"`
	}
	if json.Unmarshal([]byte(a), &as) != nil {
		return twofactor.Discovered{}, twofactor.ErrInvalidInput
	}
	want, err := f.st.TakeState(ctx, "test:disc:"+id)
	if err != nil || subtle.ConstantTimeCompare(want, []byte(as.Challenge)) != 1 || len(f.who.list(as.User, twofactor.MethodWebAuthn)) == 0 {
		return twofactor.Discovered{}, fmt.Errorf("passkey not accepted: %w", twofactor.ErrInvalidCode)
	}
	return twofactor.Discovered{UserID: as.User, Verified: twofactor.Verified{EnrollmentID: "key-1", AMR: []string{"hwk", "user"}}, UserVerified: as.UV}, nil
}

// Users of the tests.
var (
	alice = twofactor.User{ID: "alice", Email: "alice@example.com", Name: "alice"}
	bob   = twofactor.User{ID: "bob", Email: "bob@example.com"}
	carol = twofactor.User{ID: "carol", Email: "carol@example.com"} // no second factor
	users = map[string]twofactor.User{"alice": alice, "bob": bob, "carol": carol}
)

const (
	appCode    = "246813"
	backupCode = "ABCD-EFGH-JKLM"
	fullPhone  = "+15555550123"
	maskPhone  = "+1 *** *** **23"
)

// env is a host app with the layer mounted, on a memory store and a
// manual clock.
type env struct {
	t       testing.TB
	clock   *storetest.Clock
	mem     *store.Memory
	keys    *keyring.Ring
	rawKeys [][]byte // the key secrets, for leak checks
	who     *enrolled
	email   *sendFactor
	sms     *sendFactor
	app     *appFactor
	backup  *backupFactor
	key     *keyFactor
	devices *trust.Manager
	svc     *twofactor.Service
	h       *twofactorhttp.Handler
	mux     *http.ServeMux

	mu       sync.Mutex
	signedIn []*twofactor.Result
	signErr  error
}

type envOpt struct {
	svc   func(*twofactor.Config)
	layer func(*twofactorhttp.Config)
	trust *trust.Config
}

func newEnv(t testing.TB, opt envOpt) *env {
	t.Helper()
	e := &env{t: t, clock: storetest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), who: &enrolled{}}
	e.mem = store.NewMemory(e.clock.Now)
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	e.keys, err = keyring.New(k)
	require.NoError(t, err)
	e.rawKeys = [][]byte{k.Secret}
	e.who.set("alice", twofactor.MethodEmail, twofactor.MethodSMS, twofactor.MethodTOTP, twofactor.MethodBackupCode, twofactor.MethodWebAuthn)
	e.who.set("bob", twofactor.MethodTOTP)
	e.who.set("carol")
	e.email = &sendFactor{method: twofactor.MethodEmail, st: e.mem, keys: e.keys, now: e.clock.Now, who: e.who, dest: "a***@example.com",
		ttl: 10 * time.Minute, cooldown: time.Minute, codes: map[string]string{}}
	e.sms = &sendFactor{method: twofactor.MethodSMS, st: e.mem, keys: e.keys, now: e.clock.Now, who: e.who, dest: maskPhone,
		ttl: 10 * time.Minute, cooldown: time.Minute, codes: map[string]string{}}
	e.app = &appFactor{who: e.who, now: e.clock.Now, code: appCode}
	e.backup = &backupFactor{who: e.who, left: map[string]bool{backupCode: true}}
	e.key = &keyFactor{who: e.who, st: e.mem}
	tc := trust.Config{}
	if opt.trust != nil {
		tc = *opt.trust
	}
	cfg := twofactor.Config{
		Store:   e.mem,
		Keys:    e.keys,
		Factors: built(e.email, e.sms, e.app, e.key, e.backup),
		Trust:   tc,
		Users:   lookup(users),
		Events:  &event.Sink{Discard: true},
		Now:     e.clock.Now,
	}
	if opt.svc != nil {
		opt.svc(&cfg)
	}
	e.svc, err = twofactor.New(cfg)
	require.NoError(t, err)
	e.devices, _ = e.svc.Trust().(*trust.Manager)
	e.mux = http.NewServeMux()
	lc := twofactorhttp.Config{
		Service: e.svc,
		Mux:     e.mux,
		SignIn: func(w http.ResponseWriter, r *http.Request, _ string) error {
			res, _ := twofactorhttp.ResultFrom(r)
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.signErr != nil {
				return e.signErr
			}
			e.signedIn = append(e.signedIn, res)
			http.SetCookie(w, &http.Cookie{Name: "session", Value: res.User.ID, Path: "/", HttpOnly: true})
			return nil
		},
		UserID:    sessionID,
		EnrollURL: "/enroll",
		Logger:    discardLogger(),
		// The security key here signs in with passkeys too; the tests of
		// the offer to create one turn it on.
		PasskeyOffer: twofactorhttp.PasskeyOffer{Off: true},
	}
	if opt.layer != nil {
		opt.layer(&lc)
	}
	e.h, err = twofactorhttp.New(lc)
	require.NoError(t, err)

	e.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, ok := users[r.FormValue("user")]
		if !ok || r.FormValue("password") != "pw" {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		e.h.Begin(w, r, u.ID)
	})
	e.mux.Handle("GET /account", e.h.Enforce().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := sessionUser(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, "account of %s", u.ID)
	})))
	danger := e.h.StepUp(0).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := sessionUser(r)
		fmt.Fprintf(w, "danger zone of %s", u.ID)
	}))
	e.mux.Handle("/danger", danger)
	e.mux.HandleFunc("GET /enroll", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "enroll page") })
	e.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Path: "/", MaxAge: -1})
		e.h.SignOut(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	return e
}

// built gives factors built already to twofactor.Config.Factors, as a
// host gives its own.
func built(fs ...twofactor.Factor) []twofactor.FactorConfig {
	out := make([]twofactor.FactorConfig, len(fs))
	for i, f := range fs {
		out[i] = twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return f, nil })
	}
	return out
}

// lookup is the host's user table, for twofactor.Config.Users.
func lookup(users map[string]twofactor.User) func(context.Context, string) (twofactor.User, error) {
	return func(_ context.Context, id string) (twofactor.User, error) {
		u, ok := users[id]
		if !ok {
			return twofactor.User{}, twofactor.ErrUnknownUser
		}
		return u, nil
	}
}

// sessionID is the host's session for Config.UserID: the "session"
// cookie names the user.
func sessionID(r *http.Request) (string, bool) {
	c, err := r.Cookie("session")
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// sessionUser is the host's session: the "session" cookie names the user.
func sessionUser(r *http.Request) (twofactor.User, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return twofactor.User{}, false
	}
	u, ok := users[c.Value]
	return u, ok
}

func (e *env) signIns() []*twofactor.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*twofactor.Result(nil), e.signedIn...)
}

// browser keeps cookies across requests, as a browser would (paths
// ignored), and records every answer.
type browser struct {
	e       *env
	json    bool
	cookies map[string]*http.Cookie
	header  http.Header // added to every request
	seen    []*httptest.ResponseRecorder
	asked   []string // "METHOD path" of each answer in seen
}

func (e *env) browser() *browser {
	return &browser{e: e, cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

func (e *env) api() *browser {
	b := e.browser()
	b.json = true
	return b
}

// do sends a request. A url.Values body is a form (or JSON object for an
// API browser); a string body is sent as JSON.
func (b *browser) do(method, target string, body any) *httptest.ResponseRecorder {
	b.e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch v := body.(type) {
	case nil:
	case url.Values:
		if b.json && target != "/login" { // the host's own login form stays a form
			obj := map[string]any{}
			for k := range v {
				obj[k] = v.Get(k)
				if k == "remember_device" {
					obj[k] = v.Get(k) == "true"
				}
			}
			j, _ := json.Marshal(obj)
			rd, ctype = strings.NewReader(string(j)), "application/json"
		} else {
			rd, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
		}
	case string:
		rd, ctype = strings.NewReader(v), "application/json"
	}
	r := httptest.NewRequest(method, "https://example.com"+target, rd)
	r.RemoteAddr = "203.0.113.9:4711"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if b.json {
		r.Header.Set("Accept", "application/json")
	} else {
		r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	}
	if method != http.MethodGet && method != http.MethodHead {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, vs := range b.header {
		r.Header[k] = vs
	}
	for _, c := range b.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	w := httptest.NewRecorder()
	b.e.mux.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	b.seen = append(b.seen, w)
	b.asked = append(b.asked, method+" "+r.URL.Path)
	return w
}

func (b *browser) post(target string, form url.Values) *httptest.ResponseRecorder {
	return b.do(http.MethodPost, target, form)
}

func (b *browser) get(target string) *httptest.ResponseRecorder {
	return b.do(http.MethodGet, target, nil)
}

// login posts the password form.
func (b *browser) login(user string, next string) *httptest.ResponseRecorder {
	form := url.Values{"user": {user}, "password": {"pw"}}
	if next != "" {
		form.Set("next", next)
	}
	return b.post("/login", form)
}

// challengeID returns the id of the pending challenge, from the pending
// cookie's clear part.
func (b *browser) challengeID() string {
	c, ok := b.cookies[twofactorhttp.DefaultPendingCookie]
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(c.Value, "~")
	return id
}

func decodeJSON(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"), w.Body.String())
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m
}

func requireRedirect(t testing.TB, w *httptest.ResponseRecorder, to string) {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(t, to, w.Header().Get("Location"))
}

func requireError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	m := decodeJSON(t, w)
	require.Equal(t, code, m["error"], w.Body.String())
	require.NotEmpty(t, m["message"])
	return m
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustPrefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// keyRefused is a security key the host's authenticator policy refuses,
// as package webauthn's errors say it: why, "model" or "synced".
type keyRefused string

func (k keyRefused) Error() string      { return "refused: " + string(k) }
func (k keyRefused) Unwrap() error      { return twofactor.ErrInvalidInput }
func (k keyRefused) KeyRefusal() string { return string(k) }
