package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor/totp"
)

func runCLI(args ...string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = run(args, &out, &errb)
	return status, out.String(), errb.String()
}

// RFC 6238 appendix B's SHA1 secret, "12345678901234567890", in base32.
const rfcURI = "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&digits=8"

func TestTOTPNew(t *testing.T) {
	png := filepath.Join(t.TempDir(), "qr.png")
	status, out, errs := runCLI("totp", "new", "--issuer", "Acme Corp", "--account", "bob:smith@example.com", "--png", png)
	require.Equal(t, 0, status, errs)
	assert.Empty(t, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	secret, ok := strings.CutPrefix(lines[0], "secret: ")
	require.True(t, ok, out)
	uri, ok := strings.CutPrefix(lines[1], "uri: ")
	require.True(t, ok, out)
	assert.Equal(t, "png: "+png, lines[2])

	k, err := totp.ParseURI(uri)
	require.NoError(t, err)
	assert.Equal(t, "Acme Corp", k.Issuer)
	assert.Equal(t, "bob:smith@example.com", k.Account)
	assert.Equal(t, totp.DefaultParams, k.Params)
	assert.Len(t, k.Secret, 20)
	assert.Equal(t, secret, totp.EncodeSecret(k.Secret))
	assert.True(t, strings.HasPrefix(uri, "otpauth://totp/Acme%20Corp:bob%3Asmith@example.com?"), uri)

	img, err := os.ReadFile(png)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")))
	fi, err := os.Stat(png)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the QR code holds the secret")

	// Two runs give two secrets.
	_, out2, _ := runCLI("totp", "new", "--issuer", "I", "--account", "A")
	assert.NotContains(t, out2, secret)

	// Other parameters.
	status, out, _ = runCLI("totp", "new", "--issuer", "I", "--account", "A", "--algorithm", "sha256", "--digits", "8", "--period", "60")
	require.Equal(t, 0, status)
	assert.Contains(t, out, "algorithm=SHA256&digits=8&period=60")
}

func TestTOTPCode(t *testing.T) {
	tests := []struct{ at, want string }{
		{"1970-01-01T00:00:59Z", "94287082"},
		{"2005-03-18T01:58:29Z", "07081804"},
		{"2009-02-13T23:31:30Z", "89005924"},
		{"2033-05-18T03:33:20Z", "69279037"},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			status, out, errs := runCLI("totp", "code", "--uri", rfcURI, "--at", tt.at)
			require.Equal(t, 0, status, errs)
			assert.Equal(t, tt.want+"\n", out)
		})
	}
	// Without --at: the current code, as pquerna computes it.
	status, out, _ := runCLI("totp", "code", "--uri", "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	require.Equal(t, 0, status)
	now := time.Now()
	want, err := pqtotp.GenerateCode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", now)
	require.NoError(t, err)
	before, err := pqtotp.GenerateCode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", now.Add(-30*time.Second))
	require.NoError(t, err)
	assert.Contains(t, []string{want + "\n", before + "\n"}, out, "the step may have turned between the two calls")
}

func TestTOTPCheck(t *testing.T) {
	const at = "2005-03-18T01:58:29Z" // code 07081804; the step before: see below
	prev := totp.Params{Algorithm: totp.SHA1, Digits: 8, Period: 30}.Code([]byte("12345678901234567890"), time.Date(2005, 3, 18, 1, 57, 59, 0, time.UTC))
	next := totp.Params{Algorithm: totp.SHA1, Digits: 8, Period: 30}.Code([]byte("12345678901234567890"), time.Date(2005, 3, 18, 1, 58, 59, 0, time.UTC))
	tests := []struct {
		name   string
		args   []string
		status int
		out    string
	}{
		{"current", []string{"--code", "07081804"}, 0, "valid offset=0\n"},
		{"with spaces", []string{"--code", "0708 1804"}, 0, "valid offset=0\n"},
		{"previous", []string{"--code", prev}, 0, "valid offset=-1\n"},
		{"next", []string{"--code", next}, 0, "valid offset=+1\n"},
		{"previous, no skew", []string{"--code", prev, "--skew", "0"}, 1, "invalid\n"},
		{"wrong", []string{"--code", "12345678"}, 1, "invalid\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errs := runCLI(append([]string{"totp", "check", "--uri", rfcURI, "--at", at}, tt.args...)...)
			assert.Equal(t, tt.status, status, errs)
			assert.Equal(t, tt.out, out)
			assert.Empty(t, errs)
		})
	}
}

func TestTOTPBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the one-line error
	}{
		{"no subcommand", []string{"totp"}, "usage"},
		{"unknown subcommand", []string{"totp", "frobnicate"}, "unknown subcommand"},
		{"unknown flag", []string{"totp", "code", "--nope"}, "flag provided but not defined"},
		{"extra argument", []string{"totp", "code", "--uri", rfcURI, "extra"}, "unexpected argument"},
		{"new without issuer", []string{"totp", "new", "--account", "a"}, "--issuer is required"},
		{"new without account", []string{"totp", "new", "--issuer", "i"}, "--account is required"},
		{"new bad digits", []string{"totp", "new", "--issuer", "i", "--account", "a", "--digits", "9"}, "digits"},
		{"new bad algorithm", []string{"totp", "new", "--issuer", "i", "--account", "a", "--algorithm", "md5"}, "algorithm"},
		{"new bad png path", []string{"totp", "new", "--issuer", "i", "--account", "a", "--png", "/nonexistent/dir/x.png"}, "no such file"},
		{"code without uri", []string{"totp", "code"}, "--uri is required"},
		{"malformed uri", []string{"totp", "code", "--uri", "otpauth://totp/x?secret=%zz"}, "otpauth URI"},
		{"hotp uri", []string{"totp", "code", "--uri", "otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQ"}, "want totp"},
		{"multi-line uri", []string{"totp", "code", "--uri", "otpauth://totp/x\n?secret=1"}, "otpauth URI"},
		{"bad at", []string{"totp", "code", "--uri", rfcURI, "--at", "yesterday"}, "RFC 3339"},
		{"check without code", []string{"totp", "check", "--uri", rfcURI}, "--code is required"},
		{"non-numeric code", []string{"totp", "check", "--uri", rfcURI, "--code", "12ab5678"}, "code is 8 digits"},
		{"short code", []string{"totp", "check", "--uri", rfcURI, "--code", "123456"}, "code is 8 digits"},
		{"bad skew", []string{"totp", "check", "--uri", rfcURI, "--code", "12345678", "--skew", "11"}, "--skew"},
		{"negative skew", []string{"totp", "check", "--uri", rfcURI, "--code", "12345678", "--skew", "-1"}, "--skew"},
		{"skew not a number", []string{"totp", "check", "--uri", rfcURI, "--code", "12345678", "--skew", "x"}, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errs := runCLI(tt.args...)
			assert.Equal(t, 2, status)
			assert.Empty(t, out)
			assert.Contains(t, errs, tt.want)
			if tt.name != "no subcommand" {
				assert.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
				assert.True(t, strings.HasPrefix(errs, "twofactor totp"), errs)
			}
		})
	}
}

func TestTOTPHelp(t *testing.T) {
	status, out, _ := runCLI("help")
	assert.Equal(t, 0, status)
	assert.Contains(t, out, "totp")

	status, out, _ = runCLI("totp", "-h")
	assert.Equal(t, 0, status)
	for _, sub := range []string{"new", "code", "check"} {
		assert.Contains(t, out, "  "+sub+" ")
	}
	for sub, flags := range map[string][]string{
		"new":   {"-issuer", "-account", "-png", "-algorithm", "-digits", "-period"},
		"code":  {"-uri", "-at"},
		"check": {"-uri", "-code", "-at", "-skew"},
	} {
		for _, h := range []string{"-h", "--help"} {
			status, out, errs := runCLI("totp", sub, h)
			assert.Equal(t, 0, status, sub)
			assert.Empty(t, errs)
			assert.True(t, strings.HasPrefix(out, "usage: twofactor totp "+sub+" "), out)
			for _, f := range flags {
				assert.Contains(t, out, f, sub)
			}
		}
	}
}
