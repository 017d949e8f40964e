package main

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
)

// seedAnn gives ann every factor, a trusted device and a lockout, and
// returns the device's cookie.
func seedAnn(a *app) string {
	secret := a.enrollTOTP("ann")
	a.enrollSMS("ann", "+14155550112")
	a.enrollEmail("ann", "ann.smith@example.com")
	a.backupCodes("ann")
	a.securityKey("ann", "YubiKey 5")
	cookie := a.trustDevice("ann")
	a.wrongAnswers("ann", secret, 10)
	return cookie
}

func (a *app) trusted(userID, cookie string) bool {
	ok, err := a.devices.Trusted(ctx, twofactor.User{ID: userID}, twofactor.Client{
		IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		DeviceToken: cookie,
	})
	require.NoError(a.t, err)
	return ok
}

func TestReset(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		cookie := seedAnn(a)
		require.True(t, a.trusted("ann", cookie))
		before := a.snapshot("ann")
		require.True(t, before.Lockout.Locked)
		c := newCLI(t, b, k)
		require.True(t, a.claimed("ann"))

		// Ann has a security key: without the RP ID its claim would stay,
		// and with another RP ID none is found. Both change nothing.
		noRP := []string{"reset", "ann", "--actor", "alice@support", "--reason", "lost phone", "--yes"}
		r := c.run(noRP...)
		assert.Equal(t, 2, r.status)
		assert.Equal(t, "twofactor reset: user \"ann\" has 1 security key: pass --rp-id with the app's WebAuthn RP ID (or set $TWOFACTOR_RP_ID), so the keys can be registered again after the reset; nothing was changed\n", r.stderr)
		r = c.run(append(noRP, "--rp-id", "example.org")...)
		assert.Equal(t, 2, r.status)
		assert.Contains(t, r.stderr, `credential id not claimed under this RP ID: credential "YubiKey 5" of user "ann" (RP ID "example.org"): is --rp-id the app's WebAuthn RP ID? Nothing was changed`)
		assert.Nil(t, r.event(t, "admin.reset", "ann"))
		assert.Equal(t, before, a.snapshot("ann"))
		assert.True(t, a.claimed("ann"))

		c.env["TWOFACTOR_RP_ID"] = "example.com"
		args := []string{"reset", "ann", "--actor", "alice@support", "--reason", "lost phone, ticket 1234"}

		// Refused before anything is read: no confirmation possible, no
		// reason, no actor.
		for _, tt := range []struct {
			args []string
			want string
		}{
			{args, "twofactor reset: reset asks for confirmation on a terminal: pass --yes to reset without asking\n"},
			{[]string{"reset", "ann", "--actor", "alice", "--yes"}, "twofactor reset: --reason is required\n"},
			{[]string{"reset", "ann", "--reason", "x", "--yes"}, "twofactor reset: --actor is required\n"},
			{[]string{"reset", "ann", "--actor", "alice", "--reason", "two\nlines", "--yes"}, "twofactor reset: --reason must be one line\n"},
		} {
			r := c.run(tt.args...)
			assert.Equal(t, 2, r.status)
			assert.Equal(t, tt.want, r.stderr)
			assert.Empty(t, r.stdout)
		}

		// On a terminal: the prompt shows what goes, and anything but the
		// user id changes nothing.
		c.interactive = true
		for _, in := range []string{"", "y\n", "yes\n", "bob\n"} {
			c.stdin = in
			r := c.run(args...)
			assert.Equal(t, 1, r.status, "answer %q", in)
			assert.Contains(t, r.stderr, `Reset two-factor authentication of user "ann"?`)
			assert.Contains(t, r.stderr, "factors to remove: totp (Authenticator app), sms (+1 *** *** **12), email (a***@example.com), webauthn (YubiKey 5), backup_code (Backup codes (10 left))")
			assert.Contains(t, r.stderr, "trusted devices to revoke: 1")
			assert.Contains(t, r.stderr, "lockout to lift: locked until")
			assert.Contains(t, r.stderr, "Type the user id to confirm: ")
			assert.Contains(t, r.stderr, "twofactor reset: not confirmed: nothing was changed\n")
			assert.Nil(t, r.event(t, "admin.reset", "ann"))
			assert.Empty(t, r.stdout)
		}
		assert.Equal(t, before, a.snapshot("ann"))

		c.stdin = "ann\n"
		r = c.run(args...)
		require.Equal(t, 0, r.status, r.stderr)
		assert.False(t, a.claimed("ann"), "the security key's claim is freed")
		assert.Contains(t, r.stdout, "reset user ann:\n")
		assert.Regexp(t, `removed: +totp \(Authenticator app\), sms \(\+1 \*\*\* \*\*\* \*\*12\), email`, r.stdout)
		assert.Regexp(t, `trusted devices revoked: +1\n`, r.stdout)
		assert.Regexp(t, `lockout: +lifted \(was locked until \S+ after 10 wrong answers in a row\)\n`, r.stdout)
		ev := r.event(t, "admin.reset", "ann")
		require.NotNil(t, ev, r.stderr)
		assert.Equal(t, "alice@support", ev["actor"])
		assert.Equal(t, "lost phone, ticket 1234", ev["reason"])
		assert.Equal(t, "INFO", ev["level"])
		assert.NotNil(t, r.event(t, "device.revoked", "ann"), r.stderr)

		assert.Regexp(t, `removed: +totp \(Authenticator app\), sms \(\+1 \*\*\* \*\*\* \*\*12\), email \(a\*\*\*@example\.com\), webauthn \(YubiKey 5\), backup_code \(Backup codes \(10 left\)\)\n`, r.stdout)

		// Every factor went, the phone and the address too, though the
		// command builds no SMS or email factor: the app's factors report
		// nothing, the store holds no record, and a sign-in finds no
		// factor to challenge with.
		es, err := a.svc.Enrollments(ctx, twofactor.User{ID: "ann"})
		require.NoError(t, err)
		assert.Empty(t, es)
		for _, f := range []twofactor.Factor{a.sms, a.email} {
			es, err := f.Enrollments(ctx, twofactor.User{ID: "ann"})
			require.NoError(t, err)
			assert.Empty(t, es, "%s", f.Method())
		}
		recs, err := b.st.ListEnrollments(ctx, "ann")
		require.NoError(t, err)
		assert.Empty(t, recs)
		bg, err := a.svc.Begin(ctx, twofactor.User{ID: "ann"}, twofactor.Client{})
		require.NoError(t, err)
		assert.Equal(t, twofactor.StatusNoFactor, bg.Status)
		after := a.snapshot("ann")
		assert.Empty(t, after.Devices)
		assert.Zero(t, after.BackupLeft)
		assert.Equal(t, twofactor.Lockout{}, after.Lockout)
		assert.False(t, a.trusted("ann", cookie))

		// Nothing left to reset.
		r = c.run(append(args, "--yes")...)
		assert.Equal(t, 1, r.status)
		assert.Equal(t, "twofactor reset: the store holds nothing for user \"ann\": nothing to reset\n", r.stderr)
	})
}

func TestResetJSON(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	a := newApp(t, b, k)
	a.enrollTOTP("bob")
	a.trustDevice("bob")
	r := newCLI(t, b, k).run("reset", "bob", "--actor", "alice", "--reason", "ticket 7", "--yes", "--json")
	require.Equal(t, 0, r.status, r.stderr)
	var got resetDone
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, "bob", got.User)
	require.Len(t, got.Removed, 1)
	assert.Equal(t, twofactor.MethodTOTP, got.Removed[0].Method)
	assert.Len(t, got.RevokedDevices, 1)
	assert.Equal(t, lockoutRow{}, got.LockoutBefore)
	assert.Empty(t, got.Left)
}

// TestResetForgetsWrongAnswers: a user who is not locked but gave wrong
// answers is told so at the prompt, and the run is forgotten.
func TestResetForgetsWrongAnswers(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	a := newApp(t, b, k)
	secret := a.enrollTOTP("bob")
	a.wrongAnswers("bob", secret, 4)
	c := newCLI(t, b, k)
	c.interactive, c.stdin = true, "bob\n"
	r := c.run("reset", "bob", "--actor", "alice", "--reason", "ticket 8")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stderr, "  wrong answers to forget: 4 in a row (not locked)\n")
	assert.Regexp(t, `lockout: +none; 4 wrong answers in a row forgotten\n`, r.stdout)
	assert.Equal(t, twofactor.Lockout{}, a.snapshot("bob").Lockout)
}

// TestResetRemovesOtherFactors: an enrollment of a factor of the app's own
// is listed by status from its record, and removed by a reset with the
// rest.
func TestResetRemovesOtherFactors(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	a := newApp(t, b, k)
	a.enrollTOTP("ann")
	require.NoError(t, b.st.PutEnrollment(ctx, storeRecord("ann", "hw-1", "hardware_token", "Token 1234")))
	c := newCLI(t, b, k)
	r := c.run("status", "ann")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Contains(t, r.stdout, "Token 1234 (not a factor this command knows)")
	r = c.run("reset", "ann", "--actor", "alice", "--reason", "x", "--yes", "--json")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Empty(t, r.errLines())
	var got resetDone
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Len(t, got.Removed, 2)
	assert.Equal(t, twofactor.MethodTOTP, got.Removed[0].Method)
	assert.Equal(t, twofactor.Method("hardware_token"), got.Removed[1].Method)
	assert.Empty(t, got.Left)
	recs, err := b.st.ListEnrollments(ctx, "ann")
	require.NoError(t, err)
	assert.Empty(t, recs)
}

func TestResetWrongKey(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		old, other := newKey(t, "k-old"), newKey(t, "k-new")
		a := newApp(t, b, old)
		cookie := seedAnn(a)
		before := a.snapshot("ann")
		c := newCLI(t, b, other)
		for _, args := range [][]string{
			{"reset", "ann", "--actor", "alice", "--reason", "x", "--yes"},
			{"unlock", "ann", "--actor", "alice"},
			{"recovery-code", "ann", "--actor", "alice"},
			{"revoke-devices", "ann", "--actor", "alice"},
		} {
			r := c.run(args...)
			assert.Equal(t, 2, r.status, "%v", args)
			assert.Empty(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, `lack key "k-old"`)
			assert.Empty(t, r.events(t), "no audit event: nothing happened")
		}
		assert.Equal(t, before, a.snapshot("ann"), "nothing changed")
		assert.True(t, a.trusted("ann", cookie))
	})
}

func TestUnlock(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		secret := a.enrollTOTP("ann")
		a.wrongAnswers("ann", secret, 10)
		before := a.snapshot("ann")
		require.True(t, before.Lockout.Locked)
		c := newCLI(t, b, k)

		r := c.run("unlock", "ann")
		assert.Equal(t, 2, r.status)
		assert.Equal(t, "twofactor unlock: --actor is required\n", r.stderr)
		assert.Equal(t, before, a.snapshot("ann"))

		r = c.run("unlock", "ann", "--actor", "alice@support")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Regexp(t, `^unlocked user ann: was locked until \S+ \(10 wrong answers in a row\)\n$`, r.stdout)
		ev := r.event(t, "admin.action", "ann")
		require.NotNil(t, ev, r.stderr)
		assert.Equal(t, "unlock", ev["action"])
		assert.Equal(t, "alice@support", ev["actor"])
		after := a.snapshot("ann")
		assert.Equal(t, twofactor.Lockout{}, after.Lockout)
		assert.Equal(t, before.Enrollments, after.Enrollments, "factors are kept")

		// The user can answer again.
		bg, err := a.svc.Begin(ctx, twofactor.User{ID: "ann"}, twofactor.Client{})
		require.NoError(t, err)
		assert.Equal(t, twofactor.StatusChallenge, bg.Status)

		r = c.run("unlock", "ann", "--actor", "alice")
		assert.Equal(t, 1, r.status)
		assert.Equal(t, "twofactor unlock: user \"ann\" is not locked out and has no wrong answers: nothing to unlock\n", r.stderr)

		a.wrongAnswers("ann", secret, 3)
		r = c.run("unlock", "ann", "--actor", "alice", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got unlocked
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, unlocked{User: "ann", LockoutBefore: lockoutRow{Failures: 3}}, got)
		r = c.run("unlock", "ann", "--actor", "alice")
		assert.Equal(t, 1, r.status)
	})
}

var recoveryCodeRE = regexp.MustCompile(`recovery code for user \S+: (\S+)\n`)

func TestRecoveryCode(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		a.enrollTOTP("ann")
		before := a.snapshot("ann")
		c := newCLI(t, b, k)

		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"recovery-code", "ann"}, "--actor is required"},
			{[]string{"recovery-code", "ann", "--actor", "alice", "--ttl", "0s"}, "--ttl 0s: use 1m to 168h0m0s"},
			{[]string{"recovery-code", "ann", "--actor", "alice", "--ttl", "200h"}, "--ttl 200h0m0s"},
		} {
			r := c.run(tt.args...)
			assert.Equal(t, 2, r.status)
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
		}
		assert.Equal(t, before, a.snapshot("ann"))

		r := c.run("recovery-code", "ann", "--actor", "alice@support")
		require.Equal(t, 0, r.status, r.stderr)
		m := recoveryCodeRE.FindStringSubmatch(r.stdout)
		require.NotNil(t, m, r.stdout)
		first := m[1]
		assert.Regexp(t, `\nsingle use, valid until \S+; it replaces any recovery code issued before\n$`, r.stdout)
		ev := r.event(t, "admin.action", "ann")
		require.NotNil(t, ev, r.stderr)
		assert.Equal(t, "recovery_code_issued", ev["action"])
		assert.Equal(t, "alice@support", ev["actor"])
		exp, err := time.Parse(time.RFC3339, ev["until"].(string))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now().Add(24*time.Hour), exp, time.Minute)
		assert.NotContains(t, r.stderr, first)

		// A second code replaces the first; it signs the user in once.
		r = c.run("recovery-code", "ann", "--actor", "alice@support", "--ttl", "2h", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got recoveryIssued
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, "ann", got.User)
		assert.WithinDuration(t, time.Now().Add(2*time.Hour), got.ExpiresAt, time.Minute)
		assert.NotEqual(t, first, got.Code)
		assert.Error(t, a.signInWith("ann", first))
		require.NoError(t, a.signInWith("ann", got.Code))
		assert.Error(t, a.signInWith("ann", got.Code), "single use")
	})
}

func TestRecoveryCodeLockedUser(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	a := newApp(t, b, k)
	secret := a.enrollTOTP("ann")
	a.wrongAnswers("ann", secret, 10)
	r := newCLI(t, b, k).run("recovery-code", "ann", "--actor", "alice")
	require.Equal(t, 0, r.status, r.stderr)
	assert.Regexp(t, `twofactor recovery-code: user "ann" is locked out until \S+: the code works once the lockout lifts \(twofactor unlock ann --actor NAME lifts it now\)\n`, r.errLines())
}

// signInWith signs the user in with a backup or recovery code.
func (a *app) signInWith(userID, code string) error {
	bg, err := a.svc.Begin(ctx, twofactor.User{ID: userID}, twofactor.Client{})
	if err != nil {
		return err
	}
	if bg.Status != twofactor.StatusChallenge {
		return twofactor.ErrNotEnrolled
	}
	_, err = a.svc.Verify(ctx, twofactor.Answer{ChallengeID: bg.Challenge.ID, Method: twofactor.MethodBackupCode, Code: code, UserID: userID})
	return err
}

// TestLostPhone is the README's case: status, reset, recovery code, and
// the user signs in with the code and enrolls a new phone.
func TestLostPhone(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		secret := a.enrollTOTP("42")
		a.trustDevice("42")
		a.wrongAnswers("42", secret, 10)
		c := newCLI(t, b, k)

		r := c.run("status", "42")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Contains(t, r.stdout, "locked until")
		r = c.run("reset", "42", "--actor", "alice@support", "--reason", "lost phone, ticket 1234", "--yes")
		require.Equal(t, 0, r.status, r.stderr)
		r = c.run("recovery-code", "42", "--actor", "alice@support")
		require.Equal(t, 0, r.status, r.stderr)
		code := recoveryCodeRE.FindStringSubmatch(r.stdout)[1]

		require.NoError(t, a.signInWith("42", code))
		a.enrollTOTP("42")
		r = c.run("status", "42", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got userState
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, []string{"totp"}, got.methods(), "the recovery code is spent; the new app is enrolled")
		assert.Empty(t, got.TrustedDevices)
		assert.Equal(t, lockoutRow{}, got.Lockout)
	})
}
