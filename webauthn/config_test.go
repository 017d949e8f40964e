package webauthn_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestNewValidatesConfig(t *testing.T) {
	keys := newKeys(t)
	mem := store.NewMemory()
	base := func() webauthn.Config {
		return webauthn.Config{Store: mem, Keys: keys, RPID: "example.com", RPOrigins: []string{"https://example.com"}}
	}
	tests := []struct {
		name string
		mod  func(*webauthn.Config)
		want string // substring of the error; empty means valid
	}{
		{"minimal", func(*webauthn.Config) {}, ""},
		{"subdomain origin with port", func(c *webauthn.Config) { c.RPOrigins = []string{"https://login.example.com:8443"} }, ""},
		{"trailing slash", func(c *webauthn.Config) { c.RPOrigins = []string{"https://example.com/"} }, ""},
		{"localhost over http", func(c *webauthn.Config) {
			c.RPID = "localhost"
			c.RPOrigins = []string{"http://localhost:8080"}
		}, ""},
		{"all knobs", func(c *webauthn.Config) {
			c.Timeout = time.Minute
			c.SignCountPolicy = webauthn.SignCountWarn
			c.UserVerification = webauthn.Required
			c.ResidentKey = webauthn.Preferred
			c.MaxCredentials = 100
		}, ""},
		{"no store nor keys: bound by the Service", func(c *webauthn.Config) { c.Store, c.Keys = nil, nil }, ""},
		{"no rp id", func(c *webauthn.Config) { c.RPID = "" }, "Config.RPID is empty"},
		{"rp id with scheme", func(c *webauthn.Config) { c.RPID = "https://example.com" }, "bare domain"},
		{"rp id with port", func(c *webauthn.Config) { c.RPID = "example.com:443" }, "bare domain"},
		{"rp id is an ip", func(c *webauthn.Config) {
			c.RPID = "127.0.0.1"
			c.RPOrigins = []string{"https://127.0.0.1"}
		}, "IP address"},
		{"rp id upper case", func(c *webauthn.Config) { c.RPID = "Example.com" }, "lower case"},
		{"rp id dots", func(c *webauthn.Config) { c.RPID = "example..com" }, "not a valid domain"},
		{"no origins", func(c *webauthn.Config) { c.RPOrigins = nil }, "RPOrigins is empty"},
		{"plain http", func(c *webauthn.Config) { c.RPOrigins = []string{"http://example.com"} }, "must use https"},
		{"other scheme", func(c *webauthn.Config) { c.RPOrigins = []string{"ftp://example.com"} }, "is not https"},
		{"not absolute", func(c *webauthn.Config) { c.RPOrigins = []string{"example.com"} }, "absolute origin"},
		{"with path", func(c *webauthn.Config) { c.RPOrigins = []string{"https://example.com/login"} }, "without user, path"},
		{"with query", func(c *webauthn.Config) { c.RPOrigins = []string{"https://example.com?x=1"} }, "without user, path"},
		{"other domain", func(c *webauthn.Config) { c.RPOrigins = []string{"https://example.org"} }, "neither the RPID"},
		{"suffix trick", func(c *webauthn.Config) { c.RPOrigins = []string{"https://badexample.com"} }, "neither the RPID"},
		{"second origin bad", func(c *webauthn.Config) {
			c.RPOrigins = []string{"https://example.com", "https://evil.test"}
		}, "RPOrigins[1]"},
		{"negative timeout", func(c *webauthn.Config) { c.Timeout = -time.Second }, "must not be negative"},
		{"long timeout", func(c *webauthn.Config) { c.Timeout = time.Hour }, "longer than"},
		{"short timeout", func(c *webauthn.Config) { c.Timeout = time.Second }, "too short"},
		{"sign count policy", func(c *webauthn.Config) { c.SignCountPolicy = 7 }, "SignCountPolicy"},
		{"user verification", func(c *webauthn.Config) { c.UserVerification = "always" }, "UserVerification"},
		{"resident key", func(c *webauthn.Config) { c.ResidentKey = "yes" }, "ResidentKey"},
		{"max credentials", func(c *webauthn.Config) { c.MaxCredentials = 101 }, "MaxCredentials"},
		{"negative max credentials", func(c *webauthn.Config) { c.MaxCredentials = -1 }, "MaxCredentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			f, err := webauthn.New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, f)
				assert.Equal(t, cfg.RPID, f.RPID())
				return
			}
			require.Error(t, err)
			assert.Nil(t, f)
			assert.True(t, errors.Is(err, twofactor.ErrConfig), "error %q must wrap ErrConfig", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Regexp(t, `^webauthn: `, err.Error())
		})
	}
}

func TestOriginsAreCanonical(t *testing.T) {
	f, err := webauthn.New(webauthn.Config{Store: store.NewMemory(), Keys: newKeys(t), RPID: "example.com",
		RPOrigins: []string{"HTTPS://Login.Example.com:8443/", "https://example.com"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://login.example.com:8443", "https://example.com"}, f.Origins())
}

// TestBind: given to twofactor.New, a factor configured with its relying
// party alone takes the Service's store, keyring, events and clock; what
// its config sets wins; used without either, it fails with ErrConfig.
func TestBind(t *testing.T) {
	rp := webauthn.Config{RPID: testRPID, RPOrigins: []string{testOrigin}}

	t.Run("unbound", func(t *testing.T) {
		f, err := webauthn.New(rp)
		require.NoError(t, err)
		ctx := context.Background()
		u := twofactor.User{ID: "u1"}
		ch := &twofactor.Challenge{ID: "c1", User: u, ExpiresAt: time.Now().Add(time.Hour)}
		calls := map[string]error{}
		_, calls["Enrollments"] = f.Enrollments(ctx, u)
		_, calls["Credentials"] = f.Credentials(ctx, u)
		_, calls["BeginEnroll"] = f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
		_, calls["ConfirmEnroll"] = f.ConfirmEnroll(ctx, u, "{}")
		_, calls["Start"] = f.Start(ctx, ch)
		_, calls["Verify"] = f.Verify(ctx, ch, "{}")
		calls["Cancel"] = f.Cancel(ctx, ch)
		calls["Rename"] = f.Rename(ctx, u, "webauthn-x", "key")
		calls["Remove"] = f.Remove(ctx, u, "webauthn-x")
		calls["RemoveAll"] = f.RemoveAll(ctx, u)
		for name, err := range calls {
			require.ErrorIs(t, err, twofactor.ErrConfig, name)
		}
	})

	t.Run("bound", func(t *testing.T) {
		clk := storetest.NewClock(t0)
		mem := store.NewMemory(clk.Now)
		var mu sync.Mutex
		var types []twofactor.EventType
		events := &twofactor.Events{Discard: true, Now: clk.Now, Hook: func(_ context.Context, ev twofactor.Event) {
			mu.Lock()
			defer mu.Unlock()
			types = append(types, ev.Type)
		}}
		f, err := webauthn.New(rp)
		require.NoError(t, err)
		svc, err := twofactor.New(twofactor.Config{Store: mem, Keys: newKeys(t), Factors: []twofactor.Factor{f}, Events: events, Now: clk.Now})
		require.NoError(t, err)
		ctx := context.Background()
		u := twofactor.User{ID: "u1"}
		k := newSoftKey(t, testRPID, testOrigin)
		en, err := svc.BeginEnroll(ctx, u, twofactor.MethodWebAuthn, twofactor.EnrollRequest{Label: "key"}, "")
		require.NoError(t, err)
		assert.Equal(t, t0.Add(webauthn.DefaultTimeout), en.ExpiresAt, "the Service's clock")
		done, err := svc.ConfirmEnroll(ctx, u, twofactor.MethodWebAuthn, string(k.create(t, en.Options)))
		require.NoError(t, err)
		assert.Equal(t, t0, done.Enrollment.CreatedAt)
		recs, err := mem.ListEnrollments(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, recs, 1, "the Service's store")
		mu.Lock()
		assert.Contains(t, types, twofactor.EventEnroll, "the Service's events")
		mu.Unlock()
	})

	t.Run("explicit fields win", func(t *testing.T) {
		own, shared := store.NewMemory(), store.NewMemory()
		var got atomic.Int64
		cfg := rp
		cfg.Store = own
		cfg.Events = &twofactor.Events{Discard: true, Hook: func(context.Context, twofactor.Event) { got.Add(1) }}
		f, err := webauthn.New(cfg)
		require.NoError(t, err)
		svc, err := twofactor.New(twofactor.Config{Store: shared, Keys: newKeys(t), Factors: []twofactor.Factor{f},
			Events: &twofactor.Events{Discard: true}})
		require.NoError(t, err)
		ctx := context.Background()
		u := twofactor.User{ID: "u1"}
		en, err := svc.BeginEnroll(ctx, u, twofactor.MethodWebAuthn, twofactor.EnrollRequest{}, "")
		require.NoError(t, err)
		_, err = f.ConfirmEnroll(ctx, u, string(newSoftKey(t, testRPID, testOrigin).create(t, en.Options)))
		require.NoError(t, err)
		recs, err := own.ListEnrollments(ctx, u.ID)
		require.NoError(t, err)
		assert.Len(t, recs, 1)
		recs, err = shared.ListEnrollments(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, recs)
		assert.EqualValues(t, 2, got.Load(), "begin and enroll events went to the factor's own Events")
	})

	t.Run("store without what the factor needs", func(t *testing.T) {
		f, err := webauthn.New(rp)
		require.NoError(t, err)
		_, err = twofactor.New(twofactor.Config{Store: rootOnly{store.NewMemory()}, Keys: newKeys(t), Factors: []twofactor.Factor{f}})
		require.ErrorIs(t, err, twofactor.ErrConfig)
		assert.Contains(t, err.Error(), "store.Enrollments, store.Ledger")
		assert.NotContains(t, err.Error(), "store.States")
	})
}

// rootOnly is a store with only what the Service itself needs.
type rootOnly struct{ twofactor.Store }
