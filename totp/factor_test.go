package totp_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html"
	"html/template"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC) // 10 s into a 30 s step

type env struct {
	f      *totp.Factor
	clock  *storetest.Clock
	mem    *store.Memory
	keys   *keyring.Ring
	events eventlog.Log
}

func mustKey(t testing.TB, id string) keyring.Key {
	k, err := keyring.GenerateKey(id)
	require.NoError(t, err)
	return k
}

// newEnv builds a factor on a memory store with a manual clock. wrap, if
// given, wraps the memory store.
func newEnv(t testing.TB, cfg totp.Config, wrap func(*store.Memory) store.Store) *env {
	e := &env{clock: storetest.NewClock(t0)}
	e.mem = store.NewMemory(e.clock.Now)
	k1 := mustKey(t, "k1")
	kr, err := keyring.New(k1)
	require.NoError(t, err)
	keyMaterial.Store(kr, k1)
	e.keys = kr
	var st store.Store = e.mem
	if wrap != nil {
		st = wrap(e.mem)
	}
	e.f, err = totp.New(e.env(st, kr), cfg)
	require.NoError(t, err)
	return e
}

// env returns an Env on st and keys with the test's clock, whose events
// reach e.events.
func (e *env) env(st twofactor.Store, keys *keyring.Ring) twofactor.Env {
	return twofactor.Env{Store: st, Keys: keys, Now: e.clock.Now,
		Events: &event.Sink{Discard: true, Hook: e.events.Hook, Now: e.clock.Now}}
}

// quietEnv is an Env on st and keys with clock now whose events are
// dropped.
func quietEnv(st twofactor.Store, keys *keyring.Ring, now func() time.Time) twofactor.Env {
	return twofactor.Env{Store: st, Keys: keys, Now: now, Events: &event.Sink{Discard: true}}
}

var alice = twofactor.User{ID: "u1", Name: "alice@example.com"}

// codeAt computes the app's code with pquerna, independently of our code.
func codeAt(t testing.TB, secretB32 string, at time.Time, p totp.Params) string {
	c, err := pqtotp.GenerateCodeCustom(secretB32, at, pqOptsExt(p))
	require.NoError(t, err)
	return c
}

// enroll runs BeginEnroll and ConfirmEnroll and returns the secret.
func (e *env) enroll(t testing.TB, u twofactor.User) (string, twofactor.Enrollment) {
	p, err := e.f.BeginEnroll(context.Background(), u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	en, err := e.f.ConfirmEnroll(context.Background(), u, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.NoError(t, err)
	return p.Secret, en
}

// begin starts (or shows again) alice's enrollment.
func (e *env) begin(t testing.TB, u twofactor.User, restart bool) *twofactor.Enrolling {
	p, err := e.f.BeginEnroll(context.Background(), u, twofactor.EnrollRequest{Restart: restart})
	require.NoError(t, err)
	return p
}

func pqOptsExt(p totp.Params) pqtotp.ValidateOpts {
	alg := map[totp.Algorithm]otp.Algorithm{totp.SHA1: otp.AlgorithmSHA1, totp.SHA256: otp.AlgorithmSHA256, totp.SHA512: otp.AlgorithmSHA512}[p.Algorithm]
	return pqtotp.ValidateOpts{Period: uint(p.Period), Digits: otp.Digits(p.Digits), Algorithm: alg}
}

func challenge(u twofactor.User) *twofactor.Challenge {
	return &twofactor.Challenge{ID: "c", User: u, Methods: []twofactor.Method{twofactor.MethodTOTP}}
}

func TestEnrollConfirmVerify(t *testing.T) {
	e := newEnv(t, totp.Config{Issuer: "Acme Corp"}, nil)
	ctx := context.Background()

	p, err := e.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{})
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodTOTP, p.Method)
	assert.Equal(t, t0.Add(totp.DefaultPendingTTL), p.ExpiresAt)
	assert.Len(t, p.Secret, 32, "160-bit secret in base32")
	assert.True(t, strings.HasPrefix(p.URI, "otpauth://totp/Acme%20Corp:alice@example.com?secret="+p.Secret+"&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"), p.URI)
	assert.True(t, bytes.HasPrefix(p.QR, []byte("\x89PNG\r\n\x1a\n")), "QR is the PNG's bytes")
	require.Len(t, e.events.OfType(event.EnrollBegin), 1)

	es, err := e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es, "pending is not enrolled")

	// A wrong code keeps it pending, and so does a malformed one.
	good := codeAt(t, p.Secret, t0, e.f.Params())
	wrong := "000000"
	if wrong == good {
		wrong = "000001"
	}
	_, err = e.f.ConfirmEnroll(ctx, alice, wrong)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = e.f.ConfirmEnroll(ctx, alice, "12ab56")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "to the user a malformed code is a wrong one")

	en, err := e.f.ConfirmEnroll(ctx, alice, good)
	require.NoError(t, err)
	assert.Equal(t, twofactor.MethodTOTP, en.Method)
	assert.Equal(t, totp.DefaultLabel, en.Label)
	assert.Equal(t, t0, en.CreatedAt)
	assert.True(t, en.LastUsedAt.IsZero(), "not used to sign in yet")
	assert.Empty(t, e.events.OfType(event.Enroll), "Service.ConfirmEnroll emits EventEnroll, not the factor")

	// Single use.
	_, err = e.f.ConfirmEnroll(ctx, alice, good)
	require.ErrorIs(t, err, totp.ErrNoPending)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "the Enroller contract's error for nothing pending")

	es, err = e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, en.ID, es[0].ID)
	assert.Equal(t, t0, es[0].CreatedAt)

	// The confirming code was burnt: it cannot sign in.
	_, err = e.f.Verify(ctx, challenge(alice), good)
	require.ErrorIs(t, err, twofactor.ErrCodeReused)

	e.clock.Advance(30 * time.Second)
	v, err := e.f.Verify(ctx, challenge(alice), codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.NoError(t, err)
	assert.Equal(t, en.ID, v.EnrollmentID)
	assert.Equal(t, map[string]string{"drift": "0"}, v.Details)

	// A second enrollment is refused until the first is removed.
	_, err = e.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{})
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
	_, err = e.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Restart: true})
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
}

// The name apps show under the issuer is User.AccountName(): Name, else
// Email, else ID.
func TestAccountName(t *testing.T) {
	for _, tt := range []struct {
		user twofactor.User
		want string
	}{
		{twofactor.User{ID: "7", Name: "ann", Email: "ann@example.com", DisplayName: "Ann Lee"}, "ann"},
		{twofactor.User{ID: "7", Email: "ann@example.com", DisplayName: "Ann Lee"}, "ann@example.com"},
		{twofactor.User{ID: "7", DisplayName: "Ann Lee"}, "7"},
	} {
		e := newEnv(t, totp.Config{Issuer: "Acme"}, nil)
		k, err := totp.ParseURI(e.begin(t, tt.user, false).URI)
		require.NoError(t, err)
		assert.Equal(t, tt.want, k.Account)
		assert.Equal(t, "Acme", k.Issuer)
	}
}

func TestPendingExpiry(t *testing.T) {
	e := newEnv(t, totp.Config{PendingTTL: 5 * time.Minute}, nil)
	ctx := context.Background()
	p := e.begin(t, alice, false)

	e.clock.Advance(5*time.Minute - time.Second)
	_, err := e.f.ConfirmEnroll(ctx, alice, "000000")
	require.NotErrorIs(t, err, totp.ErrNoPending, "still pending one second before expiry")

	e.clock.Advance(time.Second)
	_, err = e.f.ConfirmEnroll(ctx, alice, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrNoPending)
	es, err := e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)

	// Beginning again after expiry starts a new one.
	p2 := e.begin(t, alice, false)
	assert.NotEqual(t, p.Secret, p2.Secret)
	assert.Equal(t, e.clock.Now().Add(5*time.Minute), p2.ExpiresAt)
}

// A pending enrollment whose record outlives its expiry in the store (a
// store that sweeps late) is still refused by its own expiry time, and not
// shown again.
func TestPendingExpiryCheckedByFactor(t *testing.T) {
	e := newEnv(t, totp.Config{}, func(m *store.Memory) store.Store { return lateStore{m} })
	p := e.begin(t, alice, false)
	e.clock.Advance(totp.DefaultPendingTTL)
	_, err := e.f.ConfirmEnroll(context.Background(), alice, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrNoPending)
	assert.NotEqual(t, p.Secret, e.begin(t, alice, false).Secret)
}

// lateStore keeps states ten minutes longer than asked.
type lateStore struct{ *store.Memory }

func (s lateStore) PutState(ctx context.Context, key string, v []byte, exp time.Time) error {
	return s.Memory.PutState(ctx, key, v, exp.Add(10*time.Minute))
}

func (s lateStore) PutOwnedState(ctx context.Context, owner, key string, v []byte, exp time.Time) error {
	return s.Memory.PutOwnedState(ctx, owner, key, v, exp.Add(10*time.Minute))
}

// Beginning again while an enrollment is pending shows the same secret and
// QR code (a page shows them again after a wrong code), without extending
// it or emitting another event; Restart replaces it.
func TestBeginAgainShowsPending(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	p1 := e.begin(t, alice, false)
	_, err := e.f.ConfirmEnroll(ctx, alice, "000000")
	if err == nil {
		t.Skip("000000 happened to be the code")
	}
	e.clock.Advance(time.Minute)
	again := e.begin(t, alice, false)
	assert.Equal(t, p1, again, "same secret, URI, QR code and expiry")
	assert.Len(t, e.events.OfType(event.EnrollBegin), 1, "one pending enrollment, one event")

	p2 := e.begin(t, alice, true)
	assert.NotEqual(t, p1.Secret, p2.Secret)
	assert.NotEqual(t, p1.QR, p2.QR)
	assert.Equal(t, e.clock.Now().Add(totp.DefaultPendingTTL), p2.ExpiresAt)
	assert.Len(t, e.events.OfType(event.EnrollBegin), 2)
	_, err = e.f.ConfirmEnroll(ctx, alice, codeAt(t, p1.Secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "the restarted secret replaced the first")
	_, err = e.f.ConfirmEnroll(ctx, alice, codeAt(t, p2.Secret, e.clock.Now(), e.f.Params()))
	require.NoError(t, err)
}

// A pending enrollment that no longer opens (its key left the ring) is
// replaced by BeginEnroll and cannot be confirmed.
func TestPendingUnderRemovedKey(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	p := e.begin(t, alice, false)
	other, err := totp.New(quietEnv(e.mem, testKeyring(t, mustKey(t, "k2")), e.clock.Now), totp.Config{})
	require.NoError(t, err)
	_, err = other.ConfirmEnroll(ctx, alice, codeAt(t, p.Secret, t0, other.Params()))
	require.ErrorIs(t, err, totp.ErrCorrupt)
	p2, err := other.BeginEnroll(ctx, alice, twofactor.EnrollRequest{})
	require.NoError(t, err)
	assert.NotEqual(t, p.Secret, p2.Secret)
	_, err = other.ConfirmEnroll(ctx, alice, codeAt(t, p2.Secret, t0, other.Params()))
	require.NoError(t, err)
}

func testKeyring(t testing.TB, keys ...keyring.Key) *keyring.Ring {
	kr, err := keyring.New(keys...)
	require.NoError(t, err)
	return kr
}

// The secret, URI and QR code go through html/template unchanged once a
// page marks the URI and the QR code's data: URI as template.URL: the URI
// in a link and the QR code in an image.
func TestEnrollingInHTMLTemplate(t *testing.T) {
	e := newEnv(t, totp.Config{Issuer: "Acme & Co"}, nil)
	p := e.begin(t, twofactor.User{ID: "9", Name: "Ann O'Neil <ann@example.com>"}, false)
	tmpl := template.Must(template.New("").Parse(
		`<a href="{{.URI}}">app</a><img src="{{.QR}}"><code>{{.Secret}}</code>`))
	qr := "data:image/png;base64," + base64.StdEncoding.EncodeToString(p.QR)
	var out strings.Builder
	require.NoError(t, tmpl.Execute(&out, struct {
		URI, QR template.URL
		Secret  string
	}{template.URL(p.URI), template.URL(qr), p.Secret}))
	page := out.String()
	assert.NotContains(t, page, "ZgotmplZ")
	// What a browser reads from each attribute: its value with the
	// character references decoded.
	attr := func(name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(page)
		require.NotNil(t, m, "no %s in %s", name, page)
		return html.UnescapeString(m[1])
	}
	assert.Equal(t, p.URI, attr("href"))
	assert.Equal(t, qr, attr("src"))
	assert.Contains(t, page, "<code>"+p.Secret+"</code>")
	k, err := totp.ParseURI(p.URI)
	require.NoError(t, err)
	assert.Equal(t, "Ann O'Neil <ann@example.com>", k.Account)
	assert.Equal(t, "Acme & Co", k.Issuer)
}

func TestGroupSecret(t *testing.T) {
	assert.Equal(t, "", totp.GroupSecret(""))
	assert.Equal(t, "ABC", totp.GroupSecret("ABC"))
	assert.Equal(t, "ABCD", totp.GroupSecret("ABCD"))
	assert.Equal(t, "ABCD EFGH IJ", totp.GroupSecret("ABCDEFGHIJ"))
	e := newEnv(t, totp.Config{}, nil)
	p := e.begin(t, alice, false)
	g := totp.GroupSecret(p.Secret)
	assert.Len(t, g, 39, "32 characters in 8 groups")
	a, err := totp.DecodeSecret(g)
	require.NoError(t, err)
	b, err := totp.DecodeSecret(p.Secret)
	require.NoError(t, err)
	assert.Equal(t, b, a, "typed with its spaces, the secret reads the same")
}

func TestConfirmRace(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	p := e.begin(t, alice, false)
	code := codeAt(t, p.Secret, t0, e.f.Params())
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			_, err := e.f.ConfirmEnroll(ctx, alice, code)
			if err == nil {
				wins.Add(1)
				return
			}
			assert.True(t, errors.Is(err, totp.ErrNoPending) || errors.Is(err, twofactor.ErrAlreadyEnrolled), "%v", err)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	es, err := e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Len(t, es, 1)
}

func TestReplayRace(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	secret, _ := e.enroll(t, alice)
	for round := range 20 {
		e.clock.Advance(30 * time.Second)
		code := codeAt(t, secret, e.clock.Now(), e.f.Params())
		var wins, reused atomic.Int32
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				_, err := e.f.Verify(ctx, challenge(alice), code)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, twofactor.ErrCodeReused):
					reused.Add(1)
				default:
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d", round)
		require.Equal(t, int32(63), reused.Load(), "round %d", round)
	}
}

func TestReplayAndOlderStep(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	secret, _ := e.enroll(t, alice)
	e.clock.Advance(time.Minute)
	now := e.clock.Now()
	p := e.f.Params()

	// The next step's code (a phone clock ahead) is accepted...
	_, err := e.f.Verify(ctx, challenge(alice), codeAt(t, secret, now.Add(30*time.Second), p))
	require.NoError(t, err)
	// ...after which the current and previous codes are older than the
	// newest accepted step, and refused even though in the window.
	for _, at := range []time.Time{now, now.Add(-30 * time.Second), now.Add(30 * time.Second)} {
		_, err = e.f.Verify(ctx, challenge(alice), codeAt(t, secret, at, p))
		require.ErrorIs(t, err, twofactor.ErrCodeReused)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	// Two steps later the window moves past the mark.
	e.clock.Advance(time.Minute)
	_, err = e.f.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now(), p))
	require.NoError(t, err)
}

func TestVerifySkewAndDrift(t *testing.T) {
	tests := []struct {
		name  string
		skew  int
		shift time.Duration // app clock relative to the server's
		drift string        // "" = refused
	}{
		{"current", 0, 0, "0"},
		{"one behind", 0, -30 * time.Second, "-1"},
		{"one ahead", 0, 30 * time.Second, "+1"},
		{"two behind, default skew", 0, -60 * time.Second, ""},
		{"two ahead, default skew", 0, 60 * time.Second, ""},
		{"two ahead, skew 2", 2, 60 * time.Second, "+2"},
		{"three behind, skew 2", 2, -90 * time.Second, ""},
		{"one behind, no skew", totp.NoSkew, -30 * time.Second, ""},
		{"current, no skew", totp.NoSkew, 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, totp.Config{Skew: tt.skew}, nil)
			ctx := context.Background()
			secret, en := e.enroll(t, alice)
			e.clock.Advance(5 * time.Minute)
			v, err := e.f.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now().Add(tt.shift), e.f.Params()))
			warnings := e.events.OfType(event.Warning)
			if tt.drift == "" {
				require.ErrorIs(t, err, twofactor.ErrInvalidCode)
				require.NotErrorIs(t, err, twofactor.ErrCodeReused)
				assert.Empty(t, warnings)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.drift, v.Details["drift"])
			if tt.drift == "0" {
				assert.Empty(t, warnings)
			} else {
				require.Len(t, warnings, 1)
				assert.Equal(t, event.ReasonClockDrift, warnings[0].Reason)
				assert.Equal(t, en.ID, warnings[0].EnrollmentID)
				assert.Equal(t, alice.ID, warnings[0].UserID)
				assert.Equal(t, twofactor.MethodTOTP, warnings[0].Method)
				assert.Equal(t, map[string]string{"drift": tt.drift}, warnings[0].Details, "the drift, as a free-form extra")
				// The last drift is kept with the enrollment.
				rec, err := e.mem.GetEnrollment(ctx, alice.ID, en.ID)
				require.NoError(t, err)
				assert.Contains(t, string(rec.Data), `"drift":`+strings.TrimPrefix(tt.drift, "+"))
			}
		})
	}
}

func TestVerifyBadInputTouchesNoStore(t *testing.T) {
	fs := &failingStore{Memory: store.NewMemory()}
	e := newEnv(t, totp.Config{}, func(m *store.Memory) store.Store { fs.Memory = m; return fs })
	for _, code := range []string{"", "abcdef", "12345", "123456789", "12345\u0660", strings.Repeat("1", 100)} {
		fs.calls.Store(0)
		_, err := e.f.Verify(context.Background(), challenge(alice), code)
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", code)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a malformed code counts as a wrong answer")
		require.ErrorIs(t, e.f.CheckAnswer(code), twofactor.ErrInvalidInput)
		assert.Zero(t, fs.calls.Load(), "%q reached the store", code)
	}
	require.NoError(t, e.f.CheckAnswer("123 456"))
	require.NoError(t, e.f.CheckAnswer("12345678"))
}

func TestNotEnrolled(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	_, err := e.f.Verify(context.Background(), challenge(alice), "123456")
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
}

// failingStore counts calls and fails the ones named in fail.
type failingStore struct {
	*store.Memory
	calls atomic.Int32
	fail  string // "list", "advance", "put"
}

// RunBatch runs a batch through the wrapper's own methods (store.RunEach),
// so that what it changes holds in a batch too.
func (s *failingStore) RunBatch(ctx context.Context, ops []store.Op) error {
	return store.RunEach(ctx, s, ops, time.Now())
}

var errBoom = errors.New("store down")

func (s *failingStore) ListEnrollments(ctx context.Context, u string) ([]store.EnrollmentRecord, error) {
	s.calls.Add(1)
	if s.fail == "list" {
		return nil, errBoom
	}
	return s.Memory.ListEnrollments(ctx, u)
}

func (s *failingStore) Advance(ctx context.Context, k string, v int64, exp time.Time) (bool, error) {
	s.calls.Add(1)
	if s.fail == "advance" {
		return false, errBoom
	}
	return s.Memory.Advance(ctx, k, v, exp)
}

func (s *failingStore) GetState(ctx context.Context, k string) ([]byte, error) {
	s.calls.Add(1)
	return s.Memory.GetState(ctx, k)
}

func (s *failingStore) PutEnrollment(ctx context.Context, r store.EnrollmentRecord) error {
	s.calls.Add(1)
	if s.fail == "put" {
		return errBoom
	}
	return s.Memory.PutEnrollment(ctx, r)
}

func TestStoreErrorsFailClosed(t *testing.T) {
	for _, fail := range []string{"list", "advance", "put"} {
		t.Run(fail, func(t *testing.T) {
			fs := &failingStore{}
			e := newEnv(t, totp.Config{}, func(m *store.Memory) store.Store { fs.Memory = m; return fs })
			secret, _ := e.enroll(t, alice)
			e.clock.Advance(time.Minute)
			fs.fail = fail
			// Off by one step, so that the drift is written.
			code := codeAt(t, secret, e.clock.Now().Add(30*time.Second), e.f.Params())
			v, err := e.f.Verify(context.Background(), challenge(alice), code)
			require.ErrorIs(t, err, errBoom)
			require.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a store failure is not a wrong code")
			assert.Empty(t, v.EnrollmentID)
			_, err = e.f.Enrollments(context.Background(), alice)
			if fail == "list" {
				require.ErrorIs(t, err, errBoom, "never read as not enrolled")
			}
		})
	}
}

func TestTamperedRecordFailsClosed(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	secret, en := e.enroll(t, alice)
	rec, err := e.mem.GetEnrollment(ctx, alice.ID, en.ID)
	require.NoError(t, err)

	// The sealed secret moved to another user's record does not open.
	bob := twofactor.User{ID: "u2"}
	moved := rec
	moved.UserID = bob.ID
	require.NoError(t, e.mem.PutEnrollment(ctx, moved))
	e.clock.Advance(time.Minute)
	_, err = e.f.Verify(ctx, challenge(bob), codeAt(t, secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrCorrupt)
	require.ErrorIs(t, err, keyring.ErrInvalidKey)

	// Garbage data.
	rec.Data = []byte("{")
	require.NoError(t, e.mem.PutEnrollment(ctx, rec))
	_, err = e.f.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrCorrupt)
}

func TestRemove(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	_, en := e.enroll(t, alice)
	other := store.EnrollmentRecord{UserID: alice.ID, ID: "sms1", Method: "sms", CreatedAt: t0}
	require.NoError(t, e.mem.PutEnrollment(ctx, other))

	require.ErrorIs(t, e.f.Remove(ctx, alice, "sms1"), twofactor.ErrNotEnrolled, "another factor's record is not ours to delete")
	require.ErrorIs(t, e.f.Remove(ctx, alice, "nope"), twofactor.ErrNotEnrolled)
	require.NoError(t, e.f.Remove(ctx, alice, en.ID))
	es, err := e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)
	_, err = e.mem.GetEnrollment(ctx, alice.ID, "sms1")
	require.NoError(t, err)

	// RemoveAll also drops a pending enrollment.
	_, _ = e.enroll(t, alice)
	p, err := e.f.BeginEnroll(ctx, twofactor.User{ID: alice.ID}, twofactor.EnrollRequest{})
	require.ErrorIs(t, err, twofactor.ErrAlreadyEnrolled)
	require.Nil(t, p)
	require.NoError(t, e.f.RemoveAll(ctx, alice))
	es, err = e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)
	p = e.begin(t, alice, false)
	require.NoError(t, e.f.RemoveAll(ctx, alice))
	_, err = e.f.ConfirmEnroll(ctx, alice, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrNoPending)

	// CancelEnroll ends a pending one too.
	p = e.begin(t, alice, false)
	require.NoError(t, e.f.CancelEnroll(ctx, alice))
	_, err = e.f.ConfirmEnroll(ctx, alice, codeAt(t, p.Secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrNoPending)

	for _, id := range []string{"", strings.Repeat("x", 65)} {
		require.ErrorIs(t, e.f.Remove(ctx, alice, id), twofactor.ErrNotEnrolled)
	}
}

// A drift update racing with a removal never brings the enrollment back.
func TestRemoveRacingDriftUpdate(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	secret, en := e.enroll(t, alice)
	saved, err := e.mem.GetEnrollment(ctx, alice.ID, en.ID)
	require.NoError(t, err)
	for round := range 50 {
		// Put the enrollment back (drift 0) and let the previous round's
		// tombstone expire.
		require.NoError(t, e.mem.PutEnrollment(ctx, saved))
		e.clock.Advance(61 * time.Minute)
		code := codeAt(t, secret, e.clock.Now().Add(30*time.Second), e.f.Params()) // drift +1: rewrites
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = e.f.Verify(ctx, challenge(alice), code) })
		wg.Go(func() { assert.NoError(t, e.f.Remove(ctx, alice, en.ID)) })
		wg.Wait()
		es, err := e.f.Enrollments(ctx, alice)
		require.NoError(t, err)
		require.Empty(t, es, "round %d: removed enrollment came back", round)
	}
}

func TestRekey(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	secret, en := e.enroll(t, alice)
	rec, err := e.mem.GetEnrollment(ctx, alice.ID, en.ID)
	require.NoError(t, err)
	require.Contains(t, string(rec.Data), `"v1:k1:`)

	// A new key goes first; the old one still decrypts.
	k1 := e.keys
	k2 := mustKey(t, "k2")
	old := mustKeyring(t, k1, k2)
	f2, err := totp.New(quietEnv(e.mem, old, e.clock.Now), totp.Config{})
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	_, err = f2.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now(), f2.Params()))
	require.NoError(t, err, "secrets under the previous key still open")

	n, err := f2.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	rec, err = e.mem.GetEnrollment(ctx, alice.ID, en.ID)
	require.NoError(t, err)
	assert.Contains(t, string(rec.Data), `"v1:k2:`)
	n, err = f2.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "second run has nothing to do")

	// With the old key gone, the rekeyed secret still works.
	onlyNew, err := keyring.New(k2)
	require.NoError(t, err)
	f3, err := totp.New(quietEnv(e.mem, onlyNew, e.clock.Now), totp.Config{})
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	_, err = f3.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now(), f3.Params()))
	require.NoError(t, err)

	// A factor that lost the key fails closed.
	_, err = e.f.Verify(ctx, challenge(alice), codeAt(t, secret, e.clock.Now(), e.f.Params()))
	require.ErrorIs(t, err, totp.ErrCorrupt)
}

var keyMaterial sync.Map // keyring -> its key, for building rings in tests

func mustKeyring(t testing.TB, current *keyring.Ring, newKey keyring.Key) *keyring.Ring {
	t.Helper()
	prev, ok := keyMaterial.Load(current)
	require.True(t, ok)
	kr, err := keyring.New(newKey, prev.(keyring.Key))
	require.NoError(t, err)
	return kr
}

func TestConfig(t *testing.T) {
	mem := store.NewMemory()
	kr, err := keyring.New(mustKey(t, "k"))
	require.NoError(t, err)
	env := twofactor.Env{Store: mem, Keys: kr}
	f, err := totp.New(env, totp.Config{})
	require.NoError(t, err)
	assert.Equal(t, totp.DefaultParams, f.Params())
	assert.Equal(t, twofactor.MethodTOTP, f.Method())

	bad := []struct {
		name string
		cfg  totp.Config
		want string
	}{
		{"algorithm", totp.Config{Algorithm: "MD5"}, "Config.Algorithm"},
		{"digits", totp.Config{Digits: 7}, "Config.Digits"},
		{"period fraction", totp.Config{Period: 1500 * time.Millisecond}, "Config.Period"},
		{"period negative", totp.Config{Period: -time.Second}, "Config.Period"},
		{"skew", totp.Config{Skew: totp.MaxSkew + 1}, "Config.Skew"},
		{"skew negative", totp.Config{Skew: -2}, "Config.Skew"},
		{"secret small", totp.Config{SecretSize: 10}, "Config.SecretSize"},
		{"pending ttl", totp.Config{PendingTTL: time.Second}, "Config.PendingTTL"},
		{"qr", totp.Config{QRSize: 10}, "Config.QRSize"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			f, err := totp.New(env, tt.cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.Contains(err.Error(), "totp: "), err.Error())
			assert.Nil(t, f)
		})
	}
}

func TestSHA256EightDigits(t *testing.T) {
	e := newEnv(t, totp.Config{Algorithm: totp.SHA256, Digits: 8, Period: 60 * time.Second, SecretSize: 32}, nil)
	p := e.begin(t, alice, false)
	assert.Contains(t, p.URI, "algorithm=SHA256&digits=8&period=60")
	k, err := totp.ParseURI(p.URI)
	require.NoError(t, err)
	assert.Len(t, k.Secret, 32)
	code := codeAt(t, p.Secret, t0, e.f.Params())
	require.Len(t, code, 8)
	_, err = e.f.ConfirmEnroll(context.Background(), alice, code)
	require.NoError(t, err)
}

// recordingStore remembers every key and value written to the store.
type recordingStore struct {
	*store.Memory
	mu      sync.Mutex
	written [][]byte
}

// RunBatch runs a batch through the wrapper's own methods (store.RunEach),
// so that what it changes holds in a batch too.
func (s *recordingStore) RunBatch(ctx context.Context, ops []store.Op) error {
	return store.RunEach(ctx, s, ops, time.Now())
}

func (s *recordingStore) add(b ...[]byte) {
	s.mu.Lock()
	for _, x := range b {
		s.written = append(s.written, bytes.Clone(x))
	}
	s.mu.Unlock()
}

func (s *recordingStore) PutState(ctx context.Context, k string, v []byte, exp time.Time) error {
	s.add([]byte(k), v)
	return s.Memory.PutState(ctx, k, v, exp)
}

func (s *recordingStore) PutOwnedState(ctx context.Context, o, k string, v []byte, exp time.Time) error {
	s.add([]byte(o), []byte(k), v)
	return s.Memory.PutOwnedState(ctx, o, k, v, exp)
}

func (s *recordingStore) PutEnrollment(ctx context.Context, r store.EnrollmentRecord) error {
	s.add([]byte(r.UserID), []byte(r.ID), []byte(r.Method), []byte(r.Label), r.Data)
	return s.Memory.PutEnrollment(ctx, r)
}

func (s *recordingStore) Advance(ctx context.Context, k string, v int64, exp time.Time) (bool, error) {
	s.add([]byte(k))
	return s.Memory.Advance(ctx, k, v, exp)
}

func (s *recordingStore) MarkUsed(ctx context.Context, k string, exp time.Time) (bool, error) {
	s.add([]byte(k))
	return s.Memory.MarkUsed(ctx, k, exp)
}

// TestNoSecretInStore runs every operation that writes, then searches all
// bytes written for the secret in every common encoding, and for the codes
// that were used.
func TestNoSecretInStore(t *testing.T) {
	rs := &recordingStore{}
	e := newEnv(t, totp.Config{}, func(m *store.Memory) store.Store { rs.Memory = m; return rs })
	ctx := context.Background()

	p := e.begin(t, alice, false)
	secretB32 := p.Secret
	code0 := codeAt(t, secretB32, t0, e.f.Params())
	_, err := e.f.ConfirmEnroll(ctx, alice, code0)
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	code1 := codeAt(t, secretB32, e.clock.Now().Add(30*time.Second), e.f.Params()) // drift: rewrites the record
	_, err = e.f.Verify(ctx, challenge(alice), code1)
	require.NoError(t, err)
	k2 := mustKey(t, "k2")
	f2, err := totp.New(quietEnv(rs, mustKeyring(t, e.keys, k2), e.clock.Now), totp.Config{})
	require.NoError(t, err)
	n, err := f2.Rekey(ctx, alice.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// A second user's pending enrollment stays in the store.
	p2 := e.begin(t, twofactor.User{ID: "u2"}, false)
	e.clock.Advance(time.Minute)
	e.begin(t, twofactor.User{ID: "u2"}, false) // shown again

	for _, s := range []string{secretB32, p2.Secret} {
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
		require.NoError(t, err)
		forms := map[string][]byte{
			"raw":              raw,
			"raw prefix":       raw[:8],
			"base32":           []byte(s),
			"base32 lower":     []byte(strings.ToLower(s)),
			"base32 padded":    []byte(base32.StdEncoding.EncodeToString(raw)),
			"base32 hex":       []byte(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)),
			"base64":           []byte(base64.StdEncoding.EncodeToString(raw)),
			"base64 raw":       []byte(base64.RawStdEncoding.EncodeToString(raw)),
			"base64url":        []byte(base64.URLEncoding.EncodeToString(raw)),
			"base64url raw":    []byte(base64.RawURLEncoding.EncodeToString(raw)),
			"hex":              []byte(hex.EncodeToString(raw)),
			"hex upper":        []byte(strings.ToUpper(hex.EncodeToString(raw))),
			"base64 of base32": []byte(base64.StdEncoding.EncodeToString([]byte(s))),
		}
		rs.mu.Lock()
		written := rs.written
		rs.mu.Unlock()
		require.NotEmpty(t, written)
		for name, form := range forms {
			for _, w := range written {
				require.False(t, bytes.Contains(w, form), "secret (%s) found in stored value %q", name, w)
			}
		}
	}
	for _, w := range rs.written {
		assert.False(t, bytes.Contains(w, []byte(code0)) || bytes.Contains(w, []byte(code1)), "a code in stored value %q", w)
	}
}

// TestServiceEndToEnd runs a login through the root package's Service,
// which builds the factor from its Config.
func TestServiceEndToEnd(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	svc, err := twofactor.New(twofactor.Config{
		Store: e.mem, Keys: e.keys, Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Example"}}, Now: e.clock.Now,
		Events: &event.Sink{Discard: true, Hook: e.events.Hook, Now: e.clock.Now},
	})
	require.NoError(t, err)
	built, ok := svc.Factor(twofactor.MethodTOTP)
	require.True(t, ok)
	e.f = built.(*totp.Factor)

	b, err := svc.Begin(ctx, alice, twofactor.Client{})
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusNoFactor, b.Status)

	secret, en := e.enroll(t, alice)
	e.clock.Advance(30 * time.Second)

	b, err = svc.Begin(ctx, alice, twofactor.Client{})
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP}, b.Challenge.Methods)

	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: "12x456"})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)

	code := codeAt(t, secret, e.clock.Now(), e.f.Params())
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: code})
	require.NoError(t, err)
	assert.Equal(t, en.ID, res.EnrollmentID)
	success := e.events.OfType(event.Success)
	require.Len(t, success, 1)
	assert.Equal(t, "0", success[0].Details["drift"])

	// The same code on a new challenge is a replay.
	b, err = svc.Begin(ctx, alice, twofactor.Client{})
	require.NoError(t, err)
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: code})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	failures := e.events.OfType(event.Failure)
	require.NotEmpty(t, failures)
	assert.Equal(t, event.ReasonReplay, failures[len(failures)-1].Reason)

	// Removing after a step-up with the next code, as an account page does.
	e.clock.Advance(30 * time.Second)
	step, err := svc.StepUp(ctx, alice, twofactor.Client{}, twofactor.PurposeStepUp)
	require.NoError(t, err)
	require.ErrorIs(t, svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, en.ID, res.Proof), twofactor.ErrStepUpRequired,
		"a login proof")
	res, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: step.ID, Method: twofactor.MethodTOTP, Purpose: twofactor.PurposeStepUp,
		Code: codeAt(t, secret, e.clock.Now(), e.f.Params())})
	require.NoError(t, err)
	require.NoError(t, svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, en.ID, res.Proof))
	es, err := e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)

	// Admin reset removes TOTP too.
	_, _ = e.enroll(t, alice)
	require.NoError(t, svc.AdminReset(ctx, alice, "support@example.com", "lost phone"))
	es, err = e.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, es)

	// No event carries a secret or a code.
	for _, ev := range e.events.All() {
		for k, v := range ev.Details {
			assert.NotContains(t, v, secret, "event %s detail %s", ev.Type, k)
			assert.NotEqual(t, code, v, "event %s detail %s", ev.Type, k)
		}
	}
}

func TestVerifyNeedsUser(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	_, err := e.f.Verify(context.Background(), challenge(twofactor.User{}), "123456")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = e.f.Verify(context.Background(), nil, "123456")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// VerifyMarked leaves the time step's mark to its caller when the code
// matched with no drift: it returns the advance of the enrollment's
// ledger to that step, good for a day past the step, and writes nothing.
// A code that matched with a drift is marked by the factor, as Verify
// marks it, before the drift is reported, and a step it marked refuses a
// later code of the same step.
func TestVerifyMarked(t *testing.T) {
	e := newEnv(t, totp.Config{}, nil)
	ctx := context.Background()
	secret, en := e.enroll(t, alice)
	e.clock.Advance(time.Minute)
	p := e.f.Params()
	now := e.clock.Now()
	recs, err := e.mem.ListEnrollments(ctx, alice.ID)
	require.NoError(t, err)

	v, err := e.f.VerifyMarked(ctx, challenge(alice), codeAt(t, secret, now, p), recs)
	require.NoError(t, err)
	assert.Equal(t, en.ID, v.EnrollmentID)
	assert.True(t, v.RecordUse)
	require.Equal(t, store.OpAdvance, v.Mark.Kind, "the mark left to the caller")
	step := now.Unix() / 30
	assert.Equal(t, step, v.Mark.Mark)
	assert.True(t, v.Mark.Time.Equal(time.Unix(step*30, 0).Add(24*time.Hour)), "the mark's expiry: %v", v.Mark.Time)
	raised, err := e.mem.Advance(ctx, v.Mark.Key, v.Mark.Mark, v.Mark.Time)
	require.NoError(t, err)
	assert.True(t, raised, "VerifyMarked wrote no mark")
	_, err = e.f.Verify(ctx, challenge(alice), codeAt(t, secret, now, p))
	require.ErrorIs(t, err, twofactor.ErrCodeReused, "the mark's key is the ledger Verify reads")

	e.clock.Advance(time.Minute)
	e.events.Reset()
	behind := codeAt(t, secret, e.clock.Now().Add(-30*time.Second), p)
	v, err = e.f.VerifyMarked(ctx, challenge(alice), behind, recs)
	require.NoError(t, err)
	assert.Zero(t, v.Mark.Kind, "a drifted code is marked by the factor")
	assert.Equal(t, "-1", v.Details[event.DetailDrift])
	assert.Equal(t, []event.Reason{event.ReasonClockDrift}, e.events.Reasons(event.Warning))
	_, err = e.f.VerifyMarked(ctx, challenge(alice), behind, recs)
	require.ErrorIs(t, err, twofactor.ErrCodeReused, "the step the factor marked")
	assert.Len(t, e.events.OfType(event.Warning), 1, "no drift reported for a replay")
}
