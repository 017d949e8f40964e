package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twofactorkit/twofactor/internal/secure"
)

// ErrInvalidKey means a server key, or a value sealed or signed with one,
// is malformed or does not verify.
var ErrInvalidKey = errors.New("twofactor: invalid key")

// KeySize is the length in bytes of a server key secret.
const KeySize = 32

// A Key is a server secret with an identifier. The identifier is stored next
// to everything the key protects (hashes, ciphertexts, signatures), so keys
// can rotate: a [Ring] signs and encrypts with its first key and still
// verifies and decrypts with the others.
type Key struct {
	// ID names the key: 1 to 32 characters from [A-Za-z0-9._-].
	ID string
	// Secret is the key material, exactly KeySize bytes from a CSPRNG.
	Secret []byte
}

// String returns the key's identifier only, so a Key printed by mistake does
// not reveal its secret.
func (k Key) String() string { return "keyring.Key(" + k.ID + ")" }

// Encode returns the key as "ID:base64url(secret)", the form ParseKey reads,
// for keeping in an environment variable or a secret manager.
func (k Key) Encode() string {
	return k.ID + ":" + base64.RawURLEncoding.EncodeToString(k.Secret)
}

// GenerateKey returns a new key with the given id and a secret from
// crypto/rand.
func GenerateKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	b, err := secure.Bytes(nil, KeySize)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Secret: b}, nil
}

// ParseKey reads a key in the "ID:base64url(secret)" form written by
// [Key.Encode]. Padded and standard base64 are accepted too.
func ParseKey(s string) (Key, error) {
	id, enc, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Key{}, fmt.Errorf("%w: want ID:base64(secret)", ErrInvalidKey)
	}
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	enc = strings.TrimRight(enc, "=")
	secret, err := b64.DecodeString(enc)
	if err != nil {
		secret, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil {
		return Key{}, fmt.Errorf("%w: secret is not base64", ErrInvalidKey)
	}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("%w: secret is %d bytes, want %d", ErrInvalidKey, len(secret), KeySize)
	}
	return Key{ID: id, Secret: secret}, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > 32 {
		return fmt.Errorf("%w: id must be 1 to 32 characters", ErrInvalidKey)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: id %q has a character outside [A-Za-z0-9._-]", ErrInvalidKey, id)
		}
	}
	return nil
}

// A Ring holds the server keys. The first key is current: it makes every
// new hash, signature and ciphertext. The others only verify and decrypt, so
// a new key can be put first while data made under older keys keeps working
// until it is re-encrypted (see [Ring.Reseal]) or expires.
//
// Each key's secret is expanded with HKDF-SHA256 into separate keys for
// HMAC-SHA256 and for AES-256-GCM, so one secret is never used by two
// algorithms. A Ring is safe for concurrent use.
type Ring struct {
	keys []derivedKey
	byID map[string]*derivedKey
}

type derivedKey struct {
	id    string
	mac   []byte
	aead  cipher.AEAD
	pool  sync.Pool // of hash.Hash (HMAC-SHA256 under mac)
	idTag []byte
}

// New returns a keyring whose first key is the current one.
func New(keys ...Key) (*Ring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: a keyring needs at least one key (see GenerateKey)", ErrInvalidKey)
	}
	kr := &Ring{keys: make([]derivedKey, len(keys)), byID: make(map[string]*derivedKey, len(keys))}
	for i, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, err
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("%w: key %q is %d bytes, want %d", ErrInvalidKey, k.ID, len(k.Secret), KeySize)
		}
		if _, dup := kr.byID[k.ID]; dup {
			return nil, fmt.Errorf("%w: key id %q appears twice", ErrInvalidKey, k.ID)
		}
		macKey, err := hkdf.Key(sha256.New, k.Secret, nil, "twofactor hmac-sha256", 32)
		if err != nil {
			return nil, err
		}
		encKey, err := hkdf.Key(sha256.New, k.Secret, nil, "twofactor aes-256-gcm", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		d := &kr.keys[i]
		d.id, d.mac, d.aead = k.ID, macKey, aead
		d.idTag = append([]byte(k.ID), 0)
		d.pool.New = func() any { return hmac.New(sha256.New, d.mac) }
		kr.byID[k.ID] = d
	}
	return kr, nil
}

// CurrentKeyID returns the id of the key that makes new hashes, signatures
// and ciphertexts.
func (kr *Ring) CurrentKeyID() string { return kr.keys[0].id }

func (d *derivedKey) sum(dst []byte, domain string, data []byte) []byte {
	h := d.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(domainBytes(domain))
	h.Write(data)
	dst = h.Sum(dst)
	d.pool.Put(h)
	return dst
}

// domains holds the domains hashes were made under, as the bytes a hash
// starts with (the domain and a zero byte), so that hashing allocates no
// copy of them: the library's are a few constants. Past maxDomains
// (a caller making domains of its own) they are made per call.
var (
	domains     sync.Map // string -> []byte
	domainCount atomic.Int32
)

const maxDomains = 256

func domainBytes(domain string) []byte {
	if b, ok := domains.Load(domain); ok {
		return b.([]byte)
	}
	b := append([]byte(domain), 0)
	if domainCount.Add(1) <= maxDomains {
		if got, loaded := domains.LoadOrStore(domain, b); loaded {
			domainCount.Add(-1)
			return got.([]byte)
		}
	}
	return b
}

// Hash returns a keyed hash (HMAC-SHA256 under the current key) of data,
// separated by domain so a hash made for one purpose never matches in
// another. The result starts with the key id, so it identifies its key; it is
// what a store keeps instead of a code.
func (kr *Ring) Hash(domain string, data []byte) []byte {
	return kr.keys[0].tagged(domain, data)
}

func (d *derivedKey) tagged(domain string, data []byte) []byte {
	out := make([]byte, 0, len(d.idTag)+sha256.Size)
	out = append(out, d.idTag...)
	return d.sum(out, domain, data)
}

// HashAll returns Hash of data under every key, current key first, for
// looking up a long-lived hashed value (a backup code, say) that may have
// been stored before the last rotation.
func (kr *Ring) HashAll(domain string, data []byte) [][]byte {
	out := make([][]byte, len(kr.keys))
	for i := range kr.keys {
		out[i] = kr.keys[i].tagged(domain, data)
	}
	return out
}

// HashEarlier returns Hash of data under every key but the current one,
// newest first, and nothing for a ring of one key: the lookups of a
// long-lived hashed value after the one under Hash found nothing.
func (kr *Ring) HashEarlier(domain string, data []byte) [][]byte {
	out := make([][]byte, 0, len(kr.keys)-1)
	for i := 1; i < len(kr.keys); i++ {
		out = append(out, kr.keys[i].tagged(domain, data))
	}
	return out
}

// MatchHash reports, in constant time, whether h is the Hash of data under
// the key it names. A hash naming an unknown key never matches.
func (kr *Ring) MatchHash(domain string, data, h []byte) bool {
	i := indexByte(h, 0)
	if i < 0 {
		return false
	}
	d, ok := kr.byID[string(h[:i])]
	if !ok {
		return false
	}
	return hmac.Equal(d.tagged(domain, data), h)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Sign returns an HMAC-SHA256 signature of msg under the current key,
// separated by domain, and that key's id. Keep the id with the signature and
// pass both to [Ring.Verify].
func (kr *Ring) Sign(domain string, msg []byte) (keyID string, sig []byte) {
	d := &kr.keys[0]
	return d.id, d.sum(make([]byte, 0, sha256.Size), domain, msg)
}

// Verify reports, in constant time, whether sig is a signature of msg under
// the key named keyID. An unknown key id never verifies.
func (kr *Ring) Verify(domain, keyID string, msg, sig []byte) bool {
	d, ok := kr.byID[keyID]
	if !ok || len(sig) != sha256.Size {
		return false
	}
	var buf [sha256.Size]byte
	return hmac.Equal(d.sum(buf[:0], domain, msg), sig)
}

const sealPrefix = "v1:"

// Seal encrypts plaintext with AES-256-GCM under the current key and a random
// nonce, binding it to additionalData (for example the user id and record id,
// so a ciphertext copied to another record does not open). The result is
// text: "v1:<key id>:<base64url(nonce|ciphertext)>".
func (kr *Ring) Seal(plaintext, additionalData []byte) (string, error) {
	d := &kr.keys[0]
	n := d.aead.NonceSize()
	ct := make([]byte, n, n+len(plaintext)+d.aead.Overhead())
	if _, err := io.ReadFull(secure.Reader(nil), ct); err != nil {
		return "", fmt.Errorf("keyring: reading a nonce: %w", err)
	}
	ct = d.aead.Seal(ct, ct, plaintext, additionalData)
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(sealPrefix)+len(d.id)+1+enc.EncodedLen(len(ct)))
	out = append(append(append(out, sealPrefix...), d.id...), ':')
	return string(enc.AppendEncode(out, ct)), nil
}

// Open decrypts a value made by Seal with any key of the ring. It fails with
// an error matching [ErrInvalidKey] when the value is malformed, names an
// unknown key, or was altered or bound to other additional data.
func (kr *Ring) Open(sealed string, additionalData []byte) ([]byte, error) {
	d, ct, err := kr.parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	n := d.aead.NonceSize()
	if len(ct) < n+d.aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed value too short", ErrInvalidKey)
	}
	// In place: ct is this call's own copy.
	pt, err := d.aead.Open(ct[n:n], ct[:n], ct[n:], additionalData)
	if err != nil {
		return nil, fmt.Errorf("%w: sealed value does not open (altered, or bound to other data)", ErrInvalidKey)
	}
	return pt, nil
}

func (kr *Ring) parseSealed(sealed string) (*derivedKey, []byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, nil, fmt.Errorf("%w: sealed value has no %q prefix", ErrInvalidKey, sealPrefix)
	}
	id, enc, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: sealed value has no key id", ErrInvalidKey)
	}
	d, ok := kr.byID[id]
	if !ok {
		return nil, nil, fmt.Errorf("%w: sealed under unknown key %q", ErrInvalidKey, id)
	}
	ct, err := b64.DecodeString(enc)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: sealed value is not base64url", ErrInvalidKey)
	}
	return d, ct, nil
}

// SealedWithCurrent reports whether sealed was made under the current key.
func (kr *Ring) SealedWithCurrent(sealed string) bool {
	d, _, err := kr.parseSealed(sealed)
	return err == nil && d == &kr.keys[0]
}

// Reseal re-encrypts a sealed value under the current key. It returns the
// value unchanged (and changed=false) when it already uses the current key.
func (kr *Ring) Reseal(sealed string, additionalData []byte) (out string, changed bool, err error) {
	if kr.SealedWithCurrent(sealed) {
		return sealed, false, nil
	}
	pt, err := kr.Open(sealed, additionalData)
	if err != nil {
		return "", false, err
	}
	out, err = kr.Seal(pt, additionalData)
	clear(pt)
	return out, err == nil, err
}

// b64 decodes unpadded base64url strictly: one spelling per value, so a
// token altered in its padding bits is rejected like any other change.
var b64 = base64.RawURLEncoding.Strict()
