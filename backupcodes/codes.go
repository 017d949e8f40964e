package backupcodes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// Alphabet is the set of characters codes are made of: Crockford's base 32
// in lower case. It leaves out i and l (read as 1), o (read as 0) and u
// (read as v), the letters most often confused with another character;
// input maps them back. Each character carries 5 bits.
const Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// bitsPerChar is log2(len(Alphabet)).
const bitsPerChar = 5

// maxInput bounds an answer before it is looked at character by character.
const maxInput = 256

// charMap maps every byte a user may type for a code character to the
// character itself, or to 0 when the byte is not part of a code. Upper case
// folds to lower case; the letters left out of the alphabet map to the
// character they are mistaken for (o to 0, i and l to 1, u to v).
var charMap = func() (m [256]byte) {
	for i := 0; i < len(Alphabet); i++ {
		c := Alphabet[i]
		m[c] = c
		if c >= 'a' && c <= 'z' {
			m[c-'a'+'A'] = c
		}
	}
	for _, p := range [][2]byte{{'o', '0'}, {'i', '1'}, {'l', '1'}, {'u', 'v'}} {
		m[p[0]] = p[1]
		m[p[0]-'a'+'A'] = p[1]
	}
	return m
}()

// separator reports whether r is ignored in input: white space, hyphens
// and dashes, and the invisible characters copying from a web page may
// bring along (what a printout, a password manager or a phone keyboard may
// put between groups).
func separator(r rune) bool {
	switch r {
	case '-', '_', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212',
		'\u200b', '\u2060', '\ufeff': // zero-width space, word joiner, byte order mark
		return true
	}
	return unicode.IsSpace(r)
}

// A kind says which group of codes a normalized code belongs to; the two
// kinds have different lengths, so the input alone tells them apart.
type kind byte

const (
	kindBackup   kind = 'b' // one of the user's set of backup codes
	kindRecovery kind = 'r' // an admin-issued recovery code
)

// layout is the shape of codes: groups of size characters.
type layout struct {
	groups int // groups of a backup code; a recovery code has one more
	size   int // characters per group
}

func (l layout) length(k kind) int {
	if k == kindRecovery {
		return (l.groups + 1) * l.size
	}
	return l.groups * l.size
}

// normalize returns the canonical form of a typed code (lower case, no
// separators, look-alikes mapped) and its kind. Anything that cannot be a
// code gives an error wrapping twofactor.ErrInvalidInput that says why
// without echoing the input.
func (l layout) normalize(s string) (string, kind, error) {
	b, k, err := l.appendNormalized(make([]byte, 0, l.length(kindRecovery)), s)
	if err != nil {
		return "", 0, err
	}
	return string(b), k, nil
}

// appendNormalized appends the canonical form of s to dst, as normalize.
func (l layout) appendNormalized(dst []byte, s string) ([]byte, kind, error) {
	if len(s) > maxInput {
		return dst, 0, invalid("code is longer than %d bytes", maxInput)
	}
	maxLen := l.length(kindRecovery)
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if m := charMap[c]; m != 0 {
				if len(dst)-start == maxLen {
					return dst[:start], 0, invalid("code is too long")
				}
				dst = append(dst, m)
				continue
			}
			if separator(rune(c)) {
				continue
			}
			return dst[:start], 0, invalid("code has a character that is not a letter or digit of a backup code")
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		if !separator(r) {
			return dst[:start], 0, invalid("code has a character that is not a letter or digit of a backup code")
		}
	}
	switch len(dst) - start {
	case l.length(kindBackup):
		return dst, kindBackup, nil
	case l.length(kindRecovery):
		return dst, kindRecovery, nil
	}
	return dst[:start], 0, invalid("code must have %d characters (or %d for a recovery code), not counting dashes and spaces",
		l.length(kindBackup), l.length(kindRecovery))
}

// format puts a dash between the groups of a canonical code.
func (l layout) format(code string) string {
	var b strings.Builder
	b.Grow(len(code) + len(code)/l.size)
	for i := 0; i < len(code); i += l.size {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+l.size, len(code))])
	}
	return b.String()
}

// random returns a canonical code of kind k drawn uniformly from the
// alphabet (crypto/rand when r is nil).
func (l layout) random(r io.Reader, k kind) (string, error) {
	return secure.String(r, Alphabet, l.length(k))
}

// hashDomain separates this package's keyed hashes from every other use of
// the server keys.
const hashDomain = "twofactor backupcodes v1"

// hashInput binds a canonical code to its kind and its user, so a code's
// hash is useless in another user's group or as the other kind: it is
// "kind NUL userID NUL code".
func hashInput(k kind, userID, code string) []byte {
	b := hashPrefix(make([]byte, 0, 2+len(userID)+1+len(code)), userID)
	b[0] = byte(k)
	return append(b, code...)
}

// hashPrefix appends the start of a hash input with a placeholder for the
// kind (byte 0, set once the kind is known).
func hashPrefix(dst []byte, userID string) []byte {
	dst = append(dst, 0, 0)
	dst = append(dst, userID...)
	return append(dst, 0)
}

// group returns the store group that holds a user's codes of kind k.
func group(k kind, userID string) string {
	if k == kindRecovery {
		return "recovery:" + userID
	}
	return "backup:" + userID
}

// storeKey is the key a hashed code is stored and looked up under.
func storeKey(hash []byte) string {
	var buf [2 * 65]byte // a key id of up to 32 bytes, a NUL and 32 bytes of HMAC, hex-encoded
	return string(hex.AppendEncode(buf[:0], hash))
}

// submittedKey returns the counter key that marks a code as submitted:
// keySubmitted, the tag of the code's group g (store.GroupTag), then the
// code's HMAC (hash without its key id), hex-encoded. With the tag a store
// that spreads keys over shards keeps the mark beside the codes, so that
// the batch that counts a submission and consumes the code is isolated
// from its twins' there too. With a user id of twofactor.MaxUserIDLen
// bytes it is 221 bytes, within store.MaxKeyLen.
func submittedKey(g string, hash []byte) string {
	mac := hash[max(len(hash)-sha256.Size, 0):]
	var buf [len(keySubmitted) + 4 + len("recovery:") + twofactor.MaxUserIDLen + 2*sha256.Size]byte
	b := append(buf[:0], keySubmitted...)
	b = append(b, store.GroupTag(g)...)
	return string(hex.AppendEncode(b, mac))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("backupcodes: %w: %s", twofactor.ErrInvalidInput, fmt.Sprintf(format, args...))
}
