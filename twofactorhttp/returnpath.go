package twofactorhttp

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxReturn bounds a return path.
const maxReturn = 2048

// cleanReturn returns s if it is a safe return path, else "". A safe path
// is relative to this site and can only lead to this site:
//
//   - it starts with exactly one "/" ("//host" and "/\host" are URLs of
//     another host to browsers, per the WHATWG URL standard, which reads
//     "\" as "/" in special schemes);
//   - it holds no "\" at all, no control character (browsers strip tabs and
//     newlines from URLs before parsing, so "/\t/host" would become
//     "//host"), no space, and no invalid UTF-8;
//   - it parses as a URL with no scheme, host or user information;
//   - its path, once percent-decoded, does not start with "//" or hold a
//     "\" either, in case the host decodes it and redirects again;
//   - it is at most 2048 bytes.
//
// Anything else is refused rather than repaired.
func cleanReturn(s string) string {
	if len(s) == 0 || len(s) > maxReturn || s[0] != '/' {
		return ""
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return ""
	}
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\\ ") {
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			return ""
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	// Browsers do not decode "/%2F/host" into "//host", but a host that
	// redirects again with the decoded path would: refuse what decodes to
	// another host's URL too.
	if strings.HasPrefix(u.Path, "//") || strings.ContainsRune(u.Path, '\\') {
		return ""
	}
	return s
}
