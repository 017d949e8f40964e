package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/totp"
)

// Each user is checked against their own requirement, from the require
// column; --require is then optional and covers the users without one.
func TestPolicyCheckPerUser(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		a := newApp(t, b, k)
		a.enrollTOTP("ann")
		c := newCLI(t, b, k)
		c.stdin = "id,require\nann,any\nbob,none\ncarol,any\ndave,sms;totp\n"

		r := c.run("policy-check")
		assert.Equal(t, 1, r.status, r.stderr)
		assert.Equal(t, "2 of 4 users cannot comply with each user's requirement:\n"+
			"  USER   LACKS\n"+
			"  carol  any second factor\n"+
			"  dave   totp, sms\n", r.stdout)

		r = c.run("policy-check", "--json")
		var got policyReport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, []string{}, got.Require)
		require.Len(t, got.CannotComply, 2)
		assert.Equal(t, []string{"any"}, got.CannotComply[0].Require)

		// bob follows his own "none", not --require.
		c.stdin = "id,require\nbob,none\nann,\n"
		r = c.run("policy-check", "--require", "totp")
		assert.Equal(t, 0, r.status, r.stdout+r.stderr)

		c.stdin = "bob\n"
		r = c.run("policy-check")
		assert.Equal(t, 2, r.status)
		assert.Contains(t, r.stderr, "unless the user list has a require column")
		c.stdin = "id,require\nbob,pin\n"
		r = c.run("policy-check")
		assert.Equal(t, 2, r.status)
		assert.Contains(t, r.stderr, `"pin" is not a method`)
	})
}

// status shows a user in an enrollment grace: when they were first
// prompted, how often they skipped, and with --grace-days until when.
func TestStatusShowsGrace(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k := newKey(t, "k1")
		kr, err := keyring.New(k)
		require.NoError(t, err)
		svc, err := twofactor.New(twofactor.Config{Store: b.st, Keys: kr, Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}},
			Policy: twofactor.Policy{Required: true, Grace: twofactor.Grace{Days: 7, Skips: 3}}, Events: &event.Sink{Discard: true}})
		require.NoError(t, err)
		ctx := context.Background()
		begun, err := svc.Begin(ctx, twofactor.User{ID: "erin"}, twofactor.Client{})
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusEnrollSuggested, begun.Status)
		_, err = svc.SkipEnroll(ctx, twofactor.User{ID: "erin"})
		require.NoError(t, err)

		c := newCLI(t, b, k)
		r := c.run("status", "erin", "--grace-days", "7")
		require.Equal(t, 0, r.status, r.stderr)
		assert.Regexp(t, `enrollment grace: +first prompted \S+, skipped 1 time, until \S+`, r.stdout)

		r = c.run("status", "erin", "--json")
		require.Equal(t, 0, r.status, r.stderr)
		var got userState
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		require.NotNil(t, got.Grace)
		assert.Equal(t, 1, got.Grace.Skips)
		assert.WithinDuration(t, time.Now(), got.Grace.Prompted, time.Minute)
		assert.True(t, got.Grace.Until.IsZero(), "no --grace-days, no until")

		r = c.run("status", "frank")
		assert.Equal(t, 1, r.status, "nothing stored for frank")
		assert.NotContains(t, r.stdout, "enrollment grace")
	})
}
