package twofactorhttp

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
)

// FuzzCleanReturn: whatever the input, an accepted return path leads to
// this site only, read by Go's URL parser and by a browser's alike (the
// WHATWG URL standard strips tabs and newlines and reads "\" as "/").
func FuzzCleanReturn(f *testing.F) {
	for _, s := range []string{
		"/", "/account", "/a?b=c#d", "//evil.example", "/\\evil.example", "\\\\evil", "https://evil.example",
		"/\t/evil.example", "/%2F%2Fevil.example", "javascript:alert(1)", "/caf%C3%A9", "/@evil", "/%zz", "",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://example.com/deep/page?q=1")
	f.Fuzz(func(t *testing.T, s string) {
		got := cleanReturn(s)
		if got == "" {
			return
		}
		if got != s {
			t.Fatalf("cleanReturn(%q) = %q: it refuses or keeps, never repairs", s, got)
		}
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.IsSpace(r) {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
		// Go's parser.
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted unparsable %q", s)
		}
		if r := base.ResolveReference(u); r.Scheme != "https" || r.Host != "example.com" || r.User != nil {
			t.Fatalf("%q resolves to %s", s, r)
		}
		// A browser's reading.
		b := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(s)
		if strings.HasPrefix(b, "//") {
			t.Fatalf("%q reads as %q to a browser", s, b)
		}
		// Decoded once, by a host that redirects again.
		if p, err := url.PathUnescape(u.Path); err == nil && (strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\')) {
			t.Fatalf("%q decodes to %q", s, p)
		}
	})
}

// FuzzPendingCookie: a pending cookie opens only as sealed by the layer,
// unexpired, with well-formed contents; anything else, altered anywhere,
// is refused, never a panic.
func FuzzPendingCookie(f *testing.F) {
	k, err := keyring.GenerateKey("k1")
	if err != nil {
		f.Fatal(err)
	}
	kr, _ := keyring.New(k)
	h := &Handler{env: twofactor.Env{Keys: kr}, pendingName: DefaultPendingCookie}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const id = "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE.v1:k1:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	good, err := h.sealPending(&pending{ChallengeID: id, UserID: "alice", Purpose: twofactor.PurposeLogin, Return: "/account", Expires: now.Add(time.Minute).Unix()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "alice", "/account", "login", 0, byte(0))
	f.Add(good, "bob", "//evil.example", "step_up", 17, byte('A'))
	f.Add(id+".v1:k1:", "", "", "enroll", 90, byte('.'))
	f.Add("", "alice\x00", "/", "login", 3, byte(1))
	f.Fuzz(func(t *testing.T, value, userID, ret, purpose string, at int, b byte) {
		// Arbitrary input: refused or well-formed, never a panic.
		if p, err := h.openPending(value, now); err == nil {
			if twofactor.CheckUserID(p.UserID) != nil || twofactor.ParseChallengeID(p.ChallengeID) != nil ||
				(p.Return != "" && cleanReturn(p.Return) != p.Return) || !now.Before(time.Unix(p.Expires, 0)) {
				t.Fatalf("opened a malformed pending state %+v", p)
			}
		}
		// Fields of the fuzzer's choosing: they come back as they went in
		// when well-formed, and are refused otherwise.
		in := &pending{ChallengeID: id, UserID: userID, Purpose: twofactor.Purpose(purpose), Return: ret, Expires: now.Add(time.Minute).Unix()}
		sealed, err := h.sealPending(in)
		if err != nil {
			t.Fatal(err)
		}
		p, err := h.openPending(sealed, now)
		valid := twofactor.CheckUserID(userID) == nil && (purpose == "login" || purpose == "step_up") && (ret == "" || cleanReturn(ret) == ret)
		if valid != (err == nil) {
			t.Fatalf("%+v: opened=%v, want %v", in, err == nil, valid)
		}
		if err == nil {
			a, _ := json.Marshal(in)
			b, _ := json.Marshal(p)
			if string(a) != string(b) || p.ChallengeID != id {
				t.Fatalf("round trip changed %s into %s", a, b)
			}
		}
		if _, err := h.openPending(sealed, now.Add(time.Minute)); err == nil {
			t.Fatal("an expired pending state opened")
		}
		// One byte changed anywhere: refused.
		if len(sealed) > 0 {
			i := ((at % len(sealed)) + len(sealed)) % len(sealed)
			if sealed[i] != b {
				altered := sealed[:i] + string([]byte{b}) + sealed[i+1:]
				if _, err := h.openPending(altered, now); err == nil {
					t.Fatalf("opened %q altered at %d", sealed, i)
				}
			}
		}
	})
}
