package totp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

// An Algorithm is the HMAC hash of a TOTP key (RFC 6238 section 1.2).
type Algorithm string

// Algorithms. SHA1 is the default and the only one every authenticator app
// supports; SHA256 and SHA512 work in some apps only.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// ParseAlgorithm reads an algorithm name as written in an otpauth URI,
// ignoring case.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(strings.ToUpper(s)); a {
	case SHA1, SHA256, SHA512:
		return a, nil
	}
	return "", fmt.Errorf("%w: totp: unknown algorithm %q (want SHA1, SHA256 or SHA512)", twofactor.ErrInvalidInput, s)
}

// Limits of the parameters this package accepts.
const (
	MinDigits = 6
	MaxDigits = 8
	// MinSecretSize is the smallest secret accepted in an otpauth URI (80
	// bits, what many older services issue). Enrollment never makes secrets
	// shorter than 128 bits (RFC 4226 section 4).
	MinSecretSize = 10
	// MaxSecretSize bounds secrets read from URIs and configuration.
	MaxSecretSize = 128
	// MaxPeriod bounds the time step, in seconds.
	MaxPeriod = 3600
)

// Params are the parameters of a TOTP key that codes depend on. The zero
// value is not valid; [DefaultParams] is what every authenticator app
// accepts.
type Params struct {
	Algorithm Algorithm `json:"alg"`    // SHA1, SHA256 or SHA512
	Digits    int       `json:"digits"` // 6 to 8
	Period    int       `json:"period"` // time step in seconds, 1 to MaxPeriod
}

// DefaultParams are SHA1, 6 digits and a 30-second step.
var DefaultParams = Params{Algorithm: SHA1, Digits: 6, Period: 30}

// Check reports whether p is usable, with an error wrapping
// twofactor.ErrInvalidInput otherwise.
func (p Params) Check() error {
	switch p.Algorithm {
	case SHA1, SHA256, SHA512:
	default:
		return fmt.Errorf("%w: totp: unknown algorithm %q (want SHA1, SHA256 or SHA512)", twofactor.ErrInvalidInput, p.Algorithm)
	}
	if p.Digits < MinDigits || p.Digits > MaxDigits {
		return fmt.Errorf("%w: totp: %d digits, want %d to %d", twofactor.ErrInvalidInput, p.Digits, MinDigits, MaxDigits)
	}
	if p.Period < 1 || p.Period > MaxPeriod {
		return fmt.Errorf("%w: totp: period %d s, want 1 to %d", twofactor.ErrInvalidInput, p.Period, MaxPeriod)
	}
	return nil
}

// Step returns the time step (RFC 6238 "T") that t falls in.
func (p Params) Step(t time.Time) int64 {
	s, per := t.Unix(), int64(p.Period)
	q := s / per
	if s%per < 0 {
		q-- // floor for times before 1970
	}
	return q
}

// StepTime returns the start of time step step.
func (p Params) StepTime(step int64) time.Time {
	return time.Unix(step*int64(p.Period), 0)
}

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// value computes the HOTP value (RFC 4226 section 5.3) of secret at counter
// as a number below 10^digits. It does not allocate: the HMAC (RFC 2104) is
// computed with the one-shot hash functions on stack buffers sized for each
// hash.
func value(alg Algorithm, digits int, secret []byte, counter uint64) uint32 {
	var v uint32
	switch alg {
	case SHA256:
		mac := hmacSHA256(secret, counter)
		v = truncate(mac[:])
	case SHA512:
		mac := hmacSHA512(secret, counter)
		v = truncate(mac[:])
	default:
		mac := hmacSHA1(secret, counter)
		v = truncate(mac[:])
	}
	return v % pow10[digits]
}

// truncate is RFC 4226's dynamic truncation (section 5.4).
func truncate(mac []byte) uint32 {
	off := int(mac[len(mac)-1] & 0x0f)
	return binary.BigEndian.Uint32(mac[off:]) & 0x7fffffff
}

// The three HMACs below are RFC 2104 spelled out: K0 is the key padded to
// a block (hashed first when longer), then H((K0^opad) || H((K0^ipad) ||
// counter)). The buffers hold key material and are cleared before return.

func hmacSHA1(key []byte, counter uint64) [sha1.Size]byte {
	const block = sha1.BlockSize
	var buf [block + sha1.Size]byte
	if len(key) > block {
		k := sha1.Sum(key)
		defer clear(k[:])
		key = k[:]
	}
	for i := range block {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		buf[i] = b ^ 0x36
	}
	binary.BigEndian.PutUint64(buf[block:], counter)
	inner := sha1.Sum(buf[:block+8])
	for i := range block {
		buf[i] ^= 0x36 ^ 0x5c // K0^ipad becomes K0^opad
	}
	copy(buf[block:], inner[:])
	mac := sha1.Sum(buf[:])
	clear(buf[:])
	return mac
}

func hmacSHA256(key []byte, counter uint64) [sha256.Size]byte {
	const block = sha256.BlockSize
	var buf [block + sha256.Size]byte
	if len(key) > block {
		k := sha256.Sum256(key)
		defer clear(k[:])
		key = k[:]
	}
	for i := range block {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		buf[i] = b ^ 0x36
	}
	binary.BigEndian.PutUint64(buf[block:], counter)
	inner := sha256.Sum256(buf[:block+8])
	for i := range block {
		buf[i] ^= 0x36 ^ 0x5c // K0^ipad becomes K0^opad
	}
	copy(buf[block:], inner[:])
	mac := sha256.Sum256(buf[:])
	clear(buf[:])
	return mac
}

func hmacSHA512(key []byte, counter uint64) [sha512.Size]byte {
	const block = sha512.BlockSize
	var buf [block + sha512.Size]byte
	if len(key) > block {
		k := sha512.Sum512(key)
		defer clear(k[:])
		key = k[:]
	}
	for i := range block {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		buf[i] = b ^ 0x36
	}
	binary.BigEndian.PutUint64(buf[block:], counter)
	inner := sha512.Sum512(buf[:block+8])
	for i := range block {
		buf[i] ^= 0x36 ^ 0x5c // K0^ipad becomes K0^opad
	}
	copy(buf[block:], inner[:])
	mac := sha512.Sum512(buf[:])
	clear(buf[:])
	return mac
}

// Code returns the code for secret at time t, zero-padded to p.Digits.
// p must pass [Params.Check].
func (p Params) Code(secret []byte, t time.Time) string {
	return p.StepCode(secret, p.Step(t))
}

// StepCode returns the code for secret at time step step.
func (p Params) StepCode(secret []byte, step int64) string {
	v := value(p.Algorithm, p.Digits, secret, uint64(step))
	b := make([]byte, p.Digits)
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}

// maxCodeInput bounds a code as typed, spaces included.
const maxCodeInput = 16

// ParseCode reads a code of exactly digits decimal digits. ASCII spaces are
// ignored, since apps show codes as "123 456" and users type them so. It
// does not allocate. A malformed code gives an error wrapping
// twofactor.ErrInvalidInput.
func ParseCode(code string, digits int) (uint32, error) {
	v, n, ok := scanCode(code)
	if !ok || n != digits {
		return 0, fmt.Errorf("%w: totp: a code is %d digits", twofactor.ErrInvalidInput, digits)
	}
	return v, nil
}

// scanCode reads up to MaxDigits ASCII digits, skipping spaces, and returns
// their value and count; ok is false for any other byte, more digits, or
// input longer than maxCodeInput.
func scanCode(code string) (v uint32, n int, ok bool) {
	if len(code) > maxCodeInput {
		return 0, 0, false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ':
			continue
		case c >= '0' && c <= '9':
			n++
			if n > MaxDigits {
				return 0, 0, false
			}
			v = v*10 + uint32(c-'0')
		default:
			return 0, 0, false
		}
	}
	return v, n, true
}

var errCodeFormat = fmt.Errorf("%w: totp: a code is %d to %d digits", twofactor.ErrInvalidInput, MinDigits, MaxDigits)

// MaxSkew bounds the number of steps accepted either side of the current one.
const MaxSkew = 10

// Match checks code against secret for the steps from skew steps before the
// one t falls in to skew steps after it. It returns the step that matched
// and its offset from t's step (-skew..+skew). Steps are tried nearest
// first (0, -1, +1, -2, +2...), so when several match (a chance of about
// 2*skew in 10^digits) the nearest wins, the earlier on a tie.
//
// Each comparison is constant-time. A wrong code is compared with every step
// of the window; a right one stops at its step, so timing tells no more than
// the answer itself (whether the code matched).
//
// Match keeps no record: use it with a replay check (the [Factor] does), or
// the same code works again until it leaves the window. It does not allocate.
// A malformed code returns an error wrapping twofactor.ErrInvalidInput.
func (p Params) Match(secret []byte, code string, t time.Time, skew int) (step int64, offset int, ok bool, err error) {
	want, n, valid := scanCode(code)
	if !valid || n != p.Digits {
		return 0, 0, false, fmt.Errorf("%w: totp: a code is %d digits", twofactor.ErrInvalidInput, p.Digits)
	}
	if skew < 0 || skew > MaxSkew {
		return 0, 0, false, fmt.Errorf("%w: totp: skew %d, want 0 to %d", twofactor.ErrInvalidInput, skew, MaxSkew)
	}
	now := p.Step(t)
	for i := 0; i <= 2*skew; i++ {
		off := (i + 1) / 2
		if i%2 == 1 {
			off = -off
		}
		v := value(p.Algorithm, p.Digits, secret, uint64(now+int64(off)))
		if subtle.ConstantTimeEq(int32(v), int32(want)) == 1 {
			return now + int64(off), off, true, nil
		}
	}
	return 0, 0, false, nil
}
