package totp

import (
	"encoding/base32"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pquerna/otp"
	"github.com/twofactorkit/twofactor"
)

// A Key is a TOTP secret with the parameters and names an authenticator app
// needs: what an otpauth URI carries.
type Key struct {
	Secret  []byte
	Issuer  string // the service name shown in the app; may be empty
	Account string // the user's account name shown in the app
	Params
}

// b32 is the secret encoding of otpauth URIs: RFC 4648 base32 without
// padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns secret in the base32 form users type into an app by
// hand.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret reads a base32 secret, ignoring case, spaces and padding, as
// users copy them. It returns an error wrapping twofactor.ErrInvalidInput
// when s is not base32 or decodes to fewer than MinSecretSize or more than
// MaxSecretSize bytes.
func DecodeSecret(s string) ([]byte, error) {
	if len(s) > 2*MaxSecretSize*8/5 {
		return nil, fmt.Errorf("%w: totp: secret longer than %d bytes", twofactor.ErrInvalidInput, MaxSecretSize)
	}
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: totp: secret is not base32", twofactor.ErrInvalidInput)
	}
	if len(b) < MinSecretSize || len(b) > MaxSecretSize {
		return nil, fmt.Errorf("%w: totp: secret is %d bytes, want %d to %d", twofactor.ErrInvalidInput, len(b), MinSecretSize, MaxSecretSize)
	}
	return b, nil
}

// URI returns the key as an otpauth URI (the Key Uri Format of Google
// Authenticator, which every app reads):
//
//	otpauth://totp/Issuer:Account?secret=...&issuer=Issuer&algorithm=SHA1&digits=6&period=30
//
// Issuer and account are percent-encoded as UTF-8 in the label and in the
// query, with a space as %20 (some apps show "+" literally) and a colon as
// %3A, so a colon in a name never moves the issuer/account split. (Without
// an issuer, an account holding a colon reads back split at it: some
// issuers escape the separator too, so the format cannot tell them apart.)
func (k *Key) URI() string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if k.Issuer != "" {
		b.WriteString(escape(k.Issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(k.Account))
	b.WriteString("?secret=")
	b.WriteString(EncodeSecret(k.Secret))
	if k.Issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(k.Issuer))
	}
	b.WriteString("&algorithm=")
	b.WriteString(string(k.Algorithm))
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(k.Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.Itoa(k.Period))
	return b.String()
}

// escape percent-encodes everything but RFC 3986 unreserved characters and
// "@" (common in account names, and legal in both a path and a query).
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// maxURI bounds an otpauth URI before parsing.
const maxURI = 4096

// ParseURI reads an otpauth://totp/ URI and validates every parameter:
// secret (base32, MinSecretSize to MaxSecretSize bytes), algorithm (SHA1,
// SHA256, SHA512; default SHA1), digits (6 to 8; default 6) and period (1 to
// MaxPeriod seconds; default 30). The issuer parameter wins over the label's
// prefix. Anything malformed, including a repeated parameter, gives an error
// wrapping twofactor.ErrInvalidInput; ParseURI never panics.
func ParseURI(s string) (*Key, error) {
	bad := func(format string, args ...any) (*Key, error) {
		return nil, fmt.Errorf("%w: totp: otpauth URI: %s", twofactor.ErrInvalidInput, fmt.Sprintf(format, args...))
	}
	if len(s) > maxURI {
		return bad("longer than %d bytes", maxURI)
	}
	ok, err := otp.NewKeyFromURL(s)
	if err != nil {
		return bad("does not parse")
	}
	u, err := url.Parse(ok.String())
	if err != nil {
		return bad("does not parse")
	}
	if !strings.EqualFold(u.Scheme, "otpauth") {
		return bad("scheme is %q, want otpauth", u.Scheme)
	}
	if !strings.EqualFold(ok.Type(), "totp") {
		return bad("type is %q, want totp", ok.Type())
	}
	if u.User != nil || u.Port() != "" || u.Fragment != "" {
		return bad("unexpected user, port or fragment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query does not parse")
	}
	for name, vs := range q {
		if len(vs) > 1 {
			return bad("parameter %q appears %d times", name, len(vs))
		}
	}
	k := &Key{Params: DefaultParams}
	if !q.Has("secret") {
		return bad("no secret")
	}
	if k.Secret, err = DecodeSecret(q.Get("secret")); err != nil {
		return nil, err
	}
	if q.Has("algorithm") {
		if k.Algorithm, err = ParseAlgorithm(q.Get("algorithm")); err != nil {
			return nil, err
		}
	}
	if q.Has("digits") {
		d, err := strconv.Atoi(q.Get("digits"))
		if err != nil || d < MinDigits || d > MaxDigits {
			return bad("digits %q, want %d to %d", q.Get("digits"), MinDigits, MaxDigits)
		}
		k.Digits = d
	}
	if q.Has("period") {
		p, err := strconv.Atoi(q.Get("period"))
		if err != nil || p < 1 || p > MaxPeriod {
			return bad("period %q, want 1 to %d seconds", q.Get("period"), MaxPeriod)
		}
		k.Period = p
	}
	k.Issuer, k.Account = splitLabel(u.EscapedPath(), q.Get("issuer"))
	return k, nil
}

// splitLabel splits the escaped path "/Issuer:Account" into issuer and
// account. The label prefix is cut at the first literal ":" (a colon inside
// a name is escaped, see Key.URI), or at the first "%3A" when there is no
// literal one (some issuers escape the separator). The issuer parameter,
// when present, wins over the prefix.
func splitLabel(escPath, issuerParam string) (issuer, account string) {
	label := strings.TrimPrefix(escPath, "/")
	prefix, acct, found := strings.Cut(label, ":")
	if !found {
		if i := strings.Index(strings.ToUpper(label), "%3A"); i >= 0 {
			prefix, acct, found = label[:i], label[i+3:], true
		}
	}
	if !found {
		acct, prefix = label, ""
	}
	unescape := func(s string) string {
		if v, err := url.PathUnescape(s); err == nil {
			return v
		}
		return s
	}
	issuer = unescape(prefix)
	account = strings.TrimLeft(unescape(acct), " ")
	if issuerParam != "" {
		issuer = issuerParam
	}
	return issuer, account
}
