package twofactorhttp_test

import (
	"context"
	"encoding/json"
	"html"
	"iter"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// The settings tests run the library's own factors (authenticator app,
// email and SMS codes through development outboxes, backup codes) and a
// test security key, on a memory store and a manual clock.

// Users of the settings tests: ann has an address (so email codes, in
// the implicit mode), ben has none and so no factor, cat is someone else.
var (
	ann = twofactor.User{ID: "ann", Email: "ann@example.com", Name: "ann@example.com"}
	ben = twofactor.User{ID: "ben", Name: "ben"}
	cat = twofactor.User{ID: "cat", Email: "cat@example.com"}
)

type senv struct {
	*env
	users  map[string]twofactor.User
	mail   *emailcode.Outbox
	text   *smscode.Outbox
	codes  *backupcodes.Factor
	keys   *testKeys
	events *eventlog.Log
}

type senvOpt struct {
	svc     func(*twofactor.Config)
	layer   func(*twofactorhttp.Config)
	email   emailcode.EnrollmentMode
	noTrust bool
}

func newSettingsEnv(t testing.TB, opt senvOpt) *senv {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := &senv{env: &env{t: t, clock: clock}, users: map[string]twofactor.User{"ann": ann, "ben": ben, "cat": cat},
		mail: &emailcode.Outbox{}, text: &smscode.Outbox{}, events: &eventlog.Log{}}
	e := s.env
	e.mem = store.NewMemory(clock.Now)
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	e.keys, err = keyring.New(k)
	require.NoError(t, err)
	e.rawKeys = [][]byte{k.Secret}
	s.keys = &testKeys{keys: map[string][]twofactor.Enrollment{}, pending: map[string]string{}, now: clock.Now}
	cfg := twofactor.Config{
		Store: e.mem,
		Keys:  e.keys,
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Example"},
			built(s.keys)[0],
			smscode.Config{Sender: s.text},
			emailcode.Config{Sender: s.mail, Enrollment: opt.email},
			backupcodes.Config{},
		},
		Users:  func(ctx context.Context, id string) (twofactor.User, error) { return lookup(s.users)(ctx, id) },
		Events: &event.Sink{Discard: true, Hook: s.events.Hook},
		Now:    clock.Now,
	}
	if !opt.noTrust {
		cfg.Trust = trust.Config{}
	}
	if opt.svc != nil {
		opt.svc(&cfg)
	}
	e.svc, err = twofactor.New(cfg)
	require.NoError(t, err)
	e.devices, _ = e.svc.Trust().(*trust.Manager)
	f, _ := e.svc.Factor(twofactor.MethodBackupCode)
	s.codes, _ = f.(*backupcodes.Factor)
	e.mux = http.NewServeMux()
	lc := twofactorhttp.Config{
		Service: e.svc,
		Mux:     e.mux,
		SignIn: func(w http.ResponseWriter, r *http.Request, _ string) error {
			res, _ := twofactorhttp.ResultFrom(r)
			http.SetCookie(w, &http.Cookie{Name: "session", Value: res.User.ID, Path: "/", HttpOnly: true})
			return nil
		},
		UserID: sessionID,
		Logger: discardLogger(),
		Admin: twofactorhttp.AdminConfig{
			Guard: func(next http.Handler) http.Handler { return next }, // the host's check: Actor below names who acts
			Actor: func(r *http.Request) string { return r.Header.Get("X-Admin") },
			Users: func(context.Context) iter.Seq2[twofactor.User, error] {
				return func(yield func(twofactor.User, error) bool) {
					for _, id := range slices.Sorted(maps.Keys(s.users)) {
						if !yield(s.users[id], nil) {
							return
						}
					}
				}
			},
		},
	}
	if opt.layer != nil {
		opt.layer(&lc)
	}
	e.h, err = twofactorhttp.New(lc)
	require.NoError(t, err)
	e.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.users[r.FormValue("user")]
		if !ok {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		e.h.Begin(w, r, u.ID)
	})
	return s
}

// as returns a browser (or, with asJSON, an API client) signed in as id.
func (s *senv) as(id string, asJSON bool) *browser {
	b := s.browser()
	b.json = asJSON
	b.cookies["session"] = &http.Cookie{Name: "session", Value: id}
	return b
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// mailCode returns the code of the last email to addr.
func (s *senv) mailCode(addr string) string {
	s.t.Helper()
	m, ok := s.mail.Last(addr)
	require.True(s.t, ok, "no email to %s", addr)
	c := sixDigits.FindString(m.Text)
	require.NotEmpty(s.t, c)
	return c
}

// smsCode returns the code of the last text to number.
func (s *senv) smsCode(number string) string {
	s.t.Helper()
	m, ok := s.text.Last(number)
	require.True(s.t, ok, "no SMS to %s", number)
	c := sixDigits.FindString(m.Body)
	require.NotEmpty(s.t, c)
	return c
}

// stepUp runs a step-up for b's user with an email code, and checks that
// it comes back to next.
func (s *senv) stepUp(b *browser, next string) {
	s.t.Helper()
	u := s.users[b.cookies["session"].Value]
	s.mail.Reset()
	w := b.post("/2fa/step-up", url.Values{"next": {next}})
	if b.json {
		require.Equal(s.t, http.StatusOK, w.Code, w.Body.String())
	} else {
		requireRedirect(s.t, w, "/2fa/")
	}
	if _, ok := s.mail.Last(u.Email); !ok {
		w = b.post("/2fa/send", url.Values{"method": {"email"}})
		require.Less(s.t, w.Code, 400, w.Body.String())
	}
	w = b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {s.mailCode(u.Email)}})
	if b.json {
		m := decodeJSON(s.t, w)
		require.Equal(s.t, "stepped_up", m["status"], w.Body.String())
		require.Equal(s.t, next, m["next"])
	} else {
		requireRedirect(s.t, w, next)
	}
}

// totpCode returns the current code of a secret shown on a page.
func (s *senv) totpCode(secret string) string {
	s.t.Helper()
	k, err := totp.DecodeSecret(secret)
	require.NoError(s.t, err)
	return totp.DefaultParams.Code(k, s.clock.Now())
}

var (
	secretRe = regexp.MustCompile(`<code id="tf-secret"[^>]*>((?:[A-Z2-7 ]|</?span>)+)</code>`)
	tagRe    = regexp.MustCompile(`<[^>]*>`)
)

// pageSecret returns the secret a TOTP set-up page shows, in its groups
// of four.
func pageSecret(t testing.TB, body string) string {
	t.Helper()
	m := secretRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no secret on the page:\n%s", body)
	return tagRe.ReplaceAllString(m[1], "")
}

var codeItemRe = regexp.MustCompile(`<li><code>([0-9a-z-]+)</code></li>`)

// pageCodes returns the backup codes a page shows.
func pageCodes(body string) []string {
	var out []string
	for _, m := range codeItemRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// removeForm is the Remove button of an enrollment: a form that leads to
// the page that asks first.
func removeForm(method, id string) string {
	return `<form method="get" action="/2fa/settings/remove" class="tf-remove">
<input type="hidden" name="method" value="` + method + `">
<input type="hidden" name="id" value="` + id + `">
<button type="submit" class="tf-secondary">Remove`
}

// text returns the body of an answer with HTML entities decoded.
func text(w *httptest.ResponseRecorder) string { return html.UnescapeString(w.Body.String()) }

// requireAlert checks a page that shows msg as an announced error.
func requireAlert(t testing.TB, body, msg string) {
	t.Helper()
	require.Contains(t, body, `role="alert"`)
	require.Contains(t, html.UnescapeString(body), msg)
}

// testKeys is a security-key factor for the settings pages: several keys
// per user, added by the "attestation" {"attest": "<user id>"}, renamed
// and removed.
type testKeys struct {
	mu      sync.Mutex
	keys    map[string][]twofactor.Enrollment
	pending map[string]string // user -> name
	n       int
	now     func() time.Time
}

func (f *testKeys) Method() twofactor.Method { return twofactor.MethodWebAuthn }

func (f *testKeys) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys[u.ID]), nil
}

func (f *testKeys) Verify(context.Context, *twofactor.Challenge, string) (twofactor.Verified, error) {
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

func (f *testKeys) BeginEnroll(_ context.Context, u twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending[u.ID] = cmpString(req.Label, "Security key")
	return &twofactor.Enrolling{Method: twofactor.MethodWebAuthn, ExpiresAt: f.now().Add(5 * time.Minute),
		Options: json.RawMessage(`{"publicKey":{"rp":{"id":"example.com"}}}`)}, nil
}

func (f *testKeys) ConfirmEnroll(_ context.Context, u twofactor.User, answer string) (twofactor.Enrollment, error) {
	var a struct {
		Attest string `json:"attest"`
	}
	if json.Unmarshal([]byte(answer), &a) != nil || a.Attest != u.ID {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := f.pending[u.ID]
	if !ok {
		return twofactor.Enrollment{}, twofactor.ErrNotEnrolled
	}
	delete(f.pending, u.ID)
	f.n++
	e := twofactor.Enrollment{ID: "key-" + string(rune('0'+f.n)), Method: twofactor.MethodWebAuthn, Label: name, CreatedAt: f.now()}
	f.keys[u.ID] = append(f.keys[u.ID], e)
	return e, nil
}

// RPID, UserHandle, CredentialIDs and CredentialID give the keys page
// what the browser's signal methods need: a key's credential id is
// "cred-<enrollment id>", a user with keys has the handle "h-<user>".
func (f *testKeys) RPID() string { return "example.com" }

func (f *testKeys) UserHandle(_ context.Context, userID string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.keys[userID]) == 0 {
		return nil, nil
	}
	return []byte("h-" + userID), nil
}

func (f *testKeys) CredentialIDs(_ context.Context, userID string) ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, e := range f.keys[userID] {
		out = append(out, []byte("cred-"+e.ID))
	}
	return out, nil
}

func (f *testKeys) CredentialID(_ context.Context, userID, id string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.keys[userID] {
		if e.ID == id {
			return []byte("cred-" + e.ID), nil
		}
	}
	return nil, twofactor.ErrNotEnrolled
}

func (f *testKeys) Rename(_ context.Context, u twofactor.User, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return twofactor.ErrInvalidInput
	}
	for i, e := range f.keys[u.ID] {
		if e.ID == id {
			f.keys[u.ID][i].Label = name
			return nil
		}
	}
	return twofactor.ErrNotEnrolled
}

func (f *testKeys) Remove(_ context.Context, u twofactor.User, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[u.ID] = slices.DeleteFunc(f.keys[u.ID], func(e twofactor.Enrollment) bool { return e.ID == id })
	return nil
}

func (f *testKeys) RemoveAll(_ context.Context, u twofactor.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, u.ID)
	return nil
}

func cmpString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
