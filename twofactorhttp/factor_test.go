package twofactorhttp_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// A factor the layer has never heard of, written here as a host would:
// a hardware token counting codes (HOTP, RFC 4226), which users register
// by typing the seed printed on its card into nothing but this page, then
// a code. It implements the root's interfaces only; the layer gives it a
// challenge form, a settings row and a set-up page from them, with no
// change to the layer.
type hotpToken struct {
	now func() time.Time

	mu      sync.Mutex
	seeds   map[string][]byte // user -> active seed
	pending map[string][]byte // user -> seed being set up
	counter map[string]uint64 // user -> next counter
	added   map[string]time.Time
}

const methodHOTP twofactor.Method = "hotp"

func newHOTPToken(now func() time.Time) *hotpToken {
	return &hotpToken{now: now, seeds: map[string][]byte{}, pending: map[string][]byte{}, counter: map[string]uint64{}, added: map[string]time.Time{}}
}

var (
	_ twofactor.Enroller   = (*hotpToken)(nil)
	_ twofactor.Remover    = (*hotpToken)(nil)
	_ twofactor.CodeFormat = (*hotpToken)(nil)
)

func (f *hotpToken) Method() twofactor.Method { return methodHOTP }
func (f *hotpToken) CodeLength() int          { return 6 }
func (f *hotpToken) NumericCode() bool        { return true }

func (f *hotpToken) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seeds[u.ID] == nil {
		return nil, nil
	}
	return []twofactor.Enrollment{{ID: "token", Method: methodHOTP, Label: "Hardware token", CreatedAt: f.added[u.ID]}}, nil
}

// hotp is RFC 4226's HOTP value of seed at counter, six digits.
func hotp(seed []byte, counter uint64) string {
	m := hmac.New(sha1.New, seed)
	_ = binary.Write(m, binary.BigEndian, counter)
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// match finds code among the next three counters from c.
func match(seed []byte, c uint64, code string) (uint64, bool) {
	for i := range uint64(3) {
		if subtle.ConstantTimeCompare([]byte(hotp(seed, c+i)), []byte(code)) == 1 {
			return c + i, true
		}
	}
	return 0, false
}

func (f *hotpToken) Verify(_ context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seed := f.seeds[ch.User.ID]
	if seed == nil {
		return twofactor.Verified{}, twofactor.ErrNoCode
	}
	c, ok := match(seed, f.counter[ch.User.ID], answer)
	if !ok {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	f.counter[ch.User.ID] = c + 1
	return twofactor.Verified{EnrollmentID: "token"}, nil
}

func (f *hotpToken) BeginEnroll(_ context.Context, u twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending[u.ID] == nil || req.Restart {
		seed := make([]byte, 20)
		_, _ = rand.Read(seed)
		f.pending[u.ID] = seed
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(f.pending[u.ID])
	return &twofactor.Enrolling{Method: methodHOTP, ExpiresAt: f.now().Add(10 * time.Minute), Secret: secret,
		URI: "otpauth://hotp/Example:" + u.ID + "?secret=" + secret + "&counter=0"}, nil
}

func (f *hotpToken) ConfirmEnroll(_ context.Context, u twofactor.User, answer string) (twofactor.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seed := f.pending[u.ID]
	if seed == nil {
		return twofactor.Enrollment{}, twofactor.ErrNotEnrolled
	}
	c, ok := match(seed, 0, answer)
	if !ok {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}
	delete(f.pending, u.ID)
	f.seeds[u.ID], f.counter[u.ID], f.added[u.ID] = seed, c+1, f.now()
	return twofactor.Enrollment{ID: "token", Method: methodHOTP, Label: "Hardware token", CreatedAt: f.now()}, nil
}

func (f *hotpToken) Remove(_ context.Context, u twofactor.User, id string) error {
	if id != "token" {
		return twofactor.ErrNotEnrolled
	}
	return f.RemoveAll(context.Background(), u)
}

func (f *hotpToken) RemoveAll(_ context.Context, u twofactor.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seeds, u.ID)
	delete(f.pending, u.ID)
	delete(f.counter, u.ID)
	return nil
}

// next returns the token's next code for user, as the device shows it.
func (f *hotpToken) next(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return hotp(f.seeds[user], f.counter[user])
}

// hotpEnv is the settings environment with the token among the factors.
// The policy names every method, so the pages list the token before
// anyone has one.
func hotpEnv(t *testing.T) (*senv, *hotpToken) {
	var token *hotpToken
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		token = newHOTPToken(c.Now)
		c.Factors = append(c.Factors, built(token)...)
		c.Policy.Methods = []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodWebAuthn, twofactor.MethodSMS,
			twofactor.MethodEmail, twofactor.MethodBackupCode, methodHOTP}
	}, layer: func(c *twofactorhttp.Config) {
		c.Strings = twofactorhttp.DefaultStrings()
		c.Strings.Methods[methodHOTP] = twofactorhttp.MethodText{Name: "Hardware token", Prompt: "Press the button on your token and type the code it shows.", Input: "Code from the token"}
	}})
	return s, token
}

var hotpSecretRe = regexp.MustCompile(`<code id="tf-secret"[^>]*>([A-Z2-7 ]+)</code>`)

func decodeSeed(t testing.TB, shown string) []byte {
	t.Helper()
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(shown, " ", ""))
	require.NoError(t, err)
	return seed
}

// The token gets a settings row, a set-up page and a challenge form, as
// pages and as JSON, and signs its user in through the handler.
func TestHostFactorPages(t *testing.T) {
	s, token := hotpEnv(t)
	b := s.as("ben", false)

	// The overview lists it, with the way to set it up.
	w := b.get("/2fa/settings/")
	require.Equal(t, http.StatusOK, w.Code)
	body := text(w)
	assert.Contains(t, body, `<li class="tf-row" data-method="hotp">`)
	assert.Contains(t, body, `<span class="tf-label">Hardware token</span>`)
	assert.Contains(t, body, `href="/2fa/settings/hotp">Set up`)

	// Its page: set up, then the seed to type in and the code field,
	// sized by the factor's CodeFormat.
	w = b.get("/2fa/settings/hotp")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `<form method="post" action="/2fa/settings/hotp">`)
	requireRedirect(t, b.post("/2fa/settings/hotp", nil), "/2fa/settings/hotp")
	w = b.get("/2fa/settings/hotp")
	body = w.Body.String()
	m := hotpSecretRe.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	seed := decodeSeed(t, m[1])
	assert.Contains(t, body, `href="otpauth://hotp/Example:ben?secret=`)
	assert.Contains(t, body, `<label for="tf-code">Code from the token</label>`)
	assert.Contains(t, body, `action="/2fa/settings/hotp/verify"`)
	assert.Contains(t, body, `inputmode="numeric" data-length="6"`)

	// A wrong code: the page again, with the error and the same seed.
	w = b.post("/2fa/settings/hotp/verify", url.Values{"code": {"000000"}})
	if hotp(seed, 0) == "000000" {
		w = b.post("/2fa/settings/hotp/verify", url.Values{"code": {"111111"}})
	}
	require.Equal(t, http.StatusUnauthorized, w.Code)
	requireAlert(t, w.Body.String(), "That code didn't work.")
	assert.Equal(t, m[1], hotpSecretRe.FindStringSubmatch(w.Body.String())[1])
	// The right one: the first factor, so backup codes come with it.
	requireRedirect(t, b.post("/2fa/settings/hotp/verify", url.Values{"code": {hotp(seed, 0)}}), "/2fa/settings/backup-codes/show")
	w = b.get("/2fa/settings/")
	body = text(w)
	assert.Contains(t, body, "Hardware token")
	assert.Contains(t, body, "Added 2 Mar 2026")
	w = b.get("/2fa/settings/hotp")
	assert.Contains(t, w.Body.String(), `<input type="hidden" name="method" value="hotp">
<input type="hidden" name="id" value="token">`, "a Remover: its enrollment can be removed")
	assert.NotContains(t, w.Body.String(), `id="tf-secret"`, "the seed is shown during its set-up only")

	// Sign-in: the challenge offers it, with its code field.
	c := s.browser()
	requireRedirect(t, c.login("ben", "/account"), "/2fa/")
	page := c.get("/2fa/").Body.String()
	assert.Contains(t, page, `<section class="tf-method" data-method="hotp">`)
	assert.Contains(t, page, `<input type="hidden" name="method" value="hotp">`)
	assert.Contains(t, page, `inputmode="numeric" data-length="6"`)
	assert.Contains(t, page, "Press the button on your token and type the code it shows.")
	assert.Contains(t, page, `href="/2fa/?method=backup_code">Use a backup code</a>`)
	w = c.post("/2fa/verify", url.Values{"method": {"hotp"}, "code": {"12 34 56"}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	requireRedirect(t, c.post("/2fa/verify", url.Values{"method": {"hotp"}, "code": {token.next("ben")}}), "/account")
	assert.Equal(t, "ben", c.cookies["session"].Value)

	// Removing it, after a step-up with it.
	b.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/hotp"}})
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"hotp"}, "code": {token.next("ben")}}), "/2fa/settings/hotp")
	requireRedirect(t, b.post("/2fa/settings/remove", url.Values{"method": {"hotp"}, "id": {"token"}}), "/2fa/settings/hotp?done=removed")
	es, err := s.svc.Enrollments(t.Context(), ben)
	require.NoError(t, err)
	assert.Empty(t, es, "the token, and the backup codes with the last factor")
}

func TestHostFactorJSON(t *testing.T) {
	s, token := hotpEnv(t)
	api := s.as("ben", true)

	m := decodeJSON(t, api.get("/2fa/settings/"))
	var row map[string]any
	for _, f := range m["methods"].([]any) {
		if f.(map[string]any)["method"] == "hotp" {
			row = f.(map[string]any)
		}
	}
	require.NotNil(t, row)
	assert.Equal(t, "Hardware token", row["name"])
	assert.Equal(t, true, row["can_add"])
	assert.Equal(t, "/2fa/settings/hotp", row["url"])

	m = decodeJSON(t, api.post("/2fa/settings/hotp", url.Values{}))
	assert.Equal(t, "pending", m["status"])
	p := m["pending"].(map[string]any)
	seed := decodeSeed(t, p["secret"].(string))
	assert.True(t, strings.HasPrefix(p["uri"].(string), "otpauth://hotp/"))
	m = decodeJSON(t, api.get("/2fa/settings/hotp"))
	assert.Equal(t, p["secret"], m["pending"].(map[string]any)["secret"], "shown again while pending")
	requireError(t, api.post("/2fa/settings/hotp/verify", url.Values{"code": {"12345"}}), http.StatusUnauthorized, "invalid_code")
	m = decodeJSON(t, api.post("/2fa/settings/hotp/verify", url.Values{"code": {hotp(seed, 0)}}))
	assert.Equal(t, "enrolled", m["status"])
	assert.Equal(t, "token", m["enrollment"].(map[string]any)["id"])
	assert.Len(t, m["backup_codes"], 10)

	// Sign-in as JSON.
	a := s.api()
	m = decodeJSON(t, a.login("ben", "/account"))
	assert.Equal(t, "challenge", m["status"])
	methods := m["methods"].([]any)
	assert.Equal(t, map[string]any{"method": "hotp", "name": "Hardware token", "length": float64(6)}, methods[0])
	requireError(t, a.post("/2fa/verify", url.Values{"method": {"hotp"}, "code": {"000000x"}}), http.StatusUnauthorized, "invalid_code")
	m = decodeJSON(t, a.post("/2fa/verify", url.Values{"method": {"hotp"}, "code": {token.next("ben")}}))
	assert.Equal(t, map[string]any{"ok": true, "status": "signed_in", "next": "/account"}, m)
}

// Without a policy naming it, the pages find the token by the user's
// enrollments, and its page by its method's name.
// A host's factor with no UI registered is listed as the Service orders
// it (after the factors before it in Config.Factors), offered to set up,
// and managed once set up.
func TestHostFactorListedInServiceOrder(t *testing.T) {
	var token *hotpToken
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		token = newHOTPToken(c.Now)
		c.Factors = append(c.Factors, built(token)...)
	}})
	b := s.as("ben", false)
	body := b.get("/2fa/settings/").Body.String()
	assert.Contains(t, body, `href="/2fa/settings/hotp">Set up`)
	assert.Less(t, strings.Index(body, `data-method="email"`), strings.Index(body, `data-method="hotp"`), "in the order of Config.Factors")
	requireRedirect(t, b.post("/2fa/settings/hotp", nil), "/2fa/settings/hotp")
	seed := decodeSeed(t, hotpSecretRe.FindStringSubmatch(b.get("/2fa/settings/hotp").Body.String())[1])
	requireRedirect(t, b.post("/2fa/settings/hotp/verify", url.Values{"code": {hotp(seed, 0)}}), "/2fa/settings/backup-codes/show")
	body = b.get("/2fa/settings/").Body.String()
	assert.Contains(t, body, `<li class="tf-row" data-method="hotp">`)
	assert.Contains(t, body, `href="/2fa/settings/hotp">Manage`)
	_ = token
}

// The code field takes its size from the factor (twofactor.CodeFormat):
// an authenticator app set up with 8 digits gets an 8-digit field, which
// the script submits once complete.
func TestCodeFieldFromFactor(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) {
		c.Factors = []twofactor.FactorConfig{totp.Config{Digits: 8}}
	}})
	bob := twofactor.User{ID: "bob"}
	p, err := e.svc.BeginEnroll(context.Background(), bob, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	require.NoError(t, err)
	k, err := totp.ParseURI(p.URI)
	require.NoError(t, err)
	_, err = e.svc.ConfirmEnroll(context.Background(), bob, twofactor.MethodTOTP, k.Params.Code(k.Secret, e.clock.Now()))
	require.NoError(t, err)
	b := e.browser()
	requireRedirect(t, b.login("bob", ""), "/2fa/")
	body := b.get("/2fa/").Body.String()
	assert.Contains(t, body, `inputmode="numeric" data-length="8"`)
}
