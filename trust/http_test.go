package trust_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
)

// setCookie returns the single Set-Cookie header a handler wrote, and its
// attributes parsed case-insensitively.
func setCookie(t *testing.T, rec *httptest.ResponseRecorder) (string, map[string]string) {
	t.Helper()
	hs := rec.Result().Header.Values("Set-Cookie")
	require.Len(t, hs, 1)
	attrs := map[string]string{}
	for i, part := range strings.Split(hs[0], ";") {
		part = strings.TrimSpace(part)
		k, v, _ := strings.Cut(part, "=")
		if i == 0 {
			attrs["name"], attrs["value"] = k, v
			continue
		}
		attrs[strings.ToLower(k)] = v
	}
	return hs[0], attrs
}

func TestSetCookieAttributes(t *testing.T) {
	t.Run("30 days", func(t *testing.T) {
		e := newEnv(t, nil)
		_, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		rec := httptest.NewRecorder()
		e.m.SetCookie(rec, g)
		raw, a := setCookie(t, rec)
		assert.Equal(t, "__Host-tf_device", a["name"])
		assert.Equal(t, g.Token, a["value"])
		assert.Equal(t, "/", a["path"])
		assert.Contains(t, a, "httponly")
		assert.Contains(t, a, "secure")
		assert.Equal(t, "Lax", a["samesite"])
		assert.NotContains(t, a, "domain", "a __Host- cookie has no Domain")
		assert.Equal(t, "2592000", a["max-age"], "Max-Age matches the record: 30 days")
		exp, err := http.ParseTime(a["expires"])
		require.NoError(t, err)
		assert.True(t, exp.Equal(t0.Add(trust.Month)), raw)

		// The browser sends it back, and Client reads it.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", a["name"]+"="+a["value"])
		assert.Equal(t, g.Token, e.m.Client(r).DeviceToken)
	})

	t.Run("max-age counts from now", func(t *testing.T) {
		e := newEnv(t, func(c *trust.Config) { c.Duration = trust.Week })
		_, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		e.clock.Advance(time.Hour)
		rec := httptest.NewRecorder()
		e.m.SetCookie(rec, g)
		_, a := setCookie(t, rec)
		assert.Equal(t, "601200", a["max-age"], "one week minus the hour already gone")
	})

	t.Run("session only", func(t *testing.T) {
		e := newEnv(t, func(c *trust.Config) { c.Duration = trust.SessionOnly; c.CookieName = "__Host-dev" })
		_, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))
		rec := httptest.NewRecorder()
		e.m.SetCookie(rec, g)
		_, a := setCookie(t, rec)
		assert.Equal(t, "__Host-dev", a["name"])
		assert.NotContains(t, a, "max-age")
		assert.NotContains(t, a, "expires")
		assert.Contains(t, a, "secure")
		assert.Contains(t, a, "httponly")
		assert.Equal(t, "Lax", a["samesite"])
	})

	t.Run("nothing for an empty or past grant", func(t *testing.T) {
		e := newEnv(t, nil)
		rec := httptest.NewRecorder()
		e.m.SetCookie(rec, twofactor.DeviceGrant{})
		e.m.SetCookie(rec, twofactor.DeviceGrant{Token: "v1.x", ExpiresAt: t0.Add(-time.Second)})
		assert.Empty(t, rec.Result().Header.Values("Set-Cookie"))
	})

	t.Run("clear", func(t *testing.T) {
		e := newEnv(t, nil)
		rec := httptest.NewRecorder()
		e.m.ClearCookie(rec)
		_, a := setCookie(t, rec)
		assert.Equal(t, "__Host-tf_device", a["name"])
		assert.Empty(t, a["value"])
		assert.Equal(t, "0", a["max-age"])
		assert.Equal(t, "/", a["path"])
		assert.Contains(t, a, "secure")
	})
}

func TestClientFromRequest(t *testing.T) {
	e := newEnv(t, func(c *trust.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	_, g := e.remember(t, client("203.0.113.7", uaFirefoxLinux))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	r.Header.Set("User-Agent", uaFirefoxLinux)
	r.Header.Add("Cookie", "__Host-tf_device=garbage")
	r.Header.Add("Cookie", "__Host-tf_device="+g.Token)
	c := e.m.Client(r)
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), c.IP)
	assert.Equal(t, uaFirefoxLinux, c.UserAgent)
	assert.Equal(t, g.Token, c.DeviceToken, "the first cookie that has the right shape")
	assert.True(t, e.trusted(t, alice, c))

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "198.51.100.9:1234"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	r.Header.Set("Cookie", "other="+g.Token)
	c = e.m.Client(r)
	assert.Equal(t, netip.MustParseAddr("198.51.100.9"), c.IP, "an untrusted peer's header is ignored")
	assert.Empty(t, c.DeviceToken, "another cookie name is not the device cookie")
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.MustParsePrefix("2001:db8:ffff::/48"),
	}
	tests := []struct {
		name    string
		remote  string
		header  trust.ProxyHeader
		values  []string
		proxies []netip.Prefix
		want    string
	}{
		{"no proxies: connection address", "203.0.113.7:443", trust.XForwardedFor, []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"spoofed header from untrusted peer ignored", "203.0.113.7:443", trust.XForwardedFor, []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"spoofed Forwarded from untrusted peer ignored", "203.0.113.7:443", trust.Forwarded, []string{"for=198.51.100.1"}, proxies, "203.0.113.7"},
		{"one trusted hop", "10.0.0.1:80", trust.XForwardedFor, []string{"203.0.113.7"}, proxies, "203.0.113.7"},
		{"client prepends a fake entry", "10.0.0.1:80", trust.XForwardedFor, []string{"1.2.3.4, 203.0.113.7"}, proxies, "203.0.113.7"},
		{"client prepends a trusted-looking entry", "10.0.0.1:80", trust.XForwardedFor, []string{"10.9.9.9, 203.0.113.7"}, proxies, "203.0.113.7"},
		{"several trusted hops", "10.0.0.1:80", trust.XForwardedFor, []string{"198.51.100.1, 203.0.113.7, 192.0.2.10", "10.2.3.4"}, proxies, "203.0.113.7"},
		{"several header lines in order", "10.0.0.1:80", trust.XForwardedFor, []string{"198.51.100.1", "203.0.113.7,10.0.0.5"}, proxies, "203.0.113.7"},
		{"xff with ports and v6", "[2001:db8:ffff::1]:443", trust.XForwardedFor, []string{"[2001:db8::17]:4711"}, proxies, "2001:db8::17"},
		{"xff bare v6", "10.0.0.1:80", trust.XForwardedFor, []string{"2001:db8::17 , 10.0.0.2"}, proxies, "2001:db8::17"},
		{"xff v4 with port", "10.0.0.1:80", trust.XForwardedFor, []string{"203.0.113.7:51000"}, proxies, "203.0.113.7"},
		{"xff mapped v4", "10.0.0.1:80", trust.XForwardedFor, []string{"::ffff:203.0.113.7"}, proxies, "203.0.113.7"},
		{"mapped remote", "[::ffff:10.0.0.1]:80", trust.XForwardedFor, []string{"203.0.113.7"}, proxies, "203.0.113.7"},
		{"empty elements skipped", "10.0.0.1:80", trust.XForwardedFor, []string{",203.0.113.7,,"}, proxies, "203.0.113.7"},
		{"no header from a proxy", "10.0.0.1:80", trust.XForwardedFor, nil, proxies, "10.0.0.1"},
		{"only trusted hops: leftmost", "10.0.0.1:80", trust.XForwardedFor, []string{"10.0.0.7, 10.0.0.8"}, proxies, "10.0.0.7"},
		{"malformed where the client should be", "10.0.0.1:80", trust.XForwardedFor, []string{"not-an-ip"}, proxies, ""},
		{"malformed left of the client is irrelevant", "10.0.0.1:80", trust.XForwardedFor, []string{"junk, 203.0.113.7"}, proxies, "203.0.113.7"},
		{"zone refused", "10.0.0.1:80", trust.XForwardedFor, []string{"fe80::1%eth0"}, proxies, ""},
		{"wrong header ignored", "10.0.0.1:80", trust.XForwardedFor, nil, proxies, "10.0.0.1"},
		{"bad remote addr", "nonsense", trust.XForwardedFor, []string{"203.0.113.7"}, proxies, ""},
		{"remote without port", "10.0.0.1", trust.XForwardedFor, []string{"203.0.113.7"}, proxies, "203.0.113.7"},

		{"forwarded simple", "10.0.0.1:80", trust.Forwarded, []string{"for=203.0.113.7"}, proxies, "203.0.113.7"},
		{"forwarded params and case", "10.0.0.1:80", trust.Forwarded, []string{"proto=https;FOR=203.0.113.7;by=10.0.0.1"}, proxies, "203.0.113.7"},
		{"forwarded quoted v6 with port", "10.0.0.1:80", trust.Forwarded, []string{`for="[2001:db8:cafe::17]:4711"`}, proxies, "2001:db8:cafe::17"},
		{"forwarded quoted v4 with port", "10.0.0.1:80", trust.Forwarded, []string{`for="203.0.113.7:8080"`}, proxies, "203.0.113.7"},
		{"forwarded chain", "10.0.0.1:80", trust.Forwarded, []string{`for=198.51.100.1, for=203.0.113.7;proto=https, for="[2001:db8:ffff::9]"`}, proxies, "203.0.113.7"},
		{"forwarded several lines", "10.0.0.1:80", trust.Forwarded, []string{"for=198.51.100.1", "for=203.0.113.7, for=10.0.0.3"}, proxies, "203.0.113.7"},
		{"forwarded unquoted v6 accepted", "10.0.0.1:80", trust.Forwarded, []string{"for=[2001:db8::17]:4711"}, proxies, "2001:db8::17"},
		{"forwarded obfuscated client", "10.0.0.1:80", trust.Forwarded, []string{"for=_hidden"}, proxies, ""},
		{"forwarded unknown client", "10.0.0.1:80", trust.Forwarded, []string{"for=unknown, for=10.0.0.4"}, proxies, ""},
		{"forwarded obfuscated port", "10.0.0.1:80", trust.Forwarded, []string{`for="203.0.113.7:_p1"`}, proxies, "203.0.113.7"},
		{"forwarded quoted comma", "10.0.0.1:80", trust.Forwarded, []string{`for=198.51.100.1;ext="a,b;c", for=203.0.113.7`}, proxies, "203.0.113.7"},
		{"forwarded element without for", "10.0.0.1:80", trust.Forwarded, []string{"for=198.51.100.1, proto=https"}, proxies, ""},
		{"forwarded two fors in one element", "10.0.0.1:80", trust.Forwarded, []string{"for=198.51.100.1;for=203.0.113.7"}, proxies, ""},
		{"forwarded unterminated quote", "10.0.0.1:80", trust.Forwarded, []string{`for="203.0.113.7`}, proxies, ""},
		{"forwarded missing value", "10.0.0.1:80", trust.Forwarded, []string{"for="}, proxies, ""},
		{"forwarded garbage left of client", "10.0.0.1:80", trust.Forwarded, []string{`;;=x"", for=203.0.113.7`}, proxies, "203.0.113.7"},
		{"forwarded ignores xff", "10.0.0.1:80", trust.Forwarded, nil, proxies, "10.0.0.1"},
		{"forwarded bad port", "10.0.0.1:80", trust.Forwarded, []string{`for="203.0.113.7:99999999"`}, proxies, ""},
		{"forwarded v6 unbracketed port", "10.0.0.1:80", trust.Forwarded, []string{`for="[2001:db8::1]x"`}, proxies, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			name := "X-Forwarded-For"
			if tt.header == trust.Forwarded {
				name = "Forwarded"
				r.Header.Set("X-Forwarded-For", "6.6.6.6") // never read in this mode
			} else {
				r.Header.Set("Forwarded", "for=6.6.6.6") // never read in this mode
			}
			for _, v := range tt.values {
				r.Header.Add(name, v)
			}
			got := trust.ClientIP(r, tt.proxies, tt.header)
			if tt.want == "" {
				assert.False(t, got.IsValid(), "got %v", got)
				return
			}
			assert.Equal(t, netip.MustParseAddr(tt.want), got)
		})
	}
}

func TestClientIPLongChain(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:80"
	// A client pads the header with thousands of entries; the proxy appends
	// the real address, which is still found.
	r.Header.Set("X-Forwarded-For", strings.Repeat("10.0.0.9, ", 5000)+"203.0.113.7")
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), trust.ClientIP(r, proxies, trust.XForwardedFor))
	r.Header.Set("Forwarded", strings.Repeat("for=1.1.1.1, ", 5000)+"for=203.0.113.7")
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), trust.ClientIP(r, proxies, trust.Forwarded))
	// More trusted hops than are kept: the client cannot be known.
	r.Header.Set("X-Forwarded-For", "203.0.113.7, "+strings.TrimSuffix(strings.Repeat("10.0.0.9, ", 200), ", "))
	assert.False(t, trust.ClientIP(r, proxies, trust.XForwardedFor).IsValid())
}

func TestParseAgent(t *testing.T) {
	tests := []struct {
		ua, label string
	}{
		{uaFirefoxLinux, "Firefox on Linux"},
		{uaChromeLinux, "Chrome on Linux"},
		{uaFirefoxWin, "Firefox on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iOS"},
		{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "Firefox on iOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Windows"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer on Windows"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Vivaldi/7.0", "Vivaldi on Linux"},
		{"curl/8.5.0", "Unknown browser"},
		{"", "Unknown browser"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15", "Browser on Linux"},
		{"SomeBot/1.0 (Windows)", "Browser on Windows"},
		{"Firefox/1.0", "Firefox"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			assert.Equal(t, tt.label, trust.ParseAgent(tt.ua).Label())
		})
	}
	long := strings.Repeat("x", 1<<20) + " Firefox/1 (Windows)"
	assert.Equal(t, trust.Agent{Browser: "Other", OS: "Other"}, trust.ParseAgent(long), "only the start of a huge header is read")
}
