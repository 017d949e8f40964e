package twofactor

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/internal/secure"
)

// Store keys of the Service. Every key is a short prefix and a fixed-length
// key or a user id of at most MaxUserIDLen bytes, so each fits
// store.MaxKeyLen.
const (
	keyAttempts     = "tf:att:"  // counter: answers to one challenge, by the challenge's key
	keyDone         = "tf:done:" // counter: 1 once a challenge is completed or cancelled, by its key
	keyUserFail     = "tf:fail:" // counter: a user's wrong answers in a row
	keyIP           = "tf:ip:"   // counter: answers from one client network, keyed by its keyed hash
	keyProofsBefore = "tf:pnb:"  // state: proofs and challenges issued before this time are void
)

// challengeKeyBytes is the entropy of a challenge's key: 256 bits.
const challengeKeyBytes = 32

// challengeKeyLen is the length of a challenge's key in unpadded
// base64url.
const challengeKeyLen = 43

// maxChallengeIDLen bounds a challenge id: its key, and a sealed record
// of a user whose every field is at its longest.
const maxChallengeIDLen = 4096

// A challenge is kept by its holder, not by the store: its id is its key
// (challengeKeyLen characters of unpadded base64url, from 32 random
// bytes), a '.', and the challenge itself sealed with the keyring
// (AES-256-GCM, with challengeAD and the key as the additional data, so
// an id altered anywhere does not open, and its record holds no personal
// data a reader of the id could see). Beginning a challenge writes
// nothing; what the store keeps is what changes as it is used, under its
// key: its answers (keyAttempts), whether it was completed or cancelled
// (keyDone, a counter that one call takes from 0 to 1), and, per user,
// the time before which every challenge is void (keyProofsBefore, written
// when the password changes and on an administrator's reset).
//
// The sealed record is, in order: the user id, the purpose, the methods
// offered, when it was made and expires (Unix nanoseconds, varint), how
// the first step was done, the user's name, display name, address, the
// client IP at Begin, the user's language, and, when not zero, which of
// the methods offered had no enrollment record at Begin (a bit per
// method, uvarint; a record without it, as made before the field
// existed, knows of none). Strings are prefixed with their length
// (uvarint).
const challengeAD = "twofactor challenge v4\x00"

// ParseChallengeID checks that id has the form of a challenge id (its
// key, a '.', and a sealed record in the keyring's form, at most 4096
// characters) without any store access or decryption. It returns an
// error matching ErrInvalidInput otherwise.
func ParseChallengeID(id string) error {
	if len(id) <= challengeKeyLen+1 || len(id) > maxChallengeIDLen || id[challengeKeyLen] != '.' {
		return invalidInput("challenge id must be a key, a '.' and a sealed record, at most %d characters", maxChallengeIDLen)
	}
	if err := parseKey(id[:challengeKeyLen]); err != nil {
		return err
	}
	for i := challengeKeyLen + 1; i < len(id); i++ {
		if c := id[i]; !base64url(c) && c != '.' && c != ':' {
			return invalidInput("challenge id has a character outside its alphabet")
		}
	}
	return nil
}

// parseKey checks that key has the form of a challenge's key (or a
// passkey ceremony's id): challengeKeyLen characters of unpadded
// base64url.
func parseKey(key string) error {
	if len(key) != challengeKeyLen {
		return invalidInput("challenge key must be %d characters", challengeKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if !base64url(key[i]) {
			return invalidInput("challenge key has a character outside base64url")
		}
	}
	// The last character carries 2 bits of padding that must be zero, so
	// each key has exactly one spelling.
	if strings.IndexByte("AEIMQUYcgkosw048", key[challengeKeyLen-1]) < 0 {
		return invalidInput("challenge key is not canonical base64url")
	}
	return nil
}

func base64url(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Key returns the challenge's key: the first part of its id, which names
// it in events and in the store keys of the factors (a code's group, a
// ceremony's state). It is not the id: the id's sealed part, which only
// the holder of the challenge has, is what answers it. An id of another
// form (a test's) is its own key.
func (c *Challenge) Key() string {
	if len(c.ID) > challengeKeyLen && c.ID[challengeKeyLen] == '.' {
		return c.ID[:challengeKeyLen]
	}
	return c.ID
}

// seal makes ch's id from a new key and its sealed record.
func (s *Service) seal(ch *Challenge) error {
	// The key is made on the stack and copied once, into the id.
	var raw [challengeKeyBytes]byte
	if _, err := io.ReadFull(secure.Reader(s.rand), raw[:]); err != nil {
		return fmt.Errorf("twofactor: reading random bytes: %w", err)
	}
	var kb [challengeKeyLen]byte
	base64.RawURLEncoding.Encode(kb[:], raw[:])
	key := kb[:]
	u := ch.User
	buf := make([]byte, 0, 256)
	buf = appendString(buf, u.ID)
	buf = appendString(buf, string(ch.Purpose))
	buf = binary.AppendUvarint(buf, uint64(len(ch.Methods)))
	for _, m := range ch.Methods {
		buf = appendString(buf, string(m))
	}
	buf = binary.AppendVarint(buf, ch.CreatedAt.UnixNano())
	buf = binary.AppendVarint(buf, ch.ExpiresAt.UnixNano())
	for _, f := range [...]string{string(ch.FirstFactor), u.Name, u.DisplayName, u.Email, ch.IP, u.Language} {
		buf = appendString(buf, f)
	}
	if ch.noRecord != 0 {
		buf = binary.AppendUvarint(buf, ch.noRecord)
	}
	var ad [len(challengeAD) + challengeKeyLen]byte
	sealed, err := s.keys.Seal(buf, append(append(ad[:0], challengeAD...), key...))
	if err != nil {
		return err
	}
	ch.ID = string(key) + "." + sealed
	return nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// fields reads a record's length-prefixed strings and varints in order;
// the first malformed one sets bad, and every later read returns zero.
type fields struct {
	s   string
	bad bool
}

func (f *fields) uvarint() uint64 {
	v, n := binary.Uvarint([]byte(f.s[:min(len(f.s), binary.MaxVarintLen64)]))
	if n <= 0 || f.bad {
		f.bad = true
		return 0
	}
	f.s = f.s[n:]
	return v
}

// varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (f *fields) varint() int64 {
	u := f.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (f *fields) str() string {
	n := f.uvarint()
	if f.bad || n > uint64(len(f.s)) {
		f.bad = true
		return ""
	}
	v := f.s[:n]
	f.s = f.s[n:]
	return v
}

var errMalformedChallenge = errors.New("twofactor: decoding challenge: malformed record")

// maxMethods bounds the methods a challenge may list.
const maxMethods = 64

// open returns the challenge whose id is id, when id is well formed, opens
// with the keyring and has not expired: ErrChallengeNotFound otherwise.
// It reads no store: whether the challenge was completed, cancelled or
// revoked is for the step that uses it to ask, in the same round trip as
// its count.
func (s *Service) open(id string) (*Challenge, error) {
	if ParseChallengeID(id) != nil {
		return nil, ErrChallengeNotFound
	}
	key := id[:challengeKeyLen]
	var ad [len(challengeAD) + challengeKeyLen]byte
	pt, err := s.keys.Open(id[challengeKeyLen+1:], append(append(ad[:0], challengeAD...), key...))
	if err != nil {
		return nil, ErrChallengeNotFound
	}
	f := fields{s: string(pt)}
	ch := &Challenge{ID: id, User: User{ID: f.str()}, Purpose: Purpose(f.str())}
	n := f.uvarint()
	if f.bad || n > maxMethods {
		return nil, errMalformedChallenge
	}
	ch.Methods = make([]Method, n)
	for i := range ch.Methods {
		ch.Methods[i] = Method(f.str())
	}
	ch.CreatedAt, ch.ExpiresAt = time.Unix(0, f.varint()), time.Unix(0, f.varint())
	ch.FirstFactor = FirstFactor(f.str())
	ch.User.Name, ch.User.DisplayName, ch.User.Email, ch.IP, ch.User.Language = f.str(), f.str(), f.str(), f.str(), f.str()
	if f.s != "" && !f.bad {
		// Present only when not zero: one spelling per record.
		if ch.noRecord = f.uvarint(); ch.noRecord == 0 || ch.noRecord>>len(ch.Methods) != 0 {
			return nil, errMalformedChallenge
		}
	}
	if f.bad || f.s != "" || !ch.FirstFactor.valid() {
		return nil, errMalformedChallenge
	}
	if !s.now().Before(ch.ExpiresAt) {
		return nil, ErrChallengeNotFound
	}
	return ch, nil
}

// Challenge returns a pending challenge, for showing its methods again:
// ErrChallengeNotFound when it expired, was completed, cancelled or
// revoked, ErrTooManyAttempts when its answers are used up. Store round
// trips: one.
func (s *Service) Challenge(ctx context.Context, challengeID string) (*Challenge, error) {
	ch, err := s.open(challengeID)
	if err != nil {
		return nil, err
	}
	if err := s.live(ctx, ch, Client{}, false, nil); err != nil {
		return nil, err
	}
	return ch, nil
}
