package trust

import (
	"encoding/base64"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// The device cookie is "v1.<id>.<key id>.<signature>":
//
//   - id: the record's random id, 16 bytes from crypto/rand as 22
//     characters of unpadded base64url;
//   - key id: the id of the keyring key that signed (it may itself contain
//     dots, so the fields are found by their fixed lengths, not by
//     splitting);
//   - signature: HMAC-SHA256 (keyring.Ring.Sign, domain signDomain) of the id
//     and the user id, as 43 characters of strict unpadded base64url.
//
// Because the signature covers the user id, a cookie left in a shared
// browser by one user never verifies for another, and that costs no store
// lookup either.
const (
	tokenPrefix = "v1."
	idBytes     = 16
	idLen       = 22 // base64url of idBytes
	sigLen      = 43 // base64url of 32 bytes
	maxKeyIDLen = 32
	minTokenLen = len(tokenPrefix) + idLen + 1 + 1 + 1 + sigLen
	maxTokenLen = len(tokenPrefix) + idLen + 1 + maxKeyIDLen + 1 + sigLen

	signDomain = "twofactor/trust device-token v1"
	uaDomain   = "twofactor/trust user-agent v1"
)

var sigEncoding = base64.RawURLEncoding.Strict()

// A token is a parsed device cookie whose signature is not yet checked.
type token struct {
	id, keyID, sig string
}

// parseToken checks the cookie's shape: prefix, lengths and alphabets. It
// does no cryptography and never touches the store.
func parseToken(s string) (token, bool) {
	if len(s) < minTokenLen || len(s) > maxTokenLen || !strings.HasPrefix(s, tokenPrefix) {
		return token{}, false
	}
	rest := s[len(tokenPrefix):]
	id := rest[:idLen]
	if rest[idLen] != '.' || !isBase64URL(id) {
		return token{}, false
	}
	rest = rest[idLen+1:]
	kid, sig := rest[:len(rest)-sigLen-1], rest[len(rest)-sigLen:]
	if rest[len(rest)-sigLen-1] != '.' || !validKeyID(kid) || !isBase64URL(sig) {
		return token{}, false
	}
	return token{id: id, keyID: kid, sig: sig}, true
}

func (t token) String() string {
	return tokenPrefix + t.id + "." + t.keyID + "." + t.sig
}

// base64URL marks the bytes of the unpadded base64url alphabet.
var base64URL = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if !base64URL[s[i]] {
			return false
		}
	}
	return true
}

// validKeyID mirrors the keyring's rule for key ids.
func validKeyID(s string) bool {
	if s == "" || len(s) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validDeviceID reports whether s has the shape of a device id.
func validDeviceID(s string) bool { return len(s) == idLen && isBase64URL(s) }

// signedMessage is what a device signature covers: the id and the user id,
// separated by a byte neither can hold.
func signedMessage(id, userID string) []byte {
	msg := make([]byte, 0, len(id)+1+len(userID))
	msg = append(msg, id...)
	msg = append(msg, 0)
	return append(msg, userID...)
}

// sign returns the cookie value for device id of userID.
func (m *Manager) sign(id, userID string) string {
	kid, sig := m.keys.Sign(signDomain, signedMessage(id, userID))
	return token{id: id, keyID: kid, sig: base64.RawURLEncoding.EncodeToString(sig)}.String()
}

// verify parses and checks a cookie for userID, in constant time as far as
// the signature goes. It returns the device id only when the signature is
// good. No store access.
func (m *Manager) verify(value, userID string) (string, bool) {
	if twofactor.CheckUserID(userID) != nil {
		return "", false
	}
	t, ok := parseToken(value)
	if !ok {
		return "", false
	}
	var sig [32]byte
	if n, err := sigEncoding.Decode(sig[:], []byte(t.sig)); err != nil || n != len(sig) {
		return "", false
	}
	if !m.keys.Verify(signDomain, t.keyID, signedMessage(t.id, userID), sig[:]) {
		return "", false
	}
	return t.id, true
}

// DeviceID returns the id of the device a cookie value names, when its
// signature is good for userID: a devices page uses it to mark "this
// device". It does not consult the store, so the device may have been
// revoked or expired since.
func (m *Manager) DeviceID(userID, cookieValue string) (string, bool) {
	return m.verify(cookieValue, userID)
}
