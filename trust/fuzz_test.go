package trust_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
)

// fixedManager has a fixed key and id source, so its cookies are the same
// on every run and can seed the fuzz corpus.
func fixedManager(t testing.TB) (*trust.Manager, *countingStore, twofactor.Client) {
	t.Helper()
	kr := testKeyring(t, keyring.Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, keyring.KeySize)})
	clock := storetest.NewClock(t0)
	cs := newCountingStore(store.NewMemory(clock.Now))
	m, err := trust.New(twofactor.Env{Store: cs, Keys: kr, Now: clock.Now,
		Rand: bytes.NewReader(bytes.Repeat([]byte{42}, 16)), Events: &event.Sink{Discard: true}}, trust.Config{})
	require.NoError(t, err)
	c := client("203.0.113.7", uaFirefoxLinux)
	g, err := m.Remember(context.Background(), alice, c)
	require.NoError(t, err)
	c.DeviceToken = g.Token
	return m, cs, c
}

// FuzzCookie checks that only the genuine cookie verifies, that nothing
// else costs a store call, and that no input panics.
func FuzzCookie(f *testing.F) {
	m, cs, c := fixedManager(f)
	good := c.DeviceToken
	f.Add(good)
	f.Add("")
	f.Add("v1.")
	f.Add(good[:len(good)-1])
	f.Add(good + "A")
	f.Add("v1.KioqKioqKioqKioqKioqKg.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("v1.KioqKioqKioqKioqKioqKg.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, value string) {
		before := cs.calls()
		tc := c
		tc.DeviceToken = value
		ok, err := m.Trusted(context.Background(), alice, tc)
		if err != nil {
			t.Fatalf("Trusted(%q): %v", value, err)
		}
		_, verified := m.DeviceID("alice", value)
		if value == good {
			if !ok || !verified {
				t.Fatalf("the genuine cookie was refused")
			}
			return
		}
		if ok || verified {
			t.Fatalf("forged cookie %q accepted", value)
		}
		if cs.calls() != before {
			t.Fatalf("cookie %q cost a store call", value)
		}
	})
}

// FuzzForwarded checks the forwarding-header parsers: an untrusted peer's
// headers never matter, and whatever a trusted peer sends gives either no
// address or a clean one.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7",
		"198.51.100.1, 203.0.113.7, 10.0.0.2",
		"[2001:db8::17]:4711",
		"for=203.0.113.7;proto=https",
		`for="[2001:db8:cafe::17]:4711", for=10.0.0.1`,
		`for=_hidden;by="_x", for=unknown`,
		`for="a\"b,c";ext="x;y", ,, for=203.0.113.7`,
		"fe80::1%eth0",
		"::ffff:203.0.113.7",
		`for="203.0.113.7:_port"`,
		`;=;"`,
	} {
		f.Add(s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	f.Fuzz(func(t *testing.T, value string) {
		for _, h := range []trust.ProxyHeader{trust.XForwardedFor, trust.Forwarded} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["X-Forwarded-For"] = []string{value}
			r.Header["Forwarded"] = []string{value}

			r.RemoteAddr = "198.51.100.9:1000"
			if got := trust.ClientIP(r, trusted, h); got != netip.MustParseAddr("198.51.100.9") {
				t.Fatalf("untrusted peer's %s %q changed the address to %v", h, value, got)
			}

			r.RemoteAddr = "10.0.0.1:1000"
			got := trust.ClientIP(r, trusted, h)
			if got.IsValid() && (got.Zone() != "" || got.Is4In6()) {
				t.Fatalf("%s %q gave unclean address %v", h, value, got)
			}
		}
	})
}
