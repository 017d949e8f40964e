package notify_test

import (
	"context"
	htmltemplate "html/template"
	"net/netip"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/notify"
	"github.com/twofactorkit/twofactor/totp"
)

func baseConfig(mail emailcode.Sender) notify.Config { return notify.Config{Sender: mail} }

// TestConfigErrors: New refuses what cannot work, and says what to do.
func TestConfigErrors(t *testing.T) {
	broken := func(f func(*notify.Strings)) *notify.Strings {
		s := notify.DefaultStrings()
		f(s)
		return s
	}
	for name, c := range map[string]struct {
		mod  func(*notify.Config)
		env  func(*twofactor.Env)
		says string
	}{
		"no sender":       {mod: func(c *notify.Config) { c.Sender = nil }, says: "Config.Sender is nil"},
		"no users":        {env: func(e *twofactor.Env) { e.Users = nil }, says: "Config.Users is needed for security emails"},
		"no store":        {env: func(e *twofactor.Env) { e.Store = nil }, says: "Env.Store is nil"},
		"no keys":         {env: func(e *twofactor.Env) { e.Keys = nil }, says: "Env.Keys is nil"},
		"unknown kind":    {mod: func(c *notify.Config) { c.Off = []notify.Kind{"new_login"} }, says: `"new_login", which is not a kind`},
		"negative period": {mod: func(c *notify.Config) { c.Period = -time.Hour }, says: "Config.Period"},
		"negative grace":  {mod: func(c *notify.Config) { c.Grace = -time.Minute }, says: "Config.Grace"},
		"long grace":      {mod: func(c *notify.Config) { c.Grace = 2 * time.Hour }, says: "longer than an hour"},
		"negative queue":  {mod: func(c *notify.Config) { c.QueueSize = -1 }, says: "must not be negative"},
		"relative link":   {mod: func(c *notify.Config) { c.Links.Devices = "/settings/devices" }, says: "Config.Links.Devices"},
		"link scheme":     {mod: func(c *notify.Config) { c.Links.Security = "javascript:alert(1)" }, says: "Config.Links.Security"},
		"verb lost": {mod: func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) { s.Network = "Network" })
		}, says: "notify.Network"},
		"two verbs": {mod: func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) { s.Folded = i18n.Plural{Other: "%d more attempts since %s"} })
		}, says: "notify.Folded"},
		"intro verb": {mod: func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) {
				kt := s.Kinds[notify.MethodAdded]
				kt.Intro = "A method was added."
				s.Kinds[notify.MethodAdded] = kt
			})
		}, says: "notify.Kinds.method_added.Intro"},
		"two-line subject in the table": {mod: func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) {
				kt := s.Kinds[notify.Lockout]
				kt.Subject = "Locked\nBcc: x@example.com"
				s.Kinds[notify.Lockout] = kt
			})
		}, says: "Strings.Kinds[lockout].Subject must be one line"},
		"two-line subject": {mod: func(c *notify.Config) {
			c.Templates.Subject = texttemplate.Must(texttemplate.New("s").Parse("{{.Subject}}\nBcc: x@example.com"))
		}, says: "one non-empty line"},
		"template error": {mod: func(c *notify.Config) {
			c.Templates.HTML = htmltemplate.Must(htmltemplate.New("h").Parse("{{.Nope}}"))
		}, says: "html template"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, env := baseConfig(&emailcode.Outbox{}), testEnv(t, &recorder{})
			if c.mod != nil {
				c.mod(&cfg)
			}
			if c.env != nil {
				c.env(&env)
			}
			n, err := notify.New(env, cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, n)
			assert.Contains(t, err.Error(), c.says)
			l, err := cfg.NewListener(env)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, l, "no typed nil in the interface")
		})
	}
}

// TestServiceConfig: the Service builds the notifier from its Config, and
// reports the notifier's configuration errors, among them a Service
// without the Users lookup security emails need.
func TestServiceConfig(t *testing.T) {
	base := func() twofactor.Config {
		return twofactor.Config{Store: openMemory(newClock()), Keys: newKeys(t),
			Factors:   []twofactor.FactorConfig{totp.Config{Issuer: "Example"}},
			Listeners: []twofactor.ListenerConfig{baseConfig(&emailcode.Outbox{})},
			Users:     lookup, Events: &event.Sink{Discard: true}}
	}
	cfg := base()
	cfg.Users = nil
	_, err := twofactor.New(cfg)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "Config.Listeners[0]")
	assert.Contains(t, err.Error(), "Config.Users is needed for security emails")

	cfg = base()
	cfg.Listeners = []twofactor.ListenerConfig{notify.Config{}}
	_, err = twofactor.New(cfg)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "Config.Sender is nil")

	svc, err := twofactor.New(base())
	require.NoError(t, err)
	require.NoError(t, svc.Shutdown(context.Background()))
}

// TestSettings: a settings page reads which kinds are on, and their
// names, from the Config alone.
func TestSettings(t *testing.T) {
	cfg := notify.Config{Off: []notify.Kind{notify.DeviceTrusted, notify.BackupCodesLow}}
	assert.False(t, cfg.On(notify.DeviceTrusted))
	assert.True(t, cfg.On(notify.Lockout))
	assert.False(t, cfg.On("new_login"))
	assert.Equal(t, []notify.Kind{notify.TurnedOn, notify.TurnedOff, notify.MethodAdded, notify.MethodRemoved,
		notify.BackupCodesRegenerated, notify.AdminReset, notify.RecoveryCodeIssued, notify.Lockout,
		notify.FailedSecondStep}, cfg.Enabled())
	assert.Len(t, notify.Config{}.Enabled(), len(notify.Kinds()))
	assert.Equal(t, "A device trusted", cfg.Name(notify.DeviceTrusted))

	// A translated table names its kinds; what it lacks keeps the
	// default.
	cfg.Strings = notify.DefaultStrings()
	cfg.Strings.Kinds[notify.Lockout] = notify.KindText{Name: "Connexion bloquée"}
	delete(cfg.Strings.Kinds, notify.TurnedOn)
	assert.Equal(t, "Connexion bloquée", cfg.Name(notify.Lockout))
	assert.Equal(t, "Two-step verification turned on", cfg.Name(notify.TurnedOn))
}

// TestTranslated: a host's string table and templates make the message;
// facts the templates see are the events'.
func TestTranslated(t *testing.T) {
	mail := &emailcode.Outbox{}
	s := notify.DefaultStrings()
	s.Lang, s.Greeting, s.When, s.TimeFormat = "fr", "Bonjour %s,", "Quand : %s", "02/01/2006 15:04"
	s.Kinds[notify.TurnedOff] = notify.KindText{Name: "Désactivation", Subject: "Validation en deux étapes désactivée",
		Intro: "La validation en deux étapes a été désactivée.", Advice: "Si ce n'était pas vous, changez votre mot de passe."}
	cfg := baseConfig(mail)
	cfg.Strings, cfg.ProductName = s, "Exemple"
	cfg.Location = time.FixedZone("CET", 3600)
	env := testEnv(t, &recorder{})
	n, err := notify.New(env, cfg)
	require.NoError(t, err)
	assert.Equal(t, "Désactivation", n.Strings().Kinds[notify.TurnedOff].Name)
	n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: ann.ID, Time: t0, LastFactor: true})
	require.NoError(t, n.Close())
	m, ok := mail.Last(ann.Email)
	require.True(t, ok)
	assert.Equal(t, "Exemple: Validation en deux étapes désactivée", m.Subject)
	assert.Contains(t, m.Text, "Bonjour Ann,\n\nLa validation en deux étapes a été désactivée.")
	assert.Contains(t, m.Text, "Quand : 04/03/2026 11:00")
	assert.Contains(t, m.HTML, `<html lang="fr" dir="ltr">`)

	// Own templates see the facts.
	mail.Reset()
	cfg.Templates = notify.Templates{
		Subject: texttemplate.Must(texttemplate.New("s").Parse("[{{.Kind}}] {{.Subject}}")),
		Text:    texttemplate.Must(texttemplate.New("t").Parse("{{.Kind}} {{.Device}} {{.IP}} {{.Until.Format \"2006-01-02\"}}")),
		HTML:    htmltemplate.Must(htmltemplate.New("h").Parse("<p>{{.Network}}</p>")),
	}
	cfg.Locate = func(a netip.Addr) string {
		if a == netip.MustParseAddr("203.0.113.7") {
			return "Lyon,\nFrance"
		}
		return ""
	}
	n, err = notify.New(env, cfg)
	require.NoError(t, err)
	n.HandleEvent(context.Background(), event.Event{Type: event.DeviceRemembered, UserID: ann.ID, Time: t0,
		IP: "203.0.113.7", Label: "Safari on iOS", Until: t0.Add(30 * 24 * time.Hour)})
	require.NoError(t, n.Close())
	m, ok = mail.Last(ann.Email)
	require.True(t, ok)
	assert.Equal(t, "[device_trusted] A device was trusted to skip the second step", m.Subject)
	assert.Equal(t, "device_trusted Safari on iOS 203.0.113.7 2026-04-03", m.Text)
	assert.Equal(t, "<p>203.0.113.7 (Lyon, France)</p>", m.HTML)
}

// TestIgnored: events that lead to no message are not queued: other
// purposes, malformed answers (no user), a double submit's twin, backup
// codes made with the first factor, and the backup codes removed with the
// last factor. Free-form Details decide nothing.
func TestIgnored(t *testing.T) {
	mail := &emailcode.Outbox{}
	env := testEnv(t, &recorder{})
	n, err := notify.New(env, baseConfig(mail))
	require.NoError(t, err)
	fail := event.Event{Type: event.Failure, Time: t0, UserID: ann.ID, ChallengeID: "ch",
		Purpose: twofactor.PurposeLogin, Reason: event.ReasonInvalid}
	for _, ev := range []event.Event{
		{Type: event.Failure, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeStepUp, Reason: event.ReasonInvalid},
		{Type: event.Failure, Time: t0, ChallengeID: "ch", Purpose: twofactor.PurposeLogin, Reason: event.ReasonMalformed},
		{Type: event.Failure, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeLogin, Reason: event.ReasonNoCode},
		{Type: event.Failure, Time: t0, UserID: ann.ID, Purpose: twofactor.PurposeLogin, Reason: event.ReasonLocked},
		{Type: event.RateLimited, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeLogin},
		{Type: event.Enroll, Time: t0, UserID: ann.ID, Method: twofactor.MethodBackupCode,
			Action: event.ActionBackupCodesCreated, Count: 10},
		{Type: event.Remove, Time: t0, UserID: ann.ID, Method: twofactor.MethodBackupCode,
			Reason: event.ReasonLastFactor, LastFactor: true},
		{Type: event.AdminAction, Time: t0, UserID: ann.ID, Actor: "sam", Action: event.ActionUnlock},
		{Type: event.AdminAction, Time: t0, UserID: ann.ID, Actor: "sam",
			Details: map[string]string{"action": string(event.ActionRecoveryCodeIssued)}},
		{Type: event.Begin, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeLogin},
	} {
		n.HandleEvent(context.Background(), ev)
	}
	require.NoError(t, n.Close())
	assert.Empty(t, mail.Messages())

	// The same failure at sign-in does send.
	n, err = notify.New(env, baseConfig(mail))
	require.NoError(t, err)
	n.HandleEvent(context.Background(), fail)
	require.NoError(t, n.Close())
	assert.Len(t, mail.Messages(), 1)
}

// TestFacts: the typed fields of events decide the kind and fill the
// message: FirstFactor and LastFactor, Action, Count, Until, Label.
func TestFacts(t *testing.T) {
	until := t0.Add(24 * time.Hour)
	for _, c := range []struct {
		ev   event.Event
		kind notify.Kind
		says []string
	}{
		{event.Event{Type: event.Enroll, Method: twofactor.MethodSMS, Label: "+1 *** *** **12", FirstFactor: true},
			notify.TurnedOn, []string{"Method: Text message (+1 *** *** **12)"}},
		{event.Event{Type: event.Enroll, Method: twofactor.MethodSMS, Label: "+1 *** *** **12"},
			notify.MethodAdded, []string{"added to your account: Text message (+1 *** *** **12)."}},
		{event.Event{Type: event.Remove, Method: twofactor.MethodTOTP, LastFactor: true},
			notify.TurnedOff, []string{"was turned off for your account"}},
		{event.Event{Type: event.Remove, Method: twofactor.MethodWebAuthn, Label: "YubiKey"},
			notify.MethodRemoved, []string{"removed from your account: Security key (YubiKey)."}},
		{event.Event{Type: event.Enroll, Method: twofactor.MethodBackupCode,
			Action: event.ActionBackupCodesReplaced, Count: 10},
			notify.BackupCodesRegenerated, []string{"A new set of backup codes was created"}},
		{event.Event{Type: backupcodes.EventLow, Method: twofactor.MethodBackupCode, Count: 1},
			notify.BackupCodesLow, []string{"Backup codes left: 1"}},
		{event.Event{Type: event.AdminAction, Actor: "sam", Action: event.ActionRecoveryCodeIssued,
			Method: twofactor.MethodBackupCode, Until: until},
			notify.RecoveryCodeIssued, []string{"By: sam", "Until: 5 March 2026, 10:00 UTC"}},
		{event.Event{Type: event.Lockout, IP: "203.0.113.7", UserAgent: firefoxUA, Count: 10, Until: until},
			notify.Lockout, []string{"Wrong answers: 10", "Browser: Firefox on Linux", "Until: 5 March 2026, 10:00 UTC"}},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			mail := &emailcode.Outbox{}
			n, err := notify.New(testEnv(t, &recorder{}), baseConfig(mail))
			require.NoError(t, err)
			c.ev.UserID, c.ev.Time = ann.ID, t0
			n.HandleEvent(context.Background(), c.ev)
			require.NoError(t, n.Close())
			msgs := mail.Messages()
			require.Len(t, msgs, 1)
			assert.Equal(t, notify.DefaultStrings().Kinds[c.kind].Subject, msgs[0].Subject)
			for _, say := range c.says {
				assert.Contains(t, msgs[0].Text, say)
			}
		})
	}
}

// TestWarnings: the notifier's own warnings go to the Env's events, and
// name no address.
func TestWarnings(t *testing.T) {
	mail := &emailcode.Outbox{}
	mail.FailWith(assert.AnError)
	rec := &recorder{}
	n, err := notify.New(testEnv(t, rec), baseConfig(mail))
	require.NoError(t, err)
	n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: ann.ID, LastFactor: true})
	require.NoError(t, n.Close())
	evs := rec.All()
	require.Len(t, evs, 1, "the warning that the message failed")
	assert.Equal(t, event.Warning, evs[0].Type)
	assert.Equal(t, notify.ReasonSendFailed, evs[0].Reason)
	assert.Equal(t, "turned_off", evs[0].Details["notification"])
}

// TestUserAgent: the event's user agent names the browser; without one the
// browser is unknown.
func TestUserAgent(t *testing.T) {
	mail := &emailcode.Outbox{}
	n, err := notify.New(testEnv(t, &recorder{}), baseConfig(mail))
	require.NoError(t, err)
	fail := event.Event{Type: event.Failure, Time: t0, UserID: ann.ID, ChallengeID: "ch",
		Purpose: twofactor.PurposeLogin, Reason: event.ReasonExpired, IP: "2001:db8::1",
		UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}
	n.HandleEvent(context.Background(), fail)
	// Another user, no user agent.
	fail.UserID, fail.ChallengeID, fail.UserAgent = bob.ID, "ch-2", ""
	n.HandleEvent(context.Background(), fail)
	require.NoError(t, n.Close())
	m, ok := mail.Last(ann.Email)
	require.True(t, ok)
	assert.Contains(t, m.Text, "Browser: Safari on iOS")
	assert.Contains(t, m.Text, "Network: 2001:db8::1")
	m, ok = mail.Last(bob.Email)
	require.True(t, ok)
	assert.Contains(t, m.Text, "Browser: unknown")
}
