package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/keyring"
)

func TestStatus(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k1 := newKey(t, "k1")
		a := newApp(t, b, k1)
		secret := a.enrollTOTP("ann")
		a.enrollSMS("ann", "+14155550112")
		a.enrollEmail("ann", "ann.smith@example.com")
		a.backupCodes("ann")
		a.securityKey("ann", "YubiKey 5")
		a.trustDevice("ann")
		a.wrongAnswers("ann", secret, 3)
		before := a.snapshot("ann")
		c := newCLI(t, b, k1)

		r := c.run("status", "ann")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Empty(t, r.stderr)
		for _, want := range []string{
			"user:", "ann", "not locked (3 wrong answers in a row)", "10 left", "k1",
			"totp", "Authenticator app", "sms", "+1 *** *** **12", "email", "a***@example.com",
			"webauthn", "YubiKey 5", "backup_code", "Backup codes (10 left)",
			"Firefox on Linux", "203.0.113.0/24",
		} {
			assert.Contains(t, r.stdout, want)
		}
		// Columns line up: every label starts under LABEL.
		var col int
		for _, l := range strings.Split(r.stdout, "\n") {
			if i := strings.Index(l, "LABEL"); i > 0 && strings.Contains(l, "METHOD") {
				col = i
			}
			if strings.HasPrefix(l, "  totp ") {
				assert.Equal(t, "Authenticator app", l[col:col+17], "aligned: %q", l)
			}
			if strings.HasPrefix(l, "  sms ") {
				assert.Equal(t, "+1 *** *** **12", l[col:col+15], "aligned: %q", l)
			}
		}
		require.NotZero(t, col)

		r = c.run("status", "ann", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got userState
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, "ann", got.User)
		assert.Equal(t, []string{"totp", "sms", "email", "webauthn", "backup_code"}, got.methods())
		assert.Equal(t, 10, got.BackupCodesLeft)
		require.Len(t, got.TrustedDevices, 1)
		assert.Equal(t, "Firefox on Linux", got.TrustedDevices[0].Label)
		assert.Equal(t, lockoutRow{Failures: 3}, got.Lockout)
		assert.Equal(t, []string{"k1"}, got.SealedUnder)
		for _, f := range got.Factors {
			assert.False(t, f.CreatedAt.IsZero(), "%+v", f)
		}

		assert.Equal(t, before, a.snapshot("ann"), "status changes nothing")
	})
}

func TestStatusLocked(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	a := newApp(t, b, k)
	secret := a.enrollTOTP("bob")
	a.wrongAnswers("bob", secret, 10)
	r := newCLI(t, b, k).run("status", "bob", "--json")
	require.Equal(t, 0, r.status, r.stderr)
	var got userState
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.True(t, got.Lockout.Locked)
	assert.Equal(t, 10, got.Lockout.Failures)
	assert.WithinDuration(t, time.Now().Add((15 * time.Minute)), got.Lockout.Until, time.Minute)

	r = newCLI(t, b, k).run("status", "bob")
	assert.Contains(t, r.stdout, "locked until "+got.Lockout.Until.UTC().Format(time.RFC3339)+" (10 wrong answers in a row)")
}

func TestStatusUnknownUser(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		newApp(t, b, k).enrollTOTP("ann")
		r := newCLI(t, b, k).run("status", "nobody")
		assert.Equal(t, 1, r.status)
		assert.Contains(t, r.stdout, "factors: none")
		assert.Equal(t, "twofactor status: the store holds nothing for user \"nobody\": no second factor, or not a user id of this app\n", r.stderr)
	})
}

// TestStatusWrongKey: a user whose TOTP secret is sealed under a key the
// given keys lack gets a one-line error naming that key.
func TestStatusWrongKey(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		old, other := newKey(t, "k-2024"), newKey(t, "k-other")
		a := newApp(t, b, old)
		a.enrollTOTP("ann")
		before := a.snapshot("ann")
		for _, args := range [][]string{{"status", "ann"}, {"status", "ann", "--json"}} {
			r := newCLI(t, b, other).run(args...)
			assert.Equal(t, 2, r.status)
			assert.Empty(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, `lack key "k-2024", under which the TOTP secret of user "ann" is sealed`)
			assert.NotContains(t, r.stderr, old.Encode())
			assert.NotContains(t, r.stderr, other.Encode())
		}
		// A ring that has the old key after a new one reads the user.
		r := newCLI(t, b, other, old).run("status", "ann", "--json")
		assert.Equal(t, 0, r.status, r.stderr)
		assert.Equal(t, before, a.snapshot("ann"))
	})
}

func TestAdminBadInput(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	newApp(t, b, k).enrollTOTP("ann")
	keys := keysFile(t, k)
	dir := t.TempDir()
	badKeys := filepath.Join(dir, "bad.keys")
	require.NoError(t, os.WriteFile(badKeys, []byte("k1:not-base64!\n"), 0o600))
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no user", []string{"status", "--db", b.db, "--keys", keys}, nil, "missing the user id"},
		{"two users", []string{"status", "ann", "bob", "--db", b.db, "--keys", keys}, nil, `unexpected argument "bob"`},
		{"control character in user id", []string{"status", "an\x01n", "--db", b.db, "--keys", keys}, nil, "control characters"},
		{"user id too long", []string{"status", strings.Repeat("x", 129), "--db", b.db, "--keys", keys}, nil, "1 to 128 bytes"},
		{"unknown flag", []string{"status", "ann", "--force"}, nil, "flag provided but not defined: -force"},
		{"no --db", []string{"status", "ann", "--keys", keys}, nil, "--db is required"},
		{"malformed DSN", []string{"status", "ann", "--db", "postgres://u:hunter2@db:port/x", "--keys", keys}, nil, "not a PostgreSQL URL"},
		{"unknown scheme", []string{"status", "ann", "--db", "mongodb://db/x", "--keys", keys}, nil, `unknown scheme "mongodb"`},
		{"malformed redis URL", []string{"status", "ann", "--db", "redis://:hunter2@cache:6379/x", "--keys", keys}, nil, "invalid database number"},
		{"bad table prefix", []string{"status", "ann", "--db", b.db, "--prefix", "Bad", "--keys", keys}, nil, "--prefix"},
		{"no such SQLite file", []string{"status", "ann", "--db", filepath.Join(dir, "typo.db"), "--keys", keys}, nil, "no SQLite database at"},
		{"no tables", []string{"status", "ann", "--db", b.db, "--prefix", "other_", "--keys", keys}, nil, "no twofactor tables named other_*"},
		{"no keys", []string{"status", "ann", "--db", b.db}, nil, "no keys: pass the app's server keys with --keys FILE or $TWOFACTOR_KEYS"},
		{"missing keys file", []string{"status", "ann", "--db", b.db, "--keys", filepath.Join(dir, "none")}, nil, "--keys: open"},
		{"malformed keys", []string{"status", "ann", "--db", b.db, "--keys", badKeys}, nil, "secret is not base64"},
		{"malformed keys in the environment", []string{"status", "ann", "--db", b.db}, map[string]string{"TWOFACTOR_KEYS": "nonsense"}, "keys in $TWOFACTOR_KEYS"},
		{"bad timeout", []string{"status", "ann", "--db", b.db, "--keys", keys, "--timeout", "0s"}, nil, "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cli{t: t, env: tt.env}
			r := c.raw(tt.args...)
			assert.Equal(t, 2, r.status, r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tt.want)
			assert.True(t, strings.HasPrefix(r.stderr, "twofactor status: "), r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.NotContains(t, r.stderr, "hunter2")
			assert.NotContains(t, r.stderr, k.Encode())
		})
	}
	_, err := os.Stat(filepath.Join(dir, "typo.db"))
	assert.True(t, os.IsNotExist(err), "a mistyped SQLite path creates no database")
}

// TestAdminStoreDown: a store that refuses connections is exit status 3,
// within the --timeout.
func TestAdminStoreDown(t *testing.T) {
	k := newKey(t, "k1")
	keys := keysFile(t, k)
	for _, db := range []string{
		"postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=disable",
		"mysql://root:hunter2@127.0.0.1:1/test",
		"redis://:hunter2@127.0.0.1:1/0",
	} {
		for _, cmd := range [][]string{{"status", "ann"}, {"reset", "ann", "--actor", "x", "--reason", "y", "--yes"}, {"recovery-code", "ann", "--actor", "x"}} {
			start := time.Now()
			r := (&cli{t: t}).raw(append(cmd, "--db", db, "--keys", keys, "--timeout", "2s")...)
			assert.Equal(t, 3, r.status, "%s %s: %s", cmd[0], db, r.stderr)
			assert.Empty(t, r.stdout)
			assert.True(t, strings.HasPrefix(r.stderr, "twofactor "+cmd[0]+": "), r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.NotContains(t, r.stderr, "hunter2")
			assert.Less(t, time.Since(start), 10*time.Second)
		}
	}
}

// TestAdminDBFromEnvironment: TWOFACTOR_DB and TWOFACTOR_KEYS name the
// store and the keys when the flags do not.
func TestAdminDBFromEnvironment(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	newApp(t, b, k).enrollTOTP("ann")
	c := &cli{t: t, env: map[string]string{"TWOFACTOR_DB": "sqlite:" + b.db, "TWOFACTOR_KEYS": k.Encode()}}
	r := c.raw("status", "ann")
	assert.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stdout, "Authenticator app")

	c.env = map[string]string{"TWOFACTOR_DB": b.db, "TWOFACTOR_KEYS_FILE": keysFile(t, k)}
	r = c.raw("status", "ann")
	assert.Equal(t, 0, r.status, r.stderr)
}

// TestStatusAddressOnFile: an app whose email factor uses the address on
// file (emailcode.EnrollImplicit) has it recorded in the store; status
// shows it as such, and a reset removes the record.
func TestStatusAddressOnFile(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	kr, err := keyring.New(k)
	require.NoError(t, err)
	implicit, err := emailcode.New(twofactor.Env{Store: b.st, Keys: kr}, emailcode.Config{Sender: &emailcode.Outbox{}})
	require.NoError(t, err)
	es, err := implicit.Enrollments(ctx, twofactor.User{ID: "eve", Email: "eve.adams@example.com"})
	require.NoError(t, err)
	require.Len(t, es, 1)
	c := newCLI(t, b, k)
	r := c.run("status", "eve")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Regexp(t, `email +e\*\*\*@example\.com \(address on file\) +\S+ +never\n`, r.stdout)
	assert.NotContains(t, r.stdout, "eve.adams")
	r = c.run("reset", "eve", "--actor", "alice", "--reason", "x", "--yes")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stdout, "email (e***@example.com)")
	recs, err := b.st.ListEnrollments(ctx, "eve")
	require.NoError(t, err)
	assert.Empty(t, recs)
}
