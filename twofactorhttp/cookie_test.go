package twofactorhttp_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// These tests open the layer's cookies directly, so that each binding is
// shown to hold in the cookie layer itself and not only because the
// Service refuses what a loose cookie would let through.

// newChallengeID returns an id of the form of a challenge id.
func newChallengeID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	id := base64.RawURLEncoding.EncodeToString(b) + ".v1:k1:" + base64.RawURLEncoding.EncodeToString(b[:24])
	require.NoError(t, twofactor.ParseChallengeID(id))
	return id
}

// The pending cookie is sealed to its challenge id: its sealed part
// presented with another challenge's id, or a cookie sealed for one
// challenge and relabelled with another's, does not open.
func TestPendingCookieBoundToChallenge(t *testing.T) {
	e := newEnv(t, envOpt{})
	now := e.clock.Now()
	a, b := newChallengeID(t), newChallengeID(t)
	va := twofactorhttp.SealPendingForTest(e.h, a, "alice", twofactor.PurposeLogin, "/account", now.Add(10*time.Minute))
	vb := twofactorhttp.SealPendingForTest(e.h, b, "mallory", twofactor.PurposeLogin, "", now.Add(10*time.Minute))

	p, ok := twofactorhttp.OpenPendingForTest(e.h, va, now)
	require.True(t, ok, "the cookie as sealed opens")
	assert.Equal(t, twofactorhttp.PendingCookie{ChallengeID: a, UserID: "alice", Purpose: twofactor.PurposeLogin, Return: "/account",
		Expires: now.Add(10 * time.Minute).Unix()}, p)

	sealedA := strings.TrimPrefix(va, a+".")
	sealedB := strings.TrimPrefix(vb, b+".")
	for name, v := range map[string]string{
		"a's sealed state under b's id": b + "." + sealedA,
		"b's sealed state under a's id": a + "." + sealedB,
	} {
		_, ok := twofactorhttp.OpenPendingForTest(e.h, v, now)
		assert.False(t, ok, "%s opened", name)
	}

	// Another Handler with the same keys but another cookie name does not
	// open it either: the name is bound too.
	other := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.PendingCookie = "other_pending" }})
	v := twofactorhttp.SealPendingForTest(other.h, a, "alice", twofactor.PurposeLogin, "", now.Add(10*time.Minute))
	_, ok = twofactorhttp.OpenPendingForTest(other.h, v, now)
	require.True(t, ok)
	_, ok = twofactorhttp.OpenPendingForTest(e.h, v, now)
	assert.False(t, ok, "another server's cookie opened")
}

// The step-up cookie is sealed to its user: another user's, presented by
// a browser signed in as someone else, gives no proof; so does one that
// is too long to be the layer's.
func TestStepUpCookieBoundToUser(t *testing.T) {
	e := newEnv(t, envOpt{})
	proof := "proof-of-alice"
	v := twofactorhttp.SealStepUpForTest(e.h, "alice", proof)
	req := func(values ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/danger", nil)
		for _, v := range values {
			r.AddCookie(&http.Cookie{Name: twofactorhttp.DefaultStepUpCookie, Value: v})
		}
		return r
	}
	assert.Equal(t, proof, twofactorhttp.StepUpProofForTest(e.h, req(v), "alice"))
	assert.Empty(t, twofactorhttp.StepUpProofForTest(e.h, req(v), "bob"), "alice's step-up counted for bob")
	assert.Empty(t, twofactorhttp.StepUpProofForTest(e.h, req(v), "alice2"))
	vb := twofactorhttp.SealStepUpForTest(e.h, "bob", "proof-of-bob")
	assert.Equal(t, "proof-of-bob", twofactorhttp.StepUpProofForTest(e.h, req(v, vb), "bob"), "each user finds only their own")
	assert.Equal(t, proof, twofactorhttp.StepUpProofForTest(e.h, req(vb, v), "alice"))

	// A value longer than the layer ever writes is not opened at all,
	// even when it is sealed right.
	long := twofactorhttp.SealStepUpForTest(e.h, "alice", strings.Repeat("p", twofactorhttp.MaxCookie))
	require.Greater(t, len(long), twofactorhttp.MaxCookie)
	assert.Empty(t, twofactorhttp.StepUpProofForTest(e.h, req(long), "alice"), "an oversized step-up cookie was opened")
	assert.Equal(t, proof, twofactorhttp.StepUpProofForTest(e.h, req(long, v), "alice"), "and does not hide a good one")
}

// What a pending cookie holds is checked when it opens: fields that do
// not parse, a control character that would split them, a return path
// that leads off the site, a purpose or user id the layer never writes,
// an expired or oversized value. Every such value, even sealed with the
// right keys, is refused.
func TestPendingCookieContents(t *testing.T) {
	e := newEnv(t, envOpt{})
	now := e.clock.Now()
	id := newChallengeID(t)
	exp := strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)
	resend := strconv.FormatInt(now.Add(time.Minute).UnixMilli(), 10)
	seal := func(fields ...string) string { return twofactorhttp.SealPendingFieldsForTest(e.h, id, fields...) }

	good := seal("alice", "login", "/account", exp, "sms", maskPhone, resend)
	p, ok := twofactorhttp.OpenPendingForTest(e.h, good, now)
	require.True(t, ok, "well-formed fields open")
	assert.Equal(t, twofactor.MethodSMS, p.SentMethod)
	assert.Equal(t, maskPhone, p.SentDestination)
	assert.Equal(t, now.Add(time.Minute).UnixMilli(), p.ResendAt)
	_, ok = twofactorhttp.OpenPendingForTest(e.h, seal("alice", "step_up", "", exp, "", "", ""), now)
	require.True(t, ok, "no code sent yet")

	for name, v := range map[string]string{
		"expiry not a number":        seal("alice", "login", "", "soon", "", "", ""),
		"expiry empty":               seal("alice", "login", "", "", "", "", ""),
		"expiry in float":            seal("alice", "login", "", exp+".5", "", "", ""),
		"resend time not a number":   seal("alice", "login", "", exp, "sms", maskPhone, "in a minute"),
		"resend time missing":        seal("alice", "login", "", exp, "sms", maskPhone, ""),
		"six fields":                 seal("alice", "login", "", exp, "sms", maskPhone),
		"eight fields (a NUL split)": seal("alice", "login", "", exp, "sms", "+1 \x00 12", resend),
		"no user":                    seal("", "login", "", exp, "", "", ""),
		"user with a newline":        seal("ali\nce", "login", "", exp, "", "", ""),
		"purpose enroll":             seal("alice", "enroll", "", exp, "", "", ""),
		"another host's path":        seal("alice", "login", "//evil.example/", exp, "", "", ""),
		"a URL":                      seal("alice", "login", "https://evil.example/", exp, "", "", ""),
		"a backslash path":           seal("alice", "login", "/\\evil.example", exp, "", "", ""),
		"a tab in the path":          seal("alice", "login", "/\t/evil.example", exp, "", "", ""),
		"expired":                    seal("alice", "login", "", strconv.FormatInt(now.Unix(), 10), "", "", ""),
		"oversized":                  seal("alice", "login", "/"+strings.Repeat("a", twofactorhttp.MaxCookie), exp, "", "", ""),
		"no separator":               strings.Replace(good, ".", "", 1),
		"bad challenge id":           "x" + good[1:],
		"not sealed":                 id + "." + base64.RawURLEncoding.EncodeToString([]byte("alice\x00login\x00\x00"+exp+"\x00\x00\x00")),
	} {
		_, ok := twofactorhttp.OpenPendingForTest(e.h, v, now)
		assert.False(t, ok, "%s: opened", name)
	}
}

// A destination with control characters (a factor's mask is its own
// business) is stripped of them when sealed, so it can neither split the
// sealed fields nor reach the page: the cookie opens, with them gone.
func TestPendingCookieStripsControlCharacters(t *testing.T) {
	e := newEnv(t, envOpt{})
	now := e.clock.Now()
	id := newChallengeID(t)
	v := twofactorhttp.SealPendingSentForTest(e.h, twofactorhttp.PendingCookie{ChallengeID: id, UserID: "alice",
		Purpose: twofactor.PurposeLogin, Expires: now.Add(10 * time.Minute).Unix(),
		SentMethod: twofactor.MethodSMS, SentDestination: "+1 ***\x00 ***\n **\u008523\t", ResendAt: now.UnixMilli()})
	p, ok := twofactorhttp.OpenPendingForTest(e.h, v, now)
	require.True(t, ok, "a destination with control characters broke the cookie")
	assert.Equal(t, "+1 *** *** **23", p.SentDestination)
	assert.Equal(t, now.UnixMilli(), p.ResendAt)
}
