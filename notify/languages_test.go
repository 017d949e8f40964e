package notify_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/notify"
)

// Every field of Strings has its key in the English catalogue, and every
// "notify." key names a field.
func TestEveryStringHasAKey(t *testing.T) {
	fields := slices.Sorted(maps.Keys(i18n.Extract("notify.", notify.DefaultStrings())))
	require.Equal(t, i18n.Default().Keys(language.English, "notify.", "Months"), fields)
}

// A message speaks the language of the request whose event it tells of;
// without one (an administrator's change, a message folded for later),
// the user's own; else English.
func TestMessagesInTheirLanguage(t *testing.T) {
	mail := &emailcode.Outbox{}
	env := testEnv(t, &recorder{})
	jonas := twofactor.User{ID: "u-jonas", Email: "jonas@example.com", DisplayName: "Jonas", Language: "de-AT"}
	env.Users = func(ctx context.Context, id string) (twofactor.User, error) {
		if id == jonas.ID {
			return jonas, nil
		}
		return lookup(ctx, id)
	}
	n, err := notify.New(env, baseConfig(mail))
	require.NoError(t, err)
	cat := i18n.Default()
	n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: jonas.ID, Time: t0, LastFactor: true})
	n.HandleEvent(i18n.WithLanguage(context.Background(), language.Japanese), event.Event{Type: event.Disabled, UserID: ann.ID, Time: t0, LastFactor: true})
	n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: bob.ID, Time: t0, LastFactor: true})
	require.NoError(t, n.Close())

	m, ok := mail.Last(jonas.Email)
	require.True(t, ok)
	assert.Equal(t, cat.String(language.German, "notify.Kinds.turned_off.Subject"), m.Subject)
	assert.Contains(t, m.Text, "Jonas")
	assert.Contains(t, m.Text, "März 2026", "the date in German words")
	assert.Contains(t, m.HTML, `<html lang="de" dir="ltr">`)

	m, ok = mail.Last(ann.Email)
	require.True(t, ok)
	assert.Equal(t, cat.String(language.Japanese, "notify.Kinds.turned_off.Subject"), m.Subject)
	assert.Contains(t, m.HTML, `<html lang="ja" dir="ltr">`)

	m, ok = mail.Last(bob.Email)
	require.True(t, ok)
	assert.Equal(t, "Two-step verification was turned off", m.Subject)

	// The settings page names the kinds in its language.
	names := baseConfig(mail).EnabledNames(i18n.WithLanguage(context.Background(), language.French))
	assert.Contains(t, names, cat.String(language.French, "notify.Kinds.turned_on.Name"))
	assert.Equal(t, "Two-step verification turned on", baseConfig(mail).Name(notify.TurnedOn))
}

// A method added without a name of its own (its label is the method's
// English name, as the factors name one) is named once, in the message's
// language; a name the user gave is added after it.
func TestMethodNamesInTheirLanguage(t *testing.T) {
	mail := &emailcode.Outbox{}
	env := testEnv(t, &recorder{})
	jonas := twofactor.User{ID: "u-jonas", Email: "jonas@example.com", Language: "de"}
	env.Users = func(ctx context.Context, id string) (twofactor.User, error) {
		if id == jonas.ID {
			return jonas, nil
		}
		return lookup(ctx, id)
	}
	app := i18n.Default().String(language.German, "notify.Methods.totp")
	for _, label := range []string{"Authenticator app", "Work phone"} {
		mail.Reset()
		n, err := notify.New(env, baseConfig(mail))
		require.NoError(t, err)
		n.HandleEvent(context.Background(), event.Event{Type: event.Enroll, UserID: jonas.ID, Time: t0, Method: twofactor.MethodTOTP, Label: label})
		require.NoError(t, n.Close())
		m, ok := mail.Last(jonas.Email)
		require.True(t, ok)
		assert.Contains(t, m.Text, app)
		if label == "Work phone" {
			assert.Contains(t, m.Text, app+" (Work phone)")
		} else {
			assert.NotContains(t, m.Text, "Authenticator app")
		}
	}
}
