package webauthn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/webauthn"
)

func newService(t *testing.T, fx *fixture) *twofactor.Service {
	t.Helper()
	svc, err := twofactor.New(twofactor.Config{Store: fx.mem, Keys: fx.keys, Factors: []twofactor.Factor{fx.f},
		Now: fx.clk.Now, Events: &twofactor.Events{Discard: true, Now: fx.clk.Now, Hook: fx.record}})
	require.NoError(t, err)
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
	fails := fx.events(twofactor.EventFailure)
	require.Len(t, fails, 1)
	assert.Equal(t, "rejected", fails[0].Reason, "a wrong origin is recorded as a rejected response")

	_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts))})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "the used ceremony does not take a second answer")
	assert.Equal(t, twofactor.ReasonReplay, fx.events(twofactor.EventFailure)[1].Reason)

	// Malformed answers are refused before the challenge is touched.
	_, err = svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: "{not json"})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	fails = fx.events(twofactor.EventFailure)
	require.Len(t, fails, 3)
	assert.Equal(t, twofactor.ReasonMalformed, fails[2].Reason)

	opts, err = svc.Start(fx.ctx, id, twofactor.MethodWebAuthn)
	require.NoError(t, err)
	res, err := svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts)), UserID: fx.user.ID})
	require.NoError(t, err)
	assert.Equal(t, e.ID, res.EnrollmentID)
	assert.Equal(t, twofactor.MethodWebAuthn, res.Method)
	_, err = svc.Start(fx.ctx, id, twofactor.MethodWebAuthn)
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

// testServer mounts a Handler for the fixture's user with a real Service.
type testServer struct {
	*httptest.Server
	fx      *fixture
	svc     *twofactor.Service
	chID    string
	results []*twofactor.Result
	onLogin error
}

func newTestServer(t *testing.T, fx *fixture) *testServer {
	t.Helper()
	ts := &testServer{fx: fx, svc: newService(t, fx)}
	h, err := webauthn.NewHandler(webauthn.HandlerConfig{
		Factor: fx.f,
		User: func(r *http.Request) (twofactor.User, error) {
			if r.Header.Get("X-User") == "" {
				return twofactor.User{}, errors.New("no session")
			}
			return fx.user, nil
		},
		Service:     ts.svc,
		ChallengeID: func(*http.Request) (string, error) { return ts.chID, nil },
		OnLogin: func(_ http.ResponseWriter, _ *http.Request, res *twofactor.Result) (string, error) {
			if ts.onLogin != nil {
				return "", ts.onLogin
			}
			ts.results = append(ts.results, res)
			return "/home", nil
		},
		Logger: discardLogger,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/2fa/webauthn/", http.StripPrefix("/2fa/webauthn", h))
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
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
	req.Header.Set("X-User", "1")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
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

func TestHandlerFlow(t *testing.T) {
	fx := newFixture(t)
	ts := newTestServer(t, fx)
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

	b, err := ts.svc.Begin(fx.ctx, fx.user, twofactor.Client{})
	require.NoError(t, err)
	ts.chID = b.Challenge.ID

	r = ts.post(t, "/login/begin", map[string]any{})
	require.Equal(t, http.StatusOK, r.status)
	bad := k.get(t, r.body["options"], assertOpts{challenge: b64.EncodeToString(make([]byte, 32))})
	r2 := ts.post(t, "/login/finish", map[string]any{"credential": json.RawMessage(bad)})
	assert.Equal(t, http.StatusUnauthorized, r2.status)
	assert.Equal(t, "rejected", r2.str("error"))

	r = ts.post(t, "/login/begin", map[string]any{})
	require.Equal(t, http.StatusOK, r.status)
	r = ts.post(t, "/login/finish", map[string]any{"credential": json.RawMessage(k.get(t, r.body["options"]))})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "/home", r.str("next"))
	require.Len(t, ts.results, 1)
	assert.Equal(t, fx.user.ID, ts.results[0].User.ID)

	r = ts.post(t, "/login/begin", map[string]any{})
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "challenge_not_found", r.str("error"))
}

func TestHandlerRefusals(t *testing.T) {
	fx := newFixture(t)
	ts := newTestServer(t, fx)
	k := newSoftKey(t, testRPID, testOrigin)
	fx.register(k, "key")
	b, err := ts.svc.Begin(fx.ctx, fx.user, twofactor.Client{})
	require.NoError(t, err)
	ts.chID = b.Challenge.ID

	tests := []struct {
		name   string
		method string
		path   string
		ctype  string
		body   string
		hdr    []string
		status int
		code   string
	}{
		{"get on post endpoint", http.MethodGet, "/login/begin", "", "", nil, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"form post", http.MethodPost, "/login/begin", "application/x-www-form-urlencoded", "a=b", nil, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no content type", http.MethodPost, "/login/begin", "", "{}", nil, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"cross-site fetch", http.MethodPost, "/login/begin", "application/json", "{}", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross_origin"},
		{"foreign origin", http.MethodPost, "/login/begin", "application/json", "{}", []string{"Origin", "https://evil.test"}, http.StatusForbidden, "cross_origin"},
		{"malformed body", http.MethodPost, "/login/finish", "application/json", "{", nil, http.StatusBadRequest, "invalid_input"},
		{"malformed credential", http.MethodPost, "/login/finish", "application/json", `{"credential":{"id":1}}`, nil, http.StatusBadRequest, "invalid_input"},
		{"too large", http.MethodPost, "/register/finish", "application/json", `{"x":"` + strings.Repeat("a", 80<<10) + `"}`, nil, http.StatusRequestEntityTooLarge, "too_large"},
		{"unauthenticated", http.MethodPost, "/register/begin", "application/json", "{}", []string{"X-User", ""}, http.StatusUnauthorized, "unauthenticated"},
		{"no registration", http.MethodPost, "/register/finish", "application/json", `{"credential":` + string(newSoftKey(t, testRPID, testOrigin).create(t, mustBeginRegistration(t, fx))) + `}`, nil, http.StatusConflict, "no_registration"},
		{"unknown path", http.MethodPost, "/nope", "application/json", "{}", nil, http.StatusNotFound, "not_found"},
		{"script by post", http.MethodPost, "/webauthn.js", "application/json", "{}", nil, http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, tt.method, tt.path, tt.ctype, []byte(tt.body), tt.hdr...)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.str("error"))
			assert.NotEmpty(t, r.str("message"))
		})
	}
	assert.Empty(t, ts.results)
	assert.True(t, fx.credentials()[0].LastUsedAt.IsZero())

	t.Run("host failure is not leaked", func(t *testing.T) {
		ts.onLogin = errors.New("session database down at 10.0.0.7")
		r := ts.post(t, "/login/begin", map[string]any{})
		require.Equal(t, http.StatusOK, r.status)
		r = ts.post(t, "/login/finish", map[string]any{"credential": json.RawMessage(k.get(t, r.body["options"]))})
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "internal", r.str("error"))
		assert.NotContains(t, r.str("message"), "10.0.0.7")
	})
	t.Run("script", func(t *testing.T) {
		r := ts.do(t, http.MethodGet, "/webauthn.js", "", nil)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "text/javascript; charset=utf-8", r.header.Get("Content-Type"))
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		assert.Contains(t, string(webauthn.Script()), "navigator.credentials.create")
		assert.Contains(t, string(webauthn.Script()), "navigator.credentials.get")
	})
}

// mustBeginRegistration returns creation options whose registration has
// expired since.
func mustBeginRegistration(t *testing.T, fx *fixture) []byte {
	t.Helper()
	opts := fx.begin("x")
	fx.clk.Advance(webauthn.DefaultTimeout)
	return opts
}

func TestNewHandlerConfig(t *testing.T) {
	fx := newFixture(t)
	user := func(*http.Request) (twofactor.User, error) { return fx.user, nil }
	tests := []struct {
		name string
		cfg  webauthn.HandlerConfig
	}{
		{"no factor", webauthn.HandlerConfig{User: user}},
		{"nothing to serve", webauthn.HandlerConfig{Factor: fx.f}},
		{"service without challenge id", webauthn.HandlerConfig{Factor: fx.f, Service: newService(t, fx)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webauthn.NewHandler(tt.cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
		})
	}
	h, err := webauthn.NewHandler(webauthn.HandlerConfig{Factor: fx.f, User: user})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login/begin", strings.NewReader("{}")))
	assert.Equal(t, http.StatusNotFound, rec.Code, "login endpoints need a Service")
}

// fakeLogin is a LoginService answering with a fixed error.
type fakeLogin struct{ err error }

func (f fakeLogin) Start(context.Context, string, twofactor.Method) (json.RawMessage, error) {
	return nil, f.err
}

func (f fakeLogin) Verify(context.Context, twofactor.Answer) (*twofactor.Result, error) {
	return nil, f.err
}

func TestHandlerErrorMapping(t *testing.T) {
	fx := newFixture(t)
	now := fx.clk.Now()
	tests := []struct {
		err    error
		status int
		code   string
		retry  string
	}{
		{twofactor.NewRetryError(twofactor.ErrLocked, "user", now, now.Add(90*time.Second)), http.StatusTooManyRequests, "locked", "90"},
		{twofactor.NewRetryError(twofactor.ErrRateLimited, "ip", now, now.Add(time.Second)), http.StatusTooManyRequests, "rate_limited", "1"},
		{twofactor.ErrTooManyAttempts, http.StatusForbidden, "too_many_attempts", ""},
		{twofactor.ErrChallengeNotFound, http.StatusNotFound, "challenge_not_found", ""},
		{twofactor.ErrInvalidCode, http.StatusUnauthorized, "rejected", ""},
		{twofactor.ErrMethodNotAllowed, http.StatusForbidden, "not_allowed", ""},
		{twofactor.ErrNotEnrolled, http.StatusForbidden, "not_allowed", ""},
		{twofactor.ErrInvalidInput, http.StatusBadRequest, "invalid_input", ""},
		{errors.New("twofactor: loading challenge: connection refused to db.internal"), http.StatusInternalServerError, "internal", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			h, err := webauthn.NewHandler(webauthn.HandlerConfig{
				Factor: fx.f, Service: fakeLogin{tt.err},
				ChallengeID: func(*http.Request) (string, error) { return "c", nil },
				OnLogin: func(http.ResponseWriter, *http.Request, *twofactor.Result) (string, error) {
					t.Fatal("OnLogin called on a failure")
					return "", nil
				},
				Logger: discardLogger,
			})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/login/begin", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.status, rec.Code)
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tt.code, body["error"])
			assert.NotContains(t, body["message"], "db.internal")
			assert.Equal(t, tt.retry, rec.Header().Get("Retry-After"))
		})
	}
}
