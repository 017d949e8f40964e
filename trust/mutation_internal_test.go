package trust

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md):
// the bounds of the forwarding headers and of the device cookie's shape.

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Exactly maxHops X-Forwarded-For entries are all kept, and a client
// behind that many trusted proxies is found; one more entry drops the
// leftmost and the client is unknown.
func TestForwardedMaxHops(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.255.0.1")
	entries := func(n int) []string {
		var es []string
		for i := range n {
			es = append(es, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
		}
		return es
	}
	h := parseXForwardedFor([]string{strings.Join(entries(maxHops), ", ")})
	assert.Len(t, h.addrs, maxHops)
	assert.False(t, h.dropped)
	assert.Equal(t, netip.MustParseAddr("10.0.0.1"), pickClient(peer, h, proxies), "the leftmost trusted hop")

	h = parseXForwardedFor([]string{strings.Join(entries(maxHops+1), ", ")})
	assert.Len(t, h.addrs, maxHops)
	assert.True(t, h.dropped)
	assert.False(t, pickClient(peer, h, proxies).IsValid(), "the client was among the dropped")
}

func TestIsTcharBounds(t *testing.T) {
	for _, c := range []byte("azAZ09!#$%&'*+-.^_`|~") {
		assert.True(t, isTchar(c), "%q", c)
	}
	for _, c := range []byte("{@[/:\"(),;<=>?\\]} \t\x7f") {
		assert.False(t, isTchar(c), "%q", c)
	}
}

func TestReadValueQuoted(t *testing.T) {
	tests := []struct {
		in, value, rest string
		ok              bool
	}{
		{`"abc";x`, "abc", ";x", true},
		{`"a\"b"`, `a"b`, "", true},
		{`"a\\"`, `a\`, "", true},
		{`"ab\`, "", "", false},
		{`"ab`, "", "", false},
		{`abc;x`, "abc", ";x", true},
		{`[2001:db8::1]:80,`, "[2001:db8::1]:80", ",", true},
		{`;x`, "", ";x", false},
	}
	for _, tt := range tests {
		value, rest, ok := readValue(tt.in)
		assert.Equal(t, tt.ok, ok, "%q", tt.in)
		assert.Equal(t, tt.value, value, "%q", tt.in)
		assert.Equal(t, tt.rest, rest, "%q", tt.in)
	}
}

// A node may be 64 bytes long, here a bracketed IPv6 address with an
// obfuscated port; one byte more is refused.
func TestParseNodeLength(t *testing.T) {
	node := "[1111:2222:3333:4444:5555:6666:7777:8888]:_" + strings.Repeat("p", 21)
	assert.Len(t, node, 64)
	assert.Equal(t, netip.MustParseAddr("1111:2222:3333:4444:5555:6666:7777:8888"), parseNode(node))
	assert.False(t, parseNode(node+"p").IsValid())
}

func TestValidPortBounds(t *testing.T) {
	for _, p := range []string{
		"0", "9", "80", "65535", "99999",
		"_a", "_z", "_A", "_Z", "_0", "_9", "_.", "__", "_-", "_hidden.port-9",
		"_" + strings.Repeat("x", 31),
	} {
		assert.True(t, validPort(p), "%q", p)
	}
	for _, p := range []string{
		"", "_", "8a", "a8", "/", ":", "123456",
		"_`", "_{", "_@", "_[", "_/", "_:", "_a%", "_a b", "_,",
		"_" + strings.Repeat("x", 32),
	} {
		assert.False(t, validPort(p), "%q", p)
	}
}

// token builds a device cookie value with key id kid.
func testToken(kid string) string {
	return tokenPrefix + strings.Repeat("A", idLen) + "." + kid + "." + strings.Repeat("s", sigLen)
}

// The shortest cookie (a one-byte key id) and the longest (a key id of
// maxKeyIDLen) parse; a byte less or more does not.
func TestParseTokenLengths(t *testing.T) {
	short := testToken("k")
	assert.Len(t, short, minTokenLen)
	tok, ok := parseToken(short)
	assert.True(t, ok)
	assert.Equal(t, "k", tok.keyID)
	_, ok = parseToken(short[:len(short)-1])
	assert.False(t, ok)

	long := testToken(strings.Repeat("k", maxKeyIDLen))
	assert.Len(t, long, maxTokenLen)
	tok, ok = parseToken(long)
	assert.True(t, ok)
	assert.Equal(t, strings.Repeat("k", maxKeyIDLen), tok.keyID)
	_, ok = parseToken(testToken(strings.Repeat("k", maxKeyIDLen+1)))
	assert.False(t, ok)
}

func TestValidKeyIDBounds(t *testing.T) {
	for _, k := range []string{"a", "z", "A", "Z", "0", "9", ".", "_", "-", "k1.2024_a-b", strings.Repeat("k", maxKeyIDLen)} {
		assert.True(t, validKeyID(k), "%q", k)
		_, ok := parseToken(testToken(k))
		assert.True(t, ok, "%q", k)
	}
	for _, k := range []string{"", "`", "{", "@", "[", "/", ":", "k,1", "k 1", "k%", "kä", strings.Repeat("k", maxKeyIDLen+1)} {
		assert.False(t, validKeyID(k), "%q", k)
	}
}
