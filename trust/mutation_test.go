package trust_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
)

// MinDuration itself is a valid trust duration; a nanosecond less is not.
func TestRememberForMinDuration(t *testing.T) {
	e := newEnv(t, nil)
	c := client("203.0.113.7", uaFirefoxLinux)
	g, err := e.m.RememberFor(context.Background(), alice, c, trust.MinDuration)
	require.NoError(t, err)
	assert.True(t, g.ExpiresAt.Equal(t0.Add(trust.MinDuration)))
	_, err = e.m.RememberFor(context.Background(), alice, c, trust.MinDuration-time.Nanosecond)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// A grant with one second left still sets a cookie of Max-Age 1; with less
// than a second left, none is set.
func TestSetCookieLastSecond(t *testing.T) {
	e := newEnv(t, nil)
	_, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
	e.clock.Advance(trust.Month - time.Second)
	rec := httptest.NewRecorder()
	e.m.SetCookie(rec, g)
	_, a := setCookie(t, rec)
	assert.Equal(t, "1", a["max-age"])

	e.clock.Advance(time.Millisecond)
	rec = httptest.NewRecorder()
	e.m.SetCookie(rec, g)
	assert.Empty(t, rec.Result().Cookies(), "under a second left: no cookie")
}

// An IPv4-mapped prefix of exactly 96 bits is the whole IPv4 space.
func TestTrustedProxiesMapped96(t *testing.T) {
	e := newEnv(t, func(c *trust.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("::ffff:0.0.0.0/96")}
	})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:5555"
	r.Header.Set("X-Forwarded-For", "2001:db8::7, 198.51.100.7")
	assert.Equal(t, netip.MustParseAddr("2001:db8::7"), e.m.Client(r).IP, "every IPv4 hop is a trusted proxy")
}
