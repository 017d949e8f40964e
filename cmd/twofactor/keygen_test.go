package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor/keyring"
)

func TestKeygen(t *testing.T) {
	c := &cli{t: t}
	r := c.raw("keygen")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Empty(t, r.stderr)
	line := strings.TrimSuffix(r.stdout, "\n")
	require.NotContains(t, line, "\n")
	k, err := keyring.ParseKey(line)
	require.NoError(t, err)
	assert.Regexp(t, `^k\d{8}-[0-9a-f]{4}$`, k.ID)
	assert.Len(t, k.Secret, keyring.KeySize)
	kr, err := keyring.Parse(r.stdout)
	require.NoError(t, err)
	assert.Equal(t, k.ID, kr.CurrentKeyID())

	again := c.raw("keygen")
	assert.NotEqual(t, r.stdout, again.stdout)

	r = c.raw("keygen", "--id", "2026-06", "--json")
	require.Equal(t, 0, r.status, r.stderr)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, "2026-06", got["id"])
	k, err = keyring.ParseKey(got["key"])
	require.NoError(t, err)
	assert.Equal(t, "2026-06", k.ID)

	for _, args := range [][]string{{"keygen", "--id", "bad id"}, {"keygen", "--id", strings.Repeat("x", 33)}, {"keygen", "extra"}} {
		r = c.raw(args...)
		assert.Equal(t, 2, r.status, "%v", args)
		assert.Empty(t, r.stdout)
		assert.True(t, strings.HasPrefix(r.stderr, "twofactor keygen: "), r.stderr)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	}
}

func TestKeygenAddTo(t *testing.T) {
	c := &cli{t: t}
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")

	r := c.raw("keygen", "--id", "k1", "--add-to", path)
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, "added key k1 first in "+path+" (keys: k1)\nnext: give every app instance these keys, then run twofactor rekey for every user\n", r.stdout)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, r.stdout, strings.TrimSpace(string(first)), "the key is not printed")

	// A file with a comment and a key: the new key goes first, the rest
	// stays as it was.
	old := newKey(t, "old")
	require.NoError(t, os.WriteFile(path, []byte("# app keys\n"+old.Encode()+"\n"), 0o600))
	r = c.raw("keygen", "--id", "new", "--add-to", path, "--json")
	require.Equal(t, 0, r.status, r.stderr)
	var got keyAdded
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, keyAdded{ID: "new", File: path, Keys: []string{"new", "old"}}, got)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Regexp(t, `^new:[A-Za-z0-9_-]{43}\n# app keys\n`+regexp.QuoteMeta(old.Encode())+`\n$`, string(text))
	kr, err := keyring.Parse(string(text))
	require.NoError(t, err)
	assert.Equal(t, "new", kr.CurrentKeyID())

	// Refused, the file unchanged: an id already there; a file that is
	// not keys.
	r = c.raw("keygen", "--id", "old", "--add-to", path)
	assert.Equal(t, 2, r.status)
	assert.Contains(t, r.stderr, `already has a key "old"`)
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("not a key\n"), 0o600))
	r = c.raw("keygen", "--add-to", bad)
	assert.Equal(t, 2, r.status)
	assert.Contains(t, r.stderr, "keys in "+bad)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, text, after)
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{}
	for _, f := range files {
		names = append(names, f.Name())
	}
	sort.Strings(names)
	assert.Equal(t, []string{"bad", "keys"}, names, "no temporary file left")
}

// TestRotation: keygen --add-to, then rekey with the rotated file.
func TestRotation(t *testing.T) {
	b := sqliteBackend(t)
	k1 := newKey(t, "k1")
	a := newApp(t, b, k1)
	a.enrollTOTP("ann")
	a.enrollSMS("ann", "+14155550112")
	c := newCLI(t, b, k1)
	r := c.raw("keygen", "--id", "k2", "--add-to", c.keys)
	require.Equal(t, 0, r.status, r.stderr)
	r = c.run("rekey", "ann")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Equal(t, "re-sealed 2 records of 1 user under key k2 (totp 1, sms 1, email 0)\n", r.stdout)
	r = c.run("status", "ann")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Regexp(t, `secrets sealed under: +k2\n`, r.stdout)
}

// TestHelp: every command has -h with a usage line, an example and its
// flags, and help lists them all.
func TestHelp(t *testing.T) {
	c := &cli{t: t}
	r := c.raw("help")
	require.Equal(t, 0, r.status)
	for name, cmd := range commands {
		assert.Contains(t, r.stdout, "  "+name+" ", name)
		assert.Contains(t, r.stdout, cmd.summary)
	}
	for _, name := range []string{"keygen", "status", "reset", "recovery-code", "unlock", "devices", "revoke-devices", "policy-check", "rekey", "migrate", "totp"} {
		require.Contains(t, commands, name)
	}
	for name := range commands {
		for _, h := range []string{"-h", "--help"} {
			r := c.raw(name, h)
			assert.Equal(t, 0, r.status, name)
			assert.Empty(t, r.stderr, name)
			assert.True(t, strings.HasPrefix(r.stdout, "usage: twofactor "+name), "%s: %s", name, r.stdout)
			assert.Regexp(t, `(?m)^Example:\n  twofactor `+regexp.QuoteMeta(name)+`[ \n]`, r.stdout, name)
			assert.Contains(t, r.stdout, "Exit status", name)
		}
	}
	for _, sub := range []string{"new", "code", "check"} {
		r := c.raw("totp", sub, "-h")
		assert.Regexp(t, `(?m)^Example:\n  twofactor totp `+sub+` `, r.stdout, sub)
	}
	// The store commands document --db, --keys, --json and --timeout.
	for _, name := range []string{"status", "reset", "recovery-code", "unlock", "devices", "revoke-devices", "policy-check", "rekey"} {
		r := c.raw(name, "-h")
		for _, f := range []string{"-db", "-keys", "-json", "-prefix", "-timeout", "redis://", "TWOFACTOR_KEYS"} {
			assert.Contains(t, r.stdout, f, name)
		}
	}
}
