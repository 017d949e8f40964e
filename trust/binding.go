package trust

import (
	"encoding/base64"
	"net/netip"
	"strings"
)

// How a record's IP and UserAgent fields are written:
//
//	IP:        ""                  no binding
//	           "203.0.113.7"       IPExact
//	           "203.0.113.0/24"    IPNetwork
//	UserAgent: ""                  no binding
//	           "f:Firefox/Linux"   UAFamily
//	           "h:<base64url>"     UAExact: keyring.Ring.Hash of the whole header
//
// A record is checked against the binding it was issued with, which must be
// at least as strict as the current configuration: after an administrator
// tightens a binding, devices trusted under the looser one are revoked
// (reason "binding_changed") rather than checked less than configured.

const (
	uaFamilyPrefix = "f:"
	uaHashPrefix   = "h:"
)

// verdict is the outcome of checking one binding.
type verdict int

const (
	match   verdict = iota
	differs         // the environment changed
	looser          // the record was issued under a looser binding than configured
)

// ipValue returns what a new record stores for addr, or ok=false when the
// binding needs an address and addr is unknown.
func (m *Manager) ipValue(addr netip.Addr) (string, bool) {
	if m.ipBinding == IPNone {
		return "", true
	}
	if !addr.IsValid() {
		return "", false
	}
	addr = addr.Unmap().WithZone("")
	if m.ipBinding == IPExact {
		return addr.String(), true
	}
	return netip.PrefixFrom(addr, m.bitsFor(addr)).Masked().String(), true
}

func (m *Manager) bitsFor(addr netip.Addr) int {
	if addr.Is4() {
		return m.v4Bits
	}
	return m.v6Bits
}

// checkIP compares a record's IP binding with the client address.
func (m *Manager) checkIP(bound string, addr netip.Addr) verdict {
	if bound == "" {
		if m.ipBinding == IPNone {
			return match
		}
		return looser
	}
	addr = addr.Unmap().WithZone("")
	if !strings.Contains(bound, "/") {
		want, err := netip.ParseAddr(bound)
		if err != nil {
			return looser // unreadable: treat as an unknown, weaker binding
		}
		if addr != want {
			return differs
		}
		return match
	}
	p, err := netip.ParsePrefix(bound)
	if err != nil {
		return looser
	}
	switch m.ipBinding {
	case IPExact:
		if p.Bits() != p.Addr().BitLen() {
			return looser
		}
	case IPNetwork:
		if p.Bits() < m.bitsFor(p.Addr()) {
			return looser
		}
	}
	if !addr.IsValid() || !p.Contains(addr) {
		return differs
	}
	return match
}

func familyValue(ua string) string {
	a := ParseAgent(ua)
	return uaFamilyPrefix + a.Browser + "/" + a.OS
}

// uaValue returns what a new record stores for the user agent.
func (m *Manager) uaValue(ua string) string {
	switch m.uaBinding {
	case UAExact:
		return uaHashPrefix + base64.RawURLEncoding.EncodeToString(m.keys.Hash(uaDomain, []byte(ua)))
	case UAFamily:
		return familyValue(ua)
	}
	return ""
}

// checkUA compares a record's user-agent binding with the client's.
func (m *Manager) checkUA(bound, ua string) verdict {
	switch {
	case bound == "":
		if m.uaBinding == UANone {
			return match
		}
		return looser
	case strings.HasPrefix(bound, uaHashPrefix):
		h, err := base64.RawURLEncoding.DecodeString(bound[len(uaHashPrefix):])
		if err != nil {
			return looser
		}
		if !m.keys.MatchHash(uaDomain, []byte(ua), h) {
			return differs
		}
		return match
	case strings.HasPrefix(bound, uaFamilyPrefix):
		if m.uaBinding == UAExact {
			return looser
		}
		if bound != familyValue(ua) {
			return differs
		}
		return match
	}
	return looser
}
