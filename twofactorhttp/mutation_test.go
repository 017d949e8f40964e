package twofactorhttp_test

// Edges of the layer's rules that the other tests pass through without
// pinning: the exact moment a wait ends, the caps of the administrator's
// lists, defaults that must still be spelled out, and answers the layer
// cleans up before the Service sees them.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// An administrator page that fails on the server side (here the host's
// user list) answers 500 and logs the error for the operators; a request
// that is only wrong (an unknown user: 404) is answered, not logged as an
// error, so the log shows what needs fixing (OWASP Logging Cheat Sheet:
// log what an operator must act on, without drowning it).
func TestAdminServerErrorLogged(t *testing.T) {
	var buf bytes.Buffer
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		c.Admin.Users = func(context.Context) iter.Seq2[twofactor.User, error] {
			return func(yield func(twofactor.User, error) bool) { yield(twofactor.User{}, errors.New("directory down")) }
		}
	}})
	requireError(t, s.admin(true).get("/admin/2fa/user?id=nobody"), http.StatusNotFound, "unknown_user")
	require.Equal(t, http.StatusNotFound, s.admin(false).get("/admin/2fa/user?id=nobody").Code)
	require.NotContains(t, buf.String(), "administrator request failed", "a client's mistake is no server error")

	w := s.admin(false).get("/admin/2fa/policy")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.NotContains(t, w.Body.String(), "directory down", "the cause stays in the log")
	require.Contains(t, buf.String(), "administrator request failed")
	require.Contains(t, buf.String(), "directory down")
	require.Contains(t, buf.String(), "path=/admin/2fa/policy")
}

// The policy in JSON always lists the allowed and mandatory methods: the
// configured ones, or an empty list (every method allowed, none
// mandatory), never null.
func TestAdminPolicyJSONLists(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	w := s.admin(true).get("/admin/2fa/policy")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `"allowed_methods":[]`)
	require.Contains(t, w.Body.String(), `"mandatory_methods":[]`)
	m := decodeJSON(t, w)
	require.NotContains(t, m, "default_method")

	s = newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Policy = twofactor.Policy{Methods: []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodEmail},
			Mandatory: []twofactor.Method{twofactor.MethodTOTP}}
	}})
	m = decodeJSON(t, s.admin(true).get("/admin/2fa/policy"))
	require.Equal(t, []any{"totp", "email"}, m["allowed_methods"])
	require.Equal(t, []any{"totp"}, m["mandatory_methods"])
}

var defaultMethodRe = regexp.MustCompile(`<dt>Default method</dt>\s*<dd>([^<]*)</dd>`)

// The policy page names the default method, or says there is none.
func TestAdminPolicyDefaultMethod(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Policy = twofactor.Policy{Default: twofactor.MethodTOTP}
	}})
	m := defaultMethodRe.FindStringSubmatch(text(s.admin(false).get("/admin/2fa/policy")))
	require.NotNil(t, m)
	require.Equal(t, "Authenticator app", m[1])

	s = newSettingsEnv(t, senvOpt{})
	m = defaultMethodRe.FindStringSubmatch(text(s.admin(false).get("/admin/2fa/policy")))
	require.NotNil(t, m)
	require.Equal(t, "None set.", m[1])
}

// A user who only lacks a second factor is listed as such; "Missing:"
// appears only for mandatory methods the user lacks.
func TestAdminPolicyGapWithoutMissing(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Policy = twofactor.Policy{Required: true} },
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/enroll" }})
	body := text(s.admin(false).get("/admin/2fa/policy"))
	require.Contains(t, body, `<a href="/admin/2fa/user?id=ben">ben</a> <span class="tf-meta">No second factor</span>`)
	require.NotContains(t, body, "Missing")
}

// Each list of the policy page stops at 500 users, so a large user base
// does not make an unbounded page; the count of users checked is still
// the whole list.
func TestAdminPolicyListsCapped(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Policy = twofactor.Policy{Required: true, Methods: []twofactor.Method{twofactor.MethodSMS, twofactor.MethodBackupCode}}
	},
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/enroll" }})
	for i := range 501 {
		id := fmt.Sprintf("u%03d", i)
		s.users[id] = twofactor.User{ID: id, Name: id}
	}
	m := decodeJSON(t, s.admin(true).get("/admin/2fa/policy"))
	require.Equal(t, float64(504), m["users_checked"])
	require.Len(t, m["cannot_comply"], 500, "501 users without a factor, and ben")
	require.Len(t, m["without"].(map[string]any)["sms"], 500, "nobody has a phone number")

	body := s.admin(false).get("/admin/2fa/policy").Body.String()
	require.Equal(t, 500, strings.Count(body, "No second factor"))
}

// Without a method named, the start step (a security key's request
// options) is for the first method of the pages that has one; a JSON
// request with an empty body names none.
func TestStartWithoutMethod(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	b := e.api()
	b.login("alice", "")
	// An empty JSON body is an empty request, as {} is.
	for _, body := range []string{`{}`, "", " \n"} {
		w := b.do(http.MethodPost, "/2fa/start", body)
		require.Equal(t, http.StatusOK, w.Code, "%q: %s", body, w.Body.String())
		m := decodeJSON(t, w)
		require.Equal(t, "webauthn", m["method"])
		require.NotEmpty(t, m["options"])
	}
}

// A numeric code is accepted as people paste or type it: with spaces,
// dashes or no-break spaces between its digits, which the layer drops
// before the factor compares digits.
func TestNumericCodeSeparators(t *testing.T) {
	for _, code := range []string{"246 813", "246-813", "246\u00a0813", " 24 68 13 "} {
		e := newEnv(t, envOpt{})
		b := e.browser()
		requireRedirect(t, b.login("bob", "/account"), "/2fa/")
		requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {code}}), "/account")
		require.Len(t, e.signIns(), 1, "%q", code)
	}
}

// The challenge page of a pending cookie sealed for another user around a
// real challenge is refused (410), as verify and send refuse it: the
// cookie's user must be the challenge's, or the page would show alice's
// masked address to whoever holds such a cookie.
func TestChallengePageOfAnotherUser(t *testing.T) {
	e := newEnv(t, envOpt{})
	a := e.browser()
	a.login("alice", "")
	id := a.challengeID()
	forged := twofactorhttp.SealPendingForTest(e.h, id, "bob", twofactor.PurposeLogin, "", e.clock.Now().Add(time.Minute))
	for _, asJSON := range []bool{false, true} {
		m := e.browser()
		m.json = asJSON
		m.cookies[twofactorhttp.DefaultPendingCookie] = &http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: forged}
		w := m.get("/2fa/")
		require.Equal(t, http.StatusGone, w.Code, w.Body.String())
		require.NotContains(t, w.Body.String(), "a***@example.com")
	}
	require.Equal(t, http.StatusOK, a.get("/2fa/").Code, "alice's own page is untouched")
}

// The wait before a new code ends exactly at the resend time the factor
// gave: from that moment the page shows no countdown and JSON says
// resend_after 0; a millisecond before, one second is left.
func TestResendWaitEndsOnTime(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	requireRedirect(t, b.login("alice", ""), "/2fa/")
	require.EqualValues(t, 1, e.email.sends.Load())

	e.clock.Advance(time.Minute - time.Millisecond)
	require.Contains(t, b.get("/2fa/").Body.String(), "You can ask for a new code in 1 second.")
	b.json = true
	require.EqualValues(t, 1, decodeJSON(t, b.get("/2fa/"))["sent"].(map[string]any)["resend_after"])

	e.clock.Advance(time.Millisecond)
	b.json = false
	page := b.get("/2fa/").Body.String()
	require.Contains(t, page, "We sent a code to a***@example.com.")
	require.NotContains(t, page, "You can ask for a new code")
	require.NotContains(t, page, "data-countdown")
	b.json = true
	require.EqualValues(t, 0, decodeJSON(t, b.get("/2fa/"))["sent"].(map[string]any)["resend_after"])
}

// A method's settings route is a path segment of lowercase letters,
// digits, "_" and "-", 64 bytes at most: every letter and digit of the
// range is accepted, the pages answer there, and anything else is refused
// at New, so no route can reach outside the settings prefix.
func TestMethodRouteCharacters(t *testing.T) {
	for _, route := range []string{"app-z9_0", "0-9", strings.Repeat("z", 64)} {
		ui := twofactorhttp.TOTPUI()
		ui.Route = route
		s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) { c.Methods = []twofactorhttp.MethodUI{ui} }})
		w := s.as("ann", false).get("/2fa/settings/" + route)
		require.Equal(t, http.StatusOK, w.Code, route)
		require.Contains(t, w.Body.String(), "Authenticator app", route)
	}
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }
	for _, route := range []string{strings.Repeat("z", 65), "App", "a.b", "a/b", "a b", "a:b", "a~b", "é"} {
		ui := twofactorhttp.TOTPUI()
		ui.Route = route
		_, err := twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: http.NewServeMux(), SignIn: signIn, Methods: []twofactorhttp.MethodUI{ui}})
		require.ErrorIs(t, err, twofactor.ErrConfig, "%q", route)
	}
}

// The administrator pages and the user's pages live apart: once the
// administrator pages are on (Admin.Actor), at their default prefix too,
// a Config.Prefix that contains it is refused; without them the prefix
// is free.
func TestAdminPrefixApartByDefault(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }
	c := twofactorhttp.Config{Service: e.svc, Mux: http.NewServeMux(), SignIn: signIn, Prefix: "/admin/"}
	_, err := twofactorhttp.New(c)
	require.NoError(t, err, "no administrator pages")

	c.Mux = http.NewServeMux()
	c.Admin = twofactorhttp.AdminConfig{Guard: func(h http.Handler) http.Handler { return h }, Actor: func(*http.Request) string { return "x" }}
	_, err = twofactorhttp.New(c)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, `Config.Admin.Prefix "/admin/2fa/" and Config.Prefix "/admin/" must not contain one another`)
}

// A pending cookie is refused unread only above MaxCookie bytes: the
// longest at most MaxCookie, sealed by the layer, still opens, and the
// shortest above it does not (the longest a layer's cookie gets is a 2048-byte return path
// and the factor's masked destination).
func TestPendingCookieAtMaxCookie(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.browser()
	requireRedirect(t, b.login("alice", ""), "/2fa/")
	id := b.challengeID()
	seal := func(destination int) string {
		return twofactorhttp.SealPendingSentForTest(e.h, twofactorhttp.PendingCookie{ChallengeID: id, UserID: "alice", Purpose: twofactor.PurposeLogin,
			Return: "/" + strings.Repeat("a", 2047), Expires: e.clock.Now().Add(time.Minute).Unix(),
			SentMethod: twofactor.MethodEmail, SentDestination: strings.Repeat("d", destination), ResendAt: e.clock.Now().UnixMilli()})
	}
	// A sealed value grows by 4 characters for 3 bytes, so not every
	// length is made: the longest at most MaxCookie, the shortest above.
	var atMax, over string
	for n := range 3000 {
		v := seal(n)
		if len(v) <= twofactorhttp.MaxCookie {
			atMax = v
		} else if over == "" {
			over = v
		}
	}
	require.GreaterOrEqual(t, len(atMax), twofactorhttp.MaxCookie-1)
	require.LessOrEqual(t, len(over), twofactorhttp.MaxCookie+2)

	m := e.browser()
	m.cookies[twofactorhttp.DefaultPendingCookie] = &http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: atMax}
	w := m.get("/2fa/")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "We sent a code to "+strings.Repeat("d", 10))
	m.cookies[twofactorhttp.DefaultPendingCookie] = &http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: over}
	requireRedirect(t, m.get("/2fa/"), "/login")
}

// Methods a user has not used yet are offered in the pages' order (the
// policy's default first), even for a challenge another instance created
// with another order, as during a rolling change of the default: the
// instance that shows the page decides.
func TestMethodOrderOfThePagesShowingThem(t *testing.T) {
	manual := func(c *twofactorhttp.Config) { c.ManualSend = true }
	first := newEnv(t, envOpt{layer: manual})
	second := newEnv(t, envOpt{layer: manual, svc: func(c *twofactor.Config) {
		c.Store, c.Keys = first.mem, first.keys
		c.Policy = twofactor.Policy{Default: twofactor.MethodTOTP}
	}})
	order := func(st map[string]any) []string {
		var out []string
		for _, m := range st["methods"].([]any) {
			out = append(out, m.(map[string]any)["method"].(string))
		}
		return out
	}
	b := first.api()
	st := decodeJSON(t, b.login("alice", ""))
	require.Equal(t, []string{"email", "sms", "totp", "webauthn", "backup_code"}, order(st))

	b.e = second
	w := b.get("/2fa/")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, []string{"totp", "email", "sms", "webauthn", "backup_code"}, order(decodeJSON(t, w)))
	b.json = false
	require.Contains(t, b.get("/2fa/").Body.String(), `data-method="totp"`, "the first method is the one shown")
}

// On http://localhost (development), the page a refused POST came from is
// read from a Referer of the same origin, http:// there; a Referer with
// another scheme is another origin (RFC 6454: scheme, host and port) and
// is not followed. Over TLS the origin is https://, localhost or not.
func TestStepUpRefusedPostOnLocalhost(t *testing.T) {
	e := newEnv(t, envOpt{})
	// httptest.NewRequest sets r.TLS for an https:// target.
	post := func(target, referer string) string {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader("confirm=yes"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Accept", "text/html")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Referer", referer)
		r.AddCookie(&http.Cookie{Name: "session", Value: "bob"})
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code)
		return w.Body.String()
	}
	const next = `<input type="hidden" name="next" value="/settings/close">`
	require.Contains(t, post("http://localhost:8080/danger", "http://localhost:8080/settings/close"), next)
	require.NotContains(t, post("http://localhost:8080/danger", "https://localhost:8080/settings/close"), `name="next"`)
	require.Contains(t, post("https://localhost:8443/danger", "https://localhost:8443/settings/close"), next)
	require.NotContains(t, post("https://localhost:8443/danger", "http://localhost:8443/settings/close"), `name="next"`)
}

var optionRe = regexp.MustCompile(`<option value="([A-Z0-9]+)"(?: selected)?>([^<]*) \(\+\d+\)</option>`)

// The country picker lists regions by name, as people look for their
// country, not by code ("Denmark" before "Germany", though DE < DK);
// regions given the same name are listed by code.
func TestRegionPickerByName(t *testing.T) {
	st := twofactorhttp.DefaultStrings()
	st.Settings.Regions = map[string]string{"JE": "Channel Islands", "GG": "Channel Islands"}
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) { c.Strings = st }})
	body := text(s.as("ben", false).get("/2fa/settings/phone"))
	var codes, names []string
	for _, m := range optionRe.FindAllStringSubmatch(body, -1) {
		codes, names = append(codes, m[1]), append(names, m[2])
	}
	require.Greater(t, len(names), 200)
	// In the page's language's collation order: "Åland Islands" among
	// the A's, not after "Zimbabwe".
	col := collate.New(language.English)
	require.True(t, slices.IsSortedFunc(names, col.CompareString), "sorted by name")
	require.Less(t, slices.Index(names, "Åland Islands"), slices.Index(names, "Belgium"))
	dk, de := slices.Index(codes, "DK"), slices.Index(codes, "DE")
	require.Equal(t, []string{"Denmark", "Germany"}, []string{names[dk], names[de]})
	require.Less(t, dk, de)
	gg, je := slices.Index(codes, "GG"), slices.Index(codes, "JE")
	require.Equal(t, gg+1, je, "same name: by code")
}

// A sign-in that fails on the server side (here the host's SignIn) is
// logged with its cause for the operators, and answered 500 without it;
// what the client got wrong (a wrong code, an ended challenge) is answered
// and not logged as an error.
func TestFlowServerErrorLogged(t *testing.T) {
	var buf bytes.Buffer
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) }})
	b := e.browser()
	b.login("bob", "")
	require.Equal(t, http.StatusUnauthorized, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"000000"}}).Code)
	require.Equal(t, http.StatusGone, e.browser().post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}).Code)
	require.NotContains(t, buf.String(), "request failed")

	e.signErr = errors.New("session store down")
	w := b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.NotContains(t, w.Body.String(), "session store down")
	require.Contains(t, buf.String(), "level=ERROR msg=\"twofactorhttp: request failed\" path=/2fa/verify")
	require.Contains(t, buf.String(), "session store down")
}

// A JSON body asks for a JSON answer, whatever the Accept header says
// (fetch sends "*/*" by default, and some clients send none).
func TestJSONBodyGetsJSON(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, accept := range []string{"", "*/*"} {
		r := httptest.NewRequest(http.MethodPost, "https://example.com/2fa/verify", strings.NewReader(`{"method":"totp","code":"246813"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		requireError(t, w, http.StatusGone, "challenge_ended")
	}
}

// A return path may be 2048 bytes long, and no longer: the sign-in goes
// there, or to Config.ReturnURL when it is longer.
func TestReturnPathAtMaxLength(t *testing.T) {
	e := newEnv(t, envOpt{})
	long := "/" + strings.Repeat("a", 2047)
	requireRedirect(t, e.browser().login("carol", long), long)
	requireRedirect(t, e.browser().login("carol", long+"a"), "/")
}

// New checks that the host's mux leaves the Handler every route,
// including those of a method's settings page, probed with the first
// method's real route: a host pattern on it is found at New.
func TestMountMismatchOnMethodRoute(t *testing.T) {
	e := newEnv(t, envOpt{})
	signIn := func(http.ResponseWriter, *http.Request, string) error { return nil }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2fa/settings/email", func(http.ResponseWriter, *http.Request) {})
	_, err := twofactorhttp.New(twofactorhttp.Config{Service: e.svc, Mux: mux, SignIn: signIn})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.ErrorContains(t, err, `Config.Mux sends GET /2fa/settings/email to "GET /2fa/settings/email"`)
}

// A method whose page has no notice of its own in Strings.Settings.Saved
// (here the authenticator app, moved to the route "app") is announced
// with SetUpDone once set up; an unknown key announces nothing.
func TestSetUpNoticeOfRenamedRoute(t *testing.T) {
	ui := twofactorhttp.TOTPUI()
	ui.Route = "app"
	s := newSettingsEnv(t, senvOpt{layer: func(c *twofactorhttp.Config) { c.Methods = []twofactorhttp.MethodUI{ui} }})
	b := s.as("ann", false)
	require.Contains(t, b.get("/2fa/settings/?done=app").Body.String(), "Authenticator app is set up.")
	body := b.get("/2fa/settings/?done=nothing").Body.String()
	require.NotContains(t, body, "is set up.")
	require.NotContains(t, body, `role="status"`)
}

// A settings page that fails on the server side (the store) is logged
// for the operators and answered 500 without the cause; a wrong code is
// the user's mistake, answered without a log line and without a
// Retry-After (RFC 9110 10.2.3: that header says how long to wait, and
// there is nothing to wait for).
func TestSettingsServerErrorLogged(t *testing.T) {
	var buf bytes.Buffer
	var spy *storespy.Spy
	s := newSettingsEnv(t, senvOpt{
		svc: func(c *twofactor.Config) {
			spy = storespy.New(c.Store.(store.Store))
			c.Store = spy
		},
		layer: func(c *twofactorhttp.Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) },
	})
	b := s.as("ben", true)
	w := b.post("/2fa/settings/totp", url.Values{})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = b.post("/2fa/settings/totp/verify", url.Values{"code": {"000000"}})
	requireError(t, w, http.StatusUnauthorized, "invalid_code")
	require.Empty(t, w.Header().Values("Retry-After"))
	require.NotContains(t, buf.String(), "request failed")

	spy.Fail("*", errors.New("store unreachable"))
	w = b.post("/2fa/settings/totp", url.Values{})
	requireError(t, w, http.StatusInternalServerError, "internal")
	require.Empty(t, w.Header().Values("Retry-After"))
	require.NotContains(t, w.Body.String(), "store unreachable")
	require.Contains(t, buf.String(), `level=ERROR msg="twofactorhttp: settings request failed" path=/2fa/settings/totp`)
	require.Contains(t, buf.String(), "store unreachable")
}

// A settings error shown as a page leads back to where the user was: the
// devices page after a refused revocation; the overview, to try again,
// when the overview itself failed.
func TestSettingsErrorPageLeadsBack(t *testing.T) {
	var spy *storespy.Spy
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		spy = storespy.New(c.Store.(store.Store))
		c.Store = spy
	}})
	w := s.as("ann", false).post("/2fa/settings/devices/revoke", url.Values{"id": {"gone"}})
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), `<a class="tf-button" href="/2fa/settings/devices">`)

	spy.Fail("*", errors.New("store unreachable"))
	w = s.as("ann", false).get("/2fa/settings/")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), `<a class="tf-button" href="/2fa/settings/">`)
}

// The overview also lists the methods a user still has but the policy
// no longer offers (here text messages and security keys), after those it
// offers, so nothing they have is hidden; recovery codes stay last.
func TestOverviewListsMethodsNoLongerOffered(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) {
		c.Policy = twofactor.Policy{Methods: []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP, twofactor.MethodBackupCode}}
	}})
	b := e.session("alice")
	b.json = true
	m := decodeJSON(t, b.get("/2fa/settings/"))
	var got []string
	for _, f := range m["methods"].([]any) {
		got = append(got, f.(map[string]any)["method"].(string))
	}
	require.Equal(t, []string{"email", "totp", "sms", "webauthn", "backup_code"}, got)
}

// Under a policy that requires a second factor, a factor is removable
// while the user has another one (ann: email codes, then an
// authenticator app): the confirmation offers the button, and its Cancel
// goes back to the method's own page.
func TestSettingsRemoveNotLastUnderRequired(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{
		svc:   func(c *twofactor.Config) { c.Policy.Required = true },
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/2fa/settings/" },
	})
	b := s.as("ann", false)
	s.stepUp(b, "/2fa/settings/totp")
	requireRedirect(t, b.post("/2fa/settings/totp", nil), "/2fa/settings/totp")
	secret := pageSecret(t, b.get("/2fa/settings/totp").Body.String())
	requireRedirect(t, b.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}}), "/2fa/settings/?done=totp")
	es, err := s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.Len(t, es, 2)
	var id string
	for _, e := range es {
		if e.Method == twofactor.MethodTOTP {
			id = e.ID
		}
	}

	w := b.get("/2fa/settings/remove?method=totp&id=" + id)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	require.NotContains(t, body, "This is your last second factor")
	require.Contains(t, body, `<form method="post" action="/2fa/settings/remove">`)
	require.Contains(t, body, `<p><a href="/2fa/settings/totp">Cancel</a></p>`)
	requireRedirect(t, b.post("/2fa/settings/remove", url.Values{"method": {"totp"}, "id": {id}}), "/2fa/settings/totp?done=removed")
}

// A device whose trust lasts exactly trust.MinDuration is listed with its
// expiry; only shorter records, and a manager that trusts until the
// browser closes, read "until the browser closes".
func TestDeviceOfMinDurationListedWithExpiry(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) { c.Trust = trust.Config{Duration: trust.MinDuration} }})
	b := s.trustDevice("ann", firefoxUA)
	body := b.get("/2fa/settings/devices").Body.String()
	require.Contains(t, body, "Firefox on Linux")
	require.Contains(t, body, "Trusted until 2 Mar 2026")
	require.NotContains(t, body, "Trusted until the browser closes")
	m := decodeJSON(t, s.as("ann", true).get("/2fa/settings/devices"))
	require.NotContains(t, m["trusted_devices"].([]any)[0], "session")
}

// Revoking a device from the settings drops the device cookie of the
// browser doing it only when that browser is the device revoked.
func TestRevokeDropsOnlyThisDevicesCookie(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	firefox := s.trustDevice("ann", firefoxUA)
	s.mail.Reset()
	s.trustDevice("ann", chromeUA)
	ids := map[string]string{}
	ds, err := s.devices.List(t.Context(), "ann")
	require.NoError(t, err)
	for _, d := range ds {
		ids[d.Label] = d.ID
	}
	require.Len(t, ids, 2)

	requireRedirect(t, firefox.post("/2fa/settings/devices/revoke", url.Values{"id": {ids["Chrome on Windows"]}}), "/2fa/settings/devices?done=revoked")
	require.Contains(t, firefox.cookies, trust.DefaultCookieName, "another device revoked: this one's cookie stays")
	requireRedirect(t, firefox.post("/2fa/settings/devices/revoke", url.Values{"id": {ids["Firefox on Linux"]}}), "/2fa/settings/devices?done=revoked")
	require.NotContains(t, firefox.cookies, trust.DefaultCookieName, "this device revoked: its cookie is dropped")
}

// Backup codes for a user with no factor: the confirmation asks for no
// step-up (there is nothing to step up with) and offers a first set; the
// set is kept for the page and the download for ten minutes (Max-Age),
// the download names the account, and "done" deletes the cookie at once
// (Max-Age=0, RFC 6265 5.2.2). With codes in hand, a new set needs a
// step-up and warns that the old codes stop working.
func TestBackupCodesFirstSet(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	w := b.get("/2fa/settings/backup-codes/new")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	require.Contains(t, body, "<title>Get backup codes")
	require.Contains(t, body, `<form method="post" action="/2fa/settings/backup-codes">`)
	require.NotContains(t, body, "Make new codes")
	require.NotContains(t, body, "will stop working")

	w = b.post("/2fa/settings/backup-codes", nil)
	requireRedirect(t, w, "/2fa/settings/backup-codes/show")
	kept := cookieSet(t, w, twofactorhttp.DefaultEnrollCookie+"_codes")
	require.Equal(t, 600, kept.MaxAge)
	require.Equal(t, s.clock.Now().Add(10*time.Minute).Unix(), kept.Expires.Unix())
	codes := pageCodes(b.get("/2fa/settings/backup-codes/show").Body.String())
	require.Len(t, codes, 10)
	w = b.get("/2fa/settings/backup-codes.txt")
	require.Equal(t, "Example\r\nBackup codes. Each works once.\r\nAccount: ben\r\nGenerated "+s.clock.Now().UTC().Format("2 Jan 2006 15:04 MST")+"\r\n\r\n"+
		strings.Join(codes, "\r\n")+"\r\n", w.Body.String())
	w = b.post("/2fa/settings/backup-codes/done", nil)
	requireRedirect(t, w, "/2fa/settings/?done=codes")
	require.Equal(t, -1, cookieSet(t, w, twofactorhttp.DefaultEnrollCookie+"_codes").MaxAge, "sent as Max-Age=0")

	requireRedirect(t, b.get("/2fa/settings/backup-codes/new"), "/2fa/step-up?next=%2F2fa%2Fsettings%2Fbackup-codes%2Fnew")
	api := s.as("ben", true)
	decodeJSON(t, api.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/backup-codes/new"}}))
	decodeJSON(t, api.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {codes[0]}}))
	b.cookies["tf_stepup"] = api.cookies["tf_stepup"]
	body = b.get("/2fa/settings/backup-codes/new").Body.String()
	require.Contains(t, body, "<title>Make new codes")
	require.Contains(t, body, "Your current backup codes will stop working.")
	require.Equal(t, 1, strings.Count(body, "left"), "the count once: the status, not the label too")
	require.Contains(t, body, `class="tf-primary" autofocus>Make new codes</button>`)
}

// cookieSet returns the cookie name the answer sets.
func cookieSet(t *testing.T, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cookie %s set", name)
	return nil
}

// Turning two-step verification off lists trusted devices only when there
// are some, and from a trusted browser drops that browser's device cookie
// with the devices: nothing it holds stands for anything any more.
func TestDisableFromTrustedBrowser(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{email: emailcode.EnrollOptIn})
	a := s.as("ann", false)
	s.turnOnEmail(a)
	s.stepUp(a, "/2fa/settings/disable")
	w := a.get("/2fa/settings/disable")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NotContains(t, w.Body.String(), "Trusted devices")

	s.mail.Reset()
	d := s.trustDevice("ann", firefoxUA)
	require.Contains(t, d.cookies, trust.DefaultCookieName)
	s.stepUp(d, "/2fa/settings/disable")
	require.Contains(t, d.get("/2fa/settings/disable").Body.String(), "1 trusted device")
	w = d.post("/2fa/settings/disable", nil)
	requireRedirect(t, w, "/2fa/settings/?done=disabled")
	require.Negative(t, cookieSet(t, w, trust.DefaultCookieName).MaxAge)
	require.NotContains(t, d.cookies, trust.DefaultCookieName)
}

// Under a policy that requires a second factor, turning it off is refused
// as such (409 last_factor), step-up or not: there is nothing to confirm.
func TestDisableRefusedUnderRequired(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{
		svc:   func(c *twofactor.Config) { c.Policy.Required = true },
		layer: func(c *twofactorhttp.Config) { c.EnrollURL = "/2fa/settings/" },
	})
	s.clock.Advance(time.Hour)
	requireError(t, s.as("ann", true).post("/2fa/settings/disable", url.Values{}), http.StatusConflict, "last_factor")
	w := s.as("ann", false).post("/2fa/settings/disable", nil)
	require.Equal(t, http.StatusConflict, w.Code)
	requireAlert(t, w.Body.String(), "it cannot be turned off")
	es, err := s.svc.Enrollments(t.Context(), ann)
	require.NoError(t, err)
	require.NotEmpty(t, es)
}

// While a phone set-up waits for its code, posting the set-up form again
// with a number that is refused shows that form again, with the error:
// the user is changing the number, not typing a code.
func TestPhoneSetUpFormAgainWhilePending(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-0112"}}), "/2fa/settings/phone")
	require.Contains(t, b.get("/2fa/settings/phone").Body.String(), `action="/2fa/settings/phone/verify"`)

	w := b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"555-01"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	body := w.Body.String()
	require.Contains(t, body, `role="alert"`)
	require.Contains(t, body, `name="number"`)
	require.Contains(t, body, `<option value="US" selected>`)
	require.NotContains(t, body, `action="/2fa/settings/phone/verify"`)
}

// The wait before a set-up's new code ends exactly at the resend time the
// factor gave, on the page and in JSON; a millisecond before, one second
// is left.
func TestSetUpResendWaitEndsOnTime(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	api := s.as("ben", true)
	m := decodeJSON(t, api.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-0112"}}))
	require.Equal(t, "code_sent", m["status"])
	at, err := time.Parse(time.RFC3339Nano, m["pending"].(map[string]any)["resend_at"].(string))
	require.NoError(t, err)
	b := s.as("ben", false)
	b.cookies = api.cookies

	s.clock.Advance(at.Sub(s.clock.Now()) - time.Millisecond)
	require.Contains(t, b.get("/2fa/settings/phone").Body.String(), "You can ask for a new code in 1 second.")
	require.EqualValues(t, 1, decodeJSON(t, api.get("/2fa/settings/phone"))["pending"].(map[string]any)["resend_after"])

	s.clock.Advance(time.Millisecond)
	body := text(b.get("/2fa/settings/phone"))
	require.Contains(t, body, "We sent a code to +1 *** *** **12.")
	require.NotContains(t, body, "You can ask for a new code")
	require.NotContains(t, body, "data-countdown")
	require.NotContains(t, decodeJSON(t, api.get("/2fa/settings/phone"))["pending"], "resend_after")
}

// A set-up that gives no QR code (a host's token, a secret to type in)
// shows none: no image on the page, no "qr" in JSON.
func TestSetUpWithoutQRCode(t *testing.T) {
	s, _ := hotpEnv(t)
	b := s.as("ben", false)
	requireRedirect(t, b.post("/2fa/settings/hotp", nil), "/2fa/settings/hotp")
	body := b.get("/2fa/settings/hotp").Body.String()
	require.Contains(t, body, `id="tf-secret"`)
	require.NotContains(t, body, "<img")
	require.NotContains(t, body, "data:image/png")

	m := decodeJSON(t, s.as("ben", true).post("/2fa/settings/hotp", url.Values{}))
	p := m["pending"].(map[string]any)
	require.NotEmpty(t, p["secret"])
	require.NotContains(t, p, "qr")
}

// longURIToken is the host's token with an otpauth URI padded to uriLen
// bytes.
type longURIToken struct {
	*hotpToken
	uriLen int
}

func (f *longURIToken) BeginEnroll(ctx context.Context, u twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	en, err := f.hotpToken.BeginEnroll(ctx, u, req)
	if err == nil {
		en.URI += "&issuer=" + strings.Repeat("x", f.uriLen-len(en.URI)-len("&issuer="))
	}
	return en, err
}

// An otpauth URI is linked up to 4096 bytes; a longer one is not linked
// (the secret is still shown to type in).
func TestOTPAuthURIAtMaxLength(t *testing.T) {
	for size, linked := range map[int]bool{4096: true, 4097: false} {
		s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
			c.Factors = append(c.Factors, built(&longURIToken{newHOTPToken(c.Now), size})...)
			c.Policy.Methods = []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodBackupCode, methodHOTP}
		}})
		b := s.as("ben", false)
		requireRedirect(t, b.post("/2fa/settings/hotp", nil), "/2fa/settings/hotp")
		body := b.get("/2fa/settings/hotp").Body.String()
		require.Contains(t, body, `id="tf-secret"`)
		require.Equal(t, linked, strings.Contains(body, `href="otpauth://hotp/Example:ben?secret=`), size)
		m := decodeJSON(t, s.as("ben", true).post("/2fa/settings/hotp", url.Values{}))
		uri, _ := m["pending"].(map[string]any)["uri"].(string)
		if linked {
			require.Len(t, uri, size)
		} else {
			require.Empty(t, uri)
		}
	}
}

// A set-up whose code lives less than ten minutes (here five) is
// remembered ten minutes past the code, so the user who comes back late
// can ask for a new code without typing the number again.
func TestSetUpOutlivesAShortCode(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		sc := c.Factors[2].(smscode.Config)
		sc.Codes.TTL = 5 * time.Minute
		c.Factors[2] = sc
	}})
	const number = "+14155550112"
	b := s.as("ben", false)
	w := b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-0112"}})
	requireRedirect(t, w, "/2fa/settings/phone")
	require.Equal(t, 15*60, cookieSet(t, w, twofactorhttp.DefaultEnrollCookie).MaxAge)

	s.clock.Advance(12 * time.Minute)
	body := text(b.get("/2fa/settings/phone"))
	require.Contains(t, body, "We sent a code to +1 *** *** **12.")
	require.NotContains(t, body, `name="number"`)
	requireRedirect(t, b.post("/2fa/settings/phone/resend", nil), "/2fa/settings/phone")
	requireRedirect(t, b.post("/2fa/settings/phone/verify", url.Values{"code": {s.smsCode(number)}}), "/2fa/settings/backup-codes/show")
}

// pageText builds the settings environment with the string table st
// (and the policy required when required is set), and returns the text of
// the page that shows one of the page strings, for ann or a session
// nobody's.
func pageText(t *testing.T, st *twofactorhttp.Strings, required bool, page string) string {
	t.Helper()
	s := newSettingsEnv(t, senvOpt{
		svc: func(c *twofactor.Config) { c.Policy.Required = required },
		layer: func(c *twofactorhttp.Config) {
			c.Strings, c.EnrollURL = st, "/2fa/settings/"
			c.Notifications = func(*http.Request) []string { return []string{"A way to verify your sign-ins was added"} }
		},
	})
	s.trustDevice("ann", firefoxUA)
	switch page {
	case "admin":
		return text(s.admin(false).get("/admin/2fa/user?id=ann"))
	case "admin index":
		return text(s.admin(false).get("/admin/2fa/"))
	case "unknown":
		return text(s.as("nobody", false).get("/2fa/settings/"))
	}
	return text(s.as("ann", false).get(page))
}

// A string table that lacks some of the settings and administrator
// strings (one written before those pages existed) gets their defaults,
// whichever of them is missing.
func TestStringsTableGetsMissingPageStrings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clear    func(*twofactorhttp.Strings)
		required bool
		page     string
		want     string
	}{
		{"Settings.Title", func(s *twofactorhttp.Strings) { s.Settings.Title = "" }, false, "/2fa/settings/", "<h1>Two-step verification</h1>"},
		{"Admin.Title", func(s *twofactorhttp.Strings) { s.Admin.Title = "" }, false, "admin index", "<title>Two-step verification: support</title>"},
		{"Settings.DisableTitle", func(s *twofactorhttp.Strings) { s.Settings.DisableTitle = "" }, true, "/2fa/settings/disable", "<title>Turn off two-step verification?</title>"},
		{"Admin.RevokeDevice", func(s *twofactorhttp.Strings) { s.Admin.RevokeDevice = "" }, false, "admin", `>Revoke<span class="tf-sr"> Firefox on Linux</span></button>`},
		{"Settings.SetUpDone", func(s *twofactorhttp.Strings) { s.Settings.SetUpDone = "" }, false, "/2fa/settings/?done=nothing", "<h1>Two-step verification</h1>"},
		{"UnknownUser", func(s *twofactorhttp.Strings) { s.UnknownUser = "" }, false, "unknown", "We could not find your account. Please sign in again."},
		{"Settings.RevokeAllTitle", func(s *twofactorhttp.Strings) { s.Settings.RevokeAllTitle = "" }, false, "/2fa/settings/devices/revoke-all", "<title>Revoke every trusted device?</title>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := twofactorhttp.DefaultStrings()
			tc.clear(st)
			require.Contains(t, pageText(t, st, tc.required, tc.page), tc.want)
		})
	}
}

// Filling in the missing page strings keeps the table's own: only what is
// empty gets the default.
func TestStringsTableKeepsItsPageStrings(t *testing.T) {
	own := func() *twofactorhttp.Strings {
		st := twofactorhttp.DefaultStrings()
		st.Settings.SetUpDone = "" // missing: the defaults are filled in
		st.Settings.DisableTitle = "Switch it off?"
		st.Settings.NotificationsTitle = "Mail we send"
		st.Settings.RevokeAllTitle = "Forget every device?"
		st.UnknownUser = "Who are you?"
		st.Admin.RevokeDevice = "Forget"
		return st
	}
	for page, want := range map[string]string{
		"/2fa/settings/disable":            "<title>Switch it off?</title>",
		"/2fa/settings/":                   "<h2>Mail we send</h2>",
		"/2fa/settings/devices/revoke-all": "<title>Forget every device?</title>",
		"unknown":                          "Who are you?",
		"admin":                            `>Forget<span class="tf-sr"> Firefox on Linux</span></button>`,
	} {
		require.Contains(t, pageText(t, own(), page == "/2fa/settings/disable", page), want, page)
	}
}

// A security key registered without new backup codes (not the first
// factor) leaves the set of new codes waiting to be shown alone: the page
// still shows it once.
func TestSecondKeyKeepsNewCodes(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	api := s.as("ben", true)
	decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Blue key"}`))
	m := decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"ben"}}`))
	codes := m["backup_codes"].([]any)
	require.Len(t, codes, 10)

	decodeJSON(t, api.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/keys"}}))
	decodeJSON(t, api.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {codes[0].(string)}}))
	decodeJSON(t, api.do(http.MethodPost, "/2fa/webauthn/register/begin", `{"name":"Red key"}`))
	w := api.do(http.MethodPost, "/2fa/webauthn/register/finish", `{"credential":{"attest":"ben"}}`)
	require.Nil(t, decodeJSON(t, w)["backup_codes"])
	for _, c := range w.Result().Cookies() {
		require.NotEqual(t, twofactorhttp.DefaultEnrollCookie+"_codes", c.Name)
	}
	m = decodeJSON(t, api.get("/2fa/settings/backup-codes/show"))
	require.Equal(t, codes, m["backup_codes"])
}

// A StepUp's own max age bounds as the Service's StepUpMaxAge does: a
// verification exactly that old still holds, a millisecond older does
// not.
func TestStepUpMaxAgeInclusive(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.mux.Handle("/recent", e.h.StepUp(time.Minute).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	b := e.session("bob")
	b.post("/2fa/step-up", url.Values{"next": {"/recent"}})
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}}), "/recent")
	e.clock.Advance(time.Minute)
	require.Equal(t, http.StatusOK, b.get("/recent").Code)
	e.clock.Advance(time.Millisecond)
	requireRedirect(t, b.get("/recent"), "/2fa/step-up?next=%2Frecent")
}

// A policy that allows no method at all (an empty, non-nil
// Policy.Methods: the second step off for everyone) still gets the pages:
// New mounts them, sign-ins go straight through, and the settings page
// answers.
func TestPolicyAllowingNoMethod(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Policy.Methods = []twofactor.Method{} }})
	require.Empty(t, e.svc.Methods())
	requireRedirect(t, e.browser().login("alice", "/account"), "/account")
	require.Equal(t, http.StatusOK, e.session("alice").get("/2fa/settings/").Code)
}

// A set-up cookie is read up to MaxCookie bytes, as the pending cookie
// is: a set-up whose cookie is exactly MaxCookie bytes long (made so by a
// long name, sealed here since the layer refuses such a name, and which a
// host's token ignores) is still shown, one byte longer is refused unread
// and the set-up starts over.
func TestSetUpCookieAtMaxCookie(t *testing.T) {
	s, _ := hotpEnv(t)
	exp := s.clock.Now().Add(10 * time.Minute)
	sealed := func(size int) string {
		for n := 2000; n < 3200; n++ {
			v := twofactorhttp.SealEnrollingForTest(s.h, "ben", "hotp", strings.Repeat("n", n), exp)
			if len(v) == size {
				return v
			}
		}
		t.Fatalf("no set-up cookie of %d bytes", size)
		return ""
	}
	b := s.as("ben", false)
	b.cookies[twofactorhttp.DefaultEnrollCookie] = &http.Cookie{Name: twofactorhttp.DefaultEnrollCookie, Value: sealed(twofactorhttp.MaxCookie)}
	require.Contains(t, b.get("/2fa/settings/hotp").Body.String(), `id="tf-secret"`)
	b = s.as("ben", false)
	b.cookies[twofactorhttp.DefaultEnrollCookie] = &http.Cookie{Name: twofactorhttp.DefaultEnrollCookie, Value: sealed(twofactorhttp.MaxCookie + 1)}
	body := b.get("/2fa/settings/hotp").Body.String()
	require.NotContains(t, body, `id="tf-secret"`)
	require.Contains(t, body, `<form method="post" action="/2fa/settings/hotp">`)
}

// A set-up's name is bounded: one character over is refused with the
// bound in words and the form again, nothing begun; at the bound it
// begins.
func TestSetUpNameBounded(t *testing.T) {
	s, _ := hotpEnv(t)
	b := s.as("ben", false)
	w := b.post("/2fa/settings/hotp", url.Values{"name": {strings.Repeat("é", 65)}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	requireAlert(t, w.Body.String(), "Use a name of at most 64 characters.")
	require.Nil(t, b.cookies[twofactorhttp.DefaultEnrollCookie], "nothing begun")
	requireError(t, s.as("ben", true).post("/2fa/settings/hotp", url.Values{"name": {strings.Repeat("n", 65)}}), http.StatusBadRequest, "bad_request")
	requireRedirect(t, b.post("/2fa/settings/hotp", url.Values{"name": {strings.Repeat("é", 64)}}), "/2fa/settings/hotp")
	require.Contains(t, b.get("/2fa/settings/hotp").Body.String(), `id="tf-secret"`)
}
