package webauthn_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestNewValidatesConfig(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: newKeys(t)}
	base := func() webauthn.Config {
		return webauthn.Config{RPID: "example.com", RPOrigins: []string{"https://example.com"}}
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
			f, err := webauthn.New(env, cfg)
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
	f, err := webauthn.New(twofactor.Env{Store: store.NewMemory(), Keys: newKeys(t)}, webauthn.Config{RPID: "example.com",
		RPOrigins: []string{"HTTPS://Login.Example.com:8443/", "https://example.com"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://login.example.com:8443", "https://example.com"}, f.Origins())
}

// TestNewEnv: New takes the store, keyring, events and clock from the Env
// and checks, once, that it has what the factor needs; a factor New
// returned never answers with a configuration error.
func TestNewEnv(t *testing.T) {
	rp := webauthn.Config{RPID: testRPID, RPOrigins: []string{testOrigin}}

	t.Run("no store or keys", func(t *testing.T) {
		for name, tt := range map[string]struct {
			env  twofactor.Env
			want string
		}{
			"nothing":  {twofactor.Env{}, "Env.Store"},
			"no keys":  {twofactor.Env{Store: store.NewMemory()}, "Env.Keys"},
			"no store": {twofactor.Env{Keys: newKeys(t)}, "Env.Store"},
		} {
			t.Run(name, func(t *testing.T) {
				f, err := webauthn.New(tt.env, rp)
				require.ErrorIs(t, err, twofactor.ErrConfig)
				assert.Nil(t, f)
				assert.Contains(t, err.Error(), tt.want)
				assert.Regexp(t, `^webauthn: `, err.Error())
			})
		}
	})

	t.Run("store without what the factor needs", func(t *testing.T) {
		f, err := webauthn.New(twofactor.Env{Store: rootOnly{store.NewMemory()}, Keys: newKeys(t)}, rp)
		require.ErrorIs(t, err, twofactor.ErrConfig)
		assert.Nil(t, f)
		assert.Contains(t, err.Error(), "store.Enrollments, store.Ledger")
		assert.NotContains(t, err.Error(), "store.States")
		assert.Regexp(t, `^webauthn: `, err.Error())
		bad, err := rp.NewFactor(twofactor.Env{Store: rootOnly{store.NewMemory()}, Keys: newKeys(t)})
		require.ErrorIs(t, err, twofactor.ErrConfig)
		assert.True(t, bad == nil, "a nil Factor, not a nil *Factor in one")

		_, err = twofactor.New(twofactor.Config{Store: rootOnly{store.NewMemory()}, Keys: newKeys(t),
			Factors: []twofactor.FactorConfig{rp}})
		require.ErrorIs(t, err, twofactor.ErrConfig)
		assert.Contains(t, err.Error(), "Config.Factors[0]")
		assert.Contains(t, err.Error(), "store.Enrollments, store.Ledger")
	})

	t.Run("defaults of the Env", func(t *testing.T) {
		mem := store.NewMemory()
		f, err := webauthn.New(twofactor.Env{Store: mem, Keys: newKeys(t)}, rp)
		require.NoError(t, err)
		before := time.Now()
		en, err := f.BeginEnroll(context.Background(), twofactor.User{ID: "u1"}, twofactor.EnrollRequest{})
		require.NoError(t, err)
		assert.WithinDuration(t, before.Add(webauthn.DefaultTimeout), en.ExpiresAt, time.Minute, "the real clock")
	})

	t.Run("built by the Service", func(t *testing.T) {
		clk := storetest.NewClock(t0)
		mem := store.NewMemory(clk.Now)
		var mu sync.Mutex
		var evs []event.Event
		events := &event.Sink{Discard: true, Now: clk.Now, Hook: func(_ context.Context, ev event.Event) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, ev)
		}}
		svc, err := twofactor.New(twofactor.Config{Store: mem, Keys: newKeys(t), Factors: []twofactor.FactorConfig{rp},
			Events: events, Now: clk.Now})
		require.NoError(t, err)
		got, ok := svc.Factor(twofactor.MethodWebAuthn)
		require.True(t, ok)
		f, ok := got.(*webauthn.Factor)
		require.True(t, ok, "the Service built a *webauthn.Factor")
		assert.Equal(t, testRPID, f.RPID())

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
		cs, err := f.Credentials(ctx, u)
		require.NoError(t, err)
		require.Len(t, cs, 1)

		mu.Lock()
		defer mu.Unlock()
		var begins, enrolls []event.Event
		for _, ev := range evs {
			switch ev.Type {
			case event.EnrollBegin:
				begins = append(begins, ev)
			case event.Enroll:
				enrolls = append(enrolls, ev)
			}
		}
		require.Len(t, begins, 1, "the factor's events reach the Service's")
		assert.Equal(t, "key", begins[0].Label)
		require.Len(t, enrolls, 1, "one EventEnroll, the Service's")
		assert.Equal(t, done.Enrollment.ID, enrolls[0].EnrollmentID)
		assert.Equal(t, "key", enrolls[0].Label)
		assert.True(t, enrolls[0].FirstFactor)
	})
}

// rootOnly is a store with only what the Service itself needs.
type rootOnly struct{ twofactor.Store }
