package notify_test

import (
	"context"
	"html"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/notify"
)

// kindCase drives a Service into one kind of notification and checks the
// message.
type kindCase struct {
	kind notify.Kind
	// setup brings the user where the action can happen; its messages are
	// dropped.
	setup func(a *app)
	act   func(a *app)
	// says are what the message must say, in both parts.
	says []string
	link string
}

var kindCases = []kindCase{
	{
		kind: notify.TurnedOn,
		act:  func(a *app) { a.turnOn(ann) },
		says: []string{"Hello Ann,", "Two-step verification was turned on", "Method: Authenticator app", "When: 4 March 2026, 10:0"},
		link: "https://example.com/settings/security",
	},
	{
		kind:  notify.MethodAdded,
		setup: func(a *app) { a.turnOn(ann) },
		act:   func(a *app) { a.addPhone(ann) },
		says:  []string{"was added to your account: Text message (+1 *** *** **12)."},
	},
	{
		kind:  notify.MethodRemoved,
		setup: func(a *app) { a.turnOn(ann); a.addPhone(ann) },
		act: func(a *app) {
			require.NoError(a.t, a.svc.RemoveEnrollment(context.Background(), ann, twofactor.MethodSMS, "phone",
				a.proof(ann, twofactor.PurposeStepUp)))
		},
		says: []string{"was removed from your account: Text message."},
	},
	{
		kind:  notify.TurnedOff,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			require.NoError(a.t, a.svc.Disable(context.Background(), ann, a.proof(ann, twofactor.PurposeStepUp)))
		},
		says: []string{"Two-step verification was turned off for your account", "When: 4 March 2026, 10:0"},
	},
	{
		kind:  notify.BackupCodesRegenerated,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			en, err := a.svc.BeginEnroll(context.Background(), ann, twofactor.MethodBackupCode, twofactor.EnrollRequest{},
				a.proof(ann, twofactor.PurposeEnroll))
			require.NoError(a.t, err)
			a.secrets = append(a.secrets, en.Codes...)
		},
		says: []string{"A new set of backup codes was created", "The old codes no longer work."},
	},
	{
		kind:  notify.BackupCodesLow,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			// A set of 4: using 2 leaves 2, the threshold.
			for _, c := range a.secrets[len(a.secrets)-4 : len(a.secrets)-2] {
				_, err := a.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: a.begin(ann),
					Method: twofactor.MethodBackupCode, Code: c, UserID: ann.ID, Client: client})
				require.NoError(a.t, err)
			}
		},
		says: []string{"few are left", "Backup codes left: 2"},
	},
	{
		kind:  notify.DeviceTrusted,
		setup: func(a *app) { a.turnOn(ann) },
		act:   func(a *app) { a.pass(ann, a.begin(ann), true) },
		says:  []string{"Device: Firefox on Linux", "Network: 203.0.113.7", "Until: 3 April 2026"},
		link:  "https://example.com/settings/devices",
	},
	{
		kind:  notify.AdminReset,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			require.NoError(a.t, a.svc.AdminReset(context.Background(), ann, "Sam from support", "lost phone"))
		},
		says: []string{"An administrator removed every way", "By: Sam from support", "When: 4 March 2026, 10:0"},
	},
	{
		kind:  notify.RecoveryCodeIssued,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			code, _, err := a.bc.IssueRecoveryCode(context.Background(), ann, "Sam from support")
			require.NoError(a.t, err)
			a.secrets = append(a.secrets, code)
		},
		says: []string{"one-time recovery code", "By: Sam from support", "Until: 5 March 2026, 10:0"},
	},
	{
		kind:  notify.Lockout,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			for range 2 {
				ch := a.begin(ann)
				for range 5 {
					_ = a.fail(ann, ch)
				}
			}
		},
		says: []string{"signing in is locked for a while", "Network: 203.0.113.7", "Browser: Firefox on Linux",
			"Wrong answers: 10", "Until: 4 March 2026, 10:1"},
		link: "https://example.com/settings/password",
	},
	{
		kind:  notify.FailedSecondStep,
		setup: func(a *app) { a.turnOn(ann) },
		act: func(a *app) {
			require.ErrorIs(a.t, a.fail(ann, a.begin(ann)), twofactor.ErrInvalidCode)
		},
		says: []string{"Someone signed in with your password but did not pass the second step.",
			"Network: 203.0.113.7", "Browser: Firefox on Linux", "When: 4 March 2026, 10:0",
			"Method: Authenticator app", "If this was not you, change your password"},
		link: "https://example.com/settings/password",
	},
}

// TestKinds drives each kind through a real Service, on the memory store
// and on SQLite: one message, to the user's address, saying what happened
// and holding no code, secret or phone number; nothing to anyone else.
func TestKinds(t *testing.T) {
	for _, kc := range kindCases {
		t.Run(string(kc.kind), func(t *testing.T) {
			eachStore(t, func(t *testing.T, open func() twofactor.Store, clk *clock) {
				mail := &emailcode.Outbox{Max: 1000}
				a := newApp(t, open(), clk, newKeys(t), mail, nil)
				// Bob's account is busy too: nothing of his reaches Ann.
				a.turnOn(bob)
				if kc.setup != nil {
					kc.setup(a)
				}
				a.drain()
				mail.Reset()

				kc.act(a)
				a.drain()

				msgs := to(mail, ann.Email)
				got := about(msgs, kc.kind)
				require.Len(t, got, 1, "one %s message to Ann; all: %v", kc.kind, subjects(msgs))
				m := got[0]
				assert.Equal(t, "Example: "+notify.DefaultStrings().Kinds[kc.kind].Subject, m.Subject)
				for _, s := range kc.says {
					assert.Contains(t, m.Text, s)
					assert.Contains(t, html.UnescapeString(m.HTML), s)
				}
				if kc.link != "" {
					assert.Contains(t, m.Text, kc.link)
					assert.Contains(t, m.HTML, `href="`+kc.link+`"`)
				}
				assert.Empty(t, to(mail, bob.Email), "Bob gets nothing")
				requireClean(t, mail.Messages(), a.secrets)
				assert.Empty(t, a.rec.warnings())
			})
		})
	}
}

// TestOff: a kind named in Config.Off sends nothing, and the others still
// go out.
func TestOff(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() twofactor.Store, clk *clock) {
		mail := &emailcode.Outbox{}
		a := newApp(t, open(), clk, newKeys(t), mail, func(c *notify.Config) {
			c.Off = []notify.Kind{notify.TurnedOn, notify.FailedSecondStep}
		})
		assert.False(t, a.n().On(notify.TurnedOn))
		assert.True(t, a.n().On(notify.Lockout))
		assert.NotContains(t, a.n().Enabled(), notify.FailedSecondStep)
		assert.Len(t, a.n().Enabled(), len(notify.Kinds())-2)
		assert.Equal(t, a.config().Enabled(), a.n().Enabled(), "the Config says what its notifier does")

		a.turnOn(ann)
		require.ErrorIs(t, a.fail(ann, a.begin(ann)), twofactor.ErrInvalidCode)
		a.addPhone(ann)
		a.drain()
		assert.Equal(t, []string{"Example: " + notify.DefaultStrings().Kinds[notify.MethodAdded].Subject}, subjects(mail.Messages()))
	})
}

// TestWithoutUserAgent: a client the host did not describe leaves the
// browser unknown; the first factor still reads as two-factor
// authentication turned on, from the event alone.
func TestWithoutUserAgent(t *testing.T) {
	clk := newClock()
	mail := &emailcode.Outbox{}
	a := newApp(t, openMemory(clk), clk, newKeys(t), mail, nil)

	a.turnOn(ann)
	_, err := a.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: a.begin(ann), Method: twofactor.MethodTOTP,
		Code: a.wrong(ann), UserID: ann.ID, Client: twofactor.Client{IP: client.IP}})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	require.NoError(t, a.svc.Shutdown(context.Background()))
	msgs := mail.Messages()
	require.Len(t, msgs, 2, "%v", subjects(msgs))
	require.Len(t, about(msgs, notify.TurnedOn), 1)
	failed := about(msgs, notify.FailedSecondStep)
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0].Text, "Browser: unknown")
}

func subjects(msgs []emailcode.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Subject
	}
	return out
}

func newKeys(t *testing.T) *keyring.Ring {
	t.Helper()
	key, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	return keys
}

func openMemory(clk *clock) twofactor.Store { return backends[0].new(nil, clk.Now)() }
