package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/keyring"
)

func TestPolicyCheck(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		a.enrollTOTP("ann")
		a.enrollSMS("ann", "+14155550112")
		a.enrollTOTP("bob")
		a.backupCodes("dave")
		before := map[string]snapshot{}
		for _, u := range []string{"ann", "bob", "carol", "dave"} {
			before[u] = a.snapshot(u)
		}
		c := newCLI(t, b, k)
		c.stdin = "# users\nann\nbob\n\ncarol\ndave\nbob\n"

		r := c.run("policy-check", "--require", "sms")
		assert.Equal(t, 1, r.status, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Equal(t, "3 of 4 users cannot comply with --require sms:\n"+
			"  USER   LACKS\n"+
			"  bob    sms\n"+
			"  carol  sms\n"+
			"  dave   sms\n", r.stdout)

		r = c.run("policy-check", "--require", "any", "--json")
		assert.Equal(t, 1, r.status, r.stderr)
		var got policyReport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, policyReport{Require: []string{"any"}, Checked: 4, CannotComply: []gapRow{
			{User: "carol", Missing: []twofactor.Method{}, NoFactor: true},
			{User: "dave", Missing: []twofactor.Method{}, NoFactor: true},
		}}, got)

		r = c.run("policy-check", "--require", "totp,sms", "--require", "any")
		assert.Equal(t, 1, r.status, r.stderr)
		assert.Contains(t, r.stdout, "3 of 4 users cannot comply with --require totp,sms,any:")
		assert.Regexp(t, `carol +any second factor, totp, sms\n`, r.stdout)

		c.stdin = "ann\nbob\n"
		r = c.run("policy-check", "--require", "totp")
		assert.Equal(t, 0, r.status, r.stderr)
		assert.Equal(t, "all 2 users comply with --require totp\n", r.stdout)

		// CSV, with a header in another order, and without one.
		c.stdin = "email,id,phone-enrolled,name\nann@example.com,ann,yes,Ann\nbob@example.com,bob,yes,Bob\ncarol@example.com,carol,no,Carol\n"
		r = c.run("policy-check", "--require", "sms")
		assert.Equal(t, 1, r.status, r.stderr)
		assert.Equal(t, "2 of 3 users cannot comply with --require sms:\n"+
			"  USER   LACKS  PHONE IN APP\n"+
			"  bob    sms    yes\n"+
			"  carol  sms    no\n", r.stdout)
		c.stdin = "bob,Bob,bob@example.com,1\ncarol,Carol\n"
		r = c.run("policy-check", "--require", "sms", "--json")
		assert.Equal(t, 1, r.status, r.stderr)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		require.Len(t, got.CannotComply, 2)
		require.NotNil(t, got.CannotComply[0].PhoneEnrolled)
		assert.True(t, *got.CannotComply[0].PhoneEnrolled)
		assert.Nil(t, got.CannotComply[1].PhoneEnrolled)

		for u, s := range before {
			assert.Equal(t, s, a.snapshot(u), "policy-check changes nothing for %s", u)
		}
	})
}

func TestPolicyCheckBadInput(t *testing.T) {
	k := newKey(t, "k1")
	// A store that is down: bad input is found before it is tried.
	down := &backend{db: "postgres://postgres@127.0.0.1:1/test?sslmode=disable"}
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"no --require", nil, "ann\n", "--require is required"},
		{"unknown method", []string{"--require", "fax"}, "ann\n", `"fax" is not a method`},
		{"empty input", []string{"--require", "sms"}, "\n# nobody\n", "no user ids on stdin"},
		{"bad user id", []string{"--require", "sms"}, "ann\n" + strings.Repeat("x", 200) + "\n", "stdin line 2: user id"},
		{"unknown column", []string{"--require", "sms"}, "id,phone\nann,yes\n", `stdin line 1: unknown column "phone"`},
		{"too many columns", []string{"--require", "sms"}, "ann,Ann,a@x,yes,any,extra\n", "stdin line 1: 6 columns, want at most 5"},
		{"bad phone-enrolled", []string{"--require", "sms"}, "ann,Ann,a@x,maybe\n", `stdin line 1: phone-enrolled "maybe": want yes or no`},
		{"bad CSV", []string{"--require", "sms"}, "ann,\"Ann\n", "stdin:"},
		{"argument", []string{"ann", "--require", "sms"}, "", `unexpected argument "ann"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t, down, k)
			c.stdin = tt.stdin
			r := c.run(append([]string{"policy-check"}, tt.args...)...)
			assert.Equal(t, 2, r.status, r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tt.want)
			assert.True(t, strings.HasPrefix(r.stderr, "twofactor policy-check: "), r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		})
	}
	c := newCLI(t, down, k)
	c.interactive = true
	r := c.run("policy-check", "--require", "sms")
	assert.Equal(t, 2, r.status)
	assert.Contains(t, r.stderr, "reads the user ids on stdin")

	c.interactive = false
	c.stdin = "ann\n"
	r = c.run("policy-check", "--require", "sms")
	assert.Equal(t, 3, r.status, "good input, store down: %s", r.stderr)
}

func TestPolicyCheckWrongKey(t *testing.T) {
	b := sqliteBackend(t)
	old, other := newKey(t, "k-old"), newKey(t, "k-new")
	a := newApp(t, b, old)
	a.enrollTOTP("bob")
	c := newCLI(t, b, other)
	c.stdin = "ann\nbob\n"
	r := c.run("policy-check", "--require", "sms")
	assert.Equal(t, 2, r.status)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, `lack key "k-old", under which the TOTP secret of user "bob" is sealed`)
}

// TestPolicyCheckStoredMethods: SMS, email and security keys, which the
// command builds no factor for, count from their records; an address the
// app has on file is not a confirmed one, and backup codes alone are no
// second factor.
func TestPolicyCheckStoredMethods(t *testing.T) {
	b := sqliteBackend(t)
	k := newKey(t, "k1")
	a := newApp(t, b, k)
	a.enrollEmail("ann", "ann.smith@example.com")
	a.securityKey("bob", "YubiKey 5")
	a.enrollSMS("carol", "+14155550112")
	kr, err := keyring.New(k)
	require.NoError(t, err)
	implicit, err := emailcode.New(twofactor.Env{Store: b.st, Keys: kr}, emailcode.Config{Sender: &emailcode.Outbox{}})
	require.NoError(t, err)
	_, err = implicit.Enrollments(ctx, twofactor.User{ID: "eve", Email: "eve.adams@example.com"})
	require.NoError(t, err)
	a.backupCodes("eve")
	c := newCLI(t, b, k)
	c.stdin = "ann\nbob\ncarol\neve\n"

	r := c.run("policy-check", "--require", "any,email", "--json")
	assert.Equal(t, 1, r.status, r.stderr)
	var got policyReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, []gapRow{
		{User: "bob", Missing: []twofactor.Method{twofactor.MethodEmail}},
		{User: "carol", Missing: []twofactor.Method{twofactor.MethodEmail}},
		{User: "eve", Missing: []twofactor.Method{twofactor.MethodEmail}, NoFactor: true},
	}, got.CannotComply)

	r = c.run("policy-check", "--require", "webauthn,sms")
	assert.Equal(t, 1, r.status, r.stderr)
	assert.Equal(t, "4 of 4 users cannot comply with --require webauthn,sms:\n"+
		"  USER   LACKS\n"+
		"  ann    sms, webauthn\n"+
		"  bob    sms\n"+
		"  carol  webauthn\n"+
		"  eve    sms, webauthn\n", r.stdout)
}
