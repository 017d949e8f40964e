package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
)

func TestRekey(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k1, k2 := newKey(t, "k1"), newKey(t, "k2")
		a := newApp(t, b, k1)
		a.enrollTOTP("ann")
		a.enrollSMS("ann", "+14155550112")
		a.enrollEmail("ann", "ann.smith@example.com")
		a.backupCodes("ann")
		a.enrollTOTP("bob")
		a.enrollSMS("carol", "+447400123456")
		rotated := newCLI(t, b, k2, k1)

		sealed := func(c *cli, user string) []string {
			t.Helper()
			r := c.run("status", user, "--json")
			require.Equal(t, 0, r.status, r.stderr)
			var u userState
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &u))
			return u.SealedUnder
		}
		assert.Equal(t, []string{"k1"}, sealed(rotated, "ann"))
		before := a.snapshot("ann")

		r := rotated.run("rekey", "ann", "bob", "carol", "ann")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Equal(t, "re-sealed 5 records of 3 users under key k2 (totp 2, sms 2, email 1)\n", r.stdout)
		assert.Empty(t, r.stderr)

		// The keys without the old one read everyone now.
		onlyNew := newCLI(t, b, k2)
		for _, u := range []string{"ann", "bob", "carol"} {
			assert.Equal(t, []string{"k2"}, sealed(onlyNew, u), u)
		}
		after := a.snapshot("ann")
		require.Len(t, after.Enrollments, len(before.Enrollments))
		for i := range before.Enrollments {
			b, a := before.Enrollments[i], after.Enrollments[i]
			assert.Equal(t, b.CreatedAt, a.CreatedAt)
			assert.Equal(t, b.Label, a.Label)
		}
		assert.Equal(t, before.BackupLeft, after.BackupLeft)

		// An app with only the new key uses what was re-sealed.
		a2 := newApp(t, b, k2)
		n, err := a2.totp.Rekey(ctx, "bob")
		require.NoError(t, err, "bob's TOTP secret opens under k2")
		assert.Zero(t, n)
		for _, send := range []struct {
			user string
			m    twofactor.Method
		}{{"carol", twofactor.MethodSMS}, {"ann", twofactor.MethodEmail}} {
			bg, err := a2.svc.Begin(ctx, twofactor.User{ID: send.user}, twofactor.Client{})
			require.NoError(t, err)
			_, err = a2.svc.Send(ctx, bg.Challenge.ID, send.m, twofactor.Client{})
			require.NoError(t, err, "%s's %s opens under k2", send.user, send.m)
		}
		_, ok := a2.smsBox.Last("+447400123456")
		assert.True(t, ok)
		_, ok = a2.mailBox.Last("ann.smith@example.com")
		assert.True(t, ok)

		// Again, from stdin, with a progress line: nothing left to do.
		rotated.stdin = "ann\nbob\ncarol\n"
		rotated.progress = true
		r = rotated.run("rekey", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var rep rekeyReport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
		assert.Equal(t, rekeyReport{Users: 3, Key: "k2", Total: 0, Resealed: map[twofactor.Method]int{"totp": 0, "sms": 0, "email": 0}}, rep)
		assert.Contains(t, r.stderr, "\rtwofactor rekey: 3/3 users, 0 records re-sealed")
		assert.True(t, strings.HasSuffix(r.stderr, "\n"))
	})
}

// TestRekeyMissingKey: a user sealed under a key the ring lacks stops the
// command before it changes anyone, even users listed first.
func TestRekeyMissingKey(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k0, k1, k2 := newKey(t, "k0"), newKey(t, "k1"), newKey(t, "k2")
		a := newApp(t, b, k1)
		a.enrollTOTP("ann")
		a.enrollSMS("ann", "+14155550112")
		newApp(t, b, k0).enrollTOTP("dave")
		before := a.snapshot("ann")
		dave := a.snapshot("dave")
		r := newCLI(t, b, k2, k1).run("rekey", "ann", "dave")
		assert.Equal(t, 2, r.status)
		assert.Empty(t, r.stdout)
		assert.Equal(t, "twofactor rekey: missing key: the keys from --keys "+keysPathOf(r)+" lack key \"k0\", under which the TOTP secret of user \"dave\" is sealed: use the app's keys\n", r.stderr)
		assert.Equal(t, before, a.snapshot("ann"), "nothing changed")
		assert.Equal(t, dave, a.snapshot("dave"))
	})
}

// keysPathOf is the keys file a command's error names.
func keysPathOf(r result) string {
	_, rest, _ := strings.Cut(r.stderr, "--keys ")
	path, _, _ := strings.Cut(rest, " ")
	return path
}

func TestRekeyBadInput(t *testing.T) {
	k := newKey(t, "k1")
	down := &backend{db: "redis://127.0.0.1:1/0"}
	c := newCLI(t, down, k)
	c.interactive = true
	r := c.run("rekey")
	assert.Equal(t, 2, r.status)
	assert.Equal(t, "twofactor rekey: give the user ids as arguments or on stdin: twofactor rekey < users.txt\n", r.stderr)
	c.interactive = false
	r = c.run("rekey")
	assert.Equal(t, 2, r.status)
	assert.Equal(t, "twofactor rekey: no user ids on stdin\n", r.stderr)
	r = c.run("rekey", "ann", "b\x00b")
	assert.Equal(t, 2, r.status)
	assert.Contains(t, r.stderr, "control characters")
}
