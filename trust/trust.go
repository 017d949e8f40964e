package trust

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Trust durations to offer users or to choose as the default: until the
// browser closes, a day, a week, 30 days, 90 days. Any other duration up
// to Config.MaxDuration works too.
const (
	// SessionOnly trusts the device until the browser closes: the cookie
	// has no Max-Age, and the record still expires after
	// Config.SessionLifetime (24 hours by default), so a browser that is
	// never closed does not stay trusted forever.
	SessionOnly time.Duration = -1
	Day         time.Duration = 24 * time.Hour
	Week        time.Duration = 7 * Day
	Month       time.Duration = 30 * Day // the default
	Quarter     time.Duration = 90 * Day
)

// Defaults and bounds applied by New.
const (
	DefaultDuration        = Month
	DefaultMaxDuration     = Quarter
	DefaultSessionLifetime = Day
	DefaultCookieName      = "__Host-tf_device"
	DefaultIPv4PrefixLen   = 24
	DefaultIPv6PrefixLen   = 64

	// MinDuration is the shortest trust New accepts; shorter is a typo.
	MinDuration = time.Minute
	// CeilingDuration bounds MaxDuration: browsers cap a cookie's lifetime
	// at 400 days, so longer trust would be a promise the cookie cannot
	// keep.
	CeilingDuration = 400 * Day
)

// IPBinding says how a trusted device is tied to the client's IP address.
type IPBinding int

// IP binding modes. The zero value is IPNetwork.
const (
	// IPNetwork binds the device to the client's network: the /24 of an
	// IPv4 address, the /64 of an IPv6 address (Config.IPv4PrefixLen,
	// Config.IPv6PrefixLen). A new address from the same provider's network
	// keeps the trust; another network asks again.
	IPNetwork IPBinding = iota
	// IPExact binds the device to the exact address. Users whose address
	// changes often (mobile networks, home providers that rotate
	// addresses) are asked for their second factor again at every change.
	IPExact
	// IPNone does not look at the address at all. It loosens security: a
	// stolen cookie works from anywhere until it expires.
	IPNone
)

func (b IPBinding) String() string {
	switch b {
	case IPNetwork:
		return "network"
	case IPExact:
		return "exact"
	case IPNone:
		return "none"
	}
	return fmt.Sprintf("IPBinding(%d)", int(b))
}

// UABinding says how a trusted device is tied to the client's user agent.
type UABinding int

// User-agent binding modes. The zero value is UAFamily.
const (
	// UAFamily binds the device to the browser family and operating system
	// ("Firefox on Linux"), so browser updates keep the trust but another
	// browser asks again.
	UAFamily UABinding = iota
	// UAExact binds the device to the exact User-Agent string (kept as a
	// keyed hash). Every browser update asks again.
	UAExact
	// UANone does not look at the user agent. It loosens security.
	UANone
)

func (b UABinding) String() string {
	switch b {
	case UAFamily:
		return "family"
	case UAExact:
		return "exact"
	case UANone:
		return "none"
	}
	return fmt.Sprintf("UABinding(%d)", int(b))
}

// ProxyHeader names the header a trusted reverse proxy writes the client
// address into. Read only one: a proxy that maintains X-Forwarded-For
// passes a client's own Forwarded header through untouched, so believing
// both would let a client choose its address.
type ProxyHeader int

// Proxy headers. The zero value is XForwardedFor.
const (
	XForwardedFor ProxyHeader = iota // X-Forwarded-For: client, proxy1, proxy2
	Forwarded                        // RFC 7239 Forwarded: for=client, for=proxy1
)

func (h ProxyHeader) String() string {
	switch h {
	case XForwardedFor:
		return "X-Forwarded-For"
	case Forwarded:
		return "Forwarded"
	}
	return fmt.Sprintf("ProxyHeader(%d)", int(h))
}

// Devices is the storage a Manager needs; every store of the module
// implements it.
type Devices = store.Devices

// DeviceToucher is the optional store ability the Manager uses to record
// that a device was seen without rewriting its record; when the store lacks
// it, the Manager rewrites the record with PutDevice, which can bring back a
// record deleted by a concurrent revocation (see the package documentation).
// Every store of this module has it.
type DeviceToucher = store.DeviceToucher

// Config configures a Manager. Zero fields take the documented defaults;
// New validates the whole once. The store, the keyring, the events, the
// clock and the randomness come from the twofactor.Env the Manager is
// built with.
//
// A Config is a twofactor.TrustConfig: give it to twofactor.Config.Trust
// and twofactor.New builds the Manager with the Service's Env
// (svc.Trust() returns it).
type Config struct {
	// Duration is how long a device stays trusted: SessionOnly, Day, Week,
	// Month, Quarter or any duration from MinDuration to MaxDuration. Zero
	// means Month (30 days). Trust does not slide: it ends Duration after
	// the second factor, however often the device is used.
	Duration time.Duration

	// MaxDuration bounds Duration and RememberFor. Zero means 90 days; at
	// most CeilingDuration (400 days).
	MaxDuration time.Duration

	// SessionLifetime is how long the record of a SessionOnly device lives
	// (the cookie itself dies with the browser). Zero means 24 hours; at
	// most MaxDuration.
	SessionLifetime time.Duration

	// IPBinding ties a device to the client address. Zero is IPNetwork.
	IPBinding IPBinding
	// IPv4PrefixLen and IPv6PrefixLen are the network sizes for
	// IPNetwork. Zero means 24 and 64.
	IPv4PrefixLen, IPv6PrefixLen int

	// UABinding ties a device to the user agent. Zero is UAFamily.
	UABinding UABinding

	// CookieName is the cookie's name. Empty means "__Host-tf_device"; the
	// __Host- prefix makes browsers refuse the cookie unless it is Secure,
	// has Path=/ and no Domain, so a sibling subdomain cannot plant one.
	CookieName string

	// TrustedProxies lists the reverse proxies whose ProxyHeader is
	// believed. Nil means none: the client address is the connection's
	// address, and forwarding headers are ignored.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header the trusted proxies write. Zero is
	// X-Forwarded-For.
	ProxyHeader ProxyHeader
}

var _ twofactor.TrustConfig = Config{}

// NewTrust builds the Manager with env: twofactor.New calls it for
// Config.Trust.
func (c Config) NewTrust(env twofactor.Env) (twofactor.DeviceTrust, error) {
	m, err := New(env, c)
	if err != nil {
		return nil, err // a nil interface, not a nil *Manager in one
	}
	return m, nil
}

// Manager issues, checks and revokes trusted devices. It implements
// twofactor.DeviceTrust. Build it with New, or get the one twofactor.New
// built with svc.Trust(); it is safe for concurrent use.
//
// The Env's keyring signs device cookies and hashes exact user agents:
// rotating keys keeps devices trusted as long as the old key stays in the
// ring.
type Manager struct {
	store           Devices
	keys            *keyring.Ring
	duration        time.Duration
	maxDuration     time.Duration
	sessionLifetime time.Duration
	ipBinding       IPBinding
	v4Bits, v6Bits  int
	uaBinding       UABinding
	cookieName      string
	proxies         []netip.Prefix
	proxyHeader     ProxyHeader
	events          *event.Sink
	now             func() time.Time
	rand            io.Reader
}

var _ twofactor.DeviceTrust = (*Manager)(nil)

// ErrNotFound is returned by Revoke for a device that does not exist,
// has expired, or belongs to another user.
var ErrNotFound = errors.New("trust: device not found")

func configErr(format string, args ...any) error { return errs.Config("trust", format, args...) }

// New validates cfg and returns a Manager built with env's store, keyring,
// events, clock and randomness. The store must implement store.Devices.
// Errors wrap twofactor.ErrConfig and say what to change: a nil Env.Store
// or Env.Keys, a store without store.Devices, or a setting out of range.
func New(env twofactor.Env, cfg Config) (*Manager, error) {
	st, env, err := errs.Store[Devices]("trust", env, reflect.TypeFor[store.Devices]())
	if err != nil {
		return nil, err
	}
	m := &Manager{
		store:           st,
		keys:            env.Keys,
		duration:        cmp.Or(cfg.Duration, DefaultDuration),
		maxDuration:     cmp.Or(cfg.MaxDuration, DefaultMaxDuration),
		sessionLifetime: cmp.Or(cfg.SessionLifetime, DefaultSessionLifetime),
		ipBinding:       cfg.IPBinding,
		v4Bits:          cmp.Or(cfg.IPv4PrefixLen, DefaultIPv4PrefixLen),
		v6Bits:          cmp.Or(cfg.IPv6PrefixLen, DefaultIPv6PrefixLen),
		uaBinding:       cfg.UABinding,
		cookieName:      cmp.Or(cfg.CookieName, DefaultCookieName),
		proxyHeader:     cfg.ProxyHeader,
		events:          env.Events,
		now:             env.Now,
		rand:            env.Rand,
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	if m.proxies, err = checkProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	return m, nil
}

// check validates the settings of a Manager with its defaults applied.
func (m *Manager) check() error {
	switch {
	case m.maxDuration < MinDuration || m.maxDuration > CeilingDuration:
		return configErr("MaxDuration %s must be between %s and %s (400 days, the longest a browser keeps a cookie)", m.maxDuration, MinDuration, CeilingDuration)
	case m.duration != SessionOnly && m.duration < MinDuration:
		return configErr("Duration %s is too short: use SessionOnly, or at least %s", m.duration, MinDuration)
	case m.duration > m.maxDuration:
		return configErr("Duration %s is longer than MaxDuration %s: shorten it or raise MaxDuration", m.duration, m.maxDuration)
	case m.sessionLifetime < MinDuration || m.sessionLifetime > m.maxDuration:
		return configErr("SessionLifetime %s must be between %s and MaxDuration %s", m.sessionLifetime, MinDuration, m.maxDuration)
	case m.ipBinding < IPNetwork || m.ipBinding > IPNone:
		return configErr("IPBinding %d is not one of IPNetwork, IPExact, IPNone", int(m.ipBinding))
	case m.uaBinding < UAFamily || m.uaBinding > UANone:
		return configErr("UABinding %d is not one of UAFamily, UAExact, UANone", int(m.uaBinding))
	case m.v4Bits < 1 || m.v4Bits > 32:
		return configErr("IPv4PrefixLen %d must be 1 to 32", m.v4Bits)
	case m.v6Bits < 1 || m.v6Bits > 128:
		return configErr("IPv6PrefixLen %d must be 1 to 128", m.v6Bits)
	case m.proxyHeader < XForwardedFor || m.proxyHeader > Forwarded:
		return configErr("ProxyHeader %d is not XForwardedFor or Forwarded", int(m.proxyHeader))
	}
	if err := (&http.Cookie{Name: m.cookieName, Value: "x"}).Valid(); err != nil {
		return configErr("CookieName %q is not a valid cookie name", m.cookieName)
	}
	return nil
}

// checkProxies validates Config.TrustedProxies and returns them masked,
// IPv4-mapped prefixes written as IPv4.
func checkProxies(ps []netip.Prefix) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, p := range ps {
		if !p.IsValid() {
			return nil, configErr("TrustedProxies[%d] is not a valid prefix (write it like 10.0.0.0/8 or 192.0.2.7/32)", i)
		}
		if p.Addr().Zone() != "" {
			return nil, configErr("TrustedProxies[%d] %s has a zone; drop it", i, p)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, configErr("TrustedProxies[%d] %s mixes IPv4-mapped and IPv6 space; write the IPv4 prefix", i, p)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Duration returns how long Remember trusts a device; SessionOnly for a
// session-only trust.
func (m *Manager) Duration() time.Duration { return m.duration }

// CookieName returns the name of the device cookie.
func (m *Manager) CookieName() string { return m.cookieName }
