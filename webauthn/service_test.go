package webauthn_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"github.com/twofactorkit/twofactor/webauthn"
)

// newService builds a Service from the fixture's Config on its store,
// keys, clock and events, and makes the factor the Service built the
// fixture's.
func newService(t *testing.T, fx *fixture) *twofactor.Service {
	t.Helper()
	svc, err := twofactor.New(twofactor.Config{Store: fx.st, Keys: fx.keys, Factors: []twofactor.FactorConfig{fx.cfg},
		Users: fx.users, Now: fx.clk.Now, Events: fx.env.Events})
	require.NoError(t, err)
	f, ok := svc.Factor(twofactor.MethodWebAuthn)
	require.True(t, ok)
	fx.f = f.(*webauthn.Factor)
	return svc
}

func TestServiceLoginAndRemove(t *testing.T) {
	fx := newFixture(t)
	svc := newService(t, fx)
	k := newSoftKey(t, testRPID, testOrigin)
	e := fx.register(k, "key")

	b, err := svc.Begin(fx.ctx, fx.user, twofactor.Client{})
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	require.True(t, b.Challenge.Offers(twofactor.MethodWebAuthn))
	id := b.Challenge.ID

	// A wrong answer counts as a failure; the ceremony must be started again.
	opts, err := svc.Start(fx.ctx, id, twofactor.MethodWebAuthn)
	require.NoError(t, err)
	_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn,
		Code: string(k.get(t, opts, assertOpts{origin: "https://evil.test"}))})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	fails := fx.events(event.Failure)
	require.Len(t, fails, 1)
	assert.Equal(t, webauthn.ReasonRejected, fails[0].Reason, "a wrong origin is recorded as a rejected response")

	_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts))})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "the used ceremony does not take a second answer")
	assert.Equal(t, event.ReasonReplay, fx.events(event.Failure)[1].Reason)

	// Malformed answers are refused before the challenge is touched.
	_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: "{not json"})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	fails = fx.events(event.Failure)
	require.Len(t, fails, 3)
	assert.Equal(t, event.ReasonMalformed, fails[2].Reason)

	opts, err = svc.Start(fx.ctx, id, twofactor.MethodWebAuthn)
	require.NoError(t, err)
	res, err := svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts)), UserID: fx.user.ID})
	require.NoError(t, err)
	assert.Equal(t, e.ID, res.EnrollmentID)
	assert.Equal(t, twofactor.MethodWebAuthn, res.Method)
	assert.Equal(t, fx.clk.Now(), fx.credentials()[0].LastUsedAt, "the login is the key's last use")
	oks := fx.events(event.Success)
	require.Len(t, oks, 1)
	assert.Equal(t, e.ID, oks[0].EnrollmentID, "the success event names the key")
	assert.Empty(t, oks[0].Details, "by EnrollmentID, not a detail")
	_, err = svc.Challenge(fx.ctx, id)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "the challenge is complete")

	// Removing the key needs a fresh proof.
	require.ErrorIs(t, svc.RemoveEnrollment(fx.ctx, fx.user, twofactor.MethodWebAuthn, e.ID, "bogus"), twofactor.ErrStepUpRequired)
	fx.clk.Advance(time.Hour)
	require.ErrorIs(t, svc.RemoveEnrollment(fx.ctx, fx.user, twofactor.MethodWebAuthn, e.ID, res.Proof), twofactor.ErrStepUpRequired)
	assert.Len(t, fx.credentials(), 1)

	ch, err := svc.StepUp(fx.ctx, fx.user, twofactor.Client{}, twofactor.PurposeStepUp)
	require.NoError(t, err)
	opts, err = svc.Start(fx.ctx, ch.ID, twofactor.MethodWebAuthn)
	require.NoError(t, err)
	res, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts)), Purpose: twofactor.PurposeStepUp})
	require.NoError(t, err)
	require.NoError(t, svc.RemoveEnrollment(fx.ctx, fx.user, twofactor.MethodWebAuthn, e.ID, res.Proof))
	assert.Empty(t, fx.credentials())
	b, err = svc.Begin(fx.ctx, fx.user, twofactor.Client{})
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusNoFactor, b.Status)
}

// testServer is a host app with its login, its session (a cookie naming
// the fixture's user) and twofactorhttp mounted, on a real Service: the
// security-key script's routes as browsers reach them.
type testServer struct {
	*httptest.Server
	fx      *fixture
	svc     *twofactor.Service
	client  *http.Client
	mu      sync.Mutex
	results []*twofactor.Result
	signIn  error
}

func newTestServer(t *testing.T, fx *fixture) *testServer {
	t.Helper()
	ts := &testServer{fx: fx, svc: newService(t, fx)}
	mux := http.NewServeMux()
	h, err := twofactorhttp.New(twofactorhttp.Config{
		Service: ts.svc,
		Mux:     mux,
		SignIn: func(_ http.ResponseWriter, r *http.Request, _ string) error {
			res, _ := twofactorhttp.ResultFrom(r)
			ts.mu.Lock()
			defer ts.mu.Unlock()
			if ts.signIn != nil {
				return ts.signIn
			}
			ts.results = append(ts.results, res)
			return nil
		},
		UserID: func(r *http.Request) (string, bool) {
			_, err := r.Cookie("session")
			return fx.user.ID, err == nil
		},
		ReturnURL: "/home",
		Logger:    discardLogger,
	})
	require.NoError(t, err)
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { h.Begin(w, r, fx.user.ID) })
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	ts.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return ts
}

// signIn gives the client a session: the fixture's user is signed in.
func (ts *testServer) signInAs(t *testing.T) {
	u, err := url.Parse(ts.URL)
	require.NoError(t, err)
	ts.client.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "1", Path: "/"}})
}

// begin posts the password step, leaving the pending cookie in the jar.
func (ts *testServer) begin(t *testing.T) {
	t.Helper()
	res, err := ts.client.PostForm(ts.URL+"/login", url.Values{})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

type reply struct {
	status int
	header http.Header
	body   map[string]json.RawMessage
}

func (r reply) str(key string) string {
	var s string
	_ = json.Unmarshal(r.body[key], &s)
	return s
}

func (ts *testServer) do(t *testing.T, method, path, ctype string, body []byte, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+"/2fa/webauthn"+path, bytes.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := ts.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := reply{status: res.StatusCode, header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out.body), "body %s", raw)
	}
	return out
}

func (ts *testServer) post(t *testing.T, path string, v any, hdr ...string) reply {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return ts.do(t, http.MethodPost, path, "application/json", b, hdr...)
}

// The security-key script's four routes, served by twofactorhttp over the
// Service: add a key as a signed-in user, then answer a login challenge.
func TestHTTPFlow(t *testing.T) {
	fx := newFixture(t)
	ts := newTestServer(t, fx)
	ts.signInAs(t)
	k := newSoftKey(t, testRPID, testOrigin)

	r := ts.post(t, "/register/begin", map[string]string{"name": "Desk key"}, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, t0.Add(webauthn.DefaultTimeout).Format(time.RFC3339), r.str("expires_at"))
	r = ts.post(t, "/register/finish", map[string]any{"credential": json.RawMessage(k.create(t, r.body["options"]))})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var enr struct{ ID, Name string }
	require.NoError(t, json.Unmarshal(r.body["enrollment"], &enr))
	assert.Equal(t, "Desk key", enr.Name)
	assert.Equal(t, fx.credentials()[0].ID, enr.ID)

	// A second key needs a fresh verification of the first.
	r = ts.post(t, "/register/begin", map[string]string{"name": "Spare"})
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "step_up_required", r.str("error"))
	assert.Equal(t, "/2fa/step-up", r.str("next"))

	ts.begin(t)
	r = ts.post(t, "/login/begin", map[string]any{})
	require.Equal(t, http.StatusOK, r.status)
	bad := k.get(t, r.body["options"], assertOpts{challenge: b64.EncodeToString(make([]byte, 32))})
	r2 := ts.post(t, "/login/finish", map[string]any{"credential": json.RawMessage(bad)})
	assert.Equal(t, http.StatusUnauthorized, r2.status)
	assert.Equal(t, "invalid_code", r2.str("error"))
	assert.Equal(t, "The security key was not accepted. Try again.", r2.str("message"))

	r = ts.post(t, "/login/begin", map[string]any{})
	require.Equal(t, http.StatusOK, r.status)
	r = ts.post(t, "/login/finish", map[string]any{"credential": json.RawMessage(k.get(t, r.body["options"]))})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "/home", r.str("next"))
	require.Len(t, ts.results, 1)
	assert.Equal(t, fx.user.ID, ts.results[0].User.ID)
	assert.Equal(t, twofactor.MethodWebAuthn, ts.results[0].Method)

	r = ts.post(t, "/login/begin", map[string]any{})
	assert.Equal(t, http.StatusGone, r.status)
	assert.Equal(t, "challenge_ended", r.str("error"))
}

func TestHTTPRefusals(t *testing.T) {
	fx := newFixture(t)
	ts := newTestServer(t, fx)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	expired := mustBeginRegistration(t, fx)
	ts.begin(t)

	tests := []struct {
		name    string
		method  string
		path    string
		ctype   string
		body    string
		hdr     []string
		session bool
		status  int
		code    string
	}{
		{"get on post endpoint", http.MethodGet, "/login/begin", "", "", nil, false, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"cross-site fetch", http.MethodPost, "/login/begin", "application/json", "{}", []string{"Sec-Fetch-Site", "cross-site"}, false, http.StatusForbidden, "cross_origin"},
		{"foreign origin", http.MethodPost, "/login/begin", "application/json", "{}", []string{"Origin", "https://evil.test"}, false, http.StatusForbidden, "cross_origin"},
		{"malformed body", http.MethodPost, "/login/finish", "application/json", "{", nil, false, http.StatusBadRequest, "bad_request"},
		{"malformed credential", http.MethodPost, "/login/finish", "application/json", `{"credential":{"id":1}}`, nil, false, http.StatusUnauthorized, "invalid_code"},
		{"too large", http.MethodPost, "/register/finish", "application/json", `{"x":"` + strings.Repeat("a", 80<<10) + `"}`, nil, true, http.StatusRequestEntityTooLarge, "too_large"},
		{"signed out", http.MethodPost, "/register/begin", "application/json", "{}", nil, false, http.StatusUnauthorized, "signed_out"},
		{"no registration", http.MethodPost, "/register/finish", "application/json", `{"credential":` + string(newSoftKey(t, testRPID, testOrigin).create(t, expired)) + `}`, nil, true, http.StatusConflict, "no_pending_enrollment"},
		{"unknown path", http.MethodPost, "/nope", "application/json", "{}", nil, false, http.StatusNotFound, "not_found"},
		{"script by post", http.MethodPost, "/webauthn.js", "application/json", "{}", nil, false, http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.session {
				ts.signInAs(t)
				defer ts.client.Jar.SetCookies(mustURL(t, ts.URL), []*http.Cookie{{Name: "session", Path: "/", MaxAge: -1}})
			}
			r := ts.do(t, tt.method, tt.path, tt.ctype, []byte(tt.body), tt.hdr...)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.str("error"))
			assert.NotEmpty(t, r.str("message"))
		})
	}
	assert.Empty(t, ts.results)
	assert.True(t, fx.credentials()[0].LastUsedAt.IsZero())

	t.Run("host failure is not leaked", func(t *testing.T) {
		ts.signIn = errors.New("session database down at 10.0.0.7")
		r := ts.post(t, "/login/begin", map[string]any{})
		require.Equal(t, http.StatusOK, r.status)
		r = ts.post(t, "/login/finish", map[string]any{"credential": json.RawMessage(k.get(t, r.body["options"]))})
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "internal", r.str("error"))
		assert.NotContains(t, r.str("message"), "10.0.0.7")
	})
	t.Run("script", func(t *testing.T) {
		res, err := ts.client.Get(ts.URL + "/2fa/webauthn/webauthn.js")
		require.NoError(t, err)
		js, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "text/javascript; charset=utf-8", res.Header.Get("Content-Type"))
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		assert.Contains(t, string(js), "navigator.credentials.create")
		assert.Contains(t, string(js), "navigator.credentials.get")
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// mustBeginRegistration returns creation options whose registration has
// expired since.
func mustBeginRegistration(t *testing.T, fx *fixture) []byte {
	t.Helper()
	opts := fx.begin("x")
	fx.clk.Advance(webauthn.DefaultTimeout)
	return opts
}

// TestServicePasskeySignIn: through the Service, a passkey signs its user
// in with no password; a stranger's key and a bad signature are the same
// wrong answer, and the failure events name no one; a security key does
// not sign in on its own.
func TestServicePasskeySignIn(t *testing.T) {
	fx := newFixture(t)
	svc := newService(t, fx)
	k := newPasskey(t, testRPID, testOrigin)
	e := fx.registerPasskey(fx.user, k, "phone")
	key := newPasskey(t, testRPID, testOrigin)
	fx.register(key, "key")

	finish := func(answer func(opts []byte) []byte) (*twofactor.PasskeySignIn, error) {
		calls := fx.st.Calls.Load()
		c, err := svc.BeginPasskey(fx.ctx, twofactor.Client{})
		require.NoError(t, err)
		assert.Equal(t, calls, fx.st.Calls.Load(), "a passkey sign-in begins with no store call")
		assert.Empty(t, parseOptions(t, c.Options).PublicKey.AllowCredentials)
		return svc.FinishPasskey(fx.ctx, twofactor.PasskeyAnswer{CeremonyID: c.ID, Answer: string(answer(c.Options))})
	}
	stranger := newPasskey(t, testRPID, testOrigin)
	stranger.userHandle = k.userHandle
	var msgs []string
	for _, answer := range []func([]byte) []byte{
		func(o []byte) []byte { return stranger.get(t, o) },
		func(o []byte) []byte { return k.get(t, o, assertOpts{badSignature: true}) },
		func(o []byte) []byte { return key.get(t, o) },
	} {
		got, err := finish(answer)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Nil(t, got)
		msgs = append(msgs, err.Error())
	}
	assert.Equal(t, []string{msgs[0], msgs[0], msgs[0]}, msgs)
	for _, ev := range fx.events(event.Failure) {
		assert.Empty(t, ev.UserID)
		assert.Empty(t, ev.EnrollmentID)
	}

	got, err := finish(func(o []byte) []byte { return k.get(t, o) })
	require.NoError(t, err)
	require.NotNil(t, got.Result)
	assert.Equal(t, fx.user.ID, got.User.ID)
	assert.True(t, got.Result.Passwordless)
	assert.Equal(t, e.ID, got.Result.EnrollmentID)
	assert.Contains(t, got.Result.AMR, "mfa")
}

// VerifyRecords takes the user's credentials from the records it is
// handed: none of theirs (none at all, another user's) is an unknown
// credential, as a key removed meanwhile would be, and reads nothing.
func TestVerifyRecords(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	e := fx.register(k, "key")
	recs, err := fx.st.ListEnrollments(fx.ctx, fx.user.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	stolen := recs[0]
	stolen.UserID = "mallory"
	for name, given := range map[string][]store.EnrollmentRecord{"none": nil, "another user's": {stolen}} {
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		require.NoError(t, err)
		_, err = fx.f.VerifyRecords(fx.ctx, ch, string(k.get(t, opts)), given)
		require.ErrorIs(t, err, webauthn.ErrUnknownCredential, name)
	}
	ch := fx.challenge()
	opts, err := fx.f.Start(fx.ctx, ch)
	require.NoError(t, err)
	fx.st.Fail("ListEnrollments", errStore)
	v, err := fx.f.VerifyRecords(fx.ctx, ch, string(k.get(t, opts)), recs)
	require.NoError(t, err, "the records given are not read again")
	assert.Equal(t, e.ID, v.EnrollmentID)
}

// StartRecords takes the user's credentials from the records it is
// handed, reads nothing, and with none of theirs (none at all, another
// user's) finds the user not enrolled.
func TestStartRecords(t *testing.T) {
	fx := newFixture(t)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	recs, err := fx.st.ListEnrollments(fx.ctx, fx.user.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	stolen := recs[0]
	stolen.UserID = "mallory"
	fx.st.Fail("ListEnrollments", errStore)
	for name, given := range map[string][]store.EnrollmentRecord{"none": nil, "another user's": {stolen}} {
		_, err := fx.f.StartRecords(fx.ctx, fx.challenge(), given)
		require.ErrorIs(t, err, twofactor.ErrNotEnrolled, name)
	}
	ch := fx.challenge()
	opts, err := fx.f.StartRecords(fx.ctx, ch, recs)
	require.NoError(t, err, "the records given are not read again")
	fx.st.Fail("ListEnrollments", nil)
	_, err = fx.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
	require.NoError(t, err, "the ceremony StartRecords began is answered")
}

// TestLoginRoundTrips: a security-key login costs four store round trips
// through the Service: Begin one (the lockout and the user's records);
// Start one (the check that the challenge can still be answered, with the
// user's credentials; the ceremony itself is written nowhere); Verify two
// (the count, with the user's records; the ceremony's single-use mark,
// the signature counter on it, and the challenge's end with the key's
// last use on the counter). A passkey sign-in begins with none.
func TestLoginRoundTrips(t *testing.T) {
	fx := newFixture(t)
	svc := newService(t, fx)
	k := newSoftKey(t, testRPID, testOrigin)
	k.count = 1
	fx.register(k, "key")
	trips := func(step func()) int64 {
		before := fx.st.Calls.Load()
		step()
		return fx.st.Calls.Load() - before
	}
	var b *twofactor.Begun
	var opts json.RawMessage
	assert.Equal(t, int64(1), trips(func() {
		var err error
		b, err = svc.Begin(fx.ctx, fx.user, twofactor.Client{})
		require.NoError(t, err)
	}), "Begin")
	assert.Equal(t, int64(1), trips(func() {
		var err error
		opts, err = svc.Start(fx.ctx, b.Challenge.ID, twofactor.MethodWebAuthn)
		require.NoError(t, err)
	}), "Start")
	assert.Equal(t, int64(2), trips(func() {
		_, err := svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts))})
		require.NoError(t, err)
	}), "Verify")
	assert.Equal(t, fx.clk.Now(), fx.credentials()[0].LastUsedAt)
}
