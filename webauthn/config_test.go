package webauthn_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestNewValidatesConfig(t *testing.T) {
	keys := newKeys(t)
	mem := store.NewMemory(nil)
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
		{"nil store", func(c *webauthn.Config) { c.Store = nil }, "Config.Store is nil"},
		{"nil keys", func(c *webauthn.Config) { c.Keys = nil }, "Config.Keys is nil"},
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
	f, err := webauthn.New(webauthn.Config{Store: store.NewMemory(nil), Keys: newKeys(t), RPID: "example.com",
		RPOrigins: []string{"HTTPS://Login.Example.com:8443/", "https://example.com"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://login.example.com:8443", "https://example.com"}, f.Origins())
}
