package notify_test

import (
	"context"
	htmltemplate "html/template"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/notify"
)

func baseConfig(mail emailcode.Sender) notify.Config {
	return notify.Config{Sender: mail, Users: lookup, Store: openMemory(newClock()),
		Events: &twofactor.Events{Discard: true}}
}

// TestConfigErrors: New refuses what cannot work, and says what to do.
func TestConfigErrors(t *testing.T) {
	broken := func(f func(*notify.Strings)) *notify.Strings {
		s := notify.DefaultStrings()
		f(s)
		return s
	}
	for name, c := range map[string]struct {
		mod  func(*notify.Config)
		says string
	}{
		"no sender":       {func(c *notify.Config) { c.Sender = nil }, "Config.Sender is nil"},
		"no users":        {func(c *notify.Config) { c.Users = nil }, "Config.Users is nil"},
		"no store":        {func(c *notify.Config) { c.Store = nil }, "Config.Store is nil"},
		"unknown kind":    {func(c *notify.Config) { c.Off = []notify.Kind{"new_login"} }, `"new_login", which is not a kind`},
		"negative period": {func(c *notify.Config) { c.Period = -time.Hour }, "Config.Period"},
		"negative grace":  {func(c *notify.Config) { c.Grace = -time.Minute }, "Config.Grace"},
		"long grace":      {func(c *notify.Config) { c.Grace = 2 * time.Hour }, "longer than an hour"},
		"negative queue":  {func(c *notify.Config) { c.QueueSize = -1 }, "must not be negative"},
		"relative link":   {func(c *notify.Config) { c.Links.Devices = "/settings/devices" }, "Config.Links.Devices"},
		"link scheme":     {func(c *notify.Config) { c.Links.Security = "javascript:alert(1)" }, "Config.Links.Security"},
		"verb lost": {func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) { s.Network = "Network" })
		}, "Strings.Network"},
		"two verbs": {func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) { s.Folded = "%d more attempts since %s" })
		}, "Strings.Folded"},
		"intro verb": {func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) {
				kt := s.Kinds[notify.MethodAdded]
				kt.Intro = "A method was added."
				s.Kinds[notify.MethodAdded] = kt
			})
		}, "Strings.Kinds[method_added].Intro"},
		"empty subject": {func(c *notify.Config) {
			c.Strings = broken(func(s *notify.Strings) {
				kt := s.Kinds[notify.Lockout]
				kt.Subject = ""
				s.Kinds[notify.Lockout] = kt
			})
		}, "Strings.Kinds[lockout].Subject is empty"},
		"two-line subject": {func(c *notify.Config) {
			c.Templates.Subject = texttemplate.Must(texttemplate.New("s").Parse("{{.Subject}}\nBcc: x@example.com"))
		}, "one non-empty line"},
		"template error": {func(c *notify.Config) {
			c.Templates.HTML = htmltemplate.Must(htmltemplate.New("h").Parse("{{.Nope}}"))
		}, "html template"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(&emailcode.Outbox{})
			c.mod(&cfg)
			_, err := notify.New(cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), c.says)
		})
	}

	// Without the failed-second-step kind, no store is needed.
	cfg := baseConfig(&emailcode.Outbox{})
	cfg.Store, cfg.Off = nil, []notify.Kind{notify.FailedSecondStep}
	n, err := notify.New(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Close())
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
	n, err := notify.New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "Désactivation", n.Strings().Kinds[notify.TurnedOff].Name)
	n.Hook(context.Background(), twofactor.Event{Type: twofactor.EventDisabled, UserID: ann.ID, Time: t0})
	require.NoError(t, n.Close())
	m, ok := mail.Last(ann.Email)
	require.True(t, ok)
	assert.Equal(t, "Exemple: Validation en deux étapes désactivée", m.Subject)
	assert.Contains(t, m.Text, "Bonjour Ann,\n\nLa validation en deux étapes a été désactivée.")
	assert.Contains(t, m.Text, "Quand : 04/03/2026 11:00")
	assert.Contains(t, m.HTML, `<html lang="fr">`)

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
	n, err = notify.New(cfg)
	require.NoError(t, err)
	n.Hook(context.Background(), twofactor.Event{Type: twofactor.EventDeviceRemembered, UserID: ann.ID, Time: t0,
		IP: "203.0.113.7", Details: map[string]string{"label": "Safari on iOS", "expires": "2026-04-03T10:00:00Z"}})
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
// last factor.
func TestIgnored(t *testing.T) {
	mail := &emailcode.Outbox{}
	n, err := notify.New(baseConfig(mail))
	require.NoError(t, err)
	fail := twofactor.Event{Type: twofactor.EventFailure, Time: t0, UserID: ann.ID, ChallengeID: "ch",
		Purpose: twofactor.PurposeLogin, Reason: twofactor.ReasonInvalid}
	for _, ev := range []twofactor.Event{
		{Type: twofactor.EventFailure, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeStepUp, Reason: twofactor.ReasonInvalid},
		{Type: twofactor.EventFailure, Time: t0, ChallengeID: "ch", Purpose: twofactor.PurposeLogin, Reason: twofactor.ReasonMalformed},
		{Type: twofactor.EventFailure, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeLogin, Reason: twofactor.ReasonNoCode},
		{Type: twofactor.EventFailure, Time: t0, UserID: ann.ID, Purpose: twofactor.PurposeLogin, Reason: twofactor.ReasonLocked},
		{Type: twofactor.EventRateLimited, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeLogin},
		{Type: twofactor.EventEnroll, Time: t0, UserID: ann.ID, Method: twofactor.MethodBackupCode, Details: map[string]string{"action": "generated"}},
		{Type: twofactor.EventRemove, Time: t0, UserID: ann.ID, Method: twofactor.MethodBackupCode, Reason: "last_factor_removed"},
		{Type: twofactor.EventAdminAction, Time: t0, UserID: ann.ID, Actor: "sam", Details: map[string]string{"action": "unlock"}},
		{Type: twofactor.EventBegin, Time: t0, UserID: ann.ID, ChallengeID: "ch", Purpose: twofactor.PurposeLogin},
	} {
		n.Hook(context.Background(), ev)
	}
	require.NoError(t, n.Close())
	assert.Empty(t, mail.Messages())

	// The same failure at sign-in does send.
	n, err = notify.New(baseConfig(mail))
	require.NoError(t, err)
	n.Hook(context.Background(), fail)
	require.NoError(t, n.Close())
	assert.Len(t, mail.Messages(), 1)
}

// TestEventsChain: Events keeps the host's hook and logger settings, adds
// the notifier's, and takes its warnings.
func TestEventsChain(t *testing.T) {
	mail := &emailcode.Outbox{}
	mail.FailWith(assert.AnError)
	cfg := baseConfig(mail)
	cfg.Events = nil
	n, err := notify.New(cfg)
	require.NoError(t, err)
	rec := &recorder{}
	ev := n.Events(&twofactor.Events{Discard: true, Hook: rec.hook})
	assert.True(t, ev.Discard)
	ev.Emit(context.Background(), twofactor.Event{Type: twofactor.EventDisabled, UserID: ann.ID})
	require.NoError(t, n.Close())
	require.Len(t, rec.events, 2, "the event, then the warning that its message failed")
	assert.Equal(t, twofactor.EventDisabled, rec.events[0].Type)
	assert.Equal(t, "notify_send_failed", rec.events[1].Reason)
}

// TestMiddleware: the request's User-Agent reaches the hook.
func TestMiddleware(t *testing.T) {
	mail := &emailcode.Outbox{}
	cfg := baseConfig(mail)
	cfg.Grace = notify.NoGrace
	n, err := notify.New(cfg)
	require.NoError(t, err)
	h := notify.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Hook(r.Context(), twofactor.Event{Type: twofactor.EventFailure, Time: t0, UserID: ann.ID, ChallengeID: "ch",
			Purpose: twofactor.PurposeLogin, Reason: twofactor.ReasonExpired, IP: "2001:db8::1"})
	}))
	r := httptest.NewRequest(http.MethodPost, "/2fa/verify", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.NoError(t, n.Close())
	m, ok := mail.Last(ann.Email)
	require.True(t, ok)
	assert.Contains(t, m.Text, "Browser: Safari on iOS")
	assert.Contains(t, m.Text, "Network: 2001:db8::1")
}
