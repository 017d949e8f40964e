package twofactor_test

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
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
)

// codeFactor is a host-written factor for tests: it issues a fixed code per
// challenge through store.Codes (so it consumes atomically), or, with
// static set, accepts a fixed code without consuming anything.
type codeFactor struct {
	method   twofactor.Method
	codes    store.Codes
	groups   store.CodeGroups
	keys     *keyring.Ring
	enrolled map[string]bool // user id -> enrolled
	static   string          // if set: accept this code, consume nothing
	record   bool            // ask the Service to record the last use
	code     string          // code issued by Send
	ttl      time.Duration
	now      func() time.Time

	verifies atomic.Int64 // Verify calls
	mu       sync.Mutex
	canceled []string
	removed  []string
}

func (f *codeFactor) Method() twofactor.Method { return f.method }

func (f *codeFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	if !f.enrolled[u.ID] {
		return nil, nil
	}
	return []twofactor.Enrollment{{ID: string(f.method) + "-1", Method: f.method, Label: "test"}}, nil
}

// sendingFactor adds a send step to a codeFactor.
type sendingFactor struct{ *codeFactor }

func (sf sendingFactor) Send(ctx context.Context, ch *twofactor.Challenge, _ twofactor.Client) (twofactor.Sent, error) {
	f := sf.codeFactor
	exp := f.now().Add(f.ttl)
	err := f.codes.PutCode(ctx, store.Code{Group: ch.ID, Key: string(f.method), Hash: f.keys.Hash("test", []byte(ch.ID+f.code)), ExpiresAt: exp, MaxAttempts: 5})
	return twofactor.Sent{Destination: "t***@example.com", ExpiresAt: exp}, err
}

func (f *codeFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	f.verifies.Add(1)
	if f.static != "" {
		if subtle.ConstantTimeCompare([]byte(answer), []byte(f.static)) == 1 {
			return twofactor.Verified{EnrollmentID: string(f.method) + "-1", RecordUse: f.record}, nil
		}
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	st, err := f.codes.ConsumeCode(ctx, ch.ID, string(f.method), f.keys.Hash("test", []byte(ch.ID+answer)))
	if err != nil {
		return twofactor.Verified{}, err
	}
	switch st {
	case store.CodeMatched:
		return twofactor.Verified{EnrollmentID: string(f.method) + "-1", Details: map[string]string{"k": "v"}}, nil
	case store.CodeExpired:
		return twofactor.Verified{}, twofactor.ErrCodeExpired
	case store.CodeNotFound, store.CodeExhausted:
		return twofactor.Verified{}, twofactor.ErrNoCode
	default:
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
}

// CheckAnswer accepts six digits only.
func (f *codeFactor) CheckAnswer(answer string) error {
	if len(answer) != 6 || strings.Trim(answer, "0123456789") != "" {
		return twofactor.ErrInvalidInput
	}
	return nil
}

func (f *codeFactor) Cancel(ctx context.Context, ch *twofactor.Challenge) error {
	f.mu.Lock()
	f.canceled = append(f.canceled, ch.ID)
	f.mu.Unlock()
	if f.groups != nil {
		return f.groups.DeleteGroup(ctx, ch.ID)
	}
	return nil
}

func (f *codeFactor) Remove(_ context.Context, u twofactor.User, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, u.ID+"/"+id)
	delete(f.enrolled, u.ID)
	return nil
}

func (f *codeFactor) RemoveAll(_ context.Context, u twofactor.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, u.ID+"/*")
	delete(f.enrolled, u.ID)
	return nil
}

type recoveryFactor struct{ *codeFactor }

func (r recoveryFactor) Recovery() bool { return true }

// fakeTrust is a DeviceTrust that trusts the token "good".
type fakeTrust struct {
	mu        sync.Mutex
	forgotten []string
	err       error
}

func (t *fakeTrust) Trusted(_ context.Context, _ twofactor.User, c twofactor.Client) (bool, error) {
	return c.DeviceToken == "good", t.err
}

func (t *fakeTrust) Remember(context.Context, twofactor.User, twofactor.Client) (twofactor.DeviceGrant, error) {
	return twofactor.DeviceGrant{Token: "good"}, t.err
}

func (t *fakeTrust) ForgetUser(_ context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgotten = append(t.forgotten, id)
	return t.err
}

// env is a Service with two code factors on a memory store and a clock.
type env struct {
	t      *testing.T
	clock  *storetest.Clock
	mem    *store.Memory
	keys   *keyring.Ring
	email  *codeFactor
	app    *codeFactor
	trust  *fakeTrust
	svc    *twofactor.Service
	mu     sync.Mutex
	events []event.Event
}

var (
	alice  = twofactor.User{ID: "alice", Email: "alice@example.com"}
	client = twofactor.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "test-agent"}
)

func newKeys(t testing.TB) *keyring.Ring {
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := keyring.New(k)
	require.NoError(t, err)
	return kr
}

func newEnv(t *testing.T, mod func(*twofactor.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: storetest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)), keys: newKeys(t), trust: &fakeTrust{}}
	e.mem = store.NewMemory(e.clock.Now)
	e.email = &codeFactor{method: twofactor.MethodEmail, codes: e.mem, groups: e.mem, keys: e.keys, code: "123456", ttl: 15 * time.Minute, now: e.clock.Now, enrolled: map[string]bool{"alice": true}}
	e.app = &codeFactor{method: twofactor.MethodTOTP, static: "654321", now: e.clock.Now, enrolled: map[string]bool{"alice": true}}
	cfg := twofactor.Config{
		Store:   e.mem,
		Keys:    e.keys,
		Factors: factors(sendingFactor{e.email}, e.app),
		Trust:   e.trust,
		Events: &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		}},
		Now: e.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := twofactor.New(cfg)
	require.NoError(t, err)
	e.svc = svc
	return e
}

func (e *env) begin() *twofactor.Challenge {
	e.t.Helper()
	b, err := e.svc.Begin(context.Background(), alice, client)
	require.NoError(e.t, err)
	require.Equal(e.t, twofactor.StatusChallenge, b.Status)
	return b.Challenge
}

func (e *env) verify(ch *twofactor.Challenge, m twofactor.Method, code string) (*twofactor.Result, error) {
	return e.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: ch.ID, Method: m, Code: code, UserID: ch.User.ID, Client: client})
}

func (e *env) eventsOf(typ event.Type) []event.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []event.Event
	for _, ev := range e.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

var errBoom = errors.New("store is down")

// wrongCode returns the i-th of many distinct wrong six-digit answers (the
// right ones in these tests are 123456 and 654321).
func wrongCode(i int) string { return fmt.Sprintf("%06d", 900000+i) }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// factors gives built factors to Config.Factors as they are.
func factors(fs ...twofactor.Factor) []twofactor.FactorConfig {
	out := make([]twofactor.FactorConfig, len(fs))
	for i, f := range fs {
		out[i] = twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return f, nil })
	}
	return out
}

// NewTrust gives the fake itself to Config.Trust.
func (t *fakeTrust) NewTrust(twofactor.Env) (twofactor.DeviceTrust, error) { return t, nil }

// The documented defaults of Limits and Config.StepUpMaxAge.
const (
	defaultChallengeTTL           = 15 * time.Minute
	defaultMaxAttempts            = 5
	defaultMaxUserFailures        = 10
	defaultLockoutDuration        = 15 * time.Minute
	defaultMaxConsecutiveFailures = 100
	defaultFailureMemory          = 365 * 24 * time.Hour
	defaultMaxIPAttempts          = 100
	defaultIPWindow               = 15 * time.Minute
	defaultIPv6Prefix             = 64
	defaultStepUpMaxAge           = 5 * time.Minute
)

// signIn begins challenges for one user on a Service and answers them by
// one method.
type signIn struct {
	svc    *twofactor.Service
	user   twofactor.User
	method twofactor.Method
}

// begin begins a challenge and returns its id.
func (s *signIn) begin(t *testing.T) string {
	t.Helper()
	b, err := s.svc.Begin(context.Background(), s.user, client)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	return b.Challenge.ID
}

// verify answers challenge id with code.
func (s *signIn) verify(id, code string) (*twofactor.Result, error) {
	return s.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: id, Method: s.method, Code: code, Client: client})
}
