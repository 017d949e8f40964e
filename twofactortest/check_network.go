package twofactortest

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// layerPosts are the unsafe routes of the layer, below its prefix; those
// of methods the Service lacks answer 404 and are passed over.
var layerPosts = []string{"send", "start", "verify", "cancel", "step-up",
	"webauthn/login/begin", "webauthn/login/finish", "webauthn/register/begin", "webauthn/register/finish",
	"settings/disable", "settings/remove", "settings/backup-codes", "settings/backup-codes/done",
	"settings/devices/revoke", "settings/devices/revoke-all",
	"settings/totp", "settings/totp/verify", "settings/totp/resend", "settings/totp/rename",
	"settings/phone", "settings/phone/verify", "settings/phone/resend",
	"settings/email", "settings/email/verify", "settings/email/resend",
	"settings/keys", "settings/keys/rename"}

// adminPosts are the unsafe routes of the administrator pages.
var adminPosts = []string{"user/reset", "user/recovery-code", "user/unlock", "user/devices/revoke", "user/devices/revoke-all"}

// crossSite are the headers of a cross-origin POST: from a browser that
// sends Fetch metadata, and from one that sends only Origin.
var crossSite = []http.Header{
	{"Sec-Fetch-Site": {"cross-site"}, "Origin": {attacker}},
	{"Sec-Fetch-Site": {""}, "Origin": {attacker}},
}

const fixCrossOrigin = "wrap the app's handler in net/http's cross-origin protection: http.NewCrossOriginProtection().Handler(mux)"

// checkCrossOrigin: every unsafe route the host mounted, its own and the
// layer's, refuses a POST from another site with 403, for a signed-in
// user with a fresh step-up (and an administrator for the administrator
// pages), before it does anything.
func (k *kit) checkCrossOrigin(t checkT) {
	u := k.newUser(t, want{word: "csrf", totp: true})
	b := k.browser()
	k.signIn(t, b, u)
	k.stepUp(t, b, u)
	probe := func(b *browser, path string, form url.Values, host bool) {
		for _, h := range crossSite {
			a := b.do(call{method: http.MethodPost, path: path, form: form, header: h, keep: true})
			switch {
			case a.status == http.StatusForbidden:
			case (a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed) && !host:
				return // not mounted: a method the Service lacks
			case a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed:
				t.Errorf("POST %s is no route of the app (%s): fix the description", path, a)
				return
			default:
				t.Errorf("a cross-origin POST %s (Origin %s, Sec-Fetch-Site %q) was not refused: %s; %s", path, attacker, h.Get("Sec-Fetch-Site"), a, fixCrossOrigin)
			}
		}
	}
	for _, p := range layerPosts {
		probe(b, k.d.Prefix+p, url.Values{}, false)
	}
	if k.d.AdminPrefix != "" {
		admin := k.newUser(t, want{word: "csrfadmin", totp: true, admin: true})
		ab := k.browser()
		k.signIn(t, ab, admin)
		for _, p := range adminPosts {
			probe(ab, k.d.AdminPrefix+p, url.Values{"id": {u.ID}, "reason": {"twofactortest"}, "identity_checked": {"on"}}, false)
		}
	}
	for _, r := range append(k.d.stepUp, k.d.unsafe...) {
		if r.method != http.MethodGet && r.method != http.MethodHead {
			probe(b, r.path, url.Values{}, true)
		}
	}
	// The login, with the right password: a page of another site must not
	// sign its visitor in, or start a second step, as someone else.
	probe(k.browser(), k.d.LoginPath, k.d.LoginForm(u.User), true)
	// The logout last: had it gone through, b would be signed out.
	probe(b, k.d.LogoutPath, url.Values{}, true)
	if !b.isSignedIn(u) {
		t.Errorf("a cross-origin POST %s signed %s out: %s", k.d.LogoutPath, u.ID, fixCrossOrigin)
	}
}

// spoofed is the client address the kit's requests claim in forwarding
// headers: in a network its browsers come from, but none of theirs.
var spoofed = netip.MustParseAddr("203.0.113.251")

// forwarding are the headers with which a client names another address.
var forwarding = http.Header{
	"X-Forwarded-For":  {spoofed.String()},
	"X-Real-Ip":        {spoofed.String()},
	"Forwarded":        {"for=" + spoofed.String()},
	"True-Client-Ip":   {spoofed.String()},
	"Cf-Connecting-Ip": {spoofed.String()},
}

// checkForwardedFor: a client that is no proxy the host trusts does not
// choose its address with X-Forwarded-For (and the like): the challenge
// and the trusted device record the connection's address. From the
// host's proxy, its header is believed.
func (k *kit) checkForwardedFor(t checkT) {
	ctx := context.Background()
	u := k.newUser(t, want{word: "xff", totp: true})
	b := k.browser()
	a := b.do(call{method: http.MethodPost, path: k.d.LoginPath, form: k.d.LoginForm(u.User), header: forwarding})
	id := b.challengeID()
	if id == "" {
		t.Fatalf("the password step of %s began no second step: %s", u.ID, a)
	}
	ch, err := k.svc.Challenge(ctx, id)
	if err != nil {
		t.Fatalf("reading the challenge of %s: %v", u.ID, err)
	}
	const fix = "believe forwarding headers only from the host's own proxies: list their addresses, and nothing wider, in trust.Config.TrustedProxies " +
		"(or twofactorhttp.Config.TrustedProxies), and drop middleware that rewrites RemoteAddr from a header"
	switch ch.IP {
	case spoofed.String():
		t.Errorf("a client at %s said it was %s in X-Forwarded-For, and the challenge records %s: anyone chooses the address the limits per client network "+
			"and the trusted devices are bound to; %s", b.ip, spoofed, ch.IP, fix)
	case b.ip.String():
	case "":
		t.Logf("the challenge records no client address")
	default:
		t.Errorf("a client at %s (which said it was %s) is recorded as %s: %s", b.ip, spoofed, ch.IP, fix)
	}
	if k.trust != nil {
		code := u.backupCode(t)
		a = b.do(call{method: http.MethodPost, path: k.d.Prefix + "verify", json: true, header: forwarding,
			form: url.Values{"method": {string(twofactor.MethodBackupCode)}, "code": {code}, "remember": {"on"}}})
		if !a.ok() {
			t.Fatalf("the kit could not sign %s in with a backup code: %s", u.ID, a)
		}
		u.used(code)
		devs, err := k.trust.List(ctx, u.ID)
		if err != nil {
			t.Fatalf("listing the trusted devices of %s: %v", u.ID, err)
		}
		for _, d := range devs {
			if bound(d.IP, spoofed) && !bound(d.IP, b.ip) {
				t.Errorf("a device trusted from %s, which said it was %s in X-Forwarded-For, is bound to %s: %s", b.ip, spoofed, d.IP, fix)
			}
		}
	}
	if p := k.d.TrustedProxy; p.IsValid() {
		c := k.browser()
		a = c.do(call{method: http.MethodPost, path: k.d.LoginPath, form: k.d.LoginForm(u.User), from: p,
			header: http.Header{"X-Forwarded-For": {c.ip.String()}}})
		if id := c.challengeID(); id == "" {
			t.Errorf("through the proxy at %s (Host.TrustedProxy), the password step of %s began no second step: %s", p, u.ID, a)
		} else if ch, err := k.svc.Challenge(ctx, id); err != nil {
			t.Errorf("reading the challenge of %s: %v", u.ID, err)
		} else if ch.IP != c.ip.String() {
			t.Errorf("the proxy at %s (Host.TrustedProxy) forwarded a client at %s in X-Forwarded-For, but the challenge records %s: "+
				"list the proxy in trust.Config.TrustedProxies with the header it writes (ProxyHeader)", p, c.ip, ch.IP)
		}
	}
}

// bound reports whether a device's binding (an address or a network)
// holds a.
func bound(binding string, a netip.Addr) bool {
	if strings.Contains(binding, "/") {
		p, err := netip.ParsePrefix(binding)
		return err == nil && p.Contains(a)
	}
	b, err := netip.ParseAddr(binding)
	return err == nil && b == a
}
