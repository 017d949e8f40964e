package trust

import (
	"net/netip"
	"strings"
)

// maxHops is how many of the rightmost forwarding entries are kept. The
// client is found walking right to left, so entries a client prepends to
// make the header long are the ones dropped.
const maxHops = 64

// hops are the addresses of a forwarding header, left (client) to right
// (nearest proxy). An entry that is not a usable address (obfuscated,
// "unknown", malformed) is the zero Addr.
type hops struct {
	addrs   []netip.Addr
	dropped bool // entries left of addrs were dropped (more than maxHops)
}

func (h *hops) add(a netip.Addr) {
	if len(h.addrs) == 2*maxHops {
		n := copy(h.addrs, h.addrs[maxHops:])
		h.addrs = h.addrs[:n]
		h.dropped = true
	}
	h.addrs = append(h.addrs, a)
}

func (h *hops) trim() {
	if len(h.addrs) > maxHops {
		h.addrs = h.addrs[len(h.addrs)-maxHops:]
		h.dropped = true
	}
}

// parseXForwardedFor reads "X-Forwarded-For: client, proxy1, proxy2" over
// every header line, in order.
func parseXForwardedFor(values []string) hops {
	var h hops
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			entry = strings.Trim(entry, " \t")
			if entry == "" {
				continue // empty list elements are allowed and mean nothing
			}
			h.add(parseNode(strings.Trim(entry, `"`)))
		}
	}
	h.trim()
	return h
}

// parseForwarded reads RFC 7239 "Forwarded" header lines: comma-separated
// elements of semicolon-separated name=value pairs, values being tokens or
// quoted strings. Each element gives one hop, its "for" parameter; an
// element without exactly one readable "for" is an unknown hop.
func parseForwarded(values []string) hops {
	var h hops
	for _, v := range values {
		for len(v) > 0 {
			var a netip.Addr
			var empty bool
			a, empty, v = parseElement(v)
			if !empty {
				h.add(a)
			}
		}
	}
	h.trim()
	return h
}

// parseElement reads one forwarded-element from s and returns its "for"
// address, whether the element was empty, and the rest of s after the
// comma that ends it.
func parseElement(s string) (addr netip.Addr, empty bool, rest string) {
	empty = true
	bad := false
	fors := 0
	var forValue string
	for {
		s = trimOWS(s)
		if s == "" {
			return finish(forValue, fors, bad), empty, ""
		}
		if s[0] == ',' {
			return finish(forValue, fors, bad), empty, s[1:]
		}
		if s[0] == ';' {
			s = s[1:]
			continue
		}
		empty = false
		// name
		i := 0
		for i < len(s) && isTchar(s[i]) {
			i++
		}
		name := s[:i]
		s = s[i:]
		if name == "" || s == "" || s[0] != '=' {
			bad = true
			s = skipPair(s)
			continue
		}
		s = s[1:]
		var value string
		var ok bool
		value, s, ok = readValue(s)
		if !ok {
			bad = true
			s = skipPair(s)
			continue
		}
		if strings.EqualFold(name, "for") {
			fors++
			forValue = value
		}
		s = trimOWS(s)
		if s != "" && s[0] != ';' && s[0] != ',' {
			bad = true
			s = skipPair(s)
		}
	}
}

func finish(forValue string, fors int, bad bool) netip.Addr {
	if bad || fors != 1 {
		return netip.Addr{}
	}
	return parseNode(forValue)
}

// readValue reads a token or a quoted string.
func readValue(s string) (value, rest string, ok bool) {
	if s != "" && s[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '"':
				return b.String(), s[i+1:], true
			case '\\':
				if i+1 == len(s) {
					return "", "", false
				}
				i++
				b.WriteByte(s[i])
			default:
				b.WriteByte(c)
			}
		}
		return "", "", false // unterminated
	}
	// RFC 7239 wants IPv6 nodes quoted; some proxies write them bare, so
	// brackets and colons are accepted in an unquoted value too.
	i := 0
	for i < len(s) && (isTchar(s[i]) || s[i] == '[' || s[i] == ']' || s[i] == ':') {
		i++
	}
	if i == 0 {
		return "", s, false
	}
	return s[:i], s[i:], true
}

// skipPair moves past the rest of a malformed pair, up to the next ';' or
// ',' outside a quoted string.
func skipPair(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ';' || c == ','):
			return s[i:]
		}
	}
	return ""
}

func trimOWS(s string) string { return strings.TrimLeft(s, " \t") }

// isTchar reports whether c may appear in an RFC 7230 token.
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseNode reads a node: "192.0.2.43", "192.0.2.43:4711",
// "[2001:db8::17]", "[2001:db8::17]:4711", or a bare IPv6 address as some
// proxies write in X-Forwarded-For. "unknown", obfuscated identifiers
// ("_hidden") and anything else give the zero Addr.
func parseNode(s string) netip.Addr {
	if s == "" || len(s) > 64 {
		return netip.Addr{}
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}
		}
		return clean(a)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return clean(a)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !validPort(s[i+1:]) {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil || !a.Is4() {
		return netip.Addr{}
	}
	return a
}

// validPort accepts a decimal port or an RFC 7239 obfuscated port.
func validPort(p string) bool {
	if p == "" || len(p) > 32 {
		return false
	}
	if p[0] == '_' {
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return len(p) > 1
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
