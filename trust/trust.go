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
	"github.com/twofactorkit/twofactor/internal/bind"
	"github.com/twofactorkit/twofactor/internal/errs"
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
// New validates the whole once.
//
// Given to twofactor.New as Config.Trust, the Manager needs none of Store,
// Keys, Events, Now and Rand: it takes those it was not given from the
// Service ([Manager.Bind]). Used alone, it needs at least Store and Keys.
type Config struct {
	// Store keeps device records. Zero: the Service's store.
	Store Devices

	// Keys signs device cookies and hashes exact user agents. Zero: the
	// Service's keyring (use the same one when setting it). Rotating keys
	// keeps devices trusted as long as the old key stays in the ring.
	Keys *twofactor.Keyring

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

	// Events receives device events. Zero: the Service's, else
	// slog.Default().
	Events *twofactor.Events

	// Now is the clock. Zero: the Service's, else time.Now.
	Now func() time.Time

	// Rand is the source of device ids. Zero: the Service's, else
	// crypto/rand.
	Rand io.Reader
}

// Manager issues, checks and revokes trusted devices. It implements
// twofactor.DeviceTrust and twofactor.Binder. Build it with New; it is
// safe for concurrent use once built (and, given to a Service, once
// twofactor.New has returned).
type Manager struct {
	cfg             Config // as given to New: Bind fills only what it left zero
	store           Devices
	keys            *twofactor.Keyring
	duration        time.Duration
	maxDuration     time.Duration
	sessionLifetime time.Duration
	ipBinding       IPBinding
	v4Bits, v6Bits  int
	uaBinding       UABinding
	cookieName      string
	proxies         []netip.Prefix
	proxyHeader     ProxyHeader
	events          *twofactor.Events
	now             func() time.Time
	rand            io.Reader
}

var (
	_ twofactor.DeviceTrust = (*Manager)(nil)
	_ twofactor.Binder      = (*Manager)(nil)
)

// ErrNotFound is returned by Revoke for a device that does not exist,
// has expired, or belongs to another user.
var ErrNotFound = errors.New("trust: device not found")

func configErr(format string, args ...any) error { return errs.Config("trust", format, args...) }

// New validates cfg and returns a Manager. Errors wrap twofactor.ErrConfig
// and say what to change. Store and Keys may be left zero when the Manager
// is given to twofactor.New (Config.Trust), which binds them; a Manager
// without them (neither configured nor bound) answers every call that
// needs them with an error matching twofactor.ErrConfig.
func New(cfg Config) (*Manager, error) {
	return build(cfg)
}

// Bind takes the Service's store, keyring, events, clock and randomness
// for every one of them the Manager's Config left zero (what Config sets
// wins). twofactor.New calls it for Config.Trust; a host does not. The
// Service's store must implement store.Devices.
func (m *Manager) Bind(s twofactor.Shared) error {
	cfg := m.cfg
	if cfg.Store == nil && s.Store != nil {
		st, err := bind.Store[Devices]("trust", "trust.Config.Store", s.Store, reflect.TypeFor[store.Devices]())
		if err != nil {
			return err
		}
		cfg.Store = st
	}
	bind.Parts(s, &cfg.Keys, &cfg.Events, &cfg.Now, &cfg.Rand)
	bound, err := build(cfg)
	if err != nil {
		return err
	}
	bound.cfg = m.cfg
	*m = *bound
	return nil
}

// build validates cfg and applies every default: the one place they are
// applied, for New and Bind alike.
func build(cfg Config) (*Manager, error) {
	m := &Manager{
		cfg:             cfg,
		store:           cfg.Store,
		keys:            cfg.Keys,
		duration:        cmp.Or(cfg.Duration, DefaultDuration),
		maxDuration:     cmp.Or(cfg.MaxDuration, DefaultMaxDuration),
		sessionLifetime: cmp.Or(cfg.SessionLifetime, DefaultSessionLifetime),
		ipBinding:       cfg.IPBinding,
		v4Bits:          cfg.IPv4PrefixLen,
		v6Bits:          cfg.IPv6PrefixLen,
		uaBinding:       cfg.UABinding,
		cookieName:      cfg.CookieName,
		proxyHeader:     cfg.ProxyHeader,
		events:          cfg.Events,
		now:             cfg.Now,
		rand:            cfg.Rand,
	}
	if m.v4Bits == 0 {
		m.v4Bits = DefaultIPv4PrefixLen
	}
	if m.v6Bits == 0 {
		m.v6Bits = DefaultIPv6PrefixLen
	}
	if m.cookieName == "" {
		m.cookieName = DefaultCookieName
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.events == nil {
		m.events = &twofactor.Events{Now: m.now}
	}
	switch {
	case m.maxDuration < MinDuration || m.maxDuration > CeilingDuration:
		return nil, configErr("MaxDuration %s must be between %s and %s (400 days, the longest a browser keeps a cookie)", m.maxDuration, MinDuration, CeilingDuration)
	case m.duration != SessionOnly && m.duration < MinDuration:
		return nil, configErr("Duration %s is too short: use SessionOnly, or at least %s", m.duration, MinDuration)
	case m.duration > m.maxDuration:
		return nil, configErr("Duration %s is longer than MaxDuration %s: shorten it or raise MaxDuration", m.duration, m.maxDuration)
	case m.sessionLifetime < MinDuration || m.sessionLifetime > m.maxDuration:
		return nil, configErr("SessionLifetime %s must be between %s and MaxDuration %s", m.sessionLifetime, MinDuration, m.maxDuration)
	case m.ipBinding < IPNetwork || m.ipBinding > IPNone:
		return nil, configErr("IPBinding %d is not one of IPNetwork, IPExact, IPNone", int(m.ipBinding))
	case m.uaBinding < UAFamily || m.uaBinding > UANone:
		return nil, configErr("UABinding %d is not one of UAFamily, UAExact, UANone", int(m.uaBinding))
	case m.v4Bits < 1 || m.v4Bits > 32:
		return nil, configErr("IPv4PrefixLen %d must be 1 to 32", m.v4Bits)
	case m.v6Bits < 1 || m.v6Bits > 128:
		return nil, configErr("IPv6PrefixLen %d must be 1 to 128", m.v6Bits)
	case m.proxyHeader < XForwardedFor || m.proxyHeader > Forwarded:
		return nil, configErr("ProxyHeader %d is not XForwardedFor or Forwarded", int(m.proxyHeader))
	}
	if err := (&http.Cookie{Name: m.cookieName, Value: "x"}).Valid(); err != nil {
		return nil, configErr("CookieName %q is not a valid cookie name", m.cookieName)
	}
	for i, p := range cfg.TrustedProxies {
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
		m.proxies = append(m.proxies, p.Masked())
	}
	return m, nil
}

// ready reports whether the Manager has the store and keys it needs, which
// come from Config or from the Service (Bind).
func (m *Manager) ready() error {
	switch {
	case m.store == nil:
		return configErr("no store: set Config.Store, or give the Manager to twofactor.New as Config.Trust")
	case m.keys == nil:
		return configErr("no keyring: set Config.Keys, or give the Manager to twofactor.New as Config.Trust")
	}
	return nil
}

// Duration returns how long Remember trusts a device; SessionOnly for a
// session-only trust.
func (m *Manager) Duration() time.Duration { return m.duration }

// CookieName returns the name of the device cookie.
func (m *Manager) CookieName() string { return m.cookieName }
