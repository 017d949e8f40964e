// Package secure holds the small cryptographic helpers every factor shares:
// unbiased random codes and tokens from crypto/rand, and constant-time
// comparison. Keyed hashing and encryption live in the root package's
// Keyring, which is built on the standard library.
package secure

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrAlphabet reports an alphabet that cannot be sampled without bias.
var ErrAlphabet = errors.New("secure: alphabet must hold 2 to 256 distinct bytes")

// Reader returns r, or crypto/rand.Reader when r is nil.
func Reader(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// Digits returns n decimal digits drawn uniformly from r (crypto/rand when r
// is nil). Bytes at or above 250 are rejected so every digit has probability
// exactly 1/10 (no modulo bias).
func Digits(r io.Reader, n int) (string, error) {
	return String(r, "0123456789", n)
}

// String returns n characters drawn uniformly from alphabet using r
// (crypto/rand when r is nil). It uses rejection sampling: a random byte b is
// used only when b < 256 - 256%len(alphabet), so each character is equally
// likely.
func String(r io.Reader, alphabet string, n int) (string, error) {
	if n < 0 {
		return "", fmt.Errorf("secure: negative length %d", n)
	}
	k := len(alphabet)
	if k < 2 || k > 256 || !distinct(alphabet) {
		return "", ErrAlphabet
	}
	r = Reader(r)
	limit := 256 - 256%k // largest multiple of k not above 256
	out := make([]byte, 0, n)
	// Read in batches; on average fewer than two bytes per character are needed
	// even for the worst alphabet (k = 129).
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("secure: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%k])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

func distinct(s string) bool {
	var seen [256]bool
	for i := 0; i < len(s); i++ {
		if seen[s[i]] {
			return false
		}
		seen[s[i]] = true
	}
	return true
}

// Bytes returns n random bytes from r (crypto/rand when r is nil).
func Bytes(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(Reader(r), b); err != nil {
		return nil, fmt.Errorf("secure: reading random bytes: %w", err)
	}
	return b, nil
}

// Token returns n random bytes from r encoded as unpadded base64url.
func Token(r io.Reader, n int) (string, error) {
	b, err := Bytes(r, n)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	if n > maxTokenBytes {
		return enc.EncodeToString(b), nil
	}
	// Encoded on the stack and copied once into the string.
	var buf [(maxTokenBytes*8 + 5) / 6]byte
	out := buf[:enc.EncodedLen(n)]
	enc.Encode(out, b)
	var sb strings.Builder
	sb.Grow(len(out))
	sb.Write(out)
	return sb.String(), nil
}

// maxTokenBytes is the largest token Token encodes without a second
// allocation: every id the library makes is smaller.
const maxTokenBytes = 64

// Equal reports whether a and b are equal in time that depends only on their
// lengths, not on their contents.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// EqualBytes is Equal for byte slices.
func EqualBytes(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
