package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"time"
)

// usersFile is <data>/load-users.json, which the web app writes when
// $TWOFACTOR_LOAD_USERS seeds its load-test users (examples/webapp's
// loadusers.go).
type usersFile struct {
	Password   string `json:"password"`
	TOTPPeriod int    `json:"totp_period"`
	TOTPDigits int    `json:"totp_digits"`
	Users      []struct {
		ID         string `json:"id"`
		Login      string `json:"login"`
		Email      string `json:"email"`
		TOTPSecret string `json:"totp_secret"`
		TOTPStep   int64  `json:"totp_step"`
	} `json:"users"`
}

// Email caps of the web app (emailcode's defaults): codes per user per
// hour, whether sent or refused.
const (
	emailCapPerUser = 10
	emailCapWindow  = time.Hour
)

// user is one load-test user and what the generator knows of it: its
// factors, the last TOTP step it used, the email codes it was sent, its
// trusted-device cookie.
type user struct {
	k        int // from 1
	login    string
	email    string
	secret   string // TOTP secret, base32; "" for email codes only
	ua       string // the browser it signs in from, always the same
	addrBase netip.Addr

	// Guarded by pool.mu, or owned by the login that took the user.
	busy     bool
	lastStep int64       // the last TOTP step used
	sends    []time.Time // email codes asked for within the cap's window
	device   string      // the trusted-device cookie; "" for none
	lastCode string      // the last email code read
}

// browsers are the user agents of the users, one each.
var browsers = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}

// v4Docs are the IPv4 documentation ranges (RFC 5737).
var v4Docs = [3][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}

// clientBase is the k-th user's address (k from 1), in the documentation
// ranges: the first 759 get an IPv4 address of their own (RFC 5737, hosts
// 1 to 253 of each /24), the others a /64 of their own in 2001:db8::/32
// (RFC 3849), whose host part clientAddr varies per sign-in. Each user
// is its own client network, as the web app counts them (an IPv4 address,
// an IPv6 /64), so per-network limits never add up across users.
func clientBase(k int) netip.Addr {
	if k >= 1 && k <= 3*253 {
		r := v4Docs[(k-1)/253]
		return netip.AddrFrom4([4]byte{r[0], r[1], r[2], byte((k-1)%253 + 1)})
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4], b[5], b[6], b[7] = byte(k>>24), byte(k>>16), byte(k>>8), byte(k)
	b[15] = 1
	return netip.AddrFrom16(b)
}

// clientAddr is the address u signs in from this time: its IPv4 address,
// or a random host in its IPv6 /64 (as privacy addresses change).
func clientAddr(base netip.Addr, rng *rand.Rand) netip.Addr {
	if base.Is4() {
		return base
	}
	b := base.As16()
	for i := 8; i < 16; i++ {
		b[i] = byte(rng.Uint32())
	}
	return netip.AddrFrom16(b)
}

// pool lends users to logins, one login at a time per user.
type pool struct {
	mu      sync.Mutex
	totp    []*user // with an authenticator app
	email   []*user // with email codes only
	devices []*user // who have had a trusted-device cookie (some may have lost it)
	period  int64   // TOTP step, seconds
	digits  int
}

func readUsers(path string) (*pool, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var f usersFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if f.TOTPPeriod <= 0 || f.TOTPDigits <= 0 || f.Password == "" {
		return nil, "", fmt.Errorf("%s: no password or TOTP parameters", path)
	}
	p := &pool{period: int64(f.TOTPPeriod), digits: f.TOTPDigits}
	for i, fu := range f.Users {
		u := &user{k: i + 1, login: fu.Login, email: fu.Email, secret: fu.TOTPSecret, lastStep: fu.TOTPStep,
			ua: browsers[i%len(browsers)], addrBase: clientBase(i + 1)}
		if u.secret != "" {
			p.totp = append(p.totp, u)
		} else {
			p.email = append(p.email, u)
		}
	}
	if len(p.totp) == 0 || len(p.email) == 0 {
		return nil, "", fmt.Errorf("%s: want users with an authenticator app and users with email codes", path)
	}
	return p, f.Password, nil
}

// step is the TOTP time step of t.
func (p *pool) step(t time.Time) int64 { return t.Unix() / p.period }

// sendsLeft is how many email codes u may still ask for within the cap's
// window, forgetting older ones. Call with p.mu held.
func (u *user) sendsLeft(now time.Time) int {
	i := 0
	for i < len(u.sends) && now.Sub(u.sends[i]) >= emailCapWindow {
		i++
	}
	u.sends = u.sends[i:]
	return emailCapPerUser - len(u.sends)
}

// sent records an email code asked for (sent or refused: both count on the
// app's caps).
func (p *pool) sent(u *user, at time.Time) {
	p.mu.Lock()
	u.sends = append(u.sends, at)
	p.mu.Unlock()
}

// probes is how many users take tries at random before giving up.
const probes = 64

// take lends a free user of the kind to a login, or nil when it finds
// none: a TOTP user whose last step leaves it a code (preferring those
// for which the current step's is unused), a user with email budget left
// for a sign-in with a resend and a replay, a user with a trusted device.
func (p *pool) take(kind string, now time.Time, rng *rand.Rand) *user {
	p.mu.Lock()
	defer p.mu.Unlock()
	var from []*user
	switch kind {
	case kindTOTP, kindTOTPEmail:
		from = p.totp
	case kindEmail:
		from = p.email
	case kindTrusted:
		from = p.devices
	}
	if len(from) == 0 {
		return nil
	}
	cur := p.step(now)
	for pass := range 2 {
		for range probes {
			u := from[rng.IntN(len(from))]
			if u.busy {
				continue
			}
			switch kind {
			case kindTOTP:
				// The current step's code, or on the second pass the next
				// step's (accepted: one step of skew).
				if u.lastStep >= cur+int64(pass) || u.sendsLeft(now) < 2 {
					continue
				}
			case kindEmail, kindTOTPEmail:
				if u.sendsLeft(now) < 4 {
					continue
				}
			case kindTrusted:
				if u.device == "" {
					continue
				}
			}
			u.busy = true
			return u
		}
	}
	return nil
}

func (p *pool) release(u *user) {
	p.mu.Lock()
	u.busy = false
	p.mu.Unlock()
}

// trusted keeps u's trusted-device cookie ("" drops it).
func (p *pool) trusted(u *user, cookie string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u.device == "" && cookie != "" {
		p.devices = append(p.devices, u)
	}
	u.device = cookie
}

// hasDevices says whether some user has a trusted device.
func (p *pool) hasDevices() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.devices) > 0
}
