package trust

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/twofactorkit/twofactor"
)

// Client describes the request for the twofactor.Service and for Trusted:
// the client address (ClientIP with the configured trusted proxies), the
// User-Agent and the device cookie, if any.
func (m *Manager) Client(r *http.Request) twofactor.Client {
	c := twofactor.Client{
		IP:        ClientIP(r, m.proxies, m.proxyHeader),
		UserAgent: r.UserAgent(),
	}
	for _, ck := range r.CookiesNamed(m.cookieName) {
		if _, ok := parseToken(ck.Value); ok {
			c.DeviceToken = ck.Value
			break
		}
	}
	return c
}

// SetCookie writes the device cookie for g: the configured name (by
// default "__Host-tf_device"), Path=/, HttpOnly, Secure, SameSite=Lax, and
// Max-Age and Expires matching the record. A session-only grant (zero
// ExpiresAt) gets neither, so the browser drops it when it closes. A grant
// without a token writes nothing.
//
// Secure cookies need HTTPS; browsers also accept them from
// http://localhost during development.
func (m *Manager) SetCookie(w http.ResponseWriter, g twofactor.DeviceGrant) {
	if g.Token == "" {
		return
	}
	c := m.cookie(g.Token)
	if !g.ExpiresAt.IsZero() {
		left := g.ExpiresAt.Sub(m.now()) / time.Second
		if left < 1 {
			return // already over: no point trusting
		}
		c.MaxAge = int(left)
		c.Expires = g.ExpiresAt.UTC()
	}
	http.SetCookie(w, c)
}

// ClearCookie tells the browser to drop the device cookie (on sign-out
// from a device the user no longer trusts, or after revoking it).
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	c := m.cookie("")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

func (m *Manager) cookie(value string) *http.Cookie {
	return &http.Cookie{
		Name:     m.cookieName,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
}

// ClientIP returns the address of the client that made r.
//
// By default (no trusted proxies) it is the connection's address,
// r.RemoteAddr, and forwarding headers are ignored: any client can write
// them. When the connection comes from one of trustedProxies, the header
// named by h is read right to left, skipping addresses of trusted proxies,
// and the first address that is not a trusted proxy is the client. An
// unparsable or obfuscated entry ("unknown", "_hidden") where the client
// should be gives the zero Addr (unknown), as does an unreadable
// RemoteAddr. When every entry is a trusted proxy, the leftmost is the
// client. IPv4-mapped IPv6 addresses are returned as IPv4.
func ClientIP(r *http.Request, trustedProxies []netip.Prefix, h ProxyHeader) netip.Addr {
	peer := parseRemoteAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trustedProxies) {
		return peer
	}
	var hs hops
	switch h {
	case Forwarded:
		hs = parseForwarded(r.Header.Values("Forwarded"))
	default:
		hs = parseXForwardedFor(r.Header.Values("X-Forwarded-For"))
	}
	return pickClient(peer, hs, trustedProxies)
}

func parseRemoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return clean(ap.Addr())
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return clean(a)
	}
	return netip.Addr{}
}

// clean unmaps IPv4-in-IPv6 and refuses zoned addresses, which name a
// local interface and cannot identify a remote client.
func clean(a netip.Addr) netip.Addr {
	if a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// pickClient walks the hops right to left past trusted proxies.
func pickClient(peer netip.Addr, hs hops, proxies []netip.Prefix) netip.Addr {
	last := peer
	for i := len(hs.addrs) - 1; i >= 0; i-- {
		a := hs.addrs[i]
		if !a.IsValid() {
			return netip.Addr{}
		}
		if !isTrusted(a, proxies) {
			return a
		}
		last = a
	}
	if hs.dropped {
		// Every hop kept was a trusted proxy and older ones were dropped:
		// the client is somewhere in what was dropped.
		return netip.Addr{}
	}
	return last
}
